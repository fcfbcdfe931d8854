"""An object that plans but cannot be rendered on a replica (a catalog written by a buggy or older version) is a
failure the replica reports: it shows in ``mz_internal.mz_failed_objects`` per replica and in the readiness verdict,
SEAL refuses, everything else keeps answering, and dropping it clears it (in-memory environment)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from steadystate.errors import SteadyError
from steadystate.expr.ir import Get, encode_plan
from steadystate.testing import MemoryEnvironment, eventually, memory_environment


async def break_view(env: MemoryEnvironment, name: str) -> None:
    """Rewrite view ``name`` in the catalog to read itself: the dataflow builder accepts it, no replica can build
    it (as a catalog written by a buggy or older version could)."""
    catalog = env.coordinator.catalog
    view = next(i for i in catalog.items.values() if i.name == name)
    broken = msgspec.structs.replace(view, plan=encode_plan(Get(view.id)), depends_on=(view.id,))
    with catalog.durable.transact("materialize") as txn:
        txn.put(broken)
    catalog.apply_puts([broken])


def test_a_dataflow_no_replica_can_render_is_reported_not_fatal() -> None:
    async def scenario(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1), (2)")
        await env.execute("CREATE INDEX t_idx ON t (a)")
        await env.execute("CREATE VIEW loop_v AS SELECT a FROM t")
        await break_view(env, "loop_v")
        await env.execute("CREATE INDEX loop_idx ON loop_v (a)")

        rows = await eventually(lambda: env.query("SELECT name, cluster_id, error FROM mz_internal.mz_failed_objects"),
                                what="the replica reports the failure")
        assert [(r[0], r[1]) for r in rows] == [("materialize.public.loop_idx", env.cluster_id())]
        assert "replica r1 cannot render it" in rows[0][2]
        (reasons,), = await env.query(f"SELECT reasons FROM mz_internal.mz_cluster_readiness "
                                      f"WHERE cluster_id = '{env.cluster_id()}'")
        assert "loop_idx" in reasons
        with pytest.raises(SteadyError) as info:
            await env.execute("ALTER CLUSTER quickstart SEAL")
        assert info.value.sqlstate == "55000" and "loop_idx" in (info.value.detail or "")
        assert sorted(await env.query("SELECT a FROM t")) == [(1,), (2,)]  # the replica serves everything else

        await env.execute("DROP INDEX loop_idx")
        async def cleared() -> bool:
            return await env.query("SELECT * FROM mz_internal.mz_failed_objects") == []
        await eventually(cleared, what="the drop clears the failure")

    async def main() -> None:
        async with memory_environment() as env:
            await scenario(env)

    asyncio.run(main())


def test_a_read_of_a_materialized_view_no_replica_maintains_fails_at_once() -> None:
    """Its shard is never written past the read's timestamp: the read is refused with the render error (55000)
    instead of waiting for its statement timeout (57014), also through a view and a materialized view over it and
    from another cluster; the table it reads and a healthy materialized view stay readable."""
    async def scenario(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1), (2)")
        await env.execute("CREATE MATERIALIZED VIEW healthy AS SELECT a + 1 AS b FROM t")
        await env.execute("CREATE VIEW loop_v AS SELECT a FROM t")
        await break_view(env, "loop_v")
        await env.execute("CREATE MATERIALIZED VIEW mv AS SELECT a FROM loop_v")
        await eventually(lambda: env.query("SELECT name FROM mz_internal.mz_failed_objects"),
                         what="the replica reports it cannot render mv")
        await env.execute("CREATE VIEW over_mv AS SELECT a * 2 AS c FROM mv")
        await env.execute("CREATE CLUSTER other (SIZE = 'small')")
        for query in ("SELECT * FROM mv", "SELECT count(*) FROM mv", "SELECT c FROM over_mv ORDER BY c"):
            with pytest.raises(SteadyError) as info:
                await env.query(query)
            assert info.value.sqlstate == "55000", (query, info.value.sqlstate, info.value.message)
            assert "materialize.public.mv" in info.value.message
            assert 'cannot resolve collection' in (info.value.detail or "")
        await env.execute("SET cluster = other")
        with pytest.raises(SteadyError) as info:
            await env.query("SELECT * FROM mv")
        assert info.value.sqlstate == "55000"
        assert sorted(await env.query("SELECT a FROM t")) == [(1,), (2,)]
        assert sorted(await env.query("SELECT b FROM healthy")) == [(2,), (3,)]

    async def main() -> None:
        async with memory_environment(statement_timeout_s=3) as env:
            await scenario(env)

    asyncio.run(main())
