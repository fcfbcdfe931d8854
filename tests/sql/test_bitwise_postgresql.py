"""Integer bitwise operators (``&``, ``|``, ``#``, ``~``, ``<<``, ``>>``) against the PostgreSQL server: result types
(the wider integer; a shift keeps its left operand's), shifts past the width (PostgreSQL's C code on x86-64 takes
the count modulo 32 for smallint and integer, 64 for bigint, and wraps), NULLs, and the errors for other types and
for ``~`` of an unknown literal.  They were refused (0A000).  Skipped when the PostgreSQL binaries are absent."""

from __future__ import annotations

import asyncio
from typing import Iterator

import psycopg
import pytest
from hypothesis import given, settings, strategies as st

from steadystate import errors
from steadystate.testing import memory_environment

QUERIES = [
    "SELECT 5 & 3, 5 | 3, 5 # 3, 1 << 2, 8 >> 1, ~5, 5 & NULL, NULL::int << 2",
    "SELECT 1 << 31, 1 << 32, 1 << 33, 1 << -1, -8 >> 1, -1 >> 40",
    "SELECT 1::int8 << 63, 1::int8 << 64, 3::int8 << 62, (-5)::int8 >> 1, 1 << 2::int2",
    "SELECT 1::int2 << 15, 1::int2 << 16, 1::int2 << 20, (-2)::int2 >> 1, pg_typeof(1::int2 << 1)",
    "SELECT 5::int2 & 3, 5::int2 | 3::int8, pg_typeof(5::int2 & 3), pg_typeof(5::int2 & 3::int2), ~5::int2",
    "SELECT '5' & 3, 5 & '3', '6' | '3'::int8",
]
REFUSED = ["SELECT 5.0 & 3", "SELECT 5 << 1.5", "SELECT 1 << 2::int8", "SELECT ~1.5", "SELECT ~'7'",
           "SELECT 'a'::text & 1"]
INTS = {"int2": st.integers(-2 ** 15, 2 ** 15 - 1), "int4": st.integers(-2 ** 31, 2 ** 31 - 1),
        "int8": st.integers(-2 ** 63, 2 ** 63 - 1)}


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        yield conn


def test_bitwise_operators_answer_as_postgresql(postgres: psycopg.Connection) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            for query in QUERIES:
                assert await env.query(query) == postgres.execute(query).fetchall(), query  # type: ignore[arg-type]
            for query in REFUSED:
                with pytest.raises(psycopg.Error) as theirs:
                    postgres.execute(query)  # type: ignore[arg-type]
                with pytest.raises(errors.SteadyError) as ours:
                    await env.query(query)
                assert ours.value.sqlstate == theirs.value.sqlstate, query
    asyncio.run(main())


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(INTS)).flatmap(lambda t: st.tuples(st.just(t), INTS[t], INTS[t],
                                                                   st.integers(-70, 70))))
def test_generated_operands_answer_as_postgresql(postgres: psycopg.Connection,
                                                 case: tuple[str, int, int, int]) -> None:
    typ, a, b, count = case
    query = (f"SELECT ({a})::{typ} & ({b})::{typ}, ({a})::{typ} | ({b})::{typ}, ({a})::{typ} # ({b})::{typ}, "
             f"({a})::{typ} << {count}, ({a})::{typ} >> {count}, ~({a})::{typ}")

    async def main() -> None:
        async with memory_environment() as env:
            assert await env.query(query) == postgres.execute(query).fetchall(), query  # type: ignore[arg-type]
    asyncio.run(main())
