"""The timestamp oracle: strictly increasing, durable across reopen even when the clock goes backwards."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.storage import TimestampOracle, open_store


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_write_ts_follows_the_clock_and_strictly_increases(sqlite_url: str) -> None:
    clock = FakeClock(1_000)
    with open_store(sqlite_url) as store:
        oracle = TimestampOracle(store, clock=clock)
        assert oracle.write_ts() == 1_000
        assert oracle.write_ts() == 1_001  # the clock did not move
        clock.now = 5_000
        assert oracle.write_ts() == 5_000
        clock.now = 10  # the clock went backwards
        assert oracle.write_ts() == 5_001


def test_read_ts_is_latest_applied_write(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        oracle = TimestampOracle(store, clock=FakeClock(100))
        assert oracle.read_ts() == 0
        first, second = oracle.write_ts(), oracle.write_ts()
        assert oracle.read_ts() == 0, "an unapplied write is not visible to reads"
        oracle.apply_write(second)
        oracle.apply_write(first)
        assert oracle.read_ts() == second


def test_monotonic_across_reopen_with_slower_clock(store_url: str) -> None:
    with open_store(store_url) as store:
        oracle = TimestampOracle(store, clock=FakeClock(50_000))
        issued = [oracle.write_ts() for _ in range(3)]
    with open_store(store_url) as store:
        reopened = TimestampOracle(store, clock=FakeClock(7))
        assert reopened.read_ts() == issued[-1]
        assert reopened.write_ts() == issued[-1] + 1


def test_allocated_ts_persists_with_the_append_transaction(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        store.create_shard("t")
        oracle = TimestampOracle(store, clock=FakeClock(900))
        ts = oracle.allocate_write_ts()
        store.compare_and_append_many([("t", [(("x",), ts, 1)], 0, ts + 1)], timestamp=oracle.record(ts))
    with open_store(sqlite_url) as store:
        assert TimestampOracle(store, clock=FakeClock(0)).write_ts() == ts + 1


def test_allocate_respects_at_least(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        oracle = TimestampOracle(store, clock=FakeClock(10))
        assert oracle.allocate_write_ts(at_least=42) == 42
        assert oracle.allocate_write_ts() == 43


@settings(max_examples=50, deadline=None)
@given(clock_readings=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=30))
def test_strictly_increasing_and_never_behind_the_clock(clock_readings: list[int]) -> None:
    with open_store("sqlite:///:memory:") as store:  # noqa: S108 - an in-memory SQLite database
        clock = FakeClock(0)
        oracle = TimestampOracle(store, clock=clock)
        previous = -1
        for reading in clock_readings:
            clock.now = reading
            ts = oracle.allocate_write_ts()
            assert ts > previous and ts >= reading
            previous = ts
