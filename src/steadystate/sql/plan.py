"""The plans the planner produces and the adapter sequences: one frozen dataclass per kind of statement.

Relation-valued parts are IR (``steadystate.expr.ir``); names are :class:`QualifiedName`; objects the plan
refers to are already resolved to ids.  ``param_types`` (on statements that may hold ``$n``) lists the
inferred type of each parameter, in order, for the extended query protocol's ParameterDescription.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from steadystate.expr.ir import RelationExpr, RowSetFinishing, ScalarExpr
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.sql.catalog_api import QualifiedName, ResolvedItem
from steadystate.sql.statements import (
    AlterAction, ExplainFormat, ExplainStage, ExplainWhat, ObjectClass, SubscribeEnvelope, TransactionAction,
)
from steadystate.repr.objects import ItemKind

ParamTypes = tuple[ScalarType, ...]


@dataclass(frozen=True)
class CreateTablePlan:
    name: QualifiedName
    desc: RelationDesc
    if_not_exists: bool = False
    defaults: tuple[ScalarExpr | None, ...] = ()  # per column; () or None = NULL default
    time_zone: str = ""  # the TimeZone its DEFAULTs depend on ("": none; sql/session_zone.py)


@dataclass(frozen=True)
class CreateViewPlan:
    name: QualifiedName
    expr: RelationExpr
    desc: RelationDesc
    sql_text: str
    if_not_exists: bool = False
    time_zone: str = ""  # the TimeZone its plan depends on ("": none; sql/session_zone.py)


@dataclass(frozen=True)
class CreateMaterializedViewPlan:
    name: QualifiedName
    expr: RelationExpr
    desc: RelationDesc
    sql_text: str
    cluster_id: str
    if_not_exists: bool = False
    time_zone: str = ""  # the TimeZone its plan depends on ("": none; sql/session_zone.py)


@dataclass(frozen=True)
class CreateIndexPlan:
    name: QualifiedName | None  # None: the adapter picks "<on>_primary_idx" style names
    on_id: str
    on_name: QualifiedName
    key: tuple[ScalarExpr, ...]
    key_names: tuple[str, ...]
    cluster_id: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class CreateClusterPlan:
    name: str
    managed: bool
    size: str | None
    replication_factor: int | None
    replicas: tuple[tuple[str, str | None], ...] = ()  # unmanaged: (replica name, size or None: the default)
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class CreateClusterReplicaPlan:
    cluster_id: str
    cluster_name: str
    name: str
    size: str | None


@dataclass(frozen=True)
class DropObjectsPlan:
    kind: ItemKind
    items: tuple[ResolvedItem, ...]
    missing: tuple[str, ...]  # names given with IF EXISTS that do not exist (for notices)
    cascade: bool = False


@dataclass(frozen=True)
class DropClusterPlan:
    cluster_id: str | None  # None: IF EXISTS and missing
    name: str
    cascade: bool = False


@dataclass(frozen=True)
class DropClusterReplicaPlan:
    cluster_id: str | None  # None: IF EXISTS and the cluster is missing
    cluster_name: str
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class AlterClusterPlan:
    cluster_id: str
    cluster_name: str
    action: AlterAction
    options: dict[str, Any] = field(default_factory=dict)
    wait: dict[str, Any] | None = None  # SET ... WITH (WAIT UNTIL READY (...)): a graceful resize


@dataclass(frozen=True)
class CreateRolePlan:
    name: str
    superuser: bool = False
    verifier: str | None = None  # the SCRAM-SHA-256 verifier of its password (never the password)
    attributes: tuple[tuple[str, bool], ...] = ()  # (createrole | createdb | createcluster, on or off)


@dataclass(frozen=True)
class AlterRolePlan:
    name: str
    superuser: bool | None = None
    verifier: str | None = None
    clear_password: bool = False
    attributes: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class AlterDefaultPrivilegesPlan:
    """``ALTER DEFAULT PRIVILEGES``: ``scopes`` are resolved: (database, schema) pairs, either part None for all."""

    roles: tuple[str, ...] | None  # None: all roles
    scopes: tuple[tuple[str | None, str | None], ...]
    privileges: tuple[str, ...]
    object_type: str
    grantees: tuple[str, ...]
    revoke: bool = False


@dataclass(frozen=True)
class AlterSystemPlan:
    name: str  # "all" with RESET ALL
    value: str | None  # None: reset to the default


@dataclass(frozen=True)
class CreateSchemaPlan:
    database: str
    name: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropSchemaPlan:
    database: str
    name: str
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class DropRolePlan:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class GrantPrivilegesPlan:
    """GRANT/REVOKE of privileges on objects; ``objects`` are resolved: an item's or cluster's id, a schema's
    ``database.schema``, a database's name."""

    privileges: tuple[str, ...]  # () for ALL PRIVILEGES
    object_type: str  # TABLE, SCHEMA, DATABASE, CLUSTER
    objects: tuple[str, ...]
    grantees: tuple[str, ...]
    revoke: bool = False


@dataclass(frozen=True)
class GrantRolePlan:
    roles: tuple[str, ...]
    members: tuple[str, ...]
    revoke: bool = False


@dataclass(frozen=True)
class InsertPlan:
    table_id: str
    expr: RelationExpr  # full table rows in column order, NULL for omitted columns
    desc: RelationDesc
    param_types: ParamTypes = ()
    returning: tuple[ScalarExpr, ...] = ()  # RETURNING, over the inserted row (sql/dml_extras.py)
    returning_desc: RelationDesc | None = None  # None: no RETURNING


@dataclass(frozen=True)
class UpdatePlan:
    table_id: str
    predicates: tuple[ScalarExpr, ...]  # over the table's columns
    assignments: tuple[tuple[int, ScalarExpr], ...]  # (column index, new value over the old row)
    desc: RelationDesc | None = None
    param_types: ParamTypes = ()
    # UPDATE ... FROM: the FROM items' relation; predicates and assignments are then over the table's columns
    # followed by its columns (``other_desc``)
    other: RelationExpr | None = None
    other_desc: RelationDesc | None = None
    returning: tuple[ScalarExpr, ...] = ()  # over the new row followed by the joined FROM row
    returning_desc: RelationDesc | None = None


@dataclass(frozen=True)
class DeletePlan:
    table_id: str
    predicates: tuple[ScalarExpr, ...]
    desc: RelationDesc | None = None
    param_types: ParamTypes = ()
    other: RelationExpr | None = None  # DELETE ... USING, as UpdatePlan's
    other_desc: RelationDesc | None = None
    returning: tuple[ScalarExpr, ...] = ()  # over the deleted row followed by the joined USING row
    returning_desc: RelationDesc | None = None


@dataclass(frozen=True)
class SelectPlan:
    expr: RelationExpr
    desc: RelationDesc  # the result columns (after finishing.project)
    finishing: RowSetFinishing = RowSetFinishing()
    param_types: ParamTypes = ()


@dataclass(frozen=True)
class SubscribePlan:
    expr: RelationExpr
    desc: RelationDesc
    with_snapshot: bool = True
    copy: bool = False  # inside COPY (...) TO STDOUT
    param_types: ParamTypes = ()
    progress: bool = False  # WITH (PROGRESS): mz_progressed rows
    as_of: int | None = None  # AS OF: None = now
    as_of_at_least: bool = False
    up_to: int | None = None  # UP TO: updates at times before it, then the subscribe ends
    envelope: SubscribeEnvelope = SubscribeEnvelope.NONE
    key: tuple[int, ...] = ()  # the envelope's KEY columns


@dataclass(frozen=True)
class DeclarePlan:
    name: str
    query: "SubscribePlan | SelectPlan"
    param_types: ParamTypes = ()  # the query's


@dataclass(frozen=True)
class FetchPlan:
    name: str
    count: int | None  # None: ALL
    timeout: float | None = None  # seconds; None: wait for at least one row (SUBSCRIBE cursors)


@dataclass(frozen=True)
class ClosePlan:
    name: str | None  # None: ALL


@dataclass(frozen=True)
class ShowCreatePlan:
    kind: ItemKind | str  # an item kind, or 'cluster'
    id: str
    name: str  # the fully qualified name shown


@dataclass(frozen=True)
class ShowColumnsPlan:
    item: ResolvedItem


@dataclass(frozen=True)
class CopyFromPlan:
    table_id: str
    columns: tuple[int, ...]  # table column indices the input columns go to
    desc: RelationDesc  # the table's desc
    format: str = "text"  # 'text' | 'csv'
    header: bool = False
    delimiter: str = "\t"
    null: str = "\\N"
    defaults: tuple[ScalarExpr | None, ...] = ()  # the table's column DEFAULTs, for columns COPY omits


@dataclass(frozen=True)
class CopyToPlan:
    select: SelectPlan
    format: str = "text"


@dataclass(frozen=True)
class ExplainPlan:
    what: ExplainWhat
    target: SelectPlan | ResolvedItem | tuple[str, str]  # 'query'; objects; (cluster id, name) for 'restart_cluster'
    stage: ExplainStage = ExplainStage.OPTIMIZED
    format: ExplainFormat = ExplainFormat.TEXT


@dataclass(frozen=True)
class SetVariablePlan:
    name: str
    value: str | None  # None = DEFAULT
    local: bool = False


@dataclass(frozen=True)
class ResetVariablePlan:
    name: str


@dataclass(frozen=True)
class ShowVariablePlan:
    name: str


@dataclass(frozen=True)
class ShowObjectsPlan:
    kind: str
    in_cluster_id: str | None = None
    on_id: str | None = None
    schema: tuple[str, str] | None = None  # SHOW OBJECTS: (database, schema) whose objects are shown


@dataclass(frozen=True)
class TransactionPlan:
    action: TransactionAction
    savepoint: str | None = None
    read_only: bool | None = None  # BEGIN READ ONLY / READ WRITE (None: default_transaction_read_only)


@dataclass(frozen=True)
class CommentPlan:
    """COMMENT ON: names resolved by the adapter (adapter/renames.py) against the session's defaults."""

    target: ObjectClass
    name: tuple[str, ...]
    comment: str | None
    database: str  # the session's database and schema, for unqualified names
    schema: str


@dataclass(frozen=True)
class AlterNamePlan:
    """ALTER ... RENAME TO / SWAP WITH: applied by adapter/renames.py; inside an explicit transaction the
    session buffers them and applies them all at COMMIT in one catalog transaction."""

    target: ObjectClass
    name: tuple[str, ...]
    new_name: str
    swap: bool
    if_exists: bool
    database: str
    schema: str


@dataclass(frozen=True)
class CreateDatabasePlan:
    name: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropDatabasePlan:
    name: str
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class DiscardPlan:
    what: str = "all"


@dataclass(frozen=True)
class DeallocatePlan:
    name: str | None  # None: ALL


Plan = Union[
    CreateTablePlan, CreateViewPlan, CreateMaterializedViewPlan, CreateIndexPlan, CreateClusterPlan,
    CreateClusterReplicaPlan, DropObjectsPlan, DropClusterPlan, DropClusterReplicaPlan, AlterClusterPlan,
    CreateRolePlan, AlterRolePlan, DropRolePlan, CreateSchemaPlan, DropSchemaPlan, InsertPlan, UpdatePlan, DeletePlan,
    SelectPlan, SubscribePlan, CopyFromPlan,
    CopyToPlan, ExplainPlan, SetVariablePlan, ResetVariablePlan, ShowVariablePlan, ShowObjectsPlan,
    TransactionPlan, DiscardPlan, DeallocatePlan, DeclarePlan, FetchPlan, ClosePlan, ShowCreatePlan, ShowColumnsPlan,
    CommentPlan, AlterNamePlan, CreateDatabasePlan, DropDatabasePlan,
    GrantPrivilegesPlan, GrantRolePlan, AlterSystemPlan, AlterDefaultPrivilegesPlan,
]
