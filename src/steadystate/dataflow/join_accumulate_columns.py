"""A join-accumulate's A delta folded into its groups as columns, against B's rows still in B's snapshot table.

``JoinAccumulate`` (``dataflow.join_accumulate``) folds each A update ``(row, diff)`` into ``P[k]`` and into the
group of every B row of key *k*: per update a key, a contribution, a lookup of B's rows and one accumulator update
per grouping set (three for a ``ROLLUP (region, tier)``, ``dataflow.accumulate_cohort``).  B hydrated from columns
is a ``LazyArranged``: its rows stay in a key-sorted Arrow table until a delta reads a key, so the row fold first
turns every key a delta reads into a dict of tuples (one Arrow ``take`` and ``to_pylist`` per batch).  For a fact
table's batch of changes spread over a dimension's keys, that materialisation and the per-row group updates were
most of a batch's cost.

:func:`fold_into_groups` does that fold for the updates whose key's rows are still only in B's table, unchanged
(``LazyArranged.table_spans``), without materialising them: the updates' keys are found among the table's
sorted keys at once (``columns.SortedKeys``: a direct map for dense keys, else a binary search), the
contributions (``c0`` the row count, then the slots of each accumulator) computed as int64 arrays and multiplied
by the counts of the B rows they meet, and summed per group of each grouping set over *group codes*: each set's
columns of B's table dictionary-encoded once (cached on the ``LazyArranged``, :func:`_codes_of`) into
mixed-radix int64 codes, the met rows' codes sorted and the contributions summed by ``np.add.reduceat``.  The
Python work is per *group*: each touched group's values decoded from the dictionaries and its accumulator list
given its sums, exactly what adding the updates one by one leaves (integer addition is exact and commutative).
The same contributions go into ``P`` in place where ``P`` is a :class:`LazyPartial` holding the key in its
columns (:meth:`LazyPartial.add_columns`); the caller folds the rest of them into ``P`` by the row fold that
reads no B (``fold_a_alone``), and gives the other updates — keys already materialised, absent from B's table,
NULL, or with changes kept aside — to the row fold.

It applies only where it is exact, and otherwise returns ``None`` before changing anything, leaving the whole
delta to the row fold: a delta of at least :data:`VECTOR_ROWS` updates; one join column, whose values are ints
or NULL (NULL never matches, such updates go to the row fold, which skips them); accumulations that are counts
or sums of ints (``count``, ``sum``, ``avg`` over integers: their slots are ``v × diff`` and ``diff``); summed
values all ints or NULL; sums that cannot leave int64 (checked from the extremes before anything is added);
B's key one int64 column (``SortedSpans``) and its group columns exact (``columns.exact_type``: Arrow's
dictionary encoding tells their values apart as Python's equality does); group codes within int64.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

from steadystate.dataflow.accumulate import Accumulation, Accumulator, width_of
from steadystate.dataflow.collection import OkDelta
from steadystate.dataflow.columns import SortedKeys, exact_type
from steadystate.dataflow.lazy_arranged import LazyArranged, MaterializingDict

#: From this many A updates on, a delta's B side is folded as columns (below it, the row fold's per-update cost
#: is less than the few NumPy and Arrow calls a batch costs)
VECTOR_ROWS = 64

#: Accumulations whose slots, for an int value ``v`` (or NULL) and multiplicity ``diff``, are ``v × diff`` and
#: ``diff`` (or 0 and 0), or a count: the emitted value (an int, a ``Decimal``, a mean) is made from the slots later
_KINDS = frozenset({Accumulation.ROWS, Accumulation.NON_NULL, Accumulation.SUM, Accumulation.SUM_DECIMAL,
                    Accumulation.MEAN_DECIMAL})

_NONE = type(None)
_INT64 = 2 ** 63


def fold_into_groups(state: Any, partial: Any, a_column: int, a_ok: OkDelta, accumulators: Sequence[Accumulator],
                     group_sets: Sequence[Sequence[int]], groups: Sequence[dict[tuple, list[Any]]],
                     touched: Sequence[set[tuple]]) -> tuple[list[tuple[tuple, int]], OkDelta] | None:
    """Fold the updates of ``a_ok`` (A's rows, joined on column ``a_column``) whose key's rows are still only in
    ``state``'s table into ``groups[j]`` (and ``touched[j]``), for each grouping set ``group_sets[j]`` (columns of
    B's rows), and into ``partial`` where it is a :class:`LazyPartial` holding their keys in its columns.  Returns
    the folded updates ``P`` still has to take by the row fold (``fold_a_alone``) and the updates left to the
    row fold, or ``None`` — nothing changed — where the module docstring's conditions do not hold."""
    if type(state) is not LazyArranged or len(a_ok) < VECTOR_ROWS or state.table is None \
            or any(a.kind not in _KINDS for a in accumulators):
        return None
    import numpy as np

    rows = list(a_ok)
    keys = [row[a_column] for row in rows]
    if not set(map(type, keys)) <= {int, _NONE}:
        return None
    try:
        if None in keys:
            present = np.array([key is not None for key in keys])
            values = np.array([0 if key is None else key for key in keys], dtype=np.int64)
        else:
            present = None
            values = np.array(keys, dtype=np.int64)
        diff_list = list(a_ok.values())
        diffs = np.array(diff_list, dtype=np.int64)
    except OverflowError:
        return None
    spans = state.table_spans(values)
    if spans is None:
        return None
    found, lows, highs = spans
    if present is not None:
        found &= present
    hit = np.flatnonzero(found)
    if not len(hit):
        return None
    every = len(hit) == len(rows)
    hit_rows = rows if every else [rows[i] for i in hit.tolist()]
    contributions = _contributions(hit_rows, diffs if every else diffs[hit], accumulators)
    if contributions is None:
        return None
    folded = _group_sums(state, lows[hit], highs[hit], contributions, group_sets)
    if folded is None:
        return None
    width = width_of(accumulators)
    for sums, into, marked in zip(folded, groups, touched):
        get = into.get
        for group, slots in sums:
            out = get(group)
            if out is None:
                out = into[group] = [0] * width + [None]
            for i, value in enumerate(slots):
                out[i] += value
            marked.add(group)
    taken = partial.add_columns(values[hit], contributions) if type(partial) is LazyPartial else None
    if taken is None:
        for_partial = [(row, a_ok[row]) for row in hit_rows]
    else:
        for_partial = [(hit_rows[n], a_ok[hit_rows[n]]) for n in np.flatnonzero(~taken).tolist()]
    if every:
        return for_partial, {}
    miss = np.flatnonzero(~found).tolist()
    return for_partial, dict(zip([rows[i] for i in miss], [diff_list[i] for i in miss]))


def _contributions(rows: list[tuple], diffs: Any, accumulators: Sequence[Accumulator]) -> list[Any] | None:
    """The slots ``c0 … c{width-1}`` each of ``rows`` (with multiplicity ``diffs``) adds, as int64 arrays (the
    row fold's ``accumulate.contribution_source``); ``None`` when a value is not an int or NULL, or a product
    could leave int64."""
    import numpy as np

    slots: list[Any] = [diffs]
    largest = _extreme(diffs)
    for accumulator in accumulators:
        if accumulator.kind is Accumulation.ROWS:
            slots.append(diffs)
            continue
        assert accumulator.column is not None
        read = [row[accumulator.column] for row in rows]
        kinds = set(map(type, read))
        if not kinds <= {int, _NONE}:
            return None
        non_null = diffs
        if _NONE in kinds:
            valid = np.array([value is not None for value in read])
            read = [0 if value is None else value for value in read]
            non_null = np.where(valid, diffs, 0)
        if accumulator.kind is Accumulation.NON_NULL:
            slots.append(non_null)
            continue
        try:
            value = np.array(read, dtype=np.int64)
        except OverflowError:
            return None
        if _extreme(value) * largest >= _INT64:
            return None
        slots += [value * diffs, non_null]
    return slots


def _group_sums(state: LazyArranged, lows: Any, highs: Any, contributions: list[Any],
                group_sets: Sequence[Sequence[int]]) -> list[list[tuple[tuple, list[int]]]] | None:
    """Per grouping set, ``(group, slot sums)`` of the contributions (one per update) met with the B rows at
    ``lows[n] … highs[n]`` of ``state``'s table (each times its count), summed per group code
    (:func:`_codes_of`); ``None`` when a group column or a sum does not allow it."""
    import numpy as np

    lengths = highs - lows
    if bool((lengths == 1).all()):  # a dimension keyed by its primary key: one B row per update
        at, positions = None, lows
    else:
        offsets = np.cumsum(lengths) - lengths
        at = np.repeat(np.arange(len(lows), dtype=np.int64), lengths)
        positions = np.repeat(lows - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
    codes = [_codes_of(state, tuple(dict.fromkeys(group))) if group else None for group in group_sets]
    if any(group and found is None for group, found in zip(group_sets, codes)):
        return None
    counts = _derived(state, "counts")[positions]
    if max(map(_extreme, contributions)) * _extreme(counts) * max(len(counts), 1) >= _INT64:
        return None
    if at is None and bool((counts == 1).all()):
        stacked = np.stack(contributions)
    else:
        stacked = np.stack([(slot if at is None else slot[at]) * counts for slot in contributions])
    out: list[list[tuple[tuple, list[int]]]] = []
    for group, found in zip(group_sets, codes):
        if found is None:
            out.append([((), stacked.sum(axis=1).tolist())])
            continue
        coded, columns = found
        code = coded[positions]
        order = np.argsort(code, kind="stable")
        code = code[order]
        starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
        sums = np.add.reduceat(stacked[:, order], starts, axis=1).T.tolist()
        values: dict[int, list[Any]] = {}
        for c, (dictionary, stride) in columns.items():
            size = len(dictionary)
            values[c] = [dictionary[(n // stride) % size] for n in code[starts].tolist()]
        out.append(list(zip(zip(*(values[c] for c in group)), sums)))
    return out


def _derived(state: LazyArranged, name: Any, build: Any = None) -> Any:
    """What is computed once from ``state``'s table (which never changes; a new one starts afresh): its counts
    (``"counts"``) or ``build(table)``."""
    cache = state.derived
    if cache.get("table") is not state.table:
        cache.clear()
        cache["table"] = state.table
    if name not in cache:
        table = state.table
        cache[name] = table.column(table.num_columns - 1).to_numpy() if build is None else build(table)
    return cache[name]


def _codes_of(state: LazyArranged, columns: tuple[int, ...]) -> tuple[Any, dict[int, tuple[list[Any], int]]] | None:
    """Per row of ``state``'s table, the code of its values of ``columns`` (mixed-radix over each column's
    dictionary: code ``n`` has column ``c``'s value ``dictionary[(n // stride) % len(dictionary)]``), with the
    dictionaries and strides; ``None`` when a column is not exact or the codes could leave int64."""
    def build(table: Any) -> tuple[Any, dict[int, tuple[list[Any], int]]] | None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        codes = np.zeros(table.num_rows, dtype=np.int64)
        found: dict[int, tuple[list[Any], int]] = {}
        stride = 1
        for c in columns:
            typ = table.schema.field(c).type
            if c >= table.num_columns - 1 or not exact_type(typ) or pa.types.is_null(typ):
                return None
            column = table.column(c)
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            try:
                encoded = pc.dictionary_encode(column, null_encoding="encode")
            except pa.ArrowException:  # a type Arrow does not encode: the row fold
                return None
            dictionary = encoded.dictionary.to_pylist()
            if stride * max(len(dictionary), 1) >= 2 ** 62:
                return None
            codes += encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64) * stride
            found[c] = (dictionary, stride)
            stride *= max(len(dictionary), 1)
        return codes, found

    return _derived(state, ("codes", columns), build)  # type: ignore[no-any-return]


def _extreme(values: Any) -> int:
    """The largest absolute value of an int64 array, as a Python int (0 for none)."""
    return max(abs(int(values.min())), abs(int(values.max()))) if len(values) else 0


class LazyPartial(MaterializingDict):
    """The partial sums ``P`` of A's snapshot folded from columns (one integer join key), kept as the sorted Arrow
    table ``sums_from_columns`` made (``k0``, ``s0 …``) and NumPy copies of its columns: a key's accumulator list
    becomes a dict entry the first time a delta touches it (its position found by ``searchsorted``; a delta's keys
    at once by :meth:`load_many`).  Hydration then builds no Python object per key, and the branches of a
    ``ROLLUP`` each take a copy that costs a bitmap, not the lists.

    ``fold_a``/``fold_b`` read it through ``get`` (or :meth:`plain_get` after :meth:`load_many`), item assignment
    and deletion; any other read (iteration, ``values``) materialises every key first, so it is the full dict.
    A delta folded as columns (:func:`fold_into_groups`) adds into the columns in place (:meth:`add_columns`):
    its keys are not materialised at all (the columns are then this ``P``'s own copy, and ``table`` is stale)."""

    def __init__(self, table: Any, keys: Any, slots: list[Any], finder: SortedKeys | None = None) -> None:
        import numpy as np

        super().__init__()
        self.table = table
        self._keys = keys  # sorted, distinct int64
        self._finder = finder if finder is not None else SortedKeys(keys)  # many keys' positions at once
        self._slots = slots
        self._taken = np.zeros(len(keys), dtype=bool)  # materialised (or since deleted): no longer in the table
        self._pending = len(keys)
        self._owned = False  # whether ``_slots`` are this P's own (changed in place) rather than shared copies

    @staticmethod
    def of(table: Any) -> "LazyPartial | None":
        """The lazy ``P`` of a sums table whose one key column is int64 without NULLs; ``None`` otherwise."""
        import numpy as np
        import pyarrow as pa

        if table.num_columns < 2 or table.column_names[0] != "k0" or table.column("k0").type != pa.int64() \
                or table.column("k0").null_count or table.num_rows == 0:
            return None
        keys = table.column("k0").to_numpy()
        if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):  # the hash grouping's order: sort
            order = np.argsort(keys, kind="stable")
            table = table.take(pa.array(order))
            keys = keys[order]
        slots = [table.column(name).to_numpy() for name in table.column_names[1:]]
        return LazyPartial(table, keys, slots)

    @property
    def pending(self) -> bool:
        """Whether some keys are still only in the table."""
        return self._pending > 0

    def _position(self, key: Any) -> int | None:
        if len(key) != 1 or type(key[0]) is not int or not -2 ** 63 <= key[0] < 2 ** 63:
            return None
        import numpy as np

        at = int(np.searchsorted(self._keys, key[0]))
        if at < len(self._keys) and self._keys[at] == key[0] and not self._taken[at]:
            return at
        return None

    def get(self, key: Any, default: Any = None) -> Any:
        found = dict.get(self, key)
        if found is not None or not self._pending:
            return default if found is None else found
        at = self._position(key)
        if at is None:
            return default
        self._taken[at] = True
        self._pending -= 1
        slots = [int(column[at]) for column in self._slots]
        dict.__setitem__(self, key, slots)
        return slots

    def load_many(self, keys: list[tuple]) -> None:
        """Materialise the entries of ``keys`` still in the table, at once; afterwards each of them is a plain dict
        entry or absent (:meth:`plain_get`)."""
        import numpy as np

        try:  # a delta's keys of an integer column: ints, or NULLs (never matched)
            wanted = np.array([key for (key,) in keys], dtype=np.int64)
        except (TypeError, OverflowError, ValueError):
            wanted = np.fromiter((key[0] for key in keys if len(key) == 1 and type(key[0]) is int
                                  and -2 ** 63 <= key[0] < 2 ** 63), dtype=np.int64)
        if not len(wanted):
            return
        at = self._finder.find(wanted)
        at = at[at >= 0]
        at = np.unique(at[~self._taken[at]])
        if not len(at):
            return
        self._taken[at] = True
        self._pending -= len(at)
        dict.update(self, zip(zip(self._keys[at].tolist()), map(list, zip(*(c[at].tolist() for c in self._slots)))))

    def plain_get(self) -> Callable[[Any], Any]:
        """``dict.get`` of the materialised entries only (see :meth:`LazyArranged.plain_get`)."""
        return dict.get.__get__(self, LazyPartial)  # type: ignore[attr-defined,no-any-return]

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._pending:
            at = self._position(key)
            if at is not None:  # replaced before it was read: the table's entry is gone
                self._taken[at] = True
                self._pending -= 1
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self.get(key)
        dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (self._pending > 0 and self._position(key) is not None)

    def __len__(self) -> int:
        return dict.__len__(self) + self._pending

    def __bool__(self) -> bool:
        return len(self) > 0

    def materialize(self) -> None:
        import numpy as np

        if self._pending:
            self.load_many([(key,) for key in self._keys[np.flatnonzero(~self._taken)].tolist()])

    def add_columns(self, keys: Any, contributions: list[Any]) -> Any:
        """Add ``contributions[j][n]`` (int64 arrays, one per slot) to slot ``j`` of key ``keys[n]`` (int64) for the
        keys still only in the columns, in place; returns which of ``keys`` were (the others are left to the row
        fold).  A key whose slots all end at zero is gone, as the row fold deletes it; nothing is added when a
        slot could leave int64."""
        import numpy as np

        found = np.zeros(len(keys), dtype=bool)
        if not self._pending or not len(keys):
            return found
        at = self._finder.find(keys)
        found = at >= 0
        at = np.where(found, at, 0)
        found &= ~self._taken[at]
        if not found.any():
            return found
        where, inverse = np.unique(at[found], return_inverse=True)
        sums = []
        for contribution in contributions:
            chosen = contribution[found]
            if _extreme(chosen) * len(chosen) >= _INT64:
                return np.zeros(len(keys), dtype=bool)
            total = np.zeros(len(where), dtype=np.int64)
            np.add.at(total, inverse, chosen)
            sums.append(total)
        if any(_extreme(column[where]) + _extreme(total) >= _INT64 for column, total in zip(self._slots, sums)):
            return np.zeros(len(keys), dtype=bool)
        if not self._owned:  # the columns may be shared with the branches' copies, or read-only views of Arrow's
            self._slots = [np.array(column, dtype=np.int64) for column in self._slots]
            self._owned = True
        zero = np.ones(len(where), dtype=bool)
        for column, total in zip(self._slots, sums):
            column[where] += total
            zero &= column[where] == 0
        gone = where[zero]
        if len(gone):
            self._taken[gone] = True
            self._pending -= len(gone)
        return found

    def unused_copy(self) -> "LazyPartial":
        """Another ``P`` over the same (immutable) columns, for a second operator to own; only while untouched."""
        if dict.__len__(self) or self._pending != len(self._keys) or self._owned:
            raise ValueError("only an untouched partial is copied")
        return LazyPartial(self.table, self._keys, self._slots, self._finder)

    def size_bytes(self) -> int:
        """Approximate memory: the table and its NumPy copies, and the materialised entries (sampled)."""
        size = 2 * self.table.nbytes + len(self._keys)
        if dict.__len__(self):
            key, acc = next(iter(dict.items(self)))
            entry = sys.getsizeof(key) + sum(sys.getsizeof(v) for v in key) + sys.getsizeof(acc) + 100
            size += entry * dict.__len__(self)
        return size


__all__ = ["LazyPartial", "VECTOR_ROWS", "fold_into_groups"]
