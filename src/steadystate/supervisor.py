"""The supervisor: ``steadystate serve`` owns the client connections and restarts a coordinator that dies.

``steadystate serve`` binds the SQL and HTTP ports itself, plus an internal loopback port for the
coordinator's SQL, then runs the coordinator as a child process (``steadystate coordinator``) that inherits
the internal and the HTTP listening sockets.  SQL clients are accepted by the supervisor's **pgwire proxy**
(:mod:`steadystate.pgwire.proxy_server`, the balancerd of this system): each client connection is carried
over to a connection to the coordinator, and the proxy's state machine (:mod:`steadystate.pgwire.proxy`)
remembers what it needs to carry a session over to a *new* coordinator — the startup packet, ``SET``
settings, prepared statements, the transaction status, the request in flight.

If the coordinator dies — a crash, an out-of-memory kill, ``kill -9`` — the supervisor starts a new one on
the same sockets (a session the coordinator authenticated is resumed on the new one with a token the supervisor
gives each coordinator in its environment, :data:`RESUME_TOKEN_ENV`), with a backoff that doubles from 0.1 s up to 5 s and resets once a coordinator has stayed
up for 10 s; the new coordinator adopts the replicas the old one left running (they reconcile, nothing
rehydrates).  Meanwhile the client connections stay open: an idle session reconnects on its next request, a
read in flight is resent to the new coordinator (the client sees a slower answer), and only a client with a
write in flight, an open transaction or a partly sent result gets an error (SQLSTATE 08006) and is closed,
so no write ever runs twice.  Because the internal socket never closes, the proxy's reconnections wait in
the kernel's accept queue until the new coordinator accepts them.  No manual step is needed to recover.

**Planned restarts and stops** (signals to the supervisor; ``steadystate restart`` and ``steadystate stop`` send
them to the supervisor whose pid is in ``<data-dir>/serve.json``):

* SIGHUP restarts the coordinator *in place*: the supervisor asks it to stop gracefully (SIGTERM: it flushes
  and closes storage and leaves its replicas running), then starts a new one at once on the same sockets.
  Client connections stay open as after a crash, and the new coordinator adopts and reconciles the replicas.
* SIGTERM or SIGINT (Ctrl-C) stops the supervisor and the coordinator gracefully and leaves the replica
  processes running, so that the next ``steadystate serve`` adopts them (they exit by themselves after
  ``--orphan-timeout`` seconds if none comes).
* SIGUSR1 stops everything: the coordinator stops its replicas (SIGUSR1 to it) before it exits, and the
  supervisor then kills any replica process of the data directory that is still running (a coordinator that
  died meanwhile could not stop its own).

A coordinator still running 30 s after it was asked to stop is killed (SIGKILL: from then on it is a crash,
and the replicas are adopted all the same).  ``serve.json`` (pid, ports, the current coordinator's pid, how many
in-flight requests the proxy resent and how many client connections it closed when it lost a coordinator) is
written when the supervisor starts, rewritten for each coordinator and after each such loss, and removed when it
exits.  The coordinator
is started with ``PR_SET_PDEATHSIG``: if the supervisor itself is killed, the coordinator dies with it and the
ports are released, while the replicas (in their own sessions) wait to be adopted.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import psutil

from steadystate.pgwire.proxy_server import ProxyServer
from steadystate.security.files import MAX_CONNECTIONS_ENV, MAX_CONNECTIONS_FILE

log = logging.getLogger("steadystate.supervisor")

#: the environment variable that hands the coordinator the proxy's resume token (never its command line)
RESUME_TOKEN_ENV = "STEADYSTATE_RESUME_TOKEN"

_BACKOFF_START_S = 0.1
_BACKOFF_MAX_S = 5.0
_STABLE_AFTER_S = 10.0  # a coordinator that served this long died of something new, not of a crash loop
_STOP_GRACE_S = 30.0  # a coordinator asked to stop that is still running after this long is killed
_PR_SET_PDEATHSIG = 1
EXIT_CONFIG = 78  # sysexits' EX_CONFIG: the coordinator cannot start with this configuration; not restarted
STATE_FILE = "serve.json"  # in the data directory: how ``steadystate stop``/``restart`` find the supervisor


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def listen(host: str, port: int) -> socket.socket:
    sock = socket.create_server((host, port), backlog=1024)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    def __init__(self, coordinator_args: list[str], host: str, sql_port: int, http_port: int, data_dir: Path,
                 *, startup_timeout: float = 60.0, tls: ssl.SSLContext | None = None, require_tls: bool = False,
                 max_connections: int | None = None):
        self.max_connections = max_connections
        self.coordinator_args = coordinator_args
        self.tls = tls  # the proxy terminates TLS: the coordinator behind it is reached on loopback only
        self.require_tls = require_tls
        self.startup_timeout = startup_timeout
        self.data_dir = data_dir
        self.host = host
        self.sql_socket = listen(host, sql_port)  # clients: accepted by the proxy, never by the coordinator
        self.sql_socket.set_inheritable(False)
        self.internal_socket = listen("127.0.0.1", 0)  # the coordinator's own SQL endpoint, reached by the proxy
        self.http_socket = listen(host, http_port)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.stop_replicas = False  # a full stop (SIGUSR1): the replicas are stopped too
        self.restart_requested = False  # a planned in-place restart (SIGHUP) of the coordinator
        self.restarts = 0  # after a crash
        self.planned_restarts = 0
        self.proxy: ProxyServer | None = None
        # with it the proxy carries a client it authenticated over to a new coordinator; new for each supervisor
        self.resume_token = secrets.token_urlsafe(32)

    @property
    def internal_address(self) -> tuple[str, int]:
        return self.internal_socket.getsockname()[:2]

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def _write_state(self) -> None:
        state = {"pid": os.getpid(), "host": self.host, "sql_port": self.sql_socket.getsockname()[1],
                 "http_port": self.http_socket.getsockname()[1],
                 "coordinator_pid": self.child.pid if self.child is not None else None,
                 # what the proxy did with clients' requests when it lost a coordinator under them
                 "resent_requests": self.proxy.retried if self.proxy is not None else 0,
                 "failed_connections": self.proxy.failed if self.proxy is not None else 0}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_path)

    def _publish_losses(self) -> None:
        """The proxy resent requests or closed connections: rewrite ``serve.json`` (not while stopping: it goes)."""
        if not self.stopping:
            self._write_state()

    def _remove_state(self) -> None:
        try:
            if json.loads(self.state_path.read_text()).get("pid") == os.getpid():
                self.state_path.unlink()
        except (OSError, ValueError):
            pass

    def _start_child(self) -> None:
        fds = (self.internal_socket.fileno(), self.http_socket.fileno())
        argv = [sys.executable, "-m", "steadystate", "coordinator", *self.coordinator_args,
                "--sql-fd", str(fds[0]), "--http-fd", str(fds[1])]
        self.restart_requested = False
        env = dict(os.environ, **{RESUME_TOKEN_ENV: self.resume_token})
        if self.proxy is not None:
            env[MAX_CONNECTIONS_ENV] = str(self.proxy.configured_max_connections)
        self.child = subprocess.Popen(argv, pass_fds=fds, preexec_fn=_die_with_parent, env=env)
        self._write_state()
        log.info("coordinator started (pid %d)", self.child.pid)

    def _signal_child(self, sig: int) -> None:
        """Send ``sig`` to the running coordinator, and SIGKILL it if it is still running after the grace period."""
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(sig)
        asyncio.get_running_loop().call_later(_STOP_GRACE_S, self._kill_if_running, child)

    @staticmethod
    def _kill_if_running(child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            log.warning("coordinator (pid %d) did not stop within %g s: killing it (its replicas are adopted as "
                        "after a crash)", child.pid, _STOP_GRACE_S)
            child.kill()

    def _stop(self, stop_replicas: bool) -> None:
        """SIGTERM/SIGINT: stop, leaving the replicas for adoption; SIGUSR1: stop them too."""
        self.stopping = True
        self.stop_replicas = self.stop_replicas or stop_replicas
        log.info("stopping (%s)", "replicas too" if self.stop_replicas else "replicas left running for adoption")
        self._signal_child(signal.SIGUSR1 if self.stop_replicas else signal.SIGTERM)

    def _restart(self) -> None:
        """SIGHUP: stop the coordinator gracefully (its replicas keep running) and start a new one at once."""
        if self.stopping or self.child is None or self.child.poll() is not None:
            return
        log.info("planned restart of the coordinator (pid %d) requested", self.child.pid)
        self.restart_requested = True
        self._signal_child(signal.SIGTERM)

    def run(self) -> int:
        return asyncio.run(self._run())

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop, False)
        loop.add_signal_handler(signal.SIGINT, self._stop, False)
        loop.add_signal_handler(signal.SIGUSR1, self._stop, True)
        loop.add_signal_handler(signal.SIGHUP, self._restart)
        self.proxy = ProxyServer(self.sql_socket, self.internal_address, startup_timeout=self.startup_timeout,
                                 on_loss=self._publish_losses, resume_token=self.resume_token, tls=self.tls,
                                 require_tls=self.require_tls, max_connections=self.max_connections,
                                 max_connections_file=self.data_dir / MAX_CONNECTIONS_FILE)
        await self.proxy.start()
        try:
            return await self._supervise(loop)
        finally:
            await self.proxy.close()
            if self.stop_replicas:
                stopped = stop_replica_processes(self.data_dir)
                if stopped:
                    log.info("stopped %d replica process(es) the coordinator left running", stopped)
            self._remove_state()

    async def _supervise(self, loop: asyncio.AbstractEventLoop) -> int:
        backoff = _BACKOFF_START_S
        while True:
            self._start_child()
            started = time.monotonic()
            child = self.child
            assert child is not None
            returncode = await loop.run_in_executor(None, child.wait)
            if self.stopping:
                log.info("coordinator stopped (exit code %d)", returncode)
                return 0 if returncode in (0, -signal.SIGTERM, -signal.SIGUSR1) else returncode
            if self.restart_requested:
                self.planned_restarts += 1
                log.info("coordinator (pid %d) stopped for a planned restart (exit code %d): starting a new one "
                         "(planned restart #%d)", child.pid, returncode, self.planned_restarts)
                backoff = _BACKOFF_START_S
                continue
            if returncode == EXIT_CONFIG:
                log.error("the coordinator (pid %d) refused its configuration (see the error above): not restarting "
                          "it; fix the configuration and start serve again", child.pid)
                return EXIT_CONFIG
            reason = (f"killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}")
            if time.monotonic() - started > _STABLE_AFTER_S:
                backoff = _BACKOFF_START_S
            self.restarts += 1
            log.warning("coordinator (pid %d) %s: restarting it in %.1f s (restart #%d)",
                        child.pid, reason, backoff, self.restarts)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
            if self.stopping:
                return 0


def replica_processes(data_dir: Path) -> list[psutil.Process]:
    """Every live replica process of a data directory (``steadystate replica --dir <data-dir>/replicas/...``)."""
    prefix = str(data_dir.resolve() / "replicas") + os.sep
    found: list[psutil.Process] = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if ("replica" in cmdline and "--dir" in cmdline and process.status() != psutil.STATUS_ZOMBIE
                    and (cmdline[cmdline.index("--dir") + 1] + os.sep).startswith(prefix)):
                found.append(process)
        except (psutil.Error, IndexError):
            continue
    return found


def stop_replica_processes(data_dir: Path, timeout: float = 5.0) -> int:
    """SIGTERM every replica process of a data directory, SIGKILL those still alive after ``timeout``."""
    processes = replica_processes(data_dir)
    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return len(processes)


def inherited_socket(fd: int) -> socket.socket:
    """A listening socket handed down by the supervisor."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    os.set_inheritable(fd, False)
    return sock
