"""Cursors: ``DECLARE c CURSOR FOR {SELECT | SUBSCRIBE}``, ``FETCH``, ``CLOSE`` — Materialize's way to read a
SUBSCRIBE from any PostgreSQL driver.

A cursor lives in its session's transaction, as in PostgreSQL without ``WITH HOLD``: ``DECLARE`` outside a
transaction block is 25P01, and ``COMMIT``/``ROLLBACK`` close every cursor (a SUBSCRIBE cursor's dataflow is
dropped then).  Names are unique per session (42P03 on a second ``DECLARE``, 34000 for an unknown cursor).

* A **SELECT cursor** runs its query when declared and hands out its rows ``count`` at a time.
* A **SUBSCRIBE cursor** starts the subscribe when declared; ``FETCH n`` returns at most ``n`` rows (``ALL``: no
  limit) of those available.  Without ``TIMEOUT`` it waits until at least one row is available; with
  ``TIMEOUT = '1s'`` it waits at most that long for the first row, and ``TIMEOUT = '0s'`` returns only rows that
  are already there.  Once at least one row is at hand it takes whatever more is ready, without waiting.  After
  an ``UP TO`` subscribe has ended, FETCH returns what is left, then no rows.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from steadystate.adapter.client import RowsOutcome
from steadystate.adapter.subscribe_rows import SubscribeReader, output_desc
from steadystate.errors import FeatureNotSupported, SteadyError, quote_ident
from steadystate.repr import Row
from steadystate.repr.types import RelationDesc
from steadystate.sql import plan as p
from steadystate.sql.session_zone import same_zone

if TYPE_CHECKING:
    from steadystate.adapter.session import ClientSession


@dataclass
class Cursor:
    name: str
    desc: RelationDesc
    buffer: collections.deque[Row] = field(default_factory=collections.deque)
    reader: SubscribeReader | None = None  # None: a SELECT cursor, all of whose rows are in the buffer

    def close(self) -> None:
        self.buffer.clear()
        if self.reader is not None:
            self.reader.close()

    def _take(self, count: int | None) -> list[Row]:
        n = len(self.buffer) if count is None else min(count, len(self.buffer))
        return [self.buffer.popleft() for _ in range(n)]

    async def fetch(self, count: int | None, timeout: float | None) -> list[Row]:
        """Up to ``count`` rows (None: all available), waiting as the module docstring says."""
        if count == 0:
            return []
        reader = self.reader
        if reader is None:
            return self._take(count)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.buffer and not reader.done:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            rows = await reader.next_rows(remaining)
            if rows is None:
                break
            self.buffer.extend(rows)
            if not rows and deadline is not None and time.monotonic() >= deadline:
                break
        while reader.ready() and (count is None or len(self.buffer) < count):
            rows = await reader.next_rows(0)
            if rows is None:
                break
            self.buffer.extend(rows)
        return self._take(count)


class Cursors:
    """A session's open cursors."""

    def __init__(self) -> None:
        self._open: dict[str, Cursor] = {}

    def add(self, cursor: Cursor) -> None:
        if cursor.name in self._open:
            cursor.close()
            raise SteadyError(f"cursor {quote_ident(cursor.name)} already exists", sqlstate="42P03")
        self._open[cursor.name] = cursor

    def get(self, name: str) -> Cursor:
        cursor = self._open.get(name)
        if cursor is None:
            raise SteadyError(f"cursor {quote_ident(name)} does not exist", sqlstate="34000")
        return cursor

    def find(self, name: str) -> Cursor | None:
        return self._open.get(name)

    def check_zone_change(self, current: str, new: str) -> None:
        """PostgreSQL computes a cursor's rows as they are fetched, in the TimeZone of that moment; here they were
        planned at DECLARE: a change of zone while one is open is refused (0A000), never answered in the old."""
        if self._open and not same_zone(current, new):
            name = next(iter(self._open))
            raise FeatureNotSupported(f"cannot change TimeZone while cursor {quote_ident(name)} is open",
                                      hint="CLOSE the cursor (or end the transaction) first.")

    def close(self, name: str | None) -> None:
        """``CLOSE name`` (34000 if there is none) or ``CLOSE ALL``."""
        if name is None:
            self.close_all()
            return
        self.get(name).close()
        del self._open[name]

    def close_all(self) -> None:
        for cursor in self._open.values():
            cursor.close()
        self._open.clear()


async def declare(session: "ClientSession", plan: p.DeclarePlan) -> str:
    """``DECLARE``: run the SELECT (or start the SUBSCRIBE) and open the cursor; the command tag."""
    if not session.txn.active:
        raise SteadyError("DECLARE CURSOR can only be used in transaction blocks", sqlstate="25P01")
    if session.cursors.find(plan.name) is not None:
        raise SteadyError(f"cursor {quote_ident(plan.name)} already exists", sqlstate="42P03")
    session.txn.check_readable()
    query = plan.query
    if isinstance(query, p.SubscribePlan):
        reader = await session.adapter.reads.subscribe(query, session.cluster_id())
        session.cursors.add(Cursor(plan.name, output_desc(query), reader=reader))
    else:
        outcome = await session.run_select(query)
        assert isinstance(outcome, RowsOutcome) and isinstance(outcome.rows, Sequence)
        cursor = Cursor(plan.name, query.desc)
        cursor.buffer.extend(outcome.rows)
        session.cursors.add(cursor)
    return "DECLARE CURSOR"


__all__ = ["Cursor", "Cursors", "declare"]
