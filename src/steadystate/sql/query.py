"""Planning queries (SELECT, VALUES, set operations, WITH) into IR relation expressions.

:func:`plan_query` returns a :class:`Rel` (the IR and a :class:`Scope` naming its columns) and, for the
top-level query, the ORDER BY/LIMIT/OFFSET as a RowSetFinishing (nested queries get a TopK instead).
A SELECT is planned in PostgreSQL's logical order: FROM (sql/joins.py) → WHERE (sql/where.py) → GROUP BY/aggregates
(Reduce) → HAVING → select list (Map + Project) → DISTINCT (DISTINCT ON: a TopK of one row per group) →
ORDER BY/LIMIT.  Subqueries used as values in
the select list and HAVING (sql/scalar_subquery.py) become hidden columns of the rows WHERE kept, or, in an
aggregating query, of the Reduce output (their outer references must then be group keys, as in SQL).

This module is the top of the relation planner's modules (sql/relation.py draws their tree): the modules below
plan nested queries and WHERE clauses through the :class:`QueryState` made by :func:`new_state`, whose
:data:`ENTRY_POINTS` are this module's :func:`plan_query` and sql/where.py's ``plan_where``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    AggregateExpr, AggregateOrder, CallUnary, ColumnOrder, ColumnRef, Constant, Distinct, Filter, If, Literal, Map, Negate, Project, Reduce,
    RelationExpr, RowSetFinishing, Threshold, TopK, Union_,
)
from steadystate.expr.infer import scalar_type
from steadystate.expr.stat_aggregates import BIT_FUNCTIONS, ORDERED_SET_FUNCTIONS, REGRESSION_FUNCTIONS
from steadystate.repr.types import ScalarType
from steadystate.sql import grouping_sets, joins, table_functions
from steadystate.sql.catalog_api import PlanContext
from steadystate.sql import aggregate_args
from steadystate.sql.dialect import Every, JsonbAgg
from steadystate.sql.relation import EntryPoints, QueryState, Rel, arg, rename
from steadystate.sql.array_exprs import array_subqueries, plan_array_agg
from steadystate.sql.jsonb_scalar import json_in_zone
from steadystate.sql.scalar import plan_expr
from steadystate.sql.scalar_subquery import FromHost, GroupedHost, inline_subqueries, quantified_to_in
from steadystate.sql.typed import (
    AGGREGATE_CLASSES, ExprEnv, Scope, ScopeColumn, Typed, binding_key, coerce, output_name, require_bool, unify,
)
from steadystate.sql.lateral import plan_lateral
from steadystate.sql.recursion import plan_recursive_with
from steadystate.sql.where import plan_where
from steadystate.sql.window import find_windows, is_window_aggregate, plan_windows

T = ScalarType


def plan_query(node: exp.Expr, state: QueryState, top: bool = False) -> tuple[Rel, RowSetFinishing]:
    node = array_subqueries(node)  # ARRAY(SELECT ...) as a subquery's array_agg (sql/array_exprs.py)
    if isinstance(node, exp.Subquery):
        if arg(node, "order", "limit", "offset") is not None:
            inner, finishing = plan_query(node.this, state)
            return _finish(inner, finishing, top=False), RowSetFinishing()
        return plan_query(node.this, state, top)
    saved = dict(state.ctes)
    try:
        with_ = arg(node, "with_", "with")
        wrap = None
        if with_ is not None and with_.args.get("recursive"):
            wrap = plan_recursive_with(with_, state)  # sql/recursion.py: the body gets wrapped in a LetRec
        elif with_ is not None:
            for cte in with_.expressions:
                rel = plan_subquery(cte.this, state)
                rel = rename(rel, cte.alias, [c.name for c in (cte.args.get("alias").columns or [])]
                              if cte.args.get("alias") else [])
                state.ctes[cte.alias] = rel
        expanded = grouping_sets.expand(node) if isinstance(node, exp.Select) else None
        if expanded is not None:  # GROUPING SETS / ROLLUP / CUBE: a union of plain GROUP BYs
            rel, finishing = plan_query(expanded, state, top=True)
        elif isinstance(node, exp.Select):
            rel, finishing = _plan_select(node, state)
        elif isinstance(node, exp.Values):  # VALUES ... ORDER BY/LIMIT/OFFSET is a query like any other
            rel = joins.plan_values(node, state)
            finishing = _order_outputs(node, rel, state)
        elif isinstance(node, exp.SetOperation):
            rel = _plan_set_operation(node, state)
            finishing = _order_outputs(node, rel, state)
        else:
            raise errors.FeatureNotSupported(f"{node.key.upper()} is not supported as a query")
        if wrap is not None:
            rel = wrap(rel)
    finally:
        state.ctes = saved
    if top:
        return rel, finishing
    return _finish(rel, finishing, top=False), RowSetFinishing()


def plan_subquery(node: exp.Expr, state: QueryState) -> Rel:
    rel, _ = plan_query(node, state, top=False)
    return rel


ENTRY_POINTS = EntryPoints(plan_query=plan_query, plan_where=plan_where, plan_lateral=plan_lateral)


def new_state(ctx: PlanContext) -> QueryState:
    """The state to plan one statement's queries with; nested planning reaches back here through it."""
    return QueryState(ctx, ENTRY_POINTS)


def _finish(rel: Rel, finishing: RowSetFinishing, top: bool) -> Rel:
    expr = rel.expr
    if finishing.limit is not None or finishing.offset:
        expr = TopK(expr, (), finishing.order_by, finishing.limit, finishing.offset)
    if finishing.project is not None:
        expr = Project(expr, finishing.project)
        rel = Rel(expr, Scope(tuple(rel.scope.columns[i] for i in finishing.project)))
    return Rel(expr, rel.scope)


# ---------------------------------------------------------------------------------------------------------
# Set operations


def _plan_set_operation(node: exp.SetOperation, state: QueryState) -> Rel:
    left = plan_subquery(node.this, state)
    right = plan_subquery(node.expression, state)
    op = type(node).__name__.upper()
    if left.arity != right.arity:
        raise errors.SyntaxError_(f"each {op} query must have the same number of columns")
    left_exprs, right_exprs, columns = [], [], []
    for i, (lc, rc) in enumerate(zip(left.scope.columns, right.scope.columns)):
        env = state.env(Scope())
        pair, typ = unify([Typed(ColumnRef(i), lc.type, lc.nullable), Typed(ColumnRef(i), rc.type, rc.nullable)],
                          env, describe=lambda known: errors.DatatypeMismatch(
                              f"{op} types {known[0].pg_name} and {known[1].pg_name} cannot be matched"))
        left_exprs.append(pair[0].expr)
        right_exprs.append(pair[1].expr)
        columns.append(ScopeColumn(None, lc.name, typ, lc.nullable or rc.nullable))
    l_expr, r_expr = _cast_columns(left.expr, left_exprs), _cast_columns(right.expr, right_exprs)
    distinct = node.args.get("distinct", True) is not False
    if isinstance(node, exp.Union):
        expr: RelationExpr = Union_((l_expr, r_expr))
        if distinct:
            expr = Distinct(expr)
    elif isinstance(node, exp.Except):
        if distinct:
            l_expr, r_expr = Distinct(l_expr), Distinct(r_expr)
        expr = Threshold(Union_((l_expr, Negate(r_expr))))
    else:
        if distinct:
            l_expr, r_expr = Distinct(l_expr), Distinct(r_expr)
        only_left = Threshold(Union_((l_expr, Negate(r_expr))))
        expr = Threshold(Union_((l_expr, Negate(only_left))))
    return Rel(expr, Scope(tuple(columns)))


def _cast_columns(expr: RelationExpr, exprs: list[Any]) -> RelationExpr:
    if all(isinstance(e, ColumnRef) and e.index == i for i, e in enumerate(exprs)):
        return expr
    arity = len(exprs)
    return Project(Map(expr, tuple(exprs)), tuple(range(arity, 2 * arity)))


def _order_outputs(node: exp.Expr, rel: Rel, state: QueryState) -> RowSetFinishing:
    order = []
    for item in (node.args["order"].expressions if node.args.get("order") else []):
        index = _output_position(item.this, rel.scope, select_items=None)
        if index is None:
            raise errors.FeatureNotSupported("ORDER BY on a set operation must name an output column")
        order.append(_column_order(index, item))
    limit, offset = _limit_offset(node, state)
    return RowSetFinishing(tuple(order), limit, offset)


# ---------------------------------------------------------------------------------------------------------
# SELECT


def _plan_select(node: exp.Select, state: QueryState) -> tuple[Rel, RowSetFinishing]:
    node = quantified_to_in(node)  # type: ignore[assignment]  # = ANY (subquery) is IN (subquery)
    if arg(node, "qualify") is not None:
        raise errors.FeatureNotSupported("QUALIFY is not supported", hint="Filter the window function's result in an "
                                         "outer query.")
    if node.args.get("into") is not None:  # PostgreSQL creates a table: refused, never a plain SELECT instead
        raise errors.FeatureNotSupported("SELECT ... INTO is not supported",
                                         hint="CREATE TABLE, then INSERT INTO ... SELECT.")
    if node.args.get("locks"):  # row locks mean nothing to a maintained read: refused, never ignored
        raise errors.FeatureNotSupported("SELECT ... FOR UPDATE/SHARE is not supported",
                                         hint="Reads are consistent snapshots; there are no row locks to take.")
    from_ = arg(node, "from_", "from")
    if from_ is not None:
        rel = joins.plan_from(from_.this, list(node.args.get("joins") or []), state)
    else:
        if node.args.get("joins"):
            raise errors.SyntaxError_("syntax error at or near \"JOIN\"")
        rel = Rel(Constant.of([()], 0), Scope())
    where = node.args.get("where")
    if where is not None:
        rel = plan_where(rel, where.this, state, node)
    having_node = node.args.get("having")
    late = list(node.expressions) + ([having_node] if having_node is not None else [])
    grouped = node.args.get("group") is not None or bool(_find_aggregates(
        late + [o.this for o in (node.args["order"].expressions if node.args.get("order") else [])]))
    if not grouped:  # select-list subqueries see the rows WHERE kept
        host = FromHost(rel.expr, rel.scope, state)
        inline_subqueries(node, late, host, state)
        rel = Rel(host.expr, host.scope)

    items = _expand_star(node.expressions, rel.scope)
    rel, set_returning = table_functions.plan_select_list(items, rel, state, grouped)  # a FlatMap, bound below
    aggregates = _find_aggregates([i for i in items] + ([node.args["having"].this] if node.args.get("having") else [])
                                  + [o.this for o in (node.args["order"].expressions if node.args.get("order") else [])])
    env = state.env(rel.scope)
    env.bindings.update(set_returning)
    base = rel.expr
    if grouped:
        base, env = _plan_reduce(node, items, aggregates, rel, state)
        grouped_host = GroupedHost(base, env, rel.scope)
        inline_subqueries(node, late, grouped_host, state)  # outer references are group keys
        base = grouped_host.expr
        items = _expand_star(node.expressions, rel.scope)
    having = node.args.get("having")
    if having is not None:
        env.clause = "HAVING"
        predicate = require_bool(plan_expr(having.this, env), env, "HAVING")
        base = Filter(base, (predicate.expr,))
    base_arity = _arity_of(env)
    windows = find_windows(list(items) + [o.this for o in (node.args["order"].expressions if node.args.get("order") else [])])
    if windows:
        base, base_arity = plan_windows(node, windows, base, env, base_arity)
    env.clause = "SELECT"
    map_exprs: list[Any] = []
    outputs: list[int] = []
    columns: list[ScopeColumn] = []
    for item in items:
        typed = plan_expr(item, env)
        if typed.is_untyped:
            typed = coerce(typed, T.TEXT, env)
        outputs.append(_place(typed, base_arity, map_exprs))
        columns.append(ScopeColumn(None, output_name(item), typed.type, typed.nullable, mod=typed.mod))
    order: list[ColumnOrder] = []
    visible = len(outputs)
    distinct = node.args.get("distinct")
    distinct_on = distinct.args.get("on") if distinct is not None else None
    hidden: dict[str, int] = {}  # hidden output columns by expression
    for item in (node.args["order"].expressions if node.args.get("order") else []):
        position = _output_position(item.this, Scope(tuple(columns[:visible])), select_items=items)
        if position is None:
            if distinct is not None and distinct_on is None:
                raise errors.SteadyError("for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                                         sqlstate="42P10")
            env.clause = "ORDER BY"
            position = _hidden_output(item.this, env, base_arity, map_exprs, outputs, columns, hidden)
        order.append(_column_order(position, item))
    on_positions: list[int] = []
    for on in (distinct_on.expressions if isinstance(distinct_on, exp.Tuple) else [distinct_on]) \
            if distinct_on is not None else []:
        position = _output_position(on, Scope(tuple(columns[:visible])), select_items=items)
        if position is None:
            env.clause = "DISTINCT ON"
            position = _hidden_output(on, env, base_arity, map_exprs, outputs, columns, hidden)
        on_positions.append(position)
    expr: RelationExpr = Map(base, tuple(map_exprs)) if map_exprs else base
    if outputs != list(range(base_arity + len(map_exprs))):
        expr = Project(expr, tuple(outputs))
    if distinct_on is not None:
        expr = _distinct_on(expr, on_positions, order)
    elif distinct is not None:
        expr = Distinct(expr)
    limit, offset = _limit_offset(node, state)
    project = tuple(range(visible)) if len(outputs) > visible else None
    return Rel(expr, Scope(tuple(columns))), RowSetFinishing(tuple(order), limit, offset, project)


def _hidden_output(node: exp.Expr, env: ExprEnv, base_arity: int, map_exprs: list[Any], outputs: list[int],
                   columns: list[ScopeColumn], hidden: dict[str, int]) -> int:
    """Plan ``node`` (an ORDER BY or DISTINCT ON expression not in the select list) as a hidden output column (one
    per distinct expression)."""
    key = binding_key(node)
    if key in hidden:
        return hidden[key]
    typed = plan_expr(node, env)
    if typed.is_untyped:
        typed = coerce(typed, T.TEXT, env)
    outputs.append(_place(typed, base_arity, map_exprs))
    columns.append(ScopeColumn(None, "?order?", typed.type, typed.nullable, in_star=False))
    hidden[key] = len(outputs) - 1
    return hidden[key]


def _distinct_on(expr: RelationExpr, on: list[int], order: list[ColumnOrder]) -> RelationExpr:
    """``SELECT DISTINCT ON (on) ... ORDER BY order``: the first row of each group of equal ``on`` values in the ORDER
    BY order (ties broken by the whole row, so every replica keeps the same one) — a TopK of 1 per group, kept
    incrementally per changed group.  As in PostgreSQL, the ORDER BY must begin with the DISTINCT ON expressions."""
    wanted, seen = set(on), set[int]()
    for item in order:
        if seen == wanted:
            break
        if item.column not in wanted:
            raise errors.SteadyError("SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                                     sqlstate="42P10")
        seen.add(item.column)
    return TopK(expr, tuple(dict.fromkeys(on)), tuple(order), 1, 0)


def _arity_of(env: ExprEnv) -> int:
    if env.grouped:
        return env.reduce_arity
    return len(env.scope.columns)


def _place(typed: Typed, base_arity: int, map_exprs: list[Any]) -> int:
    if isinstance(typed.expr, ColumnRef):
        return typed.expr.index
    map_exprs.append(typed.expr)
    return base_arity + len(map_exprs) - 1


def _expand_star(items: list[exp.Expr], scope: Scope) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    for item in items:
        if isinstance(item, exp.Star):
            chosen = [(i, c) for i, c in enumerate(scope.columns) if c.in_star]
            if not chosen and not scope.columns:
                raise errors.SyntaxError_("SELECT * with no tables specified is not valid")
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            chosen = [(i, c) for i, c in enumerate(scope.columns) if c.table == item.table]
            if not chosen:
                raise errors.UndefinedTable(f"missing FROM-clause entry for table {errors.quote_ident(item.table)}")
        else:
            out.append(item)
            continue
        for i, c in chosen:
            ident = exp.Column(this=exp.to_identifier(c.name, quoted=True),
                               table=exp.to_identifier(c.table, quoted=True) if c.table else None)
            ident.meta["scope_index"] = i  # resolved by position: a merged USING column has no table to qualify it
            out.append(ident)
    return out


def _find_aggregates(nodes: list[exp.Expr]) -> list[exp.Expr]:
    found: dict[str, exp.Expr] = {}
    for node in nodes:
        for agg in node.find_all(*AGGREGATE_CLASSES):
            if agg.find_ancestor(exp.Subquery, exp.Exists) is not None and agg.find_ancestor(exp.Subquery, exp.Exists) is not node.find_ancestor(exp.Subquery, exp.Exists):
                continue
            if isinstance(agg.parent, exp.WithinGroup) and agg.parent.this is agg:
                agg = agg.parent  # percentile_cont(f) WITHIN GROUP (ORDER BY x) is one aggregate
                if is_window_aggregate(agg):
                    raise errors.FeatureNotSupported(
                        f"OVER is not supported for ordered-set aggregate {_AGG_FUNCS[type(agg.this)]}")
            if is_window_aggregate(agg):
                continue  # sum(x) OVER (...): a window function (sql/window.py)
            if isinstance(agg.parent, exp.Filter) and agg.parent.this is agg:
                agg = agg.parent  # agg(x) FILTER (WHERE p) is one aggregate
            found.setdefault(binding_key(agg), agg)
    return list(found.values())


_AGG_FUNCS: dict[type[exp.Expr], str] = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
              exp.LogicalAnd: "bool_and", exp.LogicalOr: "bool_or",
              exp.Stddev: "stddev_samp", exp.StddevSamp: "stddev_samp", exp.StddevPop: "stddev_pop",
              exp.Variance: "var_samp", exp.VariancePop: "var_pop", exp.GroupConcat: "string_agg",
              JsonbAgg: "jsonb_agg", exp.JSONBObjectAgg: "jsonb_object_agg",
              exp.ArrayAgg: "array_agg", Every: "bool_and", exp.BitwiseAndAgg: "bit_and",
              exp.BitwiseOrAgg: "bit_or", exp.BitwiseXorAgg: "bit_xor", exp.Corr: "corr", exp.CovarPop: "covar_pop",
              exp.CovarSamp: "covar_samp", exp.RegrAvgx: "regr_avgx", exp.RegrAvgy: "regr_avgy",
              exp.RegrCount: "regr_count", exp.RegrIntercept: "regr_intercept", exp.RegrR2: "regr_r2",
              exp.RegrSlope: "regr_slope", exp.RegrSxx: "regr_sxx", exp.RegrSxy: "regr_sxy", exp.RegrSyy: "regr_syy",
              exp.PercentileCont: "percentile_cont", exp.PercentileDisc: "percentile_disc", exp.Mode: "mode"}


def aggregate_functions() -> dict[type[exp.Expr], str]:
    """Each aggregate's sqlglot class and its name (mz_functions lists them: sql/function_catalog.py)."""
    return dict(_AGG_FUNCS)


_NUMERIC_AGGREGATES = ("sum", "avg", "stddev_samp", "stddev_pop", "var_samp", "var_pop")


def _aggregate_type(func: str, input_type: ScalarType) -> ScalarType:
    if func in ("count", "count_star"):
        return T.INT8
    if func == "sum":
        return {T.INT2: T.INT8, T.INT4: T.INT8, T.INT8: T.NUMERIC}.get(input_type, input_type)
    if func == "avg" and input_type is T.INTERVAL:
        return T.INTERVAL
    if func in _NUMERIC_AGGREGATES:  # avg, stddev, variance
        return T.FLOAT8 if input_type.is_float else T.NUMERIC
    return input_type


def _plan_aggregate(node: exp.Expr, env: ExprEnv) -> tuple[AggregateExpr, ScalarType, bool]:
    if isinstance(node, exp.Filter):  # agg(x) FILTER (WHERE p) is agg(CASE WHEN p THEN x END): aggregates skip NULLs
        agg, typ, nullable = _plan_aggregate(node.this, env)
        if node.expression.find(*AGGREGATE_CLASSES) is not None:
            raise errors.SteadyError("aggregate functions are not allowed in FILTER", sqlstate="42803")
        env.clause = "FILTER"
        keep = require_bool(plan_expr(node.expression.this, env), env, "FILTER").expr
        if agg.func == "count_star":
            return AggregateExpr("count", If(keep, Literal(True, T.BOOL), Literal(None, T.BOOL)), False), typ, False
        if agg.func == "array_agg":  # it keeps NULL elements: the filter is its argument (expr/arrays.py)
            return msgspec.structs.replace(agg, args=(keep,)), typ, nullable
        argument_type = scalar_type(agg.expr, [c.type for c in env.scope.columns]) or typ
        return msgspec.structs.replace(agg, expr=If(keep, agg.expr, Literal(None, argument_type))), typ, nullable
    if isinstance(node, exp.WithinGroup):  # expr/stat_aggregates.py
        return aggregate_args.plan_within_group(node, env, _AGG_FUNCS.get(type(node.this)))
    func = _AGG_FUNCS[type(node)]
    if func in ORDERED_SET_FUNCTIONS:  # without WITHIN GROUP
        aggregate_args.refuse_without_within_group(node, func, env)
    if func in REGRESSION_FUNCTIONS:
        return aggregate_args.plan_regression(node, func, env)
    if func == "jsonb_object_agg":
        return _plan_jsonb_object_agg(node, env), T.JSONB, True
    inner = node.this
    order_items: list[exp.Ordered] = []
    if isinstance(inner, exp.Order):  # agg(x ORDER BY ...): kept where the order matters (string_agg)
        order_items, inner = list(inner.expressions), inner.this
    distinct = False
    if isinstance(inner, exp.Distinct):
        distinct = True
        if len(inner.expressions) != 1:
            raise errors.FeatureNotSupported("aggregates over several DISTINCT values are not supported")
        inner = inner.expressions[0]
    if func == "count" and (inner is None or isinstance(inner, exp.Star)):
        return AggregateExpr("count_star", Literal(True, T.BOOL), False), T.INT8, False
    env.clause = "aggregate function calls"
    nested = inner.find(*AGGREGATE_CLASSES)
    if nested is not None:
        raise errors.SteadyError("aggregate function calls cannot be nested", sqlstate="42803")
    value = plan_expr(inner, env)
    if value.is_untyped:  # an unknown literal takes the type PostgreSQL resolves the argument to, or is refused
        value = aggregate_args.resolve_unknown(func, value, env, node.meta.get("typed_name"))
    if func in BIT_FUNCTIONS:
        value = aggregate_args.bit_argument(func, value, env)
    if func in _NUMERIC_AGGREGATES and not value.type.is_numeric and not (
            func in ("sum", "avg") and value.type is T.INTERVAL):
        raise errors.UndefinedFunction(f"function {func}({value.type.pg_name}) does not exist",
                                       hint="No function matches the given name and argument types. You might need to add explicit type casts.")
    if func in ("bool_and", "bool_or") and value.type is not T.BOOL:  # every(1) names every
        raise errors.UndefinedFunction(f"function {node.meta.get('typed_name') or func}({value.type.pg_name}) does not exist",
                                       hint="No function matches the given name and argument types. You might need to add explicit type casts.")
    if func == "string_agg":
        return _plan_string_agg(node, inner, value, distinct, order_items, env), T.TEXT, True
    if func == "jsonb_agg":  # every value, NULLs as JSON nulls; real by its own digits
        value = json_in_zone(value, env, "jsonb_agg")
        argument = CallUnary("float4_to_jsonb", value.expr) if value.type is T.FLOAT4 else value.expr
        return AggregateExpr("jsonb_agg", argument, distinct, (), _aggregate_order(order_items, env)), T.JSONB, True
    if func == "array_agg":
        order = [(plan_expr(item.this, env), _column_order(0, item)) for item in order_items]
        return plan_array_agg(inner, value, distinct, [(item.this, *o) for item, o in zip(order_items, order)],
                              env)
    typ = _aggregate_type(func, value.type)
    return AggregateExpr(func, value.expr, distinct), typ, func != "count"


def _aggregate_order(items: list[exp.Ordered], env: ExprEnv) -> tuple[AggregateOrder, ...]:
    order = []
    for item in items:
        key = plan_expr(item.this, env)
        if key.is_untyped:
            key = coerce(key, T.TEXT, env)
        column = _column_order(0, item)
        order.append(AggregateOrder(key.expr, column.desc, column.nulls_last))
    return tuple(order)


def _plan_jsonb_object_agg(node: exp.Expr, env: ExprEnv) -> AggregateExpr:
    """``jsonb_object_agg(key, value [ORDER BY ...])``: fed (key, value, (order keys))."""
    env.clause = "aggregate function calls"
    value_node, order_items = node.expression, []
    if isinstance(value_node, exp.Order):
        order_items, value_node = list(value_node.expressions), value_node.this
    if any(n.find(*AGGREGATE_CLASSES) is not None for n in (node.this, value_node)):
        raise errors.SteadyError("aggregate function calls cannot be nested", sqlstate="42803")
    key, value = plan_expr(node.this, env), plan_expr(value_node, env)
    key = coerce(key, T.TEXT, env) if key.is_untyped else key
    value = coerce(value, T.TEXT, env) if value.is_untyped else value
    key, value = json_in_zone(key, env, "jsonb_object_agg"), json_in_zone(value, env, "jsonb_object_agg")
    argument = CallUnary("float4_to_jsonb", value.expr) if value.type is T.FLOAT4 else value.expr
    checked = CallUnary("jsonb_object_agg_key", key.expr)  # 22023 on a NULL key, as an evaluation error
    return AggregateExpr("jsonb_object_agg", checked, False, (argument,), _aggregate_order(order_items, env))


def _plan_string_agg(node: exp.Expr, value_node: exp.Expr, value: Typed, distinct: bool, order_items: list[exp.Ordered],
                     env: ExprEnv) -> AggregateExpr:
    separator_node = node.args.get("separator")
    separator = plan_expr(separator_node, env) if separator_node is not None else None
    if separator is not None and separator.is_untyped:
        separator = coerce(separator, T.TEXT, env)
    if separator is None or value.type is not T.TEXT or separator.type is not T.TEXT:
        shown = ", ".join(t.type.pg_name for t in (value, separator) if t is not None)
        raise errors.UndefinedFunction(f"function string_agg({shown}) does not exist",
                                       hint="No function matches the given name and argument types. You might need to add explicit type casts.")
    arguments = {binding_key(value_node), binding_key(separator_node)} if separator_node is not None else set()
    order = []
    for item in order_items:
        if distinct and binding_key(item.this) not in arguments:
            raise errors.SteadyError("in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list",
                                     sqlstate="42P10")
        key = plan_expr(item.this, env)
        if key.is_untyped:
            key = coerce(key, T.TEXT, env)
        column = _column_order(0, item)
        order.append(AggregateOrder(key.expr, column.desc, column.nulls_last))
    return AggregateExpr("string_agg", value.expr, distinct, (separator.expr,), tuple(order))


def _plan_reduce(node: exp.Select, items: list[exp.Expr], aggregates: list[exp.Expr], rel: Rel,
                 state: QueryState) -> tuple[RelationExpr, ExprEnv]:
    env = state.env(rel.scope)
    keys: list[Typed] = []
    key_nodes: list[exp.Expr] = []
    group = node.args.get("group")
    for key in (group.expressions if group is not None else []):
        if isinstance(key, exp.Literal) and not key.is_string:
            position = int(key.this)
            if not 1 <= position <= len(items):
                raise errors.SteadyError(f"GROUP BY position {position} is not in select list", sqlstate="42P10")
            key = items[position - 1]
            key = key.this if isinstance(key, exp.Alias) else key
        elif isinstance(key, exp.Column) and not key.table:
            try:
                rel.scope.resolve(None, key.name)
            except errors.UndefinedColumn:
                aliased = [i.this for i in items if isinstance(i, exp.Alias) and i.alias == key.name]
                if not aliased:
                    raise
                key = aliased[0]
        env.clause = "GROUP BY"
        typed = plan_expr(key, env)
        if typed.is_untyped:
            typed = coerce(typed, T.TEXT, env)
        keys.append(typed)
        key_nodes.append(key)
    aggs: list[AggregateExpr] = []
    agg_types: list[tuple[ScalarType, bool]] = []
    key_columns = frozenset(k.expr.index for k in keys if isinstance(k.expr, ColumnRef))
    for agg in aggregates:
        agg_env = state.env(rel.scope)
        agg_env.group_key_columns = key_columns
        planned, typ, nullable = _plan_aggregate(agg, agg_env)
        aggs.append(planned)
        agg_types.append((typ, nullable))
    out_env = state.env(rel.scope)
    out_env.grouped = True
    for i, (key, typed) in enumerate(zip(key_nodes, keys)):
        if isinstance(typed.expr, ColumnRef):
            out_env.group_columns.setdefault(typed.expr.index, i)
        out_env.bindings[binding_key(key)] = (i, typed.type, typed.nullable)
    for j, agg in enumerate(aggregates):
        typ, nullable = agg_types[j]
        out_env.bindings[binding_key(agg)] = (len(keys) + j, typ, nullable)
    out_env.reduce_arity = len(keys) + len(aggs)
    return Reduce(rel.expr, tuple(k.expr for k in keys), tuple(aggs)), out_env


# ---------------------------------------------------------------------------------------------------------
# ORDER BY / LIMIT


def _output_position(node: exp.Expr, outputs: Scope, select_items: list[exp.Expr] | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        position = int(node.this)
        if not 1 <= position <= len(outputs.columns):
            raise errors.SteadyError(f"ORDER BY position {position} is not in select list", sqlstate="42P10")
        return position - 1
    if isinstance(node, exp.Column) and not node.table:
        matches = [i for i, c in enumerate(outputs.columns) if c.name == node.name]
        if select_items is not None:
            # a bare name prefers an output column; but only an alias or a plain column counts
            matches = [i for i in matches if isinstance(select_items[i], (exp.Alias, exp.Column))]
        if matches:
            return matches[0]
    if select_items is not None:
        key = binding_key(node)
        for i, item in enumerate(select_items):
            if binding_key(item.this if isinstance(item, exp.Alias) else item) == key:
                return i
    return None


def _column_order(index: int, item: exp.Ordered) -> ColumnOrder:
    desc = bool(item.args.get("desc"))
    nulls_first = item.args.get("nulls_first")
    nulls_last = not nulls_first if nulls_first is not None else not desc
    return ColumnOrder(index, desc, nulls_last)


def _constant_int(node: exp.Expr | None, state: QueryState, what: str) -> int | None:
    if node is None:
        return None
    env = state.env(Scope())
    typed = plan_expr(node, env)
    if typed.untyped_null:
        return None
    typed = coerce(typed, T.INT8, env)
    if not isinstance(typed.expr, Literal):
        raise errors.FeatureNotSupported(f"{what} must be a constant")
    value = typed.expr.datum()
    if value is not None and value < 0:
        raise errors.SteadyError(f"{what} must not be negative", sqlstate="2201W" if what == "LIMIT" else "2201X")
    return value


def _limit_count(limit: exp.Expr | None) -> exp.Expr | None:
    """The row count of ``LIMIT n`` / ``FETCH {FIRST|NEXT} [n] {ROW|ROWS} ONLY`` (``None``: no limit, as ``LIMIT
    ALL``); ``WITH TIES`` and ``PERCENT`` are refused."""
    if limit is None:
        return None
    if isinstance(limit, exp.Fetch):
        options = limit.args.get("limit_options")
        if options is not None and (options.args.get("with_ties") or options.args.get("percent")):
            raise errors.FeatureNotSupported("FETCH FIRST ... WITH TIES is not supported"
                                             if options.args.get("with_ties") else "FETCH FIRST ... PERCENT is not supported")
        count = limit.args.get("count")
        return count if count is not None else exp.Literal.number(1)  # FETCH FIRST ROW ONLY: one row
    count = limit.expression
    if isinstance(count, exp.Var) and count.name.upper() == "ALL":
        return None
    return count


def _limit_offset(node: exp.Expr, state: QueryState) -> tuple[int | None, int]:
    limit = node.args.get("limit")
    offset = node.args.get("offset")
    limit_value = _constant_int(_limit_count(limit), state, "LIMIT")
    offset_value = _constant_int(offset.expression if offset is not None else None, state, "OFFSET")
    return limit_value, offset_value or 0
