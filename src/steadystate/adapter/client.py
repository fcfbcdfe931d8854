"""The contract between the wire protocol and the adapter: what pgwire asks of a database session.

pgwire knows nothing about SQL.  It hands statement text to a :class:`Session` and turns the
*outcomes* it gets back into protocol messages.  The adapter implements :class:`Backend` (accepts
connections, routes cancel requests) and :class:`Session` (one per client connection).

An outcome describes the result of ONE statement:

* :class:`RowsOutcome` — a result set (``SELECT``, ``SHOW``...); rows are a plain iterable or an async
  iterator of tuples of Python datums (see ``steadystate.repr.types``).
* :class:`CommandOutcome` — a statement without rows; ``tag`` is the CommandComplete tag.
* :class:`EmptyOutcome` — an empty query string.
* :class:`CopyOutOutcome` — ``COPY ... TO STDOUT``; rows may never end (``SUBSCRIBE``).
* :class:`CopyInOutcome` — ``COPY t FROM STDIN``; pgwire parses the data and feeds ``sink``.

Errors are raised as :class:`steadystate.errors.SteadyError`; anything else is treated as an internal bug.  Notices
(``Session.take_notices``) come as :class:`steadystate.errors.ErrorFields`, the one shape of an error's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterable, AsyncIterator, Callable, Iterable, Protocol, Union, runtime_checkable

from steadystate.errors import ErrorFields
from steadystate.repr import Row


@dataclass(frozen=True)
class Field:
    """One column of a RowDescription."""

    name: str
    type_oid: int
    type_size: int
    type_modifier: int = -1


@dataclass
class RowsOutcome:
    """A statement that returns rows.  A ``tag`` without a trailing count gets the number of rows sent."""

    fields: list[Field]
    rows: Iterable[Row] | AsyncIterator[Row] | AsyncIterable[Row]
    tag: str = "SELECT"


@dataclass
class CommandOutcome:
    """A statement without rows, e.g. ``CREATE TABLE`` or ``INSERT 0 3``.

    ``deallocate`` names a prepared statement that SQL ``DEALLOCATE`` released (``"*"`` for ``ALL``): prepared
    statements live in the protocol layer, so pgwire forgets them.
    """

    tag: str
    deallocate: str | None = None
    #: parameters the statement changed that the client is told of (ParameterStatus): ``SET TimeZone``
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class EmptyOutcome:
    """An empty statement (the query string held only whitespace or semicolons)."""


@dataclass
class CopyOutOutcome:
    """``COPY (...) TO STDOUT`` in text format; ``rows`` may never end (``SUBSCRIBE``)."""

    fields: list[Field]
    rows: AsyncIterator[Row] | AsyncIterable[Row] | Iterable[Row]
    tag_prefix: str = "COPY"


@runtime_checkable
class CopyInSink(Protocol):
    """Where the parsed rows of ``COPY t FROM STDIN`` go."""

    async def write_rows(self, rows: list[tuple[str | None, ...]]) -> None: ...

    async def finish(self) -> str: ...

    async def abort(self, reason: str) -> None: ...


@dataclass
class CopyInOutcome:
    """``COPY t FROM STDIN``: the data format pgwire parses and the sink that takes the rows."""

    columns: int
    format: str  # "text" | "csv" | "binary"
    delimiter: str
    null: str
    header: bool
    sink: CopyInSink
    quote: str = '"'
    escape: str = '"'
    type_oids: tuple[int, ...] = ()  # the target columns' type oids: how the binary format's fields are read


Outcome = Union[RowsOutcome, CommandOutcome, EmptyOutcome, CopyOutOutcome, CopyInOutcome]


@runtime_checkable
class Session(Protocol):
    """One client connection's database session."""

    process_id: int
    secret_key: int

    def parameter_status(self) -> dict[str, str]: ...

    def transaction_status(self) -> str: ...  # "I" | "T" | "E"

    def take_notices(self) -> list[ErrorFields]: ...

    # where a notice of a statement still running goes at once (pgwire writes it to the client), or None
    def set_live_notices(self, sink: Callable[[ErrorFields], None] | None) -> None: ...

    def execute_simple(self, sql: str) -> AsyncIterator[Outcome]: ...  # may also be an awaitable of one

    async def describe(self, sql: str, param_oids: list[int]) -> tuple[list[int], list[Field] | None]: ...

    async def execute(self, sql: str, params: list[Any], param_oids: list[int]) -> Outcome: ...

    async def close(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """Accepts connections (one :class:`Session` each) and routes cancel requests."""

    async def connect(self, user: str, database: str, options: dict[str, str]) -> Session: ...

    async def cancel(self, process_id: int, secret_key: int) -> None: ...
