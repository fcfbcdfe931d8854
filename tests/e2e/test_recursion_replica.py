"""Recursive queries through a real ``steadystate serve`` and replica process: a WITH RECURSIVE reachability view
with an index, a WITH MUTUALLY RECURSIVE materialized view, and a SUBSCRIBE to the recursion, while edges are
inserted and deleted (deleting an edge drops the nodes only it made reachable, cycles included).  After every
write the index and the materialized view hold DuckDB's recomputation; the subscription's updates, folded per
timestamp, step through DuckDB's answers in order and end at the last one."""

from __future__ import annotations

import threading
from collections import Counter

import duckdb
import pytest

REACH = ("WITH RECURSIVE reach(v) AS (SELECT 0 UNION SELECT e.b FROM reach JOIN edges AS e ON reach.v = e.a)"
         " SELECT v FROM reach")
CLOSURE_WMR = ("WITH MUTUALLY RECURSIVE (ERROR AT RECURSION LIMIT 100) r(a int, b int) AS (SELECT a, b FROM edges"
               " UNION SELECT r.a, e.b FROM r JOIN edges AS e ON r.b = e.a) SELECT a, b FROM r")
CLOSURE = ("WITH RECURSIVE r(a, b) AS (SELECT a, b FROM edges UNION SELECT r.a, e.b FROM r JOIN edges AS e"
           " ON r.b = e.a) SELECT a, b FROM r")
WRITES = [
    "INSERT INTO edges VALUES (1, 2), (2, 1), (2, 3), (5, 6)",
    "DELETE FROM edges WHERE a = 0",  # 1, 2, 3 reachable only through the cycle now: gone
    "INSERT INTO edges VALUES (0, 2), (3, 5)",
    "DELETE FROM edges WHERE a = 2 AND b = 3",
    "INSERT INTO edges VALUES (6, 0)",
    "DELETE FROM edges WHERE a = 0 AND b = 2",
]
SENTINEL = "INSERT INTO edges VALUES (0, 99)"


@pytest.mark.timeout(240)
def test_recursion_is_maintained_in_index_materialized_view_and_subscribe(shared_env) -> None:  # type: ignore[no-untyped-def]
    env = shared_env
    duck = duckdb.connect(":memory:")
    setup = ["CREATE TABLE edges (a int, b int)", "INSERT INTO edges VALUES (0, 1)"]
    for statement in setup:
        duck.execute(statement)
    env.execute(*setup, f"CREATE VIEW reach AS {REACH}", "CREATE INDEX reach_idx ON reach (v)",
                f"CREATE MATERIALIZED VIEW closure AS {CLOSURE_WMR}")

    def answers() -> tuple[Counter, Counter]:
        return (Counter(tuple(r) for r in duck.execute(REACH).fetchall()),
                Counter(tuple(r) for r in duck.execute(CLOSURE).fetchall()))

    expected = [answers()[0]]
    snapshot_seen = threading.Event()
    writes_done = threading.Event()

    failures: list[BaseException] = []

    def write() -> None:
        try:
            snapshot_seen.wait(60)
            with env.connect(autocommit=True) as conn:
                for statement in WRITES:
                    conn.execute(statement)
                    duck.execute(statement)
                    reach, closure = answers()
                    expected.append(reach)
                    assert Counter(conn.execute("SELECT v FROM reach").fetchall()) == reach, statement
                    assert Counter(conn.execute("SELECT a, b FROM closure").fetchall()) == closure, statement
                    assert Counter(conn.execute(REACH).fetchall()) == reach, statement
                # a last write whose update reaches the subscriber after ``writes_done``: it then stops at the end
                duck.execute(SENTINEL)
                expected.append(answers()[0])
                writes_done.set()
                conn.execute(SENTINEL)
        except BaseException as failure:  # noqa: BLE001 - reported by the main thread
            failures.append(failure)
            subscriber.cancel()
        finally:
            writes_done.set()

    subscriber = env.connect()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    states: list[Counter] = []
    current: Counter = Counter()
    conn = subscriber
    try:
        with conn.cursor().copy(f"COPY (SUBSCRIBE ({REACH})) TO STDOUT") as copy:
            last_time = None
            for row in copy.rows():
                time, diff, value = int(row[0]), int(row[1]), (int(row[2]),)
                if last_time is not None and time != last_time:
                    states.append(+current)
                last_time = time
                snapshot_seen.set()
                current[value] += diff
                assert current[value] >= 0
                if writes_done.is_set() and +current == expected[-1]:
                    break
    except Exception:
        if not failures:
            raise
    finally:
        conn.close()
    writer.join(60)
    if failures:
        raise failures[0]
    states.append(+current)
    assert writes_done.is_set()
    position = 0
    for state in states:  # every state is one of DuckDB's answers, in order
        assert state in expected[position:], (state, expected)
        position = expected.index(state, position)
    assert states[-1] == expected[-1]
    plan = "\n".join(r[0] for r in env.query(f"EXPLAIN {CLOSURE_WMR}"))
    assert "LetRec (error at recursion limit 100;" in plan, plan
