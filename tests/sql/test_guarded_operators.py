"""Operators check a query's guard inside their loops over a large input — a map, a reduce's fold, a window's
partitioning and its sort — so a cancel (or the memory threshold) stops them part way, not after building their whole
output or state; and a window does not turn the guard's stop into an error of its data.  The graph's check before
each operator (``room``) is passed over here, so only the checks inside the operators count."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from steadystate.dataflow import guard
from steadystate.dataflow.operators import Operator
from steadystate.errors import QueryCanceled

from join_support import COLUMNS, Maintained

ROWS = 5 * guard.SLICE_ROWS + 17  # five full slices: five checks in a checked loop over the input
INPUT = {"t1": [((i, i % 1000), 1) for i in range(ROWS)]}


class InLoop(guard.Guard):
    """Stops at the ``after``-th check made inside an operator (no ``room``), once; the graph's checks before an
    operator pass."""

    def __init__(self, after: int) -> None:
        super().__init__(lambda: False, None, None)
        self.after = after
        self.calls = 0

    def check(self, room: int = 0) -> None:
        if room:
            return
        self.calls += 1
        if self.calls == self.after:  # once: a stop turned into data would not be raised again later
            raise QueryCanceled("canceling statement due to user request")


class Recording(guard.Guard):
    """Counts the checks made inside each operator's ``run`` (by its class name); never stops."""

    def __init__(self) -> None:
        super().__init__(lambda: False, None, None)
        self.by: Counter[str] = Counter()

    def check(self, room: int = 0) -> None:
        if room:
            return
        frame = sys._getframe(1)
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, Operator) and frame.f_code.co_name in ("run", "run_columnar"):
                self.by[type(owner).__name__] += 1
                return
            frame = frame.f_back  # type: ignore[assignment]


@pytest.mark.parametrize("sql, operator, checks", [
    ("SELECT k + a, a FROM t1 WHERE k % 2 = 0", "MfpOperator", 5),
    ("SELECT a, count(*), sum(k) FROM t1 GROUP BY a", "AccumulatingReduce", 5),
    # partitioning, then three sorts (the whole-row tie break, then by k, then by a), each checking its first key
    # and every SLICE_ROWS-th: six checks each
    ("SELECT k, row_number() OVER (ORDER BY a, k) FROM t1", "WindowOperator", 5 + 3 * 6),
], ids=["map", "reduce", "window"])
def test_an_operator_over_a_large_input_checks_the_guard_as_it_goes(sql: str, operator: str, checks: int) -> None:
    recording = Recording()
    view = Maintained(sql)
    with guard.guarded(recording):
        view.apply(INPUT)
    assert recording.by[operator] >= checks, recording.by


def test_a_stop_inside_a_window_stops_the_query_it_is_no_error_of_the_data() -> None:
    view = Maintained("SELECT k, row_number() OVER (ORDER BY a, k) FROM t1")
    for name in COLUMNS:
        view.dataflow.feed(name, [(row, 1, diff) for row, diff in INPUT.get(name, [])], 2)
    with guard.guarded(InLoop(after=6)), pytest.raises(QueryCanceled):  # the sort's first check
        view.dataflow.step()  # raised by the step itself, not read back from the index as an error of the data


def test_without_a_stop_the_checks_change_nothing() -> None:
    sql = "SELECT k, row_number() OVER (ORDER BY a, k) FROM t1"
    unguarded, checked = Maintained(sql), Maintained(sql)
    rows = INPUT
    never = InLoop(after=10**9)
    with guard.guarded(never):
        got = checked.apply(rows)
    assert never.calls >= 5 + 2
    assert got == unguarded.apply(rows)


def test_a_checked_sort_key_checks_every_slice() -> None:
    values = list(range(3 * guard.SLICE_ROWS, 0, -1))
    assert guard.checked_key(abs) is abs  # outside a guard: the key itself
    stop = InLoop(after=10**9)
    with guard.guarded(stop):
        assert sorted(values, key=guard.checked_key(abs)) == sorted(values)
    assert stop.calls == 3
