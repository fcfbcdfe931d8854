"""Temporal filters in the in-memory environment, with a controllable clock (``CoordinatorConfig.clock``).

The timestamp oracle's clock drives table uppers, hence every dataflow's frontier: moving the clock forward is time
passing.  Events are written once; a sliding-window view (indexed), a materialized view and a SUBSCRIBE over it
must then gain and lose rows on their own as the clock moves, at the times the predicates give: checked against
the definition (``_window``, computed in Python from the clock) at clock readings minutes away from any boundary,
and, through SUBSCRIBE, at the exact millisecond of each insertion and retraction.  The same holds after a replica
crash and after a coordinator restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from steadystate import errors
from steadystate.testing.memory import MemoryEnvironment, eventually

UTC = dt.timezone.utc
T0 = int(dt.datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000
HOUR = 60 * MINUTE
# id -> created_at, in minutes from T0
EVENTS = {1: -30, 2: 0, 3: 30, 4: 120, 5: 200}


class ManualClock:
    """Milliseconds that move only when the test says (the oracle still never repeats a timestamp)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def set_minutes(self, minutes: int) -> None:
        assert T0 + minutes * MINUTE >= self.ms, "a clock only moves forward"
        self.ms = T0 + minutes * MINUTE


def _ts(minutes: int) -> str:
    return (dt.datetime.fromtimestamp((T0 + minutes * MINUTE) / 1000, UTC)).isoformat()


def _window(now_ms: int) -> list[tuple[int]]:
    """The definition: ``created_at <= now <= created_at + 1 hour``."""
    return sorted((i,) for i, minutes in EVENTS.items() if T0 + minutes * MINUTE <= now_ms <= T0 + minutes * MINUTE + HOUR)


WINDOW = "SELECT id FROM events WHERE mz_now() >= created_at AND mz_now() <= created_at + INTERVAL '1 hour'"


async def _setup(env: MemoryEnvironment) -> None:
    await env.execute("CREATE TABLE events (id int, created_at timestamptz)")
    values = ", ".join(f"({i}, '{_ts(m)}')" for i, m in EVENTS.items())
    await env.execute(f"INSERT INTO events VALUES {values}")
    await env.execute(f"CREATE VIEW recent AS {WINDOW}")
    await env.execute("CREATE INDEX recent_idx ON recent (id)")
    await env.execute(f"CREATE MATERIALIZED VIEW recent_mv AS {WINDOW}")


async def _check_at(env: MemoryEnvironment, clock: ManualClock, minutes: int) -> None:
    clock.set_minutes(minutes)
    expected = _window(clock.ms)
    for relation in ("recent", "recent_mv"):
        # the read happens at a timestamp at or after the clock reading: wait until the uppers have ticked there
        await eventually(lambda r=relation: _rows(env, f"SELECT id FROM {r}", expected), 30, f"{relation} at +{minutes}m")
    # a one-off query with the same predicate answers at its own timestamp (mz_now() is the query's time)
    assert sorted(await env.query(WINDOW)) == expected


async def _rows(env: MemoryEnvironment, sql: str, expected: list[tuple[int]]) -> bool:
    return sorted(await env.query(sql)) == expected


def test_a_window_over_rows_written_once_moves_with_the_clock() -> None:
    async def main() -> None:
        clock = ManualClock(T0 + MINUTE)
        env = MemoryEnvironment(clock=clock)
        await env.start()
        try:
            await _setup(env)
            for minutes in (1, 45, 80, 130, 190, 215, 300):
                await _check_at(env, clock, minutes)
            assert await env.query("SELECT id FROM recent") == []  # shrank to nothing with no write
        finally:
            await env.stop()

    asyncio.run(main())


def test_rows_enter_and_leave_across_a_replica_crash_and_a_coordinator_restart() -> None:
    async def main() -> None:
        clock = ManualClock(T0 + MINUTE)
        env = MemoryEnvironment(clock=clock)
        await env.start()
        try:
            await _setup(env)
            await _check_at(env, clock, 1)
            await env.kill_replica()
            await env.wait_connected()
            await _check_at(env, clock, 45)  # the new replica rehydrated and its filter holds the right futures
            await _check_at(env, clock, 80)
            await env.restart()
            await _check_at(env, clock, 130)
            await _check_at(env, clock, 215)
        finally:
            await env.stop()

    asyncio.run(main())


def test_subscribe_sees_each_insertion_and_retraction_at_its_exact_time() -> None:
    async def main() -> None:
        clock = ManualClock(T0 + MINUTE)
        env = MemoryEnvironment(clock=clock)
        await env.start()
        try:
            await _setup(env)
            session = await env.session()
            outcome = await session.execute_simple("SUBSCRIBE recent").__anext__()
            rows = outcome.rows.__aiter__()  # type: ignore[union-attr]
            snapshot = [await asyncio.wait_for(rows.__anext__(), 30) for _ in _window(clock.ms)]
            assert sorted(row[2:] for row in snapshot) == _window(clock.ms)
            as_of = snapshot[0][0]
            clock.set_minutes(150)
            # every change between the snapshot and +150m: (time, diff, id) from the definition
            changes = []
            for i, minutes in EVENTS.items():
                start, end = T0 + minutes * MINUTE, T0 + minutes * MINUTE + HOUR + 1  # <= : gone 1 ms after
                if as_of < start <= clock.ms:
                    changes.append((start, 1, i))
                if as_of < end <= clock.ms:
                    changes.append((end, -1, i))
            got = [await asyncio.wait_for(rows.__anext__(), 30) for _ in changes]
            assert sorted(got) == sorted(changes)
            await rows.aclose()  # type: ignore[attr-defined]
            await session.close()
        finally:
            await env.stop()

    asyncio.run(main())


@pytest.mark.parametrize("sql, message", [
    ("CREATE VIEW v AS SELECT id, mz_now() FROM events", "cannot materialize call to mz_now"),
    ("CREATE MATERIALIZED VIEW v AS SELECT id FROM events WHERE mz_now() <= created_at OR id = 1",
     "Unsupported temporal predicate"),
    ("CREATE VIEW v AS SELECT id FROM events WHERE mz_now() <> created_at", "Unsupported temporal predicate"),
    ("CREATE VIEW v AS SELECT id FROM events WHERE mz_now() <= created_at + "
     "CASE WHEN mz_now() > created_at THEN INTERVAL '1 hour' ELSE INTERVAL '2 hours' END",
     "Unsupported temporal predicate"),
    ("SUBSCRIBE (SELECT id FROM events WHERE NOT (mz_now() <= created_at))", "Unsupported temporal predicate"),
])
def test_mz_now_outside_a_temporal_predicate_is_refused_in_maintained_objects(sql: str, message: str) -> None:
    async def main() -> None:
        env = MemoryEnvironment(clock=ManualClock(T0))
        await env.start()
        try:
            await env.execute("CREATE TABLE events (id int, created_at timestamptz)")
            with pytest.raises(errors.SteadyError) as caught:
                await env.execute(sql)
            assert caught.value.sqlstate == "0A000"
            assert message in caught.value.message
        finally:
            await env.stop()

    asyncio.run(main())


def test_mz_now_in_a_query_is_its_timestamp_and_explain_shows_the_filter() -> None:
    async def main() -> None:
        clock = ManualClock(T0 + 5 * MINUTE)
        env = MemoryEnvironment(clock=clock)
        await env.start()
        try:
            await _setup(env)
            [(now,)] = await env.query("SELECT mz_now()")
            assert isinstance(now, int) and now >= clock.ms
            # comparisons with timestamptz, timestamp, date, numbers and text literals, as Materialize casts them
            assert await env.query(f"SELECT mz_now() >= TIMESTAMPTZ '{_ts(0)}', mz_now() > TIMESTAMP '2029-12-31 "
                                   f"00:00:00', mz_now() > DATE '2029-12-31', mz_now() > {T0}, "
                                   f"mz_now() < '{T0 + HOUR}'") == [(True, True, True, True, True)]
            assert sorted(await env.query("SELECT id FROM events WHERE mz_now() BETWEEN created_at AND "
                                          "created_at + INTERVAL '1 hour'")) == _window(clock.ms)
            plan = [row[0] for row in await env.query("EXPLAIN MATERIALIZED VIEW recent_mv")]
            assert any("temporal filter: valid from max(cast_mz_timestamp(#1))" in line
                       and "until min(cast_mz_timestamp(temporal_add(#1, " in line for line in plan), plan
        finally:
            await env.stop()

    asyncio.run(main())


def test_a_temporal_filter_over_constants_only_is_refused_not_answered_wrongly() -> None:
    """Nothing would advance such a dataflow's frontier, so its retraction's time would never come."""
    async def main() -> None:
        env = MemoryEnvironment(clock=ManualClock(T0))
        await env.start()
        try:
            await env.execute(f"CREATE VIEW c AS SELECT 1 AS x WHERE mz_now() < {T0 + HOUR}")
            assert await env.query("SELECT x FROM c") == [(1,)]  # a one-off query: mz_now() is its timestamp
            for statement in ("CREATE INDEX c_idx ON c (x)", "CREATE MATERIALIZED VIEW cm AS SELECT * FROM c"):
                with pytest.raises(errors.SteadyError) as caught:
                    await env.execute(statement)
                assert caught.value.sqlstate == "0A000"
        finally:
            await env.stop()

    asyncio.run(main())
