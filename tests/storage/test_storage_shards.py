"""Shard semantics, run against every backend (SQLite and PostgreSQL) through one parametrized suite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from steadystate.errors import InvalidParameterValue, SteadyError, UpperMismatch
from steadystate.storage import (
    ShardDropped,
    ShardNotFound,
    ShardStore,
    SnapshotUnavailable,
    TimestampRecord,
    open_store,
)


@pytest.fixture
def store(store_url: str) -> Iterator[ShardStore]:
    with open_store(store_url) as opened:
        yield opened


def as_multiset(pairs: list[tuple[tuple, int]]) -> dict[tuple, int]:
    result: dict[tuple, int] = {}
    for row, diff in pairs:
        assert row not in result, "snapshot rows must be consolidated"
        result[row] = diff
    return result


def test_new_shard_frontiers_and_idempotent_create(store: ShardStore) -> None:
    assert not store.shard_exists("s")
    store.create_shard("s")
    store.create_shard("s")
    assert store.shard_exists("s")
    assert (store.since("s"), store.upper("s")) == (0, 0)
    store.compare_and_append("s", [], 0, 4)
    store.compact("s", 2)
    assert store.frontiers("s") == (2, 4)


def test_unknown_shard_raises(store: ShardStore) -> None:
    with pytest.raises(ShardNotFound) as info:
        store.upper("nope")
    assert info.value.sqlstate == "42704"
    assert '"nope"' in info.value.message
    with pytest.raises(ShardNotFound):
        store.compare_and_append("nope", [], 0, 1)


def test_uppers_of_several_shards(store: ShardStore) -> None:
    for shard, upper in (("a", 3), ("b", 0), ("c", 7)):
        store.create_shard(shard)
        if upper:
            store.compare_and_append(shard, [], 0, upper)
    store.drop_shard("c")
    assert store.uppers(["b", "a", "c"]) == {"b": 0, "a": 3, "c": None}
    assert store.uppers([]) == {}
    with pytest.raises(ShardNotFound):
        store.uppers(["a", "zzz"])


def test_append_snapshot_listen(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a", 1), 0, 1), (("b", 2), 1, 2)], 0, 2)
    store.compare_and_append("s", [(("a", 1), 3, -1), (("c", 3), 4, 1)], 2, 5)
    assert store.upper("s") == 5
    assert as_multiset(store.snapshot("s", 1)) == {("a", 1): 1, ("b", 2): 2}
    assert as_multiset(store.snapshot("s", 4)) == {("b", 2): 2, ("c", 3): 1}
    updates, upper = store.listen("s", 2)
    assert upper == 5
    assert sorted(updates) == sorted([(("a", 1), 3, -1), (("c", 3), 4, 1)])
    assert store.listen("s", 5) == ([], 5)
    assert store.listen("s", 100) == ([], 5)


def test_empty_append_advances_upper_only(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [], 0, 10)
    assert store.upper("s") == 10
    assert store.snapshot("s", 9) == []
    assert store.listen("s", 0) == ([], 10)


def test_special_datums_round_trip(store: ShardStore) -> None:
    row = (Decimal("1.50"), dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5), None, True, 2.5, "x")
    store.create_shard("s")
    store.compare_and_append("s", [(row, 0, 1)], 0, 1)
    assert store.snapshot("s", 0) == [(row, 1)]
    assert store.listen("s", 0) == ([(row, 0, 1)], 1)


def test_stale_expected_upper_is_refused(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a",), 0, 1)], 0, 3)
    with pytest.raises(UpperMismatch) as info:
        store.compare_and_append("s", [(("b",), 1, 1)], 0, 3)
    assert (info.value.expected, info.value.actual) == (0, 3)
    assert as_multiset(store.snapshot("s", 2)) == {("a",): 1}, "a refused append must write nothing"
    assert store.upper("s") == 3


@pytest.mark.parametrize(
    "updates, expected, new",
    [
        ([(("a",), 4, 1)], 5, 10),  # before the expected upper
        ([(("a",), 10, 1)], 5, 10),  # at the new upper
        ([], 5, 5),  # upper does not advance
        ([], 5, 4),  # upper regresses
    ],
)
def test_bad_time_ranges_are_rejected(store: ShardStore, updates: list, expected: int, new: int) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [], 0, 5)
    with pytest.raises(ValueError):
        store.compare_and_append("s", updates, expected, new)
    assert store.upper("s") == 5


def test_close_with_empty_upper(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a",), 7, 1)], 0, None)
    assert store.upper("s") is None
    assert store.shard_exists("s")
    assert store.snapshot("s", 10**12) == [(("a",), 1)]
    assert store.listen("s", 7) == ([(("a",), 7, 1)], None)
    with pytest.raises(UpperMismatch):
        store.compare_and_append("s", [], 8, 9)


def test_snapshot_outside_since_upper_raises(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a",), 1, 1)], 0, 10)
    store.compact("s", 5)
    with pytest.raises(SnapshotUnavailable) as early:
        store.snapshot("s", 4)
    with pytest.raises(SnapshotUnavailable) as late:
        store.snapshot("s", 10)
    for error in (early.value, late.value):
        assert isinstance(error, SteadyError) and error.hint
    assert "since" in early.value.message and "upper 10" in late.value.message


def test_compact_merges_history_and_never_regresses(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a",), 0, 1)], 0, 2)
    store.compare_and_append("s", [(("a",), 2, -1), (("b",), 3, 1)], 2, 4)
    store.compare_and_append("s", [(("b",), 5, 1)], 4, 8)
    store.compact("s", 6)
    assert store.since("s") == 6
    store.compact("s", 3)
    assert store.since("s") == 6
    assert as_multiset(store.snapshot("s", 6)) == {("b",): 2}
    assert as_multiset(store.snapshot("s", 7)) == {("b",): 2}
    # The two batches wholly below 6 became one batch at time 6 holding only live data; the batch
    # spanning 6 ([4, 8)) keeps its own times.
    updates, _ = store.listen("s", 0)
    assert sorted(updates) == [(("b",), 5, 1), (("b",), 6, 1)]


def test_compact_drops_fully_retracted_data(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a",), 0, 1)], 0, 1)
    store.compare_and_append("s", [(("a",), 1, -1)], 1, 2)
    store.compact("s", 2)
    assert store.listen("s", 0) == ([], 2)


def test_drop_shard(store: ShardStore) -> None:
    store.create_shard("s")
    store.compare_and_append("s", [(("a",), 0, 1)], 0, 1)
    store.drop_shard("s")
    store.drop_shard("s")
    assert not store.shard_exists("s")
    assert (store.since("s"), store.upper("s")) == (None, None)
    assert store.listen("s", 0) == ([], None)
    with pytest.raises(UpperMismatch) as info:
        store.compare_and_append("s", [(("b",), 1, 1)], 1, 2)
    assert info.value.actual is None
    with pytest.raises(ShardDropped):
        store.snapshot("s", 0)
    with pytest.raises(ShardDropped):
        store.create_shard("s")  # a late writer cannot resurrect a dropped shard


def test_append_many_is_all_or_nothing(store: ShardStore) -> None:
    for shard in ("a", "b"):
        store.create_shard(shard)
    store.compare_and_append("b", [], 0, 5)
    with pytest.raises(UpperMismatch):
        store.compare_and_append_many([("a", [(("x",), 0, 1)], 0, 1), ("b", [(("y",), 0, 1)], 0, 1)])
    assert store.upper("a") == 0 and store.upper("b") == 5
    assert store.listen("a", 0) == ([], 0)
    store.compare_and_append_many(
        [("a", [(("x",), 5, 1)], 0, 6), ("b", [(("y",), 5, 1)], 5, 6)], timestamp=TimestampRecord("tl", 5)
    )
    assert store.upper("a") == store.upper("b") == 6
    assert store.snapshot("a", 5) == [(("x",), 1)] and store.snapshot("b", 5) == [(("y",), 1)]
    assert store.load_timestamp("tl") == 5
    with pytest.raises(ValueError):
        store.compare_and_append_many([("a", [], 6, 7), ("a", [], 6, 7)])


def test_timestamps_never_move_backwards(store: ShardStore) -> None:
    assert store.load_timestamp("tl") is None
    store.store_timestamp(TimestampRecord("tl", 10))
    store.store_timestamp(TimestampRecord("tl", 4))
    assert store.load_timestamp("tl") == 10


def test_data_survives_reopen(store_url: str) -> None:
    with open_store(store_url) as first:
        first.create_shard("s")
        first.compare_and_append("s", [(("a",), 0, 1)], 0, 1)
    with open_store(store_url) as second:
        assert second.upper("s") == 1
        assert second.snapshot("s", 0) == [(("a",), 1)]


def test_bad_urls_are_rejected() -> None:
    for url in ("mysql://x/y", "sqlite://relative.db", "sqlite:////tmp/x.db?colour=blue"):
        with pytest.raises(InvalidParameterValue):
            open_store(url)


def test_compaction_merges_small_batches_and_leaves_large_ones(store: ShardStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small appends collapse into one batch holding the live data; a large batch (a load) is never rewritten,
    and a merge result that grew large is not merged again."""
    from steadystate.storage import sql_store

    monkeypatch.setattr(sql_store, "MERGE_BELOW_UPDATES", 8)
    store.create_shard("s")
    store.compare_and_append("s", [((i,), 0, 1) for i in range(20)], 0, 1)  # "large": 20 updates
    for t in range(1, 41):  # 40 small batches: insert t, delete t - 1 (except the loaded rows)
        updates = [((100 + t,), t, 1)] + ([((100 + t - 1,), t, -1)] if t > 1 else [])
        store.compare_and_append("s", updates, t, t + 1)
    assert store.batch_stats("s") == (41, 20 + 1 + 2 * 39)
    store.compact("s", 30)
    # the large batch, one merged batch (+140 and -... consolidated to the one live row), the batches from 30 on
    batches, updates = store.batch_stats("s")
    assert batches == 1 + 1 + 11 and updates == 20 + 1 + 2 * 11
    assert as_multiset(store.snapshot("s", 40)) == {**{(i,): 1 for i in range(20)}, (140,): 1}
    store.compact("s", 41)
    assert store.batch_stats("s") == (2, 21)
    assert store.listen("s", 42) == ([], 41)


def test_a_compaction_that_lost_a_race_writes_nothing(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stores compact the same shard at once: the one whose batches were merged by the other first rolls back,
    so no update is counted twice."""
    from steadystate.storage import open_store, sql_store

    with open_store(store_url) as first, open_store(store_url) as second:
        first.create_shard("s")
        for t in range(6):
            first.compare_and_append("s", [(("a",), t, 1)], t, t + 1)
        real_decode = sql_store.decode_updates
        raced = []

        def decode_while_the_other_compacts(blob: bytes) -> list:
            if not raced:
                raced.append(True)
                second.compact("s", 6)  # merges the same six batches first
            return real_decode(blob)

        monkeypatch.setattr(sql_store, "decode_updates", decode_while_the_other_compacts)
        first.compact("s", 6)
        monkeypatch.setattr(sql_store, "decode_updates", real_decode)
        assert raced and first.batch_stats("s") == (1, 1)
        first.compare_and_append("s", [], 6, 7)
        assert as_multiset(first.snapshot("s", 6)) == {("a",): 6}
