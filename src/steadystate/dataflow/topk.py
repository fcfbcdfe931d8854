"""Top-k per group: the rows ``[offset : offset + limit]`` in a sort order, within each group of equal group keys.

State per group: the multiset of its input rows and the output last emitted for it.  When a round touches a
group, the operator sorts the group's rows — by the order key (each column ascending or descending, NULLs first
or last per :class:`SortColumn`; the renderer translates ORDER BY into them), ties broken by the whole row so the choice is
deterministic on every replica — expands multiplicities, slices ``[offset : offset + limit]`` and emits the
difference from the previous output.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

from steadystate.dataflow.collection import Delta, OkDelta, Row, add_into
from steadystate.dataflow.operators import Operator


class SortColumn(NamedTuple):
    """One column of a sort order."""

    column: int
    descending: bool = False
    nulls_last: bool = True


def _sort_key(column: int, null_high: bool, row: Row) -> tuple:
    return _null_safe(row[column], null_high)


def _null_safe(value: Any, null_high: bool) -> tuple:
    if value is None:
        return (null_high, 0)
    return (not null_high, value)


def row_tiebreak_key(row: Row) -> tuple:
    return tuple((1, 0) if v is None else (0, v) for v in row)


def sort_rows(rows: list[Row], order: Sequence[SortColumn]) -> list[Row]:
    """Sort rows by ``order`` with SQL NULL placement and a whole-row tie break (stable multi-pass sort)."""
    ordered = sorted(rows, key=row_tiebreak_key)
    for column_order in reversed(order):
        column = column_order.column
        # with reverse=True the larger key comes first; NULLs rank high iff they must end up last in ascending
        null_high = column_order.nulls_last != column_order.descending
        ordered.sort(key=functools.partial(_sort_key, column, null_high), reverse=column_order.descending)
    return ordered


class TopKOperator(Operator):
    def __init__(
        self,
        input: int,
        group_fn: Callable[[Row], tuple],
        order: Sequence[SortColumn],
        limit: int | None,
        offset: int,
    ) -> None:
        self.inputs = (input,)
        self.group_fn = group_fn
        self.order = tuple(order)
        self.limit = limit
        self.offset = offset
        self.groups: dict[tuple, dict[Row, int]] = {}
        self.outputs: dict[tuple, dict[Row, int]] = {}

    def _select(self, rows: dict[Row, int]) -> dict[Row, int]:
        positive = [row for row, count in rows.items() if count > 0]
        ordered = sort_rows(positive, self.order)
        end = None if self.limit is None else self.offset + self.limit
        out: dict[Row, int] = {}
        position = 0
        for row in ordered:
            count = rows[row]
            lo = max(position, self.offset)
            hi = position + count if end is None else min(position + count, end)
            if hi > lo:
                out[row] = hi - lo
            position += count
            if end is not None and position >= end:
                break
        return out

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        touched: set[tuple] = set()
        for row, diff in ok_in.items():
            key = self.group_fn(row)
            rows = self.groups.get(key)
            if rows is None:
                rows = self.groups[key] = {}
            add_into(rows, row, diff)
            touched.add(key)
        ok: OkDelta = {}
        for key in touched:
            rows = self.groups[key]
            new = self._select(rows) if rows else {}
            if not rows:
                del self.groups[key]
            old = self.outputs.get(key, {})
            for row, count in old.items():
                add_into(ok, row, -count)
            for row, count in new.items():
                add_into(ok, row, count)
            if new:
                self.outputs[key] = new
            else:
                self.outputs.pop(key, None)
        return ok, err_in
