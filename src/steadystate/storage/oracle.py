"""The timestamp oracle: durable, strictly increasing write timestamps for the coordinator.

Timestamps are wall-clock milliseconds, bent so they never repeat or go backwards:
``write ts = max(now_ms, last write ts + 1)``.  The last write timestamp is stored in the shard store
(``timestamps`` table, timeline ``"epoch_ms"`` by default), and on open the oracle resumes from it, so a
restart with a slower clock still hands out later timestamps.

Two ways to make a write timestamp durable:

* :meth:`TimestampOracle.write_ts` stores it on its own, synchronously;
* :meth:`TimestampOracle.allocate_write_ts` only reserves it in memory, and the caller stores
  :meth:`TimestampOracle.record` inside the transaction that uses it
  (``store.compare_and_append_many(..., timestamp=oracle.record(ts))``).  Group commit does this, so one
  transaction both writes the tables and persists the timestamp.  A reserved timestamp whose transaction
  failed is simply never used; it was never durable, so nothing can have observed it.

:meth:`apply_write` marks a write as done (acknowledged); :meth:`read_ts` is the latest applied write, so a
read at it sees every acknowledged write.  The oracle belongs to one process (the coordinator).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from steadystate.storage.api import ShardStore, TimestampRecord

DEFAULT_TIMELINE = "epoch_ms"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


#: a test hook for real processes: a file holding milliseconds the coordinator's clock runs ahead of the wall
#: clock (temporal filters' tests move time forward by writing it; only forward, as a clock does)
CLOCK_OFFSET_ENV = "STEADYSTATE_CLOCK_OFFSET_FILE"


def clock_from_env() -> Callable[[], int]:
    """The wall clock, shifted by the offset in ``$STEADYSTATE_CLOCK_OFFSET_FILE`` when that is set."""
    path = os.environ.get(CLOCK_OFFSET_ENV)
    if not path:
        return wall_clock_ms
    offset_file = Path(path)

    def shifted() -> int:
        try:
            offset = int(offset_file.read_text().strip() or 0)
        except (OSError, ValueError):
            offset = 0
        return wall_clock_ms() + offset

    return shifted


class TimestampOracle:
    """Hands out write timestamps and tracks the read timestamp for one timeline."""

    def __init__(
        self,
        store: ShardStore,
        *,
        timeline: str = DEFAULT_TIMELINE,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.store = store
        self.timeline = timeline
        self._clock = clock
        persisted = store.load_timestamp(timeline)
        self._last_write = persisted if persisted is not None else 0
        self._read = self._last_write

    def allocate_write_ts(self, *, at_least: int = 0) -> int:
        """Reserve the next write timestamp (> every earlier one, >= ``at_least``) without storing it."""
        ts = max(self._clock(), self._last_write + 1, at_least)
        self._last_write = ts
        return ts

    def record(self, ts: int) -> TimestampRecord:
        """The durable form of ``ts``, to store inside the transaction that writes at it."""
        return TimestampRecord(self.timeline, ts)

    def write_ts(self) -> int:
        """Reserve the next write timestamp and store it durably before returning it."""
        ts = self.allocate_write_ts()
        self.store.store_timestamp(self.record(ts))
        return ts

    def apply_write(self, ts: int) -> None:
        """A write at ``ts`` is acknowledged: reads from now on must see it."""
        if ts > self._read:
            self._read = ts

    def read_ts(self) -> int:
        """The latest applied write timestamp."""
        return self._read

    @property
    def last_write_ts(self) -> int:
        """The latest write timestamp handed out (applied or not)."""
        return self._last_write
