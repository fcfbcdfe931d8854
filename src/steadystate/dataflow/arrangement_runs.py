"""The columnar bulk of an index arrangement: its rows as Arrow runs ordered by the hash of their key.

An :class:`~steadystate.dataflow.arrangement.Arrangement` keeps recent changes as Python objects (key → {row: count})
and everything else here, in :class:`ColumnRuns`: a list of *runs*, each

* an Arrow table of the rows (columns as the :class:`RowCodec` the renderer gives encodes them: the replica's peek
  types, so a whole-index peek sends the runs as they are),
* ``hashes``: int64, Python's ``hash`` of each row's key, the run sorted by it (rows of one key are adjacent),
* ``diffs``: each row's count (``None`` when every count is 1, the usual case: no column is kept),
* ``dead``: which rows were taken out since the run was built (``None`` while none was).

**Invariant**: the rows of one key are in exactly one place — the arrangement's recent layer or one run — and
consolidated there (each row once, never a zero count).  A change to a key first *takes* its rows out of the runs
(:meth:`ColumnRuns.take`: marked dead, handed to the recent layer, which consolidates as a dict does), so runs never
need consolidating against each other; a run is only ever concatenated with another and re-sorted by hash.

**Keys by hash.**  The hash is Python's, so two keys are the same key exactly when the row path's dict says so
(``1 == 1.0``, ``Decimal('1.50') == Decimal('1.5')``); a lookup of many keys is two ``numpy.searchsorted`` per run,
and each candidate row (same hash) is decoded and its key recomputed with the arrangement's key function, so a hash
collision costs a row decoded, never a wrong answer.  Only the keys looked up and the rows returned become Python
objects.  (Python's string hashes are per process: runs never leave it.)  A hydration from columns computes the
hashes of integer keys without building them (:func:`tuple_hashes`): CPython's integer hash (the value modulo the
Mersenne prime ``2**61 - 1``, negated for negative values, ``-1`` taken as ``-2``; ``hash(None)`` for NULL), then its
tuple hash (xxHash's lane mixing: add ``lane * XXPRIME_2``, rotate left 31, multiply by ``XXPRIME_1``; add the length
xor a constant; ``-1`` taken as ``1546275796``), in wrapping 64-bit NumPy arithmetic — CPython's algorithm since 3.8
on 64-bit platforms, which ``tests/dataflow/test_key_hash.py`` checks against ``hash`` itself.

**Merging.**  A new run is merged with the run before it while it holds at least half as many live rows, as
differential dataflow's spines merge batches (O(log n) runs, each row merged O(log n) times); a merge drops dead
rows.  A run more than half dead is rewritten without them.  Runs whose column types differ (a column all NULL in
one, a numeric of another scale, values the codec encodes) are concatenated when the types unify, else re-encoded
from their rows (the codec then chooses one type for the union).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import pyarrow as pa

from steadystate.dataflow import guard
from steadystate.dataflow.collection import Row

KeyFn = Callable[[Row], tuple]


class RowCodec(Protocol):
    """Rows to an Arrow record batch and back, exactly (the renderer gives ``repr.arrow_rows``')."""

    def encode(self, rows: Sequence[Row]) -> pa.RecordBatch | None:
        """The rows as one batch, or ``None`` when they are not one (rows of different lengths, no columns)."""

    def decode(self, batch: pa.RecordBatch) -> list[Row]:
        """A batch's rows, equal to the rows encoded."""


class Run:
    """One run: rows, their key hashes (sorted), counts and dead marks (module docstring)."""

    __slots__ = ("table", "hashes", "diffs", "dead", "dead_count")

    def __init__(self, table: pa.Table, hashes: np.ndarray, diffs: np.ndarray | None) -> None:
        self.table = table
        self.hashes = hashes
        self.diffs = diffs
        self.dead: np.ndarray | None = None
        self.dead_count = 0

    @property
    def live(self) -> int:
        return len(self.hashes) - self.dead_count

    def nbytes(self) -> int:
        return (self.table.nbytes + self.hashes.nbytes + (0 if self.diffs is None else self.diffs.nbytes)
                + (0 if self.dead is None else self.dead.nbytes))

    def kill(self, positions: np.ndarray) -> None:
        if self.dead is None:
            self.dead = np.zeros(len(self.hashes), dtype=bool)
        self.dead[positions] = True
        self.dead_count += len(positions)

    def live_positions(self) -> np.ndarray | None:
        """The positions of the live rows, or ``None`` when every row is live."""
        return None if self.dead is None else np.flatnonzero(~self.dead)

    def compacted(self) -> "Run":
        """This run without its dead rows."""
        keep = self.live_positions()
        if keep is None:
            return self
        diffs = None if self.diffs is None else self.diffs[keep]
        return Run(self.table.take(pa.array(keep)), self.hashes[keep], diffs)

    def candidates(self, hashes: np.ndarray) -> np.ndarray:
        """The positions of live rows whose key hash is one of ``hashes``."""
        lo = np.searchsorted(self.hashes, hashes, "left")
        hi = np.searchsorted(self.hashes, hashes, "right")
        counts = hi - lo
        total = int(counts.sum())
        if not total:
            return np.empty(0, dtype=np.int64)
        ends = np.cumsum(counts)
        positions = np.repeat(lo - (ends - counts), counts) + np.arange(total)
        if self.dead is not None:
            positions = positions[~self.dead[positions]]
        return positions


def unify(tables: list[pa.Table]) -> list[pa.Table] | None:
    """The tables with one schema (a column of NULLs only takes the others' type), or ``None`` when their types
    differ otherwise."""
    if not tables:
        return tables
    width = tables[0].num_columns
    if any(t.num_columns != width for t in tables):
        return None
    fields: list[pa.Field] = []
    for i in range(width):
        typed = [t.schema.field(i) for t in tables if not pa.types.is_null(t.schema.field(i).type)]
        field = typed[0] if typed else tables[0].schema.field(i)
        if any(not f.equals(field, check_metadata=True) for f in typed):
            return None
        fields.append(field)
    schema = pa.schema(fields)
    out = []
    for table in tables:
        if not table.schema.equals(schema, check_metadata=True):
            table = pa.Table.from_arrays(
                [column if not pa.types.is_null(column.type) else pa.nulls(len(column), field.type)
                 for column, field in zip(table.columns, fields)], schema=schema)
        out.append(table)
    return out


_MODULUS = np.uint64((1 << 61) - 1)
_PRIME_1 = np.uint64(11400714785074694791)
_PRIME_2 = np.uint64(14029467366897019727)
_PRIME_5 = np.uint64(2870177450012600261)
_LENGTH_SALT = 3527539
_TUPLE_OF_MINUS_ONE = 1546275796
#: Rows hashed at a time: a block's temporaries stay small enough for the heap to reuse them (a hydration's peak)
HASH_BLOCK_ROWS = 1 << 16


def _integer_hashes(values: np.ndarray) -> np.ndarray:
    """``hash(int(v))`` for every value of an int64 array, as uint64 lanes."""
    negative = values < 0
    magnitude = values.astype(np.uint64)  # two's complement: -v's magnitude is (-v - 1) + 1, which fits in uint64
    magnitude[negative] = (-(values[negative] + 1)).astype(np.uint64) + np.uint64(1)
    hashed = (magnitude % _MODULUS).astype(np.int64)
    np.negative(hashed, out=hashed, where=negative)
    hashed[hashed == -1] = -2
    return hashed.view(np.uint64)


def _hashable(kind: pa.DataType) -> bool:
    return (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and kind != pa.uint64()


def _lanes(column: Any) -> np.ndarray:
    """One column's (an Array's or ChunkedArray's) Python hashes as uint64 lanes."""
    kind = column.type
    if pa.types.is_boolean(kind):
        column = column.cast(pa.int8())  # hash(True) == 1, hash(False) == 0
    values = column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    lanes = _integer_hashes(values)
    if column.null_count:
        lanes[column.is_null().to_numpy(zero_copy_only=False)] = np.int64(hash(None)).view(np.uint64)
    return lanes


def tuple_hashes(columns: Sequence[Any]) -> np.ndarray | None:
    """``hash(tuple(row))`` for every row of ``columns`` (Arrow arrays or chunked arrays of one length, at least one),
    as int64; ``None`` when a column's type is not an integer or boolean type.  Computed in blocks of
    :data:`HASH_BLOCK_ROWS` rows: the temporaries are a block's, not the columns'."""
    if not all(_hashable(column.type) for column in columns):
        return None
    rows = len(columns[0])
    out = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, HASH_BLOCK_ROWS):
        out[start:start + HASH_BLOCK_ROWS] = _block_hashes([column.slice(start, HASH_BLOCK_ROWS) for column in columns])
    return out


def _block_hashes(columns: list[Any]) -> np.ndarray:
    lanes = [_lanes(column) for column in columns]
    with np.errstate(over="ignore"):
        acc = np.full(len(lanes[0]), _PRIME_5, dtype=np.uint64)
        for lane in lanes:
            acc += lane * _PRIME_2
            acc = (acc << np.uint64(31)) | (acc >> np.uint64(33))
            acc *= _PRIME_1
        acc += np.uint64(len(lanes) ^ (int(_PRIME_5) ^ _LENGTH_SALT))
    hashes = acc.view(np.int64)
    hashes[hashes == -1] = _TUPLE_OF_MINUS_ONE
    return hashes


class ColumnRuns:
    """The runs of one arrangement (module docstring); ``records`` counts live rows (not multiplicities)."""

    def __init__(self, key_fn: KeyFn, codec: RowCodec) -> None:
        self.key_fn = key_fn
        self.codec = codec
        self.runs: list[Run] = []  # oldest (largest) first
        self.records = 0
        self.merges = 0

    # -- building ----------------------------------------------------------------------------------------

    def add(self, keys: Sequence[tuple], rows: Sequence[Row], diffs: Sequence[int]) -> bool:
        """Add consolidated rows of keys that no run holds as a new run; False (nothing added) when the codec
        cannot encode them."""
        if not rows:
            return True
        tables = []
        for part in guard.sliced(rows):  # one slice, unless guarded work loads many rows
            batch = self.codec.encode(part)
            if batch is None:
                return False
            tables.append(pa.Table.from_batches([batch]))
        unified = tables if len(tables) == 1 else unify(tables)
        if unified is None:
            return False
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        counts = np.fromiter(diffs, dtype=np.int64, count=len(diffs))
        self.add_table(pa.concat_tables(unified), hashes, counts)
        return True

    def add_table(self, table: pa.Table, hashes: np.ndarray, counts: np.ndarray | None) -> None:
        """Add a run of consolidated rows already in the codec's encoding (``table``), of keys no run holds:
        ``hashes`` are their keys' hashes, ``counts`` their counts (``None``: all 1)."""
        if not table.num_rows:
            return
        if len(hashes) > 1 and not bool((hashes[1:] >= hashes[:-1]).all()):  # (a hydration orders its table itself)
            order = np.argsort(hashes, kind="stable")
            table, hashes = table.take(pa.array(order)), hashes[order]
            counts = None if counts is None else counts[order]
        if counts is not None and bool((counts == 1).all()):
            counts = None
        self.records += table.num_rows
        self._push(Run(table.combine_chunks(), hashes, counts))

    def _push(self, run: Run) -> None:
        runs = self.runs
        for i, old in enumerate(runs):
            if old.dead_count * 2 > len(old.hashes):
                runs[i] = old.compacted()
        runs[:] = [r for r in runs if r.live]
        while runs and 2 * run.live >= runs[-1].live:
            merged = self._merge(runs[-1], run)
            if merged is None:  # the two cannot be one table: they stay two runs
                break
            runs.pop()
            run = merged
            self.merges += 1
        if run.live:
            runs.append(run)

    def _merge(self, older: Run, newer: Run) -> Run | None:
        """The two runs as one (dead rows dropped), or ``None`` when their rows are not one table (different
        arities)."""
        a, b = older.compacted(), newer.compacted()
        tables = unify([a.table, b.table])
        if tables is None:  # types differ: re-encode the union from its rows
            batch = self.codec.encode(self._decode(a.table) + self._decode(b.table))
            if batch is None:
                return None
            table = pa.Table.from_batches([batch])
        else:
            table = pa.concat_tables(tables)
        hashes = np.concatenate([a.hashes, b.hashes])
        if a.diffs is None and b.diffs is None:
            diffs = None
        else:
            diffs = np.concatenate([_counts(a), _counts(b)])
        order = np.argsort(hashes, kind="stable")
        return Run(table.take(pa.array(order)).combine_chunks(), hashes[order], None if diffs is None else diffs[order])

    # -- reading -----------------------------------------------------------------------------------------

    def _decode(self, table: pa.Table) -> list[Row]:
        rows: list[Row] = []
        for batch in table.to_batches():
            rows.extend(self.codec.decode(batch))
        return rows

    def _found(self, keys: set[tuple] | frozenset[tuple]) -> Iterator[tuple[Run, np.ndarray, list[tuple], list[Row],
                                                                            np.ndarray]]:
        """Per run holding some of ``keys``: the run, the positions of their rows, the rows' keys, rows and counts."""
        if not self.records or not keys:
            return
        hashes = np.unique(np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys)))
        key_fn = self.key_fn
        for run in self.runs:
            positions = run.candidates(hashes)
            if not len(positions):
                continue
            rows = self._decode(run.table.take(pa.array(positions)))
            row_keys = list(map(key_fn, rows))
            hit = np.array(list(map(keys.__contains__, row_keys)), dtype=bool)
            if not hit.all():
                positions = positions[hit]
                rows = [r for r, h in zip(rows, hit) if h]
                row_keys = [k for k, h in zip(row_keys, hit) if h]
            if not rows:
                continue
            counts = np.ones(len(rows), dtype=np.int64) if run.diffs is None else run.diffs[positions]
            yield run, positions, row_keys, rows, counts

    def fetch(self, keys: set[tuple] | frozenset[tuple]) -> dict[tuple, dict[Row, int]]:
        """The rows of ``keys`` the runs hold (keys they do not hold are absent)."""
        out: dict[tuple, dict[Row, int]] = {}
        for _run, _positions, row_keys, rows, counts in self._found(keys):
            for key, row, count in zip(row_keys, rows, counts.tolist()):
                found = out.get(key)
                if found is None:
                    out[key] = {row: count}
                else:
                    found[row] = count
        return out

    def take(self, keys: set[tuple] | frozenset[tuple]) -> dict[tuple, dict[Row, int]]:
        """:meth:`fetch` and take the rows out of the runs (they become the caller's)."""
        out: dict[tuple, dict[Row, int]] = {}
        for run, positions, row_keys, rows, counts in self._found(keys):
            run.kill(positions)
            self.records -= len(positions)
            for key, row, count in zip(row_keys, rows, counts.tolist()):
                found = out.get(key)
                if found is None:
                    out[key] = {row: count}
                else:
                    found[row] = count
        return out

    def iter_rows(self, chunk: int = 256) -> Iterator[tuple[Row, int]]:
        """Every live row with its count, decoded a growing chunk at a time (a LIMIT reads little)."""
        for rows, counts in self.iter_chunks(chunk):
            if counts is None:
                for row in rows:
                    yield row, 1
            else:
                yield from zip(rows, counts)

    def iter_chunks(self, chunk: int = 1 << 16, largest: int = 1 << 16) -> Iterator[tuple[list[Row], list[int] | None]]:
        """The live rows a chunk at a time (chunks grow from ``chunk`` to ``largest`` rows): ``(rows, counts)``,
        counts ``None`` when every one is 1."""
        for run in self.runs:
            live = run.live_positions()
            total = len(run.hashes) if live is None else len(live)
            start = 0
            while start < total:
                stop = min(total, start + chunk)
                if live is None:
                    piece, counts = run.table.slice(start, stop - start), \
                        None if run.diffs is None else run.diffs[start:stop]
                else:
                    positions = live[start:stop]
                    piece, counts = run.table.take(pa.array(positions)), \
                        None if run.diffs is None else run.diffs[positions]
                yield self._decode(piece), None if counts is None else counts.tolist()
                start = stop
                chunk = min(chunk * 4, largest)

    def tables(self) -> list[pa.Table]:
        """The live rows of each run, repeated by multiplicity (rows of no positive count left out)."""
        out = []
        for run in self.runs:
            live = run.live_positions()
            if run.diffs is not None:
                counts = run.diffs if live is None else run.diffs[live]
                base = np.arange(len(run.hashes)) if live is None else live
                positive = counts > 0
                live = np.repeat(base[positive], counts[positive])
            out.append(run.table if live is None else run.table.take(pa.array(live)))
        return [t for t in out if t.num_rows]

    def nbytes(self) -> int:
        return sum(run.nbytes() for run in self.runs)


def _counts(run: Run) -> np.ndarray:
    return np.ones(len(run.hashes), dtype=np.int64) if run.diffs is None else run.diffs
