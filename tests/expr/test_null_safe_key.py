"""A null-safe join key (columns, ``is_null(column)``, ``coalesce(column, constant)``: ``expr.equality``'s
equivalences) compiled as one generated tuple gives exactly what evaluating each part with ``compile_scalar`` gives."""

from __future__ import annotations

import decimal

from hypothesis import given, strategies as st

from steadystate.expr import ir
from steadystate.expr.equality import null_safe_keys
from steadystate.expr.eval import compile_key, compile_scalar
from steadystate.repr.types import ScalarType as T

col = ir.ColumnRef
FILLERS = {T.INT8: ir.Literal(0, T.INT8), T.TEXT: ir.Literal("", T.TEXT), T.NUMERIC: ir.Literal("0", T.NUMERIC)}
values = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=2),
                   st.decimals(allow_nan=False, allow_infinity=False, places=1, max_value=5, min_value=-5))


def parts(column: int, typ: T) -> list[ir.ScalarExpr]:
    return [col(column), ir.CallUnary("is_null", col(column)), ir.CallVariadic("coalesce", (col(column), FILLERS[typ]))]


@given(rows=st.lists(st.tuples(values, values, values), max_size=10),
       chosen=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(sorted(FILLERS))),
                       min_size=1, max_size=4))
def test_the_generated_key_equals_the_evaluated_parts(rows: list, chosen: list) -> None:
    exprs = [parts(column, typ)[which] for column, which, typ in chosen]
    if all(isinstance(e, ir.ColumnRef) for e in exprs):
        exprs.append(ir.CallUnary("is_null", col(0)))
    key = compile_key(exprs)
    evaluators = [compile_scalar(e, None) for e in exprs]
    for row in rows:
        assert key(row) == tuple(f(row) for f in evaluators)
        assert [type(v) for v in key(row)] == [type(f(row)) for f in evaluators]


def test_the_null_safe_equivalences_take_the_generated_key() -> None:
    for typ in (T.INT8, T.TEXT, T.NUMERIC):
        pairs = null_safe_keys(col(1), col(0), typ)
        assert pairs is not None
        key = compile_key([left for left, _right in pairs])
        assert key.__code__.co_name == "<lambda>" and "tuple" not in key.__code__.co_names
        assert key((None, None)) == (True, compile_scalar(pairs[1][0], None)((None, None)))
        assert key((None, 5)) == (False, 5)
    assert isinstance(compile_key([ir.CallVariadic("coalesce", (col(0), ir.Literal("1.5", T.NUMERIC)))])((None,))[0],
                      decimal.Decimal)
