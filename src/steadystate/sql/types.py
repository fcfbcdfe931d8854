"""Type rules of the planner: literal parsing, implicit/explicit casts, and finding a common type.

PostgreSQL's rules, in the small: numeric types widen int4 → int8 → numeric → float8, a date widens to a
timestamp, an untyped string literal (or parameter, or NULL) adopts the type its context asks for, and any
type casts explicitly to and from text.  Text that does not parse as the target type raises
InvalidTextRepresentation with PostgreSQL's message.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
from typing import Any

from steadystate import errors
from steadystate.repr.types import TYPE_NAMES, ScalarType

T = ScalarType

#: Rank of each numeric type in the implicit widening order.
NUMERIC_RANK = {T.INT4: 0, T.INT8: 1, T.NUMERIC: 2, T.FLOAT8: 3}

INT_RANGES = {T.INT4: (-(2**31), 2**31 - 1), T.INT8: (-(2**63), 2**63 - 1)}

_BOOL_WORDS = {"t": True, "true": True, "y": True, "yes": True, "on": True, "1": True,
               "f": False, "false": False, "n": False, "no": False, "off": False, "0": False}

#: Explicit casts allowed besides the implicit ones and anything ↔ text.
_EXPLICIT = {(T.INT4, T.BOOL), (T.BOOL, T.INT4), (T.TIMESTAMP, T.DATE)}


def type_from_name(name: str) -> ScalarType:
    cleaned = re.sub(r"\(.*\)", "", name).strip().lower()
    cleaned = re.sub(r"\s+", " ", cleaned)
    typ = TYPE_NAMES.get(cleaned)
    if typ is None:
        raise errors.UndefinedObject(f"type {errors.quote_ident(cleaned)} does not exist")
    return typ


def implicitly_castable(source: ScalarType, target: ScalarType) -> bool:
    if source is target:
        return True
    if source in NUMERIC_RANK and target in NUMERIC_RANK:
        return NUMERIC_RANK[source] <= NUMERIC_RANK[target]
    return source is T.DATE and target is T.TIMESTAMP


def explicitly_castable(source: ScalarType, target: ScalarType) -> bool:
    if source is target or T.TEXT in (source, target):
        return True
    if source in NUMERIC_RANK and target in NUMERIC_RANK:
        return True
    return implicitly_castable(source, target) or (source, target) in _EXPLICIT


def common_type(types: list[ScalarType]) -> ScalarType | None:
    """The type every one of ``types`` implicitly casts to, or None."""
    if not types:
        return T.TEXT
    best = types[0]
    for typ in types[1:]:
        if implicitly_castable(typ, best):
            continue
        if implicitly_castable(best, typ):
            best = typ
        else:
            return None
    return best


def parse_text(text: str, typ: ScalarType) -> Any:
    """The datum of ``typ`` that ``text`` spells, as PostgreSQL's input functions read it."""
    stripped = text.strip()
    try:
        if typ in INT_RANGES:
            value = int(stripped)
            low, high = INT_RANGES[typ]
            if not low <= value <= high:
                raise errors.NumericValueOutOfRange(
                    f"value {errors.quote_ident(text)} is out of range for type {typ.pg_name}"
                )
            return value
        if typ is T.NUMERIC:
            number = decimal.Decimal(stripped)
            if not number.is_finite() and not number.is_nan():
                raise ValueError(text)
            return number
        if typ is T.FLOAT8:
            return float(stripped)
        if typ is T.BOOL:
            return _BOOL_WORDS[stripped.lower()]
        if typ is T.DATE:
            return _dt.date.fromisoformat(stripped)
        if typ is T.TIMESTAMP:
            return _dt.datetime.fromisoformat(stripped)
        return text
    except errors.SteadyError:
        raise
    except (ValueError, KeyError, decimal.InvalidOperation):
        raise errors.InvalidTextRepresentation(
            f"invalid input syntax for type {typ.pg_name}: {errors.quote_ident(text).replace(chr(34) * 2, chr(34))}"
        ) from None


def number_literal_type(text: str) -> tuple[Any, ScalarType]:
    """How PostgreSQL types a numeric constant: int4, else int8, else numeric."""
    if re.fullmatch(r"\d+", text):
        value = int(text)
        for typ in (T.INT4, T.INT8):
            low, high = INT_RANGES[typ]
            if low <= value <= high:
                return value, typ
        return decimal.Decimal(text), T.NUMERIC
    return decimal.Decimal(text), T.NUMERIC


def datum_type(value: Any) -> ScalarType | None:
    """The type of a parameter value given as a Python datum (None for str/None: still unknown)."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, bool):
        return T.BOOL
    if isinstance(value, int):
        low, high = INT_RANGES[T.INT4]
        return T.INT4 if low <= value <= high else T.INT8
    if isinstance(value, float):
        return T.FLOAT8
    if isinstance(value, decimal.Decimal):
        return T.NUMERIC
    if isinstance(value, _dt.datetime):
        return T.TIMESTAMP
    if isinstance(value, _dt.date):
        return T.DATE
    raise errors.InvalidParameterValue(f"unsupported parameter value of type {type(value).__name__}")


