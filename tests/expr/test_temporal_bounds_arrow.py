"""``compile_arrow_bounds`` (a temporal filter's bounds over Arrow columns) against ``compile_bounds`` (the row
evaluator), over random columns with NULLs, negative values and values near the int64 limit, and random bounds.

Where the Arrow evaluator answers at a time ``t``, the rows it gives must be exactly those the row evaluator gives an
interval not empty after ``t`` (``upper > max(lower, t)``), with the row evaluator's bounds; where some row's
evaluation raises (a negative ``mz_timestamp``, an
overflow), the Arrow evaluator must decline (``None``) so the row path reports the error.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.expr import ir
from steadystate.expr.temporal_arrow import compile_arrow_bounds
from steadystate.expr.temporal_filter import TemporalBounds, compile_bounds
from steadystate.repr.types import ScalarType

INT8 = ScalarType.INT8
TYPES = [INT8, INT8, ScalarType.TEXT]
_value = st.one_of(st.none(), st.integers(-5, 50), st.sampled_from([2**63 - 1, 2**63 - 2, -(2**63)]))


def _literal(value: int) -> ir.Literal:
    return ir.Literal(value, INT8)


_scalar = st.one_of(
    st.builds(ir.ColumnRef, st.sampled_from([0, 1])),
    st.builds(lambda c, v: ir.CallBinary("add", ir.ColumnRef(c), _literal(v)), st.sampled_from([0, 1]),
              st.integers(-10, 1000)),
    st.builds(lambda c, v: ir.CallBinary("sub", ir.ColumnRef(c), _literal(v)), st.sampled_from([0, 1]),
              st.one_of(st.integers(-10, 10), st.just(-(2**63)))),
    st.builds(lambda c, v: ir.CallBinary("add", _literal(v), ir.ColumnRef(c)), st.sampled_from([0, 1]),
              st.sampled_from([-(2**63), -1, 7, 2**63 - 1])),
    st.builds(lambda c: ir.CallBinary("mul", ir.ColumnRef(c), _literal(2)), st.sampled_from([0, 1])),
    st.builds(lambda v: _literal(v), st.integers(0, 50)),
)
_bound = st.tuples(st.builds(lambda e: ir.CallUnary("cast_mz_timestamp", e), _scalar), st.sampled_from([0, 1]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_value, _value), max_size=20), st.lists(_bound, max_size=2), st.lists(_bound, max_size=2),
       st.one_of(st.integers(-5, 60), st.sampled_from([-(2**63), 2**63 - 1, 2**64])), st.booleans(),
       st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_arrow_bounds_are_the_row_bounds(rows: list[tuple], lower: list, upper: list, time: int,
                                         narrow: bool, block: int) -> None:
    """``block``: rows per block whose extremes decide an upper bound (small ones give a column many blocks)."""
    if not lower and not upper:
        upper = [(ir.CallUnary("cast_mz_timestamp", ir.ColumnRef(0)), 1)]
    _check(rows, lower, upper, time, narrow, block)


_window = st.builds(lambda c, v: ir.CallUnary("cast_mz_timestamp", ir.CallBinary("add", ir.ColumnRef(c), _literal(v))),
                    st.sampled_from([0, 1]), st.integers(0, 20))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=40).map(sorted),
       st.lists(st.tuples(_window, st.sampled_from([0, 1])), max_size=1),
       st.tuples(_window, st.sampled_from([0, 1])), st.integers(-5, 90), st.booleans(), st.sampled_from([1, 2, 5, 16]))
def test_blocks_decide_a_sliding_window_like_the_row_bounds(rows: list[tuple], lower: list, upper: tuple, time: int,
                                                            narrow: bool, block: int) -> None:
    """A sliding window's shape without NULLs (ids rising, the bound ``col + c``): blocks wholly expired, wholly
    live and straddling the time all occur, and the rows kept are the row evaluator's."""
    _check(rows, lower, [upper], time, narrow, block)


def _check(rows: list[tuple], lower: list, upper: list, time: int, narrow: bool, block: int) -> None:
    bounds = TemporalBounds(tuple(lower), tuple(upper))
    arrow = compile_arrow_bounds(bounds, TYPES, block)
    assert arrow is not None
    rows = [(a, b, "x") for a, b in rows]
    # storage keeps an integer column as the narrowest type that holds it (``repr.columnar``)
    small = narrow and all(v is None or -(2**7) <= v < 2**7 for row in rows for v in row[:2])
    width = pa.int8() if small else pa.int64()
    table = pa.table({"c0": pa.array([r[0] for r in rows], width), "c1": pa.array([r[1] for r in rows], width),
                      "c2": pa.array([r[2] for r in rows], pa.string())})
    evaluate = compile_bounds(bounds, TYPES)
    expected = []
    raised = False
    for row in rows:
        try:
            expected.append(evaluate(row))
        except Exception:  # noqa: BLE001 - the row evaluator's error: the Arrow evaluator must decline
            raised = True
    got = arrow(table, time)
    if raised:
        assert got is None
        return
    if got is None:  # declining is allowed only near int64's limits: a value + 1 the row path computes in Python,
        # or an overflow Arrow meets in a row whose earlier bound was NULL (the row evaluator stops there)
        assert any(v is not None and abs(v) >= 2**63 - 1010 for row in rows for v in row[:2])
        return
    indices, low, high = got
    wanted = [i for i, interval in enumerate(expected)
              if interval is not None and (interval[1] is None
                                           or interval[1] > max(time, time if interval[0] is None else interval[0]))]
    assert (list(range(len(rows))) if indices is None else indices.tolist()) == wanted
    for at, i in enumerate(wanted):
        assert (None if low is None else int(low[at])) == expected[i][0]
        assert (None if high is None else int(high[at])) == expected[i][1]


def test_bounds_it_does_not_evaluate_give_no_arrow_evaluator() -> None:
    text_bound = (ir.CallUnary("cast_mz_timestamp", ir.ColumnRef(2)), 0)
    assert compile_arrow_bounds(TemporalBounds((), (text_bound,)), TYPES) is None
    assert compile_arrow_bounds(TemporalBounds((), ((ir.ColumnRef(0), 1),)), None) is None


def test_an_int4_sum_past_int4_is_the_row_evaluators_error() -> None:
    """``col + lit`` over ``int4`` overflows at int4's limit in the row evaluator (its operand type): the Arrow
    evaluator declines there, and answers one below it."""
    types = [ScalarType.INT4]
    bound = (ir.CallUnary("cast_mz_timestamp", ir.CallBinary("add", ir.ColumnRef(0), ir.Literal(10, ScalarType.INT4))),
             1)
    bounds = TemporalBounds((), (bound,))
    arrow = compile_arrow_bounds(bounds, types)
    assert arrow is not None
    evaluate = compile_bounds(bounds, types)
    near = 2**31 - 11
    got = arrow(pa.table({"c0": pa.array([0, near], pa.int32())}), 5)
    assert got is not None and got[0] is None and got[2].tolist() == [evaluate((0,))[1], evaluate((near,))[1]]
    assert arrow(pa.table({"c0": pa.array([0, near + 1], pa.int32())}), 5) is None


def test_a_constant_past_int64_is_added_exactly() -> None:
    """``col - (-2**63)`` is ``col + 2**63``: exact for negative ``col`` (the row evaluator's range), the constant
    added in steps NumPy accepts."""
    bound = (ir.CallUnary("cast_mz_timestamp", ir.CallBinary("sub", ir.ColumnRef(0), _literal(-(2**63)))), 0)
    bounds = TemporalBounds((bound,), ())
    arrow = compile_arrow_bounds(bounds, TYPES)
    assert arrow is not None
    rows = [(-(2**63), 0, "x"), (-5, 0, "x"), (-(2**62), None, "x")]
    got = arrow(pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()), "c1": pa.array([0, 0, None], pa.int64()),
                          "c2": pa.array(["x"] * 3)}), 0)
    evaluate = compile_bounds(bounds, TYPES)
    assert got is not None and got[0] is None and got[1].tolist() == [evaluate(row)[0] for row in rows]


def test_every_time_against_rising_ids_in_blocks() -> None:
    """Every time across rising ids with repeats, blocks of several sizes, both offsets: each block boundary meets
    the threshold exactly (a block whose least or greatest value is the threshold)."""
    ids = [0, 1, 1, 2, 4, 5, 5, 5, 6, 8, 9, 12]
    rows = [(i, 0) for i in ids]
    for offset in (0, 1):
        bound = (ir.CallUnary("cast_mz_timestamp", ir.CallBinary("add", ir.ColumnRef(0), _literal(3))), offset)
        for block in (2, 3, 5, 64):
            for time in range(-1, 18):
                _check(rows, [], [bound], time, True, block)
