"""Rows of the builtin introspection relations, computed on demand from the coordinator's state.

Each builtin relation (``catalog.builtins``) has a producer here that reads the catalog, the replica
statuses the orchestrator reported, and what each cluster's controller learned from its replicas
(frontiers, ``Status`` responses with hydration and arrangement sizes).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Callable, Iterator

from steadystate.adapter import information_schema, mz_catalog, pg_catalog, privileges, progress
from steadystate.adapter.comments import Comments
from steadystate.errors import InternalError
from steadystate.orchestrator.api import ProcessStatus
from steadystate.storage import ShardNotFound
from steadystate.repr import Row
from steadystate.repr.arrays import Array
from steadystate.repr.objects import ItemKind, is_transient, is_user

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.adapter.readiness import Readiness
    from steadystate.catalog.records import ItemRecord
    from steadystate.controller.instance import ComputeInstance, ReplicaState


def _ts(ms: int | None) -> dt.datetime | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).replace(tzinfo=None)


class Introspection:
    def __init__(self, coordinator: "Coordinator") -> None:
        self.coord = coordinator
        self.readiness: "Readiness | None" = None
        self._producers: dict[str, Callable[[], list[Row]]] = {
            "mz_clusters": self.clusters,
            "mz_cluster_replicas": self.replicas,
            "mz_cluster_replica_statuses": self.replica_statuses,
            "mz_cluster_replica_status_history": self.status_history,
            "mz_hydration_statuses": self.hydration_statuses,
            "mz_copy_progress": lambda: self.coord.copies.rows(),
            "mz_tables": lambda: self._items(ItemKind.TABLE, lambda i: (i.id, i.schema, i.name, i.owner,
                                                                        *self._mz_ids(i), self._acl(i))),
            "mz_show_all_privileges": lambda: privileges.show_all_privileges(self.coord.catalog),
            "mz_show_role_members": lambda: privileges.role_members(self.coord.catalog),
            "mz_views": lambda: self._items(ItemKind.VIEW, lambda i: (i.id, i.schema, i.name, i.sql, i.owner,
                                                                      *self._mz_ids(i), self._acl(i))),
            "mz_materialized_views": lambda: self._items(
                ItemKind.MATERIALIZED_VIEW, lambda i: (i.id, i.schema, i.name, i.cluster_id, i.sql, i.owner,
                                                       *self._mz_ids(i), self._acl(i))
            ),
            "mz_indexes": lambda: self._items(
                ItemKind.INDEX, lambda i: (i.id, i.name, i.on_id, i.cluster_id, ", ".join(i.key_names), i.owner,
                                           pg_catalog.object_oid(i.id), self._index_sql(i))
            ),
            "mz_audit_events": self.audit_events,
            "mz_roles": lambda: [(r.id, r.name, r.superuser) for r in self.coord.catalog.roles.values()],
            "mz_objects": self.objects,
            "mz_arrangement_sizes": self.arrangement_sizes,
            "mz_storage_shards": self.storage_shards,
            "mz_frontiers": self.frontiers,
            "mz_replica_step_times": self.step_times,
            "mz_cluster_replica_readiness": self.replica_readiness,
            "mz_residual_dataflows": self.residual_dataflows,
            "mz_cluster_readiness": self.cluster_readiness,
            "mz_compute_hydration_times": self.hydration_times,
            "mz_failed_objects": self.failed_objects,
            "mz_pending_reconfigurations": self.pending_reconfigurations,
            "mz_expected_restart_downtime": self.expected_downtime,
            "mz_columns": self.columns,
            "mz_dataflow_reconciliation": lambda: [
                (replica_id, state.status.reconciled_kept, state.status.reconciled_rebuilt,
                 _ts(state.status.reconciled_at_ms))
                for _instance, replica_id, state in self._replica_states()
                if state.status is not None and state.status.reconciled_at_ms is not None
            ],
        }
        self._producers.update(pg_catalog.producers(coordinator))
        self._producers.update(mz_catalog.producers(coordinator))
        self._producers.update(information_schema.producers(coordinator))
        self._producers.update(Comments(coordinator).producers())

    def rows(self, name: str) -> list[Row]:
        producer = self._producers.get(name)
        if producer is None:
            raise InternalError(f"no producer for builtin relation {name}")
        return producer()

    def _items(self, kind: ItemKind, shape: Callable[[ItemRecord], Row]) -> list[Row]:
        return [shape(item) for item in self.coord.catalog.items.values() if item.kind == kind]

    def _mz_ids(self, item: "ItemRecord") -> tuple[int, str, str | None]:
        """Materialize's ``oid``, ``schema_id`` and ``owner_id`` of an item."""
        owner = self.coord.catalog.role_by_name(item.owner)
        return (pg_catalog.object_oid(item.id), pg_catalog.schema_id(self.coord, item.database, item.schema),
                owner.id if owner is not None else None)

    def _acl(self, item: "ItemRecord") -> Array:
        """The item's access list as Materialize's ``mz_aclitem[]`` (its ``privileges`` column)."""
        return privileges.acl_items(self.coord.catalog, privileges.item_obj(item))

    def _index_sql(self, index: "ItemRecord") -> str:
        """The index's definition as ``CREATE INDEX`` (Materialize's ``mz_indexes.create_sql``)."""
        on = self.coord.catalog.items.get(index.on_id or "")
        cluster = self.coord.catalog.clusters.get(index.cluster_id or "")
        target = f"{on.schema}.{on.name}" if on is not None else index.on_id
        in_cluster = f" IN CLUSTER {cluster.name}" if cluster is not None else ""
        return f"CREATE INDEX {index.name}{in_cluster} ON {target} ({', '.join(index.key_names)})"

    def columns(self) -> list[Row]:
        return [
            (item.id, column.name, position, column.nullable, column.pg_type_name, column.pg_oid, column.pg_typmod)
            for item in self.coord.catalog.items.values() if item.kind != "index" and item.desc is not None
            for position, column in enumerate(item.desc.columns, start=1)
        ]

    def clusters(self) -> list[Row]:
        return [
            (c.id, c.name, c.managed, c.size, c.replication_factor, c.sealed, c.owner,
             privileges.acl_items(self.coord.catalog, privileges.cluster_obj(c)))
            for c in self.coord.catalog.clusters.values()
        ]

    def replicas(self) -> list[Row]:
        return [(r.id, r.name, r.cluster_id, r.size, r.owner) for r in self.coord.catalog.replicas.values()]

    def replica_statuses(self) -> list[Row]:
        out: list[Row] = []
        for replica in self.coord.catalog.replicas.values():
            status = self.coord.replica_status.get(replica.id)
            if status is None:
                out.append((replica.id, None, ProcessStatus.OFFLINE.value, "not started", None))
            else:
                out.append((replica.id, status.process_id, status.status.value, status.reason,
                            _ts(status.updated_at_ms)))
        return out

    def status_history(self) -> list[Row]:
        return [
            (e.replica_id, e.process_id, e.status, e.reason, _ts(e.occurred_at_ms))
            for e in self.coord.catalog.durable.status_history()
        ]

    def _replica_states(self) -> Iterator[tuple[ComputeInstance, str, ReplicaState]]:
        for instance in self.coord.instances.values():
            for replica_id, state in instance.replicas.items():
                yield instance, replica_id, state

    def hydration_statuses(self) -> list[Row]:
        return [entry.row() for entry in progress.hydration_progress(self.coord)]

    def audit_events(self) -> list[Row]:
        return [
            (e.id, e.event_type, e.object_type, e.details, e.user, _ts(e.occurred_at_ms))
            for e in self.coord.catalog.durable.audit_events()
        ]

    def objects(self) -> list[Row]:
        return [
            (i.id, i.schema, i.name, i.kind.replace("_", "-"), i.cluster_id, *self._mz_ids(i))
            for i in self.coord.catalog.items.values()
        ]

    def storage_shards(self) -> list[Row]:
        """Each table's and materialized view's shard: frontiers and what a snapshot of it reads (compaction keeps
        ``batches`` near the live data)."""
        store = self.coord.store
        out = []
        for item in self.coord.catalog.items.values():
            if item.shard is None:
                continue
            try:
                since, upper = store.frontiers(item.shard)
                batches, updates = store.batch_stats(item.shard)
            except ShardNotFound:  # a materialized view whose replicas have not created its shard yet
                continue
            if since is None:
                continue
            out.append((item.id, item.shard, since, upper, batches, updates))
        return out

    def arrangement_sizes(self) -> list[Row]:
        out = []
        for _instance, replica_id, state in self._replica_states():
            if state.status is None:
                continue
            for collection in state.status.collections:
                if is_user(collection.id):
                    out.append((replica_id, collection.id, collection.records, collection.size_bytes))
        return out

    def replica_readiness(self) -> list[Row]:
        out: list[Row] = []
        for instance, replica_id, state in self._replica_states():
            status = state.status
            expected = state.connection.expected.signal() if state.connection.live else None
            expected_clean = expected.clean if expected is not None else None
            expected_by = expected.dirtied_by if expected is not None else None
            if status is None:
                out.append((replica_id, False, None, None, None, "no status reported (offline or connecting)",
                            expected_clean, expected_by))
                continue
            clean = status.steady and status.clean
            out.append((replica_id, clean, _ts(status.steady_since_ms), _ts(status.dirtied_at_ms),
                        status.dirtied_by, state.disagreement, expected_clean, expected_by))
        return out

    def residual_dataflows(self) -> list[Row]:
        out = []
        for residual in self.coord.residuals.values():
            instance = self.coord.instances.get(residual.cluster_id)
            replica_ids = sorted(instance.replicas) if instance is not None else []
            for replica_id in replica_ids:
                out.append((residual.cluster_id, replica_id, residual.index_id, residual.name,
                            ", ".join(residual.held_by)))
        return out

    def cluster_readiness(self) -> list[Row]:
        assert self.readiness is not None
        out = []
        for cluster in self.coord.catalog.clusters.values():
            ready, reasons, warnings = self.readiness.verdict(cluster)
            out.append((cluster.id, cluster.sealed, ready, "; ".join(reasons), "; ".join(warnings)))
        return out

    def failed_objects(self) -> list[Row]:
        return [(f.object_id, f.name, f.kind, f.cluster_id, f.error, f.hint) for f in self.coord.failures()]

    def pending_reconfigurations(self) -> list[Row]:
        return [(r.id, r.kind.value, ", ".join(new for new, _ in r.replacements), ", ".join(r.retiring),
                 _ts(r.started_at_ms), _ts(r.deadline_ms), r.on_timeout.value)
                for r in self.coord.catalog.reconfigurations.values()]

    def expected_downtime(self) -> list[Row]:
        assert self.readiness is not None
        rows: list[Row] = [(c, self.readiness.expected_downtime_s(c)) for c in self.coord.catalog.clusters]
        rows.append((None, self.readiness.environment_downtime_s()))
        return rows

    def hydration_times(self) -> list[Row]:
        out = []
        for _instance, replica_id, state in self._replica_states():
            if state.status is None:
                continue
            for collection in state.status.collections:
                if collection.hydration_ms is not None and not is_transient(collection.id):
                    out.append((replica_id, collection.id, collection.hydration_ms))
        return out

    def step_times(self) -> list[Row]:
        out: list[Row] = []
        for _instance, replica_id, state in self._replica_states():
            if state.status is not None:
                start = state.status.step_seq
                out.extend((replica_id, start + n, ms) for n, ms in enumerate(state.status.step_ms))
        return out

    def frontiers(self) -> list[Row]:
        out = []
        for _instance, replica_id, state in self._replica_states():
            for collection_id, frontier in state.frontiers.items():
                if is_user(collection_id):
                    out.append((collection_id, replica_id, frontier))
        return out


def audit_details(**fields: object) -> str:
    return json.dumps(fields, sort_keys=True)
