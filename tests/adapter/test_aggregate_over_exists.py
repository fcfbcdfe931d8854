"""An aggregate over a join with an EXISTS subquery is maintained (it failed to render, so reads hung).

``EXISTS (SELECT 1 FROM u WHERE ...)`` decorrelates to a join with an input of no columns.  The renderer projects a
reduce's join inputs onto the columns it reads (``render.columnar.pruned_join_inputs``) and kept column 0 of every
input, which that input does not have: the dataflow could not be rendered, a materialized view's reads waited until
the statement timeout and an index's reads failed (found by tests/differential/test_generated.py).  Checked here as
a materialized view, as an indexed view and as an ad hoc SELECT, against DuckDB on the same rows, before and after
writes that make the EXISTS true and false.
"""

from __future__ import annotations

import asyncio

import duckdb
import pytest

from steadystate.testing.memory import memory_environment

QUERIES = [
    "SELECT max(t0.s) AS c0 FROM t0 WHERE EXISTS (SELECT 1 FROM t1 AS u WHERE u.k > 1)",
    "SELECT t0.k AS c0, count(*) AS n FROM t0 WHERE EXISTS (SELECT 1 FROM t1 AS u WHERE u.k > 1) GROUP BY t0.k",
    "SELECT sum(t0.j) AS c0 FROM t0, t1 WHERE t0.k = t1.k AND EXISTS (SELECT 1 FROM t0 AS u WHERE u.j > 0)",
]
SETUP = [
    "CREATE TABLE t0 (k int, j int, s text)",
    "CREATE TABLE t1 (k int, j int)",
    "INSERT INTO t0 VALUES (NULL, NULL, NULL), (1, NULL, 'b'), (0, 2, 'a'), (0, 2, 'a'), (3, 0, 'ab')",
    "INSERT INTO t1 VALUES (NULL, 2), (1, 2), (3, 1)",
]
WRITES = ["DELETE FROM t1 WHERE k = 3", "INSERT INTO t1 VALUES (5, 0)", "UPDATE t0 SET j = -1"]


@pytest.mark.parametrize("maintained", ["materialized", "index"])
@pytest.mark.parametrize("query", QUERIES)
def test_aggregate_over_exists_is_maintained_like_duckdb(query: str, maintained: str) -> None:
    duck = duckdb.connect()

    async def scenario() -> None:
        async with memory_environment(statement_timeout_s=20) as env:
            for sql in SETUP:
                await env.execute(sql)
                duck.execute(sql)
            if maintained == "materialized":
                await env.execute(f"CREATE MATERIALIZED VIEW v AS {query}")
            else:
                await env.execute(f"CREATE VIEW v AS {query}")
                await env.execute("CREATE INDEX v_idx ON v (c0)")
            for write in [None, *WRITES]:
                if write is not None:
                    await env.execute(write)
                    duck.execute(write)
                expected = sorted(duck.execute(query).fetchall(), key=repr)
                assert sorted(await env.query("SELECT * FROM v"), key=repr) == expected, write
                assert sorted(await env.query(query), key=repr) == expected, write

    asyncio.run(scenario())
