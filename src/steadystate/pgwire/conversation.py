"""One client connection's protocol conversation, sans-I/O: startup, simple query, COPY, the message loop.

The conversation never touches a socket, a session or an event loop.  :meth:`Conversation.run` is a
generator (psycopg's style): it yields :mod:`~steadystate.pgwire.effects` — :class:`~.effects.Receive`
when it needs client bytes, :class:`~.effects.Send` with bytes for the client, and one effect per call
into the adapter (:class:`~.effects.Connect`, :class:`~.effects.Execute`, :class:`~.effects.NextRow`...) —
and is resumed with each effect's result, or has the effect's exception thrown in.  The thin asyncio
driver (:mod:`~steadystate.pgwire.server`) performs the effects; a test performs them by hand.

Inside, client bytes are cut into frames by :class:`~steadystate.pgwire.wire.FrameReader`, decoded by
:mod:`~steadystate.pgwire.frontend` and dispatched through tables keyed by message class
(:data:`STARTUP_HANDLERS` before the session exists, :data:`HANDLERS` after; the extended-query handlers
live in :mod:`~steadystate.pgwire.extended`).  :attr:`Conversation.phase` says where it is
(:class:`~.effects.Phase`).  Server messages are buffered and sent at protocol boundaries
(ReadyForQuery, Flush, before waiting for input, before waiting for a row of an asynchronous result,
and every 64 KiB of a synchronous one), so results stream out without being held whole.

Error handling follows PostgreSQL:

* a :class:`~steadystate.errors.SteadyError` from the session becomes an ErrorResponse; in a simple
  query the rest of the batch is skipped, in extended mode messages are discarded until Sync;
* any other exception from the session is an internal bug: ErrorResponse XX000, the connection stays;
* a broken frame or unknown message type is fatal: ErrorResponse 08P01 (severity FATAL), then close;
* whatever way it ends, open row iterators are closed and :class:`~.effects.CloseSession` is the last
  adapter effect once a session exists.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from steadystate.errors import ErrorFields, ProtocolViolation, QueryCanceled, SteadyError
from steadystate.security.scram import MECHANISM, ScramExchange

from . import frontend as fe
from steadystate.adapter.client import (
    CommandOutcome,
    CopyInOutcome,
    CopyOutOutcome,
    EmptyOutcome,
    Outcome,
    RowsOutcome,
)
from .copy_binary import BinaryCopyParser
from .copy_format import CopyParser, make_parser
from .effects import (
    END,
    AbortCopy,
    Authenticate,
    AuthMethod,
    CancelBackend,
    ClientGone,
    CloseIterator,
    CloseSession,
    Connect,
    ConnectionEnded,
    ExecuteSimple,
    FatalProtocolError,
    FinishCopy,
    NextOutcome,
    Phase,
    Receive,
    Send,
    SessionInfo,
    Steps,
    TakeNotices,
    TransactionStatus,
    WriteCopyRows,
    internal_error,
)
from .extended import ExtendedQueryMixin
from .results import RowStream, completed_tag, copy_out_rows, encoders_for
from .wire import (
    AUTH_SASL,
    AUTH_SASL_CONTINUE,
    AUTH_SASL_FINAL,
    AUTHENTICATION_OK,
    RESUME_PARAMETER,
    BULK_PARAMETER,
    bulk_header,
    COPY_DONE,
    EMPTY_QUERY_RESPONSE,
    MAX_MESSAGE,
    SSL_REFUSED,
    FrameReader,
    cstring,
    encode_authentication,
    encode_backend_key_data,
    encode_command_complete,
    encode_copy_response,
    encode_negotiate_protocol_version,
    encode_notice,
    encode_parameter_status,
    encode_ready_for_query,
    encode_row_description,
)

log = logging.getLogger(__name__)

BULK_MIN = 1024  # smaller runs of result messages go unannounced (the proxy reads their headers)

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

#: the type of the client's password and SASL messages, valid only during authentication
PASSWORD_MESSAGE = b"p"

#: A connection that has not finished its startup (authentication included) by then is closed (by the driver).
STARTUP_TIMEOUT_S = 60.0


class Conversation(ExtendedQueryMixin):
    """The server side of one PostgreSQL connection, as a generator of effects; see the module docstring."""

    def __init__(self, *, max_message: int = MAX_MESSAGE) -> None:
        super().__init__()
        self.phase = Phase.STARTUP
        self.session: SessionInfo | None = None
        self.time_zone = "UTC"
        self._reader = FrameReader(max_message=max_message, valid_types=fe.MESSAGE_TYPES | {PASSWORD_MESSAGE})
        self._out = bytearray()
        self.bulk = False  # announce runs of result messages (BULK_PARAMETER: the client is the proxy)

    # ------------------------------------------------------------ output

    def write(self, data: bytes) -> None:
        self._out += data

    def write_bulk(self, data: bytes) -> None:
        """Whole DataRow/CopyData messages, announced by a bulk frame to a proxy that asked for them."""
        if self.bulk and len(data) >= BULK_MIN:
            self._out += bulk_header(len(data))
        self._out += data

    @property
    def pending(self) -> int:
        return len(self._out)

    def flush(self) -> Steps[None]:
        if not self._out:
            return
        data = bytes(self._out)
        self._out.clear()
        yield Send(data)

    def send_error(self, error: SteadyError, *, fatal: bool = False) -> Steps[None]:
        yield from self.send_notices()
        self.write(encode_notice(error.to_wire("FATAL" if fatal else None), error=True))

    def send_notices(self) -> Steps[None]:
        if self.session is None:
            return
        notices: list[ErrorFields] = yield TakeNotices()
        for notice in notices:
            self.write(encode_notice(notice, error=False))

    def send_command_complete(self, tag: str) -> Steps[None]:
        yield from self.send_notices()
        self.write(encode_command_complete(tag))

    def send_ready_for_query(self) -> Steps[None]:
        yield from self.send_notices()
        status: str = yield TransactionStatus()
        self.write(encode_ready_for_query(status))
        yield from self.flush()

    # ------------------------------------------------------------ input

    def _receive_more(self) -> Steps[None]:
        yield from self.flush()
        data: bytes | None = yield Receive()
        if not data:
            raise ClientGone()
        self._reader.feed(data)

    def next_message(self) -> Steps[fe.FrontendMessage]:
        while True:
            try:
                frame = self._reader.next_message()
                if frame is not None:
                    return fe.decode_message(*frame)
            except ProtocolViolation as exc:
                raise FatalProtocolError(exc) from None
            yield from self._receive_more()

    def _next_startup_packet(self) -> Steps[fe.StartupPacket]:
        while True:
            try:
                body = self._reader.next_startup_packet()
                if body is not None:
                    return fe.decode_startup(body)
            except ProtocolViolation as exc:
                raise FatalProtocolError(exc) from None
            yield from self._receive_more()

    # ------------------------------------------------------------ lifecycle

    def run(self) -> Steps[None]:
        """Serve the connection until the client leaves; raises only what nobody threw in."""
        try:
            if (yield from self._startup()):
                self.phase = Phase.READY
                yield from self._message_loop()
        except ConnectionEnded:
            pass
        except FatalProtocolError as exc:
            yield from self._report_fatal(exc.error)
        except Exception as exc:  # a bug in pgwire itself: log, tell the client, close
            log.exception("pgwire connection failed")
            yield from self._report_fatal(internal_error(exc))
        yield from self._shutdown()
        self.phase = Phase.CLOSED

    def _report_fatal(self, error: SteadyError) -> Steps[None]:
        try:
            yield from self.send_error(error, fatal=True)
            yield from self.flush()
        except ConnectionEnded:
            pass

    def _shutdown(self) -> Steps[None]:
        try:
            yield from self.close_all_portals()
        except Exception:
            log.exception("closing portals failed")
        if self.session is not None:
            self.session = None
            try:
                yield CloseSession()
            except Exception:
                log.exception("closing session failed")

    def _startup(self) -> Steps[bool]:
        """Handle startup packets until a session exists (True) or the connection is done (False)."""
        while True:
            packet = yield from self._next_startup_packet()
            handler = STARTUP_HANDLERS[type(packet)]
            result = yield from handler(self, packet)
            if result is not None:
                return result

    def _refuse_encryption(self, packet: fe.SSLRequest | fe.GSSENCRequest) -> Steps[bool | None]:
        self._out += SSL_REFUSED
        yield from self.flush()
        return None

    def _cancel_request(self, packet: fe.CancelRequest) -> Steps[bool]:
        try:
            yield CancelBackend(packet.process_id, packet.secret_key)
        except ConnectionEnded:
            raise
        except Exception:
            log.exception("cancel request failed")
        return False

    def _start_session(self, packet: fe.StartupMessage) -> Steps[bool]:
        params = dict(packet.parameters)
        user = params.pop("user")
        database = params.pop("database", user)
        if packet.minor_version > 0 or any(name.startswith("_pq_.") for name in params):
            unrecognized = [name for name in params if name.startswith("_pq_.")]
            self.write(encode_negotiate_protocol_version(0, unrecognized))
        try:
            self.bulk = params.pop(BULK_PARAMETER, None) == "on"
            yield from self._authenticate(user, params.pop(RESUME_PARAMETER, None))
            self.session = yield Connect(user, database, params)
        except SteadyError as exc:
            yield from self._report_fatal(exc)
            return False
        assert self.session is not None
        self.write(AUTHENTICATION_OK)
        status = dict(DEFAULT_PARAMETERS)
        status["application_name"] = params.get("application_name", "")
        status["session_authorization"] = user
        status.update(self.session.parameters)
        self.time_zone = status["TimeZone"]
        for name, value in status.items():
            self.write(encode_parameter_status(name, value))
        self.write(encode_backend_key_data(self.session.process_id, self.session.secret_key))
        yield from self.send_ready_for_query()
        return True

    def _authenticate(self, user: str, resume: str | None) -> Steps[None]:
        """Prove who the client is (raises a SteadyError, 28P01 for a wrong password, if it cannot)."""
        credentials = yield Authenticate(user, resume)
        if credentials.method is AuthMethod.TRUST:
            return
        exchange = ScramExchange(user, credentials.verifier)
        self.write(encode_authentication(AUTH_SASL, cstring(MECHANISM) + b"\x00"))
        initial = yield from self._password_message()
        mechanism, _, rest = initial.partition(b"\x00")
        if mechanism.decode("utf-8", "replace") != MECHANISM or len(rest) < 4:
            raise ProtocolViolation(f"SASL authentication mechanism {mechanism.decode('utf-8', 'replace')!r} "
                                    f"is not supported", hint=f"use {MECHANISM}")
        server_first = exchange.first(rest[4:])
        self.write(encode_authentication(AUTH_SASL_CONTINUE, server_first))
        server_final = exchange.final((yield from self._password_message()))
        self.write(encode_authentication(AUTH_SASL_FINAL, server_final))

    def _password_message(self) -> Steps[bytes]:
        """The body of the client's next message, which must be a SASL response (``p``)."""
        while True:
            try:
                frame = self._reader.next_message()
            except ProtocolViolation as exc:
                raise FatalProtocolError(exc) from None
            if frame is not None:
                kind, body = frame
                if kind != PASSWORD_MESSAGE:
                    raise ProtocolViolation(f"expected SASL response, got message type {kind[0]}", sqlstate="28000")
                return body
            yield from self._receive_more()

    def _message_loop(self) -> Steps[None]:
        while True:
            message = yield from self.next_message()
            if self.skip_until_sync and type(message) not in (fe.Sync, fe.Terminate):
                continue
            handler = HANDLERS[type(message)]
            if (yield from handler(self, message)) is STOP:
                return

    def _terminate(self, message: fe.Terminate) -> Steps[object]:
        return STOP
        yield  # a step, like the other handlers

    def _ignore(self, message: Any) -> Steps[None]:
        """Stray CopyData/CopyDone/CopyFail after a failed COPY are dropped, as PostgreSQL does."""
        return
        yield

    def _streaming(self, steps: Steps[Any]) -> Steps[Any]:
        """Run ``steps`` in :attr:`Phase.STREAMING`, where a CancelRequest interrupts it (QueryCanceled)."""
        previous, self.phase = self.phase, Phase.STREAMING
        try:
            return (yield from steps)
        finally:
            self.phase = previous

    # ------------------------------------------------------------ simple query

    def _on_query(self, message: fe.Query) -> Steps[None]:
        yield from self.forget_unnamed()
        try:
            if not message.sql.strip(" \t\r\n;"):
                self.write(EMPTY_QUERY_RESPONSE)
            else:
                yield from self._run_simple(message.sql)
        except SteadyError as exc:
            yield from self.send_error(exc)
        except (ConnectionEnded, FatalProtocolError):
            raise
        except Exception as exc:
            log.exception("statement failed with an internal error")
            yield from self.send_error(internal_error(exc))
        yield from self.send_ready_for_query()

    def _run_simple(self, sql: str) -> Steps[None]:
        outcomes = yield ExecuteSimple(sql)
        produced = False
        try:
            while True:
                outcome = yield NextOutcome(outcomes)
                if outcome is END:
                    break
                produced = True
                yield from self.emit(outcome, describe=True)
        except Exception:
            yield CloseIterator(outcomes)
            raise
        yield CloseIterator(outcomes)
        if not produced:
            self.write(EMPTY_QUERY_RESPONSE)

    # ------------------------------------------------------------ outcomes

    def emit(self, outcome: Outcome, *, describe: bool, stream: RowStream | None = None, limit: int = 0) -> Steps[bool]:
        """Send one outcome; returns False if a row limit suspended it (extended mode only)."""
        if isinstance(outcome, RowsOutcome):
            if describe:
                self.write(encode_row_description(outcome.fields))
            if stream is None:
                stream = RowStream(outcome.rows, encoders_for(outcome.fields, (), self.time_zone))
            try:
                if stream.is_async:
                    finished = yield from self._streaming(stream.pump(self, limit))
                else:
                    finished = yield from stream.pump(self, limit)
            except Exception:
                yield from stream.close()
                raise
            if finished:
                yield from self.send_command_complete(completed_tag(outcome.tag, stream.count))
            return finished
        if isinstance(outcome, CommandOutcome):
            if outcome.deallocate == "*":
                self.statements = {name: st for name, st in self.statements.items() if not name}
            elif outcome.deallocate is not None:
                self.statements.pop(outcome.deallocate, None)
            for name, value in outcome.parameters.items():  # SET of a reported parameter (TimeZone)
                self.write(encode_parameter_status(name, value))
                if name == "TimeZone":
                    self.time_zone = value
            yield from self.send_command_complete(outcome.tag)
        elif isinstance(outcome, EmptyOutcome):
            self.write(EMPTY_QUERY_RESPONSE)
        elif isinstance(outcome, CopyOutOutcome):
            yield from self._copy_out(outcome)
        elif isinstance(outcome, CopyInOutcome):
            tag = yield from self._copy_in(outcome)
            yield from self.send_command_complete(tag)
        else:
            raise TypeError(f"unknown outcome {outcome!r}")
        return True

    def _copy_out(self, outcome: CopyOutOutcome) -> Steps[None]:
        self.write(encode_copy_response(b"H", len(outcome.fields)))
        yield from self.flush()
        count = yield from self._streaming(copy_out_rows(self, outcome.fields, outcome.rows, self.time_zone))
        self.write(COPY_DONE)
        yield from self.send_command_complete(f"{outcome.tag_prefix} {count}")

    def _copy_in(self, outcome: CopyInOutcome) -> Steps[str]:
        sink = outcome.sink
        previous, self.phase = self.phase, Phase.COPY_IN
        try:
            parser: CopyParser | BinaryCopyParser = BinaryCopyParser(outcome.type_oids) \
                if outcome.format == "binary" else make_parser(
                    outcome.format, outcome.columns, outcome.delimiter, outcome.null, outcome.header,
                    outcome.quote, outcome.escape)
            self.write(encode_copy_response(b"G", outcome.columns, binary=outcome.format == "binary"))
            batch: list[tuple[str | None, ...]] = []
            while True:
                message = yield from self.next_message()
                if isinstance(message, fe.CopyData):
                    batch.extend(parser.feed(message.data))
                    if len(batch) >= COPY_BATCH_ROWS:
                        yield WriteCopyRows(sink, batch)
                        batch = []
                elif isinstance(message, fe.CopyDone):
                    batch.extend(parser.finish())
                    if batch:
                        yield WriteCopyRows(sink, batch)
                    tag: str = yield FinishCopy(sink)
                    return tag
                elif isinstance(message, fe.CopyFail):
                    raise QueryCanceled(f"COPY from stdin failed: {message.reason}")
                elif not isinstance(message, (fe.Flush, fe.Sync)):
                    raise SteadyError(
                        f"unexpected message type during COPY from stdin: {type(message).__name__}",
                        sqlstate="08P01",
                    )
        except Exception as exc:
            try:
                yield AbortCopy(sink, getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            except Exception:
                pass
            raise
        finally:
            self.phase = previous


STOP = object()

STARTUP_HANDLERS: dict[type, Callable[[Conversation, Any], Steps[bool | None]]] = {
    fe.SSLRequest: Conversation._refuse_encryption,
    fe.GSSENCRequest: Conversation._refuse_encryption,
    fe.CancelRequest: Conversation._cancel_request,
    fe.StartupMessage: Conversation._start_session,
}

HANDLERS: dict[type, Callable[[Conversation, Any], Steps[object]]] = {
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
