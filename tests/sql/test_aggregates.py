"""Aggregates beyond the basic ones (sql/query.py, expr/aggregates.py): stddev/variance (pop and samp), FILTER
(WHERE ...) and DISTINCT on every aggregate, bool_and/bool_or, and SELECT DISTINCT ON — each maintained by the
real operators through generated write batches and compared with DuckDB after every batch (the harness of
tests/sql/join_support.py; numbers compare to 12 significant digits, as DuckDB answers stddev of integers in
double where PostgreSQL answers numeric).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate import errors
from steadystate.expr import ir
from steadystate.expr.aggregates import StringAggState, VarianceState

from join_support import Duck, check_maintained, optimized, plan_query
from test_joins import batches


@pytest.fixture(scope="module")
def duck() -> Iterator[Duck]:
    d = Duck()
    yield d
    d.close()


CORPUS = [
    "SELECT k, stddev(a) AS s, stddev_samp(a) AS ss, stddev_pop(a) AS sp, variance(a) AS v, var_samp(a) AS vs,"
    " var_pop(a) AS vp FROM t1 GROUP BY k",
    "SELECT var_pop(CAST(a AS double precision)) AS v, stddev(CAST(a AS double precision)) AS s,"
    " var_samp(CAST(a AS numeric) / 3) AS n FROM t1",
    "SELECT k, count(*) FILTER (WHERE a > 1) AS n, sum(a) FILTER (WHERE a < 3) AS s, max(a) FILTER (WHERE k = 1) AS m,"
    " avg(a) FILTER (WHERE a IS NOT NULL) AS av, stddev_pop(a) FILTER (WHERE a <> 2) AS sd FROM t1 GROUP BY k",
    "SELECT count(*) FILTER (WHERE k IS NULL) AS n, min(a) FILTER (WHERE false) AS m FROM t1",
    "SELECT k, sum(DISTINCT a) AS s, avg(DISTINCT a) AS av, min(DISTINCT a) AS mi, max(DISTINCT a) AS ma,"
    " count(DISTINCT a) FILTER (WHERE a > 0) AS c, bool_and(DISTINCT a > 1) AS b, var_pop(DISTINCT a) AS v"
    " FROM t1 GROUP BY k",
    "SELECT t1.k, bool_or(t2.b > 1) AS bo, bool_and(t2.b IS NULL) FILTER (WHERE t1.a > 1) AS ba"
    " FROM t1 LEFT JOIN t2 USING (k) GROUP BY t1.k",
    "SELECT k, count(*) AS n FROM t1 GROUP BY k HAVING count(*) FILTER (WHERE a > 1) > 0",
    # string_agg with its own ORDER BY (DuckDB, like PostgreSQL, leaves the order open without one)
    "SELECT k, string_agg(CAST(a AS text), ',' ORDER BY a DESC) AS s FROM t1 GROUP BY k",
    "SELECT string_agg(CAST(a AS text), '-' ORDER BY k NULLS FIRST, a) AS s,"
    " string_agg(DISTINCT CAST(k AS text), '' ORDER BY CAST(k AS text) DESC) AS d FROM t1",
    "SELECT t1.k, string_agg(CAST(t2.b AS text), ';' ORDER BY t2.b) FILTER (WHERE t2.b > 0) AS s"
    " FROM t1 LEFT JOIN t2 USING (k) GROUP BY t1.k",
    "SELECT k, string_agg(CAST(a AS text), ',' ORDER BY CAST(a AS text)) AS s, sum(a ORDER BY k) AS t FROM t1 GROUP BY k",
    # in correlated subqueries (count with FILTER still counts 0 for an outer row without matches)
    "SELECT t1.k, (SELECT count(*) FILTER (WHERE c > 1) FROM t3 WHERE t3.k = t1.k) AS n FROM t1",
    "SELECT t1.k, (SELECT string_agg(CAST(c AS text), ',' ORDER BY c) FROM t3 WHERE t3.k >= t1.k) AS s FROM t1",
    "SELECT t1.k, (SELECT stddev_pop(c) FROM t3 WHERE t3.k >= t1.k) AS s FROM t1",
    "SELECT t1.k FROM t1 WHERE t1.a > (SELECT count(*) FILTER (WHERE t2.b > 1) FROM t2 WHERE t2.k = t1.k)",
    # DISTINCT ON: the first row per group in the ORDER BY order
    "SELECT DISTINCT ON (k) k, a FROM t1 ORDER BY k, a DESC",
    "SELECT DISTINCT ON (k) a FROM t1 ORDER BY k, a NULLS FIRST",
    "SELECT DISTINCT ON (k, a IS NULL) k, a FROM t1 ORDER BY a IS NULL, k, a",
    "SELECT DISTINCT ON (t1.k) t1.k, t2.b FROM t1 LEFT JOIN t2 ON t1.k = t2.k ORDER BY t1.k, t2.b DESC NULLS LAST",
    "SELECT * FROM (SELECT DISTINCT ON (k) k, a FROM t1 ORDER BY k, a) AS s WHERE a > 1",
    "SELECT DISTINCT ON (k) k, a FROM t1 ORDER BY k DESC, a LIMIT 2",
]


@pytest.mark.parametrize("sql", CORPUS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=batches())
def test_aggregates_are_maintained_like_duckdb(duck: Duck, sql: str, changes) -> None:  # type: ignore[no-untyped-def]
    check_maintained(sql, changes, duck)


def test_distinct_on_is_a_top_1_per_group() -> None:
    expr = optimized("SELECT DISTINCT ON (k) k, a FROM t1 ORDER BY k, a")
    assert isinstance(expr, ir.TopK) and expr.limit == 1 and expr.group_key == (0,)


@pytest.mark.parametrize("sql, sqlstate", [
    ("SELECT DISTINCT ON (k) k, a FROM t1 ORDER BY a", "42P10"),
    ("SELECT stddev(CAST(a AS text)) FROM t1", "42883"),
    ("SELECT count(*) FILTER (WHERE count(*) > 1) FROM t1", "42803"),
    ("SELECT count(*) FILTER (WHERE a) FROM t1", "42804"),
    ("SELECT string_agg(a, ',') FROM t1", "42883"),
    ("SELECT string_agg(DISTINCT CAST(a AS text), ',' ORDER BY k) FROM t1", "42P10"),
])
def test_bad_aggregates_are_refused(sql: str, sqlstate: str) -> None:
    with pytest.raises(errors.SteadyError) as caught:
        plan_query(sql)
    assert caught.value.sqlstate == sqlstate, caught.value


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.integers(-10**6, 10**6)), min_size=2, max_size=8),
       removed=st.lists(st.floats(-1e15, 1e15), max_size=4))
def test_variance_forgets_retracted_values_exactly(values: list, removed: list[float]) -> None:
    """Values added and retracted leave no trace (a float running sum keeps their rounding)."""
    floats = [float(v) for v in values]
    clean, noisy = VarianceState(True, False, True), VarianceState(True, False, True)
    for v in floats:
        clean.add(v, 1)
        noisy.add(v, 1)
    for v in removed:
        noisy.add(v, 1)
    for v in removed:
        noisy.add(v, -1)
    assert noisy.result() == clean.result()
    numeric = VarianceState(False, True, False)
    for v in values:
        numeric.add(Decimal(v) if isinstance(v, int) else v, 1)
    mean = sum(floats) / len(floats)
    assert math.isclose(float(numeric.result()), math.sqrt(sum((v - mean) ** 2 for v in floats) / len(floats)),
                        rel_tol=1e-9, abs_tol=1e-6)


def test_string_agg_puts_each_row_s_own_delimiter_before_its_value() -> None:
    """PostgreSQL's definition (DuckDB only takes a constant delimiter): every value but the first is preceded by
    the delimiter of its own row, none when that delimiter is NULL; NULL values are skipped with their delimiter."""
    state = StringAggState(((False, True),))
    rows = [("10", "+", (10,)), ("3", "/", (3,)), ("20", "+", (20,)), ("x", None, (15,)), (None, "!", (1,))]
    for row in rows:
        state.add(row, 1)
    state.add(("7", "?", (7,)), 2)
    state.add(("7", "?", (7,)), -2)
    kept = sorted((r for r in rows if r[0] is not None), key=lambda r: r[2])
    expected = kept[0][0] + "".join((r[1] or "") + r[0] for r in kept[1:])
    assert state.result() == expected == "3+10x+20"
