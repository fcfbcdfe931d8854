"""Identical subtrees of a plan are rendered once: the second occurrence reuses the first's operators.

Decorrelated subqueries and CTEs used twice repeat whole subtrees of the plan; rendering each occurrence again
would run (and hold the state of) the same operators several times.  Checked on the graph's operators, and on
results: the shared rendering folds to the same output as evaluating each occurrence separately would.
"""

from __future__ import annotations

from collections import Counter

from steadystate.render import RenderedDataflow
from steadystate.dataflow.graph import fold
from steadystate.dataflow.operators import MfpOperator
from steadystate.dataflow.reduce import ReduceOperator
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.repr.types import RelationDesc, ScalarType as T

A = RelationDesc.of(("k", T.INT8), ("v", T.INT8))
col = ir.ColumnRef


def render(plan: ir.RelationExpr) -> RenderedDataflow:
    out = RelationDesc(())
    desc = DataflowDescription(
        (SourceImport("a", "sa", A),), (), (BuildDesc("x", plan, out),), (IndexExport("i", "x", (col(0),), out),),
        (SinkExport("s", "x", "subscribe", out),), as_of=1)
    return RenderedDataflow(desc, {})


def test_a_subtree_used_twice_is_rendered_once_and_feeds_both_consumers() -> None:
    positive = ir.Filter(ir.Get("a"), (ir.CallBinary("gt", col(1), ir.Literal(0, T.INT8)),))
    per_key = ir.Reduce(positive, (col(0),), (ir.AggregateExpr("max", col(1)),))  # not accumulable: general reduce
    plan = ir.Join((per_key, per_key), ((col(0), col(2)),))  # a self-join of the same subquery
    dataflow = render(plan)
    nodes = dataflow.graph.nodes
    assert sum(isinstance(n, MfpOperator) for n in nodes) == 1
    assert sum(isinstance(n, ReduceOperator) for n in nodes) == 1
    dataflow.feed("a", [((1, 5), 1, 1), ((1, 7), 1, 1), ((2, -1), 1, 1), ((3, 2), 1, 1)], 2)
    dataflow.step()
    dataflow.feed("a", [((1, 7), 2, -1), ((2, 4), 2, 1)], 3)
    dataflow.step()
    emitted = dataflow.drain_sink("s")
    assert fold(emitted, 2) == {(1, 7, 1, 7): 1, (3, 2, 3, 2): 1}
    assert fold(emitted) == {(1, 5, 1, 5): 1, (2, 4, 2, 4): 1, (3, 2, 3, 2): 1}
    assert Counter(dataflow.arrangement("i").peek()) == Counter(fold(emitted))
