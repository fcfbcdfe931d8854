"""The hydration fast paths of the fused join-accumulate against the general paths they stand in for.

* ``accumulate._dense_grouped`` (per-key counts and sums by ``numpy.bincount``, for a dense non-negative integer
  key) against Arrow's hash ``group_by`` with the same aggregations;
* ``join_accumulate._snapshot_groups`` with B's keys unique (``P``'s keys looked up among B's with ``index_in``)
  against the same with Acero's hash join;
* ``LazyArranged.load_many`` with one row per key, then ``plain_get``, against the eagerly built arrangement.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.dataflow.accumulate import _dense_grouped, sums_from_columns
from steadystate.dataflow.lazy_arranged import arranged
from steadystate.dataflow.join import arrange_all
from steadystate.dataflow.join_accumulate import BSnapshot, _snapshot_groups

WIDTHS = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32()]


def _sorted_rows(table: pa.Table, key: str) -> list[tuple]:
    names = sorted(table.column_names)
    return sorted(zip(*(table.column(n).to_pylist() for n in names)), key=lambda row: [(v is None, v) for v in row])


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.one_of(st.none(), st.integers(0, 40)), min_size=1, max_size=60),
       values=st.data(), key_type=st.sampled_from(WIDTHS), value_type=st.sampled_from([pa.int16(), pa.int64()]),
       skip_null_keys=st.booleans())
def test_dense_grouping_equals_arrow_hash_grouping(keys: list, values: Any, key_type: Any, value_type: Any,
                                                   skip_null_keys: bool) -> None:
    """Counts, non-NULL counts and sums per key equal Arrow's ``group_by`` (NULL keys dropped when asked)."""
    n = len(keys)
    a = values.draw(st.lists(st.one_of(st.none(), st.integers(-30000, 30000)), min_size=n, max_size=n))
    b = values.draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    table = pa.table({"c0": pa.array(keys, key_type), "c1": pa.array(a, value_type), "c2": pa.array(b, value_type)})
    dense = _dense_grouped(table, ["c0"], ["c1", "c2"], ["c1", "c2"], skip_null_keys)
    if any(k is None for k in keys) and not skip_null_keys:
        assert dense is None  # NULL keys kept: left to the hash grouping
        return
    if dense is None:  # no key left: nothing to count
        assert all(k is None for k in keys)
        return
    expected = table.group_by(["c0"], use_threads=False).aggregate(
        [([], "count_all"), ("c1", "count"), ("c2", "count"), ("c1", "sum"), ("c2", "sum")])
    expected = expected.filter(expected.column("c0").is_valid())
    expected = pa.table({name: (expected.column(name).fill_null(0) if name.endswith("_sum")
                                else expected.column(name)) for name in expected.column_names})
    got = dense.select(expected.column_names)
    assert _sorted_rows(got, "c0") == _sorted_rows(expected, "c0")


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 1000), st.integers(-10**6, 10**6)), max_size=40))
def test_sums_from_columns_is_the_row_fold(rows: list[tuple[int, int]]) -> None:
    """Through the dense path, ``sums_from_columns`` leaves what folding the rows one by one leaves."""
    from steadystate.dataflow.accumulate import Accumulation, Accumulator

    table = pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()), "c1": pa.array([r[1] for r in rows])})
    sums = sums_from_columns([table], [0], [Accumulator(Accumulation.ROWS, None),
                                            Accumulator(Accumulation.SUM, 1)], skip_null_keys=True)
    expected: dict[tuple, list[int]] = {}
    for key, value in rows:
        slots = expected.setdefault((key,), [0, 0, 0, 0])
        slots[0] += 1
        slots[1] += 1
        slots[2] += value
        slots[3] += 1
    assert dict(sums or {}) == expected


@settings(max_examples=200, deadline=None)
@given(partial=st.dictionaries(st.integers(-3, 30), st.tuples(st.integers(-50, 50), st.integers(0, 9)), max_size=25),
       b_keys=st.sets(st.integers(-3, 30), max_size=25), data=st.data(),
       group=st.sampled_from([(1,), (2,), (1, 2), (2, 1), ()]))
def test_unique_dimension_lookup_equals_the_hash_join(partial: dict, b_keys: set, data: Any, group: tuple) -> None:
    """``P ⋈ B`` summed per group: B's unique keys looked up (``index_in``) give the groups the hash join gives."""
    keys = sorted(b_keys)
    regions = data.draw(st.lists(st.sampled_from(["a", "b", None]), min_size=len(keys), max_size=len(keys)))
    tiers = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=len(keys), max_size=len(keys)))
    b_table = pa.table({"c0": pa.array(keys, pa.int64()), "c1": pa.array(regions, pa.string()),
                        "c2": pa.array(tiers, pa.int64())})
    slots = {(k,): [v[0], v[1]] for k, v in partial.items()}
    p_table = pa.table({"k0": pa.array([k for k in partial], pa.int64()),
                        "s0": pa.array([v[0] for v in partial.values()], pa.int64()),
                        "s1": pa.array([v[1] for v in partial.values()], pa.int64())})
    snapshot = BSnapshot(b_table)
    fast = _snapshot_groups(slots, snapshot, (0,), group, 2, p_table, b_unique=True)
    again = _snapshot_groups(slots, snapshot, (0,), group, 2, p_table, b_unique=True)  # a second branch: memo
    joined = _snapshot_groups(slots, BSnapshot(b_table), (0,), group, 2, p_table, b_unique=False)
    assert fast == joined == again


@settings(max_examples=200, deadline=None)
@given(keys=st.sets(st.integers(0, 20), max_size=15), ops=st.lists(
    st.tuples(st.sampled_from(["arrange", "load_many"]), st.integers(0, 25), st.integers(0, 3)), max_size=20))
def test_one_row_per_key_loads_as_the_eager_arrangement(keys: set, ops: list) -> None:
    """A dimension's arrangement (one row per key): after ``load_many`` of some keys (changed before or not),
    ``plain_get`` finds each of them as the eagerly built ``key → {row: count}`` holds it."""
    rows = [(k, k * 7 % 5) for k in sorted(keys)]
    table = pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()),
                      "c1": pa.array([r[1] for r in rows], pa.int64())})
    lazy, _records, _distinct, _counted = arranged(table, [0], 2)
    eager: dict[tuple, dict[tuple, int]] = {}
    arrange_all(eager, [((row[0],), row, count) for row, count in Counter(rows).items()])
    for op, key, value in ops:
        if op == "arrange":
            row = (key, value)
            diff = -1 if eager.get((key,), {}).get(row, 0) > 0 else 1
            arrange_all(lazy, [((key,), row, diff)])
            arrange_all(eager, [((key,), row, diff)])
        else:
            wanted = [(key,), (value,), ((key + value) % 26,)]
            lazy.load_many(wanted)
            get = lazy.plain_get()
            for one in wanted:
                assert get(one) == eager.get(one)
    assert dict(lazy.items()) == eager


@settings(max_examples=200, deadline=None)
@given(ids=st.sets(st.one_of(st.none(), st.integers(0, 12)), max_size=10),
       rows=st.lists(st.tuples(st.integers(0, 99), st.one_of(st.none(), st.integers(0, 12))), max_size=30),
       ids_left=st.booleans())
def test_a_join_with_distinct_keys_is_the_hash_join(ids: set, rows: list, ids_left: bool) -> None:
    """The snapshots' join of a set of distinct keys (LATERAL's decorrelated outer side) with rows: the rows whose
    key is among them (``joined(keys_only=...)``) are the hash join's, with the same multiplicities."""
    from steadystate.dataflow.columns import joined

    keys = pa.table({"c0": pa.array(sorted(ids, key=lambda v: (v is None, v)), pa.int64())})
    other = pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()), "c1": pa.array([r[1] for r in rows], pa.int64())})
    if ids_left:
        args: tuple = (keys, other, [0], [1])
        flags = (True, False)
    else:
        args = (other, keys, [1], [0])
        flags = (False, True)
    fast = joined(*args, keys_only=flags)
    slow = joined(*args)
    assert fast.column_names == slow.column_names
    assert Counter(zip(*(c.to_pylist() for c in fast.columns))) == Counter(zip(*(c.to_pylist() for c in slow.columns)))


@settings(max_examples=150, deadline=None)
@given(ids=st.sets(st.integers(-40, 40), max_size=60), values=st.lists(st.integers(-45, 45), min_size=17, max_size=200),
       far_id=st.sampled_from([None, -(2**63), 2**63 - 1, 10**12]),
       far_value=st.sampled_from([None, -(2**63), 2**63 - 1, 10**12]), null_id=st.booleans(), all_kept=st.booleans())
def test_semijoin_by_a_direct_map_is_the_hash_join(ids: set, values: list, far_id: int | None, far_value: int | None,
                                                   null_id: bool, all_kept: bool) -> None:
    """Many int64 rows against dense or sparse distinct keys (the table of the keys' range, rows inside it or not,
    or Arrow's ``is_in``): the rows kept are the hash join's; when every row's key is among the keys the table
    comes back whole."""
    from steadystate.dataflow.columns import joined

    if far_id is not None:  # a key far from the others: the range is too wide for a table
        ids.add(far_id)
    if far_value is not None:  # a row outside the keys' range
        values.append(far_value)
    if all_kept:
        ids |= set(values)
    keys = pa.table({"c0": pa.array(sorted(ids) + ([None] if null_id else []), pa.int64())})
    other = pa.table({"c0": pa.array(range(len(values)), pa.int64()), "c1": pa.array(values, pa.int64())})
    fast = joined(keys, other, [0], [1], keys_only=(True, False))
    slow = joined(keys, other, [0], [1])
    assert Counter(zip(*(c.to_pylist() for c in fast.columns))) == Counter(zip(*(c.to_pylist() for c in slow.columns)))


@settings(max_examples=200, deadline=None)
@given(entries=st.dictionaries(st.integers(-5, 20), st.tuples(st.integers(-9, 9), st.integers(0, 9)), max_size=12),
       ops=st.lists(st.tuples(st.sampled_from(["get", "set", "del", "load_many", "contains"]),
                              st.one_of(st.integers(-6, 22), st.none()), st.integers(-9, 9)), max_size=30),
       shuffled=st.booleans())
def test_lazy_partial_sums_are_the_dict_they_stand_for(entries: dict, ops: list, shuffled: bool) -> None:
    """``LazyPartial`` (P of a join-accumulate hydrated from columns) answers lookups, assignments, deletions and
    bulk loads as the eager ``key → [slots]`` dict does, and iterates to the same contents."""
    from steadystate.dataflow.join_accumulate import LazyPartial

    keys = list(entries)
    if not shuffled:
        keys.sort()
    table = pa.table({"k0": pa.array(keys, pa.int64()), "s0": pa.array([entries[k][0] for k in keys], pa.int64()),
                      "s1": pa.array([entries[k][1] for k in keys], pa.int64())})
    lazy = LazyPartial.of(table)
    if not keys:
        assert lazy is None
        return
    assert lazy is not None
    copy = lazy.unused_copy()
    eager = {(k,): list(v) for k, v in entries.items()}
    for op, key, value in ops:
        one = (key,)
        if op == "get":
            assert lazy.get(one) == eager.get(one)
        elif op == "contains":
            assert (one in lazy) == (one in eager)
        elif op == "set":
            lazy[one] = eager[one] = [value, 1]
        elif op == "del":
            if one in eager:
                del lazy[one]
                del eager[one]
        else:
            wanted = [one, (value,)]
            lazy.load_many(wanted)
            get = lazy.plain_get()
            for k in wanted:
                assert get(k) == eager.get(k)
        assert len(lazy) == len(eager)
    assert dict(lazy.items()) == eager
    assert dict(copy.items()) == {(k,): list(v) for k, v in entries.items()}  # the copy was not changed


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 4)), st.integers(0, 3)), max_size=15),
       ops=st.lists(st.tuples(st.sampled_from(["arrange", "get", "load_many"]),
                              st.tuples(st.integers(0, 5), st.integers(0, 3)), st.sampled_from([1, -1])),
                    max_size=25))
def test_a_side_sorted_later_is_the_dict_it_stands_for(rows: list[tuple], ops: list) -> None:
    """``arranged_later`` (a join side left unsorted until a key is looked up, every change kept aside meanwhile)
    answers every lookup as the eagerly built ``key → {row: count}`` would, before and after it is sorted."""
    from steadystate.dataflow.lazy_arranged import arranged_later

    table = pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()), "c1": pa.array([r[1] for r in rows], pa.int64())})
    lazy, records = arranged_later(table, [0], 2)
    assert records == sum(1 for r in rows if r[0] is not None)
    eager: dict[tuple, dict[tuple, int]] = {}
    arrange_all(eager, [((row[0],), row, count) for row, count in Counter(rows).items() if row[0] is not None])
    for op, row, diff in ops:
        key = (row[0],)
        if op == "arrange":
            if eager.get(key, {}).get(row, 0) + diff < 0:
                continue  # the join's input is consistent: no more retractions than insertions
            arrange_all(lazy, [(key, row, diff)])
            arrange_all(eager, [(key, row, diff)])
        elif op == "get":
            assert lazy.get(key) == eager.get(key)
        else:
            lazy.load_many([key, (row[1],)])
    assert dict(lazy.items()) == eager


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(-10**6, 10**6))), max_size=30),
       changes=st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(-9, 9))), max_size=5))
def test_a_global_reduce_hydrated_from_columns_answers_as_the_rows(rows: list[tuple[int, int | None]],
                                                                    changes: list[tuple[int, int | None]]) -> None:
    """``count(*)``, ``count(v)`` and ``sum(v)`` without GROUP BY: folded from a snapshot's columns (none: the empty
    result, a count of 0 and a NULL sum) it emits what the rows emit, and both take later inserts alike."""
    from steadystate.dataflow.accumulate import AccumulatingReduce, Accumulation, Accumulator

    def reduce() -> AccumulatingReduce:
        return AccumulatingReduce(0, (), [Accumulator(Accumulation.ROWS, None), Accumulator(Accumulation.NON_NULL, 1),
                                          Accumulator(Accumulation.SUM, 1)], is_global=True)

    by_rows, by_columns = reduce(), reduce()
    table = pa.table({"c0": pa.array([r[0] for r in rows], pa.int8()), "c1": pa.array([r[1] for r in rows], pa.int32())})
    folded = by_columns.fold_columns([table])
    assert folded is not None
    by_columns.absorb_folded(folded)
    assert by_columns.run(1, [({}, {})], True) == by_rows.run(1, [(dict(Counter(rows)), {}), ], True)
    assert by_columns.run(2, [(dict(Counter(changes)), {})], False) == by_rows.run(2, [(dict(Counter(changes)), {})], False)
