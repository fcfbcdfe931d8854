"""What window functions compute over one sorted partition: :func:`compile_window` turns an ``ir.Window`` into the
``compute`` function the engine's ``dataflow.window.WindowOperator`` calls with a partition's rows in order.

* **Peers** are rows with equal ORDER BY values (all rows when there is no ORDER BY); ``rank``, ``dense_rank``,
  ``percent_rank``, ``cume_dist`` and RANGE frames are defined by them.
* **Frames** become, per row ``i``, a half-open range ``[lo, hi)`` of positions.  ROWS counts positions, GROUPS
  peer groups; RANGE
  with an offset compares values of the single ORDER BY column (``value ± offset``, descending order flips the
  sign) by binary search among the non-NULL rows, and a NULL row's frame is its peers (PostgreSQL's rule).  Both
  ends are non-decreasing in ``i``, so an aggregate over the frame is kept by a sliding state
  (``expr/aggregates.py``: add what enters, retract what leaves) — O(partition) per partition.  A float
  ``sum``/``avg`` whose frame start moves is recomputed per row instead, adding in order as PostgreSQL does
  (a retraction would leave rounding behind).
* ``ntile(n)``: PostgreSQL's buckets (the first ``count % n`` buckets get one more row); ``lag``/``lead`` read
  the row ``offset`` away or evaluate the default on the current row; ``first_value``/``last_value``/
  ``nth_value`` read the frame.

Errors (``ntile`` of zero buckets, ``nth_value`` position zero) are raised as ``SteadyError``: the operator turns
them into the partition's error.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable

from steadystate import errors
from steadystate.expr import ir
from steadystate.expr.aggregates import accumulator_kind, aggregate_factory
from steadystate.expr.infer import Types
from steadystate.repr.types import ScalarType

Row = tuple[Any, ...]
Column = Callable[[list[Row], "_Partition"], list[Any]]  # one function's values for every row of a partition

B = ir.BoundKind


class _Partition:
    """A sorted partition with its peer groups (computed on first use)."""

    def __init__(self, rows: list[Row], order: tuple[ir.ColumnOrder, ...]) -> None:
        self.rows = rows
        self.order = order
        self._peers: tuple[list[int], list[int], list[int]] | None = None

    def peers(self) -> tuple[list[int], list[int], list[int]]:
        """Per row: the first position of its peer group, one past its last, and the group's number (from 1)."""
        if self._peers is None:
            rows, columns = self.rows, [o.column for o in self.order]
            starts: list[int] = []
            groups: list[int] = []
            previous: tuple | None = None
            start = group = 0
            for i, row in enumerate(rows):
                key = tuple(row[c] for c in columns)
                if i == 0 or key != previous:
                    start, group, previous = i, group + 1, key
                starts.append(start)
                groups.append(group)
            ends = [0] * len(rows)
            end = len(rows)
            for i in range(len(rows) - 1, -1, -1):
                if i + 1 < len(rows) and starts[i + 1] != starts[i]:
                    end = i + 1
                ends[i] = end
            self._peers = (starts, ends, groups)
        return self._peers


def _positive(value: int | None, message: str, sqlstate: str) -> int:
    if value is None or value <= 0:
        raise errors.SteadyError(message, sqlstate=sqlstate)
    return value


def _ranking(func: ir.WindowFunc) -> Column | None:
    name = func.func
    if name == "row_number":
        return lambda rows, part: list(range(1, len(rows) + 1))
    if name == "rank":
        return lambda rows, part: [s + 1 for s in part.peers()[0]]
    if name == "dense_rank":
        return lambda rows, part: list(part.peers()[2])
    if name == "percent_rank":
        return lambda rows, part: [s / (len(rows) - 1) if len(rows) > 1 else 0.0 for s in part.peers()[0]]
    if name == "cume_dist":
        return lambda rows, part: [e / len(rows) for e in part.peers()[1]]
    if name == "ntile":
        buckets = func.param

        def ntile(rows: list[Row], part: _Partition) -> list[Any]:
            if buckets is None:
                return [None] * len(rows)
            n = _positive(buckets, "argument of ntile must be greater than zero", "22014")
            size, extra = divmod(len(rows), n)
            out: list[Any] = []
            for bucket in range(1, n + 1):
                out.extend([bucket] * (size + (1 if bucket <= extra else 0)))
            return out[:len(rows)]
        return ntile
    if name in ("lag", "lead"):
        value, default = func.args[0], func.args[1] if len(func.args) > 1 else None
        shift = (func.param if func.param is not None else 1) * (-1 if name == "lag" else 1)

        def offset(rows: list[Row], part: _Partition) -> list[Any]:
            n = len(rows)
            return [rows[i + shift][value] if 0 <= i + shift < n else (rows[i][default] if default is not None else None)
                    for i in range(n)]
        return offset
    return None


def _frame_bounds(frame: ir.WindowFrame, order: tuple[ir.ColumnOrder, ...]) -> Callable[[_Partition], tuple[list[int], list[int]]]:
    """Per row the frame ``[lo, hi)``, both non-decreasing; an empty frame has ``hi <= lo``."""
    def bounds(part: _Partition) -> tuple[list[int], list[int]]:
        n = len(part.rows)
        return ([_bound(frame, frame.start, part, i, n, True) for i in range(n)],
                [_bound(frame, frame.end, part, i, n, False) for i in range(n)])
    if frame.mode is ir.FrameMode.RANGE and (frame.start.offset is not None or frame.end.offset is not None):
        return _range_offset_bounds(frame, order[0])
    if frame.mode is ir.FrameMode.GROUPS:
        return _groups_bounds(frame)
    return bounds


def _groups_bounds(frame: ir.WindowFrame) -> Callable[[_Partition], tuple[list[int], list[int]]]:
    """GROUPS: offsets count peer groups; CURRENT ROW is the row's peer group."""
    def bounds(part: _Partition) -> tuple[list[int], list[int]]:
        n = len(part.rows)
        starts, ends, groups = part.peers()
        first_of = {g: s for s, g in zip(starts, groups)}  # group number -> its first position
        count = groups[-1] if groups else 0

        def one(bound: ir.FrameBound, i: int, start: bool) -> int:
            kind = bound.kind
            if kind is B.UNBOUNDED_PRECEDING:
                return 0
            if kind is B.UNBOUNDED_FOLLOWING:
                return n
            if kind is B.CURRENT_ROW:
                return starts[i] if start else ends[i]
            assert bound.offset is not None
            k = int(bound.offset.datum())
            target = groups[i] - k if kind is B.PRECEDING else groups[i] + k
            if start:
                return 0 if target < 1 else first_of[target] if target <= count else n
            return 0 if target < 1 else first_of[target + 1] if target < count else n
        return [one(frame.start, i, True) for i in range(n)], [one(frame.end, i, False) for i in range(n)]
    return bounds


def _bound(frame: ir.WindowFrame, bound: ir.FrameBound, part: _Partition, i: int, n: int, start: bool) -> int:
    kind = bound.kind
    if kind is B.UNBOUNDED_PRECEDING:
        return 0
    if kind is B.UNBOUNDED_FOLLOWING:
        return n
    if kind is B.CURRENT_ROW:
        if frame.mode is ir.FrameMode.ROWS:
            return i if start else i + 1
        starts, ends, _ = part.peers()
        return starts[i] if start else ends[i]
    assert bound.offset is not None
    k = int(bound.offset.datum())
    position = i - k if kind is B.PRECEDING else i + k
    return min(max(position if start else position + 1, 0), n)


def _range_offset_bounds(frame: ir.WindowFrame, order: ir.ColumnOrder) -> Callable[[_Partition], tuple[list[int], list[int]]]:
    sign = -1 if order.desc else 1

    def bounds(part: _Partition) -> tuple[list[int], list[int]]:
        rows, n = part.rows, len(part.rows)
        starts, ends, _ = part.peers()
        values = [row[order.column] for row in rows]
        present = [i for i, v in enumerate(values) if v is not None]
        first = present[0] if present else 0
        keys = [sign * values[i] for i in present]  # ascending

        def one(bound: ir.FrameBound, i: int, start: bool) -> int:
            kind = bound.kind
            if kind is B.UNBOUNDED_PRECEDING:
                return 0
            if kind is B.UNBOUNDED_FOLLOWING:
                return n
            if kind is B.CURRENT_ROW or values[i] is None:
                return starts[i] if start else ends[i]
            assert bound.offset is not None
            offset = bound.offset.datum()
            target = sign * values[i] + (-offset if kind is B.PRECEDING else offset)
            found = bisect.bisect_left(keys, target) if start else bisect.bisect_right(keys, target)
            return first + found
        return [one(frame.start, i, True) for i in range(n)], [one(frame.end, i, False) for i in range(n)]
    return bounds


def _framed(func: ir.WindowFunc, order: tuple[ir.ColumnOrder, ...], types: Types | None) -> Column:
    bounds = _frame_bounds(func.frame, order)
    name = func.func
    if name in ("first_value", "last_value", "nth_value"):
        value = func.args[0]
        nth = func.param

        def pick(rows: list[Row], part: _Partition) -> list[Any]:
            if name == "nth_value" and nth is None:
                return [None] * len(rows)
            position = _positive(nth, "argument of nth_value must be greater than zero", "22016") \
                if name == "nth_value" else 1
            out: list[Any] = []
            for lo, hi in zip(*bounds(part)):
                index = hi - 1 if name == "last_value" else lo + position - 1
                out.append(rows[index][value] if lo <= index < hi else None)
            return out
        return pick
    value_expr: ir.ScalarExpr = ir.ColumnRef(func.args[0]) if func.args else ir.Literal(True, ScalarType.BOOL)
    pair = func.args[1] if len(func.args) == 2 else None  # corr(y, x) & co.: the state is fed (y, x, ())
    make = aggregate_factory(ir.AggregateExpr(name, value_expr, args=(ir.ColumnRef(pair),) if pair is not None
                                              else ()), types)
    argument = func.args[0] if func.args else None
    inexact = name in ("sum", "avg") and types is not None and argument is not None \
        and types[argument] is ScalarType.FLOAT8

    def aggregate(rows: list[Row], part: _Partition) -> list[Any]:
        values: list[Any] = [True] * len(rows) if argument is None else (
            [row[argument] for row in rows] if pair is None else [(row[argument], row[pair], ()) for row in rows])
        los, his = bounds(part)
        out: list[Any] = []
        state = make()
        low = high = 0
        for lo, hi in zip(los, his):
            hi = max(hi, lo)
            if inexact and lo > low:
                state, low, high = make(), lo, lo
            while high < hi:
                state.add(values[high], 1)
                high += 1
            while low < lo:
                state.add(values[low], -1)
                low += 1
            out.append(state.result())
        return out
    return aggregate


def _whole_partition(frame: ir.WindowFrame) -> bool:
    """Whether, without ORDER BY (every row a peer of every other), ``frame`` is the whole partition for each row."""
    if frame.mode is ir.FrameMode.ROWS:
        return frame.start.kind is B.UNBOUNDED_PRECEDING and frame.end.kind is B.UNBOUNDED_FOLLOWING
    return (frame.start.kind in (B.UNBOUNDED_PRECEDING, B.CURRENT_ROW)
            and frame.end.kind in (B.UNBOUNDED_FOLLOWING, B.CURRENT_ROW))


def compile_uniform(expr: ir.Window, types: Types | None) -> Callable[[dict[Row, int]], tuple] | None:
    """For a window whose every function has one value for the whole partition, whatever the rows' order — no
    ORDER BY, a frame that is the whole partition, and an aggregate whose result does not depend on the order of its
    inputs (counts; sums and means of integers and numerics, which ``accumulator_kind`` accumulates exactly; min and
    max of integers and text, not of numerics, whose equal values may show different scales) — the function from a
    partition's rows (``{row: count}``) to the values appended to every row: what :func:`compile_window`'s ``compute`` gives each row of the sorted partition, without
    the sort.  ``None`` otherwise (the engine then sorts and calls ``compute``)."""
    if expr.order_key:
        return None
    parts: list[tuple[Callable[[], Any], int | None]] = []
    for func in expr.functions:
        if not _whole_partition(func.frame):
            return None
        if func.func in ("count", "count_star") and not func.args:  # count(*)
            argument = None
        elif len(func.args) == 1:
            argument = func.args[0]
            kind = types[argument] if types is not None else None
            if func.func in ("min", "max"):
                if kind not in _ORDERED_EXACTLY:
                    return None
            elif accumulator_kind(ir.AggregateExpr(func.func, ir.ColumnRef(argument)), types) is None:
                return None
        else:
            return None
        value_expr: ir.ScalarExpr = ir.ColumnRef(argument) if argument is not None else ir.Literal(True, ScalarType.BOOL)
        parts.append((aggregate_factory(ir.AggregateExpr(func.func, value_expr), types), argument))

    def uniform(rows: dict[Row, int]) -> tuple:
        live = list(rows)
        counts = list(rows.values())
        if counts and min(counts) <= 0:  # only rows of positive count are the partition's (as the sorted path has them)
            live = [row for row, count in zip(live, counts) if count > 0]
            counts = [count for count in counts if count > 0]
        out: list[Any] = []
        for make, argument in parts:
            state = make()
            values = [True] * len(live) if argument is None else [row[argument] for row in live]
            add_many = getattr(state, "add_many", None)
            if add_many is not None:  # counts and sums: in bulk, as ``add`` one by one would
                add_many(values, counts)
            else:
                for value, count in zip(values, counts):
                    state.add(value, count)
            out.append(state.result())
        return tuple(out)
    return uniform


#: types whose min/max is the same whichever order the values come in (no NaN, no signed zero)
_ORDERED_EXACTLY = frozenset({ScalarType.INT2, ScalarType.INT4, ScalarType.INT8, ScalarType.TEXT})


def compile_window(expr: ir.Window, types: Types | None) -> Callable[[list[Row]], list[tuple]]:
    """The engine's ``compute`` for ``expr``: sorted partition rows → the appended values of each."""
    columns = [_ranking(f) or _framed(f, expr.order_key, types) for f in expr.functions]
    order = expr.order_key

    def compute(rows: list[Row]) -> list[tuple]:
        part = _Partition(rows, order)
        return list(zip(*(column(rows, part) for column in columns)))
    return compute
