"""Window functions (sql/window.py → ir.Window → dataflow/window.py, semantics in expr/window.py): every function and
frame form maintained by the real operators through generated write batches and compared with DuckDB after every
batch (the harness of tests/sql/join_support.py), the plan's shape, and what is refused.

Queries whose answer depends on how ties are broken (``row_number`` over equal sort keys) are left out: the corpus
orders by whole rows (``ORDER BY a, k``) wherever position matters, so identical rows are the only ties and the
answer is the same however they are ordered.
"""

from __future__ import annotations

from typing import Iterator

from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

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
    # ranking: rank/dense_rank/percent_rank/cume_dist are the same whatever the order among peers
    "SELECT k, a, rank() OVER (PARTITION BY k ORDER BY a) AS r, dense_rank() OVER (PARTITION BY k ORDER BY a) AS d"
    " FROM t1",
    "SELECT k, a, rank() OVER (ORDER BY a DESC NULLS LAST) AS r, percent_rank() OVER (ORDER BY a) AS p,"
    " cume_dist() OVER (PARTITION BY k ORDER BY a NULLS FIRST) AS c FROM t1",
    "SELECT k, a, row_number() OVER (PARTITION BY k ORDER BY a, k) AS n FROM t1",
    "SELECT k, a, row_number() OVER (ORDER BY a DESC, k) AS n, ntile(3) OVER (ORDER BY a DESC, k) AS t FROM t1",
    "SELECT k, a, ntile(2) OVER (PARTITION BY k ORDER BY a, k) AS t, ntile(5) OVER (PARTITION BY a ORDER BY k) AS u"
    " FROM t1",
    # lag/lead
    "SELECT k, a, lag(a) OVER (PARTITION BY k ORDER BY a, k) AS p, lead(a) OVER (PARTITION BY k ORDER BY a, k) AS n"
    " FROM t1",
    "SELECT k, a, lag(a, 2, -1) OVER (ORDER BY a, k) AS p, lead(k + a, 1, k) OVER (ORDER BY a, k) AS n,"
    " lag(a, 0) OVER (ORDER BY a, k) AS z FROM t1",
    # first/last/nth value with the default frame (peers included) and with explicit frames
    "SELECT k, a, first_value(a) OVER (PARTITION BY k ORDER BY a) AS f, last_value(a) OVER (PARTITION BY k ORDER BY a)"
    " AS l FROM t1",
    "SELECT k, a, nth_value(a, 2) OVER (PARTITION BY k ORDER BY a, k ROWS BETWEEN UNBOUNDED PRECEDING AND"
    " UNBOUNDED FOLLOWING) AS n, last_value(a) OVER (PARTITION BY k ORDER BY a, k ROWS BETWEEN CURRENT ROW AND"
    " 1 FOLLOWING) AS l FROM t1",
    "SELECT k, a, first_value(k) OVER (ORDER BY a, k ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) AS f FROM t1",
    # aggregates: no ORDER BY (the whole partition), the default RANGE frame (running, peers together), ROWS
    "SELECT k, a, sum(a) OVER (PARTITION BY k) AS s, count(*) OVER () AS n, avg(a) OVER (PARTITION BY k) AS av,"
    " min(a) OVER (PARTITION BY a) AS mi, max(k) OVER (PARTITION BY a) AS ma FROM t1",
    "SELECT k, a, sum(a) OVER (PARTITION BY k ORDER BY a) AS s, count(a) OVER (ORDER BY a) AS c,"
    " max(k) OVER (ORDER BY a DESC) AS m FROM t1",
    "SELECT k, a, sum(a) OVER (ORDER BY a, k ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS s,"
    " min(a) OVER (ORDER BY a, k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS m,"
    " count(*) OVER (ORDER BY a, k ROWS UNBOUNDED PRECEDING) AS c FROM t1",
    "SELECT k, a, avg(a) OVER (PARTITION BY k ORDER BY a, k ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS av,"
    " max(a) OVER (PARTITION BY k ORDER BY a, k ROWS BETWEEN 2 FOLLOWING AND 3 FOLLOWING) AS m FROM t1",
    "SELECT k, a, sum(k) OVER (ORDER BY a, k ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING) AS s FROM t1",
    # RANGE with offsets (values of the one ORDER BY column; NULL rows frame their peers)
    "SELECT k, a, sum(k) OVER (ORDER BY a RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS s,"
    " count(*) OVER (ORDER BY a RANGE BETWEEN CURRENT ROW AND 1 FOLLOWING) AS c FROM t1",
    "SELECT k, a, max(k) OVER (PARTITION BY k ORDER BY a DESC RANGE BETWEEN 2 PRECEDING AND 1 PRECEDING) AS m,"
    " count(k) OVER (ORDER BY a DESC RANGE BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING) AS c FROM t1",
    "SELECT k, a, count(*) OVER (ORDER BY a NULLS FIRST RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS c"
    " FROM t1",
    "SELECT k, a, sum(a) OVER (ORDER BY a RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS s FROM t1",
    # GROUPS: offsets count peer groups
    "SELECT k, a, sum(k) OVER (ORDER BY a GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s,"
    " count(*) OVER (PARTITION BY k ORDER BY a DESC GROUPS BETWEEN 1 FOLLOWING AND 2 FOLLOWING) AS c,"
    " max(k) OVER (ORDER BY a GROUPS BETWEEN 2 PRECEDING AND 1 PRECEDING) AS m FROM t1",
    "SELECT k, a, max(a) OVER (ORDER BY k GROUPS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS f,"
    " count(a) OVER (ORDER BY k NULLS FIRST GROUPS UNBOUNDED PRECEDING) AS c FROM t1",
    # FILTER, named windows, windows over grouped rows, over joins, in ORDER BY, under DISTINCT and in subqueries
    "SELECT k, a, count(*) FILTER (WHERE a > 1) OVER (PARTITION BY k) AS n,"
    " sum(a) FILTER (WHERE k IS NOT NULL) OVER (ORDER BY a) AS s FROM t1",
    "SELECT k, a, rank() OVER w AS r, sum(a) OVER w AS s, lag(a) OVER (w2 ORDER BY a, k) AS l FROM t1"
    " WINDOW w AS (PARTITION BY k ORDER BY a), w2 AS (PARTITION BY k)",
    "SELECT k, sum(a) AS s, rank() OVER (ORDER BY sum(a) DESC) AS r, sum(sum(a)) OVER () AS total,"
    " sum(count(*)) OVER (ORDER BY k) AS running FROM t1 GROUP BY k",
    "SELECT t1.k, t2.b, dense_rank() OVER (PARTITION BY t1.k ORDER BY t2.b) AS d FROM t1 LEFT JOIN t2 ON t1.k = t2.k",
    "SELECT DISTINCT k, max(a) OVER (PARTITION BY k) AS m FROM t1",
    "SELECT k, r FROM (SELECT k, rank() OVER (PARTITION BY k ORDER BY a DESC) AS r FROM t1) AS s WHERE r <= 2",
    "SELECT k, a FROM (SELECT k, a, row_number() OVER (PARTITION BY k ORDER BY a, k) AS n FROM t1) AS s WHERE n = 1",
    "SELECT k, a, a - lag(a) OVER (PARTITION BY k ORDER BY a, k) AS delta, 1 + count(*) OVER (PARTITION BY k) AS c"
    " FROM t1",
]


@pytest.mark.parametrize("sql", CORPUS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=batches())
def test_windows_are_maintained_like_duckdb(duck: Duck, sql: str, changes) -> None:  # type: ignore[no-untyped-def]
    check_maintained(sql, changes, duck)


def test_one_window_node_per_partitioning_and_order() -> None:
    """Calls sharing PARTITION BY and ORDER BY share one operator (each frame its own function of it)."""
    expr = optimized("SELECT rank() OVER (PARTITION BY k ORDER BY a), sum(a) OVER (PARTITION BY k ORDER BY a ROWS"
                     " 1 PRECEDING), lag(a) OVER (ORDER BY a) FROM t1")
    windows = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.Window):
            windows.append(node)
        stack.extend(ir.children(node))
    assert sorted(len(w.functions) for w in windows) == [1, 2]
    shared = next(w for w in windows if len(w.functions) == 2)
    assert shared.partition_key == (0,) and [f.func for f in shared.functions] == ["rank", "sum"]
    assert shared.functions[1].frame.mode is ir.FrameMode.ROWS


@pytest.mark.parametrize("sql, sqlstate", [
    ("SELECT k FROM t1 WHERE rank() OVER (ORDER BY a) > 1", "42P20"),
    ("SELECT k FROM t1 GROUP BY k HAVING rank() OVER (ORDER BY k) > 1", "42P20"),
    ("SELECT sum(rank() OVER (ORDER BY a)) FROM t1", "42803"),
    ("SELECT sum(a) OVER (PARTITION BY k GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t1", "42P20"),
    ("SELECT sum(a) OVER (ORDER BY a GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES) FROM t1", "0A000"),
    ("SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) FROM t1", "0A000"),
    ("SELECT count(DISTINCT a) OVER () FROM t1", "0A000"),
    ("SELECT ntile(k) OVER () FROM t1", "0A000"),
    ("SELECT lag(a, k) OVER () FROM t1", "0A000"),
    ("SELECT string_agg(CAST(a AS text), ',') OVER () FROM t1", "0A000"),
    ("SELECT sum(a) OVER (ORDER BY a, k RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t1", "42P20"),
    ("SELECT sum(a) OVER (RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t1", "42P20"),
    ("SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN -1 PRECEDING AND CURRENT ROW) FROM t1", "22013"),
    ("SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM t1", "42P20"),
    ("SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW) FROM t1", "42P20"),
    ("SELECT rank() OVER w FROM t1", "42704"),
    ("SELECT rank() OVER (w PARTITION BY a) FROM t1 WINDOW w AS (PARTITION BY k)", "42P20"),
    ("SELECT sum(CAST(a AS text)) OVER () FROM t1", "42883"),
])
def test_bad_windows_are_refused(sql: str, sqlstate: str) -> None:
    with pytest.raises(errors.SteadyError) as caught:
        plan_query(sql)
    assert caught.value.sqlstate == sqlstate, caught.value


def test_a_failing_partition_is_an_error_until_it_is_computable() -> None:
    """``ntile(0)`` fails where rows exist (PostgreSQL's 22014), and only there; the error goes when the rows do."""
    from join_support import Maintained
    maintained = Maintained("SELECT k, ntile(0) OVER (PARTITION BY k) AS t FROM t1")
    with pytest.raises(errors.SteadyError) as caught:  # the index's peek
        maintained.apply({"t1": [((1, 1), 1)]})
    assert caught.value.sqlstate == "22014"
    failed = maintained.dataflow.sink_error("s")
    assert failed is not None and failed.sqlstate == "22014"
    index, _ = maintained.apply({"t1": [((1, 1), -1)]})
    assert not index and maintained.dataflow.sink_error("s") is None


# ------------------------------------------------------------------------------------- generated window queries

_BOUNDS_START = ["UNBOUNDED PRECEDING", "{n} PRECEDING", "CURRENT ROW", "{n} FOLLOWING"]
_BOUNDS_END = ["{n} PRECEDING", "CURRENT ROW", "{n} FOLLOWING", "UNBOUNDED FOLLOWING"]
_FUNCTIONS = ["row_number()", "rank()", "dense_rank()", "percent_rank()", "cume_dist()", "ntile({n1})",
              "lag(a, {n}, -1)", "lead(k)", "first_value(a)", "last_value(k)", "nth_value(a, {n1})", "sum(a)",
              "count(*)", "count(a)", "avg(k)", "min(a)", "max(k)", "sum(a) FILTER (WHERE k > 1)"]


@st.composite
def window_calls(draw: st.DrawFn) -> str:
    """One window call over t1 whose answer does not depend on how ties are broken: the ORDER BY is the whole row
    (``a, k`` in some directions), or only ``a`` for functions and frames that treat peers alike."""
    n, n1 = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    function = draw(st.sampled_from(_FUNCTIONS)).format(n=n, n1=n1)
    partition = draw(st.sampled_from(["", "PARTITION BY k ", "PARTITION BY a IS NULL "]))
    direction = draw(st.sampled_from(["", " DESC", " NULLS FIRST", " DESC NULLS LAST"]))
    mode = draw(st.sampled_from(["", "ROWS", "RANGE", "GROUPS"]))
    peer_safe = function in ("rank()", "dense_rank()", "percent_rank()", "cume_dist()") or (
        mode in ("", "RANGE", "GROUPS") and function.split("(")[0] in ("sum", "count", "avg", "min", "max"))
    whole_row = not peer_safe or draw(st.booleans())
    order = f"ORDER BY a{direction}" + (f", k{draw(st.sampled_from(['', ' DESC']))}" if whole_row else "")
    frame = ""
    if mode and not function.startswith(("row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile",
                                          "lag", "lead")):
        if mode == "RANGE" and whole_row:  # offsets need a single ORDER BY column
            start, end = draw(st.sampled_from([0, 2])), draw(st.sampled_from([1, 3]))
        else:
            start = draw(st.integers(0, 3))
            end = draw(st.integers(max(start, 1), 3))
        frame = f" {mode} BETWEEN {_BOUNDS_START[start]} AND {_BOUNDS_END[end]}".format(n=n)
    return f"{function} OVER ({partition}{order}{frame})"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(window_calls(), min_size=1, max_size=3), changes=batches(max_batches=3))
def test_generated_window_queries_are_maintained_like_duckdb(duck: Duck, calls: list[str], changes) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT k, a, " + ", ".join(f"{call} AS w{i}" for i, call in enumerate(calls)) + " FROM t1"
    if len(calls) > 1:  # two copies of one row: which gets which value of each window is each engine's choice
        assume(not repeats_a_row(changes, "t1"))
    check_maintained(sql, changes, duck)


def repeats_a_row(changes: list[dict[str, list[tuple[tuple, int]]]], table: str) -> bool:
    """Whether ``table`` ever holds two copies of one row through the batches."""
    counts: Counter[tuple] = Counter()
    for batch in changes:
        for row, diff in batch.get(table, []):
            counts[row] += diff
        if any(n > 1 for n in counts.values()):
            return True
    return False
