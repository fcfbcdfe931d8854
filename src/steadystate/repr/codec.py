"""Encoding of update batches and rows to bytes, shared by storage (shard blobs) and the compute protocol.

Batches are msgpack (msgspec) arrays.  msgpack has no native numeric/date/timestamp, and msgspec turns
``Decimal``/``date``/``datetime`` into strings, which would come back as ``str``; so the codec wraps those
datum kinds (and times, intervals, jsonb as its text, uuids as their 16 bytes, and array datums, whose elements
are wrapped in turn) in msgpack extension types and unwraps them on decode.  Rows without such datums take
the fast path (no per-value work in Python).

An update is ``(row, time, diff)``; a batch is a list of updates.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import uuid as _uuid
from typing import Any, Iterable

import msgspec

from steadystate.repr import Row, numeric
from steadystate.repr.arrays import Array
from steadystate.repr.interval import Interval
from steadystate.repr.jsonb import Jsonb, jsonb_text, parse_jsonb

Update = tuple[Row, int, int]

_EXT_DECIMAL = 1
_EXT_DATE = 2
_EXT_DATETIME = 3
_EXT_INTERVAL = 4
_EXT_TIME = 5
_EXT_JSONB = 6
_EXT_UUID = 7
_EXT_ARRAY = 8  # an array datum: its elements, each wrapped, as a msgpack array
_EXT_NAN = 9  # a float NaN: decoded as ``math.nan`` (numeric's ``NAN`` for the decimal one), the one NaN rows hold,
#             so that rows holding a NaN are equal and hash alike after a round trip (a NaN is unequal to itself)
_SPECIAL = (decimal.Decimal, _dt.date, _dt.time, Interval, Jsonb, _uuid.UUID, Array)  # datetime is a subclass of date
# bytea datums are ``bytes``: msgpack's bin type carries them as they are


def _wrap(value: Any) -> Any:
    if value.__class__ is float:
        return value if value == value else msgspec.msgpack.Ext(_EXT_NAN, b"")
    if isinstance(value, decimal.Decimal):
        return msgspec.msgpack.Ext(_EXT_DECIMAL, str(value).encode())
    if isinstance(value, _dt.datetime):
        return msgspec.msgpack.Ext(_EXT_DATETIME, value.isoformat().encode())
    if isinstance(value, _dt.date):
        return msgspec.msgpack.Ext(_EXT_DATE, value.isoformat().encode())
    if isinstance(value, _dt.time):
        return msgspec.msgpack.Ext(_EXT_TIME, value.isoformat().encode())
    if isinstance(value, Interval):
        return msgspec.msgpack.Ext(_EXT_INTERVAL, value.canonical().encode())
    if isinstance(value, Jsonb):
        return msgspec.msgpack.Ext(_EXT_JSONB, jsonb_text(value).encode())
    if isinstance(value, _uuid.UUID):
        return msgspec.msgpack.Ext(_EXT_UUID, value.bytes)
    if isinstance(value, Array):
        return msgspec.msgpack.Ext(_EXT_ARRAY, _encoder.encode([_wrap(v) for v in value]))
    return value


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == _EXT_UUID:
        return _uuid.UUID(bytes=bytes(data))
    if code == _EXT_ARRAY:
        return Array(_decoder.decode(data))
    if code == _EXT_NAN:
        return math.nan
    text = bytes(data).decode()
    if code == _EXT_DECIMAL:
        return numeric.canonical(decimal.Decimal(text))
    if code == _EXT_DATE:
        return _dt.date.fromisoformat(text)
    if code == _EXT_DATETIME:
        return _dt.datetime.fromisoformat(text)  # an aware one (timestamptz) keeps its +00:00
    if code == _EXT_TIME:
        return _dt.time.fromisoformat(text)
    if code == _EXT_INTERVAL:
        return Interval.from_canonical(text)
    if code == _EXT_JSONB:
        return parse_jsonb(text)
    raise ValueError(f"unknown datum extension {code}")


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ext_hook=_ext_hook)
# typed decoders build the row tuples in C (an order of magnitude faster than converting lists in Python)
_updates_decoder = msgspec.msgpack.Decoder(list[tuple[tuple, int, int]], ext_hook=_ext_hook)
_rows_decoder = msgspec.msgpack.Decoder(list[tuple], ext_hook=_ext_hook)


def _needs_wrap(rows: Iterable[Row]) -> bool:
    for row in rows:
        for value in row:
            if isinstance(value, _SPECIAL) or (value.__class__ is float and value != value):
                return True
    return False


def encode_updates(updates: list[Update]) -> bytes:
    """Encode a batch of ``(row, time, diff)`` updates."""
    if _needs_wrap(u[0] for u in updates):
        updates = [(tuple(_wrap(v) for v in row), t, d) for row, t, d in updates]
    return _encoder.encode(updates)


def decode_updates(data: bytes | memoryview) -> list[Update]:
    """A batch encoded by :func:`encode_updates` or, for large insert-only batches, by ``repr.columnar``."""
    if data[:1] == b"\xc1":
        from steadystate.repr import columnar

        return columnar.columnar_updates(data)
    return _updates_decoder.decode(data)


def encode_rows(rows: list[Row]) -> bytes:
    if _needs_wrap(rows):
        rows = [tuple(_wrap(v) for v in row) for row in rows]
    return _encoder.encode(rows)


def decode_rows(data: bytes) -> list[Row]:
    return _rows_decoder.decode(data)


def encode_value(value: Any) -> bytes:
    """Encode any msgpack-able structure whose leaves may include special datums (plans' literals)."""
    return _encoder.encode(_deep_wrap(value))


def decode_value(data: bytes) -> Any:
    return _decoder.decode(data)


def _deep_wrap(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and not isinstance(value, Array):
        return [_deep_wrap(v) for v in value]
    return _wrap(value)
