"""The replica process: a thin asyncio driver around :class:`~steadystate.compute.state.ComputeState`.

``run_replica`` opens storage, binds a TCP port on 127.0.0.1, announces ``endpoint.json`` (pid, port) in
its directory for the orchestrator and controller, and serves one controller connection at a time.  A
connection must open with ``Hello`` carrying the environment secret (checked by the sans-I/O
``protocol.framing.ReplicaEndpoint`` before any command is applied); a newer authenticated connection
replaces the older one (the controller reconnected).  A replica that has had no controller for
``orphan_timeout`` seconds exits: replicas outlive a crashed coordinator long enough to be adopted by the
next one, but never linger as orphans.  Commands are applied in arrival order; a ticker task
calls ``ComputeState.tick`` every few milliseconds and sends the responses, plus a ``Status`` whenever the
replica's account of itself changed and at least once a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path

from steadystate.compute.state import ComputeState
from steadystate.errors import ProtocolViolation, SteadyError
from steadystate.protocol import messages as m
from steadystate.protocol.framing import ReplicaEndpoint, encode_frame
from steadystate.storage import open_store

log = logging.getLogger("steadystate.replica")

_TICK_BUSY_S = 0.001
_TICK_IDLE_S = 0.004
_STATUS_EVERY_S = 1.0


class ReplicaServer:
    def __init__(
        self, replica_id: str, storage_url: str, directory: Path, secret: str, orphan_timeout: float = 30.0
    ) -> None:
        self.replica_id = replica_id
        self.orphan_timeout = orphan_timeout
        self._last_connected = time.monotonic()
        self.directory = directory
        self.secret = secret
        self.state = ComputeState(replica_id, open_store(storage_url))
        self._writer: asyncio.StreamWriter | None = None
        self._initialized = False
        self._last_status = 0.0

    async def serve(self) -> None:
        server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tmp = self.directory / "endpoint.json.tmp"
        tmp.write_text(json.dumps({"pid": os.getpid(), "port": port, "replica_id": self.replica_id}))
        os.replace(tmp, self.directory / "endpoint.json")
        log.info("replica %s listening on 127.0.0.1:%d", self.replica_id, port)
        async with server:
            await self._ticker()

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoint = ReplicaEndpoint(self.secret)
        authenticated = False
        try:
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                for command in endpoint.receive(data):
                    if not authenticated:
                        authenticated = True
                        if self._writer is not None and self._writer is not writer:
                            self._writer.close()
                        self._writer = writer
                        self._initialized = False
                        log.info("controller connected (nonce %s)", getattr(command, "nonce", "?"))
                    if writer is not self._writer:
                        return
                    if isinstance(command, m.Hello):
                        writer.write(endpoint.acknowledge(self.replica_id, os.getpid()))
                    self._apply(command)
        except ProtocolViolation as exc:
            log.warning("refused a connection: %s", exc.message)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()

    def _apply(self, command: m.Command) -> None:
        try:
            responses = self.state.handle(command)
        except SteadyError as exc:
            # a command this replica cannot apply must not take the process down: report and carry on
            log.error("cannot apply %s: %s", type(command).__name__, exc.message)
            return
        if isinstance(command, m.InitializationComplete):
            self._initialized = True
        self._send(responses)

    def _send(self, responses: list[m.Response]) -> None:
        writer = self._writer
        if writer is None or not responses:
            return
        writer.write(b"".join(encode_frame(r) for r in responses))

    async def _ticker(self) -> None:
        while True:
            busy = False
            if self._writer is None and time.monotonic() - self._last_connected > self.orphan_timeout:
                log.warning("no coordinator for %.0f s: exiting so that no orphan lingers", self.orphan_timeout)
                return
            if self._writer is not None:
                self._last_connected = time.monotonic()
                responses = self.state.tick()
                busy = bool(responses)
                now = time.monotonic()
                status = self.state.status_if_changed(force=now - self._last_status > _STATUS_EVERY_S)
                if status is not None:
                    self._last_status = now
                    responses.append(status)
                self._send(responses)
                writer = self._writer
                if writer is not None:
                    try:
                        await writer.drain()
                    except ConnectionError:
                        pass
            await asyncio.sleep(_TICK_BUSY_S if busy else _TICK_IDLE_S)


def run_replica(replica_id: str, storage_url: str, directory: str, orphan_timeout: float = 30.0) -> None:
    secret = os.environ.get("STEADYSTATE_SECRET", "")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s replica {replica_id} %(name)s: %(message)s",
    )
    threading.Thread(target=_prepare_columns, name="prepare-columns", daemon=True).start()
    server = ReplicaServer(replica_id, storage_url, path, secret, orphan_timeout)
    asyncio.run(server.serve())


def _prepare_columns() -> None:
    """Load pyarrow and run a tiny fold from columns while the replica connects and waits for commands.

    Otherwise the first dataflow that hydrates from columns pays about 100 ms of imports and Arrow's lazy set-up
    (its kernels, Acero's thread pool); done here, it finds them ready (or waits on the import lock for the rest
    of an import this thread has started)."""
    import pyarrow.ipc  # noqa: F401

    from steadystate.dataflow.accumulate import prepare_columns

    prepare_columns()
