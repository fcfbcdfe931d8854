"""The replica's compute state: applies commands, drives dataflows, answers peeks, reports progress.

:class:`ComputeState` is the replica's brain and does no I/O of its own except storage reads/writes.
``handle(command)`` applies one command; ``tick()`` does one round of work — poll source shards for new
updates (``ShardStore.listen``), step every dataflow in creation order (producers before the dataflows that
import their indexes), answer the peeks whose timestamp the target has passed, append materialized-view
output with ``compare_and_append`` (only after ``AllowWrites``), forward subscribe batches, and report
frontiers that moved.  Both return the responses to send to the controller.

**Hydration in steps.**  A dataflow's source snapshots are read a few stored batches per tick
(``HYDRATION_STEP_UPDATES`` updates, ``compute.snapshots``), and each tick that read some sends a
:class:`~steadystate.protocol.messages.HydrationProgress` per export (updates read of the total its batches hold);
once every batch is read the snapshots are fed and the dataflow steps, in the same tick.

Clean/dirty is tracked by ``protocol.stages.CommandStream`` over the very command stream the replica
applies, and reported in :class:`~steadystate.protocol.messages.Status`.  Its collection sizes (records, bytes:
``mz_arrangement_sizes``) are each index export's arrangement plus, on the dataflow's first live export, the rows
its join operators hold themselves; a join reading an imported index in place holds none of it.

**Reconciliation.**  When a controller (re)connects, its ``Hello`` puts the running dataflows aside; each
replayed ``CreateDataflow`` whose description has the same fingerprint, a compatible ``as_of``, no subscribe
sink, and whose imported indexes were themselves kept, takes over the running dataflow instead of building
a new one; at ``InitializationComplete`` the rest are dropped.  So a coordinator restart rehydrates only what
changed; the counts are reported in ``Status`` (``reconciled_kept``/``reconciled_rebuilt``) and logged.

**Queries fail alone.**  A peek's result is encoded in batches and sent in chunks of about ``compute.peeks.CHUNK_BYTES``
(``PeekResponse.partial``) — on the row path each as soon as it is built, through :attr:`ComputeState.send_now`;
past the peek's ``max_result_size`` it fails with 53000 (after the chunks already sent).  A peek's evaluation and each
step of a transient dataflow run under a ``dataflow.guard.Guard``: interrupted (``interrupt``, called by the I/O
thread as a ``CancelPeek``/drop/``Hello`` arrives) they stop with 57014, and past :data:`MEMORY_THRESHOLD_SHARE` of
the replica's memory limit with 53200 — a failed transient dataflow is removed at once and its peeks and subscribe
answer with the error (``failed``).  Installed dataflows are never guarded.

Materialized-view sinks (``compute.sinks``) write the view's rows to its shard and its evaluation errors to a
companion errors shard; a peek of the view raises the first error, so an MV never silently drops a row whose
evaluation failed.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from steadystate.render import Arrangement, RenderedDataflow
from steadystate.dataflow import guard
from steadystate.dataflow.collection import EvalError
from steadystate import errors
from steadystate.errors import ErrorFields, SteadyError
from steadystate.expr.eval import compile_mfp
from steadystate.compute import free_memory, index_snapshot
from steadystate.compute.peeks import finished, mapped, point_key, stream_chunks
from steadystate.compute.sinks import SinkState, write_sink
from steadystate.compute.snapshots import SnapshotReading, SourceState, begin_reading, feed_reading
from steadystate.protocol import messages as m
from steadystate.protocol.stages import CommandStream, Stage
from steadystate.repr import codec, passed
from steadystate.storage import ShardStore, SnapshotUnavailable
from steadystate.repr.objects import is_transient

log = logging.getLogger("steadystate.compute")


@dataclass
class _Dataflow:
    desc: m.DataflowDescription
    rendered: RenderedDataflow
    sources: dict[str, SourceState]
    sinks: dict[str, SinkState]
    live_exports: set[str]
    created_at: float
    hydrated_at: float | None = None
    late_snapshot_at: int | None = None  # the sources were read at this time, later than as_of (compacted)
    reported: dict[str, int | None] = field(default_factory=dict)
    allow_writes: set[str] = field(default_factory=set)
    imported: dict[str, Arrangement] = field(default_factory=dict)
    reading: SnapshotReading | None = None  # its sources' snapshots, while they are read (across ticks)
    progress_sent: int = 0  # the updates_read last reported in a HydrationProgress


def _now_ms() -> int:
    return int(time.time() * 1000)


#: The share of the replica's memory limit above which it refuses queries (the orchestrator kills at the limit).
MEMORY_THRESHOLD_SHARE = 0.85
#: Updates of a hydrating dataflow's snapshots decoded per tick (whole stored batches: at least one per tick).
HYDRATION_STEP_UPDATES = 200_000
#: Interrupts everything under way (a new controller's Hello: the old one's peeks are gone).
INTERRUPT_ALL = "*"


class ComputeState:
    def __init__(self, replica_id: str, store: ShardStore, memory_limit: int | None = None,
                 pid: int | None = None, hydration_step_updates: int = HYDRATION_STEP_UPDATES) -> None:
        self.replica_id = replica_id
        self.hydration_step_updates = hydration_step_updates
        self.pid = pid if pid is not None else os.getpid()  # reported in Status (in-process replicas: their own)
        self.store = store
        self.memory_limit = memory_limit
        self.memory_threshold = int(memory_limit * MEMORY_THRESHOLD_SHARE) if memory_limit else None
        # ids (peek uuids, transient exports) whose work must stop: set by the replica's I/O thread as a CancelPeek
        # or drop arrives, while this state's thread may be busy evaluating them (``dataflow.guard``)
        self.interrupts: set[str] = set()
        self._rss_baselines: dict[frozenset[str], int] = {}  # guarded work -> resident set when it began
        self.failed: dict[str, ErrorFields] = {}  # transient exports whose dataflow was stopped (memory, cancel)
        self.stream = CommandStream()
        self.nonce = ""
        self.dataflows: list[_Dataflow] = []
        self.by_export: dict[str, _Dataflow] = {}
        self.arrangements: dict[str, Arrangement] = {}
        self.index_exports: dict[str, m.IndexExport] = {}
        self.peeks: dict[str, m.Peek] = {}
        #: sends responses at once (the worker's, in a replica process): a peek's chunks stream out as they are
        #: built instead of after the whole result; ``None`` (tests, in-process): they are returned with the tick's
        self.send_now: Callable[[list[m.Response]], None] | None = None
        self._release_memory = False  # a dataflow hydrated or a large result was sent: release free memory next tick
        self.config: dict[str, str] = {}
        self.reconciled_kept = 0
        self.reconciled_rebuilt = 0
        self.reconciled_at_ms: int | None = None
        self._status_dirty = True
        self.step_ms: deque[float] = deque(maxlen=256)
        self.steps_done = 0
        self._pool: list[_Dataflow] = []  # running dataflows awaiting reconciliation after a new Hello
        # export id -> why its dataflow could not be rendered (reported in Status; the other dataflows run on)
        self.unrenderable: dict[str, str] = {}
        # CPU time (of the whole process) that starting and hydrating cost: see Status.startup_cpu_s
        self.startup_cpu_s = 0.0
        self.hydration_cpu_s: float | None = None
        self._hydration_cpu_from: float | None = None  # process time when a replay that rebuilt everything ended
        self._kept = self._rebuilt = 0

    # ------------------------------------------------------------------ commands

    def interrupt(self, command: m.Command) -> None:
        """Called (from any thread) as soon as ``command`` arrives, before it is applied: a ``CancelPeek``, the drop
        of a transient dataflow or a new ``Hello`` stops the evaluation under way that it makes pointless."""
        if isinstance(command, m.CancelPeek):
            self.interrupts.add(command.uuid)
        elif isinstance(command, m.AllowCompaction) and command.frontier is None and is_transient(command.id):
            self.interrupts.add(command.id)
        elif isinstance(command, m.Hello):
            self.interrupts.add(INTERRUPT_ALL)

    def _guard(self, ids: Iterable[str], what: str) -> guard.Guard:
        work = frozenset(ids)
        keys = work | {INTERRUPT_ALL}
        interrupts = self.interrupts
        # the resident set when this piece of work was first guarded (across ticks): it is refused only for memory
        # it grows, not for heap that earlier work left resident and it may reuse
        live = set(self.peeks) | set(self.by_export)
        for stale in [k for k in self._rss_baselines if k.isdisjoint(live)]:
            del self._rss_baselines[stale]
        baseline = self._rss_baselines.setdefault(work, guard.rss_bytes())
        return guard.Guard(lambda: not keys.isdisjoint(interrupts), self.memory_threshold, self.memory_limit, what,
                           baseline=baseline)

    def handle(self, command: m.Command) -> list[m.Response]:
        self.stream.apply(command, _now_ms())
        handler = _HANDLERS[type(command)]
        out = handler(self, command)
        if m.is_ddl(command) or isinstance(command, (m.InitializationComplete, m.Hello)):
            self._status_dirty = True
        return out

    def _on_hello(self, command: m.Hello) -> list[m.Response]:
        """A (new) controller: keep the running dataflows aside to reconcile them with the replayed history.

        A ``Hello`` that interrupts a replay (the controller reconnected before ``InitializationComplete``) keeps
        what the interrupted replay had not taken back yet beside what it had: both are candidates for the new
        replay, so an interrupted reconnect rebuilds nothing more than a clean one."""
        self.nonce = command.nonce
        self.interrupts.discard(INTERRUPT_ALL)
        self.failed.clear()
        self._pool = [*self._pool, *self.dataflows]
        self._kept = self._rebuilt = 0
        self.dataflows.clear()
        self.by_export.clear()
        self.arrangements.clear()
        self.index_exports.clear()
        self.peeks.clear()
        self.unrenderable.clear()
        return []

    def _reuse(self, desc: m.DataflowDescription) -> _Dataflow | None:
        """A running dataflow that the replayed ``desc`` may keep (Materialize's reconciliation rules)."""
        if any(sink.kind == m.SinkKind.SUBSCRIBE for sink in desc.sink_exports):
            return None
        fingerprint = desc.fingerprint()
        for old in self._pool:
            if old.desc.fingerprint() != fingerprint:
                continue
            if old.desc.as_of is not None and desc.as_of is not None and old.desc.as_of > desc.as_of:
                continue
            if any(self.arrangements.get(i) is not old.imported.get(i) for i in old.imported):
                continue  # an index it imports was rebuilt, so it must be rebuilt too
            return old
        return None

    def _on_create_instance(self, command: m.CreateInstance) -> list[m.Response]:
        return []

    def _on_init_complete(self, command: m.InitializationComplete) -> list[m.Response]:
        """End of the replay: dataflows the history did not ask for again are dropped."""
        for dataflow in self._pool:
            dataflow.rendered.close()
        log.info("reconciled with the controller: kept %d dataflow(s), rebuilt %d, dropped %d",
                 self._kept, self._rebuilt, len(self._pool))
        self.reconciled_kept, self.reconciled_rebuilt = self._kept, self._rebuilt
        self.reconciled_at_ms = _now_ms()
        # a replay that kept nothing rebuilds every dataflow: what that costs is what a restart of this replica costs
        self._hydration_cpu_from = time.process_time() if self._kept == 0 and self.dataflows else None
        self._pool = []
        return []

    def _note_hydration_cpu(self) -> None:
        """Once every dataflow of a full rebuild has hydrated, record the CPU time it took."""
        if self._hydration_cpu_from is None:
            return
        if all(d.hydrated_at is not None or d.desc.is_transient for d in self.dataflows):
            self.hydration_cpu_s = time.process_time() - self._hydration_cpu_from
            self._hydration_cpu_from = None

    def _on_create_dataflow(self, command: m.CreateDataflow) -> list[m.Response]:
        desc = command.desc
        if self.stream.stage is Stage.INITIALIZING:
            reused = self._reuse(desc) if self._pool else None
            if reused is not None:
                self._pool.remove(reused)
                reused.reported.clear()
                reused.allow_writes.clear()
                reused.live_exports = set(desc.export_ids)
                self._register(reused)
                self._kept += 1
                return []
            self._rebuilt += 1
        imported = {}
        try:
            for index_import in desc.index_imports:
                arrangement = self.arrangements.get(index_import.index_id)
                if arrangement is None:
                    why = self.unrenderable.get(index_import.index_id, "it is not installed")
                    raise SteadyError(f"dataflow {desc.debug_name} imports index {index_import.index_id}, which "
                                      f"does not run here: {why}")
                imported[index_import.index_id] = arrangement
            rendered = RenderedDataflow(desc, imported)
        except Exception as exc:  # noqa: BLE001 - one dataflow that cannot be rendered must not stop the replica
            error = exc.message if isinstance(exc, SteadyError) else f"{type(exc).__name__}: {exc}"
            for export_id in desc.export_ids:
                self.unrenderable[export_id] = error
            log.error("cannot render dataflow %s: %s", desc.debug_name, error)
            return []
        dataflow = _Dataflow(
            desc=desc,
            rendered=rendered,
            sources={s.id: SourceState(s.shard, s.errors_shard) for s in desc.source_imports},
            sinks={s.id: SinkState(s) for s in desc.sink_exports},
            live_exports=set(desc.export_ids),
            created_at=time.monotonic(),
            imported=imported,
        )
        self._register(dataflow)
        log.info("created dataflow %s (exports %s)", desc.debug_name, ", ".join(desc.export_ids))
        return []

    def _register(self, dataflow: _Dataflow) -> None:
        self.dataflows.append(dataflow)
        for export_id in dataflow.desc.export_ids:
            self.by_export[export_id] = dataflow
        for export in dataflow.desc.index_exports:
            self.arrangements[export.index_id] = dataflow.rendered.arrangement(export.index_id)
            self.index_exports[export.index_id] = export

    def _on_schedule(self, command: m.Schedule) -> list[m.Response]:
        return []

    def _on_allow_writes(self, command: m.AllowWrites) -> list[m.Response]:
        dataflow = self.by_export.get(command.id)
        if dataflow is not None:
            dataflow.allow_writes.add(command.id)
        return []

    def _on_allow_compaction(self, command: m.AllowCompaction) -> list[m.Response]:
        if command.frontier is not None:
            return []
        self.unrenderable.pop(command.id, None)
        self.interrupts.discard(command.id)
        self.failed.pop(command.id, None)
        dataflow = self.by_export.pop(command.id, None)
        if dataflow is None:
            return [m.Frontiers(command.id, None, None, None)]
        dataflow.live_exports.discard(command.id)
        self.arrangements.pop(command.id, None)
        self.index_exports.pop(command.id, None)
        sink = dataflow.sinks.get(command.id)
        out: list[m.Response] = [m.Frontiers(command.id, None, None, None)]
        if sink is not None and sink.export.kind == m.SinkKind.SUBSCRIBE:
            out.append(m.SubscribeResponse(command.id, dropped=True))
        if not dataflow.live_exports:
            self.dataflows.remove(dataflow)
            dataflow.rendered.close()
            log.info("dropped dataflow %s", dataflow.desc.debug_name)
            if dataflow.desc.is_transient:
                guard.release_memory()  # a query's state is gone: give its memory back, so later queries are not refused
        return out

    def _on_peek(self, command: m.Peek) -> list[m.Response]:
        self.peeks[command.uuid] = command
        # acknowledged at once (a chunk without rows): the controller then knows the peek reached this process, so
        # if the process dies before answering, the peek died with it and is not handed to its successor
        return [m.PeekResponse(command.uuid, partial=True)]

    def _on_cancel_peek(self, command: m.CancelPeek) -> list[m.Response]:
        self.interrupts.discard(command.uuid)
        if self.peeks.pop(command.uuid, None) is not None:
            return [m.PeekResponse(command.uuid, canceled=True)]
        return []

    def _on_update_configuration(self, command: m.UpdateConfiguration) -> list[m.Response]:
        self.config.update(command.params)
        return []

    # ------------------------------------------------------------------ work

    def tick(self) -> list[m.Response]:
        """Step every dataflow; but once one has hydrated in this tick, the rest wait for the next tick if any of
        them has yet to hydrate, so that the status sent after this tick reports each object's hydration as it
        happens (``mz_hydration_statuses``, a reconfiguration's progress NOTICEs), not all at once at the end."""
        out: list[m.Response] = []
        if self._release_memory:  # a hydration's rows or a large result are gone since the last tick
            self._release_memory = False
            free_memory.release()
        dataflows = list(self.dataflows)
        for position, dataflow in enumerate(dataflows):
            if not dataflow.rendered.graph.stepped and not self._imports_ready(dataflow):
                continue
            transient = dataflow.desc.is_transient
            try:
                # a query's own dataflow is guarded (canceled or over the memory threshold: it stops at once),
                # never an installed one
                with guard.guarded(self._guard(dataflow.desc.export_ids, "query") if transient else None):
                    self._feed_sources(dataflow)
                    started = time.perf_counter()
                    if self._step(dataflow):
                        self.step_ms.append((time.perf_counter() - started) * 1000)
                        self.steps_done += 1
            except SteadyError as exc:
                log.error("dataflow %s failed: %s", dataflow.desc.debug_name, exc)
                if transient:
                    out.extend(self._fail_transient(dataflow, exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a fault in one dataflow's code must not take the replica down
                # (an exit would crash-loop the cluster: every restart hydrates the same dataflow again); the
                # dataflow stops, and reads of its exports answer with the error until it is created again
                log.exception("dataflow %s stopped by an internal error", dataflow.desc.debug_name)
                internal = errors.InternalError(f"internal error in dataflow {dataflow.desc.debug_name}: "
                                                f"{type(exc).__name__}: {exc}")
                out.extend(self._fail_transient(dataflow, internal))
                continue
            reading = dataflow.reading
            if reading is not None and reading.updates_read != dataflow.progress_sent:
                dataflow.progress_sent = reading.updates_read
                out.extend(m.HydrationProgress(export_id, reading.updates_read, reading.updates_total)
                           for export_id in sorted(dataflow.live_exports))
            just_hydrated = dataflow.hydrated_at is None and dataflow.rendered.hydrated
            if just_hydrated:
                dataflow.hydrated_at = time.monotonic()
                self._status_dirty = True
                self._note_hydration_cpu()
                gc.freeze()  # the hydrated state is long-lived: keep it out of future collections
                self._release_memory = True  # the snapshots' rows are gone after this tick: give their pages back
                log.info(
                    "dataflow %s hydrated in %.3f s",
                    dataflow.desc.debug_name, dataflow.hydrated_at - dataflow.created_at,
                )
            try:
                out.extend(self._drive_sinks(dataflow))
            except Exception:  # noqa: BLE001 - one dataflow's output failing must not take the replica down
                log.exception("dataflow %s could not write its output", dataflow.desc.debug_name)
            frontier = dataflow.rendered.frontier
            for export_id in dataflow.live_exports:
                if export_id not in dataflow.reported or dataflow.reported[export_id] != frontier:
                    dataflow.reported[export_id] = frontier
                    out.append(m.Frontiers(export_id, frontier, frontier, frontier))
            if just_hydrated and any(
                    later.hydrated_at is None and not later.desc.is_transient for later in dataflows[position + 1:]):
                break
        self._answer_peeks(out)
        return out

    def _fail_transient(self, dataflow: _Dataflow, exc: SteadyError) -> list[m.Response]:
        """Stop a dataflow that failed (a transient one over the memory threshold, canceled or in error; any one
        whose code raised an internal error): its state is let go at once, the peeks of its exports answer with the
        error and its subscribes end with it; the controller's drop then finds nothing left to do."""
        error = exc.to_wire()
        self.dataflows.remove(dataflow)
        out: list[m.Response] = []
        for export_id in dataflow.live_exports:
            self.by_export.pop(export_id, None)
            self.arrangements.pop(export_id, None)
            self.index_exports.pop(export_id, None)
            self.failed[export_id] = error
            sink = dataflow.sinks.get(export_id)
            if sink is not None and sink.export.kind == m.SinkKind.SUBSCRIBE:
                out.append(m.SubscribeResponse(export_id, error=error))
        dataflow.rendered.close()
        dataflow.live_exports = set()
        self._status_dirty = True
        guard.release_memory()
        return out

    def _imports_ready(self, dataflow: _Dataflow) -> bool:
        """Whether every index the dataflow imports holds its producer's snapshot: a dataflow's first step takes an
        imported arrangement's contents as its initial state, as of the arrangement's frontier, so it must not
        take an empty one whose producer reads its sources later (after an outage, later than its as_of)."""
        for index_id in dataflow.imported:
            producer = self.by_export.get(index_id)
            if producer is None or producer is dataflow:
                continue
            if not producer.rendered.graph.stepped or any(s.after is None for s in producer.sources.values()):
                return False
        return True

    def _step(self, dataflow: _Dataflow) -> bool:
        """Step the dataflow; while it hydrates, with the cyclic GC paused (like ``_feed_sources``): arranging a
        snapshot allocates a dict or tuple per row, and each full collection would traverse all of them again."""
        if dataflow.hydrated_at is not None or not gc.isenabled():
            return dataflow.rendered.step()
        gc.disable()
        try:
            return dataflow.rendered.step()
        finally:
            if dataflow.rendered.hydrated:  # frozen before the GC resumes: its first collection would traverse
                gc.freeze()  # every object the hydration made (0.7 s for a 1M-row index), all long-lived
            gc.enable()

    def _feed_sources(self, dataflow: _Dataflow) -> None:
        """Feed new source updates (the snapshot first), with the cyclic GC paused: snapshots allocate
        millions of tuples and the collector would traverse them again and again for nothing."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._feed_sources_unguarded(dataflow)
        finally:
            if enabled:
                gc.enable()

    def _feed_sources_unguarded(self, dataflow: _Dataflow) -> None:
        if any(source.after is None for source in dataflow.sources.values()):
            self._feed_snapshots(dataflow)
            return
        for source_id, source in dataflow.sources.items():
            assert source.after is not None  # every snapshot was fed (checked above)
            updates, upper = self.store.listen(source.shard, source.after)
            error_rows: list[Any] = []
            if source.errors_shard is not None and source.errors_after is not None:
                error_rows, errors_upper = self.store.listen(source.errors_shard, source.errors_after)
                if errors_upper is not None:
                    source.errors_after = errors_upper
            if updates or error_rows or upper != source.after:
                dataflow.rendered.feed(source_id, updates, upper, error_rows)
                if upper is not None:
                    source.after = upper

    def _feed_snapshots(self, dataflow: _Dataflow) -> None:
        """Read every source's snapshot, all at one time: ``as_of``, or later if compaction moved a source's
        ``since`` past it (then the dataflow's first output is a snapshot of that time: ``initial_time``), and feed
        them once all are read.

        Waits (returns) until every source's upper has passed that time.  Then the sources' stored batches are
        fetched (``compute.snapshots.begin_reading``) and decoded ``hydration_step_updates`` at a time, one step per
        tick (``_Dataflow.reading``; the tick reports ``HydrationProgress``), so a large snapshot's hydration is
        seen to progress.  Everything is read before anything is fed, so a read that fails (a shard dropped
        meanwhile) leaves the dataflow untouched (the reading starts over at the next tick)."""
        reading = dataflow.reading
        if reading is None:
            shards = [(source_id, source.shard, source.errors_shard) for source_id, source in dataflow.sources.items()]
            reading = dataflow.reading = begin_reading(self.store, dataflow.rendered, shards, dataflow.desc.as_of or 0)
            if reading is None:
                return
        try:
            if reading.step(self.hydration_step_updates):
                dataflow.reading = None
                late = feed_reading(self.store, dataflow.rendered, dataflow.desc, dataflow.sources, reading)
                if late is not None:
                    dataflow.late_snapshot_at = late
        except BaseException:
            dataflow.reading = None
            raise

    def _drive_sinks(self, dataflow: _Dataflow) -> list[m.Response]:
        out: list[m.Response] = []
        frontier = dataflow.rendered.frontier
        for sink_id, sink in dataflow.sinks.items():
            if sink_id not in dataflow.live_exports:
                continue
            updates = dataflow.rendered.drain_sink(sink_id)
            if sink.export.kind == m.SinkKind.SUBSCRIBE:
                if updates or frontier != sink.last_upper:
                    lower = sink.last_upper if sink.last_upper is not None and sink.last_upper >= 0 else 0
                    if dataflow.late_snapshot_at is not None and not sink.late_lower_sent:
                        # read later than as_of: exact only from here on (the controller fails the subscribe if
                        # it still needs earlier changes, which compaction has merged away)
                        lower = max(lower, dataflow.late_snapshot_at + 1)
                        sink.late_lower_sent = True
                    out.append(
                        m.SubscribeResponse(
                            sink_id, m.SubscribeBatch(lower, frontier, codec.encode_updates(updates))
                        )
                    )
                    sink.last_upper = frontier
                continue
            sink.pending.extend(updates)
            sink.pending_errors.extend(dataflow.rendered.drain_sink_errors(sink_id))
            if sink_id in dataflow.allow_writes and frontier != sink.last_upper:
                self._write_sink(dataflow, sink, frontier)
        return out

    def _write_sink(self, dataflow: _Dataflow, sink: SinkState, frontier: int | None) -> None:
        # the dataflow's first output is a snapshot as of this time (later than as_of if it imports an index, or if
        # its sources were read later): nothing is written before the output is complete through it
        write_sink(self.store, sink, max(dataflow.desc.as_of or 0, dataflow.rendered.initial_time), frontier)

    def _answer_peeks(self, out: list[m.Response]) -> None:
        for uuid, peek in list(self.peeks.items()):
            if uuid not in self.peeks:
                continue
            if self._try_peek(peek, out):
                del self.peeks[uuid]

    def _try_peek(self, peek: m.Peek, out: list[m.Response]) -> bool:
        """Add the peek's answer — its result in chunks, or an error — to ``out``; ``False`` while the target has
        not passed the peek's timestamp.  With :attr:`send_now` each chunk but the last is sent as soon as it is
        built (after what ``out`` holds, which goes first), so a large result streams out of the replica.  The
        result is built under a guard: a ``CancelPeek`` arriving meanwhile, or the process passing its memory
        threshold, stops it; so does passing ``max_result_size`` (an error after the chunks already sent)."""
        try:
            with guard.guarded(self._guard((peek.uuid,), "query")):
                answer = self._evaluate_peek(peek)
                if answer is None:
                    return False
                sent = 0
                for response in answer:
                    out.append(response)
                    sent += len(response.batches or b"") + len(response.rows or b"")
                    if response.partial and self.send_now is not None:
                        self.send_now(out[:])
                        out.clear()
                if sent >= free_memory.LARGE_RESULT_BYTES:
                    self._release_memory = True  # a large result's buffers are gone after this tick
        except SteadyError as exc:
            out.append(m.PeekResponse(peek.uuid, error=exc.to_wire()))
        except Exception as exc:  # noqa: BLE001 - a peek's expression failing in a way the evaluator did not
            # anticipate is that peek's error (XX000), never the replica's: it must not take the process down
            log.exception("peek %s failed", peek.uuid)
            out.append(m.PeekResponse(peek.uuid, error=EvalError.from_exception(exc).to_fields()))
        return True

    def _evaluate_peek(self, peek: m.Peek) -> Iterable[m.PeekResponse] | None:
        target = peek.target
        rows: Iterable[tuple]
        if target.kind == m.PeekTargetKind.INDEX:
            failure = self.failed.get(target.id)
            if failure is not None:
                return [m.PeekResponse(peek.uuid, error=failure)]
            arrangement = self.arrangements.get(target.id)
            if arrangement is None:
                return [m.PeekResponse(peek.uuid, error=ErrorFields(
                    "XX000", f"index {target.id} is not installed: {self.unrenderable.get(target.id, 'it is not known here')}"))]
            producer = self.by_export.get(target.id)
            # a dataflow that imports an index (or read a source late) knows its output only from its initial time
            # on: before it, its arrangement is not the output (an imported side is empty there); a peek at an
            # earlier time is answered with the first contents it knows, as a materialized view's shard read is
            first = producer.rendered.initial_time if producer is not None else 0
            if not passed(arrangement.frontier, max(peek.timestamp, first)):
                return None
            key = point_key(self.index_exports.get(target.id), peek.mfp)
            export = self.index_exports.get(target.id)
            if key is None and (answer := index_snapshot.answer(peek, arrangement, export)):
                return answer
            if key is not None:
                apply = compile_mfp(peek.mfp)
                rows = [out for row in arrangement.lookup(key) if (out := apply(row)) is not None]
            else:
                rows = arrangement.peek_iter(peek.mfp)
        else:
            assert target.shard is not None
            since, upper = self.store.frontiers(target.shard)
            # a time the shard no longer (or never) knew exactly is read at its since: the shard's contents then
            # are what every reader at the peek's time may see (a view's first snapshot is of a later time)
            at = max(peek.timestamp, since or 0)
            if not passed(upper, at):
                return None
            try:
                if target.errors_shard is not None:
                    errors = sorted(row for row, diff in self.store.snapshot(target.errors_shard, at) if diff > 0)
                    if errors:
                        return [m.PeekResponse(peek.uuid, error=EvalError(*errors[0]).to_fields())]
                snapshot = self.store.snapshot(target.shard, at)
            except SnapshotUnavailable:
                return None  # the since moved meanwhile: read again at the next tick
            if len(snapshot) > guard.CHECK_EVERY_ROWS:
                guard.check()
            rows = mapped(snapshot, compile_mfp(peek.mfp))
        return stream_chunks(peek, finished(rows, peek.finishing))

    # ------------------------------------------------------------------ status

    def status_if_changed(self, force: bool = False) -> m.Status | None:
        if not (force or self._status_dirty):
            return None
        self._status_dirty = False
        return self.status()

    def status(self) -> m.Status:
        collections = []
        for dataflow in self.dataflows:
            hydration_ms = (
                (dataflow.hydrated_at - dataflow.created_at) * 1000 if dataflow.hydrated_at is not None else None
            )
            sizes = dataflow.rendered.sizes()
            # what the dataflow's operators hold themselves (join inputs it copies) counts towards its first export
            own_records, own_bytes = dataflow.rendered.operator_sizes()
            for export_id in sorted(dataflow.live_exports):
                records, size_bytes = sizes.get(export_id, (0, 0))
                records, size_bytes = records + own_records, size_bytes + own_bytes
                own_records = own_bytes = 0
                collections.append(
                    m.CollectionStatus(
                        export_id, dataflow.hydrated_at is not None, hydration_ms, records, size_bytes,
                        dataflow.desc.fingerprint(),
                    )
                )
        collections.extend(m.CollectionStatus(export_id, False, error=error)
                           for export_id, error in sorted(self.unrenderable.items()))
        stream = self.stream
        return m.Status(
            replica_id=self.replica_id,
            nonce=self.nonce,
            steady=stream.steady_since_ms is not None,
            clean=stream.clean,
            steady_since_ms=stream.steady_since_ms,
            dirtied_by=stream.dirtied_by,
            dirtied_at_ms=stream.dirtied_at_ms,
            commands_applied=self.stream.commands_applied,
            startup_cpu_s=self.startup_cpu_s,
            hydration_cpu_s=self.hydration_cpu_s,
            collections=tuple(collections),
            memory_bytes=guard.rss_bytes(),
            reconciled_kept=self.reconciled_kept,
            reconciled_rebuilt=self.reconciled_rebuilt,
            step_ms=tuple(self.step_ms),
            pid=self.pid,
            step_seq=self.steps_done - len(self.step_ms),
            reconciled_at_ms=self.reconciled_at_ms,
        )


_HANDLERS: dict[type, Callable[[ComputeState, Any], list[m.Response]]] = {
    m.Hello: ComputeState._on_hello,
    m.CreateInstance: ComputeState._on_create_instance,
    m.InitializationComplete: ComputeState._on_init_complete,
    m.CreateDataflow: ComputeState._on_create_dataflow,
    m.Schedule: ComputeState._on_schedule,
    m.AllowWrites: ComputeState._on_allow_writes,
    m.AllowCompaction: ComputeState._on_allow_compaction,
    m.Peek: ComputeState._on_peek,
    m.CancelPeek: ComputeState._on_cancel_peek,
    m.UpdateConfiguration: ComputeState._on_update_configuration,
}
