"""``pg_catalog.pg_settings`` (the session's variables, sql/settings.py) and ``mz_catalog.mz_functions`` in an
in-memory environment: pg_settings agrees with SHOW ALL in every session, SET changes it in that session only."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from steadystate.errors import SteadyError
from steadystate.testing import MemoryEnvironment, memory_environment


def run(test: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await test(env)

    asyncio.run(main())


def test_pg_settings_is_the_sessions_variables() -> None:
    async def test(env: MemoryEnvironment) -> None:
        other = await env.session()
        await env.execute("SET statement_timeout = '5s'")
        await env.execute("SET my.custom = 'x'")
        await env.execute("SET cluster = 'mz_catalog_server'", other)
        for session in (None, other):
            shown = sorted(await env.query("SHOW ALL", session))
            listed = await env.query("SELECT name, setting FROM pg_catalog.pg_settings ORDER BY name", session)
            assert listed == shown
        rows = {r[0]: r[1:] for r in await env.query(
            "SELECT name, setting, source, boot_val, reset_val, category, vartype, context FROM pg_settings")}
        assert rows["statement_timeout"][:4] == ("5s", "session", "60s", "60s")
        assert rows["cluster"][:2] == ("quickstart", "default")
        assert rows["my.custom"][:2] == ("x", "session") and rows["my.custom"][4] == "Customized Options"
        assert rows["server_version"][-1] == "internal" and rows["integer_datetimes"][-2] == "bool"
        assert all(r[4] and r[5] for r in rows.values())  # every row has a category and a type
        assert await env.query("SELECT setting FROM pg_settings WHERE name = 'cluster'", other) == [
            ("mz_catalog_server",)]
        assert await env.query("SELECT current_setting('statement_timeout')") == [("5s",)]

    run(test)


async def _planner_knows(env: MemoryEnvironment, name: str) -> bool:
    """Whether some call of ``name`` (untyped, int, array or jsonb arguments) is not refused as an unknown function
    (42883): a name the planner does not know is refused whatever the arguments."""
    for args in ("", "'1'", "'1', '1'", "'1', '1', '1'", "1", "1, 1", "ARRAY['1']", "ARRAY['1'], 1",
                 "ARRAY['1'], '1'", "ARRAY['1'], ARRAY['1']", "'{}'::jsonb", "now(), now()",
                 "1, 1, 1, 1, 1, 1"):
        try:
            await env.query(f"SELECT {name}({args})")
            return True
        except SteadyError as error:
            if error.sqlstate != "42883":
                return True
    return False


def test_mz_functions_lists_the_functions_the_planner_knows() -> None:
    async def test(env: MemoryEnvironment) -> None:
        rows = await env.query("SELECT f.name, f.returns_set, s.name, f.owner_id, f.argument_type_ids "
                               "FROM mz_catalog.mz_functions f JOIN mz_catalog.mz_schemas s ON s.id = f.schema_id")
        names = {r[0]: r for r in rows}
        assert len(names) == len(rows)  # one row per name
        for name in ("upper", "count", "array_agg", "generate_series", "unnest", "jsonb_each", "mz_now",
                     "mz_aclexplode", "current_setting", "has_table_privilege"):
            assert name in names, name
        assert {n for n, r in names.items() if r[1]} >= {"generate_series", "unnest", "jsonb_each", "mz_aclexplode"}
        assert not names["upper"][1] and not names["count"][1]
        assert (names["upper"][2], names["mz_now"][2], names["mz_aclexplode"][2]) == (
            "pg_catalog", "mz_catalog", "mz_internal")
        assert all(r[3] == "s1" and r[4] is None for r in rows)
        ids = await env.query("SELECT count(DISTINCT id), count(DISTINCT oid) FROM mz_catalog.mz_functions")
        assert ids == [(len(rows), len(rows))]
        unknown = [name for name in names if not await _planner_knows(env, name)]
        assert unknown == []  # each name listed plans as a call; a name not listed does not
        assert not await _planner_knows(env, "no_such_function")

    run(test)
