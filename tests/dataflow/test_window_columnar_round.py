"""A window hydrated from columns hands its output on as columns (``WindowOperator.run_columnar``): a projection
selects them (``MfpOperator.projection``) and an index export arranges them (``Arrangement.apply_columns``, a
``sum(bigint)``'s ``decimal128(38, 0)`` column included) — the answers must be the row path's.

Each plan is rendered twice: one dataflow takes the loaded table as Arrow columns (folded by the window), the
other every row as rows (``fuse=False``: the window's row path, the definition).  The snapshot has NULL partitions,
NULL amounts and repeated rows, and rows written after the load (insertions and deletions of loaded rows, some in
partitions held as columns) that reach the window as rows in the same round; then random batches.  After the
snapshot and after each batch both indexes must hold the same rows — compared by ``repr`` too, so a ``Decimal``'s
exponent (``5`` against ``5.0``) counts — and the sinks' updates must fold to them.  The bench shape (a sum per
partition, projected) is also checked against a model computed here.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.graph import fold
from steadystate.dataflow.operators import MfpOperator
from steadystate.dataflow.window import WindowOperator
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

col = ir.ColumnRef
A = RelationDesc.of(("id", T.INT8), ("part", T.INT8), ("amount", T.INT8))
TEXT = RelationDesc.of(("id", T.INT8), ("part", T.TEXT), ("amount", T.INT8))
a = ir.Get("a")
SUM = ir.WindowFunc("sum", (2,))
SUM_BY_PART = ir.Project(ir.Window(a, (1,), (), (SUM,)), (0, 3))  # bench/shapes.py's window shape

PLANS: dict[str, tuple[ir.RelationExpr, tuple[int, ...]]] = {  # plan, the index's key columns
    "sum_projected": (SUM_BY_PART, (0, 1)),  # the key holds the decimal column
    "sum_projected_by_id": (SUM_BY_PART, (0,)),
    "sum_reordered_repeated": (ir.Project(ir.Window(a, (1,), (), (SUM, ir.WindowFunc("count_star", ()))),
                                          (3, 4, 1, 3)), (0,)),
    "ranked_running": (ir.Window(a, (1,), (ir.ColumnOrder(2, True, False),), (
        ir.WindowFunc("row_number"), ir.WindowFunc("sum", (2,), frame=ir.WindowFrame(ir.FrameMode.ROWS)),
        ir.WindowFunc("count", (2,)))), (0, 4)),
    "no_partition": (ir.Project(ir.Window(a, (), (), (SUM,)), (3, 0)), (0,)),
    "distinct_sums": (ir.Distinct(ir.Project(ir.Window(a, (1,), (), (SUM,)), (3,))), (0,)),
    "filtered": (ir.Filter(ir.Window(a, (1,), (), (SUM,)), (ir.CallUnary("is_not_null", col(3)),)), (0,)),
}

values = st.one_of(st.none(), st.integers(-3, 3))
amounts = st.one_of(st.none(), st.integers(-(2 ** 40), 2 ** 40), st.integers(-3, 3))
int_rows = st.tuples(st.integers(0, 6), values, amounts)
text_rows = st.tuples(st.integers(0, 6), st.one_of(st.none(), st.sampled_from(["", "a", "B", "é"])), amounts)


def arrow_table(rows: list[tuple], desc: RelationDesc) -> pa.Table:
    columns = {}
    for i, typ in enumerate(desc.types):
        column = [row[i] for row in rows]
        if all(v is None for v in column):
            columns[f"c{i}"] = pa.nulls(len(rows))  # what storage writes for a column of NULLs
        else:
            columns[f"c{i}"] = pa.array(column, pa.string() if typ is T.TEXT else pa.int64())
    return pa.table(columns)


def render(plan: ir.RelationExpr, key: tuple[int, ...], desc: RelationDesc, fuse: bool) -> RenderedDataflow:
    out_desc = RelationDesc(())
    return RenderedDataflow(DataflowDescription(
        source_imports=(SourceImport("a", "sa", desc),),
        index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out_desc),),
        index_exports=(IndexExport("i", "v", tuple(col(k) for k in key), out_desc),),
        sink_exports=(SinkExport("s", "v", "subscribe", out_desc),),
        as_of=1,
    ), {}, fuse=fuse)


def contents(dataflow: RenderedDataflow) -> list[str]:
    """The index's rows, each as its ``repr`` (a Decimal's exponent shows), sorted."""
    return sorted(repr(row) for row in dataflow.arrangement("i").peek(ir.MapFilterProject(0)))


def model(env: Counter) -> list[str]:
    """``SUM_BY_PART`` computed here: each row's id with its partition's sum (``Decimal``, NULL if none)."""
    sums: dict[Any, Decimal | None] = {}
    for (_id, part, amount), count in env.items():
        if amount is not None:
            sums[part] = (sums.get(part) or Decimal(0)) + Decimal(amount) * count
        else:
            sums.setdefault(part, None)
    return sorted(repr((row[0], sums[row[1]])) for row, count in env.items() for _ in range(count))


def change(env: Counter, row: tuple, insert: bool, index: int) -> tuple[tuple, int]:
    """Insert ``row``, or (``insert`` false) retract a row ``env`` holds (the ``index``-th), in ``env``; the update."""
    if insert or not env:
        env[row] += 1
        return row, 1
    existing = sorted(env, key=repr)[index % len(env)]
    env[existing] -= 1
    if not env[existing]:
        del env[existing]
    return existing, -1


def run(name: str, desc: RelationDesc, loaded: list[tuple], rest: list, batches: list) -> None:
    plan, key = PLANS[name]
    columnar, by_rows = render(plan, key, desc, True), render(plan, key, desc, False)
    columnar.arrangement("i").recent_min = 4  # a snapshot this small is still taken as a run, and batches join runs
    env: Counter = Counter(loaded)
    rest_counts: Counter = Counter()
    for row, insert, index in rest:
        changed, diff = change(env, row, insert, index)
        rest_counts[changed] += diff
    consumer = columnar.columnar_consumer("a")
    assert isinstance(consumer, WindowOperator)
    folded = consumer.fold_columns([arrow_table(loaded, desc)]) if loaded else None
    rest_rows = {r: c for r, c in rest_counts.items() if c}
    if folded is not None:
        consumer.absorb_folded(folded)
        columnar.feed_snapshot("a", rest_rows, 1, 2)
    else:
        columnar.feed_snapshot("a", dict(env), 1, 2)
    by_rows.feed_snapshot("a", dict(env), 1, 2)
    emitted: list = []

    def check() -> None:
        for dataflow in (columnar, by_rows):
            dataflow.step()
        ours = contents(columnar)
        assert ours == contents(by_rows)
        if plan is SUM_BY_PART:
            assert ours == model(env)
        emitted.extend(columnar.drain_sink("s"))
        assert sorted(repr(row) for row, count in fold(emitted).items() for _ in range(count)) == ours

    check()
    for t, batch in enumerate(batches, start=2):
        updates = [(changed, t, diff) for changed, diff in (change(env, *update) for update in batch)]
        for dataflow in (columnar, by_rows):
            dataflow.feed("a", updates, t + 1)
        check()


def snapshots(rows: st.SearchStrategy) -> st.SearchStrategy:
    """(loaded rows, rest as (row, insert?, pick), batches)."""
    return st.tuples(st.lists(rows, max_size=30), st.lists(st.tuples(rows, st.booleans(), st.integers(0, 50)),
                                                           max_size=6),
                     st.lists(st.lists(st.tuples(rows, st.booleans(), st.integers(0, 50)), max_size=5), max_size=3))


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=snapshots(int_rows))
def test_window_columns_through_the_first_round_equal_the_row_path(name: str, data: Any) -> None:
    run(name, A, *data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=snapshots(text_rows))
def test_text_partitions_through_the_first_round(data: Any) -> None:
    run("sum_projected", TEXT, *data)


def test_the_bench_shape_reaches_the_index_as_columns() -> None:
    """The shape the benchmark measures takes the column path end to end: the window emits one part, the projection
    selects it, the index takes it as a run (no row built for it), with the decimal column as the codec types it."""
    plan, key = PLANS["sum_projected"]
    dataflow = render(plan, key, A, True)
    rows = [(i, i % 3, i * 10) for i in range(10_000)] + [(10_000, None, None), (10_001, 1, None)]
    consumer = dataflow.columnar_consumer("a")
    assert isinstance(consumer, WindowOperator)
    folded = consumer.fold_columns([arrow_table(rows, A)])
    assert folded is not None
    consumer.absorb_folded(folded)
    seen: list[Any] = []
    projection = next(node for node in dataflow.graph.nodes if isinstance(node, MfpOperator))
    assert projection.projection == (0, 3)
    original = projection.run_columnar

    def spy(time: int, deltas: list[Any], first: bool) -> Any:
        out = original(time, deltas, first)
        seen.append((type(deltas[0][0]), type(out[0])))
        return out

    projection.run_columnar = spy  # type: ignore[method-assign]
    dataflow.feed_snapshot("a", {}, 1, 2)
    dataflow.step()
    assert seen == [(ColumnarDelta, ColumnarDelta)]
    arrangement = dataflow.arrangement("i")
    assert arrangement.bulk is not None and arrangement.bulk.records == len(rows) and not arrangement.recent
    table = arrangement.table()
    assert table.schema.field(1).type == pa.decimal128(38, 0)
    sums = {part: sum(r[2] for r in rows if r[1] == part and r[2] is not None) for part in (0, 1, 2)}
    expected = sorted([repr((i, Decimal(sums[p]))) for i, p, _ in rows[:-2]] + [repr((10_000, None)),
                                                                               repr((10_001, Decimal(sums[1])))])
    assert contents(dataflow) == expected
    assert arrangement.rows_of((10_001, Decimal(sums[1]))) == {(10_001, Decimal(sums[1])): 1}  # found by its hash
