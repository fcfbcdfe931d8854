"""``jsonb_set`` and ``jsonb_insert``: a new value placed at a ``text[]`` path, as PostgreSQL 15's ``setPath`` does.

The path is walked from the top: an object step is a key, an array step an integer (negative counts from the end; a
non-integer is 22P02 ``path element at position n is not an integer``); a scalar or a missing key on the way
leaves the document unchanged.  At the last step:

* ``jsonb_set``: an existing key or element is replaced; a missing key is added and an index past either end adds
  the value at that end, when ``create_missing`` (the default);
* ``jsonb_insert``: an element is inserted before (or, with ``insert_after``, after) the one at the index (past the
  end: appended, before the start: prepended); a missing key is added, an existing one is 22023 ``cannot replace
  existing key``.

A scalar document is 22023 ``cannot set path in scalar``; an empty path returns the document; a NULL path element
that is reached is 22004.  Both functions are strict (a NULL argument gives NULL).
"""

from __future__ import annotations

import enum
import re
from typing import Any, Callable

from steadystate import errors
from steadystate.expr.jsonb_functions import parse_text_array
from steadystate.repr.jsonb import JsonObject, Jsonb
from steadystate.repr.types import ScalarType

_INTEGER = re.compile(r"\s*[+-]?\d+")
_INT_MIN, _INT_MAX = -2**31, 2**31 - 1


class Mode(enum.Enum):
    """What happens at the path's end (PostgreSQL's ``JB_PATH_*`` flags of the two functions)."""

    REPLACE = "replace"  # jsonb_set(..., create_missing => false)
    CREATE = "create"  # jsonb_set(...)
    INSERT_BEFORE = "insert_before"  # jsonb_insert(...)
    INSERT_AFTER = "insert_after"  # jsonb_insert(..., insert_after => true)

    @property
    def creates(self) -> bool:
        return self is not Mode.REPLACE


def _path(path: Any) -> tuple[str | None, ...]:
    return parse_text_array(path) if isinstance(path, str) else tuple(path)


def _index(step: str, level: int) -> int:
    if not _INTEGER.fullmatch(step) or not _INT_MIN <= int(step) <= _INT_MAX:
        raise errors.SteadyError(f'path element at position {level + 1} is not an integer: "{step}"',
                                 sqlstate="22P02")
    return int(step)


def _set(value: Any, path: tuple[str | None, ...], level: int, new: Any, mode: Mode) -> Any:
    _step(path, level)  # a NULL step is an error wherever it is reached, a scalar too
    if isinstance(value, JsonObject):
        return _set_object(value, path, level, new, mode)
    if isinstance(value, tuple):
        return _set_array(value, path, level, new, mode)
    return value  # a scalar on the way: unchanged


def _step(path: tuple[str | None, ...], level: int) -> str:
    step = path[level]
    if step is None:
        raise errors.SteadyError(f"path element at position {level + 1} is null", sqlstate="22004")
    return step


def _set_object(value: JsonObject, path: tuple[str | None, ...], level: int, new: Any, mode: Mode) -> Any:
    key = _step(path, level)
    last = level == len(path) - 1
    pairs = dict(value.items())
    if key in pairs:
        if not last:
            pairs[key] = _set(pairs[key], path, level + 1, new, mode)
        elif mode in (Mode.INSERT_BEFORE, Mode.INSERT_AFTER):
            raise errors.InvalidParameterValue("cannot replace existing key",
                                               hint="Try using the function jsonb_set to replace key value.")
        else:
            pairs[key] = new
    elif last and mode.creates:
        pairs[key] = new
    else:
        return value
    return JsonObject(pairs)


def _set_array(value: tuple, path: tuple[str | None, ...], level: int, new: Any, mode: Mode) -> Any:
    index = _index(_step(path, level), level)
    count = len(value)
    last = level == len(path) - 1
    prepend = False
    if index < 0:
        if -index > count:
            prepend, index = True, _INT_MIN
        else:
            index += count
    index = min(index, count)
    if last and mode.creates and (prepend or count == 0):
        return (new, *value)
    if prepend:  # before the start, and nothing to add: no element is at that position
        return value
    if index < count:
        if not last:
            return (*value[:index], _set(value[index], path, level + 1, new, mode), *value[index + 1:])
        if mode is Mode.INSERT_BEFORE:
            return (*value[:index], new, *value[index:])
        if mode is Mode.INSERT_AFTER:
            return (*value[:index + 1], new, *value[index + 1:])
        return (*value[:index], new, *value[index + 1:])
    if last and mode.creates:
        return (*value, new)
    return value


def set_path(doc: Jsonb, path: Any, new: Jsonb, mode: Mode) -> Jsonb:
    root = doc.value
    if not isinstance(root, (JsonObject, tuple)):
        raise errors.InvalidParameterValue("cannot set path in scalar")
    if mode is Mode.REPLACE and len(root) == 0:
        return doc
    steps = _path(path)
    if not steps:
        return doc
    return Jsonb(_set(root, steps, 0, new.value, mode))


def jsonb_set(doc: Jsonb, path: Any, new: Jsonb, create_missing: bool = True) -> Jsonb:
    return set_path(doc, path, new, Mode.CREATE if create_missing else Mode.REPLACE)


def jsonb_insert(doc: Jsonb, path: Any, new: Jsonb, insert_after: bool = False) -> Jsonb:
    return set_path(doc, path, new, Mode.INSERT_AFTER if insert_after else Mode.INSERT_BEFORE)


VARIADIC_STRICT: dict[str, Callable[..., Any]] = {"jsonb_set": jsonb_set, "jsonb_insert": jsonb_insert}
RESULT_TYPES: dict[str, ScalarType] = {"jsonb_set": ScalarType.JSONB, "jsonb_insert": ScalarType.JSONB}

__all__ = ["Mode", "RESULT_TYPES", "VARIADIC_STRICT", "jsonb_insert", "jsonb_set", "set_path"]
