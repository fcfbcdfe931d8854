"""The dataflow graph and its scheduler: one distinct timestamp at a time, through every operator.

A :class:`Graph` holds operators in topological order (an operator's inputs are always earlier nodes) and
:class:`InputPort`\\ s, each feeding one :class:`~steadystate.dataflow.operators.InputOperator` and carrying pending
updates plus an ``upper`` (all its updates at times < upper have arrived).

:meth:`Graph.step` computes ``limit = min(input uppers)`` (``None`` — complete — when there are no inputs), takes
every pending update with time < limit, advances times below ``as_of`` to ``as_of``, and runs one **round** per
distinct time in ascending order: each operator gets its inputs' deltas for that time and produces its own.  So
every output change carries the time of the input change that caused it, and folding the outputs reproduces the
result at every time.  Updates at or beyond ``until`` are dropped.  A temporal filter
(``dataflow.temporal_filter``) holds updates for future times: the step also runs a round at each held time below
``limit`` (asking again after every round, since a round may hold new ones), and that operator runs in a round
where it holds updates even when its input is empty.  The graph's ``frontier`` starts at ``as_of``
and becomes ``limit`` after the step; the first round (at ``as_of``) always runs, so constants and global
aggregates emit even without input.

Memory within a round: an operator's output is let go as soon as the last operator that reads it has run (a chain
of operators over a large snapshot holds one or two deltas at a time, not all of them).  Under a query's guard
(``dataflow.guard``: a transient dataflow) each operator is checked before it runs with ``room`` for its input's rows
at :data:`ROW_ROOM` bytes each — an operator may build its output or state in one piece that no check inside it
interrupts — so a query whose next operator would not fit is refused (53200) before that operator starts.
"""

from __future__ import annotations

import gc
from collections import Counter
from operator import itemgetter

from steadystate.dataflow import guard
from steadystate.dataflow.collection import EMPTY, Delta, ErrDelta, EvalError, OkDelta, Row, Update, add_into, merge_into
from steadystate.dataflow.columnar_delta import ColumnarDelta, as_rows
from steadystate.dataflow.operators import InputOperator, Operator
from steadystate.dataflow.temporal_filter import TemporalFilterOperator


PortDelta = tuple["OkDelta | ColumnarDelta", ErrDelta]  # a port's delta at one time: its snapshot may be columns
_BULK_TAKE = 256  # pending lists at least this long try the single-time bulk path


class InputPort:
    """Pending updates of one input and its upper frontier."""

    def __init__(self, name: str, node: int) -> None:
        self.name = name
        self.node = node
        self.pending: list[Update] = []
        self.pending_errors: list[tuple[EvalError, int, int]] = []
        # whole deltas at one time (snapshots), not copied; a snapshot's columns as a ColumnarDelta
        self.consolidated: list[tuple[int, OkDelta | ColumnarDelta]] = []
        self.upper: int | None = 0

    def push(self, updates: list[Update], upper: int | None,
             errors: list[tuple[EvalError, int, int]] | None = None) -> None:
        self.pending.extend(updates)
        if errors:
            self.pending_errors.extend(errors)
        if upper is None or (self.upper is not None and upper > self.upper):
            self.upper = upper

    def push_consolidated(self, time: int, delta: OkDelta | ColumnarDelta, upper: int | None) -> None:
        """A consolidated delta ``{row: diff}`` at one time — a snapshot — taken over without re-counting it."""
        self.consolidated.append((time, delta))
        self.push([], upper)


#: Bytes one row of an operator's input may cost it at once under a guard (an output or state entry and a new row)
ROW_ROOM = 150


class Graph:
    def __init__(self, as_of: int | None, until: int | None = None) -> None:
        self.as_of = as_of
        self.start = as_of if as_of is not None else 0
        self.until = until
        self.nodes: list[Operator] = []
        self.timed: list[TemporalFilterOperator] = []  # operators holding updates for future times
        self.ports: dict[str, InputPort] = {}
        self.frontier: int | None = self.start
        self.stepped = False
        self._last_readers: list[list[int]] = []  # per node: the nodes it reads last in a round (``_last_reads``)

    def add(self, operator: Operator) -> int:
        for index in operator.inputs:
            if index >= len(self.nodes):
                raise ValueError("operators must be added after their inputs")
        self.nodes.append(operator)
        if isinstance(operator, TemporalFilterOperator):
            self.timed.append(operator)
        return len(self.nodes) - 1

    def add_input(self, name: str) -> int:
        if name in self.ports:
            return self.ports[name].node
        node = self.add(InputOperator(name))
        self.ports[name] = InputPort(name, node)
        return node

    def input_limit(self) -> int | None:
        uppers = [port.upper for port in self.ports.values() if port.upper is not None]
        return min(uppers) if uppers else None

    def _take_ready(self, limit: int | None) -> dict[int, dict[str, PortDelta]]:
        """Pending updates with time < limit, grouped by (advanced) time and port."""
        by_time: dict[int, dict[str, PortDelta]] = {}
        start, until = self.start, self.until
        for port in self.ports.values():
            for kind, pending in ((0, port.pending), (1, port.pending_errors)):
                if not pending:
                    continue
                if len(pending) >= _BULK_TAKE and self._take_single_time(by_time, port.name, kind, pending, limit):
                    pending.clear()
                    continue
                keep: list = []
                for item in pending:
                    time = item[1]
                    if limit is not None and time >= limit:
                        keep.append(item)
                        continue
                    if time < start:
                        time = start
                    if until is not None and time >= until:
                        continue
                    per_port = by_time.setdefault(time, {})
                    deltas = per_port.get(port.name)
                    if deltas is None:
                        deltas = per_port[port.name] = ({}, {})
                    add_into(deltas[kind], item[0], item[2])  # type: ignore[arg-type]  # rows: columns come after
                pending[:] = keep
            if port.consolidated:  # after the pending rows: a ColumnarDelta takes them as its extra rows
                self._take_consolidated(by_time, port, limit)
        return by_time

    def _take_consolidated(self, by_time: dict[int, dict[str, PortDelta]], port: InputPort,
                           limit: int | None) -> None:
        keep = []
        for time, delta in port.consolidated:
            if limit is not None and time >= limit:
                keep.append((time, delta))
                continue
            time = max(time, self.start)
            if self.until is not None and time >= self.until:
                continue
            per_port = by_time.setdefault(time, {})
            deltas = per_port.get(port.name)
            if deltas is None:
                per_port[port.name] = (delta, {})
            elif isinstance(delta, ColumnarDelta) or isinstance(deltas[0], ColumnarDelta):
                per_port[port.name] = (_combined(deltas[0], delta), deltas[1])
            else:
                for row, diff in delta.items():
                    add_into(deltas[0], row, diff)
        port.consolidated = keep

    def _take_single_time(self, by_time: dict[int, dict[str, PortDelta]], name: str, kind: int,
                          pending: list, limit: int | None) -> bool:
        """Bulk path for a pending list at ONE ready time (a snapshot, a batch): consolidate it in one pass.

        Returns False (nothing taken) unless every item has the same time, below ``limit`` and ``until`` — then
        the rows are taken as they are when distinct (one ``dict(zip(...))``), else counted with ``Counter`` (every
        diff 1) or summed in one loop, instead of one ``add_into`` per update.
        """
        time = pending[0][1]
        if (limit is not None and time >= limit) or set(map(itemgetter(1), pending)) != {time}:
            return False
        if time < self.start:
            time = self.start
        if self.until is not None and time >= self.until:
            return True  # all beyond until: dropped
        diffs = list(map(itemgetter(2), pending))
        rows = list(map(itemgetter(0), pending))
        counted = dict(zip(rows, diffs))
        if len(counted) == len(rows) and 0 not in counted.values():
            pass  # distinct rows (a batch's changes, usually): as given
        elif set(diffs) == {1}:
            counted = dict(Counter(rows))
        else:
            counted = {}
            get = counted.get
            for row, _time, diff in pending:
                counted[row] = get(row, 0) + diff
            if 0 in counted.values():
                counted = {row: diff for row, diff in counted.items() if diff}
        per_port = by_time.setdefault(time, {})
        deltas = per_port.get(name)
        if deltas is None:
            per_port[name] = (counted, {}) if kind == 0 else ({}, counted)
        else:
            for key, diff in counted.items():
                add_into(deltas[kind], key, diff)  # type: ignore[arg-type]  # rows: columns come after
        return True

    def step(self) -> bool:
        """Process every complete time; True if anything happened (a round ran or the frontier moved).

        The cyclic garbage collector is paused during the step: a round allocates millions of tuples and dicts
        that are all reachable, and repeated full collections over them dominated hydration time.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._step()
        finally:
            if was_enabled:
                gc.enable()

    def _step(self) -> bool:
        limit = self.input_limit()
        if limit is not None and limit <= self.start:  # not even as_of is complete yet
            return False
        first = not self.stepped
        by_time = self._take_ready(limit)
        times = set(by_time)
        if first:
            times.add(self.start)
        times.update(self._held_times(limit))
        ran = False
        while times:
            time = min(times)
            times.discard(time)
            self._round(time, by_time.get(time, {}), first)
            first = False
            ran = True
            if self.timed:
                times.update(self._held_times(limit))
        self.stepped = True
        moved = limit != self.frontier
        if limit is None or (self.frontier is not None and limit > self.frontier):
            self.frontier = limit
        return moved or ran

    def _held_times(self, limit: int | None) -> list[int]:
        """The times temporal filters hold updates for that are complete (below ``limit`` and ``until``)."""
        if not self.timed:
            return []
        until = self.until
        return [time for operator in self.timed for time in operator.due_before(limit)
                if until is None or time < until]

    def _last_reads(self, position: int) -> list[int]:
        """The nodes whose output node ``position`` is the last to read in a round."""
        if len(self._last_readers) != len(self.nodes):
            last: dict[int, int] = {}
            for reader, node in enumerate(self.nodes):
                for i in node.inputs:
                    last[i] = reader
            self._last_readers = [[] for _ in self.nodes]
            for i, reader in last.items():
                self._last_readers[reader].append(i)
        return self._last_readers[position]

    def _round(self, time: int, inputs: dict[str, PortDelta], first: bool) -> None:
        columnar = first  # deltas may be columns (``dataflow.columnar_delta``): the snapshot's round
        for name, delta in inputs.items():
            port = self.ports[name]
            self.nodes[port.node].current = delta  # type: ignore[attr-defined]
            columnar = columnar or type(delta[0]) is ColumnarDelta
        outputs: list[Delta] = []
        append = outputs.append
        guarded = guard.active()
        for position, node in enumerate(self.nodes):
            if node.inputs:
                deltas = [outputs[i] for i in node.inputs]
                for i in self._last_reads(position):  # read for the last time: not held for the rest of the round
                    outputs[i] = EMPTY
                if guarded:  # a query's dataflow: an operator may build state or output its input's size at once
                    guard.check(room=ROW_ROOM * sum(map(_rows_in, deltas)))
                if (not first and not any(d[0] or d[1] for d in deltas)
                        and not (isinstance(node, TemporalFilterOperator) and node.due_at(time))):
                    append(EMPTY)
                    continue
                if columnar and (any(type(d[0]) is ColumnarDelta for d in deltas)
                                 or ((columns_at := getattr(node, "columns_at", None)) and columns_at(time))):
                    run_columnar = getattr(node, "run_columnar", None)
                    if run_columnar is not None:
                        append(run_columnar(time, deltas, first))
                        continue
                    deltas = [as_rows(d) for d in deltas]
            else:
                deltas = []
                if not first and not isinstance(node, InputOperator):
                    append(EMPTY)
                    continue
            append(node.run(time, deltas, first))


def _rows_in(delta: Delta) -> int:
    ok, err = delta
    return (ok.num_rows() + len(ok.extra) if type(ok) is ColumnarDelta else len(ok)) + len(err)


def _combined(ok: OkDelta | ColumnarDelta, other: OkDelta | ColumnarDelta) -> ColumnarDelta:
    """Two ok deltas of one port at one time, one of them (at least) columns, as one ColumnarDelta."""
    if type(ok) is not ColumnarDelta:
        ok, other = other, ok
    assert type(ok) is ColumnarDelta
    extra = dict(ok.extra)
    if isinstance(other, ColumnarDelta):
        merge_into(extra, other.extra)
        return ColumnarDelta(ok.parts + other.parts, ok.arity, extra)
    merge_into(extra, other)
    return ColumnarDelta(ok.parts, ok.arity, extra)


def fold(updates: list[Update], up_to: int | None = None) -> dict[Row, int]:
    """Accumulate updates with time < up_to (all if None) into row → count (a testing and sinking aid)."""
    out: dict[Row, int] = {}
    for row, time, diff in updates:
        if up_to is None or time < up_to:
            add_into(out, row, diff)
    return out
