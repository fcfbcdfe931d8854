"""Window functions and LATERAL through the whole stack (tests/sql/test_windows.py and test_lateral.py check the
planner and operators alone): in the in-memory environment, such queries are kept as an indexed view and as a materialized view while generated
INSERTs and DELETEs run, and after each write the two views and the ad hoc SELECT equal DuckDB's answer on the same
rows; EXPLAIN shows the Window operator.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import HealthCheck, given, settings

from steadystate.testing import MemoryEnvironment, memory_environment

from join_support import COLUMNS, Duck, normalized
from test_joins_environment import WRITES

QUERIES = [
    "SELECT k, a, rank() OVER (PARTITION BY k ORDER BY a) AS r, sum(a) OVER (PARTITION BY k ORDER BY a) AS s FROM t1",
    "SELECT k, a, lag(a) OVER (ORDER BY a, k) AS p, count(*) OVER (ORDER BY a, k ROWS BETWEEN 1 PRECEDING AND"
    " 1 FOLLOWING) AS c FROM t1",
    "SELECT t1.k, b, dense_rank() OVER (PARTITION BY t1.k ORDER BY b DESC) AS d FROM t1 JOIN t2 ON t1.k = t2.k",
    "SELECT k, n FROM (SELECT k, a, row_number() OVER (PARTITION BY k ORDER BY a, k) AS n FROM t1) AS q WHERE n <= 2",
    "SELECT t1.k AS k1, a, l.c FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k ORDER BY c DESC, k LIMIT 2) AS l",
    "SELECT t1.k AS k1, a, l.n, m.c FROM t1 LEFT JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k AND t3.c > t1.a)"
    " AS m ON true, LATERAL (SELECT count(*) AS n FROM t2 WHERE t2.b >= t1.a) AS l",
]


async def _check(env: MemoryEnvironment, duck: Duck, read: str, query: str, context: str) -> None:
    got = normalized(Counter(await env.query(read)))
    want = normalized(Counter(duck.conn.execute(query).fetchall()))
    assert got == want, f"{context}: {read}\n got {got}\n want {want}"


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=WRITES)
def test_windows_stay_right_in_indexes_and_materialized_views(writes: list[str]) -> None:
    async def main() -> None:
        duck = Duck()
        try:
            async with memory_environment() as env:
                for name, cols in COLUMNS.items():
                    await env.execute(f"CREATE TABLE {name} ({', '.join(f'{c} int' for c in cols)})")
                for number, query in enumerate(QUERIES):
                    await env.execute(f"CREATE VIEW v{number} AS {query}")
                    await env.execute(f"CREATE DEFAULT INDEX ON v{number}")
                    await env.execute(f"CREATE MATERIALIZED VIEW m{number} AS {query}")
                for step, write in enumerate(["", *writes]):
                    if write:
                        await env.execute(write)
                        duck.conn.execute(write)
                    for number, query in enumerate(QUERIES):
                        await _check(env, duck, f"SELECT * FROM v{number}", query, f"indexed view after write {step}")
                        await _check(env, duck, f"SELECT * FROM m{number}", query, f"materialized view after {step}")
                        await _check(env, duck, query, query, f"SELECT after write {step}")
        finally:
            duck.close()

    asyncio.run(main())


def test_explain_shows_the_window_operator() -> None:
    async def main() -> str:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE t1 (k int, a int)")
            rows = await env.query("EXPLAIN SELECT k, sum(a) OVER (PARTITION BY k ORDER BY a ROWS 2 PRECEDING) FROM t1")
            return "\n".join(row[0] for row in rows)
    text = asyncio.run(main())
    assert "Window partition_by=[#0] order_by=[#1] functions=[sum(#1) rows between 2 preceding and current row]" \
        in text, text
