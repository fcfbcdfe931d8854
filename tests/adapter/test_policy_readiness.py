"""The seal and readiness policy: the ``adapter.policy.POLICY`` table and ``adapter.readiness.CONDITIONS``.

* POLICY names a verdict for every Statement × ClusterState, and ``check`` raises exactly for the refused pairs,
  with the cluster and statement in the message;
* ``ClusterState.of`` maps every (sealed, reconfiguration) pair to the state the table is indexed by;
* in an in-memory environment, the verdict's reasons come from the conditions (no replicas, not sealed), SEAL
  refuses with the refusing condition's message (no replicas; dirty replicas WITH (RESTART = false)), and a sealed
  cluster refuses DDL and new dataflows as the table says.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import pytest

from steadystate.adapter.policy import POLICY, Allowed, ClusterState, Promote, Refused, Statement, check
from steadystate.adapter.readiness import CONDITIONS, AtSeal
from steadystate.catalog.records import ReconfigurationKind
from steadystate.errors import ObjectNotInPrerequisiteState, SteadyError
from steadystate.testing import MemoryEnvironment, eventually, memory_environment


def test_the_policy_table_is_complete() -> None:
    assert set(POLICY) == set(Statement)
    for statement, verdicts in POLICY.items():
        assert set(verdicts) == set(ClusterState), statement
        assert all(isinstance(v, (Allowed, Refused, Promote)) for v in verdicts.values())
        assert isinstance(verdicts[ClusterState.UNSEALED], Allowed), statement  # development: anything goes


@pytest.mark.parametrize("statement", list(Statement))
@pytest.mark.parametrize("state", list(ClusterState))
def test_check_refuses_exactly_the_refused_pairs(statement: Statement, state: ClusterState) -> None:
    decision = POLICY[statement][state]
    if isinstance(decision, (Allowed, Promote)):
        check(statement, state, "prod", "CREATE INDEX i")
        return
    with pytest.raises(ObjectNotInPrerequisiteState) as info:
        check(statement, state, "prod", "CREATE INDEX i")
    assert info.value.sqlstate == decision.sqlstate
    assert '"prod"' in info.value.message or "prod" in info.value.message


@pytest.mark.parametrize("sealed", [False, True])
@pytest.mark.parametrize("kind", [None, *ReconfigurationKind])
def test_cluster_states(sealed: bool, kind: ReconfigurationKind | None) -> None:
    state = ClusterState.of(sealed, kind)
    if kind is ReconfigurationKind.SEAL:
        assert state is ClusterState.SEALING
    elif kind is not None:
        assert state is (ClusterState.RECONFIGURING_SEALED if sealed else ClusterState.RECONFIGURING)
    else:
        assert state is (ClusterState.SEALED if sealed else ClusterState.UNSEALED)


def test_every_condition_that_seal_checks_has_a_message() -> None:
    names = [c.name for c in CONDITIONS]
    assert len(names) == len(set(names))
    for condition in CONDITIONS:
        if condition.at_seal in (AtSeal.REFUSE, AtSeal.WAIT, AtSeal.RESTART):
            assert condition.seal_message and condition.seal_hint, condition.name


def run(test: Callable[[MemoryEnvironment], Awaitable[None]]) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await test(env)

    asyncio.run(main())


async def verdict(env: MemoryEnvironment, cluster: str) -> tuple[bool, list[str], list[str]]:
    assert env.adapter is not None
    return env.adapter.readiness.verdict(env.coordinator.catalog.clusters[env.cluster_id(cluster)])


def test_verdict_and_seal_refusals_follow_the_conditions() -> None:
    async def test(env: MemoryEnvironment) -> None:
        await env.execute("CREATE CLUSTER empty (SIZE = 'small', REPLICATION FACTOR = 0)")
        ready, reasons, _ = await verdict(env, "empty")
        assert not ready and any("has no replicas" in r for r in reasons) and any("not sealed" in r for r in reasons)
        with pytest.raises(SteadyError) as info:
            await env.execute("ALTER CLUSTER empty SEAL")
        assert info.value.sqlstate == "55000" and "it has no replicas" in info.value.message

        await env.execute("CREATE CLUSTER prod (SIZE = 'small')")
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1)")
        await env.wait_connected("prod")
        await env.execute("CREATE INDEX t_idx IN CLUSTER prod ON t (a)")  # live DDL: the replica is dirty
        await eventually(lambda: any("is dirty" in r for r in env.adapter.readiness.verdict(  # type: ignore[union-attr]
            env.coordinator.catalog.clusters[env.cluster_id("prod")])[1]), what="the replica to report dirty")
        with pytest.raises(SteadyError) as info:
            await env.execute("ALTER CLUSTER prod SEAL WITH (RESTART = false)")
        assert info.value.sqlstate == "55000" and "are dirty" in info.value.message
        assert not env.coordinator.catalog.clusters[env.cluster_id("prod")].sealed

        await env.execute("ALTER CLUSTER prod SEAL")  # restarts the dirty replica gracefully, then seals
        assert env.coordinator.catalog.clusters[env.cluster_id("prod")].sealed
        assert env.coordinator.cluster_state(env.cluster_id("prod")) is ClusterState.SEALED
        with pytest.raises(SteadyError) as info:
            await env.execute("CREATE INDEX t_idx2 IN CLUSTER prod ON t (a)")
        assert info.value.sqlstate == "55000" and "is sealed" in info.value.message
        await env.execute("SET cluster = prod")
        assert await env.query("SELECT a FROM t") == [(1,)]  # served by the index: no new dataflow
        with pytest.raises(SteadyError) as info:
            await env.execute("SELECT count(*) FROM t")  # would need a transient dataflow
        assert info.value.sqlstate == "55000" and "new dataflow" in info.value.message

    run(test)
