"""``INSERT/UPDATE/DELETE ... RETURNING``, ``UPDATE ... FROM`` and ``DELETE ... USING`` against PostgreSQL itself:
on generated rows, each statement of the corpus runs in the in-memory environment and in a real PostgreSQL; the
command tags, the RETURNING rows and the table afterwards must be the same.  (UPDATE ... FROM with several matching
rows picks an unspecified one in PostgreSQL: the corpus only returns what does not depend on the pick.)
Skipped when the PostgreSQL binaries are absent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.errors import SteadyError
from steadystate.testing import memory_environment

CORPUS = [
    "INSERT INTO t VALUES (7, 70), (8, NULL) RETURNING *",
    "INSERT INTO t (v) VALUES (5) RETURNING k, v * 2 AS twice, v IS NULL AS missing",
    "INSERT INTO t SELECT k + 10, w FROM o WHERE w > 1 RETURNING t.k",
    "UPDATE t SET v = v + 1 WHERE k > 1 RETURNING k, v",
    "UPDATE t SET v = NULL RETURNING *",
    "UPDATE t AS x SET v = m.w FROM (SELECT k, max(w) AS w FROM o GROUP BY k) AS m WHERE x.k = m.k"
    " RETURNING x.k, x.v, m.w",
    "UPDATE t SET v = 0 FROM o WHERE t.k = o.k RETURNING t.*",
    "UPDATE t SET v = t.k * 100 FROM o WHERE o.w > t.v",
    "DELETE FROM t WHERE v IS NULL RETURNING *",
    "DELETE FROM t WHERE k < 2 RETURNING k + 1 AS next",
    "DELETE FROM t USING o WHERE t.k = o.k RETURNING t.*",
    "DELETE FROM t USING o, o AS p WHERE t.k = o.k AND p.w = t.v RETURNING t.k",
    "DELETE FROM t USING (SELECT k FROM o GROUP BY k HAVING count(*) > 1) AS d WHERE t.k = d.k RETURNING t.v, d.k",
]

VALUE = st.one_of(st.none(), st.integers(0, 3))
DATA = st.fixed_dictionaries({"t": st.lists(st.tuples(VALUE, VALUE), max_size=6),
                              "o": st.lists(st.tuples(VALUE, VALUE), max_size=6)})


@pytest.fixture(scope="module")
def postgres(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS dml CASCADE")
        conn.execute("CREATE SCHEMA dml")
        conn.execute("SET search_path TO dml")
        conn.execute("CREATE TABLE t (k int, v int)")
        conn.execute("CREATE TABLE o (k int, w int)")
        yield conn


def _norm(rows: Any) -> Counter:
    return Counter(tuple(int(v) if isinstance(v, Decimal) else v for v in row) for row in rows)


def _postgres(conn: psycopg.Connection, data: dict[str, list[tuple]], sql: str) -> tuple[str, Counter, Counter]:
    for name, rows in data.items():
        conn.execute(f"DELETE FROM {name}")  # type: ignore[arg-type]
        if rows:
            conn.cursor().executemany(f"INSERT INTO {name} VALUES (%s, %s)", rows)  # type: ignore[arg-type]
    cur = conn.execute(sql)  # type: ignore[arg-type]
    returned = _norm(cur.fetchall() if cur.description else [])
    tag = cur.statusmessage or ""
    return tag, returned, _norm(conn.execute("SELECT * FROM t").fetchall())


async def _steadystate(data: dict[str, list[tuple]], statements: list[str]) -> list[tuple[str, Counter, Counter]]:
    out = []
    async with memory_environment() as env:
        await env.wait_connected()
        for sql in statements:
            await env.execute("DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS o;"
                              "CREATE TABLE t (k int, v int); CREATE TABLE o (k int, w int)")
            for name, rows in data.items():
                if rows:
                    values = ", ".join(f"({'NULL' if a is None else a}, {'NULL' if b is None else b})" for a, b in rows)
                    await env.execute(f"INSERT INTO {name} VALUES {values}")
            [result] = await env.execute(sql)
            out.append((result.tag, _norm(result.rows), _norm(await env.query("SELECT * FROM t"))))
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=DATA)
def test_dml_extensions_answer_as_postgresql(postgres: psycopg.Connection, data: dict[str, list[tuple]]) -> None:
    ours = asyncio.run(_steadystate(data, CORPUS))
    for sql, got in zip(CORPUS, ours):
        assert got == _postgres(postgres, data, sql), sql


@pytest.mark.parametrize("sql, sqlstate", [
    ("UPDATE t SET v = 1 FROM t WHERE true", "42712"),  # the target again in FROM
    ("DELETE FROM t USING o WHERE nope = 1", "42703"),
    ("UPDATE t SET v = 1 RETURNING nope", "42703"),
    ("INSERT INTO t VALUES (1, 1) ON CONFLICT DO NOTHING", "0A000"),
    ("DELETE FROM t RETURNING count(*)", "42803"),
])
def test_refusals_agree_with_postgresql(postgres: psycopg.Connection, sql: str, sqlstate: str) -> None:
    if sqlstate != "0A000":  # PostgreSQL has ON CONFLICT; steadystate refuses it
        with pytest.raises(psycopg.Error) as theirs:
            postgres.execute(sql)  # type: ignore[arg-type]
        assert theirs.value.sqlstate == sqlstate

    async def ours() -> str:
        async with memory_environment() as env:
            await env.wait_connected()
            await env.execute("CREATE TABLE t (k int, v int); CREATE TABLE o (k int, w int)")
            with pytest.raises(SteadyError) as caught:
                await env.execute(sql)
            return caught.value.sqlstate

    assert asyncio.run(ours()) == sqlstate
