"""The console's HTTP application and hydration progress in flight, in an in-memory environment.

* every console route (page, static files, JSON) passes the one guard: a guard that refuses answers 401 on all of
  them; without one, the page and its files are served, unknown clusters and objects are 404, and the documents
  agree with SQL (the environment's clusters with ``mz_cluster_readiness``, an object's plan with ``EXPLAIN``);
* ``LagSampler`` keeps the last ``keep_s`` seconds of ``mz_wallclock_lag_history``, per object measured;
* an object whose input is not computed yet (an index on a materialized view of a cluster without replicas) is
  shown hydrating: not hydrated, 0 rows done of what the view's shard holds (NULL while the shard does not exist),
  ``hydrating_for`` growing; given its
  fastest hydration seen, ``time_left_estimate`` is that minus the time spent; once the view's cluster gets a
  replica the index hydrates, and its rows done equal its total, the view's shard's updates.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from steadystate.adapter.console_http import LagSampler, mount_console
from steadystate.testing import MemoryEnvironment, eventually, memory_environment


def run(test: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await test(env)

    asyncio.run(main())


SETUP = [
    "CREATE TABLE t (a int, b text)",
    "INSERT INTO t VALUES (1, 'x'), (2, 'y'), (2, 'z')",
    "CREATE CLUSTER dev (SIZE = 'small')",
    "CREATE MATERIALIZED VIEW mv IN CLUSTER dev AS SELECT a, count(*) AS n FROM t GROUP BY a",
]
ROUTES = ["/console/", "/console/static/console.js", "/console/static/console.css", "/console/api/environment",
          "/console/api/clusters/dev", "/console/api/objects/u2"]


async def client_for(env: MemoryEnvironment, guard: Any = None) -> TestClient:
    app = web.Application()
    assert env.adapter is not None
    mount_console(app, env.adapter, guard)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def test_one_guard_covers_every_console_route() -> None:
    async def test(env: MemoryEnvironment) -> None:
        for statement in SETUP:
            await env.execute(statement)
        asked: list[str] = []

        async def refuse(request: web.Request) -> None:
            asked.append(request.path)
            raise web.HTTPUnauthorized(text="no")

        client = await client_for(env, refuse)
        try:
            for route in ROUTES:
                response = await client.get(route)
                assert response.status == 401, route
            assert asked == ROUTES
        finally:
            await client.close()

    run(test)


def test_console_documents_agree_with_sql() -> None:
    async def test(env: MemoryEnvironment) -> None:
        for statement in SETUP:
            await env.execute(statement)
        await env.wait_connected("dev")
        client = await client_for(env)
        try:
            page = await client.get("/console/")
            assert page.status == 200 and page.content_type == "text/html"
            assert "/console/static/console.js" in await page.text()
            script = await client.get("/console/static/console.js")
            assert script.status == 200 and script.content_type == "text/javascript"
            for missing in ("/console/static/__init__.py", "/console/api/clusters/nosuch", "/console/api/objects/u99"):
                assert (await client.get(missing)).status == 404, missing

            environment = await (await client.get("/console/api/environment")).json()
            verdicts = {name: (sealed, ready) for name, sealed, ready in await env.query(
                "SELECT c.name, r.sealed, r.ready FROM mz_internal.mz_cluster_readiness r "
                "JOIN mz_catalog.mz_clusters c ON c.id = r.cluster_id")}
            assert {c["name"]: (c["sealed"], c["ready"]) for c in environment["clusters"]} == verdicts

            ((mv_id,),) = await env.query("SELECT id FROM mz_catalog.mz_objects WHERE name = 'mv'")
            document = await (await client.get(f"/console/api/objects/{mv_id}")).json()
            assert document["plan"] == [line for (line,) in await env.query("EXPLAIN MATERIALIZED VIEW mv")]
            assert document["cluster"] == "dev"
        finally:
            await client.close()

    run(test)


def test_hydration_in_flight_and_done() -> None:
    async def test(env: MemoryEnvironment) -> None:
        for statement in ["CREATE TABLE t (a int, b text)", "INSERT INTO t VALUES (1, 'x'), (2, 'y'), (2, 'z')",
                          "CREATE CLUSTER a (SIZE = 'small', REPLICATION FACTOR = 0)",
                          "CREATE MATERIALIZED VIEW mv IN CLUSTER a AS SELECT a, count(*) AS n FROM t GROUP BY a",
                          "CREATE CLUSTER b (SIZE = 'small')",
                          "CREATE INDEX mv_idx IN CLUSTER b ON mv (a)"]:
            await env.execute(statement)
        ((index_id,),) = await env.query("SELECT id FROM mz_catalog.mz_objects WHERE name = 'mv_idx'")
        query = ("SELECT hydrated, rows_total, rows_done, hydrating_for, time_left_estimate "
                 f"FROM mz_internal.mz_hydration_statuses WHERE object_id = '{index_id}'")

        async def hydrating() -> tuple | None:
            rows = await env.query(query)
            return rows[0] if rows and rows[0][3] is not None else None

        first = await eventually(hydrating, what="the index hydrating on an online replica")
        ((mv_id,),) = await env.query("SELECT id FROM mz_catalog.mz_objects WHERE name = 'mv'")
        shard = f"SELECT updates FROM mz_internal.mz_storage_shards WHERE object_id = '{mv_id}'"
        stored = await env.query(shard)  # no row while the view's shard does not exist: the total is unknown (NULL)
        total = stored[0][0] if stored else None
        assert first[:3] == (False, total, None if total is None else 0)
        assert first[4] is None  # nothing to estimate from: no hydration of it seen, no rate measured here
        env.coordinator.fastest_hydration_ms[index_id] = 3_600_000.0  # as if it once took an hour
        await asyncio.sleep(0.05)
        ((hydrated, _total, _done, spent, left),) = await env.query(query)
        assert not hydrated and spent > first[3]
        assert abs((spent + left) - 3600.0) < 0.5  # the time left is the fastest hydration minus the time spent

        await env.execute("ALTER CLUSTER a SET (REPLICATION FACTOR = 1)")
        done = await eventually(lambda: _hydrated(env, query), what="the index hydrated")
        ((updates,),) = await env.query(shard)
        assert done[1] == done[2] == updates and updates > 0
        assert done[3:] == (None, None)

    run(test)


async def _hydrated(env: MemoryEnvironment, query: str) -> tuple | None:
    rows = await env.query(query)
    return rows[0] if rows and rows[0][0] else None


def test_lag_sampler_keeps_a_bounded_history_of_mz_wallclock_lag_history() -> None:
    async def test(env: MemoryEnvironment) -> None:
        for statement in SETUP + ["CREATE INDEX t_idx IN CLUSTER dev ON t (a)"]:
            await env.execute(statement)
        measured = await eventually(lambda: _lag_objects(env), what="lag measurements of both objects")
        assert env.adapter is not None
        sampler = LagSampler(env.adapter, interval_s=1.0, keep_s=3.0)
        for _ in range(5):
            sampler.sample()
            await asyncio.sleep(0.01)
        series = sampler.series(measured | {"u999"})
        assert set(series) == measured  # the objects mz_wallclock_lag_history measures, nothing else
        for points in series.values():
            assert len(points) == 3  # keep_s / interval_s samples: the oldest went
            assert all(lag >= 0 for _at, lag in points) and [at for at, _ in points] == sorted(at for at, _ in points)

    run(test)


async def _lag_objects(env: MemoryEnvironment) -> set[str] | None:
    objects = {object_id for object_id, *_ in await env.query("SELECT * FROM mz_internal.mz_wallclock_lag_history")}
    return objects if len(objects) == 2 else None
