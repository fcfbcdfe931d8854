"""Table functions: functions that return a set of rows (``generate_series``, ``unnest``, ``regexp_split_to_table``,
``generate_subscripts``, ``mz_aclexplode``).

A table function is evaluated by a :class:`~steadystate.expr.ir.FlatMap` (Materialize's ``FlatMap``): for each input
row the argument expressions are evaluated, the function returns zero or more tuples, and the output has one row per
tuple — the input row's columns followed by the tuple's (and, ``WITH ORDINALITY``, its 1-based position as bigint).
A table function in ``FROM`` is a FlatMap over the items before it (or over one empty row), so a correlated call
(``FROM t, unnest(t.arr)``) needs no decorrelation; one in a select list is a FlatMap under the projection.
Because a FlatMap is a per-row operator, it is maintained incrementally as any map is: a retracted input row
retracts exactly the rows it produced.

**The interface.** :data:`TABLE_FUNCTIONS` maps a function name, as SQL spells it, to a :class:`TableFunction`:

* ``resolve(arg_types) -> Signature | None``: given the argument types (``None`` for an untyped literal,
  parameter or NULL), the types the arguments are coerced to (``params``) and the output columns' types
  (``columns``) and names (``names``; default: the function's name for each column), or ``None`` when no
  signature matches (the planner then reports ``function name(types) does not exist``, 42883);
* ``impl(*args) -> Iterable[tuple]``: the rows for one call; ``args`` are datums, ``None`` for NULL (each
  function decides what a NULL argument means: for those here, no rows).  An exception raised here becomes an
  error row of the dataflow (for the ``SteadyError`` subclasses, with their SQLSTATE).

Adding a table function is adding one entry (jsonb's ``jsonb_array_elements``, ``jsonb_each``, ... come from
expr/jsonb_functions.py's table of rows this way); the planner (``sql/table_functions.py``), the IR, the renderer, EXPLAIN and the engine's
operator (``dataflow/flat_map.py``) need nothing more.
"""

from __future__ import annotations

import decimal
import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from steadystate import errors
from steadystate.expr import jsonb_functions
from steadystate.expr.functions import BINARY_STRICT
from steadystate.expr.string_math import regexp_matches
from steadystate.expr.time_functions import timestamptz_add_in
from steadystate.repr.interval import Interval
from steadystate.repr.types import ScalarType

T = ScalarType


class Signature(NamedTuple):
    params: tuple[ScalarType, ...]
    columns: tuple[ScalarType, ...]
    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TableFunction:
    resolve: Callable[[list[ScalarType | None]], Signature | None]
    impl: Callable[..., Iterable[tuple[Any, ...]]]


# ---------------------------------------------------------------------------------------------------------
# generate_series

_SERIES_TYPES = (T.INT4, T.INT8, T.NUMERIC)
_WIDEN = {T.INT2: T.INT4, T.INT4: T.INT4, T.INT8: T.INT8, T.NUMERIC: T.NUMERIC}
_TIMESTAMPS = (T.TIMESTAMP, T.TIMESTAMPTZ)


def _resolve_series(types: list[ScalarType | None]) -> Signature | None:
    """generate_series(int4|int8|numeric ×2 [, step]) or (timestamp|timestamptz ×2, interval); a date bound makes
    it timestamptz's, as PostgreSQL resolves it (its preferred date/time type)."""
    if len(types) not in (2, 3):
        return None
    bounds = [t for t in types[:2] if t is not None]
    if any(t in _TIMESTAMPS or t is T.DATE for t in bounds) or (len(types) == 3 and types[2] is T.INTERVAL):
        if len(types) != 3 or types[2] not in (None, T.INTERVAL):
            return None
        if any(t not in (*_TIMESTAMPS, T.DATE) for t in bounds):
            return None
        base = T.TIMESTAMP if bounds and all(t is T.TIMESTAMP for t in bounds) else T.TIMESTAMPTZ
        return Signature((base, base, T.INTERVAL), (base,))
    known = [t for t in types if t is not None]
    if any(t not in _WIDEN for t in known):
        return None
    typ = max((_WIDEN[t] for t in known), key=_SERIES_TYPES.index) if known else T.INT4
    return Signature((typ,) * len(types), (typ,))


_STEP_ZERO = "step size cannot equal zero"


def _generate_series(start: Any, stop: Any, step: Any = 1, zone: str | None = None) -> Iterator[tuple[Any, ...]]:
    """``zone``: the session's TimeZone, for timestamptz steps with days or months (sql/table_functions.py)."""
    if start is None or stop is None or step is None:
        return
    if isinstance(step, Interval):
        add = _ADD if zone is None else (lambda value, interval: timestamptz_add_in(value, interval, zone))
        yield from _timestamp_series(start, stop, step, add)
        return
    if step == 0:
        raise errors.InvalidParameterValue(_STEP_ZERO)
    if isinstance(start, decimal.Decimal) or isinstance(step, decimal.Decimal):
        if any(isinstance(v, decimal.Decimal) and not v.is_finite() for v in (start, stop, step)):
            raise errors.InvalidParameterValue("start value cannot be NaN or infinity")
    value = start
    if step > 0:
        while value <= stop:
            yield (value,)
            value += step
    else:
        while value >= stop:
            yield (value,)
            value += step


_ADD = BINARY_STRICT["temporal_add"]


def _timestamp_series(start: Any, stop: Any, step: Interval,
                      add: Callable[[Any, Interval], Any]) -> Iterator[tuple[Any, ...]]:
    if step.months == 0 and step.days == 0 and step.micros == 0:
        raise errors.InvalidParameterValue(_STEP_ZERO)
    forward = add(start, step) > start
    value = start
    while (value <= stop) if forward else (value >= stop):
        yield (value,)
        value = add(value, step)


# ---------------------------------------------------------------------------------------------------------
# unnest, regexp_split_to_table


def _resolve_unnest(types: list[ScalarType | None]) -> Signature | None:
    if not types or any(t is not None and not t.is_array for t in types):
        return None
    params = tuple(t if t is not None else T.TEXT_ARRAY for t in types)
    return Signature(params, tuple(p.element for p in params))


def _unnest(*arrays: Any) -> Iterable[tuple[Any, ...]]:
    if len(arrays) == 1:
        return ((v,) for v in arrays[0] or ())
    return itertools.zip_longest(*(a or () for a in arrays))


def _resolve_split(types: list[ScalarType | None]) -> Signature | None:
    if len(types) not in (2, 3) or any(t not in (None, T.TEXT) for t in types):
        return None
    return Signature((T.TEXT,) * len(types), (T.TEXT,))


def _split_flags(flags: str) -> int:
    out = 0
    for flag in flags:
        if flag == "i":
            out |= re.IGNORECASE
        elif flag == "c":
            out &= ~re.IGNORECASE
        elif flag == "g":
            raise errors.InvalidParameterValue("regexp_split_to_table() does not support the \"global\" option")
        else:
            raise errors.FeatureNotSupported(f"regular expression flag \"{flag}\" is not supported")
    return out


def regexp_split(text: str, pattern: str, flags: str = "") -> list[str]:
    """PostgreSQL's split: a zero-length match at the start or end of the string, or right after the previous
    match, does not split."""
    try:
        compiled = re.compile(pattern, _split_flags(flags))
    except re.error as exc:
        raise errors.SteadyError(f"invalid regular expression: {exc}", sqlstate="2201B") from None
    out: list[str] = []
    start, previous_end = 0, -1
    for match in compiled.finditer(text):
        if match.start() == match.end() and match.start() in (0, len(text), previous_end):
            continue
        out.append(text[start:match.start()])
        start = previous_end = match.end()
    out.append(text[start:])
    return out


def _regexp_split_to_table(text: Any, pattern: Any, flags: Any = "") -> Iterable[tuple[Any, ...]]:
    if text is None or pattern is None or flags is None:
        return ()
    return ((piece,) for piece in regexp_split(text, pattern, flags))


def _resolve_matches(types: list[ScalarType | None]) -> Signature | None:
    if len(types) not in (2, 3) or any(t not in (None, T.TEXT) for t in types):
        return None
    return Signature((T.TEXT,) * len(types), (T.TEXT_ARRAY,))


def _regexp_matches(text: Any, pattern: Any, flags: Any = "") -> Iterable[tuple[Any, ...]]:
    if text is None or pattern is None or flags is None:
        return ()
    return ((found,) for found in regexp_matches(text, pattern, flags))


def _resolve_subscripts(types: list[ScalarType | None]) -> Signature | None:
    if len(types) not in (2, 3) or types[0] is None or not types[0].is_array:
        return None
    if types[1] not in (None, T.INT4, T.INT2) or (len(types) == 3 and types[2] not in (None, T.BOOL)):
        return None
    return Signature((types[0], T.INT4, *((T.BOOL,) if len(types) == 3 else ())), (T.INT4,))


def _generate_subscripts(array: Any, dim: Any, reverse: Any = False) -> Iterable[tuple[Any, ...]]:
    if array is None or dim != 1 or reverse is None:
        return ()
    positions = range(len(array), 0, -1) if reverse else range(1, len(array) + 1)
    return ((i,) for i in positions)


def _jsonb_table_function(rows: jsonb_functions.TableFunction) -> TableFunction:
    """One of jsonb's set-returning functions (expr/jsonb_functions.py holds their rows): one jsonb argument."""
    names = tuple(name for name, _ in rows.columns)
    types = tuple(typ for _, typ in rows.columns)

    def resolve(args: list[ScalarType | None]) -> Signature | None:
        if len(args) != 1 or args[0] not in (None, T.JSONB):
            return None
        return Signature((T.JSONB,), types, names)

    return TableFunction(resolve, lambda doc: () if doc is None else rows.rows(doc))


# ---------------------------------------------------------------------------------------------------------
# mz_aclexplode

#: Materialize's privilege abbreviations in an ``mz_aclitem`` (``grantee=privileges/grantor``)
ACL_PRIVILEGES: dict[str, str] = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "U": "USAGE",
                                  "C": "CREATE", "R": "CREATEROLE", "B": "CREATEDB", "N": "CREATECLUSTER"}
#: the role id an empty grantee stands for (Materialize's ``PUBLIC`` pseudo-role)
PUBLIC_ROLE_ID = "p"


def _resolve_aclexplode(types: list[ScalarType | None]) -> Signature | None:
    """``mz_aclexplode(mz_aclitem[])``: the access list is ``text[]`` of ``mz_aclitem`` text here."""
    if len(types) != 1 or types[0] not in (None, T.TEXT_ARRAY):
        return None
    return Signature((T.TEXT_ARRAY,), (T.TEXT, T.TEXT, T.TEXT, T.BOOL),
                     ("grantor", "grantee", "privilege_type", "is_grantable"))


def _aclexplode(items: Any) -> Iterator[tuple[Any, ...]]:
    """One row per privilege of each ``grantee=privileges/grantor`` item: (grantor, grantee, privilege type,
    is_grantable), role ids as Materialize gives them (an empty grantee is PUBLIC, ``p``)."""
    for item in items or ():
        if item is None:
            continue
        grantee, sep, rest = item.partition("=")
        letters, slash, grantor = rest.rpartition("/")
        if not sep or not slash or any(c not in ACL_PRIVILEGES for c in letters):
            raise errors.InvalidTextRepresentation(f"invalid mz_aclitem: \"{item}\"")
        for letter in letters:
            yield grantor, grantee or PUBLIC_ROLE_ID, ACL_PRIVILEGES[letter], False


TABLE_FUNCTIONS: dict[str, TableFunction] = {
    **{name: _jsonb_table_function(rows) for name, rows in jsonb_functions.TABLE_FUNCTIONS.items()},
    "generate_series": TableFunction(_resolve_series, _generate_series),
    "unnest": TableFunction(_resolve_unnest, _unnest),
    "regexp_split_to_table": TableFunction(_resolve_split, _regexp_split_to_table),
    "regexp_matches": TableFunction(_resolve_matches, _regexp_matches),
    "generate_subscripts": TableFunction(_resolve_subscripts, _generate_subscripts),
    "mz_aclexplode": TableFunction(_resolve_aclexplode, _aclexplode),
}


def table_function(name: str) -> TableFunction:
    found = TABLE_FUNCTIONS.get(name)
    if found is None:
        raise errors.InternalError(f"unknown table function {name}")
    return found


__all__ = ["ACL_PRIVILEGES", "PUBLIC_ROLE_ID", "Signature", "TABLE_FUNCTIONS", "TableFunction", "regexp_split", "table_function"]
