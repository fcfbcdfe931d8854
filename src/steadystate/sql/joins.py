"""FROM clauses, joins and WHERE (with IN/EXISTS subqueries decorrelated into semi- and anti-joins).

WHERE applies its plain conjuncts first, then the top-level ``[NOT] EXISTS`` / ``x IN (...)`` conjuncts as
semi- and anti-joins (uncorrelated ones planned here, correlated ones in sql/correlated.py), then the
conjuncts that use subqueries as values (``NOT IN``, scalar subqueries, IN/EXISTS under OR or NOT), whose
values sql/scalar_subquery.py adds as hidden columns for the filter and that are dropped again after it.

Inner joins become ``Join`` with equalities between the inputs as equivalence classes and the rest of the
ON condition as a Filter.  Outer joins follow Materialize: the inner join, plus the unmatched rows of the
preserved side padded with NULLs, where "unmatched" is ``Threshold(side - Project(inner, side columns))``
(a row of multiplicity m matching k rows leaves m - m·k, positive only when k = 0).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    CallBinary, ColumnRef, Distinct, Filter, Join, Literal, Map, Negate, Project, RelationExpr,
    Threshold, Union_,
)
from steadystate.repr.types import ScalarType
from steadystate.sql import correlated
from steadystate.sql.query import QueryState, Rel, _rename, arg, plan_subquery, plan_values
from steadystate.sql.scalar import Scope, ScopeColumn, plan_expr, require_bool, Typed, unify

T = ScalarType


def plan_table_ref(node: exp.Expression, state: QueryState) -> Rel:
    alias_node = node.args.get("alias")
    alias = alias_node.name if alias_node is not None and alias_node.name else None
    names = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    if isinstance(node, exp.Table):
        if node.this is not None and not isinstance(node.this, exp.Identifier):
            raise errors.FeatureNotSupported("table functions are not supported")
        parts = tuple(p.name for p in (node.args.get("catalog"), node.args.get("db"), node.this) if p is not None)
        if len(parts) == 1 and parts[0] in state.prebuilt:
            return state.prebuilt[parts[0]]
        if len(parts) == 1 and parts[0] in state.ctes:
            return _rename(state.ctes[parts[0]], alias or parts[0], names)
        item = state.ctx.catalog.resolve_item(parts)
        if item.desc is None:
            raise errors.WrongObjectType(f"{errors.quote_ident(item.name.item)} is an index and cannot be queried",
                                         hint="Query the relation the index is on instead.")
        from steadystate.expr.ir import Get

        scope = Scope(tuple(ScopeColumn(None, c.name, c.type, c.nullable) for c in item.desc.columns))
        return _rename(Rel(Get(item.id), scope), alias or parts[-1], names)
    if isinstance(node, exp.Subquery):
        if alias is None:
            raise errors.SyntaxError_("subquery in FROM must have an alias",
                                      hint="For example, FROM (SELECT ...) [AS] foo.")
        return _rename(plan_subquery(node.this if not arg(node, "order", "limit") else node, state), alias, names)
    if isinstance(node, exp.Values):
        return plan_values(node, state, alias)
    if isinstance(node, exp.Lateral):
        raise errors.FeatureNotSupported("LATERAL is not supported")
    raise errors.FeatureNotSupported(f"{node.key.upper()} in FROM is not supported")


def plan_from(first: exp.Expression, joins: list[exp.Join], state: QueryState) -> Rel:
    rel = plan_table_ref(first, state)
    for join in joins:
        right = plan_table_ref(join.this, state)
        rel = _plan_join(rel, right, join, state)
    return rel


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _plan_join(left: Rel, right: Rel, join: exp.Join, state: QueryState) -> Rel:
    side = str(join.args.get("side") or "").upper()
    kind = str(join.args.get("kind") or "").upper()
    if kind in ("SEMI", "ANTI", "ASOF") or join.args.get("method"):
        raise errors.FeatureNotSupported(f"{kind or join.args.get('method')} JOIN is not supported")
    scope = left.scope + right.scope
    predicates: list[Any] = []
    using = join.args.get("using")
    if using:
        names = [u.name for u in using]
        shadowed = []
        for name in names:
            li, ri = _using_index(left.scope, name, "left"), _using_index(right.scope, name, "right")
            env = state.env(scope)
            lc, rc = left.scope.columns[li], right.scope.columns[ri]
            (a, b), _ = unify([Typed(ColumnRef(li), lc.type, lc.nullable),
                               Typed(ColumnRef(left.arity + ri), rc.type, rc.nullable)], env,
                              describe=lambda known, n=name: errors.DatatypeMismatch(
                                  f"JOIN/USING types {known[0].pg_name} and {known[1].pg_name} cannot be matched"))
            predicates.append(CallBinary("eq", a.expr, b.expr))
            shadowed.append(left.arity + ri)
        if side == "FULL":
            raise errors.FeatureNotSupported("FULL JOIN ... USING is not supported", hint="Use FULL JOIN ... ON.")
        keep_right = side == "RIGHT"
        columns = []
        for i, c in enumerate(scope.columns):
            hide = (i in shadowed) if not keep_right else (i < left.arity and c.name in names)
            columns.append(ScopeColumn(c.table, c.name, c.type, c.nullable, shadowed=hide, in_star=not hide))
        scope = Scope(tuple(columns))
    elif join.args.get("on") is not None:
        env = state.env(scope)
        env.clause = "JOIN conditions"
        for conjunct in _conjuncts(join.args["on"]):
            predicates.append(require_bool(plan_expr(conjunct, env), env, "JOIN/ON").expr)
    elif kind != "CROSS" and side == "" and kind not in ("", "INNER"):
        raise errors.SyntaxError_("syntax error: JOIN requires ON or USING")
    inner = _inner_join(left, right, predicates)
    if side == "":
        return Rel(inner, scope)
    parts: list[RelationExpr] = [inner]
    if side in ("LEFT", "FULL"):
        unmatched = Threshold(Union_((left.expr, Negate(Project(inner, tuple(range(left.arity)))))))
        nulls = tuple(Literal(None, c.type) for c in right.scope.columns)
        parts.append(Map(unmatched, nulls))
    if side in ("RIGHT", "FULL"):
        right_cols = tuple(range(left.arity, left.arity + right.arity))
        unmatched = Threshold(Union_((right.expr, Negate(Project(inner, right_cols)))))
        nulls = tuple(Literal(None, c.type) for c in left.scope.columns)
        padded = Map(unmatched, nulls)
        order = tuple(range(right.arity, right.arity + left.arity)) + tuple(range(right.arity))
        parts.append(Project(padded, order))
    columns = list(scope.columns)
    for i, c in enumerate(columns):
        on_left = i < left.arity
        if (on_left and side in ("RIGHT", "FULL")) or (not on_left and side in ("LEFT", "FULL")):
            columns[i] = ScopeColumn(c.table, c.name, c.type, True, c.shadowed, c.in_star)
    return Rel(Union_(tuple(parts)), Scope(tuple(columns)))


def _using_index(scope: Scope, name: str, which: str) -> int:
    matches = [i for i, c in enumerate(scope.columns) if c.name == name and not c.shadowed]
    if len(matches) != 1:
        if not matches:
            raise errors.UndefinedColumn(f"column {errors.quote_ident(name)} specified in USING clause does not exist in {which} table")
        raise errors.SteadyError(f"common column name {errors.quote_ident(name)} appears more than once in {which} table",
                                 sqlstate="42702")
    return matches[0]


def _inner_join(left: Rel, right: Rel, predicates: list[Any]) -> RelationExpr:
    equivalences = []
    rest = []
    for p in predicates:
        if (isinstance(p, CallBinary) and p.func == "eq" and isinstance(p.left, ColumnRef)
                and isinstance(p.right, ColumnRef)
                and (p.left.index < left.arity) != (p.right.index < left.arity)):
            equivalences.append((p.left, p.right))
        else:
            rest.append(p)
    expr: RelationExpr = Join((left.expr, right.expr), tuple(equivalences))
    if rest:
        expr = Filter(expr, tuple(rest))
    return expr


# ---------------------------------------------------------------------------------------------------------
# WHERE


def _semijoin_form(conjunct: exp.Expression) -> bool:
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
            and not isinstance(inner.this, exp.Tuple))


def plan_where(rel: Rel, predicate: exp.Expression, state: QueryState, select: exp.Select) -> Rel:
    """Plain conjuncts first, then semi-joins, then conjuncts with subqueries used as values (their columns
    are dropped again after the filter)."""
    from steadystate.sql.scalar_subquery import FromHost, has_subquery, inline_subqueries

    conjuncts = _conjuncts(predicate)
    semi = [c for c in conjuncts if _semijoin_form(c)]
    valued = [c for c in conjuncts if not _semijoin_form(c) and has_subquery(c)]
    plain: list[Any] = []
    for conjunct in conjuncts:
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


def _exists(expr: RelationExpr, rel: Rel, query: exp.Expression, negated: bool, state: QueryState) -> RelationExpr:
    try:
        sub = plan_subquery(query.copy(), state)
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
        sub = plan_subquery(query.copy(), state)
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
