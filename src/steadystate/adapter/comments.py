"""``COMMENT ON``: resolving what is commented, storing the comment, and the relations that show comments.

A comment is a durable :class:`~steadystate.catalog.records.CommentRecord` keyed by the object's id and, for a
column, the column's number, so it follows the object through ``ALTER ... RENAME`` and ``SWAP`` (as
Materialize's do).  ``IS NULL`` deletes it.  Two relations read the records:

* ``mz_internal.mz_comments`` (``id``, ``object_type``, ``object_sub_id``, ``comment``), Materialize's: what
  dbt-materialize's ``docs generate`` and its CI tags read;
* ``pg_catalog.pg_description`` (``objoid``, ``classoid``, ``objsubid``, ``description``), PostgreSQL's: what
  psql's ``\\d+`` and ``\\dn+`` and SQLAlchemy's ``get_table_comment`` read, with the fixed oid mapping of
  adapter/pg_catalog.py (``classoid`` is ``pg_class`` 1259, ``pg_namespace`` 2615 or ``pg_database`` 1262).

Both show only comments whose object still exists: a dropped object's comment is deleted with it by the drop
(``Comments.deletes_for``), and ids are never reused, so nothing stale can reappear.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from steadystate.catalog.records import CommentRecord, ItemRecord
from steadystate.catalog.state import SYSTEM_SCHEMAS
from steadystate.errors import SteadyError, UndefinedObject, UndefinedTable, WrongObjectType, quote_ident
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind
from steadystate.sql import plan as p
from steadystate.sql.statements import ObjectClass
from steadystate.adapter.authorization import check_owner
from steadystate.adapter.pg_catalog import database_oid, object_oid, schema_id, schema_oid
from steadystate.adapter.privileges import Obj, cluster_obj, database_obj, item_obj, schema_obj

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

#: the object class of each item kind (COMMENT ON <class> must name an item of that kind)
CLASS_OF_KIND: dict[ItemKind, ObjectClass] = {
    ItemKind.TABLE: ObjectClass.TABLE, ItemKind.VIEW: ObjectClass.VIEW,
    ItemKind.MATERIALIZED_VIEW: ObjectClass.MATERIALIZED_VIEW, ItemKind.INDEX: ObjectClass.INDEX,
}
#: PostgreSQL's catalog oid (pg_description.classoid) of what each class of comment is on
_CLASSOID = {ObjectClass.SCHEMA: 2615, ObjectClass.DATABASE: 1262}
_PG_CLASS = 1259


def resolve_item(coord: "Coordinator", target: ObjectClass, parts: tuple[str, ...], database: str,
                 schema: str) -> ItemRecord:
    """The user item ``parts`` names, which must be of ``target``'s class (42P01 / 42809 otherwise)."""
    found = coord.catalog.resolve_parts(parts, database, schema)
    if found is None:
        raise UndefinedTable(f"unknown catalog item {quote_ident('.'.join(parts))}")
    if not isinstance(found, ItemRecord):
        raise SteadyError(f"cannot alter system relation {quote_ident(found.qualified)}", sqlstate="42501")
    if target is not ObjectClass.COLUMN and CLASS_OF_KIND.get(found.kind) is not target:
        raise WrongObjectType(f"{quote_ident(found.qualified)} is a {found.kind.value.replace('_', ' ')}, not a "
                              f"{target.value.replace('-', ' ')}")
    return found


def schema_parts(parts: tuple[str, ...], database: str) -> tuple[str, str]:
    if len(parts) > 2:
        raise SteadyError(f"improper schema name (too many dotted names): {'.'.join(parts)}", sqlstate="42601")
    return (parts[0], parts[1]) if len(parts) == 2 else (database, parts[0])


class Comments:
    def __init__(self, coord: "Coordinator") -> None:
        self.coord = coord

    def target(self, plan: p.CommentPlan) -> tuple[str, str, int | None]:
        """(object id, mz_comments.object_type, column number or None) of what the comment is on."""
        catalog = self.coord.catalog
        match plan.target:
            case ObjectClass.COLUMN:
                item = resolve_item(self.coord, plan.target, plan.name[:-1], plan.database, plan.schema)
                column = plan.name[-1]
                names = [c.name for c in item.desc.columns] if item.desc is not None else []
                if item.kind is ItemKind.INDEX or column not in names:
                    raise SteadyError(f"column {quote_ident(column)} of relation {quote_ident(item.qualified)} "
                                      f"does not exist", sqlstate="42703")
                return item.id, CLASS_OF_KIND[item.kind].value, names.index(column) + 1
            case ObjectClass.SCHEMA:
                database, name = schema_parts(plan.name, plan.database)
                if not catalog.schema_exists(database, name):
                    raise SteadyError(f"unknown schema {quote_ident(name)}", sqlstate="3F000")
                return schema_id(self.coord, database, name), plan.target.value, None
            case ObjectClass.CLUSTER:
                cluster = catalog.cluster_by_name(plan.name[0])
                if cluster is None:
                    raise UndefinedObject(f"unknown cluster {quote_ident(plan.name[0])}")
                return cluster.id, plan.target.value, None
            case ObjectClass.DATABASE:
                if plan.name[0] not in catalog.databases():
                    raise SteadyError(f"unknown database {quote_ident(plan.name[0])}", sqlstate="3D000")
                return f"u{database_oid(plan.name[0])}", plan.target.value, None
            case _:
                item = resolve_item(self.coord, plan.target, plan.name, plan.database, plan.schema)
                return item.id, plan.target.value, None

    async def comment(self, plan: p.CommentPlan, user: str, notices: list[str]) -> str:
        object_id, object_type, sub_id = self.target(plan)
        check_owner(self.coord.catalog, user, self._object(plan, object_id))  # COMMENT ON needs ownership
        key = f"{object_id}/{'' if sub_id is None else sub_id}"
        catalog = self.coord.catalog
        record = None if plan.comment is None else CommentRecord(
            id=key, object_id=object_id, object_type=object_type, sub_id=sub_id, comment=plan.comment)
        with catalog.durable.transact(user) as txn:
            if record is None:
                txn.delete("comment", key)
            else:
                txn.put(record)
        if record is None:
            catalog.apply_deletes([("comment", key)])
        else:
            catalog.apply_puts([record])
        return "COMMENT"

    def _object(self, plan: p.CommentPlan, object_id: str) -> Obj:
        catalog = self.coord.catalog
        match plan.target:
            case ObjectClass.SCHEMA:
                return schema_obj(catalog, *schema_parts(plan.name, plan.database))
            case ObjectClass.CLUSTER:
                return cluster_obj(catalog.clusters[object_id])
            case ObjectClass.DATABASE:
                return database_obj(plan.name[0], catalog)
            case _:
                return item_obj(catalog.items[object_id])

    def deletes_for(self, object_ids: set[str]) -> list[tuple[str, str]]:
        """The comment records to delete with these objects (a drop deletes its objects' comments)."""
        return [("comment", c.id) for c in self.coord.catalog.comments.values() if c.object_id in object_ids]

    # ------------------------------------------------------------------ the relations

    def _live(self) -> list[CommentRecord]:
        """Comments whose object exists (schemas and databases are looked up by their current ids)."""
        catalog = self.coord.catalog
        live_ids = set(catalog.items) | set(catalog.clusters)
        for database in catalog.databases():
            live_ids.add(f"u{database_oid(database)}")
            live_ids |= {schema_id(self.coord, database, name) for name in catalog.schema_names(database)}
        return sorted((c for c in catalog.comments.values() if c.object_id in live_ids),
                      key=lambda c: (c.object_id, c.sub_id or 0))

    def mz_comments(self) -> list[Row]:
        return [(c.object_id, c.object_type, c.sub_id, c.comment) for c in self._live()]

    def pg_description(self) -> list[Row]:
        catalog = self.coord.catalog
        schema_oids = {schema_id(self.coord, database, name): schema_oid(name)
                       for database in catalog.databases()
                       for name in catalog.schema_names(database) | SYSTEM_SCHEMAS}
        rows: list[Row] = []
        for c in self._live():
            if c.object_id in catalog.items:
                rows.append((object_oid(c.object_id), _PG_CLASS, c.sub_id or 0, c.comment))
            elif c.object_type == ObjectClass.SCHEMA.value and c.object_id in schema_oids:
                rows.append((schema_oids[c.object_id], _CLASSOID[ObjectClass.SCHEMA], 0, c.comment))
            elif c.object_type == ObjectClass.DATABASE.value:
                rows.append((int(c.object_id[1:]), _CLASSOID[ObjectClass.DATABASE], 0, c.comment))
        return rows  # clusters have no PostgreSQL catalog: their comments are in mz_comments only

    def producers(self) -> dict[str, Callable[[], list[Row]]]:
        return {"mz_comments": self.mz_comments, "pg_description": self.pg_description}


__all__ = ["CLASS_OF_KIND", "Comments", "resolve_item", "schema_parts"]
