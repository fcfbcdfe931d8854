"""Planning the string and math functions of ``expr.string_math`` (PostgreSQL's signatures and result types).

sqlglot reads each into its own node (``ConcatWs``, ``SplitPart``, ``RegexpReplace``, ``Initcap``, ``Reverse``,
``Translate``, ``Ascii``, ``Chr``, ``StartsWith``, ``Trunc``, ``Cbrt``, ``Pi``, ``Degrees``, ``Radians``,
``WidthBucket``, ``Factorial``; ``div`` becomes an ``IntDiv`` in a cast to numeric) and the
integer bitwise operators into theirs (:data:`HANDLERS`: ``& | # ~ << >>``);
:data:`FUNCTIONS` maps those to planners and is merged into ``sql.scalar``'s table.  An argument sqlglot accepts
but PostgreSQL's function has not (``regexp_replace``'s position, ``initcap``'s delimiters) is refused.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic
from steadystate.repr.types import ScalarType
from steadystate.sql.function_args import PlanExpr, no_function, signature
from steadystate.sql.typed import ExprEnv, Typed, binary_operands, coerce, lit, nullable_of, operator_error

T = ScalarType


def _typed(plan: PlanExpr, name: str, nodes: list[exp.Expr], wanted: list[ScalarType], env: ExprEnv
           ) -> list[Typed]:
    return signature(name, [plan(n, env) for n in nodes], wanted, env)


def _only(node: exp.Expr, allowed: tuple[str, ...], name: str) -> None:
    if any(node.args.get(k) not in (None, False) for k in node.args if k not in allowed):
        raise errors.FeatureNotSupported(f"this form of {name} is not supported")


def _call(func: str, args: list[Typed], result: ScalarType) -> Typed:
    nullable = any(a.nullable for a in args)
    if len(args) == 1:
        return Typed(CallUnary(func, args[0].expr), result, nullable)
    if len(args) == 2:
        return Typed(CallBinary(func, args[0].expr, args[1].expr), result, nullable)
    return Typed(CallVariadic(func, tuple(a.expr for a in args)), result, nullable)


def _text_function(func: str, keys: tuple[str, ...], types: list[ScalarType], result: ScalarType
                   ) -> Callable[[PlanExpr, Any, ExprEnv], Typed]:
    def plan_call(plan: PlanExpr, node: exp.Expr, env: ExprEnv) -> Typed:
        _only(node, keys, func)
        nodes = [node.args[k] for k in keys if node.args.get(k) is not None]
        return _call(func, _typed(plan, func, nodes, types[:len(nodes)], env), result)

    return plan_call


#: types whose text the evaluator would show in UTC: cast to text here, in the session's zone (sql/session_zone.py)
_OUTPUT_IN_ZONE = (T.TIMESTAMPTZ, T.TIMESTAMPTZ_ARRAY)


def _concat_ws(plan: PlanExpr, node: exp.ConcatWs, env: ExprEnv) -> Typed:
    values = [plan(e, env) for e in node.expressions]
    if not values:
        raise errors.UndefinedFunction("function concat_ws() does not exist")
    values = [coerce(values[0], T.TEXT, env)] + [
        coerce(v, T.TEXT, env, explicit=True) if v.is_untyped or v.type in _OUTPUT_IN_ZONE else v for v in values[1:]]
    return Typed(CallVariadic("concat_ws", tuple(v.expr for v in values)), T.TEXT, values[0].nullable)


def _regexp_replace(plan: PlanExpr, node: exp.RegexpReplace, env: ExprEnv) -> Typed:
    _only(node, ("this", "expression", "replacement", "modifiers", "single_replace"), "regexp_replace")
    if node.args.get("replacement") is None:
        raise errors.UndefinedFunction("function regexp_replace() does not exist",
                                       hint="regexp_replace takes (text, pattern, replacement [, flags])")
    nodes = [node.this, node.expression, node.args["replacement"]]
    if node.args.get("modifiers") is not None:
        nodes.append(node.args["modifiers"])
    return _call("regexp_replace", _typed(plan, "regexp_replace", nodes, [T.TEXT] * len(nodes), env), T.TEXT)


def _chr(plan: PlanExpr, node: exp.Chr, env: ExprEnv) -> Typed:
    if len(node.expressions) != 1 or node.args.get("charset"):
        raise errors.FeatureNotSupported("this form of chr is not supported")
    return _call("chr", _typed(plan, "chr", list(node.expressions), [T.INT4], env), T.TEXT)


def _trunc(plan: PlanExpr, node: exp.Trunc, env: ExprEnv) -> Typed:
    _only(node, ("this", "decimals"), "trunc")
    if node.args.get("decimals") is None:  # trunc(numeric) or trunc(double precision): an integer is the latter
        value = plan(node.this, env)
        if value.is_untyped or value.type in (T.INT2, T.INT4, T.INT8, T.FLOAT4):
            value = coerce(value, T.FLOAT8, env)
        if value.type not in (T.FLOAT8, T.NUMERIC):
            raise no_function("trunc", [value])
        return _call("trunc", [value], value.type)
    return _call("trunc_to", _typed(plan, "trunc", [node.this, node.args["decimals"]], [T.NUMERIC, T.INT4], env),
                 T.NUMERIC)


def _float_function(func: str) -> Callable[[PlanExpr, Any, ExprEnv], Typed]:
    def plan_call(plan: PlanExpr, node: exp.Expr, env: ExprEnv) -> Typed:
        return _call(func, _typed(plan, func, [node.this], [T.FLOAT8], env), T.FLOAT8)

    return plan_call


def _regexp_match(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    if len(args) not in (2, 3):
        raise no_function("regexp_match", [plan(a, env) for a in args])
    typed = _typed(plan, "regexp_match", args, [T.TEXT] * len(args), env)
    return Typed(CallVariadic("regexp_match", tuple(a.expr for a in typed)), T.TEXT_ARRAY,
                 any(a.nullable for a in typed))


def _integer_pair(name: str) -> Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]:
    """``gcd``/``lcm`` of integers: int4 unless an argument is bigint (numeric arguments: not supported)."""
    def plan_call(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
        values = [plan(a, env) for a in args]
        if len(values) != 2:
            raise no_function(name, values)
        known = [v.type for v in values if not v.is_untyped]
        if any(not t.is_integer for t in known):
            if all(t.is_numeric for t in known):
                raise errors.FeatureNotSupported(f"{name}(numeric, numeric) is not supported",
                                                 hint="Cast the arguments to bigint.")
            raise no_function(name, values)
        if not {T.INT4, T.INT8} & set(known):  # smallint or unknown only: int4 and int8 fit alike (PostgreSQL)
            described = ", ".join("unknown" if v.is_untyped else v.type.pg_name for v in values)
            raise errors.SteadyError(f"function {name}({described}) is not unique", sqlstate="42725",
                                     hint="Could not choose a best candidate function. You might need to add "
                                          "explicit type casts.")
        typ = T.INT8 if T.INT8 in known else T.INT4
        a, b = (coerce(v, typ, env) for v in values)
        return Typed(CallBinary(f"{name}_{typ.value}", a.expr, b.expr), typ, a.nullable or b.nullable)

    return plan_call


def _numeric_function(name: str, result: ScalarType, nullable: bool = False
                      ) -> Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]:
    """A function of one numeric (``scale``, ``min_scale``, ``trim_scale``); ``nullable``: NULL for NaN and the
    infinities whatever the argument's nullability."""
    def plan_call(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
        typed = _call(name, _typed(plan, name, args, [T.NUMERIC], env), result)
        return Typed(typed.expr, result, True) if nullable else typed

    return plan_call


def _div(plan: PlanExpr, node: exp.IntDiv, env: ExprEnv) -> Typed:
    """``div(numeric, numeric)`` (sqlglot reads it as an integer division inside a cast to numeric)."""
    return _call("div_trunc", _typed(plan, "div", [node.this, node.expression], [T.NUMERIC, T.NUMERIC], env),
                 T.NUMERIC)


def _width_bucket(plan: PlanExpr, node: exp.WidthBucket, env: ExprEnv) -> Typed:
    """``width_bucket(operand, low, high, count)``: numeric when an argument is numeric and none is a float (the
    candidate with an exact match), else double precision (numeric's preferred type), as PostgreSQL resolves it."""
    keys = ("this", "min_value", "max_value", "num_buckets")
    if node.args.get("threshold") is not None or any(node.args.get(k) is None for k in keys):
        raise errors.FeatureNotSupported("width_bucket(anyelement, anyarray) is not supported")
    values = [plan(node.args[k], env) for k in keys]
    known = {v.type for v in values[:3] if not v.is_untyped}
    kind = T.NUMERIC if T.NUMERIC in known and not known & {T.FLOAT4, T.FLOAT8} else T.FLOAT8
    typed = signature("width_bucket", values, [kind, kind, kind, T.INT4], env)
    return _call(f"width_bucket_{kind.value}", typed, T.INT4)


ANONYMOUS: dict[str, Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]] = {
    "regexp_match": _regexp_match, "gcd": _integer_pair("gcd"), "lcm": _integer_pair("lcm"),
    "scale": _numeric_function("scale", T.INT4, nullable=True),
    "min_scale": _numeric_function("min_scale", T.INT4, nullable=True),
    "trim_scale": _numeric_function("trim_scale", T.NUMERIC),
}

_BITWISE = {exp.BitwiseAnd: ("bitand", "&"), exp.BitwiseOr: ("bitor", "|"), exp.BitwiseXor: ("bitxor", "#")}
_SHIFTS = {exp.BitwiseLeftShift: ("shl", "<<"), exp.BitwiseRightShift: ("shr", ">>")}
_INTEGERS = (T.INT2, T.INT4, T.INT8)


def _bitwise(plan: PlanExpr, node: exp.Binary, env: ExprEnv) -> Typed:
    """``&``, ``|``, ``#`` between integers (the wider type of the two, as PostgreSQL's implicit casts give)."""
    func, symbol = _BITWISE[type(node)]
    a, b, target = binary_operands(plan(node.left, env), plan(node.right, env), env, symbol)
    if target not in _INTEGERS:
        raise operator_error(symbol, a.type, b.type)
    return Typed(CallBinary(func, a.expr, b.expr), target, nullable_of(a, b))


def _shift(plan: PlanExpr, node: exp.Binary, env: ExprEnv) -> Typed:
    """``<<``/``>>``: an integer shifted by an integer count; the result has the left operand's type."""
    func, symbol = _SHIFTS[type(node)]
    value, count = plan(node.left, env), plan(node.right, env)
    value = coerce(value, T.INT4, env) if value.is_untyped else value
    count = coerce(count, T.INT4, env) if count.is_untyped else count
    if value.type not in _INTEGERS or count.type not in (T.INT2, T.INT4):
        raise operator_error(symbol, value.type, count.type)
    return Typed(CallBinary(f"{func}_{value.type.value}", value.expr, count.expr), value.type,
                 nullable_of(value, count))


def _bitwise_not(plan: PlanExpr, node: exp.BitwiseNot, env: ExprEnv) -> Typed:
    value = plan(node.this, env)
    if value.is_untyped:  # ~ is also the bit-string and regular-expression operators: PostgreSQL cannot choose
        raise errors.SteadyError("operator is not unique: ~ unknown", sqlstate="42725",
                                 hint="Could not choose a best candidate operator. You might need to add explicit "
                                 "type casts.")
    if value.type not in _INTEGERS:
        raise errors.UndefinedFunction(
            f"operator does not exist: ~ {value.type.pg_name}",
            hint="No operator matches the given name and argument types. You might need to add explicit type casts.")
    return Typed(CallUnary("bitnot", value.expr), value.type, value.nullable)


FUNCTIONS: dict[type, Callable[[PlanExpr, Any, ExprEnv], Typed]] = {
    exp.ConcatWs: _concat_ws,
    exp.SplitPart: _text_function("split_part", ("this", "delimiter", "part_index"), [T.TEXT, T.TEXT, T.INT4], T.TEXT),
    exp.RegexpReplace: _regexp_replace,
    exp.Initcap: lambda plan, node, env: _text_function("initcap", ("this",), [T.TEXT], T.TEXT)(
        plan, exp.Initcap(this=node.this), env),  # sqlglot adds a default delimiter list that PostgreSQL's has not
    exp.Reverse: _text_function("reverse", ("this",), [T.TEXT], T.TEXT),
    exp.Translate: _text_function("translate", ("this", "from_", "to"), [T.TEXT] * 3, T.TEXT),
    exp.Ascii: _text_function("ascii", ("this",), [T.TEXT], T.INT4),
    exp.Chr: _chr,
    exp.StartsWith: _text_function("starts_with", ("this", "expression"), [T.TEXT, T.TEXT], T.BOOL),
    exp.Trunc: _trunc,
    exp.Cbrt: _float_function("cbrt"),
    exp.Degrees: _float_function("degrees"),
    exp.Radians: _float_function("radians"),
    exp.Pi: lambda plan, node, env: lit(math.pi, T.FLOAT8),
    exp.IntDiv: _div,
    exp.WidthBucket: _width_bucket,
    exp.Factorial: lambda plan, node, env: _call(
        "factorial", _typed(plan, "factorial", [node.this], [T.INT8], env), T.NUMERIC),
}

#: the integer bitwise operators, planned from their sqlglot nodes (merged into ``sql.scalar``'s handlers)
HANDLERS: dict[type, Callable[[PlanExpr, Any, ExprEnv], Typed]] = {
    **{cls: _bitwise for cls in _BITWISE}, **{cls: _shift for cls in _SHIFTS}, exp.BitwiseNot: _bitwise_not,
}
