"""Plan shapes the coordinator recognizes: fast-path peeks, local evaluation, and result finishing.

* :func:`extract_mfp` — is a plan a map/filter/project over one ``Get``?  Then it can be answered by peeking
  an existing index (or a table/materialized-view shard) with a fused :class:`MapFilterProject`, without a
  new dataflow.  Column references are composed through the chain so the MFP reads the ``Get``'s columns.
* :func:`substitute_gets` — replace ``Get``s by other plans (e.g. builtin relations by ``Constant`` rows, so
  that queries over introspection relations evaluate in the coordinator).
* :func:`finish_rows` — apply a :class:`RowSetFinishing` (ORDER BY with PostgreSQL's NULL ordering,
  OFFSET, LIMIT, projection) to a peek's rows.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from steadystate.expr import ir
from steadystate.repr import Row


def substitute_columns(expr: ir.ScalarExpr, columns: list[ir.ScalarExpr]) -> ir.ScalarExpr:
    """Rewrite ``ColumnRef(i)`` in ``expr`` to ``columns[i]``."""
    if isinstance(expr, ir.ColumnRef):
        return columns[expr.index]
    if isinstance(expr, ir.Literal):
        return expr
    if isinstance(expr, ir.CallUnary):
        return ir.CallUnary(expr.func, substitute_columns(expr.expr, columns))
    if isinstance(expr, ir.CallBinary):
        return ir.CallBinary(
            expr.func, substitute_columns(expr.left, columns), substitute_columns(expr.right, columns)
        )
    if isinstance(expr, ir.CallVariadic):
        return ir.CallVariadic(expr.func, tuple(substitute_columns(e, columns) for e in expr.exprs))
    if isinstance(expr, ir.If):
        return ir.If(
            substitute_columns(expr.cond, columns),
            substitute_columns(expr.then, columns),
            substitute_columns(expr.els, columns),
        )
    raise TypeError(f"unknown scalar expression {expr!r}")


def extract_mfp(expr: ir.RelationExpr, arity_of: Callable[[str], int]) -> tuple[str, ir.MapFilterProject] | None:
    """``(get_id, mfp)`` if ``expr`` is a chain of Map/Filter/Project over a single Get, else None."""
    chain: list[ir.RelationExpr] = []
    node = expr
    while isinstance(node, (ir.Map, ir.Filter, ir.Project)):
        chain.append(node)
        node = node.input
    if not isinstance(node, ir.Get):
        return None
    arity = arity_of(node.id)
    columns: list[ir.ScalarExpr] = [ir.ColumnRef(i) for i in range(arity)]
    maps: list[ir.ScalarExpr] = []
    predicates: list[ir.ScalarExpr] = []
    for step in reversed(chain):
        if isinstance(step, ir.Map):
            for scalar in step.scalars:
                maps.append(substitute_columns(scalar, columns))
                columns.append(ir.ColumnRef(arity + len(maps) - 1))
        elif isinstance(step, ir.Filter):
            predicates.extend(substitute_columns(p, columns) for p in step.predicates)
        else:
            assert isinstance(step, ir.Project)
            columns = [columns[i] for i in step.outputs]
    projection = tuple(c.index for c in columns)  # type: ignore[union-attr]
    return node.id, ir.MapFilterProject(arity, tuple(maps), tuple(predicates), projection)


def substitute_gets(expr: ir.RelationExpr, replace: Callable[[str], ir.RelationExpr | None]) -> ir.RelationExpr:
    if isinstance(expr, ir.Get):
        return replace(expr.id) or expr
    if isinstance(expr, ir.Constant):
        return expr
    if isinstance(expr, (ir.Join, ir.Union_)):
        return msgspec.structs.replace(expr, inputs=tuple(substitute_gets(i, replace) for i in expr.inputs))
    return msgspec.structs.replace(expr, input=substitute_gets(expr.input, replace))  # type: ignore[union-attr]


def reads_only(expr: ir.RelationExpr, allowed: Callable[[str], bool]) -> bool:
    return all(allowed(item_id) for item_id in ir.depends_on(expr))


def finish_rows(rows: list[Row], finishing: ir.RowSetFinishing) -> list[Row]:
    if finishing.order_by:
        for order in reversed(finishing.order_by):
            column = order.column
            nulls = [r for r in rows if r[column] is None]
            values = [r for r in rows if r[column] is not None]
            values.sort(key=lambda r: _sort_key(r[column]), reverse=order.desc)
            rows = values + nulls if order.nulls_last else nulls + values
    if finishing.offset:
        rows = rows[finishing.offset:]
    if finishing.limit is not None:
        rows = rows[: finishing.limit]
    if finishing.project is not None:
        project = finishing.project
        rows = [tuple(row[i] for i in project) for row in rows]
    return rows


def _sort_key(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value
