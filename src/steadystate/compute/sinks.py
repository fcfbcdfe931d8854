"""Materialized-view sinks: a dataflow's output appended to the view's shard, and its errors to the errors shard.

:func:`write_sink` appends a sink's pending updates once the dataflow's frontier has moved, in one
``compare_and_append_many`` over both shards so they advance together.  Sinks are *self-correcting* on their first
write: if the shard's upper is at or before the time the dataflow's first output is a snapshot of (``as_of``, or
later: ``RenderedDataflow.initial_time``), the sink writes the difference between that snapshot and what the shard
holds (:func:`correction`), so a replica that restarts with a later ``as_of`` neither duplicates nor loses updates.
If that time is past the shard's upper, what the view held between is not known: the shard's ``since`` moves to it
before the write, and readers of an earlier time read at it (``ComputeState._evaluate_peek``, source snapshots)
instead of an empty or stale shard.  Two replicas writing the same shard race through ``compare_and_append``;
the loser drops what the winner wrote.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from steadystate.errors import UpperMismatch
from steadystate.protocol import messages as m
from steadystate.storage import ShardStore, SnapshotUnavailable

Update = tuple[tuple, int, int]


@dataclass
class SinkState:
    """A sink of a running dataflow: what it has not written yet, and how far it got."""

    export: m.SinkExport
    pending: list[Update] = field(default_factory=list)
    first_write_done: bool = False
    last_upper: int | None = -1
    pending_errors: list[Update] = field(default_factory=list)
    late_lower_sent: bool = False  # a subscribe's batch after a late snapshot said where its exact changes begin


def write_sink(store: ShardStore, sink: SinkState, as_of: int, frontier: int | None) -> None:
    """Append what ``sink`` holds below ``frontier``; ``as_of`` is the time its dataflow's first output is a
    snapshot of (nothing is written before the output is complete through it)."""
    shard = sink.export.shard
    assert shard is not None
    if not sink.first_write_done and frontier is not None and frontier <= as_of:
        return
    for _ in range(5):
        shard_upper = store.upper(shard)
        if shard_upper is None or (frontier is not None and shard_upper >= frontier):
            sink.pending = [u for u in sink.pending if frontier is None or u[1] >= frontier]
            sink.pending_errors = [u for u in sink.pending_errors if frontier is None or u[1] >= frontier]
            sink.last_upper = frontier
            return
        errors_shard = m.errors_shard_of(shard)
        if not sink.first_write_done and shard_upper <= as_of:
            try:
                batch = correction(store, shard, shard_upper, as_of, sink.pending)
                error_batch = correction(store, errors_shard, shard_upper, as_of, sink.pending_errors)
            except SnapshotUnavailable:
                continue  # compaction moved since past the upper read above: read the new upper
            if as_of > shard_upper:
                # the first snapshot is of a time past the shard's upper (the view is new, or was not maintained
                # for a while, or an imported index was read later than as_of): what the view held between is
                # not known, so the shard's since moves to the snapshot's time before it is written, and readers
                # of an earlier time read at it (``_evaluate_peek``, source snapshots) instead of an empty or
                # stale shard
                store.advance_sinces({shard: as_of, errors_shard: as_of})
        else:
            batch = [u for u in sink.pending if u[1] >= shard_upper]
            error_batch = [u for u in sink.pending_errors if u[1] >= shard_upper]
        try:
            store.compare_and_append_many(
                [(shard, batch, shard_upper, frontier), (errors_shard, error_batch, shard_upper, frontier)]
            )
        except UpperMismatch:
            continue
        sink.first_write_done = True
        sink.pending = []
        sink.pending_errors = []
        sink.last_upper = frontier
        return


def correction(
    store: ShardStore, shard: str, shard_upper: int, as_of: int, pending: list[tuple[tuple, int, int]]
) -> list[tuple[tuple, int, int]]:
    """Desired contents at ``as_of`` minus what the shard holds, plus the updates after ``as_of``."""
    desired: Counter[tuple] = Counter()
    later = []
    for row, time_, diff in pending:
        if time_ <= as_of:
            desired[row] += diff
        else:
            later.append((row, time_, diff))
    if shard_upper > 0:
        for row, diff in store.snapshot(shard, shard_upper - 1):
            desired[row] -= diff
    write_time = max(as_of, shard_upper)
    return [(row, write_time, diff) for row, diff in desired.items() if diff != 0] + later
