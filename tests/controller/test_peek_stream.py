"""A streamed peek (``ComputeInstance.peek_stream``): the caller has the result as soon as its first chunk is here
and takes the rest as it arrives; the first replica to send a chunk is the answer's (the others are cancelled and
ignored); a replica lost mid-stream, or its error, ends the stream with an error (and ``on_error`` is told); a
reader that stops early cancels the peek; a result of one chunk comes whole, as ``peek`` gives it.  Replica
connections are stand-ins recording what is sent (as in ``test_instance.py``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from steadystate.controller.instance import ComputeInstance, ReplicaState
from steadystate.errors import ErrorFields, SteadyError
from steadystate.expr.ir import MapFilterProject
from steadystate.protocol import messages as m
from steadystate.repr import arrow_rows
from steadystate.repr.arrow_rows import ArrowRows, ArrowStream


@dataclass
class Connection:
    replica_id: str
    epoch: int = 1
    live: bool = True
    sent: list[m.Command] = field(default_factory=list)

    def send(self, command: m.Command) -> None:
        if self.live:
            self.sent.append(command)

    async def close(self) -> None:
        self.live = False


def instance_with(*replica_ids: str) -> tuple[ComputeInstance, dict[str, Connection]]:
    instance = ComputeInstance("c1", "prod", "secret")
    connections = {rid: Connection(rid) for rid in replica_ids}
    for rid, connection in connections.items():
        instance.replicas[rid] = ReplicaState(connection)  # type: ignore[arg-type]
    return instance, connections


def chunk(uuid: str, rows: list[tuple[Any, ...]], partial: bool) -> m.PeekResponse:
    return m.PeekResponse(uuid, batches=arrow_rows.encode_ipc(rows), partial=partial)


async def started(instance: ComputeInstance, connections: dict[str, Connection],
                  timeout: float = 10) -> tuple[asyncio.Future[Any], str]:
    task = asyncio.ensure_future(instance.peek_stream(m.PeekTarget("index", "u1"), 0, MapFilterProject(1), timeout))
    await asyncio.sleep(0)
    (peek,) = [c for c in next(iter(connections.values())).sent if isinstance(c, m.Peek)]
    return task, peek.uuid


async def rows_of(stream: ArrowStream) -> list[tuple[Any, ...]]:
    return [row async for row in stream]


def cancelled(connection: Connection, uuid: str) -> bool:
    return any(isinstance(c, m.CancelPeek) and c.uuid == uuid for c in connection.sent)


def test_the_first_chunk_answers_and_the_rest_streams_in() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1", "r2")
        task, uuid = await started(instance, connections)
        r1, r2 = connections["r1"], connections["r2"]
        instance.on_response(r1, 1, m.PeekResponse(uuid, partial=True))  # acknowledgments are no chunks
        instance.on_response(r2, 1, m.PeekResponse(uuid, partial=True))
        await asyncio.sleep(0)
        assert not task.done()
        instance.on_response(r2, 1, chunk(uuid, [(1,), (2,)], True))  # r2 sends first: its chunks are the answer
        stream = await task
        assert isinstance(stream, ArrowStream)
        assert cancelled(r1, uuid) and not cancelled(r2, uuid)
        first = await stream.next_part()
        assert first is not None and first.num_rows == 2
        instance.on_response(r1, 1, chunk(uuid, [(7,)], False))  # the loser's answer is ignored
        instance.on_response(r2, 1, chunk(uuid, [(3,)], True))
        instance.on_response(r2, 1, chunk(uuid, [(4,)], False))
        assert await rows_of(stream) == [(3,), (4,)]
        assert not instance._peeks  # done: nothing outstanding
        assert uuid not in {c.uuid for c in instance.history_for_replay("r1") if isinstance(c, m.Peek)}

    asyncio.run(scenario())


def test_a_result_of_one_chunk_comes_whole() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1")
        task, uuid = await started(instance, connections)
        instance.on_response(connections["r1"], 1, chunk(uuid, [(1,), (2,)], False))
        result = await task
        assert isinstance(result, ArrowRows) and list(result) == [(1,), (2,)]

    asyncio.run(scenario())


def test_a_replica_lost_mid_stream_fails_the_stream() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1", "r2")
        instance.exit_reason = lambda replica_id: None
        task, uuid = await started(instance, connections)
        instance.on_response(connections["r1"], 1, chunk(uuid, [(1,)], True))
        stream = await task
        failed: list[bool] = []
        stream.on_error = lambda: failed.append(True)
        instance.on_disconnected(connections["r1"])  # type: ignore[arg-type]
        with pytest.raises(SteadyError) as caught:
            await rows_of(stream)
        assert caught.value.sqlstate == "57P01" and failed == [True]
        instance.on_response(connections["r2"], 1, chunk(uuid, [(1,)], False))  # too late: half was sent
        assert not instance._peeks
        assert not any(isinstance(c, m.Peek) and c.uuid == uuid for c in instance.history_for_replay("r1"))

    asyncio.run(scenario())


def test_an_error_after_the_first_chunk_ends_the_stream_with_it() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1")
        task, uuid = await started(instance, connections)
        instance.on_response(connections["r1"], 1, chunk(uuid, [(1,)], True))
        stream = await task
        instance.on_response(connections["r1"], 1,
                             m.PeekResponse(uuid, error=ErrorFields("53000", "result exceeds max size of 1.0 KB")))
        with pytest.raises(SteadyError) as caught:
            await rows_of(stream)
        assert caught.value.sqlstate == "53000"

    asyncio.run(scenario())


def test_a_reader_that_stops_early_cancels_the_peek() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1")
        task, uuid = await started(instance, connections)
        instance.on_response(connections["r1"], 1, chunk(uuid, [(1,)], True))
        stream = await task
        parts = stream.iter_parts()
        assert (await parts.__anext__()).num_rows == 1
        await parts.aclose()
        assert cancelled(connections["r1"], uuid) and not instance._peeks

    asyncio.run(scenario())


def test_the_statement_timeout_bounds_the_whole_stream() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1")
        task, uuid = await started(instance, connections, timeout=0.2)
        instance.on_response(connections["r1"], 1, chunk(uuid, [(1,)], True))
        stream = await task
        with pytest.raises(SteadyError) as caught:
            await rows_of(stream)  # the rest never comes
        assert caught.value.sqlstate == "57014" and cancelled(connections["r1"], uuid)

    asyncio.run(scenario())


def test_no_first_chunk_within_the_statement_timeout_cancels_the_statement() -> None:
    async def scenario() -> None:
        instance, connections = instance_with("r1")
        task, uuid = await started(instance, connections, timeout=0.2)
        with pytest.raises(SteadyError) as caught:
            await task
        assert caught.value.sqlstate == "57014" and cancelled(connections["r1"], uuid) and not instance._peeks

    asyncio.run(scenario())
