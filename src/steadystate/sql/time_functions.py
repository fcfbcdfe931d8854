"""Planning the date/time constructors and zone functions (``expr.time_functions`` evaluates them).

PostgreSQL's signatures: ``make_date(int, int, int)``, ``make_timestamp(int, int, int, int, int, double)``,
``make_timestamptz(..., double [, text])``, ``make_interval(years, months, weeks, days, hours, mins => int, secs =>
double)`` with named arguments, ``to_timestamp(double)``, ``date_bin(interval, ts, origin)`` over timestamp or
timestamptz, ``age(ts, ts)`` and ``age(ts)`` (from today's midnight: refused where results are maintained, as
``now()`` is), ``value AT TIME ZONE zone`` and ``timezone(zone, value)``.  sqlglot reads several of these into its
own nodes (``TimestampFromParts``, ``MakeInterval``, ``UnixToTime``, ``DateBin``, ``AtTimeZone``); the rest arrive
as anonymous functions.  :data:`FUNCTIONS` and :data:`ANONYMOUS` are merged into ``sql.scalar``'s tables.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallVariadic
from steadystate.repr.types import ScalarType
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit

T = ScalarType


def _plan(node: exp.Expr, env: ExprEnv) -> Typed:
    from steadystate.sql.scalar import plan_expr  # sql.scalar imports this module

    return plan_expr(node, env)


def _signature(name: str, values: list[Typed], wanted: list[ScalarType], env: ExprEnv) -> list[Typed]:
    from steadystate.sql.scalar import _implicit, _no_function

    if len(values) != len(wanted):
        raise _no_function(name, values)
    for value, target in zip(values, wanted):
        if not value.is_untyped and value.type is not target and not _implicit(value.type, target):
            raise _no_function(name, values)
    return [coerce(value, target, env) for value, target in zip(values, wanted)]


def _call(func: str, args: list[Typed], result: ScalarType) -> Typed:
    return Typed(CallVariadic(func, tuple(a.expr for a in args)), result, any(a.nullable for a in args))


_INTS = [T.INT4] * 5


def _make_date(args: list[exp.Expr], env: ExprEnv) -> Typed:
    return _call("make_date", _signature("make_date", [_plan(a, env) for a in args], [T.INT4] * 3, env), T.DATE)


def _make_timestamp(node: exp.TimestampFromParts, env: ExprEnv) -> Typed:
    names = ("year", "month", "day", "hour", "min", "sec")
    if any(node.args.get(k) is not None for k in node.args if k not in names):
        raise errors.FeatureNotSupported("this form of make_timestamp is not supported")
    values = [_plan(node.args[k], env) for k in names if node.args.get(k) is not None]
    return _call("make_timestamp", _signature("make_timestamp", values, _INTS + [T.FLOAT8], env), T.TIMESTAMP)


def _make_timestamptz(args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [_plan(a, env) for a in args]
    wanted = _INTS + [T.FLOAT8] + ([T.TEXT] if len(values) == 7 else [])
    return _call("make_timestamptz", _signature("make_timestamptz", values, wanted, env), T.TIMESTAMPTZ)


_INTERVAL_FIELDS = (("year", T.INT4), ("month", T.INT4), ("week", T.INT4), ("day", T.INT4), ("hour", T.INT4),
                    ("minute", T.INT4), ("second", T.FLOAT8))


def _make_interval(node: exp.MakeInterval, env: ExprEnv) -> Typed:
    args = []
    for field, typ in _INTERVAL_FIELDS:
        given = node.args.get(field)
        if isinstance(given, exp.Kwarg):
            given = given.expression
        args.append(coerce(_plan(given, env), typ, env) if given is not None else lit(0 if typ is T.INT4 else 0.0, typ))
    return _call("make_interval", args, T.INTERVAL)


def _to_timestamp(node: exp.UnixToTime, env: ExprEnv) -> Typed:
    if any(node.args.get(k) is not None for k in node.args if k != "this"):
        raise errors.FeatureNotSupported("this form of to_timestamp is not supported")
    return _call("to_timestamp", _signature("to_timestamp", [_plan(node.this, env)], [T.FLOAT8], env), T.TIMESTAMPTZ)


def _to_timestamp_format(node: exp.StrToTime, env: ExprEnv) -> Typed:
    raise errors.FeatureNotSupported("to_timestamp(text, text) is not supported",
                                     hint="Cast the text to timestamptz, or use to_timestamp(double precision).")


def _timestamp_kind(values: list[Typed], name: str) -> ScalarType:
    from steadystate.sql.scalar import _no_function

    known = {v.type for v in values if not v.is_untyped}
    if not known <= {T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE}:
        raise _no_function(name, values)
    return T.TIMESTAMPTZ if T.TIMESTAMPTZ in known or T.DATE in known else T.TIMESTAMP


def _date_bin(node: exp.DateBin, env: ExprEnv) -> Typed:
    origin = node.args.get("unit") or node.args.get("origin")
    if origin is None or node.args.get("zone") is not None:
        raise errors.FeatureNotSupported("date_bin takes a stride, a timestamp and an origin")
    values = [_plan(node.this, env), _plan(node.expression, env), _plan(origin, env)]
    kind = _timestamp_kind(values[1:], "date_bin")
    return _call("date_bin", _signature("date_bin", values, [T.INTERVAL, kind, kind], env), kind)


def _age(args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [_plan(a, env) for a in args]
    if len(values) == 1:
        now = env.ctx.now
        if now is None:
            raise errors.FeatureNotSupported(
                "age(timestamp) is not supported in views, materialized views, indexes or subscriptions",
                hint="It counts from today's midnight, which changes: use age(a, b).")
        values = [lit(now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None), T.TIMESTAMP), values[0]]
        if not values[1].is_untyped and values[1].type is T.TIMESTAMPTZ:
            values[0] = lit(now.replace(hour=0, minute=0, second=0, microsecond=0), T.TIMESTAMPTZ)
    kind = _timestamp_kind(values, "age")
    return _call("age", _signature("age", values, [kind, kind], env), T.INTERVAL)


def _at_time_zone(value: Typed, zone: Typed, env: ExprEnv) -> Typed:
    from steadystate.sql.scalar import _no_function

    if value.is_untyped or value.type is T.DATE:
        value = coerce(value, T.TIMESTAMPTZ, env)
    if value.type not in (T.TIMESTAMP, T.TIMESTAMPTZ):
        raise _no_function("timezone", [zone, value])
    zone = coerce(zone, T.TEXT, env)
    result = T.TIMESTAMP if value.type is T.TIMESTAMPTZ else T.TIMESTAMPTZ
    return _call("timezone", [zone, value], result)


def _at_time_zone_node(node: exp.AtTimeZone, env: ExprEnv) -> Typed:
    return _at_time_zone(_plan(node.this, env), _plan(node.args["zone"], env), env)


def _timezone(args: list[exp.Expr], env: ExprEnv) -> Typed:
    from steadystate.sql.scalar import _no_function

    values = [_plan(a, env) for a in args]
    if len(values) != 2:
        raise _no_function("timezone", values)
    return _at_time_zone(values[1], values[0], env)


FUNCTIONS: dict[type, Callable[[Any, ExprEnv], Typed]] = {
    exp.TimestampFromParts: _make_timestamp,
    exp.MakeInterval: _make_interval,
    exp.UnixToTime: _to_timestamp,
    exp.StrToTime: _to_timestamp_format,
    exp.DateBin: _date_bin,
    exp.AtTimeZone: _at_time_zone_node,
}

ANONYMOUS: dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]] = {
    "make_date": _make_date,
    "make_timestamptz": _make_timestamptz,
    "age": _age,
    "timezone": _timezone,
}
