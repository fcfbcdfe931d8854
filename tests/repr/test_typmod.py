"""Type modifiers and the narrow scalar types: what is stored and how it round-trips.

* A column's modifier is part of its catalog record; a record written before modifiers existed still decodes (its
  columns have none).
* PostgreSQL's ``atttypmod`` values and ``format_type`` spellings (the ones clients decode).
* Round trips (hypothesis): a value of each type — smallint, real, numeric(p, s), varchar(n), char(n),
  timestamp(p) — brought to its modifier survives text output → text input, binary output → binary input
  (the wire formats psycopg/asyncpg use), and the storage codec, unchanged; bringing it to its modifier again
  changes nothing (the modifier is idempotent).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import struct

import msgspec
import pytest
from hypothesis import given, settings, strategies as hs

from steadystate import errors
from steadystate.catalog.records import ItemRecord
from steadystate.expr.casts import CASTS, parse_float4, parse_int, parse_numeric, parse_timestamp
from steadystate.pgwire import values as wire
from steadystate.repr import codec
from steadystate.repr.floattext import float4_text, float8_text, round_float4
from steadystate.repr.typmod import ModKind, TypeMod, coercer, parse_spec
from steadystate.repr.types import Column, RelationDesc, ScalarType


class _OldColumn(msgspec.Struct, frozen=True):
    """A Column as catalogs before type modifiers stored it."""

    name: str
    type: ScalarType
    nullable: bool = True


class _OldDesc(msgspec.Struct, frozen=True):
    columns: tuple[_OldColumn, ...]


class _OldItem(msgspec.Struct, frozen=True):
    id: str
    database: str
    schema: str
    name: str
    kind: str
    owner: str
    desc: _OldDesc | None = None


def test_a_catalog_record_without_modifiers_still_decodes() -> None:
    old = _OldItem("u1", "materialize", "public", "t", "table", "materialize",
                   _OldDesc((_OldColumn("a", ScalarType.TEXT), _OldColumn("b", ScalarType.NUMERIC, False))))
    record = msgspec.msgpack.decode(msgspec.msgpack.encode(old), type=ItemRecord)
    assert record.desc == RelationDesc((Column("a", ScalarType.TEXT), Column("b", ScalarType.NUMERIC, False)))
    assert all(c.mod is None for c in record.desc.columns)


def test_a_modifier_is_kept_in_the_catalog_record() -> None:
    desc = RelationDesc((Column("v", ScalarType.TEXT, True, TypeMod(ModKind.VARCHAR, 3)),
                         Column("n", ScalarType.NUMERIC, True, TypeMod(ModKind.NUMERIC, 10, 2))))
    record = ItemRecord("u1", "materialize", "public", "t", "table", "materialize", desc)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(record), type=ItemRecord).desc == desc


@pytest.mark.parametrize("mod, typmod, name", [
    (TypeMod(ModKind.VARCHAR, 3), 7, "character varying(3)"),
    (TypeMod(ModKind.VARCHAR), -1, "character varying"),
    (TypeMod(ModKind.BPCHAR, 1), 5, "character(1)"),
    (TypeMod(ModKind.NUMERIC, 10, 2), 655366, "numeric(10,2)"),
    (TypeMod(ModKind.NUMERIC, 5, 0), 327684, "numeric(5,0)"),
    (TypeMod(ModKind.TIMESTAMP, 3), 3, "timestamp(3) without time zone"),
    (TypeMod(ModKind.TIMESTAMPTZ, 0), 0, "timestamp(0) with time zone"),
    (TypeMod(ModKind.TIME, 2), 2, "time(2) without time zone"),
])
def test_postgresql_typmods_and_names(mod: TypeMod, typmod: int, name: str) -> None:
    assert (mod.pg_typmod, mod.pg_name) == (typmod, name)
    assert parse_spec(mod.spec()) == mod


# ------------------------------------------------------------------------------------------ round trips


def _wire_round_trip(value: object, oid: int, typmod: int = -1) -> tuple[object, object]:
    text = wire.column_encoder(oid, 0, typmod)(value).decode()
    binary = wire.column_encoder(oid, 1, typmod)(value)
    return wire.decode_param(text.encode(), 0, oid), wire.decode_param(binary, 1, oid)


def _stored(value: object) -> object:
    return codec.decode_updates(codec.encode_updates([((value,), 1, 1)]))[0][0][0]


@settings(max_examples=300, deadline=None)
@given(value=hs.integers(-(2**15), 2**15 - 1))
def test_smallint_round_trips(value: int) -> None:
    assert parse_int(str(value), ScalarType.INT2) == value
    assert _wire_round_trip(value, wire.INT2) == (value, value)
    assert _stored(value) == value


@settings(max_examples=500, deadline=None)
@given(bits=hs.integers(0, 2**32 - 1))
def test_real_round_trips(bits: int) -> None:
    value = struct.unpack("!f", struct.pack("!I", bits))[0]
    if not math.isfinite(value):
        return
    assert round_float4(value) == value
    text = float4_text(value)
    assert parse_float4(text) == value
    assert CASTS[ScalarType.FLOAT4](text) == value
    assert _wire_round_trip(value, wire.FLOAT4) == (value, value)
    assert _stored(value) == value


@settings(max_examples=300, deadline=None)
@given(value=hs.floats(allow_nan=False, allow_infinity=False))
def test_double_precision_text_round_trips(value: float) -> None:
    assert float(float8_text(value)) == value


@hs.composite
def _numeric_case(draw: hs.DrawFn) -> tuple[TypeMod, decimal.Decimal]:
    precision = draw(hs.integers(1, 30))
    scale = draw(hs.integers(0, precision))
    digits = draw(hs.integers(0, 10**precision - 1))
    value = decimal.Decimal(f"{digits}E-{scale}")  # exact (scaleb would round to the context's 28 digits)
    if draw(hs.booleans()):
        value = value.copy_negate()  # exact (multiplying by -1 would round to the context's 28 digits)
    return TypeMod(ModKind.NUMERIC, precision, scale), value


@settings(max_examples=300, deadline=None)
@given(case=_numeric_case())
def test_numeric_round_trips(case: tuple[TypeMod, decimal.Decimal]) -> None:
    mod, value = case
    brought = coercer(mod, explicit=False)(value)
    assert brought == value and coercer(mod, explicit=True)(brought) == brought
    assert parse_numeric(wire.format_numeric(brought)) == brought
    text, binary = _wire_round_trip(brought, wire.NUMERIC, mod.pg_typmod)
    assert text == brought and binary == brought
    assert str(binary) == str(brought) or brought.is_zero()  # the display scale survives the binary form
    assert _stored(brought) == brought


@settings(max_examples=300, deadline=None)
@given(text=hs.text(alphabet="ab \u00e9", max_size=8), length=hs.integers(1, 6), bpchar=hs.booleans())
def test_character_types_round_trip(text: str, length: int, bpchar: bool) -> None:
    mod = TypeMod(ModKind.BPCHAR if bpchar else ModKind.VARCHAR, length)
    try:
        stored = coercer(mod, explicit=False)(text)
    except errors.SteadyError as exc:
        assert exc.sqlstate == "22001" and len(text.rstrip(" ")) > length
        stored = coercer(mod, explicit=True)(text)  # an explicit cast truncates instead
        assert len(stored) <= length
    assert coercer(mod, explicit=False)(stored) == stored
    oid = wire.BPCHAR if bpchar else wire.VARCHAR
    shown, shown_binary = _wire_round_trip(stored, oid, mod.pg_typmod)
    if bpchar:  # stored without its padding, shown padded to the length, as PostgreSQL shows char(n)
        assert shown == shown_binary == stored.ljust(length) and len(shown) == length  # type: ignore[arg-type]
        assert coercer(mod, explicit=False)(shown) == stored
    else:
        assert shown == shown_binary == stored
    assert _stored(stored) == stored


@settings(max_examples=300, deadline=None)
@given(value=hs.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
       precision=hs.integers(0, 6))
def test_timestamps_round_trip(value: dt.datetime, precision: int) -> None:
    mod = TypeMod(ModKind.TIMESTAMP, precision)
    brought = coercer(mod, explicit=False)(value)
    assert brought.microsecond % 10 ** (6 - precision) == 0 and abs(brought - value) <= dt.timedelta(
        microseconds=10 ** (6 - precision) // 2)
    assert coercer(mod, explicit=False)(brought) == brought
    assert parse_timestamp(wire.format_timestamp(brought)) == brought
    assert _wire_round_trip(brought, wire.TIMESTAMP, mod.pg_typmod) == (brought, brought)
    assert _stored(brought) == brought
