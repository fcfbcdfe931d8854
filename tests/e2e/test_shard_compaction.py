"""Table shards are compacted while indexes keep reading them, and nothing is lost or counted twice.

The server runs with fast compaction (a round every 0.2 s, ``since`` at least 0.3 s behind the clock). Many small
writes to a table must shrink to a handful of batches (``mz_internal.mz_storage_shards``) with ``since``
advancing, and so must a materialized view's shard, while an index on a view over the table, the materialized
view, and an index reading the materialized view stay equal to DuckDB on the same data — and stay equal after
the replica is killed (it hydrates from the compacted shards and corrects the view's output against its
compacted shard) and after the coordinator restarts.  A replica that
is frozen (SIGSTOP: connected, but reporting nothing) holds the shard's ``since`` below its read position; when
it resumes, its index catches up exactly.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import duckdb
import psycopg

VIEW = "SELECT k % 7 AS g, count(*) AS n, sum(v) AS s FROM t GROUP BY k % 7"


def shard_of(env, name: str) -> tuple:  # type: ignore[no-untyped-def]
    """(since, upper, batches, updates) of a table's or materialized view's shard."""
    (row,) = env.query("SELECT s.since, s.upper, s.batches, s.updates FROM mz_internal.mz_storage_shards s "
                       "JOIN mz_catalog.mz_objects o ON s.object_id = o.id WHERE o.name = %s", (name,))
    return row


def test_compaction_keeps_indexes_exact_across_replica_and_coordinator_restarts(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("--compaction-interval", "0.2", "--compaction-lag-ms", "300")
    rng = random.Random(11)
    db = duckdb.connect()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    env.execute("CREATE TABLE t (k int, v int)", f"CREATE VIEW w AS {VIEW}", "CREATE DEFAULT INDEX ON w",
                "CREATE CLUSTER frozen (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE INDEX w_frozen IN CLUSTER frozen ON w (g)",
                # a materialized view's shard is compacted too, and an index reads it
                f"CREATE MATERIALIZED VIEW mv AS {VIEW}", "CREATE VIEW over_mv AS SELECT g, n, s FROM mv WHERE n > 0",
                "CREATE DEFAULT INDEX ON over_mv")

    def write(count: int) -> None:
        with env.connect() as conn:
            for _ in range(count):
                k, v = rng.randrange(50), rng.randrange(-5, 100)
                statement = rng.choice([f"INSERT INTO t VALUES ({k}, {v})", f"INSERT INTO t VALUES ({k}, {v})",
                                        f"DELETE FROM t WHERE k = {k}", f"UPDATE t SET v = v + 1 WHERE k = {k}"])
                conn.execute(statement)
                db.execute(statement)

    def expected() -> list[tuple]:
        return sorted(db.execute(VIEW).fetchall())

    def agrees(cluster: str = "quickstart") -> bool:
        want = [tuple(int(x) for x in row) for row in expected()]
        with env.connect() as conn:
            conn.execute(f"SET cluster = {cluster}")
            relations = ("w", "mv", "over_mv") if cluster == "quickstart" else ("w",)
            return all(sorted(tuple(int(x) for x in row) for row in conn.execute(f"SELECT * FROM {name}").fetchall())
                       == want for name in relations)

    since_before = shard_of(env, "t")[0]
    write(150)  # one batch each: fewer than 20 batches after them means they were merged
    env.wait_for(lambda: shard_of(env, "t")[2] < 20 and shard_of(env, "t")[0] > since_before, timeout=30)
    env.wait_for(lambda: shard_of(env, "mv")[2] < 20 and shard_of(env, "mv")[0] > since_before, timeout=30)
    env.wait_for(agrees, timeout=30)
    env.wait_for(lambda: agrees("frozen"), timeout=30)

    # a frozen replica holds the shard below what it has read; it catches up exactly when it resumes
    (frozen_replica,) = env.cluster_replicas("frozen").values()
    pid = env.replica_pids()[frozen_replica]
    os.kill(pid, signal.SIGSTOP)
    try:
        held_since = shard_of(env, "t")[0]
        write(60)
        env.wait_for(agrees, timeout=30)
        time.sleep(1.5)  # several compaction rounds, well past the lag
        frozen_frontiers = [f for (f,) in env.query(
            "SELECT write_frontier FROM mz_internal.mz_frontiers f JOIN mz_catalog.mz_indexes i ON f.object_id = i.id "
            "WHERE i.name = 'w_frozen'")]
        assert frozen_frontiers and all(f is not None for f in frozen_frontiers)
        # the held shard may only have moved to just below the frozen replica's last report
        held = shard_of(env, "t")[0]
        assert held <= max(held_since, min(frozen_frontiers) - 1)
    finally:
        os.kill(pid, signal.SIGCONT)
    env.wait_for(lambda: agrees("frozen"), timeout=30)
    env.wait_for(lambda: shard_of(env, "t")[0] > held_since, timeout=30)

    # the replica hydrates again from the compacted shard
    (replica_id,) = env.cluster_replicas("quickstart").values()
    env.kill_replica(replica_id)
    write(20)
    env.wait_for(agrees, timeout=60)

    # a table nobody reads is compacted too, never past its upper: it stays readable and writable
    env.execute("CREATE TABLE lonely (a int)", "INSERT INTO lonely VALUES (1), (2)", "DELETE FROM lonely WHERE a = 2",
                "INSERT INTO lonely VALUES (3)")
    env.wait_for(lambda: shard_of(env, "lonely")[2] == 1, timeout=30)

    # the coordinator restarts: it loads the tables from the compacted shards for its writes, the index reconciles
    env.restart(hard=True)
    env.execute("UPDATE lonely SET a = a + 10 WHERE a = 1")
    assert sorted(env.query("SELECT a FROM lonely")) == [(3,), (11,)]
    write(30)
    env.wait_for(agrees, timeout=60)
    env.wait_for(lambda: agrees("frozen"), timeout=60)
    assert sorted(env.query("SELECT k, v FROM t")) == sorted(db.execute("SELECT k, v FROM t").fetchall())
    env.wait_for(lambda: shard_of(env, "t")[2] < 20, timeout=30)


def test_a_view_on_a_cluster_that_had_no_replicas_catches_up_exactly(make_env) -> None:  # type: ignore[no-untyped-def]
    """With no replica, nothing holds the table's shard: it is compacted past the materialized view's upper. A
    replica added later reads its sources at the compacted since, later than the dataflow's as_of, and corrects the
    view's output at that time — no change made while the cluster was empty is lost."""
    env = make_env("--compaction-interval", "0.2", "--compaction-lag-ms", "300")
    env.execute("CREATE TABLE t (a int)", "CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE MATERIALIZED VIEW mv IN CLUSTER c AS SELECT count(*) AS n FROM t",
                "INSERT INTO t VALUES (1), (2)")
    env.wait_for(lambda: env.query("SELECT n FROM mv") == [(2,)], timeout=30)
    env.execute("ALTER CLUSTER c SET (REPLICATION FACTOR = 0)")
    for i in range(5):
        env.execute(f"INSERT INTO t VALUES ({10 + i})")
    written = shard_of(env, "t")[1]  # past every insert
    # nothing holds t: it is compacted past the inserts, and so past what the view wrote
    env.wait_for(lambda: shard_of(env, "t")[0] >= written, timeout=30)
    assert shard_of(env, "t")[0] > shard_of(env, "mv")[1]
    env.execute("ALTER CLUSTER c SET (REPLICATION FACTOR = 1)", "INSERT INTO t VALUES (100)")
    env.wait_for(lambda: env.query("SELECT n FROM mv") == [(8,)], timeout=30)


def test_a_peek_answered_late_still_reads_its_timestamp(make_env) -> None:  # type: ignore[no-untyped-def]
    """A SELECT of a table is a peek of its shard at a timestamp; the replica answers it whenever it gets to it.
    While it is unanswered the shard's since stays below that timestamp, however long the replica takes."""
    env = make_env("--compaction-interval", "0.2", "--compaction-lag-ms", "300")
    env.execute("CREATE TABLE t (a int)", "INSERT INTO t VALUES (1), (2)", "INSERT INTO t VALUES (3)")
    (replica_id,) = env.cluster_replicas("quickstart").values()
    pid = env.replica_pids()[replica_id]
    result: dict = {}

    def select() -> None:
        try:
            result["rows"] = sorted(env.query("SELECT a FROM t"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = repr(exc)

    os.kill(pid, signal.SIGSTOP)
    try:
        reader = threading.Thread(target=select)
        reader.start()
        time.sleep(0.3)
        env.execute("INSERT INTO t VALUES (4)")
        time.sleep(1.5)  # many compaction rounds, well past the lag, while the peek waits
    finally:
        os.kill(pid, signal.SIGCONT)
    reader.join(30)
    assert result.get("rows") in ([(1,), (2,), (3,)], [(1,), (2,), (3,), (4,)]), result


def test_a_subscribe_that_cannot_continue_exactly_fails_instead_of_skipping(make_env) -> None:  # type: ignore[no-untyped-def]
    """A SUBSCRIBE open on a cluster that loses its replicas: its inputs are compacted past its progress, so a
    replica added later can only offer a snapshot at a later time. The changes in between are gone; the stream must
    end with an error (SQLSTATE 55000) rather than carry on without them."""
    env = make_env("--compaction-interval", "0.2", "--compaction-lag-ms", "300")
    env.execute("CREATE TABLE t (a int)", "CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 1)",
                "INSERT INTO t VALUES (1)")
    received: list[tuple] = []
    outcome: dict = {}

    def subscriber() -> None:
        conn = env.connect()
        try:
            conn.execute("SET cluster = c")
            with conn.cursor().copy("COPY (SUBSCRIBE TO t) TO STDOUT") as copy:
                for row in copy.rows():
                    received.append(row)
        except psycopg.Error as exc:
            outcome["sqlstate"] = exc.sqlstate
        finally:
            conn.close()

    reader = threading.Thread(target=subscriber, daemon=True)
    reader.start()
    env.wait_for(lambda: len(received) == 1, timeout=30)
    env.execute("ALTER CLUSTER c SET (REPLICATION FACTOR = 0)", "INSERT INTO t VALUES (2)")
    upper = shard_of(env, "t")[1]
    env.wait_for(lambda: shard_of(env, "t")[0] > upper, timeout=30)  # compacted past the subscribe's progress
    env.execute("ALTER CLUSTER c SET (REPLICATION FACTOR = 1)", "INSERT INTO t VALUES (3)")
    reader.join(30)
    assert not reader.is_alive() and outcome.get("sqlstate") == "55000", (outcome, received)
    assert [row[2] for row in received] == ["1"]  # nothing after the gap was delivered as if it were complete


def test_a_view_importing_an_index_and_reading_a_table_recovers_after_an_outage(make_env) -> None:  # type: ignore[no-untyped-def]
    """A materialized view that imports an index (on t1) and reads a table (t2), on a cluster left without replicas
    while t2 was compacted further than t1 (held by a frozen replica of another cluster): the replica added later
    starts the view's output at the later time, writes nothing before its output is complete through it, and the
    view catches up exactly (it used to crash the replica on every start)."""
    env = make_env("--compaction-interval", "0.2", "--compaction-lag-ms", "300")
    env.execute("CREATE TABLE t1 (a int)", "CREATE TABLE t2 (a int)",
                "INSERT INTO t1 VALUES (1)", "INSERT INTO t2 VALUES (2)",
                "CREATE CLUSTER holder (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE INDEX t1_holder IN CLUSTER holder ON t1 (a)",
                "CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE INDEX t1_c IN CLUSTER c ON t1 (a)",
                "CREATE MATERIALIZED VIEW mv IN CLUSTER c AS SELECT a FROM t1 UNION ALL SELECT a FROM t2")
    env.wait_for(lambda: sorted(env.query("SELECT a FROM mv")) == [(1,), (2,)], timeout=30)
    env.execute("ALTER CLUSTER c SET (REPLICATION FACTOR = 0)")
    mv_upper = shard_of(env, "mv")[1]
    env.wait_for(lambda: shard_of(env, "t1")[0] > mv_upper + 200, timeout=30)
    (holder,) = env.cluster_replicas("holder").values()
    pid = env.replica_pids()[holder]
    os.kill(pid, signal.SIGSTOP)  # holds t1 where it is; t2 goes on being compacted
    try:
        env.execute("INSERT INTO t2 VALUES (3)")
        env.wait_for(lambda: shard_of(env, "t2")[0] > shard_of(env, "t1")[0] + 500, timeout=30)
        env.execute("ALTER CLUSTER c SET (REPLICATION FACTOR = 1)")
        (replica_id,) = env.cluster_replicas("c").values()
        env.wait_for(lambda: sorted(env.query("SELECT a FROM mv")) == [(1,), (2,), (3,)], timeout=30)
        assert "Traceback" not in env.replica_log(replica_id)
    finally:
        os.kill(pid, signal.SIGCONT)
