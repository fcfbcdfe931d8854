"""Row constructor comparisons against PostgreSQL itself: every pair of rows over {NULL, 1, 2} of one to three
elements, compared by each operator, answers as PostgreSQL answers (NULLs included); ``IN`` with rows; a join on
``(x.a, x.b) = (y.b, y.a)`` and a filter ``(a, b) > (1, 1)`` maintained through writes; unequal lengths (42601)
and the forms that are refused (0A000).  Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Iterator

import psycopg
import pytest

from steadystate import errors
from steadystate.testing import memory_environment

VALUES = (None, 1, 2)
ROWS = [(i, *values) for i, values in enumerate(itertools.product(VALUES, repeat=6))]
OPERATORS = ["=", "<>", "<", "<=", ">", ">=", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"]
CREATE = "CREATE TABLE pairs (id int, a1 int, a2 int, a3 int, b1 int, b2 int, b3 int)"


def _insert(rows: list[tuple]) -> str:
    shown = ", ".join("(" + ", ".join("NULL" if v is None else str(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO pairs VALUES {shown}"


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS pairs")
        conn.execute(CREATE)
        conn.execute(_insert(ROWS))  # type: ignore[arg-type]
        yield conn
        conn.execute("DROP TABLE pairs")


def test_every_row_comparison_answers_as_postgresql(postgres: psycopg.Connection) -> None:
    queries = []
    for n in (1, 2, 3):
        left = ", ".join(f"a{i}" for i in range(1, n + 1))
        right = ", ".join(f"b{i}" for i in range(1, n + 1))
        for op in OPERATORS:
            queries.append(f"SELECT id, ROW({left}) {op} ROW({right}) FROM pairs" if n == 1 else
                           f"SELECT id, ({left}) {op} ({right}) FROM pairs")
        queries.append(f"SELECT id FROM pairs WHERE ({left}, 0) NOT IN (({right}, 0), (1, {right}))" if n < 3 else
                       f"SELECT id FROM pairs WHERE ({left}) IN (({right}), (1, 2, NULL))")

    async def main() -> None:
        async with memory_environment() as env:
            await env.execute(CREATE)
            await env.execute(_insert(ROWS))
            for query in queries:
                want = postgres.execute(query).fetchall()  # type: ignore[arg-type]
                assert Counter(await env.query(query)) == Counter(want), query
    asyncio.run(main())


def test_row_comparisons_maintained_through_writes(postgres: psycopg.Connection) -> None:
    views = {
        "joined": "SELECT x.id, y.id AS other FROM pairs AS x JOIN pairs AS y ON (x.a1, x.a2) = (y.b2, y.b1) "
                  "WHERE x.id < 40 AND y.id < 40",
        "after": "SELECT id, a1, a2 FROM pairs WHERE (a1, a2) > (1, 1)",
    }
    changes = ["DELETE FROM pairs WHERE a1 = 2 AND b2 = 1", "UPDATE pairs SET a2 = 2 WHERE a2 IS NULL AND id % 3 = 0",
               _insert([(1000, 2, 2, None, 1, 2, None), (1001, None, 1, 1, 1, None, 1)])]

    async def main() -> None:
        async with memory_environment() as env:
            await env.execute(CREATE)
            await env.execute(_insert(ROWS))
            for name, query in views.items():
                await env.execute(f"CREATE MATERIALIZED VIEW {name} AS {query}")
            try:
                for change in changes:
                    postgres.execute(change)  # type: ignore[arg-type]
                    await env.execute(change)
                    for name, query in views.items():
                        want = postgres.execute(query).fetchall()  # type: ignore[arg-type]
                        assert Counter(await env.query(f"SELECT * FROM {name}")) == Counter(want), (change, name)
            finally:
                postgres.execute("DELETE FROM pairs")
                postgres.execute(_insert(ROWS))  # type: ignore[arg-type]
    asyncio.run(main())


@pytest.mark.parametrize("sql, error", [
    ("SELECT (1, 2) = (1, 2, 3)", errors.SyntaxError_),
    ("SELECT (1, 2) < (1)", errors.FeatureNotSupported),
    ("SELECT ROW(1, 2)", errors.FeatureNotSupported),
    ("SELECT (1, 2) IN (1, 2)", errors.FeatureNotSupported),
])
def test_row_forms_refused(sql: str, error: type) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            with pytest.raises(error) as info:
                await env.query(sql)
            assert info.value.sqlstate == ("42601" if error is errors.SyntaxError_ else "0A000")
    asyncio.run(main())


def test_update_assigns_a_row_column_by_column(postgres: psycopg.Connection) -> None:
    """``SET (a, b) = (b, a)`` is the same syntax as a comparison but an assignment: both read the old row."""
    statements = ["CREATE TABLE swap (a int, b int, c int)", "INSERT INTO swap VALUES (1, 2, 3), (4, 5, 6)",
                  "UPDATE swap SET (a, b) = (b, a), c = c * 10 WHERE (a, b) < (4, 5)",
                  "UPDATE swap SET (c) = ROW(a + b) WHERE a = 4"]
    postgres.execute("DROP TABLE IF EXISTS swap")
    for sql in statements:
        postgres.execute(sql)  # type: ignore[arg-type]
    want = postgres.execute("SELECT * FROM swap").fetchall()
    postgres.execute("DROP TABLE swap")

    async def main() -> None:
        async with memory_environment() as env:
            for sql in statements:
                await env.execute(sql)
            assert Counter(await env.query("SELECT * FROM swap")) == Counter(want)
            with pytest.raises(errors.FeatureNotSupported):
                await env.execute("UPDATE swap SET (a, b) = (SELECT 1, 2)")
    asyncio.run(main())
