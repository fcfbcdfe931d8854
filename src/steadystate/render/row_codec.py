"""The encoding of an index arrangement's rows: ``repr.arrow_rows``' (a peek's batches), decoded faster.

An index arrangement keeps its rows as Arrow runs (``dataflow.arrangement_runs``) in exactly the encoding a peek's
record batches use (``repr.arrow_rows.rows_to_batch``), so a whole-index peek sends them as they are.  Reading rows
back — an importing dataflow's snapshot when its readers cannot take the runs as columns, a LIMIT, the keys a change
or a join looks up — decodes them a column at a time, each column converted by NumPy or Arrow in C where that gives
``arrow_rows.column_values``' exact values, then the columns zipped into rows:

* ``int64``: NumPy's ``tolist`` (Python ints, no per-value Arrow scalar), then ``None`` where a value is NULL;
* ``double``: NumPy's ``tolist``, then the NaNs (if any) replaced by the one NaN rows hold and the NULLs by ``None``
  (found by NumPy, so a column without them costs no Python loop);
* ``timestamp[us]`` (naive, or UTC: timestamptz): NumPy's ``datetime64[us]`` → ``datetime`` conversion, in C, when
  every value lies in ``datetime``'s range (else ``column_values``), timestamptz's then given UTC;
* ``decimal128(p, s)``: Arrow's cast to text (which keeps the scale: ``1.50``), then ``Decimal(text)``;
* strings whose values repeat (at most a quarter distinct) and numerics whose values repeat at all: through Arrow's
  dictionary, each distinct value converted once and shared by its rows (immutable values: sharing is what the row
  path's tuples may do too).  Sharing also saves hashing — a row snapshot is a dict of the decoded rows, and a fresh
  ``Decimal`` computes its hash (about 1 µs) where a shared one has it cached.

Every other column is ``column_values``'.  A property test compares the decoders on the same batches
(``tests/dataflow/test_arrangement_runs.py``, ``tests/render/test_row_codec_types.py``); a 1M-row snapshot of the
benchmarks' wide table decodes about three times faster than through ``column_values``.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steadystate.dataflow.collection import Row
from steadystate.repr import arrow_rows

_EPOCH = dt.datetime(1970, 1, 1)
_MIN_US = (dt.datetime.min - _EPOCH) // dt.timedelta(microseconds=1)
_MAX_US = (dt.datetime.max - _EPOCH) // dt.timedelta(microseconds=1)
_UTC = dt.timezone.utc
_SHARED_MIN = 4096  # below this many values a dictionary is not worth building


def _with_nulls(values: list[Any], array: pa.Array) -> list[Any]:
    """``values`` with ``None`` where ``array`` is NULL."""
    if array.null_count:
        for position in np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False)).tolist():
            values[position] = None
    return values


def _timestamps(array: pa.Array) -> list[Any] | None:
    micros = array.cast(pa.int64())
    bounds = pc.min_max(micros)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return [None] * len(array)
    if low < _MIN_US or high > _MAX_US:
        return None
    values = micros.fill_null(0).to_numpy().astype("datetime64[us]").tolist()
    if array.type.tz is not None:
        values = [value.replace(tzinfo=_UTC) for value in values]
    return _with_nulls(values, array)


def _floats(array: pa.Array) -> list[Any]:
    numbers = array.fill_null(0.0).to_numpy()
    values = numbers.tolist()
    nans = np.flatnonzero(np.isnan(numbers))
    for position in nans.tolist():  # the one NaN rows hold (``arrow_rows.column_values``)
        values[position] = math.nan
    return _with_nulls(values, array)


def _decimals(array: pa.Array) -> list[Any]:
    return [None if text is None else Decimal(text) for text in pc.cast(array, pa.string()).to_pylist()]


def _strings(array: pa.Array) -> list[Any]:
    return array.to_pylist()


def _shared(array: pa.Array, convert: Callable[[pa.Array], list[Any]], share: int) -> list[Any]:
    """``convert(array)``, through Arrow's dictionary when at most ``1/share`` of the values are distinct."""
    if len(array) >= _SHARED_MIN:
        encoded = pc.dictionary_encode(array)
        if len(encoded.dictionary) * share <= len(array):
            distinct = convert(encoded.dictionary)
            distinct.append(None)
            shared = np.empty(len(distinct), dtype=object)  # NumPy's take of objects: no Python call per value
            shared[:] = distinct
            return list(shared[encoded.indices.fill_null(len(distinct) - 1).to_numpy()].tolist())
    return convert(array)


def column_values(array: pa.Array, field: pa.Field) -> list[Any]:
    """``arrow_rows.column_values``' datums, converted faster (module docstring)."""
    if arrow_rows.is_codec(field):
        return arrow_rows.column_values(array, field)
    typ = array.type
    if typ == pa.int64():
        return _with_nulls(array.fill_null(0).to_numpy().tolist(), array)
    if pa.types.is_floating(typ):
        return _floats(array)
    if typ == arrow_rows.TIMESTAMP or typ == arrow_rows.TIMESTAMPTZ:
        values = _timestamps(array)
        if values is not None:
            return values
    elif pa.types.is_decimal(typ):
        return _shared(array, _decimals, 1)  # any repeat pays: a fresh Decimal's hash costs ~1 µs
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return _shared(array, _strings, 4)
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
