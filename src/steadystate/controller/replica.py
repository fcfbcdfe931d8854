"""One controller-side connection to one replica process, with reconnection and connection epochs.

:class:`ReplicaConnection` runs a task that finds the replica's endpoint (through the orchestrator), connects
over TCP, sends ``Hello`` (a fresh nonce, the environment secret, the next epoch), replays the cluster's
reduced command history followed by ``InitializationComplete``, and from then on forwards live commands as
the instance sends them.  Replay and the switch to live forwarding happen without yielding to the event
loop, so no command can fall between them.  Responses are decoded by the sans-I/O
``protocol.framing.ControllerEndpoint`` and handed to the owning instance tagged with the epoch; the
instance drops responses of an older epoch.  A lost connection is retried with backoff capped at 1 s.

The connection also derives, from exactly what it sent, the clean/dirty state the replica *should* report
(``protocol.stages.CommandStream``), so the instance can surface any disagreement.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Callable, Protocol

from steadystate.errors import ProtocolViolation
from steadystate.protocol import messages as m
from steadystate.protocol.framing import ControllerEndpoint, encode_frame
from steadystate.protocol.handshake import CHALLENGE_BYTES, HANDSHAKE_TIMEOUT_S, PROOF_BYTES, ControllerHandshake
from steadystate.protocol.stages import CommandStream

log = logging.getLogger("steadystate.controller")

_BACKOFF_MAX_S = 1.0


class ResponseSink(Protocol):
    def history_for_replay(self, replica_id: str) -> list[m.Command]: ...

    def on_connected(self, connection: "ReplicaConnection") -> None: ...

    def on_disconnected(self, connection: "ReplicaConnection") -> None: ...

    def on_response(self, connection: "ReplicaConnection", epoch: int, response: m.Response) -> None: ...


class ReplicaConnection:
    def __init__(
        self,
        replica_id: str,
        secret: str,
        endpoint: Callable[[], tuple[str, int, int] | None],
        sink: ResponseSink,
    ) -> None:
        self.replica_id = replica_id
        self.secret = secret
        self.endpoint = endpoint
        self.sink = sink
        self.epoch = 0
        self.nonce = ""
        self.pid = 0
        self.connected_at: float | None = None
        self.first_connected_at: float | None = None  # monotonic time of the first connection (start-up cost)
        self.expected = CommandStream()
        self._writer: asyncio.StreamWriter | None = None
        self._live = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def live(self) -> bool:
        return self._live and self._writer is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"replica-conn-{self.replica_id}")

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    def send(self, command: m.Command) -> None:
        """Forward a live command (only once the history was replayed on this connection)."""
        if not self.live:
            return
        assert self._writer is not None
        self.expected.apply(command, _now_ms())
        self._writer.write(encode_frame(command))

    def kick(self) -> None:
        """Drop the current connection so that it is re-established (and the history replayed)."""
        if self._writer is not None:
            self._writer.close()

    async def _run(self) -> None:
        backoff = 0.05
        while not self._closed:
            endpoint = self.endpoint()
            if endpoint is None:
                await asyncio.sleep(0.02)
                continue
            host, port, pid = endpoint
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = 0.05
            self.pid = pid
            try:
                await self._session(reader, writer)
            except (ConnectionError, ProtocolViolation, asyncio.IncompleteReadError) as exc:
                log.info("connection to replica %s lost: %s", self.replica_id, exc)
            finally:
                was_live = self._live
                self._live = False
                self._writer = None
                writer.close()
                if was_live:
                    self.sink.on_disconnected(self)
            await asyncio.sleep(0.02)

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The compute handshake (protocol/handshake.py): each side proves it holds the secret before the Hello."""
        handshake = ControllerHandshake(self.secret)
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
            writer.write(handshake.respond(await reader.readexactly(CHALLENGE_BYTES)))
            await writer.drain()
            handshake.verify(await reader.readexactly(PROOF_BYTES))

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._authenticate(reader, writer)
        except TimeoutError:
            raise ConnectionError("the replica did not complete the compute handshake in time") from None
        self.epoch += 1
        self.nonce = uuid.uuid4().hex
        self.expected = CommandStream()
        hello = m.Hello(self.nonce, self.secret, self.epoch)
        commands: list[m.Command] = [hello, *self.sink.history_for_replay(self.replica_id), m.InitializationComplete()]
        now = _now_ms()
        for command in commands:
            self.expected.apply(command, now)
        endpoint = ControllerEndpoint(hello)
        writer.write(endpoint.opening() + endpoint.encode_all(commands[1:]))
        self._writer = writer
        self._live = True
        self.connected_at = time.monotonic()
        if self.first_connected_at is None:
            self.first_connected_at = self.connected_at
        self.sink.on_connected(self)
        await writer.drain()
        epoch = self.epoch
        while True:
            data = await reader.read(1 << 20)
            if not data:
                raise ConnectionError("replica closed the connection")
            for response in endpoint.receive(data):
                if not isinstance(response, m.HelloAck):
                    self.sink.on_response(self, epoch, response)


def _now_ms() -> int:
    return int(time.time() * 1000)
