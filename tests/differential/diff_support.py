"""Shared machinery of the differential tests: a real server, a DuckDB mirror, and result comparison.

``Mirror`` keeps two databases in step: the steadystate server (through psycopg, autocommit) and an
in-memory DuckDB.  Every write goes to both; a maintained view is read from the server and compared, as a
multiset, with DuckDB evaluating the view's SQL on the same data.  Values are normalized before comparison:
numbers of any type (int, numeric, double) compare as floats rounded to a fixed number of significant
digits, so ``sum(int)`` being ``bigint`` here and ``HUGEINT`` there, or ``avg`` being ``numeric`` here and
``DOUBLE`` there, is not a difference, while a wrong value is.

The server is the real one: ``start_server`` runs ``python -m steadystate serve`` exactly as the end-to-end
fixtures do (the ``Environment`` class is loaded from ``tests/e2e/conftest.py`` so both stay one thing).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import psycopg


def load_environment_class() -> type:
    """The end-to-end ``Environment`` (real server process), imported from the e2e conftest by path."""
    path = Path(__file__).resolve().parent.parent / "e2e" / "conftest.py"
    spec = importlib.util.spec_from_file_location("steadystate_e2e_environment", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Environment


# ---------------------------------------------------------------------------------------------- comparison

SIGNIFICANT_DIGITS = 9


def normalize_value(value: Any) -> tuple[int, Any]:
    """A sortable, comparable stand-in for one datum: (type rank, canonical value)."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        if number == 0 or not math.isfinite(number):
            return (2, number if math.isfinite(number) else str(number))
        digits = SIGNIFICANT_DIGITS - int(math.floor(math.log10(abs(number)))) - 1
        return (2, round(number, digits))
    return (3, str(value))


def normalize_rows(rows: Iterable[Sequence[Any]]) -> list[tuple]:
    """Rows as a sorted multiset of normalized tuples."""
    return sorted(tuple(normalize_value(v) for v in row) for row in rows)


def describe_difference(server_rows: list[tuple], duck_rows: list[tuple]) -> str:
    server = normalize_rows(server_rows)
    duck = normalize_rows(duck_rows)
    missing = list(duck)
    extra: list[tuple] = []
    for row in server:
        if row in missing:
            missing.remove(row)
        else:
            extra.append(row)
    return (f"server has {len(server)} rows, duckdb {len(duck)}\n  only in server: {extra[:10]}\n"
            f"  only in duckdb: {missing[:10]}")


# ---------------------------------------------------------------------------------------------- mirror

@dataclass
class ServerError(Exception):
    sqlstate: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.sqlstate}] {self.message}"


class Mirror:
    """The server and DuckDB, kept in step by applying every statement to both."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        # psycopg prepares a statement after 5 runs and sends DEALLOCATE ALL after DDL; the server does not
        # support DEALLOCATE (a pgwire gap, reported), so keep to the simple protocol without preparing.
        self.conn.prepare_threshold = None
        self.duck = duckdb.connect(":memory:")
        # PostgreSQL orders NULLs last ascending and first descending; DuckDB's default differs.
        self.duck.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
        # PostgreSQL accepts ORDER BY a constant (``string_agg('a', ',' ORDER BY 'a')``: no order); DuckDB refuses it
        self.duck.execute("SET order_by_non_integer_literal = true")

    def close(self) -> None:
        self.duck.close()

    def server(self, sql: str) -> list[tuple] | None:
        try:
            cursor = self.conn.execute(sql)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise ServerError(exc.sqlstate, str(exc).strip()) from None
        return cursor.fetchall() if cursor.description is not None else None

    def duckdb(self, sql: str) -> list[tuple]:
        result = self.duck.execute(sql)
        return result.fetchall() if result.description is not None else []

    def both(self, server_sql: str, duck_sql: str | None = None) -> None:
        self.server(server_sql)
        self.duckdb(duck_sql if duck_sql is not None else server_sql)

    def check(self, server_read: str, duck_query: str, context: str = "") -> int:
        """Compare; returns the number of rows (so callers can tell empty results from informative ones)."""
        server_rows = self.server(server_read) or []
        duck_rows = self.duckdb(duck_query)
        if normalize_rows(server_rows) != normalize_rows(duck_rows):
            raise AssertionError(f"{context}\nquery: {duck_query}\n{describe_difference(server_rows, duck_rows)}")
        return len(duck_rows)
