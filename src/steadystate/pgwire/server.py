"""The asyncio server around :class:`~steadystate.pgwire.conversation.Conversation`.

Thin by design: per connection, a *pump* reads the socket into a small bounded queue (so reading
applies backpressure to the client), and a *worker* task runs the conversation, which pulls from that
queue and writes to the socket with ``drain()``.  When the socket reaches end of stream while the worker
is busy (running a statement, streaming a result), the worker is cancelled, which closes row iterators
and the session.  A CancelRequest (on its own connection) is routed to the backend and to the target
connection, whose streaming result (COPY TO STDOUT / SUBSCRIBE) is interrupted.

One connection's failure never reaches the listening server: every per-connection error is contained.
"""

from __future__ import annotations

import asyncio
import socket
import logging
from contextlib import suppress

from steadystate.adapter.client import Backend
from .conversation import STARTUP_TIMEOUT_S, Conversation
from .wire import MAX_MESSAGE

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
QUEUE_CHUNKS = 8


class StreamTransport:
    """Adapts an asyncio reader queue + StreamWriter to the conversation's Transport."""

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


class PgServer:
    """A PostgreSQL-protocol listener serving one :class:`Backend`."""

    def __init__(
        self, backend: Backend, *, max_message: int = MAX_MESSAGE, startup_timeout: float = STARTUP_TIMEOUT_S
    ) -> None:
        self.backend = backend
        self.max_message = max_message
        self.startup_timeout = startup_timeout
        self.server: asyncio.Server | None = None
        self._by_key: dict[tuple[int, int], Conversation] = {}
        self._workers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.sockets
        return self.server.sockets[0].getsockname()[1]

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> asyncio.Server:
        """Listen on ``host:port``, or on an already-listening ``sock`` (inherited from a supervisor)."""
        if sock is not None:
            self.server = await asyncio.start_server(self._handle, sock=sock, limit=READ_CHUNK)
        else:
            self.server = await asyncio.start_server(self._handle, host, port, limit=READ_CHUNK)
        return self.server

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._workers):
            task.cancel()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
        if self.server is not None:
            with suppress(Exception):
                await self.server.wait_closed()

    async def cancel(self, process_id: int, secret_key: int) -> None:
        """Handle a CancelRequest: tell the backend, and interrupt the target's streaming result."""
        target = self._by_key.get((process_id, secret_key))
        if target is not None:
            target.cancel_running()
        await self.backend.cancel(process_id, secret_key)

    def _register(self, conversation: Conversation) -> None:
        assert conversation.session is not None
        self._by_key[(conversation.session.process_id, conversation.session.secret_key)] = conversation

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = StreamTransport(writer)
        conversation = Conversation(
            self.backend, transport, cancel_hook=self.cancel, on_session=self._register,
            max_message=self.max_message, startup_timeout=self.startup_timeout,
        )
        worker = asyncio.create_task(conversation.run())
        self._workers.add(worker)
        pump = asyncio.create_task(self._pump(reader, transport, conversation, worker))
        try:
            await worker
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("pgwire worker crashed")
        finally:
            self._workers.discard(worker)
            pump.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await pump
            session = conversation.session
            key = (session.process_id, session.secret_key) if session is not None else None
            for registered, conv in list(self._by_key.items()):
                if conv is conversation or registered == key:
                    self._by_key.pop(registered, None)
            with suppress(Exception):
                writer.close()
                await writer.wait_closed()

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, transport: StreamTransport, conversation: Conversation, worker: asyncio.Task[None]
    ) -> None:
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                await transport.inbox.put(data)
        except (ConnectionError, OSError):
            pass
        if not conversation.idle and not worker.done():
            worker.cancel()
        await transport.inbox.put(None)


async def serve(backend: Backend, host: str = "127.0.0.1", port: int = 0) -> PgServer:
    """Start serving ``backend``; the returned :class:`PgServer` knows its ``port`` and closes with ``close()``."""
    server = PgServer(backend)
    await server.start(host, port)
    return server
