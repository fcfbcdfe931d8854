"""A shard's snapshot read one stored batch at a time, so a replica can hydrate across several ticks.

:meth:`ShardStore.snapshot_reader` fetches the blobs of every batch a snapshot at ``as_of`` reads in one
transaction (so the snapshot is consistent: compaction replacing batches later changes nothing already fetched),
and hands them to a :class:`SnapshotReader`, which decodes and counts them when asked: :meth:`SnapshotReader.read`
takes batches until it has taken at least a given number of updates (always at least one batch, never part of
one), and reports how many it took, of how many (each batch's ``n_updates``, what ``batch_stats`` sums).  A
replica hydrating a dataflow reads a budget of updates per tick and reports ``updates_read`` to the controller
(``mz_hydration_statuses.rows_done``); when the reader is ``done`` it takes the result:

* :meth:`~SnapshotReader.counts`: the consolidated snapshot ``{row: diff}`` (``ShardStore.snapshot_counts``);
* :meth:`~SnapshotReader.columns`: for a reader made with ``columnar=True`` whose snapshot holds an insert-only
  columnar batch (``repr.columnar``): those batches as Arrow tables and the other batches' updates as the rest
  (``ShardStore.snapshot_columns``, :class:`~steadystate.storage.api.ColumnarSnapshot`).

Batches are counted into the result as they are decoded (``count_batch_into``: ``Counter.update`` in C for the
usual all-insert batch), so reading in steps costs no more than reading at once.  ``snapshot_counts`` and
``snapshot_columns`` of the SQL stores are this reader read to the end: one implementation.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec

from steadystate.errors import DataCorrupted, quote_ident
from steadystate.repr import Row
from steadystate.repr.codec import decode_updates
from steadystate.repr.columnar import columnar_rows, decode_columnar, is_columnar
from steadystate.storage.api import ColumnarSnapshot, count_batch_into


@dataclass(frozen=True)
class StoredBatch:
    """One stored batch a snapshot reads: its encoded updates, greatest time, and number of updates."""

    blob: bytes | memoryview  # a view into the fetched bytes (``repr.checksum.unseal_view``)
    max_time: int
    updates: int


class SnapshotReader:
    """The snapshot of one shard at ``as_of``, decoded batch by batch (see the module docstring)."""

    def __init__(self, batches: list[StoredBatch], as_of: int, columnar: bool = False, shard: str = "") -> None:
        self.as_of = as_of
        self.shard = shard  # named by the error when a batch's bytes do not decode
        self._batches = batches
        self._next = 0
        # columns only where the snapshot has a columnar batch entirely at or before as_of (else rows, as before)
        self.columnar = columnar and any(is_columnar(b.blob) and b.max_time <= as_of for b in batches)
        self.updates_total = sum(b.updates for b in batches)
        self.updates_read = 0
        self._totals: Counter[Row] = Counter()
        self._negative = False
        self._tables: list[Any] = []

    @property
    def done(self) -> bool:
        return self._next >= len(self._batches)

    @property
    def batches_total(self) -> int:
        return len(self._batches)

    @property
    def batches_read(self) -> int:
        return self._next

    def read(self, max_updates: int | None = None) -> int:
        """Decode batches until at least ``max_updates`` updates were taken (``None``: all of them), at least one
        batch if any is left; returns the updates taken.  Bytes that do not decode (a batch stored before
        checksums, then damaged: a sealed one fails its checksum when fetched) are XX001 naming the shard."""
        try:
            return self._read(max_updates)
        except (msgspec.DecodeError, ValueError, struct.error) as exc:
            raise DataCorrupted(f"a batch of shard {quote_ident(self.shard)} is corrupted: {exc}") from exc

    def _read(self, max_updates: int | None) -> int:
        taken = 0
        as_of = self.as_of
        while self._next < len(self._batches) and (max_updates is None or taken == 0 or taken < max_updates):
            batch = self._batches[self._next]
            self._next += 1
            blob, max_time = batch.blob, batch.max_time
            if is_columnar(blob) and max_time <= as_of:  # a columnar batch has one time: all of it is in
                if self.columnar:
                    self._tables.append(decode_columnar(blob)[1])
                else:
                    self._totals.update(columnar_rows(blob))
            elif not (self.columnar and is_columnar(blob)):  # (a columnar batch past as_of has none of it)
                updates = decode_updates(blob)
                if max_time > as_of:
                    updates = [u for u in updates if u[1] <= as_of]
                self._negative = count_batch_into(self._totals, updates) or self._negative
            taken += batch.updates
        self.updates_read += taken
        return taken

    def counts(self) -> dict[Row, int]:
        """The consolidated snapshot (the rest, for a columnar reader); every batch must have been read."""
        assert self.done, "the snapshot was not read to the end"
        if not self._negative:
            return self._totals
        return {row: diff for row, diff in self._totals.items() if diff != 0}

    def columns(self) -> ColumnarSnapshot | None:
        """The columnar batches as Arrow tables and the others' updates as the rest; ``None`` for a reader that
        reads rows (not ``columnar``)."""
        if not self.columnar:
            return None
        return ColumnarSnapshot(self._tables, self.counts())
