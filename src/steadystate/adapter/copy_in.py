"""``COPY t FROM STDIN``: the sink pgwire feeds the parsed lines into, and how its rows become one write.

pgwire parses CopyData (text, CSV or binary) into rows of fields and hands them to :class:`CopyInSink` in
chunks.  The sink parses each field with its column's type (``adapter.writes.parse_copy_row``, in the session's
TimeZone), applies the column's type modifier (``varchar(n)``, ``numeric(p, s)``), fills omitted columns with
their ``DEFAULT`` (evaluated once for the statement) and refuses a NULL in a NOT NULL column on the line that
carries it.  ``finish`` writes every row as one change (inside a transaction block: buffered for ``COMMIT`` like
any write).  Progress is published in ``mz_internal.mz_copy_progress`` from the first chunk to the end.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Callable

from steadystate.adapter.client import CopyInOutcome, Outcome
from steadystate.adapter.writes import parse_copy_row
from steadystate.errors import NotNullViolation, SteadyError, quote_ident
from steadystate.expr import statement_time
from steadystate.expr.eval import compile_scalar
from steadystate.repr import Row, typmod
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.session import ClientSession


class CopyInSink:
    """The rows of one ``COPY FROM STDIN``, parsed and checked as they arrive, written at the end."""

    def __init__(self, session: "ClientSession", plan: p.CopyFromPlan) -> None:
        self.session = session
        self.plan = plan
        self.types = [plan.desc.columns[i].type for i in plan.columns]
        self.modifiers: list[Callable[[Any], Any] | None] = [
            None if (mod := plan.desc.columns[i].mod) is None else typmod.coercer(mod, explicit=False)
            for i in plan.columns]
        self.required = [i for i, column in enumerate(plan.desc.columns) if not column.nullable]
        arity = plan.desc.arity
        self.all_columns = len(plan.columns) == arity and list(plan.columns) == list(range(arity))
        # omitted columns take their DEFAULT, evaluated once for the statement (NULL without one); now() there is
        # this statement's time, the date and local time in this session's zone (expr/statement_time.py)
        self.omitted_values: list[Any] = [None] * arity
        now = datetime.datetime.now(datetime.timezone.utc)
        for position, default in enumerate(plan.defaults):
            if default is not None and position not in plan.columns:
                bound = statement_time.bind(default, now, session.variables["timezone"])
                self.omitted_values[position] = compile_scalar(bound, [])(())
        self.copies = session.adapter.coordinator.copies
        self.rows: list[Row] = []
        self.line = 0
        self.progress = self.copies.begin(session.process_id, plan.table_id, session.user)  # mz_copy_progress

    async def write_rows(self, rows: list[tuple[str | None, ...]]) -> None:
        plan, types = self.plan, self.types
        self.progress.add(len(rows))
        for fields in rows:
            self.line += 1
            if len(fields) != len(types):
                raise SteadyError(
                    "extra data after last expected column" if len(fields) > len(types)
                    else f"missing data for column {quote_ident(plan.desc.columns[plan.columns[len(fields)]].name)}",
                    sqlstate="22P04", detail=f"COPY line {self.line}",
                )
            values = parse_copy_row(fields, types, self.line, self.modifiers, self.session.variables["timezone"])
            if self.all_columns:
                self.rows.append(values)
            else:
                full = list(self.omitted_values)
                for position, value in zip(plan.columns, values):
                    full[position] = value
                self.rows.append(tuple(full))
            for position in self.required:  # every row, not a sample: a NULL in row 1001 is refused too
                if self.rows[-1][position] is None:
                    raise NotNullViolation(
                        f"null value in column {quote_ident(plan.desc.columns[position].name)} violates "
                        "not-null constraint", detail=f"COPY line {self.line}")

    async def finish(self) -> str:
        self.progress.writing()
        try:
            self.session.adapter.writes.check_rows(self.plan.table_id, self.rows[:1000])
            await self.session.apply_changes({self.plan.table_id: [(r, 1) for r in self.rows]}, "")
        finally:
            self.copies.end(self.session.process_id)
        return f"COPY {len(self.rows)}"

    async def abort(self, reason: str) -> None:
        self.copies.end(self.session.process_id)
        self.rows.clear()


def copy_from(session: "ClientSession", plan: p.CopyFromPlan) -> Outcome:
    """The outcome that makes pgwire enter COPY-in mode and feed a :class:`CopyInSink`."""
    return CopyInOutcome(len(plan.columns), plan.format, plan.delimiter, plan.null, plan.header,
                         CopyInSink(session, plan),
                         type_oids=tuple(plan.desc.columns[i].pg_oid for i in plan.columns))
