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


def test_a_reduce_over_a_join_folds_the_consolidated_join() -> None:
    a = RelationDesc.of(("x", T.INT8), ("y", T.INT8))
    plan = ir.Reduce(ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)),)), (col(3),),
                     (ir.AggregateExpr("count", col(1), True), ir.AggregateExpr("count_star", ir.Literal(1, T.INT8))))
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
    rows = {"a": [(i % 3, i % 2) for i in range(60)], "b": [(i % 3, i % 5) for i in range(30)]}
    for name in "ab":
        consumer = dataflow.columnar_consumer(name)
        assert consumer is not None
        consumer.absorb_folded(consumer.fold_columns([table(rows[name], [pa.int8(), pa.int64()])]))
        dataflow.feed_snapshot(name, {}, 1, 2)
    dataflow.step()
    assert weighted == [3 * 2 * 5]  # 3 keys, 2 distinct a-rows and 5 distinct b-rows per key: 30 pairs, not 600
    joined_rows = Counter((ra, rb) for ra in rows["a"] for rb in rows["b"] if ra[0] == rb[0])
    expected = {}
    for z in range(5):
        ys = {ra[1] for (ra, rb) in joined_rows if rb[1] == z}
        expected[(z, len(ys), sum(c for (ra, rb), c in joined_rows.items() if rb[1] == z))] = 1
    assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(3))) == Counter(expected)
