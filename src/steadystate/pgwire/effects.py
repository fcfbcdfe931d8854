"""What the sans-I/O wire conversation asks of the world, and what the world tells it back.

The conversation (:mod:`~steadystate.pgwire.conversation`) is written in the style psycopg uses for its
own protocol: a generator that ``yield``\\ s one *effect* at a time and is resumed with the effect's result.
The effects are plain frozen dataclasses, so a test can read them like a transcript:

* I/O with the client: :class:`Send` (write these bytes and wait for the socket to drain) and
  :class:`Receive` (the next chunk of client bytes; ``b""`` means end of stream).
* Calls into the adapter, one per method of the :mod:`~steadystate.adapter.client` contract:
  :class:`Connect`, :class:`CancelBackend`, :class:`TakeNotices`, :class:`TransactionStatus`,
  :class:`ExecuteSimple` / :class:`NextOutcome`, :class:`Describe`, :class:`Execute`, :class:`NextRow`
  (one row of an asynchronous result), :class:`CloseIterator`, :class:`WriteCopyRows` /
  :class:`FinishCopy` / :class:`AbortCopy` (the sink of ``COPY FROM STDIN``) and :class:`CloseSession`.

Results that are adapter objects (an outcome stream, a row iterator, a COPY sink) are *handles*: the
conversation never touches them, it only hands them back in later effects.  A plain (synchronous) row
iterable is the exception: iterating it is computation, not I/O, so the conversation does it itself.

When an effect fails, the driver throws the exception into the generator at the ``yield``: a
:class:`~steadystate.errors.SteadyError` from the adapter, :class:`ClientGone` when the client's socket
failed, :class:`Interrupted` when the driver itself is being shut down (the conversation then releases
what it holds and ends), :class:`FatalProtocolError` when the client did not finish its startup in time.
:class:`~steadystate.errors.QueryCanceled` arrives while the conversation is :attr:`Phase.STREAMING`
and a CancelRequest named this connection.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from steadystate.errors import SteadyError

T = TypeVar("T")


class Phase(Enum):
    """Where the conversation is; the driver reads it (startup deadline, what a cancel may interrupt)."""

    STARTUP = "startup"  # before the session exists: SSL/GSSENC refusals, CancelRequest, StartupMessage
    READY = "ready"  # the message loop: simple and extended queries
    COPY_IN = "copy_in"  # COPY FROM STDIN: only CopyData/CopyDone/CopyFail (Flush/Sync ignored)
    STREAMING = "streaming"  # sending an asynchronous result (rows, COPY TO STDOUT, SUBSCRIBE): cancellable
    CLOSED = "closed"


class EndOfRows(Enum):
    """The result of :class:`NextRow` / :class:`NextOutcome` when the iterator is exhausted."""

    END = "END"


END = EndOfRows.END


# ---------------------------------------------------------------- the client socket


@dataclass(frozen=True)
class Send:
    """Write ``data`` to the client and wait until the socket has drained.  Result: None."""

    data: bytes


@dataclass(frozen=True)
class Receive:
    """Wait for client bytes.  Result: the bytes, ``b""`` at end of stream."""


# ---------------------------------------------------------------- the adapter


@dataclass(frozen=True)
class SessionInfo:
    """The result of :class:`Connect`: what the protocol needs to know about the new session."""

    process_id: int
    secret_key: int
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Connect:
    """``Backend.connect``.  Result: :class:`SessionInfo`; the driver keeps the session itself."""

    user: str
    database: str
    options: dict[str, str]


@dataclass(frozen=True)
class CancelBackend:
    """A CancelRequest packet: route it (to the backend and to the target connection).  Result: None."""

    process_id: int
    secret_key: int


@dataclass(frozen=True)
class TakeNotices:
    """``Session.take_notices``.  Result: ``list[ErrorFields]`` (``steadystate.errors``)."""


@dataclass(frozen=True)
class TransactionStatus:
    """``Session.transaction_status``.  Result: ``"I"``, ``"T"`` or ``"E"``."""


@dataclass(frozen=True)
class ExecuteSimple:
    """``Session.execute_simple``.  Result: a handle on the stream of outcomes (see :class:`NextOutcome`)."""

    sql: str


@dataclass(frozen=True)
class NextOutcome:
    """The next outcome of an :class:`ExecuteSimple` handle.  Result: an Outcome, or :data:`END`."""

    outcomes: Any = field(compare=False)


@dataclass(frozen=True)
class Describe:
    """``Session.describe``.  Result: ``(parameter oids, fields or None)``."""

    sql: str
    param_oids: list[int]


@dataclass(frozen=True)
class Execute:
    """``Session.execute`` (one statement of the extended protocol).  Result: an Outcome."""

    sql: str
    params: list[Any]
    param_oids: list[int]


@dataclass(frozen=True)
class NextRow:
    """The next row of an asynchronous row iterator.  Result: a tuple, or :data:`END`."""

    rows: Any = field(compare=False)


@dataclass(frozen=True)
class CloseIterator:
    """Close an outcome stream or an asynchronous row iterator (``aclose()``).  Result: None."""

    source: Any = field(compare=False)


@dataclass(frozen=True)
class WriteCopyRows:
    """``CopyInSink.write_rows``.  Result: None."""

    sink: Any = field(compare=False)
    rows: list[tuple[str | None, ...]] = field(compare=False)


@dataclass(frozen=True)
class FinishCopy:
    """``CopyInSink.finish``.  Result: the CommandComplete tag."""

    sink: Any = field(compare=False)


@dataclass(frozen=True)
class AbortCopy:
    """``CopyInSink.abort``.  Result: None (a failure is ignored)."""

    sink: Any = field(compare=False)
    reason: str


@dataclass(frozen=True)
class CloseSession:
    """``Session.close``.  Result: None."""


class AuthMethod(Enum):
    """How a connection proves who it is (chosen by the server's :data:`Authenticator`)."""

    TRUST = "trust"  # no proof: ``--insecure`` development mode, or a session the proxy resumes
    SCRAM = "scram-sha-256"  # the client proves it knows the password of the role (SASL exchange)


@dataclass(frozen=True)
class Credentials:
    """The result of :class:`Authenticate`: the method, and for SCRAM the role's verifier (None: no such role,
    or a role without a password; the exchange then runs against a fake one and fails)."""

    method: AuthMethod
    verifier: str | None = None


@dataclass(frozen=True)
class Authenticate:
    """Look up how ``user`` must authenticate.  ``resume`` is the token the supervisor's proxy adds when it
    carries an already authenticated session over to a new coordinator.  Result: :class:`Credentials`, or a
    :class:`~steadystate.errors.SteadyError` (a wrong resume token, a server starting up)."""

    user: str
    resume: str | None = None


Effect = (
    Send | Receive | Connect | CancelBackend | TakeNotices | TransactionStatus | ExecuteSimple | NextOutcome
    | Describe | Execute | NextRow | CloseIterator | WriteCopyRows | FinishCopy | AbortCopy | CloseSession
    | Authenticate
)

#: A step of the conversation: yields effects, is sent their results, returns ``T``.
Steps = Generator[Effect, Any, T]


# ---------------------------------------------------------------- what the driver throws in


class ConnectionEnded(Exception):
    """The connection is over; the conversation releases what it holds and returns."""


class ClientGone(ConnectionEnded):
    """The peer closed the connection or a write to it failed."""


class Interrupted(ConnectionEnded):
    """The driver is being shut down (its task was cancelled): clean up without talking to the client."""


class FatalProtocolError(Exception):
    """A framing-level violation (or a startup that took too long): report it and close the connection."""

    def __init__(self, error: SteadyError) -> None:
        super().__init__(error.message)
        self.error = error


def internal_error(exc: BaseException) -> SteadyError:
    """The ErrorResponse for a bug: any exception from the adapter that is not a SteadyError."""
    return SteadyError(f"internal error: {type(exc).__name__}: {exc}", sqlstate="XX000")
