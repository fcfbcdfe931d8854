"""The asyncio Driver's own duties, which the pure conversation leaves to it: the startup deadline, a
CancelRequest interrupting a streaming result, and the worker being cancelled (the client went away)."""

from __future__ import annotations

import asyncio

import pytest
from pgwire_fakes import FakeBackend
from test_pgwire_conversation import TERMINATE, error_fields, frames, query, startup

from steadystate.pgwire.effects import Phase
from steadystate.pgwire.server import Driver


class QueueTransport:
    """Client bytes put by the test, server bytes collected."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.output = bytearray()

    async def receive(self) -> bytes | None:
        return await self.inbox.get()

    def write(self, data: bytes) -> None:
        self.output += data

    async def drain(self) -> None:
        pass


async def wait_until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def test_startup_deadline_is_fatal() -> None:
    async def main() -> bytes:
        transport = QueueTransport()
        driver = Driver(FakeBackend(), transport, startup_timeout=0.05)
        await asyncio.wait_for(driver.run(), 5)
        return bytes(transport.output)

    (kind, body), = frames(asyncio.run(main()))
    fields = error_fields(body)
    assert kind == b"E" and (fields["S"], fields["C"]) == ("FATAL", "08P01")
    assert "did not complete startup" in fields["M"]


def test_cancel_running_interrupts_a_subscribe_and_the_connection_goes_on() -> None:
    backend = FakeBackend()
    backend.state.rows[:] = [(1, "a")]

    async def main() -> bytes:
        transport = QueueTransport()
        driver = Driver(backend, transport)
        worker = asyncio.create_task(driver.run())
        assert driver.cancel_running() is False  # nothing streams yet
        transport.inbox.put_nowait(startup() + query("COPY (SUBSCRIBE t) TO STDOUT"))
        await asyncio.wait_for(backend.state.subscribe_started.wait(), 5)
        await wait_until(lambda: driver.conversation.phase is Phase.STREAMING)
        assert driver.cancel_running() is True
        await wait_until(lambda: driver.conversation.phase is Phase.READY and driver.idle)
        transport.inbox.put_nowait(query("SELECT 1") + TERMINATE)
        await asyncio.wait_for(worker, 5)
        return bytes(transport.output)

    output = frames(asyncio.run(main()))
    rest = output[next(i for i, (kind, _) in enumerate(output) if kind == b"Z") + 1 :]
    assert b"".join(kind for kind, _ in rest) == b"HdEZTDCZ"
    assert error_fields(rest[2][1])["C"] == "57014"
    assert backend.state.closed_iterators == 1 and backend.state.closed_sessions == 1


def test_cancelled_worker_closes_the_session_and_ends_cancelled() -> None:
    backend = FakeBackend()

    async def main() -> None:
        transport = QueueTransport()
        driver = Driver(backend, transport)
        worker = asyncio.create_task(driver.run())
        transport.inbox.put_nowait(startup() + query("WAIT"))
        await wait_until(lambda: bool(backend.state.sessions) and not driver.idle and bool(backend.state.executed))
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker

    asyncio.run(main())
    assert backend.state.closed_sessions == 1
