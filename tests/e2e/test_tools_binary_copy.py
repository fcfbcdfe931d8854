"""Binary COPY from the clients that use it, against a real server: asyncpg's ``copy_records_to_table`` and
psycopg's binary ``copy.write_row``, plus psycopg's ``TypeInfo.fetch``.

The records sent are read back (asyncpg ``fetch``, psycopg) and must be what was sent, value for value, for every
type both ends know in binary; a NULL into a NOT NULL column and a stream that is not binary COPY data are refused
with PostgreSQL's SQLSTATEs, and the refused COPY writes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal

import asyncpg
import psycopg
import pytest
from psycopg.types import TypeInfo

COLUMNS = "i int4, b bigint, s smallint, t text, f float8, n numeric, ok boolean, d date, ts timestamp, v varchar(5)"
RECORDS = [
    (1, 2**40, -3, "héllo", 1.5, decimal.Decimal("12.345"), True, dt.date(2024, 2, 29),
     dt.datetime(2024, 1, 2, 3, 4, 5, 678901), "abc"),
    (2, -1, 7, "", -0.25, decimal.Decimal("-0.5"), False, dt.date(1999, 12, 31), dt.datetime(1970, 1, 1), "x"),
    (3, None, None, None, None, None, None, None, None, None),
]


def connect(env):  # type: ignore[no-untyped-def]
    return asyncpg.connect(host="127.0.0.1", port=env.sql_port, user="materialize", password=env.password,
                           database="materialize")


def test_asyncpg_copy_records_to_table_round_trips(shared_env) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        conn = await connect(shared_env)
        try:
            await conn.execute(f"CREATE TABLE ap_copy ({COLUMNS})")
            status = await conn.copy_records_to_table("ap_copy", records=RECORDS)
            assert status == f"COPY {len(RECORDS)}"
            rows = await conn.fetch("SELECT * FROM ap_copy ORDER BY i")
            assert [tuple(r) for r in rows] == RECORDS
            # a subset of the columns: the others take their default (NULL)
            await conn.copy_records_to_table("ap_copy", records=[(4, "four")], columns=["i", "t"])
            assert [tuple(r) for r in await conn.fetch("SELECT i, t, n FROM ap_copy WHERE i = 4")] == [(4, "four", None)]
        finally:
            await conn.close()

    asyncio.run(main())


def test_asyncpg_binary_copy_refusals_write_nothing(shared_env) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        conn = await connect(shared_env)
        try:
            await conn.execute("CREATE TABLE ap_strict (a int NOT NULL, b varchar(2))")
            with pytest.raises(asyncpg.NotNullViolationError):
                await conn.copy_records_to_table("ap_strict", records=[(1, "x"), (None, "y")])
            with pytest.raises(asyncpg.StringDataRightTruncationError):  # varchar(2), as an assignment: 22001
                await conn.copy_records_to_table("ap_strict", records=[(1, "xyz")])
            assert await conn.fetch("SELECT * FROM ap_strict") == []
        finally:
            await conn.close()

    asyncio.run(main())


def test_psycopg_binary_copy_and_type_info(shared_env) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(shared_env.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE pg_copy ({COLUMNS})")
        with conn.cursor() as cur:
            with cur.copy("COPY pg_copy FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int8", "int2", "text", "float8", "numeric", "bool", "date", "timestamp",
                                "varchar"])
                for record in RECORDS:
                    copy.write_row(record)
        assert conn.execute("SELECT * FROM pg_copy ORDER BY i").fetchall() == RECORDS
        with pytest.raises(psycopg.errors.BadCopyFileFormat):
            with conn.cursor() as cur:
                with cur.copy("COPY pg_copy FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(b"not binary copy data at all")
        assert conn.execute("SELECT count(*) FROM pg_copy").fetchone() == (len(RECORDS),)
        # TypeInfo.fetch reads pg_type: PostgreSQL's oids for the types that exist here
        for name, oid in (("int4", 23), ("numeric", 1700), ("text", 25), ("timestamptz", 1184), ("interval", 1186)):
            info = TypeInfo.fetch(conn, name)
            assert info is not None and (info.name, info.oid) == (name, oid)
        assert TypeInfo.fetch(conn, "no_such_type") is None
