"""The columnar path of a peek's result: rows -> Arrow IPC on the replica (``repr.arrow_rows``) -> DataRows from the
Arrow columns in the coordinator (``pgwire.arrow_encode``) writes exactly the bytes the per-value encoders write
row by row, for generated values of every type (NaN/Infinity floats and numerics, numerics of one and of mixed
scales, bytea, jsonb, uuid, arrays, date/time/timestamp/timestamptz in UTC and in another session zone, intervals,
NULLs, integers past int64) in text and binary format, and in ``COPY TO``'s text format; and the rows come back out
of the batches unchanged."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import Any

from hypothesis import given, settings, strategies as st

from steadystate.adapter.client import Field
from steadystate.pgwire import values as v
from steadystate.pgwire.arrow_encode import encode_batch, encode_copy_batch
from steadystate.pgwire.batch import ColumnEncoder
from steadystate.pgwire.results import copy_row_encoder, encoders_for
from steadystate.pgwire.wire import encode_data_row
from steadystate.repr import arrow_rows
from steadystate.repr.arrays import Array
from steadystate.repr.interval import Interval
from steadystate.repr.jsonb import parse_jsonb

INT4_ARRAY, TEXT_ARRAY = 1007, 1009
UTC = dt.timezone.utc

texts = st.text(max_size=12)
special_floats = st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 0.0])
numerics_any = st.one_of(st.decimals(places=2, allow_nan=False, allow_infinity=False),
                         st.sampled_from([decimal.Decimal("NaN"), decimal.Decimal("Infinity"),
                                          decimal.Decimal("-Infinity"), decimal.Decimal("1.5"),
                                          decimal.Decimal("-0.000"), decimal.Decimal(10) ** 40]))
timestamps_tz = st.datetimes(timezones=st.just(UTC))
jsonbs = st.sampled_from(['{"a": 1, "b": [true, null]}', '"x"', "3.50", "[]", "null"]).map(parse_jsonb)
intervals = st.builds(Interval, st.integers(-100, 100), st.integers(-100, 100), st.integers(-10**12, 10**12))


def one_nan(value: float) -> float:
    """Rows hold one NaN, ``math.nan`` (``arrow_rows.column_values`` gives it back for any NaN): not a -NaN."""
    return math.nan if value != value else value


def numerics_of_one_scale(places: int) -> st.SearchStrategy[decimal.Decimal]:
    return st.decimals(places=places, allow_nan=False, allow_infinity=False, min_value=-10**20, max_value=10**20)


#: column type oid -> the strategies of its datums (a column draws one of them for all its values, or mixes them)
COLUMN_VALUES: dict[int, list[st.SearchStrategy[Any]]] = {
    v.BOOL: [st.booleans()],
    v.INT2: [st.integers(-(2**15), 2**15 - 1)],
    v.INT4: [st.integers(-(2**31), 2**31 - 1)],
    v.INT8: [st.integers(-(2**63), 2**63 - 1), st.integers(2**63, 2**64 - 1)],
    v.OID: [st.integers(0, 2**32 - 1)],
    v.FLOAT4: [st.floats(width=32).map(one_nan), special_floats],
    v.FLOAT8: [st.floats().map(one_nan), special_floats, st.integers(-5, 5),
               st.floats(min_value=1e-5, max_value=1e11).map(lambda f: f * (1 if int(f * 1e6) % 2 else -1))],
    v.NUMERIC: [numerics_of_one_scale(0), numerics_of_one_scale(2), numerics_of_one_scale(7), numerics_of_one_scale(15),
                numerics_of_one_scale(3).map(lambda d: d.scaleb(-14)), numerics_any,
                st.integers(-10**30, 10**30)],
    v.TEXT: [texts],
    v.VARCHAR: [texts],
    v.NAME: [texts],
    v.BPCHAR: [texts],
    v.BYTEA: [st.binary(max_size=8)],
    v.JSONB: [jsonbs],
    v.UUID: [st.uuids()],
    v.DATE: [st.dates()],
    v.TIME: [st.times()],
    v.TIMESTAMP: [st.datetimes()],
    v.TIMESTAMPTZ: [timestamps_tz],
    v.INTERVAL: [intervals],
    INT4_ARRAY: [st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), max_size=3).map(Array)],
    TEXT_ARRAY: [st.lists(texts, max_size=3).map(Array)],
}
OIDS = sorted(COLUMN_VALUES)


def row_by_row(rows: list[tuple[Any, ...]], columns: list[ColumnEncoder]) -> bytes:
    return b"".join(
        encode_data_row([None if value is None else c.encode(value) for c, value in zip(columns, row)])
        for row in rows)


def through_arrow(rows: list[tuple[Any, ...]]) -> list[Any]:
    """What the coordinator holds after the replica sent ``rows``: record batches (or the rows, for a chunk that
    cannot be one)."""
    blob = arrow_rows.encode_ipc(rows)
    return [rows] if blob is None else arrow_rows.decode_ipc(blob)


def encode_parts(parts: list[Any], columns: list[ColumnEncoder]) -> bytes:
    from steadystate.pgwire.batch import encode_data_rows

    return b"".join(encode_data_rows(p, columns) if isinstance(p, list) else encode_batch(p, columns) for p in parts)


@st.composite
def results(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[ColumnEncoder]]:
    oids = draw(st.lists(st.sampled_from(OIDS), min_size=1, max_size=4))
    formats = [draw(st.sampled_from([0, 1])) for _ in oids]
    zone = draw(st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]))
    fields = [Field(f"c{i}", oid, 9 if oid == v.BPCHAR else -1) for i, oid in enumerate(oids)]
    columns = encoders_for(fields, formats, zone)
    values = []
    for oid in oids:
        choices = COLUMN_VALUES[oid]
        values.append(draw(st.sampled_from(choices)) if draw(st.booleans()) else st.one_of(*choices))
    n = draw(st.integers(1, 30))
    rows = [tuple(draw(st.one_of(st.none(), strategy)) for strategy in values) for _ in range(n)]
    return rows, columns


def encodable(rows: list[tuple[Any, ...]], columns: list[ColumnEncoder]) -> bool:
    """Whether the per-value encoders take these values (a binary int4 beyond its range fails either way)."""
    try:
        row_by_row(rows, columns)
    except (OverflowError, ValueError, TypeError, decimal.InvalidOperation, __import__("struct").error):
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(results())
def test_the_columnar_encoding_writes_the_per_value_bytes(result: tuple[list[tuple[Any, ...]],
                                                                    list[ColumnEncoder]]) -> None:
    rows, columns = result
    parts = through_arrow(rows)
    if not encodable(rows, columns):
        return
    assert encode_parts(parts, columns) == row_by_row(rows, columns)


def comparable(value: Any) -> Any:
    """NaN equal to itself; numeric zero without a sign (numeric has no negative zero: its encoders drop it)."""
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, decimal.Decimal) and value.is_nan():
        return "NaN"
    if isinstance(value, decimal.Decimal) and value.is_zero():
        return value.copy_abs()
    return value


@settings(max_examples=200, deadline=None)
@given(results())
def test_rows_come_back_unchanged(result: tuple[list[tuple[Any, ...]], list[ColumnEncoder]]) -> None:
    rows, _columns = result
    back = list(arrow_rows.ArrowRows(through_arrow(rows)))
    assert [tuple(map(comparable, row)) for row in back] == [tuple(map(comparable, row)) for row in rows]
    for original, returned in zip(rows, back):  # the same Python types too (a timestamptz stays aware, in UTC)
        assert [type(x) for x in original] == [type(x) for x in returned]
        for x, y in zip(original, returned):
            if isinstance(x, dt.datetime):
                assert (x.tzinfo is None) == (y.tzinfo is None)
            if isinstance(x, decimal.Decimal) and x.is_finite() and not x.is_zero():
                assert str(x) == str(y)  # the scale survives


def test_column_kinds() -> None:
    rows = [(1, "a", decimal.Decimal("1.50"), dt.datetime(2024, 1, 1, 0, 0, 0, 500), dt.datetime(2024, 1, 1, tzinfo=UTC),
             True, 2.5, b"\x00", dt.date(2024, 1, 1), dt.time(1, 2), None, uuid.UUID(int=5),
             decimal.Decimal("1.5"))]
    rows.append((2, "b", decimal.Decimal("2.25"), None, None, False, None, None, None, None, None, None,
                 decimal.Decimal("1.50")))
    (batch,) = arrow_rows.decode_ipc(arrow_rows.encode_ipc(rows) or b"")
    kinds = [str(f.type) for f in batch.schema]
    assert kinds == ["int64", "large_string", "decimal128(38, 2)", "timestamp[us]", "timestamp[us, tz=UTC]", "bool",
                     "double", "large_binary", "date32[day]", "time64[us]", "null", "large_binary", "large_binary"]
    assert [arrow_rows.is_codec(f) for f in batch.schema][-2:] == [True, True]  # a uuid; numerics of two scales
    assert list(arrow_rows.ArrowRows([batch])) == rows


def test_no_record_batch_without_columns_or_of_ragged_rows() -> None:
    assert arrow_rows.encode_ipc([(), ()]) is None
    assert arrow_rows.encode_ipc([(1,), (1, 2)]) is None
    assert arrow_rows.encode_ipc([]) is None


def test_a_large_batch_in_every_format() -> None:
    base = dt.datetime(2024, 1, 1)
    rows = [(k, f"name-{k}" if k % 7 else None, decimal.Decimal(k).scaleb(-2), base + dt.timedelta(microseconds=k * 7919),
             (base + dt.timedelta(seconds=k)).replace(tzinfo=UTC), k % 3 == 0, dt.date(2000, 1, 1) + dt.timedelta(k))
            for k in range(20_000)]
    fields = [Field(name, oid, -1) for name, oid in (("k", v.INT8), ("s", v.TEXT), ("n", v.NUMERIC),
                                                     ("t", v.TIMESTAMP), ("tz", v.TIMESTAMPTZ), ("b", v.BOOL),
                                                     ("d", v.DATE))]
    for formats in ([0], [1]):
        columns = encoders_for(fields, formats)
        assert encode_parts(through_arrow(rows), columns) == row_by_row(rows, columns)


def test_float8_text_at_the_edges_of_arrows_plain_range() -> None:
    """Around 1e-4 and 1e10, where the float8 text column switches between Arrow's digits and the per-value ones."""
    import math
    edges = [1e-4, 1e10, 1e15, 1e-5]
    values = [x for e in edges for x in (e, math.nextafter(e, 0), math.nextafter(e, math.inf))]
    values += [-x for x in values] + [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    rows = [(x,) if i % 5 else (None,) for i, x in enumerate(values)] + [(x,) for x in values]
    for formats in ([0], [1]):
        columns = encoders_for([Field("f", v.FLOAT8, -1)], formats)
        assert encode_parts(through_arrow(rows), columns) == row_by_row(rows, columns)


@settings(max_examples=300, deadline=None)
@given(results())
def test_copy_to_from_arrow_writes_the_per_row_bytes(result: tuple[list[tuple[Any, ...]],
                                                                   list[ColumnEncoder]]) -> None:
    rows, columns = result
    fields = [Field(f"c{i}", c.oid, 9 if c.oid == v.BPCHAR else -1) for i, c in enumerate(columns)]
    zone = columns[0].time_zone
    encode = copy_row_encoder(fields, zone)
    try:
        expected = b"".join(map(encode, rows))
    except (OverflowError, ValueError, TypeError, decimal.InvalidOperation):
        return
    parts = through_arrow(rows)
    text = encoders_for(fields, [0], zone)
    assert b"".join(b"".join(map(encode, p)) if isinstance(p, list) else encode_copy_batch(p, text)
                    for p in parts) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 20).flatmap(lambda scale: st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1).map(
    lambda unscaled: decimal.Decimal(unscaled).scaleb(-scale))), min_size=1, max_size=30)), st.sampled_from([0, 1]))
def test_numerics_of_one_scale_in_both_formats(values: list[decimal.Decimal | None], format_code: int) -> None:
    rows = [(value,) for value in values]
    columns = encoders_for([Field("n", v.NUMERIC, -1)], [format_code])
    assert encode_parts(through_arrow(rows), columns) == row_by_row(rows, columns)


#: columns whose values all have one width when none is NULL (in binary format; booleans and the equal-length
#: strings in text too): the messages' pieces are laid side by side as NumPy records instead of joined
FIXED_WIDTH: dict[int, st.SearchStrategy[Any]] = {
    v.BOOL: st.booleans(),
    v.INT2: st.integers(-(2**15), 2**15 - 1),
    v.INT4: st.integers(-(2**31), 2**31 - 1),
    v.INT8: st.integers(-(2**63), 2**63 - 1),
    v.FLOAT8: st.floats().map(one_nan),
    v.DATE: st.dates(),
    v.TIMESTAMP: st.datetimes(),
    v.TEXT: st.text(alphabet="ab\t\\", min_size=3, max_size=3),
}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(FIXED_WIDTH)), st.sampled_from([0, 1]), st.booleans()),
                min_size=1, max_size=5).flatmap(
    lambda spec: st.tuples(st.just(spec), st.lists(st.tuples(*[
        st.one_of(st.none(), FIXED_WIDTH[oid]) if nullable else FIXED_WIDTH[oid] for oid, _f, nullable in spec]),
        min_size=1, max_size=40))))
def test_columns_of_one_width_laid_side_by_side_write_the_per_value_bytes(
        case: tuple[list[tuple[int, int, bool]], list[tuple[Any, ...]]]) -> None:
    """DataRows and COPY lines whose pieces are mostly of one width (no NULL): the records NumPy lays side by side
    are the bytes the per-value encoders write row by row."""
    spec, rows = case
    fields = [Field(f"c{i}", oid, -1) for i, (oid, _f, _n) in enumerate(spec)]
    columns = encoders_for(fields, [f for _o, f, _n in spec])
    parts = through_arrow(rows)
    assert encode_parts(parts, columns) == row_by_row(rows, columns)
    encode = copy_row_encoder(fields, "UTC")
    text = encoders_for(fields, [0])
    assert b"".join(b"".join(map(encode, p)) if isinstance(p, list) else encode_copy_batch(p, text)
                    for p in parts) == b"".join(map(encode, rows))
