"""Property test: a shard behaves like a naive in-memory list of updates, on every backend.

Random programs of appends (random rows, times and diffs within each append's ``[lower, upper)``) and
compactions run against a real store; after every step, ``snapshot(as_of)`` for every ``as_of`` in
``[since, upper)`` and ``listen(after)`` for every ``after`` in ``(since, upper]`` must equal what the
plain list of all updates ever appended says.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steadystate.storage import ShardStore, consolidate, open_store

Update = tuple[tuple, int, int]

append_op = st.tuples(
    st.just("append"),
    st.integers(min_value=1, max_value=4),  # width of [lower, upper)
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 3), st.sampled_from([-1, 1, 2])),  # row, time offset, diff
        max_size=6,
    ),
)
compact_op = st.tuples(st.just("compact"), st.integers(min_value=0, max_value=5), st.just([]))
programs = st.lists(st.one_of(append_op, compact_op), min_size=1, max_size=12)
# insert-only appends at one time: what storage keeps as Arrow columns (repr.columnar) when they are large enough
insert_op = st.tuples(
    st.just("append"),
    st.integers(min_value=1, max_value=4),
    st.integers(0, 3).flatmap(lambda offset: st.lists(st.tuples(st.integers(0, 4), st.just(offset), st.just(1)),
                                                      min_size=1, max_size=6)),
)
mixed_programs = st.lists(st.one_of(insert_op, append_op, compact_op), min_size=1, max_size=12)


@pytest.fixture
def model_store(store_url: str) -> Iterator[ShardStore]:
    with open_store(store_url) as opened:
        yield opened


def model_snapshot(history: list[Update], as_of: int) -> dict[tuple, int]:
    return consolidate(u for u in history if u[1] <= as_of)


def model_listen(history: list[Update], after: int, upper: int) -> dict[tuple[tuple, int], int]:
    return timed(u for u in history if after <= u[1] < upper)


def timed(updates) -> dict[tuple[tuple, int], int]:
    totals: dict[tuple[tuple, int], int] = {}
    for row, time, diff in updates:
        totals[(row, time)] = totals.get((row, time), 0) + diff
    return {key: diff for key, diff in totals.items() if diff}


def check_against_model(store: ShardStore, shard: str, history: list[Update]) -> None:
    since, upper = store.since(shard), store.upper(shard)
    assert since is not None and upper is not None
    for as_of in range(since, upper):
        assert dict(store.snapshot(shard, as_of)) == model_snapshot(history, as_of), f"as_of {as_of}"
        assert dict(store.snapshot_counts(shard, as_of)) == model_snapshot(history, as_of), f"as_of {as_of}"
    for after in range(since + 1, upper + 1):
        updates, listened_upper = store.listen(shard, after)
        assert listened_upper == upper
        assert timed(updates) == model_listen(history, after, upper), f"after {after}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs)
def test_shard_matches_naive_model(model_store: ShardStore, program: list) -> None:
    run_program(model_store, program)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=mixed_programs)
def test_shard_with_columnar_batches_matches_naive_model(model_store: ShardStore, program: list,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every insert-only append stored as Arrow (the size threshold lowered to 1), mixed with msgpack batches and
    compactions: snapshots and listens still equal the model, and ``snapshot_columns``'s tables plus its rest
    (counts added, negative ones included) are exactly the snapshot."""
    from steadystate.repr import columnar

    monkeypatch.setattr(columnar, "MIN_UPDATES", 1)
    shard, history = run_program(model_store, program)
    since, upper = model_store.since(shard), model_store.upper(shard)
    assert since is not None and upper is not None
    for as_of in range(since, upper):
        columnar = model_store.snapshot_columns(shard, as_of)
        if columnar is not None:
            assert columnar.tables and 0 not in columnar.rest.values()
            total = Counter(row for table in columnar.tables for row in zip(*(c.to_pylist() for c in table.columns)))
            total.update(columnar.rest)  # adds counts, negative ones included
            assert {row: n for row, n in total.items() if n} == model_snapshot(history, as_of)


def run_program(model_store: ShardStore, program: list) -> tuple[str, list[Update]]:
    shard = "m" + uuid.uuid4().hex
    model_store.create_shard(shard)
    history: list[Update] = []
    upper, since = 0, 0
    for op, amount, raw_updates in program:
        if op == "append":
            new_upper = upper + amount
            updates = [((row,), upper + min(offset, amount - 1), diff) for row, offset, diff in raw_updates]
            model_store.compare_and_append(shard, updates, upper, new_upper)
            history.extend(updates)
            upper = new_upper
        else:
            target = min(since + amount, upper)
            model_store.compact(shard, target)
            since = max(since, target)
            assert model_store.since(shard) == since
        check_against_model(model_store, shard, history)
    return shard, history
