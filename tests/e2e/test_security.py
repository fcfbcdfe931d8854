"""Authentication, TLS and the data at rest, with real clients (psql, psycopg, Python's ``ssl``) against a real
``steadystate serve``: who may log in, how the first start hands out the superuser's password, what is stored,
and what the supervisor's proxy does with encryption."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import stat
import struct
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from conftest import PSQL, Environment

STARTUP = struct.pack("!i", 196608) + b"user\x00materialize\x00database\x00materialize\x00\x00"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def private_modes(data_dir: Path) -> list[str]:
    """Every file or directory under ``data_dir`` that another user could read (nothing, if all is well)."""
    exposed = []
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = Path(root) / name
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                exposed.append(f"{path}: {oct(stat.S_IMODE(path.stat().st_mode))}")
    return exposed


def all_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and not p.is_symlink())


def refused(dsn: str) -> str:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn, connect_timeout=20).close()
    return str(info.value)


def test_first_start_writes_the_superuser_password_privately(shared_env: Environment) -> None:
    env = shared_env
    assert stat.S_IMODE(env.passfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(env.data_dir.stat().st_mode) == 0o700
    assert private_modes(env.data_dir) == []
    password = env.passfile.read_text().strip().split(":")[-1]
    assert len(password) >= 24
    stored = all_bytes(env.data_dir)
    assert password.encode() not in stored.replace(env.passfile.read_bytes(), b"")  # not in catalog, log, storage
    with env.connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("materialize",)


def test_wrong_missing_or_unknown_credentials_are_refused(shared_env: Environment) -> None:
    env = shared_env
    base = f"host=127.0.0.1 port={env.sql_port} dbname=materialize"
    assert "password authentication failed" in refused(f"{base} user=materialize password=wrong")
    assert "password authentication failed" in refused(f"{base} user=nobody password=x")
    assert "no password supplied" in refused(f"{base} user=materialize passfile=/nonexistent")
    if PSQL is not None:
        result = subprocess.run([PSQL, "-X", "-w", "-h", "127.0.0.1", "-p", str(env.sql_port), "-U", "materialize",
                                 "materialize", "-c", "SELECT 1"], capture_output=True, text=True, timeout=30,
                                env={**os.environ, "PGPASSWORD": "wrong", "PGPASSFILE": "/nonexistent"})
        assert result.returncode != 0 and "password authentication failed" in result.stderr
        assert env.psql("SELECT 41 + 1 AS answer").stdout.split()[2] == "42"  # the documented flow works


def test_role_passwords_are_verifiers_and_can_change(shared_env: Environment) -> None:
    env = shared_env
    env.execute("CREATE ROLE ann LOGIN PASSWORD 'first-secret-of-ann'")
    with psycopg.connect(env.dsn_as("ann", "first-secret-of-ann"), autocommit=True) as ann:
        assert ann.execute("SELECT current_user").fetchone() == ("ann",)
        ann.execute("ALTER ROLE ann PASSWORD 'second-secret-of-ann'")  # a role may change its own password
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ann.execute("CREATE ROLE evil SUPERUSER")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ann.execute("ALTER ROLE materialize PASSWORD 'taken-over'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ann.execute("ALTER ROLE ann SUPERUSER")
    assert "password authentication failed" in refused(env.dsn_as("ann", "first-secret-of-ann"))
    with psycopg.connect(env.dsn_as("ann", "second-secret-of-ann")) as ann:
        assert ann.execute("SELECT 1").fetchone() == (1,)
    stored = all_bytes(env.data_dir)
    assert b"first-secret-of-ann" not in stored and b"second-secret-of-ann" not in stored
    assert b"SCRAM-SHA-256$4096:" in stored
    env.execute("ALTER ROLE ann PASSWORD NULL")
    assert "password authentication failed" in refused(env.dsn_as("ann", "second-secret-of-ann"))
    assert env.query("SELECT name FROM mz_catalog.mz_roles WHERE name = 'evil'") == []


def test_tls_verify_full_with_psql_psycopg_and_python_ssl(shared_env: Environment) -> None:
    env = shared_env
    root = env.data_dir / "tls" / "server.crt"
    verified = f"{env.dsn} sslmode=verify-full sslrootcert={root}"
    for host in ("localhost", "127.0.0.1"):
        with psycopg.connect(verified.replace("host=127.0.0.1", f"host={host}")) as conn:
            assert conn.pgconn.ssl_in_use and conn.execute("SELECT 1").fetchone() == (1,)
    # the certificate names loopback only: verify-full refuses it under another name
    assert "certificate" in refused(f"{verified} hostaddr=127.0.0.1".replace("host=127.0.0.1", "host=example.com"))
    if PSQL is not None:
        result = subprocess.run([PSQL, "-X", f"{verified}", "-c", "\\conninfo"], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0 and "SSL connection" in result.stdout, result.stderr
    # Python's ssl: SSLRequest, 'S', a verified handshake, then the startup is answered with a SASL request
    context = ssl.create_default_context(cafile=str(root))
    with socket.create_connection(("127.0.0.1", env.sql_port), timeout=20) as raw:
        raw.sendall(SSL_REQUEST)
        assert raw.recv(1) == b"S"
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(struct.pack("!i", len(STARTUP) + 4) + STARTUP)
            reply = tls.recv(1024)
    assert reply[:1] == b"R" and struct.unpack("!i", reply[5:9])[0] == 10 and b"SCRAM-SHA-256" in reply


def test_plaintext_sent_after_an_ssl_request_is_refused(shared_env: Environment) -> None:
    with socket.create_connection(("127.0.0.1", shared_env.sql_port), timeout=20) as raw:
        raw.sendall(SSL_REQUEST + struct.pack("!i", len(STARTUP) + 4) + STARTUP)  # injected before the handshake
        reply = b""
        while chunk := raw.recv(4096):
            reply += chunk
    assert reply[:1] == b"E" and b"08P01" in reply


def test_an_authenticated_session_survives_a_coordinator_kill(shared_env: Environment) -> None:
    env = shared_env
    env.execute("CREATE ROLE kay LOGIN PASSWORD 'kay-pw'")
    with psycopg.connect(env.dsn_as("kay", "kay-pw") + " sslmode=require", autocommit=True) as kay:
        assert kay.execute("SELECT current_user").fetchone() == ("kay",)
        old = env.coordinator_pid()
        os.kill(old, signal.SIGKILL)
        env.wait_coordinator_replaced(old)
        assert kay.execute("SELECT current_user").fetchone() == ("kay",)  # resumed, not re-authenticated
        assert kay.pgconn.ssl_in_use


def test_require_tls_refuses_plaintext(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("--require-tls")
    message = refused(f"{env.dsn} sslmode=disable")
    assert "encrypted connections only" in message
    with psycopg.connect(f"{env.dsn} sslmode=require") as conn:
        assert conn.pgconn.ssl_in_use


def test_insecure_mode_is_loopback_only(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "steadystate", "serve", "--insecure", "--host", "0.0.0.0",
                             "--data-dir", str(tmp_path / "data"), "--sql-port", "0", "--http-port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "loopback" in result.stderr


def test_insecure_mode_trusts_any_user_on_loopback(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("--insecure")
    with psycopg.connect(f"host=127.0.0.1 port={env.sql_port} user=anyone dbname=materialize") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("anyone",)
    assert not env.passfile.exists()


def test_max_connections_refuses_with_53300_and_frees_slots(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env("--max-connections", "3")
    held = [env.connect() for _ in range(3)]
    try:
        for mode in ("prefer", "disable"):  # the refusal answers an SSLRequest and a StartupMessage alike
            assert "too many clients" in refused(f"{env.dsn} sslmode={mode}")
        with socket.create_connection(("127.0.0.1", env.sql_port), timeout=20) as raw:
            raw.sendall(struct.pack("!i", len(STARTUP) + 4) + STARTUP)
            reply = raw.recv(4096)
        assert reply[:1] == b"E" and b"C53300\x00" in reply and b"SFATAL\x00" in reply
        assert [c.execute("SELECT 1").fetchone() for c in held] == [(1,)] * 3  # the others are unaffected
    finally:
        held.pop().close()
    env.wait_for(lambda: env.query("SELECT 2") == [(2,)])  # a slot freed: a new connection is served
    for conn in held:
        conn.close()


def test_only_owners_and_superusers_drop_or_alter(shared_env: Environment) -> None:
    env = shared_env
    env.execute("CREATE ROLE pat LOGIN PASSWORD 'pat-pw'", "CREATE TABLE boss_table (a int)",
                "CREATE CLUSTER boss_cluster REPLICAS (r1 (SIZE 'small'))")
    with psycopg.connect(env.dsn_as("pat", "pat-pw"), autocommit=True) as pat:
        for statement, named in (("DROP TABLE boss_table", '"boss_table"'),
                                 ("DROP CLUSTER boss_cluster CASCADE", '"boss_cluster"'),
                                 ("DROP CLUSTER REPLICA boss_cluster.r1", '"boss_cluster"'),
                                 ("CREATE CLUSTER REPLICA boss_cluster.r2 SIZE 'small'", '"boss_cluster"'),
                                 ("DROP ROLE materialize", '"materialize"'),
                                 ("CREATE ROLE evil SUPERUSER", '"evil"')):
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                pat.execute(statement)
            assert info.value.sqlstate == "42501" and named in info.value.diag.message_primary, statement
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pat.execute("CREATE TABLE pats (a int)")  # CREATE on the schema is needed (Materialize's default)
        env.execute("GRANT CREATE ON SCHEMA public TO pat")
        pat.execute("CREATE TABLE pats (a int)")
        pat.execute("CREATE VIEW pats_view AS SELECT a FROM pats")
        pat.execute("DROP TABLE pats CASCADE")  # its own objects
    assert env.query("SELECT name FROM mz_catalog.mz_tables WHERE name IN ('boss_table', 'pats')") == [
        ("boss_table",)]
    assert env.query("SELECT count(*) FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c "
                     "ON r.cluster_id = c.id WHERE c.name = 'boss_cluster'") == [(1,)]
    env.execute("DROP CLUSTER boss_cluster CASCADE", "DROP TABLE boss_table")  # a superuser may


def test_a_verifier_computed_by_the_client_is_accepted(shared_env: Environment) -> None:
    """What psql's \\password does: libpq hashes the password itself (asking the server's password_encryption)
    and sends ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...', so the password never reaches the server."""
    env = shared_env
    env.execute("CREATE ROLE lee LOGIN")
    assert "password authentication failed" in refused(env.dsn_as("lee", "anything"))  # no password yet
    with env.connect() as conn:
        verifier = conn.pgconn.encrypt_password(b"lee-client-side", b"lee").decode()
        assert verifier.startswith("SCRAM-SHA-256$")
        conn.execute(f"ALTER ROLE lee PASSWORD '{verifier}'")
    with psycopg.connect(env.dsn_as("lee", "lee-client-side")) as lee:
        assert lee.execute("SELECT current_user").fetchone() == ("lee",)
