"""End-to-end fixtures: a real ``steadystate serve`` process with real replica processes.

``Environment`` starts the server as an OS process on free ports in a temporary data directory, waits for
``/api/readyz``, and offers real clients: psycopg connections and the ``psql`` binary.  It can stop the
server gracefully (with its replica processes, or leaving them running for the next server to adopt),
``kill -9`` it, restart its coordinator in place (``steadystate restart``), start it again on the same data
directory, and find or kill replica processes.  Nothing here is a mock: every test talks to the same processes
a user would run.

Clients authenticate as the README says a user does: as ``materialize`` with the password the first start wrote
to ``<data-dir>/pgpass``, which libpq reads itself (``passfile=`` in the DSN, ``PGPASSFILE`` for psql).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import secrets
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import psutil
import psycopg
import pytest

from steadystate.supervisor import STATE_FILE
from steadystate.testing import ports

PSQL = shutil.which("psql")


def raw_login(sock: socket.socket, password: str, user: str = "materialize", database: str = "materialize",
              expect_error: bool = False) -> bytes:
    """Log in on a raw socket as a client would (StartupMessage, then SCRAM-SHA-256 written out here, RFC 5802);
    returns the bytes the server sent after its last SASL message, up to and including ReadyForQuery — or, with
    ``expect_error``, up to and including the ErrorResponse that ends the login."""
    body = struct.pack("!i", 196608) + f"user\x00{user}\x00database\x00{database}\x00".encode() + b"\x00"
    sock.sendall(struct.pack("!i", len(body) + 4) + body)

    def message() -> tuple[bytes, bytes]:
        head = _recv_exactly(sock, 5)
        return head[:1], _recv_exactly(sock, struct.unpack("!i", head[1:])[0] - 4)

    kind, payload = message()
    assert kind == b"R" and struct.unpack("!i", payload[:4])[0] == 10, (kind, payload)
    first_bare = f"n=,r={base64.b64encode(secrets.token_bytes(18)).decode()}"
    first = ("n,," + first_bare).encode()
    initial = b"SCRAM-SHA-256\x00" + struct.pack("!i", len(first)) + first
    sock.sendall(b"p" + struct.pack("!i", len(initial) + 4) + initial)
    kind, payload = message()
    server_first = payload[4:].decode()
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
    final = f"{without_proof},p={proof}".encode()
    sock.sendall(b"p" + struct.pack("!i", len(final) + 4) + final)
    received = b""
    while True:
        kind, payload = message()
        received += kind + struct.pack("!i", len(payload) + 4) + payload
        if kind == b"E" and expect_error:
            return received
        assert kind != b"E", payload
        if kind == b"Z":
            return received


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def free_port() -> int:
    """A free port outside the kernel's ephemeral range, where replica processes of other tests bind theirs."""
    return ports.free_port()


class PortTaken(RuntimeError):
    """``serve`` exited because one of its ports was already in use."""


class Environment:
    def __init__(self, data_dir: Path, serve_flags: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.serve_flags = tuple(serve_flags)  # extra ``serve`` flags, e.g. ("--orphan-timeout", "3")
        self.sql_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60.0) -> None:
        """Start ``serve`` and wait until it is ready.  The first start retries on fresh ports if a port picked by
        ``free_port`` was taken meanwhile (another process may bind it between the pick and ``serve``'s bind)."""
        for attempt in range(3):
            try:
                self._start(timeout)
                self.started = True
                return
            except PortTaken:
                if self.started or attempt == 2:
                    raise
                self.sql_port, self.http_port = free_port(), free_port()

    def _start(self, timeout: float) -> None:
        with open(self.data_dir.parent / f"{self.data_dir.name}-server.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "steadystate", "serve", "--data-dir", str(self.data_dir),
                 "--sql-port", str(self.sql_port), "--http-port", str(self.http_port), *self.serve_flags],
                stdout=log, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                lines = Path(log.name).read_text(errors="replace").splitlines()
                if lines and "Address already in use" in lines[-1]:
                    raise PortTaken(f"serve could not bind {self.sql_port}/{self.http_port}")
                raise RuntimeError(f"server exited with {self.process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/readyz", timeout=1) as r:
                    if r.status == 200 and self._serving_pid() == self.process.pid:
                        return
            except (OSError, http.client.HTTPException):  # not listening yet, or the port is someone else's
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def _serving_pid(self) -> int | None:
        """The pid of the ``serve`` that wrote this data directory's state file: a ready answer on the port counts
        only when it is this environment's process (another test's server could hold the port meanwhile)."""
        try:
            return int(json.loads((self.data_dir / STATE_FILE).read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stop(self, *, keep_replicas: bool = False) -> None:
        """Stop ``serve`` gracefully: with its replica processes (SIGUSR1, what ``steadystate stop`` sends), or
        with ``keep_replicas`` leaving them running for the next ``serve`` to adopt (SIGTERM, as Ctrl-C)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if keep_replicas else signal.SIGUSR1)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def restart(self, *, hard: bool = False) -> None:
        """Stop and start ``serve``: gracefully (SIGTERM, the replicas are left running and adopted), or ``kill -9``."""
        if hard:
            self.kill9()
        else:
            self.stop(keep_replicas=True)
        self.start()

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``steadystate <args> --data-dir <this data dir>`` (e.g. ``restart``, ``stop``) to completion."""
        return subprocess.run([sys.executable, "-m", "steadystate", *args, "--data-dir", str(self.data_dir)],
                              check=False, capture_output=True, text=True, timeout=timeout)

    # ------------------------------------------------------------------ the coordinator under the supervisor

    def coordinator_pid(self) -> int:
        """The pid of the coordinator process the supervisor (``serve``) currently runs."""
        assert self.process is not None
        children = psutil.Process(self.process.pid).children()
        (child,) = [c for c in children if "coordinator" in c.cmdline() and c.status() != psutil.STATUS_ZOMBIE]
        return child.pid

    def wait_coordinator_replaced(self, old_pid: int, timeout: float = 60.0) -> int:
        """Wait until a coordinator other than ``old_pid`` answers ``/api/readyz``; returns its pid."""
        def replaced() -> int | None:
            pid = self.coordinator_pid()
            if pid == old_pid:
                return None
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/readyz", timeout=1) as r:
                return pid if r.status == 200 else None
        return self.wait_for(replaced, timeout)

    # ------------------------------------------------------------------ clients

    @property
    def passfile(self) -> Path:
        """The superuser's password file, written by the first start (0600)."""
        return self.data_dir / "pgpass"

    @property
    def password(self) -> str:
        """The superuser's password (what libpq reads from the password file)."""
        return self.passfile.read_text().strip().split(":", 4)[4]

    def http_request(self, path: str, user: str = "materialize", password: str | None = None) -> "urllib.request.Request":
        """A request for ``path`` on the HTTP port with HTTP Basic credentials (the superuser's by default): every
        route but liveness and readiness needs them."""
        token = base64.b64encode(f"{user}:{self.password if password is None else password}".encode()).decode()
        return urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}",
                                      headers={"Authorization": f"Basic {token}"})

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.sql_port} user=materialize dbname=materialize passfile={self.passfile}"

    def connect(self, **kwargs: object) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.dsn, **kwargs)  # type: ignore[arg-type]

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, *statements: str) -> None:
        with self.connect() as conn:
            for statement in statements:
                conn.execute(statement)

    def psql(self, *commands: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert PSQL is not None, "psql is not installed"
        args = [PSQL, "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.sql_port),
                "-U", "materialize", "materialize"]
        for command in commands:
            args += ["-c", command]
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=check,
                              env={**os.environ, "PGPASSFILE": str(self.passfile)})

    # ------------------------------------------------------------------ replicas

    def replica_pids(self) -> dict[str, int]:
        """Replica id -> pid of every live replica process of this environment."""
        out: dict[str, int] = {}
        for process in psutil.process_iter(["pid", "cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "replica" in cmdline and "--dir" in cmdline:
                directory = cmdline[cmdline.index("--dir") + 1]
                if directory.startswith(str(self.data_dir)) and process.status() != psutil.STATUS_ZOMBIE:
                    out[cmdline[cmdline.index("--replica-id") + 1]] = process.info["pid"]
        return out

    def replica_processes(self) -> list[tuple[str, int]]:
        """(replica id, pid) of every live replica process of this environment, duplicates kept.

        ``replica_pids`` collapses two processes of one replica into one entry; this list does not, so a
        test can assert "exactly one process per replica" (no orphans, no duplicates).
        """
        out: list[tuple[str, int]] = []
        for process in psutil.process_iter(["pid", "cmdline"]):
            try:
                cmdline = process.info["cmdline"] or []
                if "replica" in cmdline and "--dir" in cmdline and "--replica-id" in cmdline:
                    directory = cmdline[cmdline.index("--dir") + 1]
                    if directory.startswith(str(self.data_dir)) and process.status() != psutil.STATUS_ZOMBIE:
                        out.append((cmdline[cmdline.index("--replica-id") + 1], process.info["pid"]))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return sorted(out)

    @property
    def log_path(self) -> Path:
        """The server's own log file inside the data directory."""
        return self.data_dir / "steadystate.log"

    def replica_log(self, replica_id: str) -> str:
        """The text of a replica's log file (empty if it does not exist yet)."""
        path = self.data_dir / "replicas" / replica_id / "replica.log"
        return path.read_text() if path.exists() else ""

    def reap_replicas(self) -> None:
        """SIGKILL every replica process of this environment (teardown: replicas outlive a killed coordinator)."""
        for _, pid in self.replica_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill_replica(self, replica_id: str) -> int:
        pid = self.replica_pids()[replica_id]
        os.kill(pid, signal.SIGKILL)
        return pid

    # ------------------------------------------------------------------ clusters (readiness tests)

    def dsn_as(self, user: str, password: str) -> str:
        """The DSN for connecting as another role, with its password."""
        return f"host=127.0.0.1 port={self.sql_port} user={user} password={password} dbname=materialize"

    def cluster_id(self, name: str) -> str:
        (cluster_id,), = self.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = %s", (name,))
        return cluster_id

    def cluster_replicas(self, name: str) -> dict[str, str]:
        """Replica name -> replica id of a cluster, from the catalog."""
        rows = self.query("SELECT r.name, r.id FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c "
                          "ON r.cluster_id = c.id WHERE c.name = %s", (name,))
        return dict(rows)

    def replica_readiness(self, name: str) -> dict[str, tuple]:
        """Replica id -> (clean, steady_since, dirtied_at, dirtied_by, error) for a cluster's replicas."""
        ids = set(self.cluster_replicas(name).values())
        rows = self.query("SELECT replica_id, clean, steady_since, dirtied_at, dirtied_by, error "
                          "FROM mz_internal.mz_cluster_replica_readiness")
        return {r[0]: tuple(r[1:]) for r in rows if r[0] in ids}

    def wait_all_clean(self, name: str, timeout: float = 30.0) -> dict[str, tuple]:
        """Wait until every replica of a cluster reports steady and clean; returns ``replica_readiness``."""
        def all_clean() -> dict[str, tuple] | None:
            ids = set(self.cluster_replicas(name).values())
            readiness = self.replica_readiness(name)
            ok = ids and set(readiness) == ids and all(r[0] for r in readiness.values())
            return readiness if ok else None
        return self.wait_for(all_clean, timeout)

    def wait_for(self, predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                result = predicate()
                if result:
                    return result
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                last_error = exc
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last error: {last_error!r})")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Environment]:
    """A fresh environment per test (for tests that restart or kill things)."""
    environment = Environment(tmp_path / "data")
    environment.start()
    try:
        yield environment
    finally:
        environment.stop()
        environment.reap_replicas()


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator:
    """A factory of fresh environments with extra serve flags: ``make_env("--orphan-timeout", "3")``.

    Each environment is started; all are stopped (and their replica processes reaped) at teardown.
    """
    made: list[Environment] = []

    def factory(*serve_flags: str) -> Environment:
        environment = Environment(tmp_path / f"data{len(made)}", serve_flags)
        made.append(environment)
        environment.start()
        return environment

    try:
        yield factory
    finally:
        for environment in made:
            environment.stop()
            environment.reap_replicas()


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """One environment for a whole test module (for tests that only run statements)."""
    environment = Environment(tmp_path_factory.mktemp("shared") / "data")
    environment.start()
    try:
        yield environment
    finally:
        environment.stop()
        environment.reap_replicas()
