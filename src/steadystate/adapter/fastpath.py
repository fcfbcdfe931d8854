"""Plan shapes the coordinator recognizes: fast-path peeks and local evaluation.

* :func:`extract_mfp` — is a plan a map/filter/project over one ``Get``?  Then it can be answered by peeking
  an existing index (or a table/materialized-view shard) with a fused :class:`MapFilterProject`, without a
  new dataflow.  Column references are composed through the chain so the MFP reads the ``Get``'s columns.
* :func:`substitute_gets` — replace ``Get``s by other plans (e.g. builtin relations by ``Constant`` rows, so
  that queries over introspection relations evaluate in the coordinator).

A query's finishing (ORDER BY, OFFSET, LIMIT, projection) is ``expr.finishing``'s: peeks carry it to the replica.
"""

from __future__ import annotations

from typing import Callable

import msgspec

from steadystate.expr import ir


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
    if isinstance(expr, ir.LetRec):
        local = {b.id for b in expr.bindings}

        def outer(item_id: str) -> ir.RelationExpr | None:
            return None if item_id in local else replace(item_id)
        bindings = tuple(msgspec.structs.replace(b, value=substitute_gets(b.value, outer)) for b in expr.bindings)
        return msgspec.structs.replace(expr, bindings=bindings, body=substitute_gets(expr.body, outer))
    return msgspec.structs.replace(expr, input=substitute_gets(expr.input, replace))  # type: ignore[union-attr]


def reads_only(expr: ir.RelationExpr, allowed: Callable[[str], bool]) -> bool:
    return all(allowed(item_id) for item_id in ir.depends_on(expr))
