"""Freshness over time: ``mz_internal.mz_wallclock_lag_history``, sampled by the coordinator, binned per minute.

**A measurement** (:func:`measure_lags`) is, for each maintained object (index, materialized view) on each replica
of its cluster that reported a write frontier, the wall clock minus that frontier (the frontier is a time in
milliseconds): how far behind the present the replica's copy of the object is.  ``mz_wallclock_global_lag`` is the
current measurement of the freshest replica.

**The history** (:class:`WallclockLagHistory`) is Materialize's ``mz_wallclock_lag_history``: columns
``object_id``, ``replica_id``, ``lag`` (interval), ``occurred_at``; one row per object, replica and minute, whose
``lag`` is the greatest lag measured during that minute and ``occurred_at`` the minute's start.  The coordinator
measures every ``CoordinatorConfig.lag_sample_interval_s`` (1 s) and folds each measurement into the current
minute's bin (``lag_history_bin_s``, 60 s), so the current minute's row is there from its first sample and grows
while the minute lasts (Materialize writes a minute's row when it ends).  Retention is bounded: bins older than
``lag_history_retention_s`` (a day) are dropped, as are bins of more than :data:`MAX_BINS`; the history is kept in
the coordinator's memory, so it starts empty after a coordinator restart (Materialize's is durable).

The console's freshness chart reads this relation (``adapter/console.py`` :func:`lag_series`: per object and
minute, the freshest replica's lag — Materialize's ``mz_wallclock_global_lag_history``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Callable

from steadystate.repr import Row
from steadystate.repr.interval import Interval

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

log = logging.getLogger("steadystate.adapter")

#: At most this many bins are kept, whatever the retention says (a week of minutes).
MAX_BINS = 7 * 24 * 60

Measurement = tuple[str, str, int]  # (object id, replica id, lag in microseconds)


def _now_ms() -> float:
    return time.time() * 1000


def measure_lags(coord: "Coordinator", now_ms: float | None = None) -> list[Measurement]:
    """Each maintained object's lag on each replica that reported its frontier, at ``now_ms`` (default: now)."""
    now = _now_ms() if now_ms is None else now_ms
    out = []
    for instance in coord.instances.values():
        for replica_id, state in instance.replicas.items():
            for item in coord.catalog.objects_on_cluster(instance.cluster_id):
                frontier = state.frontiers.get(item.id) if item.kind.keeps_a_dataflow else None
                if frontier is not None:
                    out.append((item.id, replica_id, int(max(0.0, now - frontier) * 1000)))
    return out


def _timestamp(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).replace(tzinfo=None)


class WallclockLagHistory:
    """The binned history of lag measurements (see the module docstring); ``measure(now_ms)`` takes one."""

    def __init__(self, measure: Callable[[float], list[Measurement]], *, bin_s: float = 60.0,
                 retention_s: float = 86_400.0, interval_s: float = 1.0) -> None:
        self.measure = measure
        self.bin_ms = max(1, int(bin_s * 1000))
        self.retention_ms = retention_s * 1000
        self.interval_s = interval_s
        # oldest first: (the bin's start in ms, (object id, replica id) -> the greatest lag in it, microseconds)
        self.bins: collections.deque[tuple[int, dict[tuple[str, str], int]]] = collections.deque(maxlen=MAX_BINS)
        self._task: asyncio.Task[None] | None = None

    def sample(self, now_ms: float | None = None) -> None:
        """Take one measurement and fold it into the bin of ``now_ms``; drop bins past the retention."""
        now = _now_ms() if now_ms is None else now_ms
        start = int(now) // self.bin_ms * self.bin_ms
        while self.bins and self.bins[0][0] + self.bin_ms <= now - self.retention_ms:
            self.bins.popleft()
        measurements = self.measure(now)
        if not measurements:
            return
        if not self.bins or self.bins[-1][0] != start:
            self.bins.append((start, {}))
        current = self.bins[-1][1]
        for object_id, replica_id, lag in measurements:
            key = (object_id, replica_id)
            if lag > current.get(key, -1):
                current[key] = lag

    def rows(self) -> list[Row]:
        """``mz_wallclock_lag_history``'s rows, oldest bin first."""
        return [(object_id, replica_id, Interval(micros=lag), _timestamp(start))
                for start, lags in self.bins for (object_id, replica_id), lag in sorted(lags.items())]

    # ------------------------------------------------------------------ the sampling task

    async def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a failed sample is a gap in the history, not the end of sampling
                log.exception("could not measure wallclock lag")
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None and self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="wallclock lag history")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
