"""The process orchestrator: one OS process per replica, watched and restarted with backoff.

Each replica runs as ``python -m steadystate replica ...`` in its own directory under
``<data-dir>/replicas/<replica-id>/``.  The replica binds a TCP port on 127.0.0.1 and writes
``endpoint.json`` (pid, port); the controller reads the endpoint from here.  The environment secret is
passed in the environment, never on the command line.

Watching: a task per replica awaits the process; an exit that was not asked for is reported as an
``offline`` event with a reason (``killed by signal 9``, ``exited with code 1``), and the process is started
again after a backoff that doubles from 0.25 s up to 8 s and resets once a process has stayed up for 30 s.
A replica that came up reports ``online``.

Never twice, never orphaned: a child is started with ``PR_SET_PDEATHSIG`` so it dies with the coordinator,
and at startup :meth:`ProcessOrchestrator.sweep` kills any replica process still recorded in an
``endpoint.json`` (e.g. after the coordinator was ``kill -9``-ed on a platform without pdeathsig), so after
any restart there is exactly one process per replica.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil

log = logging.getLogger("steadystate.orchestrator")

_PR_SET_PDEATHSIG = 1
_BACKOFF_START_S = 0.25
_BACKOFF_MAX_S = 8.0
_STABLE_AFTER_S = 30.0


@dataclass(frozen=True)
class ReplicaSpec:
    replica_id: str
    cluster_id: str
    size: str
    storage_url: str


@dataclass(frozen=True)
class ReplicaEvent:
    replica_id: str
    process_id: int
    status: str  # online | offline
    reason: str | None
    occurred_at_ms: int


@dataclass
class _Managed:
    spec: ReplicaSpec
    process: asyncio.subprocess.Process | None = None
    watcher: asyncio.Task[None] | None = None
    removed: bool = False
    restarts: int = 0
    started_at: float = 0.0
    status: str = "offline"
    reason: str | None = None
    pid: int = 0
    history: list[float] = field(default_factory=list)


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    os.setpgrp()


def _exit_reason(returncode: int | None) -> str:
    if returncode is None:
        return "unknown"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {-returncode} ({name})"
    return f"exited with code {returncode}"


class ProcessOrchestrator:
    def __init__(self, data_dir: Path, secret: str, on_event: Callable[[ReplicaEvent], None]) -> None:
        self.data_dir = data_dir
        self.secret = secret
        self.on_event = on_event
        self._managed: dict[str, _Managed] = {}
        (data_dir / "replicas").mkdir(parents=True, exist_ok=True)

    def replica_dir(self, replica_id: str) -> Path:
        return self.data_dir / "replicas" / replica_id

    # ------------------------------------------------------------------ lifecycle

    def sweep(self) -> int:
        """Kill replica processes left over from an earlier coordinator; returns how many were killed."""
        killed = 0
        for endpoint in (self.data_dir / "replicas").glob("*/endpoint.json"):
            try:
                pid = int(json.loads(endpoint.read_text())["pid"])
                process = psutil.Process(pid)
                cmdline = " ".join(process.cmdline())
            except (OSError, ValueError, KeyError, psutil.Error):
                endpoint.unlink(missing_ok=True)
                continue
            if "steadystate" in cmdline and "replica" in cmdline and endpoint.parent.name in cmdline:
                log.info("stopping leftover replica process %s (pid %d)", endpoint.parent.name, pid)
                process.kill()
                try:
                    process.wait(5)
                except psutil.Error:
                    pass
                killed += 1
            endpoint.unlink(missing_ok=True)
        return killed

    async def ensure_replica(self, spec: ReplicaSpec) -> None:
        if spec.replica_id in self._managed and not self._managed[spec.replica_id].removed:
            return
        managed = _Managed(spec)
        self._managed[spec.replica_id] = managed
        await self._start(managed)
        managed.watcher = asyncio.create_task(self._watch(managed), name=f"watch-{spec.replica_id}")

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
        for replica_id in list(self._managed):
            managed = self._managed.pop(replica_id)
            managed.removed = True
            if managed.watcher is not None:
                managed.watcher.cancel()
            await self._stop_process(managed)

    # ------------------------------------------------------------------ queries

    def endpoint(self, replica_id: str) -> tuple[str, int, int] | None:
        """(host, port, pid) of the running replica process, once it has announced itself."""
        managed = self._managed.get(replica_id)
        path = self.replica_dir(replica_id) / "endpoint.json"
        if managed is None or managed.process is None or managed.process.returncode is not None:
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if data.get("pid") != managed.process.pid:
            return None
        return ("127.0.0.1", int(data["port"]), int(data["pid"]))

    def status(self, replica_id: str) -> tuple[str, str | None, int]:
        managed = self._managed.get(replica_id)
        if managed is None:
            return ("offline", "not running", 0)
        return (managed.status, managed.reason, managed.pid)

    def pid(self, replica_id: str) -> int | None:
        managed = self._managed.get(replica_id)
        if managed is None or managed.process is None or managed.process.returncode is not None:
            return None
        return managed.process.pid

    # ------------------------------------------------------------------ internals

    async def _start(self, managed: _Managed) -> None:
        spec = managed.spec
        directory = self.replica_dir(spec.replica_id)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "endpoint.json").unlink(missing_ok=True)
        env = dict(os.environ)
        env["STEADYSTATE_SECRET"] = self.secret
        argv = [
            sys.executable, "-m", "steadystate", "replica",
            "--replica-id", spec.replica_id,
            "--cluster-id", spec.cluster_id,
            "--size", spec.size,
            "--storage-url", spec.storage_url,
            "--dir", str(directory),
        ]
        log_file = open(directory / "replica.log", "ab")
        try:
            managed.process = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                preexec_fn=_set_pdeathsig,
            )
        finally:
            log_file.close()
        managed.started_at = time.monotonic()
        managed.pid = managed.process.pid
        log.info("replica %s started (pid %d)", spec.replica_id, managed.process.pid)
        asyncio.create_task(self._announce_online(managed, managed.process))

    async def _announce_online(self, managed: _Managed, process: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.returncode is None and not managed.removed:
            if self.endpoint(managed.spec.replica_id) is not None:
                managed.status, managed.reason = "online", None
                self.on_event(ReplicaEvent(managed.spec.replica_id, process.pid, "online", None, _now_ms()))
                return
            await asyncio.sleep(0.02)

    async def _watch(self, managed: _Managed) -> None:
        backoff = _BACKOFF_START_S
        while not managed.removed:
            process = managed.process
            assert process is not None
            returncode = await process.wait()
            if managed.removed:
                return
            reason = _exit_reason(returncode)
            managed.status, managed.reason = "offline", reason
            log.warning("replica %s (pid %d) went offline: %s", managed.spec.replica_id, process.pid, reason)
            self.on_event(ReplicaEvent(managed.spec.replica_id, process.pid, "offline", reason, _now_ms()))
            if time.monotonic() - managed.started_at > _STABLE_AFTER_S:
                backoff = _BACKOFF_START_S
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
            if managed.removed:
                return
            managed.restarts += 1
            await self._start(managed)
            log.info("replica %s restarted (restart #%d)", managed.spec.replica_id, managed.restarts)

    async def _stop_process(self, managed: _Managed) -> None:
        process = managed.process
        if process is None or process.returncode is not None:
            return
        try:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=3)
        except (asyncio.TimeoutError, ProcessLookupError):
            try:
                process.kill()
                await process.wait()
            except ProcessLookupError:
                pass


def _now_ms() -> int:
    return int(time.time() * 1000)
