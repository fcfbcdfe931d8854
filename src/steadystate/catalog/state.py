"""The in-memory catalog: the coordinator's view of every record, kept in step with the durable catalog.

:class:`CatalogState` is loaded from the durable catalog (``catalog.durable.CatalogStore``) at startup and
updated by :meth:`CatalogState.apply` only after the durable transaction committed, so memory never runs
ahead of disk.  It answers the questions sequencing asks: names to ids (with the search path
``public, mz_catalog, mz_internal, pg_catalog``), the dependents of an object (for ``DROP ... CASCADE`` and
2BP01), the indexes on a relation per cluster, and the objects and replicas of each cluster.

On first start it bootstraps the environment: the superuser role ``materialize`` and the default cluster
``quickstart`` with one replica ``r1`` of size ``small``.
"""

from __future__ import annotations

import time
from typing import Iterable

import msgspec

from steadystate.catalog.builtins import BUILTINS, BuiltinRelation
from steadystate.catalog.durable import CatalogStore
from steadystate.catalog.records import (
    ClusterRecord,
    GrantRecord,
    ItemRecord,
    ReconfigurationRecord,
    ReplicaRecord,
    RoleRecord,
    SchemaRecord,
    CommentRecord,
    DatabaseRecord,
    SystemSettingRecord,
    DefaultPrivilegeRecord,
)
from steadystate.repr.objects import IdKind, ItemKind, make_id

SEARCH_PATH = ("public", "mz_catalog", "mz_internal", "pg_catalog")
DEFAULT_DATABASE = "materialize"
SYSTEM_SCHEMAS = frozenset({"mz_catalog", "mz_internal", "pg_catalog", "information_schema"})
DEFAULT_CLUSTER = "quickstart"
DEFAULT_REPLICA_SIZE = "small"


class CatalogState:
    def __init__(self, durable: CatalogStore) -> None:
        self.durable = durable
        self.clusters: dict[str, ClusterRecord] = {}
        self.replicas: dict[str, ReplicaRecord] = {}
        self.roles: dict[str, RoleRecord] = {}
        self.items: dict[str, ItemRecord] = {}
        self.reconfigurations: dict[str, ReconfigurationRecord] = {}  # cluster id -> pending reconfiguration
        self.schemas: dict[str, SchemaRecord] = {}
        self.comments: dict[str, CommentRecord] = {}  # COMMENT ON, keyed by CommentRecord.id
        self.database_records: dict[str, DatabaseRecord] = {}  # CREATE DATABASE
        self.grants: dict[str, GrantRecord] = {}  # GRANT/REVOKE on objects (adapter/privileges.py)
        self.system_settings: dict[str, SystemSettingRecord] = {}  # ALTER SYSTEM SET (adapter/limits.py)
        self.default_privileges: dict[str, DefaultPrivilegeRecord] = {}  # adapter/default_privileges.py
        self.builtins: dict[str, BuiltinRelation] = {b.id: b for b in BUILTINS}
        self._builtin_names = {(b.schema, b.name): b for b in BUILTINS}
        loaded = durable.load()
        self.apply_puts(record for records in loaded.values() for record in records)
        if durable.get_meta("bootstrapped") is None:
            self._bootstrap()

    def _bootstrap(self) -> None:
        with self.durable.transact("materialize") as txn:
            role = RoleRecord(id=make_id(IdKind.ROLE, txn.next_id("role")), name="materialize", superuser=True)
            cluster = ClusterRecord(id=make_id(IdKind.CLUSTER, txn.next_id("cluster")), name=DEFAULT_CLUSTER,
                                    managed=True, size=DEFAULT_REPLICA_SIZE, replication_factor=1, owner=role.name)
            replica = ReplicaRecord(id=make_id(IdKind.REPLICA, txn.next_id("replica")), name="r1",
                                    cluster_id=cluster.id, size=DEFAULT_REPLICA_SIZE, owner=role.name)
            for record in (role, cluster, replica):
                txn.put(record)
            txn.set_meta("bootstrapped", str(int(time.time() * 1000)))
        self.apply_puts([role, cluster, replica])

    # ---------------------------------------------------------------- updates (after the durable commit)

    def apply_puts(self, records: Iterable[msgspec.Struct]) -> None:
        for record in records:
            if isinstance(record, ClusterRecord):
                self.clusters[record.id] = record
            elif isinstance(record, ReplicaRecord):
                self.replicas[record.id] = record
            elif isinstance(record, RoleRecord):
                self.roles[record.id] = record
            elif isinstance(record, ItemRecord):
                self.items[record.id] = record
            elif isinstance(record, ReconfigurationRecord):
                self.reconfigurations[record.id] = record
            elif isinstance(record, SchemaRecord):
                self.schemas[record.id] = record
            elif isinstance(record, CommentRecord):
                self.comments[record.id] = record
            elif isinstance(record, DatabaseRecord):
                self.database_records[record.id] = record
            elif isinstance(record, GrantRecord):
                self.grants[record.id] = record
            elif isinstance(record, SystemSettingRecord):
                self.system_settings[record.id] = record
            elif isinstance(record, DefaultPrivilegeRecord):
                self.default_privileges[record.id] = record
            else:  # pragma: no cover - programming error
                raise TypeError(record)

    def apply_deletes(self, deletes: Iterable[tuple[str, str]]) -> None:
        tables: dict[str, dict] = {"cluster": self.clusters, "replica": self.replicas, "role": self.roles,
                                   "item": self.items, "reconfiguration": self.reconfigurations,
                                   "schema": self.schemas, "comment": self.comments,
                                   "database": self.database_records, "grant": self.grants,
                                   "system_setting": self.system_settings,
                                   "default_privilege": self.default_privileges}
        for kind, record_id in deletes:
            tables[kind].pop(record_id, None)

    # ---------------------------------------------------------------- lookups

    def find_item(self, database: str, schema: str, name: str) -> ItemRecord | BuiltinRelation | None:
        for item in self.items.values():
            if item.name == name and item.schema == schema and item.database == database:
                return item
        return self._builtin_names.get((schema, name))

    def resolve_parts(
        self, parts: tuple[str, ...], database: str, schema: str
    ) -> ItemRecord | BuiltinRelation | None:
        if len(parts) == 3:
            return self.find_item(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            return self.find_item(database, parts[0], parts[1])
        for candidate in (schema,) + tuple(s for s in SEARCH_PATH if s != schema):
            found = self.find_item(database, candidate, parts[0])
            if found is not None:
                return found
        return None

    def schema_record(self, database: str, name: str) -> SchemaRecord | None:
        return next((s for s in self.schemas.values() if s.database == database and s.name == name), None)

    def schema_names(self, database: str) -> set[str]:
        """The user schemas of a database: ``public``, those made by CREATE SCHEMA, and any an object lives in
        (objects of catalogs written before schemas were records)."""
        return ({"public"} | {s.name for s in self.schemas.values() if s.database == database}
                | {i.schema for i in self.items.values() if i.database == database})

    def schema_exists(self, database: str, name: str) -> bool:
        return name in SYSTEM_SCHEMAS or name in self.schema_names(database)

    def databases(self) -> set[str]:
        """The databases that exist: ``materialize``, those made by CREATE DATABASE, and any that objects or
        schemas live in."""
        return ({DEFAULT_DATABASE} | {d.name for d in self.database_records.values()}
                | {item.database for item in self.items.values()} | {s.database for s in self.schemas.values()})

    def cluster_by_name(self, name: str) -> ClusterRecord | None:
        for cluster in self.clusters.values():
            if cluster.name == name:
                return cluster
        return None

    def role_by_name(self, name: str) -> RoleRecord | None:
        for role in self.roles.values():
            if role.name == name:
                return role
        return None

    def replicas_of(self, cluster_id: str) -> list[ReplicaRecord]:
        return sorted(
            (r for r in self.replicas.values() if r.cluster_id == cluster_id), key=lambda r: (r.name, r.id)
        )

    def replica_by_name(self, cluster_id: str, name: str) -> ReplicaRecord | None:
        for replica in self.replicas.values():
            if replica.cluster_id == cluster_id and replica.name == name:
                return replica
        return None

    def objects_on_cluster(self, cluster_id: str) -> list[ItemRecord]:
        return [item for item in self.items.values() if item.cluster_id == cluster_id]

    def indexes_on(self, relation_id: str, cluster_id: str | None = None) -> list[ItemRecord]:
        return [
            item
            for item in self.items.values()
            if item.kind == ItemKind.INDEX
            and item.on_id == relation_id
            and (cluster_id is None or item.cluster_id == cluster_id)
        ]

    def dependents(self, item_id: str) -> list[ItemRecord]:
        """Direct dependents: objects that read ``item_id`` and indexes on it."""
        return [
            item
            for item in self.items.values()
            if item_id in item.depends_on or (item.kind == ItemKind.INDEX and item.on_id == item_id)
        ]

    def transitive_dependents(self, item_ids: Iterable[str]) -> list[ItemRecord]:
        """All objects that depend on any of ``item_ids``, dependents after what they depend on."""
        seen: dict[str, ItemRecord] = {}
        stack = list(item_ids)
        while stack:
            current = stack.pop()
            for dependent in self.dependents(current):
                if dependent.id not in seen:
                    seen[dependent.id] = dependent
                    stack.append(dependent.id)
        return list(seen.values())

    def describe(self, item_id: str) -> str:
        item = self.items.get(item_id)
        if item is None:
            builtin = self.builtins.get(item_id)
            return f"{builtin.schema}.{builtin.name}" if builtin else item_id
        return item.qualified
