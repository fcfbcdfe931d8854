"""Quantified comparisons with a subquery — ``x op ANY (SELECT ...)`` and ``x op ALL (SELECT ...)`` for every
comparison operator, uncorrelated and correlated — against the real PostgreSQL server.

One-shot queries over fixed tables (empty subquery, NULL probe, NULL items) must answer alike byte for byte
(``scalar_support.same``). Maintained results — a materialized view and an indexed view over tables written by
hypothesis with random inserts and deletes — must equal PostgreSQL's answer to the same query after every write.
"""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import postgres_server, same

__all__ = ["postgres_server"]

_NAMES = itertools.count()
OPS = ("=", "<>", "<", "<=", ">", ">=")


def both(connections: tuple[psycopg.Connection, psycopg.Connection], sql: str) -> None:
    for conn in connections:
        conn.execute(sql)


@pytest.fixture(scope="module")
def tables(connections: tuple[psycopg.Connection, psycopg.Connection]) -> dict[str, str]:
    names = {kind: f"q_{kind}{next(_NAMES)}" for kind in ("o", "s", "e", "n")}
    both(connections, f"CREATE TABLE {names['o']} (x int)")
    both(connections, f"INSERT INTO {names['o']} VALUES (1), (2), (3), (NULL)")
    both(connections, f"CREATE TABLE {names['s']} (a int, g int)")
    both(connections, f"INSERT INTO {names['s']} VALUES (2, 1), (1, 2), (3, 2), (5, 3)")
    both(connections, f"CREATE TABLE {names['e']} (a int, g int)")  # empty
    both(connections, f"CREATE TABLE {names['n']} (a int, g int)")
    both(connections, f"INSERT INTO {names['n']} VALUES (2, 1), (NULL, 1), (NULL, 2), (4, 3)")
    return names


ONE_SHOT = [
    f"SELECT x, x {op} {q} (SELECT a FROM {{{s}}}) AS r FROM {{o}} ORDER BY x"
    for op in OPS for q in ("ANY", "ALL") for s in ("s", "e", "n")
] + [
    f"SELECT x, x {op} {q} (SELECT a FROM {{{s}}} WHERE g = x) AS r FROM {{o}} ORDER BY x"
    for op in OPS for q in ("ANY", "ALL") for s in ("s", "n")
] + [
    "SELECT x FROM {o} WHERE x < ANY (SELECT a FROM {n}) ORDER BY x",
    "SELECT x FROM {o} WHERE NOT (x >= ALL (SELECT a FROM {s} WHERE a <> x)) ORDER BY x",
    "SELECT x, x + 1 > SOME (SELECT a * 2 FROM {s} UNION ALL SELECT a FROM {n}) AS r FROM {o} ORDER BY x",
    "SELECT 2 > ANY (SELECT a FROM {s}), NULL::int <= ALL (SELECT a FROM {e}), 1 < ALL (SELECT 2)",
    "SELECT x FROM {o} WHERE x > ANY (SELECT a, g FROM {s})",  # too many columns: an error on both
]


@pytest.mark.parametrize("sql", ONE_SHOT)
def test_quantified_comparison_agrees_with_postgresql(connections: Any, tables: dict[str, str], sql: str) -> None:
    same(connections, sql.format(**tables))


def answers(conn: psycopg.Connection, sql: str) -> list[tuple] | tuple[str, str]:
    try:
        return sorted(conn.execute(sql).fetchall(), key=repr)
    except psycopg.Error as exc:
        return ("error", str(exc.diag.sqlstate))


MAINTAINED = (
    "SELECT x, x > ANY (SELECT a FROM {s}) AS gt_any, x <= ALL (SELECT a FROM {s}) AS le_all, "
    "x = ALL (SELECT a FROM {s}) AS eq_all, x <> ANY (SELECT a FROM {s}) AS ne_any, "
    "x < ANY (SELECT a FROM {s} WHERE g = x) AS lt_any_c, x >= ALL (SELECT a FROM {s} WHERE g = x) AS ge_all_c "
    "FROM {o}"
)
VALUE = st.one_of(st.none(), st.integers(0, 4))
WRITE = st.one_of(
    st.tuples(st.just("o+"), st.lists(VALUE, min_size=1, max_size=3)),
    st.tuples(st.just("s+"), st.lists(st.tuples(VALUE, VALUE), min_size=1, max_size=3)),
    st.tuples(st.just("o-"), VALUE), st.tuples(st.just("s-"), VALUE))


def _sql(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _write(connections: Any, o: str, s: str, kind: str, argument: Any) -> None:
    if kind == "o+":
        both(connections, f"INSERT INTO {o} VALUES " + ", ".join(f"({_sql(v)})" for v in argument))
    elif kind == "s+":
        both(connections, f"INSERT INTO {s} VALUES " + ", ".join(f"({_sql(a)}, {_sql(g)})" for a, g in argument))
    elif kind == "o-":
        both(connections, f"DELETE FROM {o} WHERE x IS NOT DISTINCT FROM {_sql(argument)}")
    else:
        both(connections, f"DELETE FROM {s} WHERE a IS NOT DISTINCT FROM {_sql(argument)}")


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(initial=st.lists(WRITE, max_size=3), writes=st.lists(WRITE, min_size=1, max_size=6))
def test_maintained_quantified_comparisons_follow_writes(connections: Any, initial: list[tuple],
                                                         writes: list[tuple]) -> None:
    ours, theirs = connections
    n = next(_NAMES)
    o, s = f"qm_o{n}", f"qm_s{n}"
    both(connections, f"CREATE TABLE {o} (x int)")
    both(connections, f"CREATE TABLE {s} (a int, g int)")
    try:
        for kind, argument in initial:
            _write(connections, o, s, kind, argument)
        query = MAINTAINED.format(o=o, s=s)
        ours.execute(f"CREATE MATERIALIZED VIEW {o}_mv AS {query}")
        ours.execute(f"CREATE VIEW {o}_v AS {query}")
        ours.execute(f"CREATE INDEX {o}_i ON {o}_v (x)")
        for step, (kind, argument) in enumerate([("o+", [None])] + writes):
            if step:
                _write(connections, o, s, kind, argument)
            expected = answers(theirs, query)
            for view in (f"{o}_mv", f"{o}_v"):
                mine = answers(ours, f"SELECT * FROM {view}")
                assert mine == expected, f"{view} after {kind} {argument}:\n{mine}\n{expected}"
    finally:
        ours.execute(f"DROP TABLE {o} CASCADE")
        ours.execute(f"DROP TABLE {s} CASCADE")
        theirs.execute(f"DROP TABLE {o}")
        theirs.execute(f"DROP TABLE {s}")
