"""A replica whose process cannot be started is retried with backoff, and every failure is recorded with its cause.

The cause is made deterministic with real files: the replica's ``replica.log`` is replaced by a directory, so
the orchestrator's ``open(replica.log)`` fails (``[Errno 21] Is a directory``) before any process is spawned.
The tests assert on ``mz_internal.mz_cluster_replica_status_history`` (``offline``, ``failed to start: ...``,
recorded at least twice: the start is retried) and that the replica comes online and answers once the directory
is gone — after a crash, for a replica created by a statement (which succeeds), and at coordinator startup
(which completes).
"""

from __future__ import annotations

from pathlib import Path

FAILED = "failed to start: [Errno 21] Is a directory"


def failures(env, replica_id: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [r for r in env.query("SELECT status, reason, process_id FROM mz_internal.mz_cluster_replica_status_history "
                                 "WHERE replica_id = %s", (replica_id,)) if r[1] and r[1].startswith(FAILED)]


def break_log(env, replica_id: str) -> Path:  # type: ignore[no-untyped-def]
    """Make ``replica.log`` a directory: the next start of the replica cannot open its log."""
    log = env.data_dir / "replicas" / replica_id / "replica.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    log.mkdir()
    return log


def wait_failed_twice(env, replica_id: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    rows = env.wait_for(lambda: len(found := failures(env, replica_id)) >= 2 and found)
    assert all(status == "offline" and pid == 0 for status, _, pid in rows)
    assert env.query("SELECT status FROM mz_internal.mz_cluster_replica_statuses WHERE replica_id = %s",
                     (replica_id,)) == [("offline",)]
    return rows


def indexed_table(env, cluster: str = "quickstart") -> str:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE t (k int, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
                "CREATE VIEW tv AS SELECT k, v FROM t", f"CREATE INDEX tv_idx IN CLUSTER {cluster} ON tv (k)")
    return env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'tv_idx'")[0][0]


def answers_from(env, cluster: str, replica_id: str, index_id: str) -> None:  # type: ignore[no-untyped-def]
    env.wait_for(lambda: env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses WHERE object_id = %s "
                                   "AND replica_id = %s", (index_id, replica_id)) == [(True,)])
    assert env.query("SELECT status FROM mz_internal.mz_cluster_replica_statuses WHERE replica_id = %s",
                     (replica_id,)) == [("online",)]
    with env.connect() as conn:
        conn.execute(f"SET cluster = {cluster}")
        assert conn.execute("SELECT k, v FROM tv ORDER BY k").fetchall() == [(1, "a"), (2, "b")]


def test_restart_after_a_crash_that_fails_is_retried_until_it_succeeds(env) -> None:  # type: ignore[no-untyped-def]
    index_id = indexed_table(env)
    (replica_id,) = env.cluster_replicas("quickstart").values()
    env.wait_for(lambda: env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses WHERE object_id = %s",
                                   (index_id,)) == [(True,)])
    log = break_log(env, replica_id)
    old = env.kill_replica(replica_id)

    wait_failed_twice(env, replica_id)
    assert replica_id not in env.replica_pids()
    log.rmdir()

    new = env.wait_for(lambda: (pid := env.replica_pids().get(replica_id)) not in (None, old) and pid)
    answers_from(env, "quickstart", replica_id, index_id)
    assert env.replica_pids()[replica_id] == new


def test_a_statement_creating_a_replica_that_cannot_start_succeeds(env) -> None:  # type: ignore[no-untyped-def]
    existing = [int(rid[1:]) for rid in env.cluster_replicas("quickstart").values()]
    predicted = f"r{max(existing) + 1}"  # replica ids come from a counter
    log = break_log(env, predicted)

    env.execute("CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 1)")

    assert list(env.cluster_replicas("prod").values()) == [predicted]
    wait_failed_twice(env, predicted)
    index_id = indexed_table(env, "prod")  # DDL on the cluster works while its replica is down
    log.rmdir()
    answers_from(env, "prod", predicted, index_id)


def test_coordinator_startup_completes_when_a_replica_cannot_start(env) -> None:  # type: ignore[no-untyped-def]
    index_id = indexed_table(env)
    (replica_id,) = env.cluster_replicas("quickstart").values()
    env.stop()  # with the replicas: the next start must start the replica again
    log = break_log(env, replica_id)

    env.start()

    assert env.query("SELECT name FROM mz_catalog.mz_tables") == [("t",)]  # the coordinator serves
    wait_failed_twice(env, replica_id)
    log.rmdir()
    answers_from(env, "quickstart", replica_id, index_id)
