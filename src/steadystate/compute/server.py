"""The replica process: an I/O thread (asyncio) and a worker thread around :class:`~steadystate.compute.state.ComputeState`.

``run_replica`` opens storage, binds a TCP port on 127.0.0.1, announces ``endpoint.json`` (pid, port) in
its directory for the orchestrator and controller, and serves one controller connection at a time.  The same
:class:`ReplicaServer` also runs inside a test's process (``testing.inprocess``): without a directory it
announces nothing (its ``port`` is read directly), it reports the ``pid`` it is given, ``stop`` ends it the way the
process would end (listener and connections closed, the worker thread gone, its state dropped), and a failure of its
worker thread is handed to ``on_fatal`` instead of exiting the process.  A
connection must first complete the compute handshake (``protocol.handshake``: the controller and the replica each
prove they hold the environment secret, a nonce each way) within ``HANDSHAKE_TIMEOUT_S``, reading exactly its
fixed-size messages (nothing more is buffered from an unauthenticated peer, and at most
:data:`MAX_HANDSHAKES` connections may be handshaking at once: more are closed at once), then open with ``Hello``
(checked by the sans-I/O ``protocol.framing.ReplicaEndpoint`` before any command is applied); a newer
authenticated connection replaces the older one (the controller reconnected).  Refusals are logged at most once
every :data:`REFUSAL_LOG_INTERVAL_S` seconds, with the number left unlogged, so a flood cannot fill the disk.  A replica that has had no controller for
``orphan_timeout`` seconds exits: replicas outlive a crashed coordinator long enough to be adopted by the
next one, but never linger as orphans.

**Two threads.**  The asyncio thread only does I/O: it authenticates connections, acknowledges ``Hello`` and
every ``Peek`` the moment it arrives (the worker may be busy for a while, and the controller must know the peek
reached this process), and queues every command, in arrival order, for the worker thread, which owns the ``ComputeState``: it applies the
queued commands, then calls ``ComputeState.tick`` every few milliseconds, and sends the responses (plus a
``Status`` whenever the replica's account of itself changed, and at least once a second) on the connection whose
``Hello`` it applied last, waiting for each write to drain.  So a long evaluation — a big peek, a slow-path
query's transient dataflow hydrating — never stops the replica from *reading* commands: a ``CancelPeek``, the drop
of a transient dataflow or a new ``Hello`` is passed to ``ComputeState.interrupt`` the moment it arrives, and the
evaluation under way stops at its next guard check (``dataflow.guard``) instead of running to the end.

**Memory.**  ``memory_limit`` is the limit of the replica's size (``orchestrator.REPLICA_SIZES``, from
``--size``), which the orchestrator enforces by killing the process.  The replica refuses (SQLSTATE 53200) a
peek or transient dataflow that would take its resident set past ``MEMORY_THRESHOLD_SHARE`` of that limit, so one
query fails alone instead of taking the process — every query and dataflow of the replica — down with it.
Installed dataflows (indexes, materialized views) are not guarded: they must stay complete, so a replica whose
indexes outgrow its size is still killed (``oom-killed``) and restarted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from steadystate.compute.state import HYDRATION_STEP_UPDATES, ComputeState
from steadystate.errors import ProtocolViolation, SteadyError
from steadystate.protocol import messages as m
from steadystate.protocol.framing import HandshakeRefused, ReplicaEndpoint, encode_frame
from steadystate.protocol.handshake import HANDSHAKE_TIMEOUT_S, RESPONSE_BYTES, ReplicaHandshake
from steadystate.storage import open_store

log = logging.getLogger("steadystate.replica")

_TICK_BUSY_S = 0.001
_TICK_IDLE_S = 0.004
_STATUS_EVERY_S = 1.0
_SEND_TIMEOUT_S = 30.0


MAX_HANDSHAKES = 16  # connections handshaking at once; more are closed unread
REFUSAL_LOG_BURST = 20  # refusals logged one by one before the rate limit applies
REFUSAL_LOG_INTERVAL_S = 5.0  # then one more may be logged every this many seconds
_STREAM_LIMIT = 16 * 1024  # how much asyncio buffers from a connection before it stops reading


class _RefusalLog:
    """Logs refused connections through a token bucket (a burst, then one per interval), counting the ones it
    did not log, so a flood of bad connections cannot fill the disk."""

    def __init__(self, burst: int = REFUSAL_LOG_BURST, interval: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self.burst = burst
        self.interval = interval
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.unlogged = 0
        self.refused = 0  # every refusal

    def refuse(self, reason: str) -> None:
        self.refused += 1
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) / self.interval)
        self.updated = now
        if self.tokens < 1:
            self.unlogged += 1
            return
        self.tokens -= 1
        more = f" ({self.unlogged} more refused and not logged before this one)" if self.unlogged else ""
        log.warning("refused a connection: %s%s", reason, more)
        self.unlogged = 0


class ReplicaServer:
    def __init__(
        self, replica_id: str, storage_url: str, directory: Path | None, secret: str, orphan_timeout: float = 30.0,
        memory_limit: int | None = None, pid: int | None = None, on_fatal: Callable[[], None] | None = None,
        hydration_step_updates: int = HYDRATION_STEP_UPDATES, tick_gate: Callable[[], bool] | None = None,
    ) -> None:
        self.replica_id = replica_id
        self.orphan_timeout = orphan_timeout
        self.directory = directory  # None: announce no endpoint.json (an in-process replica)
        self.secret = secret
        self.pid = pid if pid is not None else os.getpid()
        self.on_fatal = on_fatal if on_fatal is not None else _exit_process
        self.port: int | None = None  # once listening
        self.state = ComputeState(replica_id, open_store(storage_url), memory_limit=memory_limit, pid=self.pid,
                                  hydration_step_updates=hydration_step_updates)
        # in-process replicas only (``testing.inprocess.TickGate``): whether the worker may tick now, so a test can
        # step a replica one tick at a time; commands are still applied while it may not
        self.tick_gate = tick_gate
        self._stopping = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._connection: asyncio.StreamWriter | None = None  # the authenticated connection (I/O thread)
        self._inbox: queue.SimpleQueue[tuple[asyncio.StreamWriter, m.Command | None]] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handshaking = 0
        self.refusals = _RefusalLog()

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0, limit=_STREAM_LIMIT)
        port = server.sockets[0].getsockname()[1]
        if self.directory is not None:
            tmp = self.directory / "endpoint.json.tmp"
            tmp.write_text(json.dumps({"pid": self.pid, "port": port, "replica_id": self.replica_id}))
            os.replace(tmp, self.directory / "endpoint.json")
        self.port = port
        log.info("replica %s listening on 127.0.0.1:%d", self.replica_id, port)
        self.state.startup_cpu_s = time.process_time()  # the process's CPU time until it listens
        finished: asyncio.Future[None] = self._loop.create_future()
        loop = self._loop
        assert loop is not None

        def worker_finished() -> None:
            loop.call_soon_threadsafe(_resolve, finished)

        worker = _Worker(self, worker_finished)
        thread = threading.Thread(target=worker.run, name=f"replica-worker-{self.replica_id}", daemon=True)
        thread.start()
        try:
            async with server:
                await finished
        finally:
            self._stopping.set()
            self.port = None
            for writer in list(self._writers):
                writer.close()
            await asyncio.to_thread(thread.join)
            self.state.store.close()

    def stop(self) -> None:
        """End the replica as its process would end: the worker stops at once, ``serve`` closes everything."""
        self._stopping.set()

    # ------------------------------------------------------------------ the I/O thread

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Run the compute handshake; True if the peer proved it holds the secret."""
        if self._handshaking >= MAX_HANDSHAKES:
            self.refusals.refuse(f"more than {MAX_HANDSHAKES} connections handshaking at once")
            return False
        self._handshaking += 1
        handshake = ReplicaHandshake(self.secret)
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                writer.write(handshake.challenge)
                await writer.drain()
                writer.write(handshake.verify(await reader.readexactly(RESPONSE_BYTES)))
                await writer.drain()
            return True
        except HandshakeRefused as exc:
            self.refusals.refuse(exc.message)
        except TimeoutError:
            self.refusals.refuse(f"no compute handshake within {HANDSHAKE_TIMEOUT_S:g} s")
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self.refusals.refuse("the peer left during the compute handshake")
        finally:
            self._handshaking -= 1
        return False

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoint = ReplicaEndpoint(self.secret)
        authenticated = False
        self._writers.add(writer)
        try:
            if not await self._handshake(reader, writer):
                return
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                for command in endpoint.receive(data):
                    if not authenticated:
                        authenticated = True
                        if self._connection is not None and self._connection is not writer:
                            self._connection.close()
                        self._connection = writer
                        log.info("controller connected (nonce %s)", getattr(command, "nonce", "?"))
                    if writer is not self._connection:
                        return
                    if isinstance(command, m.Hello):
                        writer.write(endpoint.acknowledge(self.replica_id, self.pid))
                    elif isinstance(command, m.Peek):
                        # acknowledged here, at once: the worker may be in the middle of a long step, and a peek
                        # that reached this process must not be handed to its successor if the process dies
                        writer.write(encode_frame(m.PeekResponse(command.uuid, partial=True)))
                    self.state.interrupt(command)  # before queueing: stops the evaluation this makes pointless
                    self._inbox.put((writer, command))
        except ProtocolViolation as exc:
            self.refusals.refuse(exc.message)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            if self._connection is writer:
                self._connection = None
            if authenticated:
                self._inbox.put((writer, None))  # the worker stops sending on it
            writer.close()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if writer.is_closing():
            return
        writer.write(data)
        try:
            await writer.drain()
        except ConnectionError:
            pass


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


class _Worker:
    """The worker thread: applies commands in arrival order, ticks the state, sends its responses."""

    def __init__(self, server: ReplicaServer, on_exit: Callable[[], None]) -> None:
        self.server = server
        self.state = server.state
        self.on_exit = on_exit
        self.sink: asyncio.StreamWriter | None = None  # the connection whose Hello was applied last
        self.state.send_now = self._send  # a peek's chunks go out as they are built
        self.last_connected = time.monotonic()
        self.last_status = 0.0

    def run(self) -> None:
        try:
            self._run()
        except BaseException:  # noqa: BLE001 - the worker dying must end the process, not leave it deaf
            log.exception("the replica's worker thread failed")
            self.server.on_fatal()
        finally:
            self.on_exit()

    def _run(self) -> None:
        busy = False
        while not self.server._stopping.is_set():
            try:
                item = self.server._inbox.get(timeout=_TICK_BUSY_S if busy else _TICK_IDLE_S)
            except queue.Empty:
                item = None
            while item is not None:
                self._take(*item)
                try:
                    item = self.server._inbox.get_nowait()
                except queue.Empty:
                    item = None
            if self.sink is None:
                if time.monotonic() - self.last_connected > self.server.orphan_timeout:
                    log.warning("no coordinator for %.0f s: exiting so that no orphan lingers",
                                self.server.orphan_timeout)
                    return
                busy = False
                continue
            self.last_connected = time.monotonic()
            if self.server.tick_gate is not None and not self.server.tick_gate():
                busy = False
                continue
            responses = self.state.tick()
            busy = bool(responses)
            now = time.monotonic()
            status = self.state.status_if_changed(force=now - self.last_status > _STATUS_EVERY_S)
            if status is not None:
                self.last_status = now
                responses.append(status)
            self._send(responses)

    def _take(self, writer: asyncio.StreamWriter, command: m.Command | None) -> None:
        if command is None:  # the connection ended
            if self.sink is writer:
                self.sink = None
            return
        if isinstance(command, m.Hello):
            self.sink = writer
        if writer is not self.sink:
            return  # a command of a connection a newer one replaced
        try:
            responses = self.state.handle(command)
        except SteadyError as exc:
            # a command this replica cannot apply must not take the process down: report and carry on
            log.error("cannot apply %s: %s", type(command).__name__, exc.message)
            return
        self._send(responses)

    def _send(self, responses: list[m.Response]) -> None:
        """Send on the current connection and wait until it has drained (the controller reads as fast as we write,
        so a big result in chunks never piles up in memory)."""
        writer, loop = self.sink, self.server._loop
        if writer is None or not responses or loop is None:
            return
        data = b"".join(encode_frame(r) for r in responses)
        future = asyncio.run_coroutine_threadsafe(self.server._write(writer, data), loop)
        try:
            future.result(timeout=_SEND_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            log.warning("the controller has not read %d bytes for %.0f s", len(data), _SEND_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a connection that broke is noticed by the I/O thread
            log.info("could not send to the controller: %s", exc)


def _exit_process() -> None:
    os._exit(70)


def run_replica(
    replica_id: str, storage_url: str, directory: str, orphan_timeout: float = 30.0, memory_limit: int | None = None
) -> None:
    secret = os.environ.pop("STEADYSTATE_SECRET", "")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s replica {replica_id} %(name)s: %(message)s",
    )
    threading.Thread(target=_prepare_columns, name="prepare-columns", daemon=True).start()
    server = ReplicaServer(replica_id, storage_url, path, secret, orphan_timeout, memory_limit)
    asyncio.run(server.serve())


def _prepare_columns() -> None:
    """Load pyarrow and run a tiny fold from columns while the replica connects and waits for commands.

    Otherwise the first dataflow that hydrates from columns pays about 100 ms of imports and Arrow's lazy set-up
    (its kernels, Acero's thread pool); done here, it finds them ready (or waits on the import lock for the rest
    of an import this thread has started)."""
    import pyarrow as pa
    import pyarrow.ipc  # noqa: F401

    from steadystate.dataflow.accumulate import prepare_columns

    prepare_columns()
    # building an array from Python values makes pyarrow look for pandas once (about 1 s where it is installed
    # and importable; the ``steadystate`` process refuses it, steadystate/__main__.py): a peek's first Arrow result
    # would pay that look
    pa.array([0, None])
