"""expr.arrow_eval: a map/filter/project over Arrow columns answers exactly as the row evaluator does.

Generated tables (int4, int8, text and bool columns, with NULLs) and generated expressions (comparisons, AND/OR/NOT,
IS NULL, integer arithmetic including overflow and division by zero): the Arrow evaluation, consolidated, equals
the row evaluator's output as a multiset — or the Arrow path declines (None) or gives up (NotVectorized) on exactly
what it must not decide, and then the row path, which the caller falls back to, is the answer."""

from __future__ import annotations

from collections import Counter
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from steadystate.expr import arrow_eval, ir
from steadystate.expr.arrow_eval import NotVectorized, compile_arrow_mfp, consolidated_rows
from steadystate.expr.eval import compile_mfp
from steadystate.repr.columnar import narrowed
from steadystate.repr.types import ScalarType as T

TYPES = [T.INT4, T.INT8, T.TEXT, T.BOOL]
INT4 = st.one_of(st.none(), st.integers(-5, 5), st.integers(-(10**6), 10**6), st.sampled_from([2**31 - 1, -(2**31)]))
INT8 = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([2**62, -(2**63), 2**40 + 3, -(2**40) - 5]))
# divisors of a division by a constant (evaluated in the column's own width, ``arrow_eval._by_constant``)
DIVISORS = st.sampled_from([7, -7, 1000, -1000, 2**31 - 1, -(2**31)])
VALUES = {T.INT4: INT4, T.INT8: INT8, T.TEXT: st.one_of(st.none(), st.sampled_from(["", "a", "b", "é", "ab"])),
          T.BOOL: st.one_of(st.none(), st.booleans())}


def ints(draw: st.DrawFn, types: list[T]) -> ir.ScalarExpr:
    columns = [i for i, t in enumerate(types) if t in (T.INT4, T.INT8)]
    choice = draw(st.integers(0, 3))
    if choice == 0 and columns:
        return ir.ColumnRef(draw(st.sampled_from(columns)))
    if choice == 1:
        return ir.Literal(draw(st.integers(-3, 3)), draw(st.sampled_from([T.INT4, T.INT8])))
    if choice == 2 and columns:
        func = draw(st.sampled_from(["add", "sub", "mul", "div", "mod"]))
        right = ir.Literal(draw(DIVISORS), T.INT8) if func in ("div", "mod") and draw(st.booleans()) else \
            ints(draw, types)
        return ir.CallBinary(func, ir.ColumnRef(draw(st.sampled_from(columns))), right)
    return ir.Literal(draw(st.integers(0, 3)), T.INT8)


def predicate(draw: st.DrawFn, types: list[T], depth: int = 0) -> ir.ScalarExpr:
    choice = draw(st.integers(0, 5 if depth < 2 else 2))
    if choice == 0:
        return ir.CallBinary(draw(st.sampled_from(["eq", "neq", "lt", "lte", "gt", "gte"])), ints(draw, types),
                             ints(draw, types))
    if choice == 1:
        texts = [i for i, t in enumerate(types) if t is T.TEXT]
        if texts:
            return ir.CallBinary(draw(st.sampled_from(["eq", "lt", "gte"])), ir.ColumnRef(draw(st.sampled_from(texts))),
                                 ir.Literal(draw(st.sampled_from(["a", "b", ""])), T.TEXT))
        return ir.CallUnary("is_null", ints(draw, types))
    if choice == 2:
        bools = [i for i, t in enumerate(types) if t is T.BOOL]
        return ir.ColumnRef(draw(st.sampled_from(bools))) if bools else ir.Literal(True, T.BOOL)
    if choice == 3:
        return ir.CallUnary("not", predicate(draw, types, depth + 1))
    return ir.CallBinary(draw(st.sampled_from(["and", "or"])), predicate(draw, types, depth + 1),
                         predicate(draw, types, depth + 1))


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[T], list[tuple[Any, ...]], ir.MapFilterProject]:
    types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=4))
    rows = draw(st.lists(st.tuples(*(VALUES[t] for t in types)), max_size=25))
    maps = tuple(ints(draw, types) for _ in range(draw(st.integers(0, 2))))
    extended = types + [T.INT8] * len(maps)  # refined below by the evaluator's own typing
    predicates = tuple(predicate(draw, extended[: len(types)]) for _ in range(draw(st.integers(0, 2))))
    arity = len(types) + len(maps)
    projection = draw(st.one_of(st.none(), st.lists(st.integers(0, arity - 1), max_size=3).map(tuple)))
    return types, rows, ir.MapFilterProject(len(types), maps, predicates, projection)


def row_path(types: list[T], rows: list[tuple[Any, ...]], mfp: ir.MapFilterProject) -> Counter[tuple[Any, ...]] | None:
    apply = compile_mfp(mfp, list(types))
    out: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        try:
            result = apply(row)
        except Exception:  # noqa: BLE001 - an error in the row path: the Arrow path must not answer
            return None
        if result is not None:
            out[result] += 1
    return out


@settings(max_examples=500, deadline=None)
@given(cases(), st.booleans(), st.sampled_from([1, 3, 1 << 20]))
def test_arrow_mfp_equals_the_row_evaluator(case: tuple[list[T], list[tuple[Any, ...]], ir.MapFilterProject],
                                           narrow: bool, block: int) -> None:
    """Integer columns as the SQL type's width or as storage keeps them (the narrowest width that holds the
    values: ``repr.columnar.narrowed``); the table evaluated in one block or in blocks of 1 or 3 rows."""
    types, rows, mfp = case
    apply = compile_arrow_mfp(mfp, list(types))
    expected = row_path(types, rows, mfp)
    if apply is None:
        return  # declined: the rows take the row path
    arrow_types = {T.INT4: pa.int32(), T.INT8: pa.int64(), T.TEXT: pa.string(), T.BOOL: pa.bool_()}
    arrays = [pa.array([row[i] for row in rows], arrow_types[t]) for i, t in enumerate(types)]
    if narrow:
        arrays = [narrowed(a.cast(pa.int64())) if t in (T.INT4, T.INT8) else a for a, t in zip(arrays, types)]
    table = pa.table({f"c{i}": a for i, a in enumerate(arrays)})
    try:
        with mock.patch.object(arrow_eval, "BLOCK", block):
            out = apply(table)
    except NotVectorized:
        return  # gave up: the row path answers (including its errors)
    assert expected is not None, "the row path raises, the Arrow path answered"
    arity = len(mfp.projection) if mfp.projection is not None else len(types) + len(mfp.map)
    assert Counter(consolidated_rows(out, arity)) == expected


def test_a_filter_and_a_projection_vectorize() -> None:
    mfp = ir.MapFilterProject(3, predicates=(ir.CallBinary("lt", ir.ColumnRef(2), ir.Literal(100, T.INT8)),),
                              projection=(0, 2))
    apply = compile_arrow_mfp(mfp, [T.INT8, T.INT8, T.INT8])
    assert apply is not None
    table = pa.table({"c0": [1, 2, 3], "c1": [5, 5, 5], "c2": [50, 150, 99]})
    assert consolidated_rows(apply(table), 2) == {(1, 50): 1, (3, 99): 1}


def test_overflow_and_division_by_zero_are_left_to_the_row_path() -> None:
    for func, literal in (("add", 2**31 - 1), ("div", 0)):
        mfp = ir.MapFilterProject(1, map=(ir.CallBinary(func, ir.ColumnRef(0), ir.Literal(literal, T.INT4)),))
        apply = compile_arrow_mfp(mfp, [T.INT4])
        assert apply is not None
        with pytest.raises(NotVectorized):
            apply(pa.table({"c0": pa.array([1], pa.int8())}))
