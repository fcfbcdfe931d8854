"""Constructs outside the supported SQL are refused with 0A000 naming the construct, never mis-planned."""

from __future__ import annotations

import pytest

from steadystate import errors
from steadystate.sql.parser import parse_one
from steadystate.sql.planner import plan


@pytest.mark.parametrize("sql, construct", [
    ("select a, sum(a) over () from t", "window functions"),
    ("select a, row_number() over (partition by b order by a) from t", "window functions"),
    ("select * from (select a, rank() over (order by a) as r from t) s", "window functions"),
    ("select a from t where a not in (select a from u)", "NOT IN"),
    ("select * from t where exists (select max(u.a) from u where u.a = t.a)", "correlated EXISTS"),
])
def test_unsupported_constructs_raise_0a000(ctx, sql: str, construct: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.FeatureNotSupported) as info:
        plan(parse_one(sql), ctx)
    assert info.value.sqlstate == "0A000"
    assert construct in str(info.value)
