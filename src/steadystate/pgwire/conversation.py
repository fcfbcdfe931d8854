"""One client connection's protocol conversation: startup, simple query, COPY, and the message loop.

The conversation is socket-free.  It pulls bytes from a :class:`Transport` (``receive`` returns None at
end of stream), cuts them into frames with :class:`~steadystate.pgwire.wire.FrameReader`, decodes them
(:mod:`~steadystate.pgwire.frontend`) and dispatches each message through a table keyed by message class
(:data:`HANDLERS`; the extended-query handlers live in :mod:`~steadystate.pgwire.extended`).  Server
messages are buffered and written to the transport at protocol boundaries (ReadyForQuery, Flush, before
waiting for input, before waiting on an async row source, and every 64 KiB with backpressure).

Error handling follows PostgreSQL:

* a :class:`~steadystate.errors.SteadyError` from the session becomes an ErrorResponse; in a simple
  query the rest of the batch is skipped, in extended mode messages are discarded until Sync;
* any other exception from the session is an internal bug: ErrorResponse XX000, the connection stays;
* a broken frame or unknown message type is fatal: ErrorResponse 08P01 (severity FATAL), then close.

The asyncio server (:mod:`~steadystate.pgwire.server`) runs :meth:`Conversation.run` as a task and may
call :meth:`Conversation.cancel_running` when a CancelRequest names this connection.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from contextlib import suppress
from typing import Any, Awaitable, Callable, Protocol

from steadystate.errors import ProtocolViolation, QueryCanceled, SteadyError

from . import frontend as fe
from steadystate.adapter.client import (
    Backend,
    CommandOutcome,
    CopyInOutcome,
    CopyOutOutcome,
    EmptyOutcome,
    Notice,
    Outcome,
    RowsOutcome,
    Session,
)
from .copy_format import make_parser
from .extended import ExtendedQueryMixin
from .results import RowStream, completed_tag, copy_out_rows, encoders_for
from .wire import (
    ClientGone,
    FatalProtocolError,
    internal_error,
    AUTHENTICATION_OK,
    EMPTY_QUERY_RESPONSE,
    MAX_MESSAGE,
    SSL_REFUSED,
    FrameReader,
    encode_backend_key_data,
    encode_command_complete,
    encode_copy_response,
    encode_negotiate_protocol_version,
    encode_notice,
    encode_parameter_status,
    encode_ready_for_query,
    encode_row_description,
    COPY_DONE,
)

log = logging.getLogger(__name__)

COPY_BATCH_ROWS = 10_000

#: ParameterStatus values sent after authentication (the session may override or add).
DEFAULT_PARAMETERS: dict[str, str] = {
    "server_version": "15.0 (steadystate)",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "TimeZone": "UTC",
    "IntervalStyle": "postgres",
    "is_superuser": "off",
}


class Transport(Protocol):
    """Where a conversation's bytes come from and go to."""

    async def receive(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


CancelHook = Callable[[int, int], Awaitable[None]]

#: A connection that has not finished its startup (authentication included) by then is closed.
STARTUP_TIMEOUT_S = 60.0


class Conversation(ExtendedQueryMixin):
    """The server side of one PostgreSQL connection, independent of sockets."""

    def __init__(
        self,
        backend: Backend,
        transport: Transport,
        *,
        cancel_hook: CancelHook | None = None,
        on_session: Callable[["Conversation"], None] | None = None,
        max_message: int = MAX_MESSAGE,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.startup_timeout = startup_timeout
        self.transport = transport
        self.session: Session | None = None
        self.idle = True  # True while waiting for client input
        self._cancel_hook = cancel_hook or backend.cancel
        self._on_session = on_session
        self._reader = FrameReader(max_message=max_message, valid_types=fe.MESSAGE_TYPES)
        self._out = bytearray()
        self._stream_task: asyncio.Future[Any] | None = None

    # ------------------------------------------------------------ output

    def write(self, data: bytes) -> None:
        self._out += data

    @property
    def pending(self) -> int:
        return len(self._out)

    async def flush(self) -> None:
        if not self._out:
            return
        data = bytes(self._out)
        self._out.clear()
        try:
            self.transport.write(data)
            await self.transport.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ClientGone() from exc

    def send_error(self, error: SteadyError, *, fatal: bool = False) -> None:
        self.send_notices()
        severity = "FATAL" if fatal else error.severity
        notice = Notice(severity, error.sqlstate, error.message, error.detail, error.hint, error.position)
        self.write(encode_notice(notice, error=True))

    def send_notices(self) -> None:
        if self.session is None:
            return
        for notice in self.session.take_notices():
            self.write(encode_notice(notice, error=False))

    def send_command_complete(self, tag: str) -> None:
        self.send_notices()
        self.write(encode_command_complete(tag))

    async def send_ready_for_query(self) -> None:
        self.send_notices()
        assert self.session is not None
        self.write(encode_ready_for_query(self.session.transaction_status()))
        await self.flush()

    # ------------------------------------------------------------ input

    async def _receive_more(self) -> None:
        await self.flush()
        self.idle = True
        try:
            data = await self.transport.receive()
        finally:
            self.idle = False
        if not data:
            raise ClientGone()
        self._reader.feed(data)

    async def next_message(self) -> fe.FrontendMessage:
        while True:
            try:
                frame = self._reader.next_message()
                if frame is not None:
                    return fe.decode_message(*frame)
            except ProtocolViolation as exc:
                raise FatalProtocolError(exc) from None
            await self._receive_more()

    async def _next_startup_packet(self) -> fe.StartupPacket:
        while True:
            try:
                body = self._reader.next_startup_packet()
                if body is not None:
                    return fe.decode_startup(body)
            except ProtocolViolation as exc:
                raise FatalProtocolError(exc) from None
            await self._receive_more()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Serve the connection until the client leaves; never raises except on task cancellation."""
        try:
            try:
                started = await asyncio.wait_for(self._startup(), self.startup_timeout)
            except asyncio.TimeoutError:
                raise FatalProtocolError(SteadyError(
                    f"client did not complete startup within {self.startup_timeout:g} s", sqlstate="08P01"
                )) from None
            if started:
                await self._message_loop()
        except ClientGone:
            pass
        except FatalProtocolError as exc:
            await self._report_fatal(exc.error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in pgwire itself: log, tell the client, close
            log.exception("pgwire connection failed")
            await self._report_fatal(internal_error(exc))
        finally:
            await self._shutdown()

    async def _report_fatal(self, error: SteadyError) -> None:
        self.send_error(error, fatal=True)
        with suppress(ClientGone):
            await self.flush()

    async def _shutdown(self) -> None:
        try:
            await self.close_all_portals()
        except Exception:
            log.exception("closing portals failed")
        if self.session is not None:
            session, self.session = self.session, None
            try:
                await session.close()
            except Exception:
                log.exception("closing session failed")

    async def _startup(self) -> bool:
        """Handle startup packets until a session exists (True) or the connection is done (False)."""
        while True:
            packet = await self._next_startup_packet()
            handler = STARTUP_HANDLERS[type(packet)]
            result = await handler(self, packet)
            if result is not None:
                return result

    async def _refuse_encryption(self, packet: fe.SSLRequest | fe.GSSENCRequest) -> bool | None:
        self._out += SSL_REFUSED
        await self.flush()
        return None

    async def _cancel_request(self, packet: fe.CancelRequest) -> bool:
        try:
            await self._cancel_hook(packet.process_id, packet.secret_key)
        except Exception:
            log.exception("cancel request failed")
        return False

    async def _start_session(self, packet: fe.StartupMessage) -> bool:
        params = dict(packet.parameters)
        user = params.pop("user")
        database = params.pop("database", user)
        if packet.minor_version > 0 or any(name.startswith("_pq_.") for name in params):
            unrecognized = [name for name in params if name.startswith("_pq_.")]
            self.write(encode_negotiate_protocol_version(0, unrecognized))
        try:
            self.session = await self.backend.connect(user, database, params)
        except SteadyError as exc:
            await self._report_fatal(exc)
            return False
        self.write(AUTHENTICATION_OK)
        status = dict(DEFAULT_PARAMETERS)
        status["application_name"] = params.get("application_name", "")
        status["session_authorization"] = user
        status.update(self.session.parameter_status())
        for name, value in status.items():
            self.write(encode_parameter_status(name, value))
        self.write(encode_backend_key_data(self.session.process_id, self.session.secret_key))
        if self._on_session is not None:
            self._on_session(self)
        await self.send_ready_for_query()
        return True

    async def _message_loop(self) -> None:
        while True:
            message = await self.next_message()
            if self.skip_until_sync and type(message) not in (fe.Sync, fe.Terminate):
                continue
            handler = HANDLERS[type(message)]
            if await handler(self, message) is STOP:
                return

    async def _terminate(self, message: fe.Terminate) -> object:
        return STOP

    async def _ignore(self, message: Any) -> None:
        """Stray CopyData/CopyDone/CopyFail after a failed COPY are dropped, as PostgreSQL does."""

    # ------------------------------------------------------------ cancellation

    def cancel_running(self) -> bool:
        """Interrupt a streaming result (COPY TO STDOUT, async rows); True if one was running."""
        task = self._stream_task
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def cancellable(self, work: Awaitable[Any]) -> Any:
        """Run ``work`` so a CancelRequest can interrupt it (raising QueryCanceled here)."""
        task = asyncio.ensure_future(work)
        self._stream_task = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            raise QueryCanceled("canceling statement due to user request") from None
        finally:
            self._stream_task = None

    # ------------------------------------------------------------ simple query

    async def _on_query(self, message: fe.Query) -> None:
        await self.forget_unnamed()
        try:
            if not message.sql.strip(" \t\r\n;"):
                self.write(EMPTY_QUERY_RESPONSE)
            else:
                await self._run_simple(message.sql)
        except SteadyError as exc:
            self.send_error(exc)
        except (ClientGone, FatalProtocolError, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("statement failed with an internal error")
            self.send_error(internal_error(exc))
        await self.send_ready_for_query()

    async def _run_simple(self, sql: str) -> None:
        assert self.session is not None
        outcomes: Any = self.session.execute_simple(sql)
        if inspect.isawaitable(outcomes):
            outcomes = await outcomes
        produced = False
        try:
            async for outcome in outcomes:
                produced = True
                await self.emit(outcome, describe=True)
        finally:
            aclose = getattr(outcomes, "aclose", None)
            if aclose is not None:
                await aclose()
        if not produced:
            self.write(EMPTY_QUERY_RESPONSE)

    # ------------------------------------------------------------ outcomes

    async def emit(self, outcome: Outcome, *, describe: bool, stream: RowStream | None = None, limit: int = 0) -> bool:
        """Send one outcome; returns False if a row limit suspended it (extended mode only)."""
        if isinstance(outcome, RowsOutcome):
            if describe:
                self.write(encode_row_description(outcome.fields))
            if stream is None:
                stream = RowStream(outcome.rows, encoders_for(outcome.fields, ()))
            try:
                if stream.is_async:
                    finished = await self.cancellable(stream.pump(self, limit))
                else:
                    finished = await stream.pump(self, limit)
            except BaseException:
                await stream.close()
                raise
            if finished:
                self.send_command_complete(completed_tag(outcome.tag, stream.count))
            return finished
        if isinstance(outcome, CommandOutcome):
            if outcome.deallocate == "*":
                self.statements = {name: st for name, st in self.statements.items() if not name}
            elif outcome.deallocate is not None:
                self.statements.pop(outcome.deallocate, None)
            self.send_command_complete(outcome.tag)
        elif isinstance(outcome, EmptyOutcome):
            self.write(EMPTY_QUERY_RESPONSE)
        elif isinstance(outcome, CopyOutOutcome):
            await self._copy_out(outcome)
        elif isinstance(outcome, CopyInOutcome):
            self.send_command_complete(await self._copy_in(outcome))
        else:
            raise TypeError(f"unknown outcome {outcome!r}")
        return True

    async def _copy_out(self, outcome: CopyOutOutcome) -> None:
        self.write(encode_copy_response(b"H", len(outcome.fields)))
        await self.flush()
        count = await self.cancellable(copy_out_rows(self, outcome.fields, outcome.rows))
        self.write(COPY_DONE)
        self.send_command_complete(f"{outcome.tag_prefix} {count}")

    async def _copy_in(self, outcome: CopyInOutcome) -> str:
        sink = outcome.sink
        try:
            parser = make_parser(
                outcome.format, outcome.columns, outcome.delimiter, outcome.null, outcome.header,
                outcome.quote, outcome.escape,
            )
            self.write(encode_copy_response(b"G", outcome.columns))
            batch: list[tuple[str | None, ...]] = []
            while True:
                message = await self.next_message()
                if isinstance(message, fe.CopyData):
                    batch.extend(parser.feed(message.data))
                    if len(batch) >= COPY_BATCH_ROWS:
                        await sink.write_rows(batch)
                        batch = []
                elif isinstance(message, fe.CopyDone):
                    batch.extend(parser.finish())
                    if batch:
                        await sink.write_rows(batch)
                    return await sink.finish()
                elif isinstance(message, fe.CopyFail):
                    raise QueryCanceled(f"COPY from stdin failed: {message.reason}")
                elif not isinstance(message, (fe.Flush, fe.Sync)):
                    raise SteadyError(
                        f"unexpected message type during COPY from stdin: {type(message).__name__}",
                        sqlstate="08P01",
                    )
        except BaseException as exc:
            with suppress(Exception):
                await sink.abort(getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            raise


STOP = object()

STARTUP_HANDLERS: dict[type, Callable[[Conversation, Any], Awaitable[bool | None]]] = {
    fe.SSLRequest: Conversation._refuse_encryption,
    fe.GSSENCRequest: Conversation._refuse_encryption,
    fe.CancelRequest: Conversation._cancel_request,
    fe.StartupMessage: Conversation._start_session,
}

HANDLERS: dict[type, Callable[[Conversation, Any], Awaitable[object]]] = {
    fe.Query: Conversation._on_query,
    fe.Parse: ExtendedQueryMixin.on_parse,
    fe.Bind: ExtendedQueryMixin.on_bind,
    fe.Describe: ExtendedQueryMixin.on_describe,
    fe.Execute: ExtendedQueryMixin.on_execute,
    fe.Close: ExtendedQueryMixin.on_close,
    fe.Sync: ExtendedQueryMixin.on_sync,
    fe.Flush: ExtendedQueryMixin.on_flush,
    fe.Terminate: Conversation._terminate,
    fe.CopyData: Conversation._ignore,
    fe.CopyDone: Conversation._ignore,
    fe.CopyFail: Conversation._ignore,
}
