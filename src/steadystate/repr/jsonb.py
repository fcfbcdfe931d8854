"""The ``jsonb`` datum: a parsed JSON document with PostgreSQL's equality, ordering, text and binary forms.

A :class:`Jsonb` wraps an immutable tree of Python values: ``None`` (JSON null), ``bool``, ``Decimal`` (every
JSON number is a PostgreSQL ``numeric``: ``1.50`` keeps its scale, ``1e2`` is ``100``), ``str``, ``tuple``
(array) and :class:`JsonObject` (a read-only mapping whose keys are in PostgreSQL's storage order: shorter keys
first, then bytewise; a repeated key keeps its last value, as ``jsonb_in`` does).

**Equality, hashing and ordering** are PostgreSQL's ``compareJsonbContainers``, through a sort key computed once
per datum (:meth:`Jsonb.sort_key`): object > array > boolean > number > string > null; arrays by element count,
then element by element; objects by pair count, then key, value, key, value, ... in storage order; numbers as
numeric (``1.0`` equals ``1``); strings bytewise (the C collation, as steadystate compares text). At the top level
a scalar is PostgreSQL's one-element "raw scalar" array, which gives its historical anomaly: ``'[]'`` sorts below
every scalar, ``'null'`` included. So GROUP BY, DISTINCT, joins, indexes and ORDER BY on jsonb group and sort as
PostgreSQL does.

**Text** (:func:`jsonb_text`, :func:`jsonb_pretty_text`) is ``JsonbToCStringWorker``'s: ``{"a": 1, "b": [1,
2]}``, strings escaped as ``escape_json`` does, and the same walk with four-space indentation for
``jsonb_pretty``. **Input** (:func:`parse_jsonb`) is JSON (RFC 8259) as PostgreSQL reads it: ``NaN``/``Infinity``
and lone surrogates are invalid (22P02 "invalid input syntax for type json"), ``\\u0000`` is 22P05. **Binary**
wire format is a version byte ``1`` and the text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterator, Mapping

from steadystate import errors
from steadystate.repr import numeric

JSONB_OID = 3802
BINARY_VERSION = 1


class JsonObject(Mapping[str, Any]):
    """A JSON object's members, immutable, in PostgreSQL's storage order of keys."""

    __slots__ = ("_items", "_index")

    def __init__(self, pairs: Any = ()) -> None:
        merged: dict[str, Any] = {}
        for key, value in (pairs.items() if isinstance(pairs, Mapping) else pairs):
            merged[key] = value
        self._items = tuple(sorted(merged.items(), key=lambda kv: storage_order(kv[0])))
        self._index = merged

    def __getitem__(self, key: str) -> Any:
        return self._index[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> Any:  # type: ignore[override]
        return self._items

    def __repr__(self) -> str:
        return f"JsonObject({dict(self._items)!r})"


def storage_order(key: str) -> tuple[int, bytes]:
    encoded = key.encode()
    return len(encoded), encoded


def tree_key(value: Any) -> tuple:
    """The sort key of a tree value inside a container (see the module docstring)."""
    if value is None:
        return (0,)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, Decimal):
        return (2, value)
    if isinstance(value, tuple):
        return (4, len(value), 1, tuple(tree_key(v) for v in value))
    if isinstance(value, JsonObject):
        return (5, len(value), tuple((k, tree_key(v)) for k, v in value.items()))
    raise TypeError(f"not a jsonb tree value: {value!r}")


class Jsonb:
    """A jsonb datum (see the module docstring)."""

    __slots__ = ("value", "_sort_key", "_hash")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._sort_key: tuple | None = None
        self._hash: int | None = None

    def sorttree_key(self) -> tuple:
        if self._sort_key is None:
            value = self.value
            self._sort_key = tree_key(value) if isinstance(value, (tuple, JsonObject)) else (4, 1, 0, (tree_key(value),))
        return self._sort_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Jsonb) and self.sorttree_key() == other.sorttree_key()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __lt__(self, other: "Jsonb") -> bool:
        return self.sorttree_key() < other.sorttree_key()

    def __le__(self, other: "Jsonb") -> bool:
        return self.sorttree_key() <= other.sorttree_key()

    def __gt__(self, other: "Jsonb") -> bool:
        return self.sorttree_key() > other.sorttree_key()

    def __ge__(self, other: "Jsonb") -> bool:
        return self.sorttree_key() >= other.sorttree_key()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.sorttree_key())
        return self._hash

    def __repr__(self) -> str:
        return f"Jsonb({jsonb_text(self)})"

    def __str__(self) -> str:
        return jsonb_text(self)

    def __reduce__(self) -> tuple:
        return (parse_jsonb, (jsonb_text(self),))


# ---------------------------------------------------------------------------------------------------------------
# Input


def _invalid(text: str, detail: str | None = None) -> errors.SteadyError:
    return errors.InvalidTextRepresentation("invalid input syntax for type json", detail=detail)


def _constant(name: str) -> Any:
    raise ValueError(f'Token "{name}" is invalid.')


def _number(text: str) -> Decimal:
    return numeric.normalize(Decimal(text))


def _check_strings(value: Any) -> Any:
    """Lone surrogates (PostgreSQL refuses them) and \\u0000 (jsonb cannot hold it)."""
    if isinstance(value, str):
        _check_string(value)
    elif isinstance(value, tuple):
        for item in value:
            _check_strings(item)
    elif isinstance(value, JsonObject):
        for key, item in value.items():
            _check_string(key)
            _check_strings(item)
    return value


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise errors.SteadyError("unsupported Unicode escape sequence", sqlstate="22P05",
                                 detail="\\u0000 cannot be converted to text.")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise _invalid(text, "Unicode low surrogate must follow a high surrogate.")


_decoder = json.JSONDecoder(parse_float=_number, parse_int=_number, parse_constant=_constant,
                            object_pairs_hook=JsonObject)


def parse_tree(text: str) -> Any:
    """The tree of a JSON text (arrays as tuples)."""
    try:
        stripped = text.strip(" \t\n\r")
        value, end = _decoder.raw_decode(stripped)
        if end != len(stripped):
            raise ValueError("trailing text")
    except RecursionError:
        raise errors.SteadyError("stack depth limit exceeded", sqlstate="54001") from None
    except ValueError as exc:
        raise _invalid(text, str(exc) if str(exc).startswith("Token") else None) from None
    return _check_strings(_tuples(value))


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, JsonObject):
        if any(isinstance(v, (list, JsonObject)) for v in value.values()):
            return JsonObject((k, _tuples(v)) for k, v in value.items())
    return value


def parse_jsonb(text: str) -> Jsonb:
    """``jsonb_in``."""
    return Jsonb(parse_tree(text))


def from_python(value: Any) -> Any:
    """A tree from plain Python values (dicts, lists, ints, floats, strings): what clients' adapters produce."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return numeric.normalize(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return numeric.normalize(value)
    if isinstance(value, (list, tuple)):
        return tuple(from_python(v) for v in value)
    if isinstance(value, Mapping):
        return JsonObject((str(k), from_python(v)) for k, v in value.items())
    raise TypeError(f"not a JSON value: {value!r}")


# ---------------------------------------------------------------------------------------------------------------
# Output

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_json(text: str) -> str:
    """PostgreSQL's ``escape_json``: a quoted JSON string."""
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return escape_json(value)
    return numeric_text(value)


def numeric_text(value: Decimal) -> str:
    return format(value.copy_abs() if value.is_zero() else value, "f")


def _tokens(value: Any, top: bool) -> Iterator[tuple[str, Any]]:
    """The iterator PostgreSQL's JsonbIteratorNext walks: (token, payload)."""
    if isinstance(value, tuple):
        yield ("begin_array", False)
        for item in value:
            if isinstance(item, (tuple, JsonObject)):
                yield from _tokens(item, False)
            else:
                yield ("elem", item)
        yield ("end_array", False)
    elif isinstance(value, JsonObject):
        yield ("begin_object", None)
        for key, item in value.items():
            yield ("key", key)
            if isinstance(item, (tuple, JsonObject)):
                yield from _tokens(item, False)
            else:
                yield ("value", item)
        yield ("end_object", None)
    else:  # a raw scalar: a one-element pseudo array
        yield ("begin_array", True)
        yield ("elem", value)
        yield ("end_array", True)


def _write(value: Any, indent: bool) -> str:
    """``JsonbToCStringWorker`` (with or without indentation)."""
    out: list[str] = []
    ispaces = ", " if not indent else ","
    first, use_indent, raw_scalar, last_was_key, level = True, False, False, False, 0

    def add_indent(flag: bool, depth: int) -> None:
        if flag:
            out.append("\n" + " " * (4 * depth))

    tokens = list(_tokens(value, True))
    i = 0
    while i < len(tokens):
        kind, payload = tokens[i]
        redo = False
        if kind == "begin_array":
            if not first:
                out.append(ispaces)
            if not payload:
                add_indent(use_indent and not last_was_key, level)
                out.append("[")
            else:
                raw_scalar = True
            first = True
            level += 1
        elif kind == "begin_object":
            if not first:
                out.append(ispaces)
            add_indent(use_indent and not last_was_key, level)
            out.append("{")
            first = True
            level += 1
        elif kind == "key":
            if not first:
                out.append(ispaces)
            first = True
            add_indent(use_indent, level)
            out.append(escape_json(payload) + ": ")
            following, item = tokens[i + 1]
            if following == "value":
                first = False
                out.append(scalar_text(item))
                i += 1
            else:
                redo = True
        elif kind == "elem":
            if not first:
                out.append(ispaces)
            first = False
            if not raw_scalar:
                add_indent(use_indent, level)
            out.append(scalar_text(payload))
        elif kind == "end_array":
            level -= 1
            if not raw_scalar:
                add_indent(use_indent, level)
                out.append("]")
            first = False
        else:  # end_object
            level -= 1
            add_indent(use_indent, level)
            out.append("}")
            first = False
        use_indent = indent
        last_was_key = redo
        i += 1
    return "".join(out)


def jsonb_text(datum: Jsonb) -> str:
    """``jsonb_out``."""
    value = datum.value
    if not isinstance(value, (tuple, JsonObject)):
        return scalar_text(value)
    return _write(value, False)


def jsonb_pretty_text(datum: Jsonb) -> str:
    """``jsonb_pretty``."""
    return _write(datum.value, True)


def encode_binary(datum: Jsonb) -> bytes:
    return bytes([BINARY_VERSION]) + jsonb_text(datum).encode()


def decode_binary(data: bytes) -> Jsonb:
    if not data or data[0] != BINARY_VERSION:
        raise errors.SteadyError(f"unsupported jsonb version number {data[0] if data else 0}", sqlstate="22P03")
    return parse_jsonb(data[1:].decode())


def type_name(value: Any) -> str:
    """``jsonb_typeof`` of a tree value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, tuple) else "object"


def to_python(value: Any) -> Any:
    """A tree as plain Python (dicts, lists, Decimals): for tests and clients."""
    if isinstance(value, tuple):
        return [to_python(v) for v in value]
    if isinstance(value, JsonObject):
        return {k: to_python(v) for k, v in value.items()}
    return value
