"""The running environment: coordinator + pgwire server + HTTP endpoints, wired together.

:class:`Adapter` implements pgwire's ``Backend`` (one :class:`~steadystate.adapter.session.ClientSession` per
connection, cancel routing) and owns the sequencers (``Ddl``, ``Reads``, ``Writes``) and introspection.

HTTP (aiohttp), on ``--http-port``:

* ``GET /api/livez`` — 200 while the process runs;
* ``GET /api/readyz`` — 200 once the coordinator serves queries, 503 before;
* ``GET /api/clusters`` — clusters, replicas and their statuses as JSON;
* ``GET /api/readiness`` — the production-readiness verdict of every cluster, as JSON.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Awaitable, Callable

from aiohttp import web

from steadystate.adapter.coordinator import Coordinator, CoordinatorConfig
from steadystate.adapter.ddl import Ddl
from steadystate.adapter.introspection import Introspection
from steadystate.adapter.readiness import Readiness
from steadystate.adapter.reads import Reads
from steadystate.adapter.session import ClientSession
from steadystate.adapter.writes import Writes
from steadystate.errors import ConnectionFailure
from steadystate.pgwire.server import PgServer

log = logging.getLogger("steadystate.server")


class Adapter:
    def __init__(self, config: CoordinatorConfig) -> None:
        self.config = config
        self.coordinator = Coordinator(config)
        self.introspection = Introspection(self.coordinator)
        self.ddl = Ddl(self.coordinator)
        self.reads = Reads(self.coordinator, self.introspection)
        self.writes = Writes(self.coordinator)
        self.sessions: dict[int, ClientSession] = {}
        self.readiness = Readiness(self.coordinator)
        self.alter_cluster_actions: dict[str, Callable[..., Awaitable[str]]] = {
            "seal": self.readiness.seal,
            "unseal": self.readiness.unseal,
            "restart": self.readiness.restart,
            "owner": self.readiness.change_owner,
        }
        self.introspection.readiness = self.readiness
        self._pg: PgServer | None = None
        self._http: web.AppRunner | None = None

    # ------------------------------------------------------------------ pgwire Backend

    async def connect(self, user: str, database: str, options: dict[str, str]) -> ClientSession:
        if not self.coordinator.ready:
            raise ConnectionFailure("the server is starting up", sqlstate="57P03")
        session = ClientSession(self, user or "materialize", database or "materialize", options)
        self.sessions[session.process_id] = session
        return session

    async def cancel(self, process_id: int, secret_key: int) -> None:
        session = self.sessions.get(process_id)
        if session is not None and session.secret_key == secret_key:
            session.cancel()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.coordinator.start()
        self._pg = PgServer(self, startup_timeout=self.config.startup_timeout_s)
        await self._pg.start(self.config.sql_host, self.config.sql_port)
        await self._start_http()
        log.info("serving SQL on %s:%d and HTTP on %s:%d", self.config.sql_host, self._pg.port,
                 self.config.sql_host, self.config.http_port)

    async def stop(self) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._http is not None:
            await self._http.cleanup()
        await self.coordinator.shutdown()

    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_get("/api/livez", lambda request: web.json_response({"live": True}))
        app.router.add_get("/api/readyz", self._readyz)
        app.router.add_get("/api/clusters", self._clusters)
        app.router.add_get("/api/readiness", self._readiness)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, self.config.sql_host, self.config.http_port)
        await site.start()

    async def _readyz(self, request: web.Request) -> web.Response:
        ready = self.coordinator.ready
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def _readiness(self, request: web.Request) -> web.Response:
        return web.json_response({"clusters": self.readiness.verdict_json()})

    async def _clusters(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "clusters": [dict(zip(("id", "name", "managed", "size", "replication_factor", "sealed", "owner"), r))
                             for r in self.introspection.clusters()],
                "replicas": [dict(zip(("replica_id", "process_id", "status", "reason", "updated_at"),
                                      (*r[:4], str(r[4])))) for r in self.introspection.replica_statuses()],
            }
        )


async def serve_forever(config: CoordinatorConfig, on_ready: Callable[[Adapter], Any] | None = None) -> None:
    adapter = Adapter(config)
    await adapter.start()
    if on_ready is not None:
        on_ready(adapter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await adapter.stop()
