"""``ALTER ... RENAME TO``, ``ALTER SCHEMA|CLUSTER ... SWAP WITH`` (blue/green promotion), and databases.

**Names only.**  Plans, dataflows and shards refer to objects by id (a view's plan is IR over ids), so a rename
or a swap rewrites names in catalog records and nothing else: no dataflow is rebuilt, no replica notices (a
dataflow's ``debug_name`` is a label, outside its fingerprint).  Items carry their schema's name, so renaming or
swapping a schema rewrites the ``schema`` of every item in it.  A view's stored SQL text (``mz_views.definition``)
keeps the names it was written with.

**Atomic.**  :meth:`Renames.prepare` applies a sequence of rename/swap plans to a scratch copy of the records,
each statement seeing the names the ones before it left (so ``SWAP`` then ``RENAME`` compose), and returns the
records to write; :meth:`Renames.apply` writes them in one catalog transaction.  Outside a transaction block a
statement is its own sequence; inside ``BEGIN ... COMMIT`` the session checks each statement when it arrives
(``prepare`` over everything buffered so far) and applies them all at ``COMMIT`` — dbt-materialize's
``deploy_promote`` sends ``BEGIN; ALTER SCHEMA ... SWAP WITH ...; ALTER CLUSTER ... SWAP WITH ...; COMMIT``,
and either every swap happens or none.

**Promotion onto a sealed cluster** (policy in adapter/policy.py, ``Statement.SWAP``).  A swap moves names, and
the seal belongs to the name: production is the sealed cluster that has the production name.  Swapping a sealed
cluster with another is a promotion of the other, allowed only if the incoming cluster could be sealed right now
without restarting anything — every condition ``ALTER CLUSTER ... SEAL WITH (RESTART = false)`` checks
(adapter/readiness.py ``CONDITIONS``: replicas clean, online and hydrated, restart diff empty, no failed or
residual dataflows, no crash loops), checked at once rather than waited for (``deploy_await`` is the wait).  The
incoming cluster comes out sealed under the production name; the outgoing one takes the incoming's name and its
seal state (unsealed after a normal deployment, so ``deploy_cleanup`` can drop it, or a second swap can roll
back — which is again a promotion, of the old generation, and must again prove it would restart cleanly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from steadystate.adapter.comments import CLASS_OF_KIND, schema_parts
from steadystate.adapter.introspection import audit_details
from steadystate.adapter.policy import Promote, Refused, Statement, check, verdict
from steadystate.catalog.records import ClusterRecord, DatabaseRecord, ItemRecord, SchemaRecord
from steadystate.catalog.state import DEFAULT_DATABASE, SYSTEM_SCHEMAS
from steadystate.errors import (
    DependentObjectsStillExist,
    DuplicateObject,
    FeatureNotSupported,
    ObjectNotInPrerequisiteState,
    SteadyError,
    UndefinedObject,
    UndefinedTable,
    WrongObjectType,
    quote_ident,
)
from steadystate.adapter.policy import ClusterState
from steadystate.adapter.authorization import check_owner
from steadystate.adapter.privileges import Obj, ObjectType, item_obj
from steadystate.repr.objects import IdKind, make_id
from steadystate.sql import plan as p
from steadystate.sql.statements import ObjectClass

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.adapter.ddl import Ddl
    from steadystate.adapter.readiness import Readiness


@dataclass
class Prepared:
    """What a sequence of renames and swaps writes, and the promotions it must prove first."""

    clusters: dict[str, ClusterRecord]
    schemas: dict[str, SchemaRecord]
    items: dict[str, ItemRecord]
    promotions: list[tuple[str, str]] = field(default_factory=list)  # (incoming cluster id, production cluster id)
    notices: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (object type, details)


class Renames:
    def __init__(self, coord: "Coordinator", readiness: "Readiness", ddl: "Ddl") -> None:
        self.coord = coord
        self.readiness = readiness
        self.ddl = ddl

    # ------------------------------------------------------------------ checking, on a scratch copy

    def prepare(self, plans: list[p.AlterNamePlan], user: str) -> Prepared:
        catalog = self.coord.catalog
        out = Prepared(dict(catalog.clusters), dict(catalog.schemas), dict(catalog.items))
        for plan in plans:
            match plan.target:
                case ObjectClass.CLUSTER:
                    self._cluster(plan, out, user)
                case ObjectClass.SCHEMA:
                    self._schema(plan, out, user)
                case ObjectClass.DATABASE | ObjectClass.COLUMN:
                    raise FeatureNotSupported(f"ALTER {plan.target.value.upper()} ... RENAME is not supported")
                case _:
                    self._item(plan, out, user)
        return out

    def _cluster_named(self, out: Prepared, name: str) -> ClusterRecord | None:
        return next((c for c in out.clusters.values() if c.name == name), None)

    def _cluster(self, plan: p.AlterNamePlan, out: Prepared, user: str) -> None:
        cluster = self._cluster_named(out, plan.name[0])
        if cluster is None:
            if plan.if_exists:
                out.notices.append(f"cluster {quote_ident(plan.name[0])} does not exist, skipping")
                return
            raise UndefinedObject(f"unknown cluster {quote_ident(plan.name[0])}")
        self.readiness.check_owner(cluster, user, "alter")
        if not plan.swap:
            if self._cluster_named(out, plan.new_name) is not None:
                raise DuplicateObject(f"cluster {quote_ident(plan.new_name)} already exists")
            out.clusters[cluster.id] = msgspec.structs.replace(cluster, name=plan.new_name)
            out.events.append(("cluster", {"id": cluster.id, "old_name": cluster.name, "new_name": plan.new_name}))
            return
        other = self._cluster_named(out, plan.new_name)
        if other is None:
            raise UndefinedObject(f"unknown cluster {quote_ident(plan.new_name)}")
        if other.id == cluster.id:
            raise SteadyError(f"cannot swap cluster {quote_ident(cluster.name)} with itself", sqlstate="42710")
        self.readiness.check_owner(other, user, "alter")
        text = f"ALTER CLUSTER {quote_ident(cluster.name)} SWAP WITH {quote_ident(other.name)}"
        for side, incoming in ((cluster, other), (other, cluster)):
            state = ClusterState.of(side.sealed, self.coord.reconfiguring.get(side.id))
            decision = verdict(Statement.SWAP, state)
            if isinstance(decision, Refused):
                check(Statement.SWAP, state, side.name, text)
            elif isinstance(decision, Promote):
                out.promotions.append((incoming.id, side.id))
        # names swap, and the seal stays with the name: the incoming cluster takes production's seal
        out.clusters[cluster.id] = msgspec.structs.replace(cluster, name=other.name, sealed=other.sealed)
        out.clusters[other.id] = msgspec.structs.replace(other, name=cluster.name, sealed=cluster.sealed)
        out.events.append(("cluster", {"id": cluster.id, "swapped_with": other.id, "name": other.name}))

    def _schema_record(self, out: Prepared, database: str, name: str, if_exists: bool) -> SchemaRecord | None:
        if name in SYSTEM_SCHEMAS or name == "public":
            raise SteadyError(f"cannot rename schema {quote_ident(name)}", sqlstate="42501",
                              hint="public and the system schemas keep their names")
        record = next((s for s in out.schemas.values() if s.database == database and s.name == name), None)
        if record is None:
            if any(i.database == database and i.schema == name for i in out.items.values()):
                raise FeatureNotSupported(f"schema {quote_ident(name)} was not made by CREATE SCHEMA and cannot be "
                                          "renamed", hint="create a schema with CREATE SCHEMA and move to it")
            if if_exists:
                return None
            raise SteadyError(f"unknown schema {quote_ident(name)}", sqlstate="3F000")
        return record

    def _schema(self, plan: p.AlterNamePlan, out: Prepared, user: str) -> None:
        database, name = schema_parts(plan.name, plan.database)
        record = self._schema_record(out, database, name, plan.if_exists)
        if record is None:
            out.notices.append(f"schema {quote_ident(name)} does not exist, skipping")
            return
        check_owner(self.coord.catalog, user, _schema_obj(database, record))
        if plan.swap:
            other = self._schema_record(out, database, plan.new_name, False)
            assert other is not None
            check_owner(self.coord.catalog, user, _schema_obj(database, other))
            if other.id == record.id:
                raise SteadyError(f"cannot swap schema {quote_ident(name)} with itself", sqlstate="42P06")
            renames = {record.name: other.name, other.name: record.name}
            out.schemas[record.id] = msgspec.structs.replace(record, name=other.name)
            out.schemas[other.id] = msgspec.structs.replace(other, name=record.name)
            out.events.append(("schema", {"id": record.id, "swapped_with": other.id, "name": other.name}))
        else:
            taken = {s.name for s in out.schemas.values() if s.database == database} | SYSTEM_SCHEMAS | {"public"}
            if plan.new_name in taken or any(i.database == database and i.schema == plan.new_name
                                             for i in out.items.values()):
                raise SteadyError(f"schema {quote_ident(plan.new_name)} already exists", sqlstate="42P06")
            renames = {record.name: plan.new_name}
            out.schemas[record.id] = msgspec.structs.replace(record, name=plan.new_name)
            out.events.append(("schema", {"id": record.id, "old_name": name, "new_name": plan.new_name}))
        for item in list(out.items.values()):
            if item.database == database and item.schema in renames:
                out.items[item.id] = msgspec.structs.replace(item, schema=renames[item.schema])

    def _item(self, plan: p.AlterNamePlan, out: Prepared, user: str) -> None:
        parts = plan.name
        if len(parts) == 3:
            database, schema, name = parts
        elif len(parts) == 2:
            database, schema, name = plan.database, parts[0], parts[1]
        else:
            database, schema, name = plan.database, plan.schema, parts[0]
        item = next((i for i in out.items.values() if (i.database, i.schema, i.name) == (database, schema, name)),
                    None)
        if item is None:
            if plan.if_exists:
                out.notices.append(f"{plan.target.value.replace('-', ' ')} {quote_ident('.'.join(parts))} does not "
                                   "exist, skipping")
                return
            raise UndefinedTable(f"unknown catalog item {quote_ident('.'.join(parts))}")
        if CLASS_OF_KIND.get(item.kind) is not plan.target:
            raise WrongObjectType(f"{quote_ident(item.qualified)} is a {item.kind.value.replace('_', ' ')}, not a "
                                  f"{plan.target.value.replace('-', ' ')}")
        check_owner(self.coord.catalog, user, item_obj(item))
        if any((i.database, i.schema, i.name) == (database, schema, plan.new_name) for i in out.items.values()):
            raise SteadyError(f"catalog item {quote_ident(plan.new_name)} already exists", sqlstate="42P07")
        out.items[item.id] = msgspec.structs.replace(item, name=plan.new_name)
        out.events.append((CLASS_OF_KIND[item.kind].value, {"id": item.id, "old_name": item.qualified,
                                                             "new_name": plan.new_name}))

    # ------------------------------------------------------------------ applying, in one catalog transaction

    async def apply(self, plans: list[p.AlterNamePlan], user: str, notices: list[str]) -> None:
        """Check ``plans`` (each promotion proven now), then write all their changes at once.  Call under the
        DDL lock."""
        prepared = self.prepare(plans, user)
        catalog = self.coord.catalog
        for incoming_id, production_id in prepared.promotions:
            incoming, production = catalog.clusters[incoming_id], catalog.clusters[production_id]
            try:
                await self.readiness.check_seal(incoming, restart=False, timeout=0.0)
            except ObjectNotInPrerequisiteState as refused:
                raise ObjectNotInPrerequisiteState(
                    f"cannot promote cluster {quote_ident(incoming.name)} onto sealed cluster "
                    f"{quote_ident(production.name)}: it could not be sealed now without a restart",
                    detail=f"{refused.message}{'; ' + refused.detail if refused.detail else ''}",
                    hint=f"make {quote_ident(incoming.name)} ready first: ALTER CLUSTER {quote_ident(incoming.name)} "
                         f"RESTART rebuilds its replicas clean from the catalog; then wait for hydration "
                         f"(dbt-materialize: deploy_await) and swap again (mz_internal.mz_cluster_readiness shows "
                         f"what is missing)",
                ) from None
        changed: list[msgspec.Struct] = []
        for table, originals in ((prepared.clusters, catalog.clusters), (prepared.schemas, catalog.schemas),
                                 (prepared.items, catalog.items)):
            changed += [record for key, record in table.items() if originals.get(key) is not record]
        with catalog.durable.transact(user) as txn:
            for record in changed:
                txn.put(record)
            for object_type, details in prepared.events:
                txn.audit_event("alter", object_type, audit_details(**details))
        catalog.apply_puts(changed)
        notices.extend(prepared.notices)

    # ------------------------------------------------------------------ databases

    async def create_database(self, plan: p.CreateDatabasePlan, user: str, notices: list[str]) -> str:
        catalog = self.coord.catalog
        if plan.name in catalog.databases():
            if plan.if_not_exists:
                notices.append(f"database {quote_ident(plan.name)} already exists, skipping")
                return "CREATE DATABASE"
            raise SteadyError(f"database {quote_ident(plan.name)} already exists", sqlstate="42P04")
        with catalog.durable.transact(user) as txn:
            record = DatabaseRecord(id=make_id(IdKind.DATABASE, txn.next_id("database")), name=plan.name, owner=user)
            txn.put(record)
            txn.audit_event("create", "database", audit_details(id=record.id, name=plan.name))
        catalog.apply_puts([record])
        return "CREATE DATABASE"

    async def drop_database(self, plan: p.DropDatabasePlan, user: str, notices: list[str]) -> str:
        """DROP DATABASE [CASCADE]: its items (and their dependents elsewhere), schemas and record, in one
        catalog transaction (Ddl.drop_items)."""
        catalog = self.coord.catalog
        if plan.name == DEFAULT_DATABASE:
            raise SteadyError(f"cannot drop database {quote_ident(plan.name)}", sqlstate="42501",
                              hint="materialize is the default database and always exists")
        if plan.name not in catalog.databases():
            if plan.if_exists:
                notices.append(f"database {quote_ident(plan.name)} does not exist, skipping")
                return "DROP DATABASE"
            raise SteadyError(f"unknown database {quote_ident(plan.name)}", sqlstate="3D000")
        contents = [i for i in catalog.items.values() if i.database == plan.name]
        schemas = [s for s in catalog.schemas.values() if s.database == plan.name]
        if (contents or schemas) and not plan.cascade:
            raise DependentObjectsStillExist(f"database {quote_ident(plan.name)} cannot be dropped with RESTRICT "
                                             "while it contains schemas",
                                             hint="Use DROP DATABASE ... CASCADE to drop what it contains too.")
        targets = {i.id for i in contents}
        doomed = contents + [d for d in catalog.transitive_dependents(targets) if d.id not in targets]
        records = [("schema", s.id) for s in schemas]
        records += [("database", d.id) for d in catalog.database_records.values() if d.name == plan.name]
        await self.ddl.drop_items(doomed, user, notices, "DROP DATABASE CASCADE", also_delete=records)
        return "DROP DATABASE"


__all__ = ["Prepared", "Renames"]


def _schema_obj(database: str, record: SchemaRecord) -> Obj:
    """The schema as the privilege model names it (its record as this transaction's earlier renames left it)."""
    return Obj(ObjectType.SCHEMA, record.id, f"{database}.{record.name}", record.owner, "SCHEMA")
