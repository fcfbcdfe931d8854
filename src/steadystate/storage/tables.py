"""Group commit of table writes (coordinator side, asyncio).

The coordinator is the only writer of table shards.  :class:`TableWriter` keeps the set of registered
table shards and their uppers, and turns table writes into shard appends:

* ``await write({shard: [(row, diff), ...]})`` queues the write and schedules one flush with
  ``loop.call_soon`` (or ``call_later(window_ms)``), so every writer that reaches ``write`` before the
  flush runs — e.g. all tasks woken in the same loop iteration — joins the same transaction.
* A flush takes one timestamp ``ts`` from the oracle and calls ``store.compare_and_append_many`` once:
  every written shard gets its rows at ``ts``, and EVERY registered shard's upper moves to ``ts + 1``, so
  dataflows joining several tables make progress.  The oracle's timestamp is persisted in the same
  transaction.  Writers are resolved with ``ts`` only after the commit returned (it is durable then).
* If a group transaction fails, each write of the group is retried in a transaction of its own, so a bad
  write fails alone and every writer learns its own outcome.  A write is all-or-nothing.
* When idle, a background task (:meth:`start`) advances all uppers every ``tick_ms``.
  :meth:`barrier` returns a read timestamp that every registered table's upper has passed.

Flushes run synchronously on the event loop (storage calls are quick), so nothing interleaves with one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from steadystate.errors import UndefinedTable, UpperMismatch, quote_ident
from steadystate.repr import Row
from steadystate.repr.codec import Update
from steadystate.storage.api import Append, ShardDropped, ShardNotFound, ShardStore
from steadystate.storage.oracle import TimestampOracle, wall_clock_ms

log = logging.getLogger(__name__)

TableChanges = dict[str, list[tuple[Row, int]]]
"""A table write: for each table shard, the ``(row, diff)`` changes."""


@dataclass
class _PendingWrite:
    changes: TableChanges
    future: asyncio.Future[int] = field(repr=False)


@dataclass
class GroupCommitStats:
    """Counters for observability and tests."""

    transactions: int = 0  # committed transactions (group commits, single retries, idle advances)
    writes: int = 0  # acknowledged table writes
    idle_advances: int = 0  # commits that only advanced uppers
    failed_groups: int = 0  # group transactions that failed and were retried write by write


class TableWriter:
    """Commits table writes in groups at oracle timestamps and keeps table uppers advancing."""

    def __init__(
        self,
        store: ShardStore,
        oracle: TimestampOracle,
        *,
        tick_ms: int = 1000,
        window_ms: float = 0.0,
    ) -> None:
        self.store = store
        self.oracle = oracle
        self.tick_ms = tick_ms
        self.window_ms = window_ms
        self.stats = GroupCommitStats()
        self._uppers: dict[str, int] = {}
        self._pending: list[_PendingWrite] = []
        self._flush_handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._last_commit_ms = 0
        self._ticker: asyncio.Task[None] | None = None

    # -- registry --------------------------------------------------------------------------------------

    def register(self, shard: str) -> None:
        """Start maintaining a table shard (it must exist).  Its upper advances with every commit."""
        upper = self.store.upper(shard)
        if upper is None:
            raise ShardDropped(shard)
        self._uppers[shard] = upper

    def unregister(self, shard: str) -> None:
        """Stop maintaining a table shard (before dropping it).  Unknown shards are ignored."""
        self._uppers.pop(shard, None)

    @property
    def registered(self) -> frozenset[str]:
        return frozenset(self._uppers)

    def upper_of(self, shard: str) -> int:
        """The upper this writer last committed for a registered shard."""
        return self._uppers[shard]

    # -- writes ----------------------------------------------------------------------------------------

    async def write(self, changes: TableChanges) -> int:
        """Commit ``changes`` (possibly together with concurrent writes); return the durable timestamp."""
        self._check_registered(changes)
        loop = asyncio.get_running_loop()
        pending = _PendingWrite(changes, loop.create_future())
        self._pending.append(pending)
        if self._flush_handle is None:
            if self.window_ms > 0:
                self._flush_handle = loop.call_later(self.window_ms / 1000, self._flush)
            else:
                self._flush_handle = loop.call_soon(self._flush)
        return await pending.future

    async def advance_idle(self) -> int:
        """Commit now (with any queued writes) so every registered upper passes the returned timestamp."""
        ts = self._flush(force=True)
        assert ts is not None  # a forced flush commits or raises
        return ts

    async def barrier(self) -> int:
        """A read timestamp covering every acknowledged write that every registered table's upper passed."""
        read_ts = self.oracle.read_ts()
        if self._pending or any(upper <= read_ts for upper in self._uppers.values()):
            return await self.advance_idle()
        return read_ts

    def _check_registered(self, changes: TableChanges) -> None:
        for shard in changes:
            if shard not in self._uppers:
                raise UndefinedTable(
                    f"table storage {quote_ident(shard)} is not registered for writes",
                    hint="the table may have been dropped concurrently",
                )

    # -- flushing --------------------------------------------------------------------------------------

    def _flush(self, *, force: bool = False) -> int | None:
        """Commit every queued write in one transaction (or just advance uppers when ``force``)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        batch, self._pending = self._pending, []
        if not batch and not force:
            return None
        try:
            ts = self._commit_recovering([p.changes for p in batch])
        except Exception as exc:
            if len(batch) > 1:
                self.stats.failed_groups += 1
                log.warning("group commit of %d table writes failed (%s); retrying one by one", len(batch), exc)
                for pending in batch:
                    try:
                        _resolve(pending, ts=self._commit_recovering([pending.changes]))
                    except Exception as single_exc:  # noqa: BLE001 - surfaced to its writer
                        _resolve(pending, error=single_exc)
            else:
                for pending in batch:
                    _resolve(pending, error=exc)
            if force:
                return self._commit_recovering([])  # the caller asked for advanced uppers; raises on failure
            return None
        for pending in batch:
            _resolve(pending, ts=ts)
        return ts

    def _commit_recovering(self, writes: list[TableChanges]) -> int:
        """Commit; on an upper mismatch (a shard dropped or written elsewhere) refresh uppers and retry once."""
        try:
            return self._commit(writes)
        except UpperMismatch:
            self._refresh_uppers()
            return self._commit(writes)

    def _commit(self, writes: list[TableChanges]) -> int:
        for changes in writes:
            self._check_registered(changes)
        ts = self.oracle.allocate_write_ts(at_least=max(self._uppers.values(), default=0))
        updates: dict[str, list[Update]] = {shard: [] for shard in self._uppers}
        for changes in writes:
            for shard, rows in changes.items():
                updates[shard].extend((row, ts, diff) for row, diff in rows)
        appends: list[Append] = [(shard, updates[shard], upper, ts + 1) for shard, upper in self._uppers.items()]
        self.store.compare_and_append_many(appends, timestamp=self.oracle.record(ts))
        for shard in updates:
            self._uppers[shard] = ts + 1
        self.oracle.apply_write(ts)
        self._last_commit_ms = wall_clock_ms()
        self.stats.transactions += 1
        self.stats.writes += len(writes)
        if not writes:
            self.stats.idle_advances += 1
        return ts

    def _refresh_uppers(self) -> None:
        for shard in list(self._uppers):
            try:
                upper = self.store.upper(shard)
            except ShardNotFound:
                upper = None
            if upper is None:
                log.warning("table shard %s was dropped while registered; unregistering it", shard)
                del self._uppers[shard]
            else:
                self._uppers[shard] = upper

    # -- idle ticking ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background task that advances all uppers every ``tick_ms`` when there were no writes."""
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever(), name="table-ticker")

    async def stop(self) -> None:
        """Stop ticking and commit whatever is queued."""
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
            self._ticker = None
        if self._pending:
            self._flush()

    async def __aenter__(self) -> "TableWriter":
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick_forever(self) -> None:
        while True:
            idle_for = wall_clock_ms() - self._last_commit_ms
            if idle_for < self.tick_ms:
                await asyncio.sleep((self.tick_ms - idle_for) / 1000)
                continue
            try:
                await self.advance_idle()
            except Exception:  # noqa: BLE001 - keep ticking; the next tick retries
                log.exception("advancing idle table uppers failed")
                await asyncio.sleep(self.tick_ms / 1000)


def _resolve(pending: _PendingWrite, *, ts: int | None = None, error: BaseException | None = None) -> None:
    if pending.future.done():
        return  # the writer went away (cancelled); the outcome stands regardless
    if error is not None:
        pending.future.set_exception(error)
    else:
        assert ts is not None  # a write without an error has its timestamp
        pending.future.set_result(ts)
