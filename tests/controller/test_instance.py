"""The compute controller of one cluster (``controller.instance.ComputeInstance``), driven response by response.

The replica connections are stand-ins that record what is sent and carry a connection epoch, so each rule is
checked exactly:

* a peek asked of two replicas completes with the first *final* answer, whatever the other sent before or after,
  and is cancelled everywhere;
* a response tagged with an older connection epoch than the connection's current one changes nothing;
* a replica's reported frontier of a collection never regresses, whatever order its ``Frontiers`` arrive in
  (hypothesis), and a new connection starts it afresh;
* the cluster's frontier is the greatest any replica reached.

One test runs the real thing (``steadystate.testing``): two in-process replicas, one crashed, queries answered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import given, strategies as st

from steadystate.controller.instance import ComputeInstance, ReplicaState
from steadystate.errors import ErrorFields
from steadystate.expr.ir import MapFilterProject
from steadystate.protocol import messages as m
from steadystate.protocol.stages import CommandStream
from steadystate.repr import arrow_rows, codec
from steadystate.testing import memory_environment


@dataclass
class FakeConnection:
    """What the instance uses of a ``controller.replica.ReplicaConnection``: no socket, a record of sends."""

    replica_id: str
    epoch: int = 1
    live: bool = True
    sent: list[m.Command] = field(default_factory=list)
    expected: CommandStream = field(default_factory=CommandStream)

    def send(self, command: m.Command) -> None:
        if self.live:
            self.sent.append(command)

    async def close(self) -> None:
        self.live = False


def instance_with(*replica_ids: str) -> tuple[ComputeInstance, dict[str, FakeConnection]]:
    instance = ComputeInstance("c1", "cluster", "secret")
    connections = {rid: FakeConnection(rid) for rid in replica_ids}
    for rid, connection in connections.items():
        instance.replicas[rid] = ReplicaState(connection)  # type: ignore[arg-type]
    return instance, connections


TARGET = m.PeekTarget("index", "u1")


def frontiers(output: int | None) -> m.Frontiers:
    return m.Frontiers("u1", output, output, output)


def rows(*values: int) -> bytes:
    return codec.encode_rows([(v,) for v in values])


def test_the_first_final_answer_wins_and_the_peek_is_cancelled_everywhere() -> None:
    async def main() -> None:
        instance, conns = instance_with("r1", "r2")
        task = asyncio.create_task(instance.peek(TARGET, 5, MapFilterProject(1), timeout=5))
        await asyncio.sleep(0)
        (peek,) = [c for c in conns["r1"].sent if isinstance(c, m.Peek)]
        assert [c for c in conns["r2"].sent if isinstance(c, m.Peek)] == [peek]
        r1, r2 = conns["r1"], conns["r2"]
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, partial=True))  # acknowledged
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, rows=rows(1, 2), partial=True))  # a first chunk
        instance.on_response(r2, 1, m.PeekResponse(peek.uuid, rows=rows(7)))  # r2's final answer comes first
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, rows=rows(3)))  # too late
        assert await task == [(7,)]
        for connection in (r1, r2):
            assert m.CancelPeek(peek.uuid) in connection.sent

    asyncio.run(main())


def test_a_result_of_arrow_and_codec_chunks_is_their_rows_in_order() -> None:
    """The controller asks for Arrow; a replica of an older release answers with codec rows, and a chunk that is
    no record batch comes as codec rows too: the result is every chunk's rows in order, whatever each one's form."""

    async def main() -> None:
        instance, conns = instance_with("r1")
        task = asyncio.create_task(instance.peek(TARGET, 5, MapFilterProject(1), timeout=5))
        await asyncio.sleep(0)
        (peek,) = [c for c in conns["r1"].sent if isinstance(c, m.Peek)]
        assert peek.arrow
        r1 = conns["r1"]
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, partial=True))
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, batches=arrow_rows.encode_ipc([(1,), (2,)]),
                                                   partial=True))
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, rows=rows(3), partial=True))
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, batches=arrow_rows.encode_ipc([(4,), (None,)])))
        result = await task
        assert isinstance(result, arrow_rows.ArrowRows) and len(result) == 5
        assert list(result) == [(1,), (2,), (3,), (4,), (None,)]

    asyncio.run(main())


def test_an_error_answer_wins_too() -> None:
    async def main() -> None:
        instance, conns = instance_with("r1", "r2")
        task = asyncio.create_task(instance.peek(TARGET, 5, MapFilterProject(1), timeout=5))
        await asyncio.sleep(0)
        (peek,) = [c for c in conns["r1"].sent if isinstance(c, m.Peek)]
        instance.on_response(conns["r1"], 1, m.PeekResponse(peek.uuid, error=ErrorFields("XX000", "boom")))
        instance.on_response(conns["r2"], 1, m.PeekResponse(peek.uuid, rows=rows(1)))
        try:
            await task
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "sqlstate", None) == "XX000"
        else:
            raise AssertionError("the first (error) answer must win")

    asyncio.run(main())


def test_responses_of_an_older_epoch_are_dropped() -> None:
    async def main() -> None:
        instance, conns = instance_with("r1")
        r1 = conns["r1"]
        instance.on_response(r1, 1, frontiers(10))
        r1.epoch = 2  # reconnected
        instance.on_response(r1, 1, frontiers(20))
        assert instance.replicas["r1"].frontiers == {"u1": 10}
        task = asyncio.create_task(instance.peek(TARGET, 5, MapFilterProject(1), timeout=5))
        await asyncio.sleep(0)
        (peek,) = [c for c in r1.sent if isinstance(c, m.Peek)]
        instance.on_response(r1, 1, m.PeekResponse(peek.uuid, rows=rows(1)))  # stale: ignored
        assert not task.done()
        instance.on_response(r1, 2, m.PeekResponse(peek.uuid, rows=rows(2)))
        assert await task == [(2,)]

    asyncio.run(main())


reports = st.lists(st.tuples(st.sampled_from(["r1", "r2"]), st.one_of(st.none(), st.integers(0, 50))), max_size=30)


@given(reports)
def test_frontiers_never_regress(sequence: list[tuple[str, int | None]]) -> None:
    instance, conns = instance_with("r1", "r2")
    seen: dict[str, list[int | None]] = {"r1": [], "r2": []}
    for replica_id, frontier in sequence:
        instance.on_response(conns[replica_id], 1, frontiers(frontier))
        seen[replica_id].append(frontier)
        # a replica's frontier is the greatest it reported (None, the empty frontier, is the greatest of all)
        for rid, values in seen.items():
            if values:
                want = None if None in values else max(v for v in values if v is not None)
                assert instance.replicas[rid].frontiers["u1"] == want
        reported = [instance.replicas[r].frontiers["u1"] for r in seen if seen[r]]
        assert instance.frontier("u1") == (None if None in reported else max(reported))  # type: ignore[type-var]


def test_a_new_connection_starts_the_frontiers_afresh() -> None:
    instance, conns = instance_with("r1")
    instance.on_response(conns["r1"], 1, frontiers(30))
    conns["r1"].epoch = 2
    instance.on_connected(conns["r1"])  # type: ignore[arg-type]
    assert instance.frontier("u1") == "unknown"
    instance.on_response(conns["r1"], 2, frontiers(5))
    assert instance.frontier("u1") == 5


def test_two_in_process_replicas_answer_while_one_crashes() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE CLUSTER two (SIZE = 'small', REPLICATION FACTOR = 2)")
            await env.execute("SET cluster = two")
            await env.execute("CREATE TABLE t (a int)")
            await env.execute("INSERT INTO t VALUES (1), (2)")
            await env.execute("CREATE INDEX t_idx IN CLUSTER two ON t (a)")
            await env.wait_connected("two")
            assert await env.query("SELECT a FROM t ORDER BY a") == [(1,), (2,)]
            await env.kill_replica("r1", "two")
            for _ in range(5):
                assert await env.query("SELECT a FROM t ORDER BY a") == [(1,), (2,)]
            await env.wait_connected("two")
            assert len(env.instance("two").live_replica_ids()) == 2

    asyncio.run(main())


def test_the_controller_handles_every_kind_of_response() -> None:
    """The controller's response table (``_RESPONSE_HANDLERS``) has an entry for every member of ``Response``."""
    from steadystate.controller.instance import _RESPONSE_HANDLERS

    assert set(_RESPONSE_HANDLERS) == set(m.Response.__args__)  # type: ignore[attr-defined]


def test_hydration_progress_is_kept_per_connection_until_the_collection_hydrates() -> None:
    """The latest ``HydrationProgress`` per collection is what ``hydration_progress`` gives, for the replica's
    current connection only (a reconnected replica starts over); a ``Status`` saying it is hydrated ends it."""
    instance, conns = instance_with("r1")
    r1 = conns["r1"]
    instance.on_response(r1, 1, m.HydrationProgress("u1", 10, 100))
    instance.on_response(r1, 1, m.HydrationProgress("u1", 40, 100))
    instance.on_response(r1, 1, m.HydrationProgress("u2", 5, 50))
    assert {k: v.updates_read for k, v in instance.hydration_progress("r1").items()} == {"u1": 40, "u2": 5}
    instance.on_response(r1, 0, m.HydrationProgress("u1", 90, 100))  # an older connection's: dropped
    assert instance.hydration_progress("r1")["u1"].updates_read == 40
    instance.on_response(r1, 1, m.Status("r1", "n", True, True, collections=(m.CollectionStatus("u1", True),)))
    assert set(instance.hydration_progress("r1")) == {"u2"}
    r1.epoch = 2  # reconnected: what the previous connection reported is not this one's progress
    assert instance.hydration_progress("r1") == {}
    assert instance.hydration_progress("r9") == {}
