"""Optimizer passes over the relational IR: pure functions from a plan to an equivalent, cheaper plan.

:func:`optimize` applies, bottom-up:

* **join equivalences and predicate pushdown** — ``Filter(Join(...))`` as the planner produces it for
  ``FROM a, b WHERE a.x = b.y AND a.z > 3``: an equality between columns of different inputs becomes a join
  equivalence (so the join is a keyed delta join, not a cross product), and a predicate over one input's
  columns moves below the join onto that input.  Only predicates that cannot raise an error move (comparisons,
  boolean logic, NULL tests, LIKE, IN lists over columns and literals), so pushdown never turns a query that
  succeeds into one that fails.
* **eager aggregation** — ``Reduce(Join(L, R))`` whose aggregates are decomposable (``count(*)``,
  ``count(x)``, ``sum``, ``min``, ``max``, not DISTINCT) and read only L's columns, with a group key of plain
  columns: L is first reduced by its join columns (and its group-key columns) to partial aggregates, the join
  runs over those partials, and a final reduce combines them.  A change to R then touches one partial row per
  key instead of every L row joined to it, which is what makes a dimension update cheap in a fact ⋈ dimension
  aggregate.  Partial counts are summed back into counts, and results are cast back to the types the original
  aggregates have, so the plan's output is unchanged.

Every pass preserves the plan's output columns, their order and their types.
"""

from __future__ import annotations

from typing import Callable

from steadystate.expr import ir
from steadystate.expr.infer import Types, aggregate_type, columns_of, relation_types, shift_columns

TypesOf = Callable[[str], Types | None]

_SAFE_FUNCS = frozenset({
    "eq", "neq", "lt", "lte", "gt", "gte", "and", "or", "not", "is_null", "is_not_null", "is_true", "is_false",
    "is_not_true", "is_not_false", "like", "not_like", "ilike", "not_ilike", "in_list", "between", "coalesce",
})
_DECOMPOSABLE = {"count_star": "sum", "count": "sum", "sum": "sum", "min": "min", "max": "max"}


def optimize(expr: ir.RelationExpr, types_of: TypesOf) -> ir.RelationExpr:
    expr = _map_children(expr, lambda child: optimize(child, types_of))
    if isinstance(expr, ir.Filter) and isinstance(expr.input, ir.Join):
        expr = pushdown_join_predicates(expr, types_of)
    if isinstance(expr, ir.Reduce):
        expr = eager_aggregation(expr, types_of) or expr
    return expr


def _map_children(expr: ir.RelationExpr, visit: Callable[[ir.RelationExpr], ir.RelationExpr]) -> ir.RelationExpr:
    if isinstance(expr, (ir.Get, ir.Constant)):
        return expr
    if isinstance(expr, ir.Join):
        return ir.Join(tuple(visit(i) for i in expr.inputs), expr.equivalences)
    if isinstance(expr, ir.Union_):
        return ir.Union_(tuple(visit(i) for i in expr.inputs))
    import msgspec

    return msgspec.structs.replace(expr, input=visit(expr.input))  # type: ignore[union-attr]


def _arities(inputs: tuple[ir.RelationExpr, ...], types_of: TypesOf) -> list[int] | None:
    out = []
    for relation in inputs:
        types = relation_types(relation, types_of)
        if types is None:
            return None
        out.append(len(types))
    return out


def _owner(column: int, offsets: list[int], arities: list[int]) -> int:
    for position, (offset, arity) in enumerate(zip(offsets, arities)):
        if offset <= column < offset + arity:
            return position
    raise ValueError(column)


def _is_safe(expr: ir.ScalarExpr) -> bool:
    if isinstance(expr, (ir.ColumnRef, ir.Literal)):
        return True
    if isinstance(expr, ir.CallUnary):
        return expr.func in _SAFE_FUNCS and _is_safe(expr.expr)
    if isinstance(expr, ir.CallBinary):
        return expr.func in _SAFE_FUNCS and _is_safe(expr.left) and _is_safe(expr.right)
    if isinstance(expr, ir.CallVariadic):
        return expr.func in _SAFE_FUNCS and all(_is_safe(e) for e in expr.exprs)
    return False


def _conjuncts(predicates: tuple[ir.ScalarExpr, ...]) -> list[ir.ScalarExpr]:
    out: list[ir.ScalarExpr] = []
    for predicate in predicates:
        if isinstance(predicate, ir.CallBinary) and predicate.func == "and":
            out.extend(_conjuncts((predicate.left, predicate.right)))
        else:
            out.append(predicate)
    return out


def _merge_classes(classes: list[list[ir.ScalarExpr]], pair: tuple[ir.ScalarExpr, ir.ScalarExpr]) -> None:
    touching = [c for c in classes if any(e in c for e in pair)]
    merged: list[ir.ScalarExpr] = []
    for cls in touching:
        classes.remove(cls)
        merged.extend(e for e in cls if e not in merged)
    merged.extend(e for e in pair if e not in merged)
    classes.append(merged)


def pushdown_join_predicates(expr: ir.Filter, types_of: TypesOf) -> ir.RelationExpr:
    join = expr.input
    assert isinstance(join, ir.Join)
    arities = _arities(join.inputs, types_of)
    if arities is None:
        return expr
    offsets = [sum(arities[:i]) for i in range(len(arities))]
    classes = [list(cls) for cls in join.equivalences]
    pushed: list[list[ir.ScalarExpr]] = [[] for _ in join.inputs]
    remaining: list[ir.ScalarExpr] = []
    for predicate in _conjuncts(expr.predicates):
        columns = columns_of(predicate)
        owners = {_owner(c, offsets, arities) for c in columns}
        if (isinstance(predicate, ir.CallBinary) and predicate.func == "eq"
                and isinstance(predicate.left, ir.ColumnRef) and isinstance(predicate.right, ir.ColumnRef)
                and len(owners) == 2):
            _merge_classes(classes, (predicate.left, predicate.right))
        elif len(owners) == 1 and _is_safe(predicate):
            (owner,) = owners
            pushed[owner].append(shift_columns(predicate, -offsets[owner]))
        else:
            remaining.append(predicate)
    inputs = tuple(
        ir.Filter(relation, tuple(preds)) if preds else relation for relation, preds in zip(join.inputs, pushed)
    )
    new_join = ir.Join(inputs, tuple(tuple(cls) for cls in classes))
    return ir.Filter(new_join, tuple(remaining)) if remaining else new_join


def eager_aggregation(expr: ir.Reduce, types_of: TypesOf) -> ir.RelationExpr | None:
    """Pre-aggregate the left input of a binary inner join below it (see the module docstring)."""
    join = expr.input
    if not isinstance(join, ir.Join) or len(join.inputs) != 2 or not expr.aggregates or not expr.group_key:
        return None  # a global aggregate must still answer one row over an empty join
    left, right = join.inputs
    arities = _arities(join.inputs, types_of)
    input_types = relation_types(join, types_of)
    if arities is None or input_types is None:
        return None
    left_arity = arities[0]
    if not all(isinstance(k, ir.ColumnRef) for k in expr.group_key):
        return None
    for agg in expr.aggregates:
        if agg.distinct or agg.func not in _DECOMPOSABLE:
            return None
        if agg.func != "count_star" and not columns_of(agg.expr) <= set(range(left_arity)):
            return None
    left_join_columns: list[int] = []
    for cls in join.equivalences:
        if len(cls) != 2 or not all(isinstance(e, ir.ColumnRef) for e in cls):
            return None
        sides = sorted(cls, key=lambda e: e.index)  # type: ignore[union-attr]
        if not (sides[0].index < left_arity <= sides[1].index):  # type: ignore[union-attr]
            return None
        left_join_columns.append(sides[0].index)  # type: ignore[union-attr]
    if not left_join_columns:
        return None
    # partial aggregation of the left input, grouped by its join columns and its group-key columns
    left_keys: list[int] = []
    for column in left_join_columns + [k.index for k in expr.group_key if k.index < left_arity]:  # type: ignore
        if column not in left_keys:
            left_keys.append(column)
    partials = tuple(ir.AggregateExpr(a.func, a.expr) for a in expr.aggregates)
    partial = ir.Reduce(left, tuple(ir.ColumnRef(c) for c in left_keys), partials)
    partial_arity = len(left_keys) + len(partials)

    def remap(column: int) -> int:
        if column < left_arity:
            return left_keys.index(column)
        return column - left_arity + partial_arity

    equivalences = tuple(
        (ir.ColumnRef(remap(cls[0].index)), ir.ColumnRef(remap(cls[1].index)))  # type: ignore[union-attr]
        for cls in join.equivalences
    )
    new_join = ir.Join((partial, right), equivalences)
    finals = tuple(
        ir.AggregateExpr(_DECOMPOSABLE[a.func], ir.ColumnRef(len(left_keys) + n))
        for n, a in enumerate(expr.aggregates)
    )
    group_key = tuple(ir.ColumnRef(remap(k.index)) for k in expr.group_key)  # type: ignore[union-attr]
    final = ir.Reduce(new_join, group_key, finals)
    # cast each combined aggregate back to the original aggregate's type
    partial_types = list(relation_types(partial, types_of) or [])
    key_count = len(group_key)
    casts: list[ir.ScalarExpr] = []
    needs_cast = False
    for n, (original, combined) in enumerate(zip(expr.aggregates, finals)):
        wanted = aggregate_type(original, input_types)
        combined_type = aggregate_type(combined, [None] * len(left_keys) + partial_types[len(left_keys):]
                                       + [None] * (arities[1]))
        column = ir.ColumnRef(key_count + n)
        if wanted is not None and combined_type is not None and wanted != combined_type:
            casts.append(ir.CallUnary(f"cast_{wanted.value}", column))
            needs_cast = True
        elif wanted is None or combined_type is None:
            return None
        else:
            casts.append(column)
    if not needs_cast:
        return final
    mapped = ir.Map(final, tuple(casts))
    width = key_count + len(finals)
    return ir.Project(mapped, tuple(range(key_count)) + tuple(range(width, width + len(casts))))


__all__ = ["optimize", "pushdown_join_predicates", "eager_aggregation"]
