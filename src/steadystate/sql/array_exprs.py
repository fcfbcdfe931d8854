"""Planning the array part of scalar SQL: ``ARRAY[...]``, subscripts and slices, ``= ANY/ALL (array)``, ``||``,
``@>``/``<@``/``&&`` and the array functions, into the vocabulary of ``expr/arrays.py``.

Hooked into ``sql/scalar.py`` by :func:`install` (called once at the end of that module, handing over its
``plan_expr``, which the handlers call for their operands): it adds the handlers of
:data:`HANDLERS` and :data:`FUNCTIONS` and the ``Anonymous`` functions of :data:`ANONYMOUS` to scalar's tables, and
wraps the comparison and ``||`` handlers so that an array operand (or an ``ANY``/``ALL`` right side) takes the array
path while everything else goes to the handler it replaced.  Typing follows PostgreSQL's polymorphic rules in the
small: an untyped literal or parameter next to an array adopts the array type (or its element type where an
element is expected); the elements of ``ARRAY[...]`` are unified as ``CASE`` branches are; an empty ``ARRAY[]``
needs a cast (42P18 otherwise).  ``ARRAY(SELECT x ... [ORDER BY ...])`` is planned as the subquery's ``array_agg``
(:func:`array_subqueries`, called by sql/query.py on every query); multi-dimensional subscripts, and an
``ARRAY(SELECT ...)`` with LIMIT, DISTINCT, grouping or several columns, are refused with 0A000.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import AggregateExpr, AggregateOrder, CallBinary, CallUnary, CallVariadic, ColumnOrder
from steadystate.repr.types import ScalarType
from steadystate.sql import jsonb_scalar, session_zone
from steadystate.sql import types as ty
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit, mismatch, nullable_of, operator_error, unify

T = ScalarType
Handler = Callable[[Any, ExprEnv], Typed]
_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1


_PLANNER: list[Handler] = []  # sql/scalar.py's plan_expr, handed over by install (scalar imports this module)


def _plan(node: exp.Expr, env: ExprEnv) -> Typed:
    return _PLANNER[0](node, env)


def _strip(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _as_array(value: Typed, env: ExprEnv, like: ScalarType | None, what: str) -> Typed:
    """``value`` as an array: an untyped literal/parameter adopts ``like`` (text[] when unknown)."""
    if value.is_untyped:
        return coerce(value, like if like is not None else T.TEXT_ARRAY, env)
    if not value.type.is_array:
        raise errors.DatatypeMismatch(f"{what} must be an array, not type {value.type.pg_name}")
    return value


def _cast_array(value: Typed, target: ScalarType, env: ExprEnv) -> Typed:
    return coerce(value, target, env, explicit=True) if value.type is not target else value


def _element_and_array(element: Typed, array: Typed, env: ExprEnv, symbol: str) -> tuple[Typed, Typed]:
    """An element and an array brought to one element type (the element side implicitly widened)."""
    if element.is_untyped:
        return coerce(element, array.type.element, env), array
    common = ty.common_type([element.type, array.type.element])
    if common is None or common.array is None:
        raise operator_error(symbol, element.type, array.type)
    return coerce(element, common, env), _cast_array(array, common.array, env)


def _two_arrays(left: Typed, right: Typed, env: ExprEnv, symbol: str) -> tuple[Typed, Typed]:
    if left.is_untyped and right.is_untyped:
        return coerce(left, T.TEXT_ARRAY, env), coerce(right, T.TEXT_ARRAY, env)
    left = _as_array(left, env, None if right.is_untyped else right.type, "operand")
    right = _as_array(right, env, left.type, "operand")
    if left.type is right.type:
        return left, right
    common = ty.common_type([left.type.element, right.type.element])
    if common is None or common.array is None:
        raise operator_error(symbol, left.type, right.type)
    return _cast_array(left, common.array, env), _cast_array(right, common.array, env)


# ---------------------------------------------------------------------------------------------------------
# Constructors, subscripts


def _array(node: exp.Array, env: ExprEnv) -> Typed:
    items = list(node.expressions)
    if len(items) == 1 and isinstance(items[0], (exp.Select, exp.Subquery, exp.Union)):
        raise errors.FeatureNotSupported("ARRAY(subquery) with LIMIT, DISTINCT, grouping or several columns is not "
                                         "supported", hint="Use array_agg over a subquery.")
    if any(isinstance(_strip(i), exp.Array) for i in items):
        raise errors.FeatureNotSupported("multidimensional arrays are not supported")
    values = [_plan(i, env) for i in items]
    if not values:
        parent = node.parent
        if isinstance(parent, exp.Cast):
            target = ty.resolve_type(parent.to).type
            if target.is_array:
                return lit(ty.parse_text("{}", target), target)
        raise errors.SteadyError("cannot determine type of empty array", sqlstate="42P18",
                                 hint="Explicitly cast to the desired type, for example ARRAY[]::integer[].")
    for v in values:
        if not v.is_untyped and v.type.is_array:
            raise errors.FeatureNotSupported("multidimensional arrays are not supported")
    coerced, element = unify(values, env, describe=mismatch("ARRAY"))
    array_type = element.array
    if array_type is None:
        raise errors.FeatureNotSupported(f"arrays of type {element.pg_name} are not supported")
    return Typed(CallVariadic("array_build", tuple(v.expr for v in coerced)), array_type, False)


def _index(node: exp.Expr, env: ExprEnv) -> Typed:
    return coerce(_plan(node, env), T.INT4, env)


def _bracket(node: exp.Bracket, env: ExprEnv) -> Typed:
    if isinstance(_strip(node.this), exp.Bracket) or len(node.expressions) != 1:
        raise errors.FeatureNotSupported("multidimensional array subscripts are not supported")
    base = _plan(node.this, env)
    if base.is_untyped or not base.type.is_array:
        shown = "unknown" if base.is_untyped else base.type.pg_name
        raise errors.DatatypeMismatch(f"cannot subscript type {shown} because it does not support subscripting")
    subscript = node.expressions[0]
    if isinstance(subscript, exp.Slice):
        low_node, high_node = subscript.args.get("this"), subscript.args.get("expression")
        low = _index(low_node, env) if low_node is not None else lit(_INT4_MIN, T.INT4)
        high = _index(high_node, env) if high_node is not None else lit(_INT4_MAX, T.INT4)
        return Typed(CallVariadic("array_slice", (base.expr, low.expr, high.expr)), base.type,
                     nullable_of(base, low, high))
    index = _index(subscript, env)
    return Typed(CallBinary("array_subscript", base.expr, index.expr), base.type.element, True)


# ---------------------------------------------------------------------------------------------------------
# Operators


def _is_all(node: exp.Expr) -> bool:
    return isinstance(node, exp.All) or (isinstance(node, exp.Anonymous) and str(node.this).upper() == "ALL"
                                         and len(node.expressions) == 1)


_COMPARE_FUNCS = {exp.EQ: ("eq", "="), exp.NEQ: ("neq", "<>"), exp.LT: ("lt", "<"), exp.LTE: ("lte", "<="),
                  exp.GT: ("gt", ">"), exp.GTE: ("gte", ">=")}


def _quantified(original: Handler) -> Handler:
    """``x op ANY (array)`` / ``x op ALL (array)``; a subquery inside, or a plain comparison, stays ``original``'s."""

    def plan(node: exp.Binary, env: ExprEnv) -> Typed:
        right = node.expression
        if not (isinstance(right, exp.Any) or _is_all(right)):
            return original(node, env)
        inner = _strip(right.this if isinstance(right, (exp.Any, exp.All)) else right.expressions[0])
        if isinstance(inner, (exp.Subquery, exp.Select)):
            return original(node, env)
        func, symbol = _COMPARE_FUNCS[type(node)]
        quantifier = "any" if isinstance(right, exp.Any) else "all"
        left, array = _plan(node.this, env), _plan(inner, env)
        if array.is_untyped:
            array = coerce(array, left.type.array or T.TEXT_ARRAY if not left.is_untyped else T.TEXT_ARRAY, env)
        if not array.type.is_array:
            raise errors.SteadyError(f"op {quantifier.upper()}/ALL (array) requires array on right side"
                                     if quantifier == "any" else "op ANY/ALL (array) requires array on right side",
                                     sqlstate="42809")
        element, array = _element_and_array(left, array, env, symbol)
        return Typed(CallBinary(f"{quantifier}_{func}", element.expr, array.expr), T.BOOL, True)

    return plan


def _concat(original: Handler) -> Handler:
    """``||``: array with array (``array_cat``), array with element (append/prepend); text otherwise."""

    def plan(node: exp.DPipe, env: ExprEnv) -> Typed:
        left, right = _plan(node.left, env), _plan(node.right, env)
        left_array = not left.is_untyped and left.type.is_array
        right_array = not right.is_untyped and right.type.is_array
        if not left_array and not right_array:
            return original(node, env)
        if left_array and right_array or (left_array and right.unknown is not None and right.unknown.strip().startswith("{")):
            a, b = _two_arrays(left, right, env, "||")
            return Typed(CallBinary("array_cat", a.expr, b.expr), a.type, nullable_of(a, b))
        if right_array and left.unknown is not None and left.unknown.strip().startswith("{"):
            a, b = _two_arrays(left, right, env, "||")
            return Typed(CallBinary("array_cat", a.expr, b.expr), a.type, nullable_of(a, b))
        if left_array:
            element, array = _element_and_array(right, left, env, "||")
            return Typed(CallBinary("array_append", array.expr, element.expr), array.type, False)
        element, array = _element_and_array(left, right, env, "||")
        return Typed(CallBinary("array_prepend", element.expr, array.expr), array.type, False)

    return plan


def _containment(func: str, symbol: str) -> Handler:
    def plan(node: exp.Binary, env: ExprEnv) -> Typed:
        left, right = _plan(node.this, env), _plan(node.expression, env)
        if symbol != "&&":  # ``@>``/``<@`` between jsonb values share sqlglot's nodes (sql/jsonb_scalar.py)
            planned = jsonb_scalar.plan_containment(node, left, right, env)
            if planned is not None:
                return planned
        a, b = _two_arrays(left, right, env, symbol)
        return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))

    return plan


# ---------------------------------------------------------------------------------------------------------
# Functions


def _array_arg(name: str, node: exp.Expr, env: ExprEnv) -> Typed:
    value = _plan(node, env)
    if value.is_untyped:
        raise errors.UndefinedFunction(f"function {name}(unknown) does not exist",
                                       hint="No function matches the given name and argument types. "
                                            "You might need to add explicit type casts.")
    if not value.type.is_array:
        raise errors.UndefinedFunction(f"function {name}({value.type.pg_name}) does not exist",
                                       hint="No function matches the given name and argument types. "
                                            "You might need to add explicit type casts.")
    return value


def _array_dim(func: str) -> Callable[[list[exp.Expr], ExprEnv], Typed]:
    def plan(args: list[exp.Expr], env: ExprEnv) -> Typed:
        if len(args) != 2:
            raise errors.UndefinedFunction(f"function {func} takes 2 arguments")
        array = _array_arg(func, args[0], env)
        dim = coerce(_plan(args[1], env), T.INT4, env)
        return Typed(CallBinary(func, array.expr, dim.expr), T.INT4, True)

    return plan


def _unary_array(func: str, name: str, result: ScalarType) -> Callable[[list[exp.Expr], ExprEnv], Typed]:
    def plan(args: list[exp.Expr], env: ExprEnv) -> Typed:
        if len(args) != 1:
            raise errors.UndefinedFunction(f"function {name} takes 1 argument")
        array = _array_arg(name, args[0], env)
        return Typed(CallUnary(func, array.expr), result, True)

    return plan


def _element_fn(func: str, name: str, element_first: bool) -> Callable[[list[exp.Expr], ExprEnv], Typed]:
    """array_append(a, x), array_prepend(x, a), array_position(a, x), array_remove(a, x)."""

    def plan(args: list[exp.Expr], env: ExprEnv) -> Typed:
        if len(args) != 2:
            raise errors.UndefinedFunction(f"function {name} takes 2 arguments")
        element_node, array_node = (args[0], args[1]) if element_first else (args[1], args[0])
        array = _array_arg(name, array_node, env)
        element, array = _element_and_array(_plan(element_node, env), array, env, name)
        pair = (element.expr, array.expr) if element_first else (array.expr, element.expr)
        result = T.INT4 if func == "array_position" else array.type
        return Typed(CallBinary(func, *pair), result, func in ("array_position", "array_remove"))

    return plan


def _array_cat(args: list[exp.Expr], env: ExprEnv) -> Typed:
    if len(args) != 2:
        raise errors.UndefinedFunction("function array_cat takes 2 arguments")
    a, b = _two_arrays(_plan(args[0], env), _plan(args[1], env), env, "array_cat")
    return Typed(CallBinary("array_cat", a.expr, b.expr), a.type, nullable_of(a, b))


def _array_to_string(args: list[exp.Expr], env: ExprEnv) -> Typed:
    if len(args) not in (2, 3):
        raise errors.UndefinedFunction("function array_to_string takes 2 or 3 arguments")
    array = _array_arg("array_to_string", args[0], env)
    if array.type is T.TIMESTAMPTZ_ARRAY and (zone := session_zone.zone_for(env.ctx, "array_to_string")) is not None:
        array = Typed(CallVariadic("timestamptz_array_texts_in", (array.expr, lit(zone, T.TEXT).expr)), T.TEXT_ARRAY,
                      array.nullable)  # each element's text in the session's zone
    rest = [coerce(_plan(a, env), T.TEXT, env) for a in args[1:]]
    if array.type is T.FLOAT4_ARRAY:  # float4's own digits, not float8's
        array = Typed(CallUnary("array_float4_texts", array.expr), T.TEXT_ARRAY, array.nullable)
    return Typed(CallVariadic("array_to_string", (array.expr, *(r.expr for r in rest))), T.TEXT, True)


def _string_to_array(args: list[exp.Expr], env: ExprEnv) -> Typed:
    if len(args) not in (2, 3):
        raise errors.UndefinedFunction("function string_to_array takes 2 or 3 arguments")
    values = [coerce(_plan(a, env), T.TEXT, env) for a in args]
    return Typed(CallVariadic("string_to_array", tuple(v.expr for v in values)), T.TEXT_ARRAY, True)


def _args_of(node: exp.Expr) -> list[exp.Expr]:
    """A sqlglot function node's arguments in PostgreSQL's order."""
    if isinstance(node, exp.ArrayPrepend):  # sqlglot keeps the array first
        return [node.expression, node.this]
    out = [node.this] if node.args.get("this") is not None else []
    if node.args.get("expression") is not None:
        out.append(node.args["expression"])
    out.extend(node.expressions)
    if node.args.get("null") is not None:
        out.append(node.args["null"])
    return out


def _by_args(planner: Callable[[list[exp.Expr], ExprEnv], Typed]) -> Handler:
    return lambda node, env: planner(_args_of(node), env)


ANONYMOUS: dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]] = {
    "cardinality": _unary_array("array_cardinality", "cardinality", T.INT4),
    "array_ndims": _unary_array("array_ndims", "array_ndims", T.INT4),
    "array_length": _array_dim("array_length"),
    "array_lower": _array_dim("array_lower"),
    "array_upper": _array_dim("array_upper"),
    "array_append": _element_fn("array_append", "array_append", False),
    "array_prepend": _element_fn("array_prepend", "array_prepend", True),
    "array_position": _element_fn("array_position", "array_position", False),
    "array_remove": _element_fn("array_remove", "array_remove", False),
    "array_cat": _array_cat,
    "array_to_string": _array_to_string,
    "string_to_array": _string_to_array,
}

FUNCTIONS: dict[type, Handler] = {
    exp.ArraySize: _by_args(ANONYMOUS["array_length"]),
    exp.ArrayPosition: _by_args(ANONYMOUS["array_position"]),
    exp.ArrayToString: _by_args(ANONYMOUS["array_to_string"]),
    exp.StringToArray: _by_args(ANONYMOUS["string_to_array"]),
    exp.ArrayAppend: _by_args(ANONYMOUS["array_append"]),
    exp.ArrayPrepend: _by_args(ANONYMOUS["array_prepend"]),
    exp.ArrayConcat: _by_args(ANONYMOUS["array_cat"]),
    exp.ArrayRemove: _by_args(ANONYMOUS["array_remove"]),
}

HANDLERS: dict[type, Handler] = {
    exp.Array: _array,
    exp.Bracket: _bracket,
    exp.ArrayContainsAll: _containment("array_contains", "@>"),
    exp.ArrayContainedBy: _containment("array_contained", "<@"),
    exp.ArrayOverlaps: _containment("array_overlap", "&&"),
}


def plan_array_agg(value_node: exp.Expr, value: Typed, distinct: bool,
                   order: list[tuple[exp.Expr, Typed, ColumnOrder]], env: ExprEnv) -> tuple[AggregateExpr, ScalarType, bool]:
    """``array_agg(x [ORDER BY ...])`` (expr/arrays.py ``ArrayAggState``): an array of ``x``'s type."""
    if value.type.is_array:
        raise errors.FeatureNotSupported("array_agg of arrays (a multidimensional array) is not supported")
    array_type = value.type.array
    if array_type is None:
        raise errors.FeatureNotSupported(f"arrays of type {value.type.pg_name} are not supported")
    keys = []
    for node, key, column in order:
        if distinct and node.sql() != value_node.sql():
            raise errors.SteadyError("in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list",
                                     sqlstate="42P10")
        if key.is_untyped:
            key = coerce(key, T.TEXT, env)
        keys.append(AggregateOrder(key.expr, column.desc, column.nulls_last))
    return AggregateExpr("array_agg", value.expr, distinct, (), tuple(keys)), array_type, True


def _as_aggregate(node: exp.Expr) -> exp.Expr:
    """``ARRAY(SELECT x FROM ... [WHERE ...] [ORDER BY ...])`` as ``COALESCE((SELECT array_agg(x ORDER BY ...) FROM ...
    [WHERE ...]), '{}')``: the same elements in the same order, the empty array for no rows.  A subquery with
    LIMIT, DISTINCT, grouping, aggregates, windows or several columns is left alone (and refused by :func:`_array`)."""
    if not (isinstance(node, exp.Array) and len(node.expressions) == 1):
        return node
    select = node.expressions[0]
    if isinstance(select, exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return node
    if any(select.args.get(k) for k in ("limit", "offset", "distinct", "group", "having", "with", "with_", "qualify")):
        return node
    value = select.expressions[0]
    value = value.this if isinstance(value, exp.Alias) else value
    if isinstance(value, exp.Star) or value.find(exp.AggFunc, exp.Window) is not None:
        return node
    order = select.args.get("order")
    aggregated = select.copy()
    aggregated.set("order", None)
    argument = exp.Order(this=value.copy(), expressions=[o.copy() for o in order.expressions]) if order else value.copy()
    aggregated.set("expressions", [exp.ArrayAgg(this=argument)])
    return exp.Coalesce(this=exp.Subquery(this=aggregated), expressions=[exp.Literal.string("{}")])


def array_subqueries(node: exp.Expr) -> exp.Expr:
    """``node`` with every ``ARRAY(SELECT ...)`` that :func:`_as_aggregate` can rewrite rewritten."""
    if not any(isinstance(a.expressions[0], (exp.Select, exp.Subquery)) for a in node.find_all(exp.Array)
               if len(a.expressions) == 1):
        return node
    return node.transform(_as_aggregate)


def install(handlers: dict[type, Handler], functions: dict[type, Handler],
            anonymous: dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]], plan_expr: Handler) -> None:
    """Add the array handlers to scalar's tables, wrapping the comparison and ``||`` handlers; ``plan_expr`` is
    scalar's, which the handlers call for their operands."""
    _PLANNER[:] = [plan_expr]
    for cls in _COMPARE_FUNCS:
        handlers[cls] = _quantified(handlers[cls])
    handlers[exp.DPipe] = _concat(handlers[exp.DPipe])
    handlers.update(HANDLERS)
    functions.update(FUNCTIONS)
    anonymous.update(ANONYMOUS)


__all__ = ["array_subqueries", "install", "plan_array_agg"]
