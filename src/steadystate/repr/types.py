"""Scalar types, relation descriptions and the Python values (datums) that represent them.

A row is a plain Python ``tuple`` of datums.  Datums are ordinary Python objects, chosen per type:

=============  ===================  ===========
ScalarType     datum                PostgreSQL
=============  ===================  ===========
INT2/INT4/INT8 ``int``              int2 / int4 / int8
FLOAT4         ``float``            float4 (a value a 32-bit float holds exactly)
FLOAT8         ``float``            float8
NUMERIC        ``decimal.Decimal``  numeric
TEXT           ``str``              text
BOOL           ``bool``             bool
DATE           ``datetime.date``    date
TIMESTAMP      ``datetime.datetime``timestamp (naive)
TIMESTAMPTZ    ``datetime.datetime``timestamptz (aware, in UTC: the only session TimeZone, as in Materialize)
TIME           ``datetime.time``    time
INTERVAL       ``repr.interval.Interval`` interval
JSONB          ``repr.jsonb.Jsonb``  jsonb
UUID           ``uuid.UUID``        uuid
BYTEA          ``bytes``            bytea
<type>_ARRAY   ``repr.arrays.Array`` one-dimensional ``<type>[]`` (a tuple of element datums)
MZ_TIMESTAMP   ``int``              Materialize's mz_timestamp (milliseconds since the Unix epoch; ``mz_now()``)
=============  ===================  ===========

``None`` is SQL NULL in every type.  A :class:`RelationDesc` names and types the columns of a relation;
it is a frozen msgspec Struct so it travels inside catalog records and compute commands unchanged.  A
:class:`Column` may carry a :class:`~steadystate.repr.typmod.TypeMod`, what its declared type adds to the scalar
type (``varchar(3)``, ``char(3)``, ``numeric(10,2)``, ``timestamp(3)``); records written before the field existed
decode with ``mod=None``.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import uuid as _uuid
from typing import Any

import msgspec

from steadystate.repr.interval import Interval
from steadystate.repr.jsonb import Jsonb
from steadystate.repr.typmod import TypeMod


class ScalarType(str, enum.Enum):
    INT2 = "int2"
    INT4 = "int4"
    INT8 = "int8"
    FLOAT4 = "float4"
    FLOAT8 = "float8"
    NUMERIC = "numeric"
    TEXT = "text"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    TIME = "time"
    INTERVAL = "interval"
    MZ_TIMESTAMP = "mz_timestamp"
    JSONB = "jsonb"
    UUID = "uuid"
    BYTEA = "bytea"

    # one-dimensional arrays of the types above (repr/arrays.py owns their datums and text form)
    INT2_ARRAY = "_int2"
    INT4_ARRAY = "_int4"
    INT8_ARRAY = "_int8"
    FLOAT4_ARRAY = "_float4"
    FLOAT8_ARRAY = "_float8"
    NUMERIC_ARRAY = "_numeric"
    TEXT_ARRAY = "_text"
    BOOL_ARRAY = "_bool"
    DATE_ARRAY = "_date"
    TIMESTAMP_ARRAY = "_timestamp"
    TIMESTAMPTZ_ARRAY = "_timestamptz"
    TIME_ARRAY = "_time"
    INTERVAL_ARRAY = "_interval"
    JSONB_ARRAY = "_jsonb"
    UUID_ARRAY = "_uuid"
    BYTEA_ARRAY = "_bytea"

    @property
    def is_array(self) -> bool:
        return self in ARRAY_ELEMENT

    @property
    def element(self) -> "ScalarType":
        """The element type of an array type."""
        return ARRAY_ELEMENT[self]

    @property
    def array(self) -> "ScalarType | None":
        """The array type whose elements are this type (None: no such array type)."""
        return ARRAY_OF.get(self)

    @property
    def pg_oid(self) -> int:
        return _PG_OID[self]

    @property
    def pg_typlen(self) -> int:
        return _PG_TYPLEN[self]

    @property
    def pg_name(self) -> str:
        return _PG_NAME[self]

    @property
    def is_numeric(self) -> bool:
        return self in (ScalarType.INT2, ScalarType.INT4, ScalarType.INT8, ScalarType.FLOAT4, ScalarType.FLOAT8,
                        ScalarType.NUMERIC)

    @property
    def is_integer(self) -> bool:
        return self in (ScalarType.INT2, ScalarType.INT4, ScalarType.INT8)

    @property
    def is_float(self) -> bool:
        return self in (ScalarType.FLOAT4, ScalarType.FLOAT8)


_PG_OID = {
    ScalarType.INT2: 21,
    ScalarType.FLOAT4: 700,
    ScalarType.INT4: 23,
    ScalarType.INT8: 20,
    ScalarType.FLOAT8: 701,
    ScalarType.NUMERIC: 1700,
    ScalarType.TEXT: 25,
    ScalarType.BOOL: 16,
    ScalarType.DATE: 1082,
    ScalarType.TIMESTAMP: 1114,
    ScalarType.TIMESTAMPTZ: 1184,
    ScalarType.TIME: 1083,
    ScalarType.INTERVAL: 1186,
    ScalarType.JSONB: 3802,
    ScalarType.UUID: 2950,
    ScalarType.BYTEA: 17,
    ScalarType.MZ_TIMESTAMP: 16552,  # Materialize's oid
}
_PG_TYPLEN = {
    ScalarType.INT2: 2,
    ScalarType.FLOAT4: 4,
    ScalarType.INT4: 4,
    ScalarType.INT8: 8,
    ScalarType.FLOAT8: 8,
    ScalarType.NUMERIC: -1,
    ScalarType.TEXT: -1,
    ScalarType.BOOL: 1,
    ScalarType.DATE: 4,
    ScalarType.TIMESTAMP: 8,
    ScalarType.TIMESTAMPTZ: 8,
    ScalarType.TIME: 8,
    ScalarType.INTERVAL: 16,
    ScalarType.JSONB: -1,
    ScalarType.UUID: 16,
    ScalarType.BYTEA: -1,
    ScalarType.MZ_TIMESTAMP: 8,
}
_PG_NAME = {
    ScalarType.INT2: "smallint",
    ScalarType.FLOAT4: "real",
    ScalarType.INT4: "integer",
    ScalarType.INT8: "bigint",
    ScalarType.FLOAT8: "double precision",
    ScalarType.NUMERIC: "numeric",
    ScalarType.TEXT: "text",
    ScalarType.BOOL: "boolean",
    ScalarType.DATE: "date",
    ScalarType.TIMESTAMP: "timestamp without time zone",
    ScalarType.TIMESTAMPTZ: "timestamp with time zone",
    ScalarType.TIME: "time without time zone",
    ScalarType.INTERVAL: "interval",
    ScalarType.JSONB: "jsonb",
    ScalarType.UUID: "uuid",
    ScalarType.BYTEA: "bytea",
    ScalarType.MZ_TIMESTAMP: "mz_timestamp",
}

#: SQL spellings accepted in DDL and casts, mapped to our types.
TYPE_NAMES: dict[str, ScalarType] = {
    "int": ScalarType.INT4,
    "int4": ScalarType.INT4,
    "integer": ScalarType.INT4,
    "smallint": ScalarType.INT2,
    "int2": ScalarType.INT2,
    "bigint": ScalarType.INT8,
    "int8": ScalarType.INT8,
    "float": ScalarType.FLOAT8,
    "float8": ScalarType.FLOAT8,
    "double": ScalarType.FLOAT8,
    "double precision": ScalarType.FLOAT8,
    "real": ScalarType.FLOAT4,
    "float4": ScalarType.FLOAT4,
    "numeric": ScalarType.NUMERIC,
    "decimal": ScalarType.NUMERIC,
    "text": ScalarType.TEXT,
    "varchar": ScalarType.TEXT,
    "char": ScalarType.TEXT,
    "character varying": ScalarType.TEXT,
    "string": ScalarType.TEXT,
    "bool": ScalarType.BOOL,
    "boolean": ScalarType.BOOL,
    "date": ScalarType.DATE,
    "timestamp": ScalarType.TIMESTAMP,
    "timestamp without time zone": ScalarType.TIMESTAMP,
    "timestamptz": ScalarType.TIMESTAMPTZ,
    "timestamp with time zone": ScalarType.TIMESTAMPTZ,
    "time": ScalarType.TIME,
    "time without time zone": ScalarType.TIME,
    "interval": ScalarType.INTERVAL,
    "jsonb": ScalarType.JSONB,
    "uuid": ScalarType.UUID,
    "bytea": ScalarType.BYTEA,
}

_PY_TYPES: dict[ScalarType, tuple[type, ...]] = {
    ScalarType.INT2: (int,),
    ScalarType.FLOAT4: (float, int),
    ScalarType.INT4: (int,),
    ScalarType.INT8: (int,),
    ScalarType.FLOAT8: (float, int),
    ScalarType.NUMERIC: (decimal.Decimal, int),
    ScalarType.TEXT: (str,),
    ScalarType.BOOL: (bool,),
    ScalarType.DATE: (_dt.date,),
    ScalarType.TIMESTAMP: (_dt.datetime,),
    ScalarType.TIMESTAMPTZ: (_dt.datetime,),
    ScalarType.TIME: (_dt.time,),
    ScalarType.INTERVAL: (Interval,),
    ScalarType.JSONB: (Jsonb,),
    ScalarType.UUID: (_uuid.UUID,),
    ScalarType.BYTEA: (bytes,),
    ScalarType.MZ_TIMESTAMP: (int,),
}


#: element type → (array type, PostgreSQL's array oid): adding a row here is all a new element type's array needs
_ARRAYS: dict[ScalarType, tuple[ScalarType, int]] = {
    ScalarType.INT2: (ScalarType.INT2_ARRAY, 1005),
    ScalarType.INT4: (ScalarType.INT4_ARRAY, 1007),
    ScalarType.INT8: (ScalarType.INT8_ARRAY, 1016),
    ScalarType.FLOAT4: (ScalarType.FLOAT4_ARRAY, 1021),
    ScalarType.FLOAT8: (ScalarType.FLOAT8_ARRAY, 1022),
    ScalarType.NUMERIC: (ScalarType.NUMERIC_ARRAY, 1231),
    ScalarType.TEXT: (ScalarType.TEXT_ARRAY, 1009),
    ScalarType.BOOL: (ScalarType.BOOL_ARRAY, 1000),
    ScalarType.DATE: (ScalarType.DATE_ARRAY, 1182),
    ScalarType.TIMESTAMP: (ScalarType.TIMESTAMP_ARRAY, 1115),
    ScalarType.TIMESTAMPTZ: (ScalarType.TIMESTAMPTZ_ARRAY, 1185),
    ScalarType.TIME: (ScalarType.TIME_ARRAY, 1183),
    ScalarType.INTERVAL: (ScalarType.INTERVAL_ARRAY, 1187),
    ScalarType.JSONB: (ScalarType.JSONB_ARRAY, 3807),
    ScalarType.UUID: (ScalarType.UUID_ARRAY, 2951),
    ScalarType.BYTEA: (ScalarType.BYTEA_ARRAY, 1001),
}
ARRAY_OF: dict[ScalarType, ScalarType] = {element: array for element, (array, _oid) in _ARRAYS.items()}
ARRAY_ELEMENT: dict[ScalarType, ScalarType] = {array: element for element, array in ARRAY_OF.items()}
for _element, (_array, _oid) in _ARRAYS.items():
    _PG_OID[_array] = _oid
    _PG_TYPLEN[_array] = -1
    _PG_NAME[_array] = _PG_NAME[_element] + "[]"
for _name, _element in list(TYPE_NAMES.items()):
    if _element in ARRAY_OF:
        TYPE_NAMES[_name + "[]"] = ARRAY_OF[_element]
        TYPE_NAMES["_" + _element.value] = ARRAY_OF[_element]


def datum_matches(value: Any, typ: ScalarType) -> bool:
    """Whether ``value`` is a valid datum of ``typ`` (NULL is valid for every type)."""
    if value is None:
        return True
    if isinstance(value, bool) and typ is not ScalarType.BOOL:
        return False
    if typ in ARRAY_ELEMENT:
        return isinstance(value, tuple) and all(datum_matches(v, typ.element) for v in value)
    return isinstance(value, _PY_TYPES[typ])


class Column(msgspec.Struct, frozen=True):
    name: str
    type: ScalarType
    nullable: bool = True
    mod: TypeMod | None = None  # what the declared type adds (varchar(3), numeric(10,2)); None: nothing

    @property
    def pg_oid(self) -> int:
        return self.mod.pg_oid if self.mod is not None else self.type.pg_oid

    @property
    def pg_typmod(self) -> int:
        """PostgreSQL's ``atttypmod`` (what RowDescription reports): -1 without a modifier."""
        return self.mod.pg_typmod if self.mod is not None else -1

    @property
    def pg_type_name(self) -> str:
        """The column's type as PostgreSQL's ``format_type`` spells it."""
        return self.mod.pg_name if self.mod is not None else self.type.pg_name


class RelationDesc(msgspec.Struct, frozen=True):
    """Names and types of a relation's columns, in order."""

    columns: tuple[Column, ...]

    @property
    def arity(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def types(self) -> tuple[ScalarType, ...]:
        return tuple(c.type for c in self.columns)

    def index_of(self, name: str) -> int | None:
        for i, column in enumerate(self.columns):
            if column.name == name:
                return i
        return None

    @classmethod
    def of(cls, *pairs: tuple[str, ScalarType]) -> "RelationDesc":
        return cls(tuple(Column(name, typ) for name, typ in pairs))
