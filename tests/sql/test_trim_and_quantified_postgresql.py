"""``trim`` with characters and quantified comparisons with a subquery, against the PostgreSQL server.

``trim(both 'x' from s)``, ``btrim(s, chars)``, ``ltrim(s, chars)`` and ``rtrim(s, chars)`` were refused (0A000);
``x = ANY (subquery)`` failed saying an array was needed and ``x <> ALL (subquery)`` was refused.  Both answer as
PostgreSQL does now, NULLs included (``<> ALL`` over a subquery holding NULL is NULL, so no row); the other
operators with a subquery are refused with a hint (never answered differently).  Skipped without PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Iterator

import psycopg
import pytest

from steadystate.testing import memory_environment

SETUP = ["CREATE TABLE tq_a (k int, v text)",
         "INSERT INTO tq_a VALUES (1, 'xxhixx'), (2, 'yxhiyx'), (NULL, 'hi'), (3, NULL), (2, '')",
         "CREATE TABLE tq_b (k int)",
         "INSERT INTO tq_b VALUES (1), (2), (2), (NULL)"]
QUERIES = [
    "SELECT v, trim(both 'xy' from v), trim(leading 'x' from v), trim(trailing 'x' from v), trim('x' from v) "
    "FROM tq_a",
    "SELECT v, btrim(v, 'xy'), ltrim(v, 'x'), rtrim(v, 'yx'), btrim(v, ''), btrim(v, NULL) FROM tq_a",
    "SELECT trim(both from '  a  '), trim('  a  '), ltrim('  a'), rtrim('a  ')",
    "SELECT k FROM tq_a WHERE k = ANY (SELECT k FROM tq_b)",
    "SELECT k FROM tq_a WHERE k <> ALL (SELECT k FROM tq_b)",
    "SELECT k FROM tq_a WHERE k <> ALL (SELECT k FROM tq_b WHERE k IS NOT NULL)",
    "SELECT k FROM tq_a WHERE k = ANY (SELECT k FROM tq_b UNION SELECT 3)",
    "SELECT k FROM tq_a WHERE NOT (k = ANY (SELECT k FROM tq_b WHERE k IS NOT NULL))",
]


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS tq_a, tq_b")
        for statement in SETUP:
            conn.execute(statement)  # type: ignore[arg-type]
        yield conn


def test_trim_with_characters_and_any_all_subqueries_answer_as_postgresql(postgres: psycopg.Connection) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            for statement in SETUP:
                await env.execute(statement)
            for query in QUERIES:
                want = postgres.execute(query).fetchall()  # type: ignore[arg-type]
                assert Counter(await env.query(query)) == Counter(want), query
            # a view maintains the subquery forms through writes
            await env.execute("CREATE VIEW tq_v AS SELECT k FROM tq_a WHERE k <> ALL (SELECT k FROM tq_b "
                              "WHERE k IS NOT NULL)")
            await env.execute("CREATE DEFAULT INDEX ON tq_v")
            for write in ("DELETE FROM tq_b WHERE k = 1", "INSERT INTO tq_a VALUES (5, 'z')"):
                postgres.execute(write)  # type: ignore[arg-type]
                await env.execute(write)
                want = postgres.execute("SELECT k FROM tq_a WHERE k <> ALL (SELECT k FROM tq_b "
                                        "WHERE k IS NOT NULL)").fetchall()
                assert Counter(await env.query("SELECT * FROM tq_v")) == Counter(want), write
            # every other comparison too (tests/differential/test_quantified_postgres.py covers them all)
            query = "SELECT k FROM tq_a WHERE k > ANY (SELECT k FROM tq_b)"
            assert Counter(await env.query(query)) == Counter(postgres.execute(query).fetchall())  # type: ignore[arg-type]
    asyncio.run(main())
