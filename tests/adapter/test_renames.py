"""COMMENT ON, ALTER ... RENAME TO, ALTER SCHEMA|CLUSTER ... SWAP WITH and CREATE/DROP DATABASE in an in-memory
environment (adapter/comments.py, adapter/renames.py).

* comments are durable, follow their object, are deleted with it, and show in mz_comments and pg_description;
* renames and swaps change names only: the same objects keep answering under their new names, and a restart of
  the cluster would change nothing (a dataflow's name is outside its fingerprint);
* inside BEGIN ... COMMIT they are applied all together at COMMIT, or not at all;
* a swap onto a sealed cluster is a promotion: refused unless the incoming cluster could be sealed without a
  restart; the seal stays with the production name.
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


async def sqlstate_of(env: MemoryEnvironment, sql: str) -> str:
    with pytest.raises(SteadyError) as info:
        await env.execute(sql)
    return info.value.sqlstate


def test_comments_are_durable_follow_their_object_and_go_with_it() -> None:
    async def body(env: MemoryEnvironment) -> None:
        await env.execute("CREATE SCHEMA s; CREATE TABLE s.t (a int, b text); CREATE VIEW s.v AS SELECT a FROM s.t")
        await env.execute("COMMENT ON TABLE s.t IS 'the table'; COMMENT ON COLUMN s.t.b IS 'second';"
                          "COMMENT ON SCHEMA s IS 'a schema'; COMMENT ON CLUSTER quickstart IS 'dev';"
                          "COMMENT ON VIEW s.v IS $x$it's a view$x$")
        assert await sqlstate_of(env, "COMMENT ON VIEW s.t IS 'no'") == "42809"  # a table, not a view
        assert await sqlstate_of(env, "COMMENT ON COLUMN s.t.c IS 'no'") == "42703"
        assert await sqlstate_of(env, "COMMENT ON TABLE s.nope IS 'no'") == "42P01"
        await env.restart()
        rows = await env.query("SELECT o.name, c.object_type, c.object_sub_id, c.comment FROM mz_internal.mz_comments c "
                               "JOIN mz_objects o ON o.id = c.id")
        assert sorted(rows, key=lambda r: (r[0], r[2] or 0)) == [("t", "table", None, "the table"), ("t", "table", 2, "second"), ("v", "view", None, "it's a view")]
        described = await env.query("SELECT d.objsubid, d.description FROM pg_description d JOIN pg_class c "
                                    "ON d.objoid = c.oid WHERE c.relname = 't' ORDER BY 1")
        assert described == [(0, "the table"), (2, "second")]
        assert await env.query("SELECT c.comment FROM mz_internal.mz_comments c JOIN mz_clusters k ON k.id = c.id") \
            == [("dev",)]
        await env.execute("ALTER TABLE s.t RENAME TO u")  # the comment follows the object
        assert await env.query("SELECT comment FROM mz_internal.mz_comments c JOIN mz_objects o ON o.id = c.id "
                               "WHERE o.name = 'u' AND c.object_sub_id IS NULL") == [("the table",)]
        await env.execute("COMMENT ON TABLE s.u IS NULL")
        await env.execute("DROP SCHEMA s CASCADE")  # the drop deletes the comments of what it drops
        assert set(env.coordinator.catalog.comments) == {f"{env.cluster_id()}/"}

    run(body)


def test_renames_change_names_only() -> None:
    async def body(env: MemoryEnvironment) -> None:
        await env.execute("CREATE CLUSTER prod (SIZE = 'small'); CREATE TABLE t (a int);"
                          "INSERT INTO t VALUES (1), (2); CREATE SCHEMA s;"
                          "CREATE MATERIALIZED VIEW s.total IN CLUSTER prod AS SELECT sum(a) AS n FROM t;"
                          "CREATE INDEX total_idx IN CLUSTER prod ON s.total (n)")
        await env.execute("ALTER CLUSTER prod SEAL")
        prod = env.cluster_id("prod")
        assert await env.query("SELECT ready FROM mz_internal.mz_cluster_readiness WHERE cluster_id = "
                               f"'{prod}'") == [(True,)]
        await env.execute("ALTER SCHEMA s RENAME TO s2; ALTER MATERIALIZED VIEW s2.total RENAME TO sum_a;"
                          "ALTER INDEX s2.total_idx RENAME TO sum_idx; ALTER CLUSTER prod RENAME TO production")
        assert await env.query("SELECT n FROM s2.sum_a") == [(3,)]
        assert await sqlstate_of(env, "SELECT n FROM s.total") == "42P01"
        assert await env.query("SELECT name, sealed FROM mz_clusters WHERE id = " f"'{prod}'") == [("production", True)]
        # a restart of the renamed cluster would rebuild nothing: still ready, sealed
        assert await env.query("SELECT ready FROM mz_internal.mz_cluster_readiness WHERE cluster_id = "
                               f"'{prod}'") == [(True,)]
        assert await sqlstate_of(env, "ALTER TABLE t RENAME TO t") == "42P07"
        assert await sqlstate_of(env, "ALTER VIEW t RENAME TO w") == "42809"
        assert await sqlstate_of(env, "ALTER SCHEMA public RENAME TO p") == "42501"
        assert await sqlstate_of(env, "ALTER CLUSTER production RENAME TO quickstart") == "42710"
        await env.execute("ALTER TABLE IF EXISTS nope RENAME TO other")  # a notice, nothing else

    run(body)


def test_swaps_in_a_transaction_apply_together_at_commit_or_not_at_all() -> None:
    async def body(env: MemoryEnvironment) -> None:
        await env.execute("CREATE SCHEMA blue; CREATE SCHEMA green; CREATE TABLE blue.t (a int);"
                          "CREATE TABLE green.t (a int); INSERT INTO blue.t VALUES (1); INSERT INTO green.t VALUES (2);"
                          "CREATE CLUSTER c1 (SIZE = 'small'); CREATE CLUSTER c2 (SIZE = 'small')")
        c1, c2 = env.cluster_id("c1"), env.cluster_id("c2")
        # the second statement fails: the first (checked, buffered) is not applied either
        with pytest.raises(SteadyError) as info:
            await env.execute("BEGIN; ALTER SCHEMA blue SWAP WITH green; ALTER CLUSTER c1 SWAP WITH nope; COMMIT")
        assert info.value.sqlstate == "42704"
        await env.execute("ROLLBACK")
        assert await env.query("SELECT a FROM blue.t") == [(1,)]
        session = await env.session()
        await env.execute("BEGIN; ALTER SCHEMA blue SWAP WITH green; ALTER CLUSTER c1 SWAP WITH c2", session)
        assert await env.query("SELECT a FROM blue.t") == [(1,)]  # not yet: applied at COMMIT
        with pytest.raises(SteadyError) as info:  # no writes or other DDL beside buffered renames
            await env.execute("INSERT INTO blue.t VALUES (5)", session)
        assert info.value.sqlstate == "25000"
        await env.execute("ROLLBACK", session)
        assert await env.query("SELECT a FROM blue.t") == [(1,)]
        await env.execute("BEGIN; ALTER SCHEMA blue SWAP WITH green; ALTER CLUSTER c1 SWAP WITH c2;"
                          "ALTER SCHEMA blue RENAME TO teal; COMMIT", session)
        assert await env.query("SELECT a FROM teal.t") == [(2,)]  # green's table, renamed twice
        assert await env.query("SELECT a FROM green.t") == [(1,)]
        assert dict(await env.query("SELECT id, name FROM mz_clusters WHERE name IN ('c1', 'c2')")) == \
            {c1: "c2", c2: "c1"}
        await env.restart()  # durable, as one catalog transaction left it
        assert await env.query("SELECT a FROM teal.t") == [(2,)]
        assert env.coordinator.catalog.clusters[c1].name == "c2"

    run(body)


def test_a_swap_onto_a_sealed_cluster_is_a_proven_promotion() -> None:
    async def body(env: MemoryEnvironment) -> None:
        await env.execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2), (3);"
                          "CREATE CLUSTER prod (SIZE = 'small'); CREATE CLUSTER next (SIZE = 'small');"
                          "CREATE MATERIALIZED VIEW m IN CLUSTER prod AS SELECT count(*) AS n FROM t")
        await env.execute("ALTER CLUSTER prod SEAL")
        prod, nxt = env.cluster_id("prod"), env.cluster_id("next")
        await env.execute("CREATE MATERIALIZED VIEW m2 IN CLUSTER next AS SELECT sum(a) AS n FROM t")

        async def hydrated() -> bool:
            rows = await env.query("SELECT h.hydrated FROM mz_internal.mz_hydration_statuses h JOIN "
                                   f"mz_cluster_replicas r ON h.replica_id = r.id WHERE r.cluster_id = '{nxt}'")
            return bool(rows) and all(h for (h,) in rows)

        await eventually(hydrated, what="hydrated")
        # next's replica was dirtied by that CREATE: a restart proves nothing about it yet
        with pytest.raises(SteadyError) as info:
            await env.execute("ALTER CLUSTER prod SWAP WITH next")
        assert info.value.sqlstate == "55000" and "cannot promote" in info.value.message
        assert "dirty" in (info.value.detail or "")
        assert env.coordinator.catalog.clusters[prod].name == "prod"
        await env.execute("ALTER CLUSTER next RESTART")
        await eventually(hydrated, what="hydrated after the restart")
        await env.execute("ALTER CLUSTER next SWAP WITH prod")  # either side may be named first
        clusters = {cid: (name, sealed) for cid, name, sealed in
                    await env.query("SELECT id, name, sealed FROM mz_clusters WHERE id IN ('%s', '%s')" % (prod, nxt))}
        assert clusters == {nxt: ("prod", True), prod: ("next", False)}
        assert await env.query("SELECT n FROM m2") == [(6,)]
        await env.restart()  # the promoted cluster's dataflows are kept: it is still ready, sealed
        async def ready() -> bool:
            return await env.query(f"SELECT ready FROM mz_internal.mz_cluster_readiness WHERE cluster_id = '{nxt}'") \
                == [(True,)]

        await eventually(ready, what="promoted cluster ready after a restart")
        # the outgoing cluster is no longer production: it can be dropped
        await env.execute("DROP CLUSTER next CASCADE")

    run(body)


def test_create_and_drop_database() -> None:
    async def body(env: MemoryEnvironment) -> None:
        await env.execute("CREATE DATABASE d; CREATE SCHEMA d.s; CREATE TABLE d.s.t (a int)")
        assert await sqlstate_of(env, "CREATE DATABASE d") == "42P04"
        await env.execute("CREATE DATABASE IF NOT EXISTS d")
        assert await env.query("SELECT name FROM mz_databases ORDER BY name") == [("d",), ("materialize",)]
        await env.restart()
        assert await env.query("SELECT count(*) FROM d.s.t") == [(0,)]
        assert await sqlstate_of(env, "DROP DATABASE d RESTRICT") == "2BP01"
        await env.execute("DROP DATABASE d")  # CASCADE is the default, as in Materialize
        assert await env.query("SELECT name FROM mz_databases") == [("materialize",)]
        assert await sqlstate_of(env, "DROP DATABASE materialize") == "42501"
        assert await sqlstate_of(env, "DROP DATABASE d") == "3D000"

    run(body)
