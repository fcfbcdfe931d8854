"""Extended query protocol, COPY FROM STDIN and transactions, through psycopg 3.

Parameters of every basic type travel in text and binary format (psycopg's ``binary=True`` sends binary
parameters and asks for binary results), statements are server-side prepared (``prepare=True``),
``executemany`` batches INSERTs, and COPY loads rows with ``write_row`` and as CSV with a header.
Transactions on a non-autocommit connection are all-or-nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def typed(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE typed (i int, b bigint, f double precision, t text, ok bool)")
    return shared_env


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_parameters_of_every_type_round_trip(typed, binary: bool) -> None:  # type: ignore[no-untyped-def]
    values = [
        (1, 2**40, 1.5, "plain", True),
        (-7, -(2**40), -0.25, "it's \"quoted\" ünïcode", False),
        (None, None, None, None, None),
        (0, 0, 1e300, "", True),
    ]
    marker = 1000 if binary else 2000
    with typed.connect() as conn:
        cur = conn.cursor(binary=binary)
        for n, row in enumerate(values):
            cur.execute("INSERT INTO typed VALUES (%s, %s, %s, %s, %s)",
                        (None if row[0] is None else row[0] + marker * 0, marker + n, *row[2:]))
        got = cur.execute("SELECT i, b, f, t, ok FROM typed WHERE b >= %s AND b < %s ORDER BY b",
                          (marker, marker + 100)).fetchall()
    assert got == [(row[0], marker + n, *row[2:]) for n, row in enumerate(values)]


def test_parameter_in_where_and_select_list(typed) -> None:  # type: ignore[no-untyped-def]
    with typed.connect() as conn:
        conn.execute("INSERT INTO typed VALUES (%s, %s, %s, %s, %s)", (5, 3000, 2.5, "w", True))
        assert conn.execute("SELECT i + %s, t || %s FROM typed WHERE b = %s AND ok = %s",
                            (10, "!", 3000, True)).fetchall() == [(15, "w!")]
        assert conn.execute("SELECT t FROM typed WHERE b = %s AND t = %s", (3000, None)).fetchall() == []
        assert conn.execute("SELECT %s::int IS NULL", (None,)).fetchall() == [(True,)]


def test_prepared_statements_reused(typed) -> None:  # type: ignore[no-untyped-def]
    with typed.connect(prepare_threshold=0) as conn:
        for k in range(20):
            conn.execute("INSERT INTO typed VALUES (%s, %s, %s, %s, %s)",
                         (k, 4000 + k, k / 2, f"p{k}", k % 2 == 0), prepare=True)
        for k in range(0, 20, 3):
            assert conn.execute("SELECT i, f, t, ok FROM typed WHERE b = %s", (4000 + k,), prepare=True
                                ).fetchall() == [(k, k / 2, f"p{k}", k % 2 == 0)]
        # psycopg really prepared them (named server-side statements).
        assert len(conn._prepared._names) >= 2  # type: ignore[attr-defined]


def test_executemany_insert(typed) -> None:  # type: ignore[no-untyped-def]
    rows = [(k, 5000 + k, float(k), None if k % 5 == 0 else str(k), None) for k in range(200)]
    with typed.connect() as conn:
        conn.cursor().executemany("INSERT INTO typed VALUES (%s, %s, %s, %s, %s)", rows)
        got = conn.execute("SELECT i, b, f, t, ok FROM typed WHERE b >= 5000 AND b < 6000 ORDER BY b").fetchall()
    assert got == rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
       number=st.integers(-(2**31), 2**31 - 1), real=st.floats(allow_nan=False, allow_infinity=False))
def test_text_and_numbers_round_trip_property(typed, text: str, number: int, real: float) -> None:  # type: ignore[no-untyped-def]
    with typed.connect() as conn:
        assert conn.execute("SELECT %s::text, %s::int, %s::double precision",
                            (text, number, real)).fetchall() == [(text, number, real)]


def test_copy_from_stdin_write_row(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE copied (a int, s text, x double precision, ok bool)")
    rows = [(k, None if k % 7 == 0 else f"tab\there {k}\\n", k * 0.5, k % 3 == 0) for k in range(1000)]
    with shared_env.connect() as conn:
        with conn.cursor().copy("COPY copied FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        assert conn.execute("SELECT a, s, x, ok FROM copied ORDER BY a").fetchall() == rows


def test_copy_csv_with_header(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE csvt (id int, name text, score double precision)")
    data = 'id,name,score\n1,"Smith, Ann",1.5\n2,plain,\n3,"say ""hi""",-3\n'
    with shared_env.connect() as conn:
        with conn.cursor().copy("COPY csvt FROM STDIN WITH (FORMAT CSV, HEADER true)") as copy:
            copy.write(data)
        assert conn.execute("SELECT id, name, score FROM csvt ORDER BY id").fetchall() == [
            (1, "Smith, Ann", 1.5), (2, "plain", None), (3, 'say "hi"', -3.0)]


def test_copy_million_rows(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE million (a int, b int)")
    chunk = "".join(f"{k}\t{k % 10}\n" for k in range(100_000))
    with shared_env.connect() as conn:
        with conn.cursor().copy("COPY million FROM STDIN") as copy:
            for _ in range(10):
                copy.write(chunk)
        assert conn.execute("SELECT count(*) FROM million").fetchall() == [(1_000_000,)]
        assert conn.execute("SELECT count(*) FROM million WHERE b = 3").fetchall() == [(100_000,)]


def test_transaction_commit_is_all_or_nothing(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE tx (a int)")
    with shared_env.connect(autocommit=False) as conn, shared_env.connect() as observer:
        conn.execute("INSERT INTO tx VALUES (1)")
        conn.execute("INSERT INTO tx VALUES (2)")
        assert observer.execute("SELECT count(*) FROM tx").fetchall() == [(0,)]  # not yet visible
        conn.commit()
        assert observer.execute("SELECT a FROM tx ORDER BY a").fetchall() == [(1,), (2,)]
        conn.execute("INSERT INTO tx VALUES (3)")
        conn.execute("INSERT INTO tx VALUES (4)")
        conn.rollback()
        assert observer.execute("SELECT a FROM tx ORDER BY a").fetchall() == [(1,), (2,)]


def test_explicit_begin_commit_rollback_statements(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE tx2 (a int)")
    with shared_env.connect() as conn:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO tx2 VALUES (1)")
        conn.execute("INSERT INTO tx2 VALUES (2)")
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO tx2 VALUES (3)")
        conn.execute("ROLLBACK")
    assert shared_env.query("SELECT a FROM tx2 ORDER BY a") == [(1,), (2,)]


@pytest.mark.parametrize("failing", ["SELECT * FROM tx3_missing", "SELECT 1 / (a - a) FROM tx3"],
                         ids=["planning_error", "execution_error"])
def test_failed_transaction_is_aborted_and_discarded(shared_env, failing: str) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    shared_env.execute("DROP TABLE IF EXISTS tx3", "CREATE TABLE tx3 (a int)", "INSERT INTO tx3 VALUES (0)")
    with shared_env.connect(autocommit=False) as conn:
        conn.execute("INSERT INTO tx3 VALUES (1)")
        with pytest.raises(psycopg.Error):
            conn.execute(failing)
        assert conn.info.transaction_status.name == "INERROR"
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("INSERT INTO tx3 VALUES (2)")
        conn.rollback()
        conn.execute("INSERT INTO tx3 VALUES (5)")
        conn.commit()
    assert shared_env.query("SELECT a FROM tx3 ORDER BY a") == [(0,), (5,)]
