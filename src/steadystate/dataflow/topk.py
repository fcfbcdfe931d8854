"""Top-k per group: the rows ``[offset : offset + limit]`` in a sort order, within each group of equal group keys.

State per group: the multiset of its input rows, the output last emitted for it and, when the group holds at
least ``offset + limit`` rows, its *boundary*: the sort key of the last row the output reaches.  The order is the
order key (each column ascending or descending, NULLs first or last per :class:`SortColumn`; the renderer
translates ORDER BY into them), ties broken by the whole row so the choice is deterministic on every replica.

When a round touches a group, the operator first compares the changed rows with the boundary: rows that sort
after it (inserted or deleted) cannot change the output, so the round costs only the delta — the common case
for a top-k over a large group, where most changes land far below the top.  Otherwise it selects the group's
``offset + limit`` first rows with a bounded heap (``heapq.nsmallest``, O(n log k) rather than a full sort: also
what hydration costs), expands multiplicities, slices ``[offset : offset + limit]`` and emits the difference from
the previous output.  Without a ``LIMIT`` the whole group is sorted.
"""

from __future__ import annotations

import functools
import heapq
from typing import Any, Callable, NamedTuple, Sequence

from steadystate.dataflow import guard
from steadystate.dataflow.collection import Delta, OkDelta, Row, add_into
from steadystate.dataflow.operators import Operator


#: Groups of at least this many rows are narrowed on their first sort column before the key-by-key selection.
PREFILTER_MIN_ROWS = 256


class SortColumn(NamedTuple):
    """One column of a sort order."""

    column: int
    descending: bool = False
    nulls_last: bool = True


class _AboveAll:
    """The sort key of a value unequal to itself (a NaN): above every other value, equal to itself, as the datum
    order the renderer's ORDER BY follows puts NaN after every number (the planner's rule, repr/sortkey.py)."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __le__(self, other: object) -> bool:
        return other is self

    def __ge__(self, other: object) -> bool:
        return True


_ABOVE_ALL = _AboveAll()


def nan_last(value: Any) -> Any:
    return value if value == value else _ABOVE_ALL


def _sort_key(column: int, null_high: bool, row: Row) -> tuple:
    return _null_safe(row[column], null_high)


def _null_safe(value: Any, null_high: bool) -> tuple:
    if value is None:
        return (null_high, 0)
    return (not null_high, nan_last(value))


def row_tiebreak_key(row: Row) -> tuple:
    return tuple((1, 0) if v is None else (0, nan_last(v)) for v in row)


def sort_rows(rows: list[Row], order: Sequence[SortColumn]) -> list[Row]:
    """Sort rows by ``order`` with SQL NULL placement and a whole-row tie break (stable multi-pass sort)."""
    ordered = sorted(rows, key=guard.checked_key(row_tiebreak_key))
    for column_order in reversed(order):
        column = column_order.column
        # with reverse=True the larger key comes first; NULLs rank high iff they must end up last in ascending
        null_high = column_order.nulls_last != column_order.descending
        ordered.sort(key=guard.checked_key(functools.partial(_sort_key, column, null_high)),
                     reverse=column_order.descending)
    return ordered


class _Descending:
    """Inverts the order of the value it wraps (a ``DESC`` column inside a composite sort key)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: "_Descending") -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: "_Descending") -> bool:
        return bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(self.value == other.value)

    __hash__ = None  # type: ignore[assignment]


def order_key(order: Sequence[SortColumn]) -> Callable[[Row], tuple]:
    """One comparable key per row that orders rows exactly as :func:`sort_rows` does."""
    parts = [(c.column, c.descending, c.nulls_last) for c in order]

    def key(row: Row) -> tuple:
        out: list[Any] = []
        for column, descending, nulls_last in parts:
            value = row[column]
            if value is None:
                out += (nulls_last, 0)
            else:
                value = nan_last(value)
                out += (not nulls_last, _Descending(value) if descending else value)
        out.append(row_tiebreak_key(row))
        return tuple(out)
    return key


class TopKOperator(Operator):
    def __init__(
        self,
        input: int,
        group_fn: Callable[[Row], tuple] | None,
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
        self.boundaries: dict[tuple, tuple] = {}  # group -> sort key of the last row the output reaches (full groups)
        self.key = order_key(self.order)

    def _select(self, group: tuple, rows: dict[Row, int]) -> dict[Row, int]:
        positive = [row for row, count in rows.items() if count > 0]
        end = None if self.limit is None else self.offset + self.limit
        if end is None:
            ordered = sort_rows(positive, self.order)
        else:  # each row counts at least once, so the ``end`` first distinct rows hold the output
            ordered = heapq.nsmallest(end, self._candidates(positive, end), key=self.key)
        out: dict[Row, int] = {}
        position = 0
        self.boundaries.pop(group, None)
        for row in ordered:
            count = rows[row]
            lo = max(position, self.offset)
            hi = position + count if end is None else min(position + count, end)
            if hi > lo:
                out[row] = hi - lo
            position += count
            if end is not None and position >= end:
                self.boundaries[group] = self.key(row)
                break
        return out

    def _candidates(self, positive: list[Row], end: int) -> list[Row]:
        """The rows that can be among the ``end`` first: those whose first sort column is at least as good as the
        ``end``-th best value of that column (found on the plain values, without building a key per row).  Every
        row left out has ``end`` rows strictly before it.  All rows when the column has NULLs or the group is
        small."""
        if len(positive) < PREFILTER_MIN_ROWS:
            return positive
        first = self.order[0]
        column = first.column
        values = [row[column] for row in positive]
        if None in values:
            return positive
        if first.descending:
            edge = heapq.nlargest(end, values)[-1]
            return [row for row in positive if row[column] >= edge]
        edge = heapq.nsmallest(end, values)[-1]
        return [row for row in positive if row[column] <= edge]

    def _unaffected(self, group: tuple, changed: list[Row]) -> bool:
        """Whether every changed row sorts after the group's boundary (then the output stays as it is)."""
        boundary = self.boundaries.get(group)
        if boundary is None:
            return False
        key = self.key
        return all(boundary < key(row) for row in changed)

    def _group(self, ok_in: OkDelta, touched: dict[tuple, list[Row]]) -> None:
        """Fold a delta into its groups' rows, recording each group's changed rows in ``touched``."""
        group_fn = self.group_fn
        assert group_fn is not None
        for row, diff in ok_in.items():
            key = group_fn(row)
            rows = self.groups.get(key)
            if rows is None:
                rows = self.groups[key] = {}
            add_into(rows, row, diff)
            changed = touched.get(key)
            if changed is None:
                touched[key] = [row]
            else:
                changed.append(row)

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        touched: dict[tuple, list[Row]] = {}
        if self.group_fn is None:  # a global top-k: one group, its rows taken in bulk
            if ok_in:
                rows = self.groups.setdefault((), {})
                if rows:
                    for row, diff in guard.checked(ok_in.items()):
                        add_into(rows, row, diff)
                else:
                    rows.update(ok_in)
                touched[()] = list(ok_in)
        else:
            self._group(ok_in, touched)
        ok: OkDelta = {}
        for key, changed_rows in touched.items():
            rows = self.groups[key]
            if rows and self._unaffected(key, changed_rows):
                continue
            new = self._select(key, rows) if rows else {}
            if not rows:
                del self.groups[key]
                self.boundaries.pop(key, None)
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
