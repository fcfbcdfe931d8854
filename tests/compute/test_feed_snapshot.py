"""A consolidated snapshot handed to the engine as is gives exactly what feeding it update by update gives."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings, strategies as hs

from steadystate.render import RenderedDataflow
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SourceImport
from steadystate.repr.types import RelationDesc, ScalarType as T

FACT = RelationDesc.of(("id", T.INT8), ("k", T.INT8), ("v", T.INT8))
DIM = RelationDesc.of(("k", T.INT8), ("name", T.TEXT))
OUT = RelationDesc.of(("name", T.TEXT), ("n", T.INT8), ("s", T.NUMERIC))


def dataflow() -> RenderedDataflow:
    col = ir.ColumnRef
    join = ir.Join((ir.Get("fact"), ir.Get("dim")), ((col(1), col(3)),))
    plan = ir.Reduce(join, (col(4),), (ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL)),
                                        ir.AggregateExpr("sum", col(2))))
    desc = DataflowDescription(
        (SourceImport("fact", "a", FACT), SourceImport("dim", "b", DIM)), (),
        (BuildDesc("view", plan, OUT),), (IndexExport("idx", "view", (col(0),), OUT),), (), as_of=5,
    )
    return RenderedDataflow(desc, {})


ROWS = hs.lists(hs.tuples(hs.integers(0, 9), hs.integers(0, 3), hs.integers(-5, 5)), max_size=30)
DIMS = hs.lists(hs.tuples(hs.integers(0, 3), hs.sampled_from(["a", "b"])), max_size=5)


@settings(max_examples=60, deadline=None)
@given(fact=ROWS, dim=DIMS, later=ROWS)
def test_snapshot_path_equals_update_path(fact: list, dim: list, later: list) -> None:
    by_updates, by_snapshot = dataflow(), dataflow()
    by_updates.feed("fact", [(row, 5, 1) for row in fact], 6)
    by_updates.feed("dim", [(row, 5, 1) for row in dim], 6)
    by_snapshot.feed_snapshot("fact", dict(Counter(fact)), 5, 6)
    by_snapshot.feed_snapshot("dim", dict(Counter(dim)), 5, 6)
    for flow in (by_updates, by_snapshot):
        flow.step()
        flow.feed("fact", [(row, 6, 1) for row in later], 7)
        flow.feed("dim", [], 7)
        flow.step()
    identity = ir.MapFilterProject(3)
    assert sorted(by_snapshot.arrangement("idx").peek(identity)) == sorted(by_updates.arrangement("idx").peek(identity))
    assert by_snapshot.frontier == by_updates.frontier == 7
