"""Sequencing DDL: every statement that changes the catalog, clusters or replicas.

Each statement runs under the coordinator's DDL lock and follows the same pattern: validate against the
in-memory catalog (PostgreSQL's errors: 42P07 duplicate, 2BP01 dependents without CASCADE, 42704 unknown),
commit the records and an audit event in ONE durable catalog transaction, apply them to memory, and only
then act on the world (create shards, start replica processes, send ``CreateDataflow`` / drop commands).
A failure before the commit changes nothing.
"""

from __future__ import annotations

import time
from collections import Counter

import msgspec
from typing import TYPE_CHECKING, Callable, TypeVar

from steadystate.adapter.introspection import audit_details
from steadystate.adapter.limits import check_new_cluster, check_replicas
from steadystate.adapter.policy import Statement
from steadystate.adapter.default_privileges import grants_for
from steadystate.adapter.privileges import item_obj, owns
from steadystate.catalog.records import KIND_NAMES, ClusterRecord, ItemRecord, ReplicaRecord, SchemaRecord
from steadystate.catalog.state import SYSTEM_SCHEMAS
from steadystate.errors import (
    DependentObjectsStillExist,
    FeatureNotSupported,
    InsufficientPrivilege,
    DuplicateObject,
    DuplicateTable,
    InvalidCatalogName,
    InvalidParameterValue,
    SteadyError,
    ObjectNotInPrerequisiteState,
    UndefinedObject,
    quote_ident,
)
from steadystate.expr.ir import depends_on, encode_plan
from steadystate.orchestrator import REPLICA_SIZES
from steadystate.protocol.messages import errors_shard_of
from steadystate.sql import plan as p
from steadystate.repr.objects import IdKind, ItemKind, id_number, make_id

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.catalog.state import CatalogState


T = TypeVar("T")


def _now_ms() -> int:
    return int(time.time() * 1000)


def check_size(size: str | None) -> str:
    size = size or "small"
    if size not in REPLICA_SIZES:
        raise InvalidParameterValue(
            f"unknown cluster replica size {quote_ident(size)}",
            hint="available sizes: " + ", ".join(f"'{s}'" for s in REPLICA_SIZES),
        )
    return size


def cluster_shape(cluster: ClusterRecord, options: dict[str, object]) -> tuple[str, int]:
    """The size and replication factor ``ALTER CLUSTER c SET (...)`` asks for (a managed cluster's)."""
    if not cluster.managed:
        raise ObjectNotInPrerequisiteState(
            f"cannot alter unmanaged cluster {quote_ident(cluster.name)}",
            hint="use CREATE/DROP CLUSTER REPLICA to change the replicas of an unmanaged cluster",
        )
    options = {k.lower().replace(" ", "_"): v for k, v in options.items()}
    unknown = set(options) - {"size", "replication_factor"}
    if unknown:
        raise FeatureNotSupported(f"ALTER CLUSTER ... SET ({sorted(unknown)[0].upper().replace('_', ' ')}) is not "
                                  f"supported", hint="the options are SIZE and REPLICATION FACTOR")
    size = check_size(str(options.get("size", cluster.size)))
    factor_value = options.get("replication_factor", cluster.replication_factor or 0)
    if not isinstance(factor_value, int) or isinstance(factor_value, bool) or factor_value < 0:
        raise InvalidParameterValue("REPLICATION FACTOR must be a non-negative integer")
    return size, factor_value


class Ddl:
    def __init__(self, coordinator: "Coordinator") -> None:
        self.coord = coordinator

    @property
    def catalog(self) -> CatalogState:
        return self.coord.catalog

    # ------------------------------------------------------------------ objects

    def _check_name_free(self, name: p.QualifiedName, if_not_exists: bool, notices: list[str]) -> bool:
        if name.database not in self.catalog.databases():
            raise InvalidCatalogName(f"unknown database {quote_ident(name.database)}")
        if not self.catalog.schema_exists(name.database, name.schema):
            raise SteadyError(f"unknown schema {quote_ident(name.schema)}", sqlstate="3F000",
                              hint="CREATE SCHEMA makes one")
        existing = self.catalog.find_item(name.database, name.schema, name.item)
        if existing is None:
            return True
        if if_not_exists:
            notices.append(f"relation {quote_ident(name.item)} already exists, skipping")
            return False
        raise DuplicateTable(f"relation {quote_ident(str(name))} already exists")

    def _create_item(
        self, user: str, make: Callable[[str], ItemRecord], prepare: Callable[[ItemRecord], T]
    ) -> tuple[ItemRecord, T]:
        """Allocate the item's id, build its record, ``prepare`` it (plan its dataflow, create its shards: anything
        that can fail) and commit it with its audit event, all in ONE catalog transaction: a statement whose
        preparation fails leaves no trace, not even a used id.  Nothing in it may await (the catalog's lock is a
        thread lock)."""
        with self.catalog.durable.transact(user) as txn:
            item = make(make_id(IdKind.USER, txn.next_id("item")))
            prepared = prepare(item)
            txn.put(item)
            txn.audit_event("create", KIND_NAMES[item.kind].replace(" ", "-"),
                            audit_details(id=item.id, name=item.qualified, cluster_id=item.cluster_id))
            defaults = grants_for(self.catalog, item, item_obj(item))  # ALTER DEFAULT PRIVILEGES
            for grant in defaults:
                txn.put(grant)
        self.catalog.apply_puts([item, *defaults])
        return item, prepared

    def _create_shards(self, *shards: str) -> None:
        """Create shards for an item being prepared; dropped again if anything after them fails."""
        created: list[str] = []
        try:
            for shard in shards:
                self.coord.store.create_shard(shard)
                created.append(shard)
        except BaseException:
            for shard in created:
                self.coord.store.drop_shard(shard)
            raise

    def _create_item_with_shards(
        self, user: str, make: Callable[[str], ItemRecord], shards: Callable[[ItemRecord], tuple[str, ...]],
        prepare: Callable[[ItemRecord], T],
    ) -> tuple[ItemRecord, T]:
        """:meth:`_create_item` for an item that owns shards: planned first, its shards created last, and
        dropped again if the catalog commit fails."""
        owned: list[str] = []

        def prepare_then_create(item: ItemRecord) -> T:
            prepared = prepare(item)
            self._create_shards(*shards(item))
            owned.extend(shards(item))
            return prepared

        try:
            return self._create_item(user, make, prepare_then_create)
        except BaseException:
            for shard in owned:
                self.coord.store.drop_shard(shard)
            raise

    async def create_table(self, plan: p.CreateTablePlan, user: str, notices: list[str]) -> str:
        if not self._check_name_free(plan.name, plan.if_not_exists, notices):
            return "CREATE TABLE"
        await self.coord.tables.advance_idle()
        item, _ = self._create_item_with_shards(
            user,
            lambda item_id: ItemRecord(id=item_id, database=plan.name.database, schema=plan.name.schema,
                                       name=plan.name.item, kind=ItemKind.TABLE, owner=user, desc=plan.desc,
                                       shard=item_id, created_at_ms=_now_ms(),
                                       defaults=plan.defaults, time_zone=plan.time_zone),
            lambda item: (item.id,),
            lambda item: None,
        )
        self.coord.tables.register(item.id)
        self.coord.table_rows[item.id] = Counter()
        return "CREATE TABLE"

    async def create_view(self, plan: p.CreateViewPlan, user: str, notices: list[str]) -> str:
        if not self._check_name_free(plan.name, plan.if_not_exists, notices):
            return "CREATE VIEW"
        self._create_item(
            user,
            lambda item_id: ItemRecord(id=item_id, database=plan.name.database, schema=plan.name.schema,
                                       name=plan.name.item, kind=ItemKind.VIEW, owner=user, desc=plan.desc,
                                       sql=plan.sql_text, plan=encode_plan(plan.expr),
                                       depends_on=tuple(sorted(depends_on(plan.expr))), created_at_ms=_now_ms(),
                                       time_zone=plan.time_zone),
            lambda item: None,
        )
        return "CREATE VIEW"

    async def create_materialized_view(
        self, plan: p.CreateMaterializedViewPlan, user: str, notices: list[str]
    ) -> str:
        if not self._check_name_free(plan.name, plan.if_not_exists, notices):
            return "CREATE MATERIALIZED VIEW"
        self.coord.policy_check(plan.cluster_id, Statement.CREATE_OBJECT, "CREATE MATERIALIZED VIEW")
        as_of = await self.coord.read_timestamp()
        item, desc = self._create_item_with_shards(
            user,
            lambda item_id: ItemRecord(id=item_id, database=plan.name.database, schema=plan.name.schema,
                                       name=plan.name.item, kind=ItemKind.MATERIALIZED_VIEW, owner=user, desc=plan.desc,
                                       sql=plan.sql_text, plan=encode_plan(plan.expr), shard=item_id,
                                       cluster_id=plan.cluster_id, depends_on=tuple(sorted(depends_on(plan.expr))),
                                       created_at_ms=_now_ms(), time_zone=plan.time_zone),
            lambda item: (item.id, errors_shard_of(item.id)),
            lambda item: self.coord.plan_dataflow(item, as_of),
        )
        self.coord.install_planned(item, desc)
        return "CREATE MATERIALIZED VIEW"

    async def create_index(self, plan: p.CreateIndexPlan, user: str, notices: list[str]) -> str:
        if plan.name is None:
            on_item = self.catalog.items.get(plan.on_id)
            all_columns = on_item.desc.names if on_item is not None and on_item.desc is not None else ()
            default = not plan.key_names or tuple(plan.key_names) == tuple(all_columns)
            suffix = "primary_idx" if default else "_".join(plan.key_names) + "_idx"
            base = f"{plan.on_name.item}_{suffix}"
            name = p.QualifiedName(plan.on_name.database, plan.on_name.schema, base)
            counter = 1
            while self.catalog.find_item(name.database, name.schema, name.item) is not None:
                counter += 1
                name = p.QualifiedName(plan.on_name.database, plan.on_name.schema, f"{base}{counter}")
        else:
            name = plan.name
        if not self._check_name_free(name, plan.if_not_exists, notices):
            return "CREATE INDEX"
        on = self.catalog.items.get(plan.on_id)
        if on is None or on.kind not in (ItemKind.TABLE, ItemKind.VIEW, ItemKind.MATERIALIZED_VIEW):
            raise ObjectNotInPrerequisiteState(
                f"cannot create index on {self.catalog.describe(plan.on_id)}",
                hint="indexes can be created on tables, views and materialized views",
            )
        self.coord.policy_check(plan.cluster_id, Statement.CREATE_OBJECT, "CREATE INDEX")
        as_of = await self.coord.read_timestamp()
        item, desc = self._create_item(
            user,
            lambda item_id: ItemRecord(id=item_id, database=name.database, schema=name.schema, name=name.item,
                                       kind=ItemKind.INDEX, owner=user, cluster_id=plan.cluster_id, on_id=plan.on_id,
                                       key=plan.key, key_names=plan.key_names, depends_on=(plan.on_id,),
                                       created_at_ms=_now_ms()),
            lambda item: self.coord.plan_dataflow(item, as_of),
        )
        self.coord.install_planned(item, desc)
        return "CREATE INDEX"

    async def drop_objects(self, plan: p.DropObjectsPlan, user: str, notices: list[str]) -> str:
        tag = f"DROP {plan.kind.replace('_', ' ').upper()}"
        for missing in plan.missing:
            notices.append(f"{plan.kind.replace('_', ' ')} {quote_ident(missing)} does not exist, skipping")
        targets = {item.id for item in plan.items}
        for item in plan.items:
            if item.kind == ItemKind.BUILTIN:
                raise DependentObjectsStillExist(f"cannot drop system relation {quote_ident(str(item.name))}",
                                                 sqlstate="42501")
        dependents = [d for d in self.catalog.transitive_dependents(targets) if d.id not in targets]
        # as in PostgreSQL, a relation's own indexes go with it; anything else that depends on it needs CASCADE
        blocking = [d for d in dependents if not (d.kind == ItemKind.INDEX and d.on_id in targets)]
        if blocking and not plan.cascade:
            first = plan.items[0]
            dependent = blocking[0]
            raise DependentObjectsStillExist(
                f"cannot drop {KIND_NAMES[first.kind]} {quote_ident(first.name.item)}: still depended upon by "
                f"{KIND_NAMES[dependent.kind]} {quote_ident(dependent.name)}",
                hint="Use DROP ... CASCADE to drop the dependent objects too.",
            )
        doomed = [self.catalog.items[i] for i in targets] + dependents
        statement = f"DROP {plan.kind.replace('_', ' ').upper()}{' CASCADE' if plan.cascade else ''}"
        await self.drop_items(doomed, user, notices, statement)
        return tag

    def _require_owner(self, owner: str, user: str, what: str, action: str = "drop") -> None:
        """Only the owner of an object or a superuser may drop or alter it (42501, PostgreSQL's message)."""
        if not owns(self.catalog, user, owner):  # the owner, a member of the owning role, or a superuser
            raise InsufficientPrivilege(f"must be owner of {what}",
                                        hint=f"it is owned by {quote_ident(owner)}; a superuser or the owner can "
                                             f"{action} it")

    async def drop_items(
        self, doomed: list[ItemRecord], user: str, notices: list[str], statement: str | None = None,
        also_delete: list[tuple[str, str]] | None = None,
    ) -> None:
        """Drop ``doomed`` (and the records ``also_delete`` names, e.g. their schema) in one catalog transaction,
        then tear down their dataflows and shards.  Their comments (COMMENT ON) go with them."""
        gone = {item.id for item in doomed} | {record_id for _, record_id in also_delete or []}
        also_delete = list(also_delete or []) + [
            ("comment", c.id) for c in self.catalog.comments.values() if c.object_id in gone]
        for item in doomed:
            self._require_owner(item.owner, user, f"{KIND_NAMES[item.kind]} {quote_ident(item.name)}")
        for item in doomed:
            if item.cluster_id is not None:
                what = f"DROP {KIND_NAMES[item.kind].upper()}"
                if statement is not None and not statement.startswith(what):
                    what = f"{statement} (it would drop {KIND_NAMES[item.kind]} {item.qualified})"
                self.coord.policy_check(item.cluster_id, Statement.DROP_OBJECT, what)
        # dependents before what they depend on
        ordered = sorted(doomed, key=lambda i: id_number(i.id), reverse=True)
        with self.catalog.durable.transact(user) as txn:
            for item in ordered:
                txn.delete("item", item.id)
                txn.audit_event("drop", KIND_NAMES[item.kind].replace(" ", "-"),
                                audit_details(id=item.id, name=item.qualified))
            for kind, record_id in also_delete or []:
                txn.delete(kind, record_id)
                txn.audit_event("drop", kind, audit_details(id=record_id))
        self.catalog.apply_deletes(("item", item.id) for item in ordered)
        self.catalog.apply_deletes(also_delete or [])
        for item in ordered:
            self.coord.forget_failure(item.id)
        for item in ordered:
            if item.kind == ItemKind.MATERIALIZED_VIEW and item.cluster_id in self.coord.instances:
                self.coord.instances[item.cluster_id].drop(
                    item.id, f"DROP MATERIALIZED VIEW {item.qualified} ({item.id})"
                )
        for item in ordered:
            if item.kind == ItemKind.INDEX and item.cluster_id in self.coord.instances:
                self.coord.drop_index_dataflow(item, notices)
            if item.kind == ItemKind.TABLE and item.shard is not None:
                self.coord.tables.unregister(item.shard)
                self.coord.table_rows.pop(item.id, None)
                self.coord.table_indexes.pop(item.id, None)
                self.coord.store.drop_shard(item.shard)
            if item.kind == ItemKind.MATERIALIZED_VIEW and item.shard is not None:
                self.coord.store.drop_shard(item.shard)
                self.coord.store.drop_shard(errors_shard_of(item.shard))

    # ------------------------------------------------------------------ clusters and replicas

    async def create_cluster(self, plan: p.CreateClusterPlan, user: str) -> str:
        if self.catalog.cluster_by_name(plan.name) is not None:
            raise DuplicateObject(f"cluster {quote_ident(plan.name)} already exists")
        if plan.managed:
            size = check_size(plan.size)
            factor = 1 if plan.replication_factor is None else plan.replication_factor
            if factor < 0:
                raise InvalidParameterValue("REPLICATION FACTOR must be a non-negative integer")
            replica_specs = [(f"r{n}", size) for n in range(1, factor + 1)]
        else:
            size, factor = None, None
            replica_specs = [(name, check_size(s)) for name, s in plan.replicas]
            if len({name for name, _ in replica_specs}) != len(replica_specs):
                raise DuplicateObject("cluster replica names must be unique within a cluster")
        check_new_cluster(self.catalog, len(replica_specs))  # 53000 past max_clusters / max_replicas*
        with self.catalog.durable.transact(user) as txn:
            cluster = ClusterRecord(id=make_id(IdKind.CLUSTER, txn.next_id("cluster")), name=plan.name,
                                    managed=plan.managed, size=size, replication_factor=factor, owner=user)
            replicas = [ReplicaRecord(id=make_id(IdKind.REPLICA, txn.next_id("replica")), name=name,
                                      cluster_id=cluster.id, size=s, owner=user)
                        for name, s in replica_specs]
            txn.put(cluster)
            txn.audit_event("create", "cluster", audit_details(id=cluster.id, name=cluster.name))
            for replica in replicas:
                txn.put(replica)
                txn.audit_event("create", "cluster-replica",
                                audit_details(id=replica.id, cluster=cluster.name, name=replica.name))
        self.catalog.apply_puts([cluster, *replicas])
        self.coord.instance(cluster.id)
        for replica in replicas:
            await self.coord.start_replica(replica)
        return "CREATE CLUSTER"

    async def create_replica(self, plan: p.CreateClusterReplicaPlan, user: str) -> str:
        cluster = self.catalog.clusters[plan.cluster_id]
        self._require_owner(cluster.owner, user, f"cluster {quote_ident(cluster.name)}", "alter")
        self.coord.policy_check(cluster.id, Statement.CREATE_REPLICA, "CREATE CLUSTER REPLICA")
        if cluster.managed:
            raise ObjectNotInPrerequisiteState(
                "cannot create more replicas in managed clusters",
                hint=f"Use ALTER CLUSTER {quote_ident(cluster.name)} SET (REPLICATION FACTOR = ...) instead",
            )
        if self.catalog.replica_by_name(cluster.id, plan.name) is not None:
            raise DuplicateObject(f"cluster replica {quote_ident(cluster.name + '.' + plan.name)} already exists")
        size = check_size(plan.size)
        check_replicas(self.catalog, cluster.id, len(self.catalog.replicas_of(cluster.id)) + 1)
        with self.catalog.durable.transact(user) as txn:
            replica = ReplicaRecord(id=make_id(IdKind.REPLICA, txn.next_id("replica")), name=plan.name,
                                    cluster_id=cluster.id, size=size, owner=user)
            txn.put(replica)
            txn.audit_event("create", "cluster-replica",
                            audit_details(id=replica.id, cluster=cluster.name, name=replica.name))
        self.catalog.apply_puts([replica])
        await self.coord.start_replica(replica)
        return "CREATE CLUSTER REPLICA"

    async def drop_replica(self, plan: p.DropClusterReplicaPlan, user: str, notices: list[str]) -> str:
        replica = None if plan.cluster_id is None else self.catalog.replica_by_name(plan.cluster_id, plan.name)
        if replica is None:
            full = f"{plan.cluster_name}.{plan.name}"
            if plan.if_exists:
                notices.append(f"cluster replica {quote_ident(full)} does not exist, skipping")
                return "DROP CLUSTER REPLICA"
            raise UndefinedObject(f"unknown cluster replica {quote_ident(full)}")
        cluster = self.catalog.clusters[replica.cluster_id]
        self._require_owner(cluster.owner, user, f"cluster {quote_ident(cluster.name)}")
        self.coord.policy_check(replica.cluster_id, Statement.DROP_REPLICA, "DROP CLUSTER REPLICA")
        await self._drop_replicas([replica], user)
        return "DROP CLUSTER REPLICA"

    async def _drop_replicas(self, replicas: list[ReplicaRecord], user: str) -> None:
        with self.catalog.durable.transact(user) as txn:
            for replica in replicas:
                txn.delete("replica", replica.id)
                txn.audit_event("drop", "cluster-replica", audit_details(id=replica.id, name=replica.name))
        self.catalog.apply_deletes(("replica", r.id) for r in replicas)
        for replica in replicas:
            await self.coord.stop_replica(replica)

    async def drop_cluster(self, plan: p.DropClusterPlan, user: str, notices: list[str]) -> str:
        if plan.cluster_id is None:
            notices.append(f"cluster {quote_ident(plan.name)} does not exist, skipping")
            return "DROP CLUSTER"
        cluster = self.catalog.clusters[plan.cluster_id]
        self._require_owner(cluster.owner, user, f"cluster {quote_ident(cluster.name)}")
        self.coord.policy_check(cluster.id, Statement.DROP_CLUSTER, "DROP CLUSTER")
        objects = self.catalog.objects_on_cluster(cluster.id)
        if objects and not plan.cascade:
            raise DependentObjectsStillExist(
                f"cannot drop cluster {quote_ident(cluster.name)} because other objects depend on it",
                hint="Use DROP CLUSTER ... CASCADE to drop the objects too.",
            )
        ids = {o.id for o in objects}
        doomed = objects + [d for d in self.catalog.transitive_dependents(ids) if d.id not in ids]
        await self.drop_items(doomed, user, notices)
        await self._drop_replicas(self.catalog.replicas_of(cluster.id), user)
        with self.catalog.durable.transact(user) as txn:
            txn.delete("cluster", cluster.id)
            txn.audit_event("drop", "cluster", audit_details(id=cluster.id, name=cluster.name))
        self.catalog.apply_deletes([("cluster", cluster.id)])
        await self.coord.drop_instance(cluster.id)
        return "DROP CLUSTER"

    async def alter_cluster_set(self, plan: p.AlterClusterPlan, user: str) -> str:
        cluster = self.catalog.clusters[plan.cluster_id]
        self.coord.policy_check(cluster.id, Statement.ALTER_OPTIONS, "ALTER CLUSTER")
        size, factor = cluster_shape(cluster, plan.options)
        check_replicas(self.catalog, cluster.id, factor)
        current = self.catalog.replicas_of(cluster.id)
        keep = [r for r in current if r.size == size][:factor]
        remove = [r for r in current if r not in keep]
        used = {r.name for r in keep}
        names = [f"r{n}" for n in range(1, 2 * factor + len(current) + 2) if f"r{n}" not in used]
        updated = msgspec.structs.replace(cluster, size=size, replication_factor=factor)
        with self.catalog.durable.transact(user) as txn:
            added = [ReplicaRecord(id=make_id(IdKind.REPLICA, txn.next_id("replica")), name=names[i],
                                   cluster_id=cluster.id, size=size, owner=user)
                     for i in range(factor - len(keep))]
            txn.put(updated)
            for replica in added:
                txn.put(replica)
            txn.audit_event("alter", "cluster", audit_details(id=cluster.id, name=cluster.name, size=size,
                                                              replication_factor=factor))
        self.catalog.apply_puts([updated, *added])
        for replica in added:
            await self.coord.start_replica(replica)
        if remove:
            await self._drop_replicas(remove, user)
        return "ALTER CLUSTER"

    # ------------------------------------------------------------------ schemas

    async def create_schema(self, plan: p.CreateSchemaPlan, user: str, notices: list[str]) -> str:
        if plan.database not in self.catalog.databases():
            raise InvalidCatalogName(f"unknown database {quote_ident(plan.database)}")
        if self.catalog.schema_exists(plan.database, plan.name):
            if plan.if_not_exists:
                notices.append(f"schema {quote_ident(plan.name)} already exists, skipping")
                return "CREATE SCHEMA"
            raise SteadyError(f"schema {quote_ident(plan.name)} already exists", sqlstate="42P06")
        with self.catalog.durable.transact(user) as txn:
            schema = SchemaRecord(id=make_id(IdKind.SCHEMA, txn.next_id("schema")), database=plan.database,
                                  name=plan.name, owner=user)
            txn.put(schema)
            txn.audit_event("create", "schema", audit_details(id=schema.id, name=f"{plan.database}.{plan.name}"))
        self.catalog.apply_puts([schema])
        return "CREATE SCHEMA"

    async def drop_schema(self, plan: p.DropSchemaPlan, user: str, notices: list[str]) -> str:
        """DROP SCHEMA [CASCADE]: the schema's objects (and their dependents elsewhere) with it, in one catalog
        transaction; without CASCADE a schema that holds objects is refused (2BP01).  ``public`` and the system
        schemas cannot be dropped here."""
        if plan.name in SYSTEM_SCHEMAS or plan.name == "public":
            raise SteadyError(f"cannot drop schema {quote_ident(plan.name)}", sqlstate="42501",
                              hint="public and the system schemas always exist")
        if not self.catalog.schema_exists(plan.database, plan.name):
            if plan.if_exists:
                notices.append(f"schema {quote_ident(plan.name)} does not exist, skipping")
                return "DROP SCHEMA"
            raise SteadyError(f"unknown schema {quote_ident(plan.name)}", sqlstate="3F000")
        contents = [i for i in self.catalog.items.values() if i.database == plan.database and i.schema == plan.name]
        if contents and not plan.cascade:
            raise DependentObjectsStillExist(
                f"cannot drop schema {quote_ident(plan.name)}: it contains {KIND_NAMES[contents[0].kind]} "
                f"{quote_ident(contents[0].name)}", hint="Use DROP SCHEMA ... CASCADE to drop its objects too.")
        targets = {i.id for i in contents}
        doomed = contents + [d for d in self.catalog.transitive_dependents(targets) if d.id not in targets]
        record = self.catalog.schema_record(plan.database, plan.name)
        await self.drop_items(doomed, user, notices, "DROP SCHEMA CASCADE",
                               also_delete=[("schema", record.id)] if record is not None else [])
        return "DROP SCHEMA"
