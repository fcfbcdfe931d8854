"""A client that drops its connection while its COMMIT is in flight (a real server, a raw socket closed with a
reset right after the COMMIT is sent): the transaction is applied wholly or not at all, and after reconnecting the
client can tell which by reading; the coordinator's in-memory copy of the tables agrees with storage (a DELETE,
which is computed from it, removes exactly what a read shows)."""

from __future__ import annotations

import socket
import struct

from conftest import raw_login


def _query(sock: socket.socket, sql: str) -> None:
    body = sql.encode() + b"\x00"
    sock.sendall(b"Q" + struct.pack("!i", len(body) + 4) + body)


def _until_ready(sock: socket.socket) -> bytes:
    received = b""
    while not (len(received) >= 6 and received[-6:-5] == b"Z"):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    return received


def test_a_commit_whose_connection_drops_is_all_or_nothing(shared_env) -> None:  # type: ignore[no-untyped-def]
    env = shared_env
    env.execute("CREATE TABLE cd_a (k int)", "CREATE TABLE cd_b (k int)")
    outcomes = []
    for k in range(1, 9):
        sock = socket.create_connection(("127.0.0.1", env.sql_port), timeout=30)
        try:
            raw_login(sock, env.password)
            for sql in ("BEGIN", f"INSERT INTO cd_a VALUES ({k}), ({k})", f"INSERT INTO cd_b VALUES ({k})"):
                _query(sock, sql)
                assert b"E" != _until_ready(sock)[:1]
            _query(sock, "COMMIT")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        finally:
            sock.close()
        # reconnect: the client can tell what happened by reading
        a = env.query("SELECT count(*) FROM cd_a WHERE k = %s", (k,))[0][0]
        b = env.query("SELECT count(*) FROM cd_b WHERE k = %s", (k,))[0][0]
        assert (a, b) in ((0, 0), (2, 1)), (k, a, b)
        outcomes.append(a == 2)
        env.execute(f"DELETE FROM cd_a WHERE k = {k}")
        assert env.query("SELECT count(*) FROM cd_a WHERE k = %s", (k,)) == [(0,)]
    assert env.query("SELECT count(*) FROM cd_a") == [(0,)]
