"""The parsed statements that are not plain sqlglot ASTs: Materialize's and the session/transaction ones.

``parse`` (sql/parser.py) returns :class:`Statement` wrappers.  A wrapper's ``node`` is either a sqlglot
expression (SELECT, VALUES, set operations, INSERT, UPDATE, DELETE, CREATE TABLE) or one of the frozen
dataclasses below.  Names are tuples of their dotted parts, already case-folded the way PostgreSQL folds
identifiers (unquoted → lowercase).  Embedded queries (a view's body, a subscribe's query, an index key) stay
sqlglot expressions, together with their SQL text where the plan needs it.

Option lists (``WITH (...)``, cluster options) are tuples of ``(NAME, value)`` pairs, the name upper-cased
and multi-word names joined by one space (``"REPLICATION FACTOR"``); a value is ``str``, ``int``, ``float``,
``bool`` or ``None`` (an option given without a value, e.g. ``HEADER``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal, Union

from sqlglot import exp

from steadystate.repr.objects import ItemKind

Name = tuple[str, ...]


class TransactionAction(enum.StrEnum):
    BEGIN = "begin"  # BEGIN, START TRANSACTION
    COMMIT = "commit"  # COMMIT, END
    ROLLBACK = "rollback"  # ROLLBACK, ABORT
    SAVEPOINT = "savepoint"  # SAVEPOINT name
    RELEASE_SAVEPOINT = "release_savepoint"  # RELEASE [SAVEPOINT] name
    ROLLBACK_TO_SAVEPOINT = "rollback_to_savepoint"  # ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name


class AlterAction(enum.StrEnum):
    """What an ALTER CLUSTER does."""

    SET = "set"  # SET (SIZE ..., REPLICATION FACTOR ...)
    OWNER = "owner"  # OWNER TO
    SEAL = "seal"
    UNSEAL = "unseal"
    RESTART = "restart"
    RESIZE = "resize"  # SET ... WITH (WAIT UNTIL READY (...)): the adapter's name for a graceful SET, never parsed


class ObjectClass(enum.StrEnum):
    """What COMMENT ON and ALTER ... RENAME TO / SWAP WITH name; the values are ``mz_comments.object_type``'s."""

    TABLE = "table"
    VIEW = "view"
    MATERIALIZED_VIEW = "materialized-view"
    INDEX = "index"
    COLUMN = "column"  # COMMENT ON COLUMN: the relation's own class is recorded
    SCHEMA = "schema"
    CLUSTER = "cluster"
    DATABASE = "database"


# what EXPLAIN explains: a query, an object of one of these kinds, or what RESTART would rebuild
ExplainWhat = Union[Literal["query", "restart_cluster"], ItemKind]
OptionValue = Union[str, int, float, bool, None]
Options = tuple[tuple[str, OptionValue], ...]


@dataclass(frozen=True)
class ReplicaDef:
    name: str
    options: Options


@dataclass(frozen=True)
class CreateCluster:
    name: str
    options: Options
    replicas: tuple[ReplicaDef, ...] | None  # None = managed


@dataclass(frozen=True)
class CreateClusterReplica:
    cluster: str
    name: str
    options: Options


@dataclass(frozen=True)
class DropCluster:
    name: str
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class DropClusterReplica:
    cluster: str
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class AlterCluster:
    name: str
    action: AlterAction
    options: Options = ()
    wait: Options | None = None  # SET (...) WITH (WAIT UNTIL READY (TIMEOUT = ..., ON TIMEOUT = ...))


@dataclass(frozen=True)
class CreateRole:
    name: str
    superuser: bool = False
    password: str | None = None  # as written: a password, or a SCRAM verifier given already hashed
    attributes: tuple[tuple[str, bool], ...] = ()  # (createrole | createdb | createcluster, on or off)


@dataclass(frozen=True)
class AlterRole:
    name: str
    superuser: bool | None = None  # None: unchanged
    password: str | None = None  # None: unchanged (unless clear_password)
    clear_password: bool = False  # PASSWORD NULL: the role can no longer log in with a password
    attributes: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class AlterDefaultPrivileges:
    """``ALTER DEFAULT PRIVILEGES [FOR {ROLE | USER} r, ... | FOR ALL ROLES] [IN SCHEMA s, ... | IN DATABASE d, ...]
    {GRANT ... TO | REVOKE ... FROM} ...`` (Materialize's; sql/grant_parser.py)."""

    roles: tuple[str, ...] | None  # None: FOR ALL ROLES; (): the current role
    schemas: tuple[Name, ...]
    databases: tuple[str, ...]
    privileges: tuple[str, ...]  # () for ALL PRIVILEGES
    object_type: str  # TABLE (ON TABLES)
    grantees: tuple[str, ...]
    revoke: bool = False


@dataclass(frozen=True)
class AlterSystem:
    """``ALTER SYSTEM SET name = value`` / ``ALTER SYSTEM RESET name`` (Materialize's system variables)."""

    name: str  # lower-cased; "all" with RESET ALL
    value: str | None  # None: RESET (the default again)


@dataclass(frozen=True)
class CreateSchema:
    name: Name  # schema or database.schema
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropSchema:
    name: Name
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class DropRole:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateView:
    name: Name
    query: exp.Expr
    query_sql: str
    materialized: bool = False
    if_not_exists: bool = False
    in_cluster: str | None = None
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CreateIndex:
    name: str | None
    on: Name
    key: tuple[exp.Expr, ...] | None  # None = all columns
    in_cluster: str | None = None
    default: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropObjects:
    kind: ItemKind  # TABLE, VIEW, MATERIALIZED_VIEW or INDEX
    names: tuple[Name, ...]
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class SetVariable:
    name: str
    value: str | None  # None = DEFAULT
    local: bool = False


@dataclass(frozen=True)
class ResetVariable:
    name: str  # 'all' for RESET ALL


@dataclass(frozen=True)
class ShowVariable:
    name: str  # 'all' for SHOW ALL


@dataclass(frozen=True)
class ShowObjects:
    kind: str  # 'clusters' | 'cluster_replicas' | 'indexes' | 'materialized_views' | 'tables' | 'views' | 'objects'
    on: Name | None = None
    in_cluster: str | None = None
    schema: Name | None = None  # SHOW OBJECTS FROM schema


class SubscribeEnvelope(enum.StrEnum):
    """SUBSCRIBE's output shape (Materialize's ENVELOPE clause)."""

    NONE = "none"  # (mz_timestamp, mz_diff, columns...)
    UPSERT = "upsert"  # (mz_timestamp, mz_state, key..., value...)
    DEBEZIUM = "debezium"  # (mz_timestamp, mz_state, key..., before_value..., after_value...)


class ExplainStage(enum.StrEnum):
    """Which plan EXPLAIN shows (Materialize's stages)."""

    RAW = "raw"
    DECORRELATED = "decorrelated"
    OPTIMIZED = "optimized"
    PHYSICAL = "physical"
    TIMESTAMP = "timestamp"


class ExplainFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True)
class Subscribe:
    target: Name | None
    query: exp.Expr | None
    query_sql: str | None
    options: Options = ()
    envelope: SubscribeEnvelope = SubscribeEnvelope.NONE
    envelope_key: tuple[str, ...] = ()  # ENVELOPE UPSERT/DEBEZIUM (KEY (...))
    as_of: exp.Expr | None = None  # AS OF [AT LEAST] <expr>
    as_of_at_least: bool = False
    up_to: exp.Expr | None = None  # UP TO <expr>


@dataclass(frozen=True)
class Declare:
    """``DECLARE name CURSOR FOR <SELECT | SUBSCRIBE>``."""

    name: str
    query: Any  # a sqlglot query or a Subscribe
    query_sql: str


@dataclass(frozen=True)
class Fetch:
    """``FETCH [FORWARD] [count | ALL] [FROM | IN] name [WITH (TIMEOUT = ...)]``."""

    name: str
    count: int | None  # None: ALL
    options: Options = ()


@dataclass(frozen=True)
class Close:
    name: str | None  # None: CLOSE ALL


@dataclass(frozen=True)
class ShowCreate:
    kind: ItemKind | Literal["cluster"]
    name: Name


@dataclass(frozen=True)
class ShowColumns:
    on: Name


@dataclass(frozen=True)
class CopyFrom:
    table: Name
    columns: tuple[str, ...] | None
    options: Options = ()


@dataclass(frozen=True)
class CopyTo:
    query: Any  # a sqlglot query or a Subscribe
    query_sql: str
    options: Options = ()


@dataclass(frozen=True)
class Explain:
    what: ExplainWhat
    query: exp.Expr | None = None
    name: Name | None = None
    stage: ExplainStage = ExplainStage.OPTIMIZED
    format: ExplainFormat = ExplainFormat.TEXT


@dataclass(frozen=True)
class Transaction:
    action: TransactionAction
    savepoint: str | None = None  # the savepoint's name for the three savepoint actions
    read_only: bool | None = None  # BEGIN READ ONLY / READ WRITE (None: the session's default)


@dataclass(frozen=True)
class Discard:
    what: str  # 'all'


@dataclass(frozen=True)
class Deallocate:
    name: str | None  # None: ALL


@dataclass(frozen=True)
class CommentOn:
    """``COMMENT ON <class> name IS 'text' | NULL`` (COLUMN: the column is the name's last part)."""

    target: ObjectClass
    name: Name
    comment: str | None


@dataclass(frozen=True)
class AlterName:
    """``ALTER <class> [IF EXISTS] name RENAME TO new`` or ``ALTER SCHEMA|CLUSTER name SWAP WITH other``."""

    target: ObjectClass
    name: Name
    new_name: str
    swap: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class CreateDatabase:
    name: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropDatabase:
    name: str
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class GrantPrivileges:
    """``GRANT | REVOKE {privilege, ... | ALL [PRIVILEGES]} ON [TABLE | SCHEMA | DATABASE | CLUSTER] name, ...
    {TO | FROM} role | PUBLIC, ...`` (sql/grant_parser.py)."""

    privileges: tuple[str, ...]  # upper-cased names; () for ALL PRIVILEGES
    object_type: str  # TABLE, SCHEMA, DATABASE, CLUSTER
    names: tuple[Name, ...]
    grantees: tuple[str, ...]  # role names, or "PUBLIC"
    revoke: bool = False


@dataclass(frozen=True)
class GrantRole:
    """``GRANT role, ... TO member, ...`` / ``REVOKE role, ... FROM member, ...``."""

    roles: tuple[str, ...]
    members: tuple[str, ...]
    revoke: bool = False


# the statements read by sql/custom_parser.py (GRANT and REVOKE by sql/grant_parser.py)
Custom = Union[
    CreateCluster, CreateClusterReplica, DropCluster, DropClusterReplica, AlterCluster, CreateRole, AlterRole,
    DropRole, CreateSchema, DropSchema, CommentOn, AlterName, CreateDatabase, DropDatabase,
    CreateView, CreateIndex, DropObjects, SetVariable, ResetVariable, ShowVariable, ShowObjects, Subscribe, CopyFrom,
    CopyTo, Explain, Transaction, Discard, Deallocate, Declare, Fetch, Close, ShowCreate, ShowColumns, GrantPrivileges, GrantRole,
    AlterSystem, AlterDefaultPrivileges,
]
# a parsed statement's node: a sqlglot tree (sqlglot types its parse only as ``exp.Expr``; the planner accepts
# Query, Values, Insert, Update, Delete and Create and refuses any other with 0A000) or a custom statement
Node = Union[exp.Expr, Custom]


@dataclass(frozen=True)
class Statement:
    """One parsed statement: its node and where it sits in the submitted string."""

    node: Node
    sql: str
    start: int
    end: int

    @property
    def is_query(self) -> bool:
        return isinstance(self.node, (exp.Query, exp.Values))
