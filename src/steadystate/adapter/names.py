"""Name resolution for the planner: the real catalog behind ``sql.catalog_api.PlanCatalog``.

:class:`SessionCatalog` binds the coordinator's :class:`~steadystate.catalog.state.CatalogState` to one
session's defaults (database, schema) and answers the planner's questions with PostgreSQL's errors:
``relation "x" does not exist`` (42P01), ``unknown cluster "x"`` (42704).
"""

from __future__ import annotations

from steadystate.catalog.builtins import BuiltinRelation
from steadystate.catalog.records import ItemRecord
from steadystate.catalog.state import CatalogState
from steadystate.errors import UndefinedObject, UndefinedTable, quote_ident
from steadystate.sql.catalog_api import QualifiedName, ResolvedItem


def resolved(item: ItemRecord | BuiltinRelation) -> ResolvedItem:
    if isinstance(item, BuiltinRelation):
        return ResolvedItem(item.id, QualifiedName(item.database, item.schema, item.name), "builtin", item.desc)
    return ResolvedItem(
        item.id,
        QualifiedName(item.database, item.schema, item.name),
        item.kind,
        item.desc,
        cluster_id=item.cluster_id,
        on_id=item.on_id,
    )


class SessionCatalog:
    def __init__(self, state: CatalogState, database: str, schema: str) -> None:
        self.state = state
        self.database = database
        self.schema = schema

    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        found = self.state.resolve_parts(tuple(parts), self.database, self.schema)
        if found is None:
            raise UndefinedTable(f"relation {quote_ident('.'.join(parts))} does not exist")
        return resolved(found)

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        cluster = self.state.cluster_by_name(name)
        if cluster is None:
            raise UndefinedObject(
                f"unknown cluster {quote_ident(name)}", hint="SHOW CLUSTERS lists the clusters that exist"
            )
        return cluster.id, cluster.name

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        if len(parts) == 3:
            return QualifiedName(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            return QualifiedName(self.database, parts[0], parts[1])
        return QualifiedName(self.database, self.schema, parts[0])
