"""The vectorized fold of lazily built ``min``/``max``/``count`` groups (``dataflow.reduce_vector``) against a model
and the row path: which snapshots take it, its log of folded changes dropping entries of groups built since
(a tiny ``LOG_FLOOR``), a delta whose values the int64 arrays cannot hold (a huge int, a bool), a delta in the very
round that emits the first output, and many batches of deletes aimed at the extremes with groups emptied, refilled
and NULL values."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow import reduce_vector
from steadystate.dataflow.collection import add_into
from steadystate.dataflow.reduce import ReduceOperator
from steadystate.dataflow.reduce_columns import LazyGroups

from test_reduce_columns import SHAPES, arrow, expected, operator, run_both


def hydrated(shape: str, snapshot: list[tuple]) -> tuple[ReduceOperator, ReduceOperator, dict[tuple, int]]:
    """The operator hydrated from columns and one fed the rows, and their first output (checked equal)."""
    _rows, types, key, value = SHAPES[shape]
    lazy, by_rows = operator(key, value, True), operator(key, value, False)
    folded = lazy.fold_columns([arrow(snapshot, types)])
    assert isinstance(folded, LazyGroups)
    lazy.absorb_folded(folded)
    out: dict[tuple, int] = {}
    for row, diff in lazy.run(1, [({}, {})], True)[0].items():
        add_into(out, row, diff)
    assert out == by_rows.run(1, [(dict(Counter(snapshot)), {})], True)[0]
    return lazy, by_rows, out


def step(ops: list[ReduceOperator], outputs: list[dict[tuple, int]], t: int, delta: dict[tuple, int]) -> None:
    for op, out in zip(ops, outputs):
        for row, diff in op.run(t, [(dict(delta), {})], False)[0].items():
            add_into(out, row, diff)


@pytest.mark.parametrize("shape, vectorized", [
    ("dense_int_key", True), ("dense_narrow_ints", True), ("null_keys", True), ("sparse_int_key", True),
    ("two_key_columns", True), ("text_values", False), ("bool_values", False),
])
def test_int64_arguments_take_the_vectorized_fold(shape: str, vectorized: bool) -> None:
    """The shapes of ``test_reduce_columns`` whose arguments are int64 (dense key or not) fold deltas through
    the arrays; text and bool values keep the one-group-at-a-time fold."""
    _rows, types, key, value = SHAPES[shape]
    rows = [tuple(True if t == pa.bool_() else ("a" if t == pa.string() else i % 3) for t in types) for i in range(9)]
    folded = operator(key, value, True).fold_columns([arrow(rows, types)])
    assert isinstance(folded, LazyGroups)
    assert (folded.vector is not None) == vectorized


@pytest.mark.parametrize("shape", ["dense_int_key", "null_keys", "two_key_columns"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_tiny_log_floor_drops_entries_of_built_groups(shape: str, data: st.DataObject,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the log compacted after a few entries, groups built later still get every change folded before."""
    monkeypatch.setattr(reduce_vector, "LOG_FLOOR", 2)
    rows = SHAPES[shape][0]
    snapshot = data.draw(st.lists(rows, min_size=1, max_size=40))
    batches = data.draw(st.lists(st.lists(st.tuples(rows, st.booleans(), st.integers(0, 200)), max_size=10),
                                 max_size=12))
    run_both(shape, snapshot, batches)


def test_values_the_arrays_cannot_hold_build_the_groups_and_take_the_row_path() -> None:
    """A delta carrying an int beyond int64 or a bool in an int column (which the row path takes as given) is not
    folded: its pending groups are built and every row goes the row path, whose answer it then equals."""
    snapshot = [(k % 4, k) for k in range(20)]
    lazy, by_rows, first = hydrated("dense_int_key", snapshot)
    outputs = [dict(first), dict(first)]
    step([lazy, by_rows], outputs, 2, {(1, 2 ** 70): 1, (2, 2): -1, (3, 100): 1})
    assert outputs[0] == outputs[1]
    assert (1, 1, 2 ** 70, 6, 6) in outputs[0] and (3, 3, 100, 6, 6) in outputs[0]
    step([lazy, by_rows], outputs, 3, {(1, 2 ** 70): -1, (0, True): 1, (5, -(2 ** 70)): 1})
    assert outputs[0] == outputs[1]
    assert (1, 1, 17, 5, 5) in outputs[0] and (5, -(2 ** 70), -(2 ** 70), 1, 1) in outputs[0]
    step([lazy, by_rows], outputs, 4, {(2 ** 70, 1): 1, (None, 4): 1, (0, 0): -1})  # keys outside the dense range
    assert outputs[0] == outputs[1]


def test_a_delta_in_the_round_of_the_first_output() -> None:
    """The round that emits the first output may carry a delta: its changes are added to the first output rows
    (not set over them)."""
    snapshot = [(k % 5, k) for k in range(30)]
    _rows, types, key, value = SHAPES["dense_int_key"]
    lazy, by_rows = operator(key, value, True), operator(key, value, False)
    folded = lazy.fold_columns([arrow(snapshot, types)])
    assert isinstance(folded, LazyGroups)
    lazy.absorb_folded(folded)
    delta = {(0, 0): -1, (1, 31): 1, (2, 12): -1, (4, -1): 1, (7, 3): 1}
    got = lazy.run(1, [(dict(delta), {})], True)[0]
    model = Counter(snapshot)
    for row, diff in delta.items():
        model[row] += diff
    assert {row: diff for row, diff in got.items() if diff} == expected(+model, key, value)
    assert got == by_rows.run(1, [(dict(+model), {})], True)[0]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32), dense=st.booleans())
def test_batches_of_a_thousand_changes_aimed_at_the_extremes(seed: int, dense: bool) -> None:
    """Batches like the benchmark's (500 deletes + 500 inserts), half the deletes taking a group's current minimum
    or maximum, groups emptied and refilled, NULL values: the vectorized fold, the row path and the model agree
    after every batch; a sparse key (``dense`` false) takes the sorted form's group numbers."""
    rng = random.Random(seed)
    spread = 1 if dense else 10 ** 12
    snapshot = [(rng.randrange(0, 200) * spread, rng.choice([None, *range(0, 60)])) for _ in range(3000)]
    lazy, by_rows, first = hydrated("dense_int_key", snapshot)
    assert lazy.groups.vector is not None  # type: ignore[attr-defined]
    assert (lazy.groups.vector.low is not None) == dense  # type: ignore[attr-defined]
    outputs = [dict(first), dict(first)]
    model = Counter(snapshot)
    for t in range(2, 8):
        delta: dict[tuple, Any] = {}
        live = sorted(model.elements(), key=repr)
        for _ in range(min(500, len(live))):
            by_group: dict[int, list[tuple]] = {}
            for row in live:
                by_group.setdefault(row[0], []).append(row)
            group = by_group[rng.choice(sorted(by_group))]
            present = sorted((r for r in group if r[1] is not None), key=lambda r: r[1])
            row = (present[0] if rng.random() < 0.5 else present[-1]) if present and rng.random() < 0.5 else \
                rng.choice(group)
            live.remove(row)
            add_into(delta, row, -1)
            if len(live) < 100:
                break
        for _ in range(500):
            row = (rng.randrange(0, 220) * spread, rng.choice([None, *range(-5, 65)]))
            add_into(delta, row, 1)
        for row, diff in delta.items():
            model[row] += diff
        model = +model
        step([lazy, by_rows], outputs, t, delta)
        assert outputs[0] == outputs[1] == expected(model, (0,), 1)
