"""Column DEFAULTs: stored in the durable catalog and used wherever a write omits a column, through real clients.

A default is planned (and cast to its column's type) at CREATE TABLE, kept in the table's catalog record, and
applied by INSERT with a column list, by the DEFAULT keyword in VALUES, by INSERT ... SELECT with a column list,
and by COPY with a column list.  It must survive a coordinator restart (the catalog is re-read), and a default
that does not fit its column is refused at CREATE TABLE with PostgreSQL's error.
"""

from __future__ import annotations

import psycopg
import pytest


def test_defaults_fill_omitted_columns_everywhere_and_survive_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE t (a int, b int DEFAULT 5, c text DEFAULT 'x' || 'y', d numeric DEFAULT 1.5, e int)",
        "INSERT INTO t (a) VALUES (1)",  # the simple-write fast path must hand this to the general planner
        "INSERT INTO t VALUES (2, DEFAULT, DEFAULT, DEFAULT, DEFAULT)",
        "INSERT INTO t (a, c) VALUES (3, 'z'), (4, NULL)",  # an explicit NULL is not the default
        "INSERT INTO t (a) SELECT 9",
    )
    with env.connect() as conn:
        with conn.cursor().copy("COPY t (a, e) FROM STDIN") as copy:
            copy.write_row((7, 70))
    expected = [
        (1, 5, "xy", 1.5, None), (2, 5, "xy", 1.5, None), (3, 5, "z", 1.5, None), (4, 5, None, 1.5, None),
        (7, 5, "xy", 1.5, 70), (9, 5, "xy", 1.5, None),
    ]

    def rows() -> list[tuple]:
        return [(a, b, c, float(d), e) for a, b, c, d, e in env.query("SELECT * FROM t ORDER BY a")]

    assert rows() == expected
    env.restart()
    env.execute("INSERT INTO t (a) VALUES (10)")
    assert rows() == expected + [(10, 5, "xy", 1.5, None)]


def test_a_default_that_does_not_fit_its_column_is_refused(env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match='invalid input syntax for type integer: "abc"'):
        env.execute("CREATE TABLE bad (a int DEFAULT 'abc')")
    with pytest.raises(psycopg.errors.UndefinedTable):
        env.query("SELECT * FROM bad")


def test_a_default_now_is_each_writes_time_across_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    """``DEFAULT now()``/``current_date`` are kept as what each write binds to its own time (the catalog
    record holds the placeholder, not the CREATE's time), also after a coordinator restart."""
    env.execute("CREATE TABLE stamped (a int, at timestamptz DEFAULT now(), day date DEFAULT current_date)")
    (created,), = env.query("SELECT now()")
    env.execute("INSERT INTO stamped (a) VALUES (1)")
    env.restart()
    env.execute("INSERT INTO stamped (a) VALUES (2)")
    (after,), = env.query("SELECT now()")
    rows = env.query("SELECT a, at, day = CAST(at AS date) FROM stamped ORDER BY a")
    assert [a for a, _, _ in rows] == [1, 2] and all(same_day for _, _, same_day in rows)
    first, second = rows[0][1], rows[1][1]
    assert created <= first <= second <= after
    assert first != second  # two writes, a restart apart: two times
