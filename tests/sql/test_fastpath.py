"""The regex fast path for simple writes must build exactly the plans the general planner builds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as hs

from steadystate.sql.catalog_api import PlanContext
from steadystate.sql.fastpath import plan_simple_write
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan

from sql_catalog import DictCatalog


@pytest.fixture
def ctx() -> PlanContext:
    return PlanContext(DictCatalog())


def _same_as_planner(sql: str, ctx: PlanContext) -> None:
    fast = plan_simple_write(sql, ctx)
    assert fast is not None, sql
    slow = plan(parse_one(sql), ctx)
    assert type(fast) is type(slow)
    if hasattr(slow, "expr"):
        assert fast.expr.updates() == slow.expr.updates()  # type: ignore[union-attr]
    else:
        assert fast.predicates == slow.predicates  # type: ignore[union-attr]
    if hasattr(slow, "assignments"):
        assert dict(fast.assignments) == dict(slow.assignments)  # type: ignore[union-attr]


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (1, 'a', 2.5)",
    "insert into t values (1, 'it''s', -3), (2, NULL, 1e3);",
    "INSERT INTO t (b, a) VALUES ('x', 7)",
    "DELETE FROM t WHERE a = 3",
    "DELETE FROM t WHERE a IN (1, 2, 3)",
    "UPDATE t SET b = 'z' WHERE a = 1",
])
def test_fast_plans_equal_general_plans(sql: str, ctx: PlanContext) -> None:
    _same_as_planner(sql, ctx)


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (1 + 1, 'a', 2)",       # an expression
    "INSERT INTO t VALUES ('x', 'a', 2)",         # text into an int column: the planner reports the error
    "INSERT INTO t VALUES (99999999999, 'a', 2)",  # out of int4 range
    "INSERT INTO nope VALUES (1)",                # unknown table: the planner reports it
    "DELETE FROM t WHERE a > 3",
    "UPDATE t SET a = a + 1 WHERE a = 1",
    "INSERT INTO t SELECT * FROM t",
])
def test_anything_else_takes_the_general_path(sql: str, ctx: PlanContext) -> None:
    assert plan_simple_write(sql, ctx) is None


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(-2**31, 2**31 - 1), hs.text(alphabet="ab' ;(),x", max_size=6),
                          hs.integers(-10**6, 10**6)), min_size=1, max_size=5))
def test_random_literal_inserts_match_the_planner(rows: list[tuple[int, str, int]]) -> None:
    ctx = PlanContext(DictCatalog())
    values = ", ".join(f"({a}, '{b.replace(chr(39), chr(39) * 2)}', {c})" for a, b, c in rows)
    _same_as_planner(f"INSERT INTO t VALUES {values}", ctx)
