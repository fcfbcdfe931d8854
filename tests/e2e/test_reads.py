"""Reads: strict serializability, fast path and slow path, a cluster without replicas, SUBSCRIBE.

Strict serializability is checked from the outside: one connection writes, and as soon as the write is
acknowledged ANOTHER connection reads; it must see the write, on every iteration, whatever the read goes
through (an index, a materialized view's shard, a table's shard, a transient dataflow).

SUBSCRIBE's transient dataflow is observed through the replica's log, which records "created dataflow
subscribe tN" and "dropped dataflow subscribe tN".
"""

from __future__ import annotations

import re
import threading

import psycopg
import pytest


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE kv (k int, v int)",
        "CREATE VIEW kv_view AS SELECT k, v FROM kv WHERE v >= 0",
        "CREATE INDEX kv_idx ON kv_view (k)",
        "CREATE MATERIALIZED VIEW kv_mv AS SELECT k, v FROM kv WHERE v >= 0",
        "CREATE VIEW kv_plain AS SELECT k, v + 1 AS w FROM kv WHERE v >= 0",  # no index: slow path
    )
    return shared_env


READERS = {
    "index": "SELECT v FROM kv_view WHERE k = %s",
    "materialized_view": "SELECT v FROM kv_mv WHERE k = %s",
    "table": "SELECT v FROM kv WHERE k = %s",
    "slow_path": "SELECT w - 1 FROM kv_plain WHERE k = %s",
}


@pytest.mark.parametrize("path", sorted(READERS))
def test_read_after_acknowledged_write_from_another_connection(world, path: str) -> None:  # type: ignore[no-untyped-def]
    key = sorted(READERS).index(path) + 100
    read = READERS[path]
    with world.connect() as writer, world.connect() as reader:
        writer.execute("INSERT INTO kv VALUES (%s, 0)", (key,))
        assert reader.execute(read, (key,)).fetchall() == [(0,)]
        for i in range(1, 26):
            writer.execute("UPDATE kv SET v = %s WHERE k = %s", (i, key))
            assert reader.execute(read, (key,)).fetchall() == [(i,)], f"iteration {i}"
        writer.execute("DELETE FROM kv WHERE k = %s", (key,))
        assert reader.execute(read, (key,)).fetchall() == []
        for i in range(10):
            writer.execute("INSERT INTO kv VALUES (%s, %s)", (key, i))
            assert sorted(reader.execute(read, (key,)).fetchall()) == [(j,) for j in range(i + 1)]
        writer.execute("DELETE FROM kv WHERE k = %s", (key,))


def test_slow_path_over_view_without_index(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("INSERT INTO kv VALUES (1, 10), (2, -5), (3, 30)")
    try:
        assert world.query("SELECT k, w FROM kv_plain WHERE k < 50 ORDER BY k") == [(1, 11), (3, 31)]
        assert world.query("SELECT w * 2 AS d FROM kv_plain WHERE k = 3") == [(62,)]
    finally:
        world.execute("DELETE FROM kv WHERE k < 50")


def test_fast_path_on_index_agrees_with_table(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("INSERT INTO kv VALUES (5, 1), (6, -1), (7, 2)")
    try:
        from_index = world.query("SELECT k, v FROM kv_view WHERE k BETWEEN 5 AND 7 ORDER BY k")
        from_table = world.query("SELECT k, v FROM kv WHERE k BETWEEN 5 AND 7 AND v >= 0 ORDER BY k")
        assert from_index == from_table == [(5, 1), (7, 2)]
    finally:
        world.execute("DELETE FROM kv WHERE k BETWEEN 5 AND 7")


@pytest.mark.timeout(60)
def test_cluster_without_replicas_errors_clearly(world) -> None:  # type: ignore[no-untyped-def]
    with world.connect() as conn:
        conn.execute("CREATE CLUSTER empty (SIZE = 'small', REPLICATION FACTOR = 0)")
        conn.execute("SET cluster = empty")
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT * FROM kv_plain")
        assert "replica" in str(info.value).lower()
        assert info.value.sqlstate is not None and info.value.sqlstate != "XX000"
        # The session still works; introspection needs no replica.
        assert conn.execute("SELECT name FROM mz_catalog.mz_clusters WHERE name = 'empty'").fetchall() == [
            ("empty",)]
        conn.execute("SET cluster = quickstart")
        assert conn.execute("SELECT count(*) FROM kv_plain").fetchall()[0][0] >= 0
        conn.execute("DROP CLUSTER empty")


def _subscribe_sinks(log: str) -> tuple[set[str], set[str]]:
    created = set(re.findall(r"created dataflow subscribe (t\d+)", log))
    dropped = set(re.findall(r"dropped dataflow subscribe (t\d+)", log))
    return created, dropped


def _write_later(env, statements: list[str], started: threading.Event) -> threading.Thread:  # type: ignore[no-untyped-def]
    return _write_when(env, statements, lambda: started.wait(30))


def _write_when(env, statements: list[str], ready) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Run ``statements`` on their own connection in a thread, once ``ready()`` has returned."""

    def run() -> None:
        ready()
        with env.connect() as conn:
            for statement in statements:
                conn.execute(statement)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(60)
def test_subscribe_copy_streams_snapshot_then_changes_and_drops_dataflow(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("CREATE TABLE s (a int, b text)", "INSERT INTO s VALUES (1, 'one'), (2, 'two')")
    snapshot_seen = threading.Event()
    writer = _write_later(world, ["INSERT INTO s VALUES (3, 'three')", "DELETE FROM s WHERE a = 1"],
                          snapshot_seen)
    received: list[tuple] = []
    conn = world.connect()
    with conn.cursor().copy("COPY (SUBSCRIBE s) TO STDOUT") as copy:
        for row in copy.rows():
            received.append(row)
            if len(received) == 2:
                snapshot_seen.set()
            if len(received) == 4:
                break
    conn.close()
    writer.join(10)
    timestamps = [int(r[0]) for r in received]
    snapshot, changes = received[:2], received[2:]
    assert sorted((r[1], r[2], r[3]) for r in snapshot) == [("1", "1", "one"), ("1", "2", "two")]
    assert len({int(r[0]) for r in snapshot}) == 1
    assert [(r[1], r[2], r[3]) for r in changes] == [("1", "3", "three"), ("-1", "1", "one")]
    assert timestamps == sorted(timestamps) and timestamps[2] > timestamps[0] and timestamps[3] > timestamps[2]

    replica_id = world.query("SELECT id FROM mz_catalog.mz_cluster_replicas")[0][0]

    def all_subscribes_dropped() -> bool:
        created, dropped = _subscribe_sinks(world.replica_log(replica_id))
        return bool(created) and created <= dropped

    world.wait_for(all_subscribes_dropped)


def _write_once_subscribed(env, statements: list[str]) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Run ``statements`` once the replica log shows a new subscribe dataflow (the subscription is open)."""
    replica_id = env.query("SELECT id FROM mz_catalog.mz_cluster_replicas")[0][0]
    before, _ = _subscribe_sinks(env.replica_log(replica_id))
    return _write_when(env, statements,
                       lambda: env.wait_for(lambda: _subscribe_sinks(env.replica_log(replica_id))[0] - before))


@pytest.mark.timeout(60)
def test_subscribe_without_snapshot_skips_snapshot(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("CREATE TABLE s2 (a int)", "INSERT INTO s2 VALUES (1), (2)")
    writer = _write_once_subscribed(world, ["INSERT INTO s2 VALUES (3)", "DELETE FROM s2 WHERE a = 2"])
    received: list[tuple] = []
    conn = world.connect()  # closed, not committed: leaving COPY OUT early leaves the connection busy
    try:
        with conn.cursor().copy("COPY (SUBSCRIBE s2 WITH (SNAPSHOT = false)) TO STDOUT") as copy:
            for row in copy.rows():
                received.append(row)
                if len(received) == 2:
                    break
    finally:
        conn.close()
    writer.join(10)
    assert [r[1:] for r in received] == [("1", "3"), ("-1", "2")]


@pytest.mark.timeout(60)
def test_subscribe_via_cursor_stream(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("CREATE TABLE s3 (a int, t text)", "INSERT INTO s3 VALUES (1, 'x')")
    writer = _write_once_subscribed(world, ["INSERT INTO s3 VALUES (2, NULL)"])
    rows: list[tuple] = []
    with world.connect() as conn:
        cur = conn.cursor()
        for row in cur.stream("SUBSCRIBE s3"):
            rows.append(row)
            if len(rows) == 2:
                assert [d.name for d in cur.description] == ["mz_timestamp", "mz_diff", "a", "t"]
                break
    writer.join(10)
    assert [r[1:] for r in rows] == [(1, 1, "x"), (1, 2, None)]
    assert isinstance(rows[0][0], int) and rows[1][0] > rows[0][0]


@pytest.mark.timeout(60)
def test_subscribe_to_query_with_filter(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("CREATE TABLE s4 (a int)", "INSERT INTO s4 VALUES (1), (20)")
    writer = _write_once_subscribed(world, ["INSERT INTO s4 VALUES (2), (30)"])
    rows: list[tuple] = []
    conn = world.connect()  # closed, not committed: leaving COPY OUT early leaves the connection busy
    try:
        with conn.cursor().copy("COPY (SUBSCRIBE TO (SELECT a FROM s4 WHERE a > 10)) TO STDOUT") as copy:
            for row in copy.rows():
                rows.append(row)
                if len(rows) == 2:
                    break
    finally:
        conn.close()
    writer.join(10)
    assert [r[1:] for r in rows] == [("1", "20"), ("1", "30")]


def _dataflows(log: str, kind: str) -> tuple[set[str], set[str]]:
    created = set(re.findall(rf"created dataflow {kind} (t\d+)", log))
    dropped = set(re.findall(rf"dropped dataflow {kind} (t\d+)", log))
    return created, dropped


def test_slow_path_transient_dataflows_are_dropped(world) -> None:  # type: ignore[no-untyped-def]
    replica_id = world.query("SELECT id FROM mz_catalog.mz_cluster_replicas")[0][0]
    for _ in range(3):
        world.query("SELECT * FROM kv_plain")
    world.wait_for(lambda: (c := _dataflows(world.replica_log(replica_id), r"peek")[0]) and
                   c <= _dataflows(world.replica_log(replica_id), r"peek")[1])


@pytest.mark.timeout(60)
def test_subscribe_cancel_request_ends_stream_and_connection_stays_usable(world) -> None:  # type: ignore[no-untyped-def]
    world.execute("CREATE TABLE s5 (a int)", "INSERT INTO s5 VALUES (1)")
    replica_id = world.query("SELECT id FROM mz_catalog.mz_cluster_replicas")[0][0]
    with world.connect() as conn:
        cur = conn.cursor()
        received: list[tuple] = []
        with pytest.raises(psycopg.errors.QueryCanceled):
            for row in cur.stream("SUBSCRIBE s5"):
                received.append(row)
                conn.cancel_safe()  # a CancelRequest on a separate socket, as psql's Ctrl-C
        assert [r[1:] for r in received] == [(1, 1)]
        assert conn.execute("SELECT a FROM s5").fetchall() == [(1,)]
    world.wait_for(lambda: (c := _subscribe_sinks(world.replica_log(replica_id)))[0] <= c[1])
