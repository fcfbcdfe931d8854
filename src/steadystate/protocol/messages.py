"""The compute protocol's messages: commands (controller ► replica) and responses (replica ► controller).

Modelled on Materialize's compute protocol (DESIGN.md §4).  Every message is a frozen, tagged msgspec
Struct; :data:`Command` and :data:`Response` are the unions that travel inside frames (see
``protocol.framing``).  Commands come in three stages:

1. creation: :class:`Hello` (with the controller's nonce and the environment secret), :class:`CreateInstance`;
2. initialization: the reduced command history, then :class:`InitializationComplete` (the punctuation);
3. computation: :class:`CreateDataflow`, :class:`Schedule`, :class:`AllowWrites`, :class:`AllowCompaction`
   (``frontier=None`` — the empty frontier — drops the collection), :class:`Peek`, :class:`CancelPeek`,
   :class:`UpdateConfiguration`.

A :class:`DataflowDescription` says what a dataflow imports (shards, indexes of the same cluster), what it
builds (plans in dependency order), and what it exports (indexes, sinks), plus ``as_of``/``until``.  Its
:meth:`~DataflowDescription.fingerprint` hashes everything but ``as_of``: reconciliation reuses a running
dataflow whose fingerprint matches and whose ``as_of`` is compatible.

Responses: :class:`Frontiers`, :class:`PeekResponse`, :class:`SubscribeResponse`, :class:`Status` (the replica's
account of itself), :class:`HydrationProgress` (a collection's snapshot reading while it hydrates), and
:class:`HelloAck` (the first response of a connection).

Row payloads (peek results, subscribe updates) travel as ``repr.codec`` bytes so numerics and dates
survive msgpack; a peek's result travels as Arrow IPC record batches when the peek asks for it (``Peek.arrow``).
"""

from __future__ import annotations

import enum
import hashlib
from typing import Union

import msgspec

from steadystate.errors import ErrorFields
from steadystate.expr.ir import MapFilterProject, RelationExpr, RowSetFinishing, ScalarExpr
from steadystate.repr.types import RelationDesc
from steadystate.repr.objects import is_transient

_TAGGED = dict(frozen=True, tag=True, tag_field="kind")

# ---------------------------------------------------------------------------------------------------------
# Dataflow descriptions


class SourceImport(msgspec.Struct, frozen=True):
    """Read a durable collection (table or materialized view shard) named ``id`` from ``shard``."""

    id: str
    shard: str
    desc: RelationDesc
    errors_shard: str | None = None  # a materialized view's evaluation errors, read beside its rows


class IndexImport(msgspec.Struct, frozen=True):
    """Use the arrangement of an index exported by another dataflow on the same cluster."""

    index_id: str
    on_id: str
    key: tuple[ScalarExpr, ...]
    desc: RelationDesc


class BuildDesc(msgspec.Struct, frozen=True):
    """Compute collection ``id`` (a view, the body of an index or MV) from ``plan``."""

    id: str
    plan: RelationExpr
    desc: RelationDesc


class IndexExport(msgspec.Struct, frozen=True):
    """Arrange collection ``on_id`` by ``key`` and serve peeks on ``index_id``."""

    index_id: str
    on_id: str
    key: tuple[ScalarExpr, ...]
    desc: RelationDesc


class SinkKind(enum.StrEnum):
    """Where a sink sends its collection (the wire carries the value)."""

    MATERIALIZED_VIEW = "materialized_view"  # append to the sink's shard with compare_and_append, after AllowWrites
    SUBSCRIBE = "subscribe"  # SubscribeResponse batches


class SinkExport(msgspec.Struct, frozen=True):
    """Send collection ``on_id`` somewhere: see :class:`SinkKind`."""

    id: str
    on_id: str
    kind: SinkKind
    desc: RelationDesc
    shard: str | None = None
    with_snapshot: bool = True
    up_to: int | None = None


class DataflowDescription(msgspec.Struct, frozen=True):
    source_imports: tuple[SourceImport, ...]
    index_imports: tuple[IndexImport, ...]
    objects_to_build: tuple[BuildDesc, ...]
    index_exports: tuple[IndexExport, ...]
    sink_exports: tuple[SinkExport, ...]
    as_of: int | None
    until: int | None = None
    debug_name: str = ""

    @property
    def export_ids(self) -> tuple[str, ...]:
        return tuple(e.index_id for e in self.index_exports) + tuple(s.id for s in self.sink_exports)

    @property
    def is_transient(self) -> bool:
        return all(is_transient(export_id) for export_id in self.export_ids)

    def fingerprint(self) -> str:
        """A stable hash of everything but ``as_of`` and ``debug_name`` (hex): a rename (ALTER ... RENAME, SWAP)
        changes the label, not the dataflow, and must not make a replica rebuild it."""
        body = msgspec.structs.replace(self, as_of=None, debug_name="")
        return hashlib.sha256(msgspec.msgpack.encode(body)).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------------------
# Commands


class Hello(msgspec.Struct, **_TAGGED):
    nonce: str
    secret: str
    epoch: int = 0


class InstanceConfig(msgspec.Struct, frozen=True):
    cluster_id: str
    replica_id: str
    storage_url: str
    size: str = "small"


class CreateInstance(msgspec.Struct, **_TAGGED):
    config: InstanceConfig


class InitializationComplete(msgspec.Struct, **_TAGGED):
    pass


class CreateDataflow(msgspec.Struct, **_TAGGED):
    desc: DataflowDescription
    debug: str = ""  # a readable description of the DDL, e.g. "CREATE INDEX materialize.public.i (u7)"


class Schedule(msgspec.Struct, **_TAGGED):
    id: str


class AllowWrites(msgspec.Struct, **_TAGGED):
    id: str


class AllowCompaction(msgspec.Struct, **_TAGGED):
    id: str
    frontier: int | None  # None: the empty frontier, i.e. drop
    debug: str = ""


class PeekTargetKind(enum.StrEnum):
    """What a peek reads (the wire carries the value)."""

    INDEX = "index"  # the arrangement ``id``
    SHARD = "shard"  # ``shard`` at the peek's time


class PeekTarget(msgspec.Struct, frozen=True):
    kind: PeekTargetKind
    id: str
    shard: str | None = None
    desc: RelationDesc | None = None
    errors_shard: str | None = None  # a materialized view's errors, read with its rows


def errors_shard_of(shard: str) -> str:
    """The companion shard where a materialized view's sink writes its errors (evaluation errors as data)."""
    return f"{shard}.errors"


class Peek(msgspec.Struct, **_TAGGED):
    """Read ``target`` at ``timestamp`` through ``mfp``, then ``finishing`` (ORDER BY, OFFSET, LIMIT, projection:
    the replica returns only the rows the client asked for).  ``max_result_size`` (bytes of encoded rows, ``None``:
    no limit) makes the replica stop building the result as soon as it passes the limit and answer with an error."""

    uuid: str
    target: PeekTarget
    timestamp: int
    mfp: MapFilterProject
    max_result_size: int | None = None
    finishing: RowSetFinishing = RowSetFinishing()
    #: answer with Arrow record batches (``PeekResponse.batches``) where a chunk can be one; a replica of an
    #: older release ignores the field and answers with codec rows, which the controller still reads
    arrow: bool = False


class CancelPeek(msgspec.Struct, **_TAGGED):
    uuid: str


class UpdateConfiguration(msgspec.Struct, **_TAGGED):
    params: dict[str, str]


Command = Union[
    Hello,
    CreateInstance,
    InitializationComplete,
    CreateDataflow,
    Schedule,
    AllowWrites,
    AllowCompaction,
    Peek,
    CancelPeek,
    UpdateConfiguration,
]

#: Commands that are replica-level DDL when applied after InitializationComplete (the seed's definition);
#: AllowCompaction counts only with the empty frontier.
DDL_COMMANDS: frozenset[type] = frozenset({CreateDataflow, AllowCompaction})


def is_ddl(command: Command) -> bool:
    if isinstance(command, CreateDataflow):
        return True
    return isinstance(command, AllowCompaction) and command.frontier is None


# ---------------------------------------------------------------------------------------------------------
# Responses


class Frontiers(msgspec.Struct, **_TAGGED):
    """Frontiers of one collection on one replica; never regress, all ``None`` after a drop."""

    id: str
    write: int | None
    input: int | None
    output: int | None


class PeekResponse(msgspec.Struct, **_TAGGED):
    """Exactly one final response per peek: ``rows`` (codec-encoded) or ``batches`` (for a peek that asked for
    Arrow: an Arrow IPC stream, ``repr.arrow_rows``), or ``error``, or ``canceled``.

    A large result travels in bounded chunks: responses with ``partial=True`` each carry some of the rows (their
    own codec blob), and the final response (``partial=False``) the last of them; the result is the rows of all
    chunks in order.  A final ``error`` or ``canceled`` discards the chunks that came before it."""

    uuid: str
    rows: bytes | None = None
    error: ErrorFields | None = None
    canceled: bool = False
    partial: bool = False
    batches: bytes | None = None

    @property
    def has_result(self) -> bool:
        return self.rows is not None or self.batches is not None


class SubscribeBatch(msgspec.Struct, frozen=True):
    lower: int
    upper: int | None
    updates: bytes  # codec.encode_updates


class SubscribeResponse(msgspec.Struct, **_TAGGED):
    id: str
    batch: SubscribeBatch | None = None
    dropped: bool = False
    error: ErrorFields | None = None


class CollectionStatus(msgspec.Struct, frozen=True):
    id: str
    hydrated: bool
    hydration_ms: float | None = None
    records: int = 0
    size_bytes: int = 0
    fingerprint: str = ""
    error: str | None = None  # the replica could not render the dataflow: it runs nowhere on this replica


class Status(msgspec.Struct, **_TAGGED):
    """A replica's own account of itself: steady state, clean/dirty, what dirtied it, collections."""

    replica_id: str
    nonce: str
    steady: bool
    clean: bool
    steady_since_ms: int | None = None
    dirtied_by: str | None = None
    dirtied_at_ms: int | None = None
    collections: tuple[CollectionStatus, ...] = ()
    memory_bytes: int = 0
    reconciled_kept: int = 0
    reconciled_rebuilt: int = 0
    step_ms: tuple[float, ...] = ()  # durations of recent steps that did work, oldest first (at most 256)
    pid: int = 0  # the replica process's own pid, so status history rows name the right process
    step_seq: int = 0  # sequence number of the first entry of ``step_ms`` (steps are numbered from 0)
    reconciled_at_ms: int | None = None  # when the last replay ended (reconciled_kept/rebuilt describe it)
    # what restarting this replica costs in CPU time, so an estimate holds whatever else ran beside it then:
    # the process's own start (imports, until it listened), and rebuilding every dataflow of its last full replay
    startup_cpu_s: float = 0.0
    hydration_cpu_s: float | None = None
    commands_applied: int = 0  # commands applied since the Hello (included): the controller compares clean/dirty
    #                            only with a Status that reflects exactly what it sent


class HydrationProgress(msgspec.Struct, **_TAGGED):
    """How far collection ``id``'s dataflow has read its sources' snapshots while it hydrates: ``updates_read`` of
    the ``updates_total`` stored in the batches it reads (a replica reads a snapshot a few batches per tick and
    sends one after each tick that read some; ``Status`` says when the collection is hydrated)."""

    id: str
    updates_read: int
    updates_total: int


class HelloAck(msgspec.Struct, **_TAGGED):
    replica_id: str
    pid: int
    nonce: str


Response = Union[Frontiers, PeekResponse, SubscribeResponse, Status, HydrationProgress, HelloAck]
