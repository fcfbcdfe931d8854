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


def test_alter_system_changes_limits_at_runtime_durably_superuser_only() -> None:
    async def test(env: MemoryEnvironment) -> None:
        default = LIMITS["max_replicas_per_cluster"]
        assert await env.query("SHOW max_replicas_per_cluster") == [(str(default),)]
        await env.execute("CREATE ROLE ops CREATECLUSTER")
        ops = await env.session("ops")
        with pytest.raises(SteadyError) as info:
            await env.execute("ALTER SYSTEM SET max_replicas_per_cluster = 1", ops)
        assert info.value.sqlstate == "42501"
        await env.execute("ALTER SYSTEM SET max_replicas_per_cluster = 1")
        assert await env.query("SHOW max_replicas_per_cluster") == [("1",)]
        # in force at once, for every session, without a restart
        with pytest.raises(SteadyError) as info:
            await env.execute("CREATE CLUSTER two (SIZE '2xsmall', REPLICATION FACTOR 2)", ops)
        assert info.value.sqlstate == "53000" and "limit: 1" in str(info.value)
        await env.execute("CREATE CLUSTER one (SIZE '2xsmall', REPLICATION FACTOR 1)", ops)
        await env.execute("ALTER SYSTEM SET max_statement_bytes TO 64")
        await refused(env, "SELECT 1 AS " + "x" * 100, "54000")
        # durable: a new coordinator reads the values back
        await env.restart()
        assert await env.query("SHOW max_replicas_per_cluster") == [("1",)]
        assert await env.query("SHOW max_statement_bytes") == [("64",)]
        await env.execute("ALTER SYSTEM RESET max_statement_bytes")
        assert await env.query("SHOW max_statement_bytes") == [(str(LIMITS["max_statement_bytes"]),)]
        await env.execute("ALTER SYSTEM SET max_replicas_per_cluster = DEFAULT")
        await env.execute("CREATE CLUSTER two (SIZE '2xsmall', REPLICATION FACTOR 2)")
        # what is not a value, not a limit, or not the coordinator's to change is refused, changing nothing
        await refused(env, "ALTER SYSTEM SET max_clusters = 0", "22023")
        await refused(env, "ALTER SYSTEM SET max_clusters = 'many'", "22023")
        await refused(env, "ALTER SYSTEM SET no_such_limit = 3", "42704")
        await env.execute("ALTER SYSTEM SET max_clusters = 7")
        await env.execute("ALTER SYSTEM RESET ALL")
        assert await env.query("SHOW max_clusters") == [(str(LIMITS["max_clusters"]),)]
        events = await env.query("SELECT event_type, object_type FROM mz_catalog.mz_audit_events "
                                 "WHERE object_type = 'system'")
        assert len(events) == 6

    run(test)
