"""Planning window functions (``f(...) OVER (PARTITION BY ... ORDER BY ... frame)``) of a SELECT into ``ir.Window``.

Window functions are evaluated after WHERE, GROUP BY and HAVING and before the select list, DISTINCT and ORDER
BY, as in PostgreSQL.  :func:`plan_windows` plans every window call of the select list and ORDER BY: the
partition keys, sort keys and arguments become columns appended by one ``Map`` (planned in the same
environment as the select list, so in a grouped query they may use group keys and aggregates), then one
``Window`` per distinct ``(PARTITION BY, ORDER BY)`` appends a column per function, and each call is bound
(``ExprEnv.bindings``) to its column, so the select list and ORDER BY read it like any column.

Named windows (``WINDOW w AS (...)``, ``OVER w``, ``OVER (w ORDER BY ...)``) are resolved here: a reference
takes the named window's partitioning, and its ordering and frame unless the call gives its own.  Frames are
PostgreSQL's ROWS, RANGE (RANGE with an offset needs one numeric ORDER BY column) and GROUPS; EXCLUDE, ``IGNORE
NULLS``, DISTINCT and ORDER BY inside a window aggregate, and non-constant ntile/lag/lead/nth_value parameters
are refused with 0A000.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    AggregateExpr, BoundKind, ColumnOrder, ColumnRef, FrameBound, FrameMode, If, Literal, Map, RelationExpr, Window,
    WindowFrame, WindowFunc,
)
from steadystate.expr.infer import aggregate_type
from steadystate.repr.types import ScalarType
from steadystate.expr.stat_aggregates import BIT_FUNCTIONS, REGRESSION_FUNCTIONS
from steadystate.sql.aggregate_args import bit_argument, float8_arguments, resolve_unknown
from steadystate.sql.dialect import Every
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import (AGGREGATE_CLASSES, ExprEnv, Typed, binding_key, coerce, output_name, require_bool,
                                   unify)

T = ScalarType

#: window functions that are not aggregates -> their sqlglot class
_RANKING: dict[type[exp.Expr], str] = {
    exp.RowNumber: "row_number", exp.Rank: "rank", exp.DenseRank: "dense_rank", exp.PercentRank: "percent_rank",
    exp.CumeDist: "cume_dist", exp.Ntile: "ntile", exp.Lag: "lag", exp.Lead: "lead", exp.FirstValue: "first_value",
    exp.LastValue: "last_value", exp.NthValue: "nth_value",
}
#: aggregates usable over a window frame
_AGGREGATES: dict[type[exp.Expr], str] = {
    exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max", exp.LogicalAnd: "bool_and",
    exp.LogicalOr: "bool_or", exp.Stddev: "stddev_samp", exp.StddevSamp: "stddev_samp", exp.StddevPop: "stddev_pop",
    exp.Variance: "var_samp", exp.VariancePop: "var_pop", Every: "bool_and", exp.BitwiseAndAgg: "bit_and",
    exp.BitwiseOrAgg: "bit_or", exp.BitwiseXorAgg: "bit_xor", exp.Corr: "corr", exp.CovarPop: "covar_pop",
    exp.CovarSamp: "covar_samp", exp.RegrAvgx: "regr_avgx", exp.RegrAvgy: "regr_avgy", exp.RegrCount: "regr_count",
    exp.RegrIntercept: "regr_intercept", exp.RegrR2: "regr_r2", exp.RegrSlope: "regr_slope", exp.RegrSxx: "regr_sxx",
    exp.RegrSxy: "regr_sxy", exp.RegrSyy: "regr_syy",
}
_NUMERIC = ("sum", "avg", "stddev_samp", "stddev_pop", "var_samp", "var_pop")
_BOUND_KINDS = {("UNBOUNDED", "preceding"): BoundKind.UNBOUNDED_PRECEDING, ("UNBOUNDED", "following"):
                BoundKind.UNBOUNDED_FOLLOWING, ("CURRENT ROW", None): BoundKind.CURRENT_ROW}


def find_windows(nodes: list[exp.Expr]) -> list[exp.Window]:
    """The window calls among ``nodes`` (not those inside subqueries, which plan their own), one per spelling."""
    found: dict[str, exp.Window] = {}
    for node in nodes:
        home = node.find_ancestor(exp.Subquery, exp.Exists)
        for window in node.find_all(exp.Window):
            if window.find_ancestor(exp.Subquery, exp.Exists) is not home:
                continue
            found.setdefault(binding_key(window), window)
    return list(found.values())


def is_window_aggregate(agg: exp.Expr) -> bool:
    """Whether an aggregate call is the function of a window call (``sum(x) OVER ...``), not a grouping aggregate."""
    parent = agg.parent
    if isinstance(parent, exp.Filter) and parent.this is agg:
        parent = parent.parent
    return isinstance(parent, exp.Window) and not isinstance(agg, exp.Window)


def plan_windows(select: exp.Select, windows: list[exp.Window], base: RelationExpr, env: ExprEnv,
                 base_arity: int) -> tuple[RelationExpr, int]:
    """``base`` with every call of ``windows`` appended as a column (bound in ``env``) and its new arity."""
    named = {w.this.name: w for w in (select.args.get("windows") or [])}
    map_exprs: list[Any] = []
    placed: dict[str, int] = {}

    def column(typed: Typed) -> int:
        if isinstance(typed.expr, ColumnRef):
            return typed.expr.index
        key = repr(typed.expr)
        if key not in placed:
            map_exprs.append(typed.expr)
            placed[key] = base_arity + len(map_exprs) - 1
        return placed[key]

    groups: dict[tuple, list[tuple[exp.Window, WindowFunc, ScalarType, bool]]] = {}
    for window in windows:
        partition, order, spec = _resolve(window, named)
        env.clause = "window definitions"
        keys = tuple(dict.fromkeys(column(_typed(p, env)) for p in partition))
        ordering = tuple(_order(o, column(_typed(o.this, env))) for o in order)
        order_types = [_typed(o.this, env).type for o in order]
        env.clause = "window functions"
        func, typ, nullable = _function(window.this, env, column)
        func = WindowFunc(func.func, func.args, func.param, _frame(spec, ordering, order_types, env))
        groups.setdefault((keys, ordering), []).append((window, func, typ, nullable))
    expr: RelationExpr = Map(base, tuple(map_exprs)) if map_exprs else base
    arity = base_arity + len(map_exprs)
    for (keys, ordering), calls in groups.items():
        expr = Window(expr, keys, ordering, tuple(func for _, func, _, _ in calls))
        for window, _func, typ, nullable in calls:
            env.bindings[binding_key(window)] = (arity, typ, nullable)
            arity += 1
    return expr, arity


def _typed(node: exp.Expr, env: ExprEnv) -> Typed:
    typed = plan_expr(node, env)
    return coerce(typed, T.TEXT, env) if typed.is_untyped else typed


def _resolve(window: exp.Window, named: dict[str, exp.Window]) -> tuple[list[exp.Expr], list[exp.Ordered], Any]:
    partition = list(window.args.get("partition_by") or [])
    order_node = window.args.get("order")
    order = list(order_node.expressions) if order_node is not None else []
    spec = window.args.get("spec")
    reference = window.args.get("alias")
    if reference is not None:
        base = named.get(reference.name)
        if base is None:
            raise errors.SteadyError(f"window {errors.quote_ident(reference.name)} does not exist", sqlstate="42704")
        if partition:
            raise errors.SteadyError(f"cannot override PARTITION BY clause of window {errors.quote_ident(reference.name)}",
                                     sqlstate="42P20")
        partition = list(base.args.get("partition_by") or [])
        base_order = base.args.get("order")
        if not order and base_order is not None:
            order = list(base_order.expressions)
        spec = spec if spec is not None else base.args.get("spec")
    return partition, order, spec


def _order(item: exp.Ordered, column: int) -> ColumnOrder:
    desc = bool(item.args.get("desc"))
    nulls_first = item.args.get("nulls_first")
    return ColumnOrder(column, desc, not nulls_first if nulls_first is not None else not desc)


def _constant(node: exp.Expr | None, env: ExprEnv, what: str) -> int | None:
    if node is None:
        return None
    typed = plan_expr(node, env)
    if not typed.untyped_null:
        typed = coerce(typed, T.INT8, env)
    if not isinstance(typed.expr, Literal):
        raise errors.FeatureNotSupported(f"{what} must be a constant")
    value = typed.expr.datum()
    return None if value is None else int(value)


def _function(node: exp.Expr, env: ExprEnv, column: Any) -> tuple[WindowFunc, ScalarType, bool]:
    if node.args.get("ignore_nulls") or isinstance(node, (exp.IgnoreNulls, exp.RespectNulls)):
        raise errors.FeatureNotSupported("IGNORE NULLS and RESPECT NULLS are not supported in window functions")
    name = _RANKING.get(type(node))
    if name is not None:
        return _ranking(name, node, env, column)
    condition: Any = None
    if isinstance(node, exp.Filter):
        if node.expression.find(*AGGREGATE_CLASSES) is not None:
            raise errors.SteadyError("aggregate functions are not allowed in FILTER", sqlstate="42803")
        env.clause = "FILTER"
        condition = require_bool(plan_expr(node.expression.this, env), env, "FILTER").expr
        env.clause = "window functions"
        node = node.this
    func = _AGGREGATES.get(type(node))
    if func is None:
        raise errors.FeatureNotSupported(f"{node.sql(dialect='postgres')} is not supported as a window function")
    inner = node.this
    if isinstance(inner, (exp.Distinct, exp.Order)):
        raise errors.FeatureNotSupported("DISTINCT and ORDER BY are not implemented for window functions")
    if func in REGRESSION_FUNCTIONS:  # corr(y, x) OVER (...): fed (y, x, ()) (expr/window.py)
        y, x = float8_arguments(func, [plan_expr(inner, env), plan_expr(node.expression, env)], env)
        if condition is not None:
            y = Typed(If(condition, y.expr, Literal(None, T.FLOAT8)), T.FLOAT8, True)
        count = func == "regr_count"
        return WindowFunc(func, (column(y), column(x))), T.INT8 if count else T.FLOAT8, not count
    if func == "count" and (inner is None or isinstance(inner, exp.Star)):
        if condition is None:
            return WindowFunc("count_star"), T.INT8, False
        return WindowFunc("count", (column(Typed(If(condition, Literal(True, T.BOOL), Literal(None, T.BOOL)),
                                                 T.BOOL, True)),)), T.INT8, False
    value = plan_expr(inner, env)
    if value.is_untyped:  # as PostgreSQL resolves it, or refused (sum('1') is not unique)
        value = resolve_unknown(func, value, env, node.meta.get("typed_name"))
    if func in BIT_FUNCTIONS:
        value = bit_argument(func, value, env)
    if func in _NUMERIC and not value.type.is_numeric:
        raise errors.UndefinedFunction(f"function {func}({value.type.pg_name}) does not exist",
                                       hint="No function matches the given name and argument types. You might need to add explicit type casts.")
    if func in ("bool_and", "bool_or") and value.type is not T.BOOL:  # every(1) OVER (): named as typed
        raise errors.UndefinedFunction(f"function {output_name(node)}({value.type.pg_name}) does "
                                       "not exist", hint="No function matches the given name and argument types. "
                                                         "You might need to add explicit type casts.")
    if condition is not None:
        value = Typed(If(condition, value.expr, Literal(None, value.type)), value.type, True)
    typ = aggregate_type(AggregateExpr(func, ColumnRef(0)), [value.type]) or value.type
    return WindowFunc(func, (column(value),)), typ, func != "count"


def _ranking(name: str, node: exp.Expr, env: ExprEnv, column: Any) -> tuple[WindowFunc, ScalarType, bool]:
    if name in ("row_number", "rank", "dense_rank", "percent_rank", "cume_dist"):
        typ = T.FLOAT8 if name in ("percent_rank", "cume_dist") else T.INT8
        return WindowFunc(name), typ, False
    if name == "ntile":
        return WindowFunc(name, (), _constant(node.this, env, "the argument of ntile")), T.INT4, True
    value = _typed(node.this, env)
    if name in ("first_value", "last_value"):
        return WindowFunc(name, (column(value),)), value.type, True
    if name == "nth_value":
        return WindowFunc(name, (column(value),), _constant(node.args.get("offset"), env,
                                                            "the position of nth_value")), value.type, True
    offset = node.args.get("offset")
    shift = _constant(offset, env, f"the offset of {name}") if offset is not None else 1
    if shift is None:  # lag(x, NULL): every row's value is NULL
        return WindowFunc(name, (column(value), column(Typed(Literal(None, value.type), value.type, True))),
                          10**18), value.type, True
    default = node.args.get("default")
    if default is None:
        return WindowFunc(name, (column(value),), shift), value.type, True
    (value, fallback), typ = unify([value, plan_expr(default, env)], env, describe=lambda known: errors.UndefinedFunction(
        f"function {name}({known[0].pg_name}, integer, {known[-1].pg_name}) does not exist",
        hint="No function matches the given name and argument types. You might need to add explicit type casts."))
    return WindowFunc(name, (column(value), column(fallback)), shift), typ, True


def _frame(spec: Any, order: tuple[ColumnOrder, ...], order_types: list[ScalarType], env: ExprEnv) -> WindowFrame:
    if spec is None:
        return WindowFrame()
    kind = str(spec.args.get("kind") or "").lower()
    if spec.args.get("exclude") is not None:
        raise errors.FeatureNotSupported("EXCLUDE in window frames is not supported")
    mode = {"rows": FrameMode.ROWS, "groups": FrameMode.GROUPS}.get(kind, FrameMode.RANGE)
    if mode is FrameMode.GROUPS and not order:
        raise errors.SteadyError("GROUPS mode requires an ORDER BY clause", sqlstate="42P20")
    start = _bound(spec.args.get("start"), spec.args.get("start_side"), mode, order, order_types, env, "starting")
    end_node = spec.args.get("end")
    end = FrameBound(BoundKind.CURRENT_ROW) if end_node is None else \
        _bound(end_node, spec.args.get("end_side"), mode, order, order_types, env, "ending")
    if start.kind is BoundKind.UNBOUNDED_FOLLOWING:
        raise errors.SteadyError("frame start cannot be UNBOUNDED FOLLOWING", sqlstate="42P20")
    if end.kind is BoundKind.UNBOUNDED_PRECEDING:
        raise errors.SteadyError("frame end cannot be UNBOUNDED PRECEDING", sqlstate="42P20")
    if start.kind is BoundKind.CURRENT_ROW and end.kind is BoundKind.PRECEDING:
        raise errors.SteadyError("frame starting from current row cannot have preceding rows", sqlstate="42P20")
    if start.kind is BoundKind.FOLLOWING and end.kind in (BoundKind.PRECEDING, BoundKind.CURRENT_ROW):
        raise errors.SteadyError("frame starting from following row cannot have preceding rows", sqlstate="42P20")
    return WindowFrame(mode, start, end)


def _bound(node: Any, side: Any, mode: FrameMode, order: tuple[ColumnOrder, ...], order_types: list[ScalarType],
           env: ExprEnv, which: str) -> FrameBound:
    side = str(side).lower() if side else None
    text = node.upper() if isinstance(node, str) else None
    if text is not None:
        found = _BOUND_KINDS.get((text, side if text == "UNBOUNDED" else None))
        if found is None:
            raise errors.SyntaxError_(f"syntax error at or near \"{text}\"")
        return FrameBound(found)
    kind = BoundKind.PRECEDING if side == "preceding" else BoundKind.FOLLOWING
    if mode is not FrameMode.RANGE:
        target = T.INT8
    else:
        if len(order) != 1:
            raise errors.SteadyError("RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
                                     sqlstate="42P20")
        target = order_types[0]
        if not target.is_numeric:
            raise errors.FeatureNotSupported(
                f"RANGE with offset PRECEDING/FOLLOWING is not supported for column type {target.pg_name}")
    offset = plan_expr(node, env)
    if offset.untyped_null:
        raise errors.SteadyError(f"frame {which} offset must not be null", sqlstate="22004")
    offset = coerce(offset, target, env)
    if not isinstance(offset.expr, Literal):
        raise errors.FeatureNotSupported(f"frame {which} offset must be a constant")
    value = offset.expr.datum()
    if value is None:
        raise errors.SteadyError(f"frame {which} offset must not be null", sqlstate="22004")
    if value < 0:
        raise errors.SteadyError(f"frame {which} offset must not be negative",
                                 sqlstate="22013")
    return FrameBound(kind, offset.expr)
