"""The proxy's asyncio driver with real sockets: a client connection carried over from one backend to the next.

The test plays the backend itself on raw non-blocking sockets (handshake, then an answer per simple query),
standing in for the coordinator, so it controls the order in which the proxy's sockets become readable: the
client's next request arrives just *before* the idle backend's end of stream.  The driver must notice the ended
backend before forwarding that request (a peek), so the write goes to the next backend instead of failing as
"outcome unknown".  The real coordinator behind the real proxy is tested in ``tests/e2e/test_supervisor_proxy.py``.
"""

from __future__ import annotations

import asyncio
import socket
import struct

from steadystate.pgwire.proxy_server import ProxyServer
from test_proxy import complete, frames, handshake, query, rfq, startup

STEP_S = 20.0  # bound on each wait, so a broken proxy fails the test instead of hanging it


async def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < size:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, size - len(data)), STEP_S)
        assert chunk, "connection closed"
        data += chunk
    return data


async def _accept_session(listener: socket.socket, pid: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    conn, _ = await asyncio.wait_for(loop.sock_accept(listener), STEP_S)
    conn.setblocking(False)
    (length,) = struct.unpack("!i", await _recv_exactly(conn, 4))
    await _recv_exactly(conn, length - 4)
    await loop.sock_sendall(conn, handshake(pid))
    return conn


async def _answer_query(conn: socket.socket) -> str:
    kind, length = struct.unpack("!ci", await _recv_exactly(conn, 5))
    body = await _recv_exactly(conn, length - 4)
    assert kind == b"Q"
    sql = body[:-1].decode()
    await asyncio.get_running_loop().sock_sendall(conn, complete(sql.split()[0].upper()) + rfq("I"))
    return sql


async def _until_ready(client: socket.socket) -> list[tuple[bytes, bytes]]:
    received = b""
    while not received.endswith(rfq("I")):
        chunk = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(client, 65536), STEP_S)
        assert chunk, f"the proxy closed the client connection after {frames(received)}"
        received += chunk
    return frames(received)


async def _write_right_after_idle_backend_ended() -> tuple[list[tuple[bytes, bytes]], str]:
    backends = socket.create_server(("127.0.0.1", 0))
    backends.setblocking(False)
    listener = socket.create_server(("127.0.0.1", 0))
    proxy = ProxyServer(listener, backends.getsockname()[:2])
    await proxy.start()
    client = socket.create_connection(listener.getsockname()[:2])
    client.setblocking(False)
    try:
        client.send(startup())
        first = await _accept_session(backends, pid=100)
        await _until_ready(client)
        client.send(query("SELECT 1"))
        assert await _answer_query(first) == "SELECT 1"
        await _until_ready(client)
        # no await between these two: the request is readable on the proxy before the backend's end of stream
        client.send(query("INSERT INTO t VALUES (1)"))
        first.close()
        second = await _accept_session(backends, pid=101)
        ran = await _answer_query(second)
        answer = await _until_ready(client)
        second.close()
    finally:
        client.close()
        await proxy.close()
        backends.close()
    return answer, ran


def test_a_write_sent_right_after_an_idle_backend_ended_goes_to_the_next_one() -> None:
    answer, ran = asyncio.run(_write_right_after_idle_backend_ended())
    assert ran == "INSERT INTO t VALUES (1)"
    assert [kind for kind, _ in answer] == [b"C", b"Z"]
