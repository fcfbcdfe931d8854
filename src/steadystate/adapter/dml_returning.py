"""Executing ``UPDATE ... FROM``, ``DELETE ... USING`` and ``RETURNING`` (planned by sql/dml_extras.py).

The table's current rows are the coordinator's in-memory copy (``Writes._current``: every acknowledged write plus
the session's pending ones), as for plain UPDATE and DELETE; the FROM/USING relation is read like any query
(``Reads.select``) at a timestamp covering every acknowledged write.  A transaction that has already written is
refused (0A000): its own writes would be invisible to that read.

Each target row is matched against the other relation's rows: through a hash on the equalities between a table
column and an other column that the WHERE clause holds (``t.k = o.k``), else against every row.  UPDATE uses the
first matching other row (PostgreSQL: an unspecified one) and changes each target row once; DELETE removes each
matching row once.  The changes and the RETURNING rows are computed before anything is written, so an error in a
SET or RETURNING expression writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Iterable

from steadystate.adapter.writes import Changes, Writes
from steadystate.errors import FeatureNotSupported
from steadystate.expr.ir import RowSetFinishing
from steadystate.expr.eval import compile_scalar
from steadystate.expr.ir import CallBinary, ColumnRef, ScalarExpr
from steadystate.repr import Row
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.session import ClientSession


async def other_rows(session: "ClientSession", plan: p.UpdatePlan | p.DeletePlan) -> list[Row] | None:
    """The rows of UPDATE's FROM / DELETE's USING items (None without them), read before the write lock."""
    if plan.other is None or plan.other_desc is None:
        return None
    if session.txn.pending:
        raise FeatureNotSupported("UPDATE ... FROM and DELETE ... USING in a transaction that has written are "
                                  "not supported", hint="COMMIT the writes first")
    reads = session.adapter.reads
    cluster_id = "" if reads.is_local(plan.other) else session.cluster_id()
    return await reads.select(plan.other, plan.other_desc, RowSetFinishing(), cluster_id, session.timeout,
                              max_result_size=session.max_result_size)


def returning_rows(exprs: tuple[ScalarExpr, ...], rows: Iterable[Row]) -> list[Row]:
    """The RETURNING list evaluated over each row (a row written twice is returned twice)."""
    evaluators = [compile_scalar(e, None) for e in exprs]
    return [tuple(f(row) for f in evaluators) for row in rows]


def _equalities(predicates: tuple[ScalarExpr, ...], arity: int) -> list[tuple[int, int]]:
    """``(table column, other column)`` pairs of the conjuncts ``table.c = other.d``."""
    pairs = []
    for predicate in predicates:
        if isinstance(predicate, CallBinary) and predicate.func == "eq":
            left, right = predicate.left, predicate.right
            if isinstance(left, ColumnRef) and isinstance(right, ColumnRef):
                if left.index < arity <= right.index:
                    pairs.append((left.index, right.index - arity))
                elif right.index < arity <= left.index:
                    pairs.append((right.index, left.index - arity))
    return pairs


def _matcher(predicates: tuple[ScalarExpr, ...], arity: int,
             other_rows: list[Row]) -> Callable[[Row], Iterable[Row]]:
    """For a table row, the other rows the WHERE clause joins it with, in the other relation's order."""
    checks = [compile_scalar(pred, None) for pred in predicates]
    pairs = _equalities(predicates, arity)
    if pairs:
        index: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
        for other in other_rows:
            key = tuple(other[j] for _, j in pairs)
            if None not in key:
                index[key].append(other)

        def candidates(row: Row) -> Iterable[Row]:
            return index.get(tuple(row[i] for i, _ in pairs), ())
    else:
        def candidates(row: Row) -> Iterable[Row]:
            return other_rows

    def matches(row: Row) -> Iterable[Row]:
        for other in candidates(row):
            joined = row + other
            if all(check(joined) is True for check in checks):
                yield other
    return matches


def update_from_changes(writes: Writes, plan: p.UpdatePlan, pending: Changes,
                        other_rows: list[Row]) -> tuple[Changes, list[Row]]:
    """UPDATE ... FROM: the changes, and the rows RETURNING is evaluated over (new row ++ joined row)."""
    arity = writes._desc(plan.table_id).arity
    matches = _matcher(plan.predicates, arity, other_rows)
    assignments = dict(plan.assignments)
    setters = {column: compile_scalar(expr, None) for column, expr in assignments.items()}
    out: list[tuple[Row, int]] = []
    returned: list[Row] = []
    for row, count in list(writes._current(plan.table_id, pending).items()):
        if count <= 0:
            continue
        other = next(iter(matches(row)), None)
        if other is None:
            continue
        joined = row + other
        new_row = tuple(setters[i](joined) if i in setters else row[i] for i in range(arity))
        out.append((row, -count))
        out.append((new_row, count))
        returned.extend([new_row + other] * count)
    writes.check_rows(plan.table_id, [r for r, d in out if d > 0])
    return {plan.table_id: out}, returned


def delete_using_changes(writes: Writes, plan: p.DeletePlan, pending: Changes,
                         other_rows: list[Row]) -> tuple[Changes, list[Row]]:
    """DELETE ... USING: the changes, and the rows RETURNING is evaluated over (deleted row ++ joined row)."""
    arity = writes._desc(plan.table_id).arity
    matches = _matcher(plan.predicates, arity, other_rows)
    out: list[tuple[Row, int]] = []
    returned: list[Row] = []
    for row, count in list(writes._current(plan.table_id, pending).items()):
        if count <= 0:
            continue
        other = next(iter(matches(row)), None)
        if other is None:
            continue
        out.append((row, -count))
        returned.extend([row + other] * count)
    return {plan.table_id: out}, returned
