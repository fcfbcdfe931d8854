"""``DEFAULT now()`` (and ``current_timestamp``, ``localtimestamp``, ``current_date``) against the real PostgreSQL.

A DEFAULT is evaluated by each write that omits the column, at that write's time and in the writing session's
TimeZone (Materialize plans a DEFAULT as a one-shot expression, so it has the same rule).  The same writes go to
both servers — INSERT with omitted columns, ``DEFAULT`` in VALUES, INSERT ... SELECT, COPY FROM — in several zones
(a DST zone, a POSIX offset, a zone whose date differs from UTC's most of the day); each row's defaults must be
the writing statement's time (between what ``now()`` answered just before and just after it), agree with each other
as PostgreSQL's do (``current_date`` is the date of ``now()`` in the writer's zone, ``localtimestamp`` its
wall-clock time), and a maintained view over the table answers as PostgreSQL's view does.
"""

from __future__ import annotations

from typing import Any, Iterator

import psycopg
import pytest

from scalar_support import outcome, postgres_server, same

__all__ = ["postgres_server"]

TABLE = ("CREATE TABLE stamped (k int, ts timestamptz DEFAULT now(), c timestamptz DEFAULT current_timestamp, "
         "l timestamp DEFAULT localtimestamp, d date DEFAULT current_date, "
         "later timestamptz DEFAULT now() + INTERVAL '1 hour', n int DEFAULT 7)")
CHECK = ("SELECT k, ts = c, l = CAST(ts AS timestamp), d = CAST(ts AS date), later - ts, n, "
         "ts BETWEEN CAST(%s AS timestamptz) AND CAST(%s AS timestamptz) FROM stamped WHERE k >= %s ORDER BY k")


def _connect(dsn_or_server: Any) -> psycopg.Connection:
    if isinstance(dsn_or_server, str):
        return psycopg.connect(dsn_or_server, autocommit=True, prepare_threshold=None)
    return dsn_or_server.connect(prepare_threshold=None)


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours, theirs = _connect(server), _connect(postgres_server)
    theirs.execute("DROP SCHEMA IF EXISTS default_now_diff CASCADE")
    theirs.execute("CREATE SCHEMA default_now_diff")
    theirs.execute("SET search_path = default_now_diff")
    for conn in (ours, theirs):
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(TABLE)
    try:
        yield ours, theirs
    finally:
        for conn in (ours, theirs):
            conn.execute("DROP TABLE stamped")
            conn.close()


def _now(conn: psycopg.Connection) -> str:
    return str(conn.execute("SELECT CAST(now() AS text)").fetchone()[0])


def _writes(conn: psycopg.Connection, base: int) -> None:
    conn.execute(f"INSERT INTO stamped (k) VALUES ({base}), ({base + 1})")
    conn.execute(f"INSERT INTO stamped VALUES ({base + 2}, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT)")
    conn.execute(f"INSERT INTO stamped (k, n) SELECT k + {base + 3}, k FROM (VALUES (0), (1)) AS v(k)")
    with conn.cursor().copy("COPY stamped (k) FROM STDIN") as copy:
        copy.write(f"{base + 5}\n{base + 6}\n".encode())


@pytest.mark.parametrize("zone", ["America/New_York", "UTC+3", "Pacific/Kiritimati", "UTC"])
def test_defaults_take_each_writes_time_in_its_zone(connections: Any, zone: str) -> None:
    base = 100 * (1 + ["America/New_York", "UTC+3", "Pacific/Kiritimati", "UTC"].index(zone))
    answers = []
    for conn in connections:
        conn.execute(f"SET TimeZone = '{zone}'")
        try:
            before = _now(conn)
            _writes(conn, base)
            after = _now(conn)
            answers.append(conn.execute(CHECK, [before, after, base]).fetchall())
        finally:
            conn.execute("SET TimeZone = 'UTC'")
    hour = answers[1][0][4]  # later - ts, as PostgreSQL shows it
    expected = [(base + i, True, True, True, hour, n, True) for i, n in enumerate([7, 7, 7, 0, 1, 7, 7])]
    assert answers[0] == answers[1] == expected


def test_each_statement_has_its_own_time(connections: Any) -> None:
    ours = connections[0]
    ours.execute("INSERT INTO stamped (k) VALUES (900)")
    ours.execute("INSERT INTO stamped (k) VALUES (901)")
    first, second = ours.execute("SELECT ts FROM stamped WHERE k IN (900, 901) ORDER BY k").fetchall()
    assert first[0] <= second[0]


def test_a_maintained_view_over_defaulted_rows(connections: Any) -> None:
    """A view and a materialized view over the defaulted columns answer as PostgreSQL's view on the same rows."""
    ours, theirs = connections
    query = ("SELECT d = CAST(ts AS date) AS same_day, count(*) AS n, count(DISTINCT later - ts) AS gaps "
             "FROM stamped WHERE k < 900 GROUP BY d = CAST(ts AS date)")
    for conn in connections:
        conn.execute(f"CREATE VIEW stamped_days AS {query}")
    ours.execute(f"CREATE MATERIALIZED VIEW stamped_days_mv AS {query}")
    theirs.execute(f"CREATE VIEW stamped_days_mv AS {query}")
    try:
        for conn in connections:
            conn.execute("INSERT INTO stamped (k) VALUES (1), (2)")
        for name in ("stamped_days", "stamped_days_mv"):
            same(connections, f"SELECT * FROM {name} ORDER BY same_day")
    finally:
        ours.execute("DROP MATERIALIZED VIEW stamped_days_mv")
        theirs.execute("DROP VIEW stamped_days_mv")
        for conn in connections:
            conn.execute("DROP VIEW stamped_days")


def test_show_create_table_shows_the_defaults(connections: Any) -> None:
    ours = connections[0]
    ours.execute("CREATE TABLE stamped_simple (ts timestamptz DEFAULT now(), l timestamp DEFAULT localtimestamp, "
                 "d date DEFAULT current_date)")
    try:
        text = ours.execute("SHOW CREATE TABLE stamped_simple").fetchone()[1]
        assert "DEFAULT now()" in text and "DEFAULT localtimestamp" in text and "DEFAULT current_date" in text
        # what SHOW CREATE TABLE prints creates the same table
        ours.execute("DROP TABLE stamped_simple")
        ours.execute(text)
        assert ours.execute("SHOW CREATE TABLE stamped_simple").fetchone()[1] == text
    finally:
        ours.execute("DROP TABLE IF EXISTS stamped_simple")


def test_now_stays_refused_where_it_would_go_stale(connections: Any) -> None:
    ours = connections[0]
    for statement in ("CREATE VIEW stale AS SELECT now() AS t", "CREATE MATERIALIZED VIEW stale AS SELECT now() AS t"):
        assert outcome(ours, statement)[:2] == ("error", "0A000")


def test_update_set_default(connections: Any) -> None:
    """``UPDATE ... SET c = DEFAULT``: the column's DEFAULT at the update's time (NULL without one)."""
    answers = []
    for conn in connections:
        conn.execute("INSERT INTO stamped VALUES (950, '2000-01-01 00:00:00+00', '2000-01-01 00:00:00+00', "
                     "'2000-01-01 00:00:00', '2000-01-01', '2000-01-01 00:00:00+00', 1)")
        conn.execute("SET TimeZone = 'Asia/Kathmandu'")
        try:
            before = _now(conn)
            conn.execute("UPDATE stamped SET ts = DEFAULT, d = DEFAULT, later = DEFAULT, n = DEFAULT WHERE k = 950")
            after = _now(conn)
            answers.append(conn.execute("SELECT n, d = CAST(ts AS date), later - ts, c, "
                                        "ts BETWEEN CAST(%s AS timestamptz) AND CAST(%s AS timestamptz) "
                                        "FROM stamped WHERE k = 950", [before, after]).fetchall())
        finally:
            conn.execute("SET TimeZone = 'UTC'")
            conn.execute("DELETE FROM stamped WHERE k = 950")
    assert answers[0] == answers[1] and answers[0][0][0] == 7 and answers[0][0][4] is True
