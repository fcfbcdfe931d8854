"""The array part of the scalar vocabulary: casts, operators and functions over ``repr.arrays.Array`` datums.

Hooked into the shared tables: importing this module adds :func:`array_casts` to ``expr/casts.py``'s ``CASTS`` (a
cast to an array type parses text or casts element-wise; an array casts to text as ``array_out`` writes it);
``expr/functions.py`` imports it and merges :data:`UNARY_STRICT`, :data:`BINARY_STRICT`, :data:`BINARY_NONSTRICT`,
:data:`VARIADIC_STRICT` and :data:`VARIADIC_NONSTRICT`, and ``expr/infer.py`` asks :data:`RESULT_TYPES`.

Function names (the IR's vocabulary; the planner, ``sql/array_exprs.py``, picks them):

* ``array_build`` (``ARRAY[...]``), ``array_subscript`` (``a[i]``: NULL out of range), ``array_slice``
  (``a[i:j]``, bounds clamped), ``array_length``/``array_lower``/``array_upper`` (of dimension 1; NULL for an
  empty array or another dimension), ``array_ndims``, ``array_cardinality``;
* ``array_append``/``array_prepend``/``array_cat`` (``||``; NULL arrays are empty, as PostgreSQL),
  ``array_position`` and ``array_remove`` (``IS NOT DISTINCT FROM``), ``array_to_string``,
  ``string_to_array``;
* ``array_contains`` (``@>``), ``array_contained`` (``<@``), ``array_overlap`` (``&&``): NULL elements match
  nothing;
* ``any_<cmp>``/``all_<cmp>`` for ``x <cmp> ANY/ALL (array)`` with SQL's three-valued logic (an empty array:
  ANY false, ALL true; a NULL array: NULL).
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

from steadystate import errors
from steadystate.expr.casts import CASTS, float4_to_text, to_text
from steadystate.repr.arrays import Array, format_array, parse_array
from steadystate.repr.types import ARRAY_ELEMENT, ScalarType

T = ScalarType
_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1


def element_text(value: Any) -> str:
    """An element as ``array_out`` writes it: the element type's output function (booleans ``t``/``f``)."""
    if value is True:
        return "t"
    if value is False:
        return "f"
    return to_text(value)  # type: ignore[return-value]


def array_to_text(value: Array) -> str:
    return format_array(value, element_text)


def float4_array_to_text(value: Array) -> str:
    return format_array(value, float4_to_text)


def array_casts(casts: dict[ScalarType, Callable[[Any], Any]]) -> dict[ScalarType, Callable[[Any], Any]]:
    """``cast_<array type>`` for every array type, built over the element casts in ``casts``."""
    out: dict[ScalarType, Callable[[Any], Any]] = {}
    for array_type, element in ARRAY_ELEMENT.items():
        out[array_type] = _array_cast(array_type, casts[element])
    text_cast = casts[T.TEXT]

    def cast_text(value: Any) -> Any:
        if isinstance(value, Array):
            return array_to_text(value)
        return text_cast(value)

    out[T.TEXT] = cast_text
    return out


def _array_cast(array_type: ScalarType, element_cast: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def cast(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return parse_array(value, element_cast)
        if isinstance(value, tuple):
            return Array(element_cast(v) for v in value)
        raise errors.DatatypeMismatch(f"cannot cast to {array_type.pg_name}")

    return cast


# ---------------------------------------------------------------------------------------------------------
# Functions


def _subscript(a: Array, i: int) -> Any:
    return a[i - 1] if 1 <= i <= len(a) else None


def _slice(a: Array, low: int, high: int) -> Array:
    low = max(low, 1)
    high = min(high, len(a))
    return Array(a[low - 1:high]) if low <= high else Array()


def _length(a: Array, dim: int) -> int | None:
    return len(a) if dim == 1 and a else None


def _lower(a: Array, dim: int) -> int | None:
    return 1 if dim == 1 and a else None


def _append(a: Array | None, x: Any) -> Array:
    return Array((*(a or ()), x))


def _prepend(x: Any, a: Array | None) -> Array:
    return Array((x, *(a or ())))


def _cat(a: Array | None, b: Array | None) -> Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return Array((*a, *b))


def _position(a: Array | None, x: Any) -> int | None:
    if a is None:
        return None
    for i, v in enumerate(a, start=1):
        if v == x if x is not None else v is None:
            return i
    return None


def _remove(a: Array | None, x: Any) -> Array | None:
    if a is None:
        return None
    return Array(v for v in a if not (v is None if x is None else (v is not None and v == x)))


def _present(a: Array) -> set[Any]:
    return {v for v in a if v is not None}


def _contains(a: Array, b: Array) -> bool:
    have = _present(a)
    return all(v is not None and v in have for v in b)


def _overlap(a: Array, b: Array) -> bool:
    return bool(_present(a) & _present(b))


def _to_string(values: list[Any]) -> str | None:
    a, delimiter = values[0], values[1]
    if a is None or delimiter is None:
        return None
    null_text = values[2] if len(values) > 2 else None
    parts = [element_text(v) if v is not None else null_text for v in a]
    return delimiter.join(p for p in parts if p is not None)


def _string_to_array(values: list[Any]) -> Array | None:
    text, delimiter = values[0], values[1]
    if text is None:
        return None
    null_text = values[2] if len(values) > 2 else None
    if text == "":
        return Array()
    if delimiter is None:
        parts = list(text)
    elif delimiter == "":
        parts = [text]
    else:
        parts = text.split(delimiter)
    return Array(None if null_text is not None and p == null_text else p for p in parts)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "neq": operator.ne, "lt": operator.lt, "lte": operator.le, "gt": operator.gt,
    "gte": operator.ge,
}


def _quantified(compare: Callable[[Any, Any], bool], want_all: bool) -> Callable[[Any, Any], Any]:
    def quantified(x: Any, a: Array | None) -> bool | None:
        if a is None:
            return None
        saw_null = False
        for v in a:
            if x is None or v is None:
                saw_null = True
            elif compare(x, v) is not want_all:
                return not want_all
        return None if saw_null else want_all

    return quantified


UNARY_STRICT: dict[str, Callable[[Any], Any]] = {
    "array_cardinality": len,
    "array_ndims": lambda a: 1 if a else None,
    "array_out_float4": float4_array_to_text,
    "array_float4_texts": lambda a: Array(None if v is None else float4_to_text(v) for v in a),
}

BINARY_STRICT: dict[str, Callable[[Any, Any], Any]] = {
    "array_subscript": _subscript,
    "array_length": _length,
    "array_lower": _lower,
    "array_upper": _length,
    "array_contains": _contains,
    "array_contained": lambda a, b: _contains(b, a),
    "array_overlap": _overlap,
}

BINARY_NONSTRICT: dict[str, Callable[[Any, Any], Any]] = {
    "array_append": _append,
    "array_prepend": _prepend,
    "array_cat": _cat,
    "array_position": _position,
    "array_remove": _remove,
    **{f"any_{name}": _quantified(cmp, False) for name, cmp in _COMPARE.items()},
    **{f"all_{name}": _quantified(cmp, True) for name, cmp in _COMPARE.items()},
}

VARIADIC_STRICT: dict[str, Callable[..., Any]] = {
    "array_slice": _slice,
}

VARIADIC_NONSTRICT: dict[str, Callable[[list[Any]], Any]] = {
    "array_build": Array,
    "array_to_string": _to_string,
    "string_to_array": _string_to_array,
}

_BOOL = frozenset({"array_contains", "array_contained", "array_overlap",
                   *(f"{q}_{name}" for q in ("any", "all") for name in _COMPARE)})
_INT4 = frozenset({"array_cardinality", "array_ndims", "array_length", "array_lower", "array_upper",
                   "array_position"})
_SAME_AS_ARRAY_ARG = {"array_slice": 0, "array_append": 0, "array_prepend": 1, "array_cat": 0, "array_remove": 0}


def result_type(func: str, arg_types: list[ScalarType | None]) -> ScalarType | None:
    """The result type of an array function (None: not one of them, or unknown)."""
    if func in _BOOL:
        return T.BOOL
    if func in _INT4:
        return T.INT4
    if func in ("array_to_string", "array_out_float4"):
        return T.TEXT
    if func in ("string_to_array", "array_float4_texts"):
        return T.TEXT_ARRAY
    if func == "array_subscript":
        first = arg_types[0] if arg_types else None
        return first.element if first is not None and first.is_array else None
    if func == "array_build":
        known = next((t for t in arg_types if t is not None), None)
        return known.array if known is not None else None
    if func in _SAME_AS_ARRAY_ARG:
        position = _SAME_AS_ARRAY_ARG[func]
        if func == "array_cat":
            return next((t for t in arg_types if t is not None), None)
        return arg_types[position] if len(arg_types) > position else None
    return None


# ---------------------------------------------------------------------------------------------------------
# array_agg


def _order_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value)  # NULLs last; tuples compare by == first, so two NULLs never meet ``<``


class ArrayAggState:
    """array_agg(value [ORDER BY ...]) [FILTER (WHERE p)]: the multiset of what it is fed — the value, or
    ``(value, [p,] (order keys))`` with an ORDER BY or a FILTER (a row whose ``p`` is not true is skipped) — kept as
    counts, so a retraction is exact.  The result sorts it by the order keys, ties (and
    everything without an ORDER BY) by value, NULLs last, so every replica gives one answer; NULL values are
    elements, as in PostgreSQL; no input gives NULL."""

    __slots__ = ("entries", "order", "ordered", "distinct", "filtered")

    def __init__(self, order: tuple[tuple[bool, bool], ...], distinct: bool = False, filtered: bool = False) -> None:
        self.entries: dict[Any, int] = {}
        self.order = order  # (descending, nulls last) per order key
        self.ordered = bool(order)
        self.distinct = distinct  # each value once (NULL included, as PostgreSQL's array_agg(DISTINCT x))
        self.filtered = filtered

    def add(self, value: Any, diff: int) -> None:
        if self.filtered:
            if value[1] is not True:
                return
            value = (value[0], value[2]) if self.ordered else value[0]
        count = self.entries.get(value, 0) + diff
        if count:
            self.entries[value] = count
        else:
            del self.entries[value]

    def _compare(self, a: tuple, b: tuple) -> int:
        for (desc, nulls_last), x, y in zip(self.order, a[1], b[1]):
            if x == y:
                continue
            if x is None or y is None:
                return (1 if nulls_last else -1) * (1 if x is None else -1)
            return (1 if x > y else -1) * (-1 if desc else 1)
        x, y = _order_key(a[0]), _order_key(b[0])
        return (x > y) - (x < y)

    def result(self) -> Array | None:
        if not self.entries:
            return None
        def times(entry: Any) -> range:
            return range(1 if self.distinct else self.entries[entry])

        if self.ordered:
            entries = sorted(self.entries, key=functools.cmp_to_key(self._compare))
            return Array(entry[0] for entry in entries for _ in times(entry))
        return Array(v for v in sorted(self.entries, key=_order_key) for _ in times(v))


FUNCTIONS = frozenset({*UNARY_STRICT, *BINARY_STRICT, *BINARY_NONSTRICT, *VARIADIC_STRICT, *VARIADIC_NONSTRICT})

CASTS.update(array_casts(CASTS))
