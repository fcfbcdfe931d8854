"""SHOW CREATE, SHOW COLUMNS, SHOW OBJECTS and EXPLAIN's variants in the in-memory environment.

SHOW CREATE's statement is checked by running it: dropped and re-created from its own text, an object has the
same columns (and a view the same rows).  EXPLAIN's variants each show their own plan (DECORRELATED keeps what
the optimizer would fold, PHYSICAL shows the dataflow's imports and exports, AS JSON parses), and what is not
implemented is refused, never answered with another plan.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from steadystate.errors import SteadyError
from steadystate.testing import memory_environment


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_show_create_rebuilds_each_kind_of_object() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute('CREATE TABLE "Weird Name" (k int NOT NULL, "select" numeric(5,2) DEFAULT 1.5, '
                              "t varchar(4))")
            await env.execute("INSERT INTO \"Weird Name\" (k, t) VALUES (1, 'ab'), (2, NULL)")
            await env.execute('CREATE VIEW v (a, b) AS SELECT k, "select" FROM "Weird Name" WHERE k > 1')
            await env.execute('CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM "Weird Name"')
            await env.execute('CREATE INDEX wi ON "Weird Name" (k)')
            before = {name: await env.query(f"SHOW COLUMNS FROM {name}") for name in ('"Weird Name"', "v", "mv")}
            assert before['"Weird Name"'] == [("k", False, "integer", None), ("select", True, "numeric(5,2)", None),
                                              ("t", True, "character varying(4)", None)]
            statements = {}
            for kind, name in (("TABLE", '"Weird Name"'), ("VIEW", "v"), ("MATERIALIZED VIEW", "mv"),
                               ("INDEX", "wi")):
                [(qualified, sql)] = await env.query(f"SHOW CREATE {kind} {name}")
                assert qualified.startswith("materialize.public.")
                statements[kind] = sql
            rows = sorted(await env.query("SELECT * FROM v"))
            await env.execute('DROP TABLE "Weird Name" CASCADE')
            for kind in ("TABLE", "VIEW", "MATERIALIZED VIEW", "INDEX"):
                await env.execute(statements[kind])
            await env.execute("INSERT INTO \"Weird Name\" (k, t) VALUES (1, 'ab'), (2, NULL)")
            for name, columns in before.items():
                assert await env.query(f"SHOW COLUMNS FROM {name}") == columns
            assert sorted(await env.query("SELECT * FROM v")) == rows
            assert await env.query("SELECT * FROM mv") == [(2,)]
            assert [r[0] for r in await env.query("SHOW INDEXES")] == ["wi"]
            [(name, cluster_sql)] = await env.query("SHOW CREATE CLUSTER quickstart")
            assert name == "quickstart" and cluster_sql.startswith("CREATE CLUSTER quickstart (SIZE = ")
            # SHOW OBJECTS: the current schema's, or the named schema's
            assert await env.query("SHOW OBJECTS") == [("Weird Name", "table", None), ("mv", "materialized-view", None),
                                                      ("v", "view", None), ("wi", "index", None)]
            await env.execute("CREATE SCHEMA other")
            await env.execute("CREATE TABLE other.o (x int)")
            assert await env.query("SHOW OBJECTS FROM other") == [("o", "table", None)]

    run(main())


@pytest.mark.parametrize("sql, sqlstate", [
    ("SHOW CREATE VIEW t", "42809"),
    ("SHOW CREATE TABLE nope", "42P01"),
    ("SHOW CREATE INDEX ix", "0A000"),  # an expression key is stored as a plan: not guessed back into SQL
    ("SHOW CREATE SOURCE s", "0A000"),
    ("SHOW CREATE CLUSTER nope", "42704"),
    ("EXPLAIN RAW PLAN FOR SELECT 1", "0A000"),
    ("EXPLAIN DECORRELATED PLAN FOR VIEW v", "0A000"),
    ("EXPLAIN PLAN AS DOT FOR SELECT 1", "0A000"),
    ("EXPLAIN FILTER PUSHDOWN FOR SELECT 1", "0A000"),
])
def test_refusals(sql: str, sqlstate: str) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int); CREATE VIEW v AS SELECT k FROM t; CREATE INDEX ix ON t (k + 1)")
            with pytest.raises(SteadyError) as caught:
                await env.execute(sql)
            assert caught.value.sqlstate == sqlstate, caught.value

    run(main())


def test_explain_variants_each_show_their_own_plan() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int, v int); CREATE INDEX t_k ON t (k)")
            query = "SELECT a.k, sum(b.v) FROM t AS a JOIN t AS b ON a.k = b.k WHERE a.v > 1 + 1 GROUP BY a.k"
            decorrelated = [r[0] for r in await env.query(f"EXPLAIN DECORRELATED PLAN FOR {query}")]
            optimized = [r[0] for r in await env.query(f"EXPLAIN OPTIMIZED PLAN AS TEXT FOR {query}")]
            default = [r[0] for r in await env.query(f"EXPLAIN {query}")]
            assert optimized == default and decorrelated != optimized[: len(decorrelated)]
            assert decorrelated[0] == "Decorrelated Plan for query:"
            physical = [r[0] for r in await env.query(f"EXPLAIN PHYSICAL PLAN FOR {query}")]
            assert any("index import (shared arrangement): materialize.public.t_k" in line for line in physical)
            assert any("(index export)" in line for line in physical)
            document = json.loads((await env.query(f"EXPLAIN OPTIMIZED PLAN AS JSON FOR {query}"))[0][0])
            assert document["plan"]["operator"] == default[1].strip()
            [(text,)] = await env.query(f"EXPLAIN PHYSICAL PLAN AS JSON FOR {query}")
            assert json.loads(text)["index_imports"] == [{"index": "materialize.public.t_k", "on": "materialize.public.t"}]
            timestamp = [r[0] for r in await env.query("EXPLAIN TIMESTAMP FOR SELECT * FROM t")]
            assert any("query timestamp:" in line for line in timestamp)
            assert any(line.startswith("source materialize.public.t") for line in timestamp)
            [(text,)] = await env.query("EXPLAIN TIMESTAMP AS JSON FOR SELECT * FROM t")
            stamp = json.loads(text)
            assert [s["name"] for s in stamp["sources"]] == ["materialize.public.t"]
            assert stamp["sources"][0]["upper"] > stamp["query_timestamp"]

    run(main())
