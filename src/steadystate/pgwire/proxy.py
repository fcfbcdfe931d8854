"""One client connection of the supervisor's pgwire proxy, as a sans-I/O state machine.

The supervisor owns the client's socket; the coordinator is its *backend*, reached over an internal
endpoint.  A :class:`ProxyConnection` is fed the bytes of both sides (``client_data``, ``backend_data``) and
the backend's comings and goings (``backend_connected``, ``backend_lost``, ``connect_failed``), and returns
:mod:`~steadystate.pgwire.proxy_rules` actions: bytes to send each way, "connect a backend (after a delay)",
"close", "forward this cancel".  The asyncio driver (:mod:`~steadystate.pgwire.proxy_server`) only moves bytes.

What it tracks, so that a coordinator crash is invisible where that is safe:

* the startup packet, replayed to every new backend.  On the first backend the handshake (authentication,
  ParameterStatus, BackendKeyData, ReadyForQuery) is forwarded, with BackendKeyData replaced by the proxy's
  own key (cancel requests are mapped to the current backend's key); on a reconnect it is swallowed;
* authentication: the coordinator authenticates the client (SCRAM-SHA-256) on the first backend, the proxy
  passing the SASL messages both ways as they come (nothing the client sends before it is authenticated is
  buffered beyond the startup packet).  A reconnect replays the startup packet with the supervisor's *resume
  token* added (:data:`~steadystate.pgwire.wire.RESUME_PARAMETER`), with which the new coordinator accepts the
  already authenticated session without a password; a coordinator lost during authentication ends the
  connection (the client authenticates again on a new one);
* the transaction status from each ReadyForQuery;
* session state: ``SET``/``RESET`` that succeeded outside a transaction or in one that committed (replayed as
  simple queries, in order, latest per setting) and named prepared statements (Parse frames confirmed by
  ParseComplete, forgotten on a confirmed Close or DEALLOCATE; replayed followed by one Sync);
* the requests in flight: a simple Query, or extended-protocol messages up to Sync (each answered by one
  ReadyForQuery), with a copy of their bytes while they are safe to resend (reads and settings only).

When the backend is lost, :data:`~steadystate.pgwire.proxy_rules.LOSS_DECISIONS` decides: an idle session
reconnects lazily on its next request; reads in flight whose response has not started are resent to the
next backend (retried with a backoff up to a deadline); anything else — a write or DDL in flight, an open
transaction, a result already partly forwarded — gets an ErrorResponse (FATAL, 08006) and the client
connection is closed, so no write is ever run twice.  Server messages are cut at their 5-byte headers only
(:class:`~steadystate.pgwire.proxy_rules.Splitter`); rows and COPY data pass through in the chunks they came in.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from steadystate.errors import InvalidAuthorization, ProtocolViolation, SteadyError

from . import frontend as fe
from .proxy_rules import (
    BACKLOG_TOO_LARGE,
    LOSS_DECISIONS,
    SESSION_NOT_RESTORED,
    UNREACHABLE,
    Action,
    BackendLost,
    CloseBackend,
    CloseClient,
    ConnectBackend,
    Decision,
    Failure,
    ForwardCancel,
    Inflight,
    Splitter,
    StartTls,
    ToBackend,
    ToClient,
    classify_sql,
    setting_key,
)
from .wire import (
    AUTH_SASL_FINAL,
    BULK_PARAMETER,
    MAX_STARTUP_PACKET,
    RESUME_PARAMETER,
    SSL_ACCEPTED,
    SSL_REFUSED,
    cstring,
    encode_backend_key_data,
    encode_notice,
    message,
)

RETRY_DEADLINE_S = 30.0
BACKOFF_START_S = 0.05
BACKOFF_MAX_S = 1.0

_I32 = struct.Struct("!i")
_KEY = struct.Struct("!ii")
SYNC = message(b"S")
MAX_UNSENT = 64 * 1024 * 1024  # client bytes held while no coordinator is live
STARTING_UP = "57P03"  # cannot_connect_now: the coordinator is starting

#: client message types decoded by the proxy (CopyData passes through undecoded)
CLIENT_WANTED = frozenset(fe.DECODERS)
#: server message types the proxy looks at; the rest (rows, notices, COPY data, ...) pass through
BACKEND_WANTED = frozenset({b"Z", b"E", b"K", b"1", b"3", b"R"})
AUTHENTICATION_LOST = Failure(
    "connection to the coordinator was lost during authentication",
    "connect again",
)


class BackendState(Enum):
    DOWN = "down"  # none, and none needed until the client sends a request
    CONNECTING = "connecting"  # the driver was asked for a connection
    HANDSHAKE = "handshake"  # startup packet sent, waiting for the first ReadyForQuery
    REPLAY = "replay"  # session state resent, waiting for its ReadyForQuerys
    LIVE = "live"


RECONNECTING = frozenset({BackendState.CONNECTING, BackendState.HANDSHAKE, BackendState.REPLAY})


@dataclass
class _Request:
    """A client request awaiting its ReadyForQuery (internal bookkeeping, mutable)."""

    raw: bytearray | None = field(default_factory=bytearray)  # its bytes, kept while it is safe to resend
    retryable: bool = True
    closed: bool = False  # a Query, or extended messages ended by Sync
    sent: bool = False  # some of it went to the current backend
    errored: bool = False
    settings: list[str] = field(default_factory=list)
    deallocated: list[str] = field(default_factory=list)
    commits: bool = False
    parses: deque[tuple[str, bytes]] = field(default_factory=deque)  # awaiting ParseComplete
    closes: deque[tuple[str, str]] = field(default_factory=deque)  # awaiting CloseComplete


class ProxyConnection:
    """The proxy's view of one client connection; see the module docstring."""

    def __init__(self, process_id: int, secret_key: int, *, retry_deadline: float = RETRY_DEADLINE_S,
                 resume_token: str | None = None, tls: bool = False, require_tls: bool = False) -> None:
        self.key = (process_id, secret_key)
        self.tls_available = tls  # the driver can run a TLS handshake: SSLRequest is accepted
        self.require_tls = require_tls  # a StartupMessage on a plaintext connection is refused (28000)
        self.encrypted = False
        self.refusal: SteadyError | None = None  # set by the driver past max_connections: the startup gets it
        self.resume_token = resume_token
        self._authenticating = False  # the first backend asked the client for a SASL response
        self._auth_started = False  # the first backend began authenticating the client
        self.backend_key: tuple[int, int] | None = None
        self.retry_deadline = retry_deadline
        self.state = BackendState.DOWN
        self.status = "I"
        self.closed = False
        self.settings: dict[str, str] = {}  # setting → the statement that set it, in the order to replay
        self.prepared: dict[str, bytes] = {}  # statement name → its Parse frame
        self._transaction_settings: list[str] = []  # SETs of the open transaction, remembered if it commits
        self._startup_buffer = bytearray()
        self._startup_packet: bytes | None = None
        self._client = Splitter(CLIENT_WANTED)
        self._backend = Splitter(BACKEND_WANTED)
        self._requests: deque[_Request] = deque()
        self._unsent = bytearray()
        self._statement_sql: dict[str, str] = {}
        self._portal_sql: dict[str, str | None] = {}
        self._response_started = False
        self._backend_said_fatal = False  # the coordinator ended this session itself (FATAL ErrorResponse)
        self._handshakes = 0
        self._greeting = bytearray()  # the first handshake, held back until complete so a loss can retry it
        self._replay_pending = 0
        self._attempts = 0
        self._deadline: float | None = None
        self._to_client = bytearray()
        self._to_backend = bytearray()
        self._actions: list[Action] = []

    @property
    def started(self) -> bool:
        """The client sent its StartupMessage."""
        return self._startup_packet is not None

    @property
    def idle(self) -> bool:
        """A live backend and no request awaiting its answer."""
        return self.state is BackendState.LIVE and not self._requests and not self.closed

    # ------------------------------------------------------------------ inputs

    def client_data(self, data: bytes) -> list[Action]:
        if self.closed:
            return []
        try:
            if self._startup_packet is None:
                data = self._startup(data)
            if data and self._authenticating and self.state is BackendState.HANDSHAKE:
                self._to_backend += data  # SASL responses: the coordinator checks them
                data = b""
            if data and self._startup_packet is not None and not self.closed:
                for kind, frame in self._client.feed(data):
                    self._client_message(kind, frame)
        except SteadyError as exc:  # a protocol violation, or a plaintext startup where TLS is required
            self._fail(exc)
        return self._take()

    def client_closed(self) -> list[Action]:
        if not self.closed:
            self.closed = True
            self._actions.append(CloseBackend())
        return self._take()

    def backend_connected(self) -> list[Action]:
        assert self._startup_packet is not None
        self.state = BackendState.HANDSHAKE
        self._backend = Splitter(BACKEND_WANTED, bulk=True)
        self._greeting.clear()
        self._backend_said_fatal = False
        self._to_backend += self._backend_packet()
        return self._take()

    def _backend_packet(self) -> bytes:
        """The client's startup packet with :data:`BULK_PARAMETER` added (the coordinator announces runs of result
        messages, which the splitter passes on unread) and, on a reconnect, the resume token (the session was
        authenticated on the first backend)."""
        assert self._startup_packet is not None
        body = self._startup_packet[4:]
        body = body[:-1] if body.endswith(b"\x00\x00") else body  # the list's terminator (a value may be empty)
        body += cstring(BULK_PARAMETER) + cstring("on")
        if self._handshakes and self.resume_token is not None:
            body += cstring(RESUME_PARAMETER) + cstring(self.resume_token)
        body += b"\x00"
        return _I32.pack(len(body) + 4) + body

    def backend_data(self, data: bytes) -> list[Action]:
        if self.closed or self.state in (BackendState.DOWN, BackendState.CONNECTING):
            return []
        try:
            for kind, frame in self._backend.feed(data):
                BACKEND_HANDLERS[self.state](self, kind, frame)
                if self.closed or self.state is BackendState.CONNECTING:
                    break
        except ProtocolViolation:
            self._lost(None)
        return self._take()

    def backend_lost(self, now: float) -> list[Action]:
        """The backend connection ended (end of stream, reset, or a protocol error on it)."""
        if not self.closed:
            self._lost(now)
        return self._take()

    def connect_failed(self, now: float) -> list[Action]:
        if not self.closed:
            self._reconnect_later(now)
        return self._take()

    def out_of_descriptors(self, error: SteadyError) -> list[Action]:
        """The driver cannot open a coordinator connection for want of file descriptors: the client is told at
        once (waiting for a reconnection would only keep its descriptor busy)."""
        if not self.closed:
            self._fail(error)
        return self._take()

    def startup_expired(self, timeout: float) -> list[Action]:
        """The client did not send its StartupMessage in time."""
        if not self.closed and not self.started:
            self._fail(ProtocolViolation(f"client did not complete startup within {timeout:g} s"))
        return self._take()

    def tick(self, now: float) -> list[Action]:
        """Called now and then while no backend is live: enforces the deadline of a (re)connection."""
        if not self.closed and self.state in RECONNECTING:
            if self._deadline is None:
                self._deadline = now + self.retry_deadline
            elif now >= self._deadline:
                self._fail(UNREACHABLE)
        return self._take()

    # ------------------------------------------------------------------ output

    def _take(self) -> list[Action]:
        actions: list[Action] = []
        if self._to_backend:
            actions.append(ToBackend(bytes(self._to_backend)))
            self._to_backend.clear()
        if self._to_client:
            actions.append(ToClient(bytes(self._to_client)))
            self._to_client.clear()
        actions += self._actions
        self._actions = []
        return actions

    def _fail(self, failure: Failure | SteadyError) -> None:
        error = failure.error() if isinstance(failure, Failure) else failure
        self._to_client += encode_notice(error.to_wire("FATAL"), error=True)
        self._to_backend.clear()
        self.closed = True
        self._actions += [CloseClient(), CloseBackend()]

    # ------------------------------------------------------------------ client side

    def _startup(self, data: bytes) -> bytes:
        """Consume startup packets; returns the bytes that follow a StartupMessage."""
        self._startup_buffer += data
        while len(self._startup_buffer) >= 4 and self._startup_packet is None and not self.closed:
            (length,) = _I32.unpack_from(self._startup_buffer)
            if length < 8 or length > MAX_STARTUP_PACKET:
                raise ProtocolViolation(f"invalid length of startup packet: {length}")
            if len(self._startup_buffer) < length:
                break
            packet = bytes(self._startup_buffer[:length])
            del self._startup_buffer[:length]
            STARTUP_HANDLERS[type(decoded := fe.decode_startup(packet[4:]))](self, decoded, packet)
        if self._startup_packet is None:
            return b""
        rest = bytes(self._startup_buffer)
        self._startup_buffer.clear()
        return rest

    def _refuse_encryption(self, packet: object, raw: bytes) -> None:
        self._to_client += SSL_REFUSED

    def _accept_tls(self, packet: fe.SSLRequest, raw: bytes) -> None:
        if not self.tls_available or self.encrypted:
            self._refuse_encryption(packet, raw)
            return
        if self._startup_buffer:  # bytes sent before the handshake would be taken as sent inside it
            raise ProtocolViolation("unencrypted data after SSL request")
        self._to_client += SSL_ACCEPTED
        self._actions.append(StartTls())
        self.encrypted = True

    def _cancel(self, packet: fe.CancelRequest, raw: bytes) -> None:
        self.closed = True
        self._actions += [ForwardCancel(packet.process_id, packet.secret_key), CloseClient()]

    def _start(self, packet: fe.StartupMessage, raw: bytes) -> None:
        if self.refusal is not None:  # after the SSL negotiation, as PostgreSQL reports too many clients
            raise self.refusal
        if self.require_tls and not self.encrypted:
            raise InvalidAuthorization("this server accepts encrypted connections only",
                                       hint="connect with sslmode=require (or verify-full)")
        self._startup_packet = raw
        self.state = BackendState.CONNECTING
        self._actions.append(ConnectBackend(0.0))

    def _current(self) -> _Request:
        if not self._requests or self._requests[-1].closed:
            self._requests.append(_Request())
        return self._requests[-1]

    def _client_message(self, kind: bytes | None, frame: bytes) -> None:
        request: _Request | None
        if kind is None or kind in (b"c", b"f"):  # COPY data: never resent
            request = self._requests[0] if self._requests else None
            if request is not None:
                request.retryable = False
        elif kind == b"X":
            self.closed = True
            if self.state is BackendState.LIVE:
                self._to_backend += frame
            self._actions += [CloseBackend(), CloseClient()]
            return
        elif kind == b"Q":
            classified = classify_sql(fe.decode_message(kind, frame[5:]).sql)  # type: ignore[union-attr]
            request = self._current()
            request.closed = True
            request.retryable = request.retryable and classified.retryable
            request.settings += classified.settings
            request.deallocated += classified.deallocated
            request.commits = classified.commits
        else:
            request = self._current()
            EXTENDED_TRACKERS.get(kind, _untracked)(self, request, fe.decode_message(kind, frame[5:]), frame)
        if request is not None:
            if request.retryable and request.raw is not None:
                request.raw += frame
            else:
                request.raw = None
        self._send(frame, request)

    def _send(self, frame: bytes, request: _Request | None) -> None:
        if self.state is BackendState.LIVE:
            self._to_backend += frame
            if request is not None:
                request.sent = True
            return
        self._unsent += frame
        if len(self._unsent) > MAX_UNSENT:
            self._fail(BACKLOG_TOO_LARGE)
            return
        if self.state is BackendState.DOWN:
            self.state = BackendState.CONNECTING
            self._actions.append(ConnectBackend(0.0))

    def _track_parse(self, request: _Request, msg: fe.Parse, frame: bytes) -> None:
        self._statement_sql[msg.name] = msg.sql
        request.parses.append((msg.name, frame))

    def _track_bind(self, request: _Request, msg: fe.Bind, frame: bytes) -> None:
        self._portal_sql[msg.portal] = self._statement_sql.get(msg.statement)

    def _track_execute(self, request: _Request, msg: fe.Execute, frame: bytes) -> None:
        sql = self._portal_sql.get(msg.portal)
        if sql is None:
            request.retryable = False
            return
        classified = classify_sql(sql)
        request.retryable = request.retryable and classified.retryable
        request.settings += classified.settings

    def _track_close(self, request: _Request, msg: fe.Close, frame: bytes) -> None:
        request.closes.append((msg.kind, msg.name))

    def _track_sync(self, request: _Request, msg: fe.Sync, frame: bytes) -> None:
        request.closed = True

    # ------------------------------------------------------------------ backend side

    def _on_handshake(self, kind: bytes | None, frame: bytes) -> None:
        first = self._handshakes == 0
        if kind == b"K":
            self.backend_key = _KEY.unpack_from(frame, 5)
            if first:
                self._greeting += encode_backend_key_data(*self.key)
        elif kind == b"R":
            self._on_authentication(first, frame)
        elif kind == b"E" and _sqlstate(frame) == STARTING_UP:  # a coordinator not ready yet: try again
            self._actions.append(CloseBackend())
            self._reconnect_later(None)
        elif kind == b"E":
            if first:  # refused (a bad startup packet, say): the client hears it as it would have
                self._to_client += self._greeting + frame
                self.closed = True
                self._actions += [CloseClient(), CloseBackend()]
            else:
                self._fail(SESSION_NOT_RESTORED)
        elif kind == b"Z":
            if first:
                self._to_client += self._greeting + frame
                self.status = chr(frame[5])
            self._handshakes += 1
            self._replay()
        elif first:
            self._greeting += frame

    def _on_authentication(self, first: bool, frame: bytes) -> None:
        (code,) = _I32.unpack_from(frame, 5)
        if code == 0:  # AuthenticationOk
            self._authenticating = False
            if first:
                self._greeting += frame
        elif first:  # a SASL step: the client must see it now, and answer it
            self._auth_started = True
            self._authenticating = code != AUTH_SASL_FINAL
            self._to_client += self._greeting + frame
            self._greeting.clear()
        else:  # a resumed session is not asked for a password
            self._fail(SESSION_NOT_RESTORED)

    def _replay(self) -> None:
        replay = [message(b"Q", cstring(statement)) for statement in self.settings.values()]
        if self.prepared:
            replay.append(b"".join(self.prepared.values()) + SYNC)
        self._replay_pending = len(replay)
        self._to_backend += b"".join(replay)
        self.state = BackendState.REPLAY
        if not replay:
            self._go_live()

    def _on_replay(self, kind: bytes | None, frame: bytes) -> None:
        if kind == b"E":
            self._fail(SESSION_NOT_RESTORED)
        elif kind == b"Z":
            self._replay_pending -= 1
            if self._replay_pending == 0:
                self._go_live()

    def _go_live(self) -> None:
        self.state = BackendState.LIVE
        self._attempts = 0
        self._deadline = None
        if self._unsent:
            self._to_backend += self._unsent
            self._unsent.clear()
            for request in self._requests:
                request.sent = True

    def _on_live(self, kind: bytes | None, frame: bytes) -> None:
        self._to_client += frame
        if kind is None:
            if self._requests and self._requests[0].sent:
                self._response_started = True
            return
        LIVE_TRACKERS.get(kind, _untracked)(self, self._requests[0] if self._requests else None, frame)

    def _parse_complete(self, request: _Request | None, frame: bytes) -> None:
        self._response_started = True
        if request is not None and request.parses:
            name, parse = request.parses.popleft()
            if name:
                self.prepared[name] = parse

    def _close_complete(self, request: _Request | None, frame: bytes) -> None:
        self._response_started = True
        if request is not None and request.closes:
            kind, name = request.closes.popleft()
            if kind == "S":
                self.prepared.pop(name, None)

    def _error(self, request: _Request | None, frame: bytes) -> None:
        self._response_started = True
        if frame[5:12] in (b"SFATAL\x00", b"SPANIC\x00"):
            self._backend_said_fatal = True
        if request is not None:
            request.errored = True

    def _ready_for_query(self, request: _Request | None, frame: bytes) -> None:
        was = self.status
        self.status = chr(frame[5])
        self._response_started = False
        if request is None:
            return
        self._requests.popleft()
        if request.errored:
            if self.status != "T":
                self._transaction_settings.clear()
            return
        for name in request.deallocated:  # DEALLOCATE is not transactional
            if name == "all":
                self.prepared.clear()
            else:
                self.prepared.pop(name, None)
        if self.status == "T":
            self._transaction_settings += request.settings
            return
        settings = request.settings
        if was == "T" and request.commits:
            settings = self._transaction_settings + settings
        self._transaction_settings = []
        if self.status == "I":
            for statement in settings:
                self._remember(statement)

    def _remember(self, statement: str) -> None:
        key = setting_key(statement)
        if key is None:
            key = statement
        if statement.lower().startswith("reset"):
            if key == "all":
                self.settings.clear()
            else:
                self.settings.pop(key, None)
            return
        self.settings.pop(key, None)
        self.settings[key] = statement

    # ------------------------------------------------------------------ losing the backend

    def _lost(self, now: float | None) -> None:
        self._actions.append(CloseBackend())
        if self._handshakes == 0 and self._auth_started:  # the client cannot restart its SASL exchange
            self._fail(AUTHENTICATION_LOST)
            return
        if self.state is not BackendState.LIVE:
            if self.state is not BackendState.DOWN:
                self._reconnect_later(now)
            return
        if self._backend_said_fatal:  # the client was told why; it ends as it would have without the proxy
            self.closed = True
            self._actions.append(CloseClient())
            return
        sent = [r for r in self._requests if r.sent]
        if not sent:
            inflight = Inflight.NONE
        elif any(r.commits for r in sent):
            inflight = Inflight.COMMIT
        elif all(r.retryable and r.raw is not None for r in sent):
            inflight = Inflight.RETRYABLE
        else:
            inflight = Inflight.UNSAFE
        decision, failure = LOSS_DECISIONS[(self.status != "I", inflight, self._response_started)]
        self._actions.append(BackendLost(decision, len(sent)))
        if failure is not None:
            self._fail(failure)
            return
        self._response_started = False
        self.state = BackendState.DOWN
        if decision is Decision.RETRY:
            self._unsent = bytearray().join(r.raw for r in self._requests if r.raw is not None) + self._unsent
            for request in self._requests:
                request.sent = False
                request.errored = False
        if self._unsent:
            self._reconnect_later(now)

    def _reconnect_later(self, now: float | None) -> None:
        if now is not None and self._deadline is None:
            self._deadline = now + self.retry_deadline
        if now is not None and self._deadline is not None and now >= self._deadline:
            self._fail(UNREACHABLE)
            return
        delay = 0.0 if self._attempts == 0 else min(BACKOFF_START_S * 2 ** (self._attempts - 1), BACKOFF_MAX_S)
        self._attempts += 1
        self.state = BackendState.CONNECTING
        self._actions.append(ConnectBackend(delay))


def _sqlstate(frame: bytes) -> str:
    """The SQLSTATE (field ``C``) of an ErrorResponse frame."""
    for field_ in frame[5:].split(b"\x00"):
        if field_[:1] == b"C":
            return field_[1:].decode("ascii", "replace")
    return ""


def _untracked(*_: object) -> None:
    pass


STARTUP_HANDLERS: dict[type, Callable[..., None]] = {
    fe.SSLRequest: ProxyConnection._accept_tls,
    fe.GSSENCRequest: ProxyConnection._refuse_encryption,
    fe.CancelRequest: ProxyConnection._cancel,
    fe.StartupMessage: ProxyConnection._start,
}

#: extended-protocol message type → what the proxy records of it
EXTENDED_TRACKERS: dict[bytes, Callable[..., None]] = {
    b"P": ProxyConnection._track_parse,
    b"B": ProxyConnection._track_bind,
    b"E": ProxyConnection._track_execute,
    b"C": ProxyConnection._track_close,
    b"S": ProxyConnection._track_sync,
}

#: server message type (while live) → what it changes in the proxy's view of the session
LIVE_TRACKERS: dict[bytes, Callable[..., None]] = {
    b"1": ProxyConnection._parse_complete,
    b"3": ProxyConnection._close_complete,
    b"E": ProxyConnection._error,
    b"Z": ProxyConnection._ready_for_query,
}

BACKEND_HANDLERS: dict[BackendState, Callable[[ProxyConnection, bytes | None, bytes], None]] = {
    BackendState.HANDSHAKE: ProxyConnection._on_handshake,
    BackendState.REPLAY: ProxyConnection._on_replay,
    BackendState.LIVE: ProxyConnection._on_live,
}
