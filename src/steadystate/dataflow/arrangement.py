"""Arrangements: a collection indexed by key (key → {row: count}), with an error part and a frontier.

An :class:`Arrangement` is what an index export maintains and what peeks read.  ``apply(time, delta)`` folds one
timestamp's delta in; ``frontier`` says which times are reflected (all times < frontier).  ``peek(view)`` returns the
current rows (repeated by multiplicity) through a view — a row function that the arrangement compiles from a
description with the ``compile_view`` it was made with (the renderer's: MapFilterProjects) — or raises the first
error if the error part is non-zero.  ``lookup(key)`` / ``rows_of(key)`` serve point reads, ``table()`` a whole-index
read as Arrow.

**Storage.**  Given a :class:`~steadystate.dataflow.arrangement_runs.RowCodec` (the renderer gives the replica's
Arrow encoding of rows), the bulk of the rows is columnar: Arrow runs ordered by their key's hash
(:class:`~steadystate.dataflow.arrangement_runs.ColumnRuns`), and only the keys changed recently are Python objects
in ``recent`` (key → {row: count}).  Each key's rows are in one place: ``apply`` first moves the changed keys' rows
out of the runs into ``recent`` (one vectorized lookup per run for the whole delta), folds the delta in as a dict
does, and moves ``recent`` into a new run once it holds more than ``max(8192, runs' rows / 32)`` records; a delta of
many new keys (a hydration) becomes a run directly.  Point reads look in ``recent``, then in the runs; a join about
to look many keys up reads them from the runs at once (:meth:`Arrangement.prefetch`) into a cache that lives until
the next change.  ``table()`` is the runs' live rows plus ``recent`` encoded, so a whole-index peek builds no Python
row.  Without a codec (tests, placeholders) every row stays in ``recent`` — the row arrangement.

Other dataflows import an arrangement through an :class:`ArrangementCursor`: its first ``read()`` returns the
current contents as a snapshot (at :meth:`Arrangement.snapshot_time`), later reads the updates applied since.
The snapshot may instead be read as the runs' Arrow tables plus the recent rows
(:meth:`ArrangementCursor.read_snapshot_columns`: columns of every type, ``string`` for ``large_string``), which
the importer hands to operators that take columns as a source's stored snapshot is, where those read only exact
columns (``dataflow.columns``' rule) or drop the others; :meth:`Arrangement.decode_tables` gives their rows
otherwise.  The
arrangement keeps a log of updates only while cursors exist, and trims the prefix every cursor has read.  A join in
an importing dataflow may also read it in place (``dataflow.shared_input.SharedInput``), correcting for the updates
its cursor delivered that the importer has not reached yet.  :func:`state_size_bytes` estimates such states'
memory.

"""

from __future__ import annotations

import sys
from itertools import islice, repeat
from typing import Any, Callable, Hashable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from steadystate.dataflow import guard
from steadystate.dataflow.arrangement_runs import ColumnRuns, RowCodec, unify
from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, Row, Update, add_into, first_error
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.columns import arrangeable, consolidated_sorted, python_values, repeats, unified
from steadystate.dataflow.arrangement_runs import tuple_hashes

_VIEW_CACHE_LIMIT = 64
RECENT_MIN = 8192  # ``recent`` moves into a run past this many records and past 1/_RECENT_FRACTION of the runs'
_RECENT_FRACTION = 32
_READ_CACHE_LIMIT = 1 << 16
_SNAPSHOT_CHUNK = 1 << 20  # rows decoded at once for a snapshot (``rows_dict``)

RowFn = Callable[[Row], "Row | None"]  # a row's image, or None when the row is filtered out
ViewCompiler = Callable[[Hashable], "RowFn | None"]


class Arrangement:
    """key → {row: count} plus errors; ``frontier`` (``None`` = closed) only advances.

    Given a ``codec`` (the renderer's), the rows live mostly in columnar runs (:class:`ColumnRuns`) and only the
    recently changed keys in ``recent`` as Python objects (module docstring); without one, all in ``recent``.

    Reads may ask for a *view* of the rows: a hashable description of a row function (the renderer's are the
    plan's map/filter/projects) that ``compile_view`` turns into that function, or ``None`` when the view is the
    rows as they are.  Compiled views are cached (a peek of the same view again compiles nothing)."""

    def __init__(self, key_fn: Callable[[Row], tuple], compile_view: ViewCompiler | None = None,
                 name: str = "", codec: RowCodec | None = None, recent_min: int = RECENT_MIN,
                 key_columns: Sequence[int] | None = None) -> None:
        self.name = name
        self.recent_min = recent_min
        self.key_fn = key_fn
        self.key_columns = None if key_columns is None else tuple(key_columns)  # the key, when it is columns
        self.compile_view = compile_view
        self.recent: dict[tuple, dict[Row, int]] = {}
        self.bulk: ColumnRuns | None = None if codec is None else ColumnRuns(key_fn, codec)
        self.errors: dict[EvalError, int] = {}
        self.frontier: int | None = 0
        self.last_time: int = 0
        self._recent_records = 0
        self._read_cache: dict[tuple, dict[Row, int] | None] = {}  # keys read from the runs since the last change
        self._log: list[Update] = []
        self._err_log: list[tuple[EvalError, int, int]] = []
        self._log_base = 0  # absolute position of _log[0]
        self._err_log_base = 0
        self._cursors: list[ArrangementCursor] = []
        self._view_cache: dict[Hashable, RowFn | None] = {}

    # -- maintenance ------------------------------------------------------------------------------------

    def apply(self, time: int, delta: Delta) -> None:
        ok, err = delta
        if self._read_cache:
            self._read_cache = {}
        bulk, recent = self.bulk, self.recent
        if bulk is not None and not bulk.records and not recent and len(ok) >= self.recent_min \
                and self._load(ok):
            keyed: list[tuple[tuple, Row, int]] = []
        else:
            keyed = self._keyed(ok)
        if bulk is not None and keyed and (bulk.records or len(keyed) >= self.recent_min):
            keyed = self._apply_cold(bulk, keyed)
        self._fold(keyed)
        if bulk is not None and self._recent_records > max(self.recent_min, bulk.records // _RECENT_FRACTION):
            self._compact()
        for error, diff in err.items():
            add_into(self.errors, error, diff)
        if time > self.last_time:
            self.last_time = time
        if self._cursors:
            self._log.extend((row, time, diff) for row, diff in ok.items())
            self._err_log.extend((error, time, diff) for error, diff in err.items())

    def apply_columns(self, time: int, ok: ColumnarDelta, err: ErrDelta) -> bool:
        """A hydration's delta as columns (``dataflow.columnar_delta``) into an empty arrangement: the parts become
        a run as they are (re-typed to the codec's encoding, consolidated unless the producer knows no row
        repeats), only their keys built as Python values (for the hashes); the extra rows and the errors then go
        through :meth:`apply`.  False (nothing done: the caller applies the rows) unless the arrangement is empty
        with a codec, no cursor reads its log (one that has not read yet reads the runs as its snapshot), its key is
        columns, every part is insertions, there are at least
        ``recent_min`` of them and every column is exact (``dataflow.columns``' rule: int64, string, bool, whose
        ``to_pylist`` values are the row path's) or of a type Arrow groups as Python does, one type in every part:
        a ``decimal128(p, 0)`` (a window's ``sum(bigint)``, ``dataflow.window``), whose values are integers,
        consolidated and hashed as ``int64`` stand-ins (equal exactly when the Decimals are; an integral Decimal's
        hash is its int's) and kept as decimals, ``repr.arrow_rows``' encoding of such values; otherwise a decimal of
        one scale, a timestamp, a date or a time (``columns.arrangeable``: consolidated by Arrow's group-by; a run
        holds them in the peek's types).  Rows are consolidated only when keys repeat (the keys are counted first):
        a float64 column outside the key is then declined (Arrow groups ``-0.0`` apart from ``0.0``), and taken
        as it is when no key repeats — a table's index on its id with a float column beside it."""
        bulk, key_columns = self.bulk, self.key_columns
        positive = ok.positive_tables()
        # a cursor that has not read yet takes its first read from the runs (a snapshot of what is there then)
        reading = any(not cursor.snapshot_pending for cursor in self._cursors)
        if (bulk is None or bulk.records or self.recent or reading or key_columns is None or not ok.arity
                or positive is None or ok.num_rows() < self.recent_min):
            return False
        names = [f"c{i}" for i in range(ok.arity)]
        weighted = unified(positive, range(ok.arity), widen=False)  # exact columns, widened below
        decimals: dict[int, pa.DataType] = {}
        if weighted is None:  # a window's numeric sums: decimal128(38, 0), taken as int64 (see the docstring)
            integral = _integral_decimals(ok)
            stand_ins = None if integral is None else unified([t for t, _sign in integral[0].parts], range(ok.arity),
                                                                 widen=False)
            if stand_ins is not None:
                assert integral is not None
                weighted, decimals = stand_ins, integral[1]
        # a float64 column outside the key is taken when no row repeats (Arrow never groups it: see below)
        values = [i for i in range(ok.arity) if i not in key_columns]
        table = weighted.select(names) if weighted is not None else arrangeable(positive, ok.arity, values)
        weighted = stand_ins = integral = None  # only ``table`` holds its columns now (see "one column at a time")
        if table is None:
            return False
        counts = None
        # rows repeat only if keys do: keys counted (integers packed by NumPy) spare consolidating whole rows, which
        # for typed columns is Arrow's hash aggregation over every column (~10x the table's memory)
        if not ok.distinct and (not key_columns or repeats(table.select([names[i] for i in key_columns]))):
            if any(pa.types.is_floating(typ) for typ in table.schema.types):
                return False  # Arrow would group -0.0 apart from 0.0 (Python's equal rows): the rows' path
            counted = consolidated_sorted(table)
            table, counts = counted.select(names), counted.column("count_all").to_numpy()
        rows = table.num_rows
        # (an integral Decimal hashes as its int: the int64 stand-ins' keys hash as the rows' keys do); integer keys
        # are hashed by NumPy as Python hashes their tuples, others as Python values
        hashes = tuple_hashes([table.column(i) for i in key_columns]) if key_columns else None
        if hashes is None:
            keys: Iterable[tuple] = zip(*(python_values(table.column(i)) for i in key_columns)) if key_columns \
                else repeat((), rows)
            hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=rows)
        order = None if rows < 2 or bool((hashes[1:] >= hashes[:-1]).all()) else np.argsort(hashes, kind="stable")
        if order is not None:  # the run's order: by key hash
            hashes.sort(kind="stable")  # in place: the same as ``hashes[order]``
            counts = None if counts is None else counts[order]
        # the run's columns, in that order, in one chunk each, in the peek's types, made one column at a time from
        # the columns as stored (integers as narrow as storage keeps them): the hydration's peak holds the snapshot,
        # the run and one column's intermediate copies, not a widened copy of the whole table
        columns: list[Any] = list(table.columns)
        table = None
        taken = None if order is None else pa.array(order)
        # the largest first: its intermediate copies are freed before the run holds much, and the others reuse them
        sizes = [column.nbytes for column in columns]
        for i in sorted(range(len(columns)), key=lambda i: -sizes[i]):
            columns[i] = _run_column(columns[i], taken, decimals.get(i))
        table = pa.table(columns, names=names)
        del columns, taken, order
        bulk.add_table(table, hashes, counts)
        self.apply(time, (ok.extra, err))
        return True

    def _apply_cold(self, bulk: ColumnRuns, keyed: list[tuple[tuple, Row, int]]) -> list[tuple[tuple, Row, int]]:
        """Apply the updates of keys not in ``recent``; return the others, for :meth:`_fold`.  A key the runs hold
        is taken out of them (the invariant) and its updates folded into its rows there: what is left of them joins
        ``recent`` (nothing, for a key whose rows were all retracted).  A key held nowhere is new: past
        ``recent_min`` of them (a hydration, a batch that changes many rows' keys) they go straight into a run."""
        recent = self.recent
        if recent:
            warm = [entry for entry in keyed if entry[0] in recent]
            cold_entries = [entry for entry in keyed if entry[0] not in recent] if warm else keyed
        else:
            warm, cold_entries = [], keyed
        taken = bulk.take({key for key, _row, _diff in cold_entries}) if bulk.records else {}
        fresh: list[tuple[tuple, Row, int]] = []
        get = taken.get
        for entry in cold_entries:
            rows = get(entry[0])
            if rows is None:
                if entry[2]:
                    fresh.append(entry)
                continue
            row = entry[1]
            total = rows.get(row, 0) + entry[2]
            if total:
                rows[row] = total
            elif row in rows:
                del rows[row]
        records = 0
        for key, rows in taken.items():
            if rows:
                recent[key] = rows
                records += len(rows)
        self._recent_records += records
        if len(keyed) >= self.recent_min and len(fresh) >= self.recent_min \
                and bulk.add([e[0] for e in fresh], [e[1] for e in fresh], [e[2] for e in fresh]):
            return warm
        return warm + fresh

    def _keyed(self, ok: dict[Row, int]) -> list[tuple[tuple, Row, int]]:
        """``(key, row, diff)`` of each row; rows whose key fails become errors."""
        key_fn = self.key_fn
        try:  # every key at once; a key that fails sends the delta through the loop below, which reports it
            return list(zip(map(key_fn, ok), ok, ok.values()))
        except Exception:  # noqa: BLE001 - evaluation errors become data
            pass
        keyed: list[tuple[tuple, Row, int]] = []
        for row, diff in ok.items():
            try:
                keyed.append((key_fn(row), row, diff))
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(self.errors, EvalError.from_exception(exc), diff)
        return keyed

    def _load(self, ok: dict[Row, int]) -> bool:
        """Into an empty arrangement (a hydration): every row straight into a run, keys computed in one pass; False
        (nothing done) when a key fails (the row path reports it) or the codec cannot encode the rows."""
        assert self.bulk is not None
        rows = list(ok)
        keys: list[tuple] = []
        # in slices under a guard (a transient dataflow's index can be loaded with a cross join's output); the guard
        # checks between slices, outside the try: a cancel or the memory threshold stops the load, it is no key error
        for part in guard.sliced(rows):
            try:
                keys.extend(map(self.key_fn, part))
            except Exception:  # noqa: BLE001 - the row path turns the failure into an error of the collection
                return False
        diffs = list(ok.values())
        if 0 in ok.values():
            kept = [i for i, diff in enumerate(diffs) if diff]
            rows, keys, diffs = [rows[i] for i in kept], [keys[i] for i in kept], [diffs[i] for i in kept]
        return self.bulk.add(keys, rows, diffs)

    def _fold(self, keyed: list[tuple[tuple, Row, int]]) -> None:
        recent = self.recent
        records = self._recent_records
        for key, row, diff in keyed:
            rows = recent.get(key)
            if rows is None:
                if diff:
                    recent[key] = {row: diff}
                    records += 1
                continue
            total = rows.get(row, 0) + diff
            if total:
                if row not in rows:
                    records += 1
                rows[row] = total
            elif row in rows:
                del rows[row]
                records -= 1
                if not rows:
                    del recent[key]
        self._recent_records = records

    def _compact(self) -> None:
        """Move ``recent`` into a new run (kept as it is when the codec cannot encode its rows)."""
        assert self.bulk is not None
        keys: list[tuple] = []
        rows: list[Row] = []
        diffs: list[int] = []
        for key, by_row in self.recent.items():
            for row, count in by_row.items():
                keys.append(key)
                rows.append(row)
                diffs.append(count)
        if self.bulk.add(keys, rows, diffs):
            self.recent = {}
            self._recent_records = 0
            self._read_cache = {}
        else:
            self._unencodable(self.bulk)

    def _unencodable(self, bulk: ColumnRuns) -> None:
        """Rows the codec cannot encode arrived: every row moves to ``recent`` (the row path) for good."""
        for row, count in bulk.iter_rows():
            key = self.key_fn(row)
            by_row = self.recent.get(key)
            if by_row is None:
                self.recent[key] = {row: count}
            else:
                by_row[row] = count
            self._recent_records += 1
        self._read_cache = {}
        self.bulk = None

    def advance(self, frontier: int | None) -> None:
        if frontier is None or (self.frontier is not None and frontier > self.frontier):
            self.frontier = frontier

    # -- reads ----------------------------------------------------------------------------------------------

    def raise_if_errors(self) -> None:
        error = first_error(self.errors)
        if error is not None:
            raise error.to_exception()

    def iter_rows(self) -> Iterator[tuple[Row, int]]:
        for rows in self.recent.values():
            yield from rows.items()
        if self.bulk is not None:
            yield from self.bulk.iter_rows()

    def rows_dict(self) -> dict[Row, int]:
        """Every row with its count (rows of different keys are different rows), built a chunk at a time."""
        out: dict[Row, int] = {}
        for by_row in self.recent.values():
            out.update(by_row)
        if self.bulk is not None:
            for rows, counts in self.bulk.iter_chunks(_SNAPSHOT_CHUNK, _SNAPSHOT_CHUNK):  # whole runs, mostly: a
                out.update(zip(rows, repeat(1) if counts is None else counts))  # codec shares repeated values per chunk
        return out

    def rows_of(self, key: tuple) -> dict[Row, int] | None:
        """The rows of ``key`` with their counts (``None``: none); the caller must not change the dict."""
        rows = self.recent.get(key)
        bulk = self.bulk
        if rows is not None or bulk is None or not bulk.records:
            return rows
        cache = self._read_cache
        try:
            return cache[key]
        except KeyError:
            pass
        found = bulk.fetch({key}).get(key)
        if len(cache) >= _READ_CACHE_LIMIT:
            cache.clear()
        cache[key] = found
        return found

    def prefetch(self, keys: Iterable[tuple]) -> None:
        """Read the rows of many keys from the runs at once (vectorized), so that :meth:`rows_of` answers them from
        a cache until the next change."""
        bulk = self.bulk
        if bulk is None or not bulk.records:
            return
        recent, cache = self.recent, self._read_cache
        cold = {key for key in keys if key not in recent and key not in cache}
        if not cold:
            return
        if len(cache) + len(cold) > _READ_CACHE_LIMIT:
            cache.clear()
        found = bulk.fetch(cold)
        for key in cold:
            cache[key] = found.get(key)

    def table(self) -> pa.Table | None:
        """Every row (repeated by multiplicity) as one Arrow table of the codec's types, or ``None`` (no codec, no
        rows, or columns whose types do not unify: read the rows instead)."""
        bulk = self.bulk
        if bulk is None:
            return None
        tables = bulk.tables()
        recent = [row for by_row in self.recent.values() for row, count in by_row.items() for _ in range(count)]
        if recent:
            batch = bulk.codec.encode(recent)
            if batch is None:
                return None
            tables.append(pa.Table.from_batches([batch]))
        unified = unify(tables)
        if not unified:
            return None
        return unified[0] if len(unified) == 1 else pa.concat_tables(unified)

    def snapshot_columns(self) -> tuple[list[pa.Table], dict[Row, int]] | None:
        """The contents as the runs' live rows (Arrow tables of the codec's types, each row one insertion, columns
        ``c0 …``; ``large_string`` given as ``string``, as storage's snapshots have it) plus the recent layer's
        ``{row: count}``; ``None`` when the runs are not that (no runs, a count below 1, runs whose types do not
        unify): read :meth:`rows_dict` instead.  Columns of any type are given, the codec's field metadata kept:
        which are exact (``dataflow.columns.exact_type``) is for the reader to check, and :meth:`decode_tables`
        gives the rows of any."""
        bulk = self.bulk
        if bulk is None or not bulk.records:
            return None
        for run in bulk.runs:
            if run.diffs is not None:
                counts = run.diffs if run.dead is None else run.diffs[~run.dead]
                if bool((counts < 1).any()):
                    return None
        tables = unify(bulk.tables())
        if not tables:
            return None
        schema = tables[0].schema
        if any(pa.types.is_large_string(field.type) for field in schema):  # storage's snapshots use ``string``
            target = pa.schema([field.with_type(pa.string()) if pa.types.is_large_string(field.type) else field
                                for field in schema])
            tables = [table.cast(target) for table in tables]
        recent: dict[Row, int] = {}
        for by_row in self.recent.values():
            recent.update(by_row)
        return tables, recent

    def decode_tables(self, tables: list[pa.Table]) -> dict[Row, int]:
        """The rows of tables :meth:`snapshot_columns` gave (one insertion per row) as ``{row: count}``, decoded by
        the codec a batch at a time (exact for every column type)."""
        bulk = self.bulk
        assert bulk is not None
        out: dict[Row, int] = {}
        total = 0
        for table in tables:
            if any(pa.types.is_string(field.type) for field in table.schema):  # back to the codec's types
                table = table.cast(pa.schema([field.with_type(pa.large_string()) if pa.types.is_string(field.type)
                                              else field for field in table.schema]))
            for batch in table.to_batches():
                rows = bulk.codec.decode(batch)
                total += len(rows)
                out.update(zip(rows, repeat(1)))
        if len(out) < total:  # a row of several copies: counted
            out = {}
            for table in tables:
                for batch in table.to_batches():
                    for row in bulk.codec.decode(batch):
                        out[row] = out.get(row, 0) + 1
        return out

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
        return list(self.peek_iter(view))

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
        for row, count in (self.rows_of(tuple(key)) or {}).items():
            out.extend([row] * max(count, 0))
        return out

    def records(self) -> int:
        return self._recent_records + (0 if self.bulk is None else self.bulk.records)

    def size_bytes(self) -> int:
        """Approximate memory: the runs' buffers, and the recent rows' sampled per-row cost."""
        runs = 0 if self.bulk is None else self.bulk.nbytes()
        return runs + state_size_bytes((self.recent,), self._recent_records)

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
    def snapshot_pending(self) -> bool:
        """Whether the first read (a snapshot of the arrangement's contents then) is still to come."""
        return self._snapshot_pending

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
        rows = arrangement.rows_dict()
        errs = [(error, time, count) for error, count in arrangement.errors.items()]
        self.position, self.err_position = arrangement._position()
        arrangement._trim()
        return time, rows, errs

    def read_snapshot_columns(self) -> tuple[int, list[pa.Table], dict[Row, int],
                                             list[tuple[EvalError, int, int]]] | None:
        """The first read as the runs' Arrow tables plus the recent rows (:meth:`Arrangement.snapshot_columns`):
        ``(time, tables, {row: count}, error updates)``; ``None`` (nothing read) when the arrangement cannot give
        its contents so or the snapshot was read."""
        if not self._snapshot_pending:
            return None
        arrangement = self.arrangement
        columns = arrangement.snapshot_columns()
        if columns is None:
            return None
        self._snapshot_pending = False
        time = self.snapshot_time = arrangement.snapshot_time()
        errs = [(error, time, count) for error, count in arrangement.errors.items()]
        self.position, self.err_position = arrangement._position()
        arrangement._trim()
        return time, columns[0], columns[1], errs

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


def _run_column(column: Any, order: Any | None, decimal: pa.DataType | None) -> Any:
    """A column as a run holds it: in one chunk, in ``order`` (positions, or ``None``: as it is), integers and an
    all-NULL column as int64, text as ``large_string`` (``repr.arrow_rows``' types), an integral decimal's int64
    stand-ins back as ``decimal``."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if order is not None:
        array = array.take(order)
    typ = array.type
    if decimal is not None:
        return array.cast(decimal)
    if (pa.types.is_integer(typ) and typ != pa.int64()) or pa.types.is_null(typ):
        return array.cast(pa.int64())
    return array.cast(pa.large_string()) if pa.types.is_string(typ) else array


def _integral_decimals(ok: ColumnarDelta) -> tuple[ColumnarDelta, dict[int, pa.DataType]] | None:
    """``ok`` with its ``decimal128(p, 0)`` columns cast to ``int64`` (exact: integers, within int64 or the cast
    fails), and those columns' types; ``None`` when it has none, or one not of a single such type in every part."""
    types: dict[int, pa.DataType] = {}
    for i in range(ok.arity):
        if any(f"c{i}" not in table.column_names for table, _sign in ok.parts):
            return None
        column_types = {table.schema.field(f"c{i}").type for table, _sign in ok.parts}
        if any(pa.types.is_decimal(t) for t in column_types):
            (typ, *others) = column_types
            if others or not isinstance(typ, pa.Decimal128Type) or typ.scale != 0:
                return None
            types[i] = typ
    if not types:
        return None
    parts = []
    try:
        for table, sign in ok.parts:
            for i in types:
                name = f"c{i}"
                table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(pa.int64()))
            parts.append((table, sign))
    except pa.ArrowException:
        return None
    return ColumnarDelta(parts, ok.arity, ok.extra, distinct=ok.distinct), types
