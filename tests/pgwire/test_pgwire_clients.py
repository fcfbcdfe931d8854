"""End-to-end: real clients (psycopg 3, psql) against the asyncio server and a fake in-test backend."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import socket
import subprocess
import threading
import time
from typing import Any, Callable, Iterator

import psycopg
import pytest
from psycopg import pq

from pgwire_fakes import FakeBackend
from steadystate.pgwire import serve


class ServerThread:
    """Runs the pgwire server on its own event loop in a background thread."""

    def __init__(self) -> None:
        self.backend = FakeBackend()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(serve(self.backend, "127.0.0.1", 0))
        self.port = self.server.port
        self.ready.set()
        self.loop.run_forever()

    def call(self, fn: Callable[[], Any]) -> Any:
        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(10)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self.call(predicate):
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.01)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    thread = ServerThread()
    yield thread
    thread.stop()


@pytest.fixture()
def conn(server: ServerThread) -> Iterator[psycopg.Connection]:
    with psycopg.connect(host="127.0.0.1", port=server.port, user="u", dbname="materialize",
                         autocommit=True, application_name="pgwire-test") as connection:
        yield connection


def test_startup_parameters(conn: psycopg.Connection) -> None:
    assert conn.info.parameter_status("server_version") == "15.0 (steadystate)"
    assert conn.info.parameter_status("client_encoding") == "UTF8"
    assert conn.info.parameter_status("application_name") == "pgwire-test"
    assert conn.info.parameter_status("cluster") == "quickstart"
    assert conn.info.backend_pid >= 100


def test_simple_query_several_statements(server: ServerThread, conn: psycopg.Connection) -> None:
    server.call(lambda: server.backend.state.rows.clear())
    cur = conn.execute("INSERT INTO t VALUES (1, 'x'); INSERT INTO t VALUES (2, 'y')")
    assert cur.statusmessage == "INSERT 0 1"
    assert conn.execute("SELECT 1").fetchall() == [(1,)]
    cur = conn.cursor()
    cur.execute("SELECT * FROM t")
    assert cur.fetchall() == [(1, "x"), (2, "y")]
    assert cur.statusmessage == "SELECT 2"
    assert [d.name for d in cur.description] == ["a", "b"]


def test_server_error_has_sqlstate_and_hint_and_connection_survives(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.UndefinedColumn) as info:
        conn.execute("SELECT fail")
    assert info.value.diag.sqlstate == "42703"
    assert info.value.diag.message_primary == 'column "fail" does not exist'
    assert info.value.diag.message_hint == "check the spelling"
    with pytest.raises(psycopg.errors.UndefinedColumn):
        conn.execute("SELECT fail WHERE %s", [1])  # extended protocol too
    with pytest.raises(psycopg.errors.InternalError_) as internal:
        conn.execute("SELECT boom")
    assert internal.value.diag.sqlstate == "XX000"
    assert "boom" in internal.value.diag.message_primary
    assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("binary", [False, True])
def test_parameters_round_trip(conn: psycopg.Connection, binary: bool) -> None:
    values = [1, -2**40, 2.5, float("inf"), None, "héllo\tworld", True, decimal.Decimal("-12.3400"),
              dt.date(2024, 2, 29)]
    cur = conn.cursor(binary=binary)
    cur.execute("SELECT " + ", ".join(["%s"] * len(values)), values)
    row = cur.fetchone()
    assert row is not None
    # Values without a type psycopg can name (None, str) come back as text; the others keep their types.
    assert row[0] == 1 and row[1] == -2**40 and row[2] == 2.5 and row[3] == float("inf")
    assert row[4] is None and row[5] == "héllo\tworld" and row[6] is True
    assert row[7] == decimal.Decimal("-12.3400") and row[8] == dt.date(2024, 2, 29)


def test_params_are_decoded_by_oid(server: ServerThread, conn: psycopg.Connection) -> None:
    server.call(lambda: server.backend.state.executed.clear())
    conn.execute("SELECT %s, %s, %s, %s", [7, 1.25, "text", None])
    sql, params, oids = server.call(lambda: server.backend.state.executed[-1])
    assert params == [7, 1.25, "text", None]
    assert isinstance(params[0], int) and isinstance(params[1], float)


def test_prepared_statement_and_insert_params(server: ServerThread, conn: psycopg.Connection) -> None:
    server.call(lambda: server.backend.state.rows.clear())
    for i in range(5):
        conn.execute("INSERT INTO t VALUES (%s, %s)", [i, None if i == 3 else f"v{i}"], prepare=True)
    rows = conn.execute("SELECT a, b FROM t WHERE a > %s", [1], prepare=True).fetchall()
    assert rows == [(2, "v2"), (3, None), (4, "v4")]
    assert conn.execute("SELECT a, b FROM t WHERE a > %s", [3], prepare=True).fetchall() == [(4, "v4")]


def test_stream_uses_extended_protocol_rows(conn: psycopg.Connection) -> None:
    cur = conn.cursor()
    assert [row[0] for row in cur.stream("SELECT generate 2500")] == list(range(2500))
    assert [row[0] for row in cur.stream("SELECT generate 300 async")] == list(range(300))


def test_copy_from_stdin_write_row_and_raw_csv(server: ServerThread, conn: psycopg.Connection) -> None:
    server.call(lambda: server.backend.state.copied.clear())
    rows = [(i, None if i % 7 == 0 else f"r\t{i}\\ \n") for i in range(25_000)]
    with conn.cursor().copy("COPY t FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    copied = server.call(lambda: list(server.backend.state.copied))
    assert copied == [(str(a), b) for a, b in rows]
    server.call(lambda: server.backend.state.copied.clear())
    cur = conn.cursor()
    with cur.copy("COPY t FROM STDIN WITH (FORMAT CSV, HEADER)") as copy:
        copy.write('a,b\n1,"x,""y"""\n2,\n3,""\n4,"multi\nline"\n')
    assert cur.statusmessage == "COPY 4"
    assert server.call(lambda: list(server.backend.state.copied)) == [
        ("1", 'x,"y"'), ("2", None), ("3", ""), ("4", "multi\nline")]


def test_copy_error_reports_and_recovers(server: ServerThread, conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.BadCopyFileFormat):
        with conn.cursor().copy("COPY t FROM STDIN") as copy:
            copy.write("1\tx\textra\n")
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_to_stdout(server: ServerThread, conn: psycopg.Connection) -> None:
    server.call(lambda: server.backend.state.rows.__setitem__(slice(None), [(1, "a\tb"), (2, None)]))
    cur = conn.cursor()
    with cur.copy("COPY t TO STDOUT") as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    assert data == b"1\ta\\tb\n2\t\\N\n"


def test_notice_is_delivered(conn: psycopg.Connection) -> None:
    notices: list[tuple[str | None, ...]] = []
    conn.add_notice_handler(lambda n: notices.append((n.severity, n.message_primary, n.message_hint)))
    conn.execute("NOTICE hello there")
    assert notices == [
        ("NOTICE", "hello there", "just so you know")]


def test_transaction_status(conn: psycopg.Connection) -> None:
    conn.execute("BEGIN")
    assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
    conn.execute("COMMIT")
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE


def test_cancel_waiting_statement(server: ServerThread, conn: psycopg.Connection) -> None:
    # cancel_safe(): the blocking conn.cancel() holds the GIL inside libpq, which would starve the
    # in-process server thread; on the wire both send the same CancelRequest.
    pid = conn.info.backend_pid
    timer = threading.Timer(0.2, conn.cancel_safe)
    timer.start()
    with pytest.raises(psycopg.errors.QueryCanceled):
        conn.execute("WAIT")
    timer.join()
    assert any(p == pid for p, _ in server.call(lambda: list(server.backend.state.cancels)))
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_subscribe_cancelled_closes_iterator(server: ServerThread, conn: psycopg.Connection) -> None:
    state = server.backend.state
    server.call(lambda: state.rows.__setitem__(slice(None), [(1, "a")]))
    before = server.call(lambda: state.closed_iterators)
    server.call(lambda: state.subscribe_started.clear())
    got: list[bytes] = []
    with pytest.raises(psycopg.errors.QueryCanceled):
        with conn.cursor().copy("COPY (SUBSCRIBE t) TO STDOUT") as copy:
            for chunk in copy:
                got.append(bytes(chunk))
                conn.cancel_safe()
    assert got == [b"1\ta\n"]
    server.wait_until(lambda: state.closed_iterators == before + 1)
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_subscribe_disconnect_closes_iterator_and_session(server: ServerThread) -> None:
    state = server.backend.state
    before_iterators = server.call(lambda: state.closed_iterators)
    before_sessions = server.call(lambda: state.closed_sessions)
    server.call(lambda: state.subscribe_started.clear())
    sock = socket.create_connection(("127.0.0.1", server.port))
    body = b"\x00\x03\x00\x00user\x00u\x00\x00"
    sock.sendall(len(body + b"0000").to_bytes(4, "big") + body)
    query = b"COPY (SUBSCRIBE t) TO STDOUT\x00"
    sock.sendall(b"Q" + (len(query) + 4).to_bytes(4, "big") + query)
    server.wait_until(lambda: state.subscribe_started.is_set())
    sock.close()
    server.wait_until(lambda: state.closed_iterators == before_iterators + 1)
    server.wait_until(lambda: state.closed_sessions == before_sessions + 1)


def test_disconnect_during_statement_closes_session(server: ServerThread) -> None:
    state = server.backend.state
    before = server.call(lambda: state.closed_sessions)
    executed = server.call(lambda: len(state.executed))
    sock = socket.create_connection(("127.0.0.1", server.port))
    body = b"\x00\x03\x00\x00user\x00u\x00\x00"
    sock.sendall(len(body + b"0000").to_bytes(4, "big") + body)
    sock.sendall(b"Q" + (len(b"WAIT\x00") + 4).to_bytes(4, "big") + b"WAIT\x00")
    server.wait_until(lambda: any(m[0] == "WAIT" for m in state.executed[executed:]))
    sock.close()
    server.wait_until(lambda: state.closed_sessions == before + 1)


def test_bad_user_gets_fatal_error(server: ServerThread) -> None:
    with pytest.raises(psycopg.OperationalError, match='role "nobody" does not exist'):
        psycopg.connect(host="127.0.0.1", port=server.port, user="nobody", dbname="x")


def test_garbage_connection_does_not_hurt_others(server: ServerThread, conn: psycopg.Connection) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"\x00\x00\x00\x10GET / HTTP/1.1\r\n")
    reply = sock.recv(1000)
    sock.close()
    assert reply[:1] == b"E" and b"08P01" in reply or b"0A000" in reply
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_psql(server: ServerThread) -> None:
    server.call(lambda: server.backend.state.rows.__setitem__(slice(None), [(1, "one"), (2, None)]))
    run = subprocess.run(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "u", "-d", "materialize",
         "-A", "-t", "-c", "SELECT * FROM t"],
        capture_output=True, text=True, timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["1|one", "2|"]
    failed = subprocess.run(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "u", "-d", "materialize",
         "-c", "SELECT fail"],
        capture_output=True, text=True, timeout=30,
    )
    assert failed.returncode == 1
    assert 'ERROR:  column "fail" does not exist' in failed.stderr
    assert "HINT:  check the spelling" in failed.stderr


def test_psql_copy_from_stdin(server: ServerThread) -> None:
    server.call(lambda: server.backend.state.copied.clear())
    run = subprocess.run(
        ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "u", "-d", "materialize",
         "-c", "COPY t FROM STDIN"],
        input="1\tone\n2\t\\N\n\\.\n", capture_output=True, text=True, timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "COPY 2"
    assert server.call(lambda: list(server.backend.state.copied)) == [("1", "one"), ("2", None)]
