"""Views importing an index whose rows are in Arrow runs (more rows than the recent layer holds) match DuckDB.

The index on ``t`` is built from 20000 rows, so its arrangement keeps them in runs; an indexed view and materialized
views over ``t`` then import it (their snapshot read as the runs' columns, ``render.hydration.feed_import_columns``)
— a reduce, a filter, a join with another table and a distinct — and must equal DuckDB's answers after the
snapshot and after writes (through real replica processes and a psycopg client).
"""

from __future__ import annotations

import datetime as dt
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


WIDE_VIEWS = {  # name -> (query, the index's column); DuckDB reads timestamptz as UTC timestamps (no pytz here)
    "wimp_reduce": ("SELECT k % 10 AS g, count(*) AS n, sum(v) AS total FROM w WHERE v < 20 GROUP BY k % 10", "g"),
    "wimp_numeric": ("SELECT k % 7 AS g, sum(amount) AS total, max(ts) AS latest, min(day) AS first FROM w "
                     "GROUP BY k % 7", "g"),
    "wimp_filter": ("SELECT k, amount, score, ts, tz FROM w WHERE v < 3", "k"),
    "wimp_distinct": ("SELECT DISTINCT score FROM w", "score"),
}


def wide_bag(rows: list[tuple[Any, ...]]) -> Counter:
    """Rows as a bag, a NaN equal to a NaN (values otherwise as the drivers give them: numerics stay Decimal)."""
    return Counter(tuple("NaN" if isinstance(v, float) and v != v else
                         v.astimezone(dt.timezone.utc).replace(tzinfo=None) if isinstance(v, dt.datetime) and v.tzinfo
                         else v for v in row) for row in rows)


def test_views_importing_a_wide_index_match_duckdb(shared_env) -> None:  # type: ignore[no-untyped-def]
    """The same over a wide table (numeric, double, timestamp, timestamptz, date): the views reading only ints take
    the runs as columns, the others the rows decoded from them; every answer is DuckDB's."""
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    base, zone_base = dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1)

    def values(i: int) -> str:
        score = ["-0.0", "1.5", "NULL", "1e308", "0.0"][i % 5]
        day = "NULL" if i % 11 == 0 else f"'2020-01-{i % 28 + 1:02d}'"
        ts = base + dt.timedelta(seconds=i * 7919 % 100000, microseconds=i % 1000)
        tz = zone_base + dt.timedelta(minutes=i)
        return f"({i}, {i * 7 % 31}, {(i % 1000) / 100 - 3:.2f}, {score}, '{ts}', '{tz}+00', {day})"

    setup = ["CREATE TABLE w (k bigint, v bigint, amount numeric(12, 2), score double precision, ts timestamp, "
             "tz timestamptz, day date)"]
    setup += [f"INSERT INTO w VALUES {', '.join(values(i) for i in range(start, start + 4000))}"
              for start in range(0, ROWS, 4000)]
    for sql in setup:
        shared_env.execute(sql)
        duck.execute(sql.replace("numeric(12, 2)", "DECIMAL(12, 2)"))
    shared_env.execute("CREATE INDEX w_k ON w (k)")
    for name, (query, column) in WIDE_VIEWS.items():
        shared_env.execute(f"CREATE VIEW {name} AS {query}")
        shared_env.execute(f"CREATE INDEX {name}_idx ON {name} ({column})")
    writes = ["INSERT INTO w VALUES (-1, 2, 1.25, 'NaN', NULL, NULL, '2021-01-01'), (-2, 3, NULL, -0.0, "
              "TIMESTAMP '2030-01-01 00:00:00', TIMESTAMPTZ '2030-01-01 00:00:00+00', NULL)",
              "DELETE FROM w WHERE k % 97 = 0",
              "UPDATE w SET amount = amount + 1 WHERE k % 101 = 1"]
    with shared_env.connect() as conn:
        for step in [None, *writes]:
            if step is not None:
                conn.execute(step)
                duck.execute(step)
            for name, (query, _column) in WIDE_VIEWS.items():
                got = wide_bag(conn.execute(f"SELECT * FROM {name}").fetchall())
                duck_query = query.replace(", tz FROM", ", tz::TIMESTAMP FROM")
                assert got == wide_bag(duck.execute(duck_query).fetchall()), (name, step)
    duck.close()
