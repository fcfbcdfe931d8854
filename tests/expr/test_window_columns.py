"""The columnar hydration of window functions (``expr/window_columns.py`` with ``dataflow.window``'s lazy
partitions) against the row path, which defines them.

Two ``WindowOperator``s over the same random rows (integers and text with NULLs and repeated rows): one takes the
snapshot as Arrow columns (``fold_columns``/``absorb_folded``), the other as rows.  Their first outputs must be
equal, and stay equal through random changes — a change to a partition still held as columns turns it into rows
first, so the retractions must be exactly what was emitted.  Every function, frame and sort order the columnar
path accepts is drawn; a window it declines is checked to decline (the row path then runs).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.dataflow.collection import EMPTY
from steadystate.dataflow.topk import SortColumn
from steadystate.dataflow.window import WindowOperator
from steadystate.expr import ir
from steadystate.expr.window import compile_window
from steadystate.expr.window_columns import compile_window_columns
from steadystate.repr.types import ScalarType

T = ScalarType
TYPES = (T.INT4, T.INT8, T.TEXT, T.INT2)
B = ir.BoundKind
FRAMES = (
    ir.WindowFrame(),
    ir.WindowFrame(ir.FrameMode.ROWS),
    ir.WindowFrame(ir.FrameMode.GROUPS),
    ir.WindowFrame(ir.FrameMode.RANGE, end=ir.FrameBound(B.UNBOUNDED_FOLLOWING)),
    ir.WindowFrame(ir.FrameMode.ROWS, end=ir.FrameBound(B.UNBOUNDED_FOLLOWING)),
)

values = {
    T.INT4: st.one_of(st.none(), st.integers(-5, 5)),
    T.INT8: st.one_of(st.none(), st.integers(-(2 ** 40), 2 ** 40), st.integers(-3, 3)),
    T.INT2: st.one_of(st.none(), st.integers(-3, 3)),
    T.TEXT: st.one_of(st.none(), st.sampled_from(["a", "b", "B", "é", "z", "", "ab"])),
}
ROW = st.tuples(values[T.INT4], values[T.INT8], values[T.TEXT], values[T.INT2])
# large values too (a descending order inverts them: ``~x``), small enough that 40 of them sum within int64's safe
# range (a larger sum declines the snapshot)
NOT_NULL_ROW = st.tuples(st.integers(-5, 5), st.one_of(st.integers(-3, 3), st.sampled_from([-(2 ** 55), 2 ** 55])),
                         st.sampled_from(["a", "b", "é"]), st.integers(-3, 3))


@st.composite
def functions(draw: Any) -> ir.WindowFunc:
    name = draw(st.sampled_from(["row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "lag", "lead",
                                 "count", "count_star", "sum", "min", "max"]))
    frame = draw(st.sampled_from(FRAMES))
    if name in ("lag", "lead"):
        value = draw(st.integers(0, 3))
        default = draw(st.sampled_from([(), (value,)]))  # the planner gives the default the value's type
        return ir.WindowFunc(name, (value, *default), param=draw(st.sampled_from([None, 1, 2, 0])))
    if name == "count_star":
        return ir.WindowFunc(name, (), frame=frame)
    if name in ("min", "max"):  # over the whole partition only (a running min/max takes the row path)
        return ir.WindowFunc(name, (draw(st.sampled_from([0, 1, 3])),), frame=draw(st.sampled_from(FRAMES[3:])))
    if name == "sum":
        return ir.WindowFunc(name, (draw(st.sampled_from([0, 1, 3])),), frame=frame)
    if name == "count":
        return ir.WindowFunc(name, (draw(st.integers(0, 3)),), frame=frame)
    return ir.WindowFunc(name)


windows = st.builds(
    lambda partition, order, funcs: ir.Window(ir.Get("t"), tuple(partition), tuple(order), tuple(funcs)),
    st.lists(st.integers(0, 3), max_size=2, unique=True),
    st.lists(st.builds(ir.ColumnOrder, st.integers(0, 3), st.booleans(), st.booleans()), max_size=2),
    st.lists(functions(), min_size=1, max_size=3),
)


def operator(expr: ir.Window) -> WindowOperator:
    keys = list(expr.partition_key)
    partition_fn = (lambda row: tuple(row[k] for k in keys)) if keys else None
    order = [SortColumn(o.column, o.desc, o.nulls_last) for o in expr.order_key]
    return WindowOperator(0, partition_fn, order, compile_window(expr, TYPES))


def table(rows: list[tuple]) -> pa.Table:
    arrow_types = (pa.int32(), pa.int64(), pa.string(), pa.int16())
    return pa.table({f"c{i}": pa.array([r[i] for r in rows], type=t) for i, t in enumerate(arrow_types)})


def apply(state: dict[tuple, int], delta: dict[tuple, int]) -> None:
    for row, diff in delta.items():
        state[row] = state.get(row, 0) + diff
        if state[row] == 0:
            del state[row]


@settings(max_examples=300, deadline=None)
@given(windows, st.lists(ROW, max_size=40), st.lists(st.tuples(ROW, st.sampled_from([1, -1])), max_size=12))
def test_columnar_hydration_equals_the_row_path_and_stays_equal_through_changes(
    expr: ir.Window, rows: list[tuple], changes: list[tuple[tuple, int]]
) -> None:
    check_against_the_row_path(expr, rows, changes)


@settings(max_examples=150, deadline=None)
@given(windows, st.lists(NOT_NULL_ROW, max_size=40),
       st.lists(st.tuples(NOT_NULL_ROW, st.sampled_from([1, -1])), max_size=12))
def test_integer_columns_without_nulls_sort_by_their_values(
    expr: ir.Window, rows: list[tuple], changes: list[tuple[tuple, int]]
) -> None:
    """Integer columns without NULLs are sorted by their values (inverted when descending), not ranked."""
    check_against_the_row_path(expr, rows, changes)


def check_against_the_row_path(expr: ir.Window, rows: list[tuple], changes: list[tuple[tuple, int]]) -> None:
    hydrate = compile_window_columns(expr, TYPES)
    assert hydrate is not None, expr  # everything drawn here is computed from columns
    columnar, by_rows = operator(expr), operator(expr)
    columnar.columnar = hydrate
    folded = columnar.fold_columns([table(rows)])
    assert folded is not None
    columnar.absorb_folded(folded)
    snapshot: dict[tuple, int] = {}
    for row in rows:
        snapshot[row] = snapshot.get(row, 0) + 1
    ours: dict[tuple, int] = {}
    theirs: dict[tuple, int] = {}
    apply(ours, columnar.run(1, [EMPTY], True)[0])
    apply(theirs, by_rows.run(1, [(snapshot, {})], True)[0])
    assert ours == theirs
    present = dict(snapshot)
    for time, (row, diff) in enumerate(changes, start=2):
        if diff < 0 and present.get(row, 0) == 0:
            continue  # retract only what is there
        present[row] = present.get(row, 0) + diff
        apply(ours, columnar.run(time, [({row: diff}, {})], False)[0])
        apply(theirs, by_rows.run(time, [({row: diff}, {})], False)[0])
        assert ours == theirs
    if all(count <= 1 for count in snapshot.values()):  # a partition held as columns counts its rows, not its
        assert columnar.records() == by_rows.records()  # distinct rows


def test_windows_the_columns_do_not_compute_take_the_row_path() -> None:
    get = ir.Get("t")
    declined = [
        ir.Window(get, (0,), (), (ir.WindowFunc("avg", (0,)),)),  # numeric precision: the row path's
        ir.Window(get, (0,), (), (ir.WindowFunc("ntile", (), param=2),)),
        ir.Window(get, (0,), (ir.ColumnOrder(1),), (ir.WindowFunc("min", (1,)),)),  # a running min
        ir.Window(get, (0,), (ir.ColumnOrder(1),),
                  (ir.WindowFunc("sum", (1,), frame=ir.WindowFrame(ir.FrameMode.ROWS, ir.FrameBound(
                      B.PRECEDING, ir.Literal(1, T.INT8)))),)),
    ]
    for expr in declined:
        assert compile_window_columns(expr, TYPES) is None, expr
    floats = ir.Window(get, (0,), (), (ir.WindowFunc("row_number"),))
    assert compile_window_columns(floats, (T.INT4, T.FLOAT8)) is None  # NaN and -0.0 sort as the row path says
    # a sum that could pass int64 declines the snapshot (the row path sums exactly)
    big = ir.Window(get, (), (), (ir.WindowFunc("sum", (1,), frame=FRAMES[3]),))
    hydrate = compile_window_columns(big, TYPES)
    assert hydrate is not None
    assert hydrate(table([(1, 2 ** 62, "a", 1), (1, 2 ** 62, "b", 1)])) is None
