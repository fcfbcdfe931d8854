"""A replica's peeks in bounded chunks, stopped by ``max_result_size``, a cancel, or the memory threshold; the
controller gathers chunks per replica (the first final answer wins) and never resends a peek to a replica whose
connection ended under it."""

from __future__ import annotations

import asyncio
import itertools
from typing import Iterator

import pytest

import steadystate.compute.peeks as peeks_module
from steadystate.compute.peeks import format_bytes
from steadystate.compute.state import ComputeState
from steadystate.errors import SteadyError
from steadystate.controller.instance import ComputeInstance
from steadystate.dataflow import guard
from steadystate.expr import ir
from steadystate.expr.ir import ColumnOrder, MapFilterProject, RowSetFinishing
from steadystate.protocol import messages as m
from steadystate.protocol.framing import encode_frame
from steadystate.protocol.stages import CommandStream
from steadystate.repr import codec
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

DESC = RelationDesc.of(("a", T.INT4))
ROWS = 20_000


def ready_state(memory_limit: int | None = None, rows: int = ROWS) -> ComputeState:
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    store.compare_and_append("t", [((i,), 0, 1) for i in range(rows)], 0, 1)
    state = ComputeState("r1", store, memory_limit=memory_limit)
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    state.handle(m.InitializationComplete())
    return state


TARGET = m.PeekTarget("shard", "u1", shard="t", desc=DESC)


def peek_responses(state: ComputeState, uuid: str) -> list[m.PeekResponse]:
    return [r for r in state.tick() if isinstance(r, m.PeekResponse) and r.uuid == uuid]


def test_a_large_result_travels_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peeks_module, "CHUNK_BYTES", 4096)
    state = ready_state()
    state.handle(m.Peek("p", TARGET, 0, MapFilterProject(1)))
    responses = peek_responses(state, "p")
    assert len(responses) > 5
    assert all(r.partial for r in responses[:-1]) and not responses[-1].partial
    assert all(len(encode_frame(r)) < 3 * 4096 for r in responses[1:])
    rows = [row for r in responses for row in codec.decode_rows(r.rows or b"")]
    assert sorted(rows) == [(i,) for i in range(ROWS)]


def test_max_result_size_stops_building_the_result() -> None:
    state = ready_state()
    state.handle(m.Peek("p", TARGET, 0, MapFilterProject(1), max_result_size=10_000))
    (response,) = peek_responses(state, "p")
    assert response.error is not None and response.error.sqlstate == "53000"
    assert response.error.message == "result exceeds max size of 9.8 KB"
    assert format_bytes(100 * 1024**2) == "100.0 MB" and format_bytes(1024**3) == "1.0 GB"

    consumed = 0

    def rows() -> Iterator[tuple]:
        nonlocal consumed
        for i in range(1_000_000):
            consumed += 1
            yield (i, "x" * 20)

    with pytest.raises(SteadyError):
        peeks_module.chunked(m.Peek("q", TARGET, 0, MapFilterProject(2), max_result_size=100_000), rows())
    assert consumed < 20_000  # it stopped once past the limit, not after building all of it


def test_the_replica_applies_the_peeks_finishing() -> None:
    """ORDER BY / OFFSET / LIMIT / projection travel with the peek: only the rows asked for leave the replica."""
    state = ready_state()
    top = RowSetFinishing(order_by=(ColumnOrder(0, desc=True),), limit=3, offset=1)
    state.handle(m.Peek("top", TARGET, 0, MapFilterProject(1), finishing=top))
    (response,) = peek_responses(state, "top")
    assert codec.decode_rows(response.rows or b"") == [(ROWS - 2,), (ROWS - 3,), (ROWS - 4,)]
    state.handle(m.Peek("any", TARGET, 0, MapFilterProject(1), max_result_size=200,
                        finishing=RowSetFinishing(limit=10)))
    (response,) = peek_responses(state, "any")
    assert response.error is None and len(codec.decode_rows(response.rows or b"")) == 10


def test_a_cancel_arriving_during_evaluation_stops_it() -> None:
    state = ready_state()
    state.handle(m.Peek("p", TARGET, 0, MapFilterProject(1)))
    state.interrupt(m.CancelPeek("p"))  # the I/O thread saw it arrive; the worker has not applied it yet
    (response,) = peek_responses(state, "p")
    assert response.rows is None and response.error is not None and response.error.sqlstate == "57014"
    assert state.handle(m.CancelPeek("p")) == [] and state.interrupts == set()


def test_a_peek_is_acknowledged_as_it_arrives() -> None:
    state = ready_state()
    assert state.handle(m.Peek("p", TARGET, 0, MapFilterProject(1))) == [m.PeekResponse("p", partial=True)]


def test_over_the_memory_threshold_a_query_is_refused_not_the_replica_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    # every measurement finds the process over its threshold and growing: the work is what takes the memory
    grown = itertools.count()
    monkeypatch.setattr(guard, "rss_bytes", lambda: (64 << 20) + next(grown) * (4 << 20))
    small = ready_state(memory_limit=1, rows=10)
    small.handle(m.Peek("small", TARGET, 0, MapFilterProject(1, predicates=(
        ir.CallBinary("eq", ir.ColumnRef(0), ir.Literal(7, T.INT4)),))))
    (response,) = peek_responses(small, "small")
    assert codec.decode_rows(response.rows or b"") == [(7,)]  # a small read: nothing to refuse
    state = ready_state(memory_limit=1)
    state.handle(m.Peek("big", TARGET, 0, MapFilterProject(1)))
    responses = {r.uuid: r for r in state.tick() if isinstance(r, m.PeekResponse)}
    big = responses["big"].error
    assert big is not None and big.sqlstate == "53200" and big.message == "out of memory"

    # a transient dataflow (a slow-path SELECT over a cross join) is stopped and its peek fails; installed ones are
    # never guarded
    body = ir.Join((ir.Get("u1"), ir.Get("u1")), ())
    pair = RelationDesc.of(("a", T.INT4), ("b", T.INT4))
    desc = m.DataflowDescription(
        (m.SourceImport("u1", "t", DESC),), (), (m.BuildDesc("t2", body, pair),),
        (m.IndexExport("t3", "t2", (ir.ColumnRef(0), ir.ColumnRef(1)), pair),), (), as_of=0, debug_name="peek t3",
    )
    state.handle(m.CreateDataflow(desc))
    state.handle(m.Peek("slow", m.PeekTarget("index", "t3"), 0, MapFilterProject(2)))
    responses = {r.uuid: r for r in state.tick() if isinstance(r, m.PeekResponse)}
    slow = responses["slow"].error
    assert slow is not None and slow.sqlstate == "53200"
    assert "t3" not in state.arrangements and not state.dataflows
    state.handle(m.AllowCompaction("t3", None))
    assert state.failed == {}


# ------------------------------------------------------------------ the controller side


class FakeConnection:
    def __init__(self, replica_id: str) -> None:
        self.replica_id = replica_id
        self.epoch = 1
        self.live = True
        self.sent: list[m.Command] = []
        self.expected = CommandStream()

    def send(self, command: m.Command) -> None:
        if self.live:
            self.sent.append(command)


def instance_with(*replica_ids: str) -> tuple[ComputeInstance, dict[str, FakeConnection]]:
    from steadystate.controller.instance import ReplicaState

    instance = ComputeInstance("c1", "prod", "secret")
    connections = {rid: FakeConnection(rid) for rid in replica_ids}
    for rid, connection in connections.items():
        instance.replicas[rid] = ReplicaState(connection)  # type: ignore[arg-type]
    return instance, connections


def chunk(uuid: str, rows: list[tuple], partial: bool) -> m.PeekResponse:
    return m.PeekResponse(uuid, rows=codec.encode_rows(rows), partial=partial)


def test_the_first_final_answer_wins_whatever_chunks_came_before() -> None:
    async def scenario() -> list[tuple]:
        instance, connections = instance_with("r1", "r2")
        task = asyncio.ensure_future(instance.peek(m.PeekTarget("index", "u1"), 0, MapFilterProject(1), 10))
        await asyncio.sleep(0)
        (peek,) = [c for c in connections["r1"].sent if isinstance(c, m.Peek)]
        r1, r2 = connections["r1"], connections["r2"]
        instance.on_response(r1, 1, chunk(peek.uuid, [(1,), (2,)], True))  # r1 starts first...
        instance.on_response(r2, 1, chunk(peek.uuid, [(1,)], True))
        instance.on_response(r2, 1, chunk(peek.uuid, [(2,), (3,)], False))  # ...r2 finishes first
        instance.on_response(r1, 1, chunk(peek.uuid, [(3,)], False))
        rows = await task
        assert any(isinstance(c, m.CancelPeek) for c in r1.sent)
        return rows

    assert asyncio.run(scenario()) == [(1,), (2,), (3,)]


def test_a_peek_lost_with_its_replica_fails_and_is_not_replayed_to_it() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1")
        instance.exit_reason = lambda replica_id: "oom-killed"
        instance.replica_name = lambda replica_id: "r1-name"
        task = asyncio.ensure_future(instance.peek(m.PeekTarget("index", "u1"), 0, MapFilterProject(1), 10))
        await asyncio.sleep(0)
        (peek,) = [c for c in connections["r1"].sent if isinstance(c, m.Peek)]
        instance.on_response(connections["r1"], 1, m.PeekResponse(peek.uuid, partial=True))  # it reached r1
        instance.on_disconnected(connections["r1"])  # type: ignore[arg-type]
        assert not any(isinstance(c, m.Peek) for c in instance.history_for_replay("r1"))
        instance.on_connected(connections["r1"])  # type: ignore[arg-type]  (its successor process)
        with pytest.raises(SteadyError) as caught:
            await task
        assert caught.value.sqlstate == "53200"
        assert caught.value.message.startswith('cluster replica "r1-name" of cluster "prod" exited while running')
        assert peek.uuid not in {c.uuid for c in instance.history_for_replay("r1") if isinstance(c, m.Peek)}

    asyncio.run(scenario())


def test_a_peek_lost_with_one_replica_is_answered_by_another() -> None:
    async def scenario() -> list[tuple]:
        instance, connections = instance_with("r1", "r2")
        task = asyncio.ensure_future(instance.peek(m.PeekTarget("index", "u1"), 0, MapFilterProject(1), 10))
        await asyncio.sleep(0)
        (peek,) = [c for c in connections["r1"].sent if isinstance(c, m.Peek)]
        instance.on_response(connections["r1"], 1, chunk(peek.uuid, [(9,)], True))
        instance.on_disconnected(connections["r1"])  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert not task.done()
        instance.on_response(connections["r2"], 1, chunk(peek.uuid, [(1,)], False))
        return await task

    assert asyncio.run(scenario()) == [(1,)]


def test_heap_left_resident_by_earlier_work_does_not_refuse_a_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the threshold already when it begins (glibc kept a big query's freed heap resident), a query that does
    not grow the resident set is answered: it reuses that heap."""
    monkeypatch.setattr(guard, "rss_bytes", lambda: 900 << 20)  # over the threshold, and flat
    state = ready_state(memory_limit=1)
    state.handle(m.Peek("big", TARGET, 0, MapFilterProject(1)))
    responses = {r.uuid: r for r in state.tick() if isinstance(r, m.PeekResponse) and not r.partial}
    assert responses["big"].error is None


def test_a_guard_belongs_to_the_thread_that_set_it() -> None:
    """In-process replicas step on threads of one process: a guarded query on one must not make another thread's
    installed dataflow see a guard (it would take the guarded row path, or stop with the query's cancellation).
    This made tests/dataflow/test_hydrate_from_columns.py fail in a full run while an earlier test's replica
    thread was still answering a query."""
    import threading

    from steadystate.dataflow import guard

    entered, release = threading.Event(), threading.Event()
    canceled = guard.Guard(lambda: True, None, None)

    def query() -> None:
        with guard.guarded(canceled):
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=query)
    worker.start()
    try:
        assert entered.wait(10)
        assert not guard.active()
        guard.check()  # no guard here: nothing to stop
    finally:
        release.set()
        worker.join()
