"""Durability under ``kill -9``: acknowledged writes survive, transactions are atomic, MVs stay exact.

* Writer threads insert single rows and three-row transactions, each recording what was acknowledged to it;
  the coordinator is ``kill -9``'d at a random (seeded) moment.  After a restart every acknowledged row is
  present, nothing appears that was never written, and every transaction is all or nothing.
* A materialized view (an aggregate) over a table on a two-replica cluster is compared with DuckDB's answer
  over the table's rows after ``kill -9`` of each replica and of the coordinator, with writes in between.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import duckdb
import psycopg
import pytest

WRITERS = 4
TXN_ROWS = 3


class Writer(threading.Thread):
    """Inserts (writer, seq, txn) rows until the server goes away; records what was acknowledged."""

    def __init__(self, env, writer_id: int, max_writes: int = 5000) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.env, self.writer_id, self.max_writes = env, writer_id, max_writes
        self.acked: set[tuple[int, int]] = set()
        self.attempted: set[tuple[int, int]] = set()
        self.acked_txns: set[int] = set()
        self.error: str | None = None

    def run(self) -> None:
        seq = 0
        try:
            with self.env.connect() as conn:
                for n in range(self.max_writes):
                    if n % 2 == 0:  # a single-row write
                        row = (self.writer_id, seq, -1)
                        self.attempted.add(row[:2])
                        conn.execute("INSERT INTO w VALUES (%s, %s, %s)", row)
                        self.acked.add(row[:2])
                        seq += 1
                    else:  # a multi-statement transaction
                        txn = seq
                        rows = [(self.writer_id, seq + i, txn) for i in range(TXN_ROWS)]
                        self.attempted.update(r[:2] for r in rows)
                        conn.execute("BEGIN")
                        for row in rows:
                            conn.execute("INSERT INTO w VALUES (%s, %s, %s)", row)
                        conn.execute("COMMIT")
                        self.acked.update(r[:2] for r in rows)
                        self.acked_txns.add(txn)
                        seq += TXN_ROWS
        except psycopg.Error as exc:
            self.error = type(exc).__name__


@pytest.mark.parametrize("seed", [1, 2])
def test_acknowledged_writes_survive_coordinator_kill9(env, seed: int) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE w (writer int, seq int, txn int)")
    writers = [Writer(env, i) for i in range(WRITERS)]
    for writer in writers:
        writer.start()
    rng = random.Random(seed)
    env.wait_for(lambda: sum(len(w.acked) for w in writers) >= 20)
    time.sleep(rng.uniform(0.0, 1.0))  # the random moment of the crash (not an assertion)
    env.kill9()
    for writer in writers:
        writer.join(30)
        assert not writer.is_alive()
    env.start()

    rows = env.query("SELECT writer, seq, txn FROM w")
    present = Counter((writer, seq) for writer, seq, _ in rows)
    assert all(n == 1 for n in present.values()), "a write is present twice"
    acked = set().union(*(w.acked for w in writers))
    attempted = set().union(*(w.attempted for w in writers))
    print(f"seed {seed}: {len(acked)} acknowledged, {len(present)} present, "
          f"{len(set(present) - acked)} unacknowledged but committed")
    assert acked - set(present) == set(), "acknowledged writes were lost"
    assert set(present) <= attempted, "rows appeared that nobody wrote"
    by_txn = Counter((writer, txn) for writer, _, txn in rows if txn >= 0)
    assert all(n == TXN_ROWS for n in by_txn.values()), f"a torn transaction: {by_txn}"
    for w in writers:
        assert {txn for (writer, txn) in by_txn if writer == w.writer_id} >= w.acked_txns


def duckdb_answer(rows: list[tuple]) -> list[tuple]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (g INTEGER, v INTEGER)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    return con.execute("SELECT g, count(*), sum(v) FROM t GROUP BY g ORDER BY g").fetchall()


def mv_matches_duckdb(env) -> list[tuple]:  # type: ignore[no-untyped-def]
    rows = env.query("SELECT g, v FROM t")
    mv = env.query("SELECT g, n, total FROM mv ORDER BY g")
    expected = duckdb_answer(rows)
    assert [tuple(int(x) for x in r) for r in mv] == [tuple(int(x) for x in r) for r in expected]
    return mv


def test_mv_exact_after_kill9_of_replicas_and_coordinator(env) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    env.execute(
        "CREATE TABLE t (g int, v int)",
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE MATERIALIZED VIEW mv IN CLUSTER prod AS SELECT g, count(*) AS n, sum(v) AS total FROM t GROUP BY g",
    )
    replicas = sorted(env.cluster_replicas("prod").values())
    env.wait_for(lambda: set(replicas) <= set(env.replica_pids()))

    def write_batch() -> None:
        with env.connect() as conn:
            for _ in range(20):
                g, v = rng.randrange(5), rng.randrange(100)
                conn.execute("INSERT INTO t VALUES (%s, %s)", (g, v))
            conn.execute("DELETE FROM t WHERE v %% 7 = %s", (rng.randrange(7),))
            conn.execute("UPDATE t SET v = v + 1 WHERE g = %s", (rng.randrange(5),))

    write_batch()
    mv_matches_duckdb(env)
    for victim in replicas:
        old = env.kill_replica(victim)
        write_batch()
        mv_matches_duckdb(env)  # the surviving replica keeps the shard current
        env.wait_for(lambda v=victim, o=old: env.replica_pids().get(v) not in (None, o))
    write_batch()
    env.restart(hard=True)
    mv_matches_duckdb(env)
    write_batch()
    # both replicas killed at once, then the coordinator again, writes in between
    for victim in replicas:
        env.kill_replica(victim)
    write_batch()
    env.restart(hard=True)
    write_batch()
    result = mv_matches_duckdb(env)
    assert sum(int(n) for _, n, _ in result) == env.query("SELECT count(*) FROM t")[0][0]
