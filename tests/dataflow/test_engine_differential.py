"""Differential tests of the engine: random inserts/deletes at increasing times, checked after every time.

Each plan is rendered (steadystate.render) with an index export and a sink export.  After each timestamp the
index's contents must equal a from-scratch evaluation (tests/dataflow/dataflow_naive.py) of the plan over the
accumulated inputs, and folding every sink update emitted so far must reproduce the same result.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from steadystate.render import RenderedDataflow
from steadystate.dataflow.graph import fold
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.repr.types import RelationDesc, ScalarType as T

from dataflow_naive import evaluate_plan

A = RelationDesc.of(("x", T.INT8), ("y", T.INT8))
B = RelationDesc.of(("x", T.INT8), ("z", T.INT8))
col = ir.ColumnRef


def lit(n):
    return ir.Literal(n, T.INT8)


def agg(func, expr, distinct=False):
    return ir.AggregateExpr(func, expr, distinct)


PLANS: dict[str, ir.RelationExpr] = {
    "mfp": ir.Project(
        ir.Filter(ir.Map(ir.Get("a"), (ir.CallBinary("add", col(0), col(1)),)), (ir.CallBinary("gt", col(1), lit(1)),)),
        (2, 0),
    ),
    "union": ir.Union_((ir.Get("a"), ir.Get("b"))),
    "except_all": ir.Threshold(ir.Union_((ir.Get("a"), ir.Negate(ir.Get("b"))))),
    "distinct": ir.Distinct(ir.Project(ir.Get("a"), (0,))),
    "reduce": ir.Reduce(
        ir.Get("a"),
        (col(0),),
        (
            agg("count", col(1)),
            agg("count_star", lit(1)),
            agg("sum", col(1)),
            agg("min", col(1)),
            agg("max", col(1)),
            agg("avg", col(1)),
            agg("bool_and", ir.CallBinary("gt", col(1), lit(1))),
            agg("bool_or", ir.CallBinary("gt", col(1), lit(1))),
            agg("count", col(1), distinct=True),
            agg("sum", col(1), distinct=True),
        ),
    ),
    "global_reduce": ir.Reduce(ir.Get("a"), (), (agg("count_star", lit(1)), agg("sum", col(1)), agg("max", col(0)))),
    "topk": ir.TopK(ir.Get("a"), (0,), (ir.ColumnOrder(1, desc=True, nulls_last=False),), limit=2, offset=1),
    "topk_global": ir.TopK(ir.Get("a"), (), (ir.ColumnOrder(0), ir.ColumnOrder(1, desc=True)), limit=3),
    "join": ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)),)),
    "cross": ir.Join((ir.Get("a"), ir.Get("b")), ()),
    "join_multikey": ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)), (col(1), col(3)))),
    "join_3way": ir.Join((ir.Get("a"), ir.Get("b"), ir.Get("a")), ((col(0), col(2), col(4)), (col(3), col(5)))),
    "join_residual": ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)), (ir.CallBinary("add", col(1), col(3)), lit(2)))),
    # accumulable aggregates: the lean reduce (dataflow.accumulate) ...
    "reduce_accumulable": ir.Reduce(
        ir.Get("a"), (col(0),),
        (agg("count", col(1)), agg("count_star", lit(1)), agg("sum", col(1)), agg("avg", col(1))),
    ),
    "global_accumulable": ir.Reduce(ir.Get("a"), (), (agg("count_star", lit(1)), agg("sum", col(1)))),
    # ... and the fused join-accumulate (dataflow.join_accumulate): aggregates over one input, group key from the other
    "join_accumulate": ir.Reduce(
        ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)),)), (col(3),),
        (agg("count_star", lit(1)), agg("sum", col(1)), agg("count", col(1)), agg("avg", col(1))),
    ),
    "join_accumulate_swapped": ir.Reduce(
        ir.Join((ir.Get("b"), ir.Get("a")), ((col(0), col(2)),)), (col(1),), (agg("sum", col(3)),),
    ),
    "join_accumulate_group_by_join_key": ir.Reduce(
        ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)),)), (col(0), col(3)),
        (agg("count_star", lit(1)), agg("sum", col(1))),
    ),
    "join_accumulate_multikey": ir.Reduce(
        ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)), (col(1), col(3)))), (col(3),),
        (agg("count_star", lit(1)),),
    ),
}

FUSED = ("join_accumulate", "join_accumulate_swapped", "join_accumulate_group_by_join_key",
         "join_accumulate_multikey")

values = st.one_of(st.none(), st.integers(0, 3))
rows = st.tuples(values, values)
# a batch: (table, row, insert?) choices; deletes pick an existing row
ops = st.lists(st.lists(st.tuples(st.sampled_from("ab"), rows, st.booleans(), st.integers(0, 50)), max_size=6),
               min_size=1, max_size=6)


def render(plan: ir.RelationExpr, arity_types) -> RenderedDataflow:
    out_desc = RelationDesc(())  # let the renderer infer the types
    desc = DataflowDescription(
        source_imports=(SourceImport("a", "sa", A), SourceImport("b", "sb", B)),
        index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out_desc),),
        index_exports=(IndexExport("i", "v", (col(0),), out_desc),),
        sink_exports=(SinkExport("s", "v", "subscribe", out_desc),),
        as_of=1,
    )
    return RenderedDataflow(desc, {})


def run_differential(plan: ir.RelationExpr, batches) -> None:
    dataflow = render(plan, None)
    env: dict[str, Counter] = {"a": Counter(), "b": Counter()}
    emitted = []
    for t, batch in enumerate(batches, start=1):
        updates = {"a": [], "b": []}
        for table, row, insert, pick in batch:
            if insert or not env[table]:
                env[table][row] += 1
                updates[table].append((row, t, 1))
            else:
                existing = sorted(env[table], key=repr)[pick % len(env[table])]
                env[table][existing] -= 1
                if not env[table][existing]:
                    del env[table][existing]
                updates[table].append((existing, t, -1))
        for table in "ab":
            dataflow.feed(table, updates[table], t + 1)
        dataflow.step()
        assert dataflow.frontier == t + 1
        expected = {r: c for r, c in evaluate_plan(plan, env).items() if c}
        peeked = Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0)))
        assert peeked == Counter({r: c for r, c in expected.items() if c > 0})
        emitted.extend(dataflow.drain_sink("s"))
        assert all(time <= t for _, time, _ in emitted)
        assert fold(emitted) == expected


# found by CI: an average of 1/3 must be PostgreSQL's 20-digit numeric, not the decimal context's precision
AVG_OF_THIRDS = [[("a", (None, 0), False, 0), ("a", (None, None), True, 0)],
                 [("a", (None, None), False, 1), ("a", (None, None), True, 0), ("a", (None, 0), True, 0),
                  ("a", (None, 1), True, 0)]]


@pytest.mark.parametrize("name", sorted(PLANS))
@example(batches=AVG_OF_THIRDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=ops)
def test_engine_matches_naive_evaluation(name, batches):
    run_differential(PLANS[name], batches)


@pytest.mark.parametrize("name", FUSED)
def test_join_aggregates_over_one_input_run_fused(name):
    """The fused plans above must really take the fused operator (else the differential test proves nothing)."""
    from steadystate.dataflow.join import JoinOperator
    from steadystate.dataflow.join_accumulate import JoinAccumulate

    nodes = render(PLANS[name], None).graph.nodes
    assert any(isinstance(n, JoinAccumulate) for n in nodes)
    assert not any(isinstance(n, JoinOperator) for n in nodes)


@pytest.mark.parametrize("name", ["reduce_accumulable", "global_accumulable"])
def test_accumulable_reduces_take_the_lean_operator(name):
    from steadystate.dataflow.accumulate import AccumulatingReduce

    assert any(isinstance(n, AccumulatingReduce) for n in render(PLANS[name], None).graph.nodes)


def test_negate_alone_keeps_negative_counts():
    batches = [[("a", (1, 1), True, 0)], [("a", (1, 1), True, 0), ("b", (2, 2), True, 0)]]
    run_differential(ir.Negate(ir.Get("a")), batches)
