"""The cluster policy table: complete, and what it says is what a refusal carries."""

from __future__ import annotations

import pytest

from steadystate.adapter.policy import POLICY, Allowed, ClusterState, Promote, Refused, Statement, check
from steadystate.catalog.records import ReconfigurationKind
from steadystate.errors import ObjectNotInPrerequisiteState


def test_every_statement_kind_has_a_verdict_in_every_state() -> None:
    assert set(POLICY) == set(Statement)
    for statement, row in POLICY.items():
        assert set(row) == set(ClusterState), statement


@pytest.mark.parametrize("statement", list(Statement))
@pytest.mark.parametrize("state", list(ClusterState))
def test_check_raises_exactly_the_refusals(statement: Statement, state: ClusterState) -> None:
    decision = POLICY[statement][state]
    if isinstance(decision, (Allowed, Promote)):  # a promotion is checked by its caller (adapter/renames.py)
        check(statement, state, "prod", "STATEMENT")
        return
    assert isinstance(decision, Refused)
    with pytest.raises(ObjectNotInPrerequisiteState) as info:
        check(statement, state, "prod", "STATEMENT")
    assert info.value.sqlstate == decision.sqlstate
    assert '"prod"' in info.value.message and info.value.hint


def test_a_sealed_cluster_is_frozen_and_serves_no_new_dataflow() -> None:
    for statement in (Statement.CREATE_OBJECT, Statement.DROP_OBJECT, Statement.CREATE_REPLICA,
                      Statement.DROP_REPLICA, Statement.ALTER_OPTIONS, Statement.DROP_CLUSTER,
                      Statement.NEW_DATAFLOW, Statement.ALTER_OWNER):
        assert isinstance(POLICY[statement][ClusterState.SEALED], Refused), statement
    assert POLICY[Statement.UNSEAL][ClusterState.SEALED] == Allowed()
    assert POLICY[Statement.RECONFIGURE][ClusterState.SEALED] == Allowed()  # RESTART of a sealed cluster
    assert POLICY[Statement.SWAP][ClusterState.SEALED] == Promote()  # blue/green: only a proven promotion


def test_a_restarting_unsealed_cluster_keeps_answering_queries() -> None:
    assert POLICY[Statement.NEW_DATAFLOW][ClusterState.RECONFIGURING] == Allowed()
    assert isinstance(POLICY[Statement.NEW_DATAFLOW][ClusterState.SEALING], Refused)
    for state in (ClusterState.SEALING, ClusterState.RECONFIGURING, ClusterState.RECONFIGURING_SEALED):
        assert isinstance(POLICY[Statement.RECONFIGURE][state], Refused)  # one reconfiguration at a time


@pytest.mark.parametrize(("sealed", "kind", "state"), [
    (False, None, ClusterState.UNSEALED),
    (True, None, ClusterState.SEALED),
    (False, ReconfigurationKind.SEAL, ClusterState.SEALING),
    (False, ReconfigurationKind.RESTART, ClusterState.RECONFIGURING),
    (False, ReconfigurationKind.RESIZE, ClusterState.RECONFIGURING),
    (True, ReconfigurationKind.RESTART, ClusterState.RECONFIGURING_SEALED),
])
def test_cluster_state_from_the_sealed_flag_and_the_reconfiguration(
    sealed: bool, kind: ReconfigurationKind | None, state: ClusterState
) -> None:
    assert ClusterState.of(sealed, kind) is state
