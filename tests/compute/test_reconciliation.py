"""Reconciliation, property-tested: whatever the command history and wherever the controller reconnects, the replica
ends up running exactly the dataflows of the reduced history (``protocol.history``), and keeps what did not change.

A random controller (the real :class:`~steadystate.protocol.history.CommandHistory`) creates index dataflows over a
shard or over another live index, compacts exports and drops those nothing imports (as the coordinator does), lets the replica tick, and at random points:

* **reconnects**: ``Hello``, the reduced history, ``InitializationComplete`` to the same
  :class:`~steadystate.compute.state.ComputeState` (``_on_hello`` puts the dataflows aside, ``_reuse`` takes them
  back, ``_on_init_complete`` drops the rest), or
* **crashes**: the same replay to a fresh ``ComputeState``.

After each, the replica's live exports and their dataflows' fingerprints equal the history's live dataflows, and equal
those of a fresh replica that got only the replay; every dataflow reads the arrangements its imports export now.  A second reconnect with nothing sent in between rebuilds nothing.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from steadystate.compute.state import ComputeState
from steadystate.expr.ir import CallBinary, ColumnRef, Filter, Get, literal
from steadystate.protocol import messages as m
from steadystate.protocol.history import CommandHistory
from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.storage import ShardStore, open_store

DESC = RelationDesc((Column("a", ScalarType.INT8), Column("b", ScalarType.TEXT, nullable=False)))
SHARDS = ("u100", "u101")
SECRET = "secret"


def store_with_shards() -> ShardStore:
    store = open_store("sqlite:///:memory:")
    for source in SHARDS:
        store.create_shard(f"shard-{source}")
        store.compare_and_append(f"shard-{source}", [((i, f"r{i}"), 0, 1) for i in range(5)], 0, 100)
    return store


def over_shard(export_id: str, source: str, as_of: int, threshold: int) -> m.DataflowDescription:
    plan = Filter(Get(source), (CallBinary("gt", ColumnRef(0), literal(threshold, ScalarType.INT8)),))
    return m.DataflowDescription(
        source_imports=(m.SourceImport(source, f"shard-{source}", DESC),), index_imports=(),
        objects_to_build=(m.BuildDesc(f"{export_id}-view", plan, DESC),),
        index_exports=(m.IndexExport(export_id, f"{export_id}-view", (ColumnRef(0),), DESC),),
        sink_exports=(), as_of=as_of, debug_name=export_id)


def over_index(export_id: str, producer: str, as_of: int, threshold: int) -> m.DataflowDescription:
    plan = Filter(Get(f"{producer}-view"), (CallBinary("gt", ColumnRef(0), literal(threshold, ScalarType.INT8)),))
    return m.DataflowDescription(
        source_imports=(),
        index_imports=(m.IndexImport(producer, f"{producer}-view", (ColumnRef(0),), DESC),),
        objects_to_build=(m.BuildDesc(f"{export_id}-view", plan, DESC),),
        index_exports=(m.IndexExport(export_id, f"{export_id}-view", (ColumnRef(0),), DESC),),
        sink_exports=(), as_of=as_of, debug_name=export_id)


def running(state: ComputeState) -> dict[str, str]:
    """Live export -> the fingerprint of the dataflow the replica runs for it; and every dataflow reads the
    arrangements its imported indexes export now (a kept importer of a rebuilt index would read a dead one)."""
    for dataflow in state.dataflows:
        for index_id, arrangement in dataflow.imported.items():
            assert state.arrangements.get(index_id) is arrangement or index_id not in state.by_export, index_id
    return {export_id: dataflow.desc.fingerprint() for export_id, dataflow in state.by_export.items()}


def expected(history: CommandHistory) -> dict[str, str]:
    return {export_id: desc.fingerprint() for export_id, desc in history.live_dataflows().items()}


class Controller:
    def __init__(self, store: ShardStore) -> None:
        self.store = store
        self.history = CommandHistory()
        self.history.push(m.CreateInstance(m.InstanceConfig("c1", "", "")))
        self.history.push(m.InitializationComplete())
        self.epoch = 0
        self.ids = 0

    def connect(self, state: ComputeState) -> None:
        self.epoch += 1
        state.handle(m.Hello(f"n{self.epoch}", SECRET, self.epoch))
        for command in self.history.replay():
            state.handle(command)

    def send(self, state: ComputeState, command: m.Command) -> None:
        self.history.push(command)
        state.handle(command)

    def live(self) -> list[str]:
        return sorted(self.history.live_dataflows())

    def droppable(self) -> list[str]:
        """Live exports no live dataflow imports: the coordinator never drops an imported index (it keeps it as a
        residual dataflow until its importers are gone), and the reduced history relies on that."""
        live = self.history.live_dataflows()
        imported = {i.index_id for desc in live.values() for i in desc.index_imports}
        return sorted(set(live) - imported)


actions = st.lists(st.tuples(st.sampled_from(["create", "create", "import", "compact", "drop", "tick", "reconnect",
                                             "crash"]),
                             st.integers(0, 1_000), st.integers(0, 50)), max_size=25)


@settings(max_examples=100, deadline=None)
@given(actions)
def test_a_replica_runs_exactly_the_reduced_history_after_any_reconnect(steps: list[tuple[str, int, int]]) -> None:
    store = store_with_shards()
    controller = Controller(store)
    state = ComputeState("r1", store)
    controller.connect(state)
    for action, pick, number in steps:
        live = controller.live()
        if action == "create" or (action == "import" and not live):
            controller.ids += 1
            desc = over_shard(f"u{controller.ids}", SHARDS[pick % 2], as_of=number, threshold=pick % 3)
            controller.send(state, m.CreateDataflow(desc))
        elif action == "import":
            controller.ids += 1
            desc = over_index(f"u{controller.ids}", live[pick % len(live)], as_of=number, threshold=pick % 3)
            controller.send(state, m.CreateDataflow(desc))
        elif action == "compact" and live:
            controller.send(state, m.AllowCompaction(live[pick % len(live)], number))
        elif action == "drop" and controller.droppable():
            droppable = controller.droppable()
            controller.send(state, m.AllowCompaction(droppable[pick % len(droppable)], None))
        elif action == "tick":
            state.tick()
        elif action in ("reconnect", "crash"):
            if action == "crash":
                state = ComputeState("r1", store)
            controller.connect(state)
            assert running(state) == expected(controller.history)
            fresh = ComputeState("r1", store)
            controller.connect(fresh)
            assert running(fresh) == running(state)
    controller.connect(state)
    assert running(state) == expected(controller.history)
    kept = {id(d) for d in state.by_export.values()}
    controller.connect(state)  # nothing changed since: everything is kept
    assert state.reconciled_rebuilt == 0
    assert state.reconciled_kept == len(kept) == len({id(d) for d in state.by_export.values()})
    assert {id(d) for d in state.by_export.values()} == kept
    store.close()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 6), st.integers(0, 10))
def test_a_reconnect_that_interrupts_a_replay_rebuilds_nothing(dataflows: int, cut: int) -> None:
    """``Hello``, part of the replay, then ``Hello`` and the whole replay again (the controller reconnected before
    ``InitializationComplete``): the replica keeps every dataflow, as after an uninterrupted reconnect."""
    store = store_with_shards()
    controller = Controller(store)
    state = ComputeState("r1", store)
    controller.connect(state)
    for i in range(dataflows):
        controller.ids += 1
        live = controller.live()
        desc = (over_index(f"u{controller.ids}", live[i % len(live)], as_of=1, threshold=i % 3) if i % 2 and live
                else over_shard(f"u{controller.ids}", SHARDS[i % 2], as_of=1, threshold=i % 3))
        controller.send(state, m.CreateDataflow(desc))
    state.tick()
    before = {export_id: id(d) for export_id, d in state.by_export.items()}
    controller.epoch += 1
    state.handle(m.Hello(f"n{controller.epoch}", SECRET, controller.epoch))
    for command in list(controller.history.replay())[:cut]:
        if not isinstance(command, m.InitializationComplete):
            state.handle(command)
    controller.connect(state)
    assert running(state) == expected(controller.history)
    assert (state.reconciled_kept, state.reconciled_rebuilt) == (dataflows, 0)
    assert {export_id: id(d) for export_id, d in state.by_export.items()} == before
    store.close()
