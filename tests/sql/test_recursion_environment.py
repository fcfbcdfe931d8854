"""Recursive queries maintained through the whole stack (in the in-memory environment): each query of the corpus
(tests/sql/recursion_support.py) is kept as an indexed view and as a materialized view while generated inserts and
deletes of edges and tree nodes run (deleting an edge must drop what only it made reachable, cycles included), and
after every write both views and the ad hoc SELECT equal DuckDB's recomputation on the same rows."""

from __future__ import annotations

import asyncio
from collections import Counter

import duckdb
from hypothesis import HealthCheck, given, settings

from steadystate.testing import MemoryEnvironment, memory_environment

from recursion_support import MUTUALLY, RECURSIVE, WRITES, create_tables

PAIRS = [(q, q) for q in RECURSIVE] + MUTUALLY


async def _check(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection, read: str, reference: str,
                 context: str) -> None:
    got = Counter(await env.query(read))
    want = Counter(tuple(row) for row in duck.execute(reference).fetchall())
    assert got == want, f"{context}: {read}\n got {got}\n want {want}"


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=WRITES)
def test_recursive_queries_stay_right_in_indexes_and_materialized_views(writes: list[str]) -> None:
    async def main() -> None:
        duck = duckdb.connect(":memory:")
        try:
            async with memory_environment() as env:
                for statement in create_tables():
                    await env.execute(statement)
                    duck.execute(statement)
                for number, (query, _) in enumerate(PAIRS):
                    await env.execute(f"CREATE VIEW v{number} AS {query}")
                    await env.execute(f"CREATE DEFAULT INDEX ON v{number}")
                    await env.execute(f"CREATE MATERIALIZED VIEW m{number} AS {query}")
                for step, write in enumerate(["", *writes]):
                    if write:
                        await env.execute(write)
                        duck.execute(write)
                    for number, (query, reference) in enumerate(PAIRS):
                        await _check(env, duck, f"SELECT * FROM v{number}", reference, f"indexed view after {step}")
                        await _check(env, duck, f"SELECT * FROM m{number}", reference, f"materialized view after {step}")
                    if step % 3 == 0:
                        for query, reference in PAIRS:
                            await _check(env, duck, query, reference, f"SELECT after write {step}")
        finally:
            duck.close()

    asyncio.run(main())
