"""Turning outcome rows into protocol bytes: DataRow streams (with portal row limits) and COPY TO STDOUT.

A :class:`RowStream` wraps the rows of a :class:`~steadystate.adapter.client.RowsOutcome` — a plain
iterable or an async iterator — plus one encoder per column, and sends up to ``limit`` DataRows per
:meth:`RowStream.pump` call, so a portal can be suspended and resumed.  :func:`copy_out_rows` streams a
:class:`~steadystate.adapter.client.CopyOutOutcome` as one CopyData per row, text format.

Both are sans-I/O steps (see :mod:`~steadystate.pgwire.effects`): they write through an :class:`Output`
(the conversation's buffered writer), yield its flushes, take the rows of an asynchronous iterator one
:class:`~steadystate.pgwire.effects.NextRow` at a time (so a result of any size, or a SUBSCRIBE that never
ends, streams out without being held), and close the iterator they were given when they finish or are
abandoned.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, AsyncIterable, AsyncIterator, Iterable, Iterator, Protocol, Sequence

from steadystate.adapter.client import Field
from .copy_format import escape_text_field
from .effects import END, CloseIterator, NextRow, Steps
from steadystate.repr.arrow_rows import ArrowRows, ArrowStream, Part
from .arrow_encode import encode_batch, encode_copy_batch
from .batch import ColumnEncoder, encode_data_rows
from .values import column_encoder, text_formatter, zoned_text_formatter
from .wire import encode_copy_data, encode_data_row

#: Tags whose count pgwire appends (PostgreSQL's "SELECT n").
COUNTED_TAGS = frozenset({"SELECT", "FETCH", "MOVE", "COPY"})


class Output(Protocol):
    """The conversation's buffered writer: ``write`` buffers, ``flush`` is a step yielding one Send."""

    def write(self, data: bytes) -> None: ...

    def write_bulk(self, data: bytes) -> None:
        """Whole DataRow/CopyData messages (``Conversation`` may announce them to the proxy)."""

    @property
    def pending(self) -> int: ...

    def flush(self) -> Steps[None]: ...


FLUSH_THRESHOLD = 64 * 1024


def completed_tag(tag: str, count: int) -> str:
    """The CommandComplete tag: a bare counted keyword gets the number of rows."""
    return f"{tag} {count}" if tag in COUNTED_TAGS else tag


def encoders_for(fields: Sequence[Field], formats: Sequence[int], time_zone: str = "UTC") -> list[ColumnEncoder]:
    """One encoder per column; ``formats`` is the Bind list (empty = text, one code = all columns); timestamptz
    text shows the session's ``time_zone``."""
    if not formats:
        codes = [0] * len(fields)
    elif len(formats) == 1:
        codes = [formats[0]] * len(fields)
    else:
        codes = list(formats)
    return [ColumnEncoder(field.type_oid, code, column_encoder(field.type_oid, code, field.type_modifier, time_zone),
                          time_zone) for field, code in zip(fields, codes)]


#: Rows encoded together (``batch.encode_data_rows``) when the rows are at hand (not a SUBSCRIBE's stream).
BATCH_ROWS = 4096
#: Rows of a record batch encoded together (Arrow kernels over whole columns: fewer, longer calls pay less overhead).
ARROW_BATCH_ROWS = 16384


class RowStream:
    """The rows of one result, sent as DataRows in portions."""

    def __init__(self, rows: Iterable[tuple] | AsyncIterator[tuple] | AsyncIterable[tuple],
                 encoders: list[ColumnEncoder]) -> None:
        self._async: AsyncIterator[tuple] | None = None
        self._sync: Iterator[tuple] | None = None
        self._parts: list[Part] | None = None  # an ArrowRows' parts not sent yet (the first one maybe in part)
        self._more_parts: AsyncIterator[Part] | None = None  # an ArrowStream's parts still arriving
        if isinstance(rows, ArrowRows):
            self._parts = list(rows.parts)
        elif isinstance(rows, ArrowStream):
            self._parts = []
            self._more_parts = rows.iter_parts()
        elif hasattr(rows, "__aiter__"):
            self._async = rows.__aiter__()  # type: ignore[union-attr]
        else:
            self._sync = iter(rows)  # type: ignore[arg-type]
        self._encoders = encoders
        self.count = 0
        self.done = False

    @property
    def is_async(self) -> bool:
        return self._async is not None or self._more_parts is not None

    def _encode(self, row: Sequence[Any]) -> bytes:
        return encode_data_row([None if v is None else enc.encode(v) for enc, v in zip(self._encoders, row)])

    def pump(self, out: Output, limit: int = 0) -> Steps[bool]:
        """Send up to ``limit`` rows (0 = all); True when the rows are exhausted.

        Synchronous rows are flushed every :data:`FLUSH_THRESHOLD` bytes; before asking for each
        asynchronous row (which may take a while: SUBSCRIBE) everything written so far is flushed.
        """
        sent = 0
        if self._parts is not None:
            while self._parts or self._more_parts is not None:
                if not self._parts:  # the next part of a result still arriving (what is written goes out first)
                    assert self._more_parts is not None
                    if out.pending:
                        yield from out.flush()
                    arrived = yield NextRow(self._more_parts)
                    if arrived is END:
                        self._more_parts = None
                    else:
                        self._parts.append(arrived)
                    continue
                want = ARROW_BATCH_ROWS if not limit else min(ARROW_BATCH_ROWS, limit - sent)
                part = self._parts[0]
                if len(part) > want:
                    self._parts[0] = part[want:]
                    part = part[:want]
                else:
                    self._parts.pop(0)
                if isinstance(part, list):
                    out.write_bulk(encode_data_rows(part, self._encoders))
                else:
                    out.write_bulk(encode_batch(part, self._encoders))
                sent += len(part)
                if out.pending >= FLUSH_THRESHOLD:
                    yield from out.flush()
                if sent == limit:
                    self.count += sent
                    return False
        elif self._sync is not None:
            while True:  # in batches, each encoded at once
                want = BATCH_ROWS if not limit else min(BATCH_ROWS, limit - sent)
                batch = list(islice(self._sync, want))
                if batch:
                    out.write_bulk(encode_data_rows(batch, self._encoders))
                    sent += len(batch)
                if out.pending >= FLUSH_THRESHOLD:
                    yield from out.flush()
                if len(batch) < want:
                    break
                if sent == limit:
                    self.count += sent
                    return False
        else:
            assert self._async is not None
            while True:
                if out.pending:
                    yield from out.flush()
                row = yield NextRow(self._async)
                if row is END:
                    break
                out.write(self._encode(row))
                sent += 1
                if sent == limit:
                    self.count += sent
                    return False
        self.count += sent
        self.done = True
        yield from self.close()
        return True

    def close(self) -> Steps[None]:
        source: Any = self._async if self._async is not None else self._sync
        if self._more_parts is not None:
            source = self._more_parts
        self._async = self._sync = self._more_parts = None
        self._parts = None
        yield from close_iterator(source)


def close_iterator(source: Any) -> Steps[None]:
    """Close a row source: an asynchronous one through :class:`CloseIterator`, a generator directly."""
    if source is None:
        return
    if hasattr(source, "aclose"):
        yield CloseIterator(source)
        return
    close = getattr(source, "close", None)
    if close is not None:
        close()


def copy_row_encoder(fields: Sequence[Field], time_zone: str = "UTC") -> Any:
    """A function ``row -> CopyData message`` in PostgreSQL's text COPY format (timestamptz in ``time_zone``)."""
    formatters = [zoned_text_formatter(field.type_oid, time_zone) or text_formatter(field.type_oid, field.type_modifier)
                  for field in fields]

    def encode(row: Sequence[Any]) -> bytes:
        line = "\t".join(
            "\\N" if value is None else escape_text_field(formatter(value))
            for formatter, value in zip(formatters, row)
        )
        return encode_copy_data((line + "\n").encode())

    return encode


def copy_out_rows(out: Output, fields: Sequence[Field], rows: Iterable[tuple] | AsyncIterator[tuple] | AsyncIterable[tuple],
                  time_zone: str = "UTC") -> Steps[int]:
    """Send every row as CopyData; returns the count.  Closes ``rows`` however it ends."""
    encode = copy_row_encoder(fields, time_zone)
    count = 0
    closing: Any = rows  # what is closed at the end (an ArrowStream: the iterator of its parts)
    try:
        if isinstance(rows, (ArrowRows, ArrowStream)):  # a peek's result: a batch at a time, from its columns
            columns = encoders_for(fields, [0], time_zone)
            more = rows.iter_parts() if isinstance(rows, ArrowStream) else None
            parts = list(rows.parts) if isinstance(rows, ArrowRows) else []
            if more is not None:
                closing = more
            while parts or more is not None:
                if not parts:
                    assert more is not None
                    if out.pending:
                        yield from out.flush()
                    arrived = yield NextRow(more)
                    if arrived is END:
                        more = None
                    else:
                        parts.append(arrived)
                    continue
                part = parts.pop(0)
                for start in range(0, len(part), ARROW_BATCH_ROWS):
                    piece = part[start:start + ARROW_BATCH_ROWS]
                    if isinstance(piece, list):
                        out.write_bulk(b"".join(map(encode, piece)))
                    else:
                        out.write_bulk(encode_copy_batch(piece, columns))
                    count += len(piece)
                    if out.pending >= FLUSH_THRESHOLD:
                        yield from out.flush()
        elif hasattr(rows, "__aiter__"):
            iterator = rows.__aiter__()  # type: ignore[union-attr]
            closing = iterator
            while True:
                if out.pending:
                    yield from out.flush()
                row = yield NextRow(iterator)
                if row is END:
                    break
                out.write(encode(row))
                count += 1
        else:
            for row in rows:  # type: ignore[union-attr]
                out.write(encode(row))
                count += 1
                if out.pending >= FLUSH_THRESHOLD:
                    yield from out.flush()
    except Exception:
        yield from close_iterator(closing)
        raise
    yield from close_iterator(closing)
    return count
