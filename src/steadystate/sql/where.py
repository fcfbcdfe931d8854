"""WHERE: plain conjuncts, IN/EXISTS subqueries as semi- and anti-joins, and subqueries used as values.

WHERE applies its plain conjuncts first, then the top-level ``[NOT] EXISTS`` / ``x IN (...)`` conjuncts as
semi- and anti-joins (uncorrelated ones planned here, correlated ones in sql/correlated.py), then the
conjuncts that use subqueries as values (``NOT IN``, scalar subqueries, IN/EXISTS under OR or NOT), whose
values sql/scalar_subquery.py adds as hidden columns for the filter and that are dropped again after it.
Subqueries are planned through :meth:`QueryState.subquery` (sql/relation.py).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    CallBinary, ColumnRef, Distinct, Filter, Join, Negate, Project, RelationExpr, Threshold, Union_,
)
from steadystate.sql import correlated
from steadystate.sql.relation import QueryState, Rel, conjuncts
from steadystate.sql.scalar import plan_expr
from steadystate.sql.scalar_subquery import FromHost, has_subquery, inline_subqueries
from steadystate.sql.typed import Typed, require_bool, unify


def _semijoin_form(conjunct: exp.Expr) -> bool:
    """``[NOT] EXISTS (...)`` or ``x IN (...)``: planned as a semi- or anti-join (only TRUE keeps a row)."""
    inner = conjunct
    negated = isinstance(inner, exp.Not)
    if negated:
        inner = inner.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
    if isinstance(inner, exp.Exists):
        return True
    return (not negated and isinstance(inner, exp.In) and inner.args.get("query") is not None
            and not isinstance(inner.this, exp.Tuple) and "compare" not in inner.meta)  # x op ANY: a value


def plan_where(rel: Rel, predicate: exp.Expr, state: QueryState, select: exp.Select) -> Rel:
    """Plain conjuncts first, then semi-joins, then conjuncts with subqueries used as values (their columns
    are dropped again after the filter)."""
    parts = conjuncts(predicate)
    semi = [c for c in parts if _semijoin_form(c)]
    valued = [c for c in parts if not _semijoin_form(c) and has_subquery(c)]
    plain: list[Any] = []
    for conjunct in parts:
        if _semijoin_form(conjunct) or has_subquery(conjunct):
            continue
        env = state.env(rel.scope)
        env.clause = "WHERE"
        plain.append(require_bool(plan_expr(conjunct, env), env, "WHERE").expr)
    expr = Filter(rel.expr, tuple(plain)) if plain else rel.expr
    for conjunct in semi:
        negated, inner = False, conjunct
        if isinstance(inner, exp.Not):
            negated, inner = True, inner.this
            while isinstance(inner, exp.Paren):
                inner = inner.this
        try:
            if isinstance(inner, exp.Exists):
                expr = _exists(expr, rel, inner.this, negated, state)
            else:
                assert isinstance(inner, exp.In)  # a semi-join conjunct is EXISTS or IN (subquery)
                expr = _in_subquery(expr, rel, inner, state)
        except errors.FeatureNotSupported:  # a correlated subquery the semi-join cannot take: as a value
            valued.append(conjunct)
    if valued:
        host = FromHost(expr, rel.scope, state)
        holder = exp.Tuple(expressions=valued)  # so that the rewrite can replace a whole conjunct
        holder.parent = select
        inline_subqueries(select, list(holder.expressions), host, state)
        env = state.env(host.scope)
        env.clause = "WHERE"
        checks = tuple(require_bool(plan_expr(c, env), env, "WHERE").expr for c in holder.expressions)
        expr = Project(Filter(host.expr, checks), tuple(range(rel.arity)))
    return Rel(expr, rel.scope)


def _exists(expr: RelationExpr, rel: Rel, query: exp.Expr, negated: bool, state: QueryState) -> RelationExpr:
    try:
        sub = state.subquery(query.copy())
    except errors.SteadyError as error:
        if not correlated.is_correlation_error(error):
            raise
        return correlated.correlated_semijoin(expr, rel, query, negated, state)
    nonempty = Distinct(Project(sub.expr, ()))
    semi = Join((expr, nonempty), ())
    if not negated:
        return semi
    return Threshold(Union_((expr, Negate(semi))))


def _in_subquery(expr: RelationExpr, rel: Rel, node: exp.In, state: QueryState) -> RelationExpr:
    query = node.args["query"].this if isinstance(node.args["query"], exp.Subquery) else node.args["query"]
    try:
        sub = state.subquery(query.copy())
    except errors.SteadyError as error:
        if not correlated.is_correlation_error(error):
            raise
        return correlated.correlated_semijoin(expr, rel, query, False, state, in_value=node.this)
    if sub.arity != 1:
        raise errors.SyntaxError_("subquery has too many columns")
    env = state.env(rel.scope)
    value = plan_expr(node.this, env)
    column = sub.scope.columns[0]
    (a, b), typ = unify([value, Typed(ColumnRef(rel.arity), column.type, column.nullable)], env,
                        describe=lambda known: errors.UndefinedFunction(
                            f"operator does not exist: {known[0].pg_name} = {known[1].pg_name}"))
    keys = Distinct(sub.expr)
    joined = Join((expr, keys), ())
    return Project(Filter(joined, (CallBinary("eq", a.expr, b.expr),)), tuple(range(rel.arity)))
