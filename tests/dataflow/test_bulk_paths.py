"""The bulk paths for large deltas (hydration) agree with the naive evaluator, like the row-by-row paths.

The engine switches to bulk code above a size threshold (``reduce.BULK_THRESHOLD``, ``graph._BULK_TAKE``); the
join always builds each half of its delta in bulk.  Here the thresholds are lowered to 1 so that every delta of
the differential plans takes the bulk path, and the results are checked after every time as in
``test_engine_differential``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow import graph, reduce
from steadystate.expr import ir
from steadystate.dataflow.reduce import add_many
from steadystate.expr.aggregates import CountState, DistinctState, SumState

from test_engine_differential import PLANS, ops, run_differential


@contextmanager
def bulk_everywhere() -> Iterator[None]:
    saved = reduce.BULK_THRESHOLD, graph._BULK_TAKE
    reduce.BULK_THRESHOLD, graph._BULK_TAKE = 1, 1
    try:
        yield
    finally:
        reduce.BULK_THRESHOLD, graph._BULK_TAKE = saved


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=ops)
def test_bulk_paths_match_naive_evaluation(name: str, batches) -> None:
    with bulk_everywhere():
        run_differential(PLANS[name], batches)


def test_bulk_reduce_falls_back_when_a_row_fails() -> None:
    """A failing argument (1 / 0) in a bulk delta becomes an error, and deleting the row recovers the view."""
    plan = ir.Reduce(ir.Get("a"), (ir.ColumnRef(0),),
                     (ir.AggregateExpr("sum", ir.CallBinary("div", ir.Literal(6, None), ir.ColumnRef(1))),))
    with bulk_everywhere():
        from test_engine_differential import render

        dataflow = render(plan, None)
        dataflow.feed("a", [((1, 2), 1, 1), ((1, 0), 1, 1), ((2, 3), 1, 1)], 2)
        dataflow.feed("b", [], 2)
        dataflow.step()
        with pytest.raises(Exception, match="division by zero"):
            dataflow.arrangement("i").peek()
        dataflow.feed("a", [((1, 0), 2, -1)], 3)
        dataflow.feed("b", [], 3)
        dataflow.step()
        assert sorted(dataflow.arrangement("i").peek()) == [(1, 3), (2, 2)]


def test_add_many_equals_repeated_add() -> None:
    values = [3, None, 5, 7, None, 2]
    diffs = [1, 1, -1, 2, 1, 1]
    for make in (CountState, SumState, lambda: SumState(as_numeric=True)):
        bulk, single = make(), make()
        add_many(bulk, values, diffs)
        for value, diff in zip(values, diffs):
            single.add(value, diff)
        assert (bulk.result(), bulk.count) == (single.result(), single.count)
    floats = [0.1, 0.2, 0.3]
    bulk, single = SumState(), SumState()
    add_many(bulk, floats, [1, 1, 1])
    for value in floats:
        single.add(value, 1)
    assert bulk.result() == single.result()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 5)), st.sampled_from([-2, -1, 1, 1, 2])),
                         max_size=12), max_size=4))
def test_distinct_add_many_equals_repeated_add(batches: list[list[tuple[int | None, int]]]) -> None:
    """``count(DISTINCT x)``'s bulk fold (a reduce's large delta) leaves the state ``add`` one by one leaves,
    through values whose multiplicity goes to zero, below it and back (a transiently inconsistent input)."""
    bulk, single = DistinctState(CountState()), DistinctState(CountState())
    for batch in batches:
        add_many(bulk, [v for v, _d in batch], [d for _v, d in batch])
        for value, diff in batch:
            single.add(value, diff)
        assert (bulk.counts, bulk.result()) == (single.counts, single.result())
