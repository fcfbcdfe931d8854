"""Type modifiers and the narrow types through real clients, across a coordinator restart.

A table with ``varchar(3)``, ``char(3)``, ``numeric(5,2)``, ``smallint``, ``real`` and ``timestamp(1)`` columns
is written through psycopg with text and with binary parameters and through ``COPY``, and read back in text and
binary format: values are brought to their modifiers (rounded, padded), values that do not fit are refused with
PostgreSQL's SQLSTATEs, the RowDescription carries PostgreSQL's type OIDs and modifiers (psycopg derives a
column's precision, scale and display size from them), and psql shows what PostgreSQL's psql shows.  After the
coordinator restarts (the catalog is re-read), all of it still holds: the modifiers are durable.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

COLUMNS = "v varchar(3), c char(3), n numeric(5,2), s smallint, r real, ts timestamp(1)"
#: (type oid, psycopg's precision, scale, display size) per column, from PostgreSQL's type modifiers
DESCRIPTION = [(1043, None, None, 3), (1042, None, None, 3), (1700, 5, 2, None), (21, None, None, None),
               (700, None, None, None), (1114, 1, None, None)]


def described(conn: psycopg.Connection, binary: bool = False) -> tuple[list[tuple], list[tuple]]:
    cursor = conn.cursor(binary=binary)
    cursor.execute("SELECT * FROM m ORDER BY s")
    assert cursor.description is not None
    columns = [(c.type_code, c.precision, c.scale, c.display_size) for c in cursor.description]
    return columns, cursor.fetchall()


def check_refusals(conn: psycopg.Connection) -> None:
    insert = "INSERT INTO m VALUES (%s, %s, %s, %s, %s, %s)"
    with pytest.raises(psycopg.errors.StringDataRightTruncation, match=r"character varying\(3\)"):
        conn.execute(insert, ("abcd", "a", 1, 1, 1.0, None))
    with pytest.raises(psycopg.errors.StringDataRightTruncation, match=r"character\(3\)"):
        conn.execute(insert, ("a", "abcd", 1, 1, 1.0, None))
    with pytest.raises(psycopg.errors.NumericValueOutOfRange, match="numeric field overflow"):
        conn.execute(insert, ("a", "a", Decimal("999.995"), 1, 1.0, None))
    with pytest.raises(psycopg.errors.NumericValueOutOfRange, match="smallint out of range"):
        conn.execute(insert.replace("%s", "%b"), ("a", "a", 1, 40000, 1.0, None))
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        conn.execute(insert, ("a", "a", 1, 1, 1e39, None))
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        conn.execute("UPDATE m SET v = v || 'xyz'")
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        with conn.cursor().copy("COPY m FROM STDIN") as copy:
            copy.write(b"ok\tok\t1\t9\t1\t\\N\n")
            copy.write(b"long\tok\t1\t9\t1\t\\N\n")


def test_modifiers_are_honoured_reported_and_durable(env) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        conn.execute(f"CREATE TABLE m ({COLUMNS})")
        conn.execute("INSERT INTO m VALUES (%s, %s, %s, %s, %s, %s)",
                     ("ab ", "a", Decimal("1.235"), 1, 0.1, dt.datetime(2024, 5, 6, 7, 8, 9, 150000)))
        conn.execute("INSERT INTO m VALUES (%b, %b, %b, %b, %b, %b)",
                     ("abc   ", "bb ", Decimal("-0.004"), 2, 1e-3, dt.datetime(2024, 5, 6, 7, 8, 9, 949999)))
        with conn.cursor().copy("COPY m FROM STDIN") as copy:
            copy.write(b"x\tcc\t12.345\t3\t3.5\t2024-01-01 00:00:00.05\n")
        check_refusals(conn)
        expected = [
            ("ab ", "a  ", Decimal("1.24"), 1, 0.1, dt.datetime(2024, 5, 6, 7, 8, 9, 200000)),
            ("abc", "bb ", Decimal("0.00"), 2, 0.001, dt.datetime(2024, 5, 6, 7, 8, 9, 900000)),
            ("x", "cc ", Decimal("12.35"), 3, 3.5, dt.datetime(2024, 1, 1, 0, 0, 0, 100000)),
        ]
        assert described(conn) == (DESCRIPTION, expected)
        columns, rows = described(conn, binary=True)
        assert columns == DESCRIPTION
        # a real travels as its 32-bit float in binary: the same value PostgreSQL's binary output carries
        assert [row[:4] + row[5:] for row in rows] == [row[:4] + row[5:] for row in expected]
        assert [row[4] for row in rows] == [0.10000000149011612, 0.0010000000474974513, 3.5]
        # the char(3) value is compared, grouped and cast without its padding, as in PostgreSQL
        assert conn.execute("SELECT count(*), max(length(c)), min(c || '|') FROM m WHERE c = 'a'").fetchall() == \
            [(1, 1, "a|")]
    env.restart()
    with env.connect() as conn:
        assert described(conn) == (DESCRIPTION, expected)
        check_refusals(conn)
    out = env.psql("\\pset format unaligned", "SELECT v, c, n, s, r FROM m ORDER BY s").stdout
    assert "ab |a  |1.24|1|0.1" in out.splitlines()
    assert "x|cc |12.35|3|3.5" in out.splitlines()


def test_temporary_tables_and_unenforced_constraints_are_refused(env) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as conn:
        for ddl in ("CREATE TEMP TABLE tmp (a int)", "CREATE TABLE pk (a int PRIMARY KEY)",
                    "CREATE TABLE u (a int UNIQUE)", "CREATE TABLE ck (a int CHECK (a > 0))"):
            with pytest.raises(psycopg.errors.FeatureNotSupported):
                conn.execute(ddl)
        assert conn.execute("SELECT count(*) FROM mz_catalog.mz_tables WHERE name IN ('tmp', 'pk', 'u', 'ck')"
                            ).fetchall() == [(0,)]


def test_copy_checks_not_null_on_every_row(env) -> None:  # type: ignore[no-untyped-def]
    """Not only the first rows of a load: a NULL far into it is refused, and the load writes nothing."""
    with env.connect() as conn:
        conn.execute("CREATE TABLE nn (a int NOT NULL, b text)")
        with pytest.raises(psycopg.errors.NotNullViolation):
            with conn.cursor().copy("COPY nn FROM STDIN") as copy:
                for i in range(3000):
                    first = "\\N" if i == 2500 else str(i)
                    copy.write(f"{first}\tx\n".encode())
        with pytest.raises(psycopg.errors.NotNullViolation):
            with conn.cursor().copy("COPY nn (b) FROM STDIN") as copy:  # the omitted column's default is NULL
                copy.write(b"x\n")
        assert conn.execute("SELECT count(*) FROM nn").fetchall() == [(0,)]
