"""The bitwise, regression and ordered-set aggregate states (expr/stat_aggregates.py) under random inserts and
deletes, row by row and in bulk: the result must be the naive answer computed from scratch over the multiset that
remains (bit operations folded over the values; percentiles by PostgreSQL's formulas over the sorted list; the
regression final functions over exact sums), so no deleted row leaves a trace."""

from __future__ import annotations

import functools
import math
import operator
from collections import Counter
from fractions import Fraction
from typing import Any

from hypothesis import given, settings, strategies as st

from steadystate.expr.stat_aggregates import BitOp, BitState, OrderedSet, OrderedSetState, Regression, RegressionState

INT8 = st.integers(-2**63, 2**63 - 1)
FLOAT = st.one_of(st.integers(-40, 40).map(lambda v: v / 4), st.sampled_from([math.inf, -math.inf, math.nan]))


def remaining(ops: list[tuple[Any, bool]]) -> tuple[list[Any], list[tuple[Any, int]]]:
    """Feed insert/delete ops (a delete removes an earlier value still present): the (value, diff) feed and the
    multiset left."""
    present: Counter = Counter()
    feed = []
    for value, insert in ops:
        if insert:
            present[value] += 1
            feed.append((value, 1))
        elif present[value] > 0:
            present[value] -= 1
            feed.append((value, -1))
    return list(present.elements()), feed


def apply(state: Any, feed: list[tuple[Any, int]], bulk: bool) -> None:
    if bulk and hasattr(state, "add_many"):
        state.add_many([v for v, _ in feed], [d for _, d in feed])
    else:
        for value, diff in feed:
            state.add(value, diff)


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.tuples(INT8, st.booleans()), max_size=30), op=st.sampled_from(list(BitOp)))
def test_bit_states_forget_deleted_values(ops: list, op: BitOp) -> None:
    left, feed = remaining(ops)
    state = BitState(op)
    apply(state, feed, False)
    fold = {BitOp.AND: operator.and_, BitOp.OR: operator.or_, BitOp.XOR: operator.xor}[op]
    assert state.result() == (functools.reduce(fold, left) if left else None)


def percentile(values: list[float], fraction: float, func: OrderedSet, desc: bool) -> Any:
    ordered = sorted(values, key=lambda v: (math.isnan(v), v), reverse=desc)
    if func is OrderedSet.PERCENTILE_DISC:
        return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]
    position = fraction * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low if math.floor(position) == math.ceil(position) else low + (position - math.floor(position)) * (high - low)


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(FLOAT, st.booleans()), max_size=40), fraction=st.sampled_from([0.0, 0.1, 0.5, 0.75, 1.0]),
       func=st.sampled_from(list(OrderedSet)), desc=st.booleans(), bulk=st.booleans())
def test_ordered_set_states_forget_deleted_values(ops: list, fraction: float, func: OrderedSet, desc: bool,
                                                  bulk: bool) -> None:
    ops = [(v, insert) for v, insert in ops if not math.isnan(v)] + [(v, i) for v, i in ops if math.isnan(v)][:1]
    left, feed = remaining(ops)
    state = OrderedSetState(func, fraction, desc)
    apply(state, [((v,), d) for v, d in feed], bulk)
    got = state.result()
    if not left:
        assert got is None
    elif func is OrderedSet.MODE:
        counts = Counter(v if not math.isnan(v) else "nan" for v in left)
        best = max(counts.values())
        ties = sorted((v for v, c in counts.items() if c == best), key=lambda v: (v == "nan", v if v != "nan" else 0),
                      reverse=desc)
        assert (got if not math.isnan(got) else "nan") == ties[0]
    else:
        want = percentile(left, fraction, func, desc)
        assert got == want or (math.isnan(got) and math.isnan(want))


def naive_regression(pairs: list[tuple[float, float]], func: Regression) -> Any:
    n = len(pairs)
    if func is Regression.REGR_COUNT:
        return n
    if n < 1 or (func is Regression.COVAR_SAMP and n < 2):
        return None
    ys, xs = [Fraction(y) for y, _ in pairs], [Fraction(x) for _, x in pairs]
    sx, sy = sum(xs), sum(ys)
    sxx = float(sum(x * x for x in xs) - sx * sx / n)
    syy = float(sum(y * y for y in ys) - sy * sy / n)
    sxy = float(sum(x * y for x, y in zip(xs, ys)) - sx * sy / n)
    table = {Regression.REGR_SXX: lambda: sxx, Regression.REGR_SYY: lambda: syy, Regression.REGR_SXY: lambda: sxy,
             Regression.REGR_AVGX: lambda: float(sx) / n, Regression.REGR_AVGY: lambda: float(sy) / n,
             Regression.COVAR_POP: lambda: sxy / n, Regression.COVAR_SAMP: lambda: sxy / (n - 1)}
    if func in table:
        return table[func]()
    if sxx == 0 or (func is Regression.CORR and syy == 0):
        return None
    return {Regression.CORR: lambda: sxy / math.sqrt(sxx * syy),
            Regression.REGR_R2: lambda: 1.0 if syy == 0 else sxy * sxy / (sxx * syy),
            Regression.REGR_SLOPE: lambda: sxy / sxx,
            Regression.REGR_INTERCEPT: lambda: (float(sy) - float(sx) * sxy / sxx) / n}[func]()


FINITE = st.integers(-400, 400).map(lambda v: v / 8)


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.tuples(FINITE, FINITE), st.booleans()), max_size=25),
       func=st.sampled_from(list(Regression)))
def test_regression_states_forget_deleted_rows(ops: list, func: Regression) -> None:
    left, feed = remaining(ops)
    state = RegressionState(func)
    apply(state, [((y, x, ()), d) for (y, x), d in feed], False)
    assert state.result() == naive_regression(left, func)


def test_non_finite_values_make_the_dependent_sums_nan_until_deleted() -> None:
    state = RegressionState(Regression.REGR_SXX)
    for y, x in ((1.0, 2.0), (2.0, 4.0)):
        state.add((y, x, ()), 1)
    state.add((1.0, math.inf, ()), 1)
    assert math.isnan(state.result())  # type: ignore[arg-type]
    syy = RegressionState(Regression.REGR_SYY)
    syy.add((1.0, math.inf, ()), 1)
    syy.add((3.0, 1.0, ()), 1)
    assert syy.result() == 2.0  # an infinite x leaves Syy alone, as in PostgreSQL
    state.add((1.0, math.inf, ()), -1)
    assert state.result() == 2.0
