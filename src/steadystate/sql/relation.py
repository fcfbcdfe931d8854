"""What the relation planner's modules pass around: :class:`Rel`, :class:`QueryState` and a few helpers.

The query planner is split by clause, and its modules form a tree of imports (each imports only modules below
it; this module is at the bottom, above sql/typed.py and sql/scalar.py)::

    query             SELECT, VALUES, set operations, WITH, ORDER BY/LIMIT   (the entry point)
    ├── where         WHERE: plain conjuncts, semi-/anti-joins, subqueries as values
    │   ├── scalar_subquery     subqueries used as values, as joins
    │   │   └── correlated_scalar   correlated subqueries decorrelated over their outer values
    │   └── correlated          correlated [NOT] EXISTS / IN as semi- and anti-joins
    ├── lateral       LATERAL subqueries in FROM, decorrelated (through correlated_scalar)
    ├── window        window functions of a SELECT
    ├── table_functions  table functions in a select list (and, for joins, in FROM) as FlatMaps
    └── joins         FROM items, joins, VALUES
    (every one of them imports this module)

SQL nests, so planning recurses *up* this tree: a subquery in FROM, in WHERE or in a select list is a whole
query again, and the WHERE of a decorrelated subquery is planned like any WHERE.  Those calls go through the
:class:`QueryState` that every planning function is handed: :meth:`QueryState.query`,
:meth:`QueryState.subquery`, :meth:`QueryState.where` and :meth:`QueryState.lateral` call the :class:`EntryPoints` it was made with, which
sql/query.py supplies (:func:`steadystate.sql.query.new_state`).  So no module imports one above it, and the
recursion is visible at each call site.

:func:`conjuncts` splits an AND tree; :func:`inner_join` builds an inner join from predicates (equalities
and ``IS NOT DISTINCT FROM`` between expressions over one side each become join equivalences, the rest a Filter); :func:`rename` applies a table alias and
column aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, NamedTuple

from sqlglot import exp

from steadystate import errors
from steadystate.expr.equality import not_distinct_operands, null_safe_keys
from steadystate.expr.infer import columns_of, scalar_type
from steadystate.expr.ir import CallBinary, Filter, Join, RelationExpr, RowSetFinishing
from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.sql.catalog_api import PlanContext
from steadystate.sql.typed import ExprEnv, Scope


@dataclass(frozen=True)
class Rel:
    """A planned relation: its IR and the scope that names its columns."""

    expr: RelationExpr
    scope: Scope

    @property
    def arity(self) -> int:
        return len(self.scope.columns)

    def desc(self) -> RelationDesc:
        return RelationDesc(tuple(Column(c.name, c.type, c.nullable, c.mod) for c in self.scope.columns))


class EntryPoints(NamedTuple):
    """The planner's entry points for nested planning, which modules below sql/query.py call back into."""

    plan_query: Callable[[exp.Expr, "QueryState", bool], tuple[Rel, RowSetFinishing]]
    plan_where: Callable[[Rel, exp.Expr, "QueryState", exp.Select], Rel]
    plan_lateral: Callable[[Rel, exp.Lateral, "QueryState", exp.Join | None], Rel]


@dataclass
class QueryState:
    """The state of planning one statement's queries (parameters, CTEs in scope, prebuilt FROM relations)."""

    ctx: PlanContext
    entry_points: EntryPoints
    params: dict[int, ScalarType] = field(default_factory=dict)
    ctes: dict[str, Rel] = field(default_factory=dict)
    prebuilt: dict[str, Rel] = field(default_factory=dict)  # FROM relations built by the subquery decorrelation

    def env(self, scope: Scope) -> ExprEnv:
        return ExprEnv(self.ctx, scope, self.params)

    def query(self, node: exp.Expr, top: bool = False) -> tuple[Rel, RowSetFinishing]:
        """Plan a (nested) query: ``sql.query.plan_query``."""
        return self.entry_points.plan_query(node, self, top)

    def subquery(self, node: exp.Expr) -> Rel:
        """Plan a nested query as a relation (its ORDER BY/LIMIT become a TopK)."""
        rel, _ = self.query(node)
        return rel

    def where(self, rel: Rel, predicate: exp.Expr, select: exp.Select) -> Rel:
        """Plan a WHERE clause over ``rel``: ``sql.where.plan_where``."""
        return self.entry_points.plan_where(rel, predicate, self, select)

    def lateral(self, host: Rel, node: exp.Lateral, join: exp.Join | None = None) -> Rel:
        """``host`` joined with a LATERAL FROM item: ``sql.lateral.plan_lateral``."""
        return self.entry_points.plan_lateral(host, node, self, join)


def arg(node: exp.Expr, *names: str) -> Any:
    """The first of ``node``'s arguments ``names`` that is set (sqlglot renamed some: ``from`` → ``from_``)."""
    for name in names:
        value = node.args.get(name)
        if value is not None:
            return value
    return None


def rename(rel: Rel, table: str | None, names: list[str]) -> Rel:
    if len(names) > rel.arity:
        raise errors.SteadyError(
            f"table {errors.quote_ident(table or '')} has {rel.arity} columns available but {len(names)} columns specified",
            sqlstate="42P10",
        )
    columns = tuple(
        replace(c, table=table, shadowed=False, name=names[i] if i < len(names) else c.name)
        for i, c in enumerate(rel.scope.columns)
    )
    return Rel(rel.expr, Scope(columns))


def conjuncts(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def inner_join(left: Rel, right: Rel, predicates: list[Any]) -> RelationExpr:
    """``left ⋈ right`` under ``predicates`` (over the concatenated columns): an equality — or ``IS NOT DISTINCT
    FROM`` — between an expression over the left side alone and one over the right side alone becomes a join
    equivalence (a keyed join); the rest is a Filter over the join."""
    types = [c.type for c in left.scope.columns + right.scope.columns]
    equivalences: list[tuple[Any, ...]] = []
    rest = []
    for p in predicates:
        keys = _join_keys(p, left.arity, types)
        if keys is None:
            rest.append(p)
        else:
            equivalences.extend(keys)
    expr: RelationExpr = Join((left.expr, right.expr), tuple(equivalences))
    if rest:
        expr = Filter(expr, tuple(rest))
    return expr


def _join_keys(predicate: Any, left_arity: int, types: list[ScalarType]) -> list[tuple[Any, Any]] | None:
    """The equivalences that enforce ``predicate`` exactly, or None when it is not a cross-side equality."""
    null_safe = False
    if isinstance(predicate, CallBinary) and predicate.func == "eq":
        a, b = predicate.left, predicate.right
    else:
        operands = not_distinct_operands(predicate)
        if operands is None:
            return None
        (a, b), null_safe = operands, True
    sides = {_side(a, left_arity), _side(b, left_arity)}
    if sides != {"left", "right"}:
        return None
    if not null_safe:
        return [(a, b)]  # NULLs never join, as NULL = x is never true
    return null_safe_keys(a, b, scalar_type(a, types))  # NULL meets NULL


def _side(expr: Any, left_arity: int) -> str | None:
    columns = columns_of(expr)
    if not columns:
        return None
    if max(columns) < left_arity:
        return "left"
    if min(columns) >= left_arity:
        return "right"
    return None
