"""Temporal filters: ``mz_now()`` in the IR, the temporal predicates of a filter, and their bounds per row.

``mz_now()`` is :data:`MZ_NOW`, a nullary ``CallVariadic`` of type ``mz_timestamp`` (milliseconds, the dataflow's
own time unit).  Where it means depends on the statement, as in Materialize:

* in a one-off ``SELECT`` it is the query's timestamp: :func:`substitute_mz_now` replaces it with that literal
  before the query runs, so a temporal predicate there is an ordinary filter;
* in something maintained (a view, a materialized view, an index's view, a ``SUBSCRIBE``) it may appear only in
  a *temporal predicate*: ``mz_now() <op> e`` or ``e <op> mz_now()`` with ``<op>`` one of ``= < <= > >=``, or
  ``mz_now() BETWEEN a AND b``, alone or in a top-level ``AND`` of a ``WHERE``/``HAVING`` filter, where ``e``
  does not contain ``mz_now()``.  :func:`check_maintained` refuses anything else with 0A000 before the object is
  created (Materialize's wording: ``cannot materialize call to mz_now``, ``Unsupported temporal predicate``).

:func:`split` separates a filter's predicates into the ordinary ones and :class:`TemporalBounds`: lower bounds
(the first time a row is in the result) and upper bounds (the first time it is not), each an expression of the
row plus a constant (``mz_now() <= e`` is valid before ``e + 1``).  A row's interval is ``[max(lowers),
min(uppers))``; a NULL bound makes the predicate NULL, so the row is never in the result.  The dataflow operator
``dataflow.temporal_filter`` turns each input update into an insertion at the later of its time and the lower
bound and a retraction at the upper bound, held until the dataflow's frontier passes them.
``expr.temporal_arrow.compile_arrow_bounds`` computes the same intervals over an Arrow table (a snapshot's columns,
hydration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import msgspec

from steadystate import errors
from steadystate.expr import ir
from steadystate.expr.eval import compile_scalar
from steadystate.expr.infer import Types
from steadystate.repr.types import ScalarType

MZ_NOW: ir.CallVariadic = ir.CallVariadic("mz_now", ())

#: a bound: the first (lower) or first-excluded (upper) time is ``value(expr) + offset``
Bound = tuple[ir.ScalarExpr, int]


def is_mz_now(expr: ir.ScalarExpr) -> bool:
    return isinstance(expr, ir.CallVariadic) and expr.func == "mz_now" and not expr.exprs


def contains_mz_now(node: Any) -> bool:
    """Whether any scalar expression in ``node`` (a scalar or relation expression, or a tuple of them) calls
    ``mz_now()``."""
    if isinstance(node, ir.CallVariadic) and node.func == "mz_now":
        return True
    if isinstance(node, (tuple, list)):
        return any(contains_mz_now(item) for item in node)
    if isinstance(node, msgspec.Struct):
        return any(contains_mz_now(getattr(node, name)) for name in node.__struct_fields__)
    return False


def _rebuild(node: Any, leaf: Callable[[Any], Any | None]) -> Any:
    """``node`` with every sub-node for which ``leaf`` returns a value replaced by it (structs rebuilt)."""
    replaced = leaf(node)
    if replaced is not None:
        return replaced
    if isinstance(node, tuple):
        return tuple(_rebuild(item, leaf) for item in node)
    if isinstance(node, list):
        return [_rebuild(item, leaf) for item in node]
    if isinstance(node, msgspec.Struct):
        changes = {}
        for name in node.__struct_fields__:
            value = getattr(node, name)
            new = _rebuild(value, leaf)
            if new is not value:
                changes[name] = new
        return msgspec.structs.replace(node, **changes) if changes else node
    return node


def substitute_mz_now(expr: Any, timestamp: int) -> Any:
    """``expr`` with ``mz_now()`` replaced by the literal ``timestamp`` (a one-off query's time)."""
    if not contains_mz_now(expr):
        return expr
    value = ir.Literal(timestamp, ScalarType.MZ_TIMESTAMP)
    return _rebuild(expr, lambda node: value if isinstance(node, ir.CallVariadic) and is_mz_now(node) else None)


# ---------------------------------------------------------------------------------------------------------
# Temporal predicates

@dataclass(frozen=True)
class TemporalBounds:
    lower: tuple[Bound, ...] = ()
    upper: tuple[Bound, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.lower or self.upper)


# mz_now() <op> e: (lower offset or None, upper offset or None)
_MZ_NOW_LEFT: dict[str, tuple[int | None, int | None]] = {
    "lt": (None, 0), "lte": (None, 1), "gt": (1, None), "gte": (0, None), "eq": (0, 1),
}
_FLIPPED = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "eq": "eq"}


def _conjuncts(predicate: ir.ScalarExpr) -> list[ir.ScalarExpr]:
    if isinstance(predicate, ir.CallBinary) and predicate.func == "and":
        return _conjuncts(predicate.left) + _conjuncts(predicate.right)
    if isinstance(predicate, ir.CallVariadic) and predicate.func == "and":
        return [c for e in predicate.exprs for c in _conjuncts(e)]
    return [predicate]


def scalar_text(expr: ir.ScalarExpr) -> str:
    """An expression as EXPLAIN and the errors show it (``#n`` for column n)."""
    if isinstance(expr, ir.ColumnRef):
        return f"#{expr.index}"
    if isinstance(expr, ir.Literal):
        return "null" if expr.value is None else repr(expr.value)
    if isinstance(expr, ir.CallUnary):
        return f"{expr.func}({scalar_text(expr.expr)})"
    if isinstance(expr, ir.CallBinary):
        return f"{expr.func}({scalar_text(expr.left)}, {scalar_text(expr.right)})"
    if isinstance(expr, ir.CallVariadic):
        return f"{expr.func}({', '.join(scalar_text(e) for e in expr.exprs)})"
    return f"case when {scalar_text(expr.cond)} then {scalar_text(expr.then)} else {scalar_text(expr.els)} end"


def bounds_text(bounds: TemporalBounds) -> str:
    """``valid from max(...) until min(...)``: what EXPLAIN says of a temporal filter."""
    def side(items: tuple[Bound, ...]) -> str:
        return ", ".join(scalar_text(e) + (f" + {offset}" if offset else "") for e, offset in items)
    parts = []
    if bounds.lower:
        parts.append(f"from max({side(bounds.lower)})")
    if bounds.upper:
        parts.append(f"until min({side(bounds.upper)})")
    return "temporal filter: valid " + " ".join(parts)


def unsupported_predicate(found: str) -> errors.FeatureNotSupported:
    return errors.FeatureNotSupported(
        "Unsupported temporal predicate. Note: `mz_now()` must be directly compared to a non-temporal expression "
        f"of mz_timestamp-castable type. Expression found: {found}",
        hint="Compare mz_now() with =, <, <=, >, >= or BETWEEN, at the top level of WHERE or in an AND there.")


def _temporal_bounds(predicate: ir.ScalarExpr, describe: Callable[[ir.ScalarExpr], str]) -> TemporalBounds:
    if isinstance(predicate, ir.CallBinary) and predicate.func in _MZ_NOW_LEFT:
        left, right, func = predicate.left, predicate.right, predicate.func
        if is_mz_now(right) and not is_mz_now(left):
            left, right, func = right, left, _FLIPPED[func]
        if is_mz_now(left) and not contains_mz_now(right):
            lower, upper = _MZ_NOW_LEFT[func]
            return TemporalBounds(((right, lower),) if lower is not None else (),
                                  ((right, upper),) if upper is not None else ())
    if (isinstance(predicate, ir.CallVariadic) and predicate.func == "between" and is_mz_now(predicate.exprs[0])
            and not contains_mz_now(predicate.exprs[1:])):
        return TemporalBounds(((predicate.exprs[1], 0),), ((predicate.exprs[2], 1),))
    raise unsupported_predicate(describe(predicate))


def split(predicates: tuple[ir.ScalarExpr, ...], describe: Callable[[ir.ScalarExpr], str] = scalar_text,
          ) -> tuple[tuple[ir.ScalarExpr, ...], TemporalBounds]:
    """A filter's predicates as (ordinary predicates, temporal bounds); raises 0A000 on a predicate that uses
    ``mz_now()`` in any other way."""
    plain: list[ir.ScalarExpr] = []
    lower: list[Bound] = []
    upper: list[Bound] = []
    for predicate in predicates:
        for conjunct in _conjuncts(predicate):
            if not contains_mz_now(conjunct):
                plain.append(conjunct)
                continue
            bounds = _temporal_bounds(conjunct, describe)
            lower.extend(bounds.lower)
            upper.extend(bounds.upper)
    if not lower and not upper:
        return predicates, TemporalBounds()
    return tuple(plain), TemporalBounds(tuple(lower), tuple(upper))


def check_maintained(expr: Any, describe: Callable[[ir.ScalarExpr], str] = scalar_text) -> None:
    """Refuse (0A000) ``mz_now()`` anywhere in a maintained plan but a filter's temporal predicates."""
    if isinstance(expr, ir.Filter):
        split(expr.predicates, describe)
        check_maintained(expr.input, describe)
        return
    if isinstance(expr, ir.CallVariadic) and is_mz_now(expr):
        raise errors.FeatureNotSupported(
            "cannot materialize call to mz_now",
            hint="mz_now() may be used in a maintained object only in a temporal filter: "
                 "WHERE mz_now() <= <expression>.")
    if isinstance(expr, (tuple, list)):
        for item in expr:
            check_maintained(item, describe)
    elif isinstance(expr, msgspec.Struct):
        for name in expr.__struct_fields__:
            check_maintained(getattr(expr, name), describe)


def compile_bounds(bounds: TemporalBounds, types: Types | None) -> Callable[[tuple], tuple[int | None, int | None] | None]:
    """``row -> (lower, upper)`` (``None`` for an unbounded side), or ``None`` when a bound is NULL."""
    lowers = [(compile_scalar(e, types), offset) for e, offset in bounds.lower]
    uppers = [(compile_scalar(e, types), offset) for e, offset in bounds.upper]

    def interval(row: tuple) -> tuple[int | None, int | None] | None:
        lower: int | None = None
        upper: int | None = None
        for evaluate, offset in lowers:
            value = evaluate(row)
            if value is None:
                return None
            if lower is None or value + offset > lower:
                lower = value + offset
        for evaluate, offset in uppers:
            value = evaluate(row)
            if value is None:
                return None
            if upper is None or value + offset < upper:
                upper = value + offset
        return lower, upper

    return interval
