"""Recursive queries in the in-memory environment: what the planner refuses (with PostgreSQL's SQLSTATEs),
WITH MUTUALLY RECURSIVE's limits (RETURN AT gives the iterate reached, ERROR AT and the default fail on divergence
and recover when a change makes the recursion converge), errors inside a recursion, deletions that leave only a
cycle behind (the fixed point is recomputed from empty), and EXPLAIN.  Answers are compared with DuckDB."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Awaitable, Callable

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate import errors
from steadystate.testing import MemoryEnvironment, memory_environment
from steadystate.testing.memory import eventually

from recursion_support import NODE, REACH, create_tables


def _run(body: Callable[[MemoryEnvironment, duckdb.DuckDBPyConnection], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        duck = duckdb.connect(":memory:")
        try:
            async with memory_environment() as env:
                for statement in create_tables():
                    await env.execute(statement)
                    duck.execute(statement)
                return await body(env, duck)
        finally:
            duck.close()
    return asyncio.run(main())


async def _both(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    await env.execute(sql)
    duck.execute(sql)


async def _same(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection, read: str, reference: str) -> None:
    got = Counter(await env.query(read))
    want = Counter(tuple(r) for r in duck.execute(reference).fetchall())
    assert got == want, f"{read}\n got {got}\n want {want}"


def test_deleting_an_edge_drops_what_only_a_cycle_still_reaches() -> None:
    """From the old fixed point, 1 and 2 would keep each other reachable: the recomputation starts from empty."""
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        closure = ("WITH RECURSIVE r(a, b) AS (SELECT a, b FROM edges UNION SELECT r.a, e.b FROM r JOIN edges AS e"
                   " ON r.b = e.a) SELECT a, b FROM r WHERE a = 0")
        wmr = ("WITH MUTUALLY RECURSIVE reach(v int) AS (SELECT 0 UNION SELECT e.b FROM reach JOIN edges AS e"
               " ON reach.v = e.a) SELECT v FROM reach")
        for number, query in enumerate([REACH, closure, wmr]):
            await env.execute(f"CREATE VIEW v{number} AS {query}")
            await env.execute(f"CREATE DEFAULT INDEX ON v{number}")
            await env.execute(f"CREATE MATERIALIZED VIEW m{number} AS {query}")
        for write in ["INSERT INTO edges VALUES (0, 1), (1, 2), (2, 1), (2, 3), (4, 5)", "DELETE FROM edges WHERE a = 0",
                      "INSERT INTO edges VALUES (0, 2)", "DELETE FROM edges WHERE a = 2 AND b = 1",
                      "DELETE FROM edges WHERE a = 0"]:
            await _both(env, duck, write)
            for number, query in enumerate([REACH, closure, REACH]):
                await _same(env, duck, f"SELECT * FROM v{number}", query)
                await _same(env, duck, f"SELECT * FROM m{number}", query)
    _run(body)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(edges=st.lists(st.tuples(NODE, NODE), max_size=10), limit=st.integers(1, 5))
def test_return_at_recursion_limit_gives_the_iterate_reached(edges: list[tuple[int, int]], limit: int) -> None:
    """The k-th iterate of reach = {0} ∪ succ(reach) is what is reachable in fewer than k steps."""
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        if edges:
            await _both(env, duck, "INSERT INTO edges VALUES " + ", ".join(f"({a}, {b})" for a, b in edges))
        query = (f"WITH MUTUALLY RECURSIVE (RETURN AT RECURSION LIMIT {limit}) reach(v int) AS (SELECT 0 UNION"
                 " SELECT e.b FROM reach JOIN edges AS e ON reach.v = e.a) SELECT v FROM reach")
        reference = (f"WITH RECURSIVE p(v, d) AS (SELECT 0, 0 UNION SELECT e.b, p.d + 1 FROM p JOIN edges AS e"
                     f" ON p.v = e.a WHERE p.d < {limit - 1}) SELECT DISTINCT v FROM p")
        await _same(env, duck, query, reference)
        await env.execute(f"CREATE VIEW lim AS {query}")
        await env.execute("CREATE DEFAULT INDEX ON lim")
        await _both(env, duck, "DELETE FROM edges WHERE a = 0")
        await _same(env, duck, "SELECT * FROM lim", reference)
    _run(body)


def test_error_at_recursion_limit_fails_on_divergence_and_recovers() -> None:
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        counting = ("WITH MUTUALLY RECURSIVE (ERROR AT RECURSION LIMIT 20) c(n int) AS (SELECT a FROM edges UNION"
                    " SELECT n + 1 FROM c WHERE n < {bound}) SELECT n FROM c")
        await env.execute("CREATE VIEW v AS " + counting.format(bound=100))
        await env.execute("CREATE DEFAULT INDEX ON v")
        await env.execute("CREATE MATERIALIZED VIEW m AS " + counting.format(bound=100))
        assert await env.query("SELECT * FROM v") == []
        await _both(env, duck, "INSERT INTO edges VALUES (1, 2)")
        for read in ("SELECT * FROM v", "SELECT * FROM m", counting.format(bound=100)):
            with pytest.raises(errors.SteadyError) as caught:
                await env.query(read)
            assert caught.value.sqlstate == "54000", caught.value
        # converging within the limit answers (the ERROR AT limit is not reached)
        reference = ("WITH RECURSIVE c(n) AS (SELECT a FROM edges UNION SELECT n + 1 FROM c WHERE n < 15)"
                     " SELECT n FROM c")
        await _same(env, duck, counting.format(bound=15), reference)
        await _both(env, duck, "DELETE FROM edges")
        assert await env.query("SELECT * FROM v") == []
        assert await env.query("SELECT * FROM m") == []
    _run(body)


def test_with_mutually_recursive_without_a_limit_fails_at_the_default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from steadystate.sql import recursion
    monkeypatch.setattr(recursion, "DEFAULT_RECURSION_LIMIT", 50)

    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        for query in ["WITH MUTUALLY RECURSIVE c(n int) AS (SELECT 1 UNION SELECT n + 1 FROM c) SELECT n FROM c",
                      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c"]:
            with pytest.raises(errors.SteadyError) as caught:
                await env.query(query)
            assert caught.value.sqlstate == "54000", caught.value
    _run(body)


def test_an_error_inside_the_recursion_is_the_answer_until_its_cause_is_gone() -> None:
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        query = ("WITH RECURSIVE r(v, q) AS (SELECT 0, 0 UNION SELECT e.b, 10 / (e.b - 3) FROM r JOIN edges AS e"
                 " ON r.v = e.a) SELECT v, q FROM r")
        await env.execute(f"CREATE VIEW v AS {query}")
        await env.execute("CREATE DEFAULT INDEX ON v")
        await _both(env, duck, "INSERT INTO edges VALUES (0, 1), (1, 3)")
        with pytest.raises(errors.SteadyError) as caught:
            await env.query("SELECT * FROM v")
        assert caught.value.sqlstate == "22012", caught.value
        await _both(env, duck, "DELETE FROM edges WHERE b = 3")
        await _same(env, duck, "SELECT * FROM v", query)
    _run(body)


REFUSED = [
    ("WITH RECURSIVE t(n) AS (SELECT n FROM t) SELECT * FROM t", "42P19"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 FROM t UNION SELECT 2) SELECT * FROM t", "42P19"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT a.n FROM t AS a JOIN t AS b ON a.n = b.n) SELECT * FROM t",
     "42P19"),
    # what PostgreSQL refuses too, with its SQLSTATE
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT CAST(count(*) AS int) FROM t) SELECT * FROM t", "42P19"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT e.a FROM edges AS e LEFT JOIN t ON t.n = e.a)"
     " SELECT * FROM t", "42P19"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3 AND EXISTS (SELECT 1 FROM t))"
     " SELECT * FROM t", "42P19"),
    # what PostgreSQL answers with its working table but is not linear: refused, pointing to WITH MUTUALLY RECURSIVE
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT DISTINCT n + 1 FROM t WHERE n < 3) SELECT * FROM t", "0A000"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT t.n + 1 FROM t LEFT JOIN edges AS e ON t.n = e.a"
     " WHERE t.n < 3) SELECT * FROM t", "0A000"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM (SELECT n FROM t UNION ALL SELECT 0) AS s"
     " WHERE n < 3) SELECT * FROM t", "0A000"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t ORDER BY 1) SELECT * FROM t", "0A000"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT CAST(n AS bigint) + 1 FROM t WHERE n < 3) SELECT * FROM t",
     "42804"),
    ("WITH MUTUALLY RECURSIVE t(n int) AS (SELECT 'x' :: text) SELECT * FROM t", "42804"),
    ("WITH MUTUALLY RECURSIVE t(n int, m int) AS (SELECT 1) SELECT * FROM t", "42804"),
    ("WITH MUTUALLY RECURSIVE (RETURN AT RECURSION LIMIT 0) t(n int) AS (SELECT 1) SELECT * FROM t", "22023"),
    ("WITH MUTUALLY RECURSIVE (REPEAT 3) t(n int) AS (SELECT 1) SELECT * FROM t", "42601"),
]


@pytest.mark.parametrize(("sql", "sqlstate"), REFUSED)
def test_refused_recursions_say_why(sql: str, sqlstate: str) -> None:
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        with pytest.raises(errors.SteadyError) as caught:
            await env.query(sql)
        assert caught.value.sqlstate == sqlstate, caught.value
    _run(body)


def test_recursive_term_distinct_is_fine_with_union_and_declared_types_cast() -> None:
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        await _both(env, duck, "INSERT INTO edges VALUES (0, 1), (1, 2), (0, 2)")
        query = ("WITH RECURSIVE r(v) AS (SELECT 0 UNION SELECT DISTINCT e.b FROM r JOIN edges AS e ON r.v = e.a)"
                 " SELECT v FROM r")
        await _same(env, duck, query, query)
        rows = await env.query("WITH MUTUALLY RECURSIVE r(v bigint, w numeric) AS (SELECT a, b FROM edges)"
                               " SELECT v, w FROM r WHERE v = 0 ORDER BY w")
        assert [tuple(map(type, row)) for row in rows] == [(int, type(rows[0][1]))] * 2
        assert [str(row[1]) for row in rows] == ["1", "2"]
    _run(body)


def test_explain_shows_the_recursion() -> None:
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> str:
        rows = await env.query("EXPLAIN WITH MUTUALLY RECURSIVE (RETURN AT RECURSION LIMIT 7) even(v int) AS"
                               " (SELECT 0 UNION SELECT e.b FROM odd JOIN edges AS e ON odd.v = e.a), odd(v int) AS"
                               " (SELECT e.b FROM even JOIN edges AS e ON even.v = e.a) SELECT v FROM even")
        return "\n".join(row[0] for row in rows)
    text = _run(body)
    assert "LetRec (return at recursion limit 7;" in text, text
    assert "cte even =" in text and "cte odd =" in text and "Get odd" in text and "Return" in text, text


def test_bindings_update_in_order_within_an_iteration() -> None:
    """Materialize's semantics: a later binding's update sees the earlier binding's update of the same iteration,
    so after one iteration b already holds what a got (simultaneous updates would leave b empty)."""
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> list[list[tuple]]:
        out = []
        for limit in (1, 2):
            out.append(sorted(await env.query(
                f"WITH MUTUALLY RECURSIVE (RETURN AT RECURSION LIMIT {limit}) a(n int) AS (SELECT 1 UNION"
                " SELECT n + 1 FROM b WHERE n < 5), b(n int) AS (SELECT n FROM a) SELECT n FROM b")))
        return out
    assert _run(body) == [[(1,)], [(1,), (2,)]]


def test_plain_recursion_limit_is_an_error_at_the_limit() -> None:
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        query = ("WITH MUTUALLY RECURSIVE (RECURSION LIMIT {n}) c(n int) AS (SELECT 1 UNION SELECT n + 1 FROM c"
                 " WHERE n < 10) SELECT n FROM c")
        with pytest.raises(errors.SteadyError) as caught:
            await env.query(query.format(n=5))
        assert caught.value.sqlstate == "54000", caught.value
        assert sorted(await env.query(query.format(n=10))) == [(n,) for n in range(1, 11)]
    _run(body)


def test_recursive_dataflows_stay_right_across_a_coordinator_restart() -> None:
    """The new coordinator replays the recursive dataflows to the adopted replica, which keeps them (their plans are
    planned again from the catalog and fingerprint the same), and they stay right through later writes."""
    async def body(env: MemoryEnvironment, duck: duckdb.DuckDBPyConnection) -> None:
        await env.execute(f"CREATE VIEW v AS {REACH}")
        await env.execute("CREATE DEFAULT INDEX ON v")
        await env.execute(f"CREATE MATERIALIZED VIEW m AS {REACH}")
        await _both(env, duck, "INSERT INTO edges VALUES (0, 1), (1, 2), (2, 1)")
        state = env.pool.running[env.replica_id()].server.state
        # the replica's first connection may come after the DDL (its replay then builds both dataflows): wait for it,
        # or its reconciliation would be taken for the restart's
        await eventually(lambda: state.reconciled_at_ms is not None and len(state.dataflows) >= 2,
                         what="the first coordinator's dataflows on the replica")
        nonce, reconciled_at = state.nonce, state.reconciled_at_ms
        await env.restart()
        await eventually(lambda: state.nonce != nonce and state.reconciled_at_ms != reconciled_at,
                         what="the new coordinator's replay")
        assert (state.reconciled_kept, state.reconciled_rebuilt) == (2, 0)
        await _both(env, duck, "DELETE FROM edges WHERE a = 0")
        await _same(env, duck, "SELECT * FROM v", REACH)
        await _same(env, duck, "SELECT * FROM m", REACH)
    _run(body)
