"""The supervisor's pgwire proxy carries client sessions across a ``kill -9`` of the coordinator.

Real processes and real clients: ``steadystate serve`` (the supervisor, which accepts the SQL clients) runs the
coordinator as a child; the tests kill that child with SIGKILL while psycopg clients are connected:

* clients looping fast-path reads (simple and extended protocol) see no error and only correct answers;
* an idle session keeps its ``SET cluster`` and its prepared statements;
* a write in flight (held unread in a stopped coordinator's socket, then killed) gets the clear 08006 error
  and is applied at most once; an open transaction learns that it was aborted.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Callable

import psutil
import psycopg
import pytest
from conftest import PSQL

LOST = "connection to the coordinator was lost"


def hydrated_index(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE t (k int, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
                "CREATE VIEW tv AS SELECT k, v FROM t", "CREATE INDEX tv_idx ON tv (k)")
    index_id = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'tv_idx'")[0][0]
    env.wait_for(lambda: env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses WHERE object_id = %s",
                                   (index_id,)) == [(True,)])


class Reader(threading.Thread):
    """One connection issuing point lookups until stopped; every answer and every error recorded."""

    def __init__(self, env, prepare: bool | None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.conn = env.connect()
        self.prepare = prepare
        self.stop = threading.Event()
        self.answers = 0
        self.wrong: list[tuple] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        expected = {1: "a", 2: "b", 3: "c"}
        with self.conn:
            while not self.stop.is_set():
                k = self.answers % 3 + 1
                try:
                    if self.prepare is None:  # simple protocol: the literal is in the text
                        rows = self.conn.execute(f"SELECT k, v FROM tv WHERE k = {k}").fetchall()
                    else:
                        rows = self.conn.execute("SELECT k, v FROM tv WHERE k = %s", (k,),
                                                 prepare=self.prepare).fetchall()
                except BaseException as exc:  # noqa: BLE001 - recorded and asserted by the test
                    self.errors.append(exc)
                    return
                if rows != [(k, expected[k])]:
                    self.wrong.append((k, rows))
                self.answers += 1


def test_fast_path_reads_see_no_error_across_coordinator_kill9(env) -> None:  # type: ignore[no-untyped-def]
    hydrated_index(env)
    readers = [Reader(env, None), Reader(env, False), Reader(env, True)]
    for reader in readers:
        reader.start()
    env.wait_for(lambda: all(r.answers > 20 for r in readers))
    old = env.coordinator_pid()
    os.kill(old, signal.SIGKILL)
    at_kill = [r.answers for r in readers]
    env.wait_coordinator_replaced(old)
    # each connection goes on answering on the new coordinator (or has failed, which the asserts report)
    env.wait_for(lambda: all(r.answers > n + 20 or r.errors for r, n in zip(readers, at_kill)), timeout=60)
    for reader in readers:
        reader.stop.set()
        reader.join(30)
    assert [r.errors for r in readers] == [[], [], []]
    assert [r.wrong for r in readers] == [[], [], []]


def test_idle_session_keeps_its_cluster_setting_and_prepared_statement(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER other (SIZE = 'small', REPLICATION FACTOR = 1)")
    hydrated_index(env)
    with env.connect() as conn:
        conn.execute("SET cluster = other")
        assert conn.execute("SELECT v FROM tv WHERE k = %s", (2,), prepare=True).fetchall() == [("b",)]
        old = env.coordinator_pid()
        os.kill(old, signal.SIGKILL)
        env.wait_coordinator_replaced(old)
        assert conn.execute("SHOW cluster").fetchall() == [("other",)]
        assert conn.execute("SELECT v FROM tv WHERE k = %s", (3,), prepare=True).fetchall() == [("c",)]
        assert conn.execute("SELECT v FROM tv WHERE k = %s", (1,), prepare=True).fetchall() == [("a",)]


def _unread_bytes_in_coordinator(env) -> bool:  # type: ignore[no-untyped-def]
    """True when some connection to the coordinator's SQL socket holds bytes it has not read yet."""
    coordinator = psutil.Process(env.coordinator_pid())
    ports = {c.laddr.port for c in coordinator.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    ports.discard(env.http_port)
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            rx_queue = int(fields[4].split(":")[1], 16)
            if local_port in ports and fields[3] == "01" and rx_queue > 0:
                return True
    return False


def in_flight_across_kill9(env, statement: Callable[[], object]) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    """Run ``statement`` (on a client thread) while it is surely in flight when the coordinator is killed.

    The coordinator is stopped (SIGSTOP), the statement is issued, and once its bytes wait unread in the
    coordinator's socket the coordinator is killed (SIGKILL).  Returns the old pid and the statement's result
    or exception.
    """
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(statement())
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            outcome.append(exc)

    old = env.coordinator_pid()
    os.kill(old, signal.SIGSTOP)
    try:
        client = threading.Thread(target=run, daemon=True)
        client.start()
        env.wait_for(lambda: _unread_bytes_in_coordinator(env))
    finally:
        os.kill(old, signal.SIGKILL)
    client.join(60)
    (result,) = outcome
    return old, result


def test_write_in_flight_gets_a_clear_error_and_is_applied_at_most_once(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE w (k int)")
    conn = env.connect()
    old, error = in_flight_across_kill9(env, lambda: conn.execute("INSERT INTO w VALUES (99)"))
    assert isinstance(error, psycopg.OperationalError), error
    assert error.sqlstate == "08006" and "the outcome of the statement is unknown" in str(error)
    assert conn.closed or conn.broken
    env.wait_coordinator_replaced(old)
    assert env.query("SELECT count(*) FROM w WHERE k = 99")[0][0] in (0, 1)  # never twice
    env.execute("INSERT INTO w VALUES (100)")  # a new connection works as usual
    assert env.query("SELECT count(*) FROM w WHERE k = 100") == [(1,)]


@pytest.mark.parametrize("prepare", [None, True], ids=["simple", "extended"])
def test_read_in_flight_is_resent_to_the_new_coordinator(env, prepare: bool | None) -> None:  # type: ignore[no-untyped-def]
    hydrated_index(env)
    conn = env.connect()
    if prepare is None:
        _, answer = in_flight_across_kill9(env, lambda: conn.execute("SELECT v FROM tv WHERE k = 2").fetchall())
    else:
        _, answer = in_flight_across_kill9(
            env, lambda: conn.execute("SELECT v FROM tv WHERE k = %s", (2,), prepare=True).fetchall())
    assert answer == [("b",)]
    served = json.loads((env.data_dir / "serve.json").read_text())
    assert (served["resent_requests"], served["failed_connections"]) == (1, 0)
    assert conn.execute("SELECT v FROM tv WHERE k = 3").fetchall() == [("c",)]
    conn.close()


def test_open_transaction_learns_it_was_aborted(env) -> None:  # type: ignore[no-untyped-def]
    hydrated_index(env)
    conn = env.connect(autocommit=False)
    assert conn.execute("SELECT v FROM tv WHERE k = 1").fetchall() == [("a",)]  # BEGIN; SELECT: in a transaction
    old = env.coordinator_pid()
    os.kill(old, signal.SIGKILL)
    env.wait_coordinator_replaced(old)
    with pytest.raises(psycopg.OperationalError) as raised:
        conn.execute("SELECT v FROM tv WHERE k = 2")
    assert "transaction was aborted" in str(raised.value)
    conn.close()
    assert env.query("SELECT v FROM tv WHERE k = 2") == [("b",)]


def test_cancel_request_reaches_the_coordinator_through_the_proxy(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE s (k int)", "INSERT INTO s VALUES (1)")
    with env.connect() as conn:
        rows: list[tuple] = []
        stopped: list[BaseException] = []

        def subscribe() -> None:
            try:
                with conn.cursor().copy("COPY (SUBSCRIBE TO s) TO STDOUT") as copy:
                    for row in copy.rows():
                        rows.append(row)
            except BaseException as exc:  # noqa: BLE001 - asserted below
                stopped.append(exc)

        streaming = threading.Thread(target=subscribe, daemon=True)
        streaming.start()
        env.wait_for(lambda: rows)  # the subscribe is running on the coordinator
        conn.cancel()  # a CancelRequest with the proxy's key, mapped to the coordinator's
        streaming.join(30)
        assert len(stopped) == 1 and isinstance(stopped[0], psycopg.errors.QueryCanceled), stopped
        assert conn.execute("SELECT k FROM s").fetchall() == [(1,)]


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_psql_session_carries_on_across_kill9(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER other (SIZE = 'small', REPLICATION FACTOR = 1)", "CREATE TABLE p (k int)")
    old = env.coordinator_pid()
    # one psql session: a setting, then (from psql itself) kill -9 of the coordinator and wait until it is gone,
    # then a read, a write and a read on the same connection
    kill = f"\\! kill -9 {old}; while kill -0 {old} 2>/dev/null; do sleep 0.01; done"
    result = env.psql("SET cluster = other", kill, "SHOW cluster", "INSERT INTO p VALUES (1)",
                      "SELECT count(*) AS n FROM p")
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[lines.index("cluster") + 2] == "other"
    assert lines[lines.index("n") + 2] == "1"
    assert env.coordinator_pid() != old
    assert env.query("SELECT count(*) FROM p") == [(1,)]  # the write ran exactly once
