"""Generated differential tests: hypothesis-built schemas, queries and writes, server vs DuckDB.

Each example creates fresh tables (unique name prefix) in the shared server and in a DuckDB mirror, loads
generated rows, creates the generated query as a maintained object (a view with an index, or a
materialized view; first, maybe, an index on a column of each table, which the object then imports), then applies a generated sequence of INSERT/UPDATE/DELETE.  After every write the
maintained object is read through psycopg and must equal DuckDB's evaluation of the same SQL as a
multiset.  At the end the same query is also run as an ad hoc SELECT (a transient dataflow).  Objects
are dropped after each example.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, event, given, settings, strategies as st

from diff_generators import DUCK_TYPE, SQL_TYPE, queries, row_literal, rows_for, schemas, writes
from diff_support import Mirror

EXAMPLE_COUNTER = itertools.count()


def create_tables(mirror: Mirror, prefix: str, tables, data) -> None:  # type: ignore[no-untyped-def]
    for table, rows in zip(tables, data):
        name = f"{prefix}_{table.alias}"
        mirror.server(f"CREATE TABLE {name} ({', '.join(f'{c} {SQL_TYPE[k]}' for c, k in table.columns)})")
        mirror.duckdb(f"CREATE TABLE {name} ({', '.join(f'{c} {DUCK_TYPE[k]}' for c, k in table.columns)})")
        if rows:
            mirror.both(f"INSERT INTO {name} VALUES {', '.join(row_literal(table, r) for r in rows)}")


def drop_tables(mirror: Mirror, prefix: str, tables) -> None:  # type: ignore[no-untyped-def]
    for table in tables:
        mirror.server(f"DROP TABLE IF EXISTS {prefix}_{table.alias} CASCADE")


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    tables = draw(schemas())
    data = [draw(rows_for(t, min_size=1, max_size=6)) for t in tables]
    query = draw(queries(tables))
    steps = draw(st.lists(writes(tables), min_size=1, max_size=4))
    maintained_as = draw(st.sampled_from(["index", "materialized"]))
    # indexes on the tables' columns: the maintained object imports them, and joins keyed on an indexed column
    # read its arrangement in place instead of copying it
    indexed = [draw(st.sampled_from([None] + [c for c, _ in t.columns])) for t in tables]
    return tables, data, query, steps, maintained_as, indexed


@settings(max_examples=int(os.environ.get("DIFF_EXAMPLES", "30")), deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
@given(scenario=scenarios())
def test_maintained_view_matches_duckdb_after_every_write(mirror: Mirror, scenario) -> None:  # type: ignore[no-untyped-def]
    tables, data, query, steps, maintained_as, indexed = scenario
    prefix = f"g{next(EXAMPLE_COUNTER)}"
    sql = query.render(prefix)
    create_tables(mirror, prefix, tables, data)
    try:
        for table, column in zip(tables, indexed):
            if column is not None:
                mirror.server(f"CREATE INDEX {prefix}_{table.alias}_idx ON {prefix}_{table.alias} ({column})")
        view = f"{prefix}_v"
        if maintained_as == "index":
            mirror.server(f"CREATE VIEW {view} AS {sql}")
            mirror.server(f"CREATE INDEX {view}_idx ON {view} (c0)")
        else:
            mirror.server(f"CREATE MATERIALIZED VIEW {view} AS {sql}")
        sizes = [mirror.check(f"SELECT * FROM {view}", sql, "after creation")]
        for step in steps:
            mirror.both(step.render(prefix))
            sizes.append(mirror.check(f"SELECT * FROM {view}", sql, f"after {step.render(prefix)}"))
        mirror.check(sql, sql, "ad hoc SELECT")
        plan = "\n".join(row[0] for row in mirror.server(f"EXPLAIN {sql}") or [])
        event("a join reads an imported index in place" if "input uses arrangement of" in plan
              else "a join copies an imported index" if "input copies" in plan else "no join over an index")
        event("result sizes: " + ("all empty" if not any(sizes) else "changing" if len(set(sizes)) > 1
                                  else "constant, non-empty"))
    finally:
        drop_tables(mirror, prefix, tables)
