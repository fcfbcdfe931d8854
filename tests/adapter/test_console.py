"""The console's HTTP application and hydration progress in flight, in an in-memory environment.

* every console route (page, static files, JSON) passes the one guard: a guard that refuses answers 401 on all of
  them; without one, the page and its files are served, unknown clusters and objects are 404, and the documents
  agree with SQL (the environment's clusters with ``mz_cluster_readiness``, an object's plan with ``EXPLAIN``);
* ``mz_wallclock_lag_history`` is binned per minute (each bin its greatest lag), with a bounded retention, and the
  console's freshness chart is its freshest replica per object and minute;
* an object whose input is not computed yet (an index on a materialized view of a cluster without replicas) is
  shown hydrating: not hydrated, 0 rows done of what the view's shard holds (NULL while the shard does not exist),
  ``hydrating_for`` growing; given its
  fastest hydration seen, ``time_left_estimate`` is that minus the time spent; once the view's cluster gets a
  replica the index hydrates, and its rows done equal its total, the view's shard's updates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from steadystate.adapter.console_http import mount_console
from steadystate.adapter.lag_history import WallclockLagHistory, measure_lags
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


def test_wallclock_lag_history_bins_per_minute_and_the_console_charts_it() -> None:
    """The coordinator's samples (taken here by hand, at chosen times: ``lag_sample_interval_s=0`` starts no
    sampling task) land in per-minute bins of ``mz_wallclock_lag_history`` (Materialize's columns), each the
    greatest lag of its minute; the console's chart is, per object and minute, the freshest replica's lag."""
    async def main() -> None:
        async with memory_environment(lag_sample_interval_s=0) as env:
            for statement in SETUP + ["CREATE INDEX t_idx IN CLUSTER dev ON t (a)",
                                      "ALTER CLUSTER dev SET (REPLICATION FACTOR = 2)"]:
                await env.execute(statement)
            measured = await eventually(lambda: _measured(env), what="both objects measured on both replicas")
            history = env.coordinator.lag_history
            assert history is not None
            assert await env.query("SELECT * FROM mz_internal.mz_wallclock_lag_history") == []
            minute = (int(time.time()) // 60 + 1) * 60_000  # the start of the next minute
            for at in (minute + 1_000, minute + 30_000, minute + 61_000):
                history.sample(now_ms=at)
            rows = await env.query(
                "SELECT object_id, replica_id, lag, occurred_at FROM mz_internal.mz_wallclock_lag_history")
            assert {(o, r) for o, r, _lag, _at in rows} == measured
            first, second = (dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).replace(tzinfo=None)
                             for ms in (minute, minute + 60_000))
            by_key = {(o, r, at): lag.micros for o, r, lag, at in rows}
            assert len(by_key) == len(rows) == 2 * len(measured)  # one row per object, replica and minute
            for object_id, replica_id in measured:
                early, late = by_key[(object_id, replica_id, first)], by_key[(object_id, replica_id, second)]
                # the first minute's row is its greatest lag, the sample at +30 s (at least 30 s: the frontier is not
                # ahead of the present); the second is 31 s later (less whatever the frontier moved meanwhile)
                assert early >= 30_000_000 and late - early >= 25_000_000

            client = await client_for(env)
            try:
                cluster = await (await client.get("/console/api/clusters/dev")).json()
            finally:
                await client.close()
            want: dict[str, dict[int, float]] = {}
            for object_id, _replica, lag, at in rows:
                points = want.setdefault(object_id, {})
                ms = int(at.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
                points[ms] = min(points.get(ms, lag.micros / 1e6), lag.micros / 1e6)
            assert {s["object_id"]: [tuple(p) for p in s["points"]] for s in cluster["lag"]} == {
                o: sorted(points.items()) for o, points in want.items()}

    asyncio.run(main())


def test_wallclock_lag_history_keeps_a_bounded_window() -> None:
    """Bins that ended longer than the retention ago go (also when nothing is measured); an empty measurement adds
    no bin."""
    measurements: list[tuple[str, str, int]] = [("u1", "r1", 5)]
    history = WallclockLagHistory(lambda _now: list(measurements), bin_s=60, retention_s=180)
    for minute in range(6):
        measurements[0] = ("u1", "r1", minute)
        history.sample(now_ms=minute * 60_000 + 10)
    # a bin goes once it ended at least retention_s ago: 120 s - 180 s holds 300.01 s - 180 s, so it stays
    assert [at for at, _ in history.bins] == [120_000, 180_000, 240_000, 300_000]
    assert [row[2].micros for row in history.rows()] == [2, 3, 4, 5]
    measurements.clear()
    history.sample(now_ms=6 * 60_000)
    assert [at for at, _ in history.bins] == [180_000, 240_000, 300_000]


async def _measured(env: MemoryEnvironment) -> set[tuple[str, str]] | None:
    objects = {(o, r) for o, r, _lag in measure_lags(env.coordinator)}
    return objects if len({o for o, _ in objects}) == 2 and len(objects) == 4 else None
