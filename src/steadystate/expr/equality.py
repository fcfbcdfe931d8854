"""Equalities a join can key on: ``=`` (NULL equals nothing) and ``IS NOT DISTINCT FROM`` (NULL equals NULL).

:func:`not_distinct` is the scalar form the planner gives ``a IS NOT DISTINCT FROM b`` — built from ``is_null``,
``eq`` and ``If``, so the evaluator needs nothing new — and :func:`not_distinct_operands` recognises it again, so
that a join (``sql/relation.inner_join`` for ON, ``expr/optimize`` for WHERE) can key on it.  Join keys never
match NULL, so :func:`null_safe_keys` keys on two expressions that are never NULL: ``a IS NULL`` and
``COALESCE(a, filler)``, where the filler is any value of the type (the flag keeps it from meeting a real one).
"""

from __future__ import annotations

import datetime as _dt
import decimal

from steadystate.expr import ir
from steadystate.repr.types import ScalarType

# a non-NULL value of each type; a type not listed is not keyed (its IS NOT DISTINCT FROM stays a filter)
_FILLER: dict[ScalarType, object] = {
    ScalarType.INT4: 0, ScalarType.INT8: 0, ScalarType.FLOAT8: 0.0, ScalarType.NUMERIC: decimal.Decimal(0),
    ScalarType.TEXT: "", ScalarType.BOOL: False, ScalarType.DATE: _dt.date(2000, 1, 1),
    ScalarType.TIMESTAMP: _dt.datetime(2000, 1, 1),
}


def not_distinct(a: ir.ScalarExpr, b: ir.ScalarExpr) -> ir.ScalarExpr:
    """``a IS NOT DISTINCT FROM b``: equal, or both NULL; never NULL itself."""
    return ir.If(ir.CallUnary("is_null", a), ir.CallUnary("is_null", b),
                 ir.If(ir.CallUnary("is_null", b), ir.Literal(False, ScalarType.BOOL), ir.CallBinary("eq", a, b)))


def not_distinct_operands(expr: ir.ScalarExpr) -> tuple[ir.ScalarExpr, ir.ScalarExpr] | None:
    """``(a, b)`` when ``expr`` is :func:`not_distinct` of them, else None."""
    if (isinstance(expr, ir.If) and isinstance(expr.cond, ir.CallUnary) and isinstance(expr.then, ir.CallUnary)
            and isinstance(expr.els, ir.If)):
        a, b = expr.cond.expr, expr.then.expr
        if expr == not_distinct(a, b):
            return a, b
    return None


def null_safe_keys(a: ir.ScalarExpr, b: ir.ScalarExpr,
                   typ: ScalarType | None) -> list[tuple[ir.ScalarExpr, ir.ScalarExpr]] | None:
    """Join equivalences that hold exactly when ``a IS NOT DISTINCT FROM b`` (both of type ``typ``), or None for a
    type without a filler."""
    filler = _FILLER.get(typ) if typ is not None else None
    if filler is None or typ is None:
        return None
    value = ir.literal(filler, typ)
    return [(ir.CallUnary("is_null", a), ir.CallUnary("is_null", b)),
            (ir.CallVariadic("coalesce", (a, value)), ir.CallVariadic("coalesce", (b, value)))]
