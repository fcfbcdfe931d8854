"""Faults injected at the operating system's level into a real ``steadystate serve``: nothing here is a test hook.

* **A storage write I/O error**: the coordinator's ``RLIMIT_FSIZE`` is lowered while it runs (``prlimit(2)``
  through psutil), so every write that extends a file fails in the kernel with EFBIG, as on a full disk. Writes
  fail with an error; once the limit is raised again they succeed without a restart of the coordinator; every
  acknowledged row is there and no refused row is.
* **An unwritable data directory** (owned by another user, the server run without the capabilities that let root
  ignore file modes): ``serve`` exits at once with a clear message and the configuration exit code, no crash loop.
* **Out of file descriptors** (EMFILE): the supervisor's ``RLIMIT_NOFILE`` is lowered to what it has open, so it
  cannot accept more; a new client gets a clear error or a closed connection (never a hang), a session already
  open keeps working, and once descriptors are available again new clients are served.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg

from steadystate.supervisor import EXIT_CONFIG

PR_CAPBSET_DROP = 24
#: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root write, read and chmod files it does not own
_FILE_MODE_CAPABILITIES = (1, 2, 3)


def _obey_file_modes() -> None:  # pragma: no cover - runs in the child before exec
    """Drop the capabilities that let root ignore file modes (from the bounding set, so the exec'd program has
    them neither), so the test's chmod/chown are a real fault whether or not the tests run as root."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _FILE_MODE_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_an_unwritable_data_directory_exits_with_a_clear_message(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chown(data_dir, 65534, 65534) if os.geteuid() == 0 else None  # another user's directory (nobody)
    data_dir.chmod(0o755 if os.geteuid() == 0 else 0o555)
    result = subprocess.run([sys.executable, "-m", "steadystate", "serve", "--data-dir", str(data_dir),
                             "--sql-port", "0", "--http-port", "0"],
                            capture_output=True, text=True, timeout=120, preexec_fn=_obey_file_modes)
    assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
    assert "cannot use the data directory" in result.stderr and str(data_dir) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not any(data_dir.iterdir())  # nothing was started in it


def test_an_unwritable_data_directory_parent(tmp_path: Path) -> None:
    """The data directory does not exist and cannot be created."""
    parent = tmp_path / "locked"
    parent.mkdir()
    os.chown(parent, 65534, 65534) if os.geteuid() == 0 else None
    parent.chmod(0o755 if os.geteuid() == 0 else 0o555)
    result = subprocess.run([sys.executable, "-m", "steadystate", "serve", "--data-dir", str(parent / "data"),
                             "--sql-port", "0", "--http-port", "0"],
                            capture_output=True, text=True, timeout=120, preexec_fn=_obey_file_modes)
    assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
    assert "cannot use the data directory" in result.stderr and "Traceback" not in result.stderr


def _set_soft_limit(pid: int, which: int, soft: int) -> None:
    process = psutil.Process(pid)
    _, hard = process.rlimit(which)
    process.rlimit(which, (soft, hard))


def test_a_storage_write_error_is_an_error_and_then_writes_recover_without_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE fi_t (a int)", "INSERT INTO fi_t VALUES (1), (2)")
    coordinator = env.coordinator_pid()
    acknowledged = {1, 2}
    refused: set[int] = set()
    with env.connect() as conn:
        conn.autocommit = True
        _set_soft_limit(coordinator, resource.RLIMIT_FSIZE, 1)  # every write past the first byte: EFBIG
        try:
            for value in range(10, 14):
                try:
                    conn.execute("INSERT INTO fi_t VALUES (%s)", (value,))
                    acknowledged.add(value)
                except psycopg.Error as exc:
                    assert exc.sqlstate is not None and exc.sqlstate[:2] in ("58", "53", "XX"), exc
                    assert "File too large" in str(exc) or "disk" in str(exc).lower() or "I/O" in str(exc), exc
                    refused.add(value)
        finally:
            _set_soft_limit(coordinator, resource.RLIMIT_FSIZE, resource.RLIM_INFINITY)
        assert refused, "no write failed while every file write failed"
        # the same session, the same coordinator: writes work again
        for value in range(20, 23):
            conn.execute("INSERT INTO fi_t VALUES (%s)", (value,))
            acknowledged.add(value)
        assert {a for (a,) in conn.execute("SELECT a FROM fi_t").fetchall()} == acknowledged
    assert env.coordinator_pid() == coordinator  # recovered without a restart
    # durable: a restart reads back exactly the acknowledged rows
    env.restart(hard=True)
    assert {a for (a,) in env.query("SELECT a FROM fi_t")} == acknowledged


def _connect_error(dsn: str) -> str:
    """The error a new client gets, or "" if it got in (connect_timeout only guards the test against a hang)."""
    try:
        with psycopg.connect(dsn, connect_timeout=30, sslmode="disable") as conn:
            conn.execute("SELECT 1")
            return ""
    except psycopg.OperationalError as exc:
        return str(exc)


def test_out_of_file_descriptors_refuses_new_clients_and_recovers(env) -> None:  # type: ignore[no-untyped-def]
    assert env.process is not None
    supervisor = psutil.Process(env.process.pid)
    with env.connect() as existing:
        existing.autocommit = True
        existing.execute("CREATE TABLE fd_t (a int)")
        _set_soft_limit(supervisor.pid, resource.RLIMIT_NOFILE, supervisor.num_fds())  # not one more descriptor
        try:
            errors = [_connect_error(env.dsn) for _ in range(3)]
            for error in errors:
                assert error, "a client got in with no descriptor left"
                assert "timeout expired" not in error, error  # refused, not left hanging
                assert "out of file descriptors" in error, error
            existing.execute("INSERT INTO fd_t VALUES (1)")  # an open session keeps working
            assert existing.execute("SELECT a FROM fd_t").fetchall() == [(1,)]
        finally:
            _set_soft_limit(supervisor.pid, resource.RLIMIT_NOFILE, resource.RLIM_INFINITY
                            if supervisor.rlimit(resource.RLIMIT_NOFILE)[1] == resource.RLIM_INFINITY
                            else supervisor.rlimit(resource.RLIMIT_NOFILE)[1])
    assert _connect_error(env.dsn) == ""  # descriptors are free again: served, without a restart
    assert env.query("SELECT a FROM fd_t") == [(1,)]


def test_a_coordinator_out_of_file_descriptors_refuses_new_sessions_and_recovers(env) -> None:  # type: ignore[no-untyped-def]
    """The same behind the proxy: the coordinator cannot accept the proxy's connection for a new session."""
    coordinator = psutil.Process(env.coordinator_pid())
    _, hard = coordinator.rlimit(resource.RLIMIT_NOFILE)
    with env.connect() as existing:
        existing.autocommit = True
        existing.execute("CREATE TABLE fdc_t (a int)")
        _set_soft_limit(coordinator.pid, resource.RLIMIT_NOFILE, coordinator.num_fds())
        try:
            error = _connect_error(env.dsn)
            assert error and "timeout expired" not in error, error
            assert "out of file descriptors" in error, error
            # the open session keeps being served (what needs no new descriptor: the coordinator's own storage
            # opens files, so a write may fail or time out meanwhile)
            assert existing.execute("SELECT name FROM mz_catalog.mz_tables WHERE name = 'fdc_t'").fetchall() \
                == [("fdc_t",)]
        finally:
            _set_soft_limit(coordinator.pid, resource.RLIMIT_NOFILE, hard)
        existing.execute("INSERT INTO fdc_t VALUES (1)")
        assert existing.execute("SELECT a FROM fdc_t").fetchall() == [(1,)]
    assert _connect_error(env.dsn) == ""
    assert env.coordinator_pid() == coordinator.pid  # recovered without a restart


def test_alter_system_set_max_connections_takes_effect_in_the_supervisor_without_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    coordinator = env.coordinator_pid()
    with env.connect() as admin:
        admin.autocommit = True
        admin.execute("ALTER SYSTEM SET max_connections = 2")
        assert admin.execute("SHOW max_connections").fetchone() == ("2",)
        with env.connect() as second:
            second.execute("SELECT 1")
            error = _connect_error(env.dsn)  # the third
            assert "too many clients" in error, error
        admin.execute("ALTER SYSTEM RESET max_connections")
        with env.connect() as second, env.connect() as third:
            assert third.execute("SELECT 1").fetchone() == (1,) and second.execute("SELECT 1").fetchone() == (1,)
        default = admin.execute("SHOW max_connections").fetchone()
        assert default is not None and int(default[0]) > 2
        admin.execute("ALTER SYSTEM SET max_connections = 1")
    assert env.coordinator_pid() == coordinator
    env.restart()  # durable: the next supervisor and coordinator keep it
    with env.connect() as only:
        assert only.execute("SHOW max_connections").fetchone() == ("1",)
        assert "too many clients" in _connect_error(env.dsn)
        only.execute("ALTER SYSTEM RESET ALL")
