"""A COMMIT whose client goes away while it runs (pgwire cancels the session's worker then) is applied wholly or
not at all, and the coordinator's in-memory copy of each table (what UPDATE and DELETE read) agrees with storage
afterwards, at every point the COMMIT could be interrupted."""

from __future__ import annotations

import asyncio
from collections import Counter

from steadystate.testing import MemoryEnvironment, memory_environment


def stored_rows(env: MemoryEnvironment, table: str) -> Counter[tuple]:
    coord = env.coordinator
    (item,) = [i for i in coord.catalog.items.values() if i.name == table]
    assert item.shard is not None
    upper = coord.store.upper(item.shard) or 0
    return Counter(dict(coord.store.snapshot(item.shard, upper - 1))) if upper > 0 else Counter()


def in_memory_rows(env: MemoryEnvironment, table: str) -> Counter[tuple] | None:
    coord = env.coordinator
    (table_id,) = [i.id for i in coord.catalog.items.values() if i.name == table]
    rows = coord.table_rows.get(table_id)
    return None if rows is None else Counter({row: n for row, n in rows.items() if n})


def test_a_commit_interrupted_anywhere_is_all_or_nothing_and_memory_agrees_with_storage() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE ci_a (a int)")
            await env.execute("CREATE TABLE ci_b (b int)")
            await env.execute("INSERT INTO ci_a VALUES (0)")  # loads the table into memory
            await env.execute("INSERT INTO ci_b VALUES (0)")
            outcomes = set()
            for steps in range(12):  # interrupt the COMMIT after 0, 1, 2, ... turns of the event loop
                session = await env.session()
                await env.execute("BEGIN", session)
                await env.execute(f"INSERT INTO ci_a VALUES ({steps + 1}), ({steps + 1})", session)
                await env.execute(f"INSERT INTO ci_b VALUES ({steps + 1})", session)
                commit = asyncio.ensure_future(env.execute("COMMIT", session))
                for _ in range(steps):
                    await asyncio.sleep(0)
                interrupted = commit.cancel()
                try:
                    await commit
                except asyncio.CancelledError:
                    pass
                await session.close()
                await env.coordinator.tables.barrier()  # whatever was queued is decided now
                a, b = stored_rows(env, "ci_a"), stored_rows(env, "ci_b")
                applied = a[(steps + 1,)] == 2
                assert b[(steps + 1,)] == (1 if applied else 0), (steps, a, b)  # all or nothing
                assert a[(steps + 1,)] in (0, 2)
                assert not (not interrupted and not applied)  # a COMMIT that finished was applied
                outcomes.add(applied)
                for table, stored in (("ci_a", a), ("ci_b", b)):
                    assert in_memory_rows(env, table) in (None, stored), (steps, table)
                # the client reconnects and can tell: what it reads is what is stored
                assert Counter(await env.query("SELECT a FROM ci_a")) == a
                # and a DELETE (computed from the in-memory copy) removes exactly what is there
                await env.execute(f"DELETE FROM ci_a WHERE a = {steps + 1}")
                await env.coordinator.tables.barrier()
                assert stored_rows(env, "ci_a")[(steps + 1,)] == 0, steps
            assert True in outcomes  # the loop did reach a COMMIT applied after its interruption point

    asyncio.run(main())
