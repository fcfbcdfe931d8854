"""The command stream state machine: legal and illegal sequences, and clean/dirty for each command kind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from protocol_builders import commands, create_instance, dataflow, every_command, hello, peek
from steadystate.errors import ProtocolViolation
from steadystate.protocol import messages
from steadystate.protocol.messages import (
    AllowCompaction,
    AllowWrites,
    CancelPeek,
    Command,
    CreateDataflow,
    Hello,
    InitializationComplete,
    Schedule,
    Status,
    UpdateConfiguration,
)
from steadystate.protocol.stages import TRANSITIONS, CommandStream, Stage, describe_ddl, disagreement


def steady_stream(now_ms: int = 100, replay: list[Command] | None = None) -> CommandStream:
    stream = CommandStream()
    for command in [hello(), create_instance(), *(replay or []), InitializationComplete()]:
        stream.apply(command, now_ms)
    return stream


#: One command of every kind that may follow InitializationComplete, whether it is DDL, and its description.
LIVE_COMMANDS: list[tuple[Command, bool, str | None]] = [
    (CreateDataflow(dataflow("u7"), debug="CREATE INDEX i ON t (a)"), True, "CREATE INDEX i ON t (a)"),
    (CreateDataflow(dataflow("u7", "u8")), True, "CreateDataflow u7, u8"),
    (CreateDataflow(dataflow(sink_ids=("t3",))), True, "CreateDataflow t3"),
    (AllowCompaction("u5", None), True, "drop u5"),
    (AllowCompaction("u5", None, debug="DROP INDEX i"), True, "DROP INDEX i"),
    (AllowCompaction("u5", 10), False, None),
    (Schedule("u5"), False, None),
    (AllowWrites("u5"), False, None),
    (peek("p1"), False, None),
    (CancelPeek("p1"), False, None),
    (UpdateConfiguration({"a": "b"}), False, None),
]


# ---------------------------------------------------------------------------------------------------------
# stages


def test_happy_path_goes_through_every_stage() -> None:
    stream = CommandStream()
    assert stream.stage is Stage.AWAITING_HELLO
    assert stream.apply(hello(), 1) is Stage.AWAITING_CREATE_INSTANCE
    assert stream.apply(create_instance(), 2) is Stage.INITIALIZING
    assert stream.apply(CreateDataflow(dataflow("u1")), 3) is Stage.INITIALIZING
    assert stream.apply(InitializationComplete(), 4) is Stage.COMPUTING
    assert stream.apply(Schedule("u1"), 5) is Stage.COMPUTING
    assert stream.instance == create_instance() and stream.hello == hello()


@pytest.mark.parametrize(
    "sequence",
    [
        [create_instance()],
        [InitializationComplete()],
        [Schedule("u1")],
        [hello(), Schedule("u1")],
        [hello(), InitializationComplete()],
        [hello(), create_instance(), create_instance()],
        [hello(), create_instance(), InitializationComplete(), InitializationComplete()],
        [hello(), create_instance(), InitializationComplete(), create_instance()],
    ],
    ids=lambda seq: "-".join(type(c).__name__ for c in seq),
)
def test_illegal_sequences_are_protocol_violations(sequence: list[Command]) -> None:
    stream = CommandStream()
    *legal, last = sequence
    for command in legal:
        stream.apply(command, 0)
    before = stream.stage
    with pytest.raises(ProtocolViolation, match=f"unexpected compute command {type(last).__name__}") as info:
        stream.apply(last, 0)
    assert info.value.hint
    assert stream.stage is before  # an illegal command changes nothing


@pytest.mark.parametrize("command", every_command(), ids=lambda c: type(c).__name__)
@pytest.mark.parametrize("stage", list(Stage), ids=lambda s: s.value)
def test_check_agrees_with_the_table(stage: Stage, command: Command) -> None:
    stream = CommandStream()
    prefix = {
        Stage.AWAITING_HELLO: [],
        Stage.AWAITING_CREATE_INSTANCE: [hello()],
        Stage.INITIALIZING: [hello(), create_instance()],
        Stage.COMPUTING: [hello(), create_instance(), InitializationComplete()],
    }[stage]
    for c in prefix:
        stream.apply(c, 0)
    assert stream.stage is stage
    expected = TRANSITIONS.get((stage, type(command)))
    if expected is None:
        with pytest.raises(ProtocolViolation):
            stream.check(command)
    else:
        assert stream.check(command) is expected
        assert stream.apply(command, 0) is expected


def test_hello_is_legal_everywhere_and_restarts_the_stream() -> None:
    for stage in Stage:
        assert TRANSITIONS[(stage, Hello)] is Stage.AWAITING_CREATE_INSTANCE


@settings(max_examples=200, deadline=None)
@given(st.lists(commands, max_size=15))
def test_stage_only_changes_through_the_table(sequence: list[Command]) -> None:
    stream = CommandStream()
    for command in sequence:
        expected = TRANSITIONS.get((stream.stage, type(command)))
        if expected is None:
            before = stream.stage
            with pytest.raises(ProtocolViolation):
                stream.apply(command, 0)
            assert stream.stage is before
        else:
            assert stream.apply(command, 0) is expected
        assert stream.clean == (stream.stage is Stage.COMPUTING and stream.dirtied_by is None)


# ---------------------------------------------------------------------------------------------------------
# clean / dirty


def test_not_clean_before_the_punctuation() -> None:
    stream = CommandStream()
    assert not stream.clean and not stream.steady and stream.steady_since_ms is None
    stream.apply(hello(), 1)
    stream.apply(create_instance(), 2)
    assert not stream.clean and not stream.dirty


def test_clean_from_the_punctuation_with_its_time() -> None:
    stream = steady_stream(now_ms=1234)
    assert stream.clean and stream.steady and not stream.dirty
    assert stream.steady_since_ms == 1234
    assert stream.dirtied_by is None and stream.dirtied_at_ms is None


@pytest.mark.parametrize("command, is_ddl, description", LIVE_COMMANDS, ids=lambda v: repr(v)[:40])
def test_each_live_command_kind_dirties_exactly_when_it_is_ddl(command: Command, is_ddl: bool, description: str | None) -> None:
    assert messages.is_ddl(command) == is_ddl  # the table above agrees with the shared definition
    stream = steady_stream(now_ms=100)
    stream.apply(command, 555)
    assert stream.clean is (not is_ddl)
    assert stream.dirty is is_ddl
    assert stream.dirtied_by == description
    assert stream.dirtied_at_ms == (555 if is_ddl else None)
    assert stream.ddl_since_steady == int(is_ddl)
    assert stream.steady_since_ms == 100


@pytest.mark.parametrize("command, is_ddl, description", LIVE_COMMANDS, ids=lambda v: repr(v)[:40])
def test_replayed_commands_never_dirty(command: Command, is_ddl: bool, description: str | None) -> None:
    stream = steady_stream(replay=[command, command])
    assert stream.clean and stream.dirtied_by is None and stream.ddl_since_steady == 0


def test_the_first_ddl_is_remembered() -> None:
    stream = steady_stream()
    stream.apply(Schedule("u1"), 200)
    stream.apply(AllowCompaction("u1", None, debug="DROP INDEX first"), 300)
    stream.apply(CreateDataflow(dataflow("u9"), debug="CREATE INDEX second"), 400)
    assert stream.dirtied_by == "DROP INDEX first" and stream.dirtied_at_ms == 300
    assert stream.ddl_since_steady == 2


def test_reconnect_resets_and_is_clean_again_after_the_next_punctuation() -> None:
    stream = steady_stream()
    stream.apply(CreateDataflow(dataflow("u9")), 200)
    assert stream.dirty
    stream.apply(hello(nonce="n2", epoch=1), 300)
    assert stream.stage is Stage.AWAITING_CREATE_INSTANCE
    assert not stream.clean and not stream.dirty and stream.dirtied_by is None and stream.steady_since_ms is None
    assert stream.hello is not None and stream.hello.nonce == "n2" and stream.instance is None
    stream.apply(create_instance(), 310)
    stream.apply(CreateDataflow(dataflow("u9")), 320)  # replayed: does not dirty
    stream.apply(InitializationComplete(), 330)
    assert stream.clean and stream.steady_since_ms == 330


def test_describe_ddl_falls_back_to_the_debug_name_without_exports() -> None:
    assert describe_ddl(CreateDataflow(dataflow(name="dbg"))) == "CreateDataflow dbg"
    with pytest.raises(KeyError):
        describe_ddl(Schedule("u1"))


def status_of(stream: CommandStream) -> Status:
    return Status(replica_id="r1", nonce="n1", **stream.signal().status_fields())


def test_status_built_from_the_signal_agrees_with_the_same_commands_on_other_clocks() -> None:
    sent = [hello(), create_instance(), CreateDataflow(dataflow("u1")), InitializationComplete(), Schedule("u1"),
            peek("p"), AllowCompaction("u1", 5), AllowCompaction("u1", None, debug="DROP INDEX i")]
    controller, replica = CommandStream(), CommandStream()
    for i, command in enumerate(sent):
        controller.apply(command, i)
        replica.apply(command, 1000 + i)
        assert disagreement(controller, status_of(replica)) is None
    status = status_of(replica)
    assert (status.steady, status.clean, status.dirtied_by) == (True, False, "DROP INDEX i")
    assert status.dirtied_at_ms == 1000 + len(sent) - 1 and status.steady_since_ms == 1003


def test_disagreement_names_what_differs() -> None:
    controller, replica = steady_stream(), steady_stream()
    controller.apply(CreateDataflow(dataflow("u1"), debug="CREATE INDEX a"), 1)
    assert "replica reports clean, the controller expects dirty" == disagreement(controller, status_of(replica))
    replica.apply(CreateDataflow(dataflow("u2"), debug="CREATE INDEX b"), 1)
    assert "CREATE INDEX b" in (disagreement(controller, status_of(replica)) or "")
    reconnected = steady_stream()
    reconnected.apply(hello(nonce="n3"), 2)
    assert "steady=False" in (disagreement(controller, status_of(reconnected)) or "")
