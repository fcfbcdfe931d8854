"""Correlated EXISTS / IN (subquery) decorrelation (sql/correlated.py), checked by evaluating the plan.

Plans are evaluated by the from-scratch evaluator of the dataflow tests (tests/dataflow/dataflow_naive.py)
over hypothesis-generated tables, and compared with the answer computed directly in Python from SQL's
definition of the predicate (duplicates and NULLs included).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings, strategies as hs

from steadystate import errors
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan

from naive_plans import naive

SMALL = hs.one_of(hs.none(), hs.integers(0, 3))
T_ROWS = hs.lists(hs.tuples(hs.integers(0, 3), hs.sampled_from(["x", "y", None]), hs.none()), max_size=6)
U_ROWS = hs.lists(hs.tuples(SMALL, hs.none()), max_size=6)


def run(ctx, sql: str, t_rows: list, u_rows: list) -> Counter:  # type: ignore[no-untyped-def]
    select = plan(parse_one(sql), ctx)
    result = naive.evaluate_plan(select.expr, {"u1": Counter(t_rows), "u2": Counter(u_rows)})
    return +result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t_rows=T_ROWS, u_rows=U_ROWS)
def test_correlated_exists_and_not_exists(ctx, t_rows, u_rows) -> None:  # type: ignore[no-untyped-def]
    matched = Counter(r for r in t_rows if any(u[0] is not None and u[0] == r[0] for u in u_rows))
    unmatched = Counter(r for r in t_rows if not any(u[0] is not None and u[0] == r[0] for u in u_rows))
    assert run(ctx, "select * from t where exists (select 1 from u where u.a = t.a)", t_rows, u_rows) == matched
    assert run(ctx, "select * from t where not exists (select 1 from u where u.a = t.a)", t_rows, u_rows) == unmatched


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t_rows=T_ROWS, u_rows=U_ROWS)
def test_correlated_in_with_non_equality_correlation(ctx, t_rows, u_rows) -> None:  # type: ignore[no-untyped-def]
    # a IN (SELECT u.a FROM u WHERE u.a >= t.a - 1): true when some u.a equals t.a and u.a >= t.a - 1
    expected = Counter(r for r in t_rows if any(u[0] is not None and u[0] == r[0] for u in u_rows))
    sql = "select * from t where a in (select u.a from u where u.a >= t.a - 1)"
    assert run(ctx, sql, t_rows, u_rows) == expected


def test_inner_names_take_precedence_over_outer_ones(ctx) -> None:  # type: ignore[no-untyped-def]
    # unqualified "a" inside the subquery is u.a, not t.a: rows of t survive iff u has a non-null a
    t_rows = [(1, "x", None), (2, "y", None)]
    assert run(ctx, "select * from t where exists (select 1 from u where a is not null)", t_rows, [(None, None)]) \
        == Counter()
    assert run(ctx, "select * from t where exists (select 1 from u where a is not null)", t_rows, [(5, None)]) \
        == Counter(t_rows)


@pytest.mark.parametrize("sql, kept", [
    ("select * from t where exists (select count(*) from u where u.a = t.a)", {1, 2}),  # always one row
    ("select * from t where exists (select u.a from u where u.a = t.a group by u.a)", {1}),
    ("select * from t where exists (select 1 from u where u.a = t.a limit 1)", {1}),
])
def test_other_correlated_shapes_are_decorrelated_as_a_whole(ctx, sql: str, kept: set) -> None:  # type: ignore[no-untyped-def]
    """Not semi-joins: sql/correlated_scalar.py (tests/sql/test_correlated_scalar.py compares with DuckDB)."""
    t_rows = [(1, "x", None), (2, "y", None)]
    assert run(ctx, sql, t_rows, [(1, None), (1, None), (None, None)]) == Counter(r for r in t_rows if r[0] in kept)


def test_unknown_outer_column_is_still_undefined(ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.UndefinedColumn):
        plan(parse_one("select * from t where exists (select 1 from u where u.a = t.nope)"), ctx)
