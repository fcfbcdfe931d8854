"""``SHOW CLUSTERS``, ``SHOW CLUSTER REPLICAS``, ``SHOW INDEXES``, ``SHOW MATERIALIZED VIEWS`` and friends.

Each kind is a row producer over the catalog (plus replica statuses), with Materialize's column names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from steadystate.errors import FeatureNotSupported
from steadystate.orchestrator.api import ProcessStatus
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.sql import plan as p
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind

if TYPE_CHECKING:
    from steadystate.adapter.backend import Adapter

T, B = ScalarType.TEXT, ScalarType.BOOL


def _clusters(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
    catalog = adapter.coordinator.catalog
    rows = []
    for cluster in catalog.clusters.values():
        replicas = ", ".join(f"{r.name} ({r.size})" for r in catalog.replicas_of(cluster.id))
        rows.append((cluster.name, replicas, cluster.sealed))
    return RelationDesc.of(("name", T), ("replicas", T), ("sealed", B)), sorted(rows)


def _replicas(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
    coord = adapter.coordinator
    rows = []
    for replica in coord.catalog.replicas.values():
        cluster = coord.catalog.clusters.get(replica.cluster_id)
        if cluster is None or (plan.in_cluster_id and cluster.id != plan.in_cluster_id):
            continue
        status = coord.replica_status.get(replica.id)
        online = status is not None and status.status is ProcessStatus.ONLINE
        rows.append((cluster.name, replica.name, replica.size, online))
    desc = RelationDesc.of(("cluster", T), ("replica", T), ("size", T), ("ready", B))
    return desc, sorted(rows)


def _indexes(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
    catalog = adapter.coordinator.catalog
    rows = []
    for item in catalog.items.values():
        if item.kind != ItemKind.INDEX:
            continue
        if plan.on_id and item.on_id != plan.on_id or plan.in_cluster_id and item.cluster_id != plan.in_cluster_id:
            continue
        on = catalog.items.get(item.on_id or "")
        cluster = catalog.clusters.get(item.cluster_id or "")
        rows.append((item.name, on.name if on else item.on_id, cluster.name if cluster else item.cluster_id,
                     ", ".join(item.key_names)))
    return RelationDesc.of(("name", T), ("on", T), ("cluster", T), ("key", T)), sorted(rows)


def _materialized_views(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
    catalog = adapter.coordinator.catalog
    rows = []
    for item in catalog.items.values():
        if item.kind != ItemKind.MATERIALIZED_VIEW or (plan.in_cluster_id and item.cluster_id != plan.in_cluster_id):
            continue
        cluster = catalog.clusters.get(item.cluster_id or "")
        rows.append((item.name, cluster.name if cluster else item.cluster_id))
    return RelationDesc.of(("name", T), ("cluster", T)), sorted(rows)


def _of_kind(kind: ItemKind) -> Callable[["Adapter", p.ShowObjectsPlan], tuple[RelationDesc, list[Row]]]:
    def produce(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
        items = adapter.coordinator.catalog.items.values()
        return RelationDesc.of(("name", T)), sorted((i.name,) for i in items if i.kind == kind)

    return produce


def _objects(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
    """Materialize's ``SHOW OBJECTS [FROM schema]``: the current schema's objects (name, type, comment)."""
    items = [i for i in adapter.coordinator.catalog.items.values()
             if plan.schema is None or (i.database, i.schema) == plan.schema]
    desc = RelationDesc.of(("name", T), ("type", T), ("comment", T))
    return desc, sorted((i.name, i.kind.replace("_", "-"), None) for i in items)


_PRODUCERS = {
    "clusters": _clusters,
    "cluster_replicas": _replicas,
    "indexes": _indexes,
    "materialized_views": _materialized_views,
    "tables": _of_kind(ItemKind.TABLE),
    "views": _of_kind(ItemKind.VIEW),
    "objects": _objects,
}


def show_objects(adapter: "Adapter", plan: p.ShowObjectsPlan) -> tuple[RelationDesc, list[Row]]:
    producer = _PRODUCERS.get(plan.kind.lower().replace(" ", "_"))
    if producer is None:
        raise FeatureNotSupported(f"SHOW {plan.kind.upper()} is not supported")
    return producer(adapter, plan)
