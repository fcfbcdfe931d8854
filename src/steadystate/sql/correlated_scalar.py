"""Correlated scalar subqueries — ``(SELECT max(l.qty) FROM l WHERE l.oid = o.id)`` — decorrelated into joins.

The subquery is evaluated once per distinct value of the outer columns it refers to (the *domain*), never per
outer row, and the result is joined back onto the outer relation:

1. Each reference to an outer column is replaced, in a copy of the subquery's syntax tree, by a hidden domain
   column ``__corrN_j``; the domain is ``Distinct(Project(outer, referenced columns))``, computed from the
   outer relation as it was before any subquery column was added (:class:`Host`), so that n subqueries make
   a plan n joins larger, not 4^n times larger.
2. The subquery's FROM is joined with the domain on its WHERE (equalities between the two sides become join
   equivalences, the rest a residual filter), and the rewritten subquery — the domain columns prepended to its
   select list and to its GROUP BY — is planned over that join by the ordinary SELECT planner
   (:attr:`QueryState.prebuilt` hands it the joined relation as its FROM; the planner is reached through
   :meth:`QueryState.query`, sql/relation.py).
3. An aggregate without GROUP BY has exactly one row per domain value in SQL, also when no inner row matches
   (``count`` 0, the others NULL).  So for it the join of step 2 is a LEFT join from the domain, with a marker
   column that is NULL on the padding rows, and ``count(*)`` counts the marker: each domain value gets its
   empty-group row (the classic COUNT bug does not arise).  Any other subquery may give zero, one or several
   rows per domain value: a per-value ``count(*)`` keeps the value when it is 1 and turns it into an error
   (21000 ``more than one row returned by a subquery used as an expression``, an error as data, as for the
   uncorrelated case) when it is more, and domain values without a row get NULL.
4. The per-value results — now exactly one row per domain value — are joined back to the outer relation on
   the domain columns, NULL-safely (a NULL outer value is a domain value like any other: ``l.oid = o.id``
   simply never matches it inside step 2).

``ORDER BY ... LIMIT/OFFSET`` in the subquery becomes a TopK per domain value.

The same per-value rows (:func:`decorrelate`) also answer ``EXISTS`` (a domain value has a row) and
``x IN`` (the probe ``x`` is one more domain column; ``bool_or(value = x)``, ``count(*)`` and ``count(value)``
per domain value give the three-valued answer) for subqueries the simpler rewrites of sql/scalar_subquery.py
cannot take: aggregates, GROUP BY/HAVING, DISTINCT, LIMIT, subqueries in their WHERE.

Unsupported (0A000): set operations or WITH in a correlated subquery, a LIMIT outside its parentheses, FROM-clause
subqueries that refer to the outer query, subqueries correlated to a query two levels up, aggregates of the
outer query's columns inside the subquery.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    AggregateExpr, CallBinary, CallUnary, CallVariadic, ColumnRef, Distinct, If, Join, Literal, Map, Negate,
    Project, Reduce, RelationExpr, ScalarExpr, Threshold, TopK, Union_, literal,
)
from steadystate.repr.types import ScalarType
from steadystate.sql.joins import plan_from
from steadystate.sql.relation import QueryState, Rel, conjuncts, inner_join
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import AGGREGATE_CLASSES, Scope, ScopeColumn, Typed, require_bool, unify

T = ScalarType
_numbers = itertools.count(1)

# A non-NULL stand-in per type, so that a NULL-safe equality can be a join key: (is_null(x), coalesce(x, s)).
_SENTINELS: dict[ScalarType, Any] = {
    T.INT2: 0, T.INT4: 0, T.INT8: 0, T.FLOAT4: 0.0, T.FLOAT8: 0.0, T.NUMERIC: "0", T.TEXT: "", T.BOOL: False, T.DATE: "2000-01-01",
    T.TIMESTAMP: "2000-01-01T00:00:00", T.TIMESTAMPTZ: "2000-01-01T00:00:00+00:00", T.TIME: "00:00:00",
    T.INTERVAL: "0:0:0", T.JSONB: "null", T.UUID: "00000000-0000-0000-0000-000000000000", T.BYTEA: "",
}


class Host(Protocol):
    """The relation a subquery is inlined into, and how the subquery's outer references resolve against it.

    ``base`` is that relation before any subquery column was added (its columns are the first ``base_arity``
    of ``expr``): domains are computed from it, so that each further subquery adds one join to the plan
    rather than copying everything added before."""

    expr: RelationExpr
    base: RelationExpr
    base_arity: int

    @property
    def arity(self) -> int:
        """The number of columns of ``expr``."""

    def outer_column(self, node: exp.Column) -> Typed:
        """The value an outer reference means, as an expression over ``expr``'s columns, or the lookup error."""


def _unsupported(what: str) -> errors.FeatureNotSupported:
    return errors.FeatureNotSupported(f"{what} in a correlated subquery is not supported")


def _own_level(select: exp.Select, node: exp.Expr) -> bool:
    """Whether ``node`` belongs to ``select`` itself, not to a subquery nested in it."""
    return node.find_ancestor(exp.Select) is select


def _check_shape(select: exp.Expr) -> exp.Select:
    if isinstance(select, exp.Subquery):
        select = select.this
    while isinstance(select, exp.Subquery):
        if any(select.args.get(clause) is not None for clause in ("limit", "offset", "order")):
            raise _unsupported("ORDER BY or LIMIT outside the parentheses")
        select = select.this
    if not isinstance(select, exp.Select):
        raise _unsupported("a set operation")
    for clause, what in (("with_", "WITH"), ("with", "WITH"), ("qualify", "QUALIFY")):
        if select.args.get(clause) is not None:
            raise _unsupported(what)
    if select.find(exp.Window) is not None:
        raise _unsupported("a window function")
    if select.args.get("from_", select.args.get("from")) is None:
        raise _unsupported("a subquery without FROM that refers to the outer query")
    return select


def _roots(select: exp.Select) -> list[exp.Expr]:
    roots: list[exp.Expr] = list(select.expressions)
    for clause in ("where", "group", "having"):
        if select.args.get(clause) is not None:
            roots.append(select.args[clause])
    return roots


def _outer_references(select: exp.Select, inner: Scope) -> list[exp.Column]:
    """The column references of ``select`` (its own level) that the FROM clause does not provide."""
    inner_tables = {c.table for c in inner.columns if c.table is not None}
    inner_names = {c.name for c in inner.columns if not c.shadowed}
    aliases = {e.alias for e in select.expressions if isinstance(e, exp.Alias)}
    found = []
    for root in _roots(select):
        for column in root.find_all(exp.Column):
            if isinstance(column.this, exp.Star) or not _own_level(select, column):
                continue
            if column.table:
                outer = column.table not in inner_tables
            else:
                outer = column.name not in inner_names and column.name not in aliases
            if outer:
                found.append(column)
    return found


def _refuse_deeper_correlation(select: exp.Select, inner: Scope, host: Host) -> None:
    """0A000 when a subquery nested in ``select`` refers (by a qualified name) to the host's columns."""
    inner_tables = {c.table for c in inner.columns if c.table is not None}
    for column in select.find_all(exp.Column):
        if not column.table or column.table in inner_tables or _own_level(select, column):
            continue
        tables: set[str] = set()
        level = column.find_ancestor(exp.Select)
        while level is not None and level is not select:
            for source in level.find_all(exp.Table, exp.Subquery):
                if isinstance(source, exp.Table) or source.alias:
                    tables.add(source.alias_or_name)
            level = level.find_ancestor(exp.Select)
        if column.table in tables:
            continue
        if _resolves(host, column):
            raise _two_levels_up()


def _resolves(host: Host, column: exp.Column) -> bool:
    if isinstance(column.this, exp.Star):
        return False
    try:
        host.outer_column(column)
    except errors.SteadyError:
        return False
    return True


def _two_levels_up() -> errors.FeatureNotSupported:
    return errors.FeatureNotSupported(
        "a subquery that refers to a query two or more levels up is not supported",
        hint="Only one level of correlation is decorrelated; rewrite the inner subquery as a join.")


def _is_aggregate_select(select: exp.Select) -> bool:
    return select.args.get("group") is None and any(
        _own_level(select, agg) for root in list(select.expressions) + ([select.args["having"]] if select.args.get("having") else [])
        for agg in root.find_all(*AGGREGATE_CLASSES))


def _conjoin(parts: list[exp.Expr]) -> exp.Expr:
    out = parts[0]
    for part in parts[1:]:
        out = exp.And(this=out, expression=part)
    return out


def null_safe_key(expr: ScalarExpr, typ: ScalarType) -> list[ScalarExpr]:
    """Join-key expressions equal on two rows exactly when ``expr`` is NOT DISTINCT on them.  (Used whatever
    the column's nullability says: a row lost to a NULL key would be a wrong answer, not an error.)"""
    return [CallUnary("is_null", expr), CallVariadic("coalesce", (expr, literal(_SENTINELS[typ], typ)))]


@dataclass(frozen=True)
class Decorrelated:
    """A correlated subquery's rows per domain value: ``rows`` is (domain columns..., value)."""

    domain: RelationExpr
    outer_refs: list[Typed]  # what each domain column is, as an expression over the host's columns
    rows: RelationExpr
    typ: ScalarType
    exact_one: bool  # exactly one row per domain value (an aggregate without GROUP BY, HAVING or LIMIT)
    columns: tuple[ScopeColumn, ...] = ()  # the subquery's output columns after the domain's (a LATERAL subquery)


def decorrelate(host: Host, subquery: exp.Expr, state: QueryState, original: errors.SteadyError,
                extra: tuple[Typed, ...] = (), relation: bool = False) -> Decorrelated:
    """Steps 1 to 3 of the module docstring; ``extra`` outer values join the domain (an IN probe).  With
    ``relation`` (a LATERAL subquery in FROM) the subquery may return any number of columns."""
    select = _check_shape(subquery).copy()
    from_ = select.args.get("from_", select.args.get("from"))
    assert from_ is not None  # _check_shape requires a FROM
    try:
        inner = plan_from(from_.this, list(select.args.get("joins") or []), state)
    except (errors.UndefinedColumn, errors.UndefinedTable):
        raise _unsupported("a FROM clause that refers to the outer query") from None
    references = _outer_references(select, inner.scope)
    inner_tables = {c.table for c in inner.scope.columns}
    for column in references:  # a FROM item's bare name the outer query has no column for: a whole-row reference
        if not column.table and column.name in inner_tables and not _resolves(host, column):
            inner.scope.resolve(None, column.name)
    _refuse_deeper_correlation(select, inner.scope, host)
    if not references:
        if any(_resolves(host, c) for c in select.find_all(exp.Column) if not _own_level(select, c)):
            raise _two_levels_up()
        raise original
    number = next(_numbers)
    outer_refs, domain_scope = _to_domain(select, references, host, number, extra)
    domain = _domain(host, outer_refs)
    aggregate = _is_aggregate_select(select)
    name = f"__corr{number}"
    state.prebuilt[name] = _domain_join(select, Rel(domain, domain_scope), inner, aggregate, state, number)
    rows, columns, exact_one = _per_value(select, name, domain_scope, aggregate, state, relation)
    return Decorrelated(domain, outer_refs, rows, columns[0].type if columns else T.BOOL, exact_one, columns)


def _complete(d: Decorrelated, per_value: RelationExpr, default: Literal) -> RelationExpr:
    """``per_value`` (at most one row per domain value) with ``default`` for the domain values it lacks."""
    k = len(d.outer_refs)
    missing = Threshold(Union_((d.domain, Negate(Project(per_value, tuple(range(k)))))))
    return Union_((per_value, Map(missing, (default,))))


def correlated_scalar(host: Host, subquery: exp.Expr, state: QueryState, original: errors.SteadyError) -> tuple[RelationExpr, Typed]:
    """``host.expr`` with one more column: the correlated scalar subquery's value for each row."""
    d = decorrelate(host, subquery, state, original)
    per_value = d.rows
    if not d.exact_one:  # several rows are an error, none is NULL
        k = len(d.outer_refs)
        counted = Reduce(d.rows, tuple(ColumnRef(j) for j in range(k)),
                         (AggregateExpr("count_star", Literal(True, T.BOOL)), AggregateExpr("max", ColumnRef(k))))
        value = If(CallBinary("gt", ColumnRef(k), Literal(1, T.INT8)),
                   CallBinary("subquery_cardinality", ColumnRef(k), Literal(None, d.typ)), ColumnRef(k + 1))
        per_value = _complete(d, Project(Map(counted, (value,)), tuple(range(k)) + (k + 2,)), Literal(None, d.typ))
    return _join_back(host, per_value, d.outer_refs), Typed(ColumnRef(host.arity), d.typ, True)


def correlated_exists(host: Host, subquery: exp.Expr, state: QueryState, original: errors.SteadyError) -> tuple[RelationExpr, Typed]:
    """``EXISTS (subquery)`` of any shape as a column: true where the domain value has a row, else false."""
    d = decorrelate(host, subquery, state, original)
    present = Map(Distinct(Project(d.rows, tuple(range(len(d.outer_refs))))), (Literal(True, T.BOOL),))
    return (_join_back(host, _complete(d, present, Literal(False, T.BOOL)), d.outer_refs),
            Typed(ColumnRef(host.arity), T.BOOL, False))


def correlated_in(host: Host, subquery: exp.Expr, probe: Typed, state: QueryState, original: errors.SteadyError) -> tuple[RelationExpr, Typed]:
    """``x IN (subquery)`` of any shape as a column, three-valued; the probe ``x`` is one more domain column."""
    d = decorrelate(host, subquery, state, original, extra=(probe,))
    k = len(d.outer_refs)
    p = next(j for j, ref in enumerate(d.outer_refs) if ref.expr == probe.expr)
    (a, b), _ = unify([Typed(ColumnRef(p), probe.type), Typed(ColumnRef(k), d.typ)], state.env(Scope()),
                      describe=lambda known: errors.UndefinedFunction(
                          f"operator does not exist: {known[0].pg_name} = {known[1].pg_name}"))
    counted = Reduce(Map(d.rows, (CallBinary("eq", a.expr, b.expr),)), tuple(ColumnRef(j) for j in range(k)),
                     (AggregateExpr("bool_or", ColumnRef(k + 1)), AggregateExpr("count_star", Literal(True, T.BOOL)),
                      AggregateExpr("count", ColumnRef(k))))
    unknown = CallBinary("or", CallUnary("is_null", ColumnRef(p)), CallBinary("gt", ColumnRef(k + 1), ColumnRef(k + 2)))
    answer = If(CallUnary("is_true", ColumnRef(k)), Literal(True, T.BOOL),
                If(unknown, Literal(None, T.BOOL), Literal(False, T.BOOL)))
    per_value = Project(Map(counted, (answer,)), tuple(range(k)) + (k + 3,))
    return (_join_back(host, _complete(d, per_value, Literal(False, T.BOOL)), d.outer_refs),
            Typed(ColumnRef(host.arity), T.BOOL, True))


def _max_column(expr: ScalarExpr) -> int:
    if isinstance(expr, ColumnRef):
        return expr.index
    if isinstance(expr, Literal):
        return -1
    parts = {CallUnary: lambda e: (e.expr,), CallBinary: lambda e: (e.left, e.right),
             CallVariadic: lambda e: e.exprs, If: lambda e: (e.cond, e.then, e.els)}[type(expr)](expr)
    return max((_max_column(p) for p in parts), default=-1)


def _domain(host: Host, outer_refs: list[Typed]) -> RelationExpr:
    """The distinct values of the outer references, computed from the host's base relation when they can be."""
    exprs = [r.expr for r in outer_refs]
    on_base = all(_max_column(e) < host.base_arity for e in exprs)
    source, arity = (host.base, host.base_arity) if on_base else (host.expr, host.arity)
    if all(isinstance(e, ColumnRef) for e in exprs):
        return Distinct(Project(source, tuple(e.index for e in exprs)))  # type: ignore[union-attr]
    return Distinct(Project(Map(source, tuple(exprs)), tuple(range(arity, arity + len(exprs)))))


def _to_domain(select: exp.Select, references: list[exp.Column], host: Host, number: int,
               extra: tuple[Typed, ...] = ()) -> tuple[list[Typed], Scope]:
    """Point the outer references of ``select`` at domain columns ``__corrN_j``: the outer columns, the domain."""
    outer_ids = {id(c) for c in references}
    for agg in (a for root in _roots(select) for a in root.find_all(*AGGREGATE_CLASSES) if _own_level(select, a)):
        columns = [c for c in agg.find_all(exp.Column) if _own_level(select, c)]
        if columns and all(id(c) in outer_ids for c in columns):  # SQL: an aggregate of the outer query
            raise _unsupported("an aggregate of the outer query's columns")
    positions: dict[Any, int] = {}  # outer value -> domain column
    outer_refs: list[Typed] = []
    domain_columns: list[ScopeColumn] = []

    def position(typed: Typed) -> int:
        if typed.expr not in positions:
            positions[typed.expr] = len(domain_columns)
            domain_columns.append(ScopeColumn(None, f"__corr{number}_{len(domain_columns)}", typed.type,
                                              typed.nullable, in_star=False))
            outer_refs.append(typed)
        return positions[typed.expr]

    for column in references:
        column.replace(exp.column(domain_columns[position(host.outer_column(column))].name))
    for typed in extra:
        position(typed)
    return outer_refs, Scope(tuple(domain_columns))


def _domain_join(select: exp.Select, domain: Rel, inner: Rel, aggregate: bool, state: QueryState, number: int) -> Rel:
    """The domain joined with the subquery's FROM on its WHERE (a LEFT join with a marker for an aggregate,
    whose ``count(*)`` then counts the marker); conjuncts with subqueries filter the join afterwards."""
    k = domain.arity
    env = state.env(domain.scope + inner.scope)
    env.clause = "WHERE"
    predicates = []
    later: list[exp.Expr] = []
    where = select.args.get("where")
    for conjunct in (conjuncts(where.this) if where is not None else []):
        if conjunct.find(exp.Subquery, exp.Exists) is not None:
            later.append(conjunct)
        else:
            predicates.append(require_bool(plan_expr(conjunct, env), env, "WHERE").expr)
    select.set("where", None)
    joined = inner_join(domain, inner, predicates)
    if later:  # planned like any WHERE (semi-joins, subqueries as values), over the join
        joined = state.where(Rel(joined, domain.scope + inner.scope), _conjoin(later), select).expr
    if not aggregate:
        return Rel(joined, domain.scope + inner.scope)
    marker = ScopeColumn(None, f"__corr{number}_m", T.BOOL, True, in_star=False)
    unmatched = Threshold(Union_((domain.expr, Negate(Project(joined, tuple(range(k)))))))
    padding = tuple(Literal(None, c.type) for c in inner.scope.columns) + (Literal(None, T.BOOL),)
    padded = Union_((Map(joined, (Literal(True, T.BOOL),)), Map(unmatched, padding)))
    for count in [c for root in _roots(select) for c in root.find_all(exp.Count) if _own_level(select, c)]:
        if count.this is None or isinstance(count.this, exp.Star):
            count.set("this", exp.column(marker.name))
    nullable = Scope(tuple(replace(c, nullable=True) for c in inner.scope.columns))
    return Rel(padded, domain.scope + nullable + Scope((marker,)))


def _per_value(select: exp.Select, source: str, domain: Scope, aggregate: bool, state: QueryState,
               relation: bool = False) -> tuple[RelationExpr, tuple[ScopeColumn, ...], bool]:
    """The subquery planned over ``source`` with the domain columns first: (domain..., value) rows, at most one
    per domain value (several become the 21000 error), and whether there is exactly one per domain value."""
    keys = [exp.column(c.name) for c in domain.columns]
    k = len(keys)
    select.set("from_", exp.From(this=exp.Table(this=exp.to_identifier(source))))
    select.set("joins", None)
    select.set("expressions", [key.copy() for key in keys] + list(select.expressions))
    group = select.args.get("group")
    if aggregate or group is not None:
        select.set("group", exp.Group(expressions=[key.copy() for key in keys] + (list(group.expressions) if group else [])))
    try:
        planned, finishing = state.query(select, top=True)
    finally:
        del state.prebuilt[source]
    visible = planned.scope.columns if finishing.project is None else [planned.scope.columns[i] for i in finishing.project]
    if len(visible) != k + 1 and not relation:
        raise errors.SyntaxError_("subquery must return only one column")
    columns = tuple(visible[k:])
    rows: RelationExpr = planned.expr
    limited = finishing.limit is not None or finishing.offset > 0
    if limited:  # ORDER BY ... LIMIT per domain value
        rows = TopK(rows, tuple(range(k)), finishing.order_by, finishing.limit, finishing.offset)
    if finishing.project is not None:
        rows = Project(rows, finishing.project)
    return rows, columns, aggregate and select.args.get("having") is None and not limited


def _join_back(host: Host, per_value: RelationExpr, outer_refs: list[Typed]) -> RelationExpr:
    """Each host row with its domain value's result (exactly one per domain value), NULL-safe on the keys."""
    n, k = host.arity, len(outer_refs)
    equivalences: list[tuple[ScalarExpr, ScalarExpr]] = []
    for j, ref in enumerate(outer_refs):
        left = null_safe_key(ref.expr, ref.type)
        right = null_safe_key(ColumnRef(n + j), ref.type)
        equivalences.extend(zip(left, right))
    return Project(Join((host.expr, per_value), tuple(equivalences)), tuple(range(n)) + (n + k,))
