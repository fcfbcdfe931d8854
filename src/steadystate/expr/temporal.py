"""Date and time functions of the scalar vocabulary: the date/time operators, ``extract``/``date_part``, ``date_trunc``.

* :func:`temporal` gives ``temporal_add``/``_sub``/``_mul``/``_div``: the implementations of PostgreSQL's date/time
  operators (``expr.infer.TEMPORAL_OPERATORS`` types them; the planner resolves them), dispatched on the Python
  types of the values (``date + int``, ``timestamp + interval``, ``timestamp - timestamp``, ``interval * float``...);
* :func:`extract` is numeric and exact (seconds and epochs with six decimals, milliseconds with three), as in
  PostgreSQL 14+; :func:`date_part` is double precision, computed in PostgreSQL's floating-point arithmetic so its
  digits are PostgreSQL's; both accept date, time, timestamp, timestamptz (UTC) and interval, with PostgreSQL's
  errors for a unit a type does not have;
* :func:`date_trunc` truncates timestamps (a timestamptz in UTC, the session's zone) and intervals (PostgreSQL's
  cascade of fields).
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any, Callable

from steadystate import errors
from steadystate.repr.interval import Interval, add_to_time, add_to_timestamp, between, time_between
from steadystate.repr.interval import divide as interval_divide
from steadystate.repr.interval import scale as interval_scale

# ---------------------------------------------------------------------------------------------------------
# Operators

def _date_out_of_range() -> errors.SteadyError:
    return errors.SteadyError("date out of range", sqlstate="22008")


def _date_plus_days(a: _dt.date, days: int) -> _dt.date:
    try:
        return a + _dt.timedelta(days=days)
    except OverflowError:
        raise _date_out_of_range() from None


def _midnight(a: _dt.date) -> _dt.datetime:
    return _dt.datetime(a.year, a.month, a.day)


_Date, _Datetime, _Time = _dt.date, _dt.datetime, _dt.time

#: (operator, type of the left value, type of the right value) → implementation, for TEMPORAL_OPERATORS
_TEMPORAL_IMPLS: dict[tuple[str, type, type], Callable[[Any, Any], Any]] = {
    ("add", _Date, int): _date_plus_days,
    ("add", int, _Date): lambda a, b: _date_plus_days(b, a),
    ("sub", _Date, int): lambda a, b: _date_plus_days(a, -b),
    ("sub", _Date, _Date): lambda a, b: (a - b).days,
    ("add", _Date, Interval): lambda a, b: add_to_timestamp(_midnight(a), b),
    ("add", Interval, _Date): lambda a, b: add_to_timestamp(_midnight(b), a),
    ("sub", _Date, Interval): lambda a, b: add_to_timestamp(_midnight(a), -b),
    ("add", _Date, _Time): _dt.datetime.combine,
    ("add", _Time, _Date): lambda a, b: _dt.datetime.combine(b, a),
    ("add", _Datetime, Interval): add_to_timestamp,
    ("add", Interval, _Datetime): lambda a, b: add_to_timestamp(b, a),
    ("sub", _Datetime, Interval): lambda a, b: add_to_timestamp(a, -b),
    ("sub", _Datetime, _Datetime): between,
    ("add", _Time, Interval): add_to_time,
    ("add", Interval, _Time): lambda a, b: add_to_time(b, a),
    ("sub", _Time, Interval): lambda a, b: add_to_time(a, -b),
    ("sub", _Time, _Time): time_between,
    ("add", Interval, Interval): lambda a, b: a + b,
    ("sub", Interval, Interval): lambda a, b: a - b,
    ("mul", Interval, float): interval_scale,
    ("mul", float, Interval): lambda a, b: interval_scale(b, a),
    ("div", Interval, float): interval_divide,
}


def temporal(op: str) -> Callable[[Any, Any], Any]:
    def impl(a: Any, b: Any) -> Any:
        left = float if type(a) is int and op in ("mul", "div") else type(a)
        right = float if type(b) is int and op in ("mul", "div") else type(b)
        found = _TEMPORAL_IMPLS.get((op, left, right))
        if found is None:
            raise errors.InternalError(f"no {op} for {type(a).__name__} and {type(b).__name__}")
        return found(a, b)

    return impl


def date_add(a: Any, b: Any) -> Any:
    return temporal("add")(a, b)


def date_sub(a: Any, b: Any) -> Any:
    return temporal("sub")(a, b)


# ---------------------------------------------------------------------------------------------------------
# Dates


def _as_timestamp(v: Any) -> _dt.datetime:
    if isinstance(v, _dt.datetime):
        return v.astimezone(_dt.timezone.utc).replace(tzinfo=None) if v.tzinfo is not None else v
    return _dt.datetime(v.year, v.month, v.day)


def _epoch(ts: _dt.datetime) -> float:
    return (ts - _dt.datetime(1970, 1, 1)).total_seconds()


_DATE_PARTS: dict[str, Callable[[_dt.datetime], float]] = {
    "year": lambda t: t.year,
    "month": lambda t: t.month,
    "day": lambda t: t.day,
    "hour": lambda t: t.hour,
    "minute": lambda t: t.minute,
    "second": lambda t: t.second + t.microsecond / 1e6,
    "millisecond": lambda t: t.second * 1000 + t.microsecond / 1000,
    "microsecond": lambda t: t.second * 1_000_000 + t.microsecond,
    "dow": lambda t: (t.weekday() + 1) % 7,
    "isodow": lambda t: t.isoweekday(),
    "doy": lambda t: t.timetuple().tm_yday,
    "week": lambda t: t.isocalendar()[1],
    "isoyear": lambda t: t.isocalendar()[0],
    "quarter": lambda t: (t.month - 1) // 3 + 1,
    "decade": lambda t: t.year // 10,
    "century": lambda t: (t.year + 99) // 100,
    "millennium": lambda t: (t.year + 999) // 1000,
    "epoch": _epoch,
}
_DATE_PART_ALIASES = {"years": "year", "months": "month", "days": "day", "hours": "hour", "minutes": "minute",
                      "seconds": "second", "milliseconds": "millisecond", "microseconds": "microsecond",
                      "weeks": "week", "y": "year", "d": "day", "h": "hour", "m": "minute", "s": "second"}


def _unit(field: str) -> str:
    unit = field.strip().lower()
    return _DATE_PART_ALIASES.get(unit, unit)


unit_name = _unit  # a field or unit as its canonical name ('hours' -> 'hour')


def _c_div(a: int, b: int) -> int:
    """C's integer division (truncates toward zero), which PostgreSQL's interval arithmetic uses."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _micros_numeric(micros: int, places: int) -> decimal.Decimal:
    """``micros`` microseconds as a numeric of seconds (places=6) or milliseconds (places=3), exactly."""
    return decimal.Decimal(micros).scaleb(-places)


def _interval_fields(v: Interval) -> dict[str, Any]:
    year, month = _c_div(v.months, 12), v.months - _c_div(v.months, 12) * 12
    micros = v.micros
    in_minute = micros - _c_div(micros, 60_000_000) * 60_000_000
    # epoch: PostgreSQL's 365.25-day years and 30-day months, in integers (times 4, then divided back)
    seconds_of_days = (1461 * year + 120 * month + 4 * v.days) * 21_600
    return {
        "year": year, "month": month, "day": v.days,
        "hour": _c_div(micros, 3_600_000_000),
        "minute": _c_div(micros, 60_000_000) - _c_div(micros, 3_600_000_000) * 60,
        "second": _micros_numeric(in_minute, 6), "millisecond": _micros_numeric(in_minute, 3),
        "microsecond": in_minute,
        "quarter": _c_div(month, 3) + 1, "decade": _c_div(year, 10), "century": _c_div(year, 100),
        "millennium": _c_div(year, 1000),
        "epoch": _micros_numeric(seconds_of_days * 1_000_000 + micros, 6),
    }


def _time_fields(v: _dt.time) -> dict[str, Any]:
    in_minute = v.second * 1_000_000 + v.microsecond
    return {"hour": v.hour, "minute": v.minute, "second": _micros_numeric(in_minute, 6),
            "millisecond": _micros_numeric(in_minute, 3), "microsecond": in_minute,
            "epoch": _micros_numeric(((v.hour * 60 + v.minute) * 60) * 1_000_000 + in_minute, 6)}


_DATE_FIELDS = ("year", "month", "day", "dow", "isodow", "doy", "week", "isoyear", "quarter", "decade", "century",
                "millennium")
_EPOCH_1970 = _dt.datetime(1970, 1, 1)


def _timestamp_fields(t: _dt.datetime, unit: str) -> Any:
    if unit in _DATE_FIELDS:
        return _DATE_PARTS[unit](t)
    in_minute = t.second * 1_000_000 + t.microsecond
    if unit == "hour":
        return t.hour
    if unit == "minute":
        return t.minute
    if unit == "second":
        return _micros_numeric(in_minute, 6)
    if unit == "millisecond":
        return _micros_numeric(in_minute, 3)
    if unit == "microsecond":
        return in_minute
    if unit == "epoch":
        delta = t - _EPOCH_1970
        return _micros_numeric((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds, 6)
    raise KeyError(unit)


_KNOWN_UNITS = frozenset(_DATE_FIELDS) | {"hour", "minute", "second", "millisecond", "microsecond", "epoch",
                                          "timezone", "timezone_hour", "timezone_minute", "julian"}


def known_unit(field: str) -> bool:
    """Whether ``field`` names a unit ``extract``/``date_part`` knows (for some type)."""
    return _unit(field) in _KNOWN_UNITS


def _extract_value(field: str, v: Any, type_name: str) -> Any:
    unit = _unit(field)
    if unit not in _KNOWN_UNITS:
        raise errors.InvalidParameterValue(f'unit "{field}" not recognized for type {type_name}')
    try:
        if isinstance(v, Interval):
            return _interval_fields(v)[unit]
        if isinstance(v, _dt.time):
            return _time_fields(v)[unit]
        if isinstance(v, _dt.datetime):
            if v.tzinfo is not None and unit in ("timezone", "timezone_hour", "timezone_minute"):
                return 0  # the session's zone is UTC
            return _timestamp_fields(_as_timestamp(v), unit)
        if unit == "epoch":
            return (v - _EPOCH_1970.date()).days * 86_400
        if unit == "julian":
            return v.toordinal() + 1_721_425
        if unit in _DATE_FIELDS:
            return _DATE_PARTS[unit](_as_timestamp(v))
    except KeyError:
        pass
    raise errors.FeatureNotSupported(f'unit "{field}" not supported for type {type_name}')


def _type_name(v: Any) -> str:
    if isinstance(v, Interval):
        return "interval"
    if isinstance(v, _dt.time):
        return "time without time zone"
    if isinstance(v, _dt.datetime):
        return "timestamp with time zone" if v.tzinfo is not None else "timestamp without time zone"
    return "date"


def extract(field: str, v: Any) -> decimal.Decimal:
    """``EXTRACT``: numeric; seconds and epochs with six decimals, milliseconds with three, the rest whole."""
    value = _extract_value(field, v, _type_name(v))
    return value if isinstance(value, decimal.Decimal) else decimal.Decimal(int(value))


def _seconds_parts(seconds: int, fraction: int, unit: str) -> float | None:
    """date_part's sub-minute fields, in PostgreSQL's floating-point arithmetic (its digits, not exact ones)."""
    if unit == "second":
        return seconds + fraction / 1_000_000.0
    if unit == "millisecond":
        return seconds * 1000.0 + fraction / 1000.0
    if unit == "microsecond":
        return seconds * 1_000_000.0 + fraction
    return None


def date_part(field: str, v: Any) -> float:
    """``date_part``: double precision, computed as PostgreSQL computes it (a date is taken as its midnight)."""
    if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
        v = _dt.datetime(v.year, v.month, v.day)
    unit = _unit(field)
    value = _extract_value(field, v, _type_name(v))  # validates the unit for the type
    if isinstance(v, Interval):
        in_minute = v.micros - _c_div(v.micros, 60_000_000) * 60_000_000
        parts = _seconds_parts(_c_div(in_minute, 1_000_000), in_minute - _c_div(in_minute, 1_000_000) * 1_000_000,
                               unit)
        if unit == "epoch":
            year, month = _c_div(v.months, 12), v.months - _c_div(v.months, 12) * 12
            return (v.micros / 1_000_000.0 + 365.25 * 86400 * year + 30.0 * 86400 * month + 86400.0 * v.days)
        return float(value) if parts is None else parts
    if isinstance(v, (_dt.time, _dt.datetime)):
        parts = _seconds_parts(v.second, v.microsecond, unit)
        if parts is not None:
            return parts
        if unit == "epoch":
            if isinstance(v, _dt.time):
                micros = ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
            else:
                delta = _as_timestamp(v) - _EPOCH_1970
                micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            return micros / 1_000_000.0
    return float(value)


_TRUNCATIONS: dict[str, Callable[[_dt.datetime], _dt.datetime]] = {
    "microsecond": lambda t: t,
    "millisecond": lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000),
    "second": lambda t: t.replace(microsecond=0),
    "minute": lambda t: t.replace(second=0, microsecond=0),
    "hour": lambda t: t.replace(minute=0, second=0, microsecond=0),
    "day": lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0),
    "week": lambda t: (t - _dt.timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0),
    "month": lambda t: _dt.datetime(t.year, t.month, 1),
    "quarter": lambda t: _dt.datetime(t.year, (t.month - 1) // 3 * 3 + 1, 1),
    "year": lambda t: _dt.datetime(t.year, 1, 1),
    "decade": lambda t: _dt.datetime(t.year // 10 * 10 or 1, 1, 1),
    "century": lambda t: _dt.datetime((t.year - 1) // 100 * 100 + 1, 1, 1),
    "millennium": lambda t: _dt.datetime((t.year - 1) // 1000 * 1000 + 1, 1, 1),
}


_INTERVAL_TRUNC_ORDER = ("millennium", "century", "decade", "year", "quarter", "month", "day", "hour", "minute",
                         "second")


def _interval_trunc(unit: str, v: Interval) -> Interval:
    """``date_trunc`` of an interval: PostgreSQL's cascade, each unit zeroing everything below it."""
    year, month = _c_div(v.months, 12), v.months - _c_div(v.months, 12) * 12
    days, micros = v.days, v.micros
    hour = _c_div(micros, 3_600_000_000)
    minute = _c_div(micros, 60_000_000) - hour * 60
    second = _c_div(micros, 1_000_000) - _c_div(micros, 60_000_000) * 60
    fraction = micros - _c_div(micros, 1_000_000) * 1_000_000
    if unit == "millisecond":
        fraction = _c_div(fraction, 1000) * 1000
    elif unit != "microsecond":
        if unit not in _INTERVAL_TRUNC_ORDER:
            raise errors.InvalidParameterValue(f'unit "{unit}" not supported for type interval', sqlstate="0A000")
        start = _INTERVAL_TRUNC_ORDER.index(unit)
        for step in _INTERVAL_TRUNC_ORDER[start:]:
            if step == "millennium":
                year = _c_div(year, 1000) * 1000
            elif step == "century":
                year = _c_div(year, 100) * 100
            elif step == "decade":
                year = _c_div(year, 10) * 10
            elif step == "year":
                month = 0
            elif step == "quarter":
                month = 3 * _c_div(month, 3)
            elif step == "month":
                days = 0
            elif step == "day":
                hour = 0
            elif step == "hour":
                minute = 0
            elif step == "minute":
                second = 0
            elif step == "second":
                fraction = 0
    return Interval(year * 12 + month, days, ((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction)


def date_trunc(unit: str, v: Any) -> Any:
    if isinstance(v, Interval):
        return _interval_trunc(_unit(unit), v)
    impl = _TRUNCATIONS.get(_unit(unit))
    if impl is None:
        raise errors.InvalidParameterValue(f'unit "{unit}" not recognized for type timestamp')
    if isinstance(v, _dt.datetime) and v.tzinfo is not None:
        return impl(v.astimezone(_dt.timezone.utc).replace(tzinfo=None)).replace(tzinfo=_dt.timezone.utc)
    return impl(_as_timestamp(v))


__all__ = ["date_add", "date_part", "date_sub", "date_trunc", "extract", "known_unit", "temporal"]
