"""The asyncio server around the sans-I/O :class:`~steadystate.pgwire.conversation.Conversation`.

Thin by design.  Per connection, a *pump* reads the socket into a small bounded queue (so reading applies
backpressure to the client), and a *worker* task runs a :class:`Driver`: it steps the conversation's
generator and performs each :mod:`~steadystate.pgwire.effects` it yields — bytes to the socket with
``drain()``, bytes from the queue, one call into the adapter's :class:`~steadystate.adapter.client.Session`
or :class:`~steadystate.adapter.client.Backend` — through the table :data:`PERFORMERS`, sending the result
back in or throwing the exception in.  The driver owns the session; the conversation only sees
:class:`~steadystate.pgwire.effects.SessionInfo` and opaque handles.

Time and cancellation live here, not in the conversation:

* the startup deadline: an effect of :attr:`~steadystate.pgwire.effects.Phase.STARTUP` still running
  at ``startup_timeout`` is abandoned and a FatalProtocolError (08P01) is thrown in;
* a CancelRequest (on its own connection) is routed to the backend and to the target connection's
  driver: while its conversation is STREAMING (async rows, COPY TO STDOUT / SUBSCRIBE), the effect in
  progress is cancelled and :class:`~steadystate.errors.QueryCanceled` is thrown in;
* when the socket reaches end of stream while the worker is busy (running a statement, streaming a
  result), the worker is cancelled: :class:`~steadystate.pgwire.effects.Interrupted` is thrown in, the
  conversation closes its row iterators and the session, and the worker ends cancelled.

One connection's failure never reaches the listening server: every per-connection error is contained.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from contextlib import suppress
from typing import Any, Awaitable, Callable, Protocol

from steadystate.adapter.client import Backend, Session
from steadystate.errors import ErrorFields, QueryCanceled, SteadyError

from . import effects as fx
from .accept import Acceptor
from .conversation import STARTUP_TIMEOUT_S, Conversation
from .effects import END, ClientGone, FatalProtocolError, Interrupted, Phase, SessionInfo
from .wire import MAX_MESSAGE, encode_notice

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
QUEUE_CHUNKS = 8

CancelHook = Callable[[int, int], Awaitable[None]]
#: how a user must authenticate: ``(user, the proxy's resume token or None)`` → Credentials (see effects)
Authenticator = Callable[[str, "str | None"], Awaitable[fx.Credentials]]


async def trust_everyone(user: str, resume: str | None) -> fx.Credentials:
    """The authenticator of a server given none (unit tests of the protocol): every user name is accepted."""
    return fx.Credentials(fx.AuthMethod.TRUST)



_CLOSE_GRACE_S = 5.0  # how long closing the server waits for its connections to end

class Transport(Protocol):
    """Where a connection's bytes come from and go to."""

    async def receive(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class StreamTransport:
    """Adapts an asyncio reader queue + StreamWriter to the driver's Transport."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)

    async def receive(self) -> bytes | None:
        return await self.inbox.get()

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionResetError("connection closed")
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()


class Driver:
    """Runs one :class:`Conversation` against a :class:`Backend` and a :class:`Transport`."""

    def __init__(
        self,
        backend: Backend,
        transport: Transport,
        *,
        cancel_hook: CancelHook | None = None,
        on_session: Callable[["Driver"], None] | None = None,
        max_message: int = MAX_MESSAGE,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        authenticator: Authenticator = trust_everyone,
    ) -> None:
        self.backend = backend
        self.authenticator = authenticator
        self.transport = transport
        self.conversation = Conversation(max_message=max_message)
        self.startup_timeout = startup_timeout
        self.session: Session | None = None
        self.key: tuple[int, int] | None = None
        self.idle = True  # True while waiting for client input
        self._cancel_hook = cancel_hook or backend.cancel
        self._on_session = on_session
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = False

    async def run(self) -> None:
        """Serve the connection until the conversation ends; raises CancelledError if it was cancelled."""
        self._task = asyncio.current_task()
        deadline: float | None = asyncio.get_running_loop().time() + self.startup_timeout
        steps = self.conversation.run()
        reply: Any = None
        error: BaseException | None = None
        interrupted = False
        while True:
            try:
                effect = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration:
                break
            reply, error = None, None
            try:
                if deadline is not None and self.conversation.phase is Phase.STARTUP:
                    timer = asyncio.timeout_at(deadline)
                    try:
                        async with timer:
                            reply = await self.perform(effect)
                    except TimeoutError:
                        if not timer.expired():
                            raise
                        deadline = None
                        error = FatalProtocolError(SteadyError(
                            f"client did not complete startup within {self.startup_timeout:g} s", sqlstate="08P01"
                        ))
                else:
                    reply = await self.perform(effect)
                if self._cancelling:  # the cancel arrived as the effect completed
                    error = self._cancelled()
            except asyncio.CancelledError:
                error = self._cancelled()
                interrupted = interrupted or isinstance(error, Interrupted)
            except Exception as exc:
                error = exc
        if interrupted:
            raise asyncio.CancelledError()

    def _cancelled(self) -> BaseException:
        """What to throw in after a cancellation: ours (a CancelRequest) or the task's own (shutdown)."""
        mine, self._cancelling = self._cancelling, False
        if mine and self._task is not None and self._task.uncancel() == 0:
            return QueryCanceled("canceling statement due to user request")
        return Interrupted()

    def cancel_running(self) -> bool:
        """Interrupt a streaming result (COPY TO STDOUT, async rows); True if one was running."""
        task = self._task
        if self.conversation.phase is not Phase.STREAMING or task is None or task.done() or self._cancelling:
            return False
        self._cancelling = True
        task.cancel()
        return True

    async def perform(self, effect: fx.Effect) -> Any:
        return await PERFORMERS[type(effect)](self, effect)

    # ------------------------------------------------------------ the client

    async def _send(self, effect: fx.Send) -> None:
        try:
            self.transport.write(effect.data)
            await self.transport.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ClientGone() from exc

    def _notice_now(self, notice: ErrorFields) -> None:
        """A notice of a statement still running (progress of a SEAL, RESTART or resize): written at once.  A
        NoticeResponse may come between any two messages, and the conversation's buffer holds whole messages."""
        with suppress(ConnectionError, RuntimeError):
            self.transport.write(encode_notice(notice, error=False))

    async def _receive(self, effect: fx.Receive) -> bytes:
        self.idle = True
        try:
            data = await self.transport.receive()
        finally:
            self.idle = False
        return data or b""

    # ------------------------------------------------------------ the adapter

    def _session(self) -> Session:
        assert self.session is not None, "an effect that needs a session before Connect"
        return self.session

    async def _connect(self, effect: fx.Connect) -> SessionInfo:
        session = await self.backend.connect(effect.user, effect.database, effect.options)
        self.session = session
        self.key = (session.process_id, session.secret_key)
        session.set_live_notices(self._notice_now)
        if self._on_session is not None:
            self._on_session(self)
        return SessionInfo(session.process_id, session.secret_key, dict(session.parameter_status()))

    async def _authenticate(self, effect: fx.Authenticate) -> fx.Credentials:
        return await self.authenticator(effect.user, effect.resume)

    async def _cancel_backend(self, effect: fx.CancelBackend) -> None:
        await self._cancel_hook(effect.process_id, effect.secret_key)

    async def _take_notices(self, effect: fx.TakeNotices) -> Any:
        return self._session().take_notices()

    async def _transaction_status(self, effect: fx.TransactionStatus) -> str:
        return self._session().transaction_status()

    async def _execute_simple(self, effect: fx.ExecuteSimple) -> Any:
        outcomes: Any = self._session().execute_simple(effect.sql)
        if inspect.isawaitable(outcomes):
            outcomes = await outcomes
        return outcomes.__aiter__()

    async def _next(self, effect: fx.NextOutcome | fx.NextRow) -> Any:
        source = effect.outcomes if isinstance(effect, fx.NextOutcome) else effect.rows
        try:
            return await source.__anext__()
        except StopAsyncIteration:
            return END

    async def _close_iterator(self, effect: fx.CloseIterator) -> None:
        aclose = getattr(effect.source, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _describe(self, effect: fx.Describe) -> Any:
        return await self._session().describe(effect.sql, effect.param_oids)

    async def _execute(self, effect: fx.Execute) -> Any:
        return await self._session().execute(effect.sql, effect.params, effect.param_oids)

    async def _write_copy_rows(self, effect: fx.WriteCopyRows) -> None:
        await effect.sink.write_rows(effect.rows)

    async def _finish_copy(self, effect: fx.FinishCopy) -> str:
        return await effect.sink.finish()

    async def _abort_copy(self, effect: fx.AbortCopy) -> None:
        await effect.sink.abort(effect.reason)

    async def _close_session(self, effect: fx.CloseSession) -> None:
        await self._session().close()


#: How the driver performs each effect.
PERFORMERS: dict[type, Callable[[Driver, Any], Awaitable[Any]]] = {
    fx.Send: Driver._send,
    fx.Receive: Driver._receive,
    fx.Connect: Driver._connect,
    fx.Authenticate: Driver._authenticate,
    fx.CancelBackend: Driver._cancel_backend,
    fx.TakeNotices: Driver._take_notices,
    fx.TransactionStatus: Driver._transaction_status,
    fx.ExecuteSimple: Driver._execute_simple,
    fx.NextOutcome: Driver._next,
    fx.NextRow: Driver._next,
    fx.CloseIterator: Driver._close_iterator,
    fx.Describe: Driver._describe,
    fx.Execute: Driver._execute,
    fx.WriteCopyRows: Driver._write_copy_rows,
    fx.FinishCopy: Driver._finish_copy,
    fx.AbortCopy: Driver._abort_copy,
    fx.CloseSession: Driver._close_session,
}


class PgServer:
    """A PostgreSQL-protocol listener serving one :class:`Backend`."""

    def __init__(
        self, backend: Backend, *, max_message: int = MAX_MESSAGE, startup_timeout: float = STARTUP_TIMEOUT_S,
        authenticator: Authenticator = trust_everyone,
    ) -> None:
        self.backend = backend
        self.authenticator = authenticator
        self.max_message = max_message
        self.startup_timeout = startup_timeout
        self.server: Acceptor | None = None
        self._by_key: dict[tuple[int, int], Driver] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.sockets
        return self.server.sockets[0].getsockname()[1]

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> Acceptor:
        """Listen on ``host:port``, or on an already-listening ``sock`` (inherited from a supervisor)."""
        if sock is None:
            sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.server = Acceptor(sock, self._handle, READ_CHUNK)  # out of descriptors, a client is refused (accept.py)
        self.server.start()
        return self.server

    async def close(self) -> None:
        """Stop listening and end every connection: its socket is closed (so a conversation that went on after
        its statement was cancelled — a cancel lands on the statement, not the connection — reads the end of its
        stream), its worker cancelled, and the wait for them bounded."""
        if self.server is not None:
            await self.server.close()
        for writer in list(self._writers):
            with suppress(Exception):
                writer.close()
        for task in list(self._workers):
            task.cancel()
        if self._workers:
            _, pending = await asyncio.wait(list(self._workers), timeout=_CLOSE_GRACE_S)
            if pending:
                log.warning("%d pgwire connection(s) did not end within %.0f s of closing", len(pending),
                            _CLOSE_GRACE_S)

    async def cancel(self, process_id: int, secret_key: int) -> None:
        """Handle a CancelRequest: tell the backend, and interrupt the target's streaming result."""
        target = self._by_key.get((process_id, secret_key))
        if target is not None:
            target.cancel_running()
        await self.backend.cancel(process_id, secret_key)

    def _register(self, driver: Driver) -> None:
        assert driver.key is not None
        self._by_key[driver.key] = driver

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = StreamTransport(writer)
        driver = Driver(
            self.backend, transport, cancel_hook=self.cancel, on_session=self._register,
            max_message=self.max_message, startup_timeout=self.startup_timeout, authenticator=self.authenticator,
        )
        worker = asyncio.create_task(driver.run())
        self._workers.add(worker)
        self._writers.add(writer)
        pump = asyncio.create_task(self._pump(reader, transport, driver, worker))
        try:
            await worker
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("pgwire worker crashed")
        finally:
            self._workers.discard(worker)
            self._writers.discard(writer)
            pump.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await pump
            for registered, other in list(self._by_key.items()):
                if other is driver or registered == driver.key:
                    self._by_key.pop(registered, None)
            with suppress(Exception):
                writer.close()
                await writer.wait_closed()

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, transport: StreamTransport, driver: Driver, worker: asyncio.Task[None]
    ) -> None:
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                await transport.inbox.put(data)
        except (ConnectionError, OSError):
            pass
        if not driver.idle and not worker.done():
            worker.cancel()
        await transport.inbox.put(None)


async def serve(backend: Backend, host: str = "127.0.0.1", port: int = 0) -> PgServer:
    """Start serving ``backend``; the returned :class:`PgServer` knows its ``port`` and closes with ``close()``."""
    server = PgServer(backend)
    await server.start(host, port)
    return server
