"""Uncorrelated scalar subqueries plan into joins with a one-row relation; checked with the naive evaluator."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings, strategies as hs

from steadystate import errors
from steadystate.sql.catalog_api import PlanContext
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan

from sql_catalog import DictCatalog

from naive_plans import naive

T_ROWS = hs.lists(hs.tuples(hs.integers(0, 4), hs.sampled_from(["x", "y", None]), hs.none()), max_size=6)


def run(sql: str, t_rows: list, u_rows: list) -> Counter:
    select = plan(parse_one(sql), PlanContext(DictCatalog()))
    return +naive.evaluate_plan(select.expr, {"u1": Counter(t_rows), "u2": Counter(u_rows)})  # type: ignore[union-attr]


@settings(max_examples=80, deadline=None)
@given(t=T_ROWS)
def test_scalar_subquery_in_select_and_where(t: list) -> None:
    by_hand = Counter()
    top = max((a for a, _, _ in t), default=None)
    for a, b, c in t:
        by_hand[(a, top)] += 1
    assert run("SELECT a, (SELECT max(a) FROM t) FROM t", t, []) == +by_hand
    expected = Counter((a,) for a, _, _ in t if top is not None and a == top)
    assert run("SELECT a FROM t WHERE a = (SELECT max(a) FROM t)", t, []) == +expected


def test_empty_scalar_subquery_is_null() -> None:
    assert run("SELECT 1, (SELECT a FROM t)", [], []) == Counter({(1, None): 1})


def test_several_rows_is_an_error_not_a_wrong_answer() -> None:
    with pytest.raises(errors.SteadyError) as caught:
        run("SELECT 1, (SELECT a FROM t)", [(1, "x", None), (2, "y", None)], [])
    assert caught.value.sqlstate == "21000"


def test_column_keeps_its_name_and_star_does_not_show_hidden_columns() -> None:
    select = plan(parse_one("SELECT *, (SELECT max(a) FROM t) FROM t"), PlanContext(DictCatalog()))
    assert select.desc.names == ("a", "b", "c", "max")  # type: ignore[union-attr]


def test_correlated_scalar_subqueries_plan() -> None:
    """Decorrelated into joins (tests/sql/test_correlated_scalar.py checks them against DuckDB)."""
    t = [(1, "x", None), (2, "y", None)]
    assert run("SELECT a, (SELECT max(u.a) FROM u WHERE u.a = t.a) FROM t", t, [(2, None), (2, None)]) \
        == Counter({(1, None): 1, (2, 2): 1})
