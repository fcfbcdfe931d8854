"""Casts between scalar types and the text forms of datums, with PostgreSQL's rules and messages.

Owns the ``cast_<type>`` functions of the scalar vocabulary.  :data:`CASTS` maps a target
:class:`~steadystate.repr.types.ScalarType` to a function ``datum -> datum`` that dispatches on the Python
type of its (non-NULL) argument.  :func:`to_text` prints any datum as PostgreSQL's output function would
(``true``/``false`` for booleans, the shortest round-trip digits for float8 with PostgreSQL's switch to
exponent form, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` for timestamps).

The date/time types: a timestamptz is an aware datetime in UTC (the only session zone) and prints with ``+00``; a
time is a ``datetime.time``; an interval a ``repr.interval.Interval`` (parsed and printed there).  real values are
floats a 32-bit float holds (``round_float4``), printed with float4's own digits.

Parsing text follows PostgreSQL's input functions: surrounding whitespace is allowed, and bad input raises
:class:`~steadystate.errors.InvalidTextRepresentation` with ``invalid input syntax for type <name>: "<text>"``
(22007 for dates and times, 22008 when a date/time field is out of range, as PostgreSQL).
Float to integer rounds half to even (``rint``), numeric to integer rounds half away from zero, and out-of-range
results raise :class:`~steadystate.errors.NumericValueOutOfRange`.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import uuid as _uuid
import math
import re
from typing import Any, Callable

from steadystate import errors
from steadystate.repr import numeric
from steadystate.expr.mz_timestamp import to_mz_timestamp
from steadystate.repr.interval import USECS_PER_DAY, Interval, format_interval, parse_interval
from steadystate.repr.floattext import float4_text, float8_text, round_float4
from steadystate.repr.bytea import bytea_text, parse_bytea, parse_uuid, uuid_text
from steadystate.repr.jsonb import Jsonb, jsonb_text, parse_jsonb
from steadystate.repr.jsonb import type_name as jsonb_type_name
from steadystate.repr.types import ScalarType

INT2_MIN, INT2_MAX = -(2**15), 2**15 - 1
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1

#: (min, max, out-of-range message) per integer type.
INT_RANGES: dict[ScalarType, tuple[int, int, str]] = {
    ScalarType.INT2: (INT2_MIN, INT2_MAX, "smallint out of range"),
    ScalarType.INT4: (INT4_MIN, INT4_MAX, "integer out of range"),
    ScalarType.INT8: (INT8_MIN, INT8_MAX, "bigint out of range"),
}


def check_int(value: int, typ: ScalarType) -> int:
    low, high, message = INT_RANGES[typ]
    if value < low or value > high:
        raise errors.NumericValueOutOfRange(message)
    return value


_DATETIME_SPELLING = {ScalarType.TIMESTAMP: "timestamp", ScalarType.TIME: "time", ScalarType.DATE: "date",
                      ScalarType.TIMESTAMPTZ: "timestamp with time zone", ScalarType.INTERVAL: "interval"}
#: a date or time whose fields are numbers: when it does not parse, a field is out of range (2024-02-30, 24:00:01)
_NUMERIC_FIELDS = re.compile(r"\s*\d{1,4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?)?"
                             r"([+-]\d{1,2}(:\d{2})?|Z)?\s*$|\s*\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?\s*$")


#: input PostgreSQL accepts for dates and times that has no value here: special values (infinities, the clock's
#: words) and years outside 1..9999 (BC, or five digits) — refused as not supported, never as bad syntax
_UNSUPPORTED_DATETIME = re.compile(r"\s*(?:[+-]?infinity|epoch|now|today|tomorrow|yesterday|allballs)\s*$"
                                   r"|.*\b(?:BC|AD)\s*$|\s*\d{5,}-", re.IGNORECASE)


def _bad_syntax(typ: ScalarType, text: str) -> errors.SteadyError:
    """PostgreSQL's input error: 22P02, or for dates and times 22007 (22008 when a numeric field is out of range);
    0A000 for date/time input PostgreSQL accepts that has no value here (``infinity``, ``epoch``, BC years)."""
    name = _DATETIME_SPELLING.get(typ, typ.pg_name)  # PostgreSQL's spelling in this message
    if typ in _DATETIME_SPELLING and typ is not ScalarType.INTERVAL and _UNSUPPORTED_DATETIME.match(text):
        return errors.FeatureNotSupported(
            f'{name} input "{text.strip()}" is not supported',
            hint="Special values (infinity, epoch, now, today) and years outside 1 to 9999 have no value here; "
                 "write the date and time.")
    if typ in _DATETIME_SPELLING:
        if typ is not ScalarType.INTERVAL and _NUMERIC_FIELDS.match(text):
            return errors.SteadyError(f'date/time field value out of range: "{text}"', sqlstate="22008")
        return errors.SteadyError(f'invalid input syntax for type {name}: "{text}"', sqlstate="22007")
    return errors.InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')


# ---------------------------------------------------------------------------------------------------------
# Text output


def float_to_text(value: float) -> str:
    """float8 as PostgreSQL prints it (repr/floattext.py)."""
    return float8_text(value)


def float4_to_text(value: float) -> str:
    """float4 as PostgreSQL prints it (repr/floattext.py)."""
    return float4_text(value)


FLOAT4_MAX = 3.4028234663852886e38


def to_float4(value: float) -> float:
    """float8 → float4 (``float84``): 22003 when a finite value overflows or a non-zero one underflows to zero."""
    single = round_float4(value)
    if math.isinf(single) and not math.isinf(value):
        raise errors.NumericValueOutOfRange("value out of range: overflow")
    if single == 0.0 and value != 0.0:
        raise errors.NumericValueOutOfRange("value out of range: underflow")
    return single


def timestamp_to_text(value: _dt.datetime) -> str:
    """timestamp as PostgreSQL prints it; a timestamptz (an aware value, in UTC) gets the session zone's ``+00``."""
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += (".%06d" % value.microsecond).rstrip("0")
    return text + "+00" if value.tzinfo is not None else text


def time_to_text(value: _dt.time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += (".%06d" % value.microsecond).rstrip("0")
    return text


def numeric_to_text(value: decimal.Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return format(value.copy_abs() if value.is_zero() else value, "f")  # numeric has no negative zero


_TEXT_BY_PYTYPE: dict[type, Callable[[Any], str]] = {
    bool: lambda v: "true" if v else "false",
    int: str,
    float: float_to_text,
    decimal.Decimal: numeric_to_text,
    str: lambda v: v,
    _dt.date: _dt.date.isoformat,
    _dt.datetime: timestamp_to_text,
    _dt.time: time_to_text,
    Interval: format_interval,
    Jsonb: jsonb_text,
    bytes: bytea_text,
    _uuid.UUID: uuid_text,
}


def to_text(value: Any) -> str | None:
    """Any datum as its PostgreSQL text form (NULL stays ``None``)."""
    if value is None:
        return None
    return _TEXT_BY_PYTYPE[type(value)](value)


# ---------------------------------------------------------------------------------------------------------
# Text input

_INT_RE = re.compile(r"\s*([+-]?\d+)\s*\Z")
_BOOL_WORDS = {"t": True, "true": True, "yes": True, "y": True, "on": True, "1": True,
               "f": False, "false": False, "no": False, "n": False, "off": False, "0": False}
_FLOAT_SPECIAL = {"nan": math.nan, "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
                  "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}
_NUMERIC_RE = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*\Z")


_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def parse_int(text: str, typ: ScalarType) -> int:
    match = _INT_RE.match(text)
    if match is None:
        prefix = _INT_PREFIX.match(text)  # PostgreSQL reads the digits first: too many of them is out of range
        low, high, _ = INT_RANGES[typ]
        if prefix is not None and not low <= int(prefix.group(1)) <= high:
            raise errors.NumericValueOutOfRange(f'value "{text}" is out of range for type {typ.pg_name}')
        raise _bad_syntax(typ, text)
    value = int(match.group(1))
    low, high, _ = INT_RANGES[typ]
    if value < low or value > high:
        raise errors.NumericValueOutOfRange(f'value "{text}" is out of range for type {typ.pg_name}')
    return value


def parse_float(text: str) -> float:
    stripped = text.strip()
    special = _FLOAT_SPECIAL.get(stripped.lower())
    if special is not None:
        return special
    if not _NUMERIC_RE.match(stripped):
        raise _bad_syntax(ScalarType.FLOAT8, text)
    value = float(stripped)
    if math.isinf(value) or (value == 0.0 and float(stripped.lower().split("e")[0] or 0) != 0.0):
        raise errors.NumericValueOutOfRange(f'"{stripped}" is out of range for type double precision')
    return value


def parse_float4(text: str) -> float:
    """``float4in``: like float8's input, and out of range where a 32-bit float cannot hold the value."""
    stripped = text.strip()
    special = _FLOAT_SPECIAL.get(stripped.lower())
    if special is not None:
        return special
    if not _NUMERIC_RE.match(stripped):
        raise _bad_syntax(ScalarType.FLOAT4, text)
    value = float(stripped)
    if value == 0.0 and float(stripped.lower().split("e")[0] or 0) != 0.0:
        value = 5e-324  # underflowed even as a double: out of range below
    single = round_float4(value)
    if math.isinf(single) or (single == 0.0 and value != 0.0):  # the infinity words returned above
        raise errors.NumericValueOutOfRange(f'"{text.strip()}" is out of range for type real')
    return single


def parse_numeric(text: str) -> decimal.Decimal:
    stripped = text.strip()
    if stripped.lower() == "nan":
        return numeric.NAN
    if not _NUMERIC_RE.match(stripped):
        raise _bad_syntax(ScalarType.NUMERIC, text)
    return numeric.normalize(decimal.Decimal(stripped))


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _BOOL_WORDS:
        return _BOOL_WORDS[word]
    # PostgreSQL also accepts unique prefixes of true/false/yes/no/off
    matches = {value for full, value in _BOOL_WORDS.items() if len(full) > 1 and word and full.startswith(word)}
    if len(word) >= 1 and len(matches) == 1 and word not in ("o",):
        return matches.pop()
    raise _bad_syntax(ScalarType.BOOL, text)


def parse_date(text: str) -> _dt.date:
    stripped = text.strip()
    try:
        if len(stripped) > 10:
            return _dt.datetime.fromisoformat(stripped).date()
        return _dt.date.fromisoformat(stripped)
    except ValueError:
        raise _bad_syntax(ScalarType.DATE, text) from None


_ZONE_WORDS = re.compile(r"\s*(?:UTC|GMT|Z)\s*$", re.IGNORECASE)


def parse_timestamptz(text: str) -> _dt.datetime:
    """A timestamptz (an aware datetime in UTC); without a zone the value is in the session's, UTC."""
    stripped = text.strip()
    zoned = _ZONE_WORDS.sub("", stripped)
    try:
        value = _dt.datetime.fromisoformat(zoned)
    except ValueError:
        raise _bad_syntax(ScalarType.TIMESTAMPTZ, text) from None
    return to_timestamptz(value)


def parse_timestamptz_or_local(text: str) -> _dt.datetime:
    """timestamptz input read without a session zone: an aware datetime in UTC when the text names an offset or
    UTC, else the naive wall-clock time (for the caller to place in the session's zone)."""
    stripped = text.strip()
    if _ZONE_WORDS.search(stripped):
        return parse_timestamptz(text)
    try:
        value = _dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise _bad_syntax(ScalarType.TIMESTAMPTZ, text) from None
    return value if value.tzinfo is None else to_timestamptz(value)


def to_timestamptz(value: _dt.datetime) -> _dt.datetime:
    """A timestamptz datum: the same instant in UTC; a naive timestamp is taken in the session's zone, UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc)


def to_timestamp(value: _dt.datetime) -> _dt.datetime:
    """timestamptz → timestamp: the wall time in the session's zone (UTC)."""
    return value.astimezone(_dt.timezone.utc).replace(tzinfo=None) if value.tzinfo is not None else value


def parse_time(text: str) -> _dt.time:
    stripped = text.strip()
    try:
        if "-" in stripped[:10] and (" " in stripped or "T" in stripped):  # a timestamp: its time of day
            return _dt.datetime.fromisoformat(stripped).time()
        return _dt.time.fromisoformat(stripped)
    except ValueError:
        raise _bad_syntax(ScalarType.TIME, text) from None


def _interval_to_time(value: Interval) -> _dt.time:
    micros = value.micros % USECS_PER_DAY
    seconds, fraction = divmod(micros, 1_000_000)
    return _dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, fraction)


def _time_to_interval(value: _dt.time) -> Interval:
    return Interval(0, 0, ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond)


def parse_timestamp(text: str) -> _dt.datetime:
    stripped = text.strip()
    try:
        return _dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise _bad_syntax(ScalarType.TIMESTAMP, text) from None


# ---------------------------------------------------------------------------------------------------------
# Casts, per target type, dispatched on the argument's Python type


def _float_to_int(typ: ScalarType) -> Callable[[float], int]:
    def cast(value: float) -> int:
        if math.isnan(value) or math.isinf(value):
            raise errors.NumericValueOutOfRange(INT_RANGES[typ][2])
        return check_int(round(value), typ)  # round() is half-to-even, like rint()

    return cast


def _numeric_to_int(typ: ScalarType) -> Callable[[decimal.Decimal], int]:
    def cast(value: decimal.Decimal) -> int:
        if not value.is_finite():
            raise errors.NumericValueOutOfRange(INT_RANGES[typ][2])
        return check_int(int(value.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)), typ)

    return cast


def _int_cast(typ: ScalarType) -> dict[type, Callable[[Any], Any]]:
    return {
        bool: int,
        int: lambda v: check_int(v, typ),
        float: _float_to_int(typ),
        decimal.Decimal: _numeric_to_int(typ),
        str: lambda v: parse_int(v, typ),
    }


def _numeric_from_float(value: float) -> decimal.Decimal:
    if math.isnan(value):
        return numeric.NAN
    if math.isinf(value):
        raise errors.FeatureNotSupported("cannot convert infinity to numeric")
    return decimal.Decimal(repr(value))


def _int_to_bool(value: int) -> bool:
    return value != 0


def _float8_from_numeric(value: decimal.Decimal) -> float:
    """numeric has no negative zero (``-0.0`` is 0): its float is ``0.0``, never ``-0``."""
    return 0.0 if value.is_zero() else float(value)


def _float4_from_numeric(value: decimal.Decimal) -> float:
    if value.is_nan():
        return math.nan
    return parse_float4(numeric_to_text(value))


_JSONB_CAST_NAMES = {"number": "numeric"}  # PostgreSQL's JsonbTypeName, which these errors use


def _from_jsonb(target: ScalarType, then: Callable[[Any], Any]) -> Callable[[Jsonb], Any]:
    """jsonb → a number type or boolean: the scalar of that kind, converted (PostgreSQL 15's jsonb_numeric, ...)."""
    wanted = bool if target is ScalarType.BOOL else decimal.Decimal

    def cast(value: Jsonb) -> Any:
        tree = value.value
        if not isinstance(tree, wanted) or (wanted is decimal.Decimal and isinstance(tree, bool)):
            kind = _JSONB_CAST_NAMES.get(jsonb_type_name(tree), jsonb_type_name(tree))
            raise errors.InvalidParameterValue(f"cannot cast jsonb {kind} to type {target.pg_name}")
        return then(tree)

    return cast


_CAST_TABLE: dict[ScalarType, dict[type, Callable[[Any], Any]]] = {
    ScalarType.INT2: _int_cast(ScalarType.INT2),
    ScalarType.FLOAT4: {int: lambda v: round_float4(float(v)), float: to_float4, decimal.Decimal: _float4_from_numeric,
                        str: parse_float4, bool: float},
    ScalarType.INT4: _int_cast(ScalarType.INT4),
    ScalarType.INT8: _int_cast(ScalarType.INT8),
    ScalarType.FLOAT8: {int: float, float: lambda v: v, decimal.Decimal: _float8_from_numeric, str: parse_float,
                        bool: float},
    ScalarType.NUMERIC: {int: decimal.Decimal, float: _numeric_from_float, decimal.Decimal: lambda v: v,
                         str: parse_numeric},
    ScalarType.TEXT: {t: f for t, f in _TEXT_BY_PYTYPE.items()},
    ScalarType.BOOL: {bool: lambda v: v, int: _int_to_bool, str: parse_bool},
    ScalarType.DATE: {_dt.date: lambda v: v, _dt.datetime: _dt.datetime.date, str: parse_date},
    ScalarType.TIMESTAMP: {_dt.datetime: to_timestamp,
                           _dt.date: lambda v: _dt.datetime(v.year, v.month, v.day),
                           str: parse_timestamp},
    ScalarType.TIMESTAMPTZ: {_dt.datetime: to_timestamptz,
                             _dt.date: lambda v: _dt.datetime(v.year, v.month, v.day, tzinfo=_dt.timezone.utc),
                             str: parse_timestamptz},
    ScalarType.TIME: {_dt.time: lambda v: v, _dt.datetime: lambda v: to_timestamp(v).time(), str: parse_time,
                      Interval: _interval_to_time},
    ScalarType.INTERVAL: {Interval: lambda v: v, str: parse_interval, _dt.time: _time_to_interval},
    ScalarType.JSONB: {Jsonb: lambda v: v, str: parse_jsonb},
    ScalarType.UUID: {_uuid.UUID: lambda v: v, str: parse_uuid},
    ScalarType.BYTEA: {bytes: lambda v: v, str: parse_bytea},
    ScalarType.MZ_TIMESTAMP: {t: to_mz_timestamp for t in (int, decimal.Decimal, str, _dt.date, _dt.datetime)},
}
for _target, _then in [(ScalarType.NUMERIC, lambda v: v), (ScalarType.FLOAT8, float),
                       (ScalarType.FLOAT4, _float4_from_numeric), (ScalarType.BOOL, lambda v: v),
                       *[(t, _numeric_to_int(t)) for t in INT_RANGES]]:
    _CAST_TABLE[_target][Jsonb] = _from_jsonb(_target, _then)


def _make_cast(target: ScalarType) -> Callable[[Any], Any]:
    table = _CAST_TABLE[target]

    def cast(value: Any) -> Any:
        if value is None:
            return None
        impl = table.get(type(value))
        if impl is None:
            raise errors.DatatypeMismatch(
                f"cannot cast type {_pg_name_of(value)} to {target.pg_name}"
            )
        return impl(value)

    return cast


def _pg_name_of(value: Any) -> str:
    names = {bool: "boolean", int: "bigint", float: "double precision", decimal.Decimal: "numeric",
             str: "text", _dt.date: "date", _dt.datetime: "timestamp without time zone", _dt.time: "time",
             Interval: "interval", Jsonb: "jsonb", bytes: "bytea", _uuid.UUID: "uuid"}
    return names.get(type(value), type(value).__name__)


#: ``cast_<type>`` implementations, by target type.
#: (expr/arrays.py adds the array types' casts, built over these, when it is imported with expr/functions.py)
CASTS: dict[ScalarType, Callable[[Any], Any]] = {typ: _make_cast(typ) for typ in _CAST_TABLE}
