"""How a replica reads one source's snapshot at hydration: as Arrow columns wherever the dataflow can take them.

A table loaded with ``COPY`` is stored as Arrow batches (``repr.columnar``).  :func:`read_source` reads a source's
snapshot for the dataflow's first round in the cheapest form its first reader accepts:

1. **folded**: the source's only reader sums over its rows (a fused join-accumulate, an accumulating reduce):
   it folds the columns itself with Arrow's hash aggregation (``columnar_consumer``);
2. **premapped**: the source's only readers are a chain of maps/filters/projections that ``expr.arrow_eval``
   evaluates exactly: the chain's output is computed over the columns and consolidated, and only it becomes
   Python rows (``columnar_mapper``) — a filter that keeps a tenth of a table builds a tenth of the rows;
3. **rows**: the snapshot as ``{row: count}`` (``ShardStore.snapshot_counts``).

In 1 and 2 the snapshot's other batches (writes after the load) still go in as rows (``ColumnarSnapshot.rest``):
both folds are linear, so the split is exact.  If the columns hold a value the row path would turn into an error
(an overflow in a map), 2 gives up and the snapshot is read as rows, so the error is reported as the row path
reports it.  :func:`feed_source` hands what was read to the dataflow.

**In steps.**  A replica reads a snapshot across several ticks (``ComputeState``'s hydration budget): it
:func:`start_reading` (the stored batches are fetched at once, in one transaction), has the reader decode some
batches each tick (reporting how many updates it has read: ``HydrationProgress``), and :func:`finish_reading` once
every batch is decoded: the columns are folded or mapped then, in one piece, so the columnar paths stay as fast as
before; only decoding and counting (``Counter.update`` per batch) are spread out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from steadystate.render import RenderedDataflow
from steadystate.render.dataflow import ColumnarMapper
from steadystate.storage import ShardStore
from steadystate.storage.snapshot_reader import SnapshotReader

log = logging.getLogger("steadystate.compute")


@dataclass
class SourceRead:
    """One source's snapshot as read: rows (the rest, when a part was taken as columns) and the columnar part's
    form: ``folded`` by its consumer, or ``premapped`` through ``mapper``."""

    rows: dict[tuple[Any, ...], int]
    consumer: Any = None
    folded: Any = None
    mapper: ColumnarMapper | None = None
    premapped: dict[tuple[Any, ...], int] | None = None


@dataclass
class SourceReading:
    """One source's snapshot being read, a few stored batches per tick (``storage.snapshot_reader``), in the form
    its first reader takes (columns for a consumer or a mapper, else rows)."""

    source_id: str
    shard: str
    reader: SnapshotReader
    consumer: Any = None
    mapper: ColumnarMapper | None = None
    started: float = 0.0


def start_reading(store: ShardStore, rendered: RenderedDataflow, source_id: str, shard: str,
                  read_at: int) -> SourceReading:
    """Fetch the batches of the source's snapshot at ``read_at`` (one transaction); nothing is decoded yet."""
    consumer = rendered.columnar_consumer(source_id)
    mapper = rendered.columnar_mapper(source_id) if consumer is None else None
    reader = store.snapshot_reader(shard, read_at, columnar=consumer is not None or mapper is not None)
    return SourceReading(source_id, shard, reader, consumer, mapper, time.perf_counter())


def finish_reading(store: ShardStore, reading: SourceReading, debug_name: str) -> SourceRead:
    """What a source's snapshot, read to the end, gives the dataflow (the module docstring's three forms)."""
    reader, source_id = reading.reader, reading.source_id
    columnar = reader.columns()
    if columnar is not None:
        consumer, mapper = reading.consumer, reading.mapper
        if consumer is not None:
            folded = consumer.fold_columns(columnar.tables)
            if folded is not None:
                log.info("dataflow %s: snapshot of %s (%d rows, %d updates) read and folded as columns in %.1f ms",
                         debug_name, source_id, sum(t.num_rows for t in columnar.tables), len(columnar.rest),
                         (time.perf_counter() - reading.started) * 1e3)
                return SourceRead(columnar.rest, consumer=consumer, folded=folded)
        elif mapper is not None:
            premapped = mapper.apply(columnar.tables)
            if premapped is not None:
                log.info("dataflow %s: snapshot of %s (%d rows, %d updates) mapped as columns to %d rows in %.1f ms",
                         debug_name, source_id, sum(t.num_rows for t in columnar.tables), len(columnar.rest),
                         len(premapped), (time.perf_counter() - reading.started) * 1e3)
                return SourceRead(columnar.rest, mapper=mapper, premapped=premapped)
        rows = store.snapshot_counts(reading.shard, reader.as_of)  # the columns cannot be taken: read rows
    else:
        rows = reader.counts()
    log.info("dataflow %s: snapshot of %s (%d rows) read in %.1f ms", debug_name, source_id, len(rows),
             (time.perf_counter() - reading.started) * 1e3)
    return SourceRead(rows)


def read_source(store: ShardStore, rendered: RenderedDataflow, source_id: str, shard: str, read_at: int,
                debug_name: str) -> SourceRead:
    """A source's snapshot read at once (:func:`start_reading`, every batch, :func:`finish_reading`)."""
    reading = start_reading(store, rendered, source_id, shard, read_at)
    reading.reader.read()
    return finish_reading(store, reading, debug_name)


def feed_source(rendered: RenderedDataflow, source_id: str, read: SourceRead, as_of: int, upper: int) -> None:
    """Hand a source's snapshot to the dataflow at ``as_of`` (the columnar part first, then the rows)."""
    if read.folded is not None:
        read.consumer.absorb_folded(read.folded)
    if read.premapped is not None:
        assert read.mapper is not None
        rendered.feed_premapped(read.mapper, read.premapped, as_of)
    rendered.feed_snapshot(source_id, read.rows, as_of, upper)
