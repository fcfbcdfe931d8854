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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from steadystate.render import RenderedDataflow
from steadystate.render.dataflow import ColumnarMapper
from steadystate.storage import ShardStore

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


def read_source(store: ShardStore, rendered: RenderedDataflow, source_id: str, shard: str, read_at: int,
                debug_name: str) -> SourceRead:
    started = time.perf_counter()
    consumer = rendered.columnar_consumer(source_id)
    mapper = rendered.columnar_mapper(source_id) if consumer is None else None
    columnar = store.snapshot_columns(shard, read_at) if consumer is not None or mapper is not None else None
    if columnar is not None:
        if consumer is not None:
            folded = consumer.fold_columns(columnar.tables)
            if folded is not None:
                log.info("dataflow %s: snapshot of %s (%d rows, %d updates) read and folded as columns in %.1f ms",
                         debug_name, source_id, sum(t.num_rows for t in columnar.tables), len(columnar.rest),
                         (time.perf_counter() - started) * 1e3)
                return SourceRead(columnar.rest, consumer=consumer, folded=folded)
        elif mapper is not None:
            premapped = mapper.apply(columnar.tables)
            if premapped is not None:
                log.info("dataflow %s: snapshot of %s (%d rows, %d updates) mapped as columns to %d rows in %.1f ms",
                         debug_name, source_id, sum(t.num_rows for t in columnar.tables), len(columnar.rest),
                         len(premapped), (time.perf_counter() - started) * 1e3)
                return SourceRead(columnar.rest, mapper=mapper, premapped=premapped)
    rows = store.snapshot_counts(shard, read_at)
    log.info("dataflow %s: snapshot of %s (%d rows) read in %.1f ms", debug_name, source_id, len(rows),
             (time.perf_counter() - started) * 1e3)
    return SourceRead(rows)


def feed_source(rendered: RenderedDataflow, source_id: str, read: SourceRead, as_of: int, upper: int) -> None:
    """Hand a source's snapshot to the dataflow at ``as_of`` (the columnar part first, then the rows)."""
    if read.folded is not None:
        read.consumer.absorb_folded(read.folded)
    if read.premapped is not None:
        assert read.mapper is not None
        rendered.feed_premapped(read.mapper, read.premapped, as_of)
    rendered.feed_snapshot(source_id, read.rows, as_of, upper)
