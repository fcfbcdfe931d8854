"""How a replica shapes a peek's answer: point lookups, chunks, and ``max_result_size``.

* :func:`point_key` finds the index key a peek's predicates pin to one value, so the replica looks it up in the
  arrangement instead of scanning it;
* :func:`table_chunks` does the same for a result that is already an Arrow table (``compute.index_snapshot``):
  slices of about :data:`CHUNK_BYTES`, each an IPC stream, no Python step per row;
* :func:`stream_chunks` encodes a result in chunks of about :data:`CHUNK_BYTES` (``PeekResponse.partial``) — each
  an Arrow record batch (``repr.arrow_rows``) when the peek asks for Arrow, else codec rows — giving each out as
  the next is built (``compute.state`` sends it at once: the coordinator encodes the first rows for the client
  while the replica builds the rest), checking the evaluation guard (cancel, memory) between chunks and stopping
  as soon as the result passes the peek's ``max_result_size`` (53000, :func:`result_too_large`, worded as
  Materialize words it); :func:`chunked` is all of them as a list;
* :func:`mapped` runs a shard snapshot through a peek's map/filter/project;
* :func:`finished` applies the peek's finishing (ORDER BY, OFFSET, LIMIT, projection: ``expr.finishing``), so only
  the rows the client asked for are encoded, counted against ``max_result_size`` and sent.

``compute.state`` owns when a peek is answered; this module only how.
"""

from __future__ import annotations

from itertools import islice

import pyarrow as pa
import pyarrow.ipc  # noqa: F401 - the submodule is used through the package
from typing import Callable, Iterable, Iterator

from steadystate.dataflow import guard
from steadystate.errors import InsufficientResources, SteadyError
from steadystate.expr.finishing import finish, is_trivial
from steadystate.expr.ir import CallBinary, ColumnRef, Literal, MapFilterProject, RowSetFinishing
from steadystate.protocol import messages as m
from steadystate.repr import arrow_rows, codec

#: A peek's result travels in chunks of about this many bytes of encoded rows (``PeekResponse.partial``).
CHUNK_BYTES = 1 << 20

def format_bytes(size: int) -> str:
    """A byte count as Materialize prints it in ``result exceeds max size of 100.0 MB`` (1024-based units)."""
    if size < 1024:
        return f"{size} B"
    value, unit = float(size), 0
    while value >= 1024 and unit < 6:
        value /= 1024
        unit += 1
    return f"{value:.1f} {'KMGTPE'[unit - 1]}B"


def result_too_large(limit: int) -> SteadyError:
    return InsufficientResources(
        f"result exceeds max size of {format_bytes(limit)}",
        hint="SET max_result_size to a larger value, or select fewer rows or columns",
    )


def point_key(export: m.IndexExport | None, mfp: MapFilterProject) -> tuple | None:
    """The index key a peek's predicates pin to one value (``key_col = literal`` for every key column of the
    matching type), so the peek can look it up instead of scanning the whole arrangement."""
    if export is None or not export.key:
        return None
    values = []
    for key_expr in export.key:
        if not isinstance(key_expr, ColumnRef):
            return None
        column_type = export.desc.columns[key_expr.index].type
        found = None
        for predicate in mfp.predicates:
            if isinstance(predicate, CallBinary) and predicate.func == "eq":
                for column, other in ((predicate.left, predicate.right), (predicate.right, predicate.left)):
                    if (isinstance(column, ColumnRef) and column.index == key_expr.index
                            and isinstance(other, Literal) and other.type is column_type and other.value is not None):
                        found = other.datum()
        if found is None:
            return None
        values.append(found)
    return tuple(values)


def mapped(snapshot: list[tuple[tuple, int]], apply: Callable[[tuple], tuple | None]) -> Iterator[tuple]:
    """A shard snapshot's rows through a peek's map/filter/project, repeated by multiplicity."""
    for row, diff in snapshot:
        result = apply(row)
        if result is not None:
            for _ in range(diff):
                yield result


def finished(rows: Iterable[tuple], finishing: RowSetFinishing) -> Iterable[tuple]:
    """The rows through the peek's finishing; a trivial finishing leaves the stream as it is (not materialized)."""
    if is_trivial(finishing):
        return rows
    return finish(rows, finishing)


def chunked(peek: m.Peek, rows: Iterable[tuple]) -> list[m.PeekResponse]:
    """:func:`stream_chunks`, all of them."""
    return list(stream_chunks(peek, rows))


def stream_chunks(peek: m.Peek, rows: Iterable[tuple]) -> Iterator[m.PeekResponse]:
    """Encode the result in chunks of about :data:`CHUNK_BYTES`, each given out as soon as the next one is built (the
    last one is final, ``partial=False``: one chunk is held back to know it), checking the guard and
    ``max_result_size`` between chunks; a batch never asks for many more rows than still fit under the limit, so a
    result is not built much past it.  Past the limit it raises after the chunks already given out: the caller
    sends the error as the final response."""
    limit = peek.max_result_size
    held: tuple[bytes, bool] | None = None  # (payload, is Arrow) of the chunk built last
    total, batch_rows = 0, 1024
    iterator = iter(rows)
    while True:
        batch = list(islice(iterator, batch_rows))
        if not batch and held is not None:
            break
        arrow = arrow_rows.encode_ipc(batch) if peek.arrow else None
        blob = arrow if arrow is not None else codec.encode_rows(batch)
        total += len(blob)
        if limit is not None and total > limit:
            raise result_too_large(limit)
        if held is not None:
            yield _response(peek, held, partial=True)
        held = (blob, arrow is not None)
        if len(batch) < batch_rows:
            break
        del batch
        guard.check()
        per_row = max(len(blob) // batch_rows, 1)
        batch_rows = max(16, min(1 << 20, CHUNK_BYTES // per_row))
        if limit is not None:  # never build much more than what still fits under the limit
            batch_rows = min(batch_rows, (limit - total) // per_row + 16)
    assert held is not None
    yield _response(peek, held, partial=False)


def _response(peek: m.Peek, chunk: tuple[bytes, bool], partial: bool) -> m.PeekResponse:
    blob, arrow = chunk
    return m.PeekResponse(peek.uuid, rows=None if arrow else blob, batches=blob if arrow else None, partial=partial)


def table_chunks(peek: m.Peek, table: pa.Table) -> list[m.PeekResponse]:
    """A result held as an Arrow table, in IPC chunks of about :data:`CHUNK_BYTES` (at least one chunk), checking the
    guard and ``max_result_size`` between chunks as :func:`chunked` does."""
    limit = peek.max_result_size
    per_row = max(table.nbytes // max(table.num_rows, 1), 1)
    step = max(16, min(1 << 20, CHUNK_BYTES // per_row))
    blobs: list[bytes] = []
    total = 0
    for start in range(0, max(table.num_rows, 1), step):
        piece = table.slice(start, step)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(piece)
        blob = bytes(sink.getvalue())
        total += len(blob)
        if limit is not None and total > limit:
            raise result_too_large(limit)
        blobs.append(blob)
        guard.check()
    last = len(blobs) - 1
    return [m.PeekResponse(peek.uuid, batches=blob, partial=i < last) for i, blob in enumerate(blobs)]
