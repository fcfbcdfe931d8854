"""``compile_arrow_bounds`` (a temporal filter's bounds over Arrow columns) against ``compile_bounds`` (the row
evaluator), over random columns with NULLs, negative values and values near the int64 limit, and random bounds.

Where the Arrow evaluator answers, every row's interval must be the row evaluator's (and ``valid`` False exactly
where the row evaluator gives no interval); where some row's evaluation raises (a negative ``mz_timestamp``, an
overflow), the Arrow evaluator must decline (``None``) so the row path reports the error.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.expr import ir
from steadystate.expr.temporal_filter import TemporalBounds, compile_arrow_bounds, compile_bounds
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
              st.integers(-10, 10)),
    st.builds(lambda v: _literal(v), st.integers(0, 50)),
)
_bound = st.tuples(st.builds(lambda e: ir.CallUnary("cast_mz_timestamp", e), _scalar), st.sampled_from([0, 1]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_value, _value), max_size=20), st.lists(_bound, max_size=2), st.lists(_bound, max_size=2))
def test_arrow_bounds_are_the_row_bounds(rows: list[tuple], lower: list, upper: list) -> None:
    if not lower and not upper:
        upper = [(ir.CallUnary("cast_mz_timestamp", ir.ColumnRef(0)), 1)]
    bounds = TemporalBounds(tuple(lower), tuple(upper))
    arrow = compile_arrow_bounds(bounds, TYPES)
    assert arrow is not None
    rows = [(a, b, "x") for a, b in rows]
    table = pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()), "c1": pa.array([r[1] for r in rows], pa.int64()),
                      "c2": pa.array([r[2] for r in rows], pa.string())})
    evaluate = compile_bounds(bounds, TYPES)
    expected = []
    raised = False
    for row in rows:
        try:
            expected.append(evaluate(row))
        except Exception:  # noqa: BLE001 - the row evaluator's error: the Arrow evaluator must decline
            raised = True
    got = arrow(table)
    if raised:
        assert got is None
        return
    if got is None:  # declining is allowed only near int64's limits: a value + 1 the row path computes in Python,
        # or an overflow Arrow meets in a row whose earlier bound was NULL (the row evaluator stops there)
        assert any(v is not None and abs(v) >= 2**63 - 1010 for row in rows for v in row[:2])
        return
    low, high, valid = got
    for i, interval in enumerate(expected):
        if interval is None:
            assert valid is not None and not valid[i]
            continue
        assert valid is None or valid[i]
        assert (None if low is None else int(low[i])) == interval[0]
        assert (None if high is None else int(high[i])) == interval[1]


def test_bounds_it_does_not_evaluate_give_no_arrow_evaluator() -> None:
    text_bound = (ir.CallUnary("cast_mz_timestamp", ir.ColumnRef(2)), 0)
    assert compile_arrow_bounds(TemporalBounds((), (text_bound,)), TYPES) is None
    assert compile_arrow_bounds(TemporalBounds((), ((ir.ColumnRef(0), 1),)), None) is None
