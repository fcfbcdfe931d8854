"""Rendering DataflowDescriptions built by hand: hydration and frontiers, errors as data, shared imports, sinks."""

from __future__ import annotations

from collections import Counter

import pytest

from steadystate import errors
from steadystate.render import RenderedDataflow
from steadystate.expr import ir
from steadystate.protocol.messages import (
    BuildDesc,
    DataflowDescription,
    IndexExport,
    IndexImport,
    SinkExport,
    SourceImport,
)
from steadystate.repr.types import RelationDesc, ScalarType as T

T1 = RelationDesc.of(("a", T.INT4), ("b", T.TEXT))
col = ir.ColumnRef


def dataflow_over_t1(plan, out_desc, *, as_of=10, sinks=(), key=(col(0),)):
    desc = DataflowDescription(
        source_imports=(SourceImport("u1", "shard-u1", T1),),
        index_imports=(),
        objects_to_build=(BuildDesc("u2", plan, out_desc),),
        index_exports=(IndexExport("u3", "u2", key, out_desc),),
        sink_exports=tuple(sinks),
        as_of=as_of,
    )
    return RenderedDataflow(desc, {})


def test_hydration_advances_times_to_as_of_and_frontier_only_advances():
    df = dataflow_over_t1(ir.Get("u1"), T1)
    assert df.source_shards == {"u1": "shard-u1"}
    assert not df.hydrated and df.frontier == 10
    assert df.step() is False  # no input frontier yet
    df.feed("u1", [((1, "x"), 3, 1), ((2, "y"), 10, 1)], 11)
    assert df.step() and df.hydrated and df.frontier == 11
    assert sorted(df.arrangement("u3").peek(ir.MapFilterProject(2))) == [(1, "x"), (2, "y")]
    df.feed("u1", [((1, "x"), 12, -1)], 12)  # time 12 not complete yet: upper 12
    df.step()
    assert len(df.arrangement("u3").peek(ir.MapFilterProject(2))) == 2
    df.feed("u1", [], 13)
    df.step()
    assert df.arrangement("u3").peek(ir.MapFilterProject(2)) == [(2, "y")]
    assert df.arrangement("u3").frontier == 13
    records, size = df.sizes()["u3"]
    assert records == 1 and size > 0


def test_peek_applies_mfp():
    df = dataflow_over_t1(ir.Get("u1"), T1)
    df.feed("u1", [((i, str(i)), 10, 1) for i in range(5)], 11)
    df.step()
    mfp = ir.MapFilterProject(
        2,
        map=(ir.CallBinary("mul", col(0), ir.Literal(10, T.INT4)),),
        predicates=(ir.CallBinary("gte", col(0), ir.Literal(3, T.INT4)),),
        projection=(2, 1),
    )
    assert sorted(df.arrangement("u3").peek(mfp)) == [(30, "3"), (40, "4")]
    assert df.arrangement("u3").lookup((4,)) == [(4, "4")]


def test_division_by_zero_is_an_error_until_the_row_is_deleted():
    plan = ir.Map(ir.Get("u1"), (ir.CallBinary("div", ir.Literal(100, T.INT4), col(0)),))
    out = RelationDesc.of(("a", T.INT4), ("b", T.TEXT), ("q", T.INT4))
    sink = SinkExport("u9", "u2", "materialized_view", out, shard="s9")
    df = dataflow_over_t1(plan, out, sinks=[sink])
    df.feed("u1", [((0, "zero"), 10, 1), ((5, "five"), 10, 1)], 11)
    df.step()
    with pytest.raises(errors.DivisionByZero, match="division by zero"):
        df.arrangement("u3").peek(ir.MapFilterProject(3))
    assert isinstance(df.sink_error("u9"), errors.DivisionByZero)
    df.feed("u1", [((0, "zero"), 11, -1)], 12)
    df.step()
    assert df.arrangement("u3").peek(ir.MapFilterProject(3)) == [(5, "five", 20)]
    assert df.sink_error("u9") is None
    assert df.drain_sink("u9") == [((5, "five", 20), 10, 1)]


def test_constant_dataflow_completes_after_first_step():
    desc = DataflowDescription(
        (), (), (BuildDesc("t1", ir.Constant.of([(1,), (2,), (2,)], 1), RelationDesc.of(("c", T.INT4))),),
        (IndexExport("t2", "t1", (), RelationDesc.of(("c", T.INT4))),), (), as_of=7,
    )
    df = RenderedDataflow(desc, {})
    assert df.step()
    assert df.frontier is None and df.hydrated
    assert sorted(df.arrangement("t2").peek(ir.MapFilterProject(1))) == [(1,), (2,), (2,)]


def test_imported_arrangement_is_shared_not_rebuilt():
    plan = ir.Filter(ir.Get("u1"), (ir.CallBinary("gt", col(0), ir.Literal(1, T.INT4)),))
    first = dataflow_over_t1(plan, T1)
    first.feed("u1", [((i, "r"), 10, 1) for i in range(4)], 11)
    first.step()
    shared = first.arrangement("u3")
    out = RelationDesc.of(("n", T.INT8))
    second_desc = DataflowDescription(
        source_imports=(),
        index_imports=(IndexImport("u3", "u2", (col(0),), T1),),
        objects_to_build=(BuildDesc("t5", ir.Reduce(ir.Get("u2"), (), (ir.AggregateExpr("count_star", col(0)),)), out),),
        index_exports=(IndexExport("t6", "t5", (), out),),
        sink_exports=(SinkExport("t7", "t5", "subscribe", out),),
        as_of=10,
    )
    second = RenderedDataflow(second_desc, {"u3": shared})
    assert second.step() and second.hydrated
    assert second.arrangement("t6").peek(ir.MapFilterProject(1)) == [(2,)]
    assert second.source_shards == {}
    first.feed("u1", [((7, "r"), 11, 1), ((2, "r"), 12, -1)], 13)
    first.step()
    assert second.frontier == 11  # never ahead of the arrangement it reads
    second.step()
    assert second.frontier == 13
    assert second.arrangement("t6").peek(ir.MapFilterProject(1)) == [(2,)]
    updates = second.drain_sink("t7")
    # every change carries the time of the input change: count 2 at 10, 3 at 11, 2 at 12
    assert Counter((row, time, diff) for row, time, diff in updates) == Counter(
        [((2,), 10, 1), ((2,), 11, -1), ((3,), 11, 1), ((3,), 12, -1), ((2,), 12, 1)]
    )
    second.close()


def test_subscribe_without_snapshot_and_up_to():
    sink = SinkExport("t9", "u2", "subscribe", T1, with_snapshot=False, up_to=13)
    df = dataflow_over_t1(ir.Get("u1"), T1, sinks=[sink])
    df.feed("u1", [((1, "a"), 10, 1)], 11)
    df.step()
    assert df.drain_sink("t9") == []
    df.feed("u1", [((2, "b"), 11, 1), ((3, "c"), 13, 1)], 14)
    df.step()
    assert df.drain_sink("t9") == [((2, "b"), 11, 1)]


def test_views_build_on_earlier_objects_and_types_flow():
    v1 = ir.Map(ir.Get("u1"), (ir.CallBinary("add", col(0), ir.Literal(1, T.INT4)),))
    v1_desc = RelationDesc.of(("a", T.INT4), ("b", T.TEXT), ("c", T.INT4))
    v2 = ir.Project(ir.Get("v1"), (2,))
    desc = DataflowDescription(
        (SourceImport("u1", "s", T1),), (),
        (BuildDesc("v1", v1, v1_desc), BuildDesc("v2", v2, RelationDesc.of(("c", T.INT4)))),
        (IndexExport("i2", "v2", (col(0),), RelationDesc.of(("c", T.INT4))),), (), as_of=0,
    )
    df = RenderedDataflow(desc, {})
    df.feed("u1", [((2**31 - 1, "max"), 0, 1), ((1, "one"), 0, 1)], 1)
    df.step()
    with pytest.raises(errors.NumericValueOutOfRange, match="^integer out of range$"):
        df.arrangement("i2").peek(ir.MapFilterProject(1))
