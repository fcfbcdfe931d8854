"""Result rows as Arrow record batches: how a peek's answer travels from a replica to the coordinator and on to pgwire.

A replica turns each chunk of a peek's rows into one Arrow record batch (:func:`encode_ipc`, an Arrow IPC stream)
a column at a time: the column's values are taken out of the rows and converted by Arrow in C.  Each column gets
the Arrow type of its datums' Python type, only where the round trip is exact (:data:`ARROW_KINDS`):

==============================  ==========================================================================
datums (NULLs aside)            Arrow type
==============================  ==========================================================================
``int`` (within int64)          ``int64``
``float``                       ``float64`` (NaN, infinities and ``-0.0`` survive)
``str``                         ``large_string``
``bool``                        ``bool``
``bytes`` (bytea)               ``large_binary``
``Decimal``, finite, one        ``decimal128(38, scale)``: every value of the column has the same exponent
exponent ≤ 0, ≤ 38 digits       (so each keeps its scale: ``1.50`` stays ``1.50``)
naive ``datetime``              ``timestamp[us]``
``datetime`` in UTC             ``timestamp[us, tz=UTC]`` (timestamptz)
``date``                        ``date32``
naive ``time``                  ``time64[us]``
only NULLs                      ``null``
==============================  ==========================================================================

Any other column (intervals, jsonb, uuids, arrays, numerics of mixed scales or NaN, mixed Python types) is a
``large_binary`` column of each value's ``repr.codec`` encoding, marked in its field's metadata (:data:`CODEC`).  A
chunk with no columns, or whose rows are not all of one length, is not a record batch (:func:`encode_ipc` answers
``None``; the replica sends it as codec rows).

A result the coordinator streams to the client as it arrives is an :class:`ArrowStream`: the controller pushes each
chunk's parts as the replica sends them, and pgwire takes them a part at a time (:meth:`ArrowStream.iter_parts`)
while later chunks are still on their way.

The coordinator keeps the batches as they arrived (:func:`decode_ipc` reads them without copying) in an
:class:`ArrowRows`, a sequence of rows that builds Python tuples only when someone iterates it (a cursor, COPY, an
``INSERT ... SELECT``); pgwire encodes its batches to DataRows column by column (``pgwire/arrow_encode.py``).
:func:`column_values` gives a column's datums exactly as the replica had them.
"""

from __future__ import annotations

import asyncio
import math
import time

import datetime as _dt
import decimal
from itertools import chain
from operator import itemgetter
from collections import deque
from typing import Any, AsyncIterator, Callable, Iterator, Sequence, TypeAlias, Union, overload

import pyarrow as pa
import pyarrow.ipc  # noqa: F401 - the submodule is used through the package

from steadystate.repr import Row, codec

#: Field metadata key marking a column of codec-encoded datums.
CODEC = b"steadystate.codec"
_CODEC_METADATA = {CODEC: b"1"}
_NONE = type(None)
_UTC = _dt.timezone.utc

#: Python type of a column's datums -> the Arrow type that holds them exactly (Decimal and datetime: see below)
ARROW_KINDS: dict[type, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    str: pa.large_string(),
    bool: pa.bool_(),
    bytes: pa.large_binary(),
    _dt.date: pa.date32(),
    _dt.time: pa.time64("us"),
}
TIMESTAMP = pa.timestamp("us")
TIMESTAMPTZ = pa.timestamp("us", tz="UTC")
_MAX_DECIMAL_DIGITS = 38


def _decimal_type(values: list[Any]) -> pa.DataType | None:
    """``decimal128(38, scale)`` when every (non-NULL) Decimal is finite with the first one's exponent (≤ 0); one with
    more than 38 digits makes Arrow's conversion fail (then: codec)."""
    first = next(value for value in values if value is not None)
    exponent = first.as_tuple().exponent
    if not isinstance(exponent, int) or exponent > 0:
        return None  # NaN, Infinity, or 1E+2
    same = first.same_quantum
    if not all(same(value) for value in values if value is not None):  # also false for NaN and Infinity
        return None
    return pa.decimal128(_MAX_DECIMAL_DIGITS, -exponent)


def _datetime_type(values: list[Any]) -> pa.DataType | None:
    zones = {value.tzinfo for value in values if value is not None}
    if zones == {None}:
        return TIMESTAMP
    if None not in zones and all(value.utcoffset() == _dt.timedelta(0) for value in values if value is not None):
        return TIMESTAMPTZ
    return None


def _time_type(values: list[Any]) -> pa.DataType | None:
    return ARROW_KINDS[_dt.time] if all(v is None or v.tzinfo is None for v in values) else None


def exact_arrow_type(values: list[Any], kind: type) -> pa.DataType | None:
    """The Arrow type holding ``values`` (datums of Python type ``kind``, or NULLs) exactly (see the module
    docstring's table), or ``None``."""
    if kind is decimal.Decimal:
        return _decimal_type(values)
    if kind is _dt.datetime:
        return _datetime_type(values)
    if kind is _dt.time:
        return _time_type(values)
    return ARROW_KINDS.get(kind)


def column_array(values: list[Any]) -> tuple[pa.Array, bool]:
    """One column's values as an Arrow array, and whether it holds codec encodings (see the module docstring)."""
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    arrow_type: pa.DataType | None = None
    if not kinds:
        return pa.nulls(len(values)), False
    if len(kinds) == 1:
        arrow_type = exact_arrow_type(values, next(iter(kinds)))
    if arrow_type is not None:
        try:
            return pa.array(values, arrow_type), False
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            pass  # an int beyond int64, say: codec
    encode = codec.encode_value
    return pa.array([None if v is None else encode(v) for v in values], pa.large_binary()), True


def rows_to_batch(rows: Sequence[Row]) -> pa.RecordBatch | None:
    """The rows as one record batch, or ``None`` (no rows, no columns, or rows of different lengths)."""
    if not rows:
        return None
    arity = len(rows[0])
    if arity == 0 or set(map(len, rows)) != {arity}:
        return None
    arrays, fields = [], []
    for index in range(arity):
        try:
            array, is_codec = column_array(list(map(itemgetter(index), rows)))
        except (OverflowError, TypeError, ValueError):
            return None  # not even codec-encodable (an int past 2**64): the codec rows fail as they always did
        arrays.append(array)
        fields.append(pa.field(f"c{index}", array.type, metadata=_CODEC_METADATA if is_codec else None))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def encode_ipc(rows: Sequence[Row]) -> bytes | None:
    """The rows as an Arrow IPC stream of one record batch, or ``None`` (see :func:`rows_to_batch`)."""
    batch = rows_to_batch(rows)
    if batch is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def decode_ipc(blob: bytes) -> list[pa.RecordBatch]:
    """The record batches of an IPC stream (their buffers point into ``blob``: no copy)."""
    return list(pa.ipc.open_stream(pa.py_buffer(blob)))


def is_codec(field: pa.Field) -> bool:
    return bool(field.metadata) and CODEC in field.metadata


def column_values(array: pa.Array, field: pa.Field) -> list[Any]:
    """A column's datums, exactly as the replica's rows held them."""
    if is_codec(field):
        decode = codec.decode_value
        return [None if v is None else decode(v) for v in array.to_pylist()]
    if array.type == TIMESTAMPTZ:
        return [None if v is None else v.replace(tzinfo=_UTC) for v in array.cast(TIMESTAMP).to_pylist()]
    if pa.types.is_floating(array.type):  # a NaN is the one NaN rows hold (repr/numeric.py NAN's reason)
        return [v if v == v or v is None else math.nan for v in array.to_pylist()]
    return list(array.to_pylist())


def batch_rows(batch: pa.RecordBatch) -> list[Row]:
    """A record batch's rows as tuples."""
    columns = [column_values(batch.column(i), batch.schema.field(i)) for i in range(batch.num_columns)]
    return list(zip(*columns))


Part: TypeAlias = Union[pa.RecordBatch, list[Row]]


class ArrowRows(Sequence[Row]):
    """A result held as it arrived: record batches (and, where a chunk could not be one, lists of rows), in order.
    Iterating builds each part's tuples when it is reached; indexing builds them all once."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self.parts: list[Part] = [p for p in parts if len(p)]
        self._length = sum(len(p) for p in self.parts)
        self._rows: list[Row] | None = None

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Row]:
        if self._rows is not None:
            return iter(self._rows)
        return chain.from_iterable(batch_rows(p) if isinstance(p, pa.RecordBatch) else p for p in self.parts)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if self._rows is None:
            self._rows = list(self.__iter__())
        return self._rows[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, ArrowRows)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArrowRows({self._length} rows in {len(self.parts)} parts)"


class ArrowStream:
    """A result still arriving: its parts in order as the controller pushes them (:meth:`push`), then its end
    (:meth:`finish`) or an error (:meth:`fail`).  A reader takes them with :meth:`iter_parts` (or row by row,
    ``async for``); waiting past ``deadline`` (``time.monotonic()``) raises ``timeout_error()``.  Whoever stops
    reading early closes it (:meth:`close`, also when the reader is closed), which calls ``on_close`` once (the
    controller cancels the peek).  ``on_error`` is called when an error reaches the reader (the session fails its
    transaction block: the statement failed after it had begun sending rows)."""

    def __init__(self, deadline: float | None, timeout_error: Callable[[], BaseException],
                 on_close: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[list[Part] | BaseException | None] = asyncio.Queue()
        self._buffer: deque[Part] = deque()
        self.deadline = deadline
        self._timeout_error = timeout_error
        self._on_close: Callable[[], None] | None = on_close
        self.on_error: Callable[[], None] | None = None
        self._ended = False

    # -- the producer (the controller) ----------------------------------------------------------------

    def push(self, parts: list[Part]) -> None:
        self._queue.put_nowait(parts)

    def finish(self) -> None:
        self._queue.put_nowait(None)

    def fail(self, error: BaseException) -> None:
        self._queue.put_nowait(error)

    # -- the reader -------------------------------------------------------------------------------------

    async def next_part(self) -> Part | None:
        """The next non-empty part, or ``None`` at the end; raises the result's error."""
        while not self._buffer:
            if self._ended:
                return None
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            try:
                item = await asyncio.wait_for(self._queue.get(), remaining) if remaining is not None \
                    else await self._queue.get()
            except asyncio.TimeoutError:
                item = self._timeout_error()
            if item is None:
                self._ended = True
                self.close()
            elif isinstance(item, BaseException):
                self._ended = True
                self.close()
                if self.on_error is not None:
                    self.on_error()
                raise item
            else:
                self._buffer.extend(part for part in item if len(part))
        return self._buffer.popleft()

    async def iter_parts(self) -> AsyncIterator[Part]:
        try:
            while (part := await self.next_part()) is not None:
                yield part
        finally:
            self.close()

    async def _rows(self) -> AsyncIterator[Row]:
        async for part in self.iter_parts():
            for row in batch_rows(part) if isinstance(part, pa.RecordBatch) else part:
                yield row

    def __aiter__(self) -> AsyncIterator[Row]:
        return self._rows()

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __repr__(self) -> str:
        return f"ArrowStream({len(self._buffer)} parts at hand, ended={self._ended})"
