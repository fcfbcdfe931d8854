"""Progress of the long work an operator waits for: hydration of each object on each replica, and ``COPY FROM``.

Both are read by SQL (``mz_internal.mz_hydration_statuses``, ``mz_internal.mz_copy_progress``), by the console
(``adapter/console.py``) and by the NOTICEs of ``ALTER CLUSTER ... SEAL | RESTART | SET (SIZE)``; all three read
what this module computes, so they never disagree.

**NOTICEs while a reconfiguration waits** (:class:`Notices`, :func:`hydrating_summary`): while the replacement
replicas of a SEAL, RESTART or resize hydrate, the statement sends a NOTICE every ``PROGRESS_EVERY_S`` seconds,
at once (pgwire writes it to the client while the statement runs): which replica is hydrating which objects, how
many of them are hydrated, the rows they have read of their total, and the estimated time left.  When the
statement ends, one NOTICE says how long the replacements took to hydrate.

**Hydration** (:func:`hydration_rows`).  Materialize's columns come first (``object_id``, ``replica_id``,
``hydrated``, ``hydration_time``); steadystate adds:

* ``rows_total``: the updates the object's dataflow reads at hydration: those of the storage shards it imports
  (``ShardStore.batch_stats``, what ``mz_storage_shards.updates`` shows) and, for an index it imports, that
  index's own total.  It is known before the replica starts, so a hydration has a known total from its first
  moment (NULL only while a shard it reads does not exist yet: a materialized view no replica has written);
* ``rows_done``: what of it the replica has read.  A replica reads a dataflow's source snapshots a few stored
  batches per tick and reports each step (``HydrationProgress``: the updates it read, which the controller keeps
  per collection, ``ComputeInstance.hydration_progress``), then feeds and arranges them and reports ``hydrated``
  (``Status``); so this climbs from 0 batch by batch, and is ``rows_total`` once hydrated (an imported index's
  rows count when the dataflow is hydrated: its first step takes them in at once);
* ``hydrating_for``: seconds since the replica came online or the object was created, whichever is later, while
  it is not hydrated;
* ``time_left_estimate``: seconds, from the fastest hydration of the same object seen on any replica
  (``Coordinator.fastest_hydration_ms``), or, for an object never hydrated, from ``rows_total`` at the rate the
  environment's hydrated objects reached (rows per second); NULL with no basis for an estimate, 0 when overdue.
  Not from the rate ``rows_done`` climbs at: reading is the quick part of a hydration (arranging the rows, after
  the last batch, takes most of it), so that rate would promise far too little.

**COPY FROM** (:class:`CopyProgress`, :class:`CopyBoard`).  The session registers each ``COPY t FROM STDIN`` when
it starts, counts the rows pgwire has parsed and handed over, and marks the write phase; the row disappears when
the statement ends.  ``mz_copy_progress`` has one row per COPY running (``session_id`` is the connection's process
id, as in ``pg_stat_activity.pid``).
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from steadystate.orchestrator.api import ProcessStatus
from steadystate.repr import Row
from steadystate.storage import ShardNotFound

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator


PROGRESS_EVERY_S = 1.0  # how often a waiting reconfiguration reports its replacements' hydration


def _now_ms() -> float:
    return time.time() * 1000


def _ts(ms: float | None) -> dt.datetime | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).replace(tzinfo=None)


class CopyPhase(enum.StrEnum):
    """Where a ``COPY FROM`` is: taking rows from the client, or writing them to the table's shard."""

    RECEIVING = "receiving"
    WRITING = "writing"


@dataclass
class CopyProgress:
    """One ``COPY t FROM STDIN`` in flight."""

    session_id: int
    table_id: str
    user: str
    started_at_ms: float = field(default_factory=_now_ms)
    rows: int = 0
    phase: CopyPhase = CopyPhase.RECEIVING
    updated_at_ms: float = field(default_factory=_now_ms)

    def add(self, rows: int) -> None:
        self.rows += rows
        self.updated_at_ms = _now_ms()

    def writing(self) -> None:
        self.phase = CopyPhase.WRITING
        self.updated_at_ms = _now_ms()

    def row(self) -> Row:
        elapsed = max(0.0, _now_ms() - self.started_at_ms) / 1000
        rate = self.rows / elapsed if elapsed > 0 else None
        return (self.session_id, self.table_id, self.user, self.phase.value, self.rows, rate,
                _ts(self.started_at_ms), _ts(self.updated_at_ms))


class CopyBoard:
    """The ``COPY FROM`` statements running now, by session (a session runs one statement at a time)."""

    def __init__(self) -> None:
        self.running: dict[int, CopyProgress] = {}

    def begin(self, session_id: int, table_id: str, user: str) -> CopyProgress:
        progress = CopyProgress(session_id, table_id, user)
        self.running[session_id] = progress
        return progress

    def end(self, session_id: int) -> None:
        self.running.pop(session_id, None)

    def rows(self) -> list[Row]:
        return [progress.row() for _, progress in sorted(self.running.items())]


class Notices(list[str]):
    """The NOTICE texts of one statement (sent when it completes), and :meth:`progress`: a notice sent at once,
    while the statement still runs, where the connection allows it (``send_now`` returns False where not: a
    progress report is dropped then, as it says nothing once the statement is over)."""

    def __init__(self, send_now: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.send_now = send_now

    def progress(self, text: str) -> None:
        if self.send_now is not None:
            self.send_now(text)


@dataclass(frozen=True)
class HydrationProgress:
    """One row of ``mz_hydration_statuses``: an object on a replica (see the module docstring)."""

    object_id: str
    replica_id: str
    hydrated: bool
    hydration_time_s: float | None
    rows_total: int | None
    rows_done: int | None
    hydrating_for_s: float | None
    time_left_s: float | None

    def row(self) -> Row:
        return (self.object_id, self.replica_id, self.hydrated, self.hydration_time_s, self.rows_total,
                self.rows_done, self.hydrating_for_s, self.time_left_s)


def _source_rows(coord: "Coordinator", cluster_id: str) -> dict[str, int | None]:
    """Per export of the cluster's running dataflows: the updates its inputs hold, which it reads at hydration:
    the storage shards it imports, and for each index it imports, that index's own inputs (counted the same way).
    ``None`` while a shard it reads does not exist yet (a materialized view no replica has written)."""
    instance = coord.instances.get(cluster_id)
    if instance is None:
        return {}
    live = instance.history.live_dataflows()
    stats: dict[str, int | None] = {}
    out: dict[str, int | None] = {}

    def shard_updates(shard: str) -> int | None:
        if shard not in stats:
            try:
                stats[shard] = coord.store.batch_stats(shard)[1]
            except ShardNotFound:
                stats[shard] = None
        return stats[shard]

    def total(export_id: str, seen: frozenset[str]) -> int | None:
        if export_id in out:
            return out[export_id]
        desc = live.get(export_id)
        if desc is None or export_id in seen:
            return None
        parts = [shard_updates(source.shard) for source in desc.source_imports]
        parts += [total(i.index_id, seen | {export_id}) for i in desc.index_imports]
        rows = None if any(part is None for part in parts) else sum(p for p in parts if p is not None)
        out[export_id] = rows
        return rows

    for export_id in live:
        total(export_id, frozenset())
    return out


def hydration_progress(coord: "Coordinator") -> list[HydrationProgress]:
    """Every maintained object on every replica of its cluster, with its progress (the module docstring)."""
    now = _now_ms()
    items = coord.catalog.items
    entries: list[tuple[str, str, bool, float | None, int | None, float | None, int]] = []
    since: float | None
    rate_rows = rate_s = 0.0
    for instance in coord.instances.values():
        totals = _source_rows(coord, instance.cluster_id)
        for replica_id, state in instance.replicas.items():
            reported = {c.id: c for c in state.status.collections} if state.status is not None else {}
            reading = instance.hydration_progress(replica_id)
            process = coord.replica_status.get(replica_id)
            online_since = (process.updated_at_ms if process is not None
                            and process.status is ProcessStatus.ONLINE else None)
            for item in items.values():
                if item.cluster_id != instance.cluster_id or not item.kind.keeps_a_dataflow:
                    continue
                collection = reported.get(item.id)
                hydrated = collection is not None and collection.hydrated
                seconds = collection.hydration_ms / 1000 if collection and collection.hydration_ms else None
                total = totals.get(item.id)
                if hydrated and seconds and total is not None:
                    rate_rows, rate_s = rate_rows + total, rate_s + seconds
                    seen = coord.fastest_hydration_ms
                    seen[item.id] = min(seen.get(item.id, seconds * 1000), seconds * 1000)
                since = None if hydrated or online_since is None else max(online_since, item.created_at_ms)
                progress = reading.get(item.id)
                entries.append((item.id, replica_id, hydrated, seconds, total, since,
                                progress.updates_read if progress is not None else 0))
    rate = rate_rows / rate_s if rate_rows and rate_s else None
    out = []
    for object_id, replica_id, hydrated, seconds, total, since, read in entries:
        done = total if hydrated or total is None else min(total, read)
        hydrating_for = max(0.0, now - since) / 1000 if since is not None else None
        left: float | None = None
        if hydrating_for is not None:
            fastest = coord.fastest_hydration_ms.get(object_id)
            if fastest is not None:
                left = max(0.0, fastest / 1000 - hydrating_for)
            elif rate and total is not None:
                left = max(0.0, total / rate - hydrating_for)
        out.append(HydrationProgress(object_id, replica_id, hydrated, seconds, total, done, hydrating_for, left))
    return out


def hydrating_summary(coord: "Coordinator", replica_ids: list[str]) -> list[str]:
    """One line per replica still hydrating: which objects, how far, and the time left (for NOTICEs)."""
    by_replica: dict[str, list[HydrationProgress]] = {}
    for entry in hydration_progress(coord):
        if entry.replica_id in replica_ids:
            by_replica.setdefault(entry.replica_id, []).append(entry)
    lines = []
    for replica_id in replica_ids:
        entries = by_replica.get(replica_id, [])
        waiting = [e for e in entries if not e.hydrated]
        replica = coord.catalog.replicas.get(replica_id)
        name = replica.name if replica is not None else replica_id
        done = len(entries) - len(waiting)
        if not entries:  # not connected yet: its process is starting
            lines.append(f"replica {name} is starting")
            continue
        if not waiting:
            lines.append(f"replica {name}: {done} of {len(entries)} objects hydrated")
            continue
        lefts = [e.time_left_s for e in waiting if e.time_left_s is not None]
        left = f", about {max(lefts):.1f} s left" if lefts else ""
        names = ", ".join(coord.catalog.describe(e.object_id) for e in waiting[:3])
        more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
        totals = [e.rows_total for e in waiting]
        rows = (f", {sum(e.rows_done or 0 for e in waiting)} of {sum(t for t in totals if t is not None)} rows read"
                if totals and all(t is not None for t in totals) else "")
        lines.append(f"replica {name} is hydrating {names}{more}: {done} of {len(entries)} objects "
                     f"hydrated{rows}{left}")
    return lines
