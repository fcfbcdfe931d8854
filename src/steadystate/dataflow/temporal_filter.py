"""The temporal filter operator: updates scheduled at future times, released as the dataflow's frontier passes them.

A row that a temporal predicate admits during ``[lower, upper)`` (``expr.temporal_filter`` computes the interval
per row; ``bounds(row)`` here) is, for an input update ``(row, t, d)``:

* ``+d`` at ``start = max(t, lower)`` — now, in the round at ``t``, when ``lower <= t``, else held;
* ``-d`` at ``upper`` (when ``upper > start``) — always held.

A row whose interval is empty, or whose bound is NULL, is not output at all.  A bound that fails to evaluate is an
error update at ``t`` (retracted when the row is).  Held updates wait in ``scheduled`` (time → consolidated
delta); :class:`~steadystate.dataflow.graph.Graph` asks :meth:`TemporalFilterOperator.due_before` for the held
times its frontier has passed and runs a round at each, in time order, and the operator emits what it holds for
that time.  So the time that drives the updates is the dataflow's input frontier, which advances with the
timestamp oracle's clock (table uppers tick every second): a view over a table written once shrinks on its own.

**A snapshot's columns** (``dataflow.columnar_delta``, the hydration round) take a columnar path when the operator
has ``arrow``: the bounds evaluated over an Arrow table at the round's time (``expr.temporal_arrow``, installed by
``render.dataflow``), giving the rows whose interval is not empty after that time (``None``: every row) and their
bounds as NumPy ``int64`` arrays, or ``None`` when a value needs the row evaluator (an error, a type it does not
evaluate).  Rows it leaves out (expired, empty interval, a NULL bound) are the ones the row path drops without
output, so a snapshot that is mostly expired costs no more than finding the few that are not.  :meth:`run_columnar`
then splits the rows with NumPy: rows inside their interval now leave as columns (a part of the output
``ColumnarDelta``), and the held insertions and retractions are kept as :class:`HeldColumns` — the rows' table
sorted by the time they are due, with their diffs — released by binary search as the frontier passes their times
(one round per distinct time, as the row path runs).  If any part's bounds cannot be evaluated, the whole delta takes
the row path, which reports errors as data.  Updates after hydration take the row path.

Like Materialize's, this keeps every future retraction in memory until its time comes (one entry per row).
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into
from steadystate.dataflow.columnar_delta import ColumnarDelta, ok_rows
from steadystate.dataflow.columns import python_values
from steadystate.dataflow.operators import Operator

#: a row's interval ``(lower, upper)``: ``None`` for an unbounded side; ``bounds`` returns ``None`` for a row
#: that is never in the result (a NULL bound)
Interval = tuple[int | None, int | None]

#: ``(table, time) -> (rows, lower, upper)``: the indices of the rows whose interval is not empty after ``time``
#: (``None``: every row) and their bounds, int64 arrays (``None`` for a side without bounds) — or ``None`` when the
#: row evaluator is needed
ArrowBounds = Callable[[Any, int], "tuple[Any | None, Any | None, Any | None] | None"]


class HeldColumns:
    """Rows of a snapshot's columns held for future times: ``table`` (columns ``c0 …``) sorted by ``times`` (an
    int64 array), each row an update of ``diffs[i]``.  ``announced`` rows' times were handed to the graph
    (:meth:`announce`); ``released`` rows were emitted (:meth:`release`)."""

    __slots__ = ("times", "table", "diffs", "arity", "announced", "released")

    def __init__(self, times: Any, table: Any, diffs: Any, arity: int) -> None:
        self.times = times
        self.table = table
        self.diffs = diffs
        self.arity = arity
        self.announced = 0
        self.released = 0

    def __len__(self) -> int:
        return len(self.times) - self.released

    def announce(self, limit: int | None) -> list[int]:
        """The distinct times below ``limit`` (all if ``None``) not announced before."""
        import numpy as np

        end = len(self.times) if limit is None else int(np.searchsorted(self.times, limit, "left"))
        if end <= self.announced:
            return []
        times = np.unique(self.times[self.announced:end]).tolist()
        self.announced = end
        return times

    def holds(self, time: int) -> bool:
        import numpy as np

        at = int(np.searchsorted(self.times, time, "left"))
        return at < len(self.times) and int(self.times[at]) == time

    def release(self, time: int, into: OkDelta) -> None:
        """The updates at ``time`` added to ``into``; the ones before it are dropped (rounds run in time order)."""
        import numpy as np

        times = self.times
        low = int(np.searchsorted(times, time, "left"))
        high = int(np.searchsorted(times, time, "right"))
        if high > low:
            piece = self.table.slice(low, high - low)
            diffs = self.diffs[low:high].tolist()
            if self.arity == 0:
                rows: Any = [()] * len(diffs)
            else:
                rows = zip(*(python_values(piece.column(f"c{i}")) for i in range(self.arity)))
            for row, diff in zip(rows, diffs):
                add_into(into, row, diff)
        self.released = max(self.released, high)
        self.announced = max(self.announced, self.released)


class TemporalFilterOperator(Operator):
    def __init__(self, input: int, bounds: Callable[[Row], Interval | None], arrow: ArrowBounds | None = None) -> None:
        self.inputs = (input,)
        self.bounds = bounds
        self.arrow = arrow  # the bounds over an Arrow table, for a snapshot's columns (see the module docstring)
        self.scheduled: dict[int, OkDelta] = {}
        self._times: list[int] = []  # a heap of the keys of ``scheduled`` (each pushed once)
        self.held_columns: list[HeldColumns] = []

    def _schedule(self, time: int, row: Row, diff: int) -> None:
        delta = self.scheduled.get(time)
        if delta is None:
            delta = self.scheduled[time] = {}
            heapq.heappush(self._times, time)
        add_into(delta, row, diff)

    def due_before(self, limit: int | None) -> list[int]:
        """Held times below ``limit`` (all if ``None``), taken off the heap: the graph runs a round at each."""
        due = []
        times = self._times
        while times and (limit is None or times[0] < limit):
            due.append(heapq.heappop(times))
        for held in self.held_columns:
            due.extend(held.announce(limit))
        return sorted(set(due)) if self.held_columns else due

    def due_at(self, time: int) -> bool:
        return time in self.scheduled or any(held.holds(time) for held in self.held_columns)

    def held(self) -> int:
        """How many updates wait for their time (a size for introspection)."""
        return sum(len(delta) for delta in self.scheduled.values()) + sum(len(h) for h in self.held_columns)

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        ok: OkDelta = self.scheduled.pop(time, {})
        if self.held_columns:
            for held in self.held_columns:
                held.release(time, ok)
            self.held_columns = [held for held in self.held_columns if len(held)]
        err: ErrDelta = dict(err_in)
        bounds = self.bounds
        for row, diff in ok_in.items():
            try:
                interval = bounds(row)
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(err, EvalError.from_exception(exc), diff)
                continue
            if interval is None:
                continue
            lower, upper = interval
            start = time if lower is None or lower <= time else lower
            if upper is not None and upper <= start:
                continue
            if start == time:
                add_into(ok, row, diff)
            else:
                self._schedule(start, row, diff)
            if upper is not None:
                self._schedule(upper, row, -diff)
        return ok, err

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        """A snapshot's columns split by their intervals with NumPy (see the module docstring); the row path when
        there is no Arrow evaluator or a part needs the row evaluator."""
        ok_in, err_in = deltas[0]
        if type(ok_in) is not ColumnarDelta or self.arrow is None:
            return self.run(time, [(ok_rows(ok_in), err_in)], first)
        intervals = []
        for table, _sign in ok_in.parts:
            interval = self.arrow(table, time)
            if interval is None:
                return self.run(time, [(ok_in.rows(), err_in)], first)
            intervals.append(interval)
        ok, err = self.run(time, [(ok_in.extra, err_in)], first)
        parts = []
        for (table, sign), (rows, lower, upper) in zip(ok_in.parts, intervals):
            now = self._split(time, table, sign, rows, lower, upper, ok_in.arity)
            if now is not None:
                parts.append((now, sign))
        return ColumnarDelta(parts, ok_in.arity, ok), err

    def _split(self, time: int, table: Any, sign: int, rows: Any, lower: Any, upper: Any, arity: int) -> Any:
        """One part: of its rows ``rows`` (``None``: all) with bounds ``lower``/``upper``, those whose interval has
        begun leave now (a table, or ``None``), the held insertions and retractions go into a
        :class:`HeldColumns`."""
        import numpy as np

        count = table.num_rows if rows is None else len(rows)
        if count == 0:
            return None
        later = None if lower is None else lower > time
        if later is not None and not later.any():
            later = None
        indices, times, diffs = [], [], []
        if later is not None or upper is not None:
            every = np.arange(count, dtype=np.int64) if rows is None else rows
            if later is not None:
                indices.append(every[later])
                times.append(lower[later])
                diffs.append(np.full(len(indices[-1]), sign, dtype=np.int64))
            if upper is not None:
                indices.append(every)
                times.append(upper)
                diffs.append(np.full(count, -sign, dtype=np.int64))
            held_times = np.concatenate(times)
            order = np.argsort(held_times, kind="stable")
            self.held_columns.append(HeldColumns(held_times[order], table.take(np.concatenate(indices)[order]),
                                                 np.concatenate(diffs)[order], arity))
        if later is not None:
            now = (np.flatnonzero(~later) if rows is None else rows[~later])
            return table.take(now) if len(now) else None
        if rows is None or count == table.num_rows:  # (``rows`` ascending: every row)
            return table
        return table.take(rows)
