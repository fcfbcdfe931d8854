"""The shard store interface: what every storage backend offers, and the rules they all enforce.

A **shard** is a durable, time-varying collection of ``(row, time, diff)`` updates with two frontiers:

* ``since``: reads at times before it are no longer distinguishable (history was compacted);
* ``upper``: the least time that may still be written; ``None`` once the shard is closed forever.

A dropped shard keeps a tombstone (``since`` and ``upper`` both ``None``) so that a late writer — a replica
still running a dataflow for a dropped materialized view — can never resurrect it: its
``compare_and_append`` fails with :class:`~steadystate.errors.UpperMismatch` (actual ``None``).

This module owns the abstract :class:`ShardStore`, the storage-specific errors, and the pure helpers the
backends share (argument validation, consolidation, time advancement).  Backends live in
``sqlite_store.py`` / ``postgres_store.py`` on top of ``sql_store.py``; :func:`open_store` in
``storage/__init__.py`` picks one by URL.
"""

from __future__ import annotations

import abc
from collections import Counter
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Iterable

from steadystate.errors import ObjectNotInPrerequisiteState, UndefinedObject, quote_ident
from steadystate.repr import Row
from steadystate.repr.codec import Update

if TYPE_CHECKING:
    from steadystate.storage.snapshot_reader import SnapshotReader

Append = tuple[str, list[Update], int, "int | None"]
"""One ``compare_and_append`` request: ``(shard, updates, expected_upper, new_upper)``."""


@dataclass(frozen=True)
class TimestampRecord:
    """A durable named timestamp (the timestamp oracle's high-water mark) written inside an append transaction."""

    timeline: str
    ts: int


@dataclass(frozen=True)
class ColumnarSnapshot:
    """A snapshot as a reader that only sums over rows can take it: ``tables`` hold insert-only rows (each one
    occurrence, diff +1) as Arrow tables with columns ``c0 … cN``, and ``rest`` the updates of every other batch
    at or before the snapshot's time, consolidated among themselves only — a count may be negative where a row of
    the tables was deleted later.  The rows of the tables plus ``rest`` are the snapshot: exactly, for any fold
    that is linear in the diffs (counts and sums), but not row by row."""

    tables: list[Any]
    rest: dict[Row, int]


class ShardNotFound(UndefinedObject):
    """The shard was never created."""

    def __init__(self, shard: str) -> None:
        super().__init__(
            f"shard {quote_ident(shard)} does not exist",
            hint="create the shard before reading or writing it",
        )
        self.shard = shard


class ShardDropped(ObjectNotInPrerequisiteState):
    """The shard was dropped; its data is gone and it can neither be read nor recreated."""

    def __init__(self, shard: str) -> None:
        super().__init__(f"shard {quote_ident(shard)} was dropped")
        self.shard = shard


class SnapshotUnavailable(ObjectNotInPrerequisiteState):
    """A snapshot was requested outside ``[since, upper)``."""

    def __init__(self, shard: str, as_of: int, since: int, upper: int | None) -> None:
        if as_of < since:
            message = f"timestamp {as_of} is before the since frontier {since} of shard {quote_ident(shard)}"
            hint = "compacted history cannot be read; read at or after the since frontier"
        else:
            message = f"timestamp {as_of} is not yet complete in shard {quote_ident(shard)} (upper {upper})"
            hint = "wait until the upper of the shard passes the timestamp"
        super().__init__(message, hint=hint)
        self.shard = shard
        self.as_of = as_of
        self.since = since
        self.upper = upper


def validate_append(shard: str, updates: list[Update], expected_upper: int, new_upper: int | None) -> None:
    """Check the caller's side of a ``compare_and_append`` (the stored upper is checked by the backend).

    Raises ``ValueError`` for a frontier that does not advance or an update outside
    ``[expected_upper, new_upper)``.
    """
    if not isinstance(expected_upper, int):
        raise ValueError(f"expected upper of shard {quote_ident(shard)} must be a time, got {expected_upper!r}")
    if new_upper is not None and new_upper <= expected_upper:
        raise ValueError(
            f"new upper {new_upper} of shard {quote_ident(shard)} must be greater than the expected upper "
            f"{expected_upper}"
        )
    for update in updates:
        time = update[1]
        if time < expected_upper or (new_upper is not None and time >= new_upper):
            raise ValueError(
                f"update time {time} is outside [{expected_upper}, {new_upper}) for shard {quote_ident(shard)}"
            )


def count_batch_into(totals: Counter[Row], batch: list[Update]) -> bool:
    """Add one decoded batch's diffs to ``totals``; True if it had a diff other than +1 (so zeros may remain).

    A batch whose diffs are all +1 (what loads and inserts write) is counted by ``Counter.update`` in C, without
    a Python step per update; other batches are summed row by row."""
    if not batch:
        return False
    if set(map(itemgetter(2), batch)) == {1}:
        totals.update(map(itemgetter(0), batch))
        return False
    for row, _time, diff in batch:
        totals[row] += diff
    return True


def consolidate_batches(batches: Iterable[list[Update]], inserted: Iterable[Iterable[Row]] = ()) -> dict[Row, int]:
    """Consolidate several decoded batches into ``{row: diff}`` (zeros dropped); ``inserted`` adds batches given as
    bare rows, each occurrence +1 (columnar batches, which need no ``(row, time, diff)`` tuple per row).
    Used for snapshots of large shards (:func:`count_batch_into` per batch).
    """
    totals: Counter[Row] = Counter()
    for rows in inserted:
        totals.update(rows)
    negative = False
    for batch in batches:
        negative = count_batch_into(totals, batch) or negative
    if not negative:
        return totals
    return {row: diff for row, diff in totals.items() if diff != 0}


def consolidate(updates: Iterable[Update]) -> dict[Row, int]:
    """Sum the diffs per row, dropping rows whose diffs cancel out.

    Insert-only batches (every diff +1, the common case for loaded tables) are counted by ``Counter`` in C."""
    updates = list(updates)
    if all(diff == 1 for _row, _time, diff in updates):
        return dict(Counter(map(itemgetter(0), updates)))
    totals: dict[Row, int] = {}
    for row, _time, diff in updates:
        totals[row] = totals.get(row, 0) + diff
    return {row: diff for row, diff in totals.items() if diff != 0}


def consolidate_timed(updates: Iterable[Update]) -> list[Update]:
    """Sum the diffs per ``(row, time)``, dropping zero sums; keeps first-seen order."""
    totals: dict[tuple[Row, int], int] = {}
    for row, time, diff in updates:
        key = (row, time)
        totals[key] = totals.get(key, 0) + diff
    return [(row, time, diff) for (row, time), diff in totals.items() if diff != 0]


def advance_times(updates: Iterable[Update], since: int) -> list[Update]:
    """Move every update at a time before ``since`` to ``since`` (compaction), then consolidate."""
    return consolidate_timed((row, time if time >= since else since, diff) for row, time, diff in updates)


class ShardStore(abc.ABC):
    """Durable shards, shared by several OS processes at once.  All calls are synchronous and quick."""

    @abc.abstractmethod
    def create_shard(self, shard: str) -> None:
        """Create the shard with ``since = upper = 0``; a no-op if it exists.  Raises :class:`ShardDropped`."""

    @abc.abstractmethod
    def drop_shard(self, shard: str) -> None:
        """Delete the shard's data and close it: ``since`` and ``upper`` become ``None``.  Idempotent."""

    @abc.abstractmethod
    def shard_exists(self, shard: str) -> bool:
        """Whether the shard was created and not dropped."""

    @abc.abstractmethod
    def frontiers(self, shard: str) -> tuple[int | None, int | None]:
        """``(since, upper)`` read together (one query).  Raises :class:`ShardNotFound`."""

    @abc.abstractmethod
    def upper(self, shard: str) -> int | None:
        """The least time that may still be written (``None``: closed or dropped).  Raises :class:`ShardNotFound`."""

    @abc.abstractmethod
    def uppers(self, shards: list[str]) -> dict[str, int | None]:
        """The uppers of several shards in one query (a replica polling its imports).  Raises :class:`ShardNotFound`."""

    @abc.abstractmethod
    def since(self, shard: str) -> int | None:
        """The least time that may still be read exactly (``None``: dropped).  Raises :class:`ShardNotFound`."""

    @abc.abstractmethod
    def compare_and_append(
        self, shard: str, updates: list[Update], expected_upper: int, new_upper: int | None
    ) -> None:
        """Atomically append ``updates`` and move the upper from ``expected_upper`` to ``new_upper``.

        Raises :class:`~steadystate.errors.UpperMismatch` when the stored upper differs, ``ValueError`` when
        an update lies outside ``[expected_upper, new_upper)`` or the upper would not advance.
        """

    @abc.abstractmethod
    def compare_and_append_many(
        self, appends: list[Append], *, timestamp: TimestampRecord | None = None
    ) -> None:
        """Several appends (distinct shards) in one all-or-nothing transaction.

        ``timestamp``, when given, is stored durably in the same transaction (the oracle's group commit).
        """

    @abc.abstractmethod
    def snapshot(self, shard: str, as_of: int) -> list[tuple[Row, int]]:
        """The consolidated contents at ``as_of``: ``(row, diff)`` with ``diff != 0`` for updates at ``<= as_of``.

        Requires ``since <= as_of < upper``; raises :class:`SnapshotUnavailable` otherwise.
        """

    def snapshot_counts(self, shard: str, as_of: int) -> dict[Row, int]:
        """:meth:`snapshot` as a mapping ``{row: diff}`` (what a dataflow's snapshot input takes as is)."""
        return dict(self.snapshot(shard, as_of))

    def snapshot_columns(self, shard: str, as_of: int) -> ColumnarSnapshot | None:
        """The snapshot at ``as_of`` split into Arrow tables and the rest (see :class:`ColumnarSnapshot`), when the
        store holds some of it as columns; else ``None`` (read :meth:`snapshot_counts`)."""
        return None

    @abc.abstractmethod
    def snapshot_reader(self, shard: str, as_of: int, columnar: bool = False) -> "SnapshotReader":
        """The snapshot at ``as_of``, its batches fetched now and decoded as the caller reads them (a replica
        hydrating across ticks: ``storage.snapshot_reader``); ``columnar`` asks for columnar batches as Arrow
        tables (:meth:`snapshot_columns`).  Raises like :meth:`snapshot`."""

    @abc.abstractmethod
    def listen(self, shard: str, after: int) -> tuple[list[Update], int | None]:
        """Updates with ``after <= time < upper`` and that upper.  Cheap when nothing is new.

        Exact for ``after > since`` (a reader that took ``snapshot(as_of)`` continues with
        ``listen(as_of + 1)``); below that, compacted updates appear at the since time.  A dropped shard
        gives ``([], None)``.
        """

    @abc.abstractmethod
    def batch_stats(self, shard: str) -> tuple[int, int]:
        """``(batches, updates)`` stored for the shard (what a snapshot reads; compaction keeps it small)."""

    @abc.abstractmethod
    def compact(self, shard: str, since: int) -> None:
        """Advance ``since`` (never regressing) and merge small batches wholly below it (their updates advanced to
        ``since`` and consolidated): a shard's batches then grow with its live data, not with its history.
        :meth:`advance_sinces` then :meth:`merge_below_since`."""

    @abc.abstractmethod
    def advance_sinces(self, sinces: dict[str, int]) -> None:
        """Advance the ``since`` of several shards together (never regressing), without merging anything."""

    @abc.abstractmethod
    def merge_below_since(self, shard: str) -> None:
        """Merge small batches wholly below the shard's ``since`` (readers see no difference above it)."""

    @abc.abstractmethod
    def load_timestamp(self, timeline: str) -> int | None:
        """The durable timestamp of a timeline (see :class:`TimestampRecord`), or ``None`` if never stored."""

    @abc.abstractmethod
    def store_timestamp(self, record: TimestampRecord) -> None:
        """Durably store a timeline's timestamp (on its own, outside an append)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection.  The store must not be used afterwards."""

    def __enter__(self) -> "ShardStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
