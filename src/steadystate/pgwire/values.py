"""Conversion between Python datums and their PostgreSQL wire forms, by type OID.

Text format follows PostgreSQL's output functions (``boolout``, ``float8out``, ``numeric_out``,
``date_out``, ``timestamp_out``, ``jsonb_out``, ``uuid_out``, ``byteaout``); binary format covers int2/int4/int8,
float4/float8, bool, text-like types, numeric, date and timestamp, time, interval, jsonb (version 1 + text), uuid
(16 bytes), bytea (the bytes) and Materialize's mz_timestamp (oid 16552: its text digits in binary format too, as
Materialize's pgrepr sends and reads it).  Both directions are tables keyed by OID:

* :func:`text_encoder` / :func:`binary_encoder` give a function ``datum -> bytes`` for a result column;
* :func:`decode_param` turns a Bind parameter (bytes, format code, OID) into a Python value.

OID 0 (unspecified) text parameters stay ``str``; the adapter infers their type.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import struct
import uuid as _uuid
from typing import Any, Callable

from steadystate.errors import FeatureNotSupported, InvalidTextRepresentation, SteadyError
from steadystate.repr import numeric
from steadystate.repr.arrays import format_array, parse_array
from steadystate.repr.floattext import float4_text, float8_text, round_float4
from steadystate.repr.timezones import format_in_zone, is_utc, localize, parse_zone
from steadystate.repr.interval import Interval, format_interval
from steadystate.repr.interval import parse_interval as parse_interval_text
from steadystate.repr.bytea import bytea_text, parse_bytea, parse_uuid, uuid_text
from steadystate.repr.jsonb import Jsonb, jsonb_text, parse_jsonb
from steadystate.repr.jsonb import decode_binary as decode_jsonb_binary
from steadystate.repr.jsonb import encode_binary as encode_jsonb_binary

BOOL, BYTEA, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 19, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR = 700, 701, 705, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC = 1082, 1083, 1114, 1184, 1186, 1700
TIMESTAMPTZ_ARRAY = 1185
JSONB, UUID = 3802, 2950
MZ_TIMESTAMP = 16552  # Materialize's oid

TEXT_LIKE = (TEXT, VARCHAR, BPCHAR, NAME, UNKNOWN, 0)

_EPOCH_DATE = _dt.date(2000, 1, 1)
_EPOCH_ORDINAL = _EPOCH_DATE.toordinal()
_EPOCH_TIMESTAMP = _dt.datetime(2000, 1, 1)

Encoder = Callable[[Any], bytes]


# ---------------------------------------------------------------- text output


def format_float8(value: float) -> str:
    """``float8out``: shortest round-trip digits; exponent form below 1e-4 and from 1e15 (repr/floattext.py)."""
    return float8_text(value)


def format_float4(value: float) -> str:
    """``float4out``: the shortest digits that round-trip through a 32-bit float (repr/floattext.py)."""
    return float4_text(value)


def format_numeric(value: decimal.Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return format(value.copy_abs() if value.is_zero() else value, "f")  # numeric has no negative zero


def format_timestamp(value: _dt.datetime) -> str:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def format_timestamptz(value: _dt.datetime) -> str:
    """In the session's zone, which is always UTC (a timestamptz datum is an aware datetime in UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc)
    return format_timestamp(value) + "+00"


def format_time(value: _dt.time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def format_bool(value: Any) -> str:
    return "t" if value else "f"


def format_any(value: Any) -> str:
    """Text form of a datum whose column type is unknown to pgwire: chosen by Python type."""
    formatter = _FORMAT_BY_PY_TYPE.get(type(value))
    return formatter(value) if formatter else str(value)


_FORMAT_BY_PY_TYPE: dict[type, Callable[[Any], str]] = {
    bool: format_bool,
    float: format_float8,
    decimal.Decimal: format_numeric,
    _dt.datetime: lambda v: format_timestamptz(v) if v.tzinfo is not None else format_timestamp(v),
    _dt.date: _dt.date.isoformat,
    _dt.time: format_time,
    Interval: format_interval,
    Jsonb: jsonb_text,
    bytes: bytea_text,
    _uuid.UUID: uuid_text,
}

#: OID → datum → text (without NULL handling)
TEXT_FORMATTERS: dict[int, Callable[[Any], str]] = {
    BOOL: format_bool,
    INT2: str,
    INT4: str,
    INT8: str,
    OID: str,
    FLOAT4: format_float4,
    FLOAT8: format_float8,
    NUMERIC: format_numeric,
    TEXT: str,
    VARCHAR: str,
    BPCHAR: str,
    NAME: str,
    UNKNOWN: str,
    DATE: _dt.date.isoformat,
    TIMESTAMP: format_timestamp,
    TIMESTAMPTZ: format_timestamptz,
    TIME: format_time,
    INTERVAL: format_interval,
    JSONB: jsonb_text,
    UUID: uuid_text,
    BYTEA: bytea_text,
}


def _bpchar_width(oid: int, typmod: int) -> int | None:
    """The width a ``character(n)`` column's values are padded to on output (they are stored without trailing
    spaces, see repr/typmod.py), or None."""
    return typmod - 4 if oid == BPCHAR and typmod >= 5 else None


def text_formatter(oid: int, typmod: int = -1) -> Callable[[Any], str]:
    width = _bpchar_width(oid, typmod)
    if width is not None:
        return lambda v: str(v).ljust(width)
    return TEXT_FORMATTERS.get(oid, format_any)


def text_encoder(oid: int, typmod: int = -1) -> Encoder:
    formatter = text_formatter(oid, typmod)
    if formatter is str:
        return lambda v: str(v).encode()
    return lambda v: formatter(v).encode()


# ---------------------------------------------------------------- binary output


def _pack(fmt: str) -> Encoder:
    packer = struct.Struct(fmt).pack
    return lambda v: packer(v)


def encode_numeric_binary(value: decimal.Decimal | int) -> bytes:
    value = decimal.Decimal(value)
    if value.is_nan():
        return struct.pack("!hhHH", 0, 0, 0xC000, 0)
    if value.is_infinite():
        return struct.pack("!hhHH", 0, 0, 0xD000 if value > 0 else 0xF000, 0)
    if value.is_zero():
        value = value.copy_abs()  # numeric has no negative zero
    sign, digits, exponent = value.as_tuple()
    exponent = int(exponent)
    dscale = max(-exponent, 0)
    # Lay the digits out so the decimal point falls on a base-10000 boundary.
    pad_right = exponent % 4 if exponent < 0 else 0
    digit_text = "".join(map(str, digits)) + "0" * (pad_right + max(exponent, 0))
    point = len(digit_text) - (max(-exponent, 0) + pad_right)  # digits before the point
    pad_left = (-point) % 4
    digit_text = "0" * pad_left + digit_text
    groups = [int(digit_text[i : i + 4]) for i in range(0, len(digit_text), 4)]
    weight = (point + pad_left) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    header = struct.pack("!hhHH", len(groups), weight, 0x4000 if sign else 0, dscale)
    return header + struct.pack(f"!{len(groups)}H", *groups)


def _encode_date_binary(value: _dt.date) -> bytes:
    return struct.pack("!i", value.toordinal() - _EPOCH_ORDINAL)


def _encode_timestamp_binary(value: _dt.datetime) -> bytes:
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc)
    delta = value.replace(tzinfo=None) - _EPOCH_TIMESTAMP
    return struct.pack("!q", (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _encode_time_binary(value: _dt.time) -> bytes:
    return struct.pack("!q", ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond)


def _encode_interval_binary(value: Interval) -> bytes:
    return struct.pack("!qii", value.micros, value.days, value.months)


def _decode_time_binary(data: bytes) -> _dt.time:
    seconds, micros = divmod(struct.unpack("!q", data)[0], 1_000_000)
    return _dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, micros)


def _decode_interval_binary(data: bytes) -> Interval:
    micros, days, months = struct.unpack("!qii", data)
    return Interval(months, days, micros)


BINARY_ENCODERS: dict[int, Encoder] = {
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: _pack("!h"),
    INT4: _pack("!i"),
    INT8: _pack("!q"),
    OID: _pack("!I"),
    FLOAT4: _pack("!f"),
    FLOAT8: _pack("!d"),
    NUMERIC: encode_numeric_binary,
    TEXT: lambda v: str(v).encode(),
    VARCHAR: lambda v: str(v).encode(),
    BPCHAR: lambda v: str(v).encode(),
    NAME: lambda v: str(v).encode(),
    DATE: _encode_date_binary,
    TIMESTAMP: _encode_timestamp_binary,
    TIMESTAMPTZ: _encode_timestamp_binary,
    TIME: _encode_time_binary,
    INTERVAL: _encode_interval_binary,
    JSONB: encode_jsonb_binary,
    UUID: lambda v: v.bytes,
    BYTEA: bytes,
    MZ_TIMESTAMP: lambda v: str(v).encode(),  # Materialize sends its text (the digits) in binary format too
}


def binary_encoder(oid: int) -> Encoder:
    encoder = BINARY_ENCODERS.get(oid)
    if encoder is None:
        raise FeatureNotSupported(f"binary output format is not supported for type oid {oid}")
    return encoder


def column_encoder(oid: int, format_code: int, typmod: int = -1, time_zone: str = "UTC") -> Encoder:
    """The encoder of a result column of type ``oid`` (with its type modifier) in ``format_code``; timestamptz
    text (and timestamptz[]'s) in the session's ``time_zone``."""
    if format_code == 0:
        zoned = zoned_text_formatter(oid, time_zone)
        if zoned is not None:
            return lambda v: zoned(v).encode()
        return text_encoder(oid, typmod)
    if format_code == 1:
        width = _bpchar_width(oid, typmod)
        if width is not None:
            return lambda v: str(v).ljust(width).encode()
        return binary_encoder(oid)
    raise SteadyError(f"unsupported format code: {format_code}", sqlstate="22023")


def _zoned_timestamptz(zone: _dt.tzinfo) -> Callable[[Any], str]:
    return lambda v: format_in_zone(v, zone)


def _zoned_timestamptz_array(zone: _dt.tzinfo) -> Callable[[Any], str]:
    return lambda v: format_array(v, lambda e: format_in_zone(e, zone))


#: text formatters that show the session's zone, by oid: timestamptz and timestamptz[]
_ZONED_TEXT: dict[int, Callable[[_dt.tzinfo], Callable[[Any], str]]] = {1184: _zoned_timestamptz,
                                                                         1185: _zoned_timestamptz_array}


def zoned_text_formatter(oid: int, time_zone: str) -> Callable[[Any], str] | None:
    """The text formatter of a column of type ``oid`` in a session whose zone is ``time_zone``, where that zone
    changes it (timestamptz, timestamptz[] in a zone other than UTC); None otherwise."""
    if oid not in _ZONED_TEXT or is_utc(time_zone):
        return None
    return _ZONED_TEXT[oid](parse_zone(time_zone))


# ---------------------------------------------------------------- parameter input

_TRUE_WORDS = {"t", "true", "y", "yes", "on", "1"}
_FALSE_WORDS = {"f", "false", "n", "no", "off", "0"}


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type integer: "{text}"') from None


def parse_float(text: str) -> float:
    word = text.strip().lower()
    if word in ("infinity", "+infinity", "inf", "+inf"):
        return math.inf
    if word in ("-infinity", "-inf"):
        return -math.inf
    try:
        return float(word)
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type double precision: "{text}"') from None


def parse_numeric(text: str) -> decimal.Decimal:
    try:
        return decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{text}"') from None


def parse_date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type date: "{text}"') from None


def parse_timestamp(text: str) -> _dt.datetime:
    try:
        return _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type timestamp: "{text}"') from None


def parse_timestamptz(text: str) -> _dt.datetime:
    stripped = text.strip()
    if stripped.upper().endswith((" UTC", " GMT")):
        stripped = stripped[:-4]
    try:
        value = _dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type timestamp with time zone: "{text}"') from None
    return value.replace(tzinfo=_dt.timezone.utc) if value.tzinfo is None else value.astimezone(_dt.timezone.utc)


def _parse_timestamptz_in(text: str, zone: _dt.tzinfo) -> _dt.datetime:
    """:func:`parse_timestamptz` with a value without an offset read as wall-clock time in ``zone``."""
    stripped = text.strip()
    if stripped.upper().endswith((" UTC", " GMT")):
        return parse_timestamptz(text)
    try:
        value = _dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type timestamp with time zone: "{text}"') from None
    return localize(value, zone) if value.tzinfo is None else value.astimezone(_dt.timezone.utc)


def parse_time(text: str) -> _dt.time:
    try:
        return _dt.time.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type time: "{text}"') from None


def parse_interval(text: str) -> Interval:
    return parse_interval_text(text)


TEXT_PARSERS: dict[int, Callable[[str], Any]] = {
    BOOL: parse_bool,
    INT2: parse_int,
    INT4: parse_int,
    INT8: parse_int,
    OID: parse_int,
    FLOAT4: lambda text: round_float4(parse_float(text)),
    FLOAT8: parse_float,
    NUMERIC: parse_numeric,
    DATE: parse_date,
    TIMESTAMP: parse_timestamp,
    TIMESTAMPTZ: parse_timestamptz,
    TIME: parse_time,
    INTERVAL: parse_interval,
    JSONB: parse_jsonb,
    UUID: parse_uuid,
    BYTEA: parse_bytea,
}


def decode_numeric_binary(data: bytes) -> decimal.Decimal:
    count, weight, sign, dscale = struct.unpack_from("!hhHH", data)
    if sign == 0xC000:
        return numeric.NAN
    if sign == 0xD000:
        return decimal.Decimal("Infinity")
    if sign == 0xF000:
        return decimal.Decimal("-Infinity")
    groups = struct.unpack_from(f"!{count}H", data, 8)
    coefficient = int("".join(f"{g:04d}" for g in groups) or "0")
    exponent = (weight - count + 1) * 4  # of the last group's lowest digit
    shift = exponent + dscale
    coefficient = coefficient * 10**shift if shift >= 0 else coefficient // 10**-shift
    return decimal.Decimal(f"{'-' if sign == 0x4000 else ''}{coefficient}E-{dscale}")


def _unpack(fmt: str) -> Callable[[bytes], Any]:
    unpacker = struct.Struct(fmt).unpack
    return lambda data: unpacker(data)[0]


def _unpack_float(fmt: str) -> Callable[[bytes], float]:
    """A float parameter; any NaN becomes ``math.nan``, the one NaN rows hold (repr.numeric.NAN's reason)."""
    unpacker = struct.Struct(fmt).unpack

    def parse(data: bytes) -> float:
        value: float = unpacker(data)[0]
        return value if value == value else math.nan

    return parse


def _mz_timestamp(text: str) -> str:
    """An mz_timestamp's digits (an unsigned 64-bit number of milliseconds), kept as the text a parameter of this
    oid in text format is (typed where it is used); ValueError otherwise."""
    if not text.isascii() or not text.isdigit() or int(text) >= 1 << 64:
        raise ValueError(text)
    return text


BINARY_PARSERS: dict[int, Callable[[bytes], Any]] = {
    BOOL: lambda data: data != b"\x00",
    INT2: _unpack("!h"),
    INT4: _unpack("!i"),
    INT8: _unpack("!q"),
    OID: _unpack("!I"),
    FLOAT4: _unpack_float("!f"),
    FLOAT8: _unpack_float("!d"),
    NUMERIC: decode_numeric_binary,
    TEXT: lambda data: data.decode(),
    VARCHAR: lambda data: data.decode(),
    BPCHAR: lambda data: data.decode(),
    NAME: lambda data: data.decode(),
    UNKNOWN: lambda data: data.decode(),
    DATE: lambda data: _dt.date.fromordinal(_EPOCH_ORDINAL + struct.unpack("!i", data)[0]),
    TIMESTAMP: lambda data: _EPOCH_TIMESTAMP + _dt.timedelta(microseconds=struct.unpack("!q", data)[0]),
    TIMESTAMPTZ: lambda data: (_EPOCH_TIMESTAMP + _dt.timedelta(microseconds=struct.unpack("!q", data)[0])).replace(
        tzinfo=_dt.timezone.utc),
    TIME: _decode_time_binary,
    INTERVAL: _decode_interval_binary,
    JSONB: decode_jsonb_binary,
    UUID: lambda data: _uuid.UUID(bytes=data),
    BYTEA: bytes,
    MZ_TIMESTAMP: lambda data: _mz_timestamp(data.decode()),  # its text, as Materialize reads it
}


def decode_param(data: bytes | None, format_code: int, oid: int, time_zone: str = "UTC") -> Any:
    """A Bind parameter as a Python value; NULL is None, text with OID 0 stays ``str``.  A timestamptz (or an
    element of a timestamptz[]) in text without an offset is wall-clock time in the session's ``time_zone``."""
    if data is None:
        return None
    if format_code == 0:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise SteadyError("invalid byte sequence for encoding \"UTF8\"", sqlstate="22021") from None
        if oid in (TIMESTAMPTZ, TIMESTAMPTZ_ARRAY) and not is_utc(time_zone):
            tz = parse_zone(time_zone)
            if oid == TIMESTAMPTZ:
                return _parse_timestamptz_in(text, tz)
            return parse_array(text, lambda element: _parse_timestamptz_in(element, tz))
        parser = TEXT_PARSERS.get(oid)
        return parser(text) if parser else text
    if format_code != 1:
        raise SteadyError(f"unsupported format code: {format_code}", sqlstate="22023")
    binary_parser = BINARY_PARSERS.get(oid)
    if binary_parser is None:
        raise FeatureNotSupported(
            f"binary format is not supported for parameters of type oid {oid}",
            hint="send the parameter in text format",
        )
    try:
        return binary_parser(data)
    except (struct.error, ValueError, OverflowError, UnicodeDecodeError):
        raise SteadyError(
            f"incorrect binary data format in bind parameter of type oid {oid}", sqlstate="22P03"
        ) from None


# arrays (pgwire/array_values.py): one entry per array oid in each table, built over the element's
from steadystate.pgwire import array_values as _array_values  # noqa: E402

_array_values.register(TEXT_FORMATTERS, BINARY_ENCODERS, TEXT_PARSERS, BINARY_PARSERS, format_any)
