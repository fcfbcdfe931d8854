"""Sequencing writes: ``INSERT``, ``UPDATE``, ``DELETE`` and ``COPY ... FROM STDIN``.

The coordinator is the only writer of table shards.  It keeps each table's current contents in memory
(``Coordinator.table_rows``, loaded from storage on the first ``UPDATE``/``DELETE`` of the table, so a
coordinator starts without reading every table) so that ``UPDATE``/``DELETE`` compute their retractions
without reading storage; changes become durable through the group-committing
:class:`~steadystate.storage.tables.TableWriter` at a timestamp from the oracle, and the in-memory copy is
updated only after the commit.  Statements that read the table (UPDATE, DELETE) hold a write lock from
computing their changes to applying them, so two concurrent deletes never retract the same row twice.

Inside an explicit transaction, changes are buffered in the session and committed together at ``COMMIT``
(all or nothing).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Mapping

from steadystate.errors import NotNullViolation, SteadyError, quote_ident
from steadystate.expr.casts import (
    parse_bool, parse_date, parse_float, parse_float4, parse_int, parse_interval, parse_numeric, parse_time,
    parse_timestamp, parse_timestamptz,
)
from steadystate.expr.eval import compile_mfp, compile_predicates, evaluate
from steadystate.expr.ir import CallBinary, CallVariadic, ColumnRef, MapFilterProject, ScalarExpr, depends_on_columns
from steadystate.expr.time_functions import text_timestamptz_array_in, text_timestamptz_in
from steadystate.repr.timezones import is_utc
from steadystate.repr.bytea import parse_bytea, parse_uuid
from steadystate.repr.jsonb import parse_jsonb
from steadystate.repr.types import ARRAY_ELEMENT, RelationDesc, ScalarType, datum_matches
from steadystate.sql import plan as p
from steadystate.expr.arrays import CASTS as ARRAY_CASTS
from steadystate.repr import Row

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

Changes = dict[str, list[tuple[Row, int]]]  # table id -> (row, diff)

_PARSERS: dict[ScalarType, Callable[[str], Any]] = {
    ScalarType.INT2: lambda s: parse_int(s, ScalarType.INT2),
    ScalarType.FLOAT4: parse_float4,
    ScalarType.INT4: lambda s: parse_int(s, ScalarType.INT4),
    ScalarType.INT8: lambda s: parse_int(s, ScalarType.INT8),
    ScalarType.FLOAT8: parse_float,
    ScalarType.NUMERIC: parse_numeric,
    ScalarType.TEXT: lambda s: s,
    ScalarType.BOOL: parse_bool,
    ScalarType.DATE: parse_date,
    ScalarType.TIMESTAMP: parse_timestamp,
    ScalarType.TIMESTAMPTZ: parse_timestamptz,
    ScalarType.TIME: parse_time,
    ScalarType.INTERVAL: parse_interval,
    ScalarType.JSONB: parse_jsonb,
    ScalarType.UUID: parse_uuid,
    ScalarType.BYTEA: parse_bytea,
    **{array: ARRAY_CASTS[array] for array in ARRAY_ELEMENT},  # array_in over the element's input (expr/arrays.py)
}


class Writes:
    def __init__(self, coordinator: "Coordinator") -> None:
        self.coord = coordinator
        self.lock = asyncio.Lock()
        self._in_flight = 0  # commits between "sent to storage" and "applied in memory"
        self._settled = asyncio.Event()
        # the coordinator's hash indexes on table columns: built on first use, kept up to date on commit
        self.indexes = coordinator.table_indexes

    def _desc(self, table_id: str) -> RelationDesc:
        desc = self.coord.catalog.items[table_id].desc
        assert desc is not None, f"table {table_id} has no relation description"
        return desc

    def check_rows(self, table_id: str, rows: list[Row]) -> None:
        desc = self._desc(table_id)
        for row in rows:
            if len(row) != desc.arity:
                raise SteadyError(f"INSERT has {len(row)} values but table has {desc.arity} columns",
                                  sqlstate="42601")
            for value, column in zip(row, desc.columns):
                if value is None and not column.nullable:
                    raise NotNullViolation(
                        f"null value in column {quote_ident(column.name)} violates not-null constraint"
                    )
                if not datum_matches(value, column.type):
                    raise SteadyError(
                        f"column {quote_ident(column.name)} is of type {column.type.pg_name} but expression is of "
                        f"type {type(value).__name__}", sqlstate="42804",
                    )

    def delete_changes(self, plan: p.DeletePlan, pending: Changes | None = None) -> Changes:
        candidates, exact = self._candidates(plan.table_id, plan.predicates, pending)
        if exact:
            return {plan.table_id: [(row, -count) for row, count in candidates.items() if count > 0]}
        matches = compile_predicates(plan.predicates, self._desc(plan.table_id).types)
        return {plan.table_id: [(row, -count) for row, count in candidates.items() if count > 0 and matches(row)]}

    def _candidates(
        self, table_id: str, predicates: tuple[ScalarExpr, ...], pending: Changes | None
    ) -> tuple[Mapping[Row, int], bool]:
        """The rows that may match — all of them, or those an equality/IN predicate selects through a hash
        index — and whether they are exactly the matches (the lookup was the only predicate)."""
        lookup = point_lookup(predicates)
        if lookup is None:
            return self._current(table_id, pending), False
        column, values = lookup
        values = [v for v in values if v is not None]  # NULL never compares equal
        index = self.indexes.setdefault(table_id, {}).get(column)
        rows = self.coord.table_rows[table_id]
        if index is None:
            index = {}
            for row in rows:
                index.setdefault(row[column], set()).add(row)
            self.indexes[table_id][column] = index
        out: dict[Row, int] = {}
        for value in values:
            for row in index.get(value, ()):
                out[row] = rows[row]
        if pending and table_id in pending:
            wanted = set(values)
            for row, diff in pending[table_id]:
                if row[column] in wanted:
                    out[row] = out.get(row, rows.get(row, 0)) + diff
        return out, len(predicates) == 1

    def update_changes(self, plan: p.UpdatePlan, pending: Changes | None = None) -> Changes:
        desc = self._desc(plan.table_id)
        arity = desc.arity
        assignments = dict(plan.assignments)
        maps = tuple(assignments[i] for i in sorted(assignments))
        positions = {column: arity + n for n, column in enumerate(sorted(assignments))}
        projection = tuple(positions.get(i, i) for i in range(arity))
        mfp = compile_mfp(MapFilterProject(arity, maps, plan.predicates, projection), desc.types)
        out: list[tuple[Row, int]] = []
        for row, count in self._candidates(plan.table_id, plan.predicates, pending)[0].items():
            if count <= 0:
                continue
            new_row = mfp(row)
            if new_row is None:
                continue
            out.append((row, -count))
            out.append((tuple(new_row), count))
        self.check_rows(plan.table_id, [r for r, d in out if d > 0])
        return {plan.table_id: out}

    def _current(self, table_id: str, pending: Changes | None) -> Counter[Row]:
        current = self.coord.table_rows[table_id]
        if pending and table_id in pending:
            current = Counter(current)
            for row, diff in pending[table_id]:
                current[row] += diff
        return current

    async def load(self, table_id: str) -> None:
        """Load a table's current contents into memory (once), consistent with every acknowledged write.

        No commit may be between durable and applied while the snapshot is read, or it would count twice."""
        while table_id not in self.coord.table_rows:
            if self._in_flight:
                await self._settled.wait()
                continue
            shard = self.coord.catalog.items[table_id].shard
            assert shard is not None  # a table has a shard
            upper = self.coord.store.upper(shard) or 0
            snapshot = self.coord.store.snapshot(shard, upper - 1) if upper > 0 else []
            self.coord.table_rows[table_id] = Counter(dict(snapshot))

    async def commit(self, changes: Changes) -> int:
        """Make ``changes`` durable at one timestamp and apply them to the in-memory tables."""
        shard_changes: dict[str, list[tuple[Row, int]]] = {}
        for table_id, updates in changes.items():
            item = self.coord.catalog.items.get(table_id)
            if item is None or item.shard is None:
                raise SteadyError(f"table {table_id} was dropped concurrently", sqlstate="40001")
            if updates:
                shard_changes[item.shard] = updates
        if not shard_changes:
            return self.coord.oracle.read_ts()
        # Once queued, the write is committed whether or not its statement is still waiting (a client that went
        # away cancels it): the durable write and its application to the in-memory tables run in a task of their
        # own, shielded, so the tables UPDATE and DELETE read never miss a write that storage has.
        applied = asyncio.ensure_future(self._write_and_apply(shard_changes, changes))
        applied.add_done_callback(_retrieve)
        return await asyncio.shield(applied)

    async def _write_and_apply(self, shard_changes: dict[str, list[tuple[Row, int]]], changes: Changes) -> int:
        self._in_flight += 1
        self._settled.clear()
        try:
            ts = await self.coord.tables.write(shard_changes)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._settled.set()
        for table_id, updates in changes.items():
            rows = self.coord.table_rows.get(table_id)
            if rows is None:
                continue
            indexes = self.indexes.get(table_id, {})
            for row, diff in updates:
                before = rows[row]
                rows[row] = after = before + diff
                if after == 0:
                    del rows[row]
                if (before <= 0) != (after <= 0):
                    for column, index in indexes.items():
                        if after > 0:
                            index.setdefault(row[column], set()).add(row)
                        else:
                            bucket = index.get(row[column])
                            if bucket is not None:
                                bucket.discard(row)
                                if not bucket:
                                    del index[row[column]]
        return ts



def _retrieve(task: "asyncio.Future[int]") -> None:
    """Consume the outcome of a write whose statement was cancelled (it was reported as the cancellation)."""
    if not task.cancelled():
        task.exception()


def point_lookup(predicates: tuple[ScalarExpr, ...]) -> tuple[int, list[Any]] | None:
    """``(column, values)`` if a conjunct is ``column = constant`` or ``column IN (constants)``."""
    for predicate in predicates:
        if isinstance(predicate, CallBinary) and predicate.func == "eq":
            for column, other in ((predicate.left, predicate.right), (predicate.right, predicate.left)):
                if isinstance(column, ColumnRef) and not depends_on_columns(other):
                    return column.index, [evaluate(other)]
        if isinstance(predicate, CallVariadic) and predicate.func == "in_list":
            needle, *candidates = predicate.exprs
            if isinstance(needle, ColumnRef) and not any(depends_on_columns(c) for c in candidates):
                return needle.index, [evaluate(c) for c in candidates]
    return None


def parse_copy_row(fields: tuple[str | None, ...], types: list[ScalarType], line: int,
                   modifiers: list[Callable[[Any], Any] | None] | None = None, time_zone: str = "UTC") -> Row:
    """A COPY line's fields as datums of the column ``types``, each brought to its column's type modifier
    (``modifiers``: from repr.typmod.coercer, or None) by the rules of an assignment; a timestamptz without an
    offset is a wall-clock time in the session's ``time_zone``."""
    out: list[object] = []
    zoned = None if is_utc(time_zone) else time_zone
    for position, (value, typ) in enumerate(zip(fields, types)):
        if value is None:
            out.append(None)
            continue
        try:
            if zoned is not None and typ is ScalarType.TIMESTAMPTZ:
                datum = text_timestamptz_in(value, zoned)
            elif zoned is not None and typ is ScalarType.TIMESTAMPTZ_ARRAY:
                datum = text_timestamptz_array_in(value, zoned)
            else:
                datum = _PARSERS[typ](value)
        except SteadyError as exc:
            raise SteadyError(exc.message, sqlstate=exc.sqlstate, detail=f"COPY line {line}") from None
        modifier = modifiers[position] if modifiers else None
        out.append(datum if modifier is None else modifier(datum))
    return tuple(out)


def merge(into: Changes, more: Changes) -> None:
    for table_id, updates in more.items():
        into.setdefault(table_id, []).extend(updates)
