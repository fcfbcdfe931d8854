"""Arrangements: a collection indexed by key (key → {row: count}), with an error part and a frontier.

An :class:`Arrangement` is what an index export maintains and what peeks read.  ``apply(time, delta)`` folds one
timestamp's delta in; ``frontier`` says which times are reflected (all times < frontier).  ``peek(view)`` returns the
current rows (repeated by multiplicity) through a view — a row function that the arrangement compiles from a
description with the ``compile_view`` it was made with (the renderer's: MapFilterProjects) — or raises the first
error if the error part is non-zero.  ``lookup(key)`` serves point reads.  Once :meth:`Arrangement.watch` is called it records
the keys each ``apply`` changes (:meth:`Arrangement.take_touched`), so a columnar copy of its rows kept beside it
(``compute.index_snapshot``) is patched by key instead of rebuilt; past a quarter of the records it stops recording.

Other dataflows import an arrangement through an :class:`ArrangementCursor`: its first ``read()`` returns the
current contents as a snapshot (at :meth:`Arrangement.snapshot_time`), later reads the updates applied since.  The
arrangement keeps a log of updates only while cursors exist, and trims the prefix every cursor has read.  A join in
an importing dataflow may also read ``data`` in place (:class:`SharedInput`), correcting for the updates its cursor
delivered that the importer has not reached yet (below).  :func:`state_size_bytes` estimates such states' memory.

**Reading in place** (:class:`SharedInput`).  The producer and the importer are different dataflows stepped
separately, and one step runs one round per timestamp, so when the importer runs its round at time ``t`` the
producer may already have applied updates at later times.  Every update applied after the importer's snapshot
was delivered to the importer through its cursor, so the importer knows them: :meth:`SharedInput.delivered` keeps
the ones at times the importer's graph has not passed yet (``pending``), and::

    R as of t  =  arrangement.data  −  Σ { pending updates with time > t }          (t ≥ snapshot time)
    R as of t  =  ∅                                                                  (t < snapshot time)

The snapshot is delivered as one update of the whole contents at ``snapshot_time`` (the producer's frontier − 1,
advanced to the importer's ``as_of``), and every later update has a time ≥ the producer's frontier at that read,
so before ``snapshot_time`` the importer has seen nothing of the producer.  Times below the importer's ``as_of``
are advanced to ``as_of`` by its graph; for rounds ``t ≥ as_of`` "time > t" means the same before and after that
advancement, so raw times are kept.

The correction is computed only for the keys a join looks up, and only when something pending is later than the
round: :meth:`SharedInput.state_at` returns ``data.get`` itself when the importer is caught up (the usual case:
the producer and the importer step in the same tick), otherwise a function that copies one key's rows and
subtracts that key's later updates (found through a per-key index of ``pending``, built lazily).  After each of the
importer's steps, :meth:`SharedInput.passed` drops pending updates below the importer's frontier, so ``pending``
holds only what is in flight and never grows while nothing is behind.

Rows whose key cannot be computed are not in ``data`` (the arrangement turned them into errors), and are skipped
here too; rows with a NULL in the key are in ``data`` but a join never looks NULL keys up (SQL equality).
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any, Callable, Hashable, Iterable, Iterator

from steadystate.dataflow.collection import Delta, EvalError, Row, Update, add_into, first_error

_VIEW_CACHE_LIMIT = 64

RowFn = Callable[[Row], "Row | None"]  # a row's image, or None when the row is filtered out
ViewCompiler = Callable[[Hashable], "RowFn | None"]


class Arrangement:
    """key → {row: count} plus errors; ``frontier`` (``None`` = closed) only advances.

    Reads may ask for a *view* of the rows: a hashable description of a row function (the renderer's are the
    plan's map/filter/projects) that ``compile_view`` turns into that function, or ``None`` when the view is the
    rows as they are.  Compiled views are cached (a peek of the same view again compiles nothing)."""

    def __init__(self, key_fn: Callable[[Row], tuple], compile_view: ViewCompiler | None = None,
                 name: str = "") -> None:
        self.name = name
        self.key_fn = key_fn
        self.compile_view = compile_view
        self.data: dict[tuple, dict[Row, int]] = {}
        self.errors: dict[EvalError, int] = {}
        self.frontier: int | None = 0
        self.last_time: int = 0
        self._records = 0
        self._log: list[Update] = []
        self._err_log: list[tuple[EvalError, int, int]] = []
        self._log_base = 0  # absolute position of _log[0]
        self._err_log_base = 0
        self._cursors: list[ArrangementCursor] = []
        self._view_cache: dict[Hashable, RowFn | None] = {}
        self._touched: set[tuple] | None = None  # keys changed since watch()/take_touched(), while watched
        self._touched_overflow = False

    # -- change tracking (a columnar copy kept beside the rows: compute.index_snapshot) ----------------------

    def watch(self) -> None:
        """Start recording the keys that :meth:`apply` changes (read back by :meth:`take_touched`)."""
        self._touched = set()
        self._touched_overflow = False

    def take_touched(self) -> set[tuple] | None:
        """The keys changed since the last call (or :meth:`watch`), and start over; ``None`` when so many changed
        that recording them stopped (a copy of the whole should be rebuilt instead) or nothing was watched."""
        touched = None if self._touched_overflow else self._touched
        self.watch()
        return touched

    # -- maintenance ------------------------------------------------------------------------------------

    def apply(self, time: int, delta: Delta) -> None:
        ok, err = delta
        data = self.data
        key_fn = self.key_fn
        records = self._records
        touched = self._touched
        for row, diff in ok.items():
            try:
                key = key_fn(row)
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(self.errors, EvalError.from_exception(exc), diff)
                continue
            if touched is not None:
                touched.add(key)
            rows = data.get(key)
            if rows is None:
                data[key] = {row: diff}
                records += 1
                continue
            total = rows.get(row, 0) + diff
            if total:
                if row not in rows:
                    records += 1
                rows[row] = total
            else:
                del rows[row]
                records -= 1
                if not rows:
                    del data[key]
        self._records = records
        if touched is not None and len(touched) > max(1024, records // 4):
            self._touched, self._touched_overflow = None, True
        for error, diff in err.items():
            add_into(self.errors, error, diff)
        if time > self.last_time:
            self.last_time = time
        if self._cursors:
            self._log.extend((row, time, diff) for row, diff in ok.items())
            self._err_log.extend((error, time, diff) for error, diff in err.items())

    def advance(self, frontier: int | None) -> None:
        if frontier is None or (self.frontier is not None and frontier > self.frontier):
            self.frontier = frontier

    # -- reads ----------------------------------------------------------------------------------------------

    def raise_if_errors(self) -> None:
        error = first_error(self.errors)
        if error is not None:
            raise error.to_exception()

    def iter_rows(self) -> Iterator[tuple[Row, int]]:
        for rows in self.data.values():
            yield from rows.items()

    def _compiled(self, view: Hashable | None) -> RowFn | None:
        """The row function of ``view`` (``None``: the rows as they are)."""
        if view is None:
            return None
        try:
            return self._view_cache[view]
        except KeyError:
            pass
        if self.compile_view is None:
            raise TypeError(f"arrangement {self.name!r} was given no compile_view to read views with")
        compiled = self.compile_view(view)
        if len(self._view_cache) >= _VIEW_CACHE_LIMIT:
            self._view_cache.clear()
        self._view_cache[view] = compiled
        return compiled

    def peek(self, view: Hashable | None = None) -> list[tuple]:
        """Current rows, repeated by multiplicity, seen through ``view``; raises if the error part is non-zero."""
        self.raise_if_errors()
        out: list[tuple] = []
        apply = self._compiled(view)
        if apply is None:
            for row, count in self.iter_rows():
                if count == 1:
                    out.append(row)
                elif count > 1:
                    out.extend([row] * count)
            return out
        for row, count in self.iter_rows():
            if count <= 0:
                continue
            result = apply(row)
            if result is not None:
                out.extend([result] * count)
        return out

    def peek_iter(self, view: Hashable | None = None) -> Iterator[tuple]:
        """``peek`` one row at a time (a replica builds a peek's result in bounded, interruptible pieces); raises
        before the first row if the error part is non-zero.  The arrangement must not change while it is read."""
        self.raise_if_errors()
        apply = self._compiled(view)
        for row, count in self.iter_rows():
            if count <= 0:
                continue
            if apply is not None:
                result = apply(row)
                if result is None:
                    continue
                row = result
            if count == 1:
                yield row
            else:
                for _ in range(count):
                    yield row

    def lookup(self, key: tuple) -> list[tuple]:
        """Rows whose key equals ``key`` (repeated by multiplicity); raises if the error part is non-zero."""
        self.raise_if_errors()
        out: list[tuple] = []
        for row, count in self.data.get(tuple(key), {}).items():
            out.extend([row] * max(count, 0))
        return out

    def records(self) -> int:
        return self._records

    def size_bytes(self) -> int:
        """Approximate memory: the per-row cost of a small sample times the number of records."""
        return state_size_bytes((self.data,), self._records)

    # -- sharing with other dataflows --------------------------------------------------------------------

    def cursor(self) -> "ArrangementCursor":
        cursor = ArrangementCursor(self)
        self._cursors.append(cursor)
        return cursor

    def snapshot_time(self) -> int:
        """The time a snapshot taken now is at: every update it holds is at an earlier or equal time."""
        return self.last_time if self.frontier is None else max(self.frontier - 1, 0)

    def _position(self) -> tuple[int, int]:
        return self._log_base + len(self._log), self._err_log_base + len(self._err_log)

    def _read_from(self, position: int, err_position: int) -> tuple[list[Update], list[Any]]:
        ok = self._log[position - self._log_base :]
        err = self._err_log[err_position - self._err_log_base :]
        return ok, err

    def _trim(self) -> None:
        if not self._cursors:
            self._log.clear()
            self._err_log.clear()
            return
        low = min(c.position for c in self._cursors)
        err_low = min(c.err_position for c in self._cursors)
        if low - self._log_base > 4096 or low - self._log_base == len(self._log):
            del self._log[: low - self._log_base]
            self._log_base = low
        if err_low - self._err_log_base == len(self._err_log):
            self._err_log.clear()
            self._err_log_base = err_low

    def _close_cursor(self, cursor: "ArrangementCursor") -> None:
        if cursor in self._cursors:
            self._cursors.remove(cursor)
        self._trim()


def state_size_bytes(states: Iterable[dict[tuple, dict[Row, int]]], records: int | None = None) -> int:
    """Approximate memory of key → {row: count} states: a small sample's per-row cost times the records."""
    states = list(states)
    if records is None:
        records = sum(len(rows) for state in states for rows in state.values())
    if not records:
        return 0
    sample: list[Row] = []
    for state in states:
        for rows in state.values():
            sample.extend(islice(rows, 16 - len(sample)))
            if len(sample) >= 16:
                break
        if len(sample) >= 16:
            break
    per_row = sum(sys.getsizeof(r) + sum(sys.getsizeof(v) for v in r) for r in sample) / max(len(sample), 1)
    per_row += 100  # dict entries of the row map and key map
    return int(per_row * records)


class ArrangementCursor:
    """Reads an arrangement's updates: the first read is a snapshot of the current contents."""

    def __init__(self, arrangement: Arrangement) -> None:
        self.arrangement = arrangement
        self.position, self.err_position = arrangement._position()
        self._snapshot_pending = True
        self.snapshot_time = 0  # the time the snapshot (the first read) is at, once read

    @property
    def frontier(self) -> int | None:
        return self.arrangement.frontier

    def read_snapshot(self) -> tuple[int, dict[Row, int], list[tuple[EvalError, int, int]]] | None:
        """The first read as one consolidated delta: ``(time, {row: count}, error updates)``; None once read.

        Rows of different keys are different rows, so the snapshot is consolidated by construction."""
        if not self._snapshot_pending:
            return None
        self._snapshot_pending = False
        arrangement = self.arrangement
        time = self.snapshot_time = arrangement.snapshot_time()
        rows = {row: count for by_row in arrangement.data.values() for row, count in by_row.items()}
        errs = [(error, time, count) for error, count in arrangement.errors.items()]
        self.position, self.err_position = arrangement._position()
        arrangement._trim()
        return time, rows, errs

    def read_all(self) -> tuple[list[Update], list[tuple[EvalError, int, int]]]:
        """``(ok updates, error updates)`` since the last read (the snapshot on the first read)."""
        snapshot = self.read_snapshot()
        if snapshot is not None:
            time, rows, errs = snapshot
            return [(row, time, count) for row, count in rows.items()], errs
        arrangement = self.arrangement
        ok, err = arrangement._read_from(self.position, self.err_position)
        self.position, self.err_position = arrangement._position()
        arrangement._trim()
        return ok, err

    def read(self) -> list[Update]:
        """Ok updates only (errors read through :meth:`read_all` are not repeated here)."""
        return self.read_all()[0]

    def close(self) -> None:
        self.arrangement._close_cursor(self)


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
        return snapshot_time is None or time <= snapshot_time or (not self.arrangement.data and not self.pending)

    def state_at(self, time: int) -> RowsOf | None:
        """``key -> {row: count}`` (or None) as of the end of round ``time``; None when nothing is there at all."""
        snapshot_time = self.snapshot_time
        if snapshot_time is None or time < snapshot_time:
            return None
        data = self.arrangement.data
        pending = self.pending
        if not pending or self._latest is None or self._latest <= time:  # caught up: the producer's state as is
            return data.get if data else None
        index = self._build_index()

        def rows_at(key: tuple) -> dict[Row, int] | None:
            rows = data.get(key)
            later = index.get(key)
            if not later:
                return rows
            out = dict(rows) if rows else {}
            for when, row, diff in later:
                if when > time:
                    add_into(out, row, -diff)
            return out or None

        return rows_at

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
