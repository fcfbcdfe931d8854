"""Fixtures for the storage tests: a store URL per backend (SQLite file, or a schema in a throwaway PostgreSQL).

The PostgreSQL server is started once per test session in a temp directory with ``initdb``/``pg_ctl``
(run as the ``postgres`` user when the tests run as root), listening on a free TCP port and a unix socket in
that directory; every test gets its own schema (``search_path`` in the URL) so tests do not see each other.
The PostgreSQL tests are skipped, with the reason, when the binaries are absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steadystate.testing import ports

PG_BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/bin"]


def _pg_binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


_SERVER: dict[str, str] = {}  # how to restart the session's PostgreSQL server (the restart_postgres fixture)


def _restart_postgres() -> None:
    subprocess.run(_as_postgres([_SERVER["pg_ctl"], "-D", _SERVER["data"], "-o", _SERVER["options"], "-l",
                                 _SERVER["log"], "-m", "fast", "-w", "restart"]), check=True, capture_output=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL server; yields an admin URL."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="steadystate-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = ports.free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    _SERVER.update(pg_ctl=pg_ctl, data=str(data), options=options, log=str(root / "log"))
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def _postgres_schema_url(admin_url: str) -> str:
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{admin_url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL for each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/storage.db"
    return _postgres_schema_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty store URL in the session's PostgreSQL server (a schema of its own)."""
    return _postgres_schema_url(postgres_server)


@pytest.fixture
def restart_postgres(postgres_server: str) -> Callable[[], None]:
    """Restart the session's PostgreSQL server (every connection to it is lost), waiting until it is back."""
    return _restart_postgres


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/storage.db"
