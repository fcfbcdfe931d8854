"""A dataflow that imports an index starts from that arrangement's current contents, so its initial state is as
of the arrangement's frontier, not its own as_of; materialized-view sinks rely on ``initial_time`` for that."""

from __future__ import annotations

from steadystate.render import RenderedDataflow
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, IndexImport, SourceImport
from steadystate.repr.types import RelationDesc, ScalarType as T

DESC = RelationDesc.of(("k", T.INT8), ("v", T.TEXT))
KEY = (ir.ColumnRef(0),)


def test_initial_time_follows_the_imported_arrangement() -> None:
    producer = RenderedDataflow(DataflowDescription(
        (SourceImport("t", "s", DESC),), (), (), (IndexExport("i", "t", KEY, DESC),), (), as_of=3), {})
    producer.feed("t", [((1, "a"), 3, 1)], 4)
    producer.step()
    producer.feed("t", [((2, "b"), 7, 1)], 10)
    producer.step()
    assert producer.arrangement("i").frontier == 10

    consumer = RenderedDataflow(DataflowDescription(
        (), (IndexImport("i", "t", KEY, DESC),), (BuildDesc("c", ir.Get("t"), DESC),),
        (IndexExport("ci", "c", KEY, DESC),), (), as_of=3), {"i": producer.arrangement("i")})
    assert consumer.initial_time == 3
    consumer.step()
    assert consumer.initial_time == 9  # the snapshot it took holds (2, 'b') from time 7: it is as of time 9
    assert sorted(consumer.arrangement("ci").peek(ir.MapFilterProject(2))) == [(1, "a"), (2, "b")]


def test_initial_time_is_as_of_without_imports() -> None:
    flow = RenderedDataflow(DataflowDescription(
        (SourceImport("t", "s", DESC),), (), (), (IndexExport("i", "t", KEY, DESC),), (), as_of=5), {})
    flow.feed("t", [((1, "a"), 5, 1)], 6)
    flow.step()
    assert flow.initial_time == 5
