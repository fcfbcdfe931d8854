"""Type modifiers: what a declared type adds to its scalar type, and how a value is brought to it.

PostgreSQL's ``varchar(n)``, ``char(n)``, ``numeric(p, s)`` and ``timestamp(p)`` are their base types (text,
numeric, timestamp) plus a modifier that every value stored into a column, or cast to the type, is brought to.
:class:`TypeMod` is that modifier; it travels in :class:`~steadystate.repr.types.Column` (so it is durable in
the catalog) and in the planner's typed expressions.  The rules (PostgreSQL's ``varchar``, ``bpchar``,
``numeric`` and ``timestamp`` typmod input functions), per kind:

==========  ======================================================  ========================================
kind        assignment (INSERT, UPDATE, COPY, DEFAULT)              explicit cast (``::varchar(3)``)
==========  ======================================================  ========================================
varchar(n)  longer than n: 22001, unless the excess is all spaces   truncated to n characters
            (then truncated)
char(n)     as varchar(n); then padded with spaces to n             truncated to n, padded
numeric     rounded half away from zero to s digits; 22003 "numeric field overflow" when the integer part
(p, s)      needs more than p - s digits (both ways)
timestamp   microseconds rounded to p fractional digits (half away from zero, both ways); likewise
(p)         timestamptz(p) and time(p)
==========  ======================================================  ========================================

``char(n)`` values are *stored without their trailing spaces* — what PostgreSQL compares, hashes, groups and
casts to text — and padded back to ``n`` only on output (:func:`pad_bpchar`, used by the wire and COPY
encoders), so every operator sees the value PostgreSQL's ``bpchar`` semantics would.  ``varchar`` and ``char``
without a length carry a modifier of ``length=None`` that changes nothing but the type reported to clients.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import re
from typing import Any, Callable

import msgspec

from steadystate import errors


class ModKind(str, enum.Enum):
    VARCHAR = "varchar"
    BPCHAR = "bpchar"
    NUMERIC = "numeric"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    TIME = "time"


_OIDS = {ModKind.VARCHAR: 1043, ModKind.BPCHAR: 1042, ModKind.NUMERIC: 1700, ModKind.TIMESTAMP: 1114,
         ModKind.TIMESTAMPTZ: 1184, ModKind.TIME: 1083}
_NAMES = {ModKind.VARCHAR: "character varying", ModKind.BPCHAR: "character", ModKind.NUMERIC: "numeric",
          ModKind.TIMESTAMP: "timestamp", ModKind.TIMESTAMPTZ: "timestamp", ModKind.TIME: "time"}
#: the fractional-second precisions, and how format_type ends their names
_PRECISIONS = {ModKind.TIMESTAMP: " without time zone", ModKind.TIMESTAMPTZ: " with time zone",
               ModKind.TIME: " without time zone"}
NUMERIC_MAX_PRECISION = 1000
TIMESTAMP_MAX_PRECISION = 6


class TypeMod(msgspec.Struct, frozen=True):
    """A type modifier: ``length`` is the varchar/char length, numeric precision or timestamp precision
    (``None``: unlimited); ``scale`` is numeric's scale."""

    kind: ModKind
    length: int | None = None
    scale: int = 0

    @property
    def pg_oid(self) -> int:
        return _OIDS[self.kind]

    @property
    def pg_typmod(self) -> int:
        """PostgreSQL's ``atttypmod``: n + 4 for char types, ((p << 16) | s) + 4 for numeric, p for timestamp."""
        if self.length is None:
            return -1
        if self.kind is ModKind.NUMERIC:
            return ((self.length << 16) | (self.scale & 0x7FF)) + 4
        if self.kind in _PRECISIONS:
            return self.length
        return self.length + 4

    @property
    def pg_name(self) -> str:
        """``format_type``'s spelling: ``character varying(3)``, ``numeric(10,2)``, ``timestamp(3) without ...``."""
        base = _NAMES[self.kind]
        if self.length is None:
            args = ""
        elif self.kind is ModKind.NUMERIC:
            args = f"({self.length},{self.scale})"
        else:
            args = f"({self.length})"
        if self.kind in _PRECISIONS:
            return f"{base}{args}{_PRECISIONS[self.kind]}"
        return base + args

    def spec(self) -> str:
        """A compact text form (``varchar(3)``, ``numeric(10,2)``, ``bpchar``) that :func:`parse_spec` reads back."""
        if self.length is None:
            return self.kind.value
        if self.kind is ModKind.NUMERIC:
            return f"numeric({self.length},{self.scale})"
        return f"{self.kind.value}({self.length})"


_SPEC = re.compile(r"(varchar|bpchar|numeric|timestamptz|timestamp|time)(?:\((-?\d+)(?:,(-?\d+))?\))?$")


def parse_spec(text: str) -> TypeMod:
    match = _SPEC.match(text)
    if match is None:
        raise errors.InternalError(f"bad type modifier spec {text!r}")
    kind, length, scale = match.groups()
    return TypeMod(ModKind(kind), None if length is None else int(length), int(scale or 0))


# ---------------------------------------------------------------------------------------------------------
# Bringing a value to its modifier


def _too_long(mod: TypeMod) -> errors.SteadyError:
    return errors.StringDataRightTruncation(f"value too long for type {mod.pg_name}")


def _string(mod: TypeMod, explicit: bool) -> Callable[[Any], Any]:
    limit = mod.length
    bpchar = mod.kind is ModKind.BPCHAR

    def apply(value: Any) -> Any:
        if value is None:
            return None
        text = str(value)
        if limit is not None and len(text) > limit:
            if not explicit and text[limit:].strip(" "):
                raise _too_long(mod)
            text = text[:limit]
        return text.rstrip(" ") if bpchar else text

    return apply


def _numeric(mod: TypeMod) -> Callable[[Any], Any]:
    assert mod.length is not None
    precision, scale = mod.length, mod.scale
    quantum = decimal.Decimal(1).scaleb(-scale)
    limit = decimal.Decimal(1).scaleb(precision - scale)
    context = decimal.Context(prec=NUMERIC_MAX_PRECISION * 2 + 10, rounding=decimal.ROUND_HALF_UP)
    digits = precision - scale
    bound = f"10^{digits}" if digits > 0 else "1" if digits == 0 else f"10^{digits}"

    def overflow() -> errors.SteadyError:
        return errors.NumericValueOutOfRange(
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} must round to an absolute value "
                   f"less than {bound}.")

    def apply(value: Any) -> Any:
        if value is None:
            return None
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(value)
        if number.is_nan():
            return number
        if number.is_infinite():
            raise errors.NumericValueOutOfRange(
                "numeric field overflow",
                detail=f"A field with precision {precision}, scale {scale} cannot hold an infinite value.")
        if number and number.adjusted() > digits:  # far too large: do not build its digits to round them
            raise overflow()
        rounded = number.quantize(quantum, context=context)
        if rounded.copy_abs() >= limit:  # copy_abs is exact; abs() would round to the context's 28 digits
            raise overflow()
        return rounded

    return apply


_EPOCH = _dt.datetime(2000, 1, 1)


_EPOCH_TZ = _EPOCH.replace(tzinfo=_dt.timezone.utc)


def _round_micros(micros: int, step: int) -> int:
    """Half away from zero, to a multiple of ``step`` (PostgreSQL's AdjustTimestampForTypmod)."""
    half = step // 2
    return (micros + half) // step * step if micros >= 0 else -((-micros + half) // step * step)


def _timestamp(mod: TypeMod) -> Callable[[Any], Any]:
    assert mod.length is not None
    step = 10 ** (TIMESTAMP_MAX_PRECISION - mod.length)

    def apply(value: Any) -> Any:
        if value is None or step == 1:
            return value
        epoch = _EPOCH_TZ if value.tzinfo is not None else _EPOCH
        delta = value - epoch
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return epoch + _dt.timedelta(microseconds=_round_micros(micros, step))

    return apply


def _time(mod: TypeMod) -> Callable[[Any], Any]:
    assert mod.length is not None
    step = 10 ** (TIMESTAMP_MAX_PRECISION - mod.length)

    def apply(value: Any) -> Any:
        if value is None or step == 1:
            return value
        micros = ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
        rounded = _round_micros(micros, step)
        if rounded >= 86_400_000_000:  # PostgreSQL's time has 24:00:00; a Python time does not
            raise errors.FeatureNotSupported("the time 24:00:00 is not supported",
                                             hint="A value this close to midnight rounds up to it at this precision.")
        seconds, fraction = divmod(rounded, 1_000_000)
        return _dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, fraction)

    return apply


def coercer(mod: TypeMod, *, explicit: bool) -> Callable[[Any], Any]:
    """``value -> value`` bringing a datum of the base type to ``mod`` (NULL stays NULL); raises PostgreSQL's
    errors.  ``explicit``: the rules of an explicit cast rather than of an assignment."""
    if mod.kind in (ModKind.VARCHAR, ModKind.BPCHAR):
        return _string(mod, explicit)
    if mod.length is None:
        return lambda value: value
    if mod.kind is ModKind.NUMERIC:
        return _numeric(mod)
    if mod.kind is ModKind.TIME:
        return _time(mod)
    return _timestamp(mod)


def pad_bpchar(mod: TypeMod | None) -> Callable[[str], str] | None:
    """The output padding of a ``char(n)`` value (stored without trailing spaces), or None for other types."""
    if mod is None or mod.kind is not ModKind.BPCHAR or mod.length is None:
        return None
    width = mod.length
    return lambda text: text.ljust(width)


__all__ = ["ModKind", "TypeMod", "coercer", "pad_bpchar", "parse_spec"]
