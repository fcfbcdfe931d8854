"""Queries that fail alone: one query never takes its cluster down, and stopping a query stops its work.

* ``max_result_size`` (Materialize's session variable) bounds a read's result: past it the read fails with 53000 and
  the replica stops building it.
* A slow-path ``SELECT`` over a cross join that would pass a ``2xsmall`` replica's memory limit fails with 53200;
  the replica process is not killed and answers the next read; so does one on a ``small`` replica whose output fits
  but whose arrangement into the query's index would not (the index's load is guarded too), or whose next operator
  (a map, a top-k, a reduce, a window, a threshold) would not; a large query that fits still answers.
* Cancel and ``statement_timeout`` stop the replica's work at once: the heavy query does not carry on until the
  replica is oom-killed, and the next read answers.
* A peek outstanding on a replica that is killed is not resent to its successor: it fails with 57P01 naming the
  replica, the successor does not run it, and reads of the cluster work again — unless another replica is still
  working on it, whose answer is used.

Everything runs on real processes; assertions are on SQLSTATEs, pids and the replica status history.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Iterator

import psutil
import psycopg
import pytest

from conftest import Environment

HISTORY = ("SELECT status, reason FROM mz_internal.mz_cluster_replica_status_history "
           "WHERE replica_id = %s AND status NOT IN ('clean', 'dirty')")


def load(env: Environment, table: str, rows: int) -> None:
    env.execute(f"CREATE TABLE {table} (x int)")
    with env.connect() as conn:
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for k in range(rows):
                copy.write_row((k,))


def wait_settled(env: Environment, pid: int) -> None:
    """Wait until the replica's process has finished starting: its resident set stops growing (a replica loads
    pyarrow and numpy in the background after it connects, which would pass for a query's growth)."""
    samples: list[int] = []

    def settled() -> bool:
        samples.append(psutil.Process(pid).memory_info().rss)
        return len(samples) >= 5 and max(samples[-5:]) - min(samples[-5:]) < (4 << 20)

    env.wait_for(settled, timeout=60, interval=0.1)


def wait_growing(env: Environment, replica_id: str, pid: int, grown_by: int = 64 << 20) -> None:
    """Wait until the replica's process uses ``grown_by`` more memory than now: the heavy query is running there
    (call :func:`wait_settled` before starting the query)."""
    base = psutil.Process(pid).memory_info().rss
    env.wait_for(lambda: psutil.Process(pid).memory_info().rss > base + grown_by, timeout=30, interval=0.02)


def run_in_thread(action: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["rows"] = action()
        except psycopg.Error as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def offline_events(env: Environment, replica_id: str) -> list[tuple]:
    return [row for row in env.query(HISTORY, (replica_id,)) if row[0] != "online"]


@pytest.fixture
def heavy(env: Environment) -> Iterator[Environment]:
    """A ``small`` cluster ``c`` (2 GiB) and a 3000-row table ``a``: ``SELECT * FROM a, a AS b`` (9M rows) needs more
    than the replica has, and takes seconds to get there."""
    env.execute("CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 1)")
    load(env, "a", 3000)
    yield env


def heavy_read_fails_alone(env: Environment, timeout: str, sql: str = "SELECT * FROM a, a AS b") -> str:
    """Run ``sql`` (by default the cross join) on ``heavy``'s cluster under ``statement_timeout``: its SQLSTATE, once
    the next read has answered from the same replica process, which never went offline."""
    (replica_id,) = env.cluster_replicas("c").values()
    env.wait_for(lambda: env.replica_pids().get(replica_id))
    pid = env.replica_pids()[replica_id]
    with env.connect() as conn:
        conn.execute("SET cluster = c")
        conn.execute(f"SET statement_timeout = '{timeout}'")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(sql)
        conn.execute("SET statement_timeout = '20s'")
        assert conn.execute("SELECT count(*) FROM a WHERE x < 10").fetchall() == [(10,)]
    assert env.replica_pids()[replica_id] == pid
    assert offline_events(env, replica_id) == []
    return str(caught.value.sqlstate)


# ------------------------------------------------------------------ max_result_size


def test_max_result_size_bounds_every_kind_of_read(env: Environment) -> None:
    env.execute("CREATE TABLE t (k int, pad text)")
    with env.connect() as conn:
        with conn.cursor().copy("COPY t FROM STDIN") as copy:
            for k in range(5000):
                copy.write_row((k, "x" * 100))
    env.execute("CREATE MATERIALIZED VIEW mv AS SELECT k, pad FROM t", "CREATE VIEW v AS SELECT k, pad FROM t",
                "CREATE INDEX v_idx ON v (k)")
    with env.connect() as conn:
        assert conn.execute("SHOW max_result_size").fetchall() == [("1GB",)]
        reads = {
            "index (fast path)": "SELECT * FROM v",
            "table shard": "SELECT * FROM t",
            "materialized view shard": "SELECT * FROM mv",
            "slow path": "SELECT k, pad, count(*) FROM t GROUP BY k, pad",
        }
        for what, sql in reads.items():
            assert len(conn.execute(sql).fetchall()) == 5000, what
        conn.execute("SET max_result_size = '100kB'")
        assert conn.execute("SHOW max_result_size").fetchall() == [("100kB",)]
        for what, sql in reads.items():
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(sql)
            assert caught.value.sqlstate == "53000", what
            assert caught.value.diag.message_primary == "result exceeds max size of 100.0 KB", what
        # a small result still fits, and bytes are accepted as Materialize accepts them
        assert conn.execute("SELECT k FROM v WHERE k = 7").fetchall() == [(7,)]
        # the replica applies ORDER BY / OFFSET / LIMIT: only what the client asked for counts against the limit
        for what, sql in reads.items():
            top = conn.execute(f"SELECT k FROM ({sql}) AS r ORDER BY k DESC LIMIT 5 OFFSET 2").fetchall()
            assert top == [(k,) for k in range(4997, 4992, -1)], what
            assert len(conn.execute(f"{sql} LIMIT 10").fetchall()) == 10, what
        conn.execute("SET max_result_size = 2000000")
        assert len(conn.execute("SELECT * FROM t").fetchall()) == 5000
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SET max_result_size = 'lots'")
        assert caught.value.sqlstate == "22023"
        conn.execute("RESET max_result_size")
        assert conn.execute("SHOW max_result_size").fetchall() == [("1GB",)]
        assert len(conn.execute("SELECT * FROM mv").fetchall()) == 5000


# ------------------------------------------------------------------ memory


def test_a_query_over_the_memory_limit_fails_alone(env: Environment) -> None:
    env.execute("CREATE CLUSTER tiny (SIZE = '2xsmall', REPLICATION FACTOR = 1)")
    load(env, "a", 3000)
    env.execute("CREATE VIEW av AS SELECT x FROM a", "CREATE INDEX av_idx IN CLUSTER tiny ON av (x)")
    (replica_id,) = env.cluster_replicas("tiny").values()
    env.wait_for(lambda: env.replica_pids().get(replica_id))
    pid = env.replica_pids()[replica_id]
    with env.connect() as conn, env.connect() as other:
        conn.execute("SET cluster = tiny")
        conn.execute("SET statement_timeout = '25s'")
        other.execute("SET cluster = tiny")
        other.execute("SET statement_timeout = '25s'")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT * FROM a, a AS b")  # 9M rows: far more than 192 MiB
        assert caught.value.sqlstate == "53200"
        # the replica refused the query instead of being killed, and serves the cluster's reads
        assert other.execute("SELECT count(*) FROM av").fetchall() == [(3000,)]
        assert conn.execute("SELECT x FROM av WHERE x = 5").fetchall() == [(5,)]
        assert conn.execute("SELECT count(*) FROM a, a AS b WHERE a.x = b.x").fetchall() == [(3000,)]
    assert env.replica_pids()[replica_id] == pid
    assert offline_events(env, replica_id) == []


def test_a_result_that_outgrows_the_replica_while_it_is_arranged_is_refused(heavy: Environment) -> None:
    """On a ``small`` replica the cross join's 9M rows are built under the memory threshold; arranging them into the
    query's index would pass the replica's limit: the load is guarded too, so the query fails, not the replica."""
    assert heavy_read_fails_alone(heavy, "60s") == "53200"


@pytest.mark.parametrize("sql", [
    "SELECT a.x, b.x FROM a, a AS b ORDER BY a.x + b.x DESC LIMIT 5",  # a map, then a top-k's state
    "SELECT a.x, count(*) FROM a, a AS b GROUP BY a.x, b.x HAVING count(*) > 5",  # a reduce's groups
    "SELECT a.x + b.x, row_number() OVER (ORDER BY a.x, b.x) FROM a, a AS b",  # a window's sort
    "SELECT a.x, b.x FROM a, a AS b EXCEPT SELECT x, x FROM a",  # a threshold's state
], ids=["top-k", "reduce", "window", "except"])
def test_operators_after_a_result_that_outgrows_the_replica_refuse_it(heavy: Environment, sql: str) -> None:
    """Whatever the operators after the cross join build from its 9M rows, the query fails and the replica lives:
    operators check the guard over their input, and under a guard each is refused before it starts when its input
    would not fit (``dataflow.graph.ROW_ROOM``)."""
    assert heavy_read_fails_alone(heavy, "60s", sql) == "53200"


def test_a_large_query_that_fits_is_not_refused(heavy: Environment) -> None:
    """The guard's estimate is no blanket refusal: 3M joined rows through a map and a reduce fit a ``small`` replica."""
    (replica_id,) = heavy.cluster_replicas("c").values()
    with heavy.connect() as conn:
        conn.execute("SET cluster = c")
        got = conn.execute("SELECT count(*), sum(a.x + b.x) FROM a, a AS b WHERE b.x < 1000").fetchall()
    assert got == [(3_000_000, 1000 * 2999 * 3000 // 2 + 3000 * 999 * 1000 // 2)]
    assert offline_events(heavy, replica_id) == []


# ------------------------------------------------------------------ cancel and statement_timeout


def test_cancel_stops_the_replicas_work(heavy: Environment) -> None:
    env = heavy
    (replica_id,) = env.cluster_replicas("c").values()
    env.wait_for(lambda: env.replica_pids().get(replica_id))
    pid = env.replica_pids()[replica_id]
    with env.connect() as conn:
        conn.execute("SET cluster = c")
        wait_settled(env, pid)
        thread, outcome = run_in_thread(lambda: conn.execute("SELECT * FROM a, a AS b").fetchall())
        wait_growing(env, replica_id, pid)
        conn.cancel()
        thread.join(30)
        assert outcome["error"].sqlstate == "57014", outcome
        # the next read of the cluster answers, from the same process: the work stopped, it did not run on until
        # the replica passed its memory limit
        conn.execute("SET statement_timeout = '20s'")
        assert conn.execute("SELECT count(*) FROM a WHERE x < 10").fetchall() == [(10,)]
    assert env.replica_pids()[replica_id] == pid
    assert offline_events(env, replica_id) == []


def test_statement_timeout_stops_the_replicas_work(heavy: Environment) -> None:
    assert heavy_read_fails_alone(heavy, "1s") == "57014"


# ------------------------------------------------------------------ a replica dying under a query


def test_a_peek_outstanding_on_a_killed_replica_fails_and_is_not_resent(env: Environment) -> None:
    env.execute("CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 1)")
    load(env, "b", 1500)
    (name, replica_id), = env.cluster_replicas("c").items()
    env.wait_for(lambda: env.replica_pids().get(replica_id))
    pid = env.replica_pids()[replica_id]
    with env.connect() as conn:
        conn.execute("SET cluster = c")
        conn.execute("SET statement_timeout = '40s'")
        for _attempt in range(3):
            wait_settled(env, pid)
            # heavy work, a one-row answer: the client has it as soon as the replica answers (with a 2.25M-row
            # answer, an empty outcome did not mean the replica had not answered: the rows could still be on
            # their way to the client)
            thread, outcome = run_in_thread(
                lambda: conn.execute("SELECT * FROM b, b AS b2 ORDER BY 1 DESC, 2 DESC LIMIT 1").fetchall())
            wait_growing(env, replica_id, pid)
            os.kill(pid, signal.SIGSTOP)  # freeze it mid-query: the kill below must land while the query runs
            if not outcome:
                break
            # on a fast machine the query finished before the freeze: let the replica go on, and try again
            os.kill(pid, signal.SIGCONT)
            thread.join(45)
        assert not outcome, "the query finished before the replica could be killed under it, three times"
        env.kill_replica(replica_id)
        thread.join(45)
        assert not thread.is_alive()
        error = outcome.get("error")
        assert error is not None, "the query was answered: it ran again on the restarted replica"
        assert error.sqlstate == "57P01", error
        assert f'"{name}"' in error.diag.message_primary and '"c"' in error.diag.message_primary
        # the restarted replica serves the cluster again (it was not handed the query that was running)
        assert conn.execute("SELECT count(*) FROM b WHERE x < 10").fetchall() == [(10,)]
    new_pid = env.replica_pids()[replica_id]
    assert new_pid != pid
    assert [status for status, _ in offline_events(env, replica_id)] == ["offline"]


def test_a_peek_whose_replica_dies_is_answered_by_another_replica(env: Environment) -> None:
    env.execute("CREATE CLUSTER c (SIZE = 'small', REPLICATION FACTOR = 2)")
    load(env, "b", 1500)
    replicas = env.cluster_replicas("c")
    env.wait_all_clean("c")  # both connected: the query is sent to both (a replica connecting later gets it too)
    victim = replicas["r1"]
    pid = env.replica_pids()[victim]
    with env.connect() as conn:
        conn.execute("SET cluster = c")
        conn.execute("SET statement_timeout = '40s'")
        wait_settled(env, pid)
        thread, outcome = run_in_thread(lambda: conn.execute("SELECT count(*) FROM b, b AS b2").fetchall())
        wait_growing(env, victim, pid, grown_by=32 << 20)
        env.kill_replica(victim)
        thread.join(45)
        assert outcome.get("rows") == [(2_250_000,)], outcome
