"""A peek whose expression fails in a way the evaluator did not anticipate answers with an error; the replica
carries on.  Before, the exception escaped ``ComputeState.tick`` and killed the replica process — and because the
peek was still pending in the command history, the restarted replica died on it again (a crash loop)."""

from __future__ import annotations

from steadystate.compute.state import ComputeState
from steadystate.expr.ir import CallBinary, ColumnRef, Literal, MapFilterProject
from steadystate.protocol import messages as m
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

DESC = RelationDesc.of(("a", T.INT4))


def test_an_unexpected_evaluation_failure_is_the_peeks_error_not_the_replicas() -> None:
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    store.compare_and_append("t", [((1,), 0, 1)], 0, 1)
    state = ComputeState("r1", store)
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    state.handle(m.InitializationComplete())
    # LIKE over an integer column: the planner never builds this, so the evaluator raises a plain TypeError
    bad = MapFilterProject(1, predicates=(CallBinary("like", ColumnRef(0), Literal("a%", T.TEXT)),))
    good = MapFilterProject(1)
    target = m.PeekTarget("shard", "u1", shard="t", desc=DESC)
    state.handle(m.Peek("bad", target, 0, bad))
    state.handle(m.Peek("good", target, 0, good))
    responses = {r.uuid: r for r in state.tick() if isinstance(r, m.PeekResponse)}
    assert responses["bad"].error is not None and responses["bad"].error.sqlstate == "XX000"
    assert "internal error" in responses["bad"].error.message
    assert responses["good"].error is None and responses["good"].rows is not None
    assert state.peeks == {}  # both answered: nothing left to fail again
