"""The asyncio driver of the supervisor's pgwire proxy: sockets around :class:`~.proxy.ProxyConnection`.

The supervisor accepts SQL clients on the public port; for each, a :class:`ProxyLink` reads the client socket
and feeds the bytes to the connection's state machine, connects to the coordinator's internal endpoint when
the machine asks (after the delay it gives), runs a pump that feeds the coordinator's bytes back, and carries
out the actions returned (write, close, forward a cancel).  All protocol decisions live in the state machine;
this module only moves bytes and keeps the proxy-owned cancel keys.

Out of file descriptors (EMFILE): clients are accepted through :class:`~.accept.Acceptor`, which refuses a client
it has no descriptor for with FATAL 53000 at once instead of leaving it in the kernel's queue; a client accepted
when no descriptor is left for its coordinator connection is told the same.

Backpressure: the client loop waits for the coordinator socket to drain before reading more from the client,
and the coordinator pump waits for the client socket to drain, so a bulk COPY or a large result streams
through in chunks without piling up in the supervisor.  A backend connection is tagged with an epoch, so the
pump of a connection already given up never feeds stale bytes to the machine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import resource
import secrets
import socket
import ssl
import struct
from typing import Any, Callable, Coroutine
from contextlib import suppress
from pathlib import Path

from steadystate.errors import InsufficientResources, TooManyConnections

from .accept import OUT_OF_DESCRIPTORS, Acceptor, no_descriptors
from .frontend import CANCEL_REQUEST_CODE
from .proxy import RECONNECTING, ProxyConnection
from .wire import encode_notice
from .proxy_rules import (
    Action,
    BackendLost,
    CloseBackend,
    CloseClient,
    ConnectBackend,
    Decision,
    ForwardCancel,
    StartTls,
    ToBackend,
    ToClient,
)

log = logging.getLogger("steadystate.proxy")

READ_CHUNK = 256 * 1024
STARTUP_TIMEOUT_S = 60.0
TICK_S = 0.5
CANCEL_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 1000
#: connections past max_connections that are still told why (after their SSL negotiation and startup packet,
#: so that libpq shows the message); past that many more they are closed with the error at once
MAX_REFUSING = 64


def default_max_connections() -> int:
    """``MAX_CONNECTIONS``, or fewer if the file-descriptor limit would run out first (a client connection costs
    the supervisor two descriptors: the client's and the coordinator's)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, (soft - 64) // 2))


class ProxyServer:
    """Accepts PostgreSQL clients on ``sock`` and carries each over to the coordinator at ``backend``."""

    def __init__(
        self, sock: socket.socket, backend: tuple[str, int], *, retry_deadline: float = 30.0,
        startup_timeout: float = STARTUP_TIMEOUT_S, on_loss: Callable[[], None] | None = None,
        resume_token: str | None = None, tls: ssl.SSLContext | None = None, require_tls: bool = False,
        max_connections: int | None = None, max_connections_file: Path | None = None,
    ) -> None:
        # past this many open client connections a new one is told 53300 and closed (never left hanging)
        self.configured_max_connections = max_connections if max_connections is not None \
            else default_max_connections()
        self.max_connections = self.configured_max_connections
        # ``ALTER SYSTEM SET max_connections`` (the coordinator writes it here; read when a client arrives)
        self.max_connections_file = max_connections_file
        self._override_stamp: tuple[int, int] | None = None
        self.refused = 0
        self._refusing = 0
        self.tls = tls  # clients that send SSLRequest get TLS with this context
        self.require_tls = require_tls
        self.sock = sock
        self.resume_token = resume_token  # shown to a new coordinator to resume an authenticated session
        self.on_loss = on_loss  # called after ``retried``/``failed`` change (the supervisor publishes them)
        self.backend = backend
        self.retry_deadline = retry_deadline
        self.startup_timeout = startup_timeout
        self.links: dict[tuple[int, int], ProxyLink] = {}
        self._acceptor: Acceptor | None = None
        self.backend_refused = 0  # clients refused for want of a descriptor to reach the coordinator with
        self._process_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.retried = 0  # in-flight requests resent to a new coordinator
        self.failed = 0  # client connections closed because their coordinator was lost

    async def start(self) -> None:
        self._acceptor = Acceptor(self.sock, self._handle, READ_CHUNK)
        self._acceptor.start()

    async def close(self) -> None:
        if self._acceptor is not None:
            await self._acceptor.close()
        for link in list(self.links.values()):
            link.shutdown()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def new_key(self) -> tuple[int, int]:
        return next(self._process_ids) & 0x7FFFFFFF, secrets.randbits(31)

    async def forward_cancel(self, process_id: int, secret_key: int) -> None:
        """Send the coordinator a CancelRequest for the session behind the proxy key, and wait until it is handled.

        The coordinator closes a cancel connection once it has acted on it; waiting for that before the proxy
        closes the client's cancel connection keeps PostgreSQL's promise that a cancel which returned has been
        delivered (a late one would hit the client's next statement).
        """
        link = self.links.get((process_id, secret_key))
        if link is None or link.machine.backend_key is None:
            return
        backend_pid, backend_secret = link.machine.backend_key
        with suppress(OSError, asyncio.TimeoutError):
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*self.backend), CANCEL_TIMEOUT_S)
            try:
                writer.write(struct.pack("!iiii", 16, CANCEL_REQUEST_CODE, backend_pid, backend_secret))
                await writer.drain()
                await asyncio.wait_for(reader.read(), CANCEL_TIMEOUT_S)
            finally:
                writer.close()

    def no_descriptors(self) -> InsufficientResources:
        return no_descriptors()

    @property
    def out_of_descriptors(self) -> int:
        """Clients refused because no file descriptor was left (to accept them, or to reach the coordinator)."""
        return (self._acceptor.out_of_descriptors if self._acceptor is not None else 0) + self.backend_refused

    def too_many(self) -> TooManyConnections:
        return TooManyConnections("sorry, too many clients already",
                                  hint=f"at most {self.max_connections} connections are served at once")

    async def _refuse_at_once(self, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError, ConnectionError, asyncio.TimeoutError):
            writer.write(encode_notice(self.too_many().to_wire("FATAL"), error=True))
            await asyncio.wait_for(writer.drain(), CANCEL_TIMEOUT_S)
        writer.close()

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A connection past ``max_connections``: its startup is answered FATAL 53300 (a CancelRequest is still
        delivered); it does not count as a connection."""
        self.refused += 1
        if self._refusing >= MAX_REFUSING:
            await self._refuse_at_once(writer)
            return
        self._refusing += 1
        link = ProxyLink(self, reader, writer)
        link.machine.refusal = self.too_many()
        try:
            await link.run()
        except Exception:  # noqa: BLE001 - a refused connection's failure is of no interest
            pass
        finally:
            self._refusing -= 1
            link.shutdown()

    def _refresh_max_connections(self) -> None:
        """Follow ``ALTER SYSTEM SET max_connections``: the file's value while it exists, else ``--max-connections``
        (one stat per new client; the file is read again only when it changed)."""
        if self.max_connections_file is None:
            return
        try:
            stat = self.max_connections_file.stat()
        except OSError:
            self._override_stamp = None
            self.max_connections = self.configured_max_connections
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._override_stamp:
            with suppress(OSError, ValueError):
                self.max_connections = max(1, int(self.max_connections_file.read_text().strip()))
                self._override_stamp = stamp

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._refresh_max_connections()
        if len(self.links) >= self.max_connections:
            await self._refuse(reader, writer)
            return
        link = ProxyLink(self, reader, writer)
        self.links[link.machine.key] = link
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await link.run()
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("proxy connection failed")
        finally:
            self.links.pop(link.machine.key, None)
            link.shutdown()
            if task is not None:
                self._tasks.discard(task)


class ProxyLink:
    """One client connection: its socket, its current coordinator connection, and its state machine."""

    def __init__(self, server: ProxyServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.machine = ProxyConnection(*server.new_key(), retry_deadline=server.retry_deadline,
                                       resume_token=server.resume_token, tls=server.tls is not None,
                                       require_tls=server.require_tls)
        self.startup_deadline = asyncio.get_running_loop().time() + server.startup_timeout
        self.backend_writer: asyncio.StreamWriter | None = None
        self.backend_socket: socket.socket | None = None  # the same connection, to peek at it
        self.epoch = 0
        self.client_done = False
        self._connector: asyncio.Task[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        startup_deadline = self.startup_deadline
        while not self.client_done:
            try:
                if self.machine.started:
                    data = await self.reader.read(READ_CHUNK)
                else:  # a client that does not complete its startup in time is told so and dropped
                    data = await asyncio.wait_for(self.reader.read(READ_CHUNK), startup_deadline - loop.time())
            except asyncio.TimeoutError:
                await self.apply(self.machine.startup_expired(self.server.startup_timeout))
                return
            except (ConnectionError, OSError):
                data = b""
            if not data:
                await self.apply(self.machine.client_closed())
                return
            if self.machine.idle and self._backend_gone():
                # the coordinator died while the session was idle, and the event loop has not told the pump
                # yet: say so first, so this request goes to the next coordinator instead of the dead one
                await self.apply(self.machine.backend_lost(asyncio.get_running_loop().time()))
            await self.apply(self.machine.client_data(data))

    def _backend_gone(self) -> bool:
        """True if the coordinator connection has reached end of stream or failed (a non-blocking peek)."""
        if self.backend_socket is None or self.backend_writer is None:
            return False
        try:
            return self.backend_socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    async def apply(self, actions: list[Action]) -> None:
        """Carry out the machine's actions, then wait for the sockets written to."""
        wrote_client = wrote_backend = False
        for action in actions:
            if isinstance(action, ToClient):
                if not self.writer.is_closing():
                    self.writer.write(action.data)
                    wrote_client = True
            elif isinstance(action, ToBackend):
                if self.backend_writer is not None and not self.backend_writer.is_closing():
                    self.backend_writer.write(action.data)
                    wrote_backend = True
            elif isinstance(action, ConnectBackend):
                self._drop_backend()
                self._connector = self.server.spawn(self._connect(action.delay))
            elif isinstance(action, CloseBackend):
                self._drop_backend()
            elif isinstance(action, CloseClient):
                self.client_done = True
                self.writer.close()
            elif isinstance(action, ForwardCancel):  # before CloseClient: the client waits for it to be delivered
                await self.server.forward_cancel(action.process_id, action.secret_key)
            elif isinstance(action, BackendLost):
                self._log_loss(action)
            elif isinstance(action, StartTls):
                await self._start_tls()
                wrote_client = False
        with suppress(ConnectionError, OSError, RuntimeError):
            if wrote_backend and self.backend_writer is not None:
                await self.backend_writer.drain()
            if wrote_client:
                await self.writer.drain()

    async def _start_tls(self) -> None:
        """Send what is pending (the ``S``) and run the TLS handshake, within the startup deadline."""
        assert self.server.tls is not None
        loop = asyncio.get_running_loop()
        try:
            await self.writer.drain()
            await asyncio.wait_for(self.writer.start_tls(self.server.tls),
                                   max(self.startup_deadline - loop.time(), 0.1))
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as exc:
            log.info("TLS handshake with a client failed: %s", type(exc).__name__)
            self.client_done = True
            self.writer.close()

    def _log_loss(self, action: BackendLost) -> None:
        if action.decision is Decision.RETRY:
            self.server.retried += action.requests
            log.info("coordinator connection lost: resending %d in-flight request(s)", action.requests)
        elif action.decision is Decision.FAIL:
            self.server.failed += 1
            log.warning("coordinator connection lost under a client that cannot be carried over: closing it")
        if action.decision in (Decision.RETRY, Decision.FAIL) and self.server.on_loss is not None:
            self.server.on_loss()

    def _drop_backend(self) -> None:
        self.epoch += 1
        self.backend_socket = None
        if self.backend_writer is not None:
            self.backend_writer.close()
            self.backend_writer = None

    async def _connect(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if delay:
            await asyncio.sleep(delay)
        if self.client_done:
            return
        sock: socket.socket | None = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, self.server.backend)
            reader, writer = await asyncio.open_connection(sock=sock, limit=READ_CHUNK)
        except OSError as exc:
            if sock is not None:
                sock.close()
            if exc.errno in OUT_OF_DESCRIPTORS:
                self.server.backend_refused += 1
                await self.apply(self.machine.out_of_descriptors(self.server.no_descriptors()))
            else:
                await self.apply(self.machine.connect_failed(loop.time()))
            return
        self.epoch += 1
        self.backend_writer = writer
        self.backend_socket = sock
        epoch = self.epoch
        self.server.spawn(self._pump(reader, epoch))
        await self.apply(self.machine.backend_connected())
        while self.epoch == epoch and not self.client_done and self.machine.state in RECONNECTING:
            await asyncio.sleep(TICK_S)
            if self.epoch == epoch:
                await self.apply(self.machine.tick(loop.time()))

    async def _pump(self, reader: asyncio.StreamReader, epoch: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data or self.epoch != epoch:
                    break
                await self.apply(self.machine.backend_data(data))
        except (ConnectionError, OSError):
            pass
        if self.epoch == epoch:
            await self.apply(self.machine.backend_lost(loop.time()))

    def shutdown(self) -> None:
        self.client_done = True
        self._drop_backend()
        if self._connector is not None:
            self._connector.cancel()
        with suppress(Exception):
            self.writer.close()

