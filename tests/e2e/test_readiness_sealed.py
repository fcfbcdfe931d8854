"""A sealed cluster, end to end: every refusal and every allowance of the production-readiness issue §2.

One environment holds two sealed clusters: ``prod`` (managed, two replicas) and ``prod_u`` (unmanaged, explicit
replicas, so that ``CREATE CLUSTER REPLICA`` would otherwise succeed).  Each runs an index on the view ``v`` and a
materialized view ``mv`` over the table ``t``.

* Every **refusal** must fail with SQLSTATE 55000, a message naming the cluster and the refused statement, and a
  hint naming ``ALTER CLUSTER "<cluster>" UNSEAL``; afterwards the catalog is unchanged and nothing ran.
* Every **allowance** must work while sealed and give correct answers (expected rows are computed by the test
  from what it wrote).
* Throughout, the sealed clusters' replicas stay exactly the ones sealing produced, and stay clean.
* Last, ``UNSEAL`` works and the cluster accepts DDL again.
"""

from __future__ import annotations

import psycopg
import pytest

ROWS = [(1, "a"), (2, "b"), (3, "c")]


@pytest.fixture(scope="module")
def sealed(shared_env):  # type: ignore[no-untyped-def]
    env = shared_env
    env.execute(
        "CREATE TABLE t (k int, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE TABLE other (x int)",
        "CREATE VIEW v AS SELECT k, v FROM t WHERE k > 0",
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE CLUSTER prod_u REPLICAS (a (SIZE 'small'), b (SIZE 'small'))",
        "CREATE INDEX v_prod_idx IN CLUSTER prod ON v (k)",
        "CREATE MATERIALIZED VIEW mv IN CLUSTER prod AS SELECT k, v FROM t WHERE k < 100",
        "CREATE INDEX v_u_idx IN CLUSTER prod_u ON v (k)",
        "CREATE MATERIALIZED VIEW mv_u IN CLUSTER prod_u AS SELECT k FROM t",
    )
    for name in ("prod", "prod_u"):
        env.wait_for(lambda name=name: len(env.replica_readiness(name)) == 2
                     and all(r[1] is not None for r in env.replica_readiness(name).values()))
    env.execute("ALTER CLUSTER prod SEAL", "ALTER CLUSTER prod_u SEAL")
    replicas = {name: env.cluster_replicas(name) for name in ("prod", "prod_u")}
    for name in ("prod", "prod_u"):
        env.wait_all_clean(name)
    return env, replicas


def objects(env) -> list[tuple]:  # type: ignore[no-untyped-def]
    return sorted(env.query("SELECT id, name, type, cluster_id FROM mz_catalog.mz_objects"))


def assert_still_sealed_and_clean(env, replicas) -> None:  # type: ignore[no-untyped-def]
    for name, expected in replicas.items():
        assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = %s", (name,)) == [(True,)]
        assert env.cluster_replicas(name) == expected, "the sealed cluster's replicas changed"
        readiness = env.replica_readiness(name)
        assert set(readiness) == set(expected.values())
        for replica_id, (clean, _since, dirtied_at, dirtied_by, error) in readiness.items():
            assert clean is True, f"replica {replica_id} of sealed cluster {name} is dirty: {dirtied_by}"
            assert (dirtied_at, dirtied_by, error) == (None, None, None)


# ---------------------------------------------------------------------------------------------- refusals

# (setup statements, refused statement, cluster named, words of the refused statement in the message)
REFUSALS = [
    ((), "CREATE INDEX i2 IN CLUSTER prod ON v (v)", "prod", "CREATE INDEX"),
    (("SET cluster = prod",), "CREATE INDEX i3 ON v (v)", "prod", "CREATE INDEX"),
    ((), "CREATE DEFAULT INDEX IN CLUSTER prod ON v", "prod", "CREATE INDEX"),
    ((), "CREATE MATERIALIZED VIEW mv2 IN CLUSTER prod AS SELECT k FROM t", "prod", "CREATE MATERIALIZED VIEW"),
    (("SET cluster = prod",), "CREATE MATERIALIZED VIEW mv3 AS SELECT k FROM t", "prod",
     "CREATE MATERIALIZED VIEW"),
    ((), "DROP INDEX v_prod_idx", "prod", "DROP INDEX"),
    ((), "DROP MATERIALIZED VIEW mv", "prod", "DROP MATERIALIZED VIEW"),
    ((), "DROP MATERIALIZED VIEW mv CASCADE", "prod", "DROP MATERIALIZED VIEW"),
    # cascades from objects that are on no cluster into objects on the sealed clusters
    ((), "DROP VIEW v CASCADE", "prod", "DROP"),
    ((), "DROP TABLE t CASCADE", "prod", "DROP"),
    ((), "CREATE CLUSTER REPLICA prod_u.c SIZE 'small'", "prod_u", "CREATE CLUSTER REPLICA"),
    ((), "DROP CLUSTER REPLICA prod_u.a", "prod_u", "DROP CLUSTER REPLICA"),
    ((), "DROP CLUSTER REPLICA prod.r1", "prod", "DROP CLUSTER REPLICA"),
    ((), "ALTER CLUSTER prod SET (REPLICATION FACTOR = 3)", "prod", "ALTER CLUSTER"),
    ((), "ALTER CLUSTER prod SET (REPLICATION FACTOR = 1)", "prod", "ALTER CLUSTER"),
    ((), "DROP CLUSTER prod CASCADE", "prod", "DROP CLUSTER"),
    ((), "DROP CLUSTER prod_u CASCADE", "prod_u", "DROP CLUSTER"),
    # queries that would need a new (transient) dataflow on the sealed cluster
    (("SET cluster = prod",), "SELECT count(*) FROM v", "prod", "SELECT"),
    (("SET cluster = prod",), "SELECT v.k, t.v FROM v JOIN t ON v.k = t.k", "prod", "SELECT"),
    (("SET cluster = prod_u",), "SELECT k, count(*) FROM t GROUP BY k", "prod_u", "SELECT"),
    (("SET cluster = prod",), "SUBSCRIBE TO v", "prod", "SUBSCRIBE"),
    (("SET cluster = prod",), "SUBSCRIBE (SELECT k FROM t)", "prod", "SUBSCRIBE"),
]


@pytest.mark.parametrize(("setup", "sql", "cluster", "words"), REFUSALS, ids=[r[1][:50] for r in REFUSALS])
def test_sealed_cluster_refuses(sealed, setup, sql: str, cluster: str, words: str) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    before = objects(env)
    with env.connect() as conn:
        for statement in setup:
            conn.execute(statement)
        with pytest.raises(psycopg.Error) as info:
            cursor = conn.execute(sql)
            if sql.startswith("SUBSCRIBE"):
                cursor.fetchone()
        error = info.value
        assert error.sqlstate == "55000", f"{error.sqlstate}: {error}"
        message = error.diag.message_primary or ""
        assert f'"{cluster}"' in message, message
        assert words in message, message
        assert f'ALTER CLUSTER "{cluster}" UNSEAL' in (error.diag.message_hint or ""), error.diag.message_hint
        # the connection keeps serving after the refusal
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
    assert objects(env) == before, "a refused statement changed the catalog"
    assert_still_sealed_and_clean(env, replicas)


def test_sealed_cluster_refuses_subscribe_inside_copy(sealed) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        with pytest.raises(psycopg.Error) as info:
            with conn.cursor().copy("COPY (SUBSCRIBE TO v) TO STDOUT") as copy:
                for _ in copy:
                    break
        error = info.value
        assert error.sqlstate == "55000", f"{error.sqlstate}: {error}"
        assert '"prod"' in (error.diag.message_primary or "") and "SUBSCRIBE" in (error.diag.message_primary or "")
        assert 'ALTER CLUSTER "prod" UNSEAL' in (error.diag.message_hint or "")
    assert_still_sealed_and_clean(env, replicas)


def test_sealed_cluster_allows_renaming_its_objects(sealed) -> None:  # type: ignore[no-untyped-def]
    """A rename changes names, not dataflows (a dataflow's fingerprint leaves its label out): it is allowed on a
    sealed cluster, as the blue/green promotion's schema swap needs, and the cluster stays sealed, clean and
    ready with an empty restart diff."""
    env, replicas = sealed
    before = objects(env)
    renames = [("INDEX", "v_prod_idx", "renamed_idx"), ("MATERIALIZED VIEW", "mv", "mv_renamed")]
    for kind, old, new in renames:
        env.execute(f"ALTER {kind} {old} RENAME TO {new}")
    after = {id_: name for id_, name, _type, _cluster in objects(env)}
    assert {after[id_] for id_, name, _t, _c in before if name in ("v_prod_idx", "mv")} == {"renamed_idx", "mv_renamed"}
    assert_still_sealed_and_clean(env, replicas)
    assert env.query("SELECT ready FROM mz_internal.mz_cluster_readiness r JOIN mz_catalog.mz_clusters c "
                     "ON c.id = r.cluster_id WHERE c.name = 'prod'") == [(True,)]
    for kind, old, new in renames:
        env.execute(f"ALTER {kind} {new} RENAME TO {old}")
    assert objects(env) == before


# ---------------------------------------------------------------------------------------------- allowances


def test_sealed_allows_fast_path_reads_of_its_indexes(sealed) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    for cluster in ("prod", "prod_u"):
        with env.connect() as conn:
            conn.execute(f"SET cluster = {cluster}")
            assert conn.execute("SELECT * FROM v ORDER BY k").fetchall() == ROWS
            assert conn.execute("SELECT v FROM v WHERE k = 2").fetchall() == [("b",)]
            assert conn.execute("SELECT k + 10, v FROM v WHERE v <> 'a' ORDER BY k").fetchall() == [
                (k + 10, v) for k, v in ROWS if v != "a"
            ]
            assert conn.execute("SELECT * FROM v ORDER BY k DESC LIMIT 1").fetchall() == [ROWS[-1]]
    assert_still_sealed_and_clean(env, replicas)


def test_sealed_allows_reads_of_its_materialized_views(sealed) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        assert conn.execute("SELECT * FROM mv ORDER BY k").fetchall() == ROWS
        assert conn.execute("SELECT v FROM mv WHERE k = 3").fetchall() == [("c",)]
        assert conn.execute("SELECT * FROM t ORDER BY k").fetchall() == ROWS  # a table: read from its shard
    assert env.query("SELECT k FROM mv_u ORDER BY k") == [(k,) for k, _ in ROWS]
    assert_still_sealed_and_clean(env, replicas)


def test_sealed_allows_writes_to_tables_its_dataflows_read(sealed) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    expected = dict(ROWS)
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        conn.execute("INSERT INTO t VALUES (4, 'd'), (5, 'e')")
        expected.update({4: "d", 5: "e"})
        conn.execute("UPDATE t SET v = 'B' WHERE k = 2")
        expected[2] = "B"
        conn.execute("DELETE FROM t WHERE k = 5")
        del expected[5]
        rows = sorted(expected.items())
        assert conn.execute("SELECT * FROM v ORDER BY k").fetchall() == rows
        assert conn.execute("SELECT * FROM mv ORDER BY k").fetchall() == rows
        conn.execute("SET cluster = prod_u")
        assert conn.execute("SELECT * FROM v ORDER BY k").fetchall() == rows
        assert conn.execute("SELECT k FROM mv_u ORDER BY k").fetchall() == [(k,) for k, _ in rows]
        # put the table back for the other tests
        conn.execute("DELETE FROM t WHERE k = 4")
        conn.execute("UPDATE t SET v = 'b' WHERE k = 2")
        assert conn.execute("SELECT * FROM mv ORDER BY k").fetchall() == ROWS
    assert_still_sealed_and_clean(env, replicas)


SHOW_AND_CATALOG = [
    "SHOW CLUSTERS",
    "SHOW CLUSTER REPLICAS",
    "SHOW INDEXES",
    "SHOW MATERIALIZED VIEWS",
    "SHOW TABLES",
    "SHOW cluster",
    "SELECT * FROM mz_catalog.mz_clusters",
    "SELECT * FROM mz_catalog.mz_indexes",
    "SELECT * FROM mz_internal.mz_cluster_replica_statuses",
    "SELECT * FROM mz_internal.mz_hydration_statuses",
    "SELECT * FROM mz_internal.mz_cluster_readiness",
    "SELECT count(*) FROM mz_catalog.mz_objects",
    "EXPLAIN SELECT count(*) FROM v",
    "EXPLAIN SELECT * FROM v WHERE k = 1",
    "EXPLAIN INDEX v_prod_idx",
    "EXPLAIN MATERIALIZED VIEW mv",
    "EXPLAIN RESTART CLUSTER prod",
]


@pytest.mark.parametrize("sql", SHOW_AND_CATALOG)
def test_sealed_allows_show_explain_and_catalog_queries(sealed, sql: str) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        rows = conn.execute(sql).fetchall()
    assert rows, f"{sql} returned nothing"
    assert_still_sealed_and_clean(env, replicas)


def test_sealed_shows_in_show_clusters_and_mz_clusters(sealed) -> None:  # type: ignore[no-untyped-def]
    env, _ = sealed
    with env.connect() as conn:
        cursor = conn.execute("SHOW CLUSTERS")
        columns = [c.name for c in cursor.description]
        assert "sealed" in columns
        sealed_column = columns.index("sealed")
        by_name = {row[0]: row[sealed_column] for row in cursor.fetchall()}
    assert by_name == {"quickstart": False, "prod": True, "prod_u": True}
    assert dict(env.query("SELECT name, sealed FROM mz_catalog.mz_clusters")) == by_name


def test_sealing_again_is_a_no_op(sealed) -> None:  # type: ignore[no-untyped-def]
    env, replicas = sealed
    env.execute("ALTER CLUSTER prod SEAL")
    assert_still_sealed_and_clean(env, replicas)


def test_explain_restart_of_sealed_cluster_is_identical(sealed) -> None:  # type: ignore[no-untyped-def]
    env, _ = sealed
    rows = env.query("EXPLAIN RESTART CLUSTER prod")
    (index_id,), = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'v_prod_idx'")
    (mv_id,), = env.query("SELECT id FROM mz_catalog.mz_materialized_views WHERE name = 'mv'")
    assert {(r[0], r[2]) for r in rows} == {(index_id, "identical"), (mv_id, "identical")}


def test_unseal_then_ddl_works_again(sealed) -> None:  # type: ignore[no-untyped-def]
    """Runs last in this module: it changes ``prod_u``."""
    env, replicas = sealed
    env.execute("ALTER CLUSTER prod_u UNSEAL")
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'prod_u'") == [(False,)]
    env.execute("CREATE INDEX v_u_idx2 IN CLUSTER prod_u ON v (v)")
    assert env.query("SELECT name FROM mz_catalog.mz_indexes WHERE name = 'v_u_idx2'") == [("v_u_idx2",)]
    # the new index dirties the unsealed cluster's replicas; prod stays sealed and clean
    readiness = env.wait_for(lambda: (r := env.replica_readiness("prod_u")) and
                             all(not x[0] for x in r.values()) and r)
    assert all("v_u_idx2" in x[3] for x in readiness.values())
    assert_still_sealed_and_clean(env, {"prod": replicas["prod"]})
    env.execute("DROP CLUSTER prod_u CASCADE")
    assert env.query("SELECT name FROM mz_catalog.mz_clusters WHERE name = 'prod_u'") == []
