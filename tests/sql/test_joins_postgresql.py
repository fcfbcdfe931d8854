"""The join and aggregate corpora (tests/sql/test_joins.py, tests/sql/test_aggregates.py) against PostgreSQL itself.

The other tests compare with DuckDB, which is fast and in-process; these check that PostgreSQL gives the same
answers as steadystate on generated data, for the corpora and for generated join trees (so DuckDB is a fair stand-in for these queries).  The only queries
PostgreSQL refuses are FULL JOINs on a condition that is not an equality, which it cannot plan ("FULL JOIN is
only supported with merge-joinable or hash-joinable join conditions"); steadystate answers them as DuckDB does.
Skipped when the PostgreSQL binaries are absent.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from join_support import COLUMNS, Maintained, normalized
from test_aggregates import CORPUS as AGGREGATES
from test_joins import CORPUS as JOINS, queries
from test_lateral import CORPUS as LATERAL
from test_windows import CORPUS as WINDOWS, window_calls

# what DuckDB refuses but PostgreSQL answers (so only this file can check it)
POSTGRES_ONLY = [
    "SELECT * FROM t1 NATURAL JOIN (SELECT 1 AS z) AS s",  # no common column: a cross join
    "SELECT * FROM t1 NATURAL FULL JOIN t2 NATURAL JOIN (SELECT 2 AS z) AS s",
    # string_agg with a delimiter per row (DuckDB takes only a constant)
    "SELECT k, string_agg(CAST(a AS text), CASE WHEN a > 1 THEN '+' ELSE '/' END ORDER BY a) AS s FROM t1 GROUP BY k",
    "SELECT string_agg(CAST(k AS text), CAST(a AS text) ORDER BY k, a) AS s FROM t1",
]
WINDOWS_POSTGRES_ONLY = [  # lag's default of another type, RANGE offsets of another numeric type, ntile(NULL)
    "SELECT k, a, lag(a, 1, 2.5) OVER (ORDER BY a, k) AS p, ntile(NULL) OVER () AS n FROM t1",
    "SELECT k, a, sum(a) OVER (ORDER BY CAST(a AS numeric) / 2 RANGE BETWEEN 0.5 PRECEDING AND 0.5 FOLLOWING) AS s,"
    " nth_value(k, NULL) OVER () AS n FROM t1",
    "SELECT k, a, avg(CAST(a AS float8)) OVER (ORDER BY a, k ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) AS av FROM t1",
]

VALUE = st.one_of(st.none(), st.integers(0, 3))
DATA = st.fixed_dictionaries({name: st.lists(st.tuples(VALUE, VALUE), max_size=6) for name in COLUMNS})


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS joins CASCADE")
        conn.execute("CREATE SCHEMA joins")
        conn.execute("SET search_path TO joins")
        for name, cols in COLUMNS.items():
            conn.execute(f"CREATE TABLE {name} ({', '.join(f'{c} int' for c in cols)})")  # type: ignore[arg-type]
        yield conn


def _postgres_answer(conn: psycopg.Connection, sql: str) -> Counter | None:
    try:
        return Counter(conn.execute(sql).fetchall())  # type: ignore[arg-type]
    except psycopg.errors.FeatureNotSupported as error:
        assert "FULL JOIN is only supported with merge-joinable or hash-joinable join conditions" in str(error)
        return None


def _load(conn: psycopg.Connection, data: dict[str, list[tuple]]) -> None:
    for name in COLUMNS:
        conn.execute(f"TRUNCATE {name}")  # type: ignore[arg-type]
        if data[name]:
            conn.cursor().executemany(f"INSERT INTO {name} VALUES (%s, %s)", data[name])  # type: ignore[arg-type]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DATA)
def test_corpora_answer_as_postgresql(postgres: psycopg.Connection, data: dict[str, list[tuple]]) -> None:
    _load(postgres, data)
    refused = 0
    for sql in JOINS + AGGREGATES + POSTGRES_ONLY:
        expected = _postgres_answer(postgres, sql)
        if expected is None:
            refused += 1
            continue
        got = Maintained(sql).apply({name: [(row, 1) for row in rows] for name, rows in data.items()})[0]
        assert normalized(got) == normalized(expected), f"{sql}\n got {got}\n postgres {expected}"
    assert refused <= 3


@settings(max_examples=int(os.environ.get("JOIN_EXAMPLES", "80")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=queries(), data=DATA)
def test_generated_join_trees_answer_as_postgresql(postgres: psycopg.Connection, sql: str,
                                                   data: dict[str, list[tuple]]) -> None:
    _load(postgres, data)
    expected = _postgres_answer(postgres, sql)
    if expected is not None:
        got = Maintained(sql).apply({name: [(row, 1) for row in rows] for name, rows in data.items()})[0]
        assert normalized(got) == normalized(expected), f"{sql}\n got {got}\n postgres {expected}"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DATA)
def test_windows_and_lateral_answer_as_postgresql(postgres: psycopg.Connection, data: dict[str, list[tuple]]) -> None:
    _load(postgres, data)
    for sql in WINDOWS + WINDOWS_POSTGRES_ONLY + LATERAL:
        expected = Counter(postgres.execute(sql).fetchall())  # type: ignore[arg-type]
        got = Maintained(sql).apply({name: [(row, 1) for row in rows] for name, rows in data.items()})[0]
        assert normalized(got) == normalized(expected), f"{sql}\n got {got}\n postgres {expected}"


def test_window_refusals_are_postgresql_s(postgres: psycopg.Connection) -> None:
    """Every window query steadystate refuses with a SQLSTATE other than 0A000, PostgreSQL refuses the same way."""
    from steadystate import errors
    from join_support import plan_query
    from test_windows import test_bad_windows_are_refused

    cases = test_bad_windows_are_refused.pytestmark[0].args[1]  # type: ignore[attr-defined]
    checked = 0
    for sql, sqlstate in cases:
        with pytest.raises(errors.SteadyError):
            plan_query(sql)
        if sqlstate == "0A000":
            continue
        with pytest.raises(psycopg.Error) as caught:
            postgres.execute(sql)  # type: ignore[arg-type]
        assert caught.value.sqlstate == sqlstate, (sql, caught.value)
        checked += 1
    assert checked >= 10


@settings(max_examples=int(os.environ.get("WINDOW_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(window_calls(), min_size=1, max_size=3), data=DATA)
def test_generated_window_queries_answer_as_postgresql(postgres: psycopg.Connection, calls: list[str],
                                                       data: dict[str, list[tuple]]) -> None:
    sql = "SELECT k, a, " + ", ".join(f"{call} AS w{i}" for i, call in enumerate(calls)) + " FROM t1"
    if len(calls) > 1:  # two copies of one row: which gets which value of each window is each engine's choice
        data = {**data, "t1": list(dict.fromkeys(data["t1"]))}
    _load(postgres, data)
    expected = Counter(postgres.execute(sql).fetchall())  # type: ignore[arg-type]
    got = Maintained(sql).apply({name: [(row, 1) for row in rows] for name, rows in data.items()})[0]
    assert normalized(got) == normalized(expected), f"{sql}\n got {got}\n postgres {expected}"
