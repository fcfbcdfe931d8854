"""``pg_catalog.pg_settings`` (the session's variables, sql/settings.py) and ``mz_catalog.mz_functions`` in an
in-memory environment: pg_settings agrees with SHOW ALL in every session, SET changes it in that session only."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

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
