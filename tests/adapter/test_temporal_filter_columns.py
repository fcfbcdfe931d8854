"""A temporal filter hydrating from a table's columns (``dataflow.temporal_filter``'s columnar path), end to end.

A table of 6,000 events with integer times (``bigint`` milliseconds) is written in one statement, so storage keeps it
as Arrow columns and the replica hands the snapshot to the temporal filter as columns (the log says so).  An
indexed sliding-window view over it must hold, at clock readings between the events' boundaries, exactly the
definition's rows (computed in Python from the clock) — also after events written later, and after a replica crash,
whose new replica hydrates from the columns again with every future insertion and retraction held.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from steadystate.testing.memory import MemoryEnvironment, eventually

T0 = int(dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
MINUTE = 60_000
WINDOW = 30 * MINUTE
N = 6000


def _at(i: int) -> int:
    return T0 + (i % 240 - 60) * MINUTE  # from an hour before T0 to three hours after


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


def _expected(events: dict[int, int], now: int) -> tuple[int, int]:
    ids = [i for i, at in events.items() if at <= now <= at + WINDOW]
    return len(ids), sum(ids)


async def _check(env: MemoryEnvironment, clock: Clock, events: dict[int, int], minutes: int) -> None:
    clock.ms = T0 + minutes * MINUTE + 20_000  # 20 s past a minute: away from every event's boundary
    count, total = _expected(events, clock.ms)

    async def matches() -> bool:
        [(n, s)] = await env.query("SELECT count(*), sum(id) FROM recent")
        return (n, s or 0) == (count, total)

    await eventually(matches, 30, f"the window at +{minutes}m")


def test_a_window_hydrated_from_columns_moves_with_the_clock(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        clock = Clock()
        env = MemoryEnvironment(clock=clock)
        await env.start()
        try:
            await env.execute("CREATE TABLE events (id bigint, at bigint)")
            await env.execute(f"INSERT INTO events SELECT g, {T0} + (g % 240 - 60) * {MINUTE} "
                              f"FROM generate_series(1, {N}) AS g")
            events = {i: _at(i) for i in range(1, N + 1)}
            await env.execute(f"CREATE VIEW recent AS SELECT id FROM events WHERE mz_now() >= at "
                              f"AND mz_now() <= at + {WINDOW}")
            with caplog.at_level(logging.INFO, logger="steadystate.compute"):
                await env.execute("CREATE INDEX recent_idx ON recent (id)")
                await _check(env, clock, events, 0)
            assert any("recent_idx" in r.getMessage() and "read as columns" in r.getMessage()
                       for r in caplog.records), [r.getMessage() for r in caplog.records]
            for minutes in (10, 45, 100):
                await _check(env, clock, events, minutes)
            later = {N + 1: T0 + 110 * MINUTE, N + 2: T0 + 90 * MINUTE, N + 3: T0 + 500 * MINUTE}
            values = ", ".join(f"({i}, {at})" for i, at in later.items())
            await env.execute(f"INSERT INTO events VALUES {values}")
            events.update(later)
            await _check(env, clock, events, 105)
            await env.kill_replica()
            await env.wait_connected()
            for minutes in (125, 170):  # the new replica hydrated from the columns at +105m
                await _check(env, clock, events, minutes)
            await env.execute("DELETE FROM events WHERE id % 7 = 0")
            events = {i: at for i, at in events.items() if i % 7}
            await _check(env, clock, events, 175)
            await _check(env, clock, events, 230)
            assert await env.query("SELECT id FROM recent") == []  # shrank to nothing with no write
        finally:
            await env.stop()

    asyncio.run(main())
