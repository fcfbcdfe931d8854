"""Syntax errors carry their position in the statement (ErrorResponse field P), as PostgreSQL's do."""

from __future__ import annotations

import psycopg
import pytest


def test_syntax_error_reports_its_position(shared_env) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT 1 FORM nothing"
    with shared_env.connect() as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as caught:
            conn.execute(sql)
        assert caught.value.diag.message_primary.startswith("syntax error at or near")
        position = int(caught.value.diag.statement_position)
        assert 1 <= position <= len(sql)
        assert sql[position - 1:].split()[0] in ("FORM", "nothing")
        assert conn.execute("SELECT 1").fetchone() == (1,)
