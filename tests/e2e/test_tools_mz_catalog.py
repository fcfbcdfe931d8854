"""Materialize's catalog relations that dbt-materialize and other tools read, with Materialize's column names:
``mz_relations``, ``mz_index_columns``, ``mz_types``, ``mz_cluster_schedules``, the freshness relations
``mz_wallclock_global_lag`` and ``mz_wallclock_lag_history``, and the ones empty here (``mz_sources``,
``mz_sinks``, ``mz_comments``, ``mz_role_members``).  Answers are compared with what the test created and with
the other introspection relations; they join with each other like any relation.
"""

from __future__ import annotations

import datetime as dt


def test_relations_index_columns_and_types(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE SCHEMA mzc", "CREATE TABLE mzc.t (a int NOT NULL, b text)",
                       "CREATE VIEW mzc.v AS SELECT b FROM mzc.t",
                       "CREATE MATERIALIZED VIEW mzc.mv AS SELECT count(*) AS n FROM mzc.t",
                       "CREATE INDEX mzc_t_ba ON mzc.t (b, a)")
    rows = shared_env.query(
        "SELECT r.name, r.type FROM mz_catalog.mz_relations r JOIN mz_catalog.mz_schemas s ON s.id = r.schema_id "
        "WHERE s.name = 'mzc' ORDER BY r.name")
    assert rows == [("mv", "materialized-view"), ("t", "table"), ("v", "view")]
    # the joins dbt-materialize makes: objects to their schema and database by id, owners to roles
    assert shared_env.query(
        "SELECT d.name, s.name, t.name, r.name FROM mz_catalog.mz_tables t "
        "JOIN mz_catalog.mz_schemas s ON s.id = t.schema_id JOIN mz_catalog.mz_databases d ON d.id = s.database_id "
        "JOIN mz_catalog.mz_roles r ON r.id = t.owner_id WHERE s.name = 'mzc'") == [
        ("materialize", "mzc", "t", "materialize")]
    for relation in ("mz_views", "mz_materialized_views", "mz_objects"):
        assert shared_env.query(
            f"SELECT o.oid = c.oid FROM mz_catalog.{relation} o JOIN mz_catalog.mz_schemas s ON s.id = o.schema_id "
            f"JOIN pg_catalog.pg_class c ON c.relname = o.name WHERE s.name = 'mzc' AND o.name = 'mv' OR "
            f"s.name = 'mzc' AND o.name = 'v' AND '{relation}' = 'mz_views'") == [(True,)]
    columns = shared_env.query(
        "SELECT ic.index_position, ic.on_position, ic.on_expression, ic.nullable FROM mz_catalog.mz_index_columns ic "
        "JOIN mz_catalog.mz_indexes i ON i.id = ic.index_id WHERE i.name = 'mzc_t_ba' ORDER BY 1")
    assert columns == [(1, 2, None, True), (2, 1, None, False)]
    types = dict(shared_env.query("SELECT name, oid FROM mz_catalog.mz_types"))
    assert types["int4"] == 23 and types["text"] == 25 and types["bool"] == 16
    for empty in ("mz_catalog.mz_sources", "mz_catalog.mz_sinks", "mz_internal.mz_comments",
                  "mz_catalog.mz_role_members"):
        assert shared_env.query(f"SELECT count(*) FROM {empty}") == [(0,)]
    clusters = {c for (c,) in shared_env.query("SELECT id FROM mz_catalog.mz_clusters")}
    schedules = shared_env.query("SELECT cluster_id, type FROM mz_internal.mz_cluster_schedules")
    assert {c for c, _ in schedules} == clusters and {t for _, t in schedules} == {"manual"}


def test_wallclock_lag(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE lag_t (a int)", "CREATE INDEX lag_t_a ON lag_t (a)",
                       "INSERT INTO lag_t VALUES (1)")
    (index_id,), = shared_env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'lag_t_a'")
    shared_env.wait_for(lambda: shared_env.query(
        "SELECT count(*) FROM mz_internal.mz_wallclock_global_lag WHERE object_id = %s", (index_id,)) == [(1,)])
    (lag,), = shared_env.query("SELECT lag FROM mz_internal.mz_wallclock_global_lag WHERE object_id = %s",
                               (index_id,))
    assert isinstance(lag, dt.timedelta) and lag >= dt.timedelta(0)
    replicas = set(shared_env.cluster_replicas("quickstart").values())

    def history() -> list[tuple[str, dt.timedelta, dt.datetime]]:
        return shared_env.query("SELECT h.replica_id, h.lag, h.occurred_at FROM mz_internal.mz_wallclock_lag_history h "
                                "WHERE h.object_id = %s", (index_id,))

    # the coordinator samples every second into per-minute bins: each replica's row appears at its first sample
    shared_env.wait_for(lambda: {r for r, _, _ in history()} == replicas)
    rows = history()
    assert min(h for _, h, _ in rows) >= dt.timedelta(0)
    assert all(at.second == 0 and at.microsecond == 0 for _, _, at in rows)  # a minute's start


def test_information_schema(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE SCHEMA inf", "CREATE TABLE inf.t (id int NOT NULL, code varchar(5), amt numeric(10,2))",
                       "CREATE VIEW inf.v AS SELECT id FROM inf.t")
    assert ("materialize", "inf") in shared_env.query(
        "SELECT catalog_name, schema_name FROM information_schema.schemata")
    assert shared_env.query("SELECT table_name, table_type FROM information_schema.tables "
                            "WHERE table_schema = 'inf' ORDER BY table_name") == [("t", "BASE TABLE"), ("v", "VIEW")]
    assert shared_env.query(
        "SELECT column_name, ordinal_position, is_nullable, data_type, character_maximum_length, numeric_precision, "
        "numeric_scale FROM information_schema.columns WHERE table_schema = 'inf' AND table_name = 't' "
        "ORDER BY ordinal_position") == [
        ("id", 1, "NO", "integer", None, None, None),
        ("code", 2, "YES", "character varying", 5, None, None),
        ("amt", 3, "YES", "numeric", None, 10, 2),
    ]
    (definition,), = shared_env.query("SELECT view_definition FROM information_schema.views "
                                      "WHERE table_schema = 'inf' AND table_name = 'v'")
    assert "inf.t" in definition
    assert shared_env.query("SELECT count(*) FROM information_schema.table_constraints "
                            "WHERE table_schema = 'inf'") == [(0,)]
