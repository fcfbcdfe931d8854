"""The LetRec operator alone (dataflow/iterate.py through render/recursion.py), fed batches directly: every batch's
index contents and the fold of everything the subscribe sink emitted equal DuckDB's answer; insert-only batches of
a monotone recursion continue from the current fixed point (no restart from empty) and still agree, and any batch
with a deletion restarts from empty."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, example, given, settings, strategies as st

from steadystate.dataflow.iterate import LetRecOperator

from join_support import Duck, Maintained

NODE = st.integers(0, 5)
BATCH = st.lists(st.tuples(st.tuples(NODE, NODE), st.sampled_from([1, 1, -1])), min_size=1, max_size=4)
QUERIES = [
    # monotone: continues from the last fixed point on inserts
    "WITH RECURSIVE r(x, y) AS (SELECT k, a FROM t1 UNION SELECT r.x, t1.a FROM r JOIN t1 ON r.y = t1.k)"
    " SELECT x, y FROM r",
    "WITH RECURSIVE p(x, y, d) AS (SELECT k, a, 1 FROM t1 UNION ALL SELECT p.x, t1.a, p.d + 1 FROM p JOIN t1"
    " ON p.y = t1.k WHERE p.d < 3) SELECT x, y, d FROM p",
    # not monotone (an aggregate in the recursion): always from empty
    "WITH MUTUALLY RECURSIVE dist(v int, d int) AS (SELECT v, min(d) FROM (SELECT 0 AS v, 0 AS d UNION ALL"
    " SELECT t1.a, dist.d + 1 FROM dist JOIN t1 ON dist.v = t1.k) AS q GROUP BY v) SELECT v, d FROM dist",
]
REFERENCES = QUERIES[:2] + [
    "WITH RECURSIVE p(v, d) AS (SELECT 0, 0 UNION SELECT t1.a, p.d + 1 FROM p JOIN t1 ON p.v = t1.k WHERE p.d < 8)"
    " SELECT v, min(d) FROM p GROUP BY v"]


def _letrec(maintained: Maintained) -> LetRecOperator:
    found = [node for node in maintained.dataflow.graph.nodes if isinstance(node, LetRecOperator)]
    assert len(found) == 1
    return found[0]


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(BATCH, min_size=1, max_size=8))
@example(batches=[[((0, 2), 1), ((0, 2), -1)]])  # the first batch cancels: the first fixed point is no restart
@example(batches=[[((0, 1), 1)], [((1, 2), 1), ((1, 2), -1)]])  # a later batch cancels: no recomputation
def test_batches_agree_with_duckdb_and_inserts_continue_from_the_fixed_point(
        batches: list[list[tuple[tuple[int, int], int]]]) -> None:
    duck = Duck()
    try:
        views = [Maintained(query) for query in QUERIES]
        data: Counter = Counter()
        for batch in batches:
            changes = []
            for row, diff in batch:  # a delete of a row that is not there becomes an insert
                diff = diff if data[row] + diff >= 0 else 1
                data[row] += diff
                changes.append((row, diff))
            duck.load({"t1": data, "t2": Counter(), "t3": Counter(), "t4": Counter()})
            for number, (view, reference) in enumerate(zip(views, REFERENCES)):
                restarts = _letrec(view).restarts
                index, subscribed = view.apply({"t1": changes})
                want = duck.answer(reference)
                assert index == want, (number, batch, index, want)
                assert subscribed == want, (number, batch, subscribed, want)
                net: Counter = Counter()
                for row, diff in changes:
                    net[row] += diff
                inserts_only = all(diff >= 0 for diff in net.values())
                restarted = _letrec(view).restarts - restarts
                # a batch whose changes cancel (a row inserted and deleted) changes nothing: nothing to recompute
                expected = 0 if not any(net.values()) or (number < 2 and inserts_only) else 1
                assert restarted == expected, (number, batch)
    finally:
        duck.close()
