"""The compute controller for one cluster: command history, replicas, frontiers, peeks, subscribes.

A :class:`ComputeInstance` is a library object inside the coordinator.  Every command goes through
:meth:`ComputeInstance.send`: it is appended to the cluster's :class:`~steadystate.protocol.history.CommandHistory`
(reduced as it grows) and forwarded to each live replica connection.  A replica that (re)connects gets the
reduced history, then ``InitializationComplete``, then live commands (``controller.replica``).

Responses update per-replica state: collection frontiers (the cluster's frontier of a collection is the
greatest any replica reached, since replicas are deterministic), the replica's last ``Status``
(hydration, clean/dirty, sizes), each collection's ``HydrationProgress`` while it hydrates, peek results (the first answer wins; ``CancelPeek`` goes to the rest),
and subscribe batches (forwarded only when they advance the subscribe's frontier, so two replicas never
produce duplicates).  Responses tagged with an older connection epoch are dropped.

**Peeks.**  A result arrives in chunks (``PeekResponse.partial``), gathered per replica: the first replica whose
*final* response arrives wins, whatever chunks other replicas sent meanwhile.  A replica acknowledges each peek as it
receives it (a partial response without rows).  A peek that was outstanding on a replica — acknowledged by it — whose
connection ended (its process died: oom-killed, say) is never sent to that replica again — not to
its successor process either, which would only run the same query into the same wall (a crash loop, every other
read of the cluster waiting behind it).  If no other replica is still working on it, it fails at once with the
replica's exit reason (``ReplicaExited``, 57P01; 53200 when the replica was oom-killed).  A peek that never reached
the process (sent while no replica was connected, or to a connection already dead) still goes to the first replica
that connects.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from steadystate.controller.replica import ReplicaConnection
from steadystate.errors import ObjectNotInPrerequisiteState, OutOfMemory, QueryCanceled, ReplicaExited, SteadyError, \
    quote_ident
from steadystate.expr.ir import MapFilterProject, RowSetFinishing
from steadystate.protocol import messages as m
from steadystate.protocol.history import CommandHistory
from steadystate.protocol.stages import disagreement
from steadystate.repr import arrow_rows, codec, frontier_max, passed
from steadystate.repr.arrow_rows import ArrowRows, ArrowStream, Part

log = logging.getLogger("steadystate.controller")


def peek_result(responses: list[m.PeekResponse]) -> ArrowRows:
    """A peek's result from one replica's responses (its chunks in order): Arrow record batches as they arrived,
    codec chunks (a replica of an older release, or a chunk that is no record batch) decoded into rows."""
    parts: list[Part] = []
    for response in responses:
        if response.batches is not None:
            parts.extend(arrow_rows.decode_ipc(response.batches))
        elif response.rows:
            parts.append(codec.decode_rows(response.rows))
    return ArrowRows(parts)


@dataclass
class ReplicaState:
    connection: ReplicaConnection
    frontiers: dict[str, int | None] = field(default_factory=dict)
    status: m.Status | None = None
    status_at: float = 0.0
    disagreement: str | None = None
    # collection id -> (connection epoch, its latest progress while hydrating)
    hydration: dict[str, tuple[int, m.HydrationProgress]] = field(default_factory=dict)


#: How long a peek whose replica went away waits for the orchestrator to learn why (its exit reason).
_EXIT_REASON_WAIT_S = 1.0


@dataclass(frozen=True)
class PlannedDataflow:
    """A dataflow to build a history from (``ComputeInstance.planned_history``): its description, the DDL text
    that explains it, and whether its sinks may write (a materialized view's)."""

    desc: m.DataflowDescription
    debug: str
    allow_writes: bool = False


@dataclass
class _PendingPeek:
    future: asyncio.Future[Any]  # ArrowRows; for a streamed peek ArrowRows or the ArrowStream its winner feeds
    asked: set[str]  # replicas working on it (connected when it was sent, or replayed it since)
    target_replica: str | None = None
    command: m.Peek | None = None
    chunks: dict[str, list[m.PeekResponse]] = field(default_factory=dict)  # replica id -> the partial results it sent
    lost: set[str] = field(default_factory=set)  # replicas whose connection ended while working on it
    started: set[str] = field(default_factory=set)  # replicas that acknowledged it (it reached their process)
    streamed: bool = False  # hand the result on chunk by chunk (peek_stream)
    winner: str | None = None  # a streamed peek: the replica whose chunks are the answer (the first to send one)
    stream: ArrowStream | None = None


@dataclass
class SubscribeChannel:
    queue: asyncio.Queue[m.SubscribeBatch | SteadyError | None]
    upper: int | None = -1


class ComputeInstance:
    def __init__(self, cluster_id: str, cluster_name: str, secret: str) -> None:
        self.cluster_id = cluster_id
        self.cluster_name = cluster_name
        self.secret = secret
        self.history = CommandHistory()
        # during a graceful replacement: the history the replacement replicas replay (None: the same as the rest)
        self._replacement_history: CommandHistory | None = None
        self._replacements: set[str] = set()
        self.replicas: dict[str, ReplicaState] = {}
        self._peeks: dict[str, _PendingPeek] = {}
        self._subscribes: dict[str, SubscribeChannel] = {}
        self._frontier_waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self.on_status: Callable[[str, m.Status, m.Status | None], None] | None = None
        self.after_drop: Callable[[str], None] | None = None
        # why a replica's process exited ("oom-killed"), or None while it runs (the orchestrator knows)
        self.exit_reason: Callable[[str], str | None] | None = None
        self.replica_name: Callable[[str], str] = lambda replica_id: replica_id  # for messages
        self.history.push(m.CreateInstance(m.InstanceConfig(cluster_id, "", "")))

    # ------------------------------------------------------------------ replicas

    def add_replica(
        self, replica_id: str, endpoint: Callable[[], tuple[str, int, int] | None], replacement: bool = False
    ) -> None:
        """Connect to a replica; a ``replacement`` (during :meth:`begin_replacement`) replays the replacement
        history, every other replica the cluster's current one."""
        if replacement:
            self._replacements.add(replica_id)
        connection = ReplicaConnection(replica_id, self.secret, endpoint, self)
        self.replicas[replica_id] = ReplicaState(connection)
        connection.start()

    # ------------------------------------------------------------------ graceful replacement

    def begin_replacement(self, history: CommandHistory | None = None) -> None:
        """Replacement replicas added from now on replay ``history`` (default: a copy of the current history)
        while the replicas they replace keep replaying theirs, whenever either reconnects: the replicas of a
        cluster never run a history that is not theirs.  Live commands go to both."""
        if history is None:
            history = CommandHistory()
            for command in self.history.replay():
                history.push(command)
        self._replacement_history = history
        self._replacements = set()

    def planned_history(self, dataflows: list[PlannedDataflow]) -> CommandHistory:
        """The history a freshly started coordinator would send this cluster for ``dataflows`` (producers before
        importers), plus the transient dataflows running now (the queries and SUBSCRIBEs waiting on them must be
        served by replacements too)."""
        history = CommandHistory()
        history.push(m.CreateInstance(m.InstanceConfig(self.cluster_id, "", "")))
        for planned in dataflows:
            history.push(m.CreateDataflow(planned.desc, planned.debug))
            for export_id in planned.desc.export_ids:
                history.push(m.Schedule(export_id))
                if planned.allow_writes:
                    history.push(m.AllowWrites(export_id))
        seen: set[str] = set()
        for desc in self.history.live_dataflows().values():
            if desc.is_transient and desc.fingerprint() not in seen:
                seen.add(desc.fingerprint())
                history.push(m.CreateDataflow(desc, f"transient dataflow {desc.debug_name}"))
        history.push(m.InitializationComplete())
        return history

    @property
    def replacing(self) -> bool:
        return self._replacement_history is not None

    def replacement_history(self) -> CommandHistory:
        return self._replacement_history if self._replacement_history is not None else self.history

    def commit_replacement(self) -> None:
        """The replacements took over: their history becomes the cluster's."""
        if self._replacement_history is not None:
            self.history = self._replacement_history
        self._replacement_history = None
        self._replacements = set()

    def abort_replacement(self) -> None:
        """The replacements are gone: the cluster keeps its history."""
        self._replacement_history = None
        self._replacements = set()

    def histories(self) -> list[CommandHistory]:
        if self._replacement_history is None:
            return [self.history]
        return [self.history, self._replacement_history]

    async def remove_replica(self, replica_id: str) -> None:
        state = self.replicas.pop(replica_id, None)
        if state is not None:
            await state.connection.close()
        for pending in self._peeks.values():
            pending.asked.discard(replica_id)

    async def shutdown(self) -> None:
        for replica_id in list(self.replicas):
            await self.remove_replica(replica_id)

    # ------------------------------------------------------------------ ResponseSink

    def history_for_replay(self, replica_id: str) -> list[m.Command]:
        """The reduced history for ``replica_id``'s new connection (a replacement's own history during a graceful
        replacement), without the peeks it was running when its last connection ended (never sent to it again)."""
        history = self.replacement_history() if replica_id in self._replacements else self.history
        return [
            c for c in history.replay()
            if not isinstance(c, (m.Hello, m.InitializationComplete))
            and not (isinstance(c, m.Peek) and c.uuid in self._peeks and replica_id in self._peeks[c.uuid].lost)
        ]

    def _forget(self, connection: ReplicaConnection) -> bool:
        """A connection began or ended: what the replica reported before no longer holds."""
        state = self.replicas.get(connection.replica_id)
        if state is None:
            return False
        state.frontiers.clear()
        state.status = None
        return True

    def on_connected(self, connection: ReplicaConnection) -> None:
        if not self._forget(connection):
            return
        for pending in self._peeks.values():
            if connection.replica_id not in pending.lost:
                pending.asked.add(connection.replica_id)
        log.info("replica %s of cluster %s connected (epoch %d)", connection.replica_id, self.cluster_name,
                 connection.epoch)

    def on_disconnected(self, connection: ReplicaConnection) -> None:
        if not self._forget(connection):
            return
        replica_id = connection.replica_id
        orphaned = []
        for peek_id, pending in list(self._peeks.items()):
            pending.chunks.pop(replica_id, None)
            if pending.winner == replica_id and pending.stream is not None:  # its answer was half sent: it fails
                pending.stream.fail(self._replica_exited(replica_id, self.exit_reason(replica_id)
                                                         if self.exit_reason is not None else None))
                pending.lost.add(replica_id)
                self._end_peek(peek_id)
                continue
            if replica_id in pending.started and replica_id in pending.asked:  # it was running there
                pending.asked.discard(replica_id)
                pending.lost.add(replica_id)
                if not pending.asked and not pending.future.done():
                    orphaned.append(pending)
                continue
            # it never reached that process (sent to a connection already dead): it is safe to send again
            pending.asked.discard(replica_id)
            if pending.target_replica == replica_id and not pending.future.done():
                pending.future.set_exception(self._replica_gone(replica_id))
        if orphaned:
            asyncio.get_running_loop().create_task(self._fail_lost_peeks(replica_id, orphaned))

    async def _fail_lost_peeks(self, replica_id: str, orphaned: list[_PendingPeek]) -> None:
        """Fail the peeks no replica is working on any more since ``replica_id`` went away, with its exit reason
        (waiting briefly for the orchestrator to learn it: the connection may end first)."""
        reason = None
        deadline = time.monotonic() + _EXIT_REASON_WAIT_S
        while self.exit_reason is not None and time.monotonic() < deadline:
            reason = self.exit_reason(replica_id)
            if reason is not None:
                break
            await asyncio.sleep(0.02)
        for pending in orphaned:
            if not pending.asked and not pending.future.done():
                pending.future.set_exception(self._replica_exited(replica_id, reason))

    def _replica_exited(self, replica_id: str, reason: str | None) -> SteadyError:
        where = f"cluster replica {quote_ident(self.replica_name(replica_id))} of cluster {quote_ident(self.cluster_name)}"
        hint = "the query is not retried on the restarted replica; run it again"
        if reason is None:
            return ReplicaExited(f"{where} exited or lost its connection while running the query", hint=hint)
        if reason.startswith("oom-killed"):
            return OutOfMemory(
                f"{where} exited while running the query: it was oom-killed (out of memory)",
                detail=f"the replica's process exited: {reason}",
                hint="the query may need more memory than the replica's size has: use a larger size "
                     "(ALTER CLUSTER ... SET (SIZE = ...)) or a query that needs less memory",
            )
        return ReplicaExited(f"{where} exited while running the query ({reason})",
                             detail=f"the replica's process exited: {reason}", hint=hint)

    def on_response(self, connection: ReplicaConnection, epoch: int, response: m.Response) -> None:
        state = self.replicas.get(connection.replica_id)
        if state is None or epoch != connection.epoch:
            return  # a response of an older connection epoch
        _RESPONSE_HANDLERS[type(response)](self, connection, state, response)

    def _on_frontiers(self, connection: ReplicaConnection, state: ReplicaState, response: m.Frontiers) -> None:
        previous = state.frontiers.get(response.id, -1)
        if previous is None or (previous != -1 and response.output is not None and response.output < previous):
            return  # frontiers never regress
        state.frontiers[response.id] = response.output
        self._wake_frontier_waiters()

    def _on_peek(self, connection: ReplicaConnection, state: ReplicaState, response: m.PeekResponse) -> None:
        self._on_peek_response(connection.replica_id, response)

    def _on_subscribe(self, connection: ReplicaConnection, state: ReplicaState,
                      response: m.SubscribeResponse) -> None:
        self._on_subscribe_response(response)

    def _on_status(self, connection: ReplicaConnection, state: ReplicaState, response: m.Status) -> None:
        previous_status, state.status = state.status, response
        if self.on_status is not None:
            self.on_status(connection.replica_id, response, previous_status)
        state.status_at = time.time()
        for collection in response.collections:
            if collection.hydrated or collection.error is not None:
                state.hydration.pop(collection.id, None)  # its progress is over
        if response.commands_applied == connection.expected.commands_applied:
            # the status reflects exactly the commands sent on this connection: the full comparison
            state.disagreement = disagreement(connection.expected, response)

    def _on_hydration_progress(self, connection: ReplicaConnection, state: ReplicaState,
                               response: m.HydrationProgress) -> None:
        state.hydration[response.id] = (connection.epoch, response)

    def _on_hello_ack(self, connection: ReplicaConnection, state: ReplicaState, response: m.HelloAck) -> None:
        pass  # the connection checked it (``protocol.framing``): nothing to record

    def hydration_progress(self, replica_id: str) -> dict[str, m.HydrationProgress]:
        """The latest ``HydrationProgress`` of each collection on the replica's current connection."""
        state = self.replicas.get(replica_id)
        if state is None:
            return {}
        epoch = state.connection.epoch
        return {cid: progress for cid, (at, progress) in state.hydration.items() if at == epoch}

    # ------------------------------------------------------------------ commands

    def send(self, command: m.Command) -> None:
        for history in self.histories():
            history.push(command)
        for state in self.replicas.values():
            state.connection.send(command)

    def create_dataflow(self, desc: m.DataflowDescription, debug: str) -> None:
        self.send(m.CreateDataflow(desc, debug))
        for export_id in desc.export_ids:
            self.send(m.Schedule(export_id))

    def allow_writes(self, collection_id: str) -> None:
        self.send(m.AllowWrites(collection_id))

    def drop(self, collection_id: str, debug: str = "") -> None:
        self.send(m.AllowCompaction(collection_id, None, debug))
        channel = self._subscribes.pop(collection_id, None)
        if channel is not None:
            channel.queue.put_nowait(None)
        if self.after_drop is not None:
            self.after_drop(collection_id)

    # ------------------------------------------------------------------ frontiers and readiness

    def frontier(self, collection_id: str) -> int | None | str:
        """The greatest frontier any replica reports, or ``"unknown"``."""
        reported = [s.frontiers[collection_id] for s in self.replicas.values() if collection_id in s.frontiers]
        if not reported:
            return "unknown"
        return frontier_max(*reported)

    async def wait_for_frontier(self, collection_id: str, time_: int, timeout: float) -> None:
        frontier = self.frontier(collection_id)
        if frontier != "unknown" and passed(frontier, time_):  # type: ignore[arg-type]
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._frontier_waiters.append((collection_id, time_, future))
        await asyncio.wait_for(future, timeout)

    def _wake_frontier_waiters(self) -> None:
        remaining = []
        for collection_id, time_, future in self._frontier_waiters:
            frontier = self.frontier(collection_id)
            if future.done():
                continue
            if frontier != "unknown" and passed(frontier, time_):  # type: ignore[arg-type]
                future.set_result(None)
            else:
                remaining.append((collection_id, time_, future))
        self._frontier_waiters = remaining

    def live_replica_ids(self) -> list[str]:
        return [rid for rid, s in self.replicas.items() if s.connection.live]

    # ------------------------------------------------------------------ peeks

    def _no_replicas(self) -> SteadyError:
        return ObjectNotInPrerequisiteState(
            f"CLUSTER {quote_ident(self.cluster_name)} has no replicas available to service request",
            hint="Use CREATE CLUSTER REPLICA to attach cluster replicas to the cluster",
        )

    def _replica_gone(self, replica_id: str) -> SteadyError:
        return SteadyError(
            f"cluster replica {quote_ident(replica_id)} of cluster {quote_ident(self.cluster_name)} is not "
            f"available to service the request", sqlstate="57P01",
            hint="the replica is offline or restarting; retry, or RESET cluster_replica to use any replica",
        )

    async def peek(
        self, target: m.PeekTarget, timestamp: int, mfp: MapFilterProject, timeout: float,
        replica_id: str | None = None, max_result_size: int | None = None,
        finishing: RowSetFinishing = RowSetFinishing(),
    ) -> ArrowRows:
        """Peek every replica (the first answer wins), or only ``replica_id`` (failing if it goes away).  The replica
        applies ``finishing`` (ORDER BY, OFFSET, LIMIT, projection) and stops building the result once it passes
        ``max_result_size`` bytes (and answers with an error).  The result is kept as it arrived (Arrow record
        batches): rows are built only by whoever iterates it."""
        peek_id, future = self._send_peek(target, timestamp, mfp, replica_id, max_result_size, finishing, False)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            raise QueryCanceled("canceling statement due to statement timeout") from None
        finally:
            self._end_peek(peek_id)

    async def peek_stream(
        self, target: m.PeekTarget, timestamp: int, mfp: MapFilterProject, timeout: float,
        replica_id: str | None = None, max_result_size: int | None = None,
        finishing: RowSetFinishing = RowSetFinishing(),
    ) -> ArrowRows | ArrowStream:
        """:meth:`peek`, answered as soon as the first chunk of the result is here: the first replica to send one
        is the one whose chunks are the answer (the others are cancelled), and the rest of its chunks arrive
        through the :class:`ArrowStream` while the caller sends the first ones on.  A result in one chunk, or an
        error before any chunk, is answered as :meth:`peek` answers it.  ``timeout`` bounds the whole result; a
        replica lost mid-stream, or its error, ends the stream with that error."""
        peek_id, future = self._send_peek(target, timestamp, mfp, replica_id, max_result_size, finishing, True)
        deadline = time.monotonic() + timeout
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            self._end_peek(peek_id)
            raise self._timed_out() from None
        except BaseException:
            self._end_peek(peek_id)
            raise
        if isinstance(result, ArrowRows):
            self._end_peek(peek_id)
            return result
        assert isinstance(result, ArrowStream)
        result.deadline = deadline
        return result

    def _timed_out(self) -> SteadyError:
        return QueryCanceled("canceling statement due to statement timeout")

    def _send_peek(
        self, target: m.PeekTarget, timestamp: int, mfp: MapFilterProject, replica_id: str | None,
        max_result_size: int | None, finishing: RowSetFinishing, streamed: bool,
    ) -> tuple[str, asyncio.Future[Any]]:
        if not self.replicas:
            raise self._no_replicas()
        peek_id = uuid.uuid4().hex
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        command = m.Peek(peek_id, target, timestamp, mfp, max_result_size, finishing, arrow=True)
        if replica_id is not None:
            state = self.replicas.get(replica_id)
            if state is None or not state.connection.live:
                raise self._replica_gone(replica_id)
            self._peeks[peek_id] = _PendingPeek(future, {replica_id}, replica_id, command, streamed=streamed)
            for history in self.histories():
                history.push(command)
            state.connection.send(command)
        else:
            self._peeks[peek_id] = _PendingPeek(future, set(self.live_replica_ids()), command=command,
                                                streamed=streamed)
            self.send(command)
        return peek_id, future

    def _end_peek(self, peek_id: str) -> None:
        """The peek is over for its reader (answered, failed, abandoned): cancel it wherever it still runs."""
        if self._peeks.pop(peek_id, None) is not None:
            self.send(m.CancelPeek(peek_id))
        self._peek_finished(peek_id)

    def pending_shard_peeks(self) -> list[tuple[frozenset[str], int]]:
        """``(shards, timestamp)`` of every unanswered peek that reads shards (a replica reads them at that
        timestamp, so compaction must not pass it)."""
        out = []
        for pending in self._peeks.values():
            command = pending.command
            target = command.target if command is not None else None
            if (command is not None and target is not None and target.kind == m.PeekTargetKind.SHARD
                    and target.shard is not None):
                shards = frozenset(s for s in (target.shard, target.errors_shard) if s is not None)
                out.append((shards, command.timestamp))
        return out

    def _on_peek_response(self, replica_id: str, response: m.PeekResponse) -> None:
        pending = self._peeks.get(response.uuid)
        if pending is None:
            return
        if pending.winner is not None:  # a streamed peek under way: only its winner's chunks count
            if replica_id == pending.winner:
                self._on_streamed_chunk(pending, response)
            return
        if pending.future.done() or response.canceled:
            return
        if response.partial:  # an acknowledgment, or a chunk of this replica's result (the final response completes it)
            pending.started.add(replica_id)
            if response.has_result:
                pending.chunks.setdefault(replica_id, []).append(response)
                if pending.streamed:
                    self._start_stream(pending, replica_id, response.uuid)
            return
        chunks = pending.chunks.pop(replica_id, [])
        if response.error is not None:
            pending.future.set_exception(response.error.to_error())
        else:
            pending.future.set_result(peek_result([*chunks, response]))
        # the first answer wins: cancel it everywhere else
        del self._peeks[response.uuid]
        self.send(m.CancelPeek(response.uuid))
        self._peek_finished(response.uuid)

    def _start_stream(self, pending: _PendingPeek, replica_id: str, peek_id: str) -> None:
        """A streamed peek's first chunk: ``replica_id`` wins, the others are cancelled, the reader gets going."""
        pending.winner = replica_id
        stream = pending.stream = ArrowStream(None, self._timed_out, lambda: self._end_peek(peek_id))
        stream.push(peek_result(pending.chunks.pop(replica_id, [])).parts)
        for other in pending.asked - {replica_id}:
            state = self.replicas.get(other)
            if state is not None and state.connection.live:
                state.connection.send(m.CancelPeek(peek_id))
        pending.future.set_result(stream)

    def _on_streamed_chunk(self, pending: _PendingPeek, response: m.PeekResponse) -> None:
        stream = pending.stream
        assert stream is not None
        if response.canceled:
            return
        if response.error is not None:
            stream.fail(response.error.to_error())
        elif response.has_result:
            stream.push(peek_result([response]).parts)
        if not response.partial:
            if response.error is None:
                stream.finish()
            self._end_peek(response.uuid)

    def _peek_finished(self, peek_id: str) -> None:
        for history in self.histories():
            history.peek_finished(peek_id)

    # ------------------------------------------------------------------ subscribes

    def open_subscribe(self, sink_id: str) -> SubscribeChannel:
        channel = SubscribeChannel(asyncio.Queue())
        self._subscribes[sink_id] = channel
        return channel

    def _on_subscribe_response(self, response: m.SubscribeResponse) -> None:
        channel = self._subscribes.get(response.id)
        if channel is None:
            return
        if response.error is not None:
            channel.queue.put_nowait(response.error.to_error())
            return
        if response.dropped or response.batch is None:
            return
        batch = response.batch
        # forward only what advances the subscribe's frontier (deduplicates replicas)
        if channel.upper is None or (batch.upper is not None and batch.upper <= (channel.upper or 0)):
            return
        if batch.lower > max(channel.upper, 0):
            # a replica that had to read its inputs later than the subscribe's progress (they were compacted while
            # no replica of the cluster read them): the changes in between are gone, so the stream cannot go on
            self._subscribes.pop(response.id, None)
            channel.queue.put_nowait(ObjectNotInPrerequisiteState(
                "SUBSCRIBE cannot continue: its inputs were compacted past its progress while its cluster had no "
                "replica running it", hint="run the SUBSCRIBE again"))
            return
        lower = channel.upper if channel.upper is not None and channel.upper >= 0 else None
        if lower is not None and batch.lower < lower:
            updates = [u for u in codec.decode_updates(batch.updates) if u[1] >= lower]
            batch = m.SubscribeBatch(lower, batch.upper, codec.encode_updates(updates))
        channel.upper = batch.upper
        channel.queue.put_nowait(batch)


#: What the controller does with each kind of response (every member of ``messages.Response``).
_RESPONSE_HANDLERS: dict[type, Callable[[ComputeInstance, ReplicaConnection, ReplicaState, Any], None]] = {
    m.Frontiers: ComputeInstance._on_frontiers,
    m.PeekResponse: ComputeInstance._on_peek,
    m.SubscribeResponse: ComputeInstance._on_subscribe,
    m.Status: ComputeInstance._on_status,
    m.HydrationProgress: ComputeInstance._on_hydration_progress,
    m.HelloAck: ComputeInstance._on_hello_ack,
}
