"""pgwire.batch: the vectorized DataRow encoder produces exactly the bytes of the row-at-a-time encoder, for
generated rows of every column type and both formats (including NULLs, integers past the vectorized range, and
values of an unexpected Python type, which take the value-by-value path)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from steadystate.pgwire import values as v
from steadystate.pgwire.batch import ColumnEncoder, encode_data_rows
from steadystate.pgwire.results import encoders_for
from steadystate.pgwire.wire import encode_data_row
from steadystate.adapter.client import Field

int2 = st.integers(-(2**15), 2**15 - 1)
int4 = st.integers(-(2**31), 2**31 - 1)
int8 = st.integers(-(2**63), 2**63 - 1)
floats = st.floats(allow_nan=False, width=64)
float4s = st.floats(allow_nan=False, width=32)
texts = st.text(max_size=12)
COLUMN_VALUES: dict[int, st.SearchStrategy[Any]] = {
    v.BOOL: st.booleans(),
    v.INT2: int2,
    v.INT4: int4,
    v.INT8: int8,
    v.OID: st.integers(0, 2**32 - 1),
    v.FLOAT4: float4s,
    v.FLOAT8: floats,
    v.NUMERIC: st.decimals(allow_nan=False, allow_infinity=False, places=3),
    v.TEXT: texts,
    v.VARCHAR: texts,
    v.NAME: texts,
    v.DATE: st.dates(),
    v.TIMESTAMP: st.datetimes(),
}
OIDS = sorted(COLUMN_VALUES)


def row_by_row(rows: list[tuple[Any, ...]], columns: list[ColumnEncoder]) -> bytes:
    return b"".join(
        encode_data_row([None if value is None else c.encode(value) for c, value in zip(columns, row)])
        for row in rows
    )


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[ColumnEncoder]]:
    oids = draw(st.lists(st.sampled_from(OIDS), min_size=0, max_size=5))
    formats = [draw(st.sampled_from([0, 1])) for _ in oids]
    fields = [Field(f"c{i}", oid, -1) for i, oid in enumerate(oids)]
    columns = encoders_for(fields, formats)
    n = draw(st.integers(0, 40))
    rows = [tuple(draw(st.one_of(st.none(), COLUMN_VALUES[oid])) for oid in oids) for _ in range(n)]
    return rows, columns


@settings(max_examples=300, deadline=None)
@given(batches())
def test_the_vectorized_encoder_writes_the_same_bytes(batch: tuple[list[tuple[Any, ...]], list[ColumnEncoder]]) -> None:
    rows, columns = batch
    assert encode_data_rows(rows, columns) == row_by_row(rows, columns)


def test_values_outside_the_vectorized_path_are_encoded_one_by_one() -> None:
    # an integer past int64 in a text column, a Decimal in an int8 column, a non-str in a text column
    columns = encoders_for([Field("a", v.INT8, -1), Field("b", v.TEXT, -1), Field("c", v.INT4, -1)], [0, 0, 0])
    rows = [(2**70, 5, decimal.Decimal("1.5")), (1, "x", None)]
    assert encode_data_rows(rows, columns) == row_by_row(rows, columns)
    # a binary int4 out of range fails as the row-at-a-time encoder fails
    binary = encoders_for([Field("a", v.INT4, -1)], [1])
    with pytest.raises(Exception) as vectorized:
        encode_data_rows([(2**40,)], binary)
    with pytest.raises(Exception) as one_by_one:
        row_by_row([(2**40,)], binary)
    assert type(vectorized.value) is type(one_by_one.value)


def test_a_large_batch() -> None:
    columns = encoders_for([Field("k", v.INT4, -1), Field("s", v.TEXT, -1), Field("t", v.TIMESTAMP, -1)], [0, 0, 1])
    rows = [(k, f"name-{k}" if k % 7 else None, dt.datetime(2024, 1, 1) + dt.timedelta(seconds=k))
            for k in range(20_000)]
    assert encode_data_rows(rows, columns) == row_by_row(rows, columns)
