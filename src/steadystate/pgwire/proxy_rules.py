"""The proxy's vocabulary: message splitting, statement classification, actions and the decision table.

Sans-I/O helpers of :mod:`~steadystate.pgwire.proxy` (the per-connection state machine):

* :class:`Splitter` cuts a typed-message byte stream at message boundaries reading only the 5-byte headers.
  Messages whose type is not *wanted* pass through as runs of raw bytes (a partial one is passed on at once,
  its remaining length remembered), so bulk data — DataRows of a large result, CopyData of a ``COPY FROM
  STDIN`` — is forwarded in the chunks it arrived in, never copied message by message.  Wanted messages are
  buffered until complete and returned whole.  With ``bulk`` (the coordinator's side of the proxy, which asks
  for it by :data:`~steadystate.pgwire.wire.BULK_PARAMETER`) a ``BULK_MESSAGE`` frame announces how many bytes of
  whole messages follow: the splitter drops the frame and passes those bytes on without reading their headers —
  a large result's DataRows cost the proxy no Python step per row.
* :func:`classify_sql` says whether a statement text is safe to send again to a new coordinator (a read, or a
  session setting) and which of its statements are ``SET``/``RESET`` to remember for replay.
* :data:`LOSS_DECISIONS` is the table that decides what a lost backend means for the client: reconnect lazily,
  retry the in-flight request, or fail the connection with a clear error.
* The actions (:class:`ToClient`, :class:`ToBackend`, ...) are what the state machine asks its driver to do.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import Enum
from typing import Iterator

from steadystate.errors import CoordinatorLost, ProtocolViolation, SteadyError

from .wire import BULK_MESSAGE

_HEADER = struct.Struct("!ci")
_I32 = struct.Struct("!i")
MAX_WANTED_MESSAGE = 64 * 1024 * 1024


class Splitter:
    """Cuts a stream of typed messages at their boundaries; see the module docstring."""

    __slots__ = ("wanted", "bulk", "_buffer", "_skip")

    def __init__(self, wanted: frozenset[bytes], *, bulk: bool = False) -> None:
        self.wanted = frozenset(wanted)
        self.bulk = bulk  # the stream announces runs of messages by BULK_MESSAGE frames (dropped here)
        self._buffer = b""
        self._skip = 0  # bytes of a passed-through message still to come

    def feed(self, data: bytes) -> Iterator[tuple[bytes | None, bytes]]:
        """Yield ``(None, raw run)`` for passed-through bytes and ``(type, whole frame)`` for wanted messages."""
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                if data:
                    yield None, data
                return
            head, data = data[: self._skip], data[self._skip :]
            self._skip = 0
            yield None, head
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        wanted = self.wanted
        unpack = _HEADER.unpack_from
        end = len(buffer)
        position = run_start = 0
        while end - position >= 5:
            kind, length = unpack(buffer, position)
            if length < 4:
                raise ProtocolViolation(f"invalid message length: {length}")
            frame_end = position + 1 + length
            if kind == BULK_MESSAGE and self.bulk:
                if length != 8:
                    raise ProtocolViolation(f"invalid bulk frame length: {length}")
                if frame_end > end:
                    break
                (size,) = _I32.unpack_from(buffer, position + 5)
                if size < 0:
                    raise ProtocolViolation(f"invalid bulk size: {size}")
                if run_start < position:
                    yield None, buffer[run_start:position]
                run_start = position = frame_end  # the frame itself is not passed on
                if position + size > end:
                    self._skip = position + size - end
                    position = end
                    break
                position += size
                continue
            if kind in wanted:
                if length > MAX_WANTED_MESSAGE:
                    raise ProtocolViolation(f"message of type {kind!r} too large: {length} bytes")
                if frame_end > end:
                    break
                if run_start < position:
                    yield None, buffer[run_start:position]
                yield kind, buffer[position:frame_end]
                run_start = position = frame_end
            elif frame_end > end:
                self._skip = frame_end - end
                position = end
                break
            else:
                position = frame_end
        if run_start < position:
            yield None, buffer[run_start:position]
        self._buffer = buffer[position:]

    @property
    def buffered(self) -> int:
        return len(self._buffer)


# ---------------------------------------------------------------------------- statement classification


class Kind(Enum):
    READ = "read"  # no effect: safe to run again on a new coordinator
    SESSION = "session"  # a session setting: safe to run again, remembered for replay when it succeeds
    WRITE = "write"  # anything else: never run twice


#: the first word of a statement → its kind; a word not listed is a WRITE (the safe default)
FIRST_WORD_KINDS: dict[str, Kind] = {
    "select": Kind.READ, "show": Kind.READ, "explain": Kind.READ, "table": Kind.READ, "values": Kind.READ,
    "with": Kind.READ, "begin": Kind.READ, "start": Kind.READ, "": Kind.READ,
    "set": Kind.SESSION, "reset": Kind.SESSION, "deallocate": Kind.SESSION,
}

_DATA_MODIFYING = re.compile(r"\b(insert|update|delete|merge|copy|subscribe|create|drop|alter)\b")
_REMEMBERED = re.compile(r"^(set|reset)\b(?!\s+(local|transaction|session\s+characteristics)\b)")
_DEALLOCATE = re.compile(r'^deallocate\s+(?:prepare\s+)?("(?:[^"]|"")+"|\w+)\s*$', re.I)
_SETTING_NAME = re.compile(r'^(?:set|reset)\s+(?:session\s+)?("(?:[^"]|"")+"|[\w.]+(?:\s+zone)?)')
#: an escape string ``E'...'`` (a backslash escapes a quote), a string, an identifier, a comment, a dollar quote, a
#: semicolon, a run of anything else (stopping before an ``E'``), or one character
_TOKEN = re.compile(r"(?<![\w$])[eE]'(?:\\.|''|[^'\\])*'|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/"
                    r"|(\$\w*\$).*?\1|;|(?:[^'\";$/eE-]|[eE](?!'))+|.", re.S)


def split_statements(sql: str) -> list[str]:
    """The statements of a query string, split at semicolons outside quotes, comments and dollar quotes.

    Comments are dropped, string literals are kept; empty statements are left out.
    """
    statements: list[str] = []
    current: list[str] = []
    for match in _TOKEN.finditer(sql):
        token = match.group(0)
        if token == ";":
            statements.append("".join(current).strip())
            current = []
        elif not (token.startswith("--") or token.startswith("/*")):
            current.append(token)
    statements.append("".join(current).strip())
    return [s for s in statements if s]


@dataclass(frozen=True)
class Classified:
    retryable: bool  # every statement is a READ or a SESSION setting
    settings: tuple[str, ...]  # the SET/RESET statements to remember if the query succeeds outside a transaction
    deallocated: tuple[str, ...] = ()  # prepared statements DEALLOCATEd (``"all"``: every one), if it succeeds
    commits: bool = False  # ends with COMMIT / END: the settings made in the transaction take effect


def statement_kind(statement: str) -> Kind:
    words = statement.split(None, 1)
    first = words[0].lower() if words else ""
    kind = FIRST_WORD_KINDS.get(first, Kind.WRITE)
    if first == "with" and _DATA_MODIFYING.search(_without_literals(statement).lower()):
        return Kind.WRITE
    return kind


#: query strings longer than this are not split and classified (that costs many times their size in memory):
#: they are treated as writes (never resent) and their SET/RESET/DEALLOCATE statements are not remembered
CLASSIFY_LIMIT = 1024 * 1024


def classify_sql(sql: str) -> Classified:
    if len(sql) > CLASSIFY_LIMIT:
        return Classified(False, ())
    statements = split_statements(sql)
    kinds = [statement_kind(s) for s in statements]
    settings = tuple(s for s in statements if _REMEMBERED.match(s.lower()))
    deallocated = tuple(_deallocated_name(match.group(1)) for s in statements if (match := _DEALLOCATE.match(s)))
    commits = bool(statements) and statements[-1].split(None, 1)[0].lower() in ("commit", "end")
    return Classified(all(k is not Kind.WRITE for k in kinds), settings, deallocated, commits)


def _deallocated_name(word: str) -> str:
    if word.startswith('"'):
        return word[1:-1].replace('""', '"')
    return word.lower()


def setting_key(statement: str) -> str | None:
    """The setting a SET/RESET statement names (lowercased), ``"all"`` for RESET ALL, None if unrecognized."""
    match = _SETTING_NAME.match(statement.lower())
    return match.group(1) if match else None


def _without_literals(statement: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "''", statement)


# ---------------------------------------------------------------------------- what a lost backend means


class Inflight(Enum):
    NONE = "none"  # nothing sent to the lost backend awaits an answer
    RETRYABLE = "retryable"  # only reads / session settings were in flight
    UNSAFE = "unsafe"  # a write, DDL, COPY or SUBSCRIBE was in flight
    COMMIT = "commit"  # a COMMIT (or a query ending in one) was in flight: the transaction may have been applied


class Decision(Enum):
    RECONNECT_LAZILY = "reconnect lazily"  # invisible: reconnect when the next request arrives
    RETRY = "retry"  # reconnect now and resend the in-flight requests
    FAIL = "fail"  # ErrorResponse, then close the client connection


@dataclass(frozen=True)
class Failure:
    """How the client is told its connection is lost: message and hint of a FATAL ErrorResponse."""

    message: str
    hint: str | None
    sqlstate: str = CoordinatorLost.sqlstate

    def error(self) -> SteadyError:
        return CoordinatorLost(self.message, sqlstate=self.sqlstate, hint=self.hint)


TRANSACTION_LOST = Failure(
    "connection to the coordinator was lost; the open transaction was aborted",
    "reconnect and run the whole transaction again",
)
OUTCOME_UNKNOWN = Failure(
    "connection to the coordinator was lost; the outcome of the statement is unknown",
    "reconnect and check whether the statement took effect before running it again",
)
RESULT_CUT_SHORT = Failure(
    "connection to the coordinator was lost while the result was being sent",
    "reconnect and run the query again",
)
UNREACHABLE = Failure(
    "could not reach the coordinator",
    "the coordinator did not come back in time; check the server log",
)
BACKLOG_TOO_LARGE = Failure(
    "too much data waiting for the coordinator to come back",
    "send less at once while the server restarts",
    "53200",
)
SESSION_NOT_RESTORED = Failure(
    "connection to the coordinator was lost and the session could not be restored",
    "reconnect and set up the session again",
)

#: (in a transaction, what was in flight, a byte of the response already forwarded) → decision, failure
LOSS_DECISIONS: dict[tuple[bool, Inflight, bool], tuple[Decision, Failure | None]] = {
    (False, Inflight.NONE, False): (Decision.RECONNECT_LAZILY, None),
    (False, Inflight.NONE, True): (Decision.RECONNECT_LAZILY, None),
    (False, Inflight.RETRYABLE, False): (Decision.RETRY, None),
    (False, Inflight.RETRYABLE, True): (Decision.FAIL, RESULT_CUT_SHORT),
    (False, Inflight.UNSAFE, False): (Decision.FAIL, OUTCOME_UNKNOWN),
    (False, Inflight.UNSAFE, True): (Decision.FAIL, OUTCOME_UNKNOWN),
    (True, Inflight.NONE, False): (Decision.FAIL, TRANSACTION_LOST),
    (True, Inflight.NONE, True): (Decision.FAIL, TRANSACTION_LOST),
    (True, Inflight.RETRYABLE, False): (Decision.FAIL, TRANSACTION_LOST),
    (True, Inflight.RETRYABLE, True): (Decision.FAIL, TRANSACTION_LOST),
    (True, Inflight.UNSAFE, False): (Decision.FAIL, TRANSACTION_LOST),
    (True, Inflight.UNSAFE, True): (Decision.FAIL, TRANSACTION_LOST),
    # whether a COMMIT was applied is unknown (it is applied wholly or not at all): never "aborted", never resent
    (False, Inflight.COMMIT, False): (Decision.FAIL, OUTCOME_UNKNOWN),
    (False, Inflight.COMMIT, True): (Decision.FAIL, OUTCOME_UNKNOWN),
    (True, Inflight.COMMIT, False): (Decision.FAIL, OUTCOME_UNKNOWN),
    (True, Inflight.COMMIT, True): (Decision.FAIL, OUTCOME_UNKNOWN),
}


# ---------------------------------------------------------------------------- actions for the driver


@dataclass(frozen=True)
class ToClient:
    data: bytes


@dataclass(frozen=True)
class ToBackend:
    data: bytes


@dataclass(frozen=True)
class ConnectBackend:
    """Open a new backend connection after ``delay`` seconds, then call ``backend_connected``."""

    delay: float


@dataclass(frozen=True)
class CloseClient:
    """Close the client connection (after the data already asked for is written)."""


@dataclass(frozen=True)
class CloseBackend:
    pass


@dataclass(frozen=True)
class ForwardCancel:
    """A CancelRequest naming the proxy-owned key ``(process_id, secret_key)``: cancel that connection's request."""

    process_id: int
    secret_key: int


@dataclass(frozen=True)
class BackendLost:
    """For the log: what the loss of a backend meant (``requests`` = in-flight requests resent)."""

    decision: Decision
    requests: int


@dataclass(frozen=True)
class StartTls:
    """The client's SSLRequest was accepted (``S`` is in the ToClient before this): run the TLS handshake on the
    client connection before reading anything more from it."""


Action = (ToClient | ToBackend | ConnectBackend | CloseClient | CloseBackend | ForwardCancel | BackendLost
          | StartTls)
