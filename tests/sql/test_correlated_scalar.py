"""Correlated scalar subqueries and IN / NOT IN / EXISTS used as values (sql/scalar_subquery.py,
sql/correlated_scalar.py): the plans' shapes, and their answers against DuckDB on the same data.

Plans are evaluated by the from-scratch evaluator of the dataflow tests (tests/dataflow/dataflow_naive.py)
over hypothesis-generated tables (duplicates and NULLs included); DuckDB answers the same SQL over the same
rows.  A query DuckDB refuses with "more than one row returned by a subquery" must fail with 21000 here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as hs

from steadystate import errors
from steadystate.expr.ir import Distinct, Join, RelationExpr, Threshold, children
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan

from naive_plans import naive

SMALL = hs.one_of(hs.none(), hs.integers(0, 3))
T_ROWS = hs.lists(hs.tuples(hs.integers(0, 3), hs.sampled_from(["x", "y", None]), hs.none()), max_size=6)
U_ROWS = hs.lists(hs.tuples(SMALL, hs.none()), max_size=6)

QUERIES = [
    # the count bug: customers without orders get 0, not NULL; NULL keys never match
    "SELECT t.a, (SELECT count(*) FROM u WHERE u.a = t.a) AS n FROM t",
    "SELECT u.a, (SELECT count(t.b) FROM t WHERE t.a = u.a) AS n FROM u",
    "SELECT u.a, (SELECT max(t.b) FROM t WHERE t.a = u.a) AS m FROM u",
    "SELECT u.a, (SELECT count(*) + 10 * count(t.b) FROM t WHERE t.a = u.a AND t.b IS NOT NULL) AS n FROM u",
    "SELECT u.a, CASE WHEN (SELECT sum(t.a) FROM t WHERE t.a = u.a) > 2 THEN 'big' ELSE 'small' END AS s FROM u",
    # in WHERE, against the outer row's own group
    "SELECT t.a, t.b FROM t WHERE t.a >= (SELECT max(t2.a) FROM t AS t2 WHERE t2.b = t.b)",
    "SELECT t.a FROM t WHERE t.b = 'x' AND (SELECT count(*) FROM u WHERE u.a = t.a) < 2",
    # non-equality correlation (a residual predicate on the join)
    "SELECT t.a, (SELECT count(*) FROM u WHERE u.a < t.a) AS n FROM t",
    # several or no rows per outer row: a value, NULL, or 21000
    "SELECT u.a, (SELECT DISTINCT t.a FROM t WHERE t.a = u.a) AS v FROM u",
    "SELECT u.a, (SELECT t.b FROM t WHERE t.a = u.a) AS v FROM u",
    "SELECT u.a, (SELECT count(*) FROM t WHERE t.a = u.a GROUP BY t.b) AS v FROM u",
    "SELECT u.a, (SELECT max(t.b) FROM t WHERE t.a = u.a HAVING count(*) > 1) AS v FROM u",
    # ORDER BY ... LIMIT / OFFSET per outer value
    "SELECT u.a, (SELECT t.b FROM t WHERE t.a = u.a ORDER BY t.b DESC LIMIT 1) AS v FROM u",
    "SELECT u.a, (SELECT t.a FROM t WHERE t.a <= u.a ORDER BY t.a DESC LIMIT 1 OFFSET 1) AS v FROM u",
    "SELECT u.a, (SELECT count(*) FROM t WHERE t.a = u.a LIMIT 0) AS v FROM u",
    # the select list and HAVING of an aggregating query: outer references are group keys
    "SELECT t.b, count(*) AS n, (SELECT count(*) FROM t AS t2 WHERE t2.b = t.b) AS m FROM t GROUP BY t.b",
    "SELECT t.b FROM t GROUP BY t.b HAVING count(*) = (SELECT count(*) FROM u WHERE u.a IS NOT NULL)",
    "SELECT t.a, count(*) AS n FROM t GROUP BY t.a HAVING count(*) > (SELECT count(*) FROM u WHERE u.a = t.a)",
    # IN / NOT IN / EXISTS with three-valued answers in the select list
    "SELECT u.a, u.a IN (SELECT a FROM t) AS i, u.a NOT IN (SELECT a FROM t WHERE b = 'x') AS ni FROM u",
    "SELECT t.a, t.a NOT IN (SELECT u.a FROM u) AS ni, t.a IN (SELECT u.a FROM u WHERE u.a <= t.a) AS ci FROM t",
    "SELECT u.a, u.a NOT IN (SELECT t.a FROM t WHERE t.b = 'y') AS ni, EXISTS (SELECT 1 FROM t WHERE t.a = u.a) AS e,"
    " NOT EXISTS (SELECT 1 FROM t WHERE t.a = u.a AND t.b IS NULL) AS ne FROM u",
    "SELECT t.b, count(*) IN (SELECT u.a FROM u) AS i FROM t GROUP BY t.b",
    "SELECT t.a, t.b, t.b NOT IN (SELECT t2.b FROM t AS t2 WHERE t2.a = t.a AND t2.b <> 'x') AS ni,"
    " EXISTS (SELECT * FROM u WHERE u.a > t.a) AS e FROM t",
    # correlated IN / EXISTS over aggregates, GROUP BY ... HAVING, LIMIT: decorrelated as a whole
    "SELECT u.a, u.a IN (SELECT max(t.a) FROM t WHERE t.a = u.a) AS i,"
    " EXISTS (SELECT t.b FROM t WHERE t.a = u.a GROUP BY t.b HAVING count(*) > 1) AS e FROM u",
    "SELECT t.a, t.b, t.b NOT IN (SELECT t2.b FROM t AS t2 WHERE t2.a = t.a ORDER BY t2.b LIMIT 1) AS ni FROM t",
    "SELECT t.a FROM t WHERE EXISTS (SELECT max(u.a) FROM u WHERE u.a = t.a)",
    "SELECT t.a FROM t WHERE t.a NOT IN (SELECT max(u.a) FROM u WHERE u.a < t.a)",
    "SELECT t.a FROM t WHERE NOT EXISTS (SELECT u.a FROM u WHERE u.a = t.a GROUP BY u.a HAVING count(*) > 1)",
    "SELECT t.a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a AND EXISTS (SELECT 1 FROM u AS w WHERE w.a < 2))",
    "SELECT t.a, t.a IN (SELECT u.a FROM u WHERE u.a = t.a AND u.a NOT IN (SELECT t3.a FROM t AS t3 WHERE t3.b = 'y')) AS i"
    " FROM t",
    # a subquery inside the correlated one, correlated to it
    "SELECT t.a, t.a IN (SELECT u.a FROM u WHERE u.a = t.a AND EXISTS (SELECT 1 FROM t AS w WHERE w.b = 'x' AND w.a = u.a))"
    " AS i FROM t",
    "SELECT u.a, (SELECT t.b FROM t WHERE t.a = u.a AND t.b NOT IN (SELECT w.b FROM t AS w WHERE w.a > t.a)"
    " ORDER BY t.b LIMIT 1) AS b FROM u",
    "SELECT t.a, (SELECT count(*) FROM u WHERE u.a = t.a AND u.a NOT IN (SELECT t3.a FROM t AS t3 WHERE t3.b = 'y')) AS n"
    " FROM t",
    "SELECT t.a, (SELECT max(u.a) FROM u WHERE u.a <= t.a AND EXISTS (SELECT 1 FROM t AS w WHERE w.a = u.a AND w.b = 'x'))"
    " AS m FROM t",
    # NOT IN in WHERE: only TRUE keeps the row
    "SELECT u.a FROM u WHERE u.a NOT IN (SELECT t.a FROM t WHERE t.b = 'y')",
    "SELECT t.a FROM t WHERE t.a NOT IN (SELECT u.a FROM u)",
    "SELECT t.a FROM t WHERE t.a NOT IN (SELECT u.a FROM u WHERE u.a <> t.a)",
    "SELECT t.a FROM t WHERE t.b IS NULL OR t.a IN (SELECT u.a FROM u)",
    "SELECT t.a, t.b FROM t WHERE t.b = 'y' OR EXISTS (SELECT 1 FROM u WHERE u.a = t.a)",
    "SELECT t.a FROM t WHERE NOT (t.a IN (SELECT u.a FROM u WHERE u.a <> t.a + 1))",
    # a correlated subquery inside a derived table and a CTE
    "WITH c AS (SELECT t.a, (SELECT count(*) FROM u WHERE u.a = t.a) AS n FROM t) SELECT s.a, s.n FROM c AS s",
]

DUCK_DDL = ("CREATE TABLE t (a INTEGER NOT NULL, b VARCHAR, c DOUBLE)", "CREATE TABLE u (a INTEGER, d DATE)")


def naive_answer(ctx: Any, sql: str, t_rows: list, u_rows: list) -> Counter | errors.SteadyError:
    select = plan(parse_one(sql), ctx)
    try:
        return +naive.evaluate_plan(select.expr, {"u1": Counter(t_rows), "u2": Counter(u_rows)})  # type: ignore[union-attr]
    except errors.SteadyError as error:
        return error


def duck_answer(sql: str, t_rows: list, u_rows: list) -> Counter | str:
    conn = duckdb.connect(":memory:")
    try:
        conn.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")  # PostgreSQL's
        for ddl in DUCK_DDL:
            conn.execute(ddl)
        if t_rows:
            conn.executemany("INSERT INTO t VALUES (?, ?, ?)", t_rows)
        if u_rows:
            conn.executemany("INSERT INTO u VALUES (?, ?)", u_rows)
        try:
            return Counter(conn.execute(sql).fetchall())
        except duckdb.Error as error:
            return str(error)
    finally:
        conn.close()


@pytest.mark.parametrize("sql", QUERIES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t_rows=T_ROWS, u_rows=U_ROWS)
def test_answers_match_duckdb(ctx, sql: str, t_rows: list, u_rows: list) -> None:  # type: ignore[no-untyped-def]
    ours = naive_answer(ctx, sql, t_rows, u_rows)
    theirs = duck_answer(sql, t_rows, u_rows)
    if isinstance(theirs, str):
        assert "More than one row returned by a subquery" in theirs, theirs
        assert isinstance(ours, errors.SteadyError) and ours.sqlstate == "21000", ours
        assert str(ours) == "more than one row returned by a subquery used as an expression"
        return
    assert not isinstance(ours, errors.SteadyError), ours
    normalized = Counter({tuple(int(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in row): n
                          for row, n in ours.items()})
    assert normalized == theirs


def test_count_bug_example(ctx) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT t.a, (SELECT count(*) FROM u WHERE u.a = t.a) AS n FROM t"
    assert naive_answer(ctx, sql, [(1, "x", None), (2, "y", None), (2, "y", None)], [(1, None), (None, None)]) \
        == Counter({(1, 1): 1, (2, 0): 2})


def test_not_in_three_valued(ctx) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT u.a, u.a NOT IN (SELECT t.a FROM t WHERE t.b = 'x') AS ni FROM u"
    u = [(1, None), (None, None), (3, None)]
    assert naive_answer(ctx, sql, [], u) == Counter({(1, True): 1, (None, True): 1, (3, True): 1})  # empty: TRUE
    assert naive_answer(ctx, sql, [(1, "x", None)], u) == Counter({(1, False): 1, (None, None): 1, (3, True): 1})


def _nodes(expr: RelationExpr) -> list[RelationExpr]:
    out, stack = [], [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children(node))
    return out


def test_correlated_scalar_plans_into_joins_over_the_distinct_outer_values(ctx) -> None:  # type: ignore[no-untyped-def]
    select = plan(parse_one("SELECT t.a, (SELECT max(u.a) FROM u WHERE u.a = t.a) FROM t"), ctx)
    nodes = _nodes(select.expr)  # type: ignore[union-attr]
    joins = [n for n in nodes if isinstance(n, Join)]
    assert any(n for n in nodes if isinstance(n, Distinct))  # the domain
    assert any(j.equivalences for j in joins)  # correlation became join keys, not a filter on a cross product
    assert any(isinstance(n, Threshold) for n in nodes)  # the LEFT join that gives empty groups their row
    assert select.desc.names == ("a", "max")  # type: ignore[union-attr]


def test_outer_reference_must_be_grouped(ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.SteadyError) as info:
        plan(parse_one("SELECT t.b, (SELECT count(*) FROM u WHERE u.a = t.a) FROM t GROUP BY t.b"), ctx)
    assert info.value.sqlstate == "42803"


def _plan_size(ctx, sql: str) -> int:  # type: ignore[no-untyped-def]
    return len(_nodes(plan(parse_one(sql), ctx).expr))  # type: ignore[union-attr]


@pytest.mark.parametrize("item", ["(SELECT count(*) FROM u WHERE u.a = t.a + {i})",
                                  "t.a NOT IN (SELECT u.a FROM u WHERE u.a > {i})"])
def test_each_subquery_adds_one_join_not_a_copy_of_the_plan(ctx, item: str) -> None:  # type: ignore[no-untyped-def]
    """Domains come from the FROM relation, not from the relation with the earlier subqueries' columns."""
    sizes = [_plan_size(ctx, "SELECT t.a, " + ", ".join(item.format(i=i) for i in range(n)) + " FROM t")
             for n in (1, 4)]
    assert sizes[1] <= 4 * sizes[0]
