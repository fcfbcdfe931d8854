"""Authorization and the HTTP API's authentication with real clients against a real ``steadystate serve``.

Every privilege refusal is seen by psycopg as 42501 naming the object and the privilege (Materialize's
``permission denied for TABLE "materialize.public.t"`` with the role and privilege in the detail), and the grant
that the hint names makes the same statement succeed.  The HTTP API answers liveness and readiness to anyone and
everything else only to a role with its password (HTTP Basic over the SQL roles).
"""

from __future__ import annotations

import urllib.error
import urllib.request

import psycopg
import pytest

from conftest import Environment

# (statement run by the plain role, words the refusal must name, what the superuser runs to allow it)
REFUSALS = [
    ("SELECT a FROM sp_t", ['TABLE "materialize.public.sp_t"', "SELECT"], "GRANT SELECT ON sp_t TO sam"),
    ("COPY sp_t FROM STDIN", ['TABLE "materialize.public.sp_t"', "INSERT"], None),
    ("INSERT INTO sp_t VALUES (2)", ['TABLE "materialize.public.sp_t"', "INSERT"], "GRANT INSERT ON sp_t TO sam"),
    ("UPDATE sp_t SET a = 3 WHERE a = 1", ['TABLE "materialize.public.sp_t"', "UPDATE"], "GRANT UPDATE ON TABLE sp_t TO sam"),
    ("DELETE FROM sp_t WHERE a = 3", ['TABLE "materialize.public.sp_t"', "DELETE"], "GRANT DELETE ON sp_t TO sam"),
    ("CREATE TABLE sp_mine (a int)", ['SCHEMA "materialize.public"', "CREATE"], "GRANT CREATE ON SCHEMA public TO sam"),
    ("CREATE SCHEMA sp_schema", ['DATABASE "materialize"', "CREATE"], "GRANT CREATE ON DATABASE materialize TO sam"),
    ("CREATE MATERIALIZED VIEW sp_mv IN CLUSTER sp_c AS SELECT a FROM sp_mine",
     ['CLUSTER "sp_c"', "CREATE"], "GRANT CREATE ON CLUSTER sp_c TO sam"),
    ("CREATE CLUSTER sp_own (SIZE '2xsmall', REPLICATION FACTOR 0)", ["SYSTEM", "CREATECLUSTER"],
     "ALTER ROLE sam CREATECLUSTER"),
    ("CREATE ROLE sp_other", ['"sp_other"', "CREATEROLE"], "ALTER ROLE sam CREATEROLE"),
    ("CREATE ROLE sp_boss SUPERUSER", ['"sp_boss"', "superuser"], None),
    ("ALTER ROLE materialize PASSWORD 'x'", ['"materialize"', "superuser"], None),
    ("SELECT count(*) FROM mz_catalog.mz_audit_events", ['"mz_catalog.mz_audit_events"', "SELECT"],
     "GRANT SELECT ON mz_catalog.mz_audit_events TO sam"),
    ("GRANT SELECT ON sp_t TO PUBLIC", ['must be owner of TABLE "materialize.public.sp_t"'], None),
    ("GRANT sp_readers TO sam", ["grant role", '"sp_readers"'], None),
    ("DROP TABLE sp_t", ['"sp_t"'], None),
    ("ALTER CLUSTER sp_c SEAL", ['"sp_c"'], None),
    ("ALTER CLUSTER sp_c OWNER TO sam", ['"sp_c"'], None),
]


def test_every_privilege_refusal_names_the_object_and_privilege(shared_env: Environment) -> None:
    env = shared_env
    env.execute("CREATE ROLE sam LOGIN PASSWORD 'sam-pw'", "CREATE ROLE sp_readers SUPERUSER",
                "CREATE TABLE sp_t (a int)", "INSERT INTO sp_t VALUES (1)",
                "CREATE CLUSTER sp_c (SIZE '2xsmall', REPLICATION FACTOR 0)")
    with psycopg.connect(env.dsn_as("sam", "sam-pw"), autocommit=True) as sam:
        for statement, named, allow in REFUSALS:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                if statement.startswith("COPY"):
                    with sam.cursor().copy(statement) as copy:
                        copy.write_row((5,))
                else:
                    sam.execute(statement)
            diag = info.value.diag
            said = f"{diag.message_primary} {diag.message_detail or ''}"
            assert info.value.sqlstate == "42501", statement
            for word in named:
                assert word in said, (statement, said)
            if allow is not None:
                env.execute(allow)
                sam.execute(statement)
        assert sam.execute("SELECT a FROM sp_t ORDER BY a").fetchall() == [(2,)]
        # a revoke takes effect on the session that holds it, at once
        env.execute("REVOKE SELECT ON sp_t FROM sam")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sam.execute("SELECT a FROM sp_t")
        assert sam.execute("SELECT has_table_privilege('sp_t', 'SELECT'), has_table_privilege('sp_t', 'INSERT')"
                           ).fetchone() == (False, True)
    shown = env.query("SHOW PRIVILEGES FOR sam")
    assert ("materialize", "sam", "materialize", "public", "sp_t", "table", "INSERT") in shown
    assert ("materialize", "sam", None, None, "sp_c", "cluster", "CREATE") in shown


def _status(request: urllib.request.Request | str) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_http_api_needs_a_role_and_its_password(shared_env: Environment) -> None:
    env = shared_env
    base = f"http://127.0.0.1:{env.http_port}"
    assert _status(f"{base}/api/livez") == 200
    assert _status(f"{base}/api/readyz") == 200
    for path in ("/api/readiness", "/api/clusters", "/metrics", "/api/no_such_route"):
        assert _status(f"{base}{path}") == 401, path
        assert _status(env.http_request(path, password="wrong")) == 401, path
        assert _status(env.http_request(path, user="nobody", password="x")) == 401, path
    assert _status(env.http_request("/api/readiness")) == 200
    assert _status(env.http_request("/api/no_such_route")) == 404  # authenticated first, then routed
    env.execute("CREATE ROLE hal LOGIN PASSWORD 'hal-pw'")
    assert _status(env.http_request("/metrics", user="hal", password="hal-pw")) == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base}/api/readiness", timeout=10)
    assert info.value.headers["WWW-Authenticate"].startswith("Basic")
