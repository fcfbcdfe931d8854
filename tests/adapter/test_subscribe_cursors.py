"""Cursors over SUBSCRIBE and SELECT, and SUBSCRIBE's options, in the in-memory environment (real coordinator,
controller and in-process replicas).

* Folding a SUBSCRIBE cursor's updates (``FETCH ... WITH (TIMEOUT)``) reaches DuckDB's answer after every write
  batch, for a view with aggregates and joins; with ``PROGRESS``, progress rows advance and no data row comes at
  a time a progress row has already closed.
* ``ENVELOPE UPSERT`` folded per key equals the query's rows; ``ENVELOPE DEBEZIUM``'s ``before`` is the key's
  previous row.
* ``SNAPSHOT = false``, ``AS OF`` / ``UP TO`` give exactly the updates in that window; ``AS OF`` before the
  inputs' ``since`` is 22023 and ``AS OF AT LEAST`` moves up to it.
* The errors PostgreSQL gives: DECLARE outside a transaction (25P01), an unknown cursor (34000), a duplicate
  (42P03); what is not supported is 0A000; cursors close at COMMIT.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.errors import SteadyError
from steadystate.testing import MemoryEnvironment, memory_environment

VIEW = ("SELECT a.k, count(*) AS n, sum(a.v) AS total, max(b.v) AS top FROM t AS a LEFT JOIN t AS b ON a.v = b.k "
        "GROUP BY a.k")
ROW = st.tuples(st.integers(0, 3), st.integers(0, 4))
WRITES = st.lists(st.one_of(
    st.lists(ROW, min_size=1, max_size=3).map(lambda rows: "INSERT INTO t VALUES " + ", ".join(map(str, rows))),
    st.integers(0, 3).map(lambda k: f"DELETE FROM t WHERE k = {k}"),
    st.tuples(st.integers(0, 3), st.integers(0, 4)).map(lambda kv: f"UPDATE t SET v = {kv[1]} WHERE k = {kv[0]}"),
), min_size=1, max_size=5)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def fold_until(env: MemoryEnvironment, session: Any, cursor: str, state: Counter, want: Counter,
                     progress: list[int]) -> None:
    """FETCH from ``cursor`` (PROGRESS on) into ``state`` until it equals ``want``, checking progress rows."""
    for _ in range(100):
        if +state == want:
            return
        for row in await env.query(f"FETCH ALL {cursor} WITH (TIMEOUT = '100ms')", session):
            timestamp, progressed, diff, *values = row
            if progressed:
                assert diff is None and all(v is None for v in values)
                assert not progress or timestamp > progress[-1], "progress must advance"
                progress.append(timestamp)
            else:
                assert not progress or timestamp >= progress[-1], "an update at a time already closed"
                state[tuple(values)] += diff
                assert state[tuple(values)] >= 0
    assert +state == want


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(WRITES, min_size=1, max_size=3))
def test_a_subscribe_cursor_folds_to_duckdbs_answer_after_every_batch(batches: list[list[str]]) -> None:
    async def main() -> None:
        duck = duckdb.connect(":memory:")
        duck.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
        try:
            await check(duck)
        finally:
            duck.close()

    async def check(duck: Any) -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int, v int)")
            await env.execute("INSERT INTO t VALUES (1, 1), (2, 1)")
            duck.execute("INSERT INTO t VALUES (1, 1), (2, 1)")
            await env.execute(f"CREATE VIEW v AS {VIEW}")
            session = await env.session()
            await env.execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE v WITH (PROGRESS)", session)
            state: Counter = Counter()
            progress: list[int] = []
            await fold_until(env, session, "c", state, Counter(duck.execute(VIEW).fetchall()), progress)
            for batch in batches:
                for write in batch:
                    await env.execute(write)
                    duck.execute(write)
                await fold_until(env, session, "c", state, Counter(duck.execute(VIEW).fetchall()), progress)
            assert progress, "PROGRESS rows were emitted"
            await env.execute("COMMIT", session)

    run(main())


def test_upsert_and_debezium_envelopes() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int, v text)")
            await env.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
            session = await env.session()
            await env.execute("BEGIN; DECLARE u CURSOR FOR SUBSCRIBE t ENVELOPE UPSERT (KEY (k));"
                              "DECLARE d CURSOR FOR SUBSCRIBE (SELECT v, k FROM t) ENVELOPE DEBEZIUM (KEY (k))", session)
            writes = ["UPDATE t SET v = 'z' WHERE k = 1", "DELETE FROM t WHERE k = 2", "INSERT INTO t VALUES (3, 'c')",
                      "INSERT INTO t VALUES (4, 'x'), (4, 'y')"]  # two rows for a key at one time: key_violation
            upserted: dict[Any, Any] = {}
            debezium: dict[Any, Any] = {}
            states: list[str] = []
            for step in range(len(writes) + 1):
                want = dict(await env.query(
                    "SELECT k, v FROM t WHERE k IN (SELECT k FROM t GROUP BY k HAVING count(*) = 1)"))
                for _ in range(100):
                    for timestamp, state, k, v in await env.query("FETCH ALL u WITH (TIMEOUT = '50ms')", session):
                        states.append(state)
                        if state == "upsert":
                            upserted[k] = v
                        else:
                            upserted.pop(k, None)
                    for timestamp, state, k, before, after in await env.query("FETCH ALL d WITH (TIMEOUT = '50ms')",
                                                                            session):
                        if state in ("upsert", "delete"):
                            assert debezium.get(k) == before, (state, k, before)
                        if state == "insert":
                            assert k not in debezium and before is None
                        if state == "key_violation":
                            debezium.pop(k, None)
                        elif after is None:
                            debezium.pop(k, None)
                        else:
                            debezium[k] = after
                    if upserted == want and debezium == want:
                        break
                assert upserted == want and debezium == want, (step, upserted, debezium, want)
                if step < len(writes):
                    await env.execute(writes[step])
            assert {"upsert", "delete", "key_violation"} <= set(states)
            assert await env.query("SHOW CREATE TABLE t") == [
                ("materialize.public.t", "CREATE TABLE materialize.public.t (k integer, v text)")]
            await env.execute("COMMIT", session)

    run(main())


def test_snapshot_as_of_and_up_to_give_exactly_their_window() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int)")
            await env.execute("INSERT INTO t VALUES (0)")
            session = await env.session()
            await env.execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE t WITH (SNAPSHOT = false)", session)
            assert await env.query("FETCH ALL c WITH (TIMEOUT = '0.3s')", session) == []  # no snapshot
            times = []
            for k in (1, 2, 3):
                await env.execute(f"INSERT INTO t VALUES ({k})")
                rows = await env.query("FETCH ALL c", session)  # waits for the row
                assert [(diff, value) for _, diff, value in rows] == [(1, k)]
                times.append(rows[0][0])
            await env.execute("COMMIT", session)
            t1, t2, t3 = times
            # AS OF t1: the snapshot at t1 (0 and 1), then 2; UP TO t3 leaves out 3 and ends the subscribe
            rows = await env.query(f"SUBSCRIBE t AS OF {t1} UP TO {t3}", session)
            assert rows == [(t1, 1, 0), (t1, 1, 1), (t2, 1, 2)]
            rows = await env.query(f"SUBSCRIBE t WITH (SNAPSHOT = false) AS OF {t1} UP TO {t3 + 1}", session)
            assert rows == [(t2, 1, 2), (t3, 1, 3)]
            rows = await env.query(f"SUBSCRIBE t WITH (PROGRESS) AS OF {t1} UP TO {t3}", session)
            assert rows[0] == (t1, True, None, None), "the first row is a progress row at the AS OF"
            assert [r for r in rows if not r[1]] == [(t1, False, 1, 0), (t1, False, 1, 1), (t2, False, 1, 2)]
            assert rows[-1] == (t3, True, None, None)
            await env.execute(f"BEGIN; DECLARE e CURSOR FOR SUBSCRIBE t AS OF {t2} UP TO {t2}", session)
            assert await env.query("FETCH ALL e", session) == []  # an empty window ends at once
            await env.execute("COMMIT", session)
            with pytest.raises(SteadyError) as caught:
                await env.query(f"SUBSCRIBE t AS OF {t2} UP TO {t1}", session)
            assert caught.value.sqlstate == "22023"
            # history compacted up to t3: AS OF t1 can no longer be read exactly; AT LEAST moves up
            shard = next(i.shard for i in env.coordinator.catalog.items.values() if i.name == "t")
            assert shard is not None
            env.coordinator.store.advance_sinces({shard: t3})
            with pytest.raises(SteadyError) as caught:
                await env.query(f"SUBSCRIBE t AS OF {t1} UP TO {t3 + 1}", session)
            assert caught.value.sqlstate == "22023"
            rows = await env.query(f"SUBSCRIBE t AS OF AT LEAST {t1} UP TO {t3 + 1}", session)
            assert sorted(r[2] for r in rows) == [0, 1, 2, 3] and {r[0] for r in rows} == {t3}

    run(main())


def test_select_cursors_page_through_the_answer() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int)")
            await env.execute("INSERT INTO t SELECT * FROM (VALUES (1), (2), (3), (4), (5)) AS v(k)")
            session = await env.session()
            results = await env.execute("BEGIN; DECLARE c CURSOR FOR SELECT k FROM t ORDER BY k DESC; FETCH 2 c;"
                                        "FETCH FORWARD 2 FROM c; FETCH NEXT c; FETCH ALL c; CLOSE c; COMMIT", session)
            assert [r.rows for r in results[2:6]] == [[(5,), (4,)], [(3,), (2,)], [(1,)], []]
            assert [r.tag for r in results] == ["BEGIN", "DECLARE CURSOR", "FETCH", "FETCH", "FETCH", "FETCH",
                                                "CLOSE CURSOR", "COMMIT"]

    run(main())


@pytest.mark.parametrize("statements, sqlstate", [
    (["DECLARE c CURSOR FOR SUBSCRIBE t"], "25P01"),
    (["BEGIN", "FETCH c"], "34000"),
    (["BEGIN", "CLOSE c"], "34000"),
    (["BEGIN", "DECLARE c CURSOR FOR SELECT 1", "DECLARE c CURSOR FOR SELECT 2"], "42P03"),
    (["BEGIN", "DECLARE c CURSOR FOR SELECT 1", "COMMIT", "BEGIN", "FETCH c"], "34000"),
    (["BEGIN", "DECLARE c CURSOR FOR SELECT 1", "FETCH BACKWARD 1 c"], "0A000"),
    (["BEGIN", "DECLARE c CURSOR WITH HOLD FOR SELECT 1"], "0A000"),
    (["BEGIN", "DECLARE c CURSOR FOR SELECT 1", "FETCH c WITH (COUNT = 1)"], "22023"),
    (["SUBSCRIBE t WITHIN TIMESTAMP ORDER BY k"], "0A000"),
    (["SUBSCRIBE t WITH (FOO)"], "22023"),
    (["SUBSCRIBE t WITH (PROGRESS = maybe)"], "22023"),
    (["SUBSCRIBE t ENVELOPE UPSERT (KEY (nope))"], "42703"),
    (["SUBSCRIBE t ENVELOPE DEBEZIUM (KEY (k, k))"], "42701"),
    (["COPY (SUBSCRIBE t ENVELOPE UPSERT (KEY (k))) TO STDOUT"], "0A000"),
])
def test_refusals(statements: list[str], sqlstate: str) -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int)")
            session = await env.session()
            for statement in statements[:-1]:
                await env.execute(statement, session)
            with pytest.raises(SteadyError) as caught:
                await env.execute(statements[-1], session)
            assert caught.value.sqlstate == sqlstate, caught.value

    run(main())
