"""Table functions maintained through the whole stack, in the in-memory environment: a correlated generate_series
and a select-list unnest over a table are kept as an indexed view and as a materialized view while generated
INSERTs and DELETEs run, and after each write both equal DuckDB's answer to the same query on the same rows;
EXPLAIN shows the FlatMap.  (tests/differential/test_arrays_postgres.py compares the same shapes, and arrays, with
PostgreSQL.)
"""

from __future__ import annotations

import asyncio
from collections import Counter

import duckdb
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.testing import memory_environment

VIEWS = {  # steadystate's query, DuckDB's spelling of the same query
    "series": ("SELECT k, s FROM t, generate_series(1, n) AS g(s)",
               "SELECT k, s FROM t, generate_series(1, n) AS g(s)"),
    "ordinal": ("SELECT k, s, i FROM t, generate_series(n, 1, -1) WITH ORDINALITY AS g(s, i)",
                "SELECT k, s, row_number() OVER (PARTITION BY rowid ORDER BY s DESC) AS i "
                "FROM t, generate_series(n, 1, -1) AS g(s)"),
    "listed": ("SELECT k, unnest(ARRAY[n, n + 1]) AS x FROM t",
               "SELECT k, unnest([n, n + 1]) AS x FROM t"),
}

VALUE = st.integers(0, 3)
WRITES = st.lists(st.one_of(
    st.lists(st.tuples(VALUE, VALUE), min_size=1, max_size=3).map(
        lambda rows: "INSERT INTO t VALUES " + ", ".join(f"({k}, {n})" for k, n in rows)),
    VALUE.map(lambda k: f"DELETE FROM t WHERE k = {k}"),
), min_size=2, max_size=6)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=WRITES)
def test_table_functions_stay_right_in_indexes_and_materialized_views(writes: list[str]) -> None:
    async def main() -> None:
        duck = duckdb.connect()
        duck.execute("CREATE TABLE t (k int, n int)")
        async with memory_environment() as env:
            await env.execute("CREATE TABLE t (k int, n int)")
            for name, (ours, _) in VIEWS.items():
                await env.execute(f"CREATE VIEW v_{name} AS {ours}")
                await env.execute(f"CREATE INDEX i_{name} ON v_{name} (k)")
                await env.execute(f"CREATE MATERIALIZED VIEW m_{name} AS {ours}")
            for write in writes:
                await env.execute(write)
                duck.execute(write)
                for name, (_, theirs) in VIEWS.items():
                    want = Counter(duck.execute(theirs).fetchall())
                    for read in (f"SELECT * FROM v_{name}", f"SELECT * FROM m_{name}"):
                        assert Counter(await env.query(read)) == want, f"{read} after {write}"
            plan = [r[0] for r in await env.query("EXPLAIN SELECT k, s FROM t, generate_series(1, n) AS g(s)")]
            assert any(line.strip().startswith("FlatMap generate_series(") for line in plan), plan

    asyncio.run(main())
