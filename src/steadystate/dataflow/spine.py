"""A columnar arrangement: a multiset of ``(key, row, diff)`` kept as consolidated, sorted runs of Arrow columns.

The row path keeps an operator's state as Python dicts of tuples — one object per input row, built at hydration.
A :class:`Spine` keeps the same multiset as a list of *runs*, each an Arrow table with columns ``k`` (int64),
``c0 … cN`` (the row) and ``diff`` (int64), that is

* **sorted** by ``k``, then by the spine's order (:class:`SortKey`: a row column, ascending or descending, NULLs
  first or last), then by every row column ascending with NULLs last (so the order is total over distinct rows and
  the same on every replica), and
* **consolidated**: each ``(k, row)`` at most once per run, never with a zero diff.

Runs are merged geometrically, as differential dataflow's spines merge batches: a new run is merged into the run
before it while it holds at least half as many rows, so the runs' sizes at least double from the newest to the
oldest, there are O(log n) of them and each update is merged O(log n) times.  A merge concatenates, sorts and
consolidates (:meth:`Spine.consolidate`): the order is encoded as per-column order-preserving int64 codes
(:meth:`Spine.sort_codes`: integers offset from their minimum, text ranked among its distinct values, booleans 0/1,
descending columns reversed, NULL a code at the end it sorts to), sorted by :func:`sorted_order` — the leading
codes packed into one word with each row's position in its low bits and ``numpy.sort``'ed (a value sort: several
times faster than ``argsort``, whose indirect accesses miss the cache once the rows outgrow it — 26× slower at 10M
rows than at 1M), the rows whose packed key ties re-sorted by the codes that did not fit — and equal neighbours'
diffs summed with ``numpy.add.reduceat`` (zero sums dropped).  No Python object is made per row.

**Keys.**  ``k`` is an int64 the caller gives each key: a key of any width and type (several columns, NULLs,
strings) is *interned* by :class:`KeyInterner` — a dict over the distinct keys, not the rows — so key equality is
Python's (the row path's), and a lookup of many keys at once is two ``numpy.searchsorted`` per run
(:meth:`Spine.ranges`).  :meth:`KeyInterner.intern_columns` interns the keys of Arrow columns without a Python
object per row (``dictionary_encode`` per column, the codes combined and ``numpy.unique``'d: only distinct keys
become Python values; one integer column of a span at most a few times its length is marked in a table of the
span instead of hashed, and an empty interner takes its distinct values in bulk, in ascending order).

**Types.**  The row columns must be of the Arrow types :data:`COLUMN_TYPES` lists (int64, string, bool: what
the engine's int2/int4/int8, text and bool carry, whose Python values round-trip exactly and whose Arrow order is
the row path's: integers numerically, text by code point = UTF-8 byte order, ``False < True``).  Other types
(floats, whose ``-0.0``/``NaN`` equality differs between Arrow and Python, numerics, dates, ...) are not encoded:
:func:`columnar_types` answers ``None`` for them and the operators keep their row path.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Row = tuple[Any, ...]

#: the Arrow types a spine's row columns may have
COLUMN_TYPES = (pa.int64(), pa.string(), pa.bool_())
#: every how many rows of a deferred run :meth:`Spine.candidates` samples for a first bound on the edge
_SAMPLE_STRIDE = 64


class SortKey(NamedTuple):
    """One column of a spine's order (after ``k``)."""

    column: int
    descending: bool = False
    nulls_last: bool = True


def columnar_types(names: Sequence[str | None]) -> list[pa.DataType] | None:
    """The Arrow types of columns named by engine type (``"int"``, ``"text"``, ``"bool"``), or ``None`` when one
    cannot be held in a spine."""
    table = {"int": pa.int64(), "text": pa.string(), "bool": pa.bool_()}
    out = [table.get(name) if name is not None else None for name in names]
    return None if any(t is None for t in out) else out  # type: ignore[return-value]


def normalized(column: Any, typ: pa.DataType) -> pa.ChunkedArray | pa.Array:
    """A stored column as the spine's type: narrowed integers widened, an all-NULL column typed."""
    if column.type == typ:
        return column
    return column.cast(typ)


class KeyInterner:
    """Keys (tuples of Python values) to int64 ids and back; ids are dense and never reused."""

    def __init__(self) -> None:
        self.ids: dict[Row, int] = {}
        self.keys: list[Row] = []

    def __len__(self) -> int:
        return len(self.keys)

    def intern(self, key: Row) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return found

    def find(self, key: Row) -> int | None:
        return self.ids.get(key)

    def intern_columns(self, columns: Sequence[Any], length: int) -> np.ndarray:
        """The ids of the keys formed by ``columns`` (Arrow arrays of equal length), row by row, as an int64 array;
        only the distinct keys become Python values."""
        if not columns:
            return np.full(length, self.intern(()), dtype=np.int64)
        if len(columns) == 1:  # the dictionary is the distinct keys already
            column = columns[0].combine_chunks() if isinstance(columns[0], pa.ChunkedArray) else columns[0]
            if pa.types.is_signed_integer(column.type) and length:
                out = self._intern_integers(column, length)
                if out is not None:
                    return out
            encoded = pc.dictionary_encode(column)
            dictionary = encoded.dictionary.to_pylist()
            ids = np.fromiter((self.intern((value,)) for value in dictionary), dtype=np.int64, count=len(dictionary))
            out = ids[pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)] if len(dictionary) else \
                np.zeros(length, dtype=np.int64)
            if encoded.indices.null_count:
                nulls = pc.is_null(encoded.indices).to_numpy(zero_copy_only=False)
                out = np.where(nulls, self.intern((None,)), out)
            return out.astype(np.int64, copy=False)
        indices: list[np.ndarray] = []
        dictionaries: list[list[Any]] = []
        for column in columns:
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            encoded = pc.dictionary_encode(column)
            dictionary = encoded.dictionary.to_pylist() + [None]  # NULL is the last code
            codes = pc.fill_null(encoded.indices, len(dictionary) - 1).to_numpy(zero_copy_only=False)
            indices.append(codes.astype(np.int64))
            dictionaries.append(dictionary)
        sizes = [len(d) for d in dictionaries]
        if float(np.prod(np.array(sizes, dtype=np.float64))) < 2**62:
            combined = np.zeros(length, dtype=np.int64)
            for codes, size in zip(indices, sizes):
                combined = combined * size + codes
            unique, inverse = np.unique(combined, return_inverse=True)
            parts = []
            for size in reversed(sizes):
                unique, part = np.divmod(unique, size)
                parts.append(part)
            distinct = np.stack(list(reversed(parts)), axis=1)
        else:
            distinct, inverse = np.unique(np.stack(indices, axis=1), axis=0, return_inverse=True)
        ids = np.fromiter((self.intern(tuple(d[i] for d, i in zip(dictionaries, codes)))
                           for codes in distinct.tolist()), dtype=np.int64, count=len(distinct))
        return ids[inverse.reshape(-1)]


    def _intern_integers(self, column: pa.Array, length: int) -> np.ndarray | None:
        """:meth:`intern_columns` of one integer column whose values span at most a few times ``length``: the
        distinct values found by marking a table of the span (no hashing), the new ones interned in bulk in
        ascending order (an empty interner's ids then sort as the values do), each row's id read from the table;
        ``None`` for a wider span."""
        valid = pc.is_valid(column).to_numpy(zero_copy_only=False) if column.null_count else None
        if valid is not None and not valid.any():
            return np.full(length, self.intern((None,)), dtype=np.int64)
        values = (pc.fill_null(column, 0) if valid is not None else column).to_numpy(zero_copy_only=False)
        present = values if valid is None else values[valid]
        low, high = int(present.min()), int(present.max())
        if high - low >= 4 * length + 1024:
            return None
        offsets = values.astype(np.int64) - low
        if valid is not None:
            offsets[~valid] = 0  # a NULL's filled value may lie outside the span; its id is set below
        seen = np.zeros(high - low + 1, dtype=bool)
        seen[offsets if valid is None else offsets[valid]] = True
        distinct = np.flatnonzero(seen)
        table = np.zeros(len(seen), dtype=np.int64)
        if not self.ids:
            start = len(self.keys)
            keys = [(value,) for value in (distinct + low).tolist()]
            self.keys.extend(keys)
            self.ids.update(zip(keys, range(start, start + len(keys))))
            table[distinct] = np.arange(start, start + len(keys), dtype=np.int64)
        else:
            intern = self.intern
            table[distinct] = np.fromiter((intern((value,)) for value in (distinct + low).tolist()), dtype=np.int64,
                                          count=len(distinct))
        out = table[offsets]
        if valid is not None:
            out = np.where(valid, out, self.intern((None,)))
        return out


class Spine:
    """The multiset; see the module docstring.  ``types`` are the row columns' Arrow types (:data:`COLUMN_TYPES`),
    ``order`` the sort after ``k``."""

    def __init__(self, types: Sequence[pa.DataType], order: Sequence[SortKey] = (), implied: Iterable[int] = ()) -> None:
        """``implied``: columns whose values ``k`` determines (a top-k's group key, which ``k`` interns): they are
        left out of the row tie-break (equal ``k``, equal values), which keeps the words fewer — often one word,
        sorted by ``argsort`` instead of ``lexsort``."""
        for typ in types:
            if typ not in COLUMN_TYPES:
                raise ValueError(f"a spine cannot hold a column of type {typ}")
        self.types = list(types)
        self.names = [f"c{i}" for i in range(len(types))]
        self.schema = pa.schema([("k", pa.int64()), *zip(self.names, self.types), ("diff", pa.int64())])
        self.order = tuple(order)
        self.implied = frozenset(implied)
        self._runs: list[pa.Table] = []
        self._keys: list[np.ndarray] = []  # each run's ``k`` column as numpy (for searchsorted)
        self._deferred: pa.Table | None = None  # the oldest run, not sorted yet (:meth:`defer`)
        self._deferred_key: int | None = None  # its rows' one group, when it holds the row columns only
        self.merges = 0

    def __len__(self) -> int:
        deferred = 0 if self._deferred is None else self._deferred.num_rows
        return deferred + sum(run.num_rows for run in self._runs)

    @property
    def runs(self) -> list[pa.Table]:
        """The runs, oldest (largest) first; a deferred run is sorted now."""
        self._settle_deferred()
        return self._runs

    def defer(self, table: pa.Table, key: int | None = None) -> None:
        """Take ``table`` (this spine's schema) as the oldest run of an empty spine without sorting it until a
        reader needs the runs or a merge reaches it — a hydration whose first output does not need the order
        (:meth:`candidates`) then does not pay for it.  With ``key``, ``table`` holds the row columns only
        (``c0 …``), every row once in group ``key``: the constant ``k`` and ``diff`` columns are added to the
        rows that need them (the candidates, or all of them when the run is sorted), not built for every row
        up front."""
        if len(self):
            raise ValueError("only an empty spine takes a deferred run")
        if key is None:
            self._deferred, self._deferred_key = table.cast(self.schema), None
        else:
            # kept as stored (narrow integers): widened only where rows are taken out (:meth:`_deferred_rows`)
            self._deferred, self._deferred_key = table.select(self.names), key

    def _deferred_rows(self, table: pa.Table) -> pa.Table:
        """Rows of the deferred run (or some of them) in this spine's schema."""
        if self._deferred_key is None:
            return table
        n = table.num_rows
        columns = [normalized(column, typ) for column, typ in zip(table.columns, self.types)]
        return pa.Table.from_arrays([pa.array(np.full(n, self._deferred_key, dtype=np.int64)), *columns,
                                     pa.array(np.ones(n, dtype=np.int64))], schema=self.schema)

    def candidates(self, count: int) -> pa.Table | None:
        """Of a deferred run with one group (``k``) whose order packs into one word: the rows that can be among
        the first ``count`` (every row whose word is at most the ``count``-th smallest; copies included), found by
        ``numpy.partition`` without sorting; ``None`` otherwise."""
        table = self._deferred
        if table is None or self._runs:
            return None
        if self.order and count < table.num_rows:
            # first by the leading order column alone: a row whose code is above the ``count``-th smallest has
            # ``count`` rows before it whatever the other columns say (the rest are then coded on what is left)
            first = self.order[0]
            column = table.column(self.names[first.column])
            if column.null_count == 0 and pa.types.is_integer(column.type):
                # every row up to the ``count``-th value of a strided sample (ties kept): the sample's ``count``-th
                # largest (smallest) is at most (least) the whole column's, so no row that can be among the first
                # ``count`` is left out, and about ``count × stride`` rows are kept: found without copying the
                # column (``numpy.partition`` of it would), the exact edge is the small remainder's (below)
                values = column.to_numpy()
                sample = values[::_SAMPLE_STRIDE] if len(values) >= count * _SAMPLE_STRIDE else values
                m = len(sample)
                if first.descending:
                    edge = np.partition(sample, m - count)[m - count]
                    table = table.filter(pa.array(values >= edge))
                else:
                    edge = np.partition(sample, count - 1)[count - 1]
                    table = table.filter(pa.array(values <= edge))
            elif column.null_count == 0 and pa.types.is_string(column.type):
                # Arrow's own top-k (no copy into NumPy): the ``count``-th value, then every row up to it (ties)
                top = pc.select_k_unstable(pa.table({"v": column}), count,
                                           [("v", "descending" if first.descending else "ascending")])
                values = column.take(top)
                if first.descending:
                    table = table.filter(pc.greater_equal(column, pc.min(values)))
                else:
                    table = table.filter(pc.less_equal(column, pc.max(values)))
            else:
                codes = _codes(normalized(column, self.types[first.column]), first.descending, first.nulls_last)
                if len(codes) == 1:
                    code = codes[0][0]
                    edge = np.partition(code, count - 1)[count - 1]
                    table = table.filter(pa.array(code <= edge))
        table = self._deferred_rows(table)
        words = self.sort_words(table)
        if len(words) != 1:
            return None
        (word,) = words
        if count < len(word):
            edge = np.partition(word, count - 1)[count - 1]
            table = table.filter(pa.array(word <= edge))
        return table

    def _settle_deferred(self) -> None:
        if self._deferred is not None:
            deferred, self._deferred = self._deferred_rows(self._deferred), None
            self._deferred_key = None
            run = self.consolidate(deferred)
            if run.num_rows:
                self._runs.insert(0, run)
                self._keys.insert(0, run.column("k").to_numpy())

    # -- building runs -----------------------------------------------------------------------------------

    def table_of(self, keys: Sequence[int] | np.ndarray, rows: Sequence[Row], diffs: Sequence[int]) -> pa.Table:
        """Python rows as a table of this spine's schema (not consolidated)."""
        columns = [pa.array(list(column), type=typ) for column, typ in zip(zip(*rows), self.types)] if rows else \
            [pa.array([], type=typ) for typ in self.types]
        return pa.Table.from_arrays([pa.array(np.asarray(keys, dtype=np.int64)), *columns,
                                     pa.array(np.asarray(diffs, dtype=np.int64))], schema=self.schema)

    def insert_rows(self, keys: Sequence[int] | np.ndarray, rows: Sequence[Row], diffs: Sequence[int]) -> None:
        if rows:
            self.insert(self.table_of(keys, rows, diffs))

    def insert(self, table: pa.Table, ones: bool = False) -> None:
        """Add ``table`` (this spine's schema, any order, possibly unconsolidated) as a new run, merging
        geometrically; ``ones``: every diff is 1 (a snapshot's rows)."""
        run = self.consolidate(table, ones)
        if run.num_rows == 0:
            return
        self._push(run)

    def _push(self, run: pa.Table) -> None:
        while True:
            if not self._runs:
                if self._deferred is None or 2 * run.num_rows < self._deferred.num_rows:
                    break
                self._settle_deferred()  # the merge reaches the deferred run: sort it now
                if not self._runs:
                    continue
            if 2 * run.num_rows < self._runs[-1].num_rows:
                break
            previous = self._runs.pop()
            self._keys.pop()
            run = self.consolidate(pa.concat_tables([previous, run]))
            self.merges += 1
        if run.num_rows:
            self._runs.append(run)
            self._keys.append(run.column("k").to_numpy())

    def consolidate(self, table: pa.Table, ones: bool = False) -> pa.Table:
        """``table`` consolidated and sorted (equal ``(k, row)`` summed, zeros dropped): one sort of the encoded
        order (:func:`sorted_order`), then equal neighbours summed with ``numpy.add.reduceat``.  With ``ones``
        (every diff 1) the sums are the lengths of the runs of equal rows, the diffs not read."""
        table = table.cast(self.schema)
        n = table.num_rows
        if n <= 1:
            return table.filter(pc.not_equal(table.column("diff"), 0)) if n else table
        perm, new = sorted_order(self.sort_codes(table), n)
        starts = np.flatnonzero(new)
        if ones:
            return self._gathered(table, perm, starts, np.diff(np.append(starts, n)))
        diffs = table.column("diff").to_numpy()[perm]
        sums = np.add.reduceat(diffs, starts)
        kept = sums != 0
        out = table.take(pa.array(perm[starts[kept]]))
        return out.set_column(out.num_columns - 1, "diff", pa.array(sums[kept], type=pa.int64()))

    def _gathered(self, table: pa.Table, perm: np.ndarray, starts: np.ndarray, diffs: np.ndarray) -> pa.Table:
        """The rows ``perm[starts]`` of ``table`` (sorted by ``k`` first) with ``diffs``.  A row gather misses the
        cache on every row once the table outgrows it, so the columns that need none are made without one: ``k``
        (dense ids) is its sorted values repeated by their counts (``numpy.bincount``), and a non-NULL int64 column
        ``k`` implies is read per row from a table of its value per ``k``."""
        k = table.column("k").to_numpy()
        low, high = int(k.min()), int(k.max())
        if high - low > 2 * len(k):
            out = table.drop_columns(["diff"]).take(pa.array(perm[starts]))
            return out.append_column("diff", pa.array(diffs))
        offsets = k - low
        ordered = np.repeat(np.arange(high - low + 1, dtype=np.int64), np.bincount(offsets, minlength=high - low + 1))
        every = len(starts) == len(k)  # no row twice: every row kept, in ``perm``'s order
        sorted_k = ordered if every else ordered[starts]  # offsets of the kept rows' ``k``
        positions = pa.array(perm if every else perm[starts])
        columns = []
        for i, name in enumerate(self.names):
            column = table.column(name)
            if i in self.implied and column.type == pa.int64() and column.null_count == 0:
                per_key = np.zeros(high - low + 1, dtype=np.int64)
                per_key[offsets] = column.to_numpy()
                columns.append(pa.array(per_key[sorted_k]))
            else:
                columns.append(column.take(positions))
        sorted_k += low  # ``ordered`` (maybe ``sorted_k`` itself) is not read again
        return pa.Table.from_arrays([pa.array(sorted_k), *columns, pa.array(diffs)], schema=self.schema)

    def sort_indices(self, table: pa.Table) -> np.ndarray:
        """The permutation that sorts ``table`` by ``k``, the spine's order and the row tie-break."""
        return sorted_order(self.sort_codes(table), table.num_rows)[0] if table.num_rows > 1 else \
            np.arange(table.num_rows)

    def sort_codes(self, table: pa.Table) -> list[tuple[np.ndarray, int]]:
        """The order as per-column codes, most significant first, with how many codes each has (see
        :meth:`sort_words`)."""
        in_order = {s.column for s in self.order}
        specs = [(s.column, s.descending, s.nulls_last) for s in self.order]
        specs += [(i, False, True) for i in range(len(self.names)) if i not in in_order and i not in self.implied]
        codes = _codes(table.column("k"), False, True)
        for column, descending, nulls_last in specs:
            codes += _codes(table.column(self.names[column]), descending, nulls_last)
        return codes

    def sort_words(self, table: pa.Table) -> list[np.ndarray]:
        """The order as int64 *words*, most significant first, compared lexicographically: each column becomes
        order-preserving codes (integers offset from their minimum, text by its rank among the distinct values,
        booleans 0/1; a descending column's codes reversed; NULL a code of its own at the end it sorts to), and
        the codes are packed into as few words as their ranges allow.  Equal words mean equal ``(k, row)``."""
        return _packed(self.sort_codes(table), table.num_rows)

    # -- reading ------------------------------------------------------------------------------------------

    def ranges(self, keys: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per run, the ``[lo, hi)`` row ranges of the sorted int64 ``keys`` (two searchsorted per run)."""
        self._settle_deferred()
        return [(np.searchsorted(k, keys, "left"), np.searchsorted(k, keys, "right")) for k in self._keys]

    def lookup(self, keys: Iterable[int]) -> dict[int, dict[Row, int]]:
        """``{key: {row: count}}`` for many keys at once (keys absent from the spine map to ``{}``)."""
        wanted = np.unique(np.fromiter(keys, dtype=np.int64))
        out: dict[int, dict[Row, int]] = {int(k): {} for k in wanted}
        for run, (lo, hi) in zip(self.runs, self.ranges(wanted)):
            positions = gather(lo, hi)
            if not len(positions):
                continue
            part = run.take(pa.array(positions))
            ks = part.column("k").to_pylist()
            diffs = part.column("diff").to_pylist()
            rows = zip(*(part.column(name).to_pylist() for name in self.names)) if self.names else \
                iter([()] * part.num_rows)
            for k, row, diff in zip(ks, rows, diffs):
                counts = out[k]
                total = counts.get(row, 0) + diff
                if total:
                    counts[row] = total
                else:
                    del counts[row]
        return out

    def contents(self) -> dict[tuple[int, Row], int]:
        """Everything, consolidated across runs (tests, debugging)."""
        if not self.runs:
            return {}
        table = self.consolidate(pa.concat_tables(self.runs))
        rows = zip(*(table.column(name).to_pylist() for name in self.names)) if self.names else \
            iter([()] * table.num_rows)
        return {(k, row): d for k, row, d in zip(table.column("k").to_pylist(), rows, table.column("diff").to_pylist())}


def _argsort(words: list[np.ndarray]) -> np.ndarray:
    if len(words) == 1:
        return np.argsort(words[0])
    return np.lexsort(words[::-1])


def _packed(codes: list[tuple[np.ndarray, int]], n: int) -> list[np.ndarray]:
    """Codes packed into as few int64 words as their ranges allow (each word's span below 2**62)."""
    words: list[np.ndarray] = []
    word, span = None, 1
    for code, size in codes:
        if size <= 1:
            continue
        if word is None or span * size >= 2**62:
            if word is not None:
                words.append(word)
            word, span = code, size
        else:
            word, span = word * size + code, span * size
    if word is not None:
        words.append(word)
    return words or [np.zeros(n, dtype=np.int64)]


def sorted_order(codes: list[tuple[np.ndarray, int]], n: int, lead: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The stable permutation sorting ``n`` rows by ``codes`` (``(non-negative int64 codes, how many)``, most
    significant first, as :meth:`Spine.sort_codes` gives them), and per sorted row whether it differs from the one
    before it (the first row does).

    NumPy sorts values several times faster than it argsorts them (SIMD, no indirection), so the leading codes
    are packed into one word together with the row's position in its low bits and ``numpy.sort``'ed; the position
    comes back out of the low bits.  What did not fit beside the position is needed only where the packed key
    ties: those rows alone are sorted again, by (their tie's rank, the remaining codes), the same way.  When not
    even one code fits (``lead``: codes that are the tie ranks of the level above, which do not count), the codes
    are packed into words and sorted by ``numpy.argsort``/``lexsort``."""
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    shift = max((n - 1).bit_length(), 1)
    room = 2 ** (63 - shift)
    key: np.ndarray | None = None
    span, used, progress = 1, 0, 0
    for code, size in codes:
        if size > 1:
            if span * size > room:
                break
            key = code if key is None else key * size + code
            span *= size
            progress += used >= lead
        used += 1
    rest = [(code, size) for code, size in codes[used:] if size > 1]
    if rest and not progress:  # nothing packs beside the position (and the tie ranks): sort words
        words = _packed(codes, n)
        perm = _argsort(words)
        new = np.zeros(n, dtype=bool)
        new[0] = True
        for word in words:
            ordered = word[perm]
            new[1:] |= ordered[1:] != ordered[:-1]
        return perm, new
    if key is None:  # every code constant
        new = np.zeros(n, dtype=bool)
        new[:1] = True
        return np.arange(n, dtype=np.int64), new
    packed = key << shift
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()  # in place: one 8-byte array fewer at the peak
    perm = packed & ((1 << shift) - 1)
    packed >>= shift
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(packed[1:], packed[:-1], out=new[1:])
    if not rest:
        return perm, new
    tied = np.zeros(n, dtype=bool)
    tied[1:] = ~new[1:]
    tied[:-1] |= tied[1:].copy()
    where = np.flatnonzero(tied)
    if not len(where):
        return perm, new
    rank = np.cumsum(new[where]) - 1  # the tie each tied row is in, in sorted order
    rows = perm[where]
    sub_perm, sub_new = sorted_order([(rank, int(rank[-1]) + 1), *((code[rows], size) for code, size in rest)],
                                     len(where), lead=1)
    perm[where] = rows[sub_perm]
    new[where] = sub_new
    return perm, new


def _codes(column: Any, descending: bool, nulls_last: bool) -> list[tuple[np.ndarray, int]]:
    """Order-preserving int64 codes of a column, with how many codes there are (see :meth:`Spine.sort_words`):
    one code, or for integers too wide to offset a NULL flag and the values themselves."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False) if column.null_count else None
    if pa.types.is_string(column.type):
        encoded = pc.dictionary_encode(column)
        dictionary = encoded.dictionary
        rank = np.empty(len(dictionary), dtype=np.int64)
        rank[pc.array_sort_indices(dictionary).to_numpy()] = np.arange(len(dictionary))
        indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        code, size = (rank[indices] if len(dictionary) else np.zeros(n, dtype=np.int64)), max(len(dictionary), 1)
    else:
        values = pc.fill_null(column, False if pa.types.is_boolean(column.type) else 0) if valid is not None \
            else column
        raw = values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        low, high = (int(raw.min()), int(raw.max())) if n else (0, 0)
        if high - low >= 2**61:  # too wide to offset: the values are their own word
            word = ~raw if descending else raw
            if valid is None:
                return [(word, 2**63)]
            flag = (~valid).astype(np.int64) if nulls_last else valid.astype(np.int64)
            return [(flag, 2), (np.where(valid, word, 0), 2**63)]
        # one pass: a descending column's reversed code ``size - 1 - (raw - low)`` is ``high - raw``
        code, size = (high - raw) if descending else (raw - low), high - low + 1
        descending = False
    if descending:
        code = size - 1 - code
    if valid is not None:
        code = np.where(valid, code, size) if nulls_last else np.where(valid, code + 1, 0)
        size += 1
    return [(code, size)]


def gather(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(lo[i], hi[i])`` for every ``i`` (empty ranges allowed), vectorized."""
    lengths = np.maximum(hi - lo, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return starts + np.arange(total, dtype=np.int64)


__all__ = ["COLUMN_TYPES", "KeyInterner", "SortKey", "Spine", "columnar_types", "gather", "normalized", "sorted_order"]
