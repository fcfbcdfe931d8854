"""Shard compaction: how far each shard's ``since`` may advance (its read holds), and the task that does it.

Every table write appends one batch to the table's shard, so without compaction a snapshot — what a replica reads
to hydrate — reads every batch ever written.  :meth:`ShardStore.compact` advances ``since`` and merges the small
batches below it into one consolidated batch; this module decides, every few seconds, how far ``since`` may go.

``listen(after)`` is exact only for ``after > since``, and ``snapshot(t)`` needs ``t >= since``, so ``since`` must
stay below every position a reader may still read from.  The holds on a shard (:func:`since_targets`):

* **Dataflows that read it** — every dataflow in a cluster's command history that imports the shard, installed or
  transient (peeks, subscribes).  On each replica of the cluster the dataflow has read its sources up to at least
  its reported frontier ``F`` (the frontier of its exports, which never passes its inputs'), so ``since`` may
  reach ``F - 1``.  A replica that is not connected, or has not yet reported the dataflow's frontiers on its
  current connection, may be reading from any position at or above the *current* ``since`` — a replica process a
  restarted coordinator has not adopted yet, a fresh process that hydrates at ``max(as_of, since)`` — so then the
  shard does not move at all until it reports.  A replica with no process at all reads nothing and is left out:
  its next process connects, and so blocks, before it is sent any dataflow (a crash-looping replica does not stop
  compaction).  A replica that hangs, alive but silent, holds the shards its cluster reads where they are;
  dropping it releases them.
* **Peeks of a shard** — a replica answers a ``SELECT`` of a table or materialized view by reading the shard at
  the peek's timestamp, whenever it gets to it: until it is answered, ``since`` stays below that timestamp.
* **Reads at a chosen timestamp** — a new dataflow snapshots at its ``as_of``, a peek's timestamp is chosen before
  the peek is sent; both are taken "now" from the timestamp oracle, which never trails the wall clock.  ``since``
  stays ``lag_ms`` behind the wall clock, far more than the moment between choosing such a timestamp and
  registering its reader, and below the shard's upper (the coordinator loads a table at ``upper - 1``).

The holds are read and every ``since`` advanced in one step of the event loop (one storage write, no ``await``
between), so no reader can appear in between; merging below the new sinces happens afterwards.  A replica that
hydrates a dataflow reads all of its sources at one time, ``max(as_of, since of each source)``: a dataflow whose
cluster had no replica for a while (nothing held its shards) starts later than its ``as_of``, and a materialized
view's output is then corrected at that time (``compute.state``).

Table shards and materialized views' shards (with their errors shards) are compacted.  A materialized view's
replicas read its shard back at ``upper - 1`` to correct their output after a restart; ``since`` stays below
the upper, and a writer that read an upper the shard has since left behind retries with the new one
(``compute.state``).  Compaction runs in one worker thread with its own storage connection, so merging never
blocks the coordinator's event loop; storage bounds each merge (``storage.sql_store.MERGE_AT_MOST``) and never
rewrites a large batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from steadystate.protocol import messages as m
from steadystate.storage import ShardNotFound, ShardStore, open_store
from steadystate.repr.objects import ItemKind

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

log = logging.getLogger("steadystate.compaction")

BLOCKED = -1  # a hold that keeps a shard's since where it is


@dataclass(frozen=True)
class DataflowReads:
    """One dataflow of a cluster, as compaction sees it: the shards it reads, its exports, and for each replica of
    the cluster the frontiers that replica reported on its current connection (``None``: not connected)."""

    shards: frozenset[str]
    export_ids: tuple[str, ...]
    replica_frontiers: tuple[Mapping[str, int | None] | None, ...]

    def hold(self) -> int | None:
        """The greatest ``since`` this dataflow allows its shards (``None``: no limit; :data:`BLOCKED`)."""
        hold: int | None = None
        for frontiers in self.replica_frontiers:
            if frontiers is None:
                return BLOCKED
            for export_id in self.export_ids:
                if export_id not in frontiers:
                    return BLOCKED  # not reported on this connection: its read position is unknown
                frontier = frontiers[export_id]
                if frontier is not None:  # the empty frontier: the export is complete, it reads no more
                    hold = frontier - 1 if hold is None else min(hold, frontier - 1)
        return hold


@dataclass(frozen=True)
class PeekReads:
    """An unanswered peek of shards at ``timestamp``: a replica reads ``snapshot(timestamp)`` whenever it gets to
    it (a slow tick, a replay after a reconnect), so ``since`` stays at most ``timestamp - 1`` until then."""

    shards: frozenset[str]
    timestamp: int

    def hold(self) -> int | None:
        return self.timestamp - 1


def since_targets(sinces: Mapping[str, int], readers: Iterable[DataflowReads | PeekReads],
                  bounds: Mapping[str, int]) -> dict[str, int]:
    """The ``since`` each shard of ``sinces`` (shard → current since) may advance to, for the shards that may
    advance: no further than its bound (``bounds``: the clock lag, and below the shard's upper) nor than any
    reader's hold."""
    limits = {shard: bounds[shard] for shard in sinces}
    for reader in readers:
        hold = reader.hold()
        if hold is None:
            continue
        for shard in reader.shards & limits.keys():
            limits[shard] = min(limits[shard], hold)
    return {shard: limit for shard, limit in limits.items() if limit > sinces[shard]}


def all_reads(coord: "Coordinator") -> Iterator[DataflowReads | PeekReads]:
    """What holds shards back now: every live dataflow (:func:`dataflow_reads`) and every unanswered shard peek."""
    yield from dataflow_reads(coord)
    for instance in coord.instances.values():
        for shards, timestamp in instance.pending_shard_peeks():
            yield PeekReads(shards, timestamp)


def dataflow_reads(coord: "Coordinator") -> Iterator[DataflowReads]:
    """Every live dataflow of every cluster, with what each replica of the cluster reported about it.

    A replica without a live connection counts as unreported (``None``) while a process of it runs; with no
    process at all it reads nothing, and whatever process starts next connects — becoming unreported — before it
    is sent a single dataflow, so it is left out (a crash-looping replica does not stop compaction)."""
    for instance in coord.instances.values():
        replica_frontiers = tuple(
            state.frontiers if state.connection.live else None
            for replica_id, state in instance.replicas.items()
            if state.connection.live or coord.orchestrator.pid(replica_id) is not None
        )
        # read as is (reducing here would change what they hold); a replacement's history holds too
        commands = [c for history in instance.histories() for c in history.commands]
        dropped = {c.id for c in commands if isinstance(c, m.AllowCompaction) and c.frontier is None}
        for command in commands:
            if not isinstance(command, m.CreateDataflow):
                continue
            live = tuple(e for e in command.desc.export_ids if e not in dropped)
            shards = frozenset(shard for source in command.desc.source_imports
                               for shard in (source.shard, source.errors_shard) if shard is not None)
            if live and shards:
                yield DataflowReads(shards, live, replica_frontiers)


class ShardCompactor:
    """The coordinator's compaction task: every ``interval_s`` it advances the shards' ``since`` as far as
    the holds allow (:func:`since_targets`) and merges what fell below it, in a worker thread."""

    def __init__(self, coord: "Coordinator", *, interval_s: float = 5.0, lag_ms: int = 10_000) -> None:
        self.coord = coord
        self.interval_s = interval_s
        self.lag_ms = lag_ms
        self.rounds = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compaction")
        self._store: ShardStore | None = None  # opened and used only in the worker thread
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="shard compaction")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.compact_once()
            except Exception:  # noqa: BLE001 - a failed round is logged and retried next round, never fatal
                log.exception("shard compaction round failed")

    async def compact_once(self) -> dict[str, int]:
        """One round: advance the sinces (:meth:`advance`), then merge below them in the worker thread."""
        targets = self.advance()
        loop = asyncio.get_running_loop()
        for shard in targets:
            await loop.run_in_executor(self._executor, self._merge, shard)
        self.rounds += 1
        return targets

    def advance(self) -> dict[str, int]:
        """Compute the holds and advance every shard's ``since`` to its target in one storage write — with no
        ``await`` in between, so no reader can start (a replica connect, a new dataflow, a peek) between reading
        the holds and applying them.  Returns the targets (shard → since)."""
        store = self.coord.store
        lagging = int(time.time() * 1000) - self.lag_ms
        sinces, bounds = {}, {}
        for shard in self._shards():
            try:
                since, upper = store.frontiers(shard)
            except ShardNotFound:
                continue
            if since is not None and upper is not None:
                # never past the last complete time: reading at upper - 1 (a table's load, a materialized view's
                # correction) must stay possible
                sinces[shard], bounds[shard] = since, min(lagging, upper - 1)
        targets = since_targets(sinces, all_reads(self.coord), bounds)
        if targets:
            store.advance_sinces(targets)
        return targets

    def _shards(self) -> Iterator[str]:
        """Table shards, and materialized views' shards with their errors shards."""
        for item in list(self.coord.catalog.items.values()):
            if item.shard is None:
                continue
            if item.kind == ItemKind.TABLE:
                yield item.shard
            elif item.kind == ItemKind.MATERIALIZED_VIEW:
                yield item.shard
                yield m.errors_shard_of(item.shard)

    def _merge(self, shard: str) -> None:
        if self._store is None:
            self._store = open_store(self.coord.storage_url)
        self._store.merge_below_since(shard)

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


__all__ = ["BLOCKED", "DataflowReads", "PeekReads", "ShardCompactor", "all_reads", "dataflow_reads", "since_targets"]
