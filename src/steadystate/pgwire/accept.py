"""Accepting PostgreSQL clients on a listening socket without leaving any hanging when file descriptors run out.

asyncio's own server, out of descriptors (EMFILE/ENFILE), logs and stops accepting for a second at a time, so a
client waits in the kernel's queue with no answer for as long as descriptors stay short.  :class:`Acceptor` keeps
one descriptor in reserve (``/dev/null`` held open): when accepting fails for want of descriptors, it frees the
reserve, accepts the waiting client, writes it a FATAL 53000 and closes it, then takes the reserve back.  Clients
past the limit get an error at once, connections already open are untouched, and new clients are served again
as soon as descriptors free up.  The supervisor's proxy (``proxy_server.py``) and the coordinator's pgwire server
(``server.py``) both accept through it.

Linux's ``accept()`` fails with EMFILE before it looks at the queue, so each round first waits until the socket is
readable (a client is waiting), then accepts until none is left, yielding to the event loop every
:data:`ACCEPT_BATCH` clients.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from contextlib import suppress
from typing import Any, Callable, Coroutine

from steadystate.errors import InsufficientResources

from .wire import encode_notice

log = logging.getLogger("steadystate.pgwire")

#: accept()'s errors that mean this process (or the system) has no descriptor left
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)
ACCEPT_RETRY_S = 0.1  # after an accept error that no reserve descriptor can help with
ACCEPT_BATCH = 64  # clients accepted in one go before the others get the event loop


def no_descriptors() -> InsufficientResources:
    return InsufficientResources("out of file descriptors: cannot serve another connection",
                                 hint="close idle connections, or raise the server's file-descriptor limit "
                                      "(ulimit -n)")


ClientHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class Acceptor:
    """Accepts clients on the listening ``sock`` and runs ``on_client(reader, writer)`` for each, as
    ``asyncio.start_server`` does (server-side streams: ``writer.start_tls`` runs a server handshake)."""

    def __init__(self, sock: socket.socket, on_client: ClientHandler, limit: int) -> None:
        self.sock = sock
        self.on_client = on_client
        self.limit = limit
        self.out_of_descriptors = 0  # clients refused because no file descriptor was left
        self._reserve: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def sockets(self) -> list[socket.socket]:
        return [self.sock]

    def start(self) -> None:
        self.sock.setblocking(False)
        self._reserve = _open_reserve()
        self._task = asyncio.ensure_future(self._accept_forever())

    async def close(self) -> None:
        """Stop accepting (the clients' own tasks are their owners' to end) and close the listening socket."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None
        self.sock.close()

    async def _accept_forever(self) -> None:
        exhausted = False
        while True:
            await self._readable()
            for _ in range(ACCEPT_BATCH):
                try:
                    conn, _ = self.sock.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno not in OUT_OF_DESCRIPTORS:
                        log.warning("accepting a client failed: %s", exc)
                        await asyncio.sleep(ACCEPT_RETRY_S)
                        break
                    if not exhausted:  # once per episode, not once per client
                        log.error("out of file descriptors: refusing new clients until some are free (%s)", exc)
                    exhausted = True
                    if not self._shed():
                        await asyncio.sleep(ACCEPT_RETRY_S)  # no reserve to refuse with: the kernel queues it
                        break
                    continue
                if exhausted:
                    log.info("file descriptors are available again: accepting clients")
                    exhausted = False
                task = asyncio.ensure_future(self._connect(conn))
                self._clients.add(task)
                task.add_done_callback(self._clients.discard)
            await asyncio.sleep(0)  # let the accepted clients and everyone else run

    async def _connect(self, conn: socket.socket) -> None:
        """Streams over the accepted socket; the protocol starts ``on_client`` (a client-connected callback)."""
        loop = asyncio.get_running_loop()
        try:
            conn.setblocking(False)
            await loop.connect_accepted_socket(
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=self.limit), self.on_client),
                sock=conn)
        except OSError:
            conn.close()

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = self.sock.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)

    def _shed(self) -> bool:
        """No descriptor is left to accept with: free the reserve, accept the waiting client, tell it why and close
        it, take the reserve back.  False if there is no reserve to do it with."""
        if self._reserve is None:
            self._reserve = _open_reserve()
            if self._reserve is None:
                return False
        os.close(self._reserve)
        self._reserve = None
        try:
            conn, _ = self.sock.accept()
        except OSError:
            pass
        else:
            self.out_of_descriptors += 1
            with suppress(OSError):
                conn.setblocking(False)
                conn.send(encode_notice(no_descriptors().to_wire("FATAL"), error=True))
            conn.close()
        self._reserve = _open_reserve()
        return True


def _open_reserve() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None
