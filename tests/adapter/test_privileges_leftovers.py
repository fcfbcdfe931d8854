"""Privileges: schema grants follow their schema through RENAME and SWAP (keyed by the schema's id) and do not
pass to a later schema of the same name; ``pg_class.relacl`` shows the real grants; ``has_*_privilege`` with a
non-constant argument answers per row; ``ALTER DEFAULT PRIVILEGES``."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import pytest

from steadystate.adapter.session import ClientSession
from steadystate.errors import SteadyError
from steadystate.testing import MemoryEnvironment, memory_environment


def run(test: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await test(env)

    asyncio.run(main())


async def refused(env: MemoryEnvironment, sql: str, session: ClientSession, sqlstate: str = "42501") -> str:
    with pytest.raises(SteadyError) as info:
        await env.execute(sql, session)
    assert info.value.sqlstate == sqlstate, (sql, info.value)
    return str(info.value)


def test_schema_grants_follow_rename_and_swap_and_do_not_pass_to_a_new_schema_of_the_same_name() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE ann")
        await env.execute("CREATE SCHEMA blue")
        await env.execute("CREATE SCHEMA green")
        await env.execute("GRANT USAGE, CREATE ON SCHEMA blue TO ann")
        ann = await env.session("ann")
        await env.execute("CREATE TABLE blue.t1 (a int)", ann)
        await refused(env, "CREATE TABLE green.t1 (a int)", ann)
        await env.execute("ALTER SCHEMA blue RENAME TO azure")
        await env.execute("CREATE TABLE azure.t2 (a int)", ann)  # the grant followed the schema
        await env.execute("ALTER SCHEMA azure SWAP WITH green")
        # the schema ann may create in is now called green; the one called azure is the other one
        await env.execute("CREATE TABLE green.t3 (a int)", ann)
        await refused(env, "CREATE TABLE azure.t3 (a int)", ann)
        assert await env.query("SELECT has_schema_privilege('ann', 'green', 'CREATE'), "
                               "has_schema_privilege('ann', 'azure', 'CREATE')") == [(True, False)]
        # a schema dropped and created again under the same name starts without the old grants
        await env.execute("DROP SCHEMA green CASCADE")
        await env.execute("CREATE SCHEMA green")
        await refused(env, "CREATE TABLE green.t4 (a int)", ann)

    run(test)


def test_pg_class_relacl_shows_the_grants_as_postgresql_prints_them() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE joe")
        await env.execute("CREATE TABLE acl_t (a int)")
        await env.execute("CREATE VIEW acl_v AS SELECT a FROM acl_t")
        relacl = "SELECT relacl FROM pg_catalog.pg_class WHERE relname = '{}'"
        assert await env.query(relacl.format("acl_t")) == [(None,)]  # defaults: NULL, as PostgreSQL
        await env.execute("GRANT SELECT, INSERT ON acl_t TO joe")
        await env.execute("GRANT SELECT ON acl_v TO PUBLIC")
        assert await env.query(relacl.format("acl_t")) == [("{materialize=arwd/materialize,joe=ar/materialize}",)]
        assert await env.query(relacl.format("acl_v")) == [("{materialize=r/materialize,=r/materialize}",)]
        await env.execute("REVOKE INSERT ON acl_t FROM joe")
        assert await env.query(relacl.format("acl_t")) == [("{materialize=arwd/materialize,joe=r/materialize}",)]

    run(test)


def test_has_privilege_functions_answer_per_row_by_oid() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE kim")
        for name in ("pr_a", "pr_b", "pr_c"):
            await env.execute(f"CREATE TABLE {name} (x int)")
        await env.execute("GRANT SELECT ON pr_b TO kim")
        await env.execute("GRANT INSERT ON pr_c TO kim")
        kim = await env.session("kim")
        await env.execute("GRANT SELECT ON pg_catalog.pg_class TO kim")
        query = ("SELECT relname FROM pg_catalog.pg_class WHERE relname LIKE 'pr\\_%' "
                 "AND has_table_privilege(oid, 'SELECT') ORDER BY relname")
        assert await env.query(query, kim) == [("pr_b",)]
        assert await env.query(query) == [("pr_a",), ("pr_b",), ("pr_c",)]  # the superuser holds all
        rows = await env.query("SELECT relname, has_table_privilege('kim', c.oid, 'SELECT, INSERT') "
                               "FROM pg_catalog.pg_class c WHERE relname LIKE 'pr\\_%' ORDER BY relname")
        assert rows == [("pr_a", False), ("pr_b", True), ("pr_c", True)]
        # an oid of no relation is NULL, as in PostgreSQL
        assert await env.query("SELECT has_table_privilege(x, 'SELECT') FROM (VALUES (1), (NULL::int8)) AS v(x)") \
            == [(None,), (None,)]
        # per row by schema oid
        await env.execute("CREATE SCHEMA ps_hidden")
        rows = await env.query("SELECT nspname, has_schema_privilege(oid, 'USAGE') FROM pg_catalog.pg_namespace "
                               "WHERE nspname IN ('public', 'ps_hidden') ORDER BY nspname", kim)
        assert rows == [("ps_hidden", False), ("public", True)]
        # what cannot be answered per row is refused, never answered with a constant
        with pytest.raises(SteadyError) as info:
            await env.execute("SELECT has_table_privilege(relname, 'SELECT') FROM pg_catalog.pg_class", kim)
        assert info.value.sqlstate == "0A000" and info.value.hint

    run(test)
