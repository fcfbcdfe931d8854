"""An arrangement loaded under a guard (a transient dataflow's index: a slow-path ``SELECT``'s result) checks it
between slices of the load, so a cancel or the memory threshold stops a load of millions of rows — a cross join's
output — before it exhausts the replica; a guarded load that is not stopped holds what an unguarded one holds, also
when a slice's column is all NULL (its type then comes from the other slices)."""

from __future__ import annotations

from collections import Counter

import pytest

from steadystate.dataflow import guard
from steadystate.dataflow.arrangement import Arrangement
from steadystate.errors import QueryCanceled
from steadystate.render.row_codec import ARROW_ROWS

ROWS = 5 * guard.SLICE_ROWS + 17  # six slices


def rows() -> dict[tuple, int]:
    # the second column is NULL in the whole first slice, text afterwards
    return {(i, None if i < guard.SLICE_ROWS else f"v{i % 7}"): 1 + i % 3 for i in range(ROWS)}


def arrangement() -> Arrangement:
    return Arrangement(lambda row: (row[0] % 1000,), name="i", codec=ARROW_ROWS, key_columns=None)


class Counting:
    """A guard's ``canceled`` callback that says yes from its ``after``-th call on."""

    def __init__(self, after: int) -> None:
        self.calls = 0
        self.after = after

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.after


def test_a_guarded_load_stops_between_slices_when_canceled() -> None:
    canceled = Counting(after=3)
    target = arrangement()
    with guard.guarded(guard.Guard(canceled, None, None)), pytest.raises(QueryCanceled):
        target.apply(1, (rows(), {}))
    assert canceled.calls == 3  # it stopped at the third check, not after the whole load


def test_a_guarded_load_not_stopped_holds_what_an_unguarded_load_holds() -> None:
    plain, checked = arrangement(), arrangement()
    plain.apply(1, (rows(), {}))
    canceled = Counting(after=10**9)
    with guard.guarded(guard.Guard(canceled, None, None)):
        checked.apply(1, (rows(), {}))
    assert canceled.calls >= ROWS // guard.SLICE_ROWS  # it was checked slice by slice
    assert checked.bulk is not None and checked.bulk.records == ROWS  # loaded as a run, not row by row
    assert Counter(checked.peek()) == Counter(plain.peek()) == Counter(rows())
    for key in [(0,), (17,), (999,)]:
        assert Counter(checked.lookup(key)) == Counter(plain.lookup(key))
