"""The jsonb, uuid and bytea operators, functions and aggregates (what ``CallUnary``/``CallBinary``/``CallVariadic``
name ``jsonb_*``, ``bytea_*``, ...), as PostgreSQL 15 computes them.

``expr.functions`` merges :data:`UNARY_STRICT`, :data:`BINARY_STRICT`, :data:`VARIADIC_STRICT` and
:data:`VARIADIC_NONSTRICT` into its tables; ``expr.infer`` reads :data:`RESULT_TYPES`; ``expr.aggregates`` builds
:class:`JsonbAggState` and :class:`JsonbObjectAggState`. The planner side is ``sql/jsonb_scalar.py``.

jsonb values are :class:`~steadystate.repr.jsonb.Jsonb` datums over trees (``None``, ``bool``, ``Decimal``,
``str``, ``tuple``, ``JsonObject``); a top-level scalar is PostgreSQL's "raw scalar" (a one-element pseudo array),
which decides the edge cases: ``'[1,2]' @> '1'`` is true, ``'1' @> '[1]'`` false, ``'"a"' ? 'a'`` true,
``'1' || '2'`` is ``[1, 2]``. Errors are PostgreSQL's (22023 "cannot delete from scalar", "cannot get array length
of a scalar", ...). Path arguments of ``#>``/``#>>`` are ``text[]`` literals (``'{a,0}'``), parsed here as
PostgreSQL's array input reads a one-dimensional array.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import decimal
import functools
import hashlib
import uuid as _uuid
from typing import Any, Callable

from steadystate import errors
from steadystate.repr import numeric
from steadystate.repr.arrays import Array
from steadystate.repr.bytea import bytea_text, parse_bytea
from steadystate.repr.floattext import float4_text, float8_text
from steadystate.repr.interval import Interval, format_interval
from steadystate.repr.jsonb import JsonObject, Jsonb, jsonb_pretty_text, jsonb_text, scalar_text, tree_key, type_name
from steadystate.repr.types import ScalarType

T = ScalarType


def _invalid(message: str) -> errors.SteadyError:
    return errors.InvalidParameterValue(message)


def _is_container(value: Any) -> bool:
    return isinstance(value, (tuple, JsonObject))


def _as_array(value: Any) -> tuple:
    """A top-level value as PostgreSQL iterates it: a raw scalar is a one-element array."""
    return value if isinstance(value, tuple) else (value,)


# ---------------------------------------------------------------------------------------------------------------
# Conversion of SQL values (to_jsonb, jsonb_build_*, jsonb_agg)


def to_tree(value: Any) -> Any:
    """``to_jsonb``'s tree of a datum (by its Python type; a float is a float8)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Jsonb):
        return value.value
    if isinstance(value, Array):  # a JSON array of the elements' values (real[] is refused when planned)
        return tuple(to_tree(element) for element in value)
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else numeric_string(value)
    if isinstance(value, float):
        return _float_tree(float8_text(value))
    if isinstance(value, _dt.datetime):  # PostgreSQL's XSD form: 2020-01-01T10:00:00.5+00:00
        text = value.replace(tzinfo=None).isoformat(timespec="microseconds").rstrip("0").rstrip(".")
        return text + "+00:00" if value.tzinfo is not None else text
    if isinstance(value, _dt.time):
        return value.isoformat(timespec="microseconds").rstrip("0").rstrip(".")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Interval):
        return format_interval(value)
    if isinstance(value, bytes):
        return bytea_text(value)
    if isinstance(value, _uuid.UUID):
        return str(value)
    raise errors.FeatureNotSupported(f"to_jsonb of {type(value).__name__} is not supported")


def numeric_string(value: decimal.Decimal) -> str:
    return "NaN" if value.is_nan() else "Infinity" if value > 0 else "-Infinity"


def _float_tree(text: str) -> Any:
    try:
        return numeric.normalize(decimal.Decimal(text)) if text not in ("NaN", "Infinity", "-Infinity") else text
    except decimal.InvalidOperation:
        return text


def float4_to_jsonb(value: float) -> Jsonb:
    return Jsonb(_float_tree(float4_text(value)))


def to_jsonb(value: Any) -> Jsonb:
    return Jsonb(to_tree(value))


def _key_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    tree = to_tree(value)
    return tree if isinstance(tree, str) else scalar_text(tree) if not _is_container(tree) else jsonb_text(value)


def build_object(values: list[Any]) -> Jsonb:
    if len(values) % 2:
        raise _invalid("argument list must have even number of elements")
    pairs = []
    for i in range(0, len(values), 2):
        if values[i] is None:
            raise _invalid(f"argument {i + 1}: key must not be null")
        pairs.append((_key_text(values[i]), to_tree(values[i + 1])))
    return Jsonb(JsonObject(pairs))


def build_array(values: list[Any]) -> Jsonb:
    return Jsonb(tuple(to_tree(v) for v in values))


# ---------------------------------------------------------------------------------------------------------------
# Access: -> ->> #> #>>


def _index(items: tuple, index: int) -> Any:
    if index < 0:
        index += len(items)
    return items[index] if 0 <= index < len(items) else _MISSING


_MISSING = object()


def _field(value: Any, key: str) -> Any:
    return value.get(key, _MISSING) if isinstance(value, JsonObject) else _MISSING


def _as_text(tree: Any) -> str | None:
    if tree is _MISSING or tree is None:
        return None
    if isinstance(tree, str):
        return tree
    return jsonb_text(Jsonb(tree))


def get_key(doc: Jsonb, key: str) -> Jsonb | None:
    found = _field(doc.value, key)
    return None if found is _MISSING else Jsonb(found)


def _top_element(value: Any, index: int) -> Any:
    """``->``/``->>`` by position: PostgreSQL stores a top-level scalar as a one-element array, so ``'false'::jsonb
    -> 0`` (and ``-> -1``) is ``false``; an object has no positions."""
    if isinstance(value, JsonObject):
        return _MISSING
    return _index(value if isinstance(value, tuple) else (value,), index)


def get_index(doc: Jsonb, index: int) -> Jsonb | None:
    found = _top_element(doc.value, index)
    return None if found is _MISSING else Jsonb(found)


def get_key_text(doc: Jsonb, key: str) -> str | None:
    return _as_text(_field(doc.value, key))


def get_index_text(doc: Jsonb, index: int) -> str | None:
    return _as_text(_top_element(doc.value, index))


@functools.lru_cache(maxsize=256)
def parse_text_array(text: str) -> tuple[str | None, ...]:
    """A one-dimensional ``text[]`` literal (``{a,"b c",NULL}``), as PostgreSQL's ``array_in`` reads it."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        raise errors.InvalidTextRepresentation(f'malformed array literal: "{text}"',
                                               detail='Array value must start with "{" or dimension information.')
    body, items, i = stripped[1:-1], [], 0
    if not body.strip():
        return ()
    while i <= len(body):
        while i < len(body) and body[i].isspace():
            i += 1
        quoted, chars = False, []
        if i < len(body) and body[i] == '"':
            quoted, i = True, i + 1
            while i < len(body) and body[i] != '"':
                if body[i] == "\\":
                    i += 1
                chars.append(body[i] if i < len(body) else "")
                i += 1
            i += 1
        while i < len(body) and body[i] != ",":
            if body[i] in "{}\"" and not quoted:
                raise errors.InvalidTextRepresentation(f'malformed array literal: "{text}"')
            if body[i] == "\\":
                i += 1
            chars.append(body[i] if i < len(body) else "")
            i += 1
        item = "".join(chars) if quoted else "".join(chars).strip()
        if not quoted and not item:
            raise errors.InvalidTextRepresentation(f'malformed array literal: "{text}"')
        items.append(None if not quoted and item.upper() == "NULL" else item)
        i += 1
    return tuple(items)


def _walk(doc: Jsonb, path_text: str) -> Any:
    current = doc.value
    path = parse_text_array(path_text)
    if not path:
        return current
    if not _is_container(current):
        return _MISSING
    for step in path:
        if step is None:
            return _MISSING
        if isinstance(current, JsonObject):
            current = current.get(step, _MISSING)
        elif isinstance(current, tuple):
            try:
                index = int(step)
            except ValueError:
                return _MISSING
            current = _index(current, index)
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def get_path(doc: Jsonb, path: str) -> Jsonb | None:
    found = _walk(doc, path)
    return None if found is _MISSING else Jsonb(found)


def get_path_text(doc: Jsonb, path: str) -> str | None:
    return _as_text(_walk(doc, path))


# ---------------------------------------------------------------------------------------------------------------
# Containment, existence, concatenation, deletion


def _scalar_equal(a: Any, b: Any) -> bool:
    return tree_key(a) == tree_key(b)


def _deep_contains(val: Any, cont: Any) -> bool:
    """PostgreSQL's ``JsonbDeepContains`` on two containers."""
    if isinstance(val, JsonObject) != isinstance(cont, JsonObject):
        return False
    if isinstance(cont, JsonObject):
        if len(val) < len(cont):
            return False
        for key, wanted in cont.items():
            have = val.get(key, _MISSING)
            if have is _MISSING:
                return False
            if _is_container(wanted) or _is_container(have):
                if not (_is_container(wanted) and _is_container(have) and _deep_contains(have, wanted)):
                    return False
            elif not _scalar_equal(have, wanted):
                return False
        return True
    scalars = [v for v in val if not _is_container(v)]
    containers = [v for v in val if _is_container(v)]
    for wanted in cont:
        if _is_container(wanted):
            if not any(_deep_contains(have, wanted) for have in containers):
                return False
        elif not any(_scalar_equal(have, wanted) for have in scalars):
            return False
    return True


def contains(a: Jsonb, b: Jsonb) -> bool:
    """``a @> b``."""
    val, cont = a.value, b.value
    val_raw, cont_raw = not _is_container(val), not _is_container(cont)
    if val_raw and cont_raw:
        return _scalar_equal(val, cont)
    if val_raw:
        return False  # a raw scalar contains no container (PostgreSQL's rawScalar rule)
    return _deep_contains(val, (cont,) if cont_raw else cont)


def contained(a: Jsonb, b: Jsonb) -> bool:
    return contains(b, a)


def exists(doc: Jsonb, key: str) -> bool:
    value = doc.value
    if isinstance(value, JsonObject):
        return key in value
    return any(isinstance(v, str) and v == key for v in _as_array(value))


def exists_any(values: list[Any]) -> bool:
    doc, keys = values[0], values[1:]
    return any(k is not None and exists(doc, k) for k in keys)


def exists_all(values: list[Any]) -> bool:
    doc, keys = values[0], values[1:]
    return all(k is None or exists(doc, k) for k in keys)


def concat(a: Jsonb, b: Jsonb) -> Jsonb:
    left, right = a.value, b.value
    if isinstance(left, JsonObject) and isinstance(right, JsonObject):
        return Jsonb(JsonObject([*left.items(), *right.items()]))
    first = (left,) if isinstance(left, JsonObject) else _as_array(left)
    second = (right,) if isinstance(right, JsonObject) else _as_array(right)
    return Jsonb(first + second)


def delete_key(doc: Jsonb, key: str) -> Jsonb:
    value = doc.value
    if not _is_container(value):
        raise _invalid("cannot delete from scalar")
    if isinstance(value, JsonObject):
        return Jsonb(JsonObject((k, v) for k, v in value.items() if k != key)) if key in value else doc
    return Jsonb(tuple(v for v in value if not (isinstance(v, str) and v == key)))


def delete_index(doc: Jsonb, index: int) -> Jsonb:
    value = doc.value
    if not _is_container(value):
        raise _invalid("cannot delete from scalar")
    if isinstance(value, JsonObject):
        raise _invalid("cannot delete from object using integer index")
    position = index + len(value) if index < 0 else index
    if not 0 <= position < len(value):
        return doc
    return Jsonb(value[:position] + value[position + 1:])


# ---------------------------------------------------------------------------------------------------------------
# Functions


def typeof(doc: Jsonb) -> str:
    return type_name(doc.value)


def array_length(doc: Jsonb) -> int:
    value = doc.value
    if isinstance(value, tuple):
        return len(value)
    raise _invalid("cannot get array length of a non-array" if isinstance(value, JsonObject)
                   else "cannot get array length of a scalar")


def _strip(value: Any) -> Any:
    if isinstance(value, JsonObject):
        return JsonObject((k, _strip(v)) for k, v in value.items() if v is not None)
    if isinstance(value, tuple):
        return tuple(_strip(v) for v in value)
    return value


def strip_nulls(doc: Jsonb) -> Jsonb:
    return Jsonb(_strip(doc.value))


def pretty(doc: Jsonb) -> str:
    return jsonb_pretty_text(doc)


def bytea_md5(value: bytes) -> str:
    return hashlib.md5(value).hexdigest()


def bytea_encode(value: bytes, form: str) -> str:
    kind = form.lower()
    if kind == "hex":
        return value.hex()
    if kind == "base64":
        text = base64.b64encode(value).decode()
        return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))  # PostgreSQL wraps at 76
    if kind == "escape":
        # PostgreSQL's esc_encode: NUL and bytes with the high bit as \ooo, a backslash doubled, the rest as is
        return "".join("\\\\" if b == 0x5C else f"\\{b:03o}" if b == 0 or b >= 0x80 else chr(b) for b in value)
    raise _invalid(f'unrecognized encoding: "{form}"')


def bytea_decode(text: str, form: str) -> bytes:
    kind = form.lower()
    if kind == "hex":
        return parse_bytea("\\x" + text)
    if kind == "base64":
        cleaned = "".join(text.split())
        try:
            return base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("invalid base64 end sequence") from None
    if kind == "escape":
        return parse_bytea(text)
    raise _invalid(f'unrecognized encoding: "{form}"')


# ---------------------------------------------------------------------------------------------------------------
# Aggregates


def _order_compare(order: tuple[tuple[bool, bool], ...], a: tuple, b: tuple) -> int:
    for (desc, nulls_last), x, y in zip(order, a, b):
        if x == y:
            continue
        if x is None or y is None:
            return (1 if nulls_last else -1) * (1 if x is None else -1)
        return (1 if x > y else -1) * (-1 if desc else 1)
    return 0


class JsonbAggState:
    """``jsonb_agg(value [ORDER BY ...])``: the multiset of fed values; the result is their array, in the
    aggregate's ORDER BY and, for ties (and without one), in jsonb order, so every replica agrees. NULL values
    are JSON nulls, as in PostgreSQL; no rows give NULL."""

    __slots__ = ("entries", "order", "shaped")

    def __init__(self, order: tuple[tuple[bool, bool], ...], shaped: bool) -> None:
        self.entries: dict[Any, int] = {}
        self.order = order
        self.shaped = shaped  # values come as (value, *arguments, (order keys))

    def add(self, value: Any, diff: int) -> None:
        count = self.entries.get(value, 0) + diff
        if count:
            self.entries[value] = count
        else:
            del self.entries[value]

    def _sorted(self) -> list[Any]:
        def tie(entry: Any) -> tuple:
            values = entry[:-1] if self.shaped else (entry,)
            return tuple(tree_key(to_tree(v)) for v in values)

        def compare(a: Any, b: Any) -> int:
            if self.shaped:
                first = _order_compare(self.order, a[-1], b[-1])
                if first:
                    return first
            x, y = tie(a), tie(b)
            return (x > y) - (x < y)

        out: list[Any] = []
        for entry in sorted(self.entries, key=functools.cmp_to_key(compare)):
            out.extend([entry] * self.entries[entry])
        return out

    def result(self) -> Jsonb | None:
        if not self.entries:
            return None
        return Jsonb(tuple(to_tree(e[0] if self.shaped else e) for e in self._sorted()))


def object_agg_key(key: Any) -> Any:
    """The key argument of ``jsonb_object_agg``, checked where the row is read (an error there becomes an error
    of the result, as evaluation errors do), not when the group's result is built."""
    if key is None:
        raise _invalid("field name must not be null")
    return key


class JsonbObjectAggState(JsonbAggState):
    """``jsonb_object_agg(key, value [ORDER BY ...])``: fed ``(key, value, (order keys))`` with the key checked
    non-NULL by :func:`object_agg_key`; a repeated key keeps the value that sorts last."""

    def result(self) -> Jsonb | None:
        if not self.entries:
            return None
        pairs = []
        for key, value, _order in self._sorted():
            pairs.append((_key_text(key), to_tree(value)))
        return Jsonb(JsonObject(pairs))


# ---------------------------------------------------------------------------------------------------------------
# Table functions: the rows of jsonb_array_elements, jsonb_each, jsonb_object_keys (see TABLE_FUNCTIONS)


def array_elements(doc: Jsonb, as_text: bool) -> list[tuple]:
    value = doc.value
    if isinstance(value, JsonObject):
        raise _invalid("cannot extract elements from an object")
    if not isinstance(value, tuple):
        raise _invalid("cannot extract elements from a scalar")
    return [(_as_text(v) if as_text else Jsonb(v),) for v in value]


def each(doc: Jsonb, as_text: bool) -> list[tuple]:
    value = doc.value
    if not isinstance(value, JsonObject):
        raise _invalid(f"cannot call jsonb_each{'_text' if as_text else ''} on a non-object")
    return [(k, _as_text(v) if as_text else Jsonb(v)) for k, v in value.items()]


def object_keys(doc: Jsonb) -> list[tuple]:
    value = doc.value
    if isinstance(value, tuple):
        raise _invalid("cannot call jsonb_object_keys on an array")
    if not isinstance(value, JsonObject):
        raise _invalid("cannot call jsonb_object_keys on a scalar")
    return [(k,) for k in value]


class TableFunction:
    """A set-returning function over one jsonb argument: ``rows(argument)`` is its rows in PostgreSQL's order (a
    NULL argument gives no rows: the caller skips it); ``columns`` names and types them (``WITH ORDINALITY`` and
    column aliases are the caller's)."""

    __slots__ = ("name", "columns", "rows")

    def __init__(self, name: str, columns: tuple[tuple[str, ScalarType], ...],
                 rows: Callable[[Jsonb], list[tuple]]) -> None:
        self.name, self.columns, self.rows = name, columns, rows


#: jsonb's table functions, for the table-function planner (another branch's): the argument is jsonb
TABLE_FUNCTIONS: dict[str, TableFunction] = {
    "jsonb_array_elements": TableFunction("jsonb_array_elements", (("value", T.JSONB),),
                                          lambda doc: array_elements(doc, False)),
    "jsonb_array_elements_text": TableFunction("jsonb_array_elements_text", (("value", T.TEXT),),
                                               lambda doc: array_elements(doc, True)),
    "jsonb_each": TableFunction("jsonb_each", (("key", T.TEXT), ("value", T.JSONB)), lambda doc: each(doc, False)),
    "jsonb_each_text": TableFunction("jsonb_each_text", (("key", T.TEXT), ("value", T.TEXT)),
                                     lambda doc: each(doc, True)),
    "jsonb_object_keys": TableFunction("jsonb_object_keys", (("jsonb_object_keys", T.TEXT),), object_keys),
}


# ---------------------------------------------------------------------------------------------------------------
# Tables

UNARY_STRICT: dict[str, Callable[[Any], Any]] = {
    "jsonb_typeof": typeof,
    "jsonb_array_length": array_length,
    "jsonb_strip_nulls": strip_nulls,
    "jsonb_pretty": pretty,
    "to_jsonb": to_jsonb,
    "float4_to_jsonb": float4_to_jsonb,
    "bytea_md5": bytea_md5,
    "octet_length": len,
    "bit_length": lambda value: len(value) * 8,
    "text_to_utf8": str.encode,
    **{f"bytea_sha{bits}": (lambda algorithm: lambda value: hashlib.new(algorithm, value).digest())(f"sha{bits}")
       for bits in (224, 256, 384, 512)},
}
UNARY_NONSTRICT: dict[str, Callable[[Any], Any]] = {
    "to_jsonb_nullable": lambda v: None if v is None else to_jsonb(v),
    "jsonb_object_agg_key": object_agg_key,
}
BINARY_STRICT: dict[str, Callable[[Any, Any], Any]] = {
    "jsonb_get_key": get_key,
    "jsonb_get_index": get_index,
    "jsonb_get_key_text": get_key_text,
    "jsonb_get_index_text": get_index_text,
    "jsonb_get_path": get_path,
    "jsonb_get_path_text": get_path_text,
    "jsonb_contains": contains,
    "jsonb_contained": contained,
    "jsonb_exists": exists,
    "jsonb_concat": concat,
    "jsonb_delete_key": delete_key,
    "jsonb_delete_index": delete_index,
    "bytea_encode": bytea_encode,
    "bytea_decode": bytea_decode,
    "bytea_concat": lambda a, b: a + b,
    "jsonb_exists_any_literal": lambda doc, keys: exists_any([doc, *parse_text_array(keys)]),
    "jsonb_exists_all_literal": lambda doc, keys: exists_all([doc, *parse_text_array(keys)]),
}
VARIADIC_STRICT: dict[str, Callable[..., Any]] = {}
VARIADIC_NONSTRICT: dict[str, Callable[[list[Any]], Any]] = {
    "jsonb_build_object": build_object,
    "jsonb_build_array": build_array,
    "jsonb_exists_any": lambda values: None if values[0] is None else exists_any(values),
    "jsonb_exists_all": lambda values: None if values[0] is None else exists_all(values),
    "gen_random_uuid": lambda values: _uuid.uuid4(),
}

#: result types of the functions above (expr.infer)
RESULT_TYPES: dict[str, ScalarType] = {
    **{name: T.JSONB for name in ("jsonb_strip_nulls", "to_jsonb", "float4_to_jsonb", "to_jsonb_nullable",
                                  "jsonb_get_key", "jsonb_get_index", "jsonb_get_path", "jsonb_concat",
                                  "jsonb_delete_key", "jsonb_delete_index", "jsonb_build_object",
                                  "jsonb_build_array")},
    **{name: T.TEXT for name in ("jsonb_typeof", "jsonb_pretty", "jsonb_get_key_text", "jsonb_get_index_text",
                                 "jsonb_get_path_text", "bytea_md5", "bytea_encode")},
    **{name: T.BOOL for name in ("jsonb_contains", "jsonb_contained", "jsonb_exists", "jsonb_exists_any",
                                 "jsonb_exists_all", "jsonb_exists_any_literal", "jsonb_exists_all_literal")},
    "jsonb_array_length": T.INT4,
    "gen_random_uuid": T.UUID,
    "octet_length": T.INT4,
    "bit_length": T.INT4,
    **{f"bytea_sha{bits}": T.BYTEA for bits in (224, 256, 384, 512)},
    "bytea_decode": T.BYTEA,
    "text_to_utf8": T.BYTEA,
    "bytea_concat": T.BYTEA,
}
