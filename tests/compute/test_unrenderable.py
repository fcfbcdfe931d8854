"""A dataflow the replica cannot render is reported as failed in its Status; the replica and its other dataflows
carry on.  Before, the exception escaped ``ComputeState.handle``: a SteadyError was logged and forgotten (the
object looked "not hydrated yet" forever), anything else killed the replica's worker and so the process — and the
restarted replica replayed the same command and died again, taking the whole cluster down."""

from __future__ import annotations

from steadystate.compute.state import ComputeState
from steadystate.expr import ir
from steadystate.protocol import messages as m
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

DESC = RelationDesc.of(("a", T.INT4))


def _index(export_id: str, plan: ir.RelationExpr, imports: tuple[m.IndexImport, ...] = (),
           sources: tuple[m.SourceImport, ...] = ()) -> m.CreateDataflow:
    body = f"{export_id}_body"
    desc = m.DataflowDescription(sources, imports, (m.BuildDesc(body, plan, DESC),),
                                 (m.IndexExport(export_id, body, (ir.ColumnRef(0),), DESC),), (), as_of=0,
                                 debug_name=export_id)
    return m.CreateDataflow(desc, f"CREATE INDEX {export_id}")


def _state() -> ComputeState:
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    store.compare_and_append("t", [((1,), 0, 1), ((2,), 0, 1)], 0, 1)
    state = ComputeState("r1", store)
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    return state


def _collections(state: ComputeState) -> dict[str, m.CollectionStatus]:
    return {c.id: c for c in state.status().collections}


def test_an_unrenderable_dataflow_is_reported_and_the_others_run() -> None:
    state = _state()
    source = (m.SourceImport("u1", "t", DESC),)
    state.handle(_index("u2", ir.Get("u1"), sources=source))
    state.handle(_index("u3", ir.Get("nowhere")))  # reads a collection nothing provides: cannot be rendered
    importer = (m.IndexImport("u3", "nowhere", (ir.ColumnRef(0),), DESC),)
    state.handle(_index("u4", ir.Get("nowhere"), imports=importer))  # imports the failed one
    state.handle(m.InitializationComplete())
    for _ in range(20):
        state.tick()
    collections = _collections(state)
    assert collections["u2"].hydrated and collections["u2"].error is None
    assert not collections["u3"].hydrated and collections["u3"].error
    assert not collections["u4"].hydrated and "u3" in (collections["u4"].error or "")
    assert list(state.by_export) == ["u2"]

    # dropping the failed objects clears their reports; a new Hello starts from nothing failed
    state.handle(m.AllowCompaction("u4", None))
    state.handle(m.AllowCompaction("u3", None))
    assert set(_collections(state)) == {"u2"}
    state.handle(_index("u5", ir.Get("nowhere")))
    state.handle(m.Hello("n2", "secret"))
    assert state.unrenderable == {}
