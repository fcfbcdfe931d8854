"""How a replica reads one source's snapshot at hydration: as Arrow columns wherever the dataflow can take them.

A table loaded with ``COPY`` is stored as Arrow batches (``repr.columnar``).  :func:`read_source` reads a source's
snapshot for the dataflow's first round in the cheapest form its first reader accepts:

1. **folded**: the source's only reader (possibly behind maps/filters/projections evaluated over the columns)
   takes columns (``columnar_consumer``, the ``dataflow.operators.ColumnarInput`` protocol: a fused
   join-accumulate, a reduce, a spine top-k, a distinct, a join side): it builds its state from them itself;
2. **columns through the first round**: the source's readers (possibly behind maps/filters/projections) include
   operators that run over columns (unions, negations, distincts, thresholds, joins: ``columnar_source``): the
   tables go into the dataflow's first round as they are (``feed_columns``, ``dataflow.columnar_delta``);
3. **premapped**: the source's only readers are a chain of maps/filters/projections that ``expr.arrow_eval``
   evaluates exactly: the chain's output is computed over the columns (``columnar_mapper``) and enters the first
   round as columns from the chain's last operator; an index export arranges them as they are
   (``Arrangement.apply_columns``), any other reader gets them as consolidated rows — a filter that keeps a tenth
   of a table builds at most a tenth of the rows;
4. **rows**: the snapshot as ``{row: count}`` (``ShardStore.snapshot_counts``).

A snapshot whose columns include numerics, dates, times or timestamps (``repr.columnar`` stores them as
``decimal128``, ``date32``, ``time64``, ``timestamp``) goes to 1 only through readers that drop them or read exact
columns only (``render.columnar.reads_exact``, as an imported index's snapshot does), else to 2 (where an index
export arranges them as they are and any other operator takes rows), 3, or 4 — whose rows are then built from the
decoded tables (``repr.columnar.table_rows``), not read again.

In 1–3 the snapshot's other batches (writes after the load) still go in as rows (``ColumnarSnapshot.rest``):
the operators are linear in their input (a reduce's states and a join's arrangements take the rest's updates on
top of what the columns built), so the split is exact.  If the columns hold a value the row path would turn into an error
(an overflow in a map), 2 gives up and the snapshot is read as rows, so the error is reported as the row path
reports it (in 2 the operator that meets such a value takes its input as rows).  :func:`feed_source` hands what
was read to the dataflow.

**In steps.**  A replica reads a dataflow's snapshots across several ticks (``ComputeState``'s hydration budget):
:func:`begin_reading` picks the time to read at (``as_of``, or a source's later ``since``) once every source's
upper has passed it and fetches the stored batches (:func:`start_reading` per source, one transaction each), each
:meth:`SnapshotReading.step` decodes some batches (the tick then reports how many updates were read:
``HydrationProgress``), and once every batch is decoded :func:`feed_reading` finishes each source
(:func:`finish_reading`: the columns are folded or mapped then, in one piece, so the columnar paths stay as fast as
before; only decoding and counting, ``Counter.update`` per batch, are spread out) and feeds the dataflow.
:class:`SourceState` is a source as the replica tracks it (where listening goes on after the snapshot).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.columns import exact_type
from steadystate.protocol.messages import DataflowDescription
from steadystate.render import RenderedDataflow
from steadystate.render.columnar import ColumnarMapper, reads_exact
from steadystate.repr import passed
from steadystate.repr.columnar import table_rows
from steadystate.storage import ShardStore
from steadystate.storage.api import ColumnarSnapshot
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
    premapped: ColumnarDelta | None = None  # the mapper's output: columns
    tables: list[Any] | None = None  # the columns, for the first round (``feed_columns``)


@dataclass
class SourceReading:
    """One source's snapshot being read, a few stored batches per tick (``storage.snapshot_reader``), in the form
    its first reader takes (columns for a consumer or a mapper, else rows)."""

    source_id: str
    shard: str
    reader: SnapshotReader
    rendered: RenderedDataflow
    consumer: Any = None
    mapper: ColumnarMapper | None = None
    started: float = 0.0
    as_columns: bool = False  # the columns go into the first round as they are


def start_reading(store: ShardStore, rendered: RenderedDataflow, source_id: str, shard: str,
                  read_at: int) -> SourceReading:
    """Fetch the batches of the source's snapshot at ``read_at`` (one transaction); nothing is decoded yet."""
    consumer = rendered.columnar_consumer(source_id)
    as_columns = consumer is None and rendered.columnar_source(source_id)
    mapper = rendered.columnar_mapper(source_id) if consumer is None and not as_columns else None
    reader = store.snapshot_reader(shard, read_at, columnar=consumer is not None or mapper is not None or as_columns)
    return SourceReading(source_id, shard, reader, rendered, consumer, mapper, time.perf_counter(), as_columns)


@dataclass
class SourceState:
    """A source a replica's dataflow reads: its shard (and errors shard) and where listening goes on from."""

    shard: str
    errors_shard: str | None = None
    after: int | None = None  # next time to listen from; None until the snapshot was fed
    errors_after: int | None = None


@dataclass
class SnapshotReading:
    """A dataflow's sources' snapshots being read at ``read_at``, a budget of updates per :meth:`step`."""

    read_at: int
    sources: list[SourceReading]

    @property
    def updates_read(self) -> int:
        return sum(s.reader.updates_read for s in self.sources)

    @property
    def updates_total(self) -> int:
        return sum(s.reader.updates_total for s in self.sources)

    def step(self, budget: int) -> bool:
        """Decode about ``budget`` more updates (whole batches, the sources in order); whether all are read."""
        for source_reading in self.sources:
            reader = source_reading.reader
            while not reader.done and budget > 0:
                budget -= reader.read(budget)
        return all(s.reader.done for s in self.sources)


def begin_reading(store: ShardStore, rendered: RenderedDataflow, sources: list[tuple[str, str, str | None]],
                  as_of: int) -> SnapshotReading | None:
    """Start reading the snapshots of ``sources`` (``(source id, shard, errors shard)``) all at one time: ``as_of``,
    or later if compaction moved a shard's ``since`` past it; ``None`` while a shard's upper has not passed it."""
    read_at, uppers = as_of, []
    for _source_id, shard, errors_shard in sources:
        for name in (shard, errors_shard):
            if name is not None:
                since, upper = store.frontiers(name)
                read_at = max(read_at, since or 0)
                uppers.append(upper)
    if not all(passed(upper, read_at) for upper in uppers):
        return None
    return SnapshotReading(read_at, [start_reading(store, rendered, source_id, shard, read_at)
                                     for source_id, shard, _errors in sources])


def finish_reading(store: ShardStore, reading: SourceReading, debug_name: str) -> SourceRead:
    """What a source's snapshot, read to the end, gives the dataflow (the module docstring's three forms)."""
    reader, source_id = reading.reader, reading.source_id
    columnar = reader.columns()
    if columnar is not None:
        consumer, mapper, as_columns = reading.consumer, reading.mapper, reading.as_columns
        schema = columnar.tables[0].schema
        if not all(exact_type(field.type) or pa.types.is_floating(field.type) for field in schema):
            # numerics, dates, times, timestamps: only to consumers that drop them or read exact columns only (as
            # an imported index's are, ``render.hydration.feed_import_columns``); through the first round, each
            # operator takes them as columns or as rows
            if consumer is not None and not reads_exact(consumer, schema):
                consumer, mapper = None, reading.rendered.columnar_mapper(source_id)
        if as_columns:
            log.info("dataflow %s: snapshot of %s (%d rows, %d updates) read as columns in %.1f ms", debug_name,
                     source_id, sum(t.num_rows for t in columnar.tables), len(columnar.rest),
                     (time.perf_counter() - reading.started) * 1e3)
            return SourceRead(columnar.rest, tables=columnar.tables)
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
                         premapped.num_rows(), (time.perf_counter() - reading.started) * 1e3)
                return SourceRead(columnar.rest, mapper=mapper, premapped=premapped)
        rows = _rows_of(columnar)  # the columns cannot be taken: their rows
    else:
        rows = reader.counts()
    log.info("dataflow %s: snapshot of %s (%d rows) read in %.1f ms", debug_name, source_id, len(rows),
             (time.perf_counter() - reading.started) * 1e3)
    return SourceRead(rows)


def _rows_of(columnar: ColumnarSnapshot) -> dict[tuple[Any, ...], int]:
    """A columnar snapshot as ``{row: count}``: the tables' rows (``repr.columnar.table_rows``) with the rest."""
    counts: Counter[tuple[Any, ...]] = Counter()
    for table in columnar.tables:
        counts.update(table_rows(table))
    for row, diff in columnar.rest.items():
        counts[row] += diff
    return {row: diff for row, diff in counts.items() if diff}


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
    if read.tables is not None:
        rendered.feed_columns(source_id, read.tables, read.rows, as_of, upper)
        return
    rendered.feed_snapshot(source_id, read.rows, as_of, upper)


def feed_reading(store: ShardStore, rendered: RenderedDataflow, desc: DataflowDescription,
                 sources: dict[str, SourceState], reading: SnapshotReading) -> int | None:
    """Every source's snapshot was read at ``reading.read_at``: hand them (and the errors shards' snapshots) to the
    dataflow, and listen from after it.  Returns ``read_at`` when it is later than ``as_of`` (compacted meanwhile:
    the dataflow's output is exact only from there), else ``None``."""
    as_of, read_at = desc.as_of or 0, reading.read_at
    reads = []
    for source_reading in reading.sources:
        source = sources[source_reading.source_id]
        read = finish_reading(store, source_reading, desc.debug_name)
        errors = [] if source.errors_shard is None else store.snapshot(source.errors_shard, read_at)
        reads.append((source_reading.source_id, source, read, errors))
    rendered.initial_time = max(rendered.initial_time, read_at)
    for source_id, source, read, errors in reads:
        feed_source(rendered, source_id, read, as_of, read_at + 1)
        if errors:
            rendered.feed(source_id, [], read_at + 1, [(row, as_of, diff) for row, diff in errors])
        source.after = read_at + 1
        if source.errors_shard is not None:
            source.errors_after = read_at + 1
    if read_at <= as_of:
        return None
    log.info("dataflow %s: sources read at %d, after its as_of %d (compacted meanwhile)", desc.debug_name, read_at,
             as_of)
    return read_at
