"""Translating the SQL IR into the engine's terms: what the renderer hands ``steadystate.dataflow``.

The engine knows rows, key functions and row functions, not the IR; this module is the vocabulary between them:

* :func:`plan_join` turns a ``Join``'s equivalence classes (expressions over the concatenated columns of all
  inputs) into a chain of binary steps: step *i* joins the prefix ``inputs[:i]`` with ``inputs[i]`` on every
  class that has an expression over the prefix alone and one over input *i* alone.  Whatever the chain does not
  enforce (a class with a constant, with an expression spanning inputs, or with members that the key pairs leave
  unconnected) becomes a residual ``eq`` predicate applied to the final rows.
* :func:`column_below`, :func:`compose` and :func:`key_order` decide whether a join reads an imported index in
  place through the maps/filters/projections above it.
* :func:`accumulators` maps the accumulable SQL aggregates (``expr.aggregates.accumulator_kind``: ``count_star``,
  ``count``, ``sum``, ``sum_numeric``, ``avg``) to the engine's :class:`~steadystate.dataflow.accumulate.Accumulation`.
* :func:`aggregate_value` is the per-row value an aggregate's state is fed (a tuple with its other arguments and
  order keys for ``string_agg``).
* :func:`flat_map_rows` is a FlatMap's ``row -> rows to append`` (its table function, with ordinality).
* :func:`sort_columns` turns ORDER BY's ``ColumnOrder`` into the engine's :class:`~steadystate.dataflow.topk.SortColumn`.
* :func:`mfp_view` is the ``compile_view`` of an arrangement: a MapFilterProject compiled over its column types,
  so that peeks can pass the plan's MFP as the view.
"""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, Sequence

from steadystate.dataflow.accumulate import Accumulation, Accumulator
from steadystate.dataflow.arrangement import RowFn
from steadystate.dataflow.topk import SortColumn
from steadystate.expr import ir
from steadystate.expr.eval import compile_key, compile_mfp, compile_scalar
from steadystate.expr.infer import Types, columns_of, shift_columns
from steadystate.repr import numeric
from steadystate.expr.table_functions import table_function

class JoinStep:
    """Key expressions of one binary step: ``left`` over the prefix's columns, ``right`` over input i's own."""

    def __init__(self, left: list[ir.ScalarExpr], right: list[ir.ScalarExpr]) -> None:
        self.left = left
        self.right = right


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def plan_join(
    arities: Sequence[int], equivalences: Sequence[Sequence[ir.ScalarExpr]]
) -> tuple[list[JoinStep], list[ir.ScalarExpr]]:
    """Binary steps for inputs 1..n-1 and the residual predicates over the concatenated row."""
    offsets = [sum(arities[:i]) for i in range(len(arities))]
    column_sets = [[columns_of(e) for e in cls] for cls in equivalences]
    parents = [list(range(len(cls))) for cls in equivalences]
    steps: list[JoinStep] = []
    for i in range(1, len(arities)):
        low, high = offsets[i], offsets[i] + arities[i]
        step = JoinStep([], [])
        for c, cls in enumerate(equivalences):
            left_members = [j for j, cols in enumerate(column_sets[c]) if cols and max(cols) < low]
            right_members = [j for j, cols in enumerate(column_sets[c]) if cols and min(cols) >= low and max(cols) < high]
            if not left_members or not right_members:
                continue
            lj, rj = left_members[0], right_members[0]
            step.left.append(cls[lj])
            step.right.append(shift_columns(cls[rj], -low))
            parents[c][_find(parents[c], lj)] = _find(parents[c], rj)
        steps.append(step)
    residual: list[ir.ScalarExpr] = []
    for c, cls in enumerate(equivalences):
        roots = {_find(parents[c], j) for j in range(len(cls))}
        if len(roots) > 1:
            for other in cls[1:]:
                residual.append(ir.CallBinary("eq", cls[0], other))
    return steps, residual


def column_below(chain: list[tuple[Callable, ir.MapFilterProject]], expr: ir.ScalarExpr | None) -> ir.ColumnRef | None:
    """The column of the innermost input that ``expr`` (over the outermost layer's output) is, through MFP layers
    (outermost first) that project columns or map columns to columns; None for anything computed."""
    for _apply, mfp in chain:
        if not isinstance(expr, ir.ColumnRef):
            return None
        position = mfp.projection[expr.index] if mfp.projection is not None else expr.index
        while position >= mfp.input_arity:  # a mapped column: only a plain column reference passes
            mapped = mfp.map[position - mfp.input_arity]
            if not isinstance(mapped, ir.ColumnRef):
                return None
            position = mapped.index
        expr = ir.ColumnRef(position)
    return expr if isinstance(expr, ir.ColumnRef) else None


def compose(applies: list[Callable[[tuple], tuple | None]]) -> Callable[[tuple], tuple | None]:
    """Row functions applied in order (innermost first); None (filtered out) stops the chain."""
    if len(applies) == 1:
        return applies[0]

    def apply(row: tuple) -> tuple | None:
        for f in applies:
            row = f(row)  # type: ignore[assignment]
            if row is None:
                return None
        return row

    return apply


def key_order(join_key: list[ir.ScalarExpr], index_key: list[ir.ScalarExpr]) -> list[int] | None:
    """``order`` with ``[join_key[j] for j in order] == index_key``, or None when the keys are not a permutation of
    each other (an empty key, a cross join, never shares)."""
    if not index_key or len(join_key) != len(index_key):
        return None
    order: list[int] = []
    for expr in index_key:
        j = next((j for j, e in enumerate(join_key) if j not in order and e == expr), None)
        if j is None:
            return None
        order.append(j)
    return order


# the accumulable aggregates (``expr.aggregates.accumulator_kind``) as the engine's accumulations
ACCUMULATIONS: dict[str, Accumulation] = {
    "count_star": Accumulation.ROWS,
    "count": Accumulation.NON_NULL,
    "sum": Accumulation.SUM,
    "sum_numeric": Accumulation.SUM_DECIMAL,
    "avg": Accumulation.MEAN_DECIMAL,
    "sum_scaled": Accumulation.SUM_SCALED,
    "avg_scaled": Accumulation.MEAN_SCALED,
}


def accumulators(pairs: Sequence[tuple[str, int | None]]) -> list[Accumulator]:
    """``(accumulator kind, column)`` pairs as the engine's accumulators."""
    return [Accumulator(ACCUMULATIONS[kind], column, numeric.mean if kind in ("avg", "avg_scaled") else None)
            for kind, column in pairs]


def aggregate_value(agg: ir.AggregateExpr, types: Types | None) -> Callable[[tuple], object]:
    """What an aggregate's state is fed per row: its argument, or — with more arguments or its own ORDER BY —
    ``(argument, *more arguments, (order keys))``."""
    value = compile_scalar(agg.expr, types)
    if not agg.args and not agg.order_by:
        return value
    more = [compile_scalar(e, types) for e in agg.args]
    keys = [compile_scalar(o.expr, types) for o in agg.order_by]
    return lambda row: (value(row), *(f(row) for f in more), tuple(k(row) for k in keys))


def sort_columns(order: Sequence[ir.ColumnOrder]) -> list[SortColumn]:
    return [SortColumn(o.column, o.desc, o.nulls_last) for o in order]


def mfp_view(types: Types | None) -> Callable[[Hashable], RowFn | None]:
    """An arrangement's ``compile_view`` for rows of ``types``: a MapFilterProject's row function (``None`` for
    the identity)."""

    def compile_view(mfp: Hashable) -> RowFn | None:
        assert isinstance(mfp, ir.MapFilterProject)
        return None if mfp.is_identity else compile_mfp(mfp, types)

    return compile_view


def flat_map_rows(expr: ir.FlatMap, types: Types | None) -> Callable[[tuple], Iterable[tuple]]:
    """A FlatMap's ``row -> rows to append``: its table functions (expr/table_functions.py) over their arguments —
    several side by side, the shorter padded with NULLs — numbered from 1 when ``WITH ORDINALITY``; with ``outer``,
    one row of NULLs when they return none."""
    calls = [(table_function(c.func).impl, compile_key(c.exprs, types), (None,) * len(c.types)) for c in expr.calls]
    if len(calls) == 1:
        impl, arguments, _ = calls[0]

        def produce(row: tuple) -> Iterable[tuple]:
            return impl(*arguments(row))
    else:
        def produce(row: tuple) -> Iterable[tuple]:
            outputs = [list(impl(*arguments(row))) for impl, arguments, _ in calls]
            height = max(map(len, outputs))
            return [tuple(v for (_, _, pad), out in zip(calls, outputs) for v in (out[i] if i < len(out) else pad))
                    for i in range(height)]
    if expr.ordinality:
        def rows(row: tuple) -> Iterable[tuple]:
            return [(*out, n) for n, out in enumerate(produce(row), start=1)]
    else:
        rows = produce
    if not expr.outer:
        return rows
    empty = (None,) * len(expr.types)

    def outer_rows(row: tuple) -> Iterable[tuple]:
        produced = list(rows(row))
        return produced if produced else [empty]

    return outer_rows
