"""psql's describe commands list what the user made: ``\\d``, ``\\dt``, ``\\dv``, ``\\dm``, ``\\di``.

psql answers them with queries over ``pg_catalog`` (``pg_class``, ``pg_namespace``, ``pg_index``, ``pg_roles``,
``pg_am``), schema-qualified function calls (``pg_catalog.pg_get_userbyid``, ``pg_table_is_visible``) and the
regular-expression operator ``!~``; here they run against a real server through a real psql.  The regular
expression operators are checked on their own too, with PostgreSQL's answers.
"""

from __future__ import annotations

import psycopg
import pytest


def listing(env, command: str) -> set[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    out = env.psql(command)
    rows = set()
    for line in out.stdout.splitlines():
        cells = tuple(cell.strip() for cell in line.split("|"))
        if len(cells) >= 4 and cells[0] == "public":
            rows.add(cells)
    return rows


def test_describe_commands_list_the_users_relations(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE psql_t (a int)",
        "CREATE VIEW psql_v AS SELECT a FROM psql_t",
        "CREATE MATERIALIZED VIEW psql_mv AS SELECT count(*) FROM psql_t",
        "CREATE INDEX psql_t_a ON psql_t (a)",
    )
    tables = listing(shared_env, r"\dt")
    assert ("public", "psql_t", "table", "materialize") in tables
    assert not any(row[1] in ("psql_v", "psql_mv", "psql_t_a") for row in tables)
    assert ("public", "psql_v", "view", "materialize") in listing(shared_env, r"\dv")
    assert ("public", "psql_mv", "materialized view", "materialize") in listing(shared_env, r"\dm")
    assert ("public", "psql_t_a", "index", "materialize", "psql_t") in listing(shared_env, r"\di")
    everything = {row[1] for row in listing(shared_env, r"\d")}
    assert {"psql_t", "psql_v", "psql_mv"} <= everything and "psql_t_a" not in everything
    assert not any(name.startswith("mz_") for name in everything)  # builtins are not the user's relations
    shared_env.execute("DROP VIEW psql_v")
    assert not any(row[1] == "psql_v" for row in listing(shared_env, r"\dv"))


@pytest.mark.parametrize("sql, expected", [
    ("SELECT 'abc' ~ '^a', 'abc' ~ 'B', 'abc' !~ 'b', 'ABC' ~* 'b', 'ABC' !~* 'b'", (True, False, False, True, False)),
    ("SELECT NULL::text ~ 'a', 'a' ~ NULL::text", (None, None)),
])
def test_regular_expression_operators(shared_env, sql: str, expected: tuple) -> None:  # type: ignore[no-untyped-def]
    assert shared_env.query(sql) == [expected]


def test_an_invalid_regular_expression_is_2201b(shared_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg.errors.InvalidRegularExpression, match="invalid regular expression"):
        shared_env.query("SELECT 'a' ~ '('")
