"""The recursive query corpus (tests/sql/recursion_support.py) against PostgreSQL itself: on generated graphs and
forests, every WITH RECURSIVE query answers what PostgreSQL answers to the same text (UNION deduplicating across
iterations, UNION ALL keeping one row per derivation), and every WITH MUTUALLY RECURSIVE query what PostgreSQL
answers to its equivalent.  Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Awaitable, Callable, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from steadystate.testing import MemoryEnvironment, memory_environment

from recursion_support import DATA, MUTUALLY, RECURSIVE, TABLES, create_tables, inserts


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS recursion CASCADE")
        conn.execute("CREATE SCHEMA recursion")
        conn.execute("SET search_path TO recursion")
        for statement in create_tables():
            conn.execute(statement)  # type: ignore[arg-type]
        yield conn


def _with_both(postgres: psycopg.Connection, data: dict[str, list[tuple]],
               body: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    """Load ``data`` into PostgreSQL's tables and into a fresh in-memory environment's, then run ``body``."""
    for name in TABLES:
        postgres.execute(f"TRUNCATE {name}")  # type: ignore[arg-type]
    for statement in inserts(data):
        postgres.execute(statement)  # type: ignore[arg-type]

    async def main() -> None:
        async with memory_environment() as env:
            for statement in create_tables() + inserts(data):
                await env.execute(statement)
            await body(env)

    asyncio.run(main())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DATA)
def test_recursive_queries_answer_as_postgresql(postgres: psycopg.Connection, data: dict[str, list[tuple]]) -> None:
    async def body(env: MemoryEnvironment) -> None:
        for query, reference in [(q, q) for q in RECURSIVE] + MUTUALLY:
            want = Counter(postgres.execute(reference).fetchall())  # type: ignore[arg-type]
            got = Counter(await env.query(query))
            assert got == want, f"{query}\n got {got}\n want {want}\n data {data}"

    _with_both(postgres, data, body)


# WITH RECURSIVE items may read later items (PostgreSQL orders them); DuckDB refuses these, so only PostgreSQL checks
FORWARD = [
    "WITH RECURSIVE r(v) AS (SELECT s.v FROM s UNION SELECT e.b FROM r JOIN edges AS e ON r.v = e.a),"
    " s(v) AS (SELECT min(a) FROM edges) SELECT v FROM r",
    "WITH RECURSIVE a(n) AS (SELECT n FROM b), b(n) AS (SELECT count(*) FROM c), c(x) AS (SELECT a FROM edges)"
    " SELECT n FROM a",
]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DATA)
def test_with_recursive_items_may_read_later_items(postgres: psycopg.Connection, data: dict[str, list[tuple]]) -> None:
    async def body(env: MemoryEnvironment) -> None:
        for query in FORWARD:
            want = Counter(postgres.execute(query).fetchall())  # type: ignore[arg-type]
            assert Counter(await env.query(query)) == want, query
        cycle = "WITH RECURSIVE a(n) AS (SELECT n FROM b), b(n) AS (SELECT n FROM a) SELECT n FROM a"
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            postgres.execute(cycle)  # type: ignore[arg-type]
        with pytest.raises(Exception) as caught:
            await env.query(cycle)
        assert getattr(caught.value, "sqlstate", None) == "0A000"

    _with_both(postgres, data, body)
