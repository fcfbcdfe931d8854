"""Built-in introspection relations (``mz_catalog.*``, ``mz_internal.*``, a few ``pg_catalog.*``): names, ids and
schemas.

Builtins are relations whose rows the coordinator computes on demand from the catalog and from what the
controllers know about replicas (``adapter.introspection`` produces the rows).  A query that reads only
builtins is evaluated in the coordinator; it never needs a dataflow on a cluster, so it works on sealed
clusters and with no replicas at all.  Names follow Materialize where Materialize has the relation.
"""

from __future__ import annotations

from dataclasses import dataclass

from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.repr.objects import IdKind, ItemKind, make_id

T, I4, I8, B, TS, F8 = (
    ScalarType.TEXT,
    ScalarType.INT4,
    ScalarType.INT8,
    ScalarType.BOOL,
    ScalarType.TIMESTAMP,
    ScalarType.FLOAT8,
)


@dataclass(frozen=True)
class BuiltinRelation:
    id: str
    schema: str
    name: str
    desc: RelationDesc
    kind: ItemKind = ItemKind.BUILTIN
    database: str = "materialize"

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"


def _desc(*pairs: tuple[str, ScalarType]) -> RelationDesc:
    return RelationDesc(tuple(Column(name, typ) for name, typ in pairs))


_DEFINITIONS: list[tuple[str, str, RelationDesc]] = [
    ("mz_catalog", "mz_clusters", _desc(("id", T), ("name", T), ("managed", B), ("size", T),
                                        ("replication_factor", I4), ("sealed", B), ("owner", T))),
    ("mz_catalog", "mz_cluster_replicas", _desc(("id", T), ("name", T), ("cluster_id", T), ("size", T),
                                                ("owner", T))),
    ("mz_internal", "mz_cluster_replica_statuses", _desc(("replica_id", T), ("process_id", I8), ("status", T),
                                                         ("reason", T), ("updated_at", TS))),
    ("mz_internal", "mz_cluster_replica_status_history", _desc(("replica_id", T), ("process_id", I8),
                                                               ("status", T), ("reason", T), ("occurred_at", TS))),
    ("mz_internal", "mz_hydration_statuses", _desc(("object_id", T), ("replica_id", T), ("hydrated", B),
                                                   ("hydration_time", F8))),
    ("mz_catalog", "mz_tables", _desc(("id", T), ("schema", T), ("name", T), ("owner", T))),
    ("mz_catalog", "mz_views", _desc(("id", T), ("schema", T), ("name", T), ("definition", T), ("owner", T))),
    ("mz_catalog", "mz_materialized_views", _desc(("id", T), ("schema", T), ("name", T), ("cluster_id", T),
                                                  ("definition", T), ("owner", T))),
    ("mz_catalog", "mz_indexes", _desc(("id", T), ("name", T), ("on_id", T), ("cluster_id", T), ("key", T),
                                       ("owner", T))),
    ("mz_catalog", "mz_audit_events", _desc(("id", I8), ("event_type", T), ("object_type", T), ("details", T),
                                            ("user", T), ("occurred_at", TS))),
    ("mz_catalog", "mz_roles", _desc(("id", T), ("name", T), ("superuser", B))),
    ("mz_catalog", "mz_objects", _desc(("id", T), ("schema", T), ("name", T), ("type", T), ("cluster_id", T))),
    ("mz_internal", "mz_arrangement_sizes", _desc(("replica_id", T), ("object_id", T), ("records", I8),
                                                  ("size_bytes", I8))),
    ("mz_internal", "mz_frontiers", _desc(("object_id", T), ("replica_id", T), ("write_frontier", I8))),
    ("mz_internal", "mz_replica_step_times", _desc(("replica_id", T), ("seq", I8), ("step_ms", F8))),
    ("mz_internal", "mz_cluster_replica_readiness", _desc(("replica_id", T), ("clean", B), ("steady_since", TS),
                                                          ("dirtied_at", TS), ("dirtied_by", T), ("error", T),
                                                          # what the controller derives from what it sent
                                                          ("expected_clean", B), ("expected_dirtied_by", T))),
    ("mz_internal", "mz_residual_dataflows", _desc(("cluster_id", T), ("replica_id", T), ("object_id", T),
                                                   ("name", T), ("held_by", T))),
    ("mz_internal", "mz_cluster_readiness", _desc(("cluster_id", T), ("sealed", B), ("ready", B), ("reasons", T),
                                                  ("warnings", T))),
    ("mz_internal", "mz_compute_hydration_times", _desc(("replica_id", T), ("object_id", T),
                                                        ("hydration_time_ms", F8))),
    ("mz_internal", "mz_dataflow_reconciliation", _desc(("replica_id", T), ("kept", I4), ("rebuilt", I4),
                                                        ("reconciled_at", TS))),
    # what PostgreSQL clients (psql's \d family) query; oids as int8 (adapter/pg_catalog.py)
    ("pg_catalog", "pg_namespace", _desc(("oid", I8), ("nspname", T), ("nspowner", I8))),
    ("pg_catalog", "pg_class", _desc(("oid", I8), ("relname", T), ("relnamespace", I8), ("relkind", T),
                                     ("relowner", I8), ("relam", I8), ("relhasindex", B))),
    ("pg_catalog", "pg_index", _desc(("indexrelid", I8), ("indrelid", I8))),
    ("pg_catalog", "pg_roles", _desc(("oid", I8), ("rolname", T), ("rolsuper", B))),
    ("pg_catalog", "pg_am", _desc(("oid", I8), ("amname", T))),
    # appended last: builtin ids are positions, and views may store them
    ("mz_internal", "mz_storage_shards", _desc(("object_id", T), ("shard", T), ("since", I8), ("upper", I8),
                                               ("batches", I8), ("updates", I8))),
    ("mz_internal", "mz_failed_objects", _desc(("object_id", T), ("name", T), ("type", T), ("cluster_id", T),
                                               ("error", T), ("hint", T))),
    ("mz_internal", "mz_pending_reconfigurations", _desc(("cluster_id", T), ("kind", T), ("pending_replicas", T),
                                                         ("retiring_replicas", T), ("started_at", TS),
                                                         ("deadline", TS), ("on_timeout", T))),
    # cluster_id NULL: a restart of the whole environment (coordinator and every replica)
    ("mz_internal", "mz_expected_restart_downtime", _desc(("cluster_id", T), ("expected_downtime_s", F8))),
    # the columns of tables, views and materialized views: type as format_type spells it, with oid and typmod
    ("mz_catalog", "mz_columns", _desc(("id", T), ("name", T), ("position", I8), ("nullable", B), ("type", T),
                                       ("type_oid", I8), ("type_mod", I4))),
]

BUILTINS: tuple[BuiltinRelation, ...] = tuple(
    BuiltinRelation(make_id(IdKind.SYSTEM, n), schema, name, desc)
    for n, (schema, name, desc) in enumerate(_DEFINITIONS, start=1)
)
BUILTIN_BY_NAME: dict[str, BuiltinRelation] = {b.name: b for b in BUILTINS}
