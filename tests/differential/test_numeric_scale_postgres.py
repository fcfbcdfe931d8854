"""numeric display scales in maintained results against PostgreSQL: sums after retractions, and values equal but
for their scale (``1.50`` and ``1.5``), which are pinned as they are today.

PostgreSQL keeps each value's display scale and shows a sum at its inputs' largest scale; a table read in one shot
here does too (storage keeps each row as written), and so does every one-shot query.  A maintained ``sum``/``avg``
counts its live values' scales (a running total alone would keep the exponent of what it subtracted: ``3.00 -
1.50`` is ``1.50``), in the general reduce, the accumulating one and the one fused with a join; checked here with
generated writes.  What is not right yet: the dataflow's consolidation compares values (Python's ``Decimal``
equality and hash ignore the exponent), so rows equal but for scale can show the other scale in a materialized
view after a retraction; ``docs/design-notes.md`` ("numeric display scale") records it, and the strict xfail below
fails as soon as that is fixed, so it is removed with the fix.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import postgres_server

__all__ = ["postgres_server"]

QUERIES = {"projected": "SELECT n FROM scaled", "distinct": "SELECT DISTINCT n FROM scaled"}

SUMS = {
    "global": "SELECT sum(n) AS s, avg(n) AS a, count(n) AS c FROM sums",
    "grouped": "SELECT g, sum(n) AS s, avg(n) AS a FROM sums GROUP BY g",
    "general": "SELECT g, sum(n) AS s, avg(n) AS a, max(n) AS m, count(DISTINCT n) AS d FROM sums GROUP BY g",
    "joined": "SELECT a.g, sum(b.n) AS s, avg(b.n) AS a FROM sums AS a JOIN sums AS b ON a.k = b.k GROUP BY a.g",
}

#: values of several display scales, no two equal but for their scale (that case is the xfail below)
VALUES = st.lists(st.tuples(st.integers(-10 ** 6, 10 ** 6), st.integers(0, 4)).map(lambda t: Decimal(t[0]).scaleb(-t[1])),
                  min_size=1, max_size=8, unique_by=lambda d: d.normalize())


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP SCHEMA IF EXISTS numeric_scale CASCADE")
    theirs.execute("CREATE SCHEMA numeric_scale")
    theirs.execute("SET search_path = numeric_scale")
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


def _texts(conn: psycopg.Connection, sql: str) -> list[tuple]:
    return sorted(tuple(str(v) for v in row) for row in conn.execute(sql).fetchall())


def test_one_shot_reads_keep_each_rows_scale(connections: Any) -> None:
    """One-shot queries answer as PostgreSQL on rows equal but for their scale, after retractions too."""
    for conn in connections:
        conn.execute("CREATE TABLE scaled_once (k int, n numeric)")
        conn.execute("INSERT INTO scaled_once VALUES (1, 1.50), (2, 1.5), (3, 0), (4, 0.0)")
        conn.execute("DELETE FROM scaled_once WHERE k IN (1, 4)")
    try:
        for sql in ("SELECT n FROM scaled_once", "SELECT sum(n) FROM scaled_once",
                    "SELECT k, n FROM scaled_once"):
            assert _texts(connections[0], sql) == _texts(connections[1], sql), sql
    finally:
        for conn in connections:
            conn.execute("DROP TABLE scaled_once")


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=VALUES, deletes=st.lists(st.integers(0, 7), max_size=6))
def test_maintained_sums_show_the_live_values_largest_scale(connections: Any, values: list[Decimal],
                                                             deletes: list[int]) -> None:
    """sum/avg in materialized views (general, accumulating and join-fused reduces) after inserts and deletes
    answer as PostgreSQL's views on the same rows."""
    ours, theirs = connections
    for conn in connections:
        conn.execute("CREATE TABLE sums (k int, g int, n numeric)")
    for name, sql in SUMS.items():
        ours.execute(f"CREATE MATERIALIZED VIEW sums_{name} AS {sql}")
        theirs.execute(f"CREATE VIEW sums_{name} AS {sql}")
    try:
        rows = ", ".join(f"({k}, {k % 2}, CAST('{v}' AS numeric))" for k, v in enumerate(values))
        for conn in connections:
            conn.execute(f"INSERT INTO sums VALUES {rows}")
        for k in deletes:
            for conn in connections:
                conn.execute(f"DELETE FROM sums WHERE k = {k}")
            for name in SUMS:
                assert _texts(ours, f"SELECT * FROM sums_{name}") == _texts(theirs, f"SELECT * FROM sums_{name}"), \
                    (name, values, deletes)
    finally:
        for name in SUMS:
            ours.execute(f"DROP MATERIALIZED VIEW sums_{name}")
            theirs.execute(f"DROP VIEW sums_{name}")
        for conn in connections:
            conn.execute("DROP TABLE sums")


@pytest.mark.xfail(strict=True, reason="the dataflow consolidates numeric values by value, not by display scale "
                                      "(docs/design-notes.md, numeric display scale)")
def test_maintained_answers_keep_each_rows_scale(connections: Any) -> None:
    ours, theirs = connections
    for conn in connections:
        conn.execute("CREATE TABLE scaled (k int, n numeric)")
    for name, sql in QUERIES.items():
        ours.execute(f"CREATE MATERIALIZED VIEW scaled_{name} AS {sql}")
        theirs.execute(f"CREATE VIEW scaled_{name} AS {sql}")
    try:
        for conn in connections:
            conn.execute("INSERT INTO scaled VALUES (1, 1.50)")
            conn.execute("INSERT INTO scaled VALUES (2, 1.5)")
            conn.execute("DELETE FROM scaled WHERE k = 1")
        for name in QUERIES:
            assert _texts(ours, f"SELECT * FROM scaled_{name}") == _texts(theirs, f"SELECT * FROM scaled_{name}")
    finally:
        for name in QUERIES:
            ours.execute(f"DROP MATERIALIZED VIEW scaled_{name}")
            theirs.execute(f"DROP VIEW scaled_{name}")
        for conn in connections:
            conn.execute("DROP TABLE scaled")
