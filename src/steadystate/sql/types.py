"""Type rules of the planner: literal parsing, implicit/explicit casts, and finding a common type.

PostgreSQL's rules, in the small: numeric types widen int4 → int8 → numeric → float8, a date widens to a
timestamp, an untyped string literal (or parameter, or NULL) adopts the type its context asks for, and any
type casts explicitly to and from text.  Text that does not parse as the target type raises
InvalidTextRepresentation with PostgreSQL's message.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import uuid
import re
from typing import Any, Callable, NamedTuple

from sqlglot import exp

from steadystate import errors
from steadystate.expr.casts import (
    parse_date, parse_float, parse_float4, parse_int, parse_interval, parse_time, parse_timestamp, parse_timestamptz,
)
from steadystate.repr import numeric
from steadystate.repr.bytea import parse_bytea, parse_uuid
from steadystate.repr.jsonb import Jsonb, parse_jsonb
from steadystate.repr.arrays import parse_array
from steadystate.expr.mz_timestamp import to_mz_timestamp
from steadystate.repr.interval import Interval
from steadystate.repr.typmod import NUMERIC_MAX_PRECISION, TIMESTAMP_MAX_PRECISION, ModKind, TypeMod
from steadystate.repr.types import TYPE_NAMES, ScalarType

T = ScalarType

#: Rank of each numeric type in the implicit widening order.
NUMERIC_RANK = {T.INT2: 0, T.INT4: 1, T.INT8: 2, T.NUMERIC: 3, T.FLOAT4: 4, T.FLOAT8: 5}

INT_RANGES = {T.INT2: (-(2**15), 2**15 - 1), T.INT4: (-(2**31), 2**31 - 1), T.INT8: (-(2**63), 2**63 - 1)}

_BOOL_WORDS = {"t": True, "true": True, "y": True, "yes": True, "on": True, "1": True,
               "f": False, "false": False, "n": False, "no": False, "off": False, "0": False}

#: Explicit casts allowed besides the implicit ones and anything ↔ text.
_EXPLICIT = {(T.INT4, T.BOOL), (T.BOOL, T.INT4), (T.TIMESTAMP, T.DATE), (T.TIMESTAMPTZ, T.DATE),
             (T.TIMESTAMPTZ, T.TIMESTAMP), (T.TIMESTAMP, T.TIME), (T.TIMESTAMPTZ, T.TIME), (T.INTERVAL, T.TIME),
             *[(T.JSONB, t) for t in (T.BOOL, T.NUMERIC, T.INT2, T.INT4, T.INT8, T.FLOAT4, T.FLOAT8)]}
#: PostgreSQL's implicit casts between date/time types (date → timestamp → timestamptz, time → interval)
_IMPLICIT_TEMPORAL = {(T.DATE, T.TIMESTAMP), (T.DATE, T.TIMESTAMPTZ), (T.TIMESTAMP, T.TIMESTAMPTZ),
                      (T.TIME, T.INTERVAL)}
#: Materialize's implicit casts to mz_timestamp (what ``mz_now()`` is compared with in a temporal filter)
_IMPLICIT_TEMPORAL |= {(source, T.MZ_TIMESTAMP) for source in
                       (T.INT2, T.INT4, T.INT8, T.NUMERIC, T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ)}


def type_from_name(name: str) -> ScalarType:
    """The scalar type a plain type name spells; a modifier (``(...)``) is refused: resolve_type reads those."""
    cleaned = re.sub(r"\(.*\)", "", name).strip().lower()
    cleaned = re.sub(r"\s+", " ", cleaned)
    typ = TYPE_NAMES.get(cleaned)
    if typ is None:
        raise errors.UndefinedObject(f"type {errors.quote_ident(cleaned)} does not exist")
    if re.search(r"\(\s*\S", name):
        raise errors.SyntaxError_(f"type modifier is not allowed for type {errors.quote_ident(cleaned)}")
    return typ


class DeclaredType(NamedTuple):
    """A type as a statement spells it: the scalar type and what its modifier adds (``varchar(3)``: text plus
    TypeMod(VARCHAR, 3))."""

    type: ScalarType
    mod: TypeMod | None = None


_TEMPORAL_PARSERS: dict[ScalarType, Callable[[str], Any]] = {
    T.DATE: parse_date, T.TIMESTAMP: parse_timestamp, T.TIMESTAMPTZ: parse_timestamptz, T.TIME: parse_time, T.INTERVAL: parse_interval,
    T.MZ_TIMESTAMP: to_mz_timestamp,
}

#: jsonb, uuid, bytea: their input functions raise PostgreSQL's own errors
_OTHER_PARSERS: dict[ScalarType, Callable[[str], Any]] = {T.JSONB: parse_jsonb, T.UUID: parse_uuid, T.BYTEA: parse_bytea}

_D = exp.DataType.Type
#: sqlglot's type → ours, for the types that take no modifier
_PLAIN: dict[Any, ScalarType] = {
    _D.SMALLINT: T.INT2, _D.INT: T.INT4, _D.BIGINT: T.INT8, _D.FLOAT: T.FLOAT4, _D.TEXT: T.TEXT,
    _D.BOOLEAN: T.BOOL, _D.DATE: T.DATE, _D.INTERVAL: T.INTERVAL,
    _D.JSONB: T.JSONB, _D.UUID: T.UUID, _D.VARBINARY: T.BYTEA,
}
_VARCHAR_MAX = 10485760


def _modifiers(node: exp.DataType) -> list[int]:
    out = []
    for param in node.expressions:
        text = (param.this if isinstance(param, exp.DataTypeParam) else param).sql(dialect="postgres")
        try:
            out.append(int(text.replace(" ", "")))
        except ValueError:
            raise errors.SyntaxError_(f"type modifiers must be simple constants or identifiers: {text}") from None
    return out


def _invalid(message: str) -> errors.SteadyError:
    return errors.InvalidParameterValue(message)


def _string_type(kind: ModKind, node: exp.DataType, default: int | None) -> DeclaredType:
    mods = _modifiers(node)
    name = "varchar" if kind is ModKind.VARCHAR else "char"
    if len(mods) > 1:
        raise errors.SyntaxError_(f"invalid type modifier for type {name}")
    length = mods[0] if mods else default
    if length is not None and length < 1:
        raise _invalid(f"length for type {name} must be at least 1")
    if length is not None and length > _VARCHAR_MAX:
        raise _invalid(f"length for type {name} cannot exceed {_VARCHAR_MAX}")
    return DeclaredType(T.TEXT, TypeMod(kind, length))


def _numeric_type(node: exp.DataType) -> DeclaredType:
    mods = _modifiers(node)
    if not mods:
        return DeclaredType(T.NUMERIC)
    if len(mods) > 2:
        raise errors.SyntaxError_("invalid NUMERIC type modifier")
    precision, scale = mods[0], mods[1] if len(mods) > 1 else 0
    if not 1 <= precision <= NUMERIC_MAX_PRECISION:
        raise _invalid(f"NUMERIC precision {precision} must be between 1 and {NUMERIC_MAX_PRECISION}")
    if not -NUMERIC_MAX_PRECISION <= scale <= NUMERIC_MAX_PRECISION:
        raise _invalid(f"NUMERIC scale {scale} must be between {-NUMERIC_MAX_PRECISION} and {NUMERIC_MAX_PRECISION}")
    return DeclaredType(T.NUMERIC, TypeMod(ModKind.NUMERIC, precision, scale))


def _float_type(node: exp.DataType) -> DeclaredType:
    mods = _modifiers(node)
    if not mods:
        return DeclaredType(T.FLOAT8)
    bits = mods[0]
    if len(mods) > 1:
        raise errors.SyntaxError_("syntax error at or near \",\"")
    if bits < 1:
        raise _invalid("precision for type float must be at least 1 bit")
    if bits > 53:
        raise _invalid("precision for type float must be less than 54 bits")
    return DeclaredType(T.FLOAT4 if bits <= 24 else T.FLOAT8)


_PRECISION_TYPES = {ModKind.TIMESTAMP: (T.TIMESTAMP, "TIMESTAMP"),
                    ModKind.TIMESTAMPTZ: (T.TIMESTAMPTZ, "TIMESTAMP WITH TIME ZONE"), ModKind.TIME: (T.TIME, "TIME")}


def _precision_type(kind: ModKind) -> Callable[[exp.DataType], DeclaredType]:
    """timestamp(p), timestamptz(p), time(p): fractional-second precision."""
    typ, spelling = _PRECISION_TYPES[kind]

    def resolve(node: exp.DataType) -> DeclaredType:
        mods = _modifiers(node)
        if not mods:
            return DeclaredType(typ)
        if len(mods) > 1:
            raise errors.SyntaxError_("invalid type modifier")
        if mods[0] < 0:
            raise _invalid(f"{spelling}({mods[0]}) precision must not be negative")
        # PostgreSQL reduces a precision above 6 to 6 (with a warning): the values are the same
        return DeclaredType(typ, TypeMod(kind, min(mods[0], TIMESTAMP_MAX_PRECISION)))

    return resolve


_WITH_MODIFIERS: dict[Any, Callable[[exp.DataType], DeclaredType]] = {
    _D.VARCHAR: lambda node: _string_type(ModKind.VARCHAR, node, None),
    _D.CHAR: lambda node: _string_type(ModKind.BPCHAR, node, 1),  # char without a length is char(1)
    _D.BPCHAR: lambda node: _string_type(ModKind.BPCHAR, node, None),
    _D.DECIMAL: _numeric_type,
    _D.DOUBLE: _float_type,
    _D.TIMESTAMP: _precision_type(ModKind.TIMESTAMP),
    _D.TIMESTAMPTZ: _precision_type(ModKind.TIMESTAMPTZ),
    _D.TIME: _precision_type(ModKind.TIME),
}


def _list_name(node: exp.DataType) -> str:
    if not node.expressions:
        return "list"
    element = node.expressions[0]
    if isinstance(element, exp.DataType) and element.this is _D.LIST:
        return f"{_list_name(element)} list"
    return f"{element.sql(dialect='postgres').lower()} list"


def _map_name(node: exp.DataType) -> str:
    parts = [e.sql(dialect="postgres").lower() for e in node.expressions]
    return f"map[{'=>'.join(parts)}]"


#: types Materialize has (or PostgreSQL has) that steadystate refuses (0A000) rather than reading as another type
_REFUSED: dict[Any, tuple[Callable[[exp.DataType], str], str]] = {
    _D.JSON: (lambda node: "json", "Use jsonb (Materialize has no json type either)."),
    _D.LIST: (_list_name, "Materialize's list types are not implemented here; use an array (e.g. int[]) or jsonb."),
    _D.MAP: (_map_name, "Materialize's map types are not implemented here; use jsonb."),
}


def resolve_type(node: exp.Expr) -> DeclaredType:
    """The type a DDL column definition or a cast names, with its modifier; a modifier on a type that takes none
    is an error (PostgreSQL's), never dropped."""
    if not isinstance(node, exp.DataType):
        return DeclaredType(type_from_name(node.sql(dialect="postgres")))
    refused = _REFUSED.get(node.this)
    if refused is not None:
        raise errors.FeatureNotSupported(f"type {errors.quote_ident(refused[0](node))} is not supported",
                                         hint=refused[1])
    if node.this is _D.ARRAY:
        return DeclaredType(array_type(resolve_type(node.expressions[0]) if node.expressions else None))
    build = _WITH_MODIFIERS.get(node.this)
    if build is not None:
        return build(node)
    plain = _PLAIN.get(node.this)
    if plain is None:
        return DeclaredType(type_from_name(node.sql(dialect="postgres")))
    if node.expressions:
        if plain.is_numeric:  # INT, SMALLINT, REAL, ...: keywords of the grammar, which takes no modifier after them
            raise errors.SyntaxError_('syntax error at or near "("')
        if plain is T.INTERVAL:  # PostgreSQL takes a precision here; not honoured yet
            raise errors.FeatureNotSupported(f"type modifiers of {plain.pg_name} are not supported")
        raise errors.SyntaxError_(f"type modifier is not allowed for type {errors.quote_ident(plain.pg_name)}")
    return DeclaredType(plain)


def array_type(element: DeclaredType | None) -> ScalarType:
    """The one-dimensional array type of ``element`` (``int[]``, ``text ARRAY``); arrays of arrays are refused."""
    if element is None:
        raise errors.SyntaxError_('syntax error at or near "["')
    if element.type.is_array:
        raise errors.FeatureNotSupported("multidimensional arrays are not supported")
    if element.mod is not None:
        raise errors.FeatureNotSupported(f"type modifiers on array elements are not supported ({element.mod.pg_name}[])")
    found = element.type.array
    if found is None:
        raise errors.FeatureNotSupported(f"arrays of type {element.type.pg_name} are not supported")
    return found


def implicitly_castable(source: ScalarType, target: ScalarType) -> bool:
    if source is target:
        return True
    if source in NUMERIC_RANK and target in NUMERIC_RANK:
        return NUMERIC_RANK[source] <= NUMERIC_RANK[target]
    return (source, target) in _IMPLICIT_TEMPORAL


def explicitly_castable(source: ScalarType, target: ScalarType) -> bool:
    if source is target or T.TEXT in (source, target):
        return True
    if source.is_array or target.is_array:  # element-wise, as PostgreSQL's array coercion
        return source.is_array and target.is_array and explicitly_castable(source.element, target.element)
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
    if typ.is_array:
        return parse_array(text, lambda element: parse_text(element, typ.element))
    try:
        if typ in INT_RANGES:
            return parse_int(text, typ)
        if typ is T.NUMERIC:
            number = decimal.Decimal(stripped)
            if not number.is_finite() and not number.is_nan():
                raise ValueError(text)
            return numeric.normalize(number)
        if typ is T.FLOAT8:
            return parse_float(text)
        if typ is T.FLOAT4:
            return parse_float4(text)
        if typ is T.BOOL:
            return _BOOL_WORDS[stripped.lower()]
        if typ in _TEMPORAL_PARSERS:
            return _TEMPORAL_PARSERS[typ](text)
        if typ in _OTHER_PARSERS:
            return _OTHER_PARSERS[typ](text)
        return text
    except errors.SteadyError:
        raise
    except (ValueError, KeyError, decimal.InvalidOperation):
        name = "timestamp" if typ is T.TIMESTAMP else typ.pg_name  # PostgreSQL's spelling in this message
        raise errors.InvalidTextRepresentation(
            f"invalid input syntax for type {name}: {errors.quote_ident(text).replace(chr(34) * 2, chr(34))}"
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
    return numeric.normalize(decimal.Decimal(text)), T.NUMERIC


def unknown_text(value: Any) -> str:
    """A parameter value of unknown type as the text it stands for (an empty or all-NULL array: ``{NULL,...}``)."""
    if isinstance(value, (tuple, list)):
        return "{" + ",".join("NULL" for _ in value) + "}"
    return str(value)


def datum_type(value: Any) -> ScalarType | None:
    """The type of a parameter value given as a Python datum (None for str/None, and an empty or all-NULL array:
    still unknown, typed by its context as its text would be: :func:`unknown_text`)."""
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
        return T.TIMESTAMPTZ if value.tzinfo is not None else T.TIMESTAMP
    if isinstance(value, _dt.date):
        return T.DATE
    if isinstance(value, _dt.time):
        return T.TIME
    if isinstance(value, Interval):
        return T.INTERVAL
    if isinstance(value, Jsonb):
        return T.JSONB
    if isinstance(value, uuid.UUID):
        return T.UUID
    if isinstance(value, bytes):
        return T.BYTEA
    if isinstance(value, (tuple, list)):  # an array parameter: its elements' type (unknown when all are NULL)
        if all(v is None for v in value):
            return None
        element = next((datum_type(v) or T.TEXT for v in value if v is not None), T.TEXT)
        found = element.array
        if found is None:
            raise errors.InvalidParameterValue(f"unsupported array parameter of {element.pg_name}")
        return found
    raise errors.InvalidParameterValue(f"unsupported parameter value of type {type(value).__name__}")


