"""Private files and directories: what only the server's own OS user may read.

The data directory is created (or tightened to) 0700 and every file the server writes into it is 0600: the
process umask is set to 077 at start (:func:`private_umask`), so SQLite's database, WAL and journal files, the
logs and the replicas' directories are private too.  Secrets (the superuser's password file, the TLS key, the
compute secret) are written with :func:`write_private`: created 0600 from the start, atomically replaced.

The superuser's password lives in ``<data-dir>/pgpass``, in libpq's password-file format
(``host:port:database:user:password``, ``*`` matching anything), so ``psql "... passfile=<data-dir>/pgpass"``
and psycopg connect with it without the password ever being printed or put on a command line.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PGPASS_FILE = "pgpass"
#: ``ALTER SYSTEM SET max_connections``: the coordinator writes the value here, the supervisor's proxy reads it
MAX_CONNECTIONS_FILE = "max_connections"
#: the supervisor's ``--max-connections`` (or its default), handed to the coordinator for ``SHOW max_connections``
MAX_CONNECTIONS_ENV = "STEADYSTATE_MAX_CONNECTIONS"
SUPERUSER = "materialize"
TLS_DIR = "tls"  # the generated self-signed certificate and key (see steadystate.security.tls)
CERT_FILE = "server.crt"
KEY_FILE = "server.key"


def private_umask() -> None:
    """From now on, files this process creates are readable by its user only."""
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing, and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def check_writable(path: Path) -> None:
    """Raise the OSError the server would meet later if it cannot create, write and remove a file in ``path``."""
    probe = path / f".write-probe-{secrets.token_hex(4)}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"probe")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(probe)


def tighten_tree(path: Path) -> None:
    """Make an existing data directory private: directories 0700, files 0600 (a data directory from a release
    that left them world-readable)."""
    for root, dirs, files in os.walk(path):
        for name in dirs:
            _chmod(Path(root) / name, 0o700)
        for name in files:
            _chmod(Path(root) / name, 0o600)
    _chmod(path, 0o700)


def _chmod(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink():
            os.chmod(path, mode)
    except OSError:
        pass


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, the file being 0600 from its creation."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _pgpass_fields(line: str) -> list[str]:
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":" and len(fields) < 4:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def read_pgpass(path: Path, user: str = SUPERUSER) -> str | None:
    """The password of ``user`` in a libpq password file (the first line naming it), or None."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _pgpass_fields(line)
        if len(fields) == 5 and fields[3] in (user, "*") and fields[4]:
            return fields[4]
    return None


def superuser_password(data_dir: Path) -> str:
    """The superuser's password from ``<data-dir>/pgpass``; generated there (0600) if the file has none."""
    path = data_dir / PGPASS_FILE
    password = read_pgpass(path)
    if password is None:
        password = secrets.token_urlsafe(24)
        write_private(path, f"*:*:*:{SUPERUSER}:{password}\n")
    return password
