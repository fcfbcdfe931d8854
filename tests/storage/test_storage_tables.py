"""Group commit of table writes: batching, all-table upper advancement, atomicity, idle ticks, barriers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.errors import UndefinedTable
from steadystate.storage import ShardStore, TableWriter, TimestampOracle, consolidate, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[ShardStore]:
    with open_store(store_url) as opened:
        for shard in ("t1", "t2", "t3"):
            opened.create_shard(shard)
        yield opened


def make_writer(store: ShardStore, **options: float) -> TableWriter:
    writer = TableWriter(store, TimestampOracle(store), **options)  # type: ignore[arg-type]
    for shard in ("t1", "t2", "t3"):
        writer.register(shard)
    return writer


def test_concurrent_writers_share_few_transactions(store: ShardStore) -> None:
    writer = make_writer(store)
    writers = 25

    async def main() -> list[int]:
        return await asyncio.gather(
            *(writer.write({("t1" if i % 2 else "t2"): [((i, f"row{i}"), 1)]}) for i in range(writers))
        )

    timestamps = asyncio.run(main())
    assert writer.stats.transactions < writers
    assert writer.stats.writes == writers
    assert len(set(timestamps)) == writer.stats.transactions
    ts = max(timestamps)
    for shard in ("t1", "t2", "t3"):  # t3 was not written, yet its upper moved with the others
        assert store.upper(shard) == ts + 1 == writer.upper_of(shard)
    rows = sorted(store.snapshot("t1", ts) + store.snapshot("t2", ts))
    assert rows == sorted(((i, f"row{i}"), 1) for i in range(writers))
    assert store.snapshot("t3", ts) == []
    assert writer.oracle.read_ts() == ts


def test_sequential_writes_get_increasing_timestamps_and_durable_oracle(store_url: str, store: ShardStore) -> None:
    writer = make_writer(store)

    async def main() -> list[int]:
        return [await writer.write({"t1": [((i,), 1)]}) for i in range(5)]

    timestamps = asyncio.run(main())
    assert timestamps == sorted(set(timestamps))
    with open_store(store_url) as reopened:
        assert TimestampOracle(reopened).read_ts() == timestamps[-1]
        assert sorted(reopened.snapshot("t1", timestamps[-1])) == [((i,), 1) for i in range(5)]


def test_bad_write_fails_alone_and_writes_nothing(store: ShardStore) -> None:
    writer = make_writer(store)

    class Unencodable:
        pass

    async def main() -> list:
        return await asyncio.gather(
            writer.write({"t1": [(("good-1",), 1)]}),
            writer.write({"t1": [(("bad",), 1)], "t2": [((Unencodable(),), 1)]}),
            writer.write({"t2": [(("good-2",), 1)]}),
            return_exceptions=True,
        )

    first, bad, third = asyncio.run(main())
    assert isinstance(first, int) and isinstance(third, int)
    assert isinstance(bad, Exception)
    assert writer.stats.failed_groups == 1
    ts = max(first, third)
    contents = store.snapshot("t1", ts) + store.snapshot("t2", ts)
    assert sorted(contents) == [(("good-1",), 1), (("good-2",), 1)], "the failed write is all-or-nothing"


def test_writes_within_the_window_join_one_transaction(store: ShardStore) -> None:
    writer = make_writer(store, window_ms=60_000)  # the window never lapses here: advance_idle flushes

    async def main() -> tuple[int, int, int]:
        first = asyncio.ensure_future(writer.write({"t1": [(("a",), 1)]}))
        for _ in range(3):
            await asyncio.sleep(0)  # later loop iterations, still inside the window
        second = asyncio.ensure_future(writer.write({"t2": [(("b",), 1)]}))
        await asyncio.sleep(0)
        flushed = await writer.advance_idle()
        return await first, await second, flushed

    first, second, flushed = asyncio.run(main())
    assert first == second == flushed
    assert writer.stats.transactions == 1 and writer.stats.writes == 2


def test_write_to_unregistered_table_is_refused(store: ShardStore) -> None:
    writer = make_writer(store)
    writer.unregister("t3")

    async def main() -> None:
        await writer.write({"t3": [((1,), 1)]})

    with pytest.raises(UndefinedTable):
        asyncio.run(main())
    assert writer.stats.transactions == 0


def test_dropped_registered_table_does_not_block_other_writes(store: ShardStore) -> None:
    writer = make_writer(store)
    store.drop_shard("t3")  # dropped behind the writer's back

    async def main() -> int:
        return await writer.write({"t1": [((1,), 1)]})

    ts = asyncio.run(main())
    assert store.snapshot("t1", ts) == [((1,), 1)]
    assert "t3" not in writer.registered


def test_barrier_and_idle_ticks_advance_all_uppers(store: ShardStore) -> None:
    writer = make_writer(store, tick_ms=10)
    store.create_shard("late")

    async def main() -> None:
        read_ts = await writer.barrier()
        assert all(store.upper(s) > read_ts for s in ("t1", "t2", "t3"))
        writer.register("late")  # upper 0: the next barrier must advance it too
        read_ts = await writer.barrier()
        assert store.upper("late") > read_ts
        before = {s: store.upper(s) for s in ("t1", "t2", "t3", "late")}
        idle_before = writer.stats.idle_advances
        async with writer:
            while writer.stats.idle_advances < idle_before + 3:  # no timing assertion: wait for ticks
                await asyncio.sleep(0.005)
        after = {s: store.upper(s) for s in before}
        assert all(after[s] > before[s] for s in before)
        assert len(set(after.values())) == 1, "all table uppers advance together"

    asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_writer_resumes_after_restart(store_url: str, store: ShardStore) -> None:
    first = make_writer(store)
    ts1 = asyncio.run(first.write({"t1": [(("a",), 1)]}))
    with open_store(store_url) as reopened:
        second = make_writer(reopened)
        ts2 = asyncio.run(second.write({"t1": [(("a",), -1), (("b",), 1)]}))
        assert ts2 > ts1
        assert reopened.snapshot("t1", ts1) == [(("a",), 1)]
        assert reopened.snapshot("t1", ts2) == [(("b",), 1)]


round_of_writes = st.lists(
    st.dictionaries(
        st.sampled_from(["t1", "t2", "t3"]),
        st.lists(st.tuples(st.tuples(st.integers(0, 3)), st.sampled_from([-1, 1])), max_size=3),
        max_size=2,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=30, deadline=None)
@given(rounds=st.lists(round_of_writes, min_size=1, max_size=4))
def test_group_commit_matches_a_model(rounds: list[list[dict]]) -> None:
    """Concurrent rounds of writes: each write lands at its returned timestamp, nothing else is stored."""
    with open_store("sqlite:///:memory:") as store:
        for shard in ("t1", "t2", "t3"):
            store.create_shard(shard)
        writer = make_writer(store)
        history: list[tuple[str, tuple, int, int]] = []

        async def main() -> None:
            for writes in rounds:
                stamps = await asyncio.gather(*(writer.write(w) for w in writes))
                for changes, ts in zip(writes, stamps):
                    history.extend((shard, row, ts, diff) for shard, rows in changes.items() for row, diff in rows)

        asyncio.run(main())
        assert writer.stats.transactions <= len(rounds)
        read_ts = writer.oracle.read_ts()
        uppers = {store.upper(shard) for shard in ("t1", "t2", "t3")}
        assert uppers == {read_ts + 1}
        for shard in ("t1", "t2", "t3"):
            expected = consolidate((row, ts, diff) for s, row, ts, diff in history if s == shard)
            assert dict(store.snapshot(shard, read_ts)) == expected
