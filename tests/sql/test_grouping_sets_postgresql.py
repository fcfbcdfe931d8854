"""GROUPING SETS, ROLLUP and CUBE (sql/grouping_sets.py) against PostgreSQL itself: on generated rows, each query
of the corpus is answered by a SELECT and kept by a materialized view in the in-memory environment while write
batches run; after each batch both equal PostgreSQL's answer on the same rows.  Skipped when the PostgreSQL
binaries are absent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.errors import SteadyError
from steadystate.testing import memory_environment

CORPUS = [
    "SELECT a, b, sum(c) AS s, count(*) AS n FROM g GROUP BY ROLLUP (a, b)",
    "SELECT a, b, sum(c) AS s, grouping(a, b) AS gr FROM g GROUP BY CUBE (a, b)",
    "SELECT a, b, max(c) AS m FROM g GROUP BY GROUPING SETS ((a, b), (a), ())",
    "SELECT a, b, count(c) AS n FROM g GROUP BY a, ROLLUP (b)",
    "SELECT a, b, c, count(*) AS n FROM g GROUP BY GROUPING SETS (a, ROLLUP (b, c))",
    "SELECT a, count(*) AS n FROM g GROUP BY GROUPING SETS ((a), (a))",
    "SELECT a + 1 AS a1, sum(b) AS s FROM g GROUP BY ROLLUP (a + 1) HAVING sum(b) > 1 OR a + 1 IS NULL",
    "SELECT grouping(a) AS gr, count(*) AS n FROM g GROUP BY ROLLUP (a)",
    "SELECT a, sum(a) AS sa, count(DISTINCT b) AS db FROM g GROUP BY CUBE (a)",
    "SELECT DISTINCT b FROM g GROUP BY GROUPING SETS ((a, b), (b))",
    "SELECT 1 AS one FROM g GROUP BY ROLLUP (a)",
    "SELECT count(*) AS n, 1 AS one FROM g GROUP BY ()",
    "SELECT 1 AS one FROM g GROUP BY ()",
    "SELECT a, count(*) AS n FROM g GROUP BY a, ()",
]

VALUE = st.one_of(st.none(), st.integers(0, 2))
ROWS = st.lists(st.tuples(VALUE, VALUE, VALUE), max_size=6)


def _norm(rows: Any) -> Counter:
    return Counter(tuple(int(v) if isinstance(v, Decimal) else v for v in row) for row in rows)


def _values(rows: list[tuple]) -> str:
    return ", ".join("(" + ", ".join("NULL" if v is None else str(v) for v in row) + ")" for row in rows)


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS gsets CASCADE")
        conn.execute("CREATE SCHEMA gsets")
        conn.execute("SET search_path TO gsets")
        conn.execute("CREATE TABLE g (a int, b int, c int)")
        yield conn


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(st.tuples(ROWS, st.integers(0, 2)), min_size=1, max_size=3))
def test_grouping_sets_answer_and_stay_as_postgresql(postgres: psycopg.Connection,
                                                      batches: list[tuple[list[tuple], int]]) -> None:
    postgres.execute("DELETE FROM g")

    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE g (a int, b int, c int)")
            for number, query in enumerate(CORPUS):
                await env.execute(f"CREATE MATERIALIZED VIEW m{number} AS {query}")
            for rows, delete_a in [([], 0), *batches]:
                writes = ([f"INSERT INTO g VALUES {_values(rows)}"] if rows else []) + [f"DELETE FROM g WHERE a = {delete_a}"]
                for write in writes:
                    await env.execute(write)
                    postgres.execute(write)  # type: ignore[arg-type]
                for number, query in enumerate(CORPUS):
                    want = _norm(postgres.execute(query).fetchall())  # type: ignore[arg-type]
                    assert _norm(await env.query(query)) == want, query
                    assert _norm(await env.query(f"SELECT * FROM m{number}")) == want, f"maintained: {query}"

    asyncio.run(main())


def test_order_by_and_limit_apply_to_the_whole_result(postgres: psycopg.Connection) -> None:
    postgres.execute("DELETE FROM g")
    postgres.execute("INSERT INTO g VALUES (1, 1, 1), (1, 2, 2), (2, 1, 3)")
    query = "SELECT a, b, sum(c) AS s FROM g GROUP BY ROLLUP (a, b) ORDER BY a NULLS FIRST, b NULLS FIRST LIMIT 4"

    async def main() -> list[tuple]:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE g (a int, b int, c int)")
            await env.execute("INSERT INTO g VALUES (1, 1, 1), (1, 2, 2), (2, 1, 3)")
            rows = await env.query(query)
            with pytest.raises(SteadyError) as caught:
                await env.query("SELECT a, row_number() OVER () FROM g GROUP BY ROLLUP (a)")
            assert caught.value.sqlstate == "0A000"
            return rows

    assert [tuple(int(v) if v is not None else None for v in r) for r in asyncio.run(main())] == \
        [tuple(int(v) if v is not None else None for v in r) for r in postgres.execute(query).fetchall()]
