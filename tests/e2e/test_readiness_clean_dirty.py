"""Clean and dirty replicas, end to end (production-readiness issue §1).

Each case gets its own cluster that starts **clean**: the cluster is created with no replica, its objects are
created (their dataflows go into the command history only), and then one replica is added, which receives them
in the replayed history before ``InitializationComplete`` — so it is clean in steady state.

* Every kind of replica-level DDL (CREATE INDEX, CREATE MATERIALIZED VIEW, DROP INDEX, DROP MATERIALIZED VIEW,
  slow-path SELECT, SUBSCRIBE) turns it dirty, with ``dirtied_by`` naming that statement and a 'dirty' row in
  the status history; the controller and the replica agree (``error`` stays NULL).
* No non-DDL command (fast-path SELECT on an index, SELECT on a materialized view, INSERT/UPDATE/DELETE, SHOW,
  catalog queries, EXPLAIN) changes it.  Because ``dirtied_by`` records the FIRST DDL, each of these cases ends
  with a marker CREATE INDEX and checks that the marker is what dirtied the replica.
* A replica killed with ``kill -9`` comes back clean; so do all replicas after a coordinator restart.
"""

from __future__ import annotations

import itertools
from typing import Callable

import pytest

_counter = itertools.count(1)


def history_rows(env, replica_id: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return env.query("SELECT process_id, status, reason FROM mz_internal.mz_cluster_replica_status_history "
                     "WHERE replica_id = %s AND status IN ('clean', 'dirty') ORDER BY occurred_at", (replica_id,))


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE t (k int, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE VIEW v AS SELECT k, v FROM t WHERE k > 0",
    )
    return shared_env


def clean_cluster(env, *objects: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A new one-replica cluster whose replica is clean, with ``objects`` ({c} = cluster name) on it."""
    name = f"cd{next(_counter)}"
    env.execute(f"CREATE CLUSTER {name} (SIZE = 'small', REPLICATION FACTOR = 0)",
                *(sql.format(c=name) for sql in objects),
                f"ALTER CLUSTER {name} SET (REPLICATION FACTOR = 1)")
    readiness = env.wait_all_clean(name)
    (replica_id,) = readiness
    clean, steady_since, dirtied_at, dirtied_by, error = readiness[replica_id]
    assert steady_since is not None and (dirtied_at, dirtied_by, error) == (None, None, None)
    return name, replica_id


def wait_dirty(env, name: str, replica_id: str) -> tuple:  # type: ignore[no-untyped-def]
    return env.wait_for(lambda: (r := env.replica_readiness(name).get(replica_id)) is not None and not r[0] and r)


def object_id(env, name: str) -> str:  # type: ignore[no-untyped-def]
    (oid,), = env.query("SELECT id FROM mz_catalog.mz_objects WHERE name = %s", (name,))
    return oid


# ---------------------------------------------------------------------------------------------- DDL dirties


def _create_index(env, c: str) -> str:  # type: ignore[no-untyped-def]
    env.execute(f"CREATE INDEX {c}_new_idx IN CLUSTER {c} ON v (v)")
    return f"CREATE INDEX materialize.public.{c}_new_idx ({object_id(env, f'{c}_new_idx')})"


def _create_mv(env, c: str) -> str:  # type: ignore[no-untyped-def]
    env.execute(f"CREATE MATERIALIZED VIEW {c}_new_mv IN CLUSTER {c} AS SELECT k FROM t")
    return f"CREATE MATERIALIZED VIEW materialize.public.{c}_new_mv ({object_id(env, f'{c}_new_mv')})"


def _drop_index(env, c: str) -> str:  # type: ignore[no-untyped-def]
    index_id = object_id(env, f"{c}_idx")
    env.execute(f"DROP INDEX {c}_idx")
    return f"DROP INDEX materialize.public.{c}_idx ({index_id})"


def _drop_mv(env, c: str) -> str:  # type: ignore[no-untyped-def]
    mv_id = object_id(env, f"{c}_mv")
    env.execute(f"DROP MATERIALIZED VIEW {c}_mv")
    return f"DROP MATERIALIZED VIEW materialize.public.{c}_mv ({mv_id})"


def _slow_path_select(env, c: str) -> str:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(3,)]
    return "SELECT"


def _subscribe(env, c: str) -> str:  # type: ignore[no-untyped-def]
    conn = env.connect()  # closed, not committed: leaving COPY OUT early leaves the connection busy
    try:
        conn.execute(f"SET cluster = {c}")
        with conn.cursor().copy("COPY (SUBSCRIBE TO t) TO STDOUT") as copy:
            for _ in copy.rows():
                break
    finally:
        conn.close()
    return "SUBSCRIBE"


DDL_CASES: dict[str, Callable] = {
    "create_index": _create_index,
    "create_materialized_view": _create_mv,
    "drop_index": _drop_index,
    "drop_materialized_view": _drop_mv,
    "slow_path_select": _slow_path_select,
    "subscribe": _subscribe,
}


@pytest.mark.parametrize("case", list(DDL_CASES))
def test_ddl_turns_clean_replica_dirty(world, case: str) -> None:  # type: ignore[no-untyped-def]
    env = world
    name, replica_id = clean_cluster(env, "CREATE INDEX {c}_idx IN CLUSTER {c} ON v (k)",
                                     "CREATE MATERIALIZED VIEW {c}_mv IN CLUSTER {c} AS SELECT k, v FROM t")
    before = history_rows(env, replica_id)
    assert [r[1] for r in before] == ["clean"] and before[0][2] == "entered steady state"
    expected = DDL_CASES[case](env, name)

    clean, steady_since, dirtied_at, dirtied_by, error = wait_dirty(env, name, replica_id)
    assert clean is False
    assert dirtied_by is not None and dirtied_by.startswith(expected), (dirtied_by, expected)
    assert dirtied_at is not None and dirtied_at >= steady_since
    assert error is None, f"controller and replica disagree: {error}"
    pid = env.replica_pids()[replica_id]
    after = env.wait_for(lambda: (h := history_rows(env, replica_id)) and h[-1][1] == "dirty" and h)
    assert after[:-1] == before
    assert after[-1] == (pid, "dirty", dirtied_by)
    verdict = env.query("SELECT reasons FROM mz_internal.mz_cluster_readiness WHERE cluster_id = %s",
                        (env.cluster_id(name),))
    assert dirtied_by in verdict[0][0]
    env.execute(f"DROP CLUSTER {name} CASCADE")


# ---------------------------------------------------------------------------------------------- non-DDL keeps clean


def _fast_path_index(env, c: str) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        assert conn.execute("SELECT * FROM v ORDER BY k").fetchall() == [(1, "a"), (2, "b"), (3, "c")]
        assert conn.execute("SELECT v FROM v WHERE k = 2").fetchall() == [("b",)]


def _select_mv(env, c: str) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        assert conn.execute(f"SELECT * FROM {c}_mv ORDER BY k").fetchall() == [(1, "a"), (2, "b"), (3, "c")]


def _writes(env, c: str) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        conn.execute("INSERT INTO t VALUES (9, 'z')")
        conn.execute("UPDATE t SET v = 'y' WHERE k = 9")
        assert conn.execute(f"SELECT * FROM {c}_mv WHERE k = 9").fetchall() == [(9, "y")]
        conn.execute("DELETE FROM t WHERE k = 9")
        assert conn.execute("SELECT * FROM v WHERE k = 9").fetchall() == []


def _show(env, c: str) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        for sql in ("SHOW CLUSTERS", "SHOW CLUSTER REPLICAS", "SHOW INDEXES", "SHOW MATERIALIZED VIEWS"):
            assert conn.execute(sql).fetchall()


def _catalog(env, c: str) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        for sql in ("SELECT * FROM mz_catalog.mz_clusters", "SELECT * FROM mz_internal.mz_cluster_replica_readiness",
                    "SELECT count(*) FROM mz_internal.mz_hydration_statuses",
                    "SELECT * FROM mz_internal.mz_cluster_readiness", "SELECT * FROM mz_catalog.mz_objects"):
            assert conn.execute(sql).fetchall()


def _explain(env, c: str) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {c}")
        for sql in ("EXPLAIN SELECT count(*) FROM t", f"EXPLAIN INDEX {c}_idx", f"EXPLAIN RESTART CLUSTER {c}"):
            assert conn.execute(sql).fetchall()


NON_DDL_CASES: dict[str, Callable] = {
    "fast_path_select_on_index": _fast_path_index,
    "select_on_materialized_view": _select_mv,
    "insert_update_delete": _writes,
    "show": _show,
    "catalog_queries": _catalog,
    "explain": _explain,
}


@pytest.mark.parametrize("case", list(NON_DDL_CASES))
def test_non_ddl_keeps_replica_clean(world, case: str) -> None:  # type: ignore[no-untyped-def]
    env = world
    name, replica_id = clean_cluster(env, "CREATE INDEX {c}_idx IN CLUSTER {c} ON v (k)",
                                     "CREATE MATERIALIZED VIEW {c}_mv IN CLUSTER {c} AS SELECT k, v FROM t")
    steady_since = env.replica_readiness(name)[replica_id][1]
    NON_DDL_CASES[case](env, name)
    assert env.replica_readiness(name)[replica_id] == (True, steady_since, None, None, None)

    # dirtied_by names the FIRST replica-level DDL: a marker DDL now must be what dirtied the replica
    marker = _create_index(env, name)
    clean, since_after, _at, dirtied_by, error = wait_dirty(env, name, replica_id)
    assert dirtied_by == marker, f"{case} dirtied the replica: {dirtied_by}"
    assert since_after == steady_since and error is None
    assert [r[1] for r in history_rows(env, replica_id)] == ["clean", "dirty"]
    env.execute(f"DROP CLUSTER {name} CASCADE")


# ---------------------------------------------------------------------------------------------- restarts


def test_replica_kill9_comes_back_clean(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    name, replica_id = clean_cluster(env, "CREATE INDEX {c}_idx IN CLUSTER {c} ON v (k)")
    marker = _create_index(env, name)
    assert wait_dirty(env, name, replica_id)[3] == marker
    old_pid = env.kill_replica(replica_id)
    try:
        new_pid = env.wait_for(lambda: (pid := env.replica_pids().get(replica_id)) not in (None, old_pid) and pid,
                               timeout=60)
        clean, steady_since, dirtied_at, dirtied_by, error = env.wait_all_clean(name, timeout=60)[replica_id]
        assert (dirtied_at, dirtied_by, error) == (None, None, None)
        history = env.wait_for(lambda: (h := history_rows(env, replica_id)) and h[-1][0] == new_pid and h,
                               timeout=60)
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}; pids now {env.replica_pids()} (killed {old_pid}); readiness "
            f"{env.replica_readiness(name)}; statuses "
            f"{env.query('SELECT * FROM mz_internal.mz_cluster_replica_statuses WHERE replica_id = %s', (replica_id,))}; "
            f"history {history_rows(env, replica_id)}"
        ) from None
    assert history[-1] == (new_pid, "clean", "entered steady state")
    assert (old_pid, "dirty", marker) in history
    # the replayed history still includes the index that dirtied it: it answers from it
    with env.connect() as conn:
        conn.execute(f"SET cluster = {name}")
        assert conn.execute("SELECT k FROM v WHERE v = 'b'").fetchall() == [(2,)]
    assert env.replica_readiness(name)[replica_id][0] is True
    env.execute(f"DROP CLUSTER {name} CASCADE")


def test_coordinator_restart_makes_every_replica_clean(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE t (k int)",
        "INSERT INTO t VALUES (1), (2)",
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
    )
    env.wait_all_clean("prod")
    env.execute("CREATE INDEX t_idx IN CLUSTER prod ON t (k)")
    env.wait_for(lambda: all(not r[0] for r in env.replica_readiness("prod").values()))
    env.restart()
    readiness = env.wait_all_clean("prod")
    assert len(readiness) == 2
    assert all(r[2:] == (None, None, None) for r in readiness.values())
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (2,)]


def test_sealed_survives_coordinator_restart_clean_and_ready(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE t (k int)", "INSERT INTO t VALUES (1)",
                "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)")
    env.wait_all_clean("prod")
    env.execute("CREATE INDEX t_idx IN CLUSTER prod ON t (k)")
    env.wait_for(lambda: all(not r[0] for r in env.replica_readiness("prod").values()))
    env.restart()
    env.wait_all_clean("prod")
    env.execute("ALTER CLUSTER prod SEAL WITH (RESTART = false)")  # clean after the restart: no replacement needed
    env.restart(hard=True)
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'prod'") == [(True,)]
    env.wait_all_clean("prod")
    (cluster_id,) = env.cluster_id("prod"),
    env.wait_for(lambda: env.query("SELECT sealed, ready, reasons FROM mz_internal.mz_cluster_readiness "
                                   "WHERE cluster_id = %s", (cluster_id,)) == [(True, True, "")])
    with pytest.raises(Exception) as info:
        env.execute("CREATE INDEX t_idx2 IN CLUSTER prod ON t (k)")
    assert getattr(info.value, "sqlstate", None) == "55000"
