"""NaN (float and numeric) as PostgreSQL has it, in queries and in maintained results, against PostgreSQL itself.

PostgreSQL's rule: NaN equals NaN and sorts after every other value.  Python's says NaN is unequal to itself (and
two NaN objects hash apart), which made rows holding a NaN split into several groups, miss ``WHERE x = 'NaN'``, and
never retract from a maintained result (a DELETE left phantom rows).  Every NaN is now the one canonical object
(repr/numeric.NAN, math.nan; the row codec hands it back) and comparisons and sort keys follow PostgreSQL.
Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Iterator

import psycopg
import pytest

from steadystate.testing import memory_environment

QUERIES = [
    "SELECT f, count(*) AS c FROM t GROUP BY f",
    "SELECT DISTINCT n FROM t",
    "SELECT f, n FROM t WHERE f = 'NaN' OR n = 'NaN'",
    "SELECT count(*) AS c FROM t WHERE f > 1",
    "SELECT count(*) AS c FROM t WHERE n < 'NaN'",
    "SELECT count(DISTINCT f) AS c, count(DISTINCT n) AS d FROM t",
    "SELECT a.f FROM t AS a JOIN t AS b ON a.f = b.f",
    "SELECT f FROM t WHERE f IN (1, 'NaN')",
    "SELECT greatest(f, 2) AS g, least(n, 2) AS l FROM t",
]
ORDERED = [
    "SELECT f FROM t ORDER BY f",
    "SELECT n FROM t ORDER BY n DESC",
    "SELECT f FROM t ORDER BY f DESC LIMIT 2",
    "SELECT n FROM t ORDER BY n LIMIT 3",
]
ROWS = "('NaN', 'NaN'), ('NaN', 'NaN'), (1, 1), ('Infinity', 2), (-1, -1), (NULL, NULL)"


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS nan CASCADE")
        conn.execute("CREATE SCHEMA nan")
        conn.execute("SET search_path TO nan")
        conn.execute("CREATE TABLE t (f float8, n numeric)")
        yield conn


def _normal(rows: list[tuple]) -> Counter:
    return Counter(tuple("NaN" if v != v else v for v in row) for row in rows)


def test_nan_in_queries_and_maintained_views_answers_as_postgresql(postgres: psycopg.Connection) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE t (f float8, n numeric)")
            for i, query in enumerate(QUERIES):
                await env.execute(f"CREATE VIEW v{i} AS {query}")
                await env.execute(f"CREATE DEFAULT INDEX ON v{i}")
            for step in (f"INSERT INTO t VALUES {ROWS}", "DELETE FROM t WHERE n = 'NaN'",
                         "INSERT INTO t VALUES ('NaN', 3)", "UPDATE t SET n = 'NaN' WHERE f = 'NaN'",
                         "DELETE FROM t"):
                postgres.execute(step)  # type: ignore[arg-type]
                await env.execute(step)
                for i, query in enumerate(QUERIES):
                    want = _normal(postgres.execute(query).fetchall())  # type: ignore[arg-type]
                    assert _normal(await env.query(f"SELECT * FROM v{i}")) == want, (step, query)
                    assert _normal(await env.query(query)) == want, (step, query)
                if step.startswith("INSERT"):
                    for query in ORDERED:
                        want_rows = [tuple("NaN" if v != v else v for v in r)
                                     for r in postgres.execute(query).fetchall()]  # type: ignore[arg-type]
                        got = [tuple("NaN" if v != v else v for v in r) for r in await env.query(query)]
                        assert got == want_rows, query
    asyncio.run(main())


def test_nan_read_back_from_a_replica_is_the_canonical_nan() -> None:
    """``INSERT ... SELECT`` takes its rows from a peek (Arrow columns from the replica): a NaN there must still be
    the one NaN, or the coordinator's copy of the table would miss it in ``DELETE ... WHERE f = 'NaN'``."""
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE src (f float8)")
            await env.execute("CREATE TABLE dst (f float8)")
            await env.execute("INSERT INTO src VALUES ('NaN'), ('NaN'), (1)")
            await env.execute("INSERT INTO dst SELECT f FROM src")
            await env.execute("DELETE FROM dst WHERE f = 'NaN'")
            assert await env.query("SELECT f FROM dst") == [(1.0,)]
    asyncio.run(main())
