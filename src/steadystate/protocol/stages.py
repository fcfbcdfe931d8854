"""The compute command stream as a state machine: stages, legal commands, and clean/dirty tracking.

A replica's command stream goes through four :class:`Stage` s::

    awaiting_hello ──Hello──► awaiting_create_instance ──CreateInstance──► initializing
        (replayed history: computation commands) ──InitializationComplete──► computing (live commands)

:data:`TRANSITIONS` is the whole grammar: ``(stage, command kind) -> next stage``.  A command kind absent
from the table for the current stage is a :class:`~steadystate.errors.ProtocolViolation`.  A Hello is legal
in every stage and starts the stream over (a reconnect).

On top of the stages, :class:`CommandStream` tracks the project's headline signal, **clean/dirty**:

* a stream is *steady* from InitializationComplete on (``steady_since_ms`` is when it got there);
* it is *clean* while steady and no replica-level DDL (``messages.is_ddl``: any CreateDataflow, or an
  AllowCompaction to the empty frontier) has been applied since — replayed commands before the
  punctuation never count;
* the first DDL in the computing stage makes it *dirty* for good (until the next Hello): ``dirtied_by``
  is the command's readable description (its ``debug`` text, else e.g. ``"CreateDataflow u7"`` or
  ``"drop u5"``) and ``dirtied_at_ms`` the time it was applied.

The replica runs one on the commands it receives and reports it in ``Status`` (see
:meth:`CommandStream.signal`, whose fields are ``Status``'s); the controller runs one per replica on the
commands it sends, and the two must agree (:func:`disagreement` says how they do not).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any, Callable

from steadystate.errors import ProtocolViolation
from steadystate.protocol import messages
from steadystate.protocol.messages import (
    AllowCompaction,
    AllowWrites,
    CancelPeek,
    Command,
    CreateDataflow,
    CreateInstance,
    Hello,
    InitializationComplete,
    Peek,
    Schedule,
    Status,
    UpdateConfiguration,
)


class Stage(str, enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    AWAITING_CREATE_INSTANCE = "awaiting_create_instance"
    INITIALIZING = "initializing"
    COMPUTING = "computing"


#: Commands that manipulate computation; legal while replaying the history and while computing.
COMPUTATION_COMMANDS: tuple[type, ...] = (
    CreateDataflow,
    Schedule,
    AllowWrites,
    AllowCompaction,
    Peek,
    CancelPeek,
    UpdateConfiguration,
)


def _build_transitions() -> dict[tuple[Stage, type], Stage]:
    table: dict[tuple[Stage, type], Stage] = {}
    for stage in Stage:
        table[(stage, Hello)] = Stage.AWAITING_CREATE_INSTANCE
    table[(Stage.AWAITING_CREATE_INSTANCE, CreateInstance)] = Stage.INITIALIZING
    for kind in COMPUTATION_COMMANDS:
        table[(Stage.INITIALIZING, kind)] = Stage.INITIALIZING
        table[(Stage.COMPUTING, kind)] = Stage.COMPUTING
    table[(Stage.INITIALIZING, InitializationComplete)] = Stage.COMPUTING
    return table


#: ``(stage, command kind) -> next stage``; anything else is illegal.
TRANSITIONS: dict[tuple[Stage, type], Stage] = _build_transitions()

#: What each stage expects next, for error hints.
_EXPECTED: dict[Stage, str] = {
    Stage.AWAITING_HELLO: "a connection starts with Hello",
    Stage.AWAITING_CREATE_INSTANCE: "Hello must be followed by CreateInstance",
    Stage.INITIALIZING: "the replayed history ends with InitializationComplete",
    Stage.COMPUTING: "after InitializationComplete only computation commands or a new Hello may follow",
}


def _describe_create_dataflow(command: CreateDataflow) -> str:
    if command.debug:
        return command.debug
    names = ", ".join(command.desc.export_ids) or command.desc.debug_name or "(no exports)"
    return f"CreateDataflow {names}"


def _describe_allow_compaction(command: AllowCompaction) -> str:
    return command.debug or f"drop {command.id}"


#: How to name each kind of replica-level DDL when it dirties a stream.
DDL_DESCRIPTIONS: dict[type, Callable[..., str]] = {
    CreateDataflow: _describe_create_dataflow,
    AllowCompaction: _describe_allow_compaction,
}


def describe_ddl(command: Command) -> str:
    """The readable description of a replica-level DDL command (see ``messages.is_ddl``)."""
    return DDL_DESCRIPTIONS[type(command)](command)


def next_stage(stage: Stage, command: Command) -> Stage:
    """The stage ``command`` leads to from ``stage``; raises ProtocolViolation if it is illegal there."""
    try:
        return TRANSITIONS[(stage, type(command))]
    except KeyError:
        raise ProtocolViolation(
            f"unexpected compute command {type(command).__name__} in stage {stage.value}",
            hint=_EXPECTED[stage],
        ) from None


@dataclass(frozen=True)
class CleanDirtySignal:
    """The clean/dirty state of a stream at one moment; the field names are those of ``messages.Status``."""

    steady: bool
    clean: bool
    steady_since_ms: int | None
    dirtied_by: str | None
    dirtied_at_ms: int | None

    def status_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``messages.Status``."""
        return asdict(self)


def disagreement(expected: "CommandStream", status: Status) -> str | None:
    """Why a replica's reported ``status`` contradicts the controller's ``expected`` stream, or None.

    Steadiness, clean/dirty and what dirtied the replica must match; the times are each side's own clock
    and are not compared.
    """
    signal = expected.signal()
    if status.steady != signal.steady:
        return f"replica reports steady={status.steady}, the controller expects steady={signal.steady}"
    if status.clean != signal.clean:
        return (
            f"replica reports {'clean' if status.clean else 'dirty'}, the controller expects "
            f"{'clean' if signal.clean else 'dirty'}"
        )
    if status.dirtied_by != signal.dirtied_by:
        return f"replica reports dirtied by {status.dirtied_by!r}, the controller expects {signal.dirtied_by!r}"
    return None


class CommandStream:
    """One replica's command stream: its stage and clean/dirty state (see the module docstring)."""

    def __init__(self) -> None:
        self._stage = Stage.AWAITING_HELLO
        self.hello: Hello | None = None
        self.instance: CreateInstance | None = None
        self._steady_since_ms: int | None = None
        self._dirtied_by: str | None = None
        self._dirtied_at_ms: int | None = None
        self._ddl_since_steady = 0
        self._commands_applied = 0

    # -- state --------------------------------------------------------------------------------------

    @property
    def stage(self) -> Stage:
        return self._stage

    @property
    def steady(self) -> bool:
        """Whether InitializationComplete has been applied on the current connection."""
        return self._stage is Stage.COMPUTING

    @property
    def clean(self) -> bool:
        """Steady, and no replica-level DDL applied since."""
        return self.steady and self._dirtied_by is None

    @property
    def dirty(self) -> bool:
        return self.steady and self._dirtied_by is not None

    @property
    def dirtied_by(self) -> str | None:
        """The description of the first DDL applied while steady (None while clean or not steady)."""
        return self._dirtied_by

    @property
    def dirtied_at_ms(self) -> int | None:
        return self._dirtied_at_ms

    @property
    def steady_since_ms(self) -> int | None:
        return self._steady_since_ms

    @property
    def ddl_since_steady(self) -> int:
        """How many replica-level DDL commands were applied since the punctuation."""
        return self._ddl_since_steady

    @property
    def commands_applied(self) -> int:
        """Commands applied since the last Hello (the Hello included)."""
        return self._commands_applied

    def signal(self) -> CleanDirtySignal:
        return CleanDirtySignal(
            steady=self.steady,
            clean=self.clean,
            steady_since_ms=self._steady_since_ms,
            dirtied_by=self._dirtied_by,
            dirtied_at_ms=self._dirtied_at_ms,
        )

    # -- transitions --------------------------------------------------------------------------------

    def check(self, command: Command) -> Stage:
        """The stage ``command`` would lead to, without applying it (raises if illegal)."""
        return next_stage(self._stage, command)

    def apply(self, command: Command, now_ms: int) -> Stage:
        """Apply ``command`` at time ``now_ms``; returns the new stage (raises ProtocolViolation if illegal)."""
        stage = next_stage(self._stage, command)
        if isinstance(command, Hello):
            self._restart(command)
        elif isinstance(command, CreateInstance):
            self.instance = command
        elif isinstance(command, InitializationComplete):
            self._steady_since_ms = now_ms
        elif self._stage is Stage.COMPUTING and messages.is_ddl(command):
            self._ddl_since_steady += 1
            if self._dirtied_by is None:
                self._dirtied_by = describe_ddl(command)
                self._dirtied_at_ms = now_ms
        self._stage = stage
        self._commands_applied += 1
        return stage

    def _restart(self, hello: Hello) -> None:
        self.hello = hello
        self.instance = None
        self._steady_since_ms = None
        self._dirtied_by = None
        self._dirtied_at_ms = None
        self._ddl_since_steady = 0
        self._commands_applied = 0

    def __repr__(self) -> str:
        state = "clean" if self.clean else ("dirty" if self.dirty else "not steady")
        return f"CommandStream(stage={self._stage.value}, {state}, dirtied_by={self._dirtied_by!r})"
