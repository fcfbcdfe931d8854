"""Vectorized DataRow encoding: a batch of result rows becomes the bytes of its DataRow messages in a few array passes.

Encoding one DataRow at a time costs a Python call per value plus a join per row (about 2 µs a row for three
columns), which is most of what a large ``SELECT`` costs the coordinator.  :func:`encode_data_rows` works a column
at a time instead:

1. each column's values (taken out of the rows with ``itemgetter``) become an Arrow binary array of their
   encodings and their lengths (``-1`` for NULL).  The common cases are done by Arrow/NumPy in C: integers in text
   format (an Arrow cast to string), text-like values (Arrow's UTF-8 conversion), booleans, and fixed-width binary
   integers and floats (big-endian NumPy casts).  Every other column — and any column whose values are not all of
   the expected Python type — takes the column's per-value :class:`ColumnEncoder` (the same functions the
   row-at-a-time path uses);
2. the messages are assembled by Arrow's ``binary_join_element_wise``: per row, a 7-byte header (``'D'``, the
   message length ``6 + Σ (4 + max(length, 0))``, the column count), then each column's 4-byte length and its
   bytes (nothing for NULL).  The joined array's data buffer is the messages back to back.  Neighbouring pieces of
   one width in every row are first laid side by side as NumPy records (:func:`join_rows`), so the join has fewer
   pieces to visit; COPY TO's lines (``arrow_encode.encode_copy_batch``) are assembled the same way.

The output is byte-for-byte what :func:`~steadystate.pgwire.wire.encode_data_row` produces row by row (a property
test checks it on generated rows of every type and format).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Sequence, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .values import BOOL, FLOAT4, FLOAT8, INT2, INT4, INT8, NAME, OID, TEXT, VARCHAR, Encoder

_TEXT_LIKE = frozenset({TEXT, VARCHAR, NAME})  # not bpchar: its encoder pads to the typmod
_TEXT_INTEGERS = frozenset({INT2, INT4, INT8, OID})
#: binary format, fixed width: OID -> (NumPy big-endian dtype, the Python types its values may have)
_BINARY_FIXED: dict[int, tuple[str, frozenset[type]]] = {
    INT2: (">i2", frozenset({int})),
    INT4: (">i4", frozenset({int})),
    INT8: (">i8", frozenset({int})),
    OID: (">u4", frozenset({int})),
    FLOAT4: (">f4", frozenset({float, int})),
    FLOAT8: (">f8", frozenset({float, int})),
}
_NONE = type(None)


@dataclass(frozen=True)
class ColumnEncoder:
    """How one result column is encoded: its type OID, its format code (0 text, 1 binary) and the per-value
    function (a value that is not NULL -> its bytes)."""

    oid: int
    format: int
    encode: Encoder
    time_zone: str = "UTC"  # the session's, which timestamptz text shows (the columnar path does UTC only)


Row = tuple[Any, ...]
Lengths: TypeAlias = np.ndarray  # one per row, -1 for NULL


def encode_data_rows(rows: Sequence[Row], columns: Sequence[ColumnEncoder]) -> bytes:
    """The DataRow messages of ``rows``, concatenated."""
    n = len(rows)
    if n == 0:
        return b""
    return assemble(n, [encode_column(column, list(map(itemgetter(index), rows)))
                        for index, column in enumerate(columns)])


def assemble(n: int, encoded: Sequence[tuple[Lengths, pa.Array]]) -> bytes:
    """The DataRow messages of ``n`` rows from each column's lengths (-1 for NULL) and bytes (step 2 above).

    A row's message is a run of pieces — the header, then each column's length and bytes.  Neighbouring pieces
    of one width in every row (the header, the lengths, a column without NULLs whose values are all as long: a
    binary integer, a text boolean) are laid side by side as one NumPy record, so Arrow's join has fewer pieces
    to visit per row; when every piece is fixed, the records are the messages."""
    if n == 0:
        return b""
    if not encoded:
        return b"D\x00\x00\x00\x06\x00\x00" * n
    message_sizes = np.full(n, 6, dtype=np.int64)  # the length field and the column count
    for lengths, _data in encoded:
        message_sizes += np.maximum(lengths, 0) + 4
    header = np.empty(n, dtype=_HEADER)
    header["type"] = ord("D")
    header["size"] = message_sizes
    header["columns"] = len(encoded)
    pieces: list[np.ndarray | pa.Array] = [header]
    for lengths, data in encoded:
        pieces.append(lengths.astype(">i4"))
        view = fixed_view(lengths, data)
        pieces.append(view if view is not None else pc.fill_null(data, _EMPTY) if data.null_count else data)
    return join_rows(n, pieces)


def fixed_view(lengths: Lengths, data: pa.Array) -> np.ndarray | None:
    """A binary array whose values are all as long (no NULL) as a NumPy array of that width over its buffer."""
    if not len(data) or data.null_count:
        return None
    width = int(lengths[0])
    if width < 0 or not (lengths == width).all():
        return None
    if not width:
        return np.empty(len(data), dtype=np.dtype([]))  # nothing (all empty): no bytes in any row
    start = int(np.frombuffer(data.buffers()[1], dtype=np.int64, count=1, offset=data.offset * 8)[0])
    return np.frombuffer(data.buffers()[2], dtype=np.dtype((np.void, width)), count=len(data), offset=start)


def join_rows(n: int, pieces: Sequence[np.ndarray | pa.Array]) -> bytes:
    """Row ``i`` of the output is piece 0's ``i``-th value, then piece 1's, ...: NumPy arrays are pieces of one
    width (laid side by side as records when they are neighbours), Arrow binary arrays the others (joined)."""
    parts: list[pa.Array] = []
    run: list[np.ndarray] = []
    for piece in pieces:
        if isinstance(piece, np.ndarray):
            if piece.dtype.itemsize:
                run.append(piece)
            continue
        if run:
            parts.append(fixed(_side_by_side(run)))
            run = []
        parts.append(piece)
    if run:
        records = _side_by_side(run)
        if not parts:
            return records.tobytes()
        parts.append(fixed(records))
    joined = pc.binary_join_element_wise(*parts, _EMPTY)
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64, count=n + 1, offset=joined.offset * 8)
    start, end = int(offsets[0]), int(offsets[-1])
    return joined.buffers()[2].slice(start, end - start).to_pybytes()


def _side_by_side(arrays: list[np.ndarray]) -> np.ndarray:
    """Fixed-width arrays of the same length as one array of records (each row's values back to back)."""
    if len(arrays) == 1:
        return arrays[0]
    records = np.empty(len(arrays[0]), dtype=[(f"f{i}", a.dtype) for i, a in enumerate(arrays)])
    for i, array in enumerate(arrays):
        records[f"f{i}"] = array
    return records


_EMPTY = pa.scalar(b"", pa.large_binary())
_HEADER = np.dtype([("type", "u1"), ("size", ">i4"), ("columns", ">i2")])


def fixed(values: np.ndarray, validity: pa.Buffer | None = None) -> pa.Array:
    """Fixed-width values (one NumPy element each) as a variable-width binary array (each element's bytes)."""
    width = values.dtype.itemsize
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values), [validity, pa.py_buffer(values)])
    return array.cast(pa.large_binary())


def encode_column(column: ColumnEncoder, values: list[Any]) -> tuple[Lengths, pa.Array]:
    """A column's lengths (-1 for NULL) and its values' bytes (a large binary array, NULL where the value is)."""
    types = set(map(type, values))
    types.discard(_NONE)
    try:
        if column.format == 0 or column.oid in _TEXT_LIKE:
            if column.oid in _TEXT_LIKE and types <= {str}:
                return variable(pa.array(values, pa.large_string()))
            if column.oid in _TEXT_INTEGERS and types <= {int}:
                return variable(pc.cast(pa.array(values, pa.int64()), pa.large_string()))
            if column.oid == BOOL and column.format == 0 and types <= {bool}:
                return _booleans(values, b"t", b"f")
        else:
            if column.oid == BOOL and types <= {bool}:
                return _booleans(values, b"\x01", b"\x00")
            fixed_type = _BINARY_FIXED.get(column.oid)
            if fixed_type is not None and types <= fixed_type[1]:
                return _fixed_width(values, fixed_type[0])
    except (pa.ArrowException, OverflowError):
        pass  # out of the vectorized types' range (say an integer past int64): value by value
    encode = column.encode
    return variable(pa.array([None if v is None else encode(v) for v in values], pa.large_binary()))


def variable(array: pa.Array) -> tuple[Lengths, pa.Array]:
    """Lengths (-1 for NULL) of a large string or binary array, and the array as binary."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array) + 1, offset=array.offset * 8)
    lengths = np.diff(offsets)
    if array.null_count:
        lengths = np.where(array.is_null().to_numpy(zero_copy_only=False), -1, lengths)
    return lengths, array.cast(pa.large_binary())


def _booleans(values: list[Any], true: bytes, false: bytes) -> tuple[Lengths, pa.Array]:
    array = pa.array(values, pa.bool_())
    data = pc.if_else(array, pa.scalar(true, pa.large_binary()), pa.scalar(false, pa.large_binary()))
    lengths = np.where(array.is_null().to_numpy(zero_copy_only=False), -1, 1) if array.null_count \
        else np.ones(len(values), dtype=np.int64)
    return lengths, data


def _fixed_width(values: list[Any], dtype: str) -> tuple[Lengths, pa.Array]:
    is_float = dtype[1] == "f"
    array = pa.array(values, pa.float64() if is_float else pa.int64())
    width = np.dtype(dtype).itemsize
    numbers = array.fill_null(0).to_numpy() if array.null_count else array.to_numpy()
    if numbers.size:  # struct refuses what does not fit (the value-by-value path raises it as before)
        info = np.finfo(np.dtype(dtype)) if is_float else np.iinfo(np.dtype(dtype))
        finite = numbers[np.isfinite(numbers)] if is_float else numbers
        if finite.size and (finite.min() < info.min or finite.max() > info.max):
            raise OverflowError("out of the binary type's range")
    if array.null_count:
        lengths = np.where(array.is_valid().to_numpy(zero_copy_only=False), width, -1)
        validity = array.buffers()[0] if array.offset == 0 else None
        data = fixed(numbers.astype(dtype), validity)
        if validity is None:
            data = pc.if_else(array.is_valid(), data, pa.scalar(None, pa.large_binary()))
    else:
        lengths = np.full(len(values), width, dtype=np.int64)
        data = fixed(numbers.astype(dtype))
    return lengths, data
