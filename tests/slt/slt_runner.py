"""A sqllogictest runner: reads ``.slt`` files and runs their records against an engine, counting the records
that pass, so conformance can be reported record by record (docs/conformance.md).

The format is sqllogictest's (as SQLite, CockroachDB and Materialize use it):

* ``statement ok`` / ``statement error [regex]``, then the SQL up to a blank line;
* ``query <types> [nosort | rowsort | valuesort] [label]``, the SQL, ``----``, then the expected rows, one a
  line, values separated by spaces (the last value takes the rest of the line, spaces included), up to a blank
  line.  Types are one letter a column:
  ``I`` integer, ``T`` text, ``R`` real (printed with three decimals), ``B`` boolean (``true``/``false``);
  NULL prints as ``NULL`` and the empty string as ``(empty)``.  ``rowsort`` sorts the rows, ``valuesort`` every
  value; with more values than ``hash-threshold N`` the expected text is ``<n> values hashing to <md5>``;
* ``hash-threshold N``, ``halt``, and the conditions ``skipif <engine>`` / ``onlyif <engine>`` before a record
  (engines here: ``steadystate``, ``postgresql``); ``#`` starts a comment line.

An :class:`Engine` runs one statement and returns its rows (or raises); the runner compares.  Nothing here knows
which database it talks to: tests/slt/test_slt.py gives it the in-memory environment or a PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol


class Engine(Protocol):
    name: str

    def run(self, sql: str) -> list[tuple[Any, ...]] | None:
        """Run one statement; its rows (None for a statement without rows).  Raises on an error."""
        ...


@dataclass
class Record:
    kind: str  # "statement" | "query"
    sql: str
    line: int
    expect_error: bool = False
    error_pattern: str | None = None
    types: str = ""
    sort: str = "nosort"
    expected: list[str] = field(default_factory=list)
    skipif: tuple[str, ...] = ()
    onlyif: tuple[str, ...] = ()
    hash_threshold: int = 0


@dataclass
class Outcome:
    record: Record
    passed: bool
    skipped: bool = False
    message: str = ""


def parse(text: str) -> list[Record]:
    records: list[Record] = []
    lines = text.splitlines()
    i, threshold = 0, 0
    skipif: list[str] = []
    onlyif: list[str] = []
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0] == "halt":
            break
        if words[0] == "hash-threshold":
            threshold = int(words[1])
            continue
        if words[0] in ("skipif", "onlyif"):
            (skipif if words[0] == "skipif" else onlyif).append(words[1])
            continue
        if words[0] not in ("statement", "query"):
            raise ValueError(f"line {i}: unknown record {line!r}")
        start = i
        body: list[str] = []
        while i < len(lines) and lines[i].strip() and lines[i].strip() != "----":
            body.append(lines[i])
            i += 1
        record = Record(words[0], "\n".join(body), start, skipif=tuple(skipif), onlyif=tuple(onlyif),
                        hash_threshold=threshold)
        skipif, onlyif = [], []
        if words[0] == "statement":
            record.expect_error = words[1] == "error"
            record.error_pattern = line.split(None, 2)[2] if record.expect_error and len(words) > 2 else None
        else:
            record.types = words[1]
            record.sort = words[2] if len(words) > 2 else "nosort"
            if i < len(lines) and lines[i].strip() == "----":
                i += 1
                while i < len(lines) and lines[i].strip():
                    record.expected.append(lines[i].strip())
                    i += 1
        records.append(record)
    return records


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return "NULL"
    if kind == "I":
        return str(int(value)) if not isinstance(value, bool) else str(int(value))
    if kind == "R":
        return f"{float(value):.3f}"
    if kind == "B" or isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    text = str(value)
    return text if text else "(empty)"


def _values(record: Record, rows: list[tuple[Any, ...]]) -> list[str]:
    if any(len(row) != len(record.types) for row in rows):
        raise AssertionError(f"expected {len(record.types)} columns, got {len(rows[0])}")
    formatted = [[format_value(v, k) for v, k in zip(row, record.types)] for row in rows]
    if record.sort == "rowsort":
        formatted.sort()
    values = [v for row in formatted for v in row]
    if record.sort == "valuesort":
        values.sort()
    return values


def _expected_values(record: Record) -> list[str]:
    if len(record.expected) == 1 and " values hashing to " in record.expected[0]:
        return record.expected
    values: list[str] = []
    for line in record.expected:  # a row a line; the last column takes the rest of the line (it may hold spaces)
        values.extend(line.split(None, len(record.types) - 1) if len(record.types) > 1 else [line])
    return values


def run_record(engine: Engine, record: Record) -> Outcome:
    if engine.name in record.skipif or (record.onlyif and engine.name not in record.onlyif):
        return Outcome(record, True, skipped=True)
    try:
        rows = engine.run(record.sql)
    except Exception as error:  # noqa: BLE001 - an engine's error is the record's outcome
        if record.kind == "statement" and record.expect_error:
            if record.error_pattern and not re.search(record.error_pattern, str(error)):
                return Outcome(record, False, message=f"error {error!s} does not match {record.error_pattern!r}")
            return Outcome(record, True)
        return Outcome(record, False, message=f"{type(error).__name__}: {error}")
    if record.kind == "statement":
        return Outcome(record, not record.expect_error, message="expected an error" if record.expect_error else "")
    try:
        got = _values(record, rows or [])
    except AssertionError as error:
        return Outcome(record, False, message=str(error))
    want = _expected_values(record)
    if record.hash_threshold and len(got) > record.hash_threshold:
        digest = hashlib.md5("".join(v + "\n" for v in got).encode()).hexdigest()
        got = [f"{len(got)} values hashing to {digest}"]
    if got != want:
        return Outcome(record, False, message=f"got {got}, want {want}")
    return Outcome(record, True)


def run_file(engine: Engine, path: Path) -> list[Outcome]:
    return [run_record(engine, record) for record in parse(path.read_text())]


def conformance(engine: str, outcomes: list[Outcome]) -> tuple[int, int]:
    """(passed, total) for ``engine``: every record meant for it counts, including those marked ``skipif`` it
    (known gaps: they count as not passed); records ``onlyif`` another engine do not count."""
    meant = [o for o in outcomes if not (o.record.onlyif and engine not in o.record.onlyif)]
    return sum(o.passed and not o.skipped for o in meant), len(meant)
