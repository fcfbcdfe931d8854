"""A tiny in-test Backend for pgwire tests, and a way to run a conversation against it without an event loop.

:class:`FakeBackend` is a test double for the adapter: a dict-backed table ``t(a int4, b text)`` and the
fixed statements listed in ``FakeSession``.  :func:`run_without_loop` steps the sans-I/O conversation and
performs its effects with the server's own :data:`~steadystate.pgwire.server.PERFORMERS`, completing each
coroutine by hand: the fake never blocks on the statements these tests use, so no event loop is needed.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from steadystate.errors import ErrorFields, QueryCanceled, SteadyError, UndefinedColumn
from steadystate.adapter.client import (
    CommandOutcome,
    CopyInOutcome,
    CopyOutOutcome,
    Field,
    Outcome,
    RowsOutcome,
)
from steadystate.pgwire.effects import Effect
from steadystate.pgwire.server import Driver

INT4, INT8, TEXT, FLOAT8, BOOL, NUMERIC, DATE = 23, 20, 25, 701, 16, 1700, 1082
T_FIELDS = [Field("a", INT4, 4), Field("b", TEXT, -1)]
_SIZES = {INT4: 4, INT8: 8, TEXT: -1, FLOAT8: 8, BOOL: 1, NUMERIC: -1, DATE: 4, 21: 2, 700: 4, 1043: -1}


@dataclass
class FakeState:
    rows: list[tuple] = field(default_factory=list)
    copied: list[tuple] = field(default_factory=list)
    copy_batches: list[int] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    closed_sessions: int = 0
    closed_iterators: int = 0
    cancels: list[tuple[int, int]] = field(default_factory=list)
    subscribe_started: asyncio.Event = field(default_factory=asyncio.Event)
    sessions: dict[int, "FakeSession"] = field(default_factory=dict)
    executed: list[tuple[str, list[Any], list[int]]] = field(default_factory=list)


class FakeSink:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.count = 0

    async def write_rows(self, rows: list[tuple[str | None, ...]]) -> None:
        self.state.copy_batches.append(len(rows))
        self.state.copied.extend(rows)
        self.count += len(rows)

    async def finish(self) -> str:
        return f"COPY {self.count}"

    async def abort(self, reason: str) -> None:
        self.state.aborted.append(reason)


class FakeSession:
    _ids = itertools.count(100)

    def __init__(self, state: FakeState, user: str, options: dict[str, str]) -> None:
        self.state = state
        self.process_id = next(self._ids)
        self.secret_key = 4_000_000_000 + self.process_id  # above 2**31: exercises unsigned keys
        self.user = user
        self.options = options
        self.in_transaction = False
        self.notices: list[ErrorFields] = []
        self.waiting = asyncio.Event()
        self.cancelled = False

    def parameter_status(self) -> dict[str, str]:
        return {"cluster": "quickstart"}

    def transaction_status(self) -> str:
        return "T" if self.in_transaction else "I"

    def take_notices(self) -> list[ErrorFields]:
        notices, self.notices = self.notices, []
        return notices

    def set_live_notices(self, sink: Callable[[ErrorFields], None] | None) -> None:
        self.live_notices = sink

    async def execute_simple(self, sql: str) -> AsyncIterator[Outcome]:
        for statement in sql.split(";"):
            if statement.strip():
                yield await self.execute(statement.strip(), [], [])

    async def describe(self, sql: str, param_oids: list[int]) -> tuple[list[int], list[Field] | None]:
        count = len(set(re.findall(r"\$(\d+)", sql)))
        oids = [(param_oids[i] if i < len(param_oids) and param_oids[i] else TEXT) for i in range(count)]
        if sql.upper() == "SELECT 1":
            return oids, [Field("?column?", INT4, 4)]
        if sql.startswith("SELECT $"):
            return oids, [Field(f"p{i + 1}", oid, _SIZES.get(oid, -1)) for i, oid in enumerate(oids)]
        if sql.startswith("SELECT a, b FROM t") or sql == "SELECT * FROM t":
            return [INT4] * count, T_FIELDS
        if sql.startswith("SELECT generate"):
            return oids, [Field("n", INT8, 8)]
        if sql.startswith("SELECT fail"):
            raise UndefinedColumn('column "fail" does not exist', hint="check the spelling")
        if sql.startswith("INSERT INTO t"):
            return [INT4, TEXT][:count], None
        return oids, None

    async def execute(self, sql: str, params: list[Any], param_oids: list[int]) -> Outcome:
        self.state.executed.append((sql, list(params), list(param_oids)))
        upper = sql.upper()
        if upper == "SELECT 1":
            return RowsOutcome([Field("?column?", INT4, 4)], [(1,)], "SELECT")
        if sql.startswith("SELECT $"):
            fields = (await self.describe(sql, param_oids))[1] or []
            return RowsOutcome(fields, [tuple(params)], "SELECT")
        if sql == "SELECT * FROM t":
            return RowsOutcome(T_FIELDS, sorted(self.state.rows, key=lambda r: (r[0] is None, r[0])), "SELECT")
        if sql.startswith("SELECT a, b FROM t WHERE a > $1"):
            bound = int(params[0])
            return RowsOutcome(T_FIELDS, sorted(r for r in self.state.rows if r[0] is not None and r[0] > bound), "SELECT")
        match = re.fullmatch(r"SELECT generate (\d+)( async)?", sql)
        if match:
            count = int(match.group(1))
            rows = ((i,) for i in range(count))
            return RowsOutcome([Field("n", INT8, 8)], self._aiter(rows) if match.group(2) else rows, "SELECT")
        if sql.startswith("SELECT fail"):
            raise UndefinedColumn('column "fail" does not exist', hint="check the spelling")
        if sql.startswith("SELECT boom"):
            raise RuntimeError("boom")
        if sql.startswith("INSERT INTO t VALUES ($1, $2)"):
            self.state.rows.append((params[0] if params[0] is None else int(params[0]), params[1]))
            return CommandOutcome("INSERT 0 1")
        match = re.fullmatch(r"INSERT INTO t VALUES \((\d+), '([^']*)'\)", sql)
        if match:
            self.state.rows.append((int(match.group(1)), match.group(2)))
            return CommandOutcome("INSERT 0 1")
        if upper == "BEGIN":
            self.in_transaction = True
            return CommandOutcome("BEGIN")
        if upper in ("COMMIT", "ROLLBACK"):
            self.in_transaction = False
            return CommandOutcome(upper)
        if upper.startswith("NOTICE"):
            self.notices.append(ErrorFields("00000", sql[7:], hint="just so you know", severity="NOTICE"))
            return CommandOutcome("DO")
        if upper.startswith("COPY T FROM STDIN"):
            csv = "CSV" in upper
            return CopyInOutcome(
                columns=2, format="csv" if csv else "text", delimiter="," if csv else "\t",
                null="" if csv else "\\N", header="HEADER" in upper, sink=FakeSink(self.state),
            )
        if upper == "COPY T TO STDOUT":
            return CopyOutOutcome(T_FIELDS, self._aiter(iter(list(self.state.rows))))
        if upper == "COPY (SUBSCRIBE T) TO STDOUT":
            return CopyOutOutcome(T_FIELDS, self._subscribe())
        if upper == "WAIT":
            await self.waiting.wait()
            if self.cancelled:
                self.cancelled = False
                raise QueryCanceled("canceling statement due to user request")
            return CommandOutcome("WAIT")
        raise SteadyError(f'syntax error at or near "{sql.split()[0] if sql.split() else sql}"', sqlstate="42601")

    async def _aiter(self, rows: Any) -> AsyncIterator[tuple]:
        try:
            for row in rows:
                yield row
        finally:
            self.state.closed_iterators += 1

    async def _subscribe(self) -> AsyncIterator[tuple]:
        try:
            for row in list(self.state.rows):
                yield row
            self.state.subscribe_started.set()
            await asyncio.Event().wait()  # never ends
            yield (None, None)
        finally:
            self.state.closed_iterators += 1

    async def close(self) -> None:
        self.state.closed_sessions += 1
        self.state.sessions.pop(self.process_id, None)


class FakeBackend:
    def __init__(self) -> None:
        self.state = FakeState()

    async def connect(self, user: str, database: str, options: dict[str, str]) -> FakeSession:
        if user == "nobody":
            raise SteadyError(f'role "{user}" does not exist', sqlstate="28000")
        session = FakeSession(self.state, user, options)
        self.state.sessions[session.process_id] = session
        return session

    async def cancel(self, process_id: int, secret_key: int) -> None:
        self.state.cancels.append((process_id, secret_key))
        session = self.state.sessions.get(process_id)
        if session is not None and session.secret_key == secret_key:
            session.cancelled = True
            session.waiting.set()


def complete(awaitable: Awaitable[Any]) -> Any:
    """The result of an awaitable that finishes without waiting for anything (no event loop involved)."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as stop:
        return stop.value
    steps.close()
    raise AssertionError("the fake backend would block: this test needs an event loop")


class ScriptedTransport:
    """Feeds fixed chunks, then end of stream; records everything written."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.output = bytearray()

    async def receive(self) -> bytes | None:
        return self.chunks.pop(0) if self.chunks else None

    def write(self, data: bytes) -> None:
        self.output += data

    async def drain(self) -> None:
        pass


def run_without_loop(chunks: list[bytes], backend: "FakeBackend") -> tuple[bytes, list[Effect]]:
    """Serve ``chunks`` with ``backend``: the bytes sent to the client and every effect the conversation yielded."""
    transport = ScriptedTransport(chunks)
    driver = Driver(backend, transport)
    steps = driver.conversation.run()
    effects: list[Effect] = []
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.throw(error) if error is not None else steps.send(reply)
        except StopIteration:
            return bytes(transport.output), effects
        effects.append(effect)
        reply, error = None, None
        try:
            reply = complete(driver.perform(effect))
        except Exception as exc:
            error = exc
