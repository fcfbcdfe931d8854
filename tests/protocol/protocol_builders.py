"""Builders of compute protocol messages for the protocol tests: one example of every Command and Response,
small dataflow descriptions, and hypothesis strategies for messages."""

from __future__ import annotations

from hypothesis import strategies as st

from steadystate.errors import ErrorFields
from steadystate.expr.ir import CallBinary, ColumnRef, Filter, Get, MapFilterProject, literal
from steadystate.protocol.messages import (
    AllowCompaction,
    AllowWrites,
    BuildDesc,
    CancelPeek,
    CollectionStatus,
    Command,
    CreateDataflow,
    CreateInstance,
    DataflowDescription,
    Frontiers,
    Hello,
    HelloAck,
    IndexExport,
    IndexImport,
    InitializationComplete,
    InstanceConfig,
    Peek,
    HydrationProgress,
    PeekResponse,
    PeekTarget,
    Response,
    Schedule,
    SinkExport,
    SourceImport,
    Status,
    SubscribeBatch,
    SubscribeResponse,
    UpdateConfiguration,
)
from steadystate.repr.types import Column, RelationDesc, ScalarType

SECRET = "environment-secret"
DESC = RelationDesc((Column("a", ScalarType.INT8), Column("b", ScalarType.TEXT, nullable=False)))


def hello(nonce: str = "n1", secret: str = SECRET, epoch: int = 0) -> Hello:
    return Hello(nonce=nonce, secret=secret, epoch=epoch)


def create_instance(cluster_id: str = "u1", replica_id: str = "u1") -> CreateInstance:
    return CreateInstance(InstanceConfig(cluster_id=cluster_id, replica_id=replica_id, storage_url="sqlite:///x"))


def dataflow(
    *export_ids: str, as_of: int | None = 0, on_id: str = "u100", sink_ids: tuple[str, ...] = (), name: str = ""
) -> DataflowDescription:
    """A dataflow reading shard ``on_id`` through a filter and exporting an index per ``export_ids``."""
    plan = Filter(Get(on_id), (CallBinary("gt", ColumnRef(0), literal(1, ScalarType.INT8)),))
    return DataflowDescription(
        source_imports=(SourceImport(on_id, f"shard-{on_id}", DESC),),
        index_imports=(),
        objects_to_build=(BuildDesc(f"{on_id}-view", plan, DESC),),
        index_exports=tuple(IndexExport(e, f"{on_id}-view", (ColumnRef(0),), DESC) for e in export_ids),
        sink_exports=tuple(SinkExport(s, f"{on_id}-view", "materialized_view", DESC, shard=f"shard-{s}") for s in sink_ids),
        as_of=as_of,
        debug_name=name,
    )


def peek(uuid: str, index_id: str = "u1", timestamp: int = 5) -> Peek:
    return Peek(uuid=uuid, target=PeekTarget("index", index_id), timestamp=timestamp, mfp=MapFilterProject(2))


def every_command() -> list[Command]:
    """One of each Command type, with non-default field values."""
    return [
        hello(epoch=3),
        create_instance(),
        InitializationComplete(),
        CreateDataflow(dataflow("u7", "u8", sink_ids=("u9",), as_of=17, name="idx"), debug="CREATE INDEX i (u7)"),
        CreateDataflow(
            DataflowDescription(
                source_imports=(),
                index_imports=(IndexImport("u7", "u3", (ColumnRef(1),), DESC),),
                objects_to_build=(),
                index_exports=(),
                sink_exports=(SinkExport("t4", "u7", "subscribe", DESC, up_to=99, with_snapshot=False),),
                as_of=None,
                until=100,
            )
        ),
        Schedule("u7"),
        AllowWrites("u9"),
        AllowCompaction("u7", 42),
        AllowCompaction("u7", None, debug="DROP INDEX i"),
        Peek(
            uuid="p1",
            target=PeekTarget("shard", "u3", shard="shard-u3", desc=DESC),
            timestamp=1_700_000_000_000,
            mfp=MapFilterProject(2, map=(literal("1.50", ScalarType.NUMERIC),), predicates=(ColumnRef(1),), projection=(0, 2)),
            arrow=True,
        ),
        CancelPeek("p1"),
        UpdateConfiguration({"max_result_size": "1GB", "": "ünïcode"}),
    ]


def every_response() -> list[Response]:
    """One of each Response type, with non-default field values."""
    error = ErrorFields("22012", "division by zero", detail="d", hint="h")
    return [
        Frontiers("u7", write=5, input=4, output=None),
        PeekResponse("p1", rows=b"\x00\x01\xff"),
        PeekResponse("p1", batches=b"\xff\xff\xff\xff\x00", partial=True),
        PeekResponse("p2", error=error),
        PeekResponse("p3", canceled=True),
        SubscribeResponse("t4", batch=SubscribeBatch(lower=1, upper=None, updates=b"\x90")),
        SubscribeResponse("t4", dropped=True, error=error),
        Status(
            replica_id="u1",
            nonce="n1",
            steady=True,
            clean=False,
            steady_since_ms=10,
            dirtied_by="CreateDataflow u7",
            dirtied_at_ms=11,
            collections=(CollectionStatus("u7", True, hydration_ms=1.5, records=3, size_bytes=100, fingerprint="ab"),),
            memory_bytes=12345,
            reconciled_kept=2,
            reconciled_rebuilt=1,
        ),
        HydrationProgress("u7", updates_read=40_000, updates_total=100_000),
        HelloAck(replica_id="u1", pid=4242, nonce="n1"),
    ]


#: Hypothesis strategy: any of the example commands, with a few fields drawn.
ids = st.sampled_from(["u1", "u2", "u3", "t1", "s9"])
commands: st.SearchStrategy[Command] = st.one_of(
    st.sampled_from(every_command()),
    st.builds(Hello, nonce=st.text(max_size=20), secret=st.text(max_size=20), epoch=st.integers(0, 2**40)),
    st.builds(Schedule, ids),
    st.builds(AllowCompaction, ids, st.none() | st.integers(0, 2**62), debug=st.text(max_size=10)),
    st.builds(UpdateConfiguration, st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4)),
    st.builds(CreateDataflow, st.builds(lambda e, a: dataflow(e, as_of=a), ids, st.none() | st.integers(0, 2**62))),
)
responses: st.SearchStrategy[Response] = st.one_of(
    st.sampled_from(every_response()),
    st.builds(Frontiers, ids, *[st.none() | st.integers(0, 2**63 - 1)] * 3),
    st.builds(PeekResponse, st.text(max_size=12), rows=st.none() | st.binary(max_size=200)),
    st.builds(PeekResponse, st.text(max_size=12), batches=st.binary(max_size=200), partial=st.booleans()),
    st.builds(HydrationProgress, ids, st.integers(0, 2**62), st.integers(0, 2**62)),
)
