"""Governance limits in an in-memory environment: replicas per cluster and in total, clusters, statement size
(adapter/limits.py), and that a large statement is planned off the event loop within its statement_timeout."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import pytest

from steadystate.adapter.limits import LIMITS
from steadystate.errors import SteadyError
from steadystate.testing import MemoryEnvironment, memory_environment


def run(test: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await test(env)

    asyncio.run(main())


async def refused(env: MemoryEnvironment, sql: str, sqlstate: str) -> str:
    with pytest.raises(SteadyError) as info:
        await env.execute(sql)
    assert info.value.sqlstate == sqlstate, (sql, info.value)
    return str(info.value)


def test_replica_and_cluster_limits_refuse_with_53000_and_change_nothing() -> None:
    async def test(env: MemoryEnvironment) -> None:
        per_cluster = LIMITS["max_replicas_per_cluster"]
        replicas_before = dict(env.coordinator.catalog.replicas)
        message = await refused(env, f"CREATE CLUSTER big (SIZE '2xsmall', REPLICATION FACTOR {per_cluster + 1})",
                                "53000")
        assert "max_replicas_per_cluster" in message
        many = ", ".join(f"r{n} (SIZE '2xsmall')" for n in range(per_cluster + 1))
        await refused(env, f"CREATE CLUSTER big REPLICAS ({many})", "53000")
        assert env.coordinator.catalog.cluster_by_name("big") is None
        assert env.coordinator.catalog.replicas == replicas_before
        await env.execute("CREATE CLUSTER small (SIZE '2xsmall', REPLICATION FACTOR 0)")
        await refused(env, f"ALTER CLUSTER small SET (REPLICATION FACTOR {per_cluster + 1})", "53000")
        await env.execute("CREATE CLUSTER u REPLICAS ()")
        for n in range(per_cluster):
            await env.execute(f"CREATE CLUSTER REPLICA u.r{n} SIZE '2xsmall'")
        await refused(env, "CREATE CLUSTER REPLICA u.extra SIZE '2xsmall'", "53000")
        # the environment-wide limits
        saved = dict(LIMITS)
        try:
            LIMITS["max_replicas"] = len(env.coordinator.catalog.replicas)
            assert "max_replicas " in await refused(env, "ALTER CLUSTER small SET (REPLICATION FACTOR 1)", "53000")
            LIMITS["max_clusters"] = len(env.coordinator.catalog.clusters)
            assert "max_clusters" in await refused(env, "CREATE CLUSTER one_more REPLICAS ()", "53000")
        finally:
            LIMITS.update(saved)

    run(test)


def test_a_statement_over_the_size_limit_is_refused_with_54000() -> None:
    async def test(env: MemoryEnvironment) -> None:
        saved = LIMITS["max_statement_bytes"]
        LIMITS["max_statement_bytes"] = 10_000
        try:
            message = await refused(env, "SELECT 1 WHERE 1 IN (" + ", ".join(["1"] * 5000) + ")", "54000")
            assert "statement too large" in message
        finally:
            LIMITS["max_statement_bytes"] = saved
        assert await env.query("SELECT 1") == [(1,)]

    run(test)


def test_a_huge_in_list_is_planned_off_the_loop_and_bounded_by_statement_timeout() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1), (2), (3)")
        values = ", ".join(str(n) for n in range(2, 20_000))
        assert await env.query(f"SELECT count(*) FROM t WHERE a IN ({values})") == [(2,)]
        slow = await env.session()
        await env.execute("SET statement_timeout = '1ms'", slow)
        big = ", ".join(str(n) for n in range(100_000))
        with pytest.raises(SteadyError) as info:
            await env.execute(f"SELECT count(*) FROM t WHERE a IN ({big})", slow)
        assert info.value.sqlstate == "57014"
        assert await env.query("SELECT count(*) FROM t") == [(3,)]

    run(test)
