"""The one error hierarchy of steadystate.

Every failure a user can see is a :class:`SteadyError` carrying a PostgreSQL SQLSTATE, a message in
PostgreSQL's style (lowercase, no trailing period, names in double quotes), and optional detail and hint.
Lower layers raise these (or their internal subclasses).  Where an error crosses a boundary as data it has one
shape, :class:`ErrorFields`: the compute protocol carries it (``PeekResponse.error``, ``SubscribeResponse.error``),
the adapter hands pgwire its notices in it and pgwire encodes ErrorResponse/NoticeResponse from it.  The
conversions are :meth:`SteadyError.to_wire` and :meth:`ErrorFields.to_error`, at the boundaries.  (Inside a
dataflow an evaluation error is a datum, ``dataflow.collection.EvalError``: hashable, ordered and counted like a
row, and stored in a materialized view's errors shard; ``EvalError.to_fields`` gives its ErrorFields.)  Errors are
translated at layer boundaries and never swallowed.

Subclasses exist per SQLSTATE class so callers can catch what they can handle; each subclass fixes a
default SQLSTATE that a raiser may override.
"""

from __future__ import annotations

import msgspec


class SteadyError(Exception):
    """Base of every user-facing error."""

    sqlstate: str = "XX000"
    position: int | None = None  # 1-based offset of the error in the statement text, where known

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint

    @property
    def severity(self) -> str:
        return "ERROR"

    def to_wire(self, severity: str | None = None) -> "ErrorFields":
        """The error's fields, to send (``severity`` overrides the error's own, e.g. FATAL)."""
        return ErrorFields(self.sqlstate, self.message, self.detail, self.hint, severity or self.severity,
                           self.position)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sqlstate}: {self.message})"


class ErrorFields(msgspec.Struct, frozen=True):
    """The fields of an error or notice as they travel: the compute protocol's peek and subscribe errors, the
    adapter's notices, pgwire's ErrorResponse and NoticeResponse (fields C, M, D, H, S/V, P).

    The first four fields are those the compute protocol's error had before this shape was shared, in the same
    order; the encoding is a msgpack map, so a peer that knows only those four reads the others as absent."""

    sqlstate: str
    message: str
    detail: str | None = None
    hint: str | None = None
    severity: str = "ERROR"  # ERROR, FATAL, NOTICE, ...
    position: int | None = None  # 1-based character offset into the statement (syntax errors)

    def to_error(self) -> SteadyError:
        error = SteadyError(self.message, sqlstate=self.sqlstate, detail=self.detail, hint=self.hint)
        error.position = self.position
        return error


class InternalError(SteadyError):
    sqlstate = "XX000"


class ProtocolViolation(SteadyError):
    """A peer broke the wire protocol (pgwire or compute)."""

    sqlstate = "08P01"


class ConnectionFailure(SteadyError):
    sqlstate = "08006"


class CoordinatorLost(ConnectionFailure):
    """The supervisor's proxy lost the coordinator under a client it cannot carry over (connection closed)."""

    @property
    def severity(self) -> str:
        return "FATAL"


class SyntaxError_(SteadyError):
    sqlstate = "42601"


class UndefinedObject(SteadyError):
    """Unknown table/view/index/cluster/replica/role (42P01 for relations, 42704 otherwise)."""

    sqlstate = "42704"


class UndefinedTable(UndefinedObject):
    sqlstate = "42P01"


class UndefinedColumn(SteadyError):
    sqlstate = "42703"


class WholeRowReference(UndefinedColumn):
    """A table's name where a column is expected (PostgreSQL's whole-row reference): not supported, so 0A000 — an
    :class:`UndefinedColumn` still, so that a subquery's lookup goes on to the outer query's columns first, as
    PostgreSQL's does."""

    sqlstate = "0A000"


class UndefinedFunction(SteadyError):
    sqlstate = "42883"


class DuplicateObject(SteadyError):
    """An object of that name exists (42P07 for relations, 42710 otherwise)."""

    sqlstate = "42710"


class DuplicateTable(DuplicateObject):
    sqlstate = "42P07"


class DependentObjectsStillExist(SteadyError):
    sqlstate = "2BP01"


class DatatypeMismatch(SteadyError):
    sqlstate = "42804"


class InvalidTextRepresentation(SteadyError):
    sqlstate = "22P02"


class DivisionByZero(SteadyError):
    sqlstate = "22012"


class NumericValueOutOfRange(SteadyError):
    sqlstate = "22003"


class StringDataRightTruncation(SteadyError):
    sqlstate = "22001"


class NotNullViolation(SteadyError):
    sqlstate = "23502"


class FeatureNotSupported(SteadyError):
    sqlstate = "0A000"


class InvalidRecursion(SteadyError):
    """A WITH RECURSIVE query PostgreSQL would not accept in that form (its recursive reference misplaced)."""

    sqlstate = "42P19"


class RecursionLimitExceeded(SteadyError):
    """A recursive query's bindings still changed at its recursion limit (ERROR AT RECURSION LIMIT, or the default)."""

    sqlstate = "54000"


class InvalidParameterValue(SteadyError):
    sqlstate = "22023"


class WrongObjectType(SteadyError):
    sqlstate = "42809"


class InvalidAuthorization(SteadyError):
    """Authentication failed (28P01 for a wrong password or an unknown user, 28000 otherwise)."""

    sqlstate = "28000"


class InsufficientPrivilege(SteadyError):
    sqlstate = "42501"


class ObjectNotInPrerequisiteState(SteadyError):
    """The object exists but its state forbids the request (e.g. a sealed cluster)."""

    sqlstate = "55000"


class QueryCanceled(SteadyError):
    sqlstate = "57014"


class InsufficientResources(SteadyError):
    """A request needs more of a resource than it may have (e.g. a result over ``max_result_size``)."""

    sqlstate = "53000"


class TooManyConnections(InsufficientResources):
    """``max_connections`` client connections are open already."""

    sqlstate = "53300"


class OutOfMemory(InsufficientResources):
    """A replica refused (or could not finish) a query because it would pass its memory limit."""

    sqlstate = "53200"


class ReplicaExited(SteadyError):
    """The replica process running a query exited (was killed, crashed) before it answered."""

    sqlstate = "57P01"


class InvalidCatalogName(SteadyError):
    """A database that does not exist (``database "x" does not exist``)."""

    sqlstate = "3D000"


class InFailedTransaction(SteadyError):
    sqlstate = "25P02"


class ActiveTransaction(SteadyError):
    sqlstate = "25001"


class ReadOnlyTransaction(SteadyError):
    sqlstate = "25006"


class StorageError(SteadyError):
    """Storage failed underneath a request (I/O, a corrupt batch)."""

    sqlstate = "58030"


class UpperMismatch(Exception):
    """compare_and_append found a different upper than expected (internal; retried by writers)."""

    def __init__(self, expected: int | None, actual: int | None) -> None:
        super().__init__(f"expected upper {expected}, found {actual}")
        self.expected = expected
        self.actual = actual


def quote_ident(name: str) -> str:
    """Quote a name for an error message the way PostgreSQL does: ``"name"``."""
    return '"' + name.replace('"', '""') + '"'


class DataCorrupted(SteadyError):
    """Stored bytes fail their checksum or cannot be decoded (``repr/checksum.py``): never read as data."""

    sqlstate = "XX001"
