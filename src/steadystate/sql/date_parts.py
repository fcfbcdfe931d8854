"""Planning date/time fields and the clock: ``EXTRACT``, ``date_part``, ``date_trunc``, ``INTERVAL '...'``
literals, ``now()``/``current_timestamp``/``localtimestamp``/``current_date`` and ``mz_now()``.

A timestamptz's fields, truncation and text depend on the zone it is seen in: :func:`in_session_zone` turns it into
the wall-clock timestamp of the session's TimeZone (``sql.session_zone``) before ``EXTRACT``/``date_part`` read a
field or ``date_trunc`` truncates (``date_trunc_in`` truncates there and maps back to an instant, as PostgreSQL).
``now()`` and its relatives are the statement's time folded into the plan, refused where results are maintained;
``mz_now()`` is the logical time (``expr.temporal_filter``).  :data:`FUNCTIONS` and :data:`ANONYMOUS` are merged
into ``sql.scalar``'s tables, which pass each planner ``sql.scalar.plan_expr`` (``sql.function_args.PlanExpr``).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallBinary, CallVariadic, Literal, ScalarExpr
from steadystate.expr.temporal_filter import MZ_NOW
from steadystate.expr import statement_time
from steadystate.expr.temporal import known_unit
from steadystate.repr.timezones import parse_zone
from steadystate.repr.types import ScalarType
from steadystate.sql import session_zone
from steadystate.sql import types as ty
from steadystate.sql.function_args import PlanExpr, no_function
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit, nullable_of

T = ScalarType


def _unit_of(node: exp.Expr) -> str:
    if isinstance(node, exp.Literal):
        return str(node.this).lower()
    return node.name.lower() if node.name else node.sql().lower()


def _temporal(plan_expr: PlanExpr, name: str, node: exp.Expr, env: ExprEnv) -> Typed:
    value = plan_expr(node, env)
    if value.is_untyped:
        return coerce(value, T.TIMESTAMP, env)
    if value.type not in _DATE_PART_TYPES:
        raise no_function(name, [lit("", T.TEXT), value])
    return value


_DATE_PART_TYPES = (T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME, T.INTERVAL)


#: fields of a timestamptz that do not depend on the zone it is seen in, or that show the zone itself
_ZONE_FREE_FIELDS = frozenset({"epoch"})
_ZONE_FIELDS = frozenset({"timezone", "timezone_hour", "timezone_minute"})


def interval_zone(interval: Typed, env: ExprEnv, what: str) -> str | None:
    """The session's zone for adding ``interval`` to a timestamptz (``+``/``-``, generate_series' step): None when
    it is UTC or the interval is a constant without months or days (elapsed time only, the same in every zone);
    anything else is a use of the zone (sql/session_zone.py)."""
    if isinstance(interval.expr, Literal):
        datum = interval.expr.datum()
        if datum is None or (datum.months == 0 and datum.days == 0):
            return None
    return session_zone.zone_for(env.ctx, what)


def in_session_zone(value: Typed, env: ExprEnv, what: str, field: ScalarExpr | None = None) -> Typed:
    """A timestamptz as the wall-clock timestamp in the session's zone (sql/session_zone.py), when that zone is not
    UTC and ``what`` depends on it; ``value`` itself otherwise."""
    if value.is_untyped or value.type is not T.TIMESTAMPTZ:
        return value
    name = str(field.value).lower() if isinstance(field, Literal) and isinstance(field.value, str) else None
    if name in _ZONE_FREE_FIELDS:
        return value
    zone = session_zone.zone_for(env.ctx, what)
    if zone is None:
        return value
    return Typed(CallVariadic("timezone", (Literal(zone, T.TEXT), value.expr)), T.TIMESTAMP, value.nullable)


def _field_zone(value: Typed, field: ScalarExpr, env: ExprEnv, what: str) -> str | None:
    """The session's zone when ``what`` of a timestamptz needs the zone itself, not only the wall-clock time there
    (``timezone``/``timezone_hour``/``timezone_minute``, a field known only per row, or an unknown one, refused
    naming timestamptz); None otherwise."""
    if value.is_untyped or value.type is not T.TIMESTAMPTZ:
        return None
    name = str(field.value).lower() if isinstance(field, Literal) and isinstance(field.value, str) else None
    if name is not None and name not in _ZONE_FIELDS and known_unit(name):
        return None
    return session_zone.zone_for(env.ctx, what)


def _extract(plan_expr: PlanExpr, node: exp.Extract, env: ExprEnv) -> Typed:
    """``EXTRACT(field FROM x)``: numeric, as in PostgreSQL 14 and later."""
    value = _temporal(plan_expr, "extract", node.expression, env)
    field = Literal(_unit_of(node.this), T.TEXT)
    if (zone := _field_zone(value, field, env, "extract")) is not None:
        return Typed(CallVariadic("extract_in", (field, value.expr, Literal(zone, T.TEXT))), T.NUMERIC,
                     value.nullable)
    value = in_session_zone(value, env, "extract", field)
    return Typed(CallBinary("extract", field, value.expr), T.NUMERIC, value.nullable)


def _date_part(plan_expr: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    """``date_part('field', x)``: double precision."""
    if len(args) != 2:
        raise no_function("date_part", [plan_expr(a, env) for a in args])
    field = coerce(plan_expr(args[0], env), T.TEXT, env)
    value = _temporal(plan_expr, "date_part", args[1], env)
    if (zone := _field_zone(value, field.expr, env, "date_part")) is not None:
        return Typed(CallVariadic("date_part_in", (field.expr, value.expr, Literal(zone, T.TEXT))), T.FLOAT8,
                     nullable_of(field, value))
    value = in_session_zone(value, env, "date_part", field.expr)
    return Typed(CallBinary("date_part", field.expr, value.expr), T.FLOAT8, nullable_of(field, value))


def _date_trunc(plan_expr: PlanExpr, node: exp.Expr, env: ExprEnv) -> Typed:
    value = _temporal(plan_expr, "date_trunc", node.this, env)
    if value.type is T.TIME:
        raise no_function("date_trunc", [lit("", T.TEXT), value])
    # a date is taken as a timestamptz, PostgreSQL's preferred date/time type
    typ = value.type if value.type in (T.TIMESTAMPTZ, T.INTERVAL) else T.TIMESTAMPTZ if value.type is T.DATE \
        else T.TIMESTAMP
    value = coerce(value, typ, env)
    unit = Literal(_unit_of(node.args["unit"]), T.TEXT)
    if node.args.get("zone") is not None:  # date_trunc(unit, timestamptz, zone): truncated in that zone
        if typ is not T.TIMESTAMPTZ:
            raise no_function("date_trunc", [lit("", T.TEXT), value, lit("", T.TEXT)])
        zone = coerce(plan_expr(node.args["zone"], env), T.TEXT, env)
        return Typed(CallVariadic("date_trunc_in", (unit, value.expr, zone.expr)), T.TIMESTAMPTZ,
                     value.nullable or zone.nullable)
    local = in_session_zone(value, env, "date_trunc")
    if local is not value and isinstance(local.expr, CallVariadic):  # truncated in the session's zone
        return Typed(CallVariadic("date_trunc_in", (unit, value.expr, local.expr.exprs[0])), T.TIMESTAMPTZ,
                     value.nullable)
    return Typed(CallBinary("date_trunc", unit, value.expr), typ, value.nullable)


def _interval_literal(plan_expr: PlanExpr, node: exp.Interval, env: ExprEnv) -> Typed:
    """``INTERVAL '1 day'`` (sqlglot may split the unit off: ``INTERVAL '-1.5' HOURS``)."""
    text = node.this.name if isinstance(node.this, exp.Literal) else node.this.sql(dialect="postgres")
    unit = node.args.get("unit")
    if unit is not None:
        if not isinstance(unit, exp.Var) or not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", text):
            raise errors.FeatureNotSupported("interval field restrictions (INTERVAL '...' DAY, HOUR TO MINUTE) are "
                                             "not supported", hint="Write the units in the string: INTERVAL '1 day'.")
        text = f"{text} {unit.name}"
    return lit(ty.parse_text(text, T.INTERVAL), T.INTERVAL)


def _now(typ: ScalarType) -> Callable[[PlanExpr, exp.Expr, ExprEnv], Typed]:
    """``now()``/``current_timestamp`` (timestamptz), ``localtimestamp``, ``current_date``: the statement's time,
    folded into the plan; in a column DEFAULT, a placeholder each write binds to its own time
    (expr/statement_time.py).  A view or index would have to change with the clock: refused there."""
    casts = {T.TIMESTAMPTZ: lambda t: t, T.TIMESTAMP: lambda t: t.replace(tzinfo=None), T.DATE: lambda t: t.date()}

    def plan(plan_expr: PlanExpr, node: exp.Expr, env: ExprEnv) -> Typed:
        now = env.ctx.now
        if now is None and env.ctx.statement_time:  # a column DEFAULT: the time of the write that takes it
            return Typed(statement_time.placeholder(typ), typ, False)
        if now is None:
            name = {T.TIMESTAMPTZ: "now", T.TIMESTAMP: "localtimestamp", T.DATE: "current_date"}[typ]
            raise errors.FeatureNotSupported(
                f"{name}() is not supported in views, materialized views, indexes or subscriptions",
                hint="Their results are maintained: a value that changes with the clock would make them wrong.")
        if typ is not T.TIMESTAMPTZ:  # the wall-clock date and time in the session's zone
            now = now.astimezone(parse_zone(session_zone.setting(env.ctx)))
        return lit(casts[typ](now), typ)

    return plan


def plan_mz_now(plan_expr: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    """``mz_now()``: the logical time (``mz_timestamp``), a query's timestamp or, in a temporal filter, each
    moment of a maintained result (``expr.temporal_filter``)."""
    if args:
        raise no_function("mz_now", [plan_expr(a, env) for a in args])
    return Typed(MZ_NOW, T.MZ_TIMESTAMP, False)


FUNCTIONS: dict[type, Callable[[PlanExpr, Any, ExprEnv], Typed]] = {
    exp.Extract: _extract,
    exp.TimestampTrunc: _date_trunc,
    exp.CurrentTimestamp: _now(T.TIMESTAMPTZ),
    exp.Localtimestamp: _now(T.TIMESTAMP),
    exp.CurrentDate: _now(T.DATE),
    exp.Interval: _interval_literal,
}

ANONYMOUS: dict[str, Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]] = {
    "mz_now": plan_mz_now,
    "date_part": _date_part,
}
