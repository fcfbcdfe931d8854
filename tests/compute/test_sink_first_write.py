"""A materialized view's first write waits until its output is complete through the time it starts at.

A new view that imports a running index and also reads a table starts as of the index's frontier - 1 when the
index is ahead of the view's ``as_of`` (a write committed between the coordinator choosing ``as_of`` and the
replica's first step). Its first output batch must then be written only once the view's frontier has passed that
time: writing it earlier put updates outside the append's bounds, and the replica died on it.
"""

from __future__ import annotations

from steadystate.compute.state import ComputeState
from steadystate.expr import ir
from steadystate.protocol import messages as m
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.storage import open_store

DESC = RelationDesc.of(("k", ScalarType.INT8),)
KEY = (ir.ColumnRef(0),)


def test_view_importing_an_index_ahead_of_its_as_of_writes_its_first_output_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path}/storage.db")
    for shard in ("t1", "t2", "mv", m.errors_shard_of("mv")):
        store.create_shard(shard)
    store.compare_and_append("t1", [((1,), 5, 1)], 0, 11)
    store.compare_and_append("t2", [((2,), 5, 1)], 0, 11)
    index = m.DataflowDescription((m.SourceImport("t1", "t1", DESC),), (), (),
                                  (m.IndexExport("i1", "t1", KEY, DESC),), (), as_of=5, debug_name="index i1")
    state = ComputeState("r1", store)
    for command in (m.Hello("n", "s", 1), m.CreateInstance(m.InstanceConfig("c1", "", "")),
                    m.CreateDataflow(index, "i1"), m.Schedule("i1"), m.InitializationComplete()):
        state.handle(command)
    state.tick()
    state.tick()
    view = m.DataflowDescription(
        (m.SourceImport("t2", "t2", DESC),), (m.IndexImport("i1", "t1", KEY, DESC),),
        (m.BuildDesc("body", ir.Union_((ir.Get("t1"), ir.Get("t2"))), DESC),), (),
        (m.SinkExport("mv", "body", "materialized_view", DESC, shard="mv"),), as_of=10, debug_name="mv")
    # a write commits after the coordinator chose as_of 10 and before the replica steps the view
    store.compare_and_append("t1", [((3,), 11, 1)], 11, 12)
    store.compare_and_append("t2", [], 11, 12)
    for command in (m.CreateDataflow(view, "mv"), m.Schedule("mv"), m.AllowWrites("mv")):
        state.handle(command)
    for _ in range(3):
        state.tick()
    upper = store.upper("mv")
    assert upper is not None and upper >= 12
    assert sorted(store.snapshot("mv", upper - 1)) == [((1,), 1), ((2,), 1), ((3,), 1)]
