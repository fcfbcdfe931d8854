"""The coordinator in an in-memory environment (``steadystate.testing``): DDL and its atomicity, replica crashes
and planned coordinator restarts, all through the adapter's session API with real controllers and in-process
replicas, without a subprocess.

* every failed DDL statement leaves the durable catalog, the coordinator's view of it and the id counters as they
  were (atomic DDL), and the environment keeps working (and restarts) after them;
* a replica that crashes loses its state; its successor reconnects, replays the reduced history and serves the same
  results, and the crash is recorded in the status history;
* a planned coordinator restart adopts the running replicas (no new incarnation), which reconcile: every dataflow is
  kept, none rebuilt.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest

from steadystate.errors import SteadyError
from steadystate.testing import MemoryEnvironment, eventually, memory_environment


def run(test: Callable[[MemoryEnvironment], Awaitable[None]], **config: Any) -> None:
    async def main() -> None:
        async with memory_environment(**config) as env:
            await test(env)

    asyncio.run(main())


SETUP = [
    "CREATE TABLE t (a int, b text)",
    "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
    "CREATE VIEW sv AS SELECT id, name FROM mz_catalog.mz_clusters",
    "CREATE CLUSTER dev (SIZE = 'small')",
    "CREATE CLUSTER empty (SIZE = 'small', REPLICATION FACTOR = 0)",
    "CREATE VIEW tv AS SELECT a, b FROM t WHERE a > 0",
    "CREATE INDEX tv_dev_idx IN CLUSTER dev ON tv (a)",
    "CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t",
]

FAILING = [
    ("CREATE INDEX sv_idx ON sv (id)", "0A000"),
    ("CREATE MATERIALIZED VIEW smv AS SELECT id FROM mz_catalog.mz_clusters", "0A000"),
    ("CREATE TABLE t (a int)", "42P07"),
    ("CREATE INDEX ON nosuch (a)", "42P01"),
    ("DROP TABLE t", "2BP01"),
    ("DROP VIEW nosuch", "42P01"),
    ("CREATE CLUSTER dev (SIZE = 'small')", "42710"),
    ("CREATE CLUSTER big (SIZE = 'enormous')", "22023"),
    ("CREATE CLUSTER REPLICA dev.r9 SIZE 'small'", "55000"),
    ("DROP CLUSTER REPLICA dev.nosuch", "42704"),
    ("DROP CLUSTER dev", "2BP01"),
    ("ALTER CLUSTER dev SET (SIZE = 'enormous')", "22023"),
    ("ALTER CLUSTER dev OWNER TO nobody", "42704"),
    ("ALTER CLUSTER empty SEAL", "55000"),
    ("DROP ROLE nobody", "42704"),
    ("CREATE ROLE materialize", "42710"),
]


def catalog_snapshot(env: MemoryEnvironment) -> tuple[object, ...]:
    coord = env.coordinator
    durable = env.catalog.load()
    counters = env.catalog._conn.execute("SELECT name, value FROM counters ORDER BY name").fetchall()
    return (durable, counters, dict(coord.catalog.items), dict(coord.catalog.clusters), dict(coord.catalog.replicas),
            dict(coord.catalog.roles), {cid: i.history.live_dataflows().keys() for cid, i in coord.instances.items()})


def test_ddl_builds_objects_that_answer_queries() -> None:
    async def test(env: MemoryEnvironment) -> None:
        for statement in SETUP:
            await env.execute(statement)
        await env.execute("SET cluster = dev")
        assert await env.query("SELECT a, b FROM tv ORDER BY a") == [(1, "x"), (2, "y")]
        await env.execute("RESET cluster")
        assert await env.query("SELECT n FROM mv") == [(2,)]
        await env.execute("INSERT INTO t VALUES (3, 'z')")
        assert await env.query("SELECT n FROM mv") == [(3,)]
        assert await env.query("SELECT a FROM t WHERE a > 1 ORDER BY a") == [(2,), (3,)]  # a slow-path dataflow
        dev = env.instance("dev").history.live_dataflows()
        index_id = next(i.id for i in env.coordinator.catalog.items.values() if i.name == "tv_dev_idx")
        assert index_id in dev

    run(test)


@pytest.mark.parametrize("statement, sqlstate", FAILING)
def test_a_failed_statement_leaves_the_catalog_unchanged(statement: str, sqlstate: str) -> None:
    async def test(env: MemoryEnvironment) -> None:
        for setup in SETUP:
            await env.execute(setup)
        before = catalog_snapshot(env)
        with pytest.raises(SteadyError) as info:
            await env.execute(statement)
        assert info.value.sqlstate == sqlstate, (statement, info.value.message)
        assert catalog_snapshot(env) == before
        await env.restart()  # and the environment starts from what is left
        assert await env.query("SELECT n FROM mv") == [(2,)]

    run(test)


def test_a_crashed_replica_is_replaced_and_replays_the_history() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1), (2)")
        await env.execute("CREATE INDEX t_idx ON t (a)")
        assert await env.query("SELECT a FROM t ORDER BY a") == [(1,), (2,)]
        replica_id = env.replica_id()
        first = env.pool.running[replica_id]
        await env.kill_replica()
        await env.execute("INSERT INTO t VALUES (3)")
        assert await env.query("SELECT a FROM t ORDER BY a") == [(1,), (2,), (3,)]
        second = env.pool.running[replica_id]
        assert second is not first and second.pid != first.pid
        live = set(env.instance().history.live_dataflows())
        assert set(second.server.state.by_export) == live
        history = env.catalog.status_history()
        assert any(e.replica_id == replica_id and e.status == "offline" and e.process_id == first.pid
                   for e in history)
        assert env.coordinator.orchestrator.exit_reason(replica_id) is None  # its successor runs

    run(test)


def test_a_planned_restart_adopts_the_replicas_and_keeps_their_dataflows() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1), (2)")
        await env.execute("CREATE INDEX t_idx ON t (a)")
        await env.execute("CREATE MATERIALIZED VIEW mv AS SELECT sum(a) AS s FROM t")
        assert await env.query("SELECT s FROM mv") == [(3,)]
        started = env.pool.started
        replica_id = env.replica_id()
        state = env.pool.running[replica_id].server.state
        nonce, reconciled_at = state.nonce, state.reconciled_at_ms
        await env.restart()
        assert env.pool.started == started  # adopted, not started again
        assert env.pool.running[replica_id].server.state is state
        # set last by the replay's InitializationComplete (the restart takes more than a millisecond)
        await eventually(lambda: state.nonce != nonce and state.reconciled_at_ms != reconciled_at,
                         what="the new coordinator's replay")
        assert state.reconciled_rebuilt == 0
        assert state.reconciled_kept == len({id(d) for d in state.by_export.values()})
        await env.execute("INSERT INTO t VALUES (3)")
        assert await env.query("SELECT s FROM mv") == [(6,)]

    run(test)


def test_a_full_stop_stops_the_replicas_and_a_start_begins_them_again() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (7)")
        await env.stop()
        assert env.pool.running == {}
        await env.start()
        assert await env.query("SELECT a FROM t") == [(7,)]

    run(test)
