"""The controller's command history of one cluster, and its reduction.

Every command the controller sends to a cluster's replicas is :meth:`CommandHistory.push` ed.  A replica
that (re)connects is brought up to date by replaying the history (:meth:`CommandHistory.replay`), then
InitializationComplete, then live commands.  To stay proportional to the *live* objects rather than to
the number of commands ever sent, the history is reduced whenever it has doubled since the last
reduction (amortized O(1) per push), and on demand with :meth:`CommandHistory.reduce`.

Reduction (:func:`reduce_commands`, Materialize's rules) keeps

* the latest Hello and the latest CreateInstance;
* one UpdateConfiguration with every parameter ever set (later values win);
* each CreateDataflow (original order) whose exports were not *all* dropped (AllowCompaction to the
  empty frontier), with ``as_of`` advanced to the least final compaction frontier of its exports when
  that is later than the original ``as_of``;
* the Schedule and AllowWrites of the live exports of kept dataflows (once each);
* the peeks neither cancelled (CancelPeek) nor finished (:meth:`CommandHistory.peek_finished`);
* the last AllowCompaction per export of a kept dataflow, unless it merely repeats the ``as_of`` (so the
  drop of one export of a dataflow that has live ones is replayed, after the CreateDataflow);
* whether InitializationComplete was pushed.

CancelPeek commands, compactions, schedules and allow-writes for ids no kept dataflow exports, and
dataflows with no exports at all, are dropped.

Replay order: CreateInstance, the merged UpdateConfiguration, CreateDataflows, Schedules, live Peeks,
AllowCompactions, AllowWrites, then InitializationComplete if it was pushed.  **The Hello is not part of
the replay by default**: each connection has its own (nonce, epoch), so the caller passes it as
``replay(hello=...)`` to have it put first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import msgspec

from steadystate.protocol.messages import (
    AllowCompaction,
    AllowWrites,
    CancelPeek,
    Command,
    CreateDataflow,
    CreateInstance,
    DataflowDescription,
    Hello,
    InitializationComplete,
    Peek,
    Schedule,
    UpdateConfiguration,
)
from steadystate.repr import Frontier, frontier_min


@dataclass(frozen=True)
class ReducedHistory:
    """The reduced form of a command sequence, one field per kind of command that survives."""

    hello: Hello | None = None
    create_instance: CreateInstance | None = None
    configuration: dict[str, str] | None = None  # None: no UpdateConfiguration was ever pushed
    dataflows: tuple[CreateDataflow, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    peeks: tuple[Peek, ...] = ()
    compactions: tuple[AllowCompaction, ...] = ()
    allow_writes: tuple[AllowWrites, ...] = ()
    initialization_complete: bool = False

    def commands(self, hello: Hello | None = None) -> list[Command]:
        """The commands in replay order, starting with ``hello`` if one is given."""
        out: list[Command] = []
        if hello is not None:
            out.append(hello)
        if self.create_instance is not None:
            out.append(self.create_instance)
        if self.configuration is not None:
            out.append(UpdateConfiguration(params=dict(self.configuration)))
        out.extend(self.dataflows)
        out.extend(self.schedules)
        out.extend(self.peeks)
        out.extend(self.compactions)
        out.extend(self.allow_writes)
        if self.initialization_complete:
            out.append(InitializationComplete())
        return out

    def stored_commands(self) -> list[Command]:
        """The commands a history keeps after reducing: the replay order, with the latest Hello first."""
        return self.commands(self.hello)


@dataclass
class _Scan:
    """What a single pass over the commands collects (mutable scratch state of :func:`reduce_commands`)."""

    hello: Hello | None = None
    create_instance: CreateInstance | None = None
    configuration: dict[str, str] | None = None
    dataflows: list[CreateDataflow] = field(default_factory=list)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    peeks: dict[str, Peek] = field(default_factory=dict)
    final_frontiers: dict[str, AllowCompaction] = field(default_factory=dict)
    allow_writes: dict[str, AllowWrites] = field(default_factory=dict)
    initialization_complete: bool = False

    def take_hello(self, command: Hello) -> None:
        self.hello = command

    def take_create_instance(self, command: CreateInstance) -> None:
        self.create_instance = command

    def take_configuration(self, command: UpdateConfiguration) -> None:
        if self.configuration is None:
            self.configuration = {}
        self.configuration.update(command.params)

    def take_dataflow(self, command: CreateDataflow) -> None:
        self.dataflows.append(command)

    def take_schedule(self, command: Schedule) -> None:
        self.schedules.setdefault(command.id, command)

    def take_allow_writes(self, command: AllowWrites) -> None:
        self.allow_writes.setdefault(command.id, command)

    def take_compaction(self, command: AllowCompaction) -> None:
        self.final_frontiers.pop(command.id, None)  # re-insert: order by the latest compaction
        self.final_frontiers[command.id] = command

    def take_peek(self, command: Peek) -> None:
        self.peeks[command.uuid] = command

    def take_cancel(self, command: CancelPeek) -> None:
        self.peeks.pop(command.uuid, None)

    def take_initialization_complete(self, command: InitializationComplete) -> None:
        self.initialization_complete = True


#: Which scan step absorbs each kind of command.
_SCAN_STEPS: dict[type, Callable[[_Scan, Any], None]] = {
    Hello: _Scan.take_hello,
    CreateInstance: _Scan.take_create_instance,
    UpdateConfiguration: _Scan.take_configuration,
    CreateDataflow: _Scan.take_dataflow,
    Schedule: _Scan.take_schedule,
    AllowWrites: _Scan.take_allow_writes,
    AllowCompaction: _Scan.take_compaction,
    Peek: _Scan.take_peek,
    CancelPeek: _Scan.take_cancel,
    InitializationComplete: _Scan.take_initialization_complete,
}


def _all_exports_dropped(desc: DataflowDescription, final_frontiers: dict[str, AllowCompaction]) -> bool:
    return all(
        export_id in final_frontiers and final_frontiers[export_id].frontier is None
        for export_id in desc.export_ids
    )


def _advanced_as_of(desc: DataflowDescription, final_frontiers: dict[str, AllowCompaction]) -> Frontier:
    """The least final frontier over the exports, never below the original ``as_of``.

    An export without a compaction contributes the original ``as_of``; a dropped one contributes nothing.
    """
    frontiers = [
        final_frontiers[export_id].frontier if export_id in final_frontiers else desc.as_of
        for export_id in desc.export_ids
    ]
    least = frontier_min(*frontiers)
    if least is None or (desc.as_of is not None and least < desc.as_of):
        return desc.as_of
    return least


def reduce_commands(
    commands: Iterable[Command], finished_peeks: frozenset[str] | set[str] = frozenset()
) -> ReducedHistory:
    """Reduce ``commands`` (in the order they were sent) to the smallest equivalent history."""
    scan = _Scan()
    for command in commands:
        _SCAN_STEPS[type(command)](scan, command)

    dataflows: list[CreateDataflow] = []
    live_exports: set[str] = set()
    for command in scan.dataflows:
        desc = command.desc
        if not desc.export_ids:
            continue
        if _all_exports_dropped(desc, scan.final_frontiers):
            continue  # the dataflow is gone, with its schedule, allow-writes and compactions
        as_of = _advanced_as_of(desc, scan.final_frontiers)
        if as_of != desc.as_of:
            command = msgspec.structs.replace(command, desc=msgspec.structs.replace(desc, as_of=as_of))
        dataflows.append(command)
        live_exports.update(desc.export_ids)

    dropped = {export_id for export_id, c in scan.final_frontiers.items() if c.frontier is None}
    as_of_by_export = {e: c.desc.as_of for c in dataflows for e in c.desc.export_ids}
    compactions = tuple(
        c
        for export_id, c in scan.final_frontiers.items()
        if export_id in live_exports and c.frontier != as_of_by_export[export_id]
    )
    return ReducedHistory(
        hello=scan.hello,
        create_instance=scan.create_instance,
        configuration=scan.configuration,
        dataflows=tuple(dataflows),
        schedules=tuple(s for i, s in scan.schedules.items() if i in live_exports and i not in dropped),
        peeks=tuple(p for u, p in scan.peeks.items() if u not in finished_peeks),
        compactions=compactions,
        allow_writes=tuple(w for i, w in scan.allow_writes.items() if i in live_exports and i not in dropped),
        initialization_complete=scan.initialization_complete,
    )


class CommandHistory:
    """The command history of one cluster (see the module docstring)."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._finished_peeks: set[str] = set()
        self._reduced_count = 0
        self._reductions = 0

    def __len__(self) -> int:
        """The number of commands held right now (reduced or not)."""
        return len(self._commands)

    @property
    def reductions(self) -> int:
        """How many times the history has been reduced."""
        return self._reductions

    @property
    def commands(self) -> tuple[Command, ...]:
        """The commands held right now, unreduced since the last reduction (Hello included if pushed)."""
        return tuple(self._commands)

    def push(self, command: Command) -> None:
        """Record a command sent to the cluster; reduces when the history has doubled since the last time."""
        if type(command) not in _SCAN_STEPS:
            raise TypeError(f"not a compute command: {command!r}")
        self._commands.append(command)
        if len(self._commands) > 2 * self._reduced_count:
            self.reduce()

    def peek_finished(self, uuid: str) -> None:
        """The peek ``uuid`` was answered (or cancelled): it is no longer replayed."""
        self._finished_peeks.add(uuid)

    def reduce(self) -> ReducedHistory:
        """Reduce the history in place and return its reduced form."""
        reduced = reduce_commands(self._commands, self._finished_peeks)
        self._commands = reduced.stored_commands()
        self._finished_peeks.clear()
        self._reduced_count = len(self._commands)
        self._reductions += 1
        return reduced

    def replay(self, hello: Hello | None = None) -> list[Command]:
        """The commands that bring a (re)connecting replica up to date, in replay order.

        The history's own Hello is *not* included: pass the connection's ``hello`` to have it first.
        Ends with InitializationComplete only if one was pushed.
        """
        return self.reduce().commands(hello)

    @property
    def hello(self) -> Hello | None:
        """The latest Hello pushed, if any."""
        for command in reversed(self._commands):
            if isinstance(command, Hello):
                return command
        return None

    def live_dataflows(self) -> dict[str, DataflowDescription]:
        """Each live export id → its dataflow's description (``as_of`` advanced).  Reduces first.

        Dropped exports of a dataflow that still has live ones are left out.
        """
        reduced = self.reduce()
        dropped = {c.id for c in reduced.compactions if c.frontier is None}
        return {
            export_id: command.desc
            for command in reduced.dataflows
            for export_id in command.desc.export_ids
            if export_id not in dropped
        }
