"""Reading an imported index arrangement in place: a join in an importing dataflow looks keys up in the
producer's :class:`~steadystate.dataflow.arrangement.Arrangement` instead of copying it.

**Reading in place** (:class:`SharedInput`).  The producer and the importer are different dataflows stepped
separately, and one step runs one round per timestamp, so when the importer runs its round at time ``t`` the
producer may already have applied updates at later times.  Every update applied after the importer's snapshot
was delivered to the importer through its cursor, so the importer knows them: :meth:`SharedInput.delivered` keeps
the ones at times the importer's graph has not passed yet (``pending``), and::

    R as of t  =  arrangement        −  Σ { pending updates with time > t }          (t ≥ snapshot time)
    R as of t  =  ∅                                                                  (t < snapshot time)

The snapshot is delivered as one update of the whole contents at ``snapshot_time`` (the producer's frontier − 1,
advanced to the importer's ``as_of``), and every later update has a time ≥ the producer's frontier at that read,
so before ``snapshot_time`` the importer has seen nothing of the producer.  Times below the importer's ``as_of``
are advanced to ``as_of`` by its graph; for rounds ``t ≥ as_of`` "time > t" means the same before and after that
advancement, so raw times are kept.

The correction is computed only for the keys a join looks up, and only when something pending is later than the
round: :meth:`SharedInput.state_at` returns ``rows_of`` itself when the importer is caught up (the usual case:
the producer and the importer step in the same tick), otherwise a function that copies one key's rows and
subtracts that key's later updates (found through a per-key index of ``pending``, built lazily).  After each of the
importer's steps, :meth:`SharedInput.passed` drops pending updates below the importer's frontier, so ``pending``
holds only what is in flight and never grows while nothing is behind.

Rows whose key cannot be computed are not in the arrangement (the arrangement turned them into errors), and are skipped
here too; rows with a NULL in the key are in it but a join never looks NULL keys up (SQL equality).
"""

from __future__ import annotations

from typing import Callable, Iterable

from steadystate.dataflow.arrangement import Arrangement
from steadystate.dataflow.collection import Row, Update, add_into


RowsOf = Callable[[tuple], "dict[Row, int] | None"]


class SharedInput:
    """One imported arrangement as seen by one importing dataflow: ``state_at(t)`` is its contents as of ``t``."""

    def __init__(self, arrangement: Arrangement) -> None:
        self.arrangement = arrangement
        self.key_fn = arrangement.key_fn
        self.snapshot_time: int | None = None  # None until the importer has read the snapshot
        self.pending: list[Update] = []  # delivered updates at times the importer has not passed, in time order
        self._index: dict[tuple, list[tuple[int, Row, int]]] = {}
        self._indexed = 0  # how many of ``pending`` are in ``_index``
        self._latest: int | None = None  # the latest time in ``pending``

    # -- fed by the importing dataflow --------------------------------------------------------------------

    def snapshot_read(self, time: int) -> None:
        """The importer read the snapshot; the graph will deliver it at ``time`` (already advanced to as_of)."""
        self.snapshot_time = time

    def delivered(self, updates: list[Update]) -> None:
        """Updates (not the snapshot) the importer's cursor just read; they are in ``data`` already."""
        if updates:
            self.pending.extend(updates)
            latest = max(u[1] for u in updates)
            if self._latest is None or latest > self._latest:
                self._latest = latest

    def passed(self, frontier: int | None) -> None:
        """The importer's graph ran every round below ``frontier``: forget what no later round subtracts."""
        pending = self.pending
        if not pending:
            return
        if frontier is None or (self._latest is not None and self._latest < frontier):
            pending.clear()
            self._latest = None
        else:
            kept = [u for u in pending if u[1] >= frontier]
            if len(kept) == len(pending):
                return
            self.pending = kept
        self._index = {}
        self._indexed = 0

    # -- read by joins --------------------------------------------------------------------------------------

    def empty_before(self, time: int) -> bool:
        """True when the contents as of ``time - 1`` are certainly empty (cheap: no correction is computed)."""
        snapshot_time = self.snapshot_time
        return snapshot_time is None or time <= snapshot_time or (not self.arrangement.records() and not self.pending)

    def state_at(self, time: int) -> RowsOf | None:
        """``key -> {row: count}`` (or None) as of the end of round ``time``; None when nothing is there at all."""
        snapshot_time = self.snapshot_time
        if snapshot_time is None or time < snapshot_time:
            return None
        arrangement = self.arrangement
        rows_of = arrangement.rows_of
        pending = self.pending
        if not pending or self._latest is None or self._latest <= time:  # caught up: the producer's state as is
            return rows_of if arrangement.records() else None
        index = self._build_index()

        def rows_at(key: tuple) -> dict[Row, int] | None:
            rows = rows_of(key)
            later = index.get(key)
            if not later:
                return rows
            out = dict(rows) if rows else {}
            for when, row, diff in later:
                if when > time:
                    add_into(out, row, -diff)
            return out or None

        return rows_at

    def prefetch(self, keys: Iterable[tuple]) -> None:
        """A join is about to look these keys up: read them from the arrangement's runs at once."""
        self.arrangement.prefetch(keys)

    def _build_index(self) -> dict[tuple, list[tuple[int, Row, int]]]:
        index, key_fn, pending = self._index, self.key_fn, self.pending
        for row, when, diff in pending[self._indexed:]:
            try:
                key = key_fn(row)
            except Exception:  # noqa: BLE001 - the arrangement holds it as an error, not in data
                continue
            entries = index.get(key)
            if entries is None:
                index[key] = [(when, row, diff)]
            else:
                entries.append((when, row, diff))
        self._indexed = len(pending)
        return index


class MappedSharedInput:
    """A :class:`SharedInput` seen through a row function (maps, filters, projections of the import): each key's
    rows as of ``t`` with the function applied.  Rows it filters out or fails on are skipped (the copying join would
    not hold them either: the operator in front of it turned failures into errors)."""

    def __init__(self, shared: SharedInput, apply: Callable[[Row], Row | None]) -> None:
        self.shared = shared
        self.apply = apply

    def empty_before(self, time: int) -> bool:
        return self.shared.empty_before(time)

    def prefetch(self, keys: Iterable[tuple]) -> None:
        self.shared.prefetch(keys)

    def state_at(self, time: int) -> RowsOf | None:
        rows_of = self.shared.state_at(time)
        if rows_of is None:
            return None
        apply = self.apply

        def mapped(key: tuple) -> dict[Row, int] | None:
            rows = rows_of(key)
            if not rows:
                return None
            out: dict[Row, int] = {}
            for row, count in rows.items():
                try:
                    result = apply(row)
                except Exception:  # noqa: BLE001 - an error of the collection, not one of its rows
                    continue
                if result is not None:
                    add_into(out, result, count)
            return out or None

        return mapped


SharedSide = SharedInput | MappedSharedInput
