"""Runs every ``tests/slt/*.slt`` file (sqllogictest format, tests/slt/slt_runner.py) against the in-memory
environment, and against a real PostgreSQL server to show the files state PostgreSQL's semantics (records only
steadystate has, such as SUBSCRIBE, are marked ``onlyif steadystate``; known gaps ``skipif steadystate``).

docs/conformance.md reports, per file, the records steadystate passes out of those meant for it; the in-memory
test fails when the table there is not what the run counts, so the report stays true.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from slt_runner import conformance, run_file
from steadystate.testing import memory_environment

HERE = Path(__file__).resolve().parent
FILES = sorted(HERE.glob("*.slt"))
REPORT = HERE.parent.parent / "docs" / "conformance.md"

_spec = importlib.util.spec_from_file_location("steadystate_storage_fixtures_slt", HERE.parent / "storage" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_storage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_storage)
postgres_server = _storage.postgres_server


class MemoryEngine:
    """The in-memory environment (coordinator, controller, in-process replicas), one per file."""

    name = "steadystate"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._context = memory_environment()
        self.env = self.loop.run_until_complete(self._context.__aenter__())
        self.loop.run_until_complete(self.env.wait_connected())

    def run(self, sql: str) -> list[tuple[Any, ...]] | None:
        results = self.loop.run_until_complete(self.env.execute(sql))
        return results[-1].rows if results else None

    def close(self) -> None:
        self.loop.run_until_complete(self._context.__aexit__(None, None, None))
        self.loop.close()


class PostgresEngine:
    name = "postgresql"

    def __init__(self, url: str, schema: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]
        self.conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
        self.conn.execute(f"SET search_path TO {schema}")  # type: ignore[arg-type]

    def run(self, sql: str) -> list[tuple[Any, ...]] | None:
        cur = self.conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else None

    def close(self) -> None:
        self.conn.close()


def reported() -> dict[str, tuple[int, int]]:
    """The per-file counts docs/conformance.md states: rows ``| file.slt | passed | total | ... |``."""
    out = {}
    for match in re.finditer(r"^\| `?([\w.]+\.slt)`? \| (\d+) \| (\d+) \|", REPORT.read_text(), re.MULTILINE):
        out[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return out


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_slt_in_memory_environment(path: Path) -> None:
    engine = MemoryEngine()
    try:
        outcomes = run_file(engine, path)
    finally:
        engine.close()
    failures = [f"line {o.record.line}: {o.message}\n{o.record.sql}" for o in outcomes if not o.passed]
    assert not failures, "\n\n".join(failures)
    assert reported().get(path.name) == conformance(engine.name, outcomes), \
        f"docs/conformance.md must say {path.name}: {conformance(engine.name, outcomes)}"


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_slt_files_state_postgresql_semantics(postgres_server: str, path: Path) -> None:
    engine = PostgresEngine(postgres_server, "slt_" + path.stem)
    try:
        outcomes = run_file(engine, path)
    finally:
        engine.close()
    failures = [f"line {o.record.line}: {o.message}\n{o.record.sql}" for o in outcomes if not o.passed]
    assert not failures, "\n\n".join(failures)

