"""The extended query protocol: prepared statements, portals, Parse/Bind/Describe/Execute/Close/Sync/Flush.

Mixed into :class:`~steadystate.pgwire.conversation.Conversation` and, like it, sans-I/O: every handler
is a step that yields :mod:`~steadystate.pgwire.effects` (``Describe`` at Parse, ``Execute`` and
``NextRow`` at Execute, ``Send`` at Flush and Sync) and is resumed with their results.  State is two dicts, prepared
statements and portals, keyed by name ("" is the unnamed one).  Parse asks the session to describe the
statement once (parameter types and result columns) and caches it.  Bind decodes parameters by OID
(text with OID 0 stays ``str``; a binary parameter with OID 0 uses the described type).  A portal runs
its statement on its first Execute and keeps the row stream, so an Execute with a row limit ends with
PortalSuspended and the next Execute resumes.

After an error, :attr:`skip_until_sync` is set and the message loop discards everything until Sync, as
PostgreSQL does.  At Sync, when the session is outside a transaction, all portals are closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steadystate.errors import SteadyError

from . import frontend as fe
from steadystate.adapter.client import Field, Outcome, RowsOutcome
from .effects import ConnectionEnded, Describe, Execute, FatalProtocolError, Steps, TransactionStatus, internal_error
from .results import RowStream, encoders_for
from .values import decode_param
from .wire import (
    BIND_COMPLETE,
    CLOSE_COMPLETE,
    EMPTY_QUERY_RESPONSE,
    NO_DATA,
    PARSE_COMPLETE,
    PORTAL_SUSPENDED,
    encode_parameter_description,
    encode_row_description,
)

if TYPE_CHECKING:
    from .effects import SessionInfo

log = logging.getLogger(__name__)


@dataclass
class PreparedStatement:
    sql: str
    declared_oids: list[int]
    param_oids: list[int]  # as described by the session (declared where given)
    fields: list[Field] | None
    empty: bool = False


@dataclass
class Portal:
    statement: PreparedStatement
    params: list[Any]
    result_formats: tuple[int, ...]
    outcome: Outcome | None = None
    stream: RowStream | None = None
    finished: bool = False

    def close(self) -> Steps[None]:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            yield from stream.close()


def _expand_formats(codes: tuple[int, ...], count: int, what: str) -> list[int]:
    if not codes:
        return [0] * count
    if len(codes) == 1:
        return [codes[0]] * count
    if len(codes) != count:
        raise SteadyError(f"bind message has {len(codes)} {what} formats but {count} {what}s", sqlstate="08P01")
    return list(codes)


class ExtendedQueryMixin:
    """Handlers for the extended-query messages; see the module docstring.

    The conversation supplies ``session``, ``write`` and the steps ``flush``, ``send_error``,
    ``send_ready_for_query`` and ``emit`` (which sends one outcome, honouring a portal's row limit).
    """

    session: "SessionInfo | None"
    time_zone: str  # the session's TimeZone as last reported: timestamptz text output shows it

    if TYPE_CHECKING:  # supplied by Conversation

        def write(self, data: bytes) -> None: ...

        def flush(self) -> Steps[None]: ...

        def send_error(self, error: SteadyError, *, fatal: bool = False) -> Steps[None]: ...

        def send_ready_for_query(self) -> Steps[None]: ...

        def emit(
            self, outcome: Outcome, *, describe: bool, stream: RowStream | None = None, limit: int = 0
        ) -> Steps[bool]: ...

    def __init__(self) -> None:
        self.statements: dict[str, PreparedStatement] = {}
        self.portals: dict[str, Portal] = {}
        self.skip_until_sync = False

    # ------------------------------------------------------------ helpers

    def forget_unnamed(self) -> Steps[None]:
        self.statements.pop("", None)
        yield from self._drop_portal("")

    def _drop_portal(self, name: str) -> Steps[None]:
        portal = self.portals.pop(name, None)
        if portal is not None:
            yield from portal.close()

    def close_all_portals(self) -> Steps[None]:
        portals, self.portals = self.portals, {}
        for portal in portals.values():
            yield from portal.close()

    def _guarded(self, work: Steps[None]) -> Steps[None]:
        """Run one extended-mode step; an error is reported and starts skipping until Sync."""
        try:
            yield from work
        except SteadyError as exc:
            yield from self.send_error(exc)
            self.skip_until_sync = True
        except (ConnectionEnded, FatalProtocolError):
            raise
        except Exception as exc:
            log.exception("extended-query step failed with an internal error")
            yield from self.send_error(internal_error(exc))
            self.skip_until_sync = True

    # ------------------------------------------------------------ handlers

    def on_parse(self, message: fe.Parse) -> Steps[None]:
        yield from self._guarded(self._parse(message))

    def _parse(self, message: fe.Parse) -> Steps[None]:
        assert self.session is not None
        if message.name and message.name in self.statements:
            raise SteadyError(f'prepared statement "{message.name}" already exists', sqlstate="42P05")
        declared = list(message.param_oids)
        if not message.sql.strip(" \t\r\n;"):
            statement = PreparedStatement(message.sql, declared, declared, None, empty=True)
        else:
            oids, fields = yield Describe(message.sql, declared)
            resolved = [d or o for d, o in zip(declared, oids)] + list(oids[len(declared):])
            statement = PreparedStatement(message.sql, declared, resolved, fields)
        self.statements[message.name] = statement
        self.write(PARSE_COMPLETE)

    def on_bind(self, message: fe.Bind) -> Steps[None]:
        yield from self._guarded(self._bind(message))

    def _statement(self, name: str) -> PreparedStatement:
        statement = self.statements.get(name)
        if statement is None:
            raise SteadyError(f'prepared statement "{name}" does not exist', sqlstate="26000")
        return statement

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise SteadyError(f'portal "{name}" does not exist', sqlstate="34000")
        return portal

    def _bind(self, message: fe.Bind) -> Steps[None]:
        statement = self._statement(message.statement)
        if message.portal:
            if message.portal in self.portals:
                raise SteadyError(f'portal "{message.portal}" already exists', sqlstate="42P03")
        else:
            yield from self._drop_portal("")
        expected = len(statement.param_oids)
        if len(message.params) != expected:
            raise SteadyError(
                f'bind message supplies {len(message.params)} parameters, but prepared statement '
                f'"{message.statement}" requires {expected}',
                sqlstate="08P01",
            )
        formats = _expand_formats(message.param_formats, expected, "parameter")
        params = []
        for index, (data, code) in enumerate(zip(message.params, formats)):
            declared = statement.declared_oids[index] if index < len(statement.declared_oids) else 0
            oid = declared if (code == 0 or declared) else statement.param_oids[index]
            params.append(decode_param(data, code, oid, self.time_zone))
        if statement.fields is not None:
            _expand_formats(message.result_formats, len(statement.fields), "result")
            encoders_for(statement.fields, message.result_formats)  # reject unsupported formats now
        self.portals[message.portal] = Portal(statement, params, message.result_formats)
        self.write(BIND_COMPLETE)

    def on_describe(self, message: fe.Describe) -> Steps[None]:
        yield from self._guarded(self._describe(message))

    def _describe(self, message: fe.Describe) -> Steps[None]:
        yield from ()  # a step like the others, though it needs no effect
        if message.kind != "S" and message.name and message.name not in self.portals:
            # a cursor DECLAREd in SQL is a portal too, as in PostgreSQL (psycopg describes its server-side cursors
            # this way): its columns are what FETCH from it returns
            quoted = '"' + message.name.replace('"', '""') + '"'
            _, cursor_fields = yield Describe(f"FETCH 0 FROM {quoted}", [])
            self.write(encode_row_description(cursor_fields, None) if cursor_fields is not None else NO_DATA)
            return
        if message.kind == "S":
            statement = self._statement(message.name)
            self.write(encode_parameter_description(statement.param_oids))
            fields, formats = statement.fields, None
        else:
            portal = self._portal(message.name)
            fields = portal.statement.fields
            formats = _expand_formats(portal.result_formats, len(fields), "result") if fields else None
        self.write(encode_row_description(fields, formats) if fields is not None else NO_DATA)

    def on_execute(self, message: fe.Execute) -> Steps[None]:
        yield from self._guarded(self._execute(message))

    def _execute(self, message: fe.Execute) -> Steps[None]:
        assert self.session is not None
        portal = self._portal(message.portal)
        statement = portal.statement
        if statement.empty:
            self.write(EMPTY_QUERY_RESPONSE)
            return
        try:
            if portal.outcome is None:
                portal.outcome = yield Execute(statement.sql, portal.params, statement.param_oids)
                if isinstance(portal.outcome, RowsOutcome):
                    encoders = encoders_for(portal.outcome.fields, portal.result_formats, self.time_zone)
                    portal.stream = RowStream(portal.outcome.rows, encoders)
            elif portal.finished and not isinstance(portal.outcome, RowsOutcome):
                raise SteadyError(f'portal "{message.portal}" cannot be run again', sqlstate="55000")
            limit = max(message.max_rows, 0)
            # A finished row portal runs again as empty ("SELECT 0"), like PostgreSQL.
            stream = RowStream((), []) if portal.finished else portal.stream
            finished = yield from self.emit(portal.outcome, describe=False, stream=stream, limit=limit)
        except Exception:
            yield from self._drop_portal(message.portal)
            raise
        portal.finished = finished
        if not finished:
            self.write(PORTAL_SUSPENDED)

    def on_close(self, message: fe.Close) -> Steps[None]:
        yield from self._guarded(self._close(message))

    def _close(self, message: fe.Close) -> Steps[None]:
        if message.kind == "S":
            self.statements.pop(message.name, None)
        else:
            yield from self._drop_portal(message.name)
        self.write(CLOSE_COMPLETE)

    def on_sync(self, message: fe.Sync) -> Steps[None]:
        self.skip_until_sync = False
        if (yield TransactionStatus()) == "I":
            yield from self.close_all_portals()
        yield from self.send_ready_for_query()

    def on_flush(self, message: fe.Flush) -> Steps[None]:
        yield from self.flush()
