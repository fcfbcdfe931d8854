"""The running environment: the adapter behind the SQL port (pgwire) and the HTTP port.

This is the top of the layer stack: it imports pgwire and the adapter, and nothing imports it but the CLI.

HTTP (aiohttp), on ``--http-port``:

* ``GET /api/livez`` — 200 while the process runs;
* ``GET /api/readyz`` — 200 once the coordinator serves queries, 503 before, with the reason (the HTTP port is served
  before the coordinator starts; a start that fails leaves its error in ``<data-dir>/start_failure`` for the next
  coordinator's answer);
* ``GET /api/clusters`` — clusters, replicas and their statuses as JSON;
* ``GET /api/readiness`` — the production-readiness verdict of every cluster, as JSON;
* ``GET /metrics`` — the Prometheus exposition (``adapter/metrics.py``; documented in ``docs/metrics.md``);
* ``GET /console/`` — the operator's console and its JSON documents (``adapter/console_http.py``).

Every route goes through one middleware (:meth:`Server._authenticate`): the routes :data:`HTTP_ACCESS` lists as
open (liveness and readiness, which orchestrators and load balancers probe and which tell nothing else) answer
anyone; every other route, including any added later, needs HTTP Basic authentication with a role's name and
password (checked against the same SCRAM verifiers as the SQL port), else 401 with a ``WWW-Authenticate``
challenge.  A handler finds the authenticated role in ``request["role"]``.  ``--insecure`` opens every route.

Authentication (:class:`Authentication`, the pgwire server's authenticator): a client proves it knows its role's
password with SCRAM-SHA-256; a role without a password cannot log in.  The superuser ``materialize`` gets its
password on the first start from ``<data-dir>/pgpass`` (generated there, 0600, unless the operator wrote one
first; see :mod:`steadystate.security.files`).  The supervisor's proxy carries an authenticated session over to a
new coordinator with the resume token the supervisor gave this process (in its environment, never on a command
line); ``--insecure`` accepts every user name without a password, as before authentication existed.

Signals (sent by the supervisor, :mod:`steadystate.supervisor`): SIGTERM or SIGINT stops the coordinator
gracefully and leaves the replica processes running for the next coordinator to adopt (a planned restart);
SIGUSR1 stops it gracefully together with its replicas (a full stop).  SIGHUP is ignored: it is the
supervisor's signal for an in-place restart, and a terminal hanging up must not kill the coordinator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import binascii
import enum
import hmac
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import msgspec

from aiohttp import web

from steadystate.adapter.coordinator import CoordinatorConfig
from steadystate.adapter.backend import Adapter
from steadystate.adapter.console_http import mount_console
from steadystate.adapter.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from steadystate.adapter.limits import sync_runtime_files
from steadystate.errors import ConnectionFailure, InvalidAuthorization, InvalidParameterValue
from steadystate.pgwire.effects import AuthMethod, Credentials
from steadystate.pgwire.server import PgServer
from steadystate.security.files import SUPERUSER, superuser_password, write_private
from steadystate.security.scram import check_password, make_verifier
from steadystate.supervisor import inherited_socket

log = logging.getLogger("steadystate.server")

FAILED_START_HOLD_S = 10.0  # how long a coordinator whose start failed keeps answering readyz before it exits
START_FAILURE_FILE = "start_failure"  # in the data directory: why the last coordinator could not start


@dataclass(frozen=True)
class SecurityConfig:
    insecure: bool = False  # trust every user name (development only; the CLI allows it on loopback only)
    resume_token: str | None = None  # what the supervisor's proxy presents to resume an authenticated session


class HttpAccess(enum.Enum):
    OPEN = "open"  # anyone
    AUTHENTICATED = "authenticated"  # a role with its password (HTTP Basic)


#: who may use each HTTP route; a route not listed needs authentication
HTTP_ACCESS: dict[str, HttpAccess] = {"/api/livez": HttpAccess.OPEN, "/api/readyz": HttpAccess.OPEN}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header, or None."""
    if header is None or not header[:6].lower() == "basic ":
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Authentication:
    """The pgwire authenticator of the coordinator; see the module docstring."""

    def __init__(self, adapter: Adapter, security: SecurityConfig) -> None:
        self.adapter = adapter
        self.security = security

    async def __call__(self, user: str, resume: str | None) -> Credentials:
        if resume is not None:
            token = self.security.resume_token
            if token is None or not hmac.compare_digest(resume.encode(), token.encode()):
                raise InvalidAuthorization("invalid session resume token")
            return Credentials(AuthMethod.TRUST)
        if not self.adapter.coordinator.ready:
            raise ConnectionFailure("the server is starting up", sqlstate="57P03")
        if self.security.insecure:
            return Credentials(AuthMethod.TRUST)
        role = self.adapter.coordinator.catalog.role_by_name(user)
        return Credentials(AuthMethod.SCRAM, role.password if role is not None else None)


class Server:
    def __init__(self, config: CoordinatorConfig, security: SecurityConfig | None = None) -> None:
        self.config = config
        self.security = security or SecurityConfig()
        self.adapter = Adapter(config)
        self._pg: PgServer | None = None
        self._http: web.AppRunner | None = None
        self.start_failure: str | None = None  # why this coordinator's start failed (readyz says so meanwhile)

    async def start(self) -> None:
        await self._start_http()  # first: readyz answers 503 with the reason while the coordinator starts
        try:
            await self.adapter.start()
        except Exception as exc:
            self.start_failure = f"{type(exc).__name__}: {exc}"
            self._record_start_failure(self.start_failure)
            raise
        self._record_start_failure(None)
        if not self.security.insecure:
            self._ensure_superuser_password()
        sync_runtime_files(self.adapter.coordinator.catalog, self.config.data_dir)  # ALTER SYSTEM's, for serve
        self._pg = PgServer(self.adapter, startup_timeout=self.config.startup_timeout_s,
                            authenticator=Authentication(self.adapter, self.security))
        sql_socket = inherited_socket(self.config.sql_fd) if self.config.sql_fd is not None else None
        await self._pg.start(self.config.sql_host, self.config.sql_port, sock=sql_socket)
        log.info("serving SQL on %s:%d and HTTP on %s:%d", self.config.sql_host, self._pg.port,
                 self.config.sql_host, self.config.http_port)

    def _ensure_superuser_password(self) -> None:
        """Give ``materialize`` the password of ``<data-dir>/pgpass`` if it has none (the first start): the file
        is written before the verifier is committed, so a crash between the two only repeats the step."""
        catalog = self.adapter.coordinator.catalog
        role = catalog.role_by_name(SUPERUSER)
        if role is None or role.password is not None:
            return
        verifier = make_verifier(superuser_password(self.config.data_dir))
        self.adapter.grants.set_role(msgspec.structs.replace(role, password=verifier), SUPERUSER)
        log.info("the superuser %s now has the password stored in %s", SUPERUSER,
                 self.config.data_dir / "pgpass")

    async def stop(self, *, stop_replicas: bool = True) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._http is not None:
            await self._http.cleanup()
        await self.adapter.stop(stop_replicas=stop_replicas)

    async def _start_http(self) -> None:
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get("/api/livez", self._livez)
        app.router.add_get("/api/readyz", self._readyz)
        app.router.add_get("/api/clusters", self._clusters)
        app.router.add_get("/api/readiness", self._readiness)
        app.router.add_get("/metrics", self._metrics)
        mount_console(app, self.adapter)  # the operator's console at /console/ (adapter/console_http.py)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        if self.config.http_fd is not None:
            site: web.BaseSite = web.SockSite(self._http, inherited_socket(self.config.http_fd))
        else:
            site = web.TCPSite(self._http, self.config.sql_host, self.config.http_port)
        await site.start()

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Callable[[web.Request], Any]) -> Any:
        """The one gate of every HTTP route (see the module docstring)."""
        if HTTP_ACCESS.get(request.path) is HttpAccess.OPEN:
            return await handler(request)
        if not self.adapter.coordinator.ready:  # no catalog to check credentials against yet
            return web.json_response({"error": "the server is starting up", "reason": self._not_ready_reason()},
                                     status=503)
        if self.security.insecure:
            return await handler(request)
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is not None:
            user, password = credentials
            role = self.adapter.coordinator.catalog.role_by_name(user)
            verifier = role.password if role is not None else None
            if await asyncio.to_thread(check_password, verifier, password, user):
                request["role"] = user
                return await handler(request)
        return web.json_response({"error": "authentication required"}, status=401,
                                 headers={"WWW-Authenticate": 'Basic realm="steadystate", charset="UTF-8"'})

    async def _livez(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    @property
    def _failure_file(self) -> Path:
        return self.config.data_dir / START_FAILURE_FILE

    def _record_start_failure(self, reason: str | None) -> None:
        """Remember why this start failed (for the next coordinator's readyz), or forget it once one started."""
        if not self.config.uses_data_dir:
            return
        if reason is None:
            self._failure_file.unlink(missing_ok=True)
        else:
            with contextlib.suppress(OSError):
                write_private(self._failure_file, reason[:2000])

    def _not_ready_reason(self) -> str:
        if self.start_failure is not None:
            return f"the coordinator could not start ({self.start_failure}); the supervisor restarts it"
        previous = None
        if self.config.uses_data_dir:
            with contextlib.suppress(OSError):
                previous = self._failure_file.read_text().strip() or None
        return "the coordinator is starting" + (f"; its previous start failed: {previous}" if previous else "")

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.adapter.coordinator.ready:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": self._not_ready_reason()}, status=503)

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


async def serve_forever(config: CoordinatorConfig, on_ready: Callable[[Server], Any] | None = None,
                        security: SecurityConfig | None = None) -> None:
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
    server = Server(config, security)
    try:
        await server.start()
    except InvalidParameterValue:
        raise  # a configuration error: no restart follows, so nothing to hold readyz open for
    except Exception:
        # hold on a moment, answering readyz with the reason (503), before the process exits and is restarted
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), FAILED_START_HOLD_S)
        raise
    if on_ready is not None and not stop.is_set():
        on_ready(server)
    await stop.wait()
    log.info("shutting down (%s)", "stopping the replicas" if stop_replicas else
             "leaving the replicas running for the next coordinator")
    await server.stop(stop_replicas=stop_replicas)
