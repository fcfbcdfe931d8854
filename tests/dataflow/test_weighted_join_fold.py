"""A reduce over a join folds the join of the two *consolidated* snapshots, each pair of distinct rows once with the
product of their counts (``columns.joined_counted``, ``ReduceOperator.fold_weighted``), and builds exactly the
groups it builds from the join's rows one by one."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.columns import grouped_values, joined, joined_counted
from steadystate.dataflow.lazy_arranged import arranged
from steadystate.dataflow.reduce import ReduceOperator
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

col = ir.ColumnRef
values = st.one_of(st.none(), st.integers(-2, 3), st.sampled_from([-(2**62), 2**62]))  # huge: not packed
texts = st.one_of(st.none(), st.sampled_from(["", "a", "b", "é"]))


def table(rows: list[tuple], types: list[Any]) -> pa.Table:
    return pa.table({f"c{i}": pa.array([row[i] for row in rows], typ) for i, typ in enumerate(types)})


def as_lists(grouped: Any) -> tuple:
    return (grouped.keys, grouped.rows, grouped.starts, grouped.ends, grouped.values, grouped.counts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(left=st.lists(st.tuples(values, values), max_size=25), right=st.lists(st.tuples(values, texts), max_size=25),
       key=st.sampled_from([(), (1,), (3,), (1, 3)]), value=st.sampled_from([[0], [3], [0, 3], []]))
def test_grouping_the_consolidated_join_by_weight_equals_grouping_its_rows(left: list, right: list, key: tuple,
                                                                           value: list) -> None:
    left_table, right_table = table(left, [pa.int64(), pa.int64()]), table(right, [pa.int64(), pa.string()])
    left_state = arranged(left_table, [0], 2)
    right_state = arranged(right_table, [0], 2)
    rows = joined(left_table, right_table, [0], [0])  # the row path's input: one row per joined pair of rows
    expected = grouped_values([rows], key, value)
    if left_state[3] is None or right_state[3] is None:
        assert rows.num_rows == 0
        return
    weighted = joined_counted(left_state[3], right_state[3], [0], [0])
    assert int(np.sum(weighted.column("count_all").to_numpy())) == rows.num_rows
    got = grouped_values([weighted], key, value, weighted=True)
    assert expected is not None and got is not None
    assert as_lists(got) == as_lists(expected)
    # cut to the columns the grouping reads before joining (a reduce's ``columns_read``): the same groups
    keep = sorted(set(key) | set(value))
    cut = joined_counted(left_state[3], right_state[3], [0], [0], keep)
    assert sorted(cut.column_names) == sorted([f"c{c}" for c in keep] + ["count_all"])
    assert int(np.sum(cut.column("count_all").to_numpy())) == rows.num_rows
    assert cut.num_rows <= weighted.num_rows
    got_cut = grouped_values([cut], key, value, weighted=True)
    assert got_cut is not None and as_lists(got_cut) == as_lists(expected)


def hydrated_reduce_over_join(aggregates: tuple[ir.AggregateExpr, ...], rows: dict[str, list[tuple]],
                              width: Any) -> tuple[RenderedDataflow, list[int]]:
    """``Reduce(a ⋈ b on a.x = b.x, group by b's second column, aggregates)`` hydrated from ``rows`` as columns,
    with the sizes of the tables its reduce folded by weight."""
    a = RelationDesc.of(("x", T.INT8), ("y", T.INT8))
    plan = ir.Reduce(ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)),)), (col(3),), aggregates)
    out = RelationDesc(())
    dataflow = RenderedDataflow(DataflowDescription(
        source_imports=(SourceImport("a", "sa", a), SourceImport("b", "sb", a)), index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out),), index_exports=(IndexExport("i", "v", (col(0),), out),),
        sink_exports=(), as_of=1), {})
    (reduce,) = [n for n in dataflow.graph.nodes if isinstance(n, ReduceOperator)]
    weighted: list[int] = []
    fold = reduce.fold_weighted

    def spy(tables: list[Any]) -> Any:
        weighted.append(sum(t.num_rows for t in tables))
        return fold(tables)

    reduce.fold_weighted = spy  # type: ignore[method-assign]
    for name in "ab":
        consumer = dataflow.columnar_consumer(name)
        assert consumer is not None
        consumer.absorb_folded(consumer.fold_columns([table(rows[name], [width, pa.int64()])]))
        dataflow.feed_snapshot(name, {}, 1, 2)
    dataflow.step()
    return dataflow, weighted


def test_a_reduce_over_a_join_folds_the_consolidated_join() -> None:
    rows = {"a": [(i % 3, i % 2) for i in range(60)], "b": [(i % 3, i % 5) for i in range(30)]}
    dataflow, weighted = hydrated_reduce_over_join(
        (ir.AggregateExpr("count", col(1), True), ir.AggregateExpr("count_star", ir.Literal(1, T.INT8))), rows,
        pa.int8())
    assert weighted == [3 * 2 * 5]  # 3 keys, 2 distinct a-rows and 5 distinct b-rows per key: 30 pairs, not 600
    joined_rows = Counter((ra, rb) for ra in rows["a"] for rb in rows["b"] if ra[0] == rb[0])
    expected = {}
    for z in range(5):
        ys = {ra[1] for (ra, rb) in joined_rows if rb[1] == z}
        expected[(z, len(ys), sum(c for (ra, rb), c in joined_rows.items() if rb[1] == z))] = 1
    assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(3))) == Counter(expected)


def test_a_count_distinct_of_the_join_key_folds_one_row_per_key_and_group() -> None:
    """``count(DISTINCT a.x) … GROUP BY b.z``: a is pruned to its join column (one arity-1 side), b's side is sorted
    in the round, and the reduce folds the consolidated sides cut to the columns it reads — one row per (x, z),
    not one per row of a — and its answer is the join's, also after deletes and inserts on both sides."""
    rows = {"a": [(i % 6, i) for i in range(300)] + [(None, 1)], "b": [(x, x % 2) for x in range(5)] + [(None, 0)]}
    dataflow, weighted = hydrated_reduce_over_join((ir.AggregateExpr("count", col(0), True),), rows, pa.int64())
    assert weighted == [5]  # keys 0..4 match, one (x, z) pair each
    assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(2))) == Counter({(0, 3): 1, (1, 2): 1})
    dataflow.feed("a", [((0, 6), 2, -1), ((5, 7), 2, 1)], 3)  # 0 still has 49 rows; 5 has no b row
    dataflow.feed("b", [((4, 0), 2, -1), ((4, 1), 2, 1), ((5, 1), 2, 1)], 3)
    dataflow.step()
    assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(2))) == Counter({(0, 2): 1, (1, 4): 1})


@settings(max_examples=100, deadline=None)
@given(left=st.lists(st.tuples(values, values), max_size=25),
       right_keys=st.lists(values, max_size=12, unique=True), unique_left=st.booleans())
def test_a_side_with_unique_keys_is_joined_by_lookup_as_the_hash_join_joins(left: list, right_keys: list,
                                                                            unique_left: bool) -> None:
    """A consolidated side holding each key once (a dimension by its primary key) is joined by looking the other
    side's keys up in it: the same pairs, with the same weights, as Acero's hash join of the two tables."""
    right = [(key, None if key is None else key % 7) for key in right_keys]
    left_table, right_table = table(left, [pa.int64(), pa.int64()]), table(right, [pa.int64(), pa.int64()])
    if unique_left:
        left_table, right_table = right_table, left_table
    left_state, right_state = arranged(left_table, [0], 2), arranged(right_table, [0], 2)
    if left_state[3] is None or right_state[3] is None:
        return
    got = joined_counted(left_state[3], right_state[3], [0], [0])
    expected = Counter(zip(*(joined(left_state[3], right_state[3], [0], [0]).column(i).to_pylist()
                             for i in range(6))))
    expected_rows = Counter({(*row[0:2], *row[3:5], row[2] * row[5]): count for row, count in expected.items()})
    assert Counter(zip(*(got.column(i).to_pylist() for i in range(5)))) == expected_rows
