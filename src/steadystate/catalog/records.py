"""Catalog records: the durable, versioned description of every cluster, replica, role and object.

Each record is a frozen msgspec Struct with a ``version`` field (the record schema version, so a later
release can migrate older records when it reads them).  Records are stored one per row by
``catalog.durable`` and held in memory by ``catalog.state``; the coordinator is their only writer.

Ids: clusters ``c<n>``, replicas ``r<n>``, user objects ``u<n>``, builtin relations ``s<n>``, roles ``g<n>``.
"""

from __future__ import annotations

import enum

import msgspec

from steadystate.expr.ir import ScalarExpr
from steadystate.repr.objects import ItemKind
from steadystate.repr.types import RelationDesc

RECORD_VERSION = 1


class ClusterRecord(msgspec.Struct, frozen=True):
    id: str
    name: str
    managed: bool
    size: str | None
    replication_factor: int | None
    owner: str
    sealed: bool = False
    version: int = RECORD_VERSION


class ReplicaRecord(msgspec.Struct, frozen=True):
    id: str
    name: str
    cluster_id: str
    size: str
    owner: str
    version: int = RECORD_VERSION


class RoleRecord(msgspec.Struct, frozen=True):
    id: str
    name: str
    superuser: bool
    version: int = RECORD_VERSION
    password: str | None = None  # the SCRAM-SHA-256 verifier of its password; None: cannot log in with one
    # Materialize's role attributes (``CREATE ROLE r CREATEROLE CREATEDB CREATECLUSTER``)
    createrole: bool = False
    createdb: bool = False
    createcluster: bool = False
    member_of: tuple[str, ...] = ()  # the roles granted to it (``GRANT r TO this``); it inherits their privileges


class SchemaRecord(msgspec.Struct, frozen=True):
    """A schema made by ``CREATE SCHEMA``; ``public`` and the system schemas exist without a record."""

    id: str
    database: str
    name: str
    owner: str
    version: int = RECORD_VERSION


class CommentRecord(msgspec.Struct, frozen=True):
    """``COMMENT ON``: one per commented object or column (``id`` is ``<object id>/<column number or empty>``)."""

    id: str
    object_id: str  # an item (u<n>), a schema's mz_schemas id, a cluster (c<n>) or a database's mz_databases id
    object_type: str  # mz_comments.object_type: table, view, materialized-view, index, schema, cluster, database
    sub_id: int | None  # the column's number (from 1) for a column comment
    comment: str
    version: int = RECORD_VERSION


class DatabaseRecord(msgspec.Struct, frozen=True):
    """A database made by ``CREATE DATABASE``; ``materialize`` exists without one."""

    id: str
    name: str
    owner: str
class SystemSettingRecord(msgspec.Struct, frozen=True):
    """A system variable set by ``ALTER SYSTEM SET`` (adapter/limits.py); ``id`` is its name.  Without a record the
    variable has its default."""

    id: str
    value: str
    version: int = RECORD_VERSION


class DefaultPrivilegeRecord(msgspec.Struct, frozen=True):
    """``ALTER DEFAULT PRIVILEGES``: what ``grantee`` is granted on each object of ``object_type`` that ``role``
    (``PUBLIC``: any role) creates in the scope (``database``/``schema_id`` None: any); adapter/default_privileges.py.
    ``id`` is ``<role>:<database>:<schema id>:<object type>:<grantee>``; an empty ``privileges`` is deleted."""

    id: str
    role: str
    database: str | None
    schema_id: str | None  # the schema as the privilege model keys it (adapter/privileges.py schema_obj)
    object_type: str  # a privileges.ObjectType value: table
    grantee: str
    privileges: str  # Materialize's letters
    version: int = RECORD_VERSION


class GrantRecord(msgspec.Struct, frozen=True):
    """The privileges one role (or ``PUBLIC``) holds on one object (``GRANT``/``REVOKE``; adapter/privileges.py).

    ``id`` is ``<object type>:<object id>:<grantee>``.  A record overrides the object's default privileges for
    that grantee (an empty ``privileges`` is a REVOKE of a default); without one the defaults hold.
    """

    id: str
    object_type: str  # a privileges.ObjectType value: table (any relation), schema, database, cluster
    object_id: str  # an item's or cluster's id; a schema's "database.schema"; a database's name
    grantee: str  # a role name or PUBLIC
    privileges: str  # Materialize's letters: r SELECT, a INSERT, w UPDATE, d DELETE, U USAGE, C CREATE
    grantor: str
    version: int = RECORD_VERSION


class ItemRecord(msgspec.Struct, frozen=True):
    """A table, view, materialized view or index.

    * tables and materialized views have a ``shard``;
    * views and materialized views have a ``plan`` (the encoded RelationExpr of their body) and ``sql``;
    * indexes have ``on_id``, ``key`` and ``key_names``; indexes and materialized views have ``cluster_id``;
    * tables may have ``defaults``: per column, the expression of its DEFAULT (already cast to the column's type)
      or ``None`` (NULL); empty when no column has one.
    """

    id: str
    database: str
    schema: str
    name: str
    kind: ItemKind
    owner: str
    desc: RelationDesc | None = None
    sql: str = ""
    plan: bytes | None = None
    shard: str | None = None
    cluster_id: str | None = None
    on_id: str | None = None
    key: tuple[ScalarExpr, ...] = ()
    key_names: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    created_at_ms: int = 0
    defaults: tuple[ScalarExpr | None, ...] = ()
    version: int = RECORD_VERSION
    # the session TimeZone its plan (or DEFAULTs) were computed in, when they depend on one; "": they do not;
    # None: recorded before this was (see ``zone``)
    time_zone: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"

    @property
    def zone(self) -> str:
        """The TimeZone reads of it must be planned in ("": any; sql/session_zone.py).  An item recorded before
        zones were (``time_zone`` None) with a plan or DEFAULTs was created under UTC, the only zone then
        allowed for them, and may depend on it."""
        if self.time_zone is not None:
            return self.time_zone
        return "UTC" if self.plan is not None or self.defaults else ""


class ReconfigurationKind(enum.Enum):
    """Why a cluster's replicas are being replaced."""

    SEAL = "seal"  # dirty replicas replaced by clean ones, then the cluster is sealed
    RESTART = "restart"  # every replica replaced, from a fresh plan of the catalog
    RESIZE = "resize"  # ALTER CLUSTER ... SET (SIZE ...) WITH (WAIT UNTIL READY (...))


class OnTimeout(enum.Enum):
    COMMIT = "commit"  # cut over to the replacements even if they have not hydrated
    ROLLBACK = "rollback"  # remove the replacements and fail the statement


class ReconfigurationRecord(msgspec.Struct, frozen=True):
    """A graceful replacement of a cluster's replicas in progress (Materialize's pending reconfiguration).

    Written in the same catalog transaction as the pending replicas it starts, deleted in the transaction that
    cuts over (retiring the replaced replicas, renaming the replacements) or rolls back (deleting the
    replacements).  A coordinator that starts and finds one rolls it back, so a crash in the middle never
    leaves pending replicas.  ``id`` is the cluster's id: at most one per cluster.
    """

    id: str
    kind: ReconfigurationKind
    replacements: tuple[tuple[str, str], ...]  # (pending replica id, id of the replica it replaces, or "")
    retiring: tuple[str, ...]  # replicas that go at cut-over (replaced or not)
    deadline_ms: int
    on_timeout: OnTimeout
    owner: str
    started_at_ms: int
    cluster: ClusterRecord | None = None  # the cluster record written at cut-over (new size or factor)
    version: int = RECORD_VERSION


class AuditEvent(msgspec.Struct, frozen=True):
    id: int
    event_type: str  # create | drop | alter
    object_type: str  # cluster | cluster-replica | table | view | materialized-view | index | role
    details: str  # JSON text
    user: str
    occurred_at_ms: int


class StatusEvent(msgspec.Struct, frozen=True):
    """One line of mz_cluster_replica_status_history."""

    replica_id: str
    process_id: int
    status: str  # a ProcessStatus value (online, offline, crash-looping), or clean | dirty
    reason: str | None
    occurred_at_ms: int


KIND_NAMES = {
    ItemKind.TABLE: "table",
    ItemKind.VIEW: "view",
    ItemKind.MATERIALIZED_VIEW: "materialized view",
    ItemKind.INDEX: "index",
    ItemKind.BUILTIN: "system relation",
}

RECORD_TYPES: dict[str, type] = {
    "cluster": ClusterRecord,
    "replica": ReplicaRecord,
    "role": RoleRecord,
    "item": ItemRecord,
    "reconfiguration": ReconfigurationRecord,
    "schema": SchemaRecord,
    "comment": CommentRecord,
    "database": DatabaseRecord,
    "grant": GrantRecord,
    "system_setting": SystemSettingRecord,
    "default_privilege": DefaultPrivilegeRecord,
}
