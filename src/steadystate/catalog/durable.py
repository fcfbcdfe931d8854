"""The durable catalog: records, id counters, audit events and replica status history in SQLite.

The coordinator is the only writer.  A DDL statement is one SQLite transaction (:meth:`DurableCatalog.transact`)
that upserts and deletes records and appends audit events, so a crash leaves either all of a statement's
changes or none.  Records are msgpack-encoded msgspec Structs keyed by ``(kind, id)``; each carries its
schema version and is stored with a checksum (``repr/checksum.py``) verified when the catalog is loaded.  The file lives in the data directory (``catalog.db``), in WAL mode with ``synchronous=FULL``:
a DDL acknowledged to a client survives ``kill -9``.

The coordinator depends only on :class:`CatalogStore` (what ``CatalogState`` and the sequencers call), made by the
``catalog_factory`` of its config.  :class:`DurableCatalog` is the file; ``DurableCatalog(":memory:")`` is the same
code over an in-memory SQLite database, and :class:`MemoryCatalog` is one that outlives ``close`` so that a
coordinator restarted inside a test (``steadystate.testing``) reopens the catalog its predecessor wrote.  Both keep
the same transactions, so a statement that fails leaves either store unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from typing import Any, ContextManager, Iterator, Protocol

import msgspec

from steadystate.catalog.records import RECORD_TYPES, AuditEvent, StatusEvent
from steadystate.errors import DataCorrupted, StorageError, quote_ident
from steadystate.repr.checksum import seal, unseal

log = logging.getLogger("steadystate.catalog")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL, value BLOB NOT NULL,
                                    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, event_type TEXT, object_type TEXT, details TEXT,
                                  user TEXT, occurred_at INTEGER);
CREATE TABLE IF NOT EXISTS status_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, replica_id TEXT, process_id INTEGER,
                                           status TEXT, reason TEXT, occurred_at INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_encoder = msgspec.msgpack.Encoder()
_decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {
    kind: msgspec.msgpack.Decoder(cls) for kind, cls in RECORD_TYPES.items()
}


def _kind_of(record: msgspec.Struct) -> str:
    for kind, cls in RECORD_TYPES.items():
        if isinstance(record, cls):
            return kind
    raise TypeError(f"not a catalog record: {record!r}")


class CatalogTxn:
    """Changes of one DDL statement, applied atomically on exit of :meth:`DurableCatalog.transact`."""

    def __init__(self, conn: sqlite3.Connection, user: str) -> None:
        self._conn = conn
        self._user = user
        self.audit: list[AuditEvent] = []

    def put(self, record: msgspec.Struct) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO records (kind, id, value) VALUES (?, ?, ?)",
            (_kind_of(record), record.id, seal(_encoder.encode(record))),  # type: ignore[attr-defined]
        )

    def delete(self, kind: str, record_id: str) -> None:
        self._conn.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def next_id(self, counter: str) -> int:
        row = self._conn.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
        value = (row[0] if row else 0) + 1
        self._conn.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (counter, value))
        return value

    def audit_event(self, event_type: str, object_type: str, details: str) -> None:
        now = int(time.time() * 1000)
        cursor = self._conn.execute(
            "INSERT INTO audit (event_type, object_type, details, user, occurred_at) VALUES (?, ?, ?, ?, ?)",
            (event_type, object_type, details, self._user, now),
        )
        self.audit.append(AuditEvent(cursor.lastrowid or 0, event_type, object_type, details, self._user, now))
        log.info("DDL by %s: %s %s %s", self._user, event_type, object_type, details)

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


class CatalogStore(Protocol):
    """The durable catalog as the coordinator uses it: load everything, change it in atomic transactions, append
    status history, read the audit log."""

    def load(self) -> dict[str, list[msgspec.Struct]]: ...

    def transact(self, user: str) -> ContextManager[CatalogTxn]: ...

    def get_meta(self, key: str) -> str | None: ...

    def audit_events(self) -> list[AuditEvent]: ...

    def record_status(self, event: StatusEvent) -> None: ...

    def status_history(self, limit: int = 10_000) -> list[StatusEvent]: ...

    def close(self) -> None: ...


class DurableCatalog:
    """The catalog in a SQLite file (``catalog.db``), or in memory for ``path=":memory:"``."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open catalog {path}: {exc}") from exc

    def load(self) -> dict[str, list[msgspec.Struct]]:
        out: dict[str, list[msgspec.Struct]] = {kind: [] for kind in RECORD_TYPES}
        for kind, record_id, value in self._conn.execute("SELECT kind, id, value FROM records ORDER BY rowid"):
            what = f"catalog record {quote_ident(kind + ' ' + record_id)}"
            payload = unseal(bytes(value), what)  # XX001 if its checksum does not match (repr/checksum.py)
            try:
                out[kind].append(_decoders[kind].decode(payload))
            except msgspec.DecodeError as exc:
                raise DataCorrupted(f"{what} is corrupted: {exc}") from exc
        return out

    @contextlib.contextmanager
    def transact(self, user: str) -> Iterator[CatalogTxn]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            txn = CatalogTxn(self._conn, user)
            try:
                yield txn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def audit_events(self) -> list[AuditEvent]:
        rows = self._conn.execute(
            "SELECT id, event_type, object_type, details, user, occurred_at FROM audit ORDER BY id"
        ).fetchall()
        return [AuditEvent(*row) for row in rows]

    def record_status(self, event: StatusEvent) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO status_history (replica_id, process_id, status, reason, occurred_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (event.replica_id, event.process_id, event.status, event.reason, event.occurred_at_ms),
            )

    def status_history(self, limit: int = 10_000) -> list[StatusEvent]:
        rows = self._conn.execute(
            "SELECT replica_id, process_id, status, reason, occurred_at FROM status_history"
            " ORDER BY seq DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [StatusEvent(*row) for row in reversed(rows)]

    def close(self) -> None:
        self._conn.close()


class MemoryCatalog(DurableCatalog):
    """An in-memory catalog that survives ``close``: each coordinator of a test environment closes it on shutdown,
    and the next one (a restart) loads what it holds.  :meth:`dispose` frees it."""

    def __init__(self) -> None:
        super().__init__(":memory:")

    def close(self) -> None:
        pass  # the test environment owns it; a coordinator restart reopens it

    def dispose(self) -> None:
        super().close()
