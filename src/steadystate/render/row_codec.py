"""The encoding of an index arrangement's rows: ``repr.arrow_rows``' (a peek's batches), decoded faster.

An index arrangement keeps its rows as Arrow runs (``dataflow.arrangement_runs``) in exactly the encoding a peek's
record batches use (``repr.arrow_rows.rows_to_batch``), so a whole-index peek sends them as they are.  Reading rows
back — an importing dataflow's snapshot, a LIMIT, the keys a change or a join looks up — decodes them with
``arrow_rows.column_values``, whose conversions of timestamps and numerics go through pyarrow's ``to_pylist``, a
Python object built per value by a slow path (a 1M-row snapshot of the benchmarks' wide table took 4 s).
:class:`ArrowRowCodec` decodes those two kinds itself, to the same values:

* ``timestamp[us]`` (naive): NumPy's ``datetime64[us]`` → ``datetime`` conversion, in C, when every value lies in
  ``datetime``'s range (else ``column_values``);
* ``decimal128(p, s)``: Arrow's cast to text (which keeps the scale: ``1.50``), then ``Decimal(text)``.

Every other column is ``column_values``'.  A property test compares the decoders on the same batches
(``tests/dataflow/test_arrangement_runs.py``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from steadystate.dataflow.collection import Row
from steadystate.repr import arrow_rows

_EPOCH = dt.datetime(1970, 1, 1)
_MIN_US = (dt.datetime.min - _EPOCH) // dt.timedelta(microseconds=1)
_MAX_US = (dt.datetime.max - _EPOCH) // dt.timedelta(microseconds=1)


def _timestamps(array: pa.Array) -> list[Any] | None:
    bounds = pc.min_max(array.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return [None] * len(array)
    if low < _MIN_US or high > _MAX_US:
        return None
    values = array.cast(pa.int64()).fill_null(0).to_numpy().astype("datetime64[us]").tolist()
    if array.null_count:
        nulls = array.is_null().to_numpy(zero_copy_only=False)
        values = [None if null else value for value, null in zip(values, nulls)]
    return values


def _decimals(array: pa.Array) -> list[Any]:
    return [None if text is None else Decimal(text) for text in pc.cast(array, pa.string()).to_pylist()]


def column_values(array: pa.Array, field: pa.Field) -> list[Any]:
    """``arrow_rows.column_values``' datums, timestamps and numerics converted faster (module docstring)."""
    if not arrow_rows.is_codec(field):
        if array.type == arrow_rows.TIMESTAMP:
            values = _timestamps(array)
            if values is not None:
                return values
        elif pa.types.is_decimal(array.type):
            return _decimals(array)
    return arrow_rows.column_values(array, field)


class ArrowRowCodec:
    """An index arrangement's rows as the replica's peeks type them (a ``dataflow.arrangement_runs.RowCodec``)."""

    @staticmethod
    def encode(rows: Sequence[Row]) -> pa.RecordBatch | None:
        return arrow_rows.rows_to_batch(rows)

    @staticmethod
    def decode(batch: pa.RecordBatch) -> list[Row]:
        columns = [column_values(batch.column(i), batch.schema.field(i)) for i in range(batch.num_columns)]
        return list(zip(*columns))


ARROW_ROWS = ArrowRowCodec()

__all__ = ["ARROW_ROWS", "ArrowRowCodec", "column_values"]
