"""dataflow.topk: the maintained top-k equals a from-scratch sort of the current rows after every round.

The operator skips rounds whose changes all sort after the group's boundary and selects with a bounded heap
otherwise; the reference here sorts the whole multiset (``sort_rows``) and slices, so a wrong skip or a heap key that
orders differently from the sort shows up as a difference."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from hypothesis import given, settings, strategies as st

from steadystate.dataflow.collection import add_into
from steadystate.dataflow import topk
from steadystate.dataflow.topk import SortColumn, TopKOperator, order_key, sort_rows

values = st.one_of(st.none(), st.integers(0, 4))
rows = st.tuples(st.integers(0, 1), values, values)  # (group, a, b)
rounds = st.lists(st.lists(st.tuples(rows, st.sampled_from([1, 1, 2, -1])), max_size=8), min_size=1, max_size=12)
orders = st.lists(st.builds(SortColumn, column=st.integers(1, 2), descending=st.booleans(),
                            nulls_last=st.booleans()), min_size=1, max_size=2)


def reference(multiset: Counter[tuple[Any, ...]], order: list[SortColumn], limit: int | None,
              offset: int) -> Counter[tuple[Any, ...]]:
    return reference_by(multiset, lambda row: row[0], order, limit, offset)


def reference_by(multiset: Counter[tuple[Any, ...]], group_of: Callable[[tuple[Any, ...]], Any],
                 order: list[SortColumn], limit: int | None, offset: int) -> Counter[tuple[Any, ...]]:
    """Each group's rows (by ``group_of``) sorted from scratch and sliced."""
    out: Counter[tuple[Any, ...]] = Counter()
    for group in {group_of(row) for row in multiset}:
        present = [row for row, count in multiset.items() if group_of(row) == group and count > 0]
        expanded = [row for row in sort_rows(present, order) for _ in range(multiset[row])]
        end = None if limit is None else offset + limit
        out.update(expanded[offset:end])
    return out


@settings(max_examples=300, deadline=None)
@given(rounds=rounds, order=orders, limit=st.one_of(st.none(), st.integers(1, 4)), offset=st.integers(0, 2),
       grouped=st.booleans(), prefilter=st.sampled_from([0, topk.PREFILTER_MIN_ROWS]))
def test_topk_matches_a_full_sort_after_every_round(rounds: list[list[tuple[tuple[Any, ...], int]]],
                                                     order: list[SortColumn], limit: int | None, offset: int,
                                                     grouped: bool, prefilter: int) -> None:
    """Grouped by column 0, or one global group (the bulk path); with the first-column prefilter on every
    selection, or only on large groups."""
    if not grouped:
        rounds = [[((0, *row[1:]), diff) for row, diff in changes] for changes in rounds]
    operator = TopKOperator(0, (lambda row: (row[0],)) if grouped else None, order, limit, offset)
    saved, topk.PREFILTER_MIN_ROWS = topk.PREFILTER_MIN_ROWS, prefilter
    try:
        check_rounds(operator, rounds, order, limit, offset)
    finally:
        topk.PREFILTER_MIN_ROWS = saved


def check_rounds(operator: TopKOperator, rounds: list[list[tuple[tuple[Any, ...], int]]], order: list[SortColumn],
                 limit: int | None, offset: int) -> None:
    multiset: Counter[tuple[Any, ...]] = Counter()
    output: dict[tuple[Any, ...], int] = {}
    for time, changes in enumerate(rounds):
        delta: dict[tuple[Any, ...], int] = {}
        for row, diff in changes:
            if multiset[row] + delta.get(row, 0) + diff < 0:
                continue  # never delete what is not there
            add_into(delta, row, diff)
        for row, diff in delta.items():
            multiset[row] += diff
        ok, _err = operator.run(time, [(delta, {})], time == 0)
        for row, diff in ok.items():
            add_into(output, row, diff)
        expected = reference(multiset, order, limit, offset)
        assert Counter({row: count for row, count in output.items() if count}) == +expected


def test_order_key_orders_as_sort_rows() -> None:
    order = [SortColumn(1, descending=True, nulls_last=False), SortColumn(2)]
    some = [(0, a, b) for a in (None, 1, 2) for b in (None, 3, 4)]
    assert sorted(some, key=order_key(order)) == sort_rows(some, order)
