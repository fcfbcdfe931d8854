"""Function names are PostgreSQL's, checked against the server's catalog (sql/postgres_names.py).

sqlglot knows every dialect's function names: ``ifnull(1, 2)`` answered here while PostgreSQL has no such function,
and ``group_concat(x)`` failed naming ``string_agg``, a function the user never typed.  Checked here:

* every name the dialect reads as a known function is a function in PostgreSQL's ``pg_proc``, or one of the
  grammar's call-shaped constructs (``COALESCE``, ``CAST``...), which PostgreSQL answers as calls;
* every name sqlglot's PostgreSQL parser knows that the dialect drops is absent from ``pg_proc`` (nothing of
  PostgreSQL's is lost);
* calls to other systems' functions fail as in PostgreSQL (42883) and name the function as typed, with the argument
  types PostgreSQL prints;
* ``mz_catalog.mz_functions`` lists none of them.
Skipped when the PostgreSQL binaries are absent.
"""

from __future__ import annotations

import asyncio
from typing import Iterator

import psycopg
import pytest
from sqlglot.parsers.postgres import PostgresParser

from steadystate import errors
from steadystate.sql.dialect import TEMPLATE_FUNCTIONS, SteadyParser
from steadystate.sql.postgres_names import FUNCTION_NAMES, KEYWORD_CALLS, NOT_POSTGRESQL_PARSERS
from steadystate.testing import memory_environment

OTHER_SYSTEMS = [
    "SELECT group_concat(x) FROM (VALUES ('a'), ('b')) AS t(x)",
    "SELECT ifnull(1, 2)",
    "SELECT nvl(NULL, 'a')",
    "SELECT len('abc')",
    "SELECT instr('abc', 'b')",
    "SELECT ucase('a')",
    "SELECT log2(8)",
    "SELECT array_size(ARRAY[1, 2])",
    "SELECT explode(ARRAY[1])",
    "SELECT json_extract('{\"a\": 1}', '$.a')",
    "SELECT datediff('day', DATE '2020-01-01', DATE '2020-01-02')",
    "SELECT truncate(1.5)",
    "SELECT count_if(x) FROM (VALUES (true)) AS t(x)",
]


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def pg_proc(postgres: psycopg.Connection) -> frozenset[str]:
    return frozenset(row[0] for row in postgres.execute("SELECT DISTINCT proname FROM pg_proc").fetchall())


def test_the_dialect_knows_only_postgresqls_function_names(pg_proc: frozenset[str]) -> None:
    own = {"jsonb_agg", "every"}  # the dialect's own aggregate nodes
    assert own <= pg_proc
    kept = {name.lower() for name in SteadyParser.FUNCTIONS} - own
    assert kept <= FUNCTION_NAMES | KEYWORD_CALLS
    assert FUNCTION_NAMES <= pg_proc, sorted(FUNCTION_NAMES - pg_proc)
    assert not KEYWORD_CALLS & pg_proc, sorted(KEYWORD_CALLS & pg_proc)  # constructs, not functions
    dropped = {name.lower() for name in PostgresParser.FUNCTIONS} - kept - {n.lower() for n in TEMPLATE_FUNCTIONS}
    assert not dropped & pg_proc, f"PostgreSQL has these: {sorted(dropped & pg_proc)}"
    assert not {name.lower() for name in NOT_POSTGRESQL_PARSERS} & pg_proc
    assert {name.lower() for name in PostgresParser.FUNCTIONS} & pg_proc <= kept | {n.lower() for n in TEMPLATE_FUNCTIONS}


@pytest.mark.parametrize("sql", OTHER_SYSTEMS)
def test_other_systems_functions_fail_as_in_postgresql_naming_what_was_typed(
    postgres: psycopg.Connection, sql: str
) -> None:
    with pytest.raises(psycopg.Error) as theirs:
        postgres.execute(sql)  # type: ignore[arg-type]
    assert theirs.value.sqlstate == "42883"
    typed = sql.split("(", 1)[0].split()[-1]

    async def main() -> None:
        async with memory_environment() as env:
            with pytest.raises(errors.SteadyError) as ours:
                await env.query(sql)
            assert ours.value.sqlstate == "42883", ours.value
            assert ours.value.message.startswith(f"function {typed}("), ours.value.message
            assert ours.value.message == theirs.value.diag.message_primary
            listed = await env.query(f"SELECT count(*) FROM mz_catalog.mz_functions WHERE name = '{typed}'")
            assert listed == [(0,)]
    asyncio.run(main())
