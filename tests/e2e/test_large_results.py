"""A result of many chunks from an index, through real processes and psycopg: the replica answers it from the
index's columnar copy (patched after writes), the coordinator streams it to the client as its chunks arrive, and
the client gets exactly the rows — in text and binary format, through ``COPY TO`` (text escaped as PostgreSQL
escapes it), inside a transaction block, and again after updates, deletes and inserts change the index."""

from __future__ import annotations

import decimal
from typing import Any

import psycopg
import pytest

NULL = "\\N"
ROWS = 40_000  # about 2 MB of Arrow IPC: several of the replica's 1 MB chunks


def name_of(i: int) -> str:
    return f"n{i}" if i % 97 else f"tab\there back\\slash {i}"


def expected_rows(changed: bool = False) -> list[tuple[Any, ...]]:
    out = []
    for i in range(ROWS):
        if changed and i % 1000 == 1:
            continue  # deleted
        name = "updated" if changed and i % 1000 == 0 else name_of(i)
        out.append((i, name, decimal.Decimal(i % 10_000).scaleb(-2), i + 0.5 if i % 13 else None))
    if changed:
        out += [(ROWS + j, "new", decimal.Decimal("1.00"), 0.25) for j in range(5)]
    return out


def copy_line(row: tuple[Any, ...]) -> str:
    i, name, amount, score = row
    escaped = name.replace("\\", "\\\\").replace("\t", "\\t")
    score_text = NULL if score is None else repr(score).removesuffix(".0")
    return f"{i}\t{escaped}\t{amount}\t{score_text}\n"


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE big (id bigint, name text, amount numeric(12,2), score double precision)")
    with shared_env.connect() as conn:
        with conn.cursor().copy("COPY big FROM STDIN") as copy:
            copy.write("".join(copy_line(row) for row in expected_rows()).encode())
    shared_env.execute("CREATE INDEX big_id ON big (id)")
    return shared_env


def read_all(world: Any, in_block: bool) -> tuple[list[Any], list[Any], list[str]]:
    with world.connect(autocommit=not in_block) as conn:
        conn.execute("SET max_result_size = '1GB'")
        text = conn.execute("SELECT * FROM big").fetchall()
        with conn.cursor(binary=True) as cursor:
            binary = cursor.execute("SELECT * FROM big").fetchall()
        with conn.cursor().copy("COPY (SELECT * FROM big) TO STDOUT") as copy:
            lines = b"".join(bytes(block) for block in copy).decode().splitlines(keepends=True)
        if in_block:
            conn.commit()
    return text, binary, lines


@pytest.mark.parametrize("in_block", [False, True])
def test_a_large_result_arrives_whole_and_exact(world, in_block: bool) -> None:  # type: ignore[no-untyped-def]
    expected = expected_rows()
    text, binary, lines = read_all(world, in_block)
    assert sorted(text, key=lambda r: r[0]) == expected
    assert sorted(binary, key=lambda r: r[0]) == expected
    assert sorted(lines, key=lambda line: int(line.split("\t")[0])) == [copy_line(row) for row in expected]


def test_a_row_path_result_streams_whole_and_exact(world) -> None:  # type: ignore[no-untyped-def]
    """A filter over a numeric column is evaluated row by row (not over the columnar copy): the replica sends the
    chunks as it builds them, the coordinator passes them on; past ``max_result_size`` the result fails with
    53000 after chunks went out, and the session goes on."""
    expected = expected_rows()
    with world.connect() as conn:
        conn.execute("SET max_result_size = '1GB'")
        rows = conn.execute("SELECT * FROM big WHERE amount >= 0.00").fetchall()
        assert sorted(rows, key=lambda r: r[0]) == expected
        with conn.cursor(binary=True) as cursor:
            assert sorted(cursor.execute("SELECT * FROM big WHERE amount >= 0.00").fetchall(),
                          key=lambda r: r[0]) == expected
        conn.execute("SET max_result_size = '1MB'")
        with pytest.raises(psycopg.Error) as failed:
            conn.execute("SELECT * FROM big WHERE amount >= 0.00").fetchall()
        assert failed.value.sqlstate == "53000"
        assert conn.execute("SELECT count(*) FROM big").fetchone() == (ROWS,)


def test_after_writes_the_result_follows_the_index(world) -> None:  # type: ignore[no-untyped-def]
    read_all(world, False)  # the columnar copy exists now; the writes below patch it
    world.execute("UPDATE big SET name = 'updated' WHERE id % 1000 = 0",
                  "DELETE FROM big WHERE id % 1000 = 1",
                  "INSERT INTO big VALUES " + ", ".join(f"({ROWS + j}, 'new', 1.00, 0.25)" for j in range(5)))
    expected = expected_rows(changed=True)
    text, binary, lines = read_all(world, False)
    assert sorted(text, key=lambda r: r[0]) == expected
    assert sorted(binary, key=lambda r: r[0]) == expected
    assert sorted(lines, key=lambda line: int(line.split("\t")[0])) == [copy_line(row) for row in expected]
    with world.connect() as conn:  # a LIMIT is a slice of the copy; a filter is evaluated over it
        assert len(conn.execute("SELECT * FROM big LIMIT 10").fetchall()) == 10
        assert sorted(conn.execute("SELECT id, name FROM big WHERE id < 3").fetchall()) == [(0, "updated"),
                                                                                             (2, "n2")]
