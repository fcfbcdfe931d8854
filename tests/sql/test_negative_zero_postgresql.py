"""numeric has no negative zero: ``-0.0`` and a numeric result that rounds to zero from below are 0, so a float
made from them is ``0``, never ``-0`` (PostgreSQL's text for float -0.0).  The same statements against the
PostgreSQL server: the simple-INSERT fast path, an INSERT planned in full, casts.  A float's own negative zero
(``-0::float8``... PostgreSQL prints ``-0``) stays.  Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
from typing import Iterator

import psycopg
import pytest

from steadystate.testing import memory_environment

WRITES = [
    "INSERT INTO nz VALUES (-0.0, -0.0, 1)",  # the fast path (sql/fastpath.py)
    "INSERT INTO nz SELECT -0.0, -0.0, 2",  # planned
    "INSERT INTO nz VALUES (0.0 * -1, round(-0.4), 3), (-(0.0::float8), -0.000, 4)",
]
READ = "SELECT f::text, n::text, k FROM nz ORDER BY k"
QUERIES = [
    "SELECT (-0.0)::float8::text, (0.0 * -1)::float8::text, round(-0.4)::float8::text, trunc(-0.5)::float4::text",
    "SELECT (-0.0::float8)::text, '-0'::float8::text, (-0.0)::text, (0.0 * -1)::text",
]


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        yield conn


def test_numeric_zero_is_never_negative_as_in_postgresql(postgres: psycopg.Connection) -> None:
    postgres.execute("DROP TABLE IF EXISTS nz")
    postgres.execute("CREATE TABLE nz (f float8, n numeric, k int)")
    for write in WRITES:
        postgres.execute(write)  # type: ignore[arg-type]

    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE nz (f float8, n numeric, k int)")
            for write in WRITES:
                await env.execute(write)
            assert await env.query(READ) == postgres.execute(READ).fetchall()
            for query in QUERIES:
                assert await env.query(query) == postgres.execute(query).fetchall(), query  # type: ignore[arg-type]
    asyncio.run(main())
