"""Windows whose functions have one value per partition (``expr.window.compile_uniform``: no ORDER BY, a whole-partition
frame, an order-free aggregate) computed without sorting, against the sorted row path (``compile_window``), which
defines them; with the snapshot hydrated from columns or as rows, and changed by random batches touching several
partitions at once (the hydrated partitions taken from the columns together: ``_Slices.take_many``)."""

from __future__ import annotations

import decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.dataflow.collection import EMPTY
from steadystate.dataflow.window import WindowOperator
from steadystate.expr import ir
from steadystate.expr.window import compile_uniform, compile_window
from steadystate.expr.window_columns import compile_window_columns
from steadystate.repr.types import ScalarType
from test_window_columns import apply, table  # the same four column types; fold a delta into a state

T = ScalarType
TYPES = (T.INT4, T.INT8, T.TEXT, T.NUMERIC)
INT_TYPES = (T.INT4, T.INT8, T.TEXT, T.INT2)  # every column sortable as Arrow: the snapshot may hydrate from columns
B = ir.BoundKind
WHOLE = (
    ir.WindowFrame(),  # RANGE UNBOUNDED PRECEDING .. CURRENT ROW: every row is a peer without ORDER BY
    ir.WindowFrame(ir.FrameMode.GROUPS),
    ir.WindowFrame(ir.FrameMode.RANGE, end=ir.FrameBound(B.UNBOUNDED_FOLLOWING)),
    ir.WindowFrame(ir.FrameMode.ROWS, end=ir.FrameBound(B.UNBOUNDED_FOLLOWING)),
    ir.WindowFrame(ir.FrameMode.RANGE, ir.FrameBound(B.CURRENT_ROW), ir.FrameBound(B.CURRENT_ROW)),
)
D = decimal.Decimal
ROW = st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.one_of(st.none(), st.integers(-(2 ** 40), 2 ** 40),
                                                                   st.integers(-3, 3)),
                st.one_of(st.none(), st.sampled_from(["a", "b", "B", "é", ""])),
                st.one_of(st.none(), st.sampled_from([D("1.5"), D("1.50"), D("-2"), D("0.125")])))


@st.composite
def functions(draw: Any) -> ir.WindowFunc:
    frame = draw(st.sampled_from(WHOLE))
    name = draw(st.sampled_from(["count", "count_star", "sum", "avg", "min", "max"]))
    if name == "count_star":
        return ir.WindowFunc(name, (), frame=frame)
    if name in ("min", "max"):
        return ir.WindowFunc(name, (draw(st.sampled_from([0, 1, 2])),), frame=frame)
    if name in ("sum", "avg"):
        return ir.WindowFunc(name, (draw(st.sampled_from([0, 1, 3])),), frame=frame)
    return ir.WindowFunc(name, (draw(st.integers(0, 3)),), frame=frame)


windows = st.builds(
    lambda partition, funcs: ir.Window(ir.Get("t"), tuple(partition), (), tuple(funcs)),
    st.lists(st.integers(0, 2), max_size=2, unique=True),
    st.lists(functions(), min_size=1, max_size=3),
)


def operator(expr: ir.Window, uniform: bool, types: tuple[T, ...]) -> WindowOperator:
    keys = list(expr.partition_key)
    partition_fn = (lambda row: tuple(row[k] for k in keys)) if keys else None
    window = WindowOperator(0, partition_fn, [], compile_window(expr, types))
    if uniform:
        window.uniform = compile_uniform(expr, types)
        assert window.uniform is not None, expr
        window.columnar = compile_window_columns(expr, types)
    return window


@settings(max_examples=300, deadline=None)
@given(windows, st.booleans(), st.lists(ROW, max_size=40),
       st.lists(st.lists(st.tuples(ROW, st.sampled_from([1, -1, 2])), max_size=8), max_size=5))
def test_a_uniform_window_equals_the_sorted_row_path_through_batches(
    expr: ir.Window, numeric: bool, rows: list[tuple], batches: list[list[tuple[tuple, int]]]
) -> None:
    types = TYPES if numeric else INT_TYPES
    if not numeric:  # the fourth column small integers instead of numerics
        rows = [row[:3] + (None if row[3] is None else int(row[3] * 2),) for row in rows]
        batches = [[(row[:3] + (None if row[3] is None else int(row[3] * 2),), diff) for row, diff in batch]
                   for batch in batches]
    fast, sorted_path = operator(expr, True, types), operator(expr, False, types)
    snapshot: dict[tuple, int] = {}
    for row in rows:
        snapshot[row] = snapshot.get(row, 0) + 1
    folded = fast.fold_columns([table(rows)]) if rows and not numeric else None
    ours: dict[tuple, int] = {}
    theirs: dict[tuple, int] = {}
    if folded is not None:  # hydrated from columns: the partitions stay slices until a batch touches them
        fast.absorb_folded(folded)
        apply(ours, fast.run(1, [EMPTY], True)[0])
    else:
        apply(ours, fast.run(1, [(dict(snapshot), {})], True)[0])
    apply(theirs, sorted_path.run(1, [(dict(snapshot), {})], True)[0])
    assert ours == theirs
    present = dict(snapshot)
    for time, batch in enumerate(batches, start=2):
        delta: dict[tuple, int] = {}
        for row, diff in batch:
            if diff < 0 and present.get(row, 0) + delta.get(row, 0) <= 0:
                continue  # retract only what is there
            delta[row] = delta.get(row, 0) + diff
        delta = {row: diff for row, diff in delta.items() if diff}
        for row, diff in delta.items():
            present[row] = present.get(row, 0) + diff
        apply(ours, fast.run(time, [(dict(delta), {})], False)[0])
        apply(theirs, sorted_path.run(time, [(dict(delta), {})], False)[0])
        assert ours == theirs


def test_windows_whose_values_depend_on_order_are_not_uniform() -> None:
    get = ir.Get("t")
    declined = [
        ir.Window(get, (0,), (ir.ColumnOrder(1),), (ir.WindowFunc("sum", (1,)),)),  # a running sum
        ir.Window(get, (0,), (), (ir.WindowFunc("sum", (1,), frame=ir.WindowFrame(ir.FrameMode.ROWS)),)),  # to the row
        ir.Window(get, (0,), (), (ir.WindowFunc("row_number"),)),
        ir.Window(get, (0,), (), (ir.WindowFunc("first_value", (1,), frame=WHOLE[2]),)),
        ir.Window(get, (0,), (), (ir.WindowFunc("min", (3,)),)),  # 1.5 and 1.50: which is shown depends on order
        ir.Window(get, (0,), (), (ir.WindowFunc("sum", (1,)), ir.WindowFunc("lag", (1,)))),
    ]
    for expr in declined:
        assert compile_uniform(expr, TYPES) is None, expr
    floats = ir.Window(get, (0,), (), (ir.WindowFunc("sum", (1,)),))
    assert compile_uniform(floats, (T.INT4, T.FLOAT8)) is None  # a float sum depends on the order of additions
    assert compile_uniform(floats, None) is None  # unknown types
    assert compile_uniform(floats, TYPES) is not None
