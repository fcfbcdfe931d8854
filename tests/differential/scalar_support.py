"""What the scalar differential tests share: the session's PostgreSQL server and raw answer comparison.

``postgres_server`` is the storage tests' fixture (tests/storage/conftest.py, loaded by path); :func:`outcome`
is a server's raw answer to a statement — RowDescription type OIDs and modifiers and every value's bytes, or the
error's SQLSTATE and message — and :func:`same` asserts that steadystate and PostgreSQL answered alike.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import psycopg


def _storage_fixtures() -> Any:
    path = Path(__file__).resolve().parent.parent / "storage" / "conftest.py"
    spec = importlib.util.spec_from_file_location("steadystate_storage_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


postgres_server = _storage_fixtures().postgres_server  # the session's PostgreSQL server fixture

def outcome(conn: psycopg.Connection, sql: str, binary: bool = False) -> tuple:
    """What the server answered, raw: ('ok', [(type oid, typmod)], [row of value bytes]) or ('error', sqlstate,
    message)."""
    try:
        cursor = conn.execute(sql, binary=binary)
    except psycopg.Error as exc:
        diag = exc.diag
        return ("error", diag.sqlstate, diag.message_primary)
    result = cursor.pgresult
    if result is None or cursor.description is None:
        return ("ok", cursor.statusmessage)
    columns = [(result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
    rows = [tuple(result.get_value(r, c) for c in range(result.nfields)) for r in range(result.ntuples)]
    return ("ok", columns, rows)


def same(connections: tuple[psycopg.Connection, psycopg.Connection], sql: str, binary: bool = False) -> tuple:
    ours, theirs = connections
    mine, expected = outcome(ours, sql, binary), outcome(theirs, sql, binary)
    assert mine == expected, f"{sql}\n  steadystate: {mine}\n  PostgreSQL:  {expected}"
    return mine


def copy_outcome(conn: psycopg.Connection, table: str, line: str) -> tuple:
    try:
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            copy.write(line.encode() + b"\n")
    except psycopg.Error as exc:
        return ("error", exc.diag.sqlstate, exc.diag.message_primary)
    return ("ok",)




def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
