"""A read of a materialized view issued before its cluster's replica has written anything answers the view's rows.

The read's timestamp is chosen when it arrives; the view's replica may hydrate much later, after the tables' uppers
have moved on, and a view that imports an index then starts as of the index's frontier - 1, later than the read.
The shard used to look complete (its upper past the read) and empty at the read's time: the read answered no rows
(seen as an intermittent failure in tests/differential/test_shared_arrangements.py when the reading cluster's
replica connected before the view's). Now the shard's since moves to the first snapshot's time and the read is
answered there: checked against the rows the view holds afterwards, which are also computed here from the data.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from steadystate.testing.memory import memory_environment


def test_a_read_issued_before_the_views_replica_exists_answers_its_rows() -> None:
    async def scenario() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE CLUSTER late (SIZE = 'small', REPLICATION FACTOR = 0)")
            await env.execute("CREATE TABLE base (k int, v int)")
            await env.execute("CREATE TABLE other (x int)")
            await env.execute("INSERT INTO base VALUES (1, 2), (2, 3), (2, 4)")
            await env.execute("CREATE VIEW v AS SELECT k, sum(v) AS total FROM base GROUP BY k")
            await env.execute("CREATE INDEX v_idx IN CLUSTER late ON v (k)")
            await env.execute("CREATE MATERIALIZED VIEW m IN CLUSTER late AS "
                              "SELECT count(*) AS groups, sum(total) AS total FROM v")
            read = asyncio.ensure_future(env.query("SELECT * FROM m", await env.session()))
            await asyncio.sleep(0.2)
            assert not read.done()  # no replica has written the view yet: the read waits
            for i in range(3):  # the tables' uppers move past the read's timestamp
                await env.execute(f"INSERT INTO other VALUES ({i})")
            await env.execute("ALTER CLUSTER late SET (REPLICATION FACTOR = 1)")
            rows = await asyncio.wait_for(read, 60)
            expected = [(2, Decimal(2 + 3 + 4))]
            assert rows == expected
            assert await env.query("SELECT * FROM m") == expected

    asyncio.run(scenario())
