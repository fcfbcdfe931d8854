"""Views importing an index whose rows are in Arrow runs (more rows than the recent layer holds) match DuckDB.

The index on ``t`` is built from 20000 rows, so its arrangement keeps them in runs; an indexed view and materialized
views over ``t`` then import it (their snapshot read as the runs' columns, ``render.hydration.feed_import_columns``)
— a reduce, a filter, a join with another table and a distinct — and must equal DuckDB's answers after the
snapshot and after writes (through real replica processes and a psycopg client).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb

ROWS = 20000
VIEWS = {
    "imp_reduce": "SELECT k % 10 AS g, count(*) AS n, sum(v) AS total FROM t GROUP BY k % 10",
    "imp_filter": "SELECT k, v, s FROM t WHERE v < 5",
    "imp_join": "SELECT t.k, t.s, d.name FROM t JOIN d ON t.v = d.v",
    "imp_distinct": "SELECT DISTINCT s, f FROM t",
}


def bag(rows: list[tuple[Any, ...]]) -> Counter:
    return Counter(tuple(int(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, (bool, float)) else v
                         for v in row) for row in rows)


def test_views_importing_an_index_in_runs_match_duckdb(shared_env) -> None:  # type: ignore[no-untyped-def]
    duck = duckdb.connect()
    setup = [
        "CREATE TABLE t (k bigint, v bigint, s text, f boolean)",
        "CREATE TABLE d (v bigint, name text)",
        "INSERT INTO t VALUES " + ", ".join(
            f"({i}, {i * 7 % 31}, 'name-{i % 13}', {'true' if i % 3 == 0 else 'false'})" for i in range(ROWS)),
        "INSERT INTO d VALUES " + ", ".join(f"({v}, 'dim-{v}')" for v in range(0, 31, 2)),
    ]
    for sql in setup:
        shared_env.execute(sql)
        duck.execute(sql.replace("bigint", "BIGINT"))
    shared_env.execute("CREATE INDEX t_k ON t (k)")
    shared_env.execute(f"CREATE VIEW imp_reduce AS {VIEWS['imp_reduce']}")
    shared_env.execute("CREATE INDEX imp_reduce_g ON imp_reduce (g)")
    for name in ("imp_filter", "imp_join", "imp_distinct"):
        shared_env.execute(f"CREATE MATERIALIZED VIEW {name} AS {VIEWS[name]}")
    writes = ["INSERT INTO t VALUES (-1, 2, 'new', true), (-2, 3, 'new', NULL)",
              "DELETE FROM t WHERE k % 97 = 0",
              "UPDATE t SET v = v + 1 WHERE k % 101 = 1"]
    with shared_env.connect() as conn:
        for step in [None, *writes]:
            if step is not None:
                conn.execute(step)
                duck.execute(step)
            for name, query in VIEWS.items():
                got = bag(conn.execute(f"SELECT * FROM {name}").fetchall())
                assert got == bag(duck.execute(query).fetchall()), (name, step)
    duck.close()
