"""asyncpg against steadystate and the real PostgreSQL server: every type, as parameters and results.

asyncpg speaks binary format for every type it has a codec for, and for a type oid it has no codec of its own
(arrays other than ``oid[]``/``text[]``, ``jsonb[]``, ...) it first runs its own type-introspection query
(``WITH RECURSIVE typeinfo_tree ...``, answered by ``sql/pg_compat.py``).  Each test runs the same statements
with the same Python values on both servers and compares the Python values asyncpg decodes: results of literals,
parameters sent back (``SELECT CAST($1 AS t)``), and rows written with parameters and read back from a table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import uuid
from typing import Any, Awaitable, Callable

import asyncpg
import psycopg
import pytest

from scalar_support import postgres_server

__all__ = ["postgres_server"]

UTC = dt.timezone.utc
U1, U2 = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), uuid.UUID("00000000-0000-0000-0000-000000000001")

#: (SQL type, Python values asyncpg sends for it): each is sent as a parameter and read back
PARAMETERS: list[tuple[str, list[Any]]] = [
    ("smallint", [-32768, 7]), ("integer", [2147483647, -1]), ("bigint", [-(2 ** 63), 42]),
    ("double precision", [1.5, -0.0, float("inf")]), ("real", [0.25]),
    ("numeric", [decimal.Decimal("123456789.000000001"), decimal.Decimal("-0.5"), decimal.Decimal("NaN")]),
    ("text", ["é\tx", ""]), ("boolean", [True, False]), ("date", [dt.date(2024, 2, 29), dt.date(1, 1, 2)]),
    ("time", [dt.time(23, 59, 59, 999999)]), ("timestamp", [dt.datetime(2020, 1, 2, 3, 4, 5, 6)]),
    ("timestamptz", [dt.datetime(2020, 3, 29, 1, 30, tzinfo=UTC),
                     dt.datetime(2020, 3, 29, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))]),
    ("interval", [dt.timedelta(days=3, seconds=7, microseconds=1), dt.timedelta(days=-1)]),
    ("jsonb", ['{"a": [1, 2.50, null], "b": "é"}', "[]", "3"]), ("uuid", [U1]), ("bytea", [b"\x00\xff", b""]),
    ("integer[]", [[1, None, 3], []]), ("bigint[]", [[2 ** 40]]), ("smallint[]", [[1, 2]]),
    ("text[]", [["a", "b c", None, '"q"', ""]]), ("boolean[]", [[True, None]]),
    ("double precision[]", [[1.25, float("-inf")]]), ("real[]", [[0.5]]),
    ("numeric[]", [[decimal.Decimal("1.10"), None]]), ("date[]", [[dt.date(2024, 1, 1)]]),
    ("timestamp[]", [[dt.datetime(2024, 1, 1, 12)]]), ("timestamptz[]", [[dt.datetime(2024, 1, 1, tzinfo=UTC)]]),
    ("time[]", [[dt.time(1, 2, 3)]]), ("interval[]", [[dt.timedelta(hours=5)]]),
    ("jsonb[]", [['{"k": 1}', "null"]]), ("uuid[]", [[U1, U2, None]]), ("bytea[]", [[b"\x01", None]]),
]

#: literals whose results asyncpg decodes in binary format (arrays introspected first)
LITERALS = [
    "ARRAY[1, 2, NULL]", "ARRAY[CAST(1 AS bigint)]", "ARRAY['x', 'y']", "ARRAY[1.5, 2]", "ARRAY[true]",
    "CAST('{1,2}' AS smallint[])", "ARRAY[CAST('{\"a\": 1}' AS jsonb), CAST('[]' AS jsonb)]",
    "ARRAY[CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid)]", "ARRAY[CAST('\\x00ff' AS bytea)]",
    "ARRAY[DATE '2024-02-29']", "ARRAY[TIMESTAMP '2024-01-01 10:00:00.5']",
    "ARRAY[CAST('2024-01-01 10:00:00+00' AS timestamptz)]", "ARRAY[INTERVAL '1 month 2 days 03:00:00']",
    "ARRAY[TIME '10:11:12']", "CAST('{}' AS integer[])", "CAST('{1.5,NaN}' AS numeric[])",
    "CAST('{\"a\": [1, 2.50]}' AS jsonb)", "CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid)",
    "CAST('\\x00ff' AS bytea)", "CAST('-12345.678900' AS numeric)", "CAST('2024-03-31 02:30:00+00' AS timestamptz)",
    "INTERVAL '1 day 02:03:04.5'", "DATE '2024-02-29'", "TIME '23:59:59.999999'", "TIMESTAMP '2000-01-01 00:00:00'",
    "string_to_array('a,b,,c', ',')", "array_agg(x ORDER BY x) FROM (VALUES (3), (1), (2)) AS v(x)",
]


def run(dsn: str, body: Callable[[asyncpg.Connection], Awaitable[Any]], **connect: Any) -> Any:
    async def main() -> Any:
        conn = await asyncpg.connect(dsn, **connect)
        try:
            return await body(conn)
        finally:
            await conn.close()
    return asyncio.run(main())


def both(server: Any, postgres_server: str, body: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    ours = run(f"postgresql://materialize@127.0.0.1:{server.sql_port}/materialize", body,
               password=server.password, ssl=False)
    theirs = run(postgres_server, body)
    assert repr(ours) == repr(theirs)  # repr: NaN equals NaN, -0.0 differs from 0.0
    return ours


@pytest.mark.parametrize(("sql_type", "values"), PARAMETERS, ids=[t for t, _ in PARAMETERS])
def test_parameters_come_back_as_sent(server: Any, postgres_server: str, sql_type: str, values: list[Any]) -> None:
    async def body(conn: asyncpg.Connection) -> list[Any]:
        return [await conn.fetchval(f"SELECT CAST($1 AS {sql_type})", value) for value in values]

    answers = both(server, postgres_server, body)
    assert len(answers) == len(values)


@pytest.mark.parametrize("literal", LITERALS)
def test_results_decode_alike(server: Any, postgres_server: str, literal: str) -> None:
    async def body(conn: asyncpg.Connection) -> list[Any]:
        return [tuple(r) for r in await conn.fetch(f"SELECT {literal}")]

    assert both(server, postgres_server, body)


def test_rows_written_with_parameters_read_back(server: Any, postgres_server: str) -> None:
    """A table of every type, written with executemany (binary parameters) and read back in order."""
    columns = [("k", "integer")] + [(f"c{i}", t) for i, (t, _) in enumerate(PARAMETERS)]
    rows = [tuple([k] + [values[k % len(values)] for _, values in PARAMETERS]) for k in range(3)]
    rows.append(tuple([3] + [None] * len(PARAMETERS)))
    with psycopg.connect(postgres_server, autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS asyncpg_every_type")
    for conn in (server.connect(),):
        conn.execute("DROP TABLE IF EXISTS asyncpg_every_type")
        conn.close()
    definition = ", ".join(f"{name} {sql_type}" for name, sql_type in columns)
    placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))

    async def body(conn: asyncpg.Connection) -> list[Any]:
        await conn.execute(f"CREATE TABLE asyncpg_every_type ({definition})")
        try:
            await conn.executemany(f"INSERT INTO asyncpg_every_type VALUES ({placeholders})", rows)
            return [tuple(r) for r in await conn.fetch("SELECT * FROM asyncpg_every_type ORDER BY k")]
        finally:
            await conn.execute("DROP TABLE asyncpg_every_type")

    assert len(both(server, postgres_server, body)) == len(rows)


def test_mz_timestamp_is_introspected(server: Any) -> None:
    """mz_timestamp (Materialize's oid 16552, no PostgreSQL counterpart) is looked up and read as text."""
    async def body(conn: asyncpg.Connection) -> Any:
        return tuple(await conn.fetchrow("SELECT mz_now(), CAST(mz_now() AS text)"))

    value, text = run(f"postgresql://materialize@127.0.0.1:{server.sql_port}/materialize", body,
                      password=server.password, ssl=False)
    assert value == text and int(value) > 0
