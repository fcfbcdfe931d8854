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
