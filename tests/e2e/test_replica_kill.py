"""Replica ``kill -9``: noticed, restarted by the orchestrator, recorded, rehydrated from storage.

A replica process is killed with SIGKILL while the coordinator keeps running.  Without any manual
step a new process (new pid) must take its place, the status history must show the replica going
offline with reason "killed by signal 9" and coming back online, and queries on the index (and on a
materialized view maintained by that cluster) must answer correctly again, including writes made while
the replica was down.  The log file must record the crash and the restart.
"""

from __future__ import annotations

HISTORY = ("SELECT replica_id, process_id, status, reason FROM mz_internal.mz_cluster_replica_status_history "
           "WHERE replica_id = %s")


def quickstart_replica(env) -> str:  # type: ignore[no-untyped-def]
    (cluster_id,), = env.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = 'quickstart'")
    (replica_id,), = env.query("SELECT id FROM mz_catalog.mz_cluster_replicas WHERE cluster_id = %s",
                               (cluster_id,))
    return replica_id


def hydrated(env, object_id: str, replica_id: str) -> bool:  # type: ignore[no-untyped-def]
    rows = env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses "
                     "WHERE object_id = %s AND replica_id = %s", (object_id, replica_id))
    return rows == [(True,)]


def test_replica_kill9_restarted_recorded_and_rehydrated(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE orders (id int, customer text, amount int)",
        "INSERT INTO orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5)",
        "CREATE VIEW big AS SELECT id, customer, amount FROM orders WHERE amount > 6",
        "CREATE INDEX big_idx ON big (customer)",
    )
    replica_id = quickstart_replica(env)
    (index_id,), = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'big_idx'")
    env.wait_for(lambda: hydrated(env, index_id, replica_id))
    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (2, "bob", 20)]

    old_pid = env.kill_replica(replica_id)
    # Writes keep being accepted while the replica is down (the coordinator owns table writes).
    env.execute("INSERT INTO orders VALUES (4, 'cy', 40)", "DELETE FROM orders WHERE id = 1")

    new_pid = env.wait_for(lambda: (pid := env.replica_pids().get(replica_id)) not in (None, old_pid) and pid)
    assert new_pid != old_pid
    assert env.replica_processes() == [(replica_id, new_pid)]

    def offline_then_online() -> list[tuple] | None:
        history = env.query(HISTORY, (replica_id,))
        offline = [i for i, h in enumerate(history) if h[1] == old_pid and h[2] == "offline"]
        online = [i for i, h in enumerate(history) if h[1] == new_pid and h[2] == "online"]
        return history if offline and online and offline[0] < online[-1] else None

    history = env.wait_for(offline_then_online)
    offline_rows = [h for h in history if h[1] == old_pid and h[2] == "offline"]
    assert "killed by signal 9" in offline_rows[0][3]
    assert [h for h in history if h[1] == old_pid and h[2] == "online"], "the first start is recorded too"

    env.wait_for(lambda: env.query("SELECT status, process_id FROM mz_internal.mz_cluster_replica_statuses "
                                   "WHERE replica_id = %s", (replica_id,)) == [("online", new_pid)])
    env.wait_for(lambda: hydrated(env, index_id, replica_id))
    # Rehydrated from storage: the rows written while the replica was dead are there.
    assert env.query("SELECT * FROM big ORDER BY id") == [(2, "bob", 20), (4, "cy", 40)]
    env.execute("UPDATE orders SET amount = 50 WHERE id = 3")
    assert env.query("SELECT * FROM big ORDER BY id") == [(2, "bob", 20), (3, "ann", 50), (4, "cy", 40)]


def test_kill_one_of_two_replicas_mv_stays_exact(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE t (k int, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE MATERIALIZED VIEW mv IN CLUSTER prod AS SELECT k, v FROM t WHERE k > 1",
    )
    (cluster_id,), = env.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = 'prod'")
    replicas = sorted(r[0] for r in env.query("SELECT id FROM mz_catalog.mz_cluster_replicas "
                                              "WHERE cluster_id = %s", (cluster_id,)))
    assert len(replicas) == 2
    env.wait_for(lambda: set(replicas) <= set(env.replica_pids()))
    assert env.query("SELECT * FROM mv ORDER BY k") == [(2, "b"), (3, "c")]

    old_pid = env.kill_replica(replicas[0])
    env.execute("INSERT INTO t VALUES (4, 'd')", "DELETE FROM t WHERE k = 2")
    # The surviving replica keeps the MV current meanwhile.
    assert env.query("SELECT * FROM mv ORDER BY k") == [(3, "c"), (4, "d")]
    env.wait_for(lambda: env.replica_pids().get(replicas[0]) not in (None, old_pid))
    (mv_id,), = env.query("SELECT id FROM mz_catalog.mz_materialized_views WHERE name = 'mv'")
    env.wait_for(lambda: hydrated(env, mv_id, replicas[0]))
    env.execute("INSERT INTO t VALUES (5, 'e')")
    # Both replicas write the MV shard: still exactly one copy of each row.
    assert env.query("SELECT * FROM mv ORDER BY k") == [(3, "c"), (4, "d"), (5, "e")]
    assert [rid for rid, _ in env.replica_processes()] == sorted(replicas + [quickstart_replica(env)])


def test_replica_killed_repeatedly_keeps_coming_back(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE r (a int)", "CREATE VIEW rv AS SELECT a FROM r", "CREATE INDEX rv_idx ON rv (a)")
    replica_id = quickstart_replica(env)
    pids = [env.replica_pids()[replica_id]]
    for i in range(3):
        env.wait_for(lambda: env.query("SELECT status FROM mz_internal.mz_cluster_replica_statuses "
                                       "WHERE replica_id = %s", (replica_id,)) == [("online",)])
        env.kill_replica(replica_id)
        env.execute(f"INSERT INTO r VALUES ({i})")
        pids.append(env.wait_for(lambda: (p := env.replica_pids().get(replica_id)) not in (None, *pids) and p,
                                 timeout=60))
        assert env.query("SELECT a FROM rv ORDER BY a") == [(j,) for j in range(i + 1)]
    kills = [h for h in env.query(HISTORY, (replica_id,)) if h[2] in ("offline", "crash-looping")]
    assert len(kills) == 3 and all("killed by signal 9" in h[3] for h in kills)
    # three crashes within a minute are reported as a crash loop, never silently
    assert kills[-1][2] == "crash-looping" and "3 crashes in the last minute" in kills[-1][3]
