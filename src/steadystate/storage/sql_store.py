"""Shard semantics on a SQL database, shared by the SQLite and PostgreSQL backends.

Schema (one database holds every shard):

* ``shards(name, since_ts, upper_ts)``: the frontiers.  A dropped shard keeps its row with both ``NULL``
  (a tombstone); a closed shard has ``upper_ts NULL`` and a ``since_ts``.
* ``batches(id, shard, lower_ts, upper_ts, max_time, n_updates, data)``: one row per non-empty append, the
  updates encoded as one blob (:func:`steadystate.repr.codec.encode_updates`, or Arrow for a large insert-only
  batch: ``repr.columnar``); an append of more than ``MAX_BATCH_UPDATES`` updates is several rows, so a
  snapshot of a loaded table can be read (``snapshot_reader``) a batch at a time.  ``max_time`` is the
  greatest update time in the blob, so ``listen`` can skip old batches through the ``(shard, max_time)``
  index.  Compaction replaces the batches wholly below ``since`` with one consolidated batch whose times
  were advanced to ``since``.
* ``timestamps(timeline, ts)``: durable timestamps (the timestamp oracle), never moving backwards.

Every write runs in one transaction that first locks the shard rows it changes (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL) and re-reads the upper, so ``compare_and_append`` is a
true compare-and-set across processes.  A backend supplies a :class:`Dialect` and a connection; SQL here
is written with ``?`` placeholders and translated for the dialect once.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Iterator, Protocol


from steadystate.errors import DataCorrupted, StorageError, UpperMismatch, quote_ident
from steadystate.repr import Row
from steadystate.repr.checksum import seal, unseal_view
from steadystate.repr.codec import Update, decode_updates, encode_updates
from steadystate.repr.columnar import encode_columnar
from steadystate.storage.api import (
    Append,
    ColumnarSnapshot,
    ShardDropped,
    ShardNotFound,
    ShardStore,
    SnapshotUnavailable,
    TimestampRecord,
    advance_times,
    validate_append,
)
from steadystate.storage.snapshot_reader import SnapshotReader, StoredBatch


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: tuple[Any, ...] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL databases we store shards in."""

    placeholder: str  # "?" or "%s"
    int_type: str
    blob_type: str
    id_column: str  # an auto-incrementing primary key declaration
    begin_read: str
    begin_write: str
    lock_suffix: str  # appended to the SELECT that reads a shard's upper before writing it
    schema_lock: str = ""  # run first when creating the schema, so concurrent openers do not collide

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


def schema_statements(dialect: Dialect) -> list[str]:
    i, b = dialect.int_type, dialect.blob_type
    return ([dialect.schema_lock] if dialect.schema_lock else []) + [
        f"CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, since_ts {i}, upper_ts {i})",
        f"CREATE TABLE IF NOT EXISTS batches ({dialect.id_column}, shard TEXT NOT NULL, lower_ts {i} NOT NULL, "
        f"upper_ts {i}, max_time {i} NOT NULL, n_updates {i} NOT NULL, data {b} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS batches_by_shard_time ON batches (shard, max_time)",
        f"CREATE TABLE IF NOT EXISTS timestamps (timeline TEXT PRIMARY KEY, ts {i} NOT NULL)",
    ]


_SELECT_FRONTIERS = "SELECT since_ts, upper_ts FROM shards WHERE name = ?"
_INSERT_SHARD = "INSERT INTO shards (name, since_ts, upper_ts) VALUES (?, 0, 0) ON CONFLICT (name) DO NOTHING"
_INSERT_BATCH = (
    "INSERT INTO batches (shard, lower_ts, upper_ts, max_time, n_updates, data) VALUES (?, ?, ?, ?, ?, ?)"
)
_SET_UPPER = "UPDATE shards SET upper_ts = ? WHERE name = ?"
_SET_SINCE = "UPDATE shards SET since_ts = ? WHERE name = ?"
_DROP_SHARD = "UPDATE shards SET since_ts = NULL, upper_ts = NULL WHERE name = ?"
_DELETE_BATCHES = "DELETE FROM batches WHERE shard = ?"
# Batch reads have no ORDER BY: sorting rows that carry blobs copies every blob through a temporary b-tree
# (SQLite: 24 MB of a loaded table took 20-65 ms instead of 8), so the rows are put in id order here.
_BATCHES_FROM = "SELECT id, data FROM batches WHERE shard = ? AND max_time >= ?"
_BATCHES_UP_TO = "SELECT id, data, max_time, n_updates FROM batches WHERE shard = ? AND lower_ts <= ?"
_SMALL_BATCHES_BELOW = (
    "SELECT id, lower_ts, upper_ts, max_time, data FROM batches "
    "WHERE shard = ? AND upper_ts IS NOT NULL AND upper_ts <= ? AND n_updates < ?"
)
_DELETE_BATCH = "DELETE FROM batches WHERE id = ?"
_BATCH_STATS = "SELECT count(*), coalesce(sum(n_updates), 0) FROM batches WHERE shard = ?"
_SELECT_TIMESTAMP = "SELECT ts FROM timestamps WHERE timeline = ?"
_UPSERT_TIMESTAMP = (
    "INSERT INTO timestamps (timeline, ts) VALUES (?, ?) ON CONFLICT (timeline) DO UPDATE "
    "SET ts = CASE WHEN excluded.ts > timestamps.ts THEN excluded.ts ELSE timestamps.ts END"
)

MAX_BATCH_UPDATES = 262_144  # updates per stored batch: a larger append (a load) is stored as several
MERGE_BELOW_UPDATES = 65_536  # larger batches (loads, earlier merges that grew) are never rewritten
MERGE_AT_MOST = 512  # batches merged by one compaction: bounds its work (it runs again when since moves)


class _AlreadyMerged(Exception):
    """A batch a compaction meant to merge is gone: it must write nothing."""


def _in_id_order(cursor: Cursor) -> list[tuple]:
    """The cursor's rows (whose first column is the batch id) sorted by id: the order batches were appended in."""
    return sorted(cursor.fetchall(), key=itemgetter(0))


class SqlShardStore(ShardStore):
    """:class:`ShardStore` over a SQL connection; subclasses open the connection and name the dialect."""

    max_batch_updates = MAX_BATCH_UPDATES  # an append of more updates is stored as several batches

    dialect: Dialect
    database_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._closed = False
        # One connection per store: serialize its use in case callers hop threads (asyncio.to_thread); stores that
        # share one connection (``sqlite_store.MemoryShardStore``) share its lock too.
        self._lock = lock if lock is not None else threading.RLock()
        with self._transaction(write=True) as cur:
            for statement in schema_statements(self.dialect):
                self._run(cur, statement)

    # -- backend hooks ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def _cursor(self) -> Cursor:
        """A cursor on the store's connection, in autocommit mode (transactions are explicit)."""

    @abc.abstractmethod
    def _close_connection(self) -> None: ...

    # -- transactions ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Cursor]:
        """Run the body in one transaction; roll back on any exception, translate database failures."""
        with self._lock:
            if self._closed:
                raise StorageError("shard store is closed")
            try:
                cur = self._cursor()
                try:
                    cur.execute(self.dialect.begin_write if write else self.dialect.begin_read)
                except self.database_errors:
                    # a transaction left open by a failure whose ROLLBACK failed too (an I/O error, a full disk)
                    # would fail every later BEGIN until a restart: roll it back and begin again, once
                    cur.execute("ROLLBACK")
                    cur.execute(self.dialect.begin_write if write else self.dialect.begin_read)
            except self.database_errors as exc:
                raise StorageError(f"could not begin a storage transaction: {exc}") from exc
            try:
                yield cur
            except BaseException:
                with contextlib.suppress(*self.database_errors):
                    cur.execute("ROLLBACK")
                raise
            try:
                cur.execute("COMMIT")
            except self.database_errors as exc:
                with contextlib.suppress(*self.database_errors):
                    cur.execute("ROLLBACK")
                raise StorageError(f"could not commit a storage transaction: {exc}") from exc

    def _run(self, cur: Cursor, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        try:
            cur.execute(self.dialect.sql(sql), params)
        except self.database_errors as exc:
            raise StorageError(f"storage statement failed: {exc}") from exc
        return cur

    def _frontiers(self, cur: Cursor, shard: str, *, lock: bool = False) -> tuple[int | None, int | None]:
        """``(since, upper)`` of a shard; raises :class:`ShardNotFound` if it was never created."""
        sql = _SELECT_FRONTIERS + (self.dialect.lock_suffix if lock else "")
        row = self._run(cur, sql, (shard,)).fetchone()
        if row is None:
            raise ShardNotFound(shard)
        return row[0], row[1]

    def _autocommit_frontiers(self, shard: str) -> tuple[int | None, int | None]:
        with self._lock:
            if self._closed:
                raise StorageError("shard store is closed")
            return self._frontiers(self._cursor(), shard)

    # -- shard lifecycle -------------------------------------------------------------------------------

    def create_shard(self, shard: str) -> None:
        with self._transaction(write=True) as cur:
            self._run(cur, _INSERT_SHARD, (shard,))
            since, _upper = self._frontiers(cur, shard)
            if since is None:
                raise ShardDropped(shard)

    def drop_shard(self, shard: str) -> None:
        with self._transaction(write=True) as cur:
            self._frontiers(cur, shard, lock=True)
            self._run(cur, _DROP_SHARD, (shard,))
            self._run(cur, _DELETE_BATCHES, (shard,))

    def shard_exists(self, shard: str) -> bool:
        try:
            since, _upper = self._autocommit_frontiers(shard)
        except ShardNotFound:
            return False
        return since is not None

    def frontiers(self, shard: str) -> tuple[int | None, int | None]:
        return self._autocommit_frontiers(shard)

    def upper(self, shard: str) -> int | None:
        return self._autocommit_frontiers(shard)[1]

    def uppers(self, shards: list[str]) -> dict[str, int | None]:
        if not shards:
            return {}
        marks = ", ".join("?" for _ in shards)
        with self._lock:
            if self._closed:
                raise StorageError("shard store is closed")
            rows = self._run(
                self._cursor(), f"SELECT name, upper_ts FROM shards WHERE name IN ({marks})", tuple(shards)
            ).fetchall()
        found = {name: upper for name, upper in rows}
        for shard in shards:
            if shard not in found:
                raise ShardNotFound(shard)
        return {shard: found[shard] for shard in shards}

    def since(self, shard: str) -> int | None:
        return self._autocommit_frontiers(shard)[0]

    # -- writes ----------------------------------------------------------------------------------------

    def compare_and_append(
        self, shard: str, updates: list[Update], expected_upper: int, new_upper: int | None
    ) -> None:
        self.compare_and_append_many([(shard, updates, expected_upper, new_upper)])

    def compare_and_append_many(
        self, appends: list[Append], *, timestamp: TimestampRecord | None = None
    ) -> None:
        shards = [append[0] for append in appends]
        if len(set(shards)) != len(shards):
            raise ValueError("compare_and_append_many got the same shard more than once")
        encoded: dict[str, list[tuple[bytes, int, int]]] = {}
        for shard, updates, expected_upper, new_upper in appends:
            validate_append(shard, updates, expected_upper, new_upper)
            if updates:
                encoded[shard] = self._encode_batches(updates)
        with self._transaction(write=True) as cur:
            # Lock in name order so two multi-shard writers cannot deadlock on PostgreSQL.
            for shard, updates, expected_upper, new_upper in sorted(appends, key=lambda a: a[0]):
                _since, actual = self._frontiers(cur, shard, lock=True)
                if actual != expected_upper:
                    raise UpperMismatch(expected_upper, actual)
                for data, max_time, n_updates in encoded.get(shard, ()):
                    self._run(cur, _INSERT_BATCH, (shard, expected_upper, new_upper, max_time, n_updates, data))
                self._run(cur, _SET_UPPER, (new_upper, shard))
            if timestamp is not None:
                self._run(cur, _UPSERT_TIMESTAMP, (timestamp.timeline, timestamp.ts))

    def _encode_batches(self, updates: list[Update]) -> list[tuple[bytes, int, int]]:
        """``(blob, max_time, n_updates)`` of the stored batches one append's updates become: one, or, past
        ``max_batch_updates``, one per that many updates (a large load), so a replica hydrating from it reads it,
        and reports its progress, a batch at a time."""
        size = self.max_batch_updates
        out = []
        for start in range(0, len(updates), size):
            chunk = updates if len(updates) <= size else updates[start:start + size]
            out.append((seal(encode_columnar(chunk) or encode_updates(chunk)), max(u[1] for u in chunk), len(chunk)))
        return out

    # -- reads -----------------------------------------------------------------------------------------

    def snapshot(self, shard: str, as_of: int) -> list[tuple[Row, int]]:
        return list(self.snapshot_counts(shard, as_of).items())

    def snapshot_reader(self, shard: str, as_of: int, columnar: bool = False) -> SnapshotReader:
        """Every batch a snapshot at ``as_of`` reads, fetched in one transaction (checking that it can be read)."""
        with self._transaction(write=False) as cur:
            since, upper = self._frontiers(cur, shard)
            if since is None:
                raise ShardDropped(shard)
            if as_of < since or (upper is not None and as_of >= upper):
                raise SnapshotUnavailable(shard, as_of, since, upper)
            rows = _in_id_order(self._run(cur, _BATCHES_UP_TO, (shard, as_of)))
        # each fetched row let go as its batch is opened (a checksummed blob's payload is a copy): the snapshot is
        # held once, not twice, at a hydration's peak
        batches = []
        rows.reverse()
        while rows:
            batch_id, blob, max_time, n = rows.pop()
            batches.append(StoredBatch(_opened(shard, batch_id, blob), max_time, n))
            del blob
        return SnapshotReader(batches, as_of, columnar, shard=shard)

    def snapshot_counts(self, shard: str, as_of: int) -> dict[Row, int]:
        # a batch entirely at or before as_of (the usual case) is taken whole, without a test per update; a
        # columnar one as bare rows
        reader = self.snapshot_reader(shard, as_of)
        reader.read()
        return reader.counts()

    def snapshot_columns(self, shard: str, as_of: int) -> ColumnarSnapshot | None:
        """Columnar batches at or before ``as_of`` as Arrow tables, the others' updates as ``rest``
        (:class:`ColumnarSnapshot`); ``None`` when no batch in the snapshot is columnar.

        A loaded table followed by writes is one large columnar batch and many small msgpack ones: the load is
        taken as columns and only the writes as rows."""
        reader = self.snapshot_reader(shard, as_of, columnar=True)
        if not reader.columnar:
            return None
        reader.read()
        return reader.columns()

    def listen(self, shard: str, after: int) -> tuple[list[Update], int | None]:
        since, upper = self._autocommit_frontiers(shard)
        if since is None:
            return [], None
        if upper is not None and upper <= after:
            return [], upper  # the common case of a poll: nothing new, one indexed lookup
        with self._transaction(write=False) as cur:
            since, upper = self._frontiers(cur, shard)
            if since is None:
                return [], None
            blobs = _in_id_order(self._run(cur, _BATCHES_FROM, (shard, after)))
        updates = [
            u
            for batch_id, blob in blobs
            for u in _decoded(shard, batch_id, _opened(shard, batch_id, blob))
            if u[1] >= after and (upper is None or u[1] < upper)
        ]
        return updates, upper

    def batch_stats(self, shard: str) -> tuple[int, int]:
        with self._transaction(write=False) as cur:
            batches, updates = self._run(cur, _BATCH_STATS, (shard,)).fetchone()
        return int(batches), int(updates)

    # -- compaction ------------------------------------------------------------------------------------

    def compact(self, shard: str, since: int) -> None:
        self.advance_sinces({shard: since})
        self.merge_below_since(shard)

    def advance_sinces(self, sinces: dict[str, int]) -> None:
        """Advance several shards' ``since`` (never regressing; dropped shards are left alone) in one short write."""
        with self._transaction(write=True) as cur:
            for shard, since in sinces.items():
                current, _upper = self._frontiers(cur, shard, lock=True)
                if current is not None and since > current:
                    self._run(cur, _SET_SINCE, (since, shard))

    def merge_below_since(self, shard: str) -> None:
        """Merge small batches wholly below ``since``, bounded and geometric, so that it never holds the write
        lock for long nor rewrites a load: only batches of fewer than ``MERGE_BELOW_UPDATES`` updates, at most
        ``MERGE_AT_MOST`` at a time and only when there are at least two.  They are read and re-encoded outside any
        write transaction; the write that swaps them for the merged batch locks the shard first (the order every
        writer takes) and checks that each still exists (a concurrent merge or drop got there first: nothing is
        written)."""
        with self._transaction(write=False) as cur:
            since, _upper = self._frontiers(cur, shard)
            if since is None:
                return
            rows = _in_id_order(self._run(cur, _SMALL_BATCHES_BELOW, (shard, since, MERGE_BELOW_UPDATES)))
        rows = rows[:MERGE_AT_MOST]
        if len(rows) < 2:
            return
        merged = advance_times((u for row in rows for u in _decoded(shard, row[0], _opened(shard, row[0], row[4]))),
                               since)
        data = seal(encode_updates(merged)) if merged else b""
        try:
            with self._transaction(write=True) as cur:
                current, _upper = self._frontiers(cur, shard, lock=True)
                if current is None:
                    raise _AlreadyMerged()  # dropped meanwhile
                for row in rows:
                    if self._run(cur, _DELETE_BATCH, (row[0],)).rowcount != 1:
                        raise _AlreadyMerged()
                if merged:
                    lower = min(row[1] for row in rows)
                    upper = max(row[2] for row in rows)
                    self._run(cur, _INSERT_BATCH, (shard, lower, upper, since, len(merged), data))
        except _AlreadyMerged:
            return  # rolled back: another merge, or a drop, of this shard came first

    # -- durable timestamps ----------------------------------------------------------------------------

    def load_timestamp(self, timeline: str) -> int | None:
        with self._transaction(write=False) as cur:
            row = self._run(cur, _SELECT_TIMESTAMP, (timeline,)).fetchone()
        return None if row is None else row[0]

    def store_timestamp(self, record: TimestampRecord) -> None:
        with self._transaction(write=True) as cur:
            self._run(cur, _UPSERT_TIMESTAMP, (record.timeline, record.ts))

    # -- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close_connection()


def _opened(shard: str, batch_id: int, blob: bytes) -> bytes | memoryview:
    """A stored batch's bytes, its checksum verified (``repr/checksum.py``; XX001 naming the shard): a view of the
    fetched bytes, not a copy."""
    what = f"batch {batch_id} of shard {quote_ident(shard)}"
    return unseal_view(blob if isinstance(blob, bytes) else bytes(blob), what)


def _decoded(shard: str, batch_id: int, blob: bytes | memoryview) -> list[Update]:
    """A batch's updates; bytes that do not decode (a batch stored before checksums, then damaged) are XX001."""
    try:
        return decode_updates(blob)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the stored bytes are damaged
        raise DataCorrupted(f"batch {batch_id} of shard {quote_ident(shard)} is corrupted: {exc}") from exc

