"""A statement that fails changes nothing, and one object that cannot be planned cannot stop a start-up.

* Every failing CREATE / DROP / ALTER below leaves the catalog (every system relation that describes it, the
  audit log, the id counters), storage (the shards) and the replicas (the dataflows they run and their
  clean/dirty state) exactly as they were; afterwards a restart of the whole server works and the readiness
  verdict answers.  The first two statements used to commit an index or materialized view that no start-up could
  plan: every later start failed.
* A catalog that holds an object no start-up can plan (written by an older version, or by a bug) still starts:
  the object is listed in ``mz_internal.mz_failed_objects``, is a readiness reason, blocks SEAL, and can be
  dropped; everything else is served.
"""

from __future__ import annotations

import urllib.request

import psycopg
import pytest

from steadystate.catalog.durable import DurableCatalog
from steadystate.catalog.records import ItemRecord
from steadystate.expr.ir import ColumnRef

FAILING = [
    # planning the dataflow fails: a system relation in a maintained dataflow (committed before the fix)
    ("CREATE INDEX sv_idx ON sv (id)", "0A000"),
    ("CREATE MATERIALIZED VIEW smv AS SELECT id FROM mz_catalog.mz_clusters", "0A000"),
    ("CREATE MATERIALIZED VIEW smv2 IN CLUSTER dev AS SELECT s.id FROM sv s JOIN t ON true", "0A000"),
    ("CREATE TABLE t (a int)", "42P07"),
    ("CREATE INDEX ON nosuch (a)", "42P01"),
    ("CREATE INDEX t_a_idx2 IN CLUSTER prod ON t (a)", "55000"),  # prod is sealed
    ("CREATE MATERIALIZED VIEW mv2 IN CLUSTER prod AS SELECT a FROM t", "55000"),
    ("DROP TABLE t", "2BP01"),
    ("DROP INDEX t_prod_idx", "55000"),
    ("DROP TABLE t CASCADE", "55000"),  # would cascade into the sealed cluster
    ("DROP VIEW nosuch", "42P01"),
    ("CREATE CLUSTER dev (SIZE = 'small')", "42710"),
    ("CREATE CLUSTER big (SIZE = 'enormous')", "22023"),
    ("CREATE CLUSTER REPLICA dev.r9 SIZE 'small'", "55000"),  # dev is managed
    ("DROP CLUSTER REPLICA dev.nosuch", "42704"),
    ("DROP CLUSTER dev", "2BP01"),
    ("DROP CLUSTER prod CASCADE", "55000"),
    ("ALTER CLUSTER dev SET (SIZE = 'enormous')", "22023"),
    ("ALTER CLUSTER dev SET (COLOR = 'red')", "0A000"),
    ("ALTER CLUSTER prod SET (REPLICATION FACTOR = 2)", "55000"),
    ("ALTER CLUSTER dev SET (SIZE = 'small') WITH (WAIT UNTIL READY (TIMEOUT = '10s'))", "0A000"),
    ("ALTER CLUSTER dev SET (SIZE = 'medium') WITH (WAIT UNTIL READY (ON TIMEOUT = 'MAYBE'))", "22023"),
    ("ALTER CLUSTER dev OWNER TO nobody", "42704"),
    ("ALTER CLUSTER prod OWNER TO materialize", "55000"),
    ("ALTER CLUSTER empty SEAL", "55000"),  # no replicas
    ("DROP ROLE nobody", "42704"),
    ("CREATE ROLE materialize", "42710"),
]

SNAPSHOT_QUERIES = [
    "SELECT id, schema, name, type, cluster_id FROM mz_catalog.mz_objects",
    "SELECT id, name, managed, size, replication_factor, sealed, owner FROM mz_catalog.mz_clusters",
    "SELECT id, name, cluster_id, size, owner FROM mz_catalog.mz_cluster_replicas",
    "SELECT id, name, superuser FROM mz_catalog.mz_roles",
    "SELECT object_id, shard FROM mz_internal.mz_storage_shards",
    "SELECT count(*) FROM mz_catalog.mz_audit_events",
    "SELECT object_id, replica_id FROM mz_internal.mz_hydration_statuses",
    "SELECT replica_id, clean, dirtied_by, error FROM mz_internal.mz_cluster_replica_readiness",
    "SELECT * FROM mz_internal.mz_failed_objects",
    "SELECT * FROM mz_internal.mz_pending_reconfigurations",
]


def snapshot(env) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    return {q: sorted(env.query(q), key=repr) for q in SNAPSHOT_QUERIES}


def test_failed_statements_change_nothing_and_restarts_keep_working(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE t (a int, b text)",
        "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
        "CREATE VIEW sv AS SELECT id, name FROM mz_catalog.mz_clusters",
        "CREATE CLUSTER dev (SIZE = 'small')",
        "CREATE CLUSTER prod (SIZE = 'small')",
        "CREATE CLUSTER empty (SIZE = 'small', REPLICATION FACTOR = 0)",
        "CREATE VIEW tv AS SELECT a, b FROM t WHERE a > 0",
        "CREATE INDEX tv_dev_idx IN CLUSTER dev ON tv (a)",
        "CREATE INDEX t_prod_idx IN CLUSTER prod ON t (a)",
    )
    env.wait_all_clean("prod")
    env.execute("ALTER CLUSTER prod SEAL")
    env.wait_for(lambda: env.query("SELECT count(*) FROM mz_internal.mz_hydration_statuses WHERE hydrated")
                 == [(len(env.query("SELECT * FROM mz_internal.mz_hydration_statuses")),)])
    before = snapshot(env)
    (max_id,), = env.query("SELECT max(substr(id, 2)::int) FROM mz_catalog.mz_objects WHERE id LIKE 'u%'")

    with env.connect() as conn:
        for statement, sqlstate in FAILING:
            with pytest.raises(psycopg.Error) as info:
                conn.execute(statement)
            assert info.value.sqlstate == sqlstate, (statement, info.value.sqlstate, str(info.value))

    assert snapshot(env) == before
    # no id was used up by a failed statement
    env.execute("CREATE TABLE after_failures (x int)")
    assert env.query("SELECT id FROM mz_catalog.mz_tables WHERE name = 'after_failures'") == [(f"u{max_id + 1}",)]

    # the environment restarts (the failed CREATE INDEX used to stop every later start-up) and answers
    env.restart(hard=True)
    assert env.query("SELECT * FROM mz_internal.mz_failed_objects") == []
    assert env.query("SELECT a, b FROM tv ORDER BY a") == [(1, "x"), (2, "y")]
    with urllib.request.urlopen(env.http_request("/api/readiness"), timeout=5) as response:
        assert response.status == 200
    assert len(env.query("SELECT * FROM mz_internal.mz_cluster_readiness")) == 4
    env.wait_for(lambda: env.query("SELECT ready FROM mz_internal.mz_cluster_readiness WHERE cluster_id = %s",
                                   (env.cluster_id("prod"),)) == [(True,)], timeout=30)


def test_start_up_survives_an_object_it_cannot_plan(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE t (a int)",
        "INSERT INTO t VALUES (1), (2), (3)",
        "CREATE VIEW sv AS SELECT id, name FROM mz_catalog.mz_clusters",
        "CREATE VIEW tv AS SELECT a FROM t",
        "CREATE INDEX tv_idx ON tv (a)",
    )
    (sv_id,), = env.query("SELECT id FROM mz_catalog.mz_views WHERE name = 'sv'")
    (cluster_id,), = env.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = 'quickstart'")
    env.stop()
    env.reap_replicas()

    # a catalog written by an older version (or a bug): an index no start-up can plan
    catalog = DurableCatalog(str(env.data_dir / "catalog.db"))
    with catalog.transact("materialize") as txn:
        txn.put(ItemRecord(f"u{txn.next_id('item')}", "materialize", "public", "sv_idx", "index", "materialize",
                           cluster_id=cluster_id, on_id=sv_id, key=(ColumnRef(0),), key_names=("id",),
                           depends_on=(sv_id,)))
    catalog.close()

    env.start()
    rows = env.query("SELECT name, type, cluster_id, error FROM mz_internal.mz_failed_objects")
    assert [(r[0], r[1], r[2]) for r in rows] == [("materialize.public.sv_idx", "index", cluster_id)]
    assert "cannot be used in a maintained dataflow" in rows[0][3]
    # everything else is served
    assert env.query("SELECT a FROM tv ORDER BY a") == [(1,), (2,), (3,)]
    (reasons,), = env.query("SELECT reasons FROM mz_internal.mz_cluster_readiness WHERE cluster_id = %s",
                            (cluster_id,))
    assert "sv_idx" in reasons and "cannot be planned at start-up" in reasons
    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER quickstart SEAL")
    assert info.value.sqlstate == "55000" and "sv_idx" in (info.value.diag.message_detail or "")

    env.execute("DROP INDEX sv_idx")
    assert env.query("SELECT * FROM mz_internal.mz_failed_objects") == []
    env.restart()
    assert env.query("SELECT * FROM mz_internal.mz_failed_objects") == []
    assert env.query("SELECT name FROM mz_catalog.mz_indexes ORDER BY name") == [("tv_idx",)]
