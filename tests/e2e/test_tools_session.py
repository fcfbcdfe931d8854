"""What dbt-materialize and other clients read on connect: the ``mz_version`` ParameterStatus and ``mz_version()``;
a database that does not exist refused with 3D000 as in PostgreSQL; ``current_database()``, ``current_schema()``
and ``search_path``.
"""

from __future__ import annotations

import socket
import struct

import psycopg
import pytest
from conftest import raw_login


def startup_error_fields(port: int, password: str, database: str) -> dict[str, str]:
    """The fields of the ErrorResponse a login to ``database`` gets once the password is proved (as in
    PostgreSQL, the database is checked after authentication), read off the wire (libpq does not keep the SQLSTATE
    of a connection failure)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        data = raw_login(sock, password, database=database, expect_error=True)
    while data[:1] != b"E":  # skip what came before the error (AuthenticationOk, ParameterStatus)
        data = data[1 + struct.unpack("!i", data[1:5])[0]:]
    body = data[5:1 + struct.unpack("!i", data[1:5])[0]]
    return {field[:1].decode(): field[1:].decode() for field in body.split(b"\0") if field}


def test_mz_version_parameter_status_and_function(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect() as conn:
        reported = conn.info.parameter_status("mz_version")
        assert reported is not None and reported.startswith("v")
        assert conn.execute("SELECT mz_version()").fetchone() == (reported,)
        assert conn.execute("SELECT pg_catalog.mz_version() = mz_version()").fetchone() == (True,)


def test_connecting_to_a_database_that_does_not_exist_is_3d000(shared_env) -> None:  # type: ignore[no-untyped-def]
    dsn = shared_env.dsn.replace("dbname=materialize", "dbname=no_such_db")
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(dsn)
    assert 'database "no_such_db" does not exist' in str(caught.value)
    fields = startup_error_fields(shared_env.sql_port, shared_env.password, "no_such_db")
    assert (fields["C"], fields["S"]) == ("3D000", "FATAL")
    out = shared_env.psql("SELECT 1", check=False)  # the database that exists still works
    assert out.returncode == 0


def test_current_database_schema_and_search_path(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect() as conn:
        assert conn.execute("SELECT current_database(), current_schema()").fetchone() == ("materialize", "public")
        assert conn.execute("SHOW search_path").fetchone() == ("public",)
        conn.execute("SET search_path = mz_catalog")
        assert conn.execute("SELECT current_schema()").fetchone() == ("mz_catalog",)
        # an unqualified name resolves in the search path: mz_tables is mz_catalog's
        assert conn.execute("SELECT count(*) >= 0 FROM mz_tables").fetchone() == (True,)
        conn.execute("RESET search_path")
        assert conn.execute("SELECT current_schema()").fetchone() == ("public",)


def test_mz_databases_and_mz_schemas(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE mz_dbs_t (a int)")
    databases = shared_env.query("SELECT id, name FROM mz_catalog.mz_databases")
    assert [name for _, name in databases] == ["materialize"]
    (database_id,) = [i for i, _ in databases]
    schemas = shared_env.query("SELECT name, database_id FROM mz_catalog.mz_schemas")
    assert ("public", database_id) in schemas
    assert {("mz_catalog", None), ("mz_internal", None), ("pg_catalog", None)} <= set(schemas)
    # joinable like any relation: the schema of a table
    assert shared_env.query(
        "SELECT s.name FROM mz_catalog.mz_tables t JOIN mz_catalog.mz_schemas s ON s.name = t.schema "
        "WHERE t.name = 'mz_dbs_t'") == [("public",)]


def test_create_and_drop_schema(shared_env) -> None:  # type: ignore[no-untyped-def]
    with shared_env.connect() as conn:
        with pytest.raises(psycopg.errors.InvalidSchemaName, match='unknown schema "analytics"'):
            conn.execute("CREATE TABLE analytics.t (a int)")  # no silent new namespace
        conn.execute("CREATE SCHEMA analytics")
        with pytest.raises(psycopg.errors.DuplicateSchema):
            conn.execute("CREATE SCHEMA analytics")
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        conn.execute("CREATE TABLE analytics.t (a int)")
        conn.execute("INSERT INTO analytics.t VALUES (1), (2)")
        conn.execute("CREATE VIEW public.over_analytics AS SELECT sum(a) AS s FROM analytics.t")
        assert conn.execute("SELECT s FROM over_analytics").fetchone() == (3,)
        conn.execute("SET search_path = analytics")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
        conn.execute("RESET search_path")
        assert ("analytics",) in conn.execute("SELECT name FROM mz_catalog.mz_schemas").fetchall()
        assert ("analytics",) in conn.execute("SELECT nspname FROM pg_catalog.pg_namespace").fetchall()
        with pytest.raises(psycopg.errors.DependentObjectsStillExist):
            conn.execute("DROP SCHEMA analytics")
        conn.execute("DROP SCHEMA analytics CASCADE")  # its table, and the view elsewhere that reads it
        assert conn.execute("SELECT name FROM mz_catalog.mz_tables WHERE name = 't' AND schema = 'analytics'"
                            ).fetchall() == []
        assert conn.execute("SELECT name FROM mz_catalog.mz_views WHERE name = 'over_analytics'").fetchall() == []
        assert ("analytics",) not in conn.execute("SELECT name FROM mz_catalog.mz_schemas").fetchall()
        conn.execute("DROP SCHEMA IF EXISTS analytics")
        with pytest.raises(psycopg.errors.InvalidSchemaName):
            conn.execute("DROP SCHEMA analytics")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP SCHEMA public")


def test_a_schema_survives_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE SCHEMA kept", "CREATE SCHEMA empty_one", "CREATE TABLE kept.t (a int)",
                "INSERT INTO kept.t VALUES (7)")
    env.restart()
    assert env.query("SELECT a FROM kept.t") == [(7,)]
    names = {name for (name,) in env.query("SELECT name FROM mz_catalog.mz_schemas")}
    assert {"kept", "empty_one", "public"} <= names


@pytest.mark.parametrize("sql", ["SHOW cluster", "SHOW ALL", "SHOW OBJECTS FROM mz_catalog", "EXPLAIN SELECT 1",
                                 "SHOW CREATE CLUSTER quickstart", "SHOW COLUMNS FROM mz_catalog.mz_clusters"])
def test_prepared_show_and_explain_describe_their_columns(shared_env, sql: str) -> None:  # type: ignore[no-untyped-def]
    """psycopg prepares a statement run often (``prepare=True`` at once): its Describe must give the columns the
    rows come with, or the client refuses the rows (data without a row description)."""
    with shared_env.connect() as conn:
        simple = conn.execute(sql)
        expected = ([d.name for d in simple.description or []], simple.fetchall())
        for _ in range(3):
            prepared = conn.execute(sql, prepare=True)
            assert ([d.name for d in prepared.description or []], prepared.fetchall()) == expected
