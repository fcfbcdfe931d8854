"""Bad input: clear PostgreSQL errors, and the server keeps serving with nothing lost.

Every case runs on ONE long-lived connection: after the error the same connection must still answer,
a new connection must work too, and the guard table's row count must be unchanged.  The last cases
send garbage bytes on raw sockets to the SQL port.
"""

from __future__ import annotations

import socket
import struct

import psycopg
import pytest

from conftest import raw_login

GUARD_ROWS = [(1, "a"), (2, "b"), (3, "c")]


@pytest.fixture(scope="module")
def conn(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE guard (id int, v text)",
        "INSERT INTO guard VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE VIEW guard_view AS SELECT id, v FROM guard WHERE id > 0",
        "CREATE INDEX guard_idx ON guard_view (id)",
    )
    with shared_env.connect() as connection:
        yield connection


def assert_still_serving(env, conn) -> None:  # type: ignore[no-untyped-def]
    assert conn.execute("SELECT * FROM guard ORDER BY id").fetchall() == GUARD_ROWS
    assert env.query("SELECT * FROM guard_view ORDER BY id") == GUARD_ROWS


CASES = [
    ("SELECT * FROM no_such_table", "42P01", "no_such_table"),
    ("SELECT nope FROM guard", "42703", "nope"),
    ("INSERT INTO no_such_table VALUES (1)", "42P01", "no_such_table"),
    ("SELEC * FROM guard", "42601", None),
    ("SELECT * FROM guard WHERE", "42601", None),
    ("CREATE TABLE guard (x int)", "42P07", "guard"),
    ("SELECT 1 / 0", "22012", None),
    ("SELECT id / (id - id) FROM guard", "22012", None),
    ("SET cluster = no_such_cluster; SELECT * FROM guard_view", None, "no_such_cluster"),
    ("CREATE INDEX i IN CLUSTER no_such_cluster ON guard_view (id)", None, "no_such_cluster"),
    ("CREATE MATERIALIZED VIEW mv_bad IN CLUSTER no_such_cluster AS SELECT 1", None, "no_such_cluster"),
    ("DROP CLUSTER no_such_cluster", None, "no_such_cluster"),
    ("DROP TABLE no_such_table", "42P01", "no_such_table"),
]


@pytest.mark.parametrize(("sql", "sqlstate", "mentions"), CASES, ids=[c[0][:40] for c in CASES])
def test_error_then_keeps_serving(shared_env, conn, sql: str, sqlstate: str | None,  # type: ignore[no-untyped-def]
                                  mentions: str | None) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql)
    error = info.value
    if sqlstate is not None:
        assert error.sqlstate == sqlstate, str(error)
    else:
        assert error.sqlstate is not None and error.sqlstate != "XX000", str(error)
    if mentions is not None:
        assert mentions in error.diag.message_primary
    conn.execute("SET cluster = quickstart")
    assert_still_serving(shared_env, conn)


@pytest.mark.parametrize("sql", [
    "INSERT INTO guard VALUES ('not a number', 'x')",
    "INSERT INTO guard VALUES (1, 'x', 'extra')",
    "UPDATE guard SET id = 'abc' WHERE id = 1",
])
def test_wrong_types_in_writes(shared_env, conn, sql: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql)
    assert info.value.sqlstate in ("22P02", "42804", "42601"), str(info.value)
    assert_still_serving(shared_env, conn)


def test_wrong_type_parameter(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.Error) as info:
        conn.execute("INSERT INTO guard VALUES (%s::int, 'x')", ("twelve",))
    assert info.value.sqlstate in ("22P02", "42804"), str(info.value)
    assert_still_serving(shared_env, conn)


def test_drop_table_with_dependents(shared_env) -> None:  # type: ignore[no-untyped-def]
    # A fresh connection: the module connection has auto-prepared statements, and psycopg follows a DROP
    # with DEALLOCATE ALL (covered separately by test_drop_after_psycopg_auto_prepare).
    with shared_env.connect() as conn:
        _drop_table_with_dependents(shared_env, conn)


def _drop_table_with_dependents(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("CREATE TABLE base (a int)")
    conn.execute("INSERT INTO base VALUES (1), (2)")
    conn.execute("CREATE VIEW dep AS SELECT a FROM base WHERE a > 1")
    conn.execute("CREATE INDEX dep_idx ON dep (a)")
    with pytest.raises(psycopg.Error) as info:
        conn.execute("DROP TABLE base")
    assert info.value.sqlstate == "2BP01", str(info.value)
    assert "base" in info.value.diag.message_primary
    assert info.value.diag.message_hint or info.value.diag.message_detail  # names the dependents / CASCADE
    assert conn.execute("SELECT * FROM dep").fetchall() == [(2,)]  # nothing was dropped
    conn.execute("DROP TABLE base CASCADE")
    for name in ("base", "dep"):
        with pytest.raises(psycopg.Error) as gone:
            conn.execute(f"SELECT * FROM {name}")
        assert gone.value.sqlstate == "42P01"
    assert "dep_idx" not in [r[0] for r in conn.execute("SHOW INDEXES").fetchall()]
    conn.execute("DROP TABLE IF EXISTS base")  # IF EXISTS on a missing table is not an error
    assert_still_serving(shared_env, conn)


def test_drop_after_psycopg_auto_prepare(shared_env) -> None:  # type: ignore[no-untyped-def]
    """psycopg prepares a query after 5 executions and answers a DROP/ALTER/ROLLBACK with DEALLOCATE ALL."""
    with shared_env.connect() as conn:
        for _ in range(6):
            assert conn.execute("SELECT count(*) FROM guard").fetchall() == [(3,)]
        conn.execute("CREATE TABLE scratch (a int)")
        conn.execute("DROP TABLE scratch")  # psycopg then sends DEALLOCATE ALL itself
        assert conn.execute("SELECT count(*) FROM guard").fetchall() == [(3,)]
        conn.execute("DEALLOCATE ALL")


def test_error_message_shape(conn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT * FROM missing_relation")
    message = info.value.diag.message_primary
    assert message == message.rstrip(".") and message[0].islower()
    assert '"missing_relation"' in message
    assert info.value.diag.severity == "ERROR"


@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x08\xde\xad\xbe\xef",         # a startup packet with an unknown protocol version
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",        # someone speaking HTTP to the SQL port
    b"\xff" * 64,                                  # a huge declared length
    b"\x00\x00",                                   # a truncated length, then close
], ids=["bad-version", "http", "huge-length", "truncated"])
def test_garbage_before_startup(shared_env, conn, garbage: bytes) -> None:  # type: ignore[no-untyped-def]
    with socket.create_connection(("127.0.0.1", shared_env.sql_port), timeout=10) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        try:
            while sock.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
    assert_still_serving(shared_env, conn)


def test_garbage_after_startup(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    with socket.create_connection(("127.0.0.1", shared_env.sql_port), timeout=10) as sock:
        raw_login(sock, shared_env.password)
        sock.sendall(b"\x01\x00\x00\x00\x05x" + b"Q\x00\x00\x00\x03")  # unknown message type, bad length
        reply = b""
        try:
            while chunk := sock.recv(4096):
                reply += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert reply[:1] in (b"E", b""), reply[:40]  # an ErrorResponse (or a plain close), never a hang
    assert_still_serving(shared_env, conn)


def test_psql_syntax_error_then_new_session_works(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    result = shared_env.psql("SELEKT 1", check=False)
    assert result.returncode != 0 and "syntax error" in result.stderr.lower()
    assert shared_env.query("SELECT count(*) FROM guard") == [(3,)]


def test_ssl_modes(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    """SSLRequest is accepted (the proxy terminates TLS): prefer and require encrypt, disable does not; GSSAPI
    encryption is declined with 'N' and the client falls back."""
    for mode, encrypted in (("prefer", True), ("require", True), ("disable", False)):
        with psycopg.connect(f"{shared_env.dsn} sslmode={mode} gssencmode=disable", autocommit=True) as tls:
            assert tls.pgconn.ssl_in_use is encrypted
            assert tls.execute("SELECT count(*) FROM guard").fetchall() == [(3,)]
    with socket.create_connection(("127.0.0.1", shared_env.sql_port), timeout=10) as sock:
        sock.sendall(struct.pack("!ii", 8, 80877104))  # GSSENCRequest
        assert sock.recv(1) == b"N"


def test_drop_table_takes_its_own_indexes_without_cascade(shared_env) -> None:  # type: ignore[no-untyped-def]
    """As in PostgreSQL, indexes on a relation are dropped with it; only other dependents need CASCADE."""
    with shared_env.connect() as conn:
        conn.execute("CREATE TABLE own_idx (a int)")
        conn.execute("CREATE INDEX own_idx_a ON own_idx (a)")
        conn.execute("CREATE VIEW own_view AS SELECT a FROM own_idx")
        conn.execute("CREATE INDEX own_view_a ON own_view (a)")
        conn.execute("DROP VIEW own_view")  # its index goes with it
        conn.execute("DROP TABLE own_idx")
        names = [r[0] for r in conn.execute("SHOW INDEXES").fetchall()]
        assert "own_idx_a" not in names and "own_view_a" not in names
        assert_still_serving(shared_env, conn)
