"""The SQLite shard store (the default backend): one database file in the data directory.

Opened with ``sqlite:///abs/path/storage.db`` (optionally ``?synchronous=normal|full&busy_timeout_ms=N``);
``sqlite:///:memory:`` is a private in-memory database (tests).  ``memory://NAME`` is an in-memory database
shared by every store opened with the same name in this process (:class:`MemoryShardStore`): the coordinator, its
compactor and in-process replicas (``testing.inprocess``) each open their own store, as they would over a file,
and all see the same shards; it lives until :func:`drop_memory_database`, so a coordinator restarted in a test finds
the shards its predecessor wrote.
The database runs in WAL mode so readers (replica processes polling ``listen``) never block the writer,
with a busy timeout so concurrent writers in other processes queue instead of failing.  Writes start with
``BEGIN IMMEDIATE``, taking the write lock before reading the upper, which makes compare-and-append atomic
across processes.  ``synchronous=FULL`` (the default) fsyncs the WAL on every commit, so an acknowledged
append survives both ``kill -9`` of the writer and a power loss; ``normal`` survives ``kill -9`` only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from steadystate.errors import InvalidParameterValue
from steadystate.storage.sql_store import Cursor, Dialect, SqlShardStore

SQLITE_DIALECT = Dialect(
    placeholder="?",
    int_type="INTEGER",
    blob_type="BLOB",
    id_column="id INTEGER PRIMARY KEY AUTOINCREMENT",
    begin_read="BEGIN",
    begin_write="BEGIN IMMEDIATE",
    lock_suffix="",
)

_SYNCHRONOUS_MODES = {"normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}


class SqliteShardStore(SqlShardStore):
    """Shards in one SQLite database file, shared by every process that opens it."""

    dialect = SQLITE_DIALECT
    database_errors = (sqlite3.Error,)

    def __init__(self, path: str, *, synchronous: str = "full", busy_timeout_ms: int = 30_000) -> None:
        mode = _SYNCHRONOUS_MODES.get(synchronous.lower())
        if mode is None:
            raise InvalidParameterValue(
                f"invalid synchronous mode {synchronous!r} for sqlite storage",
                hint="use one of: " + ", ".join(_SYNCHRONOUS_MODES),
            )
        directory = os.path.dirname(path)
        if directory and path != ":memory:":
            os.makedirs(directory, exist_ok=True)
        self.path = path
        self._connection = sqlite3.connect(
            path, isolation_level=None, timeout=busy_timeout_ms / 1000, check_same_thread=False
        )
        self._connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute(f"PRAGMA synchronous = {mode}")
        super().__init__()

    @classmethod
    def from_url(cls, url: str) -> "SqliteShardStore":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidParameterValue(
                f"invalid sqlite storage url {url!r}", hint="use sqlite:///absolute/path/to/storage.db"
            )
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(options) - {"synchronous", "busy_timeout_ms"}
        if unknown:
            raise InvalidParameterValue(
                f"unknown sqlite storage option {sorted(unknown)[0]!r}",
                hint="supported options: synchronous, busy_timeout_ms",
            )
        path = ":memory:" if parts.path == "/:memory:" else parts.path  # a private in-memory database
        return cls(
            path,
            synchronous=options.get("synchronous", "full"),
            busy_timeout_ms=int(options.get("busy_timeout_ms", "30000")),
        )

    def _cursor(self) -> Cursor:
        return self._connection.cursor()

    def _close_connection(self) -> None:
        self._connection.close()


@dataclass
class _MemoryDatabase:
    connection: sqlite3.Connection
    lock: threading.RLock = field(default_factory=threading.RLock)


_MEMORY_DATABASES: dict[str, _MemoryDatabase] = {}
_MEMORY_DATABASES_LOCK = threading.Lock()


class MemoryShardStore(SqliteShardStore):
    """A store on the process-wide in-memory database named ``name`` (``memory://name``).

    Every store of one name shares one connection and one lock, so their transactions are serialized exactly as
    SQLite serializes writers of one file; closing a store detaches it and leaves the database to the others."""

    def __init__(self, name: str) -> None:  # noqa: D107 - does not call SqliteShardStore.__init__: no file
        with _MEMORY_DATABASES_LOCK:
            database = _MEMORY_DATABASES.get(name)
            if database is None:
                connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                database = _MEMORY_DATABASES[name] = _MemoryDatabase(connection)
        self.path = ":memory:"
        self.name = name
        self._connection = database.connection
        SqlShardStore.__init__(self, lock=database.lock)

    @classmethod
    def from_url(cls, url: str) -> "MemoryShardStore":
        name = url.split("://", 1)[1]
        if not name or "/" in name:
            raise InvalidParameterValue(f"invalid memory storage url {url!r}", hint="use memory://NAME")
        return cls(name)

    def _close_connection(self) -> None:
        pass  # the database outlives this store; drop_memory_database frees it


def drop_memory_database(name: str) -> None:
    """Free the in-memory database ``memory://name`` (stores still open on it fail from now on)."""
    with _MEMORY_DATABASES_LOCK:
        database = _MEMORY_DATABASES.pop(name, None)
    if database is not None:
        with database.lock:
            database.connection.close()
