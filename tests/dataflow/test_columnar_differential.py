"""Hydration from Arrow columns, then random batches, against the naive evaluator after every time.

Each plan reads a source whose snapshot is handed over as an Arrow table (as ``compute.snapshots`` does for a
``COPY``-loaded table): the operator that takes it as columns (``RenderedDataflow.columnar_consumer``: a spine
top-k, a distinct, directly or behind ``arrow_eval``'d maps/filters/projections) must be found — so the test fails
if the columnar path stops applying — and the maintained output must equal ``dataflow_naive.evaluate_plan`` over
the current contents at the snapshot and after each batch of inserts and deletes."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.graph import fold
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

from dataflow_naive import evaluate_plan

C = RelationDesc.of(("n", T.INT8), ("s", T.TEXT), ("b", T.BOOL), ("m", T.INT4))
ARROW = [pa.int64(), pa.string(), pa.bool_(), pa.int64()]
col = ir.ColumnRef


def lit(n: int) -> ir.Literal:
    return ir.Literal(n, T.INT8)


PLANS: dict[str, ir.RelationExpr] = {
    "topk_global": ir.TopK(ir.Get("c"), (), (ir.ColumnOrder(3, desc=True, nulls_last=False), ir.ColumnOrder(1)),
                           limit=3, offset=1),
    "topk_grouped_text": ir.TopK(ir.Get("c"), (1,), (ir.ColumnOrder(0),), limit=2),
    "topk_grouped_two_keys": ir.TopK(ir.Get("c"), (1, 2), (ir.ColumnOrder(3, desc=True), ir.ColumnOrder(0)),
                                     limit=1, offset=1),
    "topk_behind_project": ir.TopK(ir.Project(ir.Get("c"), (3, 1)), (), (ir.ColumnOrder(0, desc=True),), limit=4),
    "topk_behind_filter_map": ir.TopK(
        ir.Project(ir.Filter(ir.Map(ir.Get("c"), (ir.CallBinary("mod", col(0), lit(3)),)),
                             (ir.CallBinary("gt", col(3), lit(0)),)), (4, 0, 1)),
        (0,), (ir.ColumnOrder(1, nulls_last=False),), limit=2),
    "distinct": ir.Distinct(ir.Get("c")),
    "distinct_of_expressions": ir.Distinct(ir.Project(
        ir.Map(ir.Get("c"), (ir.CallBinary("mod", col(0), lit(2)), ir.CallBinary("div", col(3), lit(2)))), (4, 5, 1))),
}

values = st.tuples(st.one_of(st.none(), st.integers(-3, 3)), st.sampled_from([None, "", "a", "b", "é"]),
                   st.one_of(st.none(), st.booleans()), st.one_of(st.none(), st.integers(-2, 2)))
batches = st.lists(st.lists(st.tuples(values, st.booleans(), st.integers(0, 50)), max_size=8), max_size=5)


def render(plan: ir.RelationExpr) -> RenderedDataflow:
    out_desc = RelationDesc(())  # the renderer infers the types
    desc = DataflowDescription(
        source_imports=(SourceImport("c", "sc", C),), index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out_desc),),
        index_exports=(IndexExport("i", "v", (col(0),), out_desc),),
        sink_exports=(SinkExport("s", "v", "subscribe", out_desc),), as_of=1,
    )
    return RenderedDataflow(desc, {})


def check(dataflow: RenderedDataflow, plan: ir.RelationExpr, env: Counter, emitted: list, t: int) -> None:
    expected = {r: c for r, c in evaluate_plan(plan, {"c": env}).items() if c}
    peeked = Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0)))
    assert peeked == Counter({r: c for r, c in expected.items() if c > 0})
    emitted.extend(dataflow.drain_sink("s"))
    assert fold(emitted) == expected


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=st.lists(values, max_size=30), later=st.lists(values, max_size=4), batches=batches)
def test_columnar_hydration_matches_naive_evaluation(name: str, snapshot: list, later: list, batches: list) -> None:
    plan = PLANS[name]
    dataflow = render(plan)
    consumer = dataflow.columnar_consumer("c")
    assert consumer is not None, "the snapshot must be taken as columns"
    table = pa.table({f"c{i}": pa.array([row[i] for row in snapshot], type=typ) for i, typ in enumerate(ARROW)})
    table = table.set_column(0, "c0", table.column(0).cast(pa.int8()))  # storage narrows integers
    folded = consumer.fold_columns([table])
    assert folded is not None
    consumer.absorb_folded(folded)
    env = Counter(snapshot) + Counter(later)
    # writes after the load arrive as rows beside the columns, at the same time
    dataflow.feed_snapshot("c", dict(Counter(later)), 1, 2)
    dataflow.step()
    emitted: list = []
    check(dataflow, plan, env, emitted, 1)
    for t, batch in enumerate(batches, start=2):
        updates = []
        for row, insert, pick in batch:
            if insert or not env:
                env[row] += 1
                updates.append((row, t, 1))
            else:
                existing = sorted(env, key=repr)[pick % len(env)]
                env[existing] -= 1
                if not env[existing]:
                    del env[existing]
                updates.append((existing, t, -1))
        dataflow.feed("c", updates, t + 1)
        dataflow.step()
        check(dataflow, plan, env, emitted, t)
