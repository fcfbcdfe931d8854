"""The branches of a ROLLUP over a join sharing their partial sums and B (``dataflow.accumulate_cohort``), against the
unfused delta join + reduce, on random update streams (duplicates, NULL keys, dimension rows moving between groups),
with the snapshots given as rows or taken as columns."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.join_accumulate import JoinAccumulate
from steadystate.expr import ir
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

from star_support import agg, hydrate, render_star, rollup, run_script, script_steps

FACT = RelationDesc.of(("dim_id", T.INT4), ("amount", T.INT8), ("qty", T.INT4))
DIM = RelationDesc.of(("id", T.INT4), ("region", T.TEXT), ("tier", T.INT4))
col = ir.ColumnRef
STAR = ir.Join((ir.Get("fact"), ir.Get("dim")), ((col(0), col(3)),))  # fact 0-2, dim 3-5


PLANS = {
    "count_sum": rollup(STAR, (agg("count_star", ir.Literal(True, T.BOOL)), agg("sum", col(1)))),
    "avg_count": rollup(STAR, (agg("avg", col(2)), agg("count", col(1)), agg("sum", col(2)))),
}

fact_rows = st.tuples(st.sampled_from([0, 1, 2, None]), st.sampled_from([1, 5, None]), st.sampled_from([2, None]))
dim_rows = st.tuples(st.sampled_from([0, 1, 2, None]), st.sampled_from(["x", "y"]), st.sampled_from([1, 2]))
steps = script_steps(fact_rows, dim_rows, 6)  # steps of timestamps of (table, row, insert?) choices


def render(plan: ir.RelationExpr, fuse: bool) -> RenderedDataflow:
    return render_star(plan, fuse, FACT, DIM)


def members(dataflow: RenderedDataflow) -> list[JoinAccumulate]:
    return [n for n in dataflow.graph.nodes if isinstance(n, JoinAccumulate)]


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=steps)
def test_a_rollups_branches_sharing_their_state_equal_the_unfused_plan(name: str, script) -> None:  # type: ignore[no-untyped-def]
    fused, unfused = render(PLANS[name], True), render(PLANS[name], False)
    branches = members(fused)
    assert len(branches) == 3 and branches[0].cohort is not None
    assert all(b.cohort is branches[0].cohort for b in branches)
    run_script(fused, unfused, {"fact": Counter(), "dim": Counter()}, script, 1)
    assert branches[0].cohort.ready
    assert all(b.partial is branches[0].partial and b.arranged is branches[0].arranged for b in branches[1:])


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(fact_rows, max_size=20), dims=st.lists(dim_rows, max_size=8), script=steps)
def test_a_rollup_hydrated_from_columns_then_sharing_equals_the_unfused_rows(name: str, facts, dims, script) -> None:  # type: ignore[no-untyped-def]
    """The snapshots taken as columns by every branch (folded once, copied: ``FanOut``), then the batches folded by
    the cohort's leader for all three."""
    fused, unfused = render(PLANS[name], True), render(PLANS[name], False)
    loads = {"fact": facts, "dim": dims}
    hydrate(fused, unfused, loads)
    assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())
    live = {table: Counter(loads[table]) for table in ("fact", "dim")}
    run_script(fused, unfused, live, script, 2)


def test_a_follower_given_a_round_its_leader_did_not_run_fails_loudly() -> None:
    fused = render(PLANS["count_sum"], True)
    fused.feed("fact", [((0, 5, 2), 1, 1)], 2)
    fused.feed("dim", [((0, "x", 1), 1, 1)], 2)
    fused.step()
    leader, follower, _ = members(fused)
    assert leader.cohort is not None and leader.cohort.ready
    with pytest.raises(AssertionError):
        follower.run(5, [({((0, 1, 2)): 1}, {}), ({}, {})], False)
