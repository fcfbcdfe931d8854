"""What may happen to a cluster in each of its states: the one table a policy change edits.

A cluster is in one of five :class:`ClusterState` s, derived from its catalog record (``sealed``) and the
reconfiguration pending on it (``catalog.records.ReconfigurationRecord``: a SEAL, RESTART or resize that is
replacing its replicas):

============================  ===============================================================
``unsealed``                  development: anything goes
``sealing``                   ``ALTER CLUSTER ... SEAL`` is restarting dirty replicas, then seals
``sealed``                    production: frozen, its replicas stay clean
``reconfiguring``             an unsealed cluster's replicas are being replaced (RESTART, resize)
``reconfiguring_sealed``      a sealed cluster's replicas are being replaced (RESTART)
============================  ===============================================================

:data:`POLICY` maps every :class:`Statement` kind × state to :class:`Allowed` or a :class:`Refused` with its
SQLSTATE, message and hint.  Call sites never test ``sealed`` themselves: they name the statement kind and
call :func:`check` (through ``Coordinator.policy_check``).  A reconfiguring unsealed cluster keeps answering
slow-path queries from its old replicas (``NEW_DATAFLOW`` is allowed), but nothing may change what the
replacement replicas are hydrating (DDL on the cluster waits), and a sealing cluster admits no transient
dataflow (sealing waits for the running ones to end).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from steadystate.catalog.records import ReconfigurationKind
from steadystate.errors import ObjectNotInPrerequisiteState, quote_ident


class ClusterState(enum.Enum):
    UNSEALED = "unsealed"
    SEALING = "sealing"
    SEALED = "sealed"
    RECONFIGURING = "reconfiguring"
    RECONFIGURING_SEALED = "reconfiguring_sealed"

    @classmethod
    def of(cls, sealed: bool, reconfiguring: ReconfigurationKind | None) -> "ClusterState":
        if reconfiguring is ReconfigurationKind.SEAL:
            return cls.SEALING
        if reconfiguring is not None:
            return cls.RECONFIGURING_SEALED if sealed else cls.RECONFIGURING
        return cls.SEALED if sealed else cls.UNSEALED


class Statement(enum.Enum):
    CREATE_OBJECT = "create an index or materialized view on the cluster"
    DROP_OBJECT = "drop an index or materialized view on the cluster (also by cascade)"
    CREATE_REPLICA = "CREATE CLUSTER REPLICA"
    DROP_REPLICA = "DROP CLUSTER REPLICA"
    ALTER_OPTIONS = "ALTER CLUSTER ... SET (...)"
    DROP_CLUSTER = "DROP CLUSTER"
    NEW_DATAFLOW = "a query that needs a new (transient) dataflow: slow-path SELECT, SUBSCRIBE"
    RECONFIGURE = "ALTER CLUSTER ... SEAL | RESTART: a graceful replacement of replicas"
    UNSEAL = "ALTER CLUSTER ... UNSEAL"
    ALTER_OWNER = "ALTER CLUSTER ... OWNER TO"
    SWAP = "ALTER CLUSTER ... SWAP WITH (each of the two clusters)"


@dataclass(frozen=True)
class Allowed:
    pass


@dataclass(frozen=True)
class Refused:
    """``message`` and ``hint`` are templates over ``{cluster}`` (quoted name) and ``{statement}``."""

    message: str
    hint: str
    sqlstate: str = "55000"


@dataclass(frozen=True)
class Promote:
    """Allowed only as a promotion: the other cluster of the swap must pass every check SEAL makes without
    restarting anything (adapter/renames.py), and it takes this cluster's name and seal."""


ALLOWED = Allowed()
PROMOTE = Promote()
_SEALED_DDL = Refused("cluster {cluster} is sealed: {statement} is not allowed on it",
                      "ALTER CLUSTER {cluster} UNSEAL to allow changes")
_BUSY_DDL = Refused("cluster {cluster} is being restarted or sealed: {statement} must wait",
                    "retry once ALTER CLUSTER has finished")
_SEALED_DATAFLOW = Refused(
    "cluster {cluster} is sealed: {statement} would need a new dataflow on it",
    "query an existing index or materialized view, run the query on another cluster (SET cluster = ...), or "
    "ALTER CLUSTER {cluster} UNSEAL")
_SEALING_DATAFLOW = Refused("cluster {cluster} is being restarted or sealed: {statement} would need a new dataflow "
                            "on it", "retry once ALTER CLUSTER has finished, or run the query on another cluster")
_BUSY_RECONFIGURE = Refused("cluster {cluster} is already being restarted or sealed: {statement} must wait",
                            "retry once the running ALTER CLUSTER has finished (mz_internal.mz_pending_"
                            "reconfigurations shows it)")

_S = ClusterState
# a change of what runs on the cluster, or of its replicas or options: waits while it is reconfigured, refused
# while it is sealed
_CLUSTER_DDL: dict[ClusterState, Allowed | Refused | Promote] = {
    _S.UNSEALED: ALLOWED, _S.SEALING: _BUSY_DDL, _S.SEALED: _SEALED_DDL, _S.RECONFIGURING: _BUSY_DDL,
    _S.RECONFIGURING_SEALED: _SEALED_DDL}

# statement kind -> state -> verdict; every pair is spelled out (a test checks the table is complete)
POLICY: dict[Statement, dict[ClusterState, Allowed | Refused | Promote]] = {
    Statement.CREATE_OBJECT: _CLUSTER_DDL,
    Statement.DROP_OBJECT: _CLUSTER_DDL,
    Statement.CREATE_REPLICA: _CLUSTER_DDL,
    Statement.DROP_REPLICA: _CLUSTER_DDL,
    Statement.ALTER_OPTIONS: _CLUSTER_DDL,
    Statement.DROP_CLUSTER: _CLUSTER_DDL,
    Statement.NEW_DATAFLOW: {_S.UNSEALED: ALLOWED, _S.SEALING: _SEALING_DATAFLOW, _S.SEALED: _SEALED_DATAFLOW,
                             _S.RECONFIGURING: ALLOWED, _S.RECONFIGURING_SEALED: _SEALED_DATAFLOW},
    Statement.RECONFIGURE: {_S.UNSEALED: ALLOWED, _S.SEALING: _BUSY_RECONFIGURE, _S.SEALED: ALLOWED,
                            _S.RECONFIGURING: _BUSY_RECONFIGURE, _S.RECONFIGURING_SEALED: _BUSY_RECONFIGURE},
    Statement.UNSEAL: {_S.UNSEALED: ALLOWED, _S.SEALING: _BUSY_RECONFIGURE, _S.SEALED: ALLOWED,
                       _S.RECONFIGURING: ALLOWED, _S.RECONFIGURING_SEALED: _BUSY_RECONFIGURE},
    Statement.ALTER_OWNER: {_S.UNSEALED: ALLOWED, _S.SEALING: _BUSY_DDL, _S.SEALED: _SEALED_DDL,
                            _S.RECONFIGURING: ALLOWED, _S.RECONFIGURING_SEALED: _SEALED_DDL},
    # blue/green: swapping onto a sealed (production) cluster is a promotion of the incoming one
    Statement.SWAP: {_S.UNSEALED: ALLOWED, _S.SEALING: _BUSY_DDL, _S.SEALED: PROMOTE, _S.RECONFIGURING: _BUSY_DDL,
                     _S.RECONFIGURING_SEALED: _BUSY_DDL},
}


def verdict(statement: Statement, state: ClusterState) -> Allowed | Refused | Promote:
    return POLICY[statement][state]


def check(statement: Statement, state: ClusterState, cluster_name: str, text: str) -> None:
    """Raise the refusal of ``statement`` (spelled ``text`` in the message) on a cluster in ``state``."""
    decision = POLICY[statement][state]
    if isinstance(decision, Refused):
        cluster = quote_ident(cluster_name)
        raise ObjectNotInPrerequisiteState(
            decision.message.format(cluster=cluster, statement=text),
            hint=decision.hint.format(cluster=cluster, statement=text),
            sqlstate=decision.sqlstate,
        )
