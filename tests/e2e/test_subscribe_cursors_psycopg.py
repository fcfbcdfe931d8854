"""SUBSCRIBE through real clients (psycopg against ``steadystate serve`` with replica processes), the way
Materialize documents it: ``DECLARE c CURSOR FOR SUBSCRIBE ...`` in a transaction, then ``FETCH ... WITH
(TIMEOUT = ...)`` in a loop while another connection writes; the folded updates equal what a SELECT reads.
Also psycopg's own server-side cursors (``conn.cursor(name=...)``: DECLARE/FETCH FORWARD/CLOSE), the extended
protocol's FETCH, SUBSCRIBE with PROGRESS/ENVELOPE UPSERT, and SHOW CREATE / SHOW COLUMNS / EXPLAIN variants.
"""

from __future__ import annotations

import json
from collections import Counter

import psycopg
import pytest


def fold(conn: psycopg.Connection, state: Counter, want: Counter, query: str = "FETCH ALL c WITH (TIMEOUT = '200ms')") -> None:
    for _ in range(150):
        if +state == want:
            return
        for timestamp, diff, *values in conn.execute(query).fetchall():
            state[tuple(values)] += diff
    assert +state == want


def test_declare_fetch_follows_writes_from_another_connection(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect(autocommit=True) as writer, shared_env.connect(autocommit=False) as reader:
        writer.execute("CREATE TABLE sc_t (k int, v text)")
        writer.execute("INSERT INTO sc_t VALUES (1, 'a'), (2, 'b')")
        writer.execute("CREATE MATERIALIZED VIEW sc_mv AS SELECT k % 2 AS parity, count(*) AS n, max(v) AS top "
                       "FROM sc_t GROUP BY k % 2")
        reader.execute("DECLARE c CURSOR FOR SUBSCRIBE sc_mv")  # psycopg opened the transaction
        assert [d.name for d in reader.execute("FETCH 0 c").description] == ["mz_timestamp", "mz_diff", "parity",
                                                                             "n", "top"]
        state: Counter = Counter()
        for write in ["INSERT INTO sc_t VALUES (3, 'c'), (4, 'd')", "DELETE FROM sc_t WHERE k = 1",
                      "UPDATE sc_t SET v = 'z' WHERE k = 2", None]:
            want = Counter(writer.execute("SELECT * FROM sc_mv").fetchall())
            fold(reader, state, want)
            if write:
                writer.execute(write)
        reader.execute("CLOSE c")
        reader.commit()
        # cursors end with their transaction: 34000 after COMMIT
        with pytest.raises(psycopg.errors.InvalidCursorName):
            reader.execute("FETCH ALL c")
        reader.rollback()


def test_progress_and_upsert_through_psycopg(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect(autocommit=True) as writer, shared_env.connect(autocommit=False) as reader:
        writer.execute("CREATE TABLE sc_u (k int, v int)")
        writer.execute("INSERT INTO sc_u VALUES (1, 10)")
        reader.execute("DECLARE p CURSOR FOR SUBSCRIBE sc_u ENVELOPE UPSERT (KEY (k)) WITH (PROGRESS)")
        cur = reader.execute("FETCH ALL p WITH (TIMEOUT = '1s')")
        assert [d.name for d in cur.description] == ["mz_timestamp", "mz_progressed", "mz_state", "k", "v"]
        seen = {}
        closed = 0
        writer.execute("UPDATE sc_u SET v = 20 WHERE k = 1")
        writer.execute("INSERT INTO sc_u VALUES (2, 30)")
        rows = cur.fetchall()
        for _ in range(100):
            for timestamp, progressed, state, k, v in rows:
                if progressed:
                    assert timestamp > closed and state is None and k is None
                    closed = timestamp
                else:
                    assert timestamp >= closed and state == "upsert"
                    seen[k] = v
            if seen == {1: 20, 2: 30}:
                break
            rows = reader.execute("FETCH ALL p WITH (TIMEOUT = '200ms')").fetchall()
        assert seen == {1: 20, 2: 30} and closed > 0
        reader.rollback()


def test_psycopg_server_side_cursor(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect(autocommit=False) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sc_s (k int)")
        conn.commit()
        conn.execute("INSERT INTO sc_s SELECT * FROM (VALUES (1), (2), (3), (4), (5), (6), (7)) AS v(k)")
        conn.commit()
        with conn.cursor(name="paged") as cur:
            cur.itersize = 3
            cur.execute("SELECT k FROM sc_s WHERE k > %s ORDER BY k", (1,))
            assert [r[0] for r in cur] == [2, 3, 4, 5, 6, 7]
        conn.commit()


def test_show_create_columns_and_explain_variants(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect(autocommit=True) as conn:
        conn.execute('CREATE TABLE sc_c (k int NOT NULL, "Name" varchar(10) DEFAULT \'x\')')
        conn.execute("CREATE VIEW sc_v (a, b) AS SELECT k, \"Name\" FROM sc_c WHERE k > 0")
        name, create_sql = conn.execute("SHOW CREATE TABLE sc_c").fetchone()
        assert name == "materialize.public.sc_c"
        # the statement rebuilds the same table: drop it, run it, compare the columns
        columns = conn.execute("SHOW COLUMNS FROM sc_c").fetchall()
        assert columns == [("k", False, "integer", None), ("Name", True, "character varying(10)", None)]
        view_sql = conn.execute("SHOW CREATE VIEW sc_v").fetchone()[1]
        conn.execute("DROP VIEW sc_v")
        conn.execute("DROP TABLE sc_c")
        conn.execute(create_sql)
        conn.execute(view_sql)
        assert conn.execute("SHOW COLUMNS FROM sc_c").fetchall() == columns
        conn.execute("INSERT INTO sc_c (k) VALUES (1)")
        assert conn.execute("SELECT * FROM sc_v").fetchall() == [(1, "x")]
        plan = conn.execute("EXPLAIN OPTIMIZED PLAN AS JSON FOR SELECT a FROM sc_v").fetchone()[0]
        assert "operator" in json.loads(plan)["plan"]
        cur = conn.execute("EXPLAIN PHYSICAL PLAN FOR SELECT a FROM sc_v")
        assert cur.description[0].name == "Physical Plan"
        assert any("source import: materialize.public.sc_c" in r[0] for r in cur.fetchall())
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("EXPLAIN RAW PLAN FOR SELECT 1")


def test_returning_through_the_extended_protocol(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE sc_r (k int, v text)")
        cur = conn.execute("INSERT INTO sc_r VALUES (%s, %s), (%s, %s) RETURNING k * 10 AS kk, v", (1, "a", 2, "b"))
        assert [d.name for d in cur.description] == ["kk", "v"]
        assert sorted(cur.fetchall()) == [(10, "a"), (20, "b")] and cur.statusmessage == "INSERT 0 2"
        cur = conn.execute("UPDATE sc_r SET v = %s WHERE k = %s RETURNING *", ("z", 2))
        assert cur.fetchall() == [(2, "z")] and cur.statusmessage == "UPDATE 1"
        cur = conn.cursor()
        cur.executemany("DELETE FROM sc_r WHERE k = %s RETURNING v", [(1,), (2,)], returning=True)
        returned = []
        while True:
            returned.extend(cur.fetchall())
            if not cur.nextset():
                break
        assert sorted(returned) == [("a",), ("z",)]
        assert conn.execute("SELECT count(*) FROM sc_r").fetchone() == (0,)
