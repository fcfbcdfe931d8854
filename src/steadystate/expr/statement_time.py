"""The statement's time in a column DEFAULT: ``now()``, ``current_timestamp``, ``localtimestamp``, ``current_date``.

In a statement that runs once, these are the statement's time folded into the plan as a literal
(``sql/date_parts.py``).  A column DEFAULT is planned once, when the table is created, and evaluated by every
INSERT (VALUES, ``DEFAULT``, INSERT ... SELECT) and COPY FROM that omits the column, so there each is a
placeholder, :func:`placeholder` — a ``CallVariadic("statement_time", (kind,))`` whose kind is the type it stands
for — that :func:`bind` replaces with the writing statement's time before the DEFAULT is evaluated: a timestamptz
instant, or the wall-clock timestamp or date *in the writing session's TimeZone* (PostgreSQL evaluates a DEFAULT
in the inserting session).  Materialize plans a DEFAULT the same way (a one-shot expression, so ``now()`` is
allowed and evaluated at insert time).  An unbound placeholder has no evaluator: it can never be computed
silently at another time.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import msgspec

from steadystate.expr import ir
from steadystate.repr.timezones import parse_zone
from steadystate.repr.types import ScalarType

_FUNC = "statement_time"
_KINDS = {ScalarType.TIMESTAMPTZ, ScalarType.TIMESTAMP, ScalarType.DATE}


def placeholder(typ: ScalarType) -> ir.CallVariadic:
    """The statement's time of type ``typ`` (timestamptz, timestamp or date), bound when a write runs."""
    assert typ in _KINDS, typ
    return ir.CallVariadic(_FUNC, (ir.Literal(typ.value, ScalarType.TEXT),))


def kind_of(expr: Any) -> ScalarType | None:
    """The type ``expr`` stands for when it is a placeholder; None otherwise."""
    if isinstance(expr, ir.CallVariadic) and expr.func == _FUNC and len(expr.exprs) == 1:
        kind = expr.exprs[0]
        if isinstance(kind, ir.Literal):
            return ScalarType(kind.datum())
    return None


def _value(typ: ScalarType, now: _dt.datetime, zone: str) -> Any:
    if typ is ScalarType.TIMESTAMPTZ:
        return now
    local = now.astimezone(parse_zone(zone)).replace(tzinfo=None)
    return local if typ is ScalarType.TIMESTAMP else local.date()


def bind(expr: Any, now: _dt.datetime, zone: str) -> Any:
    """``expr`` (a DEFAULT) with each placeholder replaced by the writing statement's time ``now`` (aware, UTC),
    seen in the writing session's TimeZone ``zone``; ``expr`` itself when it has none."""
    typ = kind_of(expr)
    if typ is not None:
        return ir.literal(_value(typ, now, zone), typ)
    if isinstance(expr, tuple):
        items = tuple(bind(item, now, zone) for item in expr)
        return expr if all(a is b for a, b in zip(items, expr)) else items
    if isinstance(expr, msgspec.Struct):
        changes = {}
        for name in expr.__struct_fields__:
            value = getattr(expr, name)
            new = bind(value, now, zone)
            if new is not value:
                changes[name] = new
        return msgspec.structs.replace(expr, **changes) if changes else expr
    return expr


__all__ = ["bind", "kind_of", "placeholder"]
