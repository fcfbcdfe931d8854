"""numeric values equal but for their display scale (``1.50`` and ``1.5``): what is answered today, pinned.

PostgreSQL keeps each value's display scale; a table read in one shot here does too (storage keeps each row as
written), and so does every one-shot query.  The dataflow does not: its consolidation compares values (Python's
``Decimal`` equality and hash ignore the exponent) and a maintained ``sum`` keeps the exponent of what it has
subtracted, so a materialized view over the same rows can print another scale than the one-shot query after a
retraction.  ``docs/design-notes.md`` ("numeric display scale") records the analysis and the decision still to
be carried out; the strict xfail below fails as soon as maintained answers agree, so it is removed with the fix.
"""

from __future__ import annotations

from typing import Any, Iterator

import psycopg
import pytest

from scalar_support import postgres_server

__all__ = ["postgres_server"]

QUERIES = {"projected": "SELECT n FROM scaled", "summed": "SELECT sum(n) AS s FROM scaled"}


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
