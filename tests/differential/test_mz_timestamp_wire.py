"""mz_timestamp (Materialize's oid 16552) in binary format through psycopg, as Materialize's pgrepr does it.

Materialize sends an mz_timestamp in binary format as its text (the decimal digits of the milliseconds) and reads a
binary parameter the same way; PostgreSQL has no such type, so the checks are against the value's own text form
read in text format from the same server: a binary result (also beside a table's rows), a binary parameter sent
back, binary COPY TO, and a malformed binary parameter (22P03).
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg.adapt
import pytest
from psycopg.pq import Format

MZ_TIMESTAMP_OID = 16552


class _MzTimestamp(int):
    """An int sent as a binary mz_timestamp parameter."""


class _BadMzTimestamp(str):
    """Bytes that are no mz_timestamp, sent as a binary one."""


class _MzTimestampDumper(psycopg.adapt.Dumper):
    oid = MZ_TIMESTAMP_OID
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return str(obj).encode()


@pytest.fixture
def conn(server: Any) -> Any:
    connection = server.connect()
    connection.adapters.register_dumper(_MzTimestamp, _MzTimestampDumper)
    connection.adapters.register_dumper(_BadMzTimestamp, _MzTimestampDumper)
    try:
        yield connection
    finally:
        connection.close()


def test_binary_results_are_the_digits(conn: Any) -> None:
    row = conn.cursor(binary=True).execute("SELECT mz_now(), CAST(mz_now() AS text)").fetchone()
    described = conn.cursor(binary=True).execute("SELECT mz_now()").description[0]
    assert described.type_code == MZ_TIMESTAMP_OID
    assert bytes(row[0]).decode() == row[1] and int(row[1]) > 0
    text_row = conn.cursor().execute("SELECT mz_now(), CAST(mz_now() AS text)").fetchone()
    assert text_row[0] == text_row[1]


def test_binary_results_beside_table_rows_and_parameters(conn: Any) -> None:
    conn.execute("CREATE TABLE mz_stamps (k int)")
    try:
        conn.execute("INSERT INTO mz_stamps VALUES (1), (2)")
        query = "SELECT k, mz_now(), CAST(mz_now() AS text) FROM mz_stamps ORDER BY k"
        binary = conn.cursor(binary=True).execute(query).fetchall()
        assert [(k, bytes(t).decode() == s) for k, t, s in binary] == [(1, True), (2, True)]
        back = conn.cursor().execute("SELECT CAST(%s AS text), mz_now() >= %s",
                                     [_MzTimestamp(1700000000123), _MzTimestamp(5)]).fetchone()
        assert back == ("1700000000123", True)
    finally:
        conn.execute("DROP TABLE mz_stamps")


def test_binary_copy_out(conn: Any) -> None:
    with conn.cursor().copy("COPY (SELECT mz_now(), CAST(mz_now() AS text)) TO STDOUT (FORMAT binary)") as copy:
        copy.set_types(["text", "text"])  # the digits, read as text
        rows = list(copy.rows())
    assert len(rows) == 1 and rows[0][0] == rows[0][1] and int(rows[0][0]) > 0


@pytest.mark.parametrize("bad", ["-1", "1.5", "abc", str(2 ** 64)])
def test_a_malformed_binary_parameter_is_refused(conn: Any, bad: str) -> None:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT CAST(%s AS text)", [_BadMzTimestamp(bad)])
    assert caught.value.diag.sqlstate == "22P03"


def test_a_binary_parameter_reads_as_its_text_format_twin(conn: Any) -> None:
    """A bare binary parameter declared mz_timestamp answers as its digits sent as an untyped text parameter."""
    answers = []
    for value in (_MzTimestamp(5), "5"):
        cursor = conn.cursor(binary=True).execute("SELECT %s, CAST(%s AS text)", [value, value])
        answers.append((cursor.description[0].type_code, cursor.fetchone()))
    assert answers[0] == answers[1]
