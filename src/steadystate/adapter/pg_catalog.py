"""Rows of the ``pg_catalog`` builtins that PostgreSQL clients query: enough for psql's ``\\d`` family.

steadystate's own catalog speaks ids (``u7``, ``g1``); PostgreSQL's speaks oids.  The mapping is fixed and
derivable, so every relation agrees on it without storing anything:

* a user object ``u<n>`` has oid ``20000 + n``;
* a role ``g<n>`` has oid ``16384 + n``;
* schemas have PostgreSQL's oids where PostgreSQL has the schema (``pg_catalog`` 11, ``public`` 2200), fixed ones
  for Materialize's (``mz_catalog``, ``mz_internal``, ``information_schema``), and a stable hash otherwise.

``pg_class`` lists the user's tables (``r``), views (``v``), materialized views (``m``) and indexes (``i``) — not
the builtin relations, so psql's listings show what the user made.  ``pg_index`` ties an index to its relation,
``pg_roles`` names the roles.  Index reflection (SQLAlchemy's ``Inspector.get_indexes``) reads ``pg_index``'s
``indkey`` (the indexed relation's column numbers, 0 for an expression key), ``indclass`` (each key's operator
class: ``pg_opclass`` has one default class per scalar type, oid ``OPCLASS_OID_BASE + type oid``), ``indoption``
(no DESC/NULLS FIRST keys: zeros).  ``indkey``, ``indclass`` and ``indcollation`` are arrays where PostgreSQL has
int2vector/oidvector (queries unnest them); ``indoption``, which clients read rather than unnest, is int2vector's
text (``0 0``), which is what SQLAlchemy's dialect parses; ``pg_am`` has one access
method, ``btree`` (403), every index's ``relam``: an arrangement is ordered by its key as a btree is, and tools
treat ``btree`` as the default (no ``USING`` clause).

What SQLAlchemy's and pandas' reflection, psycopg's ``TypeInfo.fetch`` and psql's ``\\d NAME`` read besides:
``pg_type`` (one row per scalar type and per array type, PostgreSQL's oids and names),
``pg_attribute`` (the columns of every user relation, ``attnum`` from 1), ``pg_database`` (the databases objects
live in), ``pg_description`` (COMMENT ON: adapter/comments.py produces it), and relations that are empty because
what they describe does not exist here: ``pg_constraint`` (no keys or checks), ``pg_attrdef`` (a column's
DEFAULT is kept as a planned expression, not as text: ``atthasdef`` is false and a reflected table shows no
default), ``pg_inherits``, ``pg_sequence``, ``pg_collation``, ``pg_proc``, ``pg_extension``.
An index key that is an expression has its text in ``mz_index_columns.on_expression``; ``pg_get_indexdef(oid, n,
pretty)`` reads it (sql/pg_compat.py).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Callable

from steadystate.adapter import privileges
from steadystate.catalog.records import ItemRecord
from steadystate.catalog.state import DEFAULT_DATABASE, SYSTEM_SCHEMAS
from steadystate.expr import ir
from steadystate.expr.infer import scalar_type
from steadystate.repr import Row
from steadystate.repr.arrays import Array
from steadystate.repr.objects import ItemKind, id_number
from steadystate.repr.types import ARRAY_ELEMENT, ScalarType
from steadystate.sql import settings
from steadystate.sql.pg_compat import ALWAYS_EMPTY

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

_RELKIND = {ItemKind.TABLE: "r", ItemKind.VIEW: "v", ItemKind.MATERIALIZED_VIEW: "m", ItemKind.INDEX: "i"}
_SCHEMA_OIDS = {"pg_catalog": 11, "public": 2200, "information_schema": 13000, "mz_catalog": 16001,
                "mz_internal": 16002}


#: per scalar type: PostgreSQL's internal name, typbyval, typcategory
_TYPES: dict[ScalarType, tuple[str, bool, str]] = {
    ScalarType.INT2: ("int2", True, "N"),
    ScalarType.INT4: ("int4", True, "N"),
    ScalarType.INT8: ("int8", True, "N"),
    ScalarType.FLOAT4: ("float4", True, "N"),
    ScalarType.FLOAT8: ("float8", True, "N"),
    ScalarType.NUMERIC: ("numeric", False, "N"),
    ScalarType.TEXT: ("text", False, "S"),
    ScalarType.BOOL: ("bool", True, "B"),
    ScalarType.DATE: ("date", True, "D"),
    ScalarType.TIMESTAMP: ("timestamp", True, "D"),
    ScalarType.TIMESTAMPTZ: ("timestamptz", True, "D"),
    ScalarType.TIME: ("time", True, "D"),
    ScalarType.INTERVAL: ("interval", False, "T"),
    ScalarType.JSONB: ("jsonb", False, "U"),
    ScalarType.UUID: ("uuid", False, "U"),
    ScalarType.BYTEA: ("bytea", False, "U"),
    ScalarType.MZ_TIMESTAMP: ("mz_timestamp", True, "U"),  # Materialize's oid 16552 (clients look it up)
}
#: the declared types that are a scalar type plus a modifier (repr/typmod.py): oid, name, length
_MODIFIED_TYPES: tuple[tuple[int, str, int], ...] = ((1043, "varchar", -1), (1042, "bpchar", -1))
DATABASE_OID = 16384
BTREE_OID = 403  # PostgreSQL's btree access method
OPCLASS_OID_BASE = 1_000_000  # pg_opclass oids: this plus the type's oid


def database_oid(name: str) -> int:
    return DATABASE_OID if name == "materialize" else 200000 + zlib.crc32(name.encode()) % 1_000_000


def schema_id(coord: "Coordinator", database: str, name: str) -> str:
    """A schema's id in ``mz_schemas``: its record's id (CREATE SCHEMA), ``s<oid>`` for a system schema,
    ``u<oid>`` for ``public`` and schemas that exist only because objects live in them."""
    if name in SYSTEM_SCHEMAS:
        return f"s{schema_oid(name)}"
    record = coord.catalog.schema_record(database, name)
    return record.id if record is not None else f"u{schema_oid(name)}"


def object_oid(item_id: str) -> int:
    return 20000 + id_number(item_id)


def role_oid(role_id: str) -> int:
    return 16384 + id_number(role_id)


def schema_oid(name: str) -> int:
    return _SCHEMA_OIDS.get(name) or 100000 + zlib.crc32(name.encode()) % 1_000_000


def producers(coord: "Coordinator") -> dict[str, Callable[[], list[Row]]]:
    """``name -> rows`` for the ``pg_catalog`` builtins (see ``catalog/builtins.py`` for their columns)."""

    def roles_by_name() -> dict[str, int]:
        return {r.name: role_oid(r.id) for r in coord.catalog.roles.values()}

    def namespaces() -> list[Row]:
        names = set(_SCHEMA_OIDS) | coord.catalog.schema_names(DEFAULT_DATABASE)
        owner = roles_by_name().get("materialize")
        return [(schema_oid(name), name, owner) for name in sorted(names)]

    def classes() -> list[Row]:
        owners = roles_by_name()
        items = coord.catalog.items.values()
        indexed = {item.on_id for item in items if item.kind == ItemKind.INDEX}
        return [
            (object_oid(item.id), item.name, schema_oid(item.schema), _RELKIND[item.kind], owners.get(item.owner, 0),
             BTREE_OID if item.kind == ItemKind.INDEX else 0, item.id in indexed, "p", False, 0, len(item.desc.columns) if item.desc else len(item.key_names), 0,
             False, False, False, False, 0, None, None, 0, "d", -1.0,
             None if item.kind == ItemKind.INDEX else privileges.relacl(coord.catalog, privileges.item_obj(item)))
            for item in items if item.kind in _RELKIND
        ]

    def index_keys(index: ItemRecord) -> tuple[Array, Array]:
        """indkey (the column number of each key, 0 for an expression) and indclass (its type's opclass)."""
        on = coord.catalog.items.get(index.on_id or "")
        types = on.desc.types if on is not None and on.desc is not None else None
        numbers, classes = [], []
        for key in index.key:
            numbers.append(key.index + 1 if isinstance(key, ir.ColumnRef) else 0)
            typ = scalar_type(key, types)
            classes.append(OPCLASS_OID_BASE + typ.pg_oid if typ in _TYPES else 0)
        return Array(numbers), Array(classes)

    def indexes() -> list[Row]:
        rows: list[Row] = []
        for item in coord.catalog.items.values():
            if item.kind == ItemKind.INDEX and item.on_id:
                indkey, indclass = index_keys(item)
                n = len(item.key_names)
                rows.append((object_oid(item.id), object_oid(item.on_id), False, False, True, True, True, False,
                             n, n, False, None, None, False, indkey, indclass, " ".join(["0"] * n), Array([0] * n)))
        return rows

    def opclasses() -> list[Row]:
        catalog, owner = schema_oid("pg_catalog"), roles_by_name().get("materialize", 0)
        return [(OPCLASS_OID_BASE + typ.pg_oid, BTREE_OID, f"{name}_ops", catalog, owner, OPCLASS_OID_BASE + typ.pg_oid,
                 typ.pg_oid, True, 0) for typ, (name, _byval, _category) in _TYPES.items()]

    def roles() -> list[Row]:
        return [(role_oid(r.id), r.name, r.superuser, True, r.superuser, r.superuser, True, False, -1, None,
                 r.superuser) for r in coord.catalog.roles.values()]

    def types() -> list[Row]:
        catalog = schema_oid("pg_catalog")
        rows: list[Row] = [
            (typ.pg_oid, name, catalog, 0, typ.pg_typlen, byval, "b", category, ",", 0, 0,
             typ.array.pg_oid if typ.array is not None else 0, 0, -1, False, 0, None)
            for typ, (name, byval, category) in _TYPES.items()
        ]
        rows += [(array.pg_oid, array.value, catalog, 0, -1, False, "b", "A", ",", 0, element.pg_oid, 0, 0, -1,
                  False, 0, None) for array, element in ARRAY_ELEMENT.items()]  # arrays: typelem, category A
        rows += [(oid, name, catalog, 0, length, False, "b", "S", ",", 0, 0, 0, 0, -1, False, 0, None)
                 for oid, name, length in _MODIFIED_TYPES]
        return rows

    def attributes() -> list[Row]:
        out: list[Row] = []
        for item in coord.catalog.items.values():
            if item.kind not in _RELKIND or item.desc is None or item.kind == ItemKind.INDEX:
                continue
            for number, column in enumerate(item.desc.columns, start=1):
                out.append((object_oid(item.id), column.name, column.pg_oid, number, not column.nullable,
                            False, False, column.pg_typmod, column.type.pg_typlen, "", "", 0))
        return out

    def owner_id() -> str | None:
        role = coord.catalog.role_by_name("materialize")
        return role.id if role is not None else None

    def mz_databases() -> list[Row]:
        return [(f"u{database_oid(name)}", database_oid(name), name, owner_id(),
                 privileges.acl_items(coord.catalog, privileges.database_obj(name, coord.catalog)))
                for name in sorted(coord.catalog.databases())]

    def schema_acl(database: str, name: str) -> Array:
        return privileges.acl_items(coord.catalog, privileges.schema_obj(coord.catalog, database, name))

    def mz_schemas() -> list[Row]:
        """The system schemas (no database, ids ``s<oid>``) and each database's user schemas (ids ``u<oid>``)."""
        rows: list[Row] = [(schema_id(coord, DEFAULT_DATABASE, name), schema_oid(name), None, name, owner_id(),
                            schema_acl(DEFAULT_DATABASE, name)) for name in sorted(SYSTEM_SCHEMAS)]
        for database in sorted(coord.catalog.databases()):
            names = coord.catalog.schema_names(database)
            rows += [(schema_id(coord, database, name), schema_oid(name), f"u{database_oid(database)}", name,
                      owner_id(), schema_acl(database, name)) for name in sorted(names - SYSTEM_SCHEMAS)]
        return rows

    def databases() -> list[Row]:
        owner = roles_by_name().get("materialize", 0)
        names = {"materialize"} | {item.database for item in coord.catalog.items.values()}
        return [(database_oid(name), name, owner, 6, "C", "C", False, True, -1, None, "c", None)
                for name in sorted(names)]

    empty: dict[str, Callable[[], list[Row]]] = {name: list for name in ALWAYS_EMPTY}
    return empty | {
        "pg_namespace": namespaces,
        "pg_class": classes,
        "pg_index": indexes,
        "pg_opclass": opclasses,
        "pg_settings": lambda: settings.rows(settings.DEFAULT_VARIABLES.items()),  # a session's: sql/joins.py
        "pg_am": lambda: [(BTREE_OID, "btree")],
        "pg_roles": roles,
        "mz_databases": mz_databases,
        "mz_schemas": mz_schemas,
        "pg_type": types,
        "pg_attribute": attributes,
        "pg_database": databases,
    }


__all__ = ["schema_id", "database_oid", "object_oid", "producers", "role_oid", "schema_oid"]
