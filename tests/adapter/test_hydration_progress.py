"""Hydration progress inside one object, from the replica to SQL and the console, in an in-memory environment.

The replicas of cluster ``p`` read one stored batch per tick (``ReplicaPool.hydration_step_updates``) and tick only
when the test lets them (``TickGate``).  A table written by several INSERTs (a batch each) gets an index on ``p``;
after one tick, ``mz_internal.mz_hydration_statuses`` shows the index not hydrated with ``rows_done`` strictly
between 0 and ``rows_total``, and the console's cluster and object documents and the NOTICE text of a
reconfiguration waiting for it show the same numbers; after
another tick ``rows_done`` is greater; let run, the index hydrates and ``rows_done`` is ``rows_total``.
"""

from __future__ import annotations

import asyncio

from steadystate.adapter.progress import hydrating_summary
from steadystate.testing import MemoryEnvironment, eventually, memory_environment
from steadystate.testing.inprocess import TickGate

from test_console import client_for

INSERTS = 6


async def progress(env: MemoryEnvironment, index_id: str) -> tuple:
    ((row,),) = [await env.query(
        "SELECT hydrated, rows_total, rows_done FROM mz_internal.mz_hydration_statuses "
        f"WHERE object_id = '{index_id}'")]
    return row


async def replica_of(env: MemoryEnvironment, index_id: str) -> str:
    ((replica_id,),) = await env.query(
        f"SELECT replica_id FROM mz_internal.mz_hydration_statuses WHERE object_id = '{index_id}'")
    return str(replica_id)


def test_rows_done_climbs_while_the_index_hydrates() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            gate = TickGate()
            env.pool.hydration_step_updates = 1
            env.pool.tick_gate = gate
            await env.execute("CREATE TABLE t (a int, b text)")
            for n in range(INSERTS):
                await env.execute(f"INSERT INTO t VALUES ({n}, 'x'), ({n}, 'y'), ({n + 100}, 'z')")
            await env.execute("CREATE CLUSTER p (SIZE = 'small')")
            await env.wait_connected("p")
            gate.pause()
            await env.execute("CREATE INDEX t_idx IN CLUSTER p ON t (a)")
            ((index_id,),) = await env.query("SELECT id FROM mz_catalog.mz_objects WHERE name = 't_idx'")
            before = await progress(env, index_id)
            assert before[0] is False and before[2] == 0

            gate.step()

            async def moved(floor: int) -> tuple | None:
                row = await progress(env, index_id)
                return row if row[2] > floor else None

            first = await eventually(lambda: moved(0), what="the first batch's progress")
            hydrated, total, done = first
            assert not hydrated and total == INSERTS * 3 and 0 < done < total

            client = await client_for(env)
            try:
                cluster = await (await client.get("/console/api/clusters/p")).json()
                entry = [h for h in cluster["hydration"] if h["object_id"] == index_id]
                assert [(h["hydrated"], h["rows_total"], h["rows_done"]) for h in entry] == [first]
                document = await (await client.get(f"/console/api/objects/{index_id}")).json()
                assert [(h["hydrated"], h["rows_total"], h["rows_done"]) for h in document["hydration"]] == [first]
            finally:
                await client.close()

            # the NOTICE line a SEAL/RESTART/resize would send now
            (line,) = hydrating_summary(env.coordinator, [await replica_of(env, index_id)])
            assert f"0 of 1 objects hydrated, {done} of {total} rows read" in line

            gate.step()
            second = await eventually(lambda: moved(done), what="the second batch's progress")
            assert not second[0] and done < second[2] < total

            gate.resume()

            async def hydrated_row() -> tuple | None:
                row = await progress(env, index_id)
                return row if row[0] else None

            final = await eventually(hydrated_row, what="the index hydrated")
            assert final == (True, total, total)
            assert await env.query("SELECT count(*) FROM t") == [(INSERTS * 3,)]

    asyncio.run(main())
