"""The spellings of LIMIT against PostgreSQL itself: ``FETCH {FIRST|NEXT} [n] {ROW|ROWS} ONLY`` with and without
``OFFSET n ROWS`` (it was ignored: every row came back), ``LIMIT ALL``, in a query, a subquery and a LATERAL
subquery; and the forms that are refused (0A000) where PostgreSQL answers differently than a plain SELECT would:
``WITH TIES``, ``SELECT ... INTO``.  Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Iterator

import psycopg
import pytest

from steadystate import errors
from steadystate.testing import memory_environment

ROWS = "(VALUES (3), (1), (2), (2), (NULL)) AS v(a)"
QUERIES = [
    f"SELECT a FROM {ROWS} ORDER BY a FETCH FIRST ROW ONLY",
    f"SELECT a FROM {ROWS} ORDER BY a FETCH FIRST 2 ROWS ONLY",
    f"SELECT a FROM {ROWS} ORDER BY a DESC OFFSET 1 ROWS FETCH NEXT 2 ROWS ONLY",
    f"SELECT a FROM {ROWS} ORDER BY a OFFSET 2 ROW",
    f"SELECT a FROM {ROWS} ORDER BY a LIMIT ALL",
    f"SELECT a FROM {ROWS} ORDER BY a LIMIT ALL OFFSET 3",
    f"SELECT s.a FROM (SELECT a FROM {ROWS} ORDER BY a FETCH FIRST 3 ROWS ONLY) AS s",
    f"SELECT g.k, x.a FROM (VALUES (1), (2)) AS g(k), LATERAL (SELECT a FROM {ROWS} WHERE a >= g.k ORDER BY a "
    "FETCH FIRST 1 ROW ONLY) AS x",
    "SELECT x FROM (VALUES (3), (1), (2), (NULL) ORDER BY 1 LIMIT 2) AS t(x)",
    "SELECT x FROM (VALUES (3), (1), (2) ORDER BY 1 DESC OFFSET 1) AS t(x) JOIN (VALUES (1), (2)) AS u(y) ON x = y",
    "SELECT count(*) FROM (VALUES (3), (1), (2) LIMIT 2) AS t",
]


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        yield conn


def test_limit_spellings_answer_as_postgresql(postgres: psycopg.Connection) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            for query in QUERIES:
                want = postgres.execute(query).fetchall()  # type: ignore[arg-type]
                got = await env.query(query)
                assert Counter(got) == Counter(want), query
                if "ORDER BY a" in query and "LATERAL" not in query and query.startswith("SELECT a"):
                    assert got == want, query  # the order too
    asyncio.run(main())


def test_insert_from_a_limited_values_or_a_narrower_query(postgres: psycopg.Connection) -> None:
    """``INSERT ... VALUES ... ORDER BY/LIMIT`` inserts only the rows kept, and without a column list a query's
    missing trailing columns take their defaults, as in PostgreSQL (both were refused: a syntax error, 42601)."""
    statements = ["INSERT INTO ins VALUES (5), (4), (6) ORDER BY 1 LIMIT 2", "INSERT INTO ins SELECT 9",
                  "INSERT INTO ins VALUES (7, 1), (8, 2) ORDER BY 1 LIMIT 1 OFFSET 1", "INSERT INTO ins (b) SELECT 3"]
    postgres.execute("DROP TABLE IF EXISTS ins")
    postgres.execute("CREATE TABLE ins (a int, b int DEFAULT 42)")
    for sql in statements:
        postgres.execute(sql)  # type: ignore[arg-type]
    want = postgres.execute("SELECT a, b FROM ins").fetchall()

    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE ins (a int, b int DEFAULT 42)")
            for sql in statements:
                await env.execute(sql)
            assert Counter(await env.query("SELECT a, b FROM ins")) == Counter(want)
            with pytest.raises(errors.SteadyError) as info:
                await env.execute("INSERT INTO ins (a, b) SELECT 1")
            assert info.value.sqlstate == "42601"
    asyncio.run(main())


@pytest.mark.parametrize("sql", [f"SELECT a FROM {ROWS} ORDER BY a FETCH FIRST 1 ROWS WITH TIES",
                                 f"SELECT a INTO new_table FROM {ROWS}"])
def test_limit_forms_that_are_refused(sql: str) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            with pytest.raises(errors.FeatureNotSupported):
                await env.query(sql)
    asyncio.run(main())
