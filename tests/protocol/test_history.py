"""Command history reduction: each rule, the replay order, and (hypothesis) that replaying the reduced
history to a model replica gives the same observable state as the full sequence, in bounded size."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol, Sequence, TypeVar

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from protocol_builders import create_instance, dataflow, hello, peek
from steadystate.protocol.history import CommandHistory, reduce_commands
from steadystate.protocol.messages import (
    AllowCompaction,
    AllowWrites,
    CancelPeek,
    Command,
    CreateDataflow,
    CreateInstance,
    Hello,
    InitializationComplete,
    InstanceConfig,
    Peek,
    Schedule,
    UpdateConfiguration,
)
from steadystate.protocol.stages import CommandStream, Stage

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------
# A model replica: what a replica observably holds after a command sequence.


@dataclass
class ModelReplica:
    instance: InstanceConfig | None = None
    params: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)  # live export id -> dataflow fingerprint
    since: dict[str, int | None] = field(default_factory=dict)  # live export id -> its read frontier
    scheduled: set[str] = field(default_factory=set)
    writable: set[str] = field(default_factory=set)
    peeks: set[str] = field(default_factory=set)
    initialized: bool = False

    def apply(self, command: Command) -> None:
        match command:
            case Hello():
                pass
            case CreateInstance(config=config):
                self.instance = config
            case UpdateConfiguration(params=params):
                self.params.update(params)
            case CreateDataflow(desc=desc):
                for export_id in desc.export_ids:
                    assert export_id not in self.fingerprints, f"{export_id} created twice"
                    self.fingerprints[export_id] = desc.fingerprint()
                    self.since[export_id] = desc.as_of
            case AllowCompaction(id=export_id, frontier=None):
                self.fingerprints.pop(export_id)
                self.since.pop(export_id)
            case AllowCompaction(id=export_id, frontier=frontier):
                assert export_id in self.fingerprints, f"compaction of unknown {export_id}"
                current = self.since[export_id]
                self.since[export_id] = frontier if current is None else max(current, frontier)
            case Schedule(id=export_id):
                assert export_id in self.fingerprints
                self.scheduled.add(export_id)
            case AllowWrites(id=export_id):
                assert export_id in self.fingerprints
                self.writable.add(export_id)
            case Peek(uuid=uuid):
                self.peeks.add(uuid)
            case CancelPeek(uuid=uuid):
                self.peeks.discard(uuid)
            case InitializationComplete():
                self.initialized = True

    def observable(self, finished_peeks: set[str]) -> tuple:
        live = set(self.fingerprints)
        return (
            self.instance,
            self.params,
            self.fingerprints,
            self.since,
            self.scheduled & live,
            self.writable & live,
            self.peeks - finished_peeks,
            self.initialized,
        )


def replayed(history: CommandHistory, finished: set[str]) -> tuple:
    replica = ModelReplica()
    stream = CommandStream()
    for command in history.replay(hello(nonce="replay")):
        stream.apply(command, 0)  # the replay is a legal command stream
        replica.apply(command)
    assert stream.stage in (Stage.INITIALIZING, Stage.COMPUTING)
    return replica.observable(finished)


# ---------------------------------------------------------------------------------------------------------
# Random controller activity


class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...
    def integer(self, low: int, high: int) -> int: ...


class HypothesisChooser:
    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def choice(self, options: Sequence[T]) -> T:
        return self._data.draw(st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self._data.draw(st.integers(low, high))


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return self._random.choice(options)

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)


@dataclass
class Activity:
    """A controller's legal command sequence, built step by step, with the full model alongside."""

    history: CommandHistory = field(default_factory=CommandHistory)
    full: ModelReplica = field(default_factory=ModelReplica)
    finished: set[str] = field(default_factory=set)
    next_id: int = 0
    pushed: int = 0

    def send(self, command: Command) -> None:
        self.history.push(command)
        self.full.apply(command)
        self.pushed += 1

    def fresh(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    @property
    def live_exports(self) -> list[str]:
        return sorted(self.full.fingerprints)

    @property
    def pending_peeks(self) -> list[str]:
        return sorted(self.full.peeks - self.finished)

    def step(self, choose: Chooser, *, max_live: int = 1_000) -> None:
        actions = ["create", "config", "instance", "reduce", "initialized"]
        if len(self.live_exports) >= max_live:
            actions.remove("create")
        if self.live_exports:
            actions += ["schedule", "writes", "compact", "compact", "drop", "drop", "peek"]
        if self.pending_peeks:
            actions += ["cancel", "finish"]
        match choose.choice(actions):
            case "create":
                indexes = tuple(self.fresh("u") for _ in range(choose.integer(1, 2)))
                sinks = (self.fresh("u"),) if choose.integer(0, 1) else ()
                as_of = choose.integer(0, 50)
                desc = dataflow(*indexes, sink_ids=sinks, as_of=as_of, on_id=choose.choice(["u100", "u101"]))
                self.send(CreateDataflow(desc, debug=f"CREATE {self.next_id}"))
            case "config":
                params = {choose.choice("abcd"): choose.choice("123") for _ in range(choose.integer(0, 2))}
                self.send(UpdateConfiguration(params))
            case "instance":
                self.send(CreateInstance(InstanceConfig("c1", "r1", "sqlite:///x", size=choose.choice(["s", "l"]))))
            case "reduce":
                self.history.reduce()
            case "initialized":
                self.send(InitializationComplete())
            case "schedule":
                self.send(Schedule(choose.choice(self.live_exports)))
            case "writes":
                self.send(AllowWrites(choose.choice(self.live_exports)))
            case "compact":
                export_id = choose.choice(self.live_exports)
                self.send(AllowCompaction(export_id, (self.full.since[export_id] or 0) + choose.integer(0, 20)))
            case "drop":
                self.send(AllowCompaction(choose.choice(self.live_exports), None))
            case "peek":
                self.send(peek(self.fresh("p"), choose.choice(self.live_exports)))
            case "cancel":
                self.send(CancelPeek(choose.choice(self.pending_peeks)))
            case "finish":
                uuid = choose.choice(self.pending_peeks)
                self.finished.add(uuid)
                self.history.peek_finished(uuid)


def started_activity() -> Activity:
    activity = Activity()
    activity.send(hello())
    activity.send(create_instance())
    return activity


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_replaying_the_reduced_history_gives_the_same_replica(data: st.DataObject) -> None:
    activity = started_activity()
    choose = HypothesisChooser(data)
    for _ in range(data.draw(st.integers(0, 60))):
        activity.step(choose)
        if choose.integer(0, 9) == 0:  # check in the middle too, not only at the end
            assert replayed(activity.history, activity.finished) == activity.full.observable(activity.finished)
    assert replayed(activity.history, activity.finished) == activity.full.observable(activity.finished)
    live = activity.history.live_dataflows()
    assert {e: d.fingerprint() for e, d in live.items()} == activity.full.fingerprints


@pytest.mark.parametrize("seed", range(4))
def test_history_stays_proportional_to_the_live_objects(seed: int) -> None:
    activity = started_activity()
    choose = RandomChooser(seed)
    max_live_exports = 6
    for _ in range(20_000):
        activity.step(choose, max_live=max_live_exports)
        # live: at most 6 exports (+ at most one sink per dataflow, so <= 12 collections) and the pending peeks
        live_objects = 2 * max_live_exports + len(activity.pending_peeks)
        # reduced: instance, config, init + per collection at most create, schedule, compaction, allow-writes;
        # between reductions the history at most doubles.
        assert len(activity.history) <= 2 * (4 + 4 * live_objects) + 1
    assert activity.pushed > 15_000
    reduced = activity.history.reduce()
    exports = len(activity.live_exports)
    assert len(reduced.dataflows) <= exports
    assert len(activity.history) <= 4 + len(reduced.dataflows) + 3 * exports + len(activity.pending_peeks)
    assert replayed(activity.history, activity.finished) == activity.full.observable(activity.finished)


# ---------------------------------------------------------------------------------------------------------
# The rules one at a time


def test_one_hello_and_create_instance_the_latest_and_replay_excludes_hello_unless_given() -> None:
    history = CommandHistory()
    history.push(hello(nonce="a"))
    history.push(create_instance(replica_id="old"))
    history.push(hello(nonce="b"))
    history.push(create_instance(replica_id="new"))
    assert history.replay() == [create_instance(replica_id="new")]
    assert history.hello == hello(nonce="b")
    assert history.replay(hello(nonce="conn")) == [hello(nonce="conn"), create_instance(replica_id="new")]


def test_configuration_updates_merge_into_one() -> None:
    history = CommandHistory()
    for params in ({"a": "1", "b": "1"}, {"b": "2"}, {"c": "3"}, {}):
        history.push(UpdateConfiguration(params))
    assert history.replay() == [UpdateConfiguration({"a": "1", "b": "2", "c": "3"})]


def test_last_compaction_per_id_and_as_of_advanced_to_the_least_export_frontier() -> None:
    history = CommandHistory()
    history.push(CreateDataflow(dataflow("u1", "u2", as_of=10)))
    for frontier in (12, 15, 30):
        history.push(AllowCompaction("u1", frontier))
    history.push(AllowCompaction("u2", 20))
    replay = history.replay()
    created = [c for c in replay if isinstance(c, CreateDataflow)]
    assert [c.desc.as_of for c in created] == [20]
    # u2's compaction equals the new as_of and is redundant; u1's is kept
    assert [c for c in replay if isinstance(c, AllowCompaction)] == [AllowCompaction("u1", 30)]
    assert created[0].desc.fingerprint() == dataflow("u1", "u2", as_of=10).fingerprint()


def test_as_of_is_only_advanced_not_lowered() -> None:
    history = CommandHistory()
    history.push(CreateDataflow(dataflow("u1", "u2", as_of=10)))
    history.push(AllowCompaction("u1", 40))
    (created,) = [c for c in history.replay() if isinstance(c, CreateDataflow)]
    assert created.desc.as_of == 10  # u2 was never compacted past 10


def test_dataflow_with_all_exports_dropped_disappears_with_everything_about_it() -> None:
    history = CommandHistory()
    history.push(CreateDataflow(dataflow("u1", "u2", as_of=1)))
    history.push(CreateDataflow(dataflow("u3", as_of=1, on_id="u101")))
    for export_id in ("u1", "u2", "u3"):
        history.push(Schedule(export_id))
        history.push(AllowWrites(export_id))
        history.push(AllowCompaction(export_id, 5))
    history.push(AllowCompaction("u1", None))
    history.push(AllowCompaction("u2", None))
    assert history.replay() == [
        CreateDataflow(dataflow("u3", as_of=5, on_id="u101")),
        Schedule("u3"),
        AllowWrites("u3"),
    ]
    assert list(history.live_dataflows()) == ["u3"]


def test_partially_dropped_dataflow_stays_with_the_drop_replayed() -> None:
    history = CommandHistory()
    history.push(CreateDataflow(dataflow("u1", "u2", as_of=1)))
    history.push(AllowCompaction("u2", 7))
    history.push(AllowCompaction("u1", None))
    assert history.replay() == [CreateDataflow(dataflow("u1", "u2", as_of=7)), AllowCompaction("u1", None)]
    assert set(history.live_dataflows()) == {"u2"}  # the dropped export is not live


def test_finished_and_cancelled_peeks_are_dropped_and_cancel_commands_with_them() -> None:
    history = CommandHistory()
    history.push(CreateDataflow(dataflow("u1")))
    for uuid in ("p1", "p2", "p3"):
        history.push(peek(uuid))
    history.push(CancelPeek("p2"))
    history.peek_finished("p3")
    assert history.replay() == [CreateDataflow(dataflow("u1")), peek("p1")]


def test_replay_order_is_materializes() -> None:
    history = CommandHistory()
    sequence: list[Command] = [
        hello(),
        create_instance(),
        InitializationComplete(),
        CreateDataflow(dataflow("u1", "u5")),  # two exports: u1's compaction does not fold into the as_of
        AllowWrites("u1"),
        AllowCompaction("u1", 9),
        peek("p1"),
        UpdateConfiguration({"a": "1"}),
        Schedule("u1"),
        CreateDataflow(dataflow("u2", "u6", on_id="u101")),
        Schedule("u2"),
        AllowCompaction("u2", 3),
    ]
    for command in sequence:
        history.push(command)
    kinds = [type(c).__name__ for c in history.replay(hello())]
    assert kinds == [
        "Hello", "CreateInstance", "UpdateConfiguration", "CreateDataflow", "CreateDataflow", "Schedule",
        "Schedule", "Peek", "AllowCompaction", "AllowCompaction", "AllowWrites", "InitializationComplete",
    ]


def test_initialization_complete_is_replayed_only_if_it_was_pushed() -> None:
    history = CommandHistory()
    history.push(create_instance())
    assert InitializationComplete() not in history.replay()
    history.push(InitializationComplete())
    history.push(InitializationComplete())
    assert history.replay().count(InitializationComplete()) == 1


def test_reduction_is_automatic_when_the_history_doubles() -> None:
    history = CommandHistory()
    history.push(create_instance())
    history.push(CreateDataflow(dataflow("u1")))
    for frontier in range(1, 10_001):
        history.push(AllowCompaction("u1", frontier))
        assert len(history) <= 2 * 3 + 1
    assert history.reductions > 1000
    # the only export's compaction folds into the dataflow's as_of
    assert history.replay() == [create_instance(), CreateDataflow(dataflow("u1", as_of=10_000))]


def test_reduce_is_idempotent_and_pure_function_agrees() -> None:
    commands: list[Command] = [create_instance(), CreateDataflow(dataflow("u1", "u2", as_of=2)), AllowCompaction("u1", 4), peek("p")]
    once = reduce_commands(commands)
    assert reduce_commands(once.stored_commands()) == once
    assert reduce_commands(commands, {"p"}).peeks == ()


def test_history_refuses_things_that_are_not_commands() -> None:
    with pytest.raises(TypeError):
        CommandHistory().push("CreateDataflow")  # type: ignore[arg-type]


def test_dataflow_descriptions_in_history_are_not_mutated() -> None:
    desc = dataflow("u1", as_of=1)
    history = CommandHistory()
    history.push(CreateDataflow(desc))
    history.push(AllowCompaction("u1", 9))
    assert history.live_dataflows()["u1"] == msgspec.structs.replace(desc, as_of=9)
    assert desc.as_of == 1


def test_a_replica_reconnecting_to_a_replay_is_clean_until_live_ddl() -> None:
    history = CommandHistory()
    for command in [create_instance(), CreateDataflow(dataflow("u1")), InitializationComplete(),
                    CreateDataflow(dataflow("u2", on_id="u101")), AllowCompaction("u1", None)]:
        history.push(command)
    stream = CommandStream()
    for command in history.replay(hello(nonce="again", epoch=2)):
        stream.apply(command, 10)
    assert stream.stage is Stage.COMPUTING and stream.clean and stream.steady_since_ms == 10
    stream.apply(AllowCompaction("u2", None), 20)
    assert stream.dirtied_by == "drop u2"
