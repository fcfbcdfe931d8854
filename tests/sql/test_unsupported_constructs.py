"""Constructs outside the supported SQL are refused with 0A000 naming the construct, never mis-planned."""

from __future__ import annotations

import pytest

from steadystate import errors
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan


@pytest.mark.parametrize("sql, construct", [
    ("select a, sum(a) over (order by a groups between 1 preceding and current row exclude group) from t", "EXCLUDE"),
    ("select a, sum(a) over (order by a rows current row exclude ties) from t", "EXCLUDE"),
    ("select * from (select a, count(distinct a) over () as r from t) s", "window functions"),
    ("SELECT u.a, ((SELECT t.a FROM t WHERE t.a = u.a) LIMIT 1) FROM u", "LIMIT"),
    ("SELECT u.a, (SELECT t.a FROM t WHERE t.a = u.a UNION SELECT 1) FROM u", "set operation"),
    ("SELECT * FROM t WHERE EXISTS (SELECT u.a FROM u WHERE u.a = t.a UNION SELECT 1)", "set operation"),
    ("SELECT * FROM t WHERE t.a IN (SELECT u.a FROM u WHERE u.a = t.a UNION SELECT 1)", "set operation"),
    ("SELECT t.a, (SELECT count(*) FROM u WHERE EXISTS (SELECT 1 FROM t AS t3 WHERE t3.a = t.a)) FROM t",
     "two or more levels up"),
    ("SELECT t.a, (SELECT count(*) FROM u WHERE EXISTS (SELECT 1 FROM u AS w WHERE w.a = b)) FROM t",
     "two or more levels up"),
    ("SELECT u.a, (SELECT count(*) FROM (SELECT t.a FROM t WHERE t.a = u.a) AS s) FROM u", "FROM clause"),
    ("SELECT u.a FROM u WHERE (u.a, u.a) IN (SELECT t.a, t.a FROM t)", "row-valued IN"),
    ("SELECT t.b, (SELECT count(*) FROM u WHERE u.a = max(t.a)) FROM t GROUP BY t.b", "aggregate of the outer query"),
    ("SELECT t.b, (SELECT max(t.a) FROM u WHERE u.a = 1) FROM t GROUP BY t.b", "aggregate of the outer query"),
    ("SELECT * FROM ROWS FROM (generate_series(1, 2), generate_series(1, 3))", "ROWS FROM"),
    ("SELECT * FROM t TABLESAMPLE SYSTEM (10)", "TABLESAMPLE"),
    ("SELECT * FROM (SELECT a FROM t) AS s TABLESAMPLE BERNOULLI (50)", "TABLESAMPLE"),
    ("SELECT a FROM t FOR UPDATE", "FOR UPDATE"),
    ("SELECT a FROM t WHERE a > 1 FOR SHARE NOWAIT", "FOR UPDATE/SHARE"),
])
def test_unsupported_constructs_raise_0a000(ctx, sql: str, construct: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.FeatureNotSupported) as info:
        plan(parse_one(sql), ctx)
    assert info.value.sqlstate == "0A000"
    assert construct in str(info.value)


@pytest.mark.parametrize("sql", [
    "SELECT t FROM t",
    "SELECT to_jsonb(w) FROM t AS w",
    "SELECT count(t) FROM t",
    "SELECT a FROM t WHERE t IS NOT NULL",
    "SELECT (SELECT w FROM u AS w LIMIT 1) FROM t",
    "SELECT * FROM t, LATERAL (SELECT w FROM u AS w) AS l",
])
def test_whole_row_references_raise_0a000(ctx, sql: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.WholeRowReference) as info:
        plan(parse_one(sql), ctx)
    assert info.value.sqlstate == "0A000"
    assert "whole-row reference" in str(info.value)


def test_an_outer_column_comes_before_a_whole_row_reference(ctx) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL looks a bare name up as a column at every level before it takes it for a table's row."""
    plan(parse_one("SELECT (SELECT c FROM u AS c LIMIT 1) FROM t"), ctx)  # t.c, correlated
    with pytest.raises(errors.UndefinedColumn) as info:
        plan(parse_one("SELECT nope FROM t"), ctx)
    assert info.value.sqlstate == "42703"
