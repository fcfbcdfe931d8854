"""The supervisor: ``steadystate serve`` owns the client connections and restarts a coordinator that dies.

``steadystate serve`` binds the SQL and HTTP ports itself, plus an internal loopback port for the
coordinator's SQL, then runs the coordinator as a child process (``steadystate coordinator``) that inherits
the internal and the HTTP listening sockets.  SQL clients are accepted by the supervisor's **pgwire proxy**
(:mod:`steadystate.pgwire.proxy_server`, the balancerd of this system): each client connection is carried
over to a connection to the coordinator, and the proxy's state machine (:mod:`steadystate.pgwire.proxy`)
remembers what it needs to carry a session over to a *new* coordinator — the startup packet, ``SET``
settings, prepared statements, the transaction status, the request in flight.

If the coordinator dies — a crash, an out-of-memory kill, ``kill -9`` — the supervisor starts a new one on
the same sockets, with a backoff that doubles from 0.1 s up to 5 s and resets once a coordinator has stayed
up for 10 s; the new coordinator adopts the replicas the old one left running (they reconcile, nothing
rehydrates).  Meanwhile the client connections stay open: an idle session reconnects on its next request, a
read in flight is resent to the new coordinator (the client sees a slower answer), and only a client with a
write in flight, an open transaction or a partly sent result gets an error (SQLSTATE 08006) and is closed,
so no write ever runs twice.  Because the internal socket never closes, the proxy's reconnections wait in
the kernel's accept queue until the new coordinator accepts them.  No manual step is needed to recover.

Stopping the supervisor (SIGTERM, SIGINT) stops the coordinator gracefully, which stops its replicas.  The
coordinator is started with ``PR_SET_PDEATHSIG``: if the supervisor itself is killed, the coordinator dies
with it and the ports are released, while the replicas (in their own sessions) wait to be adopted.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from steadystate.pgwire.proxy_server import ProxyServer

log = logging.getLogger("steadystate.supervisor")

_BACKOFF_START_S = 0.1
_BACKOFF_MAX_S = 5.0
_STABLE_AFTER_S = 10.0  # a coordinator that served this long died of something new, not of a crash loop
_PR_SET_PDEATHSIG = 1


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
                 *, startup_timeout: float = 60.0):
        self.coordinator_args = coordinator_args
        self.startup_timeout = startup_timeout
        self.data_dir = data_dir
        self.sql_socket = listen(host, sql_port)  # clients: accepted by the proxy, never by the coordinator
        self.sql_socket.set_inheritable(False)
        self.internal_socket = listen("127.0.0.1", 0)  # the coordinator's own SQL endpoint, reached by the proxy
        self.http_socket = listen(host, http_port)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.restarts = 0
        self.proxy: ProxyServer | None = None

    @property
    def internal_address(self) -> tuple[str, int]:
        return self.internal_socket.getsockname()[:2]

    def _start_child(self) -> None:
        fds = (self.internal_socket.fileno(), self.http_socket.fileno())
        argv = [sys.executable, "-m", "steadystate", "coordinator", *self.coordinator_args,
                "--sql-fd", str(fds[0]), "--http-fd", str(fds[1])]
        self.child = subprocess.Popen(argv, pass_fds=fds, preexec_fn=_die_with_parent)
        log.info("coordinator started (pid %d)", self.child.pid)

    def _forward(self) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        return asyncio.run(self._run())

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._forward)
        loop.add_signal_handler(signal.SIGINT, self._forward)
        self.proxy = ProxyServer(self.sql_socket, self.internal_address, startup_timeout=self.startup_timeout)
        await self.proxy.start()
        try:
            return await self._supervise(loop)
        finally:
            await self.proxy.close()

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
                return 0 if returncode in (0, -signal.SIGTERM) else returncode
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


def inherited_socket(fd: int) -> socket.socket:
    """A listening socket handed down by the supervisor."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    os.set_inheritable(fd, False)
    return sock
