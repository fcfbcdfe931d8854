"""Date/time constructors and zone functions, in PostgreSQL's arithmetic: ``make_date``, ``make_time``,
``make_timestamp``/``make_timestamptz``, ``make_interval``, ``to_timestamp(double)``, ``date_bin``, ``age``,
``justify_days``/``justify_hours``/``justify_interval`` (repr/interval.py) and ``AT TIME ZONE`` /
``timezone(zone, value)``.

* Zones are IANA names (``zoneinfo``, matched case-insensitively as PostgreSQL does) and ``UTC``; an unknown name
  is 22023 ``time zone "<name>" not recognized``.  A local time that a zone skips (spring forward) takes the offset
  in force before the transition and an ambiguous one (fall back) the offset after it, PostgreSQL's rule.
* Seconds given as double precision become microseconds with ``rint``, in the order of PostgreSQL's own
  arithmetic, so the digits agree.
* ``age`` is PostgreSQL's field-wise subtraction with borrowing (``timestamp_age``): days borrowed from a month
  are the length of the earlier timestamp's month.
* The ``*_in`` functions are what PostgreSQL computes in the session's TimeZone, with the zone as their last
  argument (sql/session_zone.py plans them): text in and out, ``date_trunc``, ``to_char``, ``age``,
  ``timestamptz ± interval`` (months and days move the wall-clock time there, the rest is elapsed time),
  ``extract``/``date_part`` (``timezone*`` fields: the offset there), a timestamptz's jsonb (ISO 8601 with the
  offset there) and a timestamptz[]'s element texts (``array_to_string``).

:data:`VARIADIC_STRICT` is merged into ``expr.functions``'s table and :data:`RESULT_TYPES` into
``expr.infer.function_type``.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import decimal
import math
from typing import Any, Callable

from steadystate import errors
from steadystate.expr import casts as _casts
from steadystate.expr import temporal as _temporal
from steadystate.repr.arrays import Array, format_array, parse_array
from steadystate.expr.to_char import to_char
from steadystate.repr.jsonb import Jsonb
from steadystate.repr import interval as interval_repr
from steadystate.repr.interval import USECS_PER_DAY, USECS_PER_SEC, Interval, add_months
from steadystate.repr.timezones import fixed_abbreviation, format_in_zone, localize, parse_zone
from steadystate.repr.types import ARRAY_OF, ScalarType

UTC = _dt.timezone.utc
_PG_EPOCH = _dt.datetime(2000, 1, 1)
_UNIX_TO_PG_EPOCH_S = 946_684_800


def _field_error(kind: str, text: str) -> errors.SteadyError:
    return errors.SteadyError(f"{kind} field value out of range: {text}", sqlstate="22008")


def _timestamp_out_of_range() -> errors.SteadyError:
    return errors.SteadyError("timestamp out of range", sqlstate="22008")


# ---------------------------------------------------------------------------------------------------------
# Zones

def zone(name: str) -> _dt.tzinfo:
    """The zone ``name`` names (``repr.timezones.parse_zone``: IANA, case-insensitive; UTC; POSIX offsets)."""
    return parse_zone(name)


def _at_zone(name: str, value: _dt.datetime) -> _dt.datetime:
    tz = zone(name)
    if value.tzinfo is None:  # timestamp AT TIME ZONE z: that wall-clock time in z, as an instant
        return localize(value, tz)
    try:  # timestamptz AT TIME ZONE z: the wall-clock time in z
        return value.astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        raise _timestamp_out_of_range() from None


def timestamptz_text_in(value: _dt.datetime, name: str) -> str:
    """``CAST(timestamptz AS text)`` in a session whose TimeZone is ``name``."""
    return format_in_zone(value, zone(name))


def text_timestamptz_in(text: str, name: str) -> _dt.datetime:
    """``CAST(text AS timestamptz)`` in a session whose TimeZone is ``name``: a value without an offset is a
    wall-clock time there."""
    value = _casts.parse_timestamptz_or_local(text)
    return localize(value, zone(name)) if value.tzinfo is None else value


def text_timestamptz_array_in(text: str, name: str) -> Any:
    """``CAST(text AS timestamptz[])`` in a session whose TimeZone is ``name``: each element as
    :func:`text_timestamptz_in` reads it."""
    return parse_array(text, lambda element: text_timestamptz_in(element, name))


#: date_trunc units below a day: PostgreSQL keeps the value's own offset (no re-localizing: an ambiguous hour
#: stays the one it was)
_KEEPS_OFFSET = frozenset({"microsecond", "millisecond", "second", "minute", "hour"})


def date_trunc_in(unit: str, value: _dt.datetime, name: str) -> _dt.datetime:
    """``date_trunc(unit, timestamptz)`` in a session whose TimeZone is ``name``: truncated as wall-clock time
    there; for a day or longer the result is that midnight's instant there, below a day the value moved back by
    what was cut off (PostgreSQL's ``timestamptz_trunc``)."""
    tz = zone(name)
    local = value.astimezone(tz).replace(tzinfo=None)
    truncated = _temporal.date_trunc(unit, local)
    if _temporal.unit_name(unit) in _KEEPS_OFFSET:
        return value.astimezone(UTC) - (local - truncated)
    return localize(truncated, tz)


def timestamptz_add_in(value: _dt.datetime, interval: Interval, name: str) -> _dt.datetime:
    """``timestamptz + interval`` in a session whose TimeZone is ``name`` (PostgreSQL's
    ``timestamptz_pl_interval``): months, then days, move the wall-clock time there (the month's last day at most;
    each result localized again, so a day across a DST change is 23 or 25 hours), then the time part is added as
    elapsed time."""
    tz = zone(name)
    result = value
    try:
        if interval.months:
            result = localize(add_months(result.astimezone(tz).replace(tzinfo=None), interval.months), tz)
        if interval.days:
            result = localize(result.astimezone(tz).replace(tzinfo=None) + _dt.timedelta(days=interval.days), tz)
        return result + _dt.timedelta(microseconds=interval.micros)
    except OverflowError:
        raise _timestamp_out_of_range() from None


def timestamptz_sub_in(value: _dt.datetime, interval: Interval, name: str) -> _dt.datetime:
    """``timestamptz - interval`` in a session whose TimeZone is ``name``: adding the negated interval."""
    return timestamptz_add_in(value, -interval, name)


def age_in(a: _dt.datetime, b: _dt.datetime, name: str) -> Interval:
    """``age(timestamptz, timestamptz)`` in a session whose TimeZone is ``name``: the field-wise difference of the
    two wall-clock times there (PostgreSQL's ``timestamptz_age``), its sign from the instants."""
    tz = zone(name)
    try:
        local_a, local_b = (v.astimezone(tz).replace(tzinfo=None) for v in (a, b))
    except OverflowError:
        raise _timestamp_out_of_range() from None
    return _field_age(local_a, local_b, a < b)


def to_char_in(value: _dt.datetime, template: str, name: str) -> str:
    """``to_char(timestamptz, text)`` in a session whose TimeZone is ``name`` (``TZ``/``OF`` are the zone's)."""
    return to_char(value, template, zone(name), fixed_abbreviation(name))


def timestamptz_array_text_in(value: Any, name: str) -> str:
    """``CAST(timestamptz[] AS text)`` in a session whose TimeZone is ``name``."""
    tz = zone(name)
    return format_array(value, lambda element: format_in_zone(element, tz))


def timestamptz_array_texts_in(value: Any, name: str) -> Array:
    """A timestamptz[] as the text[] of its elements' text in a session whose TimeZone is ``name`` (what
    ``array_to_string`` joins)."""
    tz = zone(name)
    return Array(None if element is None else format_in_zone(element, tz) for element in value)


#: the element casts of an array cast PostgreSQL computes in the session's zone: (from, to) -> element function
_ZONED_ELEMENT_CASTS: dict[tuple[str, str], Callable[[Any, str], Any]] = {
    ("timestamptz", "text"): lambda v, name: format_in_zone(v, zone(name)),
    ("text", "timestamptz"): text_timestamptz_in,
    ("timestamptz", "timestamp"): lambda v, name: _at_zone(name, v),
    ("timestamptz", "date"): lambda v, name: _at_zone(name, v).date(),
    ("timestamptz", "time"): lambda v, name: _at_zone(name, v).time(),
    ("timestamp", "timestamptz"): lambda v, name: localize(v, zone(name)),
    ("date", "timestamptz"): lambda v, name: localize(_dt.datetime.combine(v, _dt.time()), zone(name)),
}


def array_cast_name(source: str, target: str) -> str | None:
    """The function computing ``CAST(source[] AS target[])`` (element type names) in a zone, given as its last
    argument; None when that cast does not depend on the zone."""
    return f"array_{source}_to_{target}_in" if (source, target) in _ZONED_ELEMENT_CASTS else None


def _array_cast_in(source: str, target: str) -> Callable[[Any, str], Array]:
    cast = _ZONED_ELEMENT_CASTS[(source, target)]

    def array_cast_in(value: Any, name: str) -> Array:
        return Array(None if element is None else cast(element, name) for element in value)

    array_cast_in.__doc__ = f"``CAST({source}[] AS {target}[])`` in a session whose TimeZone is ``name``."
    return array_cast_in


def _json_text(value: _dt.datetime, tz: _dt.tzinfo) -> str:
    """A timestamptz as ``to_jsonb`` shows it in zone ``tz``: ISO 8601 with the offset there (``+05:45``,
    ``-04:56:02``), fractional seconds only when not zero."""
    try:
        local = value.astimezone(tz)
    except OverflowError:
        raise _timestamp_out_of_range() from None
    text = local.replace(tzinfo=None).isoformat(timespec="microseconds").rstrip("0").rstrip(".")
    offset = local.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
    shown = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return text + shown + (f":{seconds % 60:02d}" if seconds % 60 else "")


def timestamptz_jsonb_in(value: _dt.datetime, name: str) -> Jsonb:
    """``to_jsonb(timestamptz)`` in a session whose TimeZone is ``name`` (also an argument of
    ``jsonb_build_*``, ``jsonb_agg``, ``jsonb_object_agg``)."""
    return Jsonb(_json_text(value, zone(name)))


def timestamptz_array_jsonb_in(value: Any, name: str) -> Jsonb:
    """``to_jsonb(timestamptz[])`` in a session whose TimeZone is ``name``."""
    tz = zone(name)
    return Jsonb(tuple(None if element is None else _json_text(element, tz) for element in value))


_ZONE_FIELDS = frozenset({"timezone", "timezone_hour", "timezone_minute"})


def _zone_field(unit: str, local: _dt.datetime) -> int:
    """``timezone`` (seconds east of UTC), ``timezone_hour``/``timezone_minute`` (its parts, signed alike)."""
    offset = local.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    magnitude = abs(seconds)
    sign = -1 if seconds < 0 else 1
    if unit == "timezone":
        return seconds
    return sign * (magnitude // 3600 if unit == "timezone_hour" else magnitude // 60 % 60)


def _in_zone(field: str, value: _dt.datetime, name: str) -> tuple[str, Any]:
    """The unit of ``field`` and what ``extract``/``date_part`` read for it in zone ``name``: the offset there for
    the zone fields, the instant for ``epoch``, else the wall-clock timestamp there."""
    unit = _temporal.unit_name(field)
    try:
        local = value.astimezone(zone(name))
    except OverflowError:
        raise _timestamp_out_of_range() from None
    if unit in _ZONE_FIELDS:
        return unit, _zone_field(unit, local)
    if unit == "epoch":
        return unit, value
    _temporal.extract(field, value)  # an unknown unit is refused naming timestamptz
    return unit, local.replace(tzinfo=None)


def extract_in(field: str, value: _dt.datetime, name: str) -> decimal.Decimal:
    """``EXTRACT(field FROM timestamptz)`` in a session whose TimeZone is ``name``."""
    unit, seen = _in_zone(field, value, name)
    return decimal.Decimal(seen) if unit in _ZONE_FIELDS else _temporal.extract(field, seen)


def date_part_in(field: str, value: _dt.datetime, name: str) -> float:
    """``date_part(field, timestamptz)`` in a session whose TimeZone is ``name``."""
    unit, seen = _in_zone(field, value, name)
    return float(seen) if unit in _ZONE_FIELDS else _temporal.date_part(field, seen)


# ---------------------------------------------------------------------------------------------------------
# Constructors

def make_date(year: int, month: int, day: int) -> _dt.date:
    try:
        if year <= 0:
            raise ValueError
        return _dt.date(year, month, day)
    except (ValueError, OverflowError):
        raise _field_error("date", f"{year}-{month:02d}-{day:02d}") from None


def _time_micros(hour: int, minute: int, second: float) -> int:
    """PostgreSQL's ``time_overflows``: seconds are rounded to microseconds before the range check."""
    micros = round(second * USECS_PER_SEC) if math.isfinite(second) else None
    total = None if micros is None else ((hour * 60 + minute) * 60) * USECS_PER_SEC + micros
    if (hour < 0 or hour > 24 or minute < 0 or minute >= 60 or micros is None or micros < 0
            or micros > 60 * USECS_PER_SEC or total is None or total > USECS_PER_DAY):
        raise _field_error("time", f"{hour}:{minute:02d}:{second:02g}")
    return total


def make_timestamp(year: int, month: int, day: int, hour: int, minute: int, second: float) -> _dt.datetime:
    date = make_date(year, month, day)
    micros = _time_micros(hour, minute, second)
    try:
        return _dt.datetime(date.year, date.month, date.day) + _dt.timedelta(microseconds=micros)
    except OverflowError:
        raise _timestamp_out_of_range() from None


def make_timestamptz(year: int, month: int, day: int, hour: int, minute: int, second: float,
                     zone_name: str = "UTC") -> _dt.datetime:
    return localize(make_timestamp(year, month, day, hour, minute, second), zone(zone_name))


def make_time(hour: int, minute: int, second: float) -> _dt.time:
    """``make_time(int, int, double precision)``; ``24:00:00`` (which PostgreSQL's time holds) is not supported."""
    micros = _time_micros(hour, minute, second)
    if micros == USECS_PER_DAY:
        raise errors.FeatureNotSupported("time 24:00:00 is not supported")
    seconds, fraction = divmod(micros, USECS_PER_SEC)
    return _dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, fraction)


def make_interval(years: int, months: int, weeks: int, days: int, hours: int, mins: int,
                  secs: float) -> Interval:
    if not math.isfinite(secs):
        raise errors.SteadyError("interval out of range", sqlstate="22008")
    micros = hours * 3600 * USECS_PER_SEC + mins * 60 * USECS_PER_SEC + int(round(secs * USECS_PER_SEC))
    return Interval(years * 12 + months, weeks * 7 + days, micros)


def to_timestamp(seconds: float) -> _dt.datetime:
    """``to_timestamp(double precision)``: Unix epoch seconds as timestamptz."""
    if math.isnan(seconds):
        raise errors.SteadyError("timestamp cannot be NaN", sqlstate="22008")
    if math.isinf(seconds):
        raise errors.FeatureNotSupported("infinite timestamps are not supported")
    micros = round((seconds - _UNIX_TO_PG_EPOCH_S) * USECS_PER_SEC)
    try:
        result = _PG_EPOCH + _dt.timedelta(microseconds=micros)
    except OverflowError:
        raise errors.SteadyError(f'timestamp out of range: "{seconds:g}"', sqlstate="22008") from None
    return result.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------------
# date_bin and age

def date_bin(stride: Interval, source: _dt.datetime, origin: _dt.datetime) -> _dt.datetime:
    if stride.months != 0:
        raise errors.FeatureNotSupported("timestamps cannot be binned into intervals containing months or years")
    stride_micros = stride.days * USECS_PER_DAY + stride.micros
    if stride_micros <= 0:
        raise errors.SteadyError("stride must be greater than zero", sqlstate="22008")
    if (source.tzinfo is None) != (origin.tzinfo is None):
        raise errors.InternalError("date_bin over a timestamp and a timestamptz")
    diff = (source - origin) // _dt.timedelta(microseconds=1)
    try:
        return origin + _dt.timedelta(microseconds=(diff // stride_micros) * stride_micros)
    except OverflowError:
        raise _timestamp_out_of_range() from None


def age(a: _dt.datetime | _dt.date, b: _dt.datetime | _dt.date) -> Interval:
    """PostgreSQL's ``timestamp_age``/``timestamptz_age`` (the latter in UTC; :func:`age_in` in another zone)."""
    t1 = a if isinstance(a, _dt.datetime) else _dt.datetime(a.year, a.month, a.day)
    t2 = b if isinstance(b, _dt.datetime) else _dt.datetime(b.year, b.month, b.day)
    if t1.tzinfo is not None:
        t1 = t1.astimezone(UTC).replace(tzinfo=None)
        t2 = t2.astimezone(UTC).replace(tzinfo=None)
    return _field_age(t1, t2, t1 < t2)


def _field_age(t1: _dt.datetime, t2: _dt.datetime, negative: bool) -> Interval:
    """``t1 - t2`` field by field with PostgreSQL's borrowing (``negative``: t1 is the earlier instant)."""
    fields = [t1.microsecond - t2.microsecond, t1.second - t2.second, t1.minute - t2.minute, t1.hour - t2.hour,
              t1.day - t2.day, t1.month - t2.month, t1.year - t2.year]
    if negative:
        fields = [-f for f in fields]
    usec, sec, minute, hour, mday, mon, year = fields
    while usec < 0:
        usec += USECS_PER_SEC
        sec -= 1
    while sec < 0:
        sec += 60
        minute -= 1
    while minute < 0:
        minute += 60
        hour -= 1
    while hour < 0:
        hour += 24
        mday -= 1
    earlier = t1 if negative else t2
    while mday < 0:
        mday += calendar.monthrange(earlier.year, earlier.month)[1]
        mon -= 1
    while mon < 0:
        mon += 12
        year -= 1
    sign = -1 if negative else 1
    micros = ((hour * 60 + minute) * 60 + sec) * USECS_PER_SEC + usec
    return Interval(sign * (year * 12 + mon), sign * mday, sign * micros)


VARIADIC_STRICT: dict[str, Callable[..., Any]] = {
    "make_date": make_date,
    "make_time": make_time,
    "justify_days": interval_repr.justify_days,
    "justify_hours": interval_repr.justify_interval_hours,
    "justify_interval": interval_repr.justify_interval,
    "make_timestamp": make_timestamp,
    "make_timestamptz": make_timestamptz,
    "make_interval": make_interval,
    "to_timestamp": to_timestamp,
    "date_bin": date_bin,
    "age": age,
    "timezone": _at_zone,
    "to_char": to_char,
    "timestamptz_text_in": timestamptz_text_in,
    "text_timestamptz_in": text_timestamptz_in,
    "text_timestamptz_array_in": text_timestamptz_array_in,
    "date_trunc_in": date_trunc_in,
    "timestamptz_array_text_in": timestamptz_array_text_in,
    "timestamptz_add_in": timestamptz_add_in,
    "timestamptz_sub_in": timestamptz_sub_in,
    "age_in": age_in,
    "to_char_in": to_char_in,
    "timestamptz_array_texts_in": timestamptz_array_texts_in,
    "timestamptz_jsonb_in": timestamptz_jsonb_in,
    "timestamptz_array_jsonb_in": timestamptz_array_jsonb_in,
    "extract_in": extract_in,
    "date_part_in": date_part_in,
    **{f"array_{source}_to_{target}_in": _array_cast_in(source, target) for source, target in _ZONED_ELEMENT_CASTS},
}

_RESULT_TYPES: dict[str, ScalarType] = {
    "make_date": ScalarType.DATE,
    "make_time": ScalarType.TIME,
    "justify_days": ScalarType.INTERVAL,
    "justify_hours": ScalarType.INTERVAL,
    "justify_interval": ScalarType.INTERVAL,
    "make_timestamp": ScalarType.TIMESTAMP,
    "make_timestamptz": ScalarType.TIMESTAMPTZ,
    "make_interval": ScalarType.INTERVAL,
    "to_timestamp": ScalarType.TIMESTAMPTZ,
    "age": ScalarType.INTERVAL,
    "to_char": ScalarType.TEXT,
    "timestamptz_text_in": ScalarType.TEXT,
    "text_timestamptz_in": ScalarType.TIMESTAMPTZ,
    "text_timestamptz_array_in": ScalarType.TIMESTAMPTZ_ARRAY,
    "date_trunc_in": ScalarType.TIMESTAMPTZ,
    "timestamptz_array_text_in": ScalarType.TEXT,
    "timestamptz_add_in": ScalarType.TIMESTAMPTZ,
    "timestamptz_sub_in": ScalarType.TIMESTAMPTZ,
    "age_in": ScalarType.INTERVAL,
    "to_char_in": ScalarType.TEXT,
    "timestamptz_array_texts_in": ScalarType.TEXT_ARRAY,
    "timestamptz_jsonb_in": ScalarType.JSONB,
    "timestamptz_array_jsonb_in": ScalarType.JSONB,
    "extract_in": ScalarType.NUMERIC,
    "date_part_in": ScalarType.FLOAT8,
    **{f"array_{source}_to_{target}_in": ARRAY_OF[ScalarType(target)] for source, target in _ZONED_ELEMENT_CASTS},
}


def result_type(func: str, arg_types: list[ScalarType | None]) -> ScalarType | None:
    """The result type of one of these functions (``None`` for any other function)."""
    if func == "date_bin":
        return arg_types[1] if len(arg_types) > 1 else None
    if func == "timezone":
        source = arg_types[1] if len(arg_types) > 1 else None
        return ScalarType.TIMESTAMP if source is ScalarType.TIMESTAMPTZ else ScalarType.TIMESTAMPTZ
    return _RESULT_TYPES.get(func)
