"""LATERAL subqueries in FROM, decorrelated as Materialize does.

``FROM g, LATERAL (SELECT ... WHERE t.g = g.g ORDER BY x LIMIT k) AS l`` may refer to the FROM items before it
(all of them after a comma; the left side of an explicit ``JOIN LATERAL``).  A LATERAL subquery that refers to
nothing outside is an ordinary derived table crossed with them.  Otherwise it is decorrelated by the machinery of
sql/correlated_scalar.py (:func:`~steadystate.sql.correlated_scalar.decorrelate`): the subquery is planned once
over the *domain* — the distinct values of the outer columns it refers to — joined with its own FROM on its
WHERE, with the domain columns prepended to its output and GROUP BY; an ``ORDER BY ... LIMIT`` becomes a
``TopK`` per domain value (the top-k-per-group idiom is a TopK grouped by the outer key, maintained per group);
an aggregate without GROUP BY gives each domain value its row (``count`` 0 where nothing matches).  The rows per
domain value are then joined back onto the outer rows on the domain columns, NULL-safely.  A LATERAL subquery
without FROM (``LATERAL (SELECT a.x * 2 AS y [WHERE ...])``) is a Map (under a Filter) of the outer rows; with an
aggregate it is refused (0A000).

``JOIN LATERAL ... ON p`` filters that join by ``p``; ``LEFT JOIN LATERAL ... ON p`` adds the outer rows left
without a row, padded with NULLs (Materialize's outer-join construction).  RIGHT and FULL joins to a LATERAL item
are refused, as in PostgreSQL (which allows them only when nothing is referenced), with 0A000; so are LATERAL
with USING/NATURAL and LATERAL table functions (there are no table functions).
"""

from __future__ import annotations

from dataclasses import replace
from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import ColumnRef, Filter, Join, Literal, Map, Negate, Project, RelationExpr, ScalarExpr, Threshold, Union_
from steadystate.sql.correlated_scalar import decorrelate, null_safe_key
from steadystate.sql.relation import QueryState, Rel, arg, conjuncts, rename
from steadystate.sql.scalar import plan_expr
from steadystate.sql.scalar_subquery import FromHost
from steadystate.repr.types import ScalarType
from steadystate.sql.typed import AGGREGATE_CLASSES, Scope, ScopeColumn, coerce, output_name, require_bool


def plan_lateral(host: Rel, node: exp.Lateral, state: QueryState, join: exp.Join | None = None) -> Rel:
    """``host`` joined with the LATERAL item ``node`` (columns: the host's, then the item's); ``join`` is the
    explicit JOIN it is the right side of (None after a comma)."""
    side = str(join.args.get("side") or "").upper() if join is not None else ""
    if side in ("RIGHT", "FULL"):
        raise errors.FeatureNotSupported(f"{side} JOIN to a LATERAL subquery is not supported",
                                         hint="The combining JOIN type must be INNER or LEFT for a LATERAL reference.")
    if join is not None and (join.args.get("using") or str(join.args.get("method") or "").upper() == "NATURAL"):
        raise errors.FeatureNotSupported("USING and NATURAL joins to a LATERAL subquery are not supported")
    subquery = node.this
    if not isinstance(subquery, exp.Subquery):
        raise errors.FeatureNotSupported("LATERAL table functions are not supported")
    alias_node = node.args.get("alias")
    alias = alias_node.name if alias_node is not None and alias_node.name else None
    if alias is None:
        raise errors.SyntaxError_("subquery in FROM must have an alias", hint="For example, FROM (SELECT ...) [AS] foo.")
    names = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    n = host.arity
    columns: tuple[ScopeColumn, ...]
    try:
        item = state.subquery(subquery.this if not arg(subquery, "order", "limit") else subquery)
        joined: RelationExpr = Join((host.expr, item.expr), ())
        columns = tuple(item.scope.columns)
    except (errors.UndefinedColumn, errors.UndefinedTable) as original:
        per_row = _per_row(host, subquery.this, state)
        if per_row is not None:
            joined, columns = per_row
            return _finish(host, joined, columns, alias, names, join, side, state)
        decorrelated = decorrelate(FromHost(host.expr, host.scope, state), subquery, state, original, relation=True)
        k = len(decorrelated.outer_refs)
        equivalences: list[tuple[ScalarExpr, ScalarExpr]] = []
        for j, ref in enumerate(decorrelated.outer_refs):
            equivalences.extend(zip(null_safe_key(ref.expr, ref.type), null_safe_key(ColumnRef(n + j), ref.type)))
        columns = decorrelated.columns
        joined = Project(Join((host.expr, decorrelated.rows), tuple(equivalences)),
                         tuple(range(n)) + tuple(range(n + k, n + k + len(columns))))
    return _finish(host, joined, columns, alias, names, join, side, state)


def _finish(host: Rel, joined: RelationExpr, columns: tuple[ScopeColumn, ...], alias: str, names: list[str],
            join: exp.Join | None, side: str, state: QueryState) -> Rel:
    """The host's rows with the item's (``joined``) under the join's ON condition, LEFT-padded if asked."""
    n = host.arity
    right = rename(Rel(joined, Scope(tuple(columns))), alias, names)  # the item's columns, named by the alias
    scope = host.scope + right.scope
    on = join.args.get("on") if join is not None else None
    if on is not None:
        env = state.env(scope)
        env.clause = "JOIN conditions"
        predicates = tuple(require_bool(plan_expr(c, env), env, "JOIN/ON").expr for c in conjuncts(on))
        joined = Filter(joined, predicates)
    if side != "LEFT":
        return Rel(joined, scope)
    unmatched = Threshold(Union_((host.expr, Negate(Project(joined, tuple(range(n)))))))
    padded = Map(unmatched, tuple(Literal(None, c.type) for c in right.scope.columns))
    nullable = Scope(tuple(replace(c, nullable=True) for c in right.scope.columns))
    return Rel(Union_((joined, padded)), host.scope + nullable)


_CLAUSES = ("from_", "from", "joins", "group", "having", "distinct", "order", "limit", "offset", "windows", "with_",
            "with", "qualify")


def _per_row(host: Rel, select: exp.Expr, state: QueryState) -> tuple[RelationExpr, tuple[ScopeColumn, ...]] | None:
    """``LATERAL (SELECT exprs [WHERE p])`` without FROM: its select list computed per host row (a Map, under a
    Filter); None for any other shape (decorrelated, or refused, by the caller)."""
    if not isinstance(select, exp.Select) or any(select.args.get(c) for c in _CLAUSES):
        return None
    roots = list(select.expressions) + ([select.args["where"].this] if select.args.get("where") else [])
    if any(root.find(exp.Subquery, exp.Exists, exp.Window, exp.Star, *AGGREGATE_CLASSES) is not None for root in roots):
        return None
    env = state.env(host.scope)
    expr: RelationExpr = host.expr
    where = select.args.get("where")
    if where is not None:
        env.clause = "WHERE"
        expr = Filter(expr, (require_bool(plan_expr(where.this, env), env, "WHERE").expr,))
    env.clause = "SELECT"
    typed = [plan_expr(item, env) for item in select.expressions]
    typed = [coerce(t, ScalarType.TEXT, env) if t.is_untyped else t for t in typed]
    columns = tuple(ScopeColumn(None, output_name(item), t.type, t.nullable) for item, t in zip(select.expressions, typed))
    return Map(expr, tuple(t.expr for t in typed)), columns
