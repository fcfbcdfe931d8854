"""Joins maintained through the whole stack (tests/sql/test_joins.py checks the planner and operators alone):
in the in-memory environment, queries of every join form — a fixed list and generated join trees — are kept as
an indexed view and as a materialized view while generated INSERTs and DELETEs run, and after each write the two
views and the ad hoc SELECT must equal DuckDB's answer on the same rows; EXPLAIN shows the keyed joins.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.testing import MemoryEnvironment, memory_environment

from join_support import COLUMNS, Duck, plan_query
from test_joins import queries

QUERIES = [  # a view's columns need distinct names
    "SELECT t1.k AS k1, a, t2.k AS k2, b, t3.k AS k3, c FROM t1, t2 FULL JOIN t3 ON t2.k = t3.k",
    "SELECT * FROM t1 FULL JOIN t2 USING (k) FULL JOIN t3 USING (k)",
    "SELECT * FROM t1 NATURAL RIGHT JOIN (t2 LEFT JOIN t3 USING (k))",
    "SELECT t1.k AS k1, a, t2.k AS k2, b FROM t1 FULL JOIN t2 ON t1.k IS NOT DISTINCT FROM t2.k",
    "SELECT t1.a, t2.b FROM t1 LEFT JOIN t2 ON t1.k + 1 = t2.k AND t1.a > t2.b",
    "SELECT t1.k AS k1, t2.k AS k2, t3.c FROM t1 CROSS JOIN t2 RIGHT JOIN t3 ON t2.k < t3.k"
    " WHERE t1.k IS DISTINCT FROM t2.k",
]

VALUE = st.one_of(st.none(), st.integers(0, 3))


def _literal(value: int | None) -> str:
    return "NULL" if value is None else str(value)


WRITES = st.lists(st.one_of(
    st.tuples(st.sampled_from(sorted(COLUMNS)), st.lists(st.tuples(VALUE, VALUE), min_size=1, max_size=3)).map(
        lambda w: f"INSERT INTO {w[0]} VALUES " + ", ".join(f"({_literal(a)}, {_literal(b)})" for a, b in w[1])),
    st.tuples(st.sampled_from(sorted(COLUMNS)), VALUE).map(
        lambda w: f"DELETE FROM {w[0]} WHERE k {'IS NULL' if w[1] is None else f'= {w[1]}'}"),
), min_size=3, max_size=8)


async def _check(env: MemoryEnvironment, duck: Duck, read: str, query: str, context: str) -> None:
    got = Counter(await env.query(read))
    want = Counter(duck.conn.execute(query).fetchall())
    assert got == want, f"{context}: {read}\n got {got}\n want {want}"


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(writes=WRITES)
def test_joins_stay_right_in_indexes_and_materialized_views(writes: list[str]) -> None:
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


def test_explain_shows_the_join_keys() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            for name, cols in COLUMNS.items():
                await env.execute(f"CREATE TABLE {name} ({', '.join(f'{c} int' for c in cols)})")
            plans = {}
            for query in ("SELECT * FROM t1 JOIN t2 ON t1.k IS NOT DISTINCT FROM t2.k",
                          "SELECT * FROM t1 FULL JOIN t2 USING (k)", "SELECT * FROM t1 JOIN t2 ON t1.k + 1 = t2.k"):
                plans[query] = "\n".join(row[0] for row in await env.query(f"EXPLAIN {query}"))
        texts = list(plans.values())
        assert "Join on=(is_null(#0) = is_null(#2) AND coalesce(#0, 0) = coalesce(#2, 0))" in texts[0], texts[0]
        assert "Join on=(#0 = #2)" in texts[1] and "coalesce(#0, #2)" in texts[1], texts[1]
        assert "Join on=(add(#0, 1) = #2)" in texts[2], texts[2]

    asyncio.run(main())


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(sql=queries(), writes=WRITES)
def test_generated_join_trees_stay_right_in_views(sql: str, writes: list[str]) -> None:
    """Random join trees (tests/sql/test_joins.py's generator) as an indexed view and a materialized view through
    generated writes (columns renamed ``c0, c1, ...``: a view's names must be distinct)."""
    names = ", ".join(f"c{i}" for i in range(len(plan_query(sql).desc.columns)))
    view_sql = f"SELECT * FROM ({sql}) AS q ({names})"

    async def main() -> None:
        duck = Duck()
        try:
            async with memory_environment() as env:
                for name, cols in COLUMNS.items():
                    await env.execute(f"CREATE TABLE {name} ({', '.join(f'{c} int' for c in cols)})")
                await env.execute(f"CREATE VIEW v AS {view_sql}")
                await env.execute("CREATE DEFAULT INDEX ON v")
                await env.execute(f"CREATE MATERIALIZED VIEW m AS {view_sql}")
                for step, write in enumerate(["", *writes]):
                    if write:
                        await env.execute(write)
                        duck.conn.execute(write)
                    await _check(env, duck, "SELECT * FROM v", sql, f"indexed view after write {step}")
                    await _check(env, duck, "SELECT * FROM m", sql, f"materialized view after write {step}")
                await _check(env, duck, sql, sql, "SELECT")
        finally:
            duck.close()

    asyncio.run(main())
