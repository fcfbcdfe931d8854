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


IV = ScalarType.INTERVAL
TA = ScalarType.TEXT_ARRAY  # the privileges columns: Materialize's mz_aclitem[] (adapter/privileges.py acl_items)

_DEFINITIONS: list[tuple[str, str, RelationDesc]] = [
    ("mz_catalog", "mz_clusters", _desc(("id", T), ("name", T), ("managed", B), ("size", T),
                                        ("replication_factor", I4), ("sealed", B), ("owner", T),
                                        ("privileges", TA))),
    ("mz_catalog", "mz_cluster_replicas", _desc(("id", T), ("name", T), ("cluster_id", T), ("size", T),
                                                ("owner", T))),
    ("mz_internal", "mz_cluster_replica_statuses", _desc(("replica_id", T), ("process_id", I8), ("status", T),
                                                         ("reason", T), ("updated_at", TS))),
    ("mz_internal", "mz_cluster_replica_status_history", _desc(("replica_id", T), ("process_id", I8),
                                                               ("status", T), ("reason", T), ("occurred_at", TS))),
    # Materialize's columns, then progress (adapter/progress.py): rows of a known total and an estimate of the time left
    ("mz_internal", "mz_hydration_statuses", _desc(("object_id", T), ("replica_id", T), ("hydrated", B),
                                                   ("hydration_time", F8), ("rows_total", I8), ("rows_done", I8),
                                                   ("hydrating_for", F8), ("time_left_estimate", F8))),
    # Materialize's oid, schema_id and owner_id follow the columns steadystate had first
    ("mz_catalog", "mz_tables", _desc(("id", T), ("schema", T), ("name", T), ("owner", T), ("oid", I8),
                                      ("schema_id", T), ("owner_id", T), ("privileges", TA))),
    ("mz_catalog", "mz_views", _desc(("id", T), ("schema", T), ("name", T), ("definition", T), ("owner", T),
                                     ("oid", I8), ("schema_id", T), ("owner_id", T), ("privileges", TA))),
    ("mz_catalog", "mz_materialized_views", _desc(("id", T), ("schema", T), ("name", T), ("cluster_id", T),
                                                  ("definition", T), ("owner", T), ("oid", I8),
                                                  ("schema_id", T), ("owner_id", T), ("privileges", TA))),
    ("mz_catalog", "mz_indexes", _desc(("id", T), ("name", T), ("on_id", T), ("cluster_id", T), ("key", T),
                                       ("owner", T), ("oid", I8), ("create_sql", T))),
    ("mz_catalog", "mz_audit_events", _desc(("id", I8), ("event_type", T), ("object_type", T), ("details", T),
                                            ("user", T), ("occurred_at", TS))),
    ("mz_catalog", "mz_roles", _desc(("id", T), ("name", T), ("superuser", B))),
    ("mz_catalog", "mz_objects", _desc(("id", T), ("schema", T), ("name", T), ("type", T), ("cluster_id", T),
                                       ("oid", I8), ("schema_id", T), ("owner_id", T))),
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
                                     ("relowner", I8), ("relam", I8), ("relhasindex", B), ("relpersistence", T),
                                     ("relispartition", B), ("reloftype", I8), ("relnatts", I4), ("relchecks", I4),
                                     ("relhasrules", B), ("relhastriggers", B), ("relrowsecurity", B),
                                     ("relforcerowsecurity", B), ("reltablespace", I8), ("reloptions", T),
                                     ("relpartbound", T), ("reltoastrelid", I8), ("relreplident", T),
                                     ("reltuples", F8), ("relacl", T))),
    ("pg_catalog", "pg_index", _desc(("indexrelid", I8), ("indrelid", I8), ("indisprimary", B), ("indisunique", B),
                                     ("indisvalid", B), ("indisready", B), ("indislive", B), ("indisclustered", B),
                                     ("indnatts", I4), ("indnkeyatts", I4), ("indnullsnotdistinct", B),
                                     ("indpred", T), ("indexprs", T), ("indisreplident", B),
                                     # int2vector and oidvector: arrays where queries unnest them (oids are
                                     # int8 here); indoption, which clients read, in int2vector's text ("0 0")
                                     ("indkey", ScalarType.INT2_ARRAY), ("indclass", ScalarType.INT8_ARRAY),
                                     ("indoption", T), ("indcollation", ScalarType.INT8_ARRAY))),
    ("pg_catalog", "pg_roles", _desc(("oid", I8), ("rolname", T), ("rolsuper", B), ("rolinherit", B),
                                     ("rolcreaterole", B), ("rolcreatedb", B), ("rolcanlogin", B),
                                     ("rolreplication", B), ("rolconnlimit", I4), ("rolvaliduntil", TS),
                                     ("rolbypassrls", B))),
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
    # what SQLAlchemy, pandas, psycopg and psql read (adapter/pg_catalog.py); PostgreSQL's column names
    ("pg_catalog", "pg_type", _desc(("oid", I8), ("typname", T), ("typnamespace", I8), ("typowner", I8),
                                    ("typlen", I4), ("typbyval", B), ("typtype", T), ("typcategory", T),
                                    ("typdelim", T), ("typrelid", I8), ("typelem", I8), ("typarray", I8),
                                    ("typbasetype", I8), ("typtypmod", I4), ("typnotnull", B), ("typcollation", I8),
                                    ("typdefault", T))),
    ("pg_catalog", "pg_attribute", _desc(("attrelid", I8), ("attname", T), ("atttypid", I8), ("attnum", I4),
                                         ("attnotnull", B), ("atthasdef", B), ("attisdropped", B), ("atttypmod", I4),
                                         ("attlen", I4), ("attidentity", T), ("attgenerated", T),
                                         ("attcollation", I8))),
    ("pg_catalog", "pg_database", _desc(("oid", I8), ("datname", T), ("datdba", I8), ("encoding", I4),
                                        ("datcollate", T), ("datctype", T), ("datistemplate", B),
                                        ("datallowconn", B), ("datconnlimit", I4), ("daticulocale", T),
                                        ("datlocprovider", T), ("datacl", T))),
    ("pg_catalog", "pg_description", _desc(("objoid", I8), ("classoid", I8), ("objsubid", I4),
                                           ("description", T))),
    ("pg_catalog", "pg_constraint", _desc(("oid", I8), ("conname", T), ("connamespace", I8), ("contype", T),
                                          ("conrelid", I8), ("confrelid", I8), ("conindid", I8), ("conkey", T),
                                          ("confkey", T), ("condeferrable", B), ("condeferred", B),
                                          ("convalidated", B), ("conislocal", B), ("coninhcount", I4),
                                          ("contypid", I8))),
    ("pg_catalog", "pg_attrdef", _desc(("oid", I8), ("adrelid", I8), ("adnum", I4), ("adbin", T))),
    ("pg_catalog", "pg_inherits", _desc(("inhrelid", I8), ("inhparent", I8), ("inhseqno", I4),
                                        ("inhdetachpending", B))),
    ("pg_catalog", "pg_sequence", _desc(("seqrelid", I8), ("seqtypid", I8), ("seqstart", I8),
                                        ("seqincrement", I8), ("seqmax", I8), ("seqmin", I8), ("seqcache", I8),
                                        ("seqcycle", B))),
    ("pg_catalog", "pg_collation", _desc(("oid", I8), ("collname", T), ("collnamespace", I8))),
    ("pg_catalog", "pg_proc", _desc(("oid", I8), ("proname", T), ("pronamespace", I8), ("proowner", I8),
                                    ("prokind", T), ("proretset", B), ("prorettype", I8), ("proargtypes", T))),
    ("pg_catalog", "pg_extension", _desc(("oid", I8), ("extname", T), ("extowner", I8), ("extnamespace", I8),
                                         ("extversion", T))),
    ("pg_catalog", "pg_enum", _desc(("oid", I8), ("enumtypid", I8), ("enumsortorder", F8), ("enumlabel", T))),
    # what psql's \d NAME joins besides; empty (adapter/pg_catalog.py, sql/pg_compat.py ALWAYS_EMPTY)
    ("pg_catalog", "pg_policy", _desc(("oid", I8), ("polname", T), ("polrelid", I8), ("polcmd", T),
                                      ("polpermissive", B), ("polroles", T), ("polqual", T), ("polwithcheck", T))),
    ("pg_catalog", "pg_statistic_ext", _desc(("oid", I8), ("stxrelid", I8), ("stxname", T), ("stxnamespace", I8),
                                             ("stxowner", I8), ("stxstattarget", I4), ("stxkeys", T),
                                             ("stxkind", T), ("stxexprs", T))),
    ("pg_catalog", "pg_publication", _desc(("oid", I8), ("pubname", T), ("pubowner", I8), ("puballtables", B),
                                           ("pubinsert", B), ("pubupdate", B), ("pubdelete", B),
                                           ("pubtruncate", B), ("pubviaroot", B))),
    ("pg_catalog", "pg_publication_rel", _desc(("oid", I8), ("prpubid", I8), ("prrelid", I8), ("prqual", T),
                                               ("prattrs", T))),
    ("pg_catalog", "pg_publication_namespace", _desc(("oid", I8), ("pnpubid", I8), ("pnnspid", I8))),
    ("pg_catalog", "pg_trigger", _desc(("oid", I8), ("tgrelid", I8), ("tgparentid", I8), ("tgname", T),
                                       ("tgfoid", I8), ("tgtype", I4), ("tgenabled", T), ("tgisinternal", B),
                                       ("tgconstrrelid", I8), ("tgconstraint", I8))),
    ("pg_catalog", "pg_rewrite", _desc(("oid", I8), ("rulename", T), ("ev_class", I8), ("ev_type", T),
                                       ("ev_enabled", T), ("is_instead", B), ("ev_qual", T), ("ev_action", T))),
    ("pg_catalog", "pg_auth_members", _desc(("oid", I8), ("roleid", I8), ("member", I8), ("grantor", I8),
                                            ("admin_option", B))),
    # Materialize's names and columns (oids as int8; adapter/pg_catalog.py derives ids and oids)
    ("mz_catalog", "mz_databases", _desc(("id", T), ("oid", I8), ("name", T), ("owner_id", T), ("privileges", TA))),
    ("mz_catalog", "mz_schemas", _desc(("id", T), ("oid", I8), ("database_id", T), ("name", T), ("owner_id", T),
                                       ("privileges", TA))),
    # adapter/mz_catalog.py
    ("mz_catalog", "mz_relations", _desc(("id", T), ("oid", I8), ("schema_id", T), ("name", T), ("type", T),
                                         ("owner_id", T), ("cluster_id", T))),
    ("mz_catalog", "mz_index_columns", _desc(("index_id", T), ("index_position", I8), ("on_position", I8),
                                             ("on_expression", T), ("nullable", B))),
    ("mz_catalog", "mz_types", _desc(("id", T), ("oid", I8), ("schema_id", T), ("name", T), ("category", T),
                                     ("owner_id", T))),
    ("mz_internal", "mz_cluster_schedules", _desc(("cluster_id", T), ("type", T),
                                                  ("refresh_hydration_time_estimate", IV))),
    ("mz_internal", "mz_wallclock_global_lag", _desc(("object_id", T), ("lag", IV))),
    ("mz_internal", "mz_wallclock_lag_history", _desc(("object_id", T), ("replica_id", T), ("lag", IV),
                                                      ("occurred_at", TS))),
    ("mz_catalog", "mz_sources", _desc(("id", T), ("oid", I8), ("schema_id", T), ("name", T), ("type", T),
                                       ("connection_id", T), ("size", T), ("envelope_type", T), ("key_format", T),
                                       ("value_format", T), ("cluster_id", T), ("owner_id", T), ("create_sql", T))),
    ("mz_catalog", "mz_sinks", _desc(("id", T), ("oid", I8), ("schema_id", T), ("name", T), ("type", T),
                                     ("connection_id", T), ("size", T), ("envelope_type", T), ("format", T),
                                     ("cluster_id", T), ("owner_id", T), ("create_sql", T))),
    ("mz_internal", "mz_comments", _desc(("id", T), ("object_type", T), ("object_sub_id", I4), ("comment", T))),
    ("mz_catalog", "mz_role_members", _desc(("role_id", T), ("member", T), ("grantor", T))),
    # adapter/information_schema.py
    ("information_schema", "schemata", _desc(("catalog_name", T), ("schema_name", T), ("schema_owner", T))),
    ("information_schema", "tables", _desc(("table_catalog", T), ("table_schema", T), ("table_name", T),
                                           ("table_type", T))),
    ("information_schema", "columns", _desc(("table_catalog", T), ("table_schema", T), ("table_name", T),
                                            ("column_name", T), ("ordinal_position", I4), ("column_default", T),
                                            ("is_nullable", T), ("data_type", T), ("character_maximum_length", I4),
                                            ("numeric_precision", I4), ("numeric_scale", I4),
                                            ("datetime_precision", I4))),
    ("information_schema", "views", _desc(("table_catalog", T), ("table_schema", T), ("table_name", T),
                                          ("view_definition", T))),
    ("information_schema", "table_constraints", _desc(("constraint_catalog", T), ("constraint_schema", T),
                                                      ("constraint_name", T), ("table_catalog", T),
                                                      ("table_schema", T), ("table_name", T),
                                                      ("constraint_type", T))),
    ("information_schema", "key_column_usage", _desc(("constraint_catalog", T), ("constraint_schema", T),
                                                     ("constraint_name", T), ("table_catalog", T),
                                                     ("table_schema", T), ("table_name", T), ("column_name", T),
                                                     ("ordinal_position", I4))),
    # the COPY FROM statements running now (adapter/progress.py)
    ("mz_internal", "mz_copy_progress", _desc(("session_id", I4), ("table_id", T), ("user", T), ("phase", T),
                                              ("rows_received", I8), ("rows_per_second", F8), ("started_at", TS),
                                              ("updated_at", TS))),
    # ALTER DEFAULT PRIVILEGES (adapter/default_privileges.py); dbt-materialize's deploy_init copies them
    ("mz_internal", "mz_show_default_privileges", _desc(("object_owner", T), ("database", T), ("schema", T),
                                                        ("object_type", T), ("grantee", T), ("privilege_type", T))),
    # adapter/privileges.py: SHOW PRIVILEGES and SHOW ROLE MEMBERSHIP read these (Materialize's names)
    ("mz_internal", "mz_show_all_privileges", _desc(("grantor", T), ("grantee", T), ("database", T), ("schema", T),
                                                    ("name", T), ("object_type", T), ("privilege_type", T))),
    ("mz_internal", "mz_show_role_members", _desc(("role", T), ("member", T), ("grantor", T))),
    # the operator class of each scalar type, the one an index key of that type has (pg_index.indclass)
    ("pg_catalog", "pg_opclass", _desc(("oid", I8), ("opcmethod", I8), ("opcname", T), ("opcnamespace", I8),
                                       ("opcowner", I8), ("opcfamily", I8), ("opcintype", I8), ("opcdefault", B),
                                       ("opckeytype", I8))),
    # the session's variables (sql/settings.py; the planner reads the session's values, sql/joins.py)
    ("pg_catalog", "pg_settings", _desc(("name", T), ("setting", T), ("unit", T), ("category", T),
                                        ("short_desc", T), ("extra_desc", T), ("context", T), ("vartype", T),
                                        ("source", T), ("min_val", T), ("max_val", T), ("boot_val", T),
                                        ("reset_val", T), ("pending_restart", B))),
    # the functions the planner knows, one row per name (sql/function_catalog.py; adapter/mz_catalog.py)
    ("mz_catalog", "mz_functions", _desc(("id", T), ("oid", I8), ("schema_id", T), ("name", T),
                                         ("argument_type_ids", TA), ("variadic_argument_type_id", T),
                                         ("return_type_id", T), ("returns_set", B), ("owner_id", T))),
    # ALTER DEFAULT PRIVILEGES, Materialize's columns (adapter/default_privileges.py)
    ("mz_internal", "mz_default_privileges", _desc(("role_id", T), ("database_id", T), ("schema_id", T),
                                                   ("object_type", T), ("grantee", T), ("privileges", T))),
]

BUILTINS: tuple[BuiltinRelation, ...] = tuple(
    BuiltinRelation(make_id(IdKind.SYSTEM, n), schema, name, desc)
    for n, (schema, name, desc) in enumerate(_DEFINITIONS, start=1)
)
BUILTIN_BY_NAME: dict[str, BuiltinRelation] = {b.name: b for b in BUILTINS}
