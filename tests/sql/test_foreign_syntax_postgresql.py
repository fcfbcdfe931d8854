"""Other systems' syntax is refused as PostgreSQL refuses it, and PostgreSQL's forms sqlglot shares with them
answer as PostgreSQL answers (checked against the server).

sqlglot reads every dialect's syntax; the planner used to take some of it and ignore a part: ``SELECT * EXCLUDE
(a)`` returned ``a``, ``PIVOT (...)`` returned the table unpivoted, ``VALUES ... LIMIT 1`` every row, ``x BETWEEN
SYMMETRIC 3 AND 0`` the non-symmetric answer, ``LIMIT 1, 2`` MySQL's meaning.  Skipped when the PostgreSQL
binaries are absent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Iterator

import psycopg
import pytest

from steadystate import errors
from steadystate.testing import memory_environment

T = "(SELECT 1 AS a, 2 AS b UNION ALL SELECT 3, 4) AS t"

ANSWERED = [
    "SELECT 1 BETWEEN SYMMETRIC 3 AND 0, 1 BETWEEN 3 AND 0, 5 NOT BETWEEN SYMMETRIC 6 AND 1",
    "SELECT 2 BETWEEN SYMMETRIC NULL AND 3, 2 BETWEEN SYMMETRIC 1 AND NULL, 9 BETWEEN SYMMETRIC NULL AND 3",
    f"SELECT a FROM {T} WHERE b BETWEEN SYMMETRIC 5 AND 3",
    "VALUES (3), (1), (2) LIMIT 1",
    "VALUES (3), (1), (2) ORDER BY 1 LIMIT 2",
    "VALUES (3, 'c'), (1, 'a'), (2, 'b') ORDER BY column1 DESC OFFSET 1",
    "SELECT (INTERVAL '1' DAY + INTERVAL '2 hours')::text",
    "SELECT 1 IS NOT DISTINCT FROM 1, NULL IS DISTINCT FROM 1",
]

REFUSED = [
    f"SELECT * EXCLUDE (a) FROM {T}",
    f"SELECT * EXCEPT (a) FROM {T}",
    f"SELECT * REPLACE (1 AS a) FROM {T}",
    f"SELECT a FROM {T} PIVOT (count(*) FOR a IN (1))",
    f"SELECT a FROM {T} LIMIT 1, 2",
    "SELECT INTERVAL 1 DAY",
    "SELECT 1 <=> 2",
    "SELECT CAST(1 AS INT64)",
    "SELECT CAST(1 AS TINYINT)",
    "SELECT 1::datetime",
]


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        yield conn


def test_shared_forms_answer_as_postgresql(postgres: psycopg.Connection) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            for query in ANSWERED:
                want = postgres.execute(query).fetchall()  # type: ignore[arg-type]
                got = await env.query(query)
                assert Counter(map(str, got)) == Counter(map(str, want)), query
                if "ORDER BY" in query:
                    assert [str(r) for r in got] == [str(r) for r in want], query
    asyncio.run(main())


@pytest.mark.parametrize("sql", REFUSED)
def test_other_systems_syntax_is_refused_as_postgresql_refuses_it(postgres: psycopg.Connection, sql: str) -> None:
    with pytest.raises(psycopg.Error) as theirs:
        postgres.execute(sql)  # type: ignore[arg-type]

    async def main() -> None:
        async with memory_environment() as env:
            with pytest.raises(errors.SteadyError) as ours:
                await env.query(sql)
            # the same class of error (42: syntax or access rule); ``<=>`` is a syntax error here (no such operator
            # token), an unknown operator (42883) there
            assert ours.value.sqlstate[:2] == theirs.value.sqlstate[:2] == "42", (ours.value, theirs.value)
            if "<=>" not in sql:
                assert ours.value.sqlstate == theirs.value.sqlstate, (ours.value, theirs.value)
    asyncio.run(main())
