"""A peek whose expression fails in a way the evaluator did not anticipate answers with an error; the replica
carries on.  Before, the exception escaped ``ComputeState.tick`` and killed the replica process — and because the
peek was still pending in the command history, the restarted replica died on it again (a crash loop)."""

from __future__ import annotations

from steadystate.compute.state import ComputeState
from steadystate.expr.ir import CallBinary, ColumnRef, Literal, MapFilterProject
from steadystate.protocol import messages as m
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

DESC = RelationDesc.of(("a", T.INT4))


def test_an_unexpected_evaluation_failure_is_the_peeks_error_not_the_replicas() -> None:
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    store.compare_and_append("t", [((1,), 0, 1)], 0, 1)
    state = ComputeState("r1", store)
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    state.handle(m.InitializationComplete())
    # LIKE over an integer column: the planner never builds this, so the evaluator raises a plain TypeError
    bad = MapFilterProject(1, predicates=(CallBinary("like", ColumnRef(0), Literal("a%", T.TEXT)),))
    good = MapFilterProject(1)
    target = m.PeekTarget("shard", "u1", shard="t", desc=DESC)
    state.handle(m.Peek("bad", target, 0, bad))
    state.handle(m.Peek("good", target, 0, good))
    responses = {r.uuid: r for r in state.tick() if isinstance(r, m.PeekResponse)}
    assert responses["bad"].error is not None and responses["bad"].error.sqlstate == "XX000"
    assert "internal error" in responses["bad"].error.message
    assert responses["good"].error is None and responses["good"].rows is not None
    assert state.peeks == {}  # both answered: nothing left to fail again


def test_a_fault_in_an_installed_dataflows_operator_stops_that_dataflow_not_the_replica() -> None:
    """min() over a shard that holds an int and a text value (storage does not check types; the planner would
    never build this) makes the reduce's comparison raise TypeError inside the operator.  The dataflow stops and
    reads of its index answer XX000; the other dataflow, and the replica, go on."""
    from steadystate.expr.ir import AggregateExpr, Get, Reduce

    store = open_store("sqlite:///:memory:")
    for shard, rows in (("mixed", [((1,), 0, 1), (("x",), 0, 1)]), ("fine", [((5,), 0, 1)])):
        store.create_shard(shard)
        store.compare_and_append(shard, rows, 0, 1)
    state = ComputeState("r1", store)
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    state.handle(m.InitializationComplete())
    out = RelationDesc.of(("m", T.INT4))
    for export_id, shard in (("u1", "mixed"), ("u2", "fine")):
        plan = Reduce(Get(f"s-{shard}"), (), (AggregateExpr("min", ColumnRef(0)),))
        state.handle(m.CreateDataflow(m.DataflowDescription(
            source_imports=(m.SourceImport(f"s-{shard}", shard, DESC),), index_imports=(),
            objects_to_build=(m.BuildDesc(f"{export_id}-view", plan, out),),
            index_exports=(m.IndexExport(export_id, f"{export_id}-view", (ColumnRef(0),), out),),
            sink_exports=(), as_of=0, debug_name=export_id)))
    for _ in range(3):
        state.tick()  # no exception escapes
    for uuid, export_id in (("p1", "u1"), ("p2", "u2")):
        state.handle(m.Peek(uuid, m.PeekTarget("index", export_id), 0, MapFilterProject(1)))
    responses = {r.uuid: r for _ in range(3) for r in state.tick() if isinstance(r, m.PeekResponse)}
    assert responses["p1"].error is not None and responses["p1"].error.sqlstate == "XX000"
    assert "TypeError" in responses["p1"].error.message
    assert responses["p2"].error is None and responses["p2"].rows is not None
