"""Coordinator ``kill -9`` with replicas alive: the same replica processes serve, nothing is rehydrated.

Replicas run in their own session and outlive the coordinator.  A restarted coordinator adopts them (same
pids), and each replica *reconciles*: it keeps every dataflow whose description matches the replayed history
(``mz_internal.mz_dataflow_reconciliation`` reports kept == the number of index/MV dataflows, rebuilt == 0)
and so answers index queries without hydrating anything again (each dataflow's hydration time, which the replica
measures when it builds the dataflow, is unchanged in ``mz_internal.mz_compute_hydration_times``).  A replica
that died while the coordinator was down is re-created; replicas of a dropped cluster do not linger; with a short
``--orphan-timeout`` replicas exit by themselves when no coordinator comes back.
"""

from __future__ import annotations

import os
import signal

def replica_of(env, cluster: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(env.cluster_replicas(cluster).values())


def hydrated(env, object_id: str, replica_id: str) -> bool:  # type: ignore[no-untyped-def]
    rows = env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses "
                     "WHERE object_id = %s AND replica_id = %s", (object_id, replica_id))
    return rows == [(True,)]


def object_id(env, catalog_table: str, name: str) -> str:  # type: ignore[no-untyped-def]
    (oid,), = env.query(f"SELECT id FROM mz_catalog.{catalog_table} WHERE name = %s", (name,))
    return oid


def hydration_times(env, replica_id: str, object_ids) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    """How long the replica took to hydrate each of the objects (``mz_compute_hydration_times``).  The replica
    measures it when it builds a dataflow, so a dataflow built again has a new time: an unchanged time is a kept
    dataflow."""
    times = {r[0]: r[1] for r in env.query("SELECT object_id, hydration_time_ms FROM "
                                           "mz_internal.mz_compute_hydration_times WHERE replica_id = %s",
                                           (replica_id,))}
    return {oid: times.get(oid) for oid in object_ids}


def reconciliation(env) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    return {r[0]: (r[1], r[2]) for r in env.query(
        "SELECT replica_id, kept, rebuilt FROM mz_internal.mz_dataflow_reconciliation")}


def reconciled(env, replica_id: str):  # type: ignore[no-untyped-def]
    """(kept, rebuilt) of a replica once it has reported a reconciliation (a status before it says 0, 0)."""
    return env.wait_for(lambda: (r := reconciliation(env).get(replica_id)) and sum(r) > 0 and r)


def build_world(env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Two index dataflows and one MV dataflow on ``quickstart``; returns their object ids."""
    env.execute(
        "CREATE TABLE orders (id int, customer text, amount int)",
        "INSERT INTO orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5)",
        "CREATE VIEW big AS SELECT id, customer, amount FROM orders WHERE amount > 6",
        "CREATE INDEX big_idx ON big (customer)",
        "CREATE VIEW totals AS SELECT customer, sum(amount) AS total FROM orders GROUP BY customer",
        "CREATE INDEX totals_idx ON totals (customer)",
        "CREATE MATERIALIZED VIEW ann_mv AS SELECT id, amount FROM orders WHERE customer = 'ann'",
    )
    return {
        "big_idx": object_id(env, "mz_indexes", "big_idx"),
        "totals_idx": object_id(env, "mz_indexes", "totals_idx"),
        "ann_mv": object_id(env, "mz_materialized_views", "ann_mv"),
    }


def test_coordinator_kill9_adopts_replicas_and_keeps_every_dataflow(env) -> None:  # type: ignore[no-untyped-def]
    ids = build_world(env)
    (replica_id,) = replica_of(env, "quickstart")
    for oid in ids.values():
        env.wait_for(lambda oid=oid: hydrated(env, oid, replica_id))
    # A change made just before the crash: acknowledged, so it must be there afterwards.
    env.execute("INSERT INTO orders VALUES (4, 'cy', 40)", "DELETE FROM orders WHERE id = 2")
    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (4, "cy", 40)]
    pids_before = env.replica_pids()
    times_before = hydration_times(env, replica_id, ids.values())
    assert None not in times_before.values()

    env.restart(hard=True)

    # Index queries answer at once (no wait for hydration) and reflect the last acknowledged writes.
    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (4, "cy", 40)]
    assert env.query("SELECT * FROM totals ORDER BY customer") == [("ann", 15), ("cy", 40)]
    assert env.query("SELECT * FROM ann_mv ORDER BY id") == [(1, 10), (3, 5)]
    assert env.replica_pids() == pids_before, "the restarted coordinator must adopt the running replicas"

    kept_rebuilt = reconciled(env, replica_id)
    assert kept_rebuilt == (len(ids), 0)
    assert hydration_times(env, replica_id, ids.values()) == times_before, "a kept dataflow must not hydrate again"
    for oid in ids.values():
        assert hydrated(env, oid, replica_id)

    # The adopted replica keeps maintaining.
    env.execute("INSERT INTO orders VALUES (5, 'ann', 50)")
    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (4, "cy", 40), (5, "ann", 50)]
    assert env.query("SELECT * FROM ann_mv ORDER BY id") == [(1, 10), (3, 5), (5, 50)]
    assert env.replica_processes() == sorted(pids_before.items())


def test_catalog_change_before_crash_is_reconciled(env) -> None:  # type: ignore[no-untyped-def]
    """An index created and another dropped right before ``kill -9``: the adopted replica agrees."""
    ids = build_world(env)
    (replica_id,) = replica_of(env, "quickstart")
    env.execute("DROP INDEX totals_idx", "CREATE VIEW small AS SELECT id FROM orders WHERE amount <= 6",
                "CREATE INDEX small_idx ON small (id)")
    # the replica must have applied the changes before the crash, or there is nothing to reconcile
    small_idx = object_id(env, "mz_indexes", "small_idx")
    env.wait_for(lambda: hydrated(env, small_idx, replica_id))
    pids_before = env.replica_pids()

    env.restart(hard=True)

    assert env.query("SELECT * FROM small") == [(3,)]
    assert [r[0] for r in env.query("SHOW INDEXES")].count("totals_idx") == 0
    assert env.replica_pids() == pids_before
    kept, rebuilt = reconciled(env, replica_id)
    # big_idx, ann_mv and small_idx survive; totals_idx is gone from the history and must not be kept
    assert (kept, rebuilt) == (3, 0)
    assert ids["totals_idx"] not in {r[0] for r in env.query(
        "SELECT object_id FROM mz_internal.mz_hydration_statuses WHERE replica_id = %s", (replica_id,))}


def test_replica_that_died_while_coordinator_was_down_is_recreated(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE t (k int, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE VIEW tv AS SELECT k, v FROM t",
        "CREATE INDEX tv_idx IN CLUSTER prod ON tv (k)",
    )
    survivor, victim = replica_of(env, "prod")
    index_id = object_id(env, "mz_indexes", "tv_idx")
    for rid in (survivor, victim):
        env.wait_for(lambda rid=rid: hydrated(env, index_id, rid))
    pids_before = env.replica_pids()

    env.kill9()
    os.kill(pids_before[victim], signal.SIGKILL)
    env.wait_for(lambda: victim not in env.replica_pids())
    env.start()

    new_pid = env.wait_for(lambda: (p := env.replica_pids().get(victim)) not in (None, pids_before[victim]) and p)
    assert env.replica_pids()[survivor] == pids_before[survivor]
    env.wait_for(lambda: hydrated(env, index_id, victim))
    assert reconciled(env, survivor) == (1, 0)
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        conn.execute("SET cluster_replica = %s" % _quote(_replica_name(env, "prod", victim)))
        assert conn.execute("SELECT * FROM tv ORDER BY k").fetchall() == [(1, "a"), (2, "b")]
    assert sorted(env.replica_processes()) == sorted({**pids_before, victim: new_pid}.items())


def test_replicas_of_a_dropped_cluster_do_not_linger(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER gone (SIZE = 'small', REPLICATION FACTOR = 2)",
                "CREATE CLUSTER kept (SIZE = 'small', REPLICATION FACTOR = 1)")
    gone = replica_of(env, "gone")
    env.wait_for(lambda: set(gone) <= set(env.replica_pids()))
    env.execute("DROP CLUSTER gone")
    env.restart(hard=True)  # right after the acknowledgement
    expected = sorted(r[0] for r in env.query("SELECT id FROM mz_catalog.mz_cluster_replicas"))
    env.wait_for(lambda: [rid for rid, _ in env.replica_processes()] == expected)
    assert not set(gone) & {rid for rid, _ in env.replica_processes()}
    assert not any((env.data_dir / "replicas" / rid).exists() for rid in gone)


def test_replicas_exit_when_no_coordinator_comes_back(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("--orphan-timeout", "2")
    env.execute("CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 2)")
    env.wait_for(lambda: len(env.replica_processes()) == 3)
    env.kill9()
    assert len(env.replica_processes()) == 3, "replicas outlive the coordinator"
    env.wait_for(lambda: env.replica_processes() == [], timeout=30)


def _replica_name(env, cluster: str, replica_id: str) -> str:  # type: ignore[no-untyped-def]
    return next(name for name, rid in env.cluster_replicas(cluster).items() if rid == replica_id)


def _quote(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"
