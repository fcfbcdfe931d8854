"""Rows of the SQL standard's ``information_schema`` views that ORMs and migration tools read: ``schemata``,
``tables``, ``columns``, ``views``, and ``table_constraints``/``key_column_usage`` (empty: no constraints exist).

``tables`` and ``columns`` list the user's relations and the builtin relations (computed on demand, reported as
views), as PostgreSQL lists its own catalogs there too.  ``data_type`` is the type's name without modifiers, the
modifiers in ``character_maximum_length``, ``numeric_precision``, ``numeric_scale`` and ``datetime_precision``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from steadystate.catalog.state import SYSTEM_SCHEMAS
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind
from steadystate.repr.typmod import ModKind
from steadystate.repr.types import Column, RelationDesc

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

_TABLE_TYPES = {ItemKind.TABLE: "BASE TABLE", ItemKind.VIEW: "VIEW", ItemKind.MATERIALIZED_VIEW: "MATERIALIZED VIEW",
                ItemKind.BUILTIN: "VIEW"}
_BASE_NAMES = {ModKind.VARCHAR: "character varying", ModKind.BPCHAR: "character"}


def _type_facts(column: Column) -> tuple[str, int | None, int | None, int | None, int | None]:
    """data_type, character_maximum_length, numeric_precision, numeric_scale, datetime_precision."""
    mod = column.mod
    if mod is None:
        return column.type.pg_name, None, None, None, None
    if mod.kind in _BASE_NAMES:
        return _BASE_NAMES[mod.kind], mod.length, None, None, None
    if mod.kind is ModKind.NUMERIC:
        return "numeric", None, mod.length, mod.scale if mod.length is not None else None, None
    return column.type.pg_name, None, None, None, mod.length


def producers(coord: "Coordinator") -> dict[str, Callable[[], list[Row]]]:
    def relations() -> Iterator[tuple[str, str, str, ItemKind, RelationDesc | None, str]]:
        for item in coord.catalog.items.values():
            if item.kind in _TABLE_TYPES:
                yield item.database, item.schema, item.name, item.kind, item.desc, item.sql
        for builtin in coord.catalog.builtins.values():
            yield builtin.database, builtin.schema, builtin.name, ItemKind.BUILTIN, builtin.desc, ""

    def schemata() -> list[Row]:
        rows: list[Row] = []
        for database in sorted(coord.catalog.databases()):
            for name in sorted(coord.catalog.schema_names(database) | SYSTEM_SCHEMAS):
                rows.append((database, name, "materialize"))
        return rows

    def tables() -> list[Row]:
        return [(db, schema, name, _TABLE_TYPES[kind]) for db, schema, name, kind, _desc, _sql in relations()]

    def columns() -> list[Row]:
        rows: list[Row] = []
        for db, schema, name, _kind, desc, _sql in relations():
            for position, column in enumerate(desc.columns if desc is not None else (), start=1):
                rows.append((db, schema, name, column.name, position, None, "YES" if column.nullable else "NO",
                             *_type_facts(column)))
        return rows

    def views() -> list[Row]:
        return [(db, schema, name, sql) for db, schema, name, kind, _desc, sql in relations()
                if kind in (ItemKind.VIEW, ItemKind.MATERIALIZED_VIEW)]

    return {
        "schemata": schemata,
        "tables": tables,
        "columns": columns,
        "views": views,
        "table_constraints": list,
        "key_column_usage": list,
    }


__all__ = ["producers"]
