"""A large SELECT through a real server and replica answers exactly what PostgreSQL answers for the same data.

The same 20,000 rows (integers, text, numeric(12,2), timestamp, timestamptz, boolean, float8 with NaN/Infinity,
date, jsonb, uuid, interval, bytea, NULLs) go into a table on steadystate (with an index, so the SELECT is a peek
of the arrangement; its answer travels in several Arrow chunks) and on PostgreSQL.  Compared raw (type OIDs and
every value's bytes, ``scalar_support.outcome``) in psycopg's text and binary formats; through asyncpg (binary) as
decoded values, whole and a page at a time through a portal (Execute with a row limit); and through
``COPY (SELECT ...) TO STDOUT``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import psycopg
import pytest

from scalar_support import outcome, postgres_server

__all__ = ["postgres_server"]

ROWS = 20_000
COLUMNS = ("id bigint, name text, amount numeric(12,2), at timestamp, at_tz timestamptz, flag boolean, "
           "score double precision, day date, doc jsonb, tag uuid, span interval, raw bytea")
SPECIAL_FLOATS = ("NaN", "Infinity", "-Infinity", "-0", "1e+300", "1.5e-07")


def line(i: int) -> str:
    def maybe(value: str, every: int) -> str:
        return "\\N" if i % every == 0 else value

    score = SPECIAL_FLOATS[i % len(SPECIAL_FLOATS)] if i % 50 == 0 else repr(i / 7)
    fields = [
        str(i - ROWS // 2), maybe(f"customer \u00e9 {i % 997}", 13), maybe(f"{(i * 37) % 100000 - 50000}.{i % 100:02d}", 11),
        f"{1990 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 59:02d}"
        + (f".{(i * 7919) % 1000000:06d}" if i % 3 else ""),
        maybe(f"2024-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}+00", 7),
        maybe("t" if i % 2 else "f", 17), maybe(score, 19),
        f"{1 + i % 2000:04d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        maybe('{"k": %d, "v": [1, 2.50, null]}' % i, 5),
        maybe(f"00000000-0000-0000-0000-{i:012x}", 23),
        maybe(f"{i % 30} days {i % 24}:00:0{i % 10}", 29),
        maybe(f"\\\\x{i:06x}", 31),
    ]
    return "\t".join(fields) + "\n"


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Any:
    data = "".join(line(i) for i in range(ROWS)).encode()
    ours = server.connect(autocommit=True)
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP TABLE IF EXISTS large_t")
    for conn in (ours, theirs):
        conn.execute(f"CREATE TABLE large_t ({COLUMNS})")
        with conn.cursor().copy("COPY large_t FROM STDIN") as copy:
            copy.write(data)
        conn.execute("SET TimeZone = 'UTC'")
    ours.execute("CREATE INDEX large_t_id ON large_t (id)")
    try:
        yield ours, theirs, postgres_server
    finally:
        ours.close()
        theirs.close()


ORDERED = "SELECT * FROM large_t ORDER BY id"
FILTERED = "SELECT * FROM large_t WHERE id < 5000"  # no ORDER BY: compared as sets of rows


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_gets_postgresql_bytes(connections: Any, binary: bool) -> None:
    ours, theirs, _ = connections
    mine, expected = outcome(ours, ORDERED, binary), outcome(theirs, ORDERED, binary)
    assert mine[1] == expected[1]  # the columns' types
    assert len(mine[2]) == ROWS
    assert mine[2] == expected[2]
    mine, expected = outcome(ours, FILTERED, binary), outcome(theirs, FILTERED, binary)
    assert sorted(mine[2], key=repr) == sorted(expected[2], key=repr)


def test_copy_to_stdout_gets_postgresql_bytes(connections: Any) -> None:
    ours, theirs, _ = connections

    def copied(conn: psycopg.Connection) -> bytes:
        with conn.cursor().copy(f"COPY ({ORDERED}) TO STDOUT") as copy:
            return b"".join(bytes(block) for block in copy)

    assert copied(ours) == copied(theirs)


def test_asyncpg_gets_postgresql_values_whole_and_by_portal(server: Any, connections: Any) -> None:
    _, _, postgres_dsn = connections

    async def read(dsn: str, **connect: Any) -> tuple[str, list[str]]:
        conn = await asyncpg.connect(dsn, **connect)
        try:
            await conn.execute("SET TimeZone = 'UTC'")
            whole = await conn.fetch(ORDERED)
            pages = []
            async with conn.transaction():
                cursor = await conn.cursor(ORDERED)  # Bind + Execute with a row limit, resumed page by page
                while page := await cursor.fetch(3000):
                    pages.append(repr([tuple(r) for r in page]))
            return repr([tuple(r) for r in whole]), pages
        finally:
            await conn.close()

    ours = asyncio.run(read(f"postgresql://materialize@127.0.0.1:{server.sql_port}/materialize",
                            password=server.password, ssl=False))
    theirs = asyncio.run(read(postgres_dsn))
    assert ours[0] == theirs[0]  # repr: NaN equals NaN, -0.0 differs from 0.0
    assert len(ours[1]) == -(-ROWS // 3000)
    assert ours[1] == theirs[1]
