"""Casts of literals are folded at plan time with the evaluator's own casts, so a folded constant has its target
type's value (``CAST(0 AS text)`` is the string ``'0'``, not the integer 0); a cast that fails stays in the plan and
raises where it is evaluated.  Checked against the same cast evaluated at run time on a column."""

from __future__ import annotations

import decimal

import pytest

from steadystate import errors
from steadystate.expr.eval import compile_scalar
from steadystate.expr.ir import Literal
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan


def constant_row(ctx, sql: str) -> tuple:  # type: ignore[no-untyped-def]
    """The one row of a FROM-less SELECT (a Map over the unit constant), evaluated."""
    planned = plan(parse_one(sql), ctx)
    return tuple(compile_scalar(scalar, [])(()) for scalar in planned.expr.scalars)  # type: ignore[union-attr]


@pytest.mark.parametrize("sql, value", [
    ("SELECT CAST(0 AS text)", "0"),
    ("SELECT CAST(12 AS numeric)", decimal.Decimal(12)),
    ("SELECT CAST(2.5 AS int)", 3),  # numeric → int rounds half away from zero, as PostgreSQL does
    ("SELECT CAST(true AS text)", "true"),
    ("SELECT CAST('7' AS int) + 1", 8),
])
def test_literal_casts_fold_to_the_target_types_value(ctx, sql: str, value: object) -> None:  # type: ignore[no-untyped-def]
    (folded,) = constant_row(ctx, sql)
    assert folded == value and type(folded) is type(value)
    planned = plan(parse_one(sql.replace(" + 1", "")), ctx)
    assert all(isinstance(scalar, Literal) for scalar in planned.expr.scalars)  # type: ignore[union-attr]


def test_a_cast_that_fails_is_left_to_run_time_with_its_error(ctx) -> None:  # type: ignore[no-untyped-def]
    planned = plan(parse_one("SELECT CAST(CAST(1e300 AS float) AS int)"), ctx)
    assert not isinstance(planned.expr.scalars[0], Literal)  # type: ignore[union-attr]
    with pytest.raises(errors.SteadyError) as caught:
        constant_row(ctx, "SELECT CAST(CAST(1e300 AS float) AS int)")
    assert caught.value.sqlstate == "22003"
