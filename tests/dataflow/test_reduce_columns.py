"""A reduce's ``min``/``max``/``count`` groups built lazily from a snapshot's columns (``dataflow.reduce_columns``)
against a model and against the same operator fed the snapshot as rows, across random inserts and deletes after
hydration: deletes of a group's current minimum or maximum (the next one must appear), groups emptied and made
again, NULL keys and values, a dense integer key (NumPy's ``minimum.at``, states sorted later), sparse and text
keys and text/bool values (the consolidated, sorted arrays), several key columns, and a weighted snapshot (a join
of consolidated tables).  Columns that are not exact (floats, numerics, timestamps) must leave the snapshot to the
rows."""

from __future__ import annotations

import datetime
import decimal
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.collection import add_into
from steadystate.dataflow.reduce import ReduceOperator, reduce_operator
from steadystate.dataflow.reduce_columns import ColumnsOf, LazyGroups, column_results
from steadystate.expr.aggregates import CountState, DistinctState, MaxState, MinState, SumState

# (min, max, count(v), count(*)) of v by the key columns
FACTORIES = [MinState, MaxState, CountState, CountState]


def operator(key: tuple[int, ...], value: int, columns: bool) -> ReduceOperator:
    return reduce_operator(0, lambda row: tuple(row[c] for c in key), [lambda row: row[value]] * 3 + [None],
                           FACTORIES, is_global=False,
                           columns=ColumnsOf(key, (value, value, value, None)) if columns else None)


def expected(rows: Counter, key: tuple[int, ...], value: int) -> dict[tuple, int]:
    """The model: per key with rows, (key…, min, max, count of non-NULL values, count of rows)."""
    groups: dict[tuple, list[Any]] = {}
    for row, count in rows.items():
        assert count > 0
        groups.setdefault(tuple(row[c] for c in key), []).extend([row[value]] * count)
    out = {}
    for k, values in groups.items():
        present = [v for v in values if v is not None]
        out[k + (min(present) if present else None, max(present) if present else None, len(present),
                 len(values))] = 1
    return out


def arrow(rows: list[tuple], types: list[pa.DataType]) -> pa.Table:
    return pa.table({f"c{i}": pa.array([r[i] for r in rows], type=t) for i, t in enumerate(types)})


ints = st.one_of(st.none(), st.integers(-3, 6))
texts = st.one_of(st.none(), st.sampled_from(["", "a", "ab", "B", "é", "z\u00e9", "\U0001f600"]))
SHAPES = {
    # name: (row strategy, Arrow types, key columns, value column)
    "dense_int_key": (st.tuples(st.integers(0, 5), ints), [pa.int64(), pa.int64()], (0,), 1),
    "dense_narrow_ints": (st.tuples(st.integers(-2, 5), ints), [pa.int16(), pa.int8()], (0,), 1),
    "null_keys": (st.tuples(ints, ints), [pa.int64(), pa.int64()], (0,), 1),
    "sparse_int_key": (st.tuples(st.sampled_from([-(2 ** 62), 0, 7, 2 ** 62]), ints), [pa.int64(), pa.int64()],
                       (0,), 1),
    "text_values": (st.tuples(st.integers(0, 4), texts), [pa.int64(), pa.string()], (0,), 1),
    "text_key": (st.tuples(texts, ints), [pa.string(), pa.int64()], (0,), 1),
    "bool_values": (st.tuples(st.integers(0, 3), st.one_of(st.none(), st.booleans())), [pa.int64(), pa.bool_()],
                    (0,), 1),
    "two_key_columns": (st.tuples(st.integers(0, 2), texts, ints), [pa.int64(), pa.string(), pa.int64()], (0, 1),
                        2),
}


def run_both(shape: str, snapshot: list[tuple], batches: list[list[tuple[Any, bool, int]]],
             weighted: bool = False) -> None:
    rows_of, types, key, value = SHAPES[shape]
    lazy, by_rows = operator(key, value, True), operator(key, value, False)
    model: Counter = Counter(snapshot)
    if weighted:  # each distinct row once, with its count in ``count_all`` (a join of consolidated tables)
        distinct = list(model)
        table = arrow(distinct, types).append_column("count_all", pa.array([model[r] for r in distinct], pa.int64()))
        folded = lazy.fold_weighted([table])
    else:
        half = len(snapshot) // 2  # in two tables
        folded = lazy.fold_columns([arrow(snapshot[:half], types), arrow(snapshot[half:], types)])
    assert isinstance(folded, LazyGroups)
    lazy.absorb_folded(folded)
    outputs = {"lazy": {}, "rows": {}}  # type: dict[str, dict[tuple, int]]
    for name, op, delta in (("lazy", lazy, {}), ("rows", by_rows, dict(model))):
        for row, diff in op.run(1, [(delta, {})], True)[0].items():
            add_into(outputs[name], row, diff)
    assert outputs["lazy"] == outputs["rows"] == expected(model, key, value)
    by_group: dict[tuple, Counter] = {}
    for row, count in model.items():
        by_group.setdefault(tuple(row[c] for c in key), Counter())[row] += count
    for t, batch in enumerate(batches, start=2):
        delta: dict[tuple, int] = {}
        for row, insert, pick in batch:
            if not insert and model:
                chosen = pick_deleted(model, by_group, value, pick)
                add_into(delta, chosen, -1)
                model[chosen] -= 1
                model = +model
                group = tuple(chosen[c] for c in key)
                by_group[group][chosen] -= 1
                by_group[group] = +by_group[group]
                if not by_group[group]:
                    del by_group[group]
            else:
                model[row] += 1
                by_group.setdefault(tuple(row[c] for c in key), Counter())[row] += 1
                add_into(delta, row, 1)
        for name, op in (("lazy", lazy), ("rows", by_rows)):
            for row, diff in op.run(t, [(dict(delta), {})], False)[0].items():
                add_into(outputs[name], row, diff)
        assert outputs["lazy"] == outputs["rows"] == expected(model, key, value)
    # a full read materialises every pending group: the states are those the row path built
    assert {k: (g.rows, [s.result() for s in g.aggs]) for k, g in lazy.groups.items()} == \
        {k: (g.rows, [s.result() for s in g.aggs]) for k, g in by_rows.groups.items()}


def pick_deleted(model: Counter, by_group: dict[tuple, Counter], value: int, pick: int) -> tuple:
    """The row a delete takes: for an even ``pick``, one holding a group's current minimum or maximum (the next
    must show), else any row."""
    if pick % 2:
        candidates = sorted(model, key=repr)
        return candidates[pick % len(candidates)]
    groups = sorted(by_group, key=repr)
    rows = by_group[groups[(pick // 2) % len(groups)]]
    present = [row[value] for row in rows if row[value] is not None]
    if not present:
        return sorted(rows, key=repr)[0]
    extreme = max(present) if (pick // 4) % 2 else min(present)
    return sorted((row for row in rows if row[value] == extreme), key=repr)[0]


def batches_of(rows: st.SearchStrategy) -> st.SearchStrategy:
    """Batches of (row, insert?, pick); some large enough for the reduce's bulk fold (``load_many``)."""
    small = st.lists(st.tuples(rows, st.booleans(), st.integers(0, 200)), max_size=8)
    large = st.lists(st.tuples(rows, st.booleans(), st.integers(0, 200)), min_size=520, max_size=600)
    return st.lists(st.one_of(small, small, small, large), max_size=5)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_lazy_min_max_groups_answer_as_the_row_path(shape: str, data: st.DataObject) -> None:
    rows = SHAPES[shape][0]
    snapshot = data.draw(st.lists(rows, min_size=1, max_size=40))
    batches = data.draw(batches_of(rows))
    run_both(shape, snapshot, batches, weighted=data.draw(st.booleans()))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32), deletes=st.integers(0, 3000))
def test_a_large_dense_snapshot_then_deletes_of_every_minimum(seed: int, deletes: int) -> None:
    """Thousands of rows over a dense key (the ``minimum.at`` path), then deletes that always take a group's
    current minimum or maximum, in batches the bulk fold takes."""
    import random

    rng = random.Random(seed)
    snapshot = [(rng.randrange(0, 300), rng.choice([None, *range(-50, 50)])) for _ in range(4000)]
    batches = []
    for _ in range(3):
        batch = [((rng.randrange(0, 320), rng.randrange(-60, 60)), True, 0) for _ in range(200)]
        batch += [((0, 0), False, 2 * rng.randrange(0, 10 ** 6)) for _ in range(deletes // 3)]  # even: an extreme
        rng.shuffle(batch)
        batches.append(batch)
    run_both("dense_int_key", snapshot, batches)


@pytest.mark.parametrize("typ, values", [
    (pa.float64(), [1.5, -0.0, 0.0, float("nan")]),
    (pa.decimal128(10, 2), [decimal.Decimal("1.50"), decimal.Decimal("1.5")]),
    (pa.timestamp("us"), [datetime.datetime(2024, 1, 1), datetime.datetime(2023, 5, 6, 7, 8)]),
    (pa.date32(), [datetime.date(2024, 1, 1)]),
])
def test_columns_that_are_not_exact_leave_the_snapshot_to_the_rows(typ: pa.DataType, values: list) -> None:
    """Floats (``-0.0``, NaN), numerics (display scales), timestamps and dates: ``fold_columns`` declines, and the
    same snapshot fed as rows gives the model's answer."""
    rows = [(i % 2, v) for i, v in enumerate(values * 3)]
    op = operator((0,), 1, True)
    assert op.fold_columns([arrow(rows, [pa.int64(), typ])]) is None
    out: dict[tuple, int] = {}
    for row, diff in op.run(1, [(dict(Counter(rows)), {})], True)[0].items():
        add_into(out, row, diff)
    if typ != pa.float64():  # NaN: PostgreSQL's order (above every number), which Python's min does not know
        assert out == expected(Counter(rows), (0,), 1)
    else:
        assert {row[0] for row in out} == {0, 1}


def test_only_min_max_and_counts_are_built_lazily() -> None:
    """A sum, a DISTINCT or an empty group key take the eager path (their results are not read off the sorted
    values)."""
    columns = ColumnsOf((0,), (1, 1))
    assert column_results(columns, [MinState, CountState]) == ["first", "count"]
    assert column_results(columns, [MinState, SumState]) is None
    assert column_results(columns, [MinState, lambda: DistinctState(MaxState())]) is None
    assert column_results(ColumnsOf((), (1,)), [MinState]) is None
    assert column_results(ColumnsOf((0,), (1,), ((",", ()),)), [MaxState]) is None


def test_the_dense_path_sorts_only_when_a_delta_comes() -> None:
    """A dense integer key's first output is computed without the sorted form, which the first touched group
    builds; untouched groups stay pending."""
    rows = [(k % 100, k) for k in range(1000)]
    op = operator((0,), 1, True)
    folded = op.fold_columns([arrow(rows, [pa.int64(), pa.int64()])])
    assert isinstance(folded, LazyGroups) and folded._grouped is None  # noqa: SLF001 - the point of the test
    op.absorb_folded(folded)
    first = op.run(1, [({}, {})], True)[0]
    assert first == {(k, k, 900 + k, 10, 10): 1 for k in range(100)}
    out = op.run(2, [({(5, 5): -1}, {})], False)[0]  # the minimum of group 5 goes: 105 is next
    assert out == {(5, 5, 905, 10, 10): -1, (5, 105, 905, 9, 9): 1}
    assert len(folded.pending) == 99 and len(folded) == 100
