"""Implementations of the scalar function vocabulary (the names ``CallUnary``/``CallBinary``/``CallVariadic`` use).

The tables here are what ``expr.eval`` compiles against:

* :data:`UNARY_STRICT` / :data:`BINARY_STRICT` — called only with non-NULL arguments (NULL in → NULL out is
  handled by the compiled closure);
* :data:`UNARY_NONSTRICT` / :data:`BINARY_NONSTRICT` — see NULLs (``is_null``, ``nullif``, ...);
* :data:`TYPED_BINARY` / :data:`TYPED_UNARY` — factories ``type -> impl`` for arithmetic, whose overflow check
  depends on the operand type (int4 results outside int4 raise ``integer out of range``, int8 ``bigint out of
  range``, float8 overflow ``value out of range: overflow``);
* :data:`VARIADIC_STRICT` / :data:`VARIADIC_NONSTRICT` — over the argument values.

``and``/``or``/``coalesce``/``If`` are lazy and live in ``expr.eval``.  Integer division truncates toward zero and
modulo takes the dividend's sign (PostgreSQL), unlike Python's floor division.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
import hashlib
import math
import re
from typing import Any, Callable

from steadystate import errors
from steadystate.repr.interval import Interval, add_to_time, add_to_timestamp, between, time_between
from steadystate.repr.interval import divide as interval_divide
from steadystate.repr.interval import scale as interval_scale
from steadystate.expr.casts import INT_RANGES, float4_to_text, round_float4, to_text
from steadystate.repr.types import ScalarType

_ZERO = decimal.Decimal(0)


def _division_by_zero() -> errors.DivisionByZero:
    return errors.DivisionByZero("division by zero")


def _float_overflow() -> errors.NumericValueOutOfRange:
    return errors.NumericValueOutOfRange("value out of range: overflow")


# ---------------------------------------------------------------------------------------------------------
# Arithmetic, per operand type


def _int_div(a: int, b: int) -> int:
    if b == 0:
        raise _division_by_zero()
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int_mod(a: int, b: int) -> int:
    if b == 0:
        raise _division_by_zero()
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _checked_int(op: Callable[[int, int], int], typ: ScalarType) -> Callable[[int, int], int]:
    low, high, message = INT_RANGES[typ]

    def impl(a: int, b: int) -> int:
        value = op(a, b)
        if value < low or value > high:
            raise errors.NumericValueOutOfRange(message)
        return value

    return impl


def _checked_float(op: Callable[[float, float], float]) -> Callable[[float, float], float]:
    def impl(a: float, b: float) -> float:
        try:
            value = op(a, b)
        except OverflowError:
            raise _float_overflow() from None
        if math.isinf(value) and not (math.isinf(a) or math.isinf(b)):
            raise _float_overflow()
        return value

    return impl


def _underflow_checked(op: Callable[[float, float], float], func: str) -> Callable[[float, float], float]:
    """float8 ``*`` and ``/``: a non-zero result that rounds to zero is 22003 "value out of range: underflow"."""

    def impl(a: float, b: float) -> float:
        value = op(a, b)
        if value == 0.0 and a != 0.0 and (b != 0.0 if func == "mul" else not math.isinf(b)):
            raise errors.NumericValueOutOfRange("value out of range: underflow")
        return value

    return impl


def _float_div(a: float, b: float) -> float:
    if b == 0:
        raise _division_by_zero()
    return a / b


def _float_mod(a: float, b: float) -> float:
    if b == 0:
        raise _division_by_zero()
    return math.fmod(a, b)


def _numeric_div(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    if b == 0:
        raise _division_by_zero()
    return a / b


def _numeric_mod(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    if b == 0:
        raise _division_by_zero()
    return a % b


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


def _temporal(op: str) -> Callable[[Any, Any], Any]:
    def impl(a: Any, b: Any) -> Any:
        left = float if type(a) is int and op in ("mul", "div") else type(a)
        right = float if type(b) is int and op in ("mul", "div") else type(b)
        found = _TEMPORAL_IMPLS.get((op, left, right))
        if found is None:
            raise errors.InternalError(f"no {op} for {type(a).__name__} and {type(b).__name__}")
        return found(a, b)

    return impl


def _date_add(a: Any, b: Any) -> Any:
    return _temporal("add")(a, b)


def _date_sub(a: Any, b: Any) -> Any:
    return _temporal("sub")(a, b)


_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _int_div,
    "mod": _int_mod,
}
_FLOAT_OPS: dict[str, Callable[[float, float], float]] = {
    "add": _checked_float(lambda a, b: a + b),
    "sub": _checked_float(lambda a, b: a - b),
    "mul": _underflow_checked(_checked_float(lambda a, b: a * b), "mul"),
    "div": _underflow_checked(_checked_float(_float_div), "div"),
    "mod": _float_mod,
}


def _float4(op: Callable[[float, float], float], func: str) -> Callable[[float, float], float]:
    """float4 arithmetic: the float8 result (exact enough: double rounding through float8 is harmless for + - * /)
    rounded to float4, with PostgreSQL's overflow and underflow checks."""

    def impl(a: float, b: float) -> float:
        value = op(a, b)
        single = round_float4(value)
        if math.isinf(single) and not (math.isinf(a) or math.isinf(b)):
            raise _float_overflow()
        if single == 0.0 and a != 0.0 and ((func == "mul" and b != 0.0) or (func == "div" and not math.isinf(b))):
            raise errors.NumericValueOutOfRange("value out of range: underflow")
        return single

    return impl


_FLOAT4_OPS: dict[str, Callable[[float, float], float]] = {name: _float4(op, name) for name, op in _FLOAT_OPS.items()}
_NUMERIC_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _numeric_div,
    "mod": _numeric_mod,
}
_DATE_OPS: dict[str, Callable[[Any, Any], Any]] = {"add": _date_add, "sub": _date_sub}


def arithmetic(func: str, typ: ScalarType | None) -> Callable[[Any, Any], Any]:
    """The implementation of ``add``/``sub``/``mul``/``div``/``mod`` for operands of type ``typ``.

    ``typ=None`` (unknown) dispatches on the Python type of the values and checks ints against int8's range.
    """
    if typ in (ScalarType.INT2, ScalarType.INT4, ScalarType.INT8):
        return _checked_int(_INT_OPS[func], typ)
    if typ is ScalarType.FLOAT4:
        return _FLOAT4_OPS[func]
    if typ is ScalarType.FLOAT8:
        return _FLOAT_OPS[func]
    if typ is ScalarType.NUMERIC:
        return _NUMERIC_OPS[func]
    if typ in (ScalarType.DATE, ScalarType.TIMESTAMP):
        return _DATE_OPS[func]
    int_impl = _checked_int(_INT_OPS[func], ScalarType.INT8)
    float_impl = _FLOAT_OPS[func]
    numeric_impl = _NUMERIC_OPS[func]
    other_impl = _DATE_OPS.get(func, numeric_impl)

    def dynamic(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return int_impl(a, b)
        if type(a) is float or type(b) is float:
            return float_impl(float(a), float(b))
        if isinstance(a, _dt.date) or isinstance(b, _dt.date):
            return other_impl(a, b)
        return numeric_impl(a, b)

    return dynamic


def _neg(typ: ScalarType | None) -> Callable[[Any], Any]:
    if typ in INT_RANGES:
        low, high, message = INT_RANGES[typ]  # type: ignore[index]

        def neg_int(v: int) -> int:
            if -v > high:
                raise errors.NumericValueOutOfRange(message)
            return -v

        return neg_int
    return lambda v: -v


def _abs(typ: ScalarType | None) -> Callable[[Any], Any]:
    if typ in INT_RANGES:
        low, high, message = INT_RANGES[typ]  # type: ignore[index]

        def abs_int(v: int) -> int:
            if abs(v) > high:
                raise errors.NumericValueOutOfRange(message)
            return abs(v)

        return abs_int
    return abs


TYPED_BINARY: dict[str, Callable[[ScalarType | None], Callable[[Any, Any], Any]]] = {
    name: functools.partial(arithmetic, name) for name in ("add", "sub", "mul", "div", "mod")
}
TYPED_UNARY: dict[str, Callable[[ScalarType | None], Callable[[Any], Any]]] = {"neg": _neg, "abs": _abs}


# ---------------------------------------------------------------------------------------------------------
# Math


def _invalid_argument(message: str, sqlstate: str) -> errors.SteadyError:
    return errors.InvalidParameterValue(message, sqlstate=sqlstate)


def _pow(a: Any, b: Any) -> Any:
    if a == 0 and b < 0:
        raise _invalid_argument("zero raised to a negative power is undefined", "2201F")
    if a < 0 and b != int(b):
        raise _invalid_argument("a negative number raised to a non-integer power yields a complex result", "2201F")
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return decimal.Decimal(a) ** decimal.Decimal(b)
    try:
        value = math.pow(float(a), float(b))
    except OverflowError:
        raise _float_overflow() from None
    return value


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(round(v)) if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return v.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP) if v.is_finite() else v
    return v


def _round_to(v: Any, places: int) -> Any:
    if isinstance(v, float):
        v = decimal.Decimal(repr(v))
    if isinstance(v, int):
        v = decimal.Decimal(v)
    if not v.is_finite():
        return v
    return v.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)


def _floor(v: Any) -> Any:
    if isinstance(v, float):
        return float(math.floor(v)) if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return v.to_integral_value(rounding=decimal.ROUND_FLOOR)
    return v


def _ceil(v: Any) -> Any:
    if isinstance(v, float):
        return float(math.ceil(v)) if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return v.to_integral_value(rounding=decimal.ROUND_CEILING)
    return v


def _sqrt(v: Any) -> Any:
    if v < 0:
        raise _invalid_argument("cannot take square root of a negative number", "2201F")
    if isinstance(v, decimal.Decimal):
        return v.sqrt()
    return math.sqrt(v)


def _exp(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return v.exp()
    try:
        return math.exp(v)
    except OverflowError:
        raise _float_overflow() from None


def _log_check(v: Any) -> None:
    if v == 0:
        raise _invalid_argument("cannot take logarithm of zero", "2201E")
    if v < 0:
        raise _invalid_argument("cannot take logarithm of a negative number", "2201E")


def _ln(v: Any) -> Any:
    _log_check(v)
    return v.ln() if isinstance(v, decimal.Decimal) else math.log(v)


def _log10(v: Any) -> Any:
    _log_check(v)
    return v.log10() if isinstance(v, decimal.Decimal) else math.log10(v)


def _sign(v: Any) -> Any:
    s = (v > 0) - (v < 0)
    return type(v)(s)


# ---------------------------------------------------------------------------------------------------------
# Strings


@functools.lru_cache(maxsize=512)
def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """Translate a SQL LIKE pattern (``%``, ``_``, backslash escape) into a compiled regex."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise errors.SteadyError("LIKE pattern must not end with escape character", sqlstate="22025")
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(parts), flags)


def _like(s: str, pattern: str) -> bool:
    return like_regex(pattern, False).fullmatch(s) is not None


def _ilike(s: str, pattern: str) -> bool:
    return like_regex(pattern, True).fullmatch(s) is not None


@functools.lru_cache(maxsize=256)
def _compiled_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
    except re.error as exc:
        raise errors.SteadyError(f"invalid regular expression: {exc}", sqlstate="2201B") from None


def _regex_match(s: str, pattern: str) -> bool:
    return _compiled_regex(pattern, False).search(s) is not None


def _regex_imatch(s: str, pattern: str) -> bool:
    return _compiled_regex(pattern, True).search(s) is not None


def _left(s: str, n: int) -> str:
    return s[:n] if n >= 0 else s[: max(len(s) + n, 0)]


def _right(s: str, n: int) -> str:
    if n >= 0:
        return s[len(s) - n :] if n else ""
    return s[-n:]


def _repeat(s: str, n: int) -> str:
    return s * n if n > 0 else ""


def _position(sub: str, s: str) -> int:
    return s.find(sub) + 1


def _concat2(a: Any, b: Any) -> str:
    return (a if type(a) is str else to_text(a)) + (b if type(b) is str else to_text(b))  # type: ignore[operator]


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _substr(s: str, start: int, length: int | None = None) -> str:
    first = max(start, 1)
    if length is None:
        return s[first - 1 :]
    if length < 0:
        raise errors.SteadyError("negative substring length not allowed", sqlstate="22011")
    end = start + length
    return s[first - 1 : end - 1] if end > first else ""


def _replace(s: str, old: str, new: str) -> str:
    return s.replace(old, new) if old else s


def _pad(s: str, length: int, fill: str, left: bool) -> str:
    if length <= len(s):
        return s[: max(length, 0)]
    if not fill:
        return s
    need = length - len(s)
    padding = (fill * (need // len(fill) + 1))[:need]
    return padding + s if left else s + padding


def _lpad(s: str, length: int, fill: str = " ") -> str:
    return _pad(s, length, fill, True)


def _rpad(s: str, length: int, fill: str = " ") -> str:
    return _pad(s, length, fill, False)


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


def _extract(field: str, v: Any) -> decimal.Decimal:
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


def _date_part(field: str, v: Any) -> float:
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


def _date_trunc(unit: str, v: Any) -> Any:
    if isinstance(v, Interval):
        return _interval_trunc(_unit(unit), v)
    impl = _TRUNCATIONS.get(_unit(unit))
    if impl is None:
        raise errors.InvalidParameterValue(f'unit "{unit}" not recognized for type timestamp')
    if isinstance(v, _dt.datetime) and v.tzinfo is not None:
        return impl(v.astimezone(_dt.timezone.utc).replace(tzinfo=None)).replace(tzinfo=_dt.timezone.utc)
    return impl(_as_timestamp(v))


# ---------------------------------------------------------------------------------------------------------
# Tables

UNARY_STRICT: dict[str, Callable[[Any], Any]] = {
    "not": lambda v: not v,
    "upper": str.upper,
    "lower": str.lower,
    "length": len,
    "trim": lambda s: s.strip(" "),
    "ltrim": lambda s: s.lstrip(" "),
    "rtrim": lambda s: s.rstrip(" "),
    "round": _round,
    "floor": _floor,
    "ceil": _ceil,
    "sqrt": _sqrt,
    "exp": _exp,
    "ln": _ln,
    "log10": _log10,
    "sign": _sign,
    "md5": _md5,
    "float4_to_text": float4_to_text,
}

UNARY_NONSTRICT: dict[str, Callable[[Any], Any]] = {
    "is_null": lambda v: v is None,
    "is_not_null": lambda v: v is not None,
    "is_true": lambda v: v is True,
    "is_false": lambda v: v is False,
    "is_not_true": lambda v: v is not True,
    "is_not_false": lambda v: v is not False,
}

def _subquery_cardinality(count: Any, _typed_null: Any) -> Any:
    raise errors.SteadyError("more than one row returned by a subquery used as an expression", sqlstate="21000")


BINARY_STRICT: dict[str, Callable[[Any, Any], Any]] = {
    "temporal_add": _temporal("add"),
    "temporal_sub": _temporal("sub"),
    "temporal_mul": _temporal("mul"),
    "temporal_div": _temporal("div"),
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "concat": _concat2,
    "like": _like,
    "not_like": lambda s, p: not _like(s, p),
    "ilike": _ilike,
    "not_ilike": lambda s, p: not _ilike(s, p),
    "regex_match": _regex_match,
    "regex_imatch": _regex_imatch,
    "pow": _pow,
    "round_to": _round_to,
    "position": _position,
    "left": _left,
    "right": _right,
    "repeat": _repeat,
    "date_part": _date_part,
    "extract": _extract,
    "date_trunc": _date_trunc,
}

BINARY_NONSTRICT: dict[str, Callable[[Any, Any], Any]] = {
    "subquery_cardinality": _subquery_cardinality,  # the error row of a scalar subquery with several rows
    "nullif": lambda a, b: None if a is not None and b is not None and a == b else a,
}


def _greatest(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _least(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _in_list(values: list[Any]) -> bool | None:
    needle, candidates = values[0], values[1:]
    if needle is None:
        return None if candidates else False
    saw_null = False
    for candidate in candidates:
        if candidate is None:
            saw_null = True
        elif candidate == needle:
            return True
    return None if saw_null else False


def _between(values: list[Any]) -> bool | None:
    x, low, high = values
    above = None if x is None or low is None else x >= low
    below = None if x is None or high is None else x <= high
    if above is False or below is False:
        return False
    if above is None or below is None:
        return None
    return True


def _concat_all(values: list[Any]) -> str:
    return "".join(v if type(v) is str else to_text(v) for v in values if v is not None)  # type: ignore[misc]


VARIADIC_NONSTRICT: dict[str, Callable[[list[Any]], Any]] = {
    "greatest": _greatest,
    "least": _least,
    "in_list": _in_list,
    "between": _between,
    "concat": _concat_all,
}

VARIADIC_STRICT: dict[str, Callable[..., Any]] = {
    "substr": _substr,
    "replace": _replace,
    "lpad": _lpad,
    "rpad": _rpad,
}

# Functions evaluated lazily by expr.eval (listed so the vocabulary is complete in one place).
LAZY_FUNCTIONS = frozenset({"and", "or", "coalesce"})
