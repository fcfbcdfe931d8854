"""The running environment: the adapter behind the SQL port (pgwire) and the HTTP port.

This is the top of the layer stack: it imports pgwire and the adapter, and nothing imports it but the CLI.

HTTP (aiohttp), on ``--http-port``:

* ``GET /api/livez`` — 200 while the process runs;
* ``GET /api/readyz`` — 200 once the coordinator serves queries, 503 before;
* ``GET /api/clusters`` — clusters, replicas and their statuses as JSON;
* ``GET /api/readiness`` — the production-readiness verdict of every cluster, as JSON;
* ``GET /metrics`` — the Prometheus exposition (``adapter/metrics.py``; documented in ``docs/metrics.md``).

Signals (sent by the supervisor, :mod:`steadystate.supervisor`): SIGTERM or SIGINT stops the coordinator
gracefully and leaves the replica processes running for the next coordinator to adopt (a planned restart);
SIGUSR1 stops it gracefully together with its replicas (a full stop).  SIGHUP is ignored: it is the
supervisor's signal for an in-place restart, and a terminal hanging up must not kill the coordinator.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Callable

from aiohttp import web

from steadystate.adapter.coordinator import CoordinatorConfig
from steadystate.adapter.backend import Adapter
from steadystate.adapter.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from steadystate.pgwire.server import PgServer
from steadystate.supervisor import inherited_socket

log = logging.getLogger("steadystate.server")


class Server:
    def __init__(self, config: CoordinatorConfig) -> None:
        self.config = config
        self.adapter = Adapter(config)
        self._pg: PgServer | None = None
        self._http: web.AppRunner | None = None

    async def start(self) -> None:
        await self.adapter.start()
        self._pg = PgServer(self.adapter, startup_timeout=self.config.startup_timeout_s)
        sql_socket = inherited_socket(self.config.sql_fd) if self.config.sql_fd is not None else None
        await self._pg.start(self.config.sql_host, self.config.sql_port, sock=sql_socket)
        await self._start_http()
        log.info("serving SQL on %s:%d and HTTP on %s:%d", self.config.sql_host, self._pg.port,
                 self.config.sql_host, self.config.http_port)

    async def stop(self, *, stop_replicas: bool = True) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._http is not None:
            await self._http.cleanup()
        await self.adapter.stop(stop_replicas=stop_replicas)

    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_get("/api/livez", self._livez)
        app.router.add_get("/api/readyz", self._readyz)
        app.router.add_get("/api/clusters", self._clusters)
        app.router.add_get("/api/readiness", self._readiness)
        app.router.add_get("/metrics", self._metrics)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        if self.config.http_fd is not None:
            site: web.BaseSite = web.SockSite(self._http, inherited_socket(self.config.http_fd))
        else:
            site = web.TCPSite(self._http, self.config.sql_host, self.config.http_port)
        await site.start()

    async def _livez(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready = self.adapter.coordinator.ready
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.adapter.metrics.exposition(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _readiness(self, request: web.Request) -> web.Response:
        readiness = self.adapter.readiness
        return web.json_response({"clusters": readiness.verdict_json(),
                                  "environment": {"expected_downtime_s": readiness.environment_downtime_s()}})

    async def _clusters(self, request: web.Request) -> web.Response:
        introspection = self.adapter.introspection
        return web.json_response(
            {
                "clusters": [dict(zip(("id", "name", "managed", "size", "replication_factor", "sealed", "owner"), r))
                             for r in introspection.clusters()],
                "replicas": [dict(zip(("replica_id", "process_id", "status", "reason", "updated_at"),
                                      (*r[:4], str(r[4])))) for r in introspection.replica_statuses()],
            }
        )


async def serve_forever(config: CoordinatorConfig, on_ready: Callable[[Server], Any] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (stop, leave the replicas running) or SIGUSR1 (stop with the replicas)."""
    stop = asyncio.Event()
    stop_replicas = False

    def request_stop(with_replicas: bool) -> None:
        nonlocal stop_replicas
        stop_replicas = stop_replicas or with_replicas
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, False)
    loop.add_signal_handler(signal.SIGUSR1, request_stop, True)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)
    server = Server(config)
    await server.start()
    if on_ready is not None and not stop.is_set():
        on_ready(server)
    await stop.wait()
    log.info("shutting down (%s)", "stopping the replicas" if stop_replicas else
             "leaving the replicas running for the next coordinator")
    await server.stop(stop_replicas=stop_replicas)
