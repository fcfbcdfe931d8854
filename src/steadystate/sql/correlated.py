"""Correlated ``EXISTS`` / ``IN (subquery)`` in WHERE, decorrelated into semi- and anti-joins.

A subquery ``EXISTS (SELECT ... FROM F WHERE P)`` whose ``P`` refers to columns of the outer query is planned
over the *combined* scope (outer columns first, then F's), where F's names take precedence as in SQL: outer
columns that an inner column of the same name (or table alias) would hide are hidden.  With ``X`` the outer
columns of ``Filter(outer × F, P)`` (equalities between the sides become join equivalences), a row of
multiplicity m that matches k inner rows appears m·k times in ``X``, so

    anti  = Threshold(outer − X)      (m when k = 0, else 0)
    semi  = outer − anti              (m when k ≥ 1, else 0)

which needs no equality on the outer row (NULLs in it are no obstacle).  ``x IN (SELECT e FROM F WHERE P)``
is the same semi-join with the extra predicate ``x = e``.  Only plain SELECT subqueries (no GROUP BY,
aggregates, HAVING, LIMIT, set operations or WITH, no subqueries in WHERE) are decorrelated here; for the
others this raises 0A000 and sql/where.py plans the condition as a value instead (sql/scalar_subquery.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallBinary, Negate, Project, RelationExpr, Threshold, Union_
from steadystate.sql.joins import plan_from
from steadystate.sql.relation import QueryState, Rel, arg, conjuncts, inner_join
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import Scope, require_bool, unify

_UNSUPPORTED_CLAUSES = ("group", "having", "limit", "offset", "order", "with_", "with", "qualify")


def is_correlation_error(error: errors.SteadyError) -> bool:
    """Whether planning a subquery alone failed for want of an outer column (it may be correlated)."""
    return isinstance(error, (errors.UndefinedColumn, errors.UndefinedTable))


def combined_scope(outer: Scope, inner: Scope) -> Scope:
    """Outer columns then inner ones, with outer names hidden where the inner query's names win."""
    inner_names = {c.name for c in inner.columns if not c.shadowed}
    inner_tables = {c.table for c in inner.columns if c.table is not None}
    hidden = []
    for c in outer.columns:
        if c.table in inner_tables:
            c = replace(c, table=None, shadowed=True)
        elif c.name in inner_names:
            c = replace(c, shadowed=True)
        hidden.append(c)
    return Scope(tuple(hidden)) + inner


def check_plain_select(query: exp.Expr, construct: str) -> exp.Select:
    if isinstance(query, exp.Subquery):
        query = query.this
    unsupported = (not isinstance(query, exp.Select) or query.args.get("from_", query.args.get("from")) is None
                   or any(arg(query, name) is not None for name in _UNSUPPORTED_CLAUSES)
                   or any(query.find_all(exp.AggFunc)) or any(query.find_all(exp.Window)))
    if unsupported:
        raise errors.FeatureNotSupported(
            f"correlated {construct} subqueries are only supported over a plain SELECT ... FROM ... WHERE",
            hint="Remove GROUP BY, aggregates, LIMIT, set operations and WITH from the correlated subquery.")
    assert isinstance(query, exp.Select)
    return query


def correlated_semijoin(outer_expr: RelationExpr, outer: Rel, query: exp.Expr, negated: bool,
                        state: QueryState, in_value: exp.Expr | None = None) -> RelationExpr:
    """``outer_expr`` (columns described by ``outer.scope``) kept where the correlated subquery has a row."""
    construct = "EXISTS" if in_value is None else "IN"
    select = check_plain_select(query, construct)
    from_ = select.args.get("from_", select.args.get("from"))
    assert from_ is not None  # check_plain_select requires a FROM
    inner = plan_from(from_.this, list(select.args.get("joins") or []), state)
    scope = combined_scope(outer.scope, inner.scope)
    env = state.env(scope)
    env.clause = "WHERE"
    predicates: list[Any] = []
    where = select.args.get("where")
    if where is not None:
        for conjunct in conjuncts(where.this):
            if conjunct.find(exp.Subquery, exp.Exists) is not None:
                raise errors.FeatureNotSupported(f"subqueries in the WHERE clause of a correlated {construct} "
                                                 "subquery are not supported")
            predicates.append(require_bool(plan_expr(conjunct, env), env, "WHERE").expr)
    if in_value is not None:
        if len(select.expressions) != 1 or isinstance(select.expressions[0], exp.Star):
            raise errors.SyntaxError_("subquery has too many columns")
        value = plan_expr(in_value, state.env(outer.scope))
        item = plan_expr(select.expressions[0], env)
        (a, b), _ = unify([value, item], env, describe=lambda known: errors.UndefinedFunction(
            f"operator does not exist: {known[0].pg_name} = {known[1].pg_name}"))
        predicates.append(CallBinary("eq", a.expr, b.expr))
    joined = inner_join(Rel(outer_expr, outer.scope), inner, predicates)
    matches = Project(joined, tuple(range(outer.arity)))
    anti = Threshold(Union_((outer_expr, Negate(matches))))
    if negated:
        return anti
    return Union_((outer_expr, Negate(anti)))


__all__ = ["check_plain_select", "combined_scope", "correlated_semijoin", "is_correlation_error"]
