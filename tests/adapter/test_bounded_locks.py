"""``statement_timeout`` bounds every wait for a lock (the DDL lock, the UPDATE/DELETE lock)."""

from __future__ import annotations

import asyncio

import pytest

from steadystate.adapter.coordinator import bounded
from steadystate.errors import QueryCanceled


def test_a_held_lock_times_out_with_57014_and_stays_held() -> None:
    async def scenario() -> None:
        lock = asyncio.Lock()
        await lock.acquire()  # another statement holds it
        with pytest.raises(QueryCanceled) as info:
            async with bounded(lock, 0.05, "another DDL statement"):
                pytest.fail("entered a held lock")
        assert info.value.sqlstate == "57014" and "another DDL statement" in (info.value.detail or "")
        assert lock.locked()  # the holder still has it: the timed-out waiter took nothing
        lock.release()
        async with bounded(lock, 0.05, "another DDL statement"):
            assert lock.locked()
        assert not lock.locked()

    asyncio.run(scenario())


def test_a_waiter_gets_the_lock_when_it_is_released_in_time() -> None:
    async def scenario() -> list[str]:
        lock = asyncio.Lock()
        order: list[str] = []

        async def holder() -> None:
            async with lock:
                order.append("holder")
                await asyncio.sleep(0.01)

        task = asyncio.create_task(holder())
        await asyncio.sleep(0)
        async with bounded(lock, 5.0, "the holder"):
            order.append("waiter")
        await task
        return order

    assert asyncio.run(scenario()) == ["holder", "waiter"]
