"""Operator fusion decisions: when a plan node runs as one fused operator instead of one operator per node.

:func:`plan_join_accumulate` decides whether ``Reduce(Join(X, Y))`` can run as the fused join-accumulate operator
(``dataflow.join_accumulate``): a binary inner equi-join on plain columns, every aggregate accumulable
(:func:`~steadystate.expr.aggregates.accumulator_kind`: ``count(*)``, ``count(x)``, ``sum``/``avg`` over exact
types) and reading one input only (the *aggregated* input, A), and a group key of plain columns that all come
from the other input (B) or from A's join columns (which equal B's).  When ``count(*)`` alone leaves the choice
open, A is the input that contributes no group-key column — the fact side of ``GROUP BY dimension.attribute``.
Global aggregates (no GROUP BY) are not fused: they must answer one row over an empty join, which the general
reduce does.

The decision is a pure function of the plan and the column types, so the replica that renders the dataflow and
``EXPLAIN`` on the coordinator agree on it.
"""

from __future__ import annotations

from typing import Sequence

import msgspec

from steadystate.expr import ir
from steadystate.expr.aggregates import accumulator_kind
from steadystate.expr.infer import Types, columns_of


class JoinAccumulatePlan(msgspec.Struct, frozen=True):
    """How to run a fused ``Reduce(Join(X, Y))``; column positions are within each input's own rows."""

    aggregated_input: int  # 0 or 1: which join input is A (the other is B)
    a_key: tuple[int, ...]  # A's join columns
    b_key: tuple[int, ...]  # B's join columns, pairwise equal to a_key
    group_columns: tuple[int, ...]  # B's columns forming the group key, in the Reduce's order
    accumulators: tuple[tuple[str, int | None], ...]  # (kind, A column or None for count_star)


def plan_join_accumulate(expr: ir.Reduce, input_types: Sequence[Types | None]) -> JoinAccumulatePlan | None:
    """The fused plan for ``expr`` (a Reduce over a binary Join) or ``None`` (render it unfused)."""
    join = expr.input
    if not isinstance(join, ir.Join) or len(join.inputs) != 2 or len(input_types) != 2:
        return None
    known = [t for t in input_types if t is not None]
    if not expr.aggregates or len(known) != 2:  # no group key: the global group (always one row)
        return None
    if not all(isinstance(k, ir.ColumnRef) for k in expr.group_key):
        return None
    arities = [len(t) for t in known]
    boundary = arities[0]
    pairs: list[tuple[int, int]] = []  # (column of input 0, column of input 1), in joined-row numbering
    for cls in join.equivalences:
        if len(cls) != 2 or not all(isinstance(e, ir.ColumnRef) for e in cls):
            return None
        low, high = sorted(e.index for e in cls)  # type: ignore[union-attr]
        if not (low < boundary <= high < boundary + arities[1]):
            return None
        pairs.append((low, high))
    if not pairs:
        return None
    for side in _candidate_sides(expr, arities):
        plan = _plan_for_side(expr, side, arities, pairs, known)
        if plan is not None:
            return plan
    return None


def _candidate_sides(expr: ir.Reduce, arities: list[int]) -> list[int]:
    boundary = arities[0]
    columns = [set(range(boundary)), set(range(boundary, boundary + arities[1]))]
    read = set().union(*(columns_of(a.expr) for a in expr.aggregates if a.func != "count_star"))
    keys = {k.index for k in expr.group_key}  # type: ignore[union-attr]
    sides = [side for side in (0, 1) if read <= columns[side]]
    return sorted(sides, key=lambda side: len(keys & columns[side]))  # fewest group-key columns first


def _plan_for_side(expr: ir.Reduce, side: int, arities: list[int], pairs: list[tuple[int, int]],
                   input_types: list[Types]) -> JoinAccumulatePlan | None:
    offsets = (0, arities[0])
    a_offset, b_offset = offsets[side], offsets[1 - side]
    a_key = tuple(pair[side] - a_offset for pair in pairs)
    b_key = tuple(pair[1 - side] - b_offset for pair in pairs)
    a_to_b = {pair[side]: pair[1 - side] for pair in pairs}
    group_columns: list[int] = []
    for key in expr.group_key:
        column = key.index  # type: ignore[union-attr]
        column = a_to_b.get(column, column)  # an A join column equals its B partner
        local = column - b_offset
        if not 0 <= local < arities[1 - side]:
            return None
        group_columns.append(local)
    accumulators: list[tuple[str, int | None]] = []
    a_types = input_types[side]
    for agg in expr.aggregates:
        if agg.func == "count_star":
            accumulators.append(("count_star", None))
            continue
        if not isinstance(agg.expr, ir.ColumnRef):
            return None
        local_agg = ir.AggregateExpr(agg.func, ir.ColumnRef(agg.expr.index - a_offset), agg.distinct)
        kind = accumulator_kind(local_agg, a_types)
        if kind is None:
            return None
        accumulators.append((kind, agg.expr.index - a_offset))
    return JoinAccumulatePlan(side, a_key, b_key, tuple(group_columns), tuple(accumulators))


__all__ = ["JoinAccumulatePlan", "plan_join_accumulate"]
