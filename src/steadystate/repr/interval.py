"""The ``interval`` datum: PostgreSQL's three fields (months, days, microseconds), its text forms and its arithmetic.

An :class:`Interval` keeps months, days and microseconds apart, as PostgreSQL does (``1 mon`` is not ``30 days``
when added to a date), but compares, hashes and sorts by its span with 30-day months and 24-hour days, as
PostgreSQL's ``interval_cmp`` does: ``'1 mon' = '30 days'`` holds and the two group together.

* :func:`parse_interval` reads PostgreSQL's input forms: ``1 year 2 mons 3 days 04:05:06.5``, unit words with
  signs and fractions (``1.5 days`` spills into hours, ``1.5 months`` into days), abbreviations (``3h``, ``2 mins``),
  ``@ ... ago``, a bare number (seconds) and ISO 8601 (``P1Y2M3DT4H5M6S``);
* :func:`format_interval` writes ``IntervalStyle = postgres`` (``1 year 2 mons -3 days +04:05:06.5``);
* :func:`add_to_timestamp` is ``timestamp + interval`` (months first, clamped to the month's end, then days, then
  time), :func:`between` is ``timestamp - timestamp`` (days and time, justified to 24-hour days), :func:`scale`
  is ``interval * float`` with PostgreSQL's spilling of fractional months and days; :func:`justify_days`,
  :func:`justify_interval_hours` and :func:`justify_interval` are PostgreSQL's ``justify_*``.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import math
import re
from typing import Any

from steadystate import errors

USECS_PER_SEC = 1_000_000
USECS_PER_DAY = 86_400 * USECS_PER_SEC
DAYS_PER_MONTH = 30


@functools.total_ordering
class Interval:
    """months, days, microseconds; equal when their spans (30-day months, 24-hour days) are."""

    __slots__ = ("months", "days", "micros")

    def __init__(self, months: int = 0, days: int = 0, micros: int = 0) -> None:
        self.months = months
        self.days = days
        self.micros = micros

    def span(self) -> int:
        return (self.months * DAYS_PER_MONTH + self.days) * USECS_PER_DAY + self.micros

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and self.span() == other.span()

    def __lt__(self, other: "Interval") -> bool:
        return self.span() < other.span()

    def __hash__(self) -> int:
        return hash(("interval", self.span()))

    def __neg__(self) -> "Interval":
        return Interval(-self.months, -self.days, -self.micros)

    def __add__(self, other: "Interval") -> "Interval":
        return Interval(self.months + other.months, self.days + other.days, self.micros + other.micros)

    def __sub__(self, other: "Interval") -> "Interval":
        return self + -other

    def __radd__(self, other: object) -> "Interval":
        if other == 0:  # sum() and running totals start from 0
            return self
        return NotImplemented

    def __mul__(self, count: int) -> "Interval":
        """Times a whole number (a multiplicity, in sums): every field exactly."""
        return Interval(self.months * count, self.days * count, self.micros * count)

    def __repr__(self) -> str:
        return f"Interval({self.months}, {self.days}, {self.micros})"

    def canonical(self) -> str:
        """``months:days:micros``, the exact form plan literals and the storage codec carry."""
        return f"{self.months}:{self.days}:{self.micros}"

    @classmethod
    def from_canonical(cls, text: str) -> "Interval":
        months, days, micros = text.split(":")
        return cls(int(months), int(days), int(micros))


# ---------------------------------------------------------------------------------------------------------
# Text output (IntervalStyle postgres)


def _trunc_div(a: int, b: int) -> tuple[int, int]:
    """C's division: quotient truncated toward zero, remainder with the dividend's sign."""
    q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    return q, a - q * b


def format_interval(value: Interval) -> str:
    parts: list[str] = []
    is_before = False
    year, month = _trunc_div(value.months, 12)
    for amount, unit in ((year, "year"), (month, "mon"), (value.days, "day")):
        if amount == 0:
            continue
        parts.append(f"{'+' if is_before and amount > 0 else ''}{amount} {unit}{'' if amount == 1 else 's'}")
        is_before = amount < 0
    micros = value.micros
    if not parts or micros != 0:
        sign = "-" if micros < 0 else "+" if is_before else ""
        hours, rest = divmod(abs(micros), 3600 * USECS_PER_SEC)
        minutes, rest = divmod(rest, 60 * USECS_PER_SEC)
        seconds, fraction = divmod(rest, USECS_PER_SEC)
        text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        if fraction:
            text += f".{fraction:06d}".rstrip("0")
        parts.append(text)
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Text input

#: unit word → (months, days, microseconds) per one unit
_UNITS: dict[str, tuple[float, float, float]] = {}
_FIELDS: dict[tuple[float, float, float], str] = {}
for _names, _amount in (
    (("microsecond", "microseconds", "us", "usec", "usecs", "microsecon"), (0, 0, 1)),
    (("millisecond", "milliseconds", "ms", "msec", "msecs", "millisecon"), (0, 0, 1_000)),
    (("second", "seconds", "s", "sec", "secs"), (0, 0, USECS_PER_SEC)),
    (("minute", "minutes", "m", "min", "mins"), (0, 0, 60 * USECS_PER_SEC)),
    (("hour", "hours", "h", "hr", "hrs"), (0, 0, 3600 * USECS_PER_SEC)),
    (("day", "days", "d"), (0, 1, 0)),
    (("week", "weeks", "w"), (0, 7, 0)),
    (("month", "months", "mon", "mons"), (1, 0, 0)),
    (("year", "years", "y", "yr", "yrs"), (12, 0, 0)),
    (("decade", "decades", "dec", "decs"), (120, 0, 0)),
    (("century", "centuries", "c", "cent"), (1200, 0, 0)),
    (("millennium", "millennia", "mil", "mils", "millenniums"), (12000, 0, 0)),
):
    for _name in _names:
        _UNITS[_name] = _amount
    _FIELDS[_amount] = _names[0]

_TOKEN = re.compile(r"\s*(?:(?P<clock>[+-]?\d+:\d+(?::\d+(?:\.\d*)?)?)|(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))\s*"
                    r"(?P<unit>[a-z]+)?|(?P<word>@|ago))", re.IGNORECASE)
_ISO = re.compile(r"P(?:(?P<Y>[-\d.]+)Y)?(?:(?P<M>[-\d.]+)M)?(?:(?P<W>[-\d.]+)W)?(?:(?P<D>[-\d.]+)D)?"
                  r"(?:T(?:(?P<H>[-\d.]+)H)?(?:(?P<MI>[-\d.]+)M)?(?:(?P<S>[-\d.]+)S)?)?$", re.IGNORECASE)


def _bad(text: str) -> errors.SteadyError:
    return errors.SteadyError(f'invalid input syntax for type interval: "{text}"', sqlstate="22007")



class _Accumulator:
    """Adds ``number`` units as PostgreSQL's ``DecodeInterval`` does: the whole part to the unit's field, the
    fraction (read from the text, so 1.2 is 1 and .2) spilled down — years into whole months (rounded), months and
    weeks into days and then microseconds, days and smaller units into microseconds (rounded only past a half)."""

    def __init__(self) -> None:
        self.months = 0
        self.days = 0
        self.micros = 0

    def _fraction_micros(self, fraction: float, scale: float) -> None:
        value = fraction * scale
        whole = math.trunc(value)
        rest = value - whole
        self.micros += whole + (1 if rest > 0.5 else -1 if rest < -0.5 else 0)

    def _fraction_days(self, fraction: float, scale: int) -> None:
        if fraction == 0:
            return
        value = fraction * scale
        extra = math.trunc(value)
        self.days += extra
        self._fraction_micros(value - extra, USECS_PER_DAY)

    def add(self, number: str, unit: tuple[float, float, float]) -> None:
        negative = number.startswith("-")
        digits = number.lstrip("+-")
        whole_text, _, fraction_text = digits.partition(".")
        whole = int(whole_text or "0") * (-1 if negative else 1)
        fraction = float("0." + fraction_text) * (-1 if negative else 1) if fraction_text else 0.0
        months, days, micros = (int(x) for x in unit)
        if months >= 12:
            self.months += whole * months + round(fraction * months)
        elif months:
            self.months += whole
            self._fraction_days(fraction, DAYS_PER_MONTH)
        elif days:
            self.days += whole * days
            if days == 7:
                self._fraction_days(fraction, 7)
            else:
                self._fraction_micros(fraction, USECS_PER_DAY)
        else:
            self.micros += whole * micros
            self._fraction_micros(fraction, micros)

    def result(self, negate: bool = False) -> Interval:
        value = Interval(self.months, self.days, self.micros)
        return -value if negate else value


def _clock(text: str) -> int:
    """``[-]h:mm[:ss[.ffffff]]`` in microseconds, exactly (hours may be large; no float on the way)."""
    sign = -1 if text.startswith("-") else 1
    parts = text.lstrip("+-").split(":")
    hours, minutes = int(parts[0]), int(parts[1])
    whole, _, fraction = (parts[2] if len(parts) > 2 else "0").partition(".")
    seconds = int(whole)
    if minutes > 59 or seconds > 59:
        raise ValueError(text)
    digits = (fraction + "000000")[:6]
    micros = int(digits) + (1 if len(fraction) > 6 and fraction[6] >= "5" else 0)
    return sign * (((hours * 60 + minutes) * 60 + seconds) * USECS_PER_SEC + micros)


def parse_interval(text: str) -> Interval:
    stripped = text.strip()
    if not stripped:
        raise _bad(text)
    iso = _ISO.match(stripped)
    if iso is not None and len(stripped) > 1:
        acc = _Accumulator()
        for group, unit in (("Y", "year"), ("M", "month"), ("W", "week"), ("D", "day"), ("H", "hour"),
                            ("MI", "minute"), ("S", "second")):
            if iso.group(group):
                if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", iso.group(group)):
                    raise _bad(text)
                acc.add(iso.group(group), _UNITS[unit])
        return acc.result()
    acc = _Accumulator()
    position, ago, seen = 0, False, False
    fields: set[str] = set()

    def claim(*names: str) -> None:
        if fields.intersection(names):
            raise _bad(text)
        fields.update(names)

    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise _bad(text)
        position = match.end()
        if match.group("word"):
            ago = ago or match.group("word").lower() == "ago"
            continue
        seen = True
        if match.group("clock"):
            claim("hour", "minute", "second", "millisecond", "microsecond")
            try:
                acc.micros += _clock(match.group("clock"))
            except ValueError:
                raise _bad(text) from None
            continue
        unit = (match.group("unit") or "second").lower()
        if unit not in _UNITS:
            raise _bad(text)
        field = _FIELDS[_UNITS[unit]]
        fraction = match.group("number").partition(".")[2]
        if field == "second" and fraction and int(fraction or "0"):  # sub-seconds given: all second fields
            claim("second", "millisecond", "microsecond")
        else:
            claim(field)
        acc.add(match.group("number"), _UNITS[unit])
    if not seen:
        raise _bad(text)
    value = acc.result(negate=ago)
    if abs(value.months) > 2**31 - 1 or abs(value.days) > 2**31 - 1 or abs(value.micros) > 2**63 - 1:
        raise errors.NumericValueOutOfRange(f'interval field value out of range: "{text}"', sqlstate="22015")
    return value


# ---------------------------------------------------------------------------------------------------------
# Arithmetic


def add_months(value: Any, months: int) -> Any:
    if not months:
        return value
    index = value.year * 12 + (value.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise errors.SteadyError("timestamp out of range", sqlstate="22008")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def add_to_timestamp(value: _dt.datetime, interval: Interval) -> _dt.datetime:
    """``timestamp[tz] + interval``: months (clamped to the month's last day), then days, then time."""
    try:
        shifted = add_months(value, interval.months)
        return shifted + _dt.timedelta(days=interval.days, microseconds=interval.micros)
    except OverflowError:
        raise errors.SteadyError("timestamp out of range", sqlstate="22008") from None


def add_to_time(value: _dt.time, interval: Interval) -> _dt.time:
    """``time + interval``: the time part only, wrapping around midnight."""
    micros = ((value.hour * 60 + value.minute) * 60 + value.second) * USECS_PER_SEC + value.microsecond
    micros = (micros + interval.micros) % USECS_PER_DAY
    seconds, fraction = divmod(micros, USECS_PER_SEC)
    return _dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, fraction)


def justify_hours(micros: int, days: int = 0) -> Interval:
    """Whole 24-hour periods of ``micros`` as days, with day and time of one sign (``interval_justify_hours``)."""
    whole, micros = _trunc_div(micros, USECS_PER_DAY)
    days += whole
    if days > 0 and micros < 0:
        micros += USECS_PER_DAY
        days -= 1
    elif days < 0 and micros > 0:
        micros -= USECS_PER_DAY
        days += 1
    return Interval(0, days, micros)


_INT32 = 2 ** 31


def _field(value: int) -> int:
    """A month or day count that must fit PostgreSQL's int32 field."""
    if not -_INT32 <= value < _INT32:
        raise errors.SteadyError("interval out of range", sqlstate="22008")
    return value


def _months_of_days(months: int, days: int) -> tuple[int, int]:
    whole, days = _trunc_div(days, DAYS_PER_MONTH)
    return _field(months + whole), days


def justify_interval_hours(value: Interval) -> Interval:
    """``justify_hours(interval)``: whole 24-hour periods of the time as days (months kept)."""
    justified = justify_hours(value.micros, value.days)
    return Interval(value.months, _field(justified.days), justified.micros)


def justify_days(value: Interval) -> Interval:
    """``justify_days(interval)``: whole 30-day periods as months, months and days then of one sign."""
    months, days = _months_of_days(value.months, value.days)
    if months > 0 and days < 0:
        months, days = months - 1, days + DAYS_PER_MONTH
    elif months < 0 and days > 0:
        months, days = months + 1, days - DAYS_PER_MONTH
    return Interval(months, days, value.micros)


def justify_interval(value: Interval) -> Interval:
    """``justify_interval(interval)``: PostgreSQL's ``interval_justify_interval`` — hours into days, days into
    months, then all three fields of one sign."""
    months, days, micros = value.months, value.days, value.micros
    if (days > 0 and micros > 0) or (days < 0 and micros < 0):
        months, days = _months_of_days(months, days)
    whole, micros = _trunc_div(micros, USECS_PER_DAY)
    months, days = _months_of_days(months, days + whole)
    if months > 0 and (days < 0 or (days == 0 and micros < 0)):
        months, days = months - 1, days + DAYS_PER_MONTH
    elif months < 0 and (days > 0 or (days == 0 and micros > 0)):
        months, days = months + 1, days - DAYS_PER_MONTH
    if days > 0 and micros < 0:
        days, micros = days - 1, micros + USECS_PER_DAY
    elif days < 0 and micros > 0:
        days, micros = days + 1, micros - USECS_PER_DAY
    return Interval(months, days, micros)


def between(later: _dt.datetime, earlier: _dt.datetime) -> Interval:
    """``timestamp - timestamp``."""
    delta = later - earlier
    return justify_hours((delta.days * 86_400 + delta.seconds) * USECS_PER_SEC + delta.microseconds)


def time_between(later: _dt.time, earlier: _dt.time) -> Interval:
    def micros(t: _dt.time) -> int:
        return ((t.hour * 60 + t.minute) * 60 + t.second) * USECS_PER_SEC + t.microsecond

    return Interval(0, 0, micros(later) - micros(earlier))


def _scaled(value: Interval, factor: float, apply: Any) -> Interval:
    """``interval_mul``/``interval_div``: each field scaled; fractional months spill into days, fractional days
    into time."""
    if math.isnan(factor) or math.isinf(factor):
        raise errors.NumericValueOutOfRange("interval out of range")
    month_f = apply(value.months, factor)
    months = math.trunc(month_f)
    month_remainder_days = round((month_f - months) * DAYS_PER_MONTH * USECS_PER_SEC) / USECS_PER_SEC  # TSROUND
    day_f = apply(value.days, factor)
    days = math.trunc(day_f)
    seconds = (day_f - days + month_remainder_days - math.trunc(month_remainder_days)) * 86_400
    seconds = round(seconds * USECS_PER_SEC) / USECS_PER_SEC
    if abs(seconds) >= 86_400:
        extra = math.trunc(seconds / 86_400)
        days += extra
        seconds -= extra * 86_400
    days += math.trunc(month_remainder_days)
    micros_f = apply(value.micros, factor) + seconds * USECS_PER_SEC
    if not math.isfinite(micros_f) or abs(months) > 2**31 - 1 or abs(days) > 2**31 - 1 or abs(micros_f) > 2**63:
        raise errors.NumericValueOutOfRange("interval out of range")
    return Interval(months, days, round(micros_f))


def scale(value: Interval, factor: float) -> Interval:
    """``interval * float``."""
    return _scaled(value, factor, lambda field, f: field * f)


def divide(value: Interval, divisor: float) -> Interval:
    """``interval / float``."""
    if divisor == 0:
        raise errors.DivisionByZero("division by zero")
    return _scaled(value, divisor, lambda field, f: field / f)


__all__ = ["Interval", "add_months", "add_to_time", "add_to_timestamp", "between", "divide", "format_interval", "justify_hours",
           "parse_interval", "scale", "time_between"]
