"""The in-process orchestrator: every replica runs inside this process, so a whole environment starts in a test.

It implements ``orchestrator.api.Orchestrator`` like ``orchestrator.process.ProcessOrchestrator`` does, but an
*incarnation* of a replica is a :class:`~steadystate.compute.server.ReplicaServer` served by an asyncio task on the
caller's event loop instead of an OS process:

* **The real protocol, on loopback TCP.**  The server is exactly the replica process's: it binds a port on
  127.0.0.1, authenticates the controller's ``Hello``, hands commands to its worker thread, which applies them to a
  fresh :class:`~steadystate.compute.state.ComputeState` and ticks it.  The controller connects to
  ``endpoint()`` as it would to a process; only ``endpoint.json`` is skipped (the port is read off the server).  An
  in-memory transport would have meant a second code path on both sides of the protocol, tested nowhere else; a
  loopback socket costs well under a millisecond and keeps framing, authentication, connection replacement and
  reconnection the code production runs.  The worker thread stays a thread (its ``ComputeState`` is not
  thread-safe and the I/O side must keep reading while it evaluates), so replicas run concurrently with the test.
* **Storage** is whatever ``ReplicaSpec.storage_url`` names; tests use ``memory://NAME``
  (``storage.sqlite_store.MemoryShardStore``), an in-memory database every store of the name in this process shares.
* **Incarnations outlive the orchestrator** as processes outlive a coordinator: they belong to a
  :class:`ReplicaPool` the test environment keeps.  An orchestrator made from the pool (``pool.factory``) adopts
  the incarnations a previous one left running (``adopt``/``detach``), and a replica with no coordinator for the
  orphan timeout ends by itself, as the process would.
* **Crashes.**  :meth:`ReplicaPool.kill` ends an incarnation abruptly (listener and connections closed, worker
  stopped, its state dropped), reported as ``killed by signal 9 (SIGKILL)``; a failure of the worker thread ends it
  with ``exited with code 70`` instead of exiting the process.  The orchestrator watching the replica reports the
  exit (``offline``, or ``crash-looping`` after three within a minute) and starts a fresh incarnation after
  ``restart_delay_s``, which the controller reconnects to and replays the reduced history into.

**Stepping.**  A pool's ``tick_gate`` (:class:`TickGate`) lets a test pause its replicas' ticks and let them run one
at a time (commands are still applied meanwhile), and ``hydration_step_updates`` sets how many snapshot updates a
replica reads per tick (``compute.state.HYDRATION_STEP_UPDATES``): together they make a hydration's progress
observable step by step, without timing.

Process ids are fake (from :data:`FIRST_PID` up), distinct per incarnation, so status history and ``Status.pid``
still tell incarnations apart.  No memory limit is enforced (the replicas share the test's process).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from steadystate.compute.server import ReplicaServer
from steadystate.compute.state import HYDRATION_STEP_UPDATES
from steadystate.orchestrator.api import OnReplicaEvent, Orchestrator, ProcessStatus, ReplicaEvent, ReplicaSpec

log = logging.getLogger("steadystate.testing.inprocess")

FIRST_PID = 900_000
_CRASH_LOOP_WINDOW_S = 60.0
_CRASH_LOOP_COUNT = 3
KILLED = "killed by signal 9 (SIGKILL)"


class TickGate:
    """Whether in-process replicas may tick: always until :meth:`pause`; then once per :meth:`step` (thread-safe:
    called by the replicas' worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paused = False
        self._permits = 0
        self.ticks_stepped = 0  # ticks run while paused (a test waits on it)

    def pause(self) -> None:
        with self._lock:
            self._paused, self._permits = True, 0

    def step(self, ticks: int = 1) -> None:
        with self._lock:
            self._permits += ticks

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def __call__(self) -> bool:
        with self._lock:
            if not self._paused:
                return True
            if self._permits > 0:
                self._permits -= 1
                self.ticks_stepped += 1
                return True
            return False


@dataclass
class Incarnation:
    """One run of one replica: its server, the task serving it, and why it ended (once it has)."""

    spec: ReplicaSpec
    pid: int
    server: ReplicaServer
    task: asyncio.Task[None] | None = None
    killed: bool = False
    fatal: bool = False
    exit_reason: str | None = None

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    async def wait(self) -> str:
        """Wait for the incarnation to end; why it ended."""
        assert self.task is not None
        try:
            await asyncio.shield(self.task)
        except asyncio.CancelledError:
            if not self.task.done():
                raise
        except Exception as exc:  # noqa: BLE001 - a server that failed is an exit with a reason
            self.exit_reason = self.exit_reason or f"exited with code 1 ({type(exc).__name__}: {exc})"
        if self.exit_reason is None:
            self.exit_reason = KILLED if self.killed else "exited with code 70" if self.fatal else "exited with code 0"
        return self.exit_reason


@dataclass
class ReplicaPool:
    """The replicas running in this process, across coordinators (what the OS is to replica processes).

    ``factory`` is an ``orchestrator.api.OrchestratorFactory`` for ``CoordinatorConfig.orchestrator_factory``."""

    restart_delay_s: float = 0.02
    running: dict[str, Incarnation] = field(default_factory=dict)  # replica id -> its live incarnation
    started: int = 0  # incarnations started so far (a test can tell a restart from an adoption)
    hydration_step_updates: int = HYDRATION_STEP_UPDATES  # snapshot updates a replica reads per tick
    tick_gate: TickGate | None = None  # set it before replicas start to step their ticks
    _pids: itertools.count[int] = field(default_factory=lambda: itertools.count(FIRST_PID))

    def factory(self, data_dir: Path, secret: str, on_event: OnReplicaEvent,
                orphan_timeout: float) -> Orchestrator:
        return InProcessOrchestrator(self, secret, on_event, orphan_timeout)

    def start(self, spec: ReplicaSpec, secret: str, orphan_timeout: float) -> Incarnation:
        pid = next(self._pids)
        incarnation: Incarnation | None = None

        def fatal() -> None:  # called on the worker thread
            assert incarnation is not None
            incarnation.fatal = True

        server = ReplicaServer(spec.replica_id, spec.storage_url, None, secret, orphan_timeout, memory_limit=None,
                               pid=pid, on_fatal=fatal, hydration_step_updates=self.hydration_step_updates,
                               tick_gate=self.tick_gate)
        incarnation = Incarnation(spec, pid, server)
        incarnation.task = asyncio.create_task(server.serve(), name=f"replica-{spec.replica_id}-{pid}")
        incarnation.task.add_done_callback(lambda _: self._forget(incarnation))
        self.running[spec.replica_id] = incarnation
        self.started += 1
        log.info("replica %s started in process (pid %d)", spec.replica_id, pid)
        return incarnation

    def _forget(self, incarnation: Incarnation | None) -> None:
        if incarnation is not None and self.running.get(incarnation.spec.replica_id) is incarnation:
            del self.running[incarnation.spec.replica_id]

    async def stop(self, replica_id: str, *, kill: bool = False) -> str | None:
        """End the replica's live incarnation (``kill``: reported as SIGKILL, a crash); why it ended."""
        incarnation = self.running.get(replica_id)
        if incarnation is None:
            return None
        incarnation.killed = kill
        incarnation.server.stop()
        return await incarnation.wait()

    async def kill(self, replica_id: str) -> str | None:
        """Crash the replica: its state is gone; an orchestrator watching it starts a fresh one."""
        return await self.stop(replica_id, kill=True)

    async def close(self) -> None:
        """Stop every incarnation (the end of a test environment)."""
        for replica_id in list(self.running):
            await self.stop(replica_id)


@dataclass
class _Managed:
    spec: ReplicaSpec
    incarnation: Incarnation | None = None
    watcher: asyncio.Task[None] | None = None
    removed: bool = False
    status: ProcessStatus = ProcessStatus.OFFLINE
    reason: str | None = None
    crashes: list[float] = field(default_factory=list)


class InProcessOrchestrator:
    """An ``orchestrator.api.Orchestrator`` whose replicas are incarnations in a :class:`ReplicaPool`."""

    def __init__(self, pool: ReplicaPool, secret: str, on_event: OnReplicaEvent, orphan_timeout: float) -> None:
        self.pool = pool
        self.secret = secret
        self.on_event = on_event
        self.orphan_timeout = orphan_timeout
        self._managed: dict[str, _Managed] = {}
        self._adoptable: dict[str, Incarnation] = {}

    # ------------------------------------------------------------------ adoption

    def adopt(self) -> list[str]:
        self._adoptable = {rid: inc for rid, inc in self.pool.running.items() if inc.alive}
        return sorted(self._adoptable)

    def adoptable(self, replica_id: str) -> bool:
        return replica_id in self._adoptable

    def finish_adoption(self) -> int:
        stopped = 0
        for incarnation in self._adoptable.values():
            log.info("stopping replica %s: the catalog no longer has it", incarnation.spec.replica_id)
            incarnation.server.stop()
            stopped += 1
        self._adoptable.clear()
        return stopped

    # ------------------------------------------------------------------ lifecycle

    async def ensure_replica(self, spec: ReplicaSpec) -> None:
        if spec.replica_id in self._managed and not self._managed[spec.replica_id].removed:
            return
        managed = _Managed(spec)
        self._managed[spec.replica_id] = managed
        adopted = self._adoptable.pop(spec.replica_id, None)
        if adopted is not None and adopted.alive:
            managed.incarnation = adopted
            log.info("adopted in-process replica %s (pid %d)", spec.replica_id, adopted.pid)
        else:
            managed.incarnation = self.pool.start(spec, self.secret, self.orphan_timeout)
        asyncio.create_task(self._announce_online(managed, managed.incarnation))
        managed.watcher = asyncio.create_task(self._watch(managed), name=f"watch-{spec.replica_id}")

    async def remove_replica(self, replica_id: str) -> None:
        managed = self._managed.pop(replica_id, None)
        if managed is None:
            return
        self._unwatch(managed)
        await self.pool.stop(replica_id)

    async def shutdown(self) -> None:
        for managed in self._managed.values():
            self._unwatch(managed)
        for replica_id in list(self._managed):
            await self.pool.stop(replica_id)
        self._managed.clear()

    def detach(self) -> list[str]:
        for managed in self._managed.values():
            self._unwatch(managed)
        running = sorted(rid for rid, m in self._managed.items() if m.incarnation is not None and m.incarnation.alive)
        self._managed.clear()
        return running

    @staticmethod
    def _unwatch(managed: _Managed) -> None:
        managed.removed = True
        if managed.watcher is not None:
            managed.watcher.cancel()

    # ------------------------------------------------------------------ queries

    def _live(self, replica_id: str) -> Incarnation | None:
        managed = self._managed.get(replica_id)
        incarnation = managed.incarnation if managed is not None else None
        return incarnation if incarnation is not None and incarnation.alive else None

    def endpoint(self, replica_id: str) -> tuple[str, int, int] | None:
        incarnation = self._live(replica_id)
        port = incarnation.server.port if incarnation is not None else None
        return None if incarnation is None or port is None else ("127.0.0.1", port, incarnation.pid)

    def status(self, replica_id: str) -> tuple[ProcessStatus, str | None, int]:
        managed = self._managed.get(replica_id)
        if managed is None or managed.incarnation is None:
            return (ProcessStatus.OFFLINE, "not running", 0)
        return (managed.status, managed.reason, managed.incarnation.pid)

    def exit_reason(self, replica_id: str) -> str | None:
        managed = self._managed.get(replica_id)
        incarnation = managed.incarnation if managed is not None else None
        if incarnation is None or incarnation.alive:
            return None
        return incarnation.exit_reason or (KILLED if incarnation.killed else "exited")

    def pid(self, replica_id: str) -> int | None:
        incarnation = self._live(replica_id)
        return incarnation.pid if incarnation is not None else None

    # ------------------------------------------------------------------ internals

    async def _announce_online(self, managed: _Managed, incarnation: Incarnation) -> None:
        while incarnation.alive and not managed.removed and managed.incarnation is incarnation:
            if incarnation.server.port is not None:
                managed.status, managed.reason = ProcessStatus.ONLINE, None
                self.on_event(ReplicaEvent(managed.spec.replica_id, incarnation.pid, ProcessStatus.ONLINE, None,
                                           _now_ms()))
                return
            await asyncio.sleep(0.002)

    async def _watch(self, managed: _Managed) -> None:
        """Wait for the incarnation to end, report why, start a fresh one after the pool's restart delay."""
        while not managed.removed:
            incarnation = managed.incarnation
            assert incarnation is not None
            reason = await incarnation.wait()
            if managed.removed:
                return
            now = time.monotonic()
            managed.crashes = [t for t in managed.crashes if now - t < _CRASH_LOOP_WINDOW_S] + [now]
            status = (ProcessStatus.CRASH_LOOPING if len(managed.crashes) >= _CRASH_LOOP_COUNT
                          else ProcessStatus.OFFLINE)
            managed.status, managed.reason = status, reason
            log.warning("replica %s (pid %d) went %s: %s", managed.spec.replica_id, incarnation.pid, status, reason)
            self.on_event(ReplicaEvent(managed.spec.replica_id, incarnation.pid, status, reason, _now_ms()))
            await asyncio.sleep(self.pool.restart_delay_s)
            if managed.removed:
                return
            managed.incarnation = self.pool.start(managed.spec, self.secret, self.orphan_timeout)
            asyncio.create_task(self._announce_online(managed, managed.incarnation))


def _now_ms() -> int:
    return int(time.time() * 1000)
