"""Client sessions: the adapter side of pgwire's ``Backend``/``Session`` contract.

A :class:`ClientSession` parses a statement (``sql.parser``), plans it against the catalog with the
session's variables (``sql.planner``), and sequences the plan through the coordinator: DDL (``adapter.ddl``),
reads (``adapter.reads``), writes (``adapter.writes``), or session state (variables, transactions).  The
dispatch is a table from plan type to handler.

Transactions follow Materialize: inside ``BEGIN ... COMMIT`` writes are buffered and committed together
(all or nothing), and a transaction that has written cannot read (25000, "write-only").  After an error in
an explicit transaction every statement fails with 25P02 until ``ROLLBACK``.  ``CancelRequest`` cancels the
statement that is running (57014); so does ``statement_timeout``.  Either way the replica stops the work at once (the
peek is canceled, a slow-path query's transient dataflow dropped; ``compute.server``).  ``max_result_size``
(Materialize's variable: bytes, or a size with a PostgreSQL memory unit, ``'100MB'``; default ``1GB``) bounds the
result a replica builds for a read: past it, the read fails with 53000 ``result exceeds max size of ...``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import itertools
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, TypeVar, assert_never

from steadystate.adapter.authorization import AuthContext, authorize
from steadystate.adapter.coordinator import bounded
from steadystate.adapter.default_privileges import alter_default_privileges
from steadystate.adapter.limits import alter_system, check_statement_size, sync_runtime_files, system_values
from steadystate.adapter.metrics import statement_kind
from steadystate.adapter.names import SessionCatalog, optimize_plan
from steadystate.adapter.progress import Notices
from steadystate.adapter.cursors import Cursors, declare
from steadystate.adapter.dml_returning import delete_using_changes, other_rows, returning_rows, update_from_changes
from steadystate.adapter.show_create import show_columns, show_create
from steadystate.adapter.subscribe_rows import output_desc, stream
from steadystate.adapter.show import show_objects
from steadystate.adapter.copy_in import copy_from
from steadystate.adapter.transaction import ENDS_FAILURE, Transaction, savepoint
from steadystate.adapter.writes import Changes, merge
from steadystate.adapter.explain import explain
from steadystate.adapter.explain_variants import explain_variant, is_default
from steadystate.errors import (
    ErrorFields,
    FeatureNotSupported,
    InFailedTransaction,
    InvalidParameterValue,
    QueryCanceled,
    SteadyError,
    UndefinedObject,
    quote_ident,
)
from steadystate.expr.ir import Constant, RowSetFinishing
from steadystate.adapter.client import (
    CommandOutcome,
    CopyOutOutcome,
    EmptyOutcome,
    Field,
    Outcome,
    RowsOutcome,
)
from steadystate.repr.arrow_rows import ArrowStream
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.sql import plan as p
from steadystate.sql.catalog_api import PlanContext
from steadystate.sql.fastpath import plan_simple_write
from steadystate.sql.parser import parse
from steadystate.sql import pg_compat
from steadystate.sql.pg_compat import MZ_VERSION
from steadystate.repr.timezones import setting_value as timezone_setting
from steadystate.sql.planner import plan as plan_statement
from steadystate.sql.statements import AlterAction, Statement, TransactionAction
from steadystate.repr import Row
from steadystate.sql.settings import DEFAULT_VARIABLES, check_value

if TYPE_CHECKING:
    from steadystate.adapter.backend import Adapter

_process_ids = itertools.count(1000)
PlanT = TypeVar("PlanT")
ResultT = TypeVar("ResultT")
#: statements longer than this are parsed, planned and optimized in a planner thread (``ClientSession._off_loop``)
OFF_LOOP_BYTES = 64 * 1024
_PLANNERS = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="planner")





def fields_of(desc: RelationDesc) -> list[Field]:
    return [Field(c.name, c.pg_oid, c.type.pg_typlen, c.pg_typmod) for c in desc.columns]


def _timeout_seconds(value: str) -> float:
    text = value.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("min", 60.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix):
            number = float(text[: -len(suffix)] or 0)
            return number * factor if number > 0 else 3600.0 * 24
    number = float(text or 0)
    return number / 1000 if number > 0 else 3600.0 * 24


_BYTE_UNITS = {"": 1, "b": 1, "kb": 1024, "kib": 1024, "mb": 1024**2, "mib": 1024**2, "gb": 1024**3,
               "gib": 1024**3, "tb": 1024**4, "tib": 1024**4}


def parse_byte_size(value: str, name: str = "max_result_size") -> int:
    """Bytes from ``'104857600'``, ``'100MB'``, ``'1 GB'`` (PostgreSQL's memory units, 1024-based; also kiB...)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    factor = _BYTE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or factor is None:
        raise InvalidParameterValue(
            f"invalid value for parameter {quote_ident(name)}: {quote_ident(value)}",
            hint='a number of bytes, or a size with a unit among "B", "kB", "MB", "GB", "TB"',
        )
    size = int(float(match.group(1)) * factor)
    if size < 1 or size >= 2**63:
        raise InvalidParameterValue(f"invalid value for parameter {quote_ident(name)}: {quote_ident(value)}",
                                    detail="the size must be at least 1 byte")
    return size


#: statements whose result columns are known only once run (SHOW's, EXPLAIN's): a Describe runs them (read-only)
_DESCRIBED_BY_RUNNING = (p.ShowVariablePlan, p.ShowObjectsPlan, p.ExplainPlan, p.ShowCreatePlan, p.ShowColumnsPlan)


class ClientSession:
    def __init__(self, adapter: "Adapter", user: str, database: str, options: dict[str, str]) -> None:
        self.adapter = adapter
        self.coord = adapter.coordinator
        self.user = user
        self.process_id = next(_process_ids)
        self.secret_key = secrets.randbits(31)
        self.variables = dict(DEFAULT_VARIABLES)
        self.variables["database"] = database
        self.variables["application_name"] = options.get("application_name", "")
        for name, value in options.items():  # startup parameters this server would not honour refuse the login
            check_value(name, value)
        self._notices: list[ErrorFields] = []
        self._live_notices: Callable[[ErrorFields], None] | None = None
        self.txn = Transaction()
        self._running: asyncio.Task[Any] | None = None
        self.cursors = Cursors()
        self._heavy = False  # the statement being run is large: parse and plan it off the event loop

    # ------------------------------------------------------------------ pgwire Session contract

    def parameter_status(self) -> dict[str, str]:
        return {"server_version": "15.0 (steadystate)", "application_name": self.variables["application_name"],
                "mz_version": MZ_VERSION, "TimeZone": self.variables["timezone"]}

    def transaction_status(self) -> str:
        return self.txn.status

    def take_notices(self) -> list[ErrorFields]:
        notices, self._notices = self._notices, []
        return notices

    def set_live_notices(self, sink: Callable[[ErrorFields], None] | None) -> None:
        self._live_notices = sink

    def _notice_now(self, text: str) -> bool:
        """Send a progress notice while the statement runs; False where nothing can (then it is dropped: a
        progress report is worth nothing once the statement has ended)."""
        if self._live_notices is None:
            return False
        self._live_notices(ErrorFields("00000", text, severity="NOTICE"))
        return True

    async def execute_simple(self, sql: str) -> AsyncIterator[Outcome]:
        check_statement_size(sql, self.coord.catalog)  # 54000 (adapter/limits.py)
        self._heavy = len(sql) > OFF_LOOP_BYTES
        simple = plan_simple_write(sql, self._context(None)) if not self.txn.failed and not self._heavy else None
        if simple is not None:
            yield await self._execute_plan(simple)
            return
        statements = await self._off_loop(parse, sql)
        if not statements:
            yield EmptyOutcome()
            return
        for statement in statements:
            yield await self._execute_statement(statement, None)

    async def describe(self, sql: str, param_oids: list[int]) -> tuple[list[int], list[Field] | None]:
        check_statement_size(sql)
        self._heavy = len(sql) > OFF_LOOP_BYTES
        statements = await self._off_loop(parse, sql)
        if not statements:
            return [], None
        if len(statements) > 1:
            raise SteadyError("cannot insert multiple commands into a prepared statement", sqlstate="42601")
        plan = plan_statement(statements[0], self._context(None))
        param_types = [t.pg_oid for t in getattr(plan, "param_types", ())]
        for i, oid in pg_compat.client_query(sql)[1].items():  # asyncpg's introspection: its oid[] parameter
            if i < len(param_types):
                param_types[i] = oid
        for i, oid in enumerate(param_oids):
            if oid and i < len(param_types):
                param_types[i] = oid
        if isinstance(plan, _DESCRIBED_BY_RUNNING):  # read-only, and their columns are known only once run
            outcome = await self._execute_plan(plan)
            return param_types, (outcome.fields if isinstance(outcome, RowsOutcome) else None)
        desc = self._result_desc(plan)
        return param_types, (fields_of(desc) if desc is not None else None)

    async def execute(self, sql: str, params: list[Any], param_oids: list[int]) -> Outcome:
        check_statement_size(sql)
        self._heavy = len(sql) > OFF_LOOP_BYTES
        statements = await self._off_loop(parse, sql)
        if not statements:
            return EmptyOutcome()
        if len(statements) > 1:
            raise SteadyError("cannot insert multiple commands into a prepared statement", sqlstate="42601")
        return await self._execute_statement(statements[0], tuple(params))

    async def close(self) -> None:
        self.txn.pending.clear()
        self.cursors.close_all()
        self.adapter.sessions.pop(self.process_id, None)

    def cancel(self) -> None:
        if self._running is not None and not self._running.done():
            self._running.cancel()

    # ------------------------------------------------------------------ core

    def _context(self, params: tuple[Any, ...] | None) -> PlanContext:
        catalog = SessionCatalog(self.coord.catalog, self.variables["database"], self.variables["search_path"])
        return PlanContext(
            catalog=catalog,
            database=self.variables["database"],
            schema=self.variables["search_path"].split(",")[0].strip() or "public",
            cluster=self.variables["cluster"],
            user=self.user,
            params=params,
            settings=tuple(sorted(self.variables.items())),
            now=datetime.datetime.now(datetime.timezone.utc),
        )

    def _result_desc(self, plan: p.Plan) -> RelationDesc | None:
        if isinstance(plan, p.SelectPlan):
            return plan.desc
        if isinstance(plan, (p.InsertPlan, p.UpdatePlan, p.DeletePlan)):
            return plan.returning_desc
        if isinstance(plan, p.SubscribePlan) and not plan.copy:
            return output_desc(plan)
        if isinstance(plan, p.FetchPlan) and (cursor := self.cursors.find(plan.name)) is not None:
            return cursor.desc
        return None

    async def _execute_statement(self, statement: Statement, params: tuple[Any, ...] | None) -> Outcome:
        try:
            plan = await self._off_loop(plan_statement, statement, self._context(params))
        except SteadyError:
            self._fail()
            raise
        return await self._execute_plan(plan)

    async def _off_loop(self, work: Callable[..., ResultT], *args: Any) -> ResultT:
        """``work(*args)``: for a large statement (``self._heavy``) in the planner threads, so parsing, planning
        and optimizing it do not hold up every other session on the event loop, bounded by the statement's
        timeout (57014; the thread finishes in the background).  The threads read the catalog while the loop may
        change it: a read that meets a change (RuntimeError: changed during iteration) is done again here."""
        if not self._heavy:
            return work(*args)
        future = asyncio.get_running_loop().run_in_executor(_PLANNERS, functools.partial(work, *args))
        try:
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            self._fail()
            raise QueryCanceled("canceling statement due to statement timeout",
                                detail="it was still being parsed or planned") from None
        except RuntimeError:
            return work(*args)

    async def _execute_plan(self, plan: p.Plan) -> Outcome:
        plan = await self._off_loop(optimize_plan, plan, self.coord.catalog)
        ends_transaction = isinstance(plan, p.TransactionPlan) and plan.action in ENDS_FAILURE
        if self.txn.failed and not ends_transaction:
            raise InFailedTransaction(
                "current transaction is aborted, commands ignored until end of transaction block"
            )
        try:  # 25006 in a read-only transaction; 42501 unless the role may (adapter/authorization.py)
            self.txn.check_allowed(plan, self.variables["default_transaction_read_only"] == "on")
            authorize(plan, AuthContext(self.coord.catalog, self.user, self.variables["cluster"],
                                        self.adapter.reads.is_local))
        except SteadyError:
            self._fail()
            raise
        task = asyncio.ensure_future(self._sequence(plan))
        self._running = task
        started, ok = time.monotonic(), False
        try:
            outcome = await task
            ok = True
            return outcome
        except asyncio.CancelledError:
            if task.cancelled() and not _current_cancelling():
                self._fail()
                raise QueryCanceled("canceling statement due to user request") from None
            raise
        except SteadyError:
            self._fail()
            raise
        finally:
            self._running = None
            self.adapter.metrics.observe_statement(statement_kind(plan), ok, time.monotonic() - started)

    def _sequence(self, plan: p.Plan) -> Awaitable[Outcome]:
        """What executes ``plan``: one case per plan class (mypy checks the match is exhaustive)."""
        ddl = self.adapter.ddl
        match plan:
            case p.CreateTablePlan():
                return self._ddl(ddl.create_table, plan)
            case p.CreateViewPlan():
                return self._ddl(ddl.create_view, plan)
            case p.CreateMaterializedViewPlan():
                return self._ddl(ddl.create_materialized_view, plan)
            case p.CreateIndexPlan():
                return self._ddl(ddl.create_index, plan)
            case p.DropObjectsPlan():
                return self._ddl(ddl.drop_objects, plan)
            case p.DropClusterPlan():
                return self._ddl(ddl.drop_cluster, plan)
            case p.DropClusterReplicaPlan():
                return self._ddl(ddl.drop_replica, plan)
            case p.DropRolePlan():
                return self._ddl(self.adapter.grants.drop_role, plan)
            case p.CreateClusterPlan():
                return self._ddl_plain(ddl.create_cluster, plan)
            case p.CreateClusterReplicaPlan():
                return self._ddl_plain(ddl.create_replica, plan)
            case p.CreateSchemaPlan():
                return self._ddl(ddl.create_schema, plan)
            case p.DropSchemaPlan():
                return self._ddl(ddl.drop_schema, plan)
            case p.CreateRolePlan():
                return self._ddl_plain(self.adapter.grants.create_role, plan)
            case p.AlterDefaultPrivilegesPlan():
                return self._ddl_plain(self._alter_default_privileges, plan)
            case p.AlterSystemPlan():
                return self._ddl_plain(self._alter_system, plan)
            case p.AlterRolePlan():
                return self._ddl_plain(self.adapter.grants.alter_role, plan)
            case p.GrantPrivilegesPlan():
                return self._ddl_plain(self.adapter.grants.grant_privileges, plan)
            case p.GrantRolePlan():
                return self._ddl_plain(self.adapter.grants.grant_role, plan)
            case p.AlterClusterPlan():
                return self._alter_cluster(plan)
            case p.InsertPlan():
                return self._insert(plan)
            case p.UpdatePlan():
                return self._update(plan)
            case p.DeletePlan():
                return self._delete(plan)
            case p.SelectPlan():
                return self.run_select(plan, stream=True)
            case p.SubscribePlan():
                return self._subscribe(plan)
            case p.CopyFromPlan():
                return self._copy_from(plan)
            case p.CopyToPlan():
                return self._copy_to(plan)
            case p.ExplainPlan():
                return self._explain(plan)
            case p.SetVariablePlan():
                return self._set_variable(plan)
            case p.ResetVariablePlan():
                return self._reset_variable(plan)
            case p.ShowVariablePlan():
                return self._show_variable(plan)
            case p.ShowObjectsPlan():
                return self._show_objects(plan)
            case p.TransactionPlan():
                return self._transaction(plan)
            case p.DiscardPlan():
                return self._discard(plan)
            case p.DeallocatePlan():
                return self._deallocate(plan)
            case p.DeclarePlan():
                return self._declare(plan)
            case p.FetchPlan():
                return self._fetch(plan)
            case p.ClosePlan():
                return self._close_cursor(plan)
            case p.ShowCreatePlan():
                return self._rows_of(show_create(self.adapter, plan), "SHOW")
            case p.ShowColumnsPlan():
                return self._rows_of(show_columns(self.adapter, plan), "SHOW")
            case p.CommentPlan():
                return self._ddl(self.adapter.comments.comment, plan)
            case p.AlterNamePlan():
                return self._alter_name(plan)
            case p.CreateDatabasePlan():
                return self._ddl(self.adapter.renames.create_database, plan)
            case p.DropDatabasePlan():
                return self._ddl(self.adapter.renames.drop_database, plan)
            case _:
                assert_never(plan)

    def _fail(self) -> None:
        self.txn.fail()

    def _flush_notices(self, messages: list[str]) -> None:
        self._notices.extend(ErrorFields("00000", text, severity="NOTICE") for text in messages)

    @property
    def timeout(self) -> float:
        return _timeout_seconds(self.variables["statement_timeout"])

    @property
    def max_result_size(self) -> int:
        return parse_byte_size(self.variables["max_result_size"])

    def cluster_id(self) -> str:
        name = self.variables["cluster"]
        cluster = self.coord.catalog.cluster_by_name(name)
        if cluster is None:
            raise UndefinedObject(
                f"unknown cluster {quote_ident(name)}",
                hint="SET cluster = <name> to one of the clusters SHOW CLUSTERS lists",
            )
        return cluster.id

    # ------------------------------------------------------------------ DDL

    async def _ddl(self, action: Callable[[PlanT, str, list[str]], Awaitable[str]], plan: PlanT) -> Outcome:
        self.txn.check_no_pending_writes("DDL")
        notices: list[str] = []
        async with self.coord.ddl(self.timeout):
            tag = await action(plan, self.user, notices)
        self._flush_notices(notices)
        return CommandOutcome(tag)

    async def _ddl_plain(self, action: Callable[[PlanT, str], Awaitable[str]], plan: PlanT) -> Outcome:
        self.txn.check_no_pending_writes("DDL")
        async with self.coord.ddl(self.timeout):
            tag = await action(plan, self.user)
        return CommandOutcome(tag)

    async def _alter_cluster(self, plan: p.AlterClusterPlan) -> Outcome:
        self.txn.check_no_pending_writes("DDL")
        action = plan.action
        if action is AlterAction.SET:
            cluster = self.coord.catalog.clusters[plan.cluster_id]
            self.adapter.readiness.check_owner(cluster, self.user, "alter")
            if plan.wait is None:
                return await self._ddl_plain(self.adapter.ddl.alter_cluster_set, plan)
            action = AlterAction.RESIZE
        handler = self.adapter.alter_cluster_actions.get(action)
        if handler is None:
            raise FeatureNotSupported(f"ALTER CLUSTER ... {plan.action.value.upper()} is not supported yet")
        notices = Notices(self._notice_now)
        tag = await handler(plan, self.user, notices, self.timeout)
        self._flush_notices(notices)
        return CommandOutcome(tag)

    async def _alter_name(self, plan: p.AlterNamePlan) -> Outcome:
        """ALTER ... RENAME TO / SWAP WITH: at once, or in a transaction block checked now and applied with the
        block's other renames and swaps at COMMIT, in one catalog transaction (adapter/renames.py)."""
        if self.txn.pending:
            self.txn.check_no_pending_writes("DDL")
        tag = f"ALTER {plan.target.value.replace('-', ' ').upper()}"
        if self.txn.active:
            self.adapter.renames.prepare([*self.txn.renames, plan], self.user)
            self.txn.renames.append(plan)
            return CommandOutcome(tag)
        notices: list[str] = []
        async with self.coord.ddl(self.timeout):
            await self.adapter.renames.apply([plan], self.user, notices)
        self._flush_notices(notices)
        return CommandOutcome(tag)

    # ------------------------------------------------------------------ writes

    async def apply_changes(self, changes: Changes, tag: str) -> Outcome:
        if self.txn.renames:
            self.txn.check_no_pending_writes("a write")
        if self.txn.active:
            merge(self.txn.pending, changes)
        else:
            await self.adapter.writes.commit(changes)
        return CommandOutcome(tag)

    async def _insert(self, plan: p.InsertPlan) -> Outcome:
        reads = self.adapter.reads
        if isinstance(plan.expr, Constant):
            rows = [row for row, diff in plan.expr.updates() for _ in range(diff)]
        elif reads.is_local(plan.expr):
            rows = reads.evaluate_locally(plan.expr, plan.desc)
        else:
            rows = list(await reads.select(plan.expr, plan.desc, RowSetFinishing(), self.cluster_id(), self.timeout,
                                           max_result_size=self.max_result_size))
        self.adapter.writes.check_rows(plan.table_id, rows)
        returned = returning_rows(plan.returning, rows) if plan.returning_desc is not None else None
        outcome = await self.apply_changes({plan.table_id: [(tuple(r), 1) for r in rows]}, f"INSERT 0 {len(rows)}")
        return self._returning(outcome, plan.returning_desc, returned)

    async def _update(self, plan: p.UpdatePlan) -> Outcome:
        writes = self.adapter.writes
        other = await other_rows(self, plan)
        async with bounded(writes.lock, self.timeout, "another UPDATE or DELETE"):
            await writes.load(plan.table_id)
            if other is not None:
                changes, joined = update_from_changes(writes, plan, self.txn.pending, other)
            else:
                changes = writes.update_changes(plan, self.txn.pending)
                joined = [r for r, d in changes[plan.table_id] for _ in range(d)]
            returned = returning_rows(plan.returning, joined) if plan.returning_desc is not None else None
            count = sum(d for _, d in changes[plan.table_id] if d > 0)
            outcome = await self.apply_changes(changes, f"UPDATE {count}")
            return self._returning(outcome, plan.returning_desc, returned)

    async def _delete(self, plan: p.DeletePlan) -> Outcome:
        writes = self.adapter.writes
        other = await other_rows(self, plan)
        async with bounded(writes.lock, self.timeout, "another UPDATE or DELETE"):
            await writes.load(plan.table_id)
            if other is not None:
                changes, joined = delete_using_changes(writes, plan, self.txn.pending, other)
            else:
                changes = writes.delete_changes(plan, self.txn.pending)
                joined = [r for r, d in changes[plan.table_id] for _ in range(-d)]
            returned = returning_rows(plan.returning, joined) if plan.returning_desc is not None else None
            count = -sum(d for _, d in changes[plan.table_id])
            outcome = await self.apply_changes(changes, f"DELETE {count}")
            return self._returning(outcome, plan.returning_desc, returned)

    @staticmethod
    def _returning(outcome: Outcome, desc: RelationDesc | None, rows: list[Row] | None) -> Outcome:
        """A write's outcome, with the rows of its RETURNING list when it has one."""
        if desc is None or rows is None:
            return outcome
        assert isinstance(outcome, CommandOutcome)
        return RowsOutcome(fields_of(desc), rows, outcome.tag)

    async def _copy_from(self, plan: p.CopyFromPlan) -> Outcome:
        return copy_from(self, plan)

    # ------------------------------------------------------------------ reads

    async def run_select(self, plan: p.SelectPlan, stream: bool = False) -> Outcome:
        """The SELECT's rows; with ``stream`` they may still be arriving (an ``ArrowStream``, sent on to the client
        as they come; an error among them fails the transaction block as the statement's error would)."""
        self.txn.check_readable()
        reads = self.adapter.reads
        cluster_id = "" if reads.is_local(plan.expr) else self.cluster_id()
        rows = await reads.select_stream(plan.expr, plan.desc, plan.finishing, cluster_id, self.timeout,
                                         self.variables.get("cluster_replica") or None,
                                         max_result_size=self.max_result_size, stream=stream)
        if isinstance(rows, ArrowStream):
            rows.on_error = self._fail
        return RowsOutcome(fields_of(plan.desc), rows, "SELECT")

    async def _subscribe(self, plan: p.SubscribePlan) -> Outcome:
        self.txn.check_readable()
        reader = await self.adapter.reads.subscribe(plan, self.cluster_id())
        fields = fields_of(output_desc(plan))
        if plan.copy:
            return CopyOutOutcome(fields, stream(reader))
        return RowsOutcome(fields, stream(reader), "SUBSCRIBE")

    async def _declare(self, plan: p.DeclarePlan) -> Outcome:
        return CommandOutcome(await declare(self, plan))

    async def _fetch(self, plan: p.FetchPlan) -> Outcome:
        cursor = self.cursors.get(plan.name)
        rows = await cursor.fetch(plan.count, plan.timeout)
        return RowsOutcome(fields_of(cursor.desc), rows, "FETCH")

    async def _close_cursor(self, plan: p.ClosePlan) -> Outcome:
        self.cursors.close(plan.name)
        return CommandOutcome("CLOSE CURSOR" if plan.name is not None else "CLOSE CURSOR ALL")

    @staticmethod
    async def _rows_of(result: tuple[RelationDesc, list[Row]], tag: str) -> Outcome:
        desc, rows = result
        return RowsOutcome(fields_of(desc), rows, tag)

    async def _copy_to(self, plan: p.CopyToPlan) -> Outcome:
        outcome = await self.run_select(plan.select, stream=True)
        assert isinstance(outcome, RowsOutcome)
        return CopyOutOutcome(outcome.fields, outcome.rows)

    async def _explain(self, plan: p.ExplainPlan) -> Outcome:
        if not is_default(plan):
            return await self._rows_of(await explain_variant(self.adapter, plan, self.variables["cluster"]), "EXPLAIN")
        desc, rows = explain(self.adapter, plan, self.variables["cluster"])
        return RowsOutcome(fields_of(desc), rows, "EXPLAIN")

    async def _show_objects(self, plan: p.ShowObjectsPlan) -> Outcome:
        desc, rows = show_objects(self.adapter, plan)
        return RowsOutcome(fields_of(desc), rows, "SHOW")

    # ------------------------------------------------------------------ session state

    async def _set_variable(self, plan: p.SetVariablePlan) -> Outcome:
        name = plan.name.lower()
        value = DEFAULT_VARIABLES.get(name, "") if plan.value is None else plan.value
        check_value(name, value)
        if name == "cluster" and self.coord.catalog.cluster_by_name(value) is None:
            self._flush_notices([f"cluster {quote_ident(value)} does not exist"])
        if name == "timezone":  # PostgreSQL's zones (repr/timezones.py); reported to the client, as PostgreSQL does
            value = timezone_setting(value)
            self.cursors.check_zone_change(self.variables["timezone"], value)
        if name == "statement_timeout":
            _timeout_seconds(value)
        if name == "max_result_size":
            parse_byte_size(value)
        if plan.local:  # until the end of the transaction block; outside one it has no effect (PostgreSQL warns)
            if not self.txn.active:
                self._flush_notices([f"{'SET TRANSACTION' if name.startswith('transaction_') else 'SET LOCAL'} "
                                     "can only be used in transaction blocks"])
                return CommandOutcome("SET")
            self.txn.set_local(self.variables, name, value)
            return CommandOutcome("SET", parameters={"TimeZone": value} if name == "timezone" else {})
        self.variables[name] = value
        return CommandOutcome("SET", parameters={"TimeZone": value} if name == "timezone" else {})

    async def _reset_variable(self, plan: p.ResetVariablePlan) -> Outcome:
        name = plan.name.lower()
        if name == "timezone":
            self.cursors.check_zone_change(self.variables["timezone"], DEFAULT_VARIABLES[name])
        if name in DEFAULT_VARIABLES:
            self.variables[name] = DEFAULT_VARIABLES[name]
        return CommandOutcome("RESET", parameters={"TimeZone": self.variables["timezone"]} if name == "timezone" else {})

    async def _alter_default_privileges(self, plan: p.AlterDefaultPrivilegesPlan, user: str) -> str:
        return alter_default_privileges(self.coord.catalog, plan, user)

    async def _alter_system(self, plan: p.AlterSystemPlan, user: str) -> str:
        tag = alter_system(self.coord.catalog, plan, user)
        if self.coord.config.uses_data_dir:  # the limits the supervisor enforces (max_connections)
            sync_runtime_files(self.coord.catalog, self.coord.config.data_dir)
        return tag

    async def _show_variable(self, plan: p.ShowVariablePlan) -> Outcome:
        name = plan.name.lower()
        if name == "all":  # the session's variables (pg_settings), as in Materialize
            desc = RelationDesc.of(("name", ScalarType.TEXT), ("setting", ScalarType.TEXT))
            return RowsOutcome(fields_of(desc), sorted(self.variables.items()), "SHOW")
        values = self.variables | system_values(self.coord.catalog)  # and the system's (adapter/limits.py)
        if name not in values:
            raise UndefinedObject(f"unrecognized configuration parameter {quote_ident(name)}")
        desc = RelationDesc.of((name, ScalarType.TEXT))
        return RowsOutcome(fields_of(desc), [(values[name],)], "SHOW")

    async def _transaction(self, plan: p.TransactionPlan) -> Outcome:
        if plan.savepoint is not None:
            return savepoint(self.txn, plan.action, plan.savepoint)
        if plan.action is TransactionAction.BEGIN:
            if self.txn.active:
                self._flush_notices(["there is already a transaction in progress"])
            else:
                default = self.variables["default_transaction_read_only"] == "on"
                self.txn.read_only = default if plan.read_only is None else plan.read_only
            self.txn.savepoints.clear()
            self.txn.active = True
            return CommandOutcome("BEGIN")
        self.cursors.close_all()  # cursors live until the end of their transaction (no WITH HOLD)
        pending, renames, failed = self.txn.end(self.variables)
        if plan.action is not TransactionAction.COMMIT or failed:
            return CommandOutcome("ROLLBACK")
        if pending:
            await self.adapter.writes.commit(pending)
        if renames:
            notices: list[str] = []
            async with self.coord.ddl(self.timeout):
                await self.adapter.renames.apply(renames, self.user, notices)
            self._flush_notices(notices)
        return CommandOutcome("COMMIT")

    async def _deallocate(self, plan: p.DeallocatePlan) -> Outcome:
        if plan.name is None:
            return CommandOutcome("DEALLOCATE ALL", deallocate="*")
        return CommandOutcome("DEALLOCATE", deallocate=plan.name)

    async def _discard(self, plan: p.DiscardPlan) -> Outcome:
        self.variables = {**DEFAULT_VARIABLES, "database": self.variables["database"]}
        return CommandOutcome("DISCARD ALL", deallocate="*")


def _current_cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())
