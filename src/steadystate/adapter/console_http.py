"""The operator's console on the HTTP port: an aiohttp sub-application mounted at ``/console``.

Routes (all under the mount point, all read-only ``GET``):

* ``/console/`` — the page (``console_static/index.html``); the views are in its URL fragment: ``#/`` the
  environment at a glance, ``#/cluster/<name>`` one cluster, ``#/object/<id>`` one object;
* ``/console/static/<file>`` — its stylesheet and script (package data: plain CSS and JavaScript, no build step);
* ``/console/api/environment``, ``/console/api/clusters/<name>``, ``/console/api/objects/<id>`` — the JSON
  documents the page draws (:class:`~steadystate.adapter.console.Console`), 404 for an unknown cluster or object.

**Live updates** are by polling: the page fetches the document of the view it shows every second (``POLL_MS`` in
``console.js``) and redraws.  One request a second per open page costs nothing next to the work it shows, needs no
connection kept open through proxies, and a missed poll is simply the next one.

**Authentication**: :func:`console_app` takes ``guard``, one coroutine called before *every* console request
(page, static files and JSON alike) through the sub-application's one middleware; it raises an aiohttp HTTP
error (e.g. ``web.HTTPUnauthorized``) to refuse.  A middleware of the parent application (the HTTP port's own
authentication) applies to the console too, as aiohttp runs a parent's middlewares before a sub-application's.

The sub-application also runs the :class:`~steadystate.adapter.console.LagSampler` (started and stopped with the
HTTP server), which keeps the freshness measurements the console charts.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from importlib import resources
from typing import Any, Awaitable, Callable

from aiohttp import web

from steadystate.adapter.backend import Adapter
from steadystate.adapter.console import Console, ms_of

log = logging.getLogger("steadystate.console")

#: one check run before every console request; raises an ``aiohttp.web.HTTPException`` to refuse
Guard = Callable[[web.Request], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATIC_PACKAGE = "steadystate.adapter.console_static"
#: the files the page is made of, and how each is served (nothing else under the package is)
STATIC_FILES: dict[str, str] = {
    "index.html": "text/html",
    "console.css": "text/css",
    "console.js": "text/javascript",
}
CONSOLE_KEY = web.AppKey("console", Console)


class LagSampler:
    """Keeps ``mz_wallclock_lag_history``'s measurements over time: every ``interval_s``, the freshest replica's
    lag of each object, for the last ``keep_s`` seconds (one entry per sample time, however many objects)."""

    def __init__(self, adapter: Adapter, interval_s: float = 1.0, keep_s: float = 600.0) -> None:
        self.adapter = adapter
        self.interval_s = interval_s
        self.samples: collections.deque[tuple[int, dict[str, float]]] = collections.deque(
            maxlen=max(1, int(keep_s / interval_s)))
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        if not self.adapter.coordinator.ready:
            return
        lags: dict[str, float] = {}
        at = 0
        for object_id, _replica, lag, occurred_at in self.adapter.introspection.rows("mz_wallclock_lag_history"):
            at = ms_of(occurred_at) or 0
            seconds = lag.micros / 1e6
            lags[object_id] = min(lags.get(object_id, seconds), seconds)
        if lags:
            self.samples.append((at, lags))

    async def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a failed sample is a gap in the chart, not the end of sampling
                log.exception("could not sample mz_wallclock_lag_history")
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def series(self, object_ids: set[str]) -> dict[str, list[tuple[int, float]]]:
        """Per object, its freshest replica's lag at each sample time: ``[(ms, seconds), ...]``, oldest first."""
        out: dict[str, list[tuple[int, float]]] = {}
        for at, lags in self.samples:
            for object_id in object_ids & lags.keys():
                out.setdefault(object_id, []).append((at, lags[object_id]))
        return out


SAMPLER_KEY = web.AppKey("lag_sampler", LagSampler)


def _static(name: str) -> bytes:
    return resources.files(STATIC_PACKAGE).joinpath(name).read_bytes()


def _json(document: Any) -> web.Response:
    return web.Response(text=json.dumps(document, default=str), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _guarded(guard: Guard | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if guard is not None:
            await guard(request)
        return await handler(request)

    return middleware


async def _page(request: web.Request) -> web.Response:
    return web.Response(body=_static("index.html"), content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def _static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None or name == "index.html":
        raise web.HTTPNotFound(text=f"no console file {name}")
    return web.Response(body=_static(name), content_type=content_type, headers={"Cache-Control": "no-cache"})


async def _environment(request: web.Request) -> web.Response:
    return _json(request.app[CONSOLE_KEY].environment())


async def _cluster(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    document = request.app[CONSOLE_KEY].cluster(name)
    if document is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"unknown cluster \"{name}\""}),
                               content_type="application/json")
    return _json(document)


async def _object(request: web.Request) -> web.Response:
    object_id = request.match_info["id"]
    document = request.app[CONSOLE_KEY].object(object_id)
    if document is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"unknown object \"{object_id}\""}),
                               content_type="application/json")
    return _json(document)


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


def console_app(adapter: Adapter, guard: Guard | None = None, *, lag_interval_s: float = 1.0) -> web.Application:
    """The console as a sub-application to mount at ``/console`` (``app.add_subapp("/console", ...)``)."""
    app = web.Application(middlewares=[_guarded(guard)])
    sampler = LagSampler(adapter, interval_s=lag_interval_s)
    app[SAMPLER_KEY] = sampler
    app[CONSOLE_KEY] = Console(adapter, sampler)
    app.router.add_get("/", _page)
    app.router.add_get("/static/{name}", _static_file)
    app.router.add_get("/api/environment", _environment)
    app.router.add_get("/api/clusters/{name}", _cluster)
    app.router.add_get("/api/objects/{id}", _object)

    async def start_sampling(_app: web.Application) -> None:
        sampler.start()

    async def stop_sampling(_app: web.Application) -> None:
        await sampler.stop()

    app.on_startup.append(start_sampling)
    app.on_cleanup.append(stop_sampling)
    return app


def mount_console(app: web.Application, adapter: Adapter, guard: Guard | None = None) -> None:
    """Serve the console on ``app`` at ``/console/`` (``/console`` redirects there)."""
    app.router.add_get("/console", _redirect)
    app.add_subapp("/console/", console_app(adapter, guard))
