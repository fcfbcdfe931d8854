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

The freshness chart reads ``mz_wallclock_lag_history``, which the coordinator samples (``adapter/lag_history.py``):
the console keeps no state of its own.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any, Awaitable, Callable

from aiohttp import web

from steadystate.adapter.backend import Adapter
from steadystate.adapter.console import Console

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


def console_app(adapter: Adapter, guard: Guard | None = None) -> web.Application:
    """The console as a sub-application to mount at ``/console`` (``app.add_subapp("/console", ...)``)."""
    app = web.Application(middlewares=[_guarded(guard)])
    app[CONSOLE_KEY] = Console(adapter)
    app.router.add_get("/", _page)
    app.router.add_get("/static/{name}", _static_file)
    app.router.add_get("/api/environment", _environment)
    app.router.add_get("/api/clusters/{name}", _cluster)
    app.router.add_get("/api/objects/{id}", _object)
    return app


def mount_console(app: web.Application, adapter: Adapter, guard: Guard | None = None) -> None:
    """Serve the console on ``app`` at ``/console/`` (``/console`` redirects there)."""
    app.router.add_get("/console", _redirect)
    app.add_subapp("/console/", console_app(adapter, guard))
