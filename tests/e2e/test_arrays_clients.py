"""Arrays and table functions through real clients (psycopg in text and binary format, psql), in views
maintained by real replica processes, in SUBSCRIBE, and across a coordinator restart; answers compared with a real
PostgreSQL server holding the same rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
from pathlib import Path
from typing import Any

import psycopg


def _load_postgres_fixture() -> Any:
    path = Path(__file__).resolve().parent.parent / "storage" / "conftest.py"
    spec = importlib.util.spec_from_file_location("steadystate_storage_fixtures_arrays", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.postgres_server


postgres_server = _load_postgres_fixture()

UTC = dt.timezone.utc
TABLE = "CREATE TABLE docs (id int, tags text[], scores int[], prices numeric[], seen timestamptz[], big bigint[])"
ROWS = [
    (1, ["a", "b c", None], [3, 1, 2], [decimal.Decimal("1.50")], [dt.datetime(2024, 1, 1, 10, tzinfo=UTC)], [2**40]),
    (2, [], [], [], [], []),
    (3, None, [7, None], None, [None], None),
    (4, ['q"t', "x\\y", "NULL", ""], [1], [decimal.Decimal("-2")], [], [-1]),
    (5, ["a", "b c"], [1], None, None, None),
]
CSV_LINE = b'5,"{a,""b c""}",{1},,,\n'  # ROWS[4] in CSV
VIEWS = {
    "tag_rows": "SELECT id, tag, n FROM docs, unnest(tags) WITH ORDINALITY AS u(tag, n)",
    "score_lists": "SELECT id % 2 AS parity, array_agg(s ORDER BY s DESC) AS ss FROM docs, unnest(scores) AS u(s) "
                   "GROUP BY id % 2",
    "ranges": "SELECT id, generate_series(1, cardinality(scores)) AS i FROM docs",
    "with_b": "SELECT id, tags, scores[1] AS first FROM docs WHERE 'b c' = ANY(tags) OR scores @> ARRAY[7]",
}


def _answers(conn: psycopg.Connection, binary: bool = False) -> dict[str, list[tuple]]:
    return {name: sorted(conn.cursor(binary=binary).execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in VIEWS}


def _create(conn: psycopg.Connection, ours: bool) -> None:
    conn.execute(TABLE)
    for name, sql in VIEWS.items():
        kind = "MATERIALIZED VIEW" if ours and name == "score_lists" else "VIEW"
        conn.execute(f"CREATE {kind} {name} AS {sql}")
    if ours:
        conn.execute("CREATE INDEX tag_rows_id ON tag_rows (id)")


def test_arrays_through_psycopg_and_maintained_views_agree_with_postgresql(env, postgres_server: str) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(postgres_server, autocommit=True) as theirs, env.connect() as ours:
        theirs.execute("DROP SCHEMA IF EXISTS arrays_e2e CASCADE")
        theirs.execute("CREATE SCHEMA arrays_e2e")
        theirs.execute("SET search_path = arrays_e2e")
        theirs.execute("SET TimeZone = 'UTC'")
        _create(ours, True)
        _create(theirs, False)
        insert = "INSERT INTO docs VALUES (%s, %s, %s, %s, %s, %s)"
        for conn in (ours, theirs):
            conn.execute(insert, ROWS[0])  # text-format parameters (psycopg picks the array oids)
            conn.execute(insert.replace("%s", "%b"), ROWS[1])  # binary-format parameters
            with conn.cursor().copy("COPY docs FROM STDIN") as copy:
                copy.write_row(ROWS[2])
            with conn.cursor().copy("COPY docs FROM STDIN") as copy:
                copy.write_row(ROWS[3])
            with conn.cursor().copy("COPY docs FROM STDIN (FORMAT csv)") as copy:
                copy.write(CSV_LINE)
        expected = _answers(theirs)
        assert _answers(ours) == expected
        assert _answers(ours, binary=True) == _answers(theirs, binary=True)
        every = "SELECT * FROM docs ORDER BY id"
        assert ours.execute(every).fetchall() == theirs.execute(every).fetchall()
        assert ours.cursor(binary=True).execute(every).fetchall() == theirs.cursor(binary=True).execute(every).fetchall()
        assert [tuple(r[:4]) for r in ours.execute(every).fetchall()] == [tuple(r[:4]) for r in ROWS]
        by_param = "SELECT id FROM docs WHERE scores && %s::int[] ORDER BY id"  # psycopg sends a smallint[]
        assert ours.execute(by_param, ([2, 7],)).fetchall() == theirs.execute(by_param, ([2, 7],)).fetchall()
        any_param = "SELECT id FROM docs WHERE id = ANY(%s) ORDER BY id"
        assert ours.execute(any_param, ([1, 3],)).fetchall() == theirs.execute(any_param, ([1, 3],)).fetchall()
        for conn in (ours, theirs):
            conn.execute("UPDATE docs SET scores = scores || 9, tags = array_prepend('z', tags) WHERE id <= 2")
            conn.execute("DELETE FROM docs WHERE id = 4")
        expected = _answers(theirs)
        assert _answers(ours) == expected
        with ours.cursor().copy("COPY (SELECT id, tags, scores FROM docs ORDER BY id) TO STDOUT") as copy:
            mine = b"".join(bytes(c) for c in copy)
        with theirs.cursor().copy("COPY (SELECT id, tags, scores FROM docs ORDER BY id) TO STDOUT") as copy:
            assert mine == b"".join(bytes(c) for c in copy)
    env.restart()
    with env.connect() as ours:
        assert _answers(ours) == expected
        assert ours.execute("SELECT tags, scores FROM docs WHERE id = 1").fetchone() == (["z", "a", "b c", None],
                                                                                          [3, 1, 2, 9])


def test_arrays_through_psql(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(TABLE, "INSERT INTO docs VALUES (1, '{a,\"b c\",NULL}', '{3,1,2}', NULL, NULL, NULL)")
    out = env.psql("SELECT tags, scores FROM docs WHERE id = 1", "\\d docs").stdout
    assert '{a,"b c",NULL}' in out and "{3,1,2}" in out
    assert "text[]" in out and "integer[]" in out


def test_subscribe_to_a_flat_map(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE lists (k int, xs int[])", "INSERT INTO lists VALUES (1, '{10,20}')",
                "CREATE VIEW items AS SELECT k, x FROM lists, unnest(xs) AS u(x)")
    received: list[tuple] = []
    with env.connect() as writer, env.connect() as conn:
        with conn.cursor().copy("COPY (SUBSCRIBE items) TO STDOUT") as copy:
            for row in copy.rows():
                received.append(row)
                if len(received) == 2:
                    writer.execute("INSERT INTO lists VALUES (2, '{30}')")
                    writer.execute("DELETE FROM lists WHERE k = 1")
                if len(received) == 5:
                    break
        conn.close()
    snapshot, changes = received[:2], received[2:]
    assert sorted(r[1:] for r in snapshot) == [("1", "1", "10"), ("1", "1", "20")]
    assert sorted(r[1:] for r in changes) == [("-1", "1", "10"), ("-1", "1", "20"), ("1", "2", "30")]
