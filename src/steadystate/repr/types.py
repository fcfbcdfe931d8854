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
from typing import Any

import msgspec

from steadystate.repr.interval import Interval
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
    ScalarType.MZ_TIMESTAMP: (int,),
}


def datum_matches(value: Any, typ: ScalarType) -> bool:
    """Whether ``value`` is a valid datum of ``typ`` (NULL is valid for every type)."""
    if value is None:
        return True
    if isinstance(value, bool) and typ is not ScalarType.BOOL:
        return False
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
