"""Columnar update batches: large insert-only batches stored as Arrow IPC, so a snapshot can be read without rows.

A batch of ``(row, time, 1)`` updates all at one time — what a load (``COPY``) or a large ``INSERT`` writes — whose
columns each hold one Python type among ``int``, ``float``, ``str``, ``bool`` (and NULLs) is encoded by
:func:`encode_columnar` as ``MAGIC (8 bytes) + time (8 bytes) + an Arrow IPC stream`` with columns ``c0 … cN``.  Every other
batch stays msgpack (``repr.codec``).  :func:`repr.codec.decode_updates` decodes both, so readers that want rows
never know; a reader that can use columns (the fused join-accumulate's snapshot, ``dataflow.join_accumulate``)
takes :func:`decode_columnar`'s Arrow table instead and never builds a Python object per row.

Round trips are exact: Arrow's int64/float64/string/bool hold those Python values unchanged (an int column is stored
as the narrowest of int8 … int64 that holds its values), and numerics, dates, times and timestamps take the types a
peek gives them (``repr.arrow_rows``: ``decimal128(38, s)`` when every value of the column has one exponent,
``date32``, ``time64[us]``, ``timestamp[us]``, ``timestamp[us, tz=UTC]``), which hand the same values back
(:func:`python_values`).  A column of mixed types (``1`` and ``2.5``, ``1`` and ``True``), an int beyond int64, a
NaN, a numeric of mixed exponents or ``-0``, an aware ``datetime`` whose ``tzinfo`` is not ``timezone.utc``, or any
other type makes the batch msgpack.  pyarrow is imported on first use.
"""

from __future__ import annotations

import gc
import struct
import datetime as _dt
from decimal import Decimal
from operator import itemgetter
from typing import Any, Iterator

MAGIC = b"\xc1SSA1\0\0\0"  # 0xc1 never starts msgpack; 8 bytes, so the Arrow stream after the time is aligned
MIN_UPDATES = 4096  # smaller batches are not worth a columnar form
_TYPES = {int: "int64", float: "float64", str: "string", bool: "bool_"}
_EXACT_KINDS = (Decimal, _dt.datetime, _dt.date, _dt.time)  # held as a peek's Arrow types (see ``_exact_array``)
_UTC = _dt.timezone.utc


def _pyarrow() -> Any:
    import pyarrow
    import pyarrow.ipc  # noqa: F401 - the submodule is used through the package

    return pyarrow


def encode_columnar(updates: list[tuple[tuple, int, int]], minimum: int | None = None) -> bytes | None:
    """The Arrow form of ``updates``, or ``None`` when the batch does not qualify (see the module docstring).

    The cyclic GC is paused meanwhile: the column lists are a million references, not garbage."""
    if len(updates) < (MIN_UPDATES if minimum is None else minimum):
        return None
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _encode(updates)
    finally:
        if enabled:
            gc.enable()


def _encode(updates: list[tuple[tuple, int, int]]) -> bytes | None:
    if set(map(itemgetter(2), updates)) != {1}:
        return None
    times = set(map(itemgetter(1), updates))
    if len(times) != 1:
        return None
    rows = list(map(itemgetter(0), updates))
    arity = len(rows[0])
    if arity == 0 or set(map(len, rows)) != {arity}:
        return None
    pa = _pyarrow()
    arrays = []
    for column in (list(map(itemgetter(i), rows)) for i in range(arity)):
        kinds = set(map(type, column))
        kinds.discard(type(None))
        if len(kinds) == 1 and next(iter(kinds)) in _EXACT_KINDS:
            exact = _exact_array(column, next(iter(kinds)))
            if exact is None:
                return None
            arrays.append(exact)
            continue
        if len(kinds) > 1 or (kinds and next(iter(kinds)) not in _TYPES):
            return None
        arrow_type = pa.null() if not kinds else getattr(pa, _TYPES[next(iter(kinds))])()
        try:
            array = pa.array(column, type=arrow_type)
        except (pa.ArrowException, OverflowError, TypeError):
            return None
        if kinds == {float} and pa.compute.any(pa.compute.is_nan(array)).as_py():
            return None  # NaNs travel in msgpack, which hands back the one NaN rows hold (repr/codec.py)
        arrays.append(narrowed(array))
    table = pa.table({f"c{i}": array for i, array in enumerate(arrays)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return MAGIC + struct.pack("<q", times.pop()) + sink.getvalue().to_pybytes()


def _exact_array(column: list[Any], kind: type) -> Any | None:
    """A column of numerics, dates, times or timestamps as the Arrow type a peek gives them
    (``repr.arrow_rows.exact_arrow_type``: ``decimal128(38, s)`` when every value has one exponent, ``date32``,
    ``time64[us]``, ``timestamp[us]``, ``timestamp[us, tz=UTC]``), or ``None`` when that would not hand back the same
    values: a ``timestamptz`` whose ``tzinfo`` is not ``timezone.utc`` (read back as that), a numeric ``-0`` (Arrow
    drops its sign)."""
    from steadystate.repr import arrow_rows

    arrow_type = arrow_rows.exact_arrow_type(column, kind)
    if arrow_type is None:
        return None
    if arrow_type == arrow_rows.TIMESTAMPTZ and any(v is not None and v.tzinfo is not _UTC for v in column):
        return None  # read back in UTC as ``timezone.utc``: only values that are so already
    if kind is Decimal and any(value.is_signed() and not value for value in column if value is not None):
        return None
    try:
        return _pyarrow().array(column, arrow_type)
    except (_pyarrow().ArrowException, OverflowError, TypeError, ValueError):
        return None  # a numeric of more than 38 digits


_NARROW_INTS = ((-(2**7), 2**7 - 1, "int8"), (-(2**15), 2**15 - 1, "int16"), (-(2**31), 2**31 - 1, "int32"))


def narrowed(array: Any) -> Any:
    """An int64 array as the narrowest integer type that holds its values: ids, foreign keys and amounts of a loaded
    table take a half to an eighth of the bytes to store and to read.  Readers see the narrow type (Arrow's sums of
    any integer type are int64, and ``to_pylist`` gives Python ints whatever the width)."""
    pa = _pyarrow()
    if array.type != pa.int64() or array.null_count == len(array):
        return array
    import pyarrow.compute as pc

    extremes = pc.min_max(array).as_py()
    for low, high, name in _NARROW_INTS:
        if low <= extremes["min"] and extremes["max"] <= high:
            return array.cast(getattr(pa, name)())
    return array


def is_columnar(blob: bytes | memoryview) -> bool:
    return blob[: len(MAGIC)] == MAGIC


def decode_columnar(blob: bytes | memoryview) -> tuple[int, Any]:
    """``(time, Arrow table)`` of a columnar batch (every row has diff 1)."""
    pa = _pyarrow()
    (time,) = struct.unpack_from("<q", blob, len(MAGIC))
    table = pa.ipc.open_stream(pa.py_buffer(blob)[len(MAGIC) + 8:]).read_all()
    return time, table


def python_values(column: Any) -> list[Any]:
    """A stored column's values as the Python datums they were encoded from (``to_pylist``'s values, built faster
    where pyarrow builds them one Python call at a time: ~3 µs per timestamp, date or time): timestamps and dates
    through NumPy's ``datetime64`` (in C), times and numerics through their text (``Decimal`` of Arrow's text keeps
    the exponent)."""
    pa = _pyarrow()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if kind == pa.timestamp("us") or kind == pa.date32():  # NULL is NaT, which becomes None
        return list(column.to_numpy(zero_copy_only=False).astype(object).tolist())
    if kind == pa.timestamp("us", tz="UTC"):  # the instants, naive, then in UTC as the row path holds them
        return [None if v is None else v.replace(tzinfo=_UTC)
                for v in column.to_numpy(zero_copy_only=False).astype(object).tolist()]
    if kind == pa.time64("us") or pa.types.is_decimal(kind):
        parse = _dt.time.fromisoformat if kind == pa.time64("us") else Decimal
        return [None if text is None else parse(text) for text in column.cast(pa.string()).to_pylist()]
    return list(column.to_pylist())


def table_rows(table: Any) -> Iterator[tuple]:
    """A stored table's rows, exactly as they were encoded."""
    return zip(*(python_values(column) for column in table.columns))


def columnar_rows(blob: bytes | memoryview) -> Iterator[tuple]:
    """The batch's rows (each occurrence one insertion at the batch's time), exactly as they were encoded."""
    _time, table = decode_columnar(blob)
    return table_rows(table)


def columnar_updates(blob: bytes | memoryview) -> list[tuple[tuple, int, int]]:
    """The batch as ``(row, time, 1)`` updates, exactly as they were encoded."""
    time, table = decode_columnar(blob)
    return [(row, time, 1) for row in table_rows(table)]


__all__ = ["MAGIC", "MIN_UPDATES", "columnar_rows", "columnar_updates", "decode_columnar", "encode_columnar",
           "is_columnar", "narrowed", "python_values", "table_rows"]
