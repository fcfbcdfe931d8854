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

Like Materialize's, this keeps every future retraction in memory until its time comes (one entry per row).
"""

from __future__ import annotations

import heapq
from typing import Callable

from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into
from steadystate.dataflow.operators import Operator

#: a row's interval ``(lower, upper)``: ``None`` for an unbounded side; ``bounds`` returns ``None`` for a row
#: that is never in the result (a NULL bound)
Interval = tuple[int | None, int | None]


class TemporalFilterOperator(Operator):
    def __init__(self, input: int, bounds: Callable[[Row], Interval | None]) -> None:
        self.inputs = (input,)
        self.bounds = bounds
        self.scheduled: dict[int, OkDelta] = {}
        self._times: list[int] = []  # a heap of the keys of ``scheduled`` (each pushed once)

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
        return due

    def due_at(self, time: int) -> bool:
        return time in self.scheduled

    def held(self) -> int:
        """How many updates wait for their time (a size for introspection)."""
        return sum(len(delta) for delta in self.scheduled.values())

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        ok: OkDelta = self.scheduled.pop(time, {})
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
