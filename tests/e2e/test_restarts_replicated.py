"""Replicated clusters keep answering: ``kill -9`` of one replica of two costs no query and no update.

* A client thread issues fast-path queries in a loop while one replica of a ``REPLICATION FACTOR 2`` cluster
  is killed and writes go on: zero failed queries, and every answer equals the table at some acknowledged
  prefix of the writes between the query's start and its end.  The killed replica comes back (new pid),
  replays, rehydrates and answers targeted queries again.
* A ``SUBSCRIBE`` across the loss of a replica, with writes before, during and after it, delivers exactly
  the right updates: no multiplicity other than 0/1 at any timestamp, and the folded result equals the table.
* A query targeted at a replica (``SET cluster_replica``) that is killed fails with 57P01.
* With every replica down a query waits for ``statement_timeout`` and fails with 57014.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest

SET_UP = (
    "CREATE TABLE t (k int, v text)",
    "INSERT INTO t VALUES (0, 'v0'), (1, 'v1'), (2, 'v2')",
    "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
    "CREATE VIEW tv AS SELECT k, v FROM t",
    "CREATE INDEX tv_idx IN CLUSTER prod ON tv (k)",
)


def hydrated(env, object_id: str, replica_id: str) -> bool:  # type: ignore[no-untyped-def]
    rows = env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses "
                     "WHERE object_id = %s AND replica_id = %s", (object_id, replica_id))
    return rows == [(True,)]


def prod_ready(env) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    """Set up ``prod``; wait until both replicas hydrated the index; returns (name -> id, index id)."""
    env.execute(*SET_UP)
    replicas = env.cluster_replicas("prod")
    assert len(replicas) == 2
    (index_id,), = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'tv_idx'")
    for replica_id in replicas.values():
        env.wait_for(lambda rid=replica_id: hydrated(env, index_id, rid))
    return replicas, index_id


def query_prod(env, sql: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        return conn.execute(sql).fetchall()


class QueryLoop(threading.Thread):
    """Fast-path queries in a loop; each answer must equal the rows at an acknowledged prefix of the writes."""

    def __init__(self, env, acked: list[int], max_queries: int = 20000, max_seconds: float = 90.0) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.env, self.acked = env, acked
        self.max_queries, self.max_seconds = max_queries, max_seconds
        self.stop = threading.Event()
        self.answered = 0
        self.failures: list[str] = []
        self.wrong: list[tuple] = []

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with self.env.connect() as conn:
            conn.execute("SET cluster = prod")
            for _ in range(self.max_queries):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                low = len(self.acked)
                try:
                    rows = conn.execute("SELECT k FROM tv").fetchall()
                except psycopg.Error as exc:
                    self.failures.append(f"{exc.sqlstate}: {exc}")
                    continue
                high = len(self.acked)
                keys = sorted(k for (k,) in rows)
                # the writes are inserts of keys 3, 4, ... in order, each acknowledged before the next; a read must
                # see every write acknowledged before it began (low), and may see the one write after the last it
                # knows of (high): committed before the read's timestamp, its acknowledgement still on its way to
                # the writer thread
                if not any(keys == list(range(3 + n)) for n in range(low, high + 2)):
                    self.wrong.append((low, high, keys))
                self.answered += 1


def test_kill_one_replica_no_failed_query_and_it_rejoins(env) -> None:  # type: ignore[no-untyped-def]
    replicas, index_id = prod_ready(env)
    victim_name = sorted(replicas)[0]
    victim = replicas[victim_name]
    acked: list[int] = []
    loop = QueryLoop(env, acked)
    loop.start()
    try:
        env.wait_for(lambda: loop.answered >= 20)
        old_pid = env.kill_replica(victim)
        with env.connect() as writer:
            for k in range(3, 13):  # writes while the victim is down and while it comes back
                writer.execute("INSERT INTO t VALUES (%s, %s)", (k, f"v{k}"))
                acked.append(k)
        env.wait_for(lambda: env.replica_pids().get(victim) not in (None, old_pid))
        env.wait_for(lambda: hydrated(env, index_id, victim))
        answered_at_rejoin = loop.answered
        env.wait_for(lambda: loop.answered >= answered_at_rejoin + 20)
    finally:
        loop.stop.set()
        loop.join(30)
    print(f"answered {loop.answered} queries, failed {len(loop.failures)}, wrong {len(loop.wrong)}")
    assert loop.failures == []
    assert loop.wrong == []
    # the rejoined replica itself answers, with everything written while it was down
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        conn.execute(f"SET cluster_replica = '{victim_name}'")
        assert sorted(conn.execute("SELECT k FROM tv").fetchall()) == [(k,) for k in range(13)]


def test_subscribe_survives_loss_of_a_replica_exactly(env) -> None:  # type: ignore[no-untyped-def]
    replicas, index_id = prod_ready(env)
    victim = replicas[sorted(replicas)[1]]
    updates: list[tuple[int, int, int, str]] = []
    errors: list[BaseException] = []
    done = threading.Event()
    sentinel = 999
    conn = env.connect()
    conn.execute("SET cluster = prod")

    def read() -> None:
        try:
            with conn.cursor().copy("COPY (SUBSCRIBE TO tv) TO STDOUT") as copy:
                for row in copy.rows():
                    ts, diff, k, v = int(row[0]), int(row[1]), int(row[2]), row[3]
                    updates.append((ts, diff, k, v))
                    if k == sentinel and diff == 1:
                        break
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        env.execute("INSERT INTO t VALUES (3, 'v3')", "UPDATE t SET v = 'w1' WHERE k = 1")  # before
        env.wait_for(lambda: any(u[2] == 3 for u in updates))
        old_pid = env.kill_replica(victim)
        env.execute("INSERT INTO t VALUES (4, 'v4')", "DELETE FROM t WHERE k = 0")  # during
        env.wait_for(lambda: env.replica_pids().get(victim) not in (None, old_pid))
        env.execute("INSERT INTO t VALUES (5, 'v5')")
        env.wait_for(lambda: hydrated(env, index_id, victim))
        env.execute("UPDATE t SET v = 'w2' WHERE k = 2", "INSERT INTO t VALUES (6, 'v6')")  # after
        env.execute(f"INSERT INTO t VALUES ({sentinel}, 'end')")
        assert done.wait(60), "the subscribe never delivered the last write"
    finally:
        if not done.is_set():
            conn.cancel()
            reader.join(10)
        conn.close()
    assert errors == []

    folded: Counter[tuple[int, str]] = Counter()
    for ts in sorted({u[0] for u in updates}):
        for _, diff, k, v in (u for u in updates if u[0] == ts):
            folded[(k, v)] += diff
        assert set(folded.values()) <= {0, 1}, f"duplicated or negative row at {ts}: {folded}"
    expected = {(k, v) for k, v in env.query("SELECT k, v FROM t")}
    assert {row for row, n in folded.items() if n == 1} == expected
    assert expected == {(1, "w1"), (2, "w2"), (3, "v3"), (4, "v4"), (5, "v5"), (6, "v6"), (sentinel, "end")}
    timestamps = [u[0] for u in updates]
    assert timestamps == sorted(timestamps), "updates arrive in timestamp order"


def test_targeted_query_on_killed_replica_fails_clearly(env) -> None:  # type: ignore[no-untyped-def]
    replicas, index_id = prod_ready(env)
    name = sorted(replicas)[0]
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        conn.execute(f"SET cluster_replica = '{name}'")
        assert sorted(conn.execute("SELECT k FROM tv").fetchall()) == [(0,), (1,), (2,)]
        old_pid = env.kill_replica(replicas[name])
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT k FROM tv").fetchall()
        assert caught.value.sqlstate == "57P01"
        assert "not available" in str(caught.value)
        # the same session answers again once the replica is back
        env.wait_for(lambda: env.replica_pids().get(replicas[name]) not in (None, old_pid))
        env.wait_for(lambda: hydrated(env, index_id, replicas[name]))
        assert sorted(env.wait_for(lambda: conn.execute("SELECT k FROM tv").fetchall())) == [(0,), (1,), (2,)]
    # untargeted queries never noticed
    assert sorted(query_prod(env, "SELECT k FROM tv")) == [(0,), (1,), (2,)]


def test_all_replicas_down_query_fails_after_statement_timeout(env) -> None:  # type: ignore[no-untyped-def]
    replicas, index_id = prod_ready(env)
    outcomes: list[str] = []
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        conn.execute("SET statement_timeout = '1s'")
        # each kill of both replicas doubles their restart backoff, so the outage soon outlasts the timeout
        for _ in range(6):
            pids = {rid: env.wait_for(lambda rid=rid: env.replica_pids().get(rid), timeout=60)
                    for rid in replicas.values()}
            for rid in replicas.values():
                env.kill_replica(rid)
            try:
                conn.execute("SELECT k FROM tv").fetchall()
                outcomes.append("answered")
            except psycopg.Error as exc:
                outcomes.append(exc.sqlstate or "none")
                assert exc.sqlstate == "57014", str(exc)
                assert "statement timeout" in str(exc)
                break
            assert all(env.replica_pids().get(rid) != pid for rid, pid in pids.items())
    assert outcomes[-1] == "57014", outcomes
    # no manual step: the cluster answers again by itself
    assert sorted(env.wait_for(lambda: query_prod(env, "SELECT k FROM tv"), timeout=90)) == [(0,), (1,), (2,)]
