"""Planning the date/time constructors and zone functions (``expr.time_functions`` evaluates them).

PostgreSQL's signatures: ``make_date(int, int, int)``, ``make_time(int, int, double)``, ``justify_days``/``_hours``/
``_interval(interval)``, ``make_timestamp(int, int, int, int, int, double)``,
``make_timestamptz(..., double [, text])``, ``make_interval(years, months, weeks, days, hours, mins => int, secs =>
double)`` with named arguments, ``to_timestamp(double)``, ``to_timestamp(text, text)`` (in the session's zone) and
``to_date(text, text)`` (expr/to_date.py; ``to_number`` is refused), ``date_bin(interval, ts, origin)`` over
timestamp or timestamptz, ``age(ts, ts)`` and ``age(ts)`` (from today's midnight: refused where results are
maintained, as ``now()`` is), ``value AT TIME ZONE zone`` and ``timezone(zone, value)``. sqlglot reads several of
these into its own nodes (``TimestampFromParts``, ``MakeInterval``, ``DateBin``, ``AtTimeZone``); the rest arrive as
anonymous functions (the dialect drops sqlglot's builders of the template functions, which would translate the
template). :data:`FUNCTIONS` and :data:`ANONYMOUS` are merged into ``sql.scalar``'s tables, which pass each planner
``sql.scalar.plan_expr`` (``sql.function_args.PlanExpr``).
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallVariadic
from steadystate.expr.time_functions import localize
from steadystate.repr.timezones import fixed_abbreviation, parse_zone
from steadystate.repr.types import ScalarType
from steadystate.sql import session_zone
from steadystate.sql.function_args import PlanExpr, no_function, signature
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit

T = ScalarType


def _call(func: str, args: list[Typed], result: ScalarType) -> Typed:
    return Typed(CallVariadic(func, tuple(a.expr for a in args)), result, any(a.nullable for a in args))


_INTS = [T.INT4] * 5


def _make_date(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    return _call("make_date", signature("make_date", [plan(a, env) for a in args], [T.INT4] * 3, env), T.DATE)


def _make_timestamp(plan: PlanExpr, node: exp.TimestampFromParts, env: ExprEnv) -> Typed:
    names = ("year", "month", "day", "hour", "min", "sec")
    if any(node.args.get(k) is not None for k in node.args if k not in names):
        raise errors.FeatureNotSupported("this form of make_timestamp is not supported")
    values = [plan(node.args[k], env) for k in names if node.args.get(k) is not None]
    return _call("make_timestamp", signature("make_timestamp", values, _INTS + [T.FLOAT8], env), T.TIMESTAMP)


def _make_timestamptz(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [plan(a, env) for a in args]
    wanted = _INTS + [T.FLOAT8] + ([T.TEXT] if len(values) == 7 else [])
    coerced = signature("make_timestamptz", values, wanted, env)
    if len(coerced) == 6:  # a wall-clock time in the session's zone, as PostgreSQL reads it
        coerced.append(lit(session_zone.zone_for(env.ctx, "make_timestamptz") or "UTC", T.TEXT))
    return _call("make_timestamptz", coerced, T.TIMESTAMPTZ)


_INTERVAL_FIELDS = (("year", T.INT4), ("month", T.INT4), ("week", T.INT4), ("day", T.INT4), ("hour", T.INT4),
                    ("minute", T.INT4), ("second", T.FLOAT8))


def _make_interval(plan: PlanExpr, node: exp.MakeInterval, env: ExprEnv) -> Typed:
    args = []
    for field, typ in _INTERVAL_FIELDS:
        given = node.args.get(field)
        if isinstance(given, exp.Kwarg):
            given = given.expression
        args.append(coerce(plan(given, env), typ, env) if given is not None else lit(0 if typ is T.INT4 else 0.0, typ))
    return _call("make_interval", args, T.INTERVAL)


def _to_timestamp(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [plan(a, env) for a in args]
    if len(values) == 2:  # to_timestamp(text, text): a wall-clock time in the session's zone (expr/to_date.py)
        coerced = signature("to_timestamp", values, [T.TEXT, T.TEXT], env)
        zone = session_zone.zone_for(env.ctx, "to_timestamp") or "UTC"
        return _call("to_timestamp_in", [*coerced, lit(zone, T.TEXT)], T.TIMESTAMPTZ)
    return _call("to_timestamp", signature("to_timestamp", values, [T.FLOAT8], env), T.TIMESTAMPTZ)


def _to_date(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    return _call("to_date", signature("to_date", [plan(a, env) for a in args], [T.TEXT, T.TEXT], env), T.DATE)


def _to_number(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    raise errors.FeatureNotSupported("to_number(text, text) is not supported",
                                     hint="Cast the text to numeric after removing its formatting.")


def _timestamp_kind(values: list[Typed], name: str) -> ScalarType:
    known = {v.type for v in values if not v.is_untyped}
    if not known <= {T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE}:
        raise no_function(name, values)
    return T.TIMESTAMPTZ if T.TIMESTAMPTZ in known or T.DATE in known else T.TIMESTAMP


def _date_bin(plan: PlanExpr, node: exp.DateBin, env: ExprEnv) -> Typed:
    origin = node.args.get("unit") or node.args.get("origin")
    if origin is None or node.args.get("zone") is not None:
        raise errors.FeatureNotSupported("date_bin takes a stride, a timestamp and an origin")
    values = [plan(node.this, env), plan(node.expression, env), plan(origin, env)]
    kind = _timestamp_kind(values[1:], "date_bin")
    return _call("date_bin", signature("date_bin", values, [T.INTERVAL, kind, kind], env), kind)


def _age(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [plan(a, env) for a in args]
    if len(values) == 1:
        now = env.ctx.now
        if now is None:
            raise errors.FeatureNotSupported(
                "age(timestamp) is not supported in views, materialized views, indexes or subscriptions",
                hint="It counts from today's midnight, which changes: use age(a, b).")
        tz = parse_zone(session_zone.setting(env.ctx))  # today's midnight in the session's zone
        midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        values = [lit(midnight, T.TIMESTAMP), values[0]]
        if not values[1].is_untyped and values[1].type is T.TIMESTAMPTZ:
            values[0] = lit(localize(midnight, tz), T.TIMESTAMPTZ)
    kind = _timestamp_kind(values, "age")
    coerced = signature("age", values, [kind, kind], env)
    if kind is T.TIMESTAMPTZ and (zone := session_zone.zone_for(env.ctx, "age")) is not None:
        return _call("age_in", [*coerced, lit(zone, T.TEXT)], T.INTERVAL)  # the fields of the zone's wall clock
    return _call("age", coerced, T.INTERVAL)


def _at_time_zone(value: Typed, zone: Typed, env: ExprEnv) -> Typed:
    if value.is_untyped or value.type is T.DATE:
        value = coerce(value, T.TIMESTAMPTZ, env)
    if value.type not in (T.TIMESTAMP, T.TIMESTAMPTZ):
        raise no_function("timezone", [zone, value])
    zone = coerce(zone, T.TEXT, env)
    result = T.TIMESTAMP if value.type is T.TIMESTAMPTZ else T.TIMESTAMPTZ
    return _call("timezone", [zone, value], result)


def _at_time_zone_node(plan: PlanExpr, node: exp.AtTimeZone, env: ExprEnv) -> Typed:
    return _at_time_zone(plan(node.this, env), plan(node.args["zone"], env), env)


def _timezone(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [plan(a, env) for a in args]
    if len(values) != 2:
        raise no_function("timezone", values)
    return _at_time_zone(values[1], values[0], env)


def _to_char(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [plan(a, env) for a in args]
    if len(values) != 2:
        raise no_function("to_char", values)
    value = values[0]
    if not value.is_untyped and value.type is T.DATE:
        value = coerce(value, T.TIMESTAMPTZ, env)
    if not value.is_untyped and value.type.is_numeric:  # to_char for numbers (expr/to_char_number.py)
        if not values[1].is_untyped and values[1].type is not T.TEXT:
            raise no_function("to_char", values)
        kind = "int4" if value.type is T.INT2 else value.type.value
        typed = [value, coerce(values[1], T.TEXT, env), lit(kind, T.TEXT)]
        return Typed(CallVariadic("to_char_number", tuple(t.expr for t in typed)), T.TEXT,
                     typed[0].nullable or typed[1].nullable)
    if value.is_untyped or value.type not in (T.TIMESTAMP, T.TIMESTAMPTZ):
        if not value.is_untyped and value.type is T.INTERVAL:
            raise errors.FeatureNotSupported(f"to_char({value.type.pg_name}, text) is not supported")
        raise no_function("to_char", values)
    template = coerce(values[1], T.TEXT, env)
    if value.type is T.TIMESTAMPTZ:
        zone = session_zone.zone_for(env.ctx, "to_char")
        if zone is None and fixed_abbreviation(session_zone.setting(env.ctx)) not in (None, "UTC"):
            zone = session_zone.setting(env.ctx)  # UTC by another name (GMT, '<+00>-00'): TZ shows that name
        if zone is not None:
            return _call("to_char_in", [value, template, lit(zone, T.TEXT)], T.TEXT)  # TZ, OF: the zone's
    return _call("to_char", [value, template], T.TEXT)


def _make_time(plan: PlanExpr, node: exp.TimeFromParts, env: ExprEnv) -> Typed:
    names = ("hour", "min", "sec")
    if any(node.args.get(k) is not None for k in node.args if k not in names):
        raise errors.FeatureNotSupported("this form of make_time is not supported")
    values = [plan(node.args[k], env) for k in names if node.args.get(k) is not None]
    return _call("make_time", signature("make_time", values, [T.INT4, T.INT4, T.FLOAT8], env), T.TIME)


def _justify(func: str) -> Callable[[PlanExpr, Any, ExprEnv], Typed]:
    def plan_call(plan: PlanExpr, node: exp.Expr, env: ExprEnv) -> Typed:
        return _call(func, signature(func, [plan(node.this, env)], [T.INTERVAL], env), T.INTERVAL)

    return plan_call


FUNCTIONS: dict[type, Callable[[PlanExpr, Any, ExprEnv], Typed]] = {
    exp.TimestampFromParts: _make_timestamp,
    exp.TimeFromParts: _make_time,
    exp.JustifyDays: _justify("justify_days"),
    exp.JustifyHours: _justify("justify_hours"),
    exp.JustifyInterval: _justify("justify_interval"),
    exp.MakeInterval: _make_interval,
    exp.DateBin: _date_bin,
    exp.AtTimeZone: _at_time_zone_node,
}

ANONYMOUS: dict[str, Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]] = {
    "make_date": _make_date,
    "make_timestamptz": _make_timestamptz,
    "age": _age,
    "timezone": _timezone,
    "to_char": _to_char,
    "to_timestamp": _to_timestamp,
    "to_date": _to_date,
    "to_number": _to_number,
}
