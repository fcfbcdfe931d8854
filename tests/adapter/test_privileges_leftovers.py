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


def test_alter_default_privileges_grants_on_relations_created_later_durably() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE ROLE dev CREATECLUSTER")
        await env.execute("CREATE ROLE reader")
        await env.execute("CREATE SCHEMA sales")
        await env.execute("GRANT USAGE, CREATE ON SCHEMA sales TO dev")
        await env.execute("GRANT USAGE ON SCHEMA sales TO reader")
        dev, reader = await env.session("dev"), await env.session("reader")
        await env.execute("CREATE TABLE sales.before (a int)", dev)
        # Materialize's syntax; who may: a member of the role, a superuser for ALL ROLES
        await refused(env, "ALTER DEFAULT PRIVILEGES FOR ALL ROLES GRANT SELECT ON TABLES TO reader", dev)
        await refused(env, "ALTER DEFAULT PRIVILEGES FOR ROLE dev IN SCHEMA sales GRANT SELECT ON TABLES TO reader",
                      reader)
        await env.execute("ALTER DEFAULT PRIVILEGES FOR ROLE dev IN SCHEMA sales GRANT SELECT ON TABLES TO reader")
        await env.execute("ALTER DEFAULT PRIVILEGES GRANT INSERT ON TABLES TO reader", dev)  # dev's own
        await env.execute("CREATE TABLE sales.after (a int)", dev)
        await env.execute("INSERT INTO sales.after VALUES (1)", dev)
        await env.execute("CREATE VIEW sales.after_v AS SELECT a FROM sales.after", dev)
        assert await env.query("SELECT a FROM sales.after", reader) == [(1,)]
        await env.execute("INSERT INTO sales.after VALUES (2)", reader)
        assert await env.query("SELECT a FROM sales.after_v ORDER BY a", reader) == [(1,), (2,)]
        await refused(env, "SELECT a FROM sales.before", reader)  # existing objects are unchanged
        await env.execute("CREATE TABLE public_t (a int)")  # another role's object: untouched
        await refused(env, "SELECT a FROM public_t", reader)
        rows = await env.query("SELECT object_owner, database, schema, object_type, grantee, privilege_type "
                               "FROM mz_internal.mz_show_default_privileges ORDER BY 1, 3, 6")
        assert rows == [("dev", "materialize", "sales", "table", "reader", "SELECT"),
                        ("dev", None, None, "table", "reader", "INSERT")]  # NULLs last, as PostgreSQL sorts
        ids = await env.query("SELECT role_id, schema_id, privileges FROM mz_internal.mz_default_privileges "
                              "ORDER BY privileges")
        dev_id = (await env.query("SELECT id FROM mz_catalog.mz_roles WHERE name = 'dev'"))[0][0]
        assert [(r, p_) for r, _, p_ in ids] == [(dev_id, "a"), (dev_id, "r")]
        # the scope follows a schema rename (keyed by the schema's id) and survives a restart
        await env.execute("ALTER SCHEMA sales RENAME TO revenue")
        await env.restart()
        dev, reader = await env.session("dev"), await env.session("reader")
        await env.execute("CREATE TABLE revenue.later (a int)", dev)
        assert await env.query("SELECT count(*) FROM revenue.later", reader) == [(0,)]
        # REVOKE takes it away for objects created afterwards
        await env.execute("ALTER DEFAULT PRIVILEGES FOR ROLE dev IN SCHEMA revenue REVOKE SELECT ON TABLES FROM reader")
        await env.execute("CREATE TABLE revenue.last (a int)", dev)
        await refused(env, "SELECT a FROM revenue.last", reader)
        assert await env.query("SELECT count(*) FROM mz_internal.mz_show_default_privileges") == [(1,)]
        # what it does not cover is refused, not ignored
        await refused(env, "ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO reader", dev, "0A000")

    run(test)
