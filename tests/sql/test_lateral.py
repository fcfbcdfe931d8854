"""LATERAL subqueries in FROM (sql/lateral.py): decorrelated and maintained by the real operators through generated
write batches, compared with DuckDB after every batch (tests/sql/join_support.py); the top-k-per-group idiom's plan
is a TopK grouped by the outer key; what is refused.
"""

from __future__ import annotations

from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from steadystate import errors
from steadystate.expr import ir

from join_support import Duck, check_maintained, optimized, plan_query
from test_joins import batches


@pytest.fixture(scope="module")
def duck() -> Iterator[Duck]:
    d = Duck()
    yield d
    d.close()


CORPUS = [
    # top-k per group (ties broken by the whole row: ORDER BY c DESC, then k)
    "SELECT t1.k, t1.a, l.c FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k ORDER BY c DESC, k LIMIT 2) AS l",
    "SELECT t1.k, l.c FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k ORDER BY c NULLS FIRST LIMIT 1 OFFSET 1)"
    " AS l",
    # aggregates per outer row: exactly one row each (count 0 where nothing matches)
    "SELECT * FROM t1, LATERAL (SELECT count(*) AS n, max(c) AS m, sum(c) AS s FROM t3 WHERE t3.k = t1.a) AS l",
    "SELECT t1.k, l.* FROM t1, LATERAL (SELECT t3.k AS g, count(*) AS n FROM t3 WHERE t3.c >= t1.a GROUP BY t3.k) AS l",
    # LEFT JOIN LATERAL pads the outer rows left without a row; ON filters; column aliases
    "SELECT * FROM t1 LEFT JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k) AS l ON true",
    "SELECT * FROM t1 LEFT JOIN LATERAL (SELECT c, t3.k AS z FROM t3 WHERE t3.k < t1.k) AS l (x, y) ON l.x > t1.a",
    "SELECT * FROM t1 JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k) AS l ON l.c <> t1.a",
    "SELECT * FROM t1 CROSS JOIN LATERAL (SELECT DISTINCT c FROM t3 WHERE t3.c IS NOT DISTINCT FROM t1.a) AS l",
    # referring to several items before it, to expressions of them, and to nothing
    "SELECT * FROM t1, t2, LATERAL (SELECT t1.a + t2.b AS s, c FROM t3 WHERE t3.k = t2.k) AS l",
    "SELECT * FROM t1, LATERAL (SELECT b FROM t2) AS l",
    "SELECT t1.k, l.b, m.c FROM t1, LATERAL (SELECT b FROM t2 WHERE t2.k = t1.k) AS l,"
    " LATERAL (SELECT c FROM t3 WHERE t3.k = l.b ORDER BY c LIMIT 1) AS m",
    # without FROM: computed per outer row (under its WHERE)
    "SELECT * FROM t1, LATERAL (SELECT t1.k + t1.a AS s, t1.a * 2 AS d) AS l",
    "SELECT * FROM t1 LEFT JOIN LATERAL (SELECT t1.a AS x WHERE t1.a > 1) AS l ON l.x < 3",
    # an aggregate over the lateral rows
    "SELECT t1.k, count(l.c) AS n FROM t1 LEFT JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k AND t3.c > t1.a) AS l"
    " ON true GROUP BY t1.k",
]


@pytest.mark.parametrize("sql", CORPUS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=batches())
def test_lateral_is_maintained_like_duckdb(duck: Duck, sql: str, changes) -> None:  # type: ignore[no-untyped-def]
    check_maintained(sql, changes, duck)


def test_top_k_per_group_is_a_top_k_grouped_by_the_outer_key() -> None:
    expr = optimized("SELECT t1.k, l.c FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k ORDER BY c DESC LIMIT 2)"
                     " AS l")
    found = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.TopK):
            found.append(node)
        stack.extend(ir.children(node))
    assert len(found) == 1 and found[0].limit == 2 and len(found[0].group_key) == 1, found


@pytest.mark.parametrize("sql, sqlstate", [
    ("SELECT * FROM t1 RIGHT JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k) AS l ON true", "0A000"),
    ("SELECT * FROM t1 FULL JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k) AS l ON true", "0A000"),
    ("SELECT * FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k UNION SELECT 1) AS l", "0A000"),
    ("SELECT * FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k) AS l (x, y)", "42P10"),
    ("SELECT * FROM t1, LATERAL (SELECT max(t1.a) AS m) AS l", "0A000"),
    ("SELECT * FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t9.k) AS l", "42P01"),
])
def test_bad_lateral_is_refused(sql: str, sqlstate: str) -> None:
    with pytest.raises(errors.SteadyError) as caught:
        plan_query(sql)
    assert caught.value.sqlstate == sqlstate, caught.value


def test_a_join_lateral_referring_before_the_comma_is_refused() -> None:
    """PostgreSQL lets ``a, b JOIN LATERAL (... a.x ...)`` see ``a``; steadystate refuses it (0A000) rather than
    plan it over a different join tree."""
    with pytest.raises(errors.FeatureNotSupported):
        plan_query("SELECT * FROM t1, t2 JOIN LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k) AS l ON true")


def _joins(expr: ir.RelationExpr) -> list[ir.Join]:
    out, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.Join):
            out.append(node)
        stack.extend(ir.children(node))
    return out


def _keyed_null_safely(join: ir.Join) -> bool:
    return any(isinstance(e, ir.CallUnary) and e.func == "is_null" for cls in join.equivalences for e in cls)


TOP_K = "SELECT t1.k, t1.a, l.c FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k = t1.k ORDER BY c DESC, k LIMIT 2) AS l"
NOT_DISTINCT = "SELECT t1.k, l.c FROM t1, LATERAL (SELECT c FROM t3 WHERE t3.k IS NOT DISTINCT FROM t1.k) AS l"
AGGREGATE = "SELECT t1.k, l.n FROM t1, LATERAL (SELECT count(*) AS n FROM t3 WHERE t3.k = t1.k) AS l"


def test_the_top_k_join_back_is_keyed_on_plain_columns_where_the_key_is_never_null() -> None:
    """The top-k's group key comes through ``t3.k = key`` (an inner equi-join: never NULL), so its join back to
    ``t1`` keys on ``t1.k = key`` (expr/non_null.py); where the domain key may be NULL (``IS NOT DISTINCT FROM``
    in the subquery, or an aggregate's row for every domain value) the join back stays null-safe."""
    top_k = _joins(optimized(TOP_K))
    assert len(top_k) == 2 and not any(_keyed_null_safely(j) for j in top_k)
    assert any(_keyed_null_safely(j) for j in _joins(optimized(NOT_DISTINCT)))
    assert any(_keyed_null_safely(j) for j in _joins(optimized(AGGREGATE)))


NULL_KEYS = [
    {"t1": [((None, 1), 1), ((None, 2), 1), ((1, None), 1), ((2, 5), 1), ((3, 3), 1)],
     "t3": [((None, 9), 1), ((None, None), 1), ((1, 4), 1), ((1, None), 1), ((1, 7), 1), ((2, 2), 1), ((4, 1), 1)]},
    {"t1": [((None, 1), -1), ((4, None), 1)], "t3": [((None, 9), -1), ((3, None), 1), ((1, 7), -1)]},
    {"t1": [((None, 3), 1), ((1, None), -1)], "t3": [((None, 8), 1), ((2, None), 1)]},
]


@pytest.mark.parametrize("sql", [TOP_K, NOT_DISTINCT, AGGREGATE])
def test_lateral_with_null_keys_on_both_sides_agrees_with_duckdb(duck: Duck, sql: str) -> None:
    """NULL outer keys and NULL inner keys, inserted and retracted: a NULL ``t1.k`` meets no ``t3`` row under
    ``=`` (plain key), a NULL under ``IS NOT DISTINCT FROM`` (null-safe key), and gets ``count`` 0 (null-safe)."""
    check_maintained(sql, NULL_KEYS, duck)
