"""Transaction modes are honoured, never accepted and ignored: READ ONLY refuses writes and DDL with 25006 (BEGIN READ
ONLY, SET TRANSACTION READ ONLY, SET SESSION CHARACTERISTICS / default_transaction_read_only), SET LOCAL lasts until
the end of the block, and variables whose other values would change how text is read or written are refused (0A000).
In the in-memory environment (real coordinator and replica, no pgwire)."""

from __future__ import annotations

import asyncio

import pytest

from steadystate import errors
from steadystate.testing import memory_environment


def _run(body) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE t (a int)")
            await body(env, await env.session())
    asyncio.run(main())


async def _fails(env, session, sql: str, sqlstate: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.SteadyError) as caught:
        await env.execute(sql, session)
    assert caught.value.sqlstate == sqlstate, caught.value
    return caught.value.message


@pytest.mark.parametrize("begin", ["BEGIN READ ONLY", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY",
                                   "BEGIN; SET TRANSACTION READ ONLY"])
def test_a_read_only_transaction_refuses_writes_and_ddl(begin: str) -> None:
    async def body(env, session) -> None:  # type: ignore[no-untyped-def]
        for statement in begin.split("; "):
            await env.execute(statement, session)
        assert await env.query("SELECT count(*) FROM t", session) == [(0,)]
        message = await _fails(env, session, "INSERT INTO t VALUES (1)", "25006")
        assert message == "cannot execute INSERT in a read-only transaction"
        await env.execute("ROLLBACK", session)
        await env.execute(begin.split("; ")[0], session)
        if "SET TRANSACTION" in begin:
            await env.execute("SET TRANSACTION READ ONLY", session)
        assert (await _fails(env, session, "CREATE VIEW v AS SELECT 1", "25006")).startswith("cannot execute CREATE")
        await env.execute("ROLLBACK", session)
        await env.execute("INSERT INTO t VALUES (1)", session)  # the next transaction writes again
        assert await env.query("SELECT count(*) FROM t", session) == [(1,)]
    _run(body)


def test_default_transaction_read_only_and_read_write_blocks() -> None:
    async def body(env, session) -> None:  # type: ignore[no-untyped-def]
        await env.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", session)
        assert await env.query("SHOW default_transaction_read_only", session) == [("on",)]
        await _fails(env, session, "INSERT INTO t VALUES (1)", "25006")
        await _fails(env, session, "COPY t FROM STDIN", "25006")
        await env.execute("BEGIN READ WRITE", session)
        await env.execute("INSERT INTO t VALUES (2)", session)
        await env.execute("COMMIT", session)
        await env.execute("SET default_transaction_read_only = off", session)
        await env.execute("INSERT INTO t VALUES (3)", session)
        assert sorted(await env.query("SELECT a FROM t", session)) == [(2,), (3,)]
    _run(body)


def test_set_local_lasts_until_the_end_of_the_block() -> None:
    async def body(env, session) -> None:  # type: ignore[no-untyped-def]
        before = await env.query("SHOW statement_timeout", session)
        await env.execute("BEGIN", session)
        await env.execute("SET LOCAL statement_timeout = '7s'", session)
        assert await env.query("SHOW statement_timeout", session) == [("7s",)]
        await env.execute("COMMIT", session)
        assert await env.query("SHOW statement_timeout", session) == before
        await env.execute("BEGIN", session)
        await env.execute("SET LOCAL statement_timeout = '8s'", session)
        await env.execute("ROLLBACK", session)
        assert await env.query("SHOW statement_timeout", session) == before
        await env.execute("SET LOCAL statement_timeout = '9s'", session)  # outside a block: no effect
        assert await env.query("SHOW statement_timeout", session) == before
    _run(body)


@pytest.mark.parametrize("sql", ["SET standard_conforming_strings = off", "SET client_encoding = 'LATIN1'",
                                 "SET DateStyle = 'German'", "SET IntervalStyle = 'sql_standard'",
                                 "SET extra_float_digits = 0", "SET bytea_output = 'escape'"])
def test_settings_that_would_change_text_are_refused(sql: str) -> None:
    async def body(env, session) -> None:  # type: ignore[no-untyped-def]
        await _fails(env, session, sql, "0A000")
    _run(body)


@pytest.mark.parametrize("sql", ["SET client_encoding = 'UTF8'", "SET DateStyle = 'ISO, DMY'",
                                 "SET extra_float_digits = 3", "SET bytea_output = 'hex'",
                                 "SET standard_conforming_strings = on", "SET IntervalStyle = 'postgres'"])
def test_settings_this_server_honours_are_accepted(sql: str) -> None:
    async def body(env, session) -> None:  # type: ignore[no-untyped-def]
        await env.execute(sql, session)
    _run(body)


def test_a_startup_parameter_this_server_would_not_honour_refuses_the_login() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            with pytest.raises(errors.SteadyError) as caught:
                await env.session(client_encoding="LATIN1")
            assert caught.value.sqlstate == "0A000"
            session = await env.session(client_encoding="UTF8", application_name="x")
            assert await env.query("SELECT 1", session) == [(1,)]
    asyncio.run(main())
