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
from typing import TYPE_CHECKING

from steadystate.adapter.introspection import audit_details
from steadystate.catalog.records import KIND_NAMES, ClusterRecord, ItemRecord, ReplicaRecord, RoleRecord
from steadystate.errors import (
    DependentObjectsStillExist,
    DuplicateObject,
    DuplicateTable,
    InvalidParameterValue,
    ObjectNotInPrerequisiteState,
    UndefinedObject,
    quote_ident,
)
from steadystate.expr.ir import depends_on, encode_plan
from steadystate.orchestrator import REPLICA_SIZES
from steadystate.protocol.messages import errors_shard_of
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator


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


class Ddl:
    def __init__(self, coordinator: "Coordinator") -> None:
        self.coord = coordinator

    @property
    def catalog(self):
        return self.coord.catalog

    # ------------------------------------------------------------------ objects

    def _check_name_free(self, name: p.QualifiedName, if_not_exists: bool, notices: list[str]) -> bool:
        existing = self.catalog.find_item(name.database, name.schema, name.item)
        if existing is None:
            return True
        if if_not_exists:
            notices.append(f"relation {quote_ident(name.item)} already exists, skipping")
            return False
        raise DuplicateTable(f"relation {quote_ident(str(name))} already exists")

    def _commit_item(self, item: ItemRecord, user: str, event: str = "create") -> None:
        with self.catalog.durable.transact(user) as txn:
            txn.put(item)
            txn.audit_event(event, KIND_NAMES[item.kind].replace(" ", "-"),
                            audit_details(id=item.id, name=item.qualified, cluster_id=item.cluster_id))
        self.catalog.apply_puts([item])

    def _allocate_item_id(self, user: str) -> str:
        with self.catalog.durable.transact(user) as txn:
            return f"u{txn.next_id('item')}"

    async def create_table(self, plan: p.CreateTablePlan, user: str, notices: list[str]) -> str:
        if not self._check_name_free(plan.name, plan.if_not_exists, notices):
            return "CREATE TABLE"
        item_id = self._allocate_item_id(user)
        shard = f"{item_id}"
        self.coord.store.create_shard(shard)
        await self.coord.tables.advance_idle()
        item = ItemRecord(item_id, plan.name.database, plan.name.schema, plan.name.item, "table", user,
                          desc=plan.desc, shard=shard, created_at_ms=_now_ms(), defaults=plan.defaults)
        self._commit_item(item, user)
        self.coord.tables.register(shard)
        self.coord.table_rows[item_id] = Counter()
        return "CREATE TABLE"

    async def create_view(self, plan: p.CreateViewPlan, user: str, notices: list[str]) -> str:
        if not self._check_name_free(plan.name, plan.if_not_exists, notices):
            return "CREATE VIEW"
        item = ItemRecord(self._allocate_item_id(user), plan.name.database, plan.name.schema, plan.name.item,
                          "view", user, desc=plan.desc, sql=plan.sql_text, plan=encode_plan(plan.expr),
                          depends_on=tuple(sorted(depends_on(plan.expr))), created_at_ms=_now_ms())
        self._commit_item(item, user)
        return "CREATE VIEW"

    async def create_materialized_view(
        self, plan: p.CreateMaterializedViewPlan, user: str, notices: list[str]
    ) -> str:
        if not self._check_name_free(plan.name, plan.if_not_exists, notices):
            return "CREATE MATERIALIZED VIEW"
        self.check_cluster_unsealed(plan.cluster_id, "CREATE MATERIALIZED VIEW")
        item_id = self._allocate_item_id(user)
        self.coord.store.create_shard(item_id)
        self.coord.store.create_shard(errors_shard_of(item_id))
        item = ItemRecord(item_id, plan.name.database, plan.name.schema, plan.name.item, "materialized_view", user,
                          desc=plan.desc, sql=plan.sql_text, plan=encode_plan(plan.expr), shard=item_id,
                          cluster_id=plan.cluster_id, depends_on=tuple(sorted(depends_on(plan.expr))),
                          created_at_ms=_now_ms())
        as_of = await self.coord.read_timestamp()
        self._commit_item(item, user)
        self.coord.install_dataflow(item, as_of)
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
        if on is None or on.kind not in ("table", "view", "materialized_view"):
            raise ObjectNotInPrerequisiteState(
                f"cannot create index on {self.catalog.describe(plan.on_id)}",
                hint="indexes can be created on tables, views and materialized views",
            )
        self.check_cluster_unsealed(plan.cluster_id, "CREATE INDEX")
        item = ItemRecord(self._allocate_item_id(user), name.database, name.schema, name.item, "index", user,
                          cluster_id=plan.cluster_id, on_id=plan.on_id, key=plan.key, key_names=plan.key_names,
                          depends_on=(plan.on_id,), created_at_ms=_now_ms())
        as_of = await self.coord.read_timestamp()
        self._commit_item(item, user)
        self.coord.install_dataflow(item, as_of)
        return "CREATE INDEX"

    async def drop_objects(self, plan: p.DropObjectsPlan, user: str, notices: list[str]) -> str:
        tag = f"DROP {plan.kind.replace('_', ' ').upper()}"
        for missing in plan.missing:
            notices.append(f"{plan.kind.replace('_', ' ')} {quote_ident(missing)} does not exist, skipping")
        targets = {item.id for item in plan.items}
        for item in plan.items:
            if item.kind == "builtin":
                raise DependentObjectsStillExist(f"cannot drop system relation {quote_ident(str(item.name))}",
                                                 sqlstate="42501")
        dependents = [d for d in self.catalog.transitive_dependents(targets) if d.id not in targets]
        # as in PostgreSQL, a relation's own indexes go with it; anything else that depends on it needs CASCADE
        blocking = [d for d in dependents if not (d.kind == "index" and d.on_id in targets)]
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
        await self._drop_items(doomed, user, notices, statement)
        return tag

    def check_cluster_unsealed(self, cluster_id: str, statement: str) -> None:
        """Refuse ``statement`` on a sealed cluster (the active production signal)."""
        cluster = self.catalog.clusters.get(cluster_id)
        if cluster is None:
            return
        if cluster.sealed:
            raise ObjectNotInPrerequisiteState(
                f"cluster {quote_ident(cluster.name)} is sealed: {statement} is not allowed on it",
                hint=f"ALTER CLUSTER {quote_ident(cluster.name)} UNSEAL to allow changes",
            )
        if cluster_id in self.coord.sealing:
            raise ObjectNotInPrerequisiteState(
                f"cluster {quote_ident(cluster.name)} is being restarted or sealed: {statement} must wait",
                hint="retry once ALTER CLUSTER has finished",
            )

    async def _drop_items(
        self, doomed: list[ItemRecord], user: str, notices: list[str], statement: str | None = None
    ) -> None:
        for item in doomed:
            if item.cluster_id is not None:
                what = f"DROP {KIND_NAMES[item.kind].upper()}"
                if statement is not None and not statement.startswith(what):
                    what = f"{statement} (it would drop {KIND_NAMES[item.kind]} {item.qualified})"
                self.check_cluster_unsealed(item.cluster_id, what)
        # dependents before what they depend on
        ordered = sorted(doomed, key=lambda i: int(i.id[1:]), reverse=True)
        with self.catalog.durable.transact(user) as txn:
            for item in ordered:
                txn.delete("item", item.id)
                txn.audit_event("drop", KIND_NAMES[item.kind].replace(" ", "-"),
                                audit_details(id=item.id, name=item.qualified))
        self.catalog.apply_deletes(("item", item.id) for item in ordered)
        for item in ordered:
            if item.kind == "materialized_view" and item.cluster_id in self.coord.instances:
                self.coord.instances[item.cluster_id].drop(
                    item.id, f"DROP MATERIALIZED VIEW {item.qualified} ({item.id})"
                )
        for item in ordered:
            if item.kind == "index" and item.cluster_id in self.coord.instances:
                self.coord.drop_index_dataflow(item, notices)
            if item.kind == "table" and item.shard is not None:
                self.coord.tables.unregister(item.shard)
                self.coord.table_rows.pop(item.id, None)
                self.coord.table_indexes.pop(item.id, None)
                self.coord.store.drop_shard(item.shard)
            if item.kind == "materialized_view" and item.shard is not None:
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
        with self.catalog.durable.transact(user) as txn:
            cluster = ClusterRecord(f"c{txn.next_id('cluster')}", plan.name, plan.managed, size, factor, user)
            replicas = [ReplicaRecord(f"r{txn.next_id('replica')}", name, cluster.id, s, user)
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
        self.check_cluster_unsealed(cluster.id, "CREATE CLUSTER REPLICA")
        if cluster.managed:
            raise ObjectNotInPrerequisiteState(
                "cannot create more replicas in managed clusters",
                hint=f"Use ALTER CLUSTER {quote_ident(cluster.name)} SET (REPLICATION FACTOR = ...) instead",
            )
        if self.catalog.replica_by_name(cluster.id, plan.name) is not None:
            raise DuplicateObject(f"cluster replica {quote_ident(cluster.name + '.' + plan.name)} already exists")
        size = check_size(plan.size)
        with self.catalog.durable.transact(user) as txn:
            replica = ReplicaRecord(f"r{txn.next_id('replica')}", plan.name, cluster.id, size, user)
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
        self.check_cluster_unsealed(replica.cluster_id, "DROP CLUSTER REPLICA")
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
        self.check_cluster_unsealed(cluster.id, "DROP CLUSTER")
        objects = self.catalog.objects_on_cluster(cluster.id)
        if objects and not plan.cascade:
            raise DependentObjectsStillExist(
                f"cannot drop cluster {quote_ident(cluster.name)} because other objects depend on it",
                hint="Use DROP CLUSTER ... CASCADE to drop the objects too.",
            )
        ids = {o.id for o in objects}
        doomed = objects + [d for d in self.catalog.transitive_dependents(ids) if d.id not in ids]
        await self._drop_items(doomed, user, notices)
        await self._drop_replicas(self.catalog.replicas_of(cluster.id), user)
        with self.catalog.durable.transact(user) as txn:
            txn.delete("cluster", cluster.id)
            txn.audit_event("drop", "cluster", audit_details(id=cluster.id, name=cluster.name))
        self.catalog.apply_deletes([("cluster", cluster.id)])
        await self.coord.drop_instance(cluster.id)
        return "DROP CLUSTER"

    async def alter_cluster_set(self, plan: p.AlterClusterPlan, user: str) -> str:
        cluster = self.catalog.clusters[plan.cluster_id]
        self.check_cluster_unsealed(cluster.id, "ALTER CLUSTER")
        if not cluster.managed:
            raise ObjectNotInPrerequisiteState(
                f"cannot alter unmanaged cluster {quote_ident(cluster.name)}",
                hint="use CREATE/DROP CLUSTER REPLICA to change the replicas of an unmanaged cluster",
            )
        options = {k.lower().replace(" ", "_"): v for k, v in plan.options.items()}
        size = check_size(str(options.get("size", cluster.size)))
        factor = int(options.get("replication_factor", cluster.replication_factor or 0))
        if factor < 0:
            raise InvalidParameterValue("REPLICATION FACTOR must be a non-negative integer")
        current = self.catalog.replicas_of(cluster.id)
        keep = [r for r in current if r.size == size][:factor]
        remove = [r for r in current if r not in keep]
        used = {r.name for r in keep}
        names = [f"r{n}" for n in range(1, 2 * factor + len(current) + 2) if f"r{n}" not in used]
        updated = ClusterRecord(cluster.id, cluster.name, True, size, factor, cluster.owner, cluster.sealed)
        with self.catalog.durable.transact(user) as txn:
            added = [ReplicaRecord(f"r{txn.next_id('replica')}", names[i], cluster.id, size, user)
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

    # ------------------------------------------------------------------ roles

    async def create_role(self, plan: p.CreateRolePlan, user: str) -> str:
        if self.catalog.role_by_name(plan.name) is not None:
            raise DuplicateObject(f"role {quote_ident(plan.name)} already exists")
        with self.catalog.durable.transact(user) as txn:
            role = RoleRecord(f"g{txn.next_id('role')}", plan.name, plan.superuser)
            txn.put(role)
            txn.audit_event("create", "role", audit_details(id=role.id, name=role.name))
        self.catalog.apply_puts([role])
        return "CREATE ROLE"

    async def drop_role(self, plan: p.DropRolePlan, user: str, notices: list[str]) -> str:
        role = self.catalog.role_by_name(plan.name)
        if role is None:
            if plan.if_exists:
                notices.append(f"role {quote_ident(plan.name)} does not exist, skipping")
                return "DROP ROLE"
            raise UndefinedObject(f"unknown role {quote_ident(plan.name)}")
        with self.catalog.durable.transact(user) as txn:
            txn.delete("role", role.id)
            txn.audit_event("drop", "role", audit_details(id=role.id, name=role.name))
        self.catalog.apply_deletes([("role", role.id)])
        return "DROP ROLE"
