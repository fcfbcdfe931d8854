"""The process orchestrator: one OS process per replica, watched, memory-limited, restarted with backoff.

It implements ``orchestrator.api.Orchestrator`` (the contract the coordinator relies on).

Each replica runs as ``python -m steadystate replica ...`` in its own session (``setsid``), in its own
directory under ``<data-dir>/replicas/<replica-id>/``.  The replica binds a TCP port on 127.0.0.1 and writes
``endpoint.json`` (pid, port); the controller reads the endpoint from here.  The environment secret is
passed in the environment, never on the command line.

**Replicas outlive the coordinator.**  A coordinator that starts finds the replica processes a previous
coordinator left running (:meth:`ProcessOrchestrator.adopt` reads every ``endpoint.json`` and checks the pid
is a live replica process of this data directory, and finds by its command line a process that had not written
its endpoint yet) and adopts them instead of starting new ones, so their
dataflows survive; replicas the catalog no longer has are stopped (:meth:`finish_adoption`).  A replica that
no coordinator connects to for ``orphan_timeout`` seconds exits by itself, so none lingers.  Either way there
is exactly one process per replica.  A coordinator that stops for a planned restart *detaches*
(:meth:`ProcessOrchestrator.detach`): it stops watching its replicas and leaves them running for the next
coordinator, exactly as a crash would; :meth:`ProcessOrchestrator.shutdown` stops them instead.  Replica
processes are started with :class:`subprocess.Popen` and waited for by polling (not as asyncio subprocesses,
whose transports kill a child still running when they are closed), so a coordinator can exit and leave them
running.

**Watching.**  A task per replica waits for its process (polled, whether it is a child or adopted).
An exit that was not asked for is reported as an ``offline`` event with a reason (``killed by signal 9``,
``exited with code 1``, ``oom-killed``) and the process is started again after a backoff that doubles from
0.25 s up to 30 s and resets once a process has stayed up for 30 s.  Three or more crashes within a minute
report the status ``crash-looping``.  A start that fails (the log file cannot be opened, the process cannot be
spawned: too many open files, no memory) is retried with the same backoff, and each failure is reported as an
``offline`` event whose reason says why (``failed to start: [Errno 24] Too many open files``); a failure never
escapes to the caller of :meth:`ProcessOrchestrator.ensure_replica`.  The memory limit of the replica's size is
enforced like a cgroup OOM killer: the orchestrator samples each replica's RSS and kills one that exceeds its
limit (reason ``oom-killed``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from steadystate.orchestrator import REPLICA_SIZES
from steadystate.orchestrator.api import OnReplicaEvent, ProcessStatus, ReplicaEvent, ReplicaSpec

log = logging.getLogger("steadystate.orchestrator")

_BACKOFF_START_S = 0.25
_BACKOFF_MAX_S = 30.0
_STABLE_AFTER_S = 30.0
_CRASH_LOOP_WINDOW_S = 60.0
_CRASH_LOOP_COUNT = 3
_MEMORY_SAMPLE_S = 0.25
_POLL_S = 0.05  # how often a replica process is checked for having exited
# how long after a replica process dies the first new one starts (the readiness verdict's downtime estimate)
FIRST_RESTART_DELAY_S = _POLL_S + _BACKOFF_START_S
ORPHAN_TIMEOUT_S = 30.0


class _Handle:
    """A replica process: a child we started, or an adopted process a previous coordinator started."""

    def __init__(self, child: subprocess.Popen[bytes] | None = None, adopted: psutil.Process | None = None):
        self.child = child
        self.adopted = adopted
        self.oom_killed = False

    @property
    def pid(self) -> int:
        return self.child.pid if self.child is not None else self.adopted.pid  # type: ignore[union-attr]

    @property
    def alive(self) -> bool:
        if self.child is not None:
            return self.child.poll() is None
        try:
            return self.adopted is not None and self.adopted.is_running() and \
                self.adopted.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    async def wait(self) -> int | None:
        """The exit status once the process has exited (``None`` for an adopted process: not our child)."""
        while self.alive:
            await asyncio.sleep(_POLL_S)
        return self.child.returncode if self.child is not None else None

    def signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


@dataclass
class _Managed:
    spec: ReplicaSpec
    handle: _Handle | None = None
    watcher: asyncio.Task[None] | None = None
    removed: bool = False
    restarts: int = 0
    started_at: float = 0.0
    status: ProcessStatus = ProcessStatus.OFFLINE
    reason: str | None = None
    crashes: list[float] = field(default_factory=list)
    start_failed: bool = False  # the last start raised: no process runs, the watcher retries after a backoff


def _replica_dir_of(cmdline: list[str]) -> str | None:
    """The ``--dir`` of a replica process's command line (``python -m steadystate replica ... --dir D``)."""
    if "replica" in cmdline and "--dir" in cmdline and cmdline.index("--dir") + 1 < len(cmdline):
        return cmdline[cmdline.index("--dir") + 1]
    return None


def _exit_reason(returncode: int | None) -> str:
    if returncode is None:
        return "exited (exit status unknown: the process was adopted from an earlier coordinator)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {-returncode} ({name})"
    return f"exited with code {returncode}"


class ProcessOrchestrator:
    """The default :class:`~steadystate.orchestrator.api.Orchestrator`: one OS process per replica."""

    def __init__(
        self, data_dir: Path, secret: str, on_event: OnReplicaEvent,
        orphan_timeout: float = ORPHAN_TIMEOUT_S,
    ) -> None:
        self.data_dir = data_dir
        self.secret = secret
        self.on_event = on_event
        self.orphan_timeout = orphan_timeout
        self._managed: dict[str, _Managed] = {}
        self._adoptable: dict[str, psutil.Process] = {}
        self._memory_task: asyncio.Task[None] | None = None
        (data_dir / "replicas").mkdir(parents=True, exist_ok=True)

    def replica_dir(self, replica_id: str) -> Path:
        return self.data_dir / "replicas" / replica_id

    # ------------------------------------------------------------------ adoption

    def adopt(self) -> list[str]:
        """Find replica processes left running by an earlier coordinator; returns their replica ids.

        A process is found by its ``endpoint.json`` or, if it had not announced itself yet when the earlier
        coordinator died, by its command line (its ``--dir`` is a replica directory of this data directory):
        either way it is adopted, never duplicated."""
        replicas_dir = self.data_dir / "replicas"
        for endpoint in replicas_dir.glob("*/endpoint.json"):
            replica_id = endpoint.parent.name
            try:
                pid = int(json.loads(endpoint.read_text())["pid"])
                process = psutil.Process(pid)
                cmdline = process.cmdline()
            except (OSError, ValueError, KeyError, psutil.Error):
                endpoint.unlink(missing_ok=True)
                continue
            if _replica_dir_of(cmdline) == str(endpoint.parent):
                self._adoptable[replica_id] = process
            else:
                endpoint.unlink(missing_ok=True)
        for process in psutil.process_iter(["pid", "cmdline"]):
            try:
                directory = _replica_dir_of(process.info["cmdline"] or [])
                if directory is None or Path(directory).parent != replicas_dir:
                    continue
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:
                continue
            replica_id = Path(directory).name
            if replica_id not in self._adoptable:
                self._adoptable[replica_id] = process
            elif self._adoptable[replica_id].pid != process.pid:  # two processes of one replica: keep one
                log.warning("stopping duplicate process %d of replica %s", process.pid, replica_id)
                try:
                    process.kill()
                except psutil.Error:
                    pass
        return sorted(self._adoptable)

    def adoptable(self, replica_id: str) -> bool:
        """Whether a running process of ``replica_id`` was found to adopt."""
        return replica_id in self._adoptable

    def finish_adoption(self) -> int:
        """Stop adoptable processes nobody claimed (their replicas are gone from the catalog)."""
        stopped = 0
        for replica_id, process in self._adoptable.items():
            log.info("stopping replica process %s (pid %d): the catalog no longer has it", replica_id, process.pid)
            try:
                process.kill()
                process.wait(5)
            except psutil.Error:
                pass
            shutil.rmtree(self.replica_dir(replica_id), ignore_errors=True)
            stopped += 1
        self._adoptable.clear()
        return stopped

    # ------------------------------------------------------------------ lifecycle

    async def ensure_replica(self, spec: ReplicaSpec) -> None:
        """Adopt or start the replica's process and watch it; a start that fails is retried in the background."""
        if spec.replica_id in self._managed and not self._managed[spec.replica_id].removed:
            return
        managed = _Managed(spec)
        self._managed[spec.replica_id] = managed
        adopted = self._adoptable.pop(spec.replica_id, None)
        if adopted is not None:
            managed.handle = _Handle(adopted=adopted)
            managed.started_at = time.monotonic()
            log.info("adopted running replica %s (pid %d)", spec.replica_id, adopted.pid)
            asyncio.create_task(self._announce_online(managed, managed.handle))
        else:
            self._start(managed)
        managed.watcher = asyncio.create_task(self._watch(managed), name=f"watch-{spec.replica_id}")
        if self._memory_task is None:
            self._memory_task = asyncio.create_task(self._enforce_memory(), name="replica-memory")

    async def remove_replica(self, replica_id: str) -> None:
        managed = self._managed.pop(replica_id, None)
        if managed is None:
            return
        managed.removed = True
        if managed.watcher is not None:
            managed.watcher.cancel()
        await self._stop_process(managed)
        shutil.rmtree(self.replica_dir(replica_id), ignore_errors=True)
        log.info("replica %s stopped and removed", replica_id)

    async def shutdown(self) -> None:
        """Stop watching every replica and stop its process (a full stop)."""
        self._stop_watching()
        for replica_id in list(self._managed):
            await self._stop_process(self._managed.pop(replica_id))

    def detach(self) -> list[str]:
        """Stop watching every replica but leave its process running, for the next coordinator to adopt.

        Returns the ids of the replicas left running.  A detached replica waits ``orphan_timeout`` seconds
        for a coordinator to connect and then exits by itself.
        """
        self._stop_watching()
        running = sorted(rid for rid, managed in self._managed.items()
                         if managed.handle is not None and managed.handle.alive)
        self._managed.clear()
        return running

    def _stop_watching(self) -> None:
        if self._memory_task is not None:
            self._memory_task.cancel()
            self._memory_task = None
        for managed in self._managed.values():
            managed.removed = True
            if managed.watcher is not None:
                managed.watcher.cancel()

    # ------------------------------------------------------------------ queries

    def endpoint(self, replica_id: str) -> tuple[str, int, int] | None:
        """(host, port, pid) of the running replica process, once it has announced itself."""
        managed = self._managed.get(replica_id)
        if managed is None or managed.handle is None or not managed.handle.alive:
            return None
        try:
            data = json.loads((self.replica_dir(replica_id) / "endpoint.json").read_text())
        except (OSError, ValueError):
            return None
        if data.get("pid") != managed.handle.pid:
            return None
        return ("127.0.0.1", int(data["port"]), int(data["pid"]))

    def status(self, replica_id: str) -> tuple[ProcessStatus, str | None, int]:
        managed = self._managed.get(replica_id)
        if managed is None:
            return (ProcessStatus.OFFLINE, "not running", 0)
        if managed.handle is None:  # its first start failed
            return (managed.status, managed.reason or "not running", 0)
        return (managed.status, managed.reason, managed.handle.pid)

    def exit_reason(self, replica_id: str) -> str | None:
        """Why the replica's current process exited (``oom-killed``, ``killed by signal 9 (SIGKILL)``), once it has;
        ``None`` while it runs (or if the replica is unknown)."""
        managed = self._managed.get(replica_id)
        handle = managed.handle if managed is not None else None
        if handle is None or handle.alive:
            return None
        if handle.oom_killed:
            return "oom-killed"
        return _exit_reason(handle.child.returncode if handle.child is not None else None)

    def pid(self, replica_id: str) -> int | None:
        managed = self._managed.get(replica_id)
        if managed is None or managed.handle is None or not managed.handle.alive:
            return None
        return managed.handle.pid

    # ------------------------------------------------------------------ internals

    def _start(self, managed: _Managed) -> bool:
        """Start the replica's process; a failure is recorded (an ``offline`` event with its cause), not raised."""
        spec = managed.spec
        try:
            child = self._spawn(spec)
        except Exception as exc:  # noqa: BLE001 - any failure to start is retried by the watcher
            reason = f"failed to start: {exc}"
            managed.start_failed = True
            managed.status, managed.reason = ProcessStatus.OFFLINE, reason
            log.warning("replica %s %s", spec.replica_id, reason)
            self.on_event(ReplicaEvent(spec.replica_id, 0, ProcessStatus.OFFLINE, reason, _now_ms()))
            return False
        managed.start_failed = False
        managed.handle = _Handle(child=child)
        managed.started_at = time.monotonic()
        log.info("replica %s started (pid %d)", spec.replica_id, child.pid)
        asyncio.create_task(self._announce_online(managed, managed.handle))
        return True

    def _spawn(self, spec: ReplicaSpec) -> subprocess.Popen[bytes]:
        directory = self.replica_dir(spec.replica_id)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "endpoint.json").unlink(missing_ok=True)
        env = dict(os.environ)
        # secrets go in the environment (readable by this user only), never on the command line
        env["STEADYSTATE_SECRET"] = self.secret
        env["STEADYSTATE_STORAGE_URL"] = spec.storage_url  # may hold a PostgreSQL password
        argv = [
            sys.executable, "-m", "steadystate", "replica",
            "--replica-id", spec.replica_id,
            "--cluster-id", spec.cluster_id,
            "--size", spec.size,
            "--dir", str(directory),
            "--orphan-timeout", str(self.orphan_timeout),
        ]
        with open(directory / "replica.log", "ab") as log_file:
            return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                    start_new_session=True)

    async def _announce_online(self, managed: _Managed, handle: _Handle) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and handle.alive and not managed.removed and managed.handle is handle:
            if self.endpoint(managed.spec.replica_id) is not None:
                managed.status, managed.reason = ProcessStatus.ONLINE, None
                self.on_event(ReplicaEvent(managed.spec.replica_id, handle.pid, ProcessStatus.ONLINE, None, _now_ms()))
                return
            await asyncio.sleep(0.02)

    async def _watch(self, managed: _Managed) -> None:
        """Wait for the process to exit, report why, start it again after a backoff; retry a failed start too."""
        backoff = _BACKOFF_START_S
        while not managed.removed:
            handle = managed.handle
            if not managed.start_failed:
                assert handle is not None
                returncode = await handle.wait()
                if managed.removed:
                    return
                reason = "oom-killed" if handle.oom_killed else _exit_reason(returncode)
                now = time.monotonic()
                if now - managed.started_at > _STABLE_AFTER_S:
                    backoff = _BACKOFF_START_S
                managed.crashes = [t for t in managed.crashes if now - t < _CRASH_LOOP_WINDOW_S] + [now]
                status = (ProcessStatus.CRASH_LOOPING if len(managed.crashes) >= _CRASH_LOOP_COUNT
                          else ProcessStatus.OFFLINE)
                if status is ProcessStatus.CRASH_LOOPING:
                    reason = (f"{reason}; {len(managed.crashes)} crashes in the last minute, "
                              f"next restart in {backoff:g} s")
                managed.status, managed.reason = status, reason
                log.warning("replica %s (pid %d) went %s: %s", managed.spec.replica_id, handle.pid, status, reason)
                self.on_event(ReplicaEvent(managed.spec.replica_id, handle.pid, status, reason, _now_ms()))
            # else the last start failed: its event is recorded, and it is retried after the same backoff
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
            if managed.removed:
                return
            managed.restarts += 1
            if self._start(managed):
                log.info("replica %s restarted (restart #%d)", managed.spec.replica_id, managed.restarts)

    async def _enforce_memory(self) -> None:
        while True:
            await asyncio.sleep(_MEMORY_SAMPLE_S)
            for managed in list(self._managed.values()):
                handle = managed.handle
                limit = REPLICA_SIZES.get(managed.spec.size)
                if handle is None or limit is None or not handle.alive:
                    continue
                try:
                    rss = psutil.Process(handle.pid).memory_info().rss
                except psutil.Error:
                    continue
                if rss > limit:
                    log.warning("replica %s uses %d MiB, over the %d MiB limit of size %s: killing it",
                                managed.spec.replica_id, rss >> 20, limit >> 20, managed.spec.size)
                    handle.oom_killed = True
                    handle.signal(signal.SIGKILL)

    async def _stop_process(self, managed: _Managed) -> None:
        handle = managed.handle
        if handle is None or not handle.alive:
            return
        handle.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(handle.wait(), timeout=3)
        except asyncio.TimeoutError:
            handle.signal(signal.SIGKILL)
            await handle.wait()


def _now_ms() -> int:
    return int(time.time() * 1000)


__all__ = ["FIRST_RESTART_DELAY_S", "ORPHAN_TIMEOUT_S", "ProcessOrchestrator", "ReplicaEvent", "ReplicaSpec"]
