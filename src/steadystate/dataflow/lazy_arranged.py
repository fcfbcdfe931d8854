"""A join side's arrangement ``key → {row: count}`` hydrated from Arrow columns, rows made per key when used.

:func:`arranged` consolidates a snapshot's table and sorts it by key (``dataflow.columns.consolidated_sorted``),
keeping one span of positions per distinct key; :class:`LazyArranged` is the dict the join reads, which turns a
key's span into rows the first time the key is looked up or changed (``get``, item assignment and deletion) and
every key at once only for a full read.  :func:`arranged_later` leaves the table unsorted until the first lookup,
for a join side that only a new key of the other side reads (a decorrelated ``LATERAL``'s rows).  Hydration thus
builds one Python object per key, and rows only for the keys later deltas touch.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Callable, Iterator, Sequence

from steadystate.dataflow.arrangement import state_size_bytes
from steadystate.dataflow.columns import consolidated_sorted, key_starts

Row = tuple[Any, ...]


def _arrow() -> Any:
    import pyarrow  # imported when first needed, as dataflow.columns does

    return pyarrow


class MaterializingDict(dict):  # type: ignore[type-arg]
    """A dict some of whose entries are still elsewhere (an Arrow table): every full read (iteration, ``keys``,
    ``values``, ``items``, equality) first brings them all in with :meth:`materialize`."""

    def materialize(self) -> None:
        raise NotImplementedError

    def __iter__(self) -> Any:
        self.materialize()
        return dict.__iter__(self)

    def keys(self) -> Any:
        self.materialize()
        return dict.keys(self)

    def values(self) -> Any:
        self.materialize()
        return dict.values(self)

    def items(self) -> Any:
        self.materialize()
        return dict.items(self)

    def __eq__(self, other: object) -> bool:
        self.materialize()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


class LazyArranged(MaterializingDict):
    """A join side's ``key → {row: count}`` hydrated from columns: the keys looked up or changed so far are a plain
    dict; the others stay in the consolidated, key-sorted Arrow table (``spans``: key → its rows' positions) and
    become a dict entry on first access — one Arrow slice turned into tuples.  Hydration thus builds one Python
    object per *key* (its span), and rows only for the keys later deltas touch.

    The join reads it only through ``get`` (``RowsOf``), truthiness, item assignment and deletion; every other
    read (iteration, ``len``, ``values``) materialises all keys first, so it behaves as the full dict.

    **Sorted later** (:func:`arranged_later`): the table may even stay unsorted until a key is first looked up —
    every change is kept aside meanwhile — for a join side that only a new key of the other side looks up (the
    rows a decorrelated ``LATERAL`` joins with its distinct outer keys); that lookup then pays the sort."""

    def __init__(self, table: Any, spans: dict[tuple, tuple[int, int]], arity: int,
                 deferred: tuple[Any, tuple[int, ...]] | None = None) -> None:
        super().__init__()
        self._table = table
        self._built_spans = spans
        self._arity = arity
        self._overlay: dict[tuple, dict[Row, int]] = {}  # changes to keys still in the table (``arrange``)
        self._deferred = deferred  # (the rows unsorted, the key columns) until first needed
        self.facts: tuple[int, bool] | None = None  # (records, distinct) of a deferred table, once sorted

    @property
    def _spans(self) -> dict[tuple, tuple[int, int]]:
        if self._deferred is not None:
            self.settle()
        return self._built_spans

    def settle(self) -> None:
        """Sort a deferred table by key now (:func:`arranged`); the changes kept aside meanwhile for keys it does
        not hold become dict entries."""
        if self._deferred is None:
            return
        table, key_columns = self._deferred
        self._deferred = None
        built, records, distinct, _counted = arranged(table, key_columns, self._arity)
        self._table, self._built_spans = built._table, built._built_spans
        self.facts = (records, distinct)
        overlay = self._overlay
        for key in [key for key in overlay if key not in self._built_spans]:
            rows = overlay.pop(key)
            if rows:
                dict.__setitem__(self, key, rows)

    def _load(self, key: tuple) -> dict[Row, int] | None:
        span = self._spans.pop(key, None)
        if span is None:
            return None
        low, high = span
        part = self._table.slice(low, high - low)
        if not self._spans:
            self._table = None  # every key is a dict entry now
        rows = zip(*(part.column(i).to_pylist() for i in range(self._arity)))
        return self._store(key, dict(zip(rows, part.column(self._arity).to_pylist())))

    def _store(self, key: tuple, loaded: dict[Row, int]) -> dict[Row, int] | None:
        """A key's rows from the table, with the changes arranged meanwhile (``overlay``), become a dict entry."""
        changes = self._overlay.pop(key, None)
        if changes:
            for row, diff in changes.items():
                total = loaded.get(row, 0) + diff
                if total:
                    loaded[row] = total
                else:
                    del loaded[row]
        if not loaded:
            return None
        dict.__setitem__(self, key, loaded)
        return loaded

    def arrange(self, key: tuple, row: Row, diff: int) -> int:
        """``self[key][row] += diff`` for a key still in the table: kept aside (``overlay``) until the key is
        looked up, so a delta that only changes a key never turns its rows into tuples.  Returns the change in
        records, assuming (as for a consolidated input) that an insertion adds a row and a deletion removes one."""
        changes = self._overlay.get(key)
        if changes is None:
            changes = self._overlay[key] = {}
        total = changes.get(row, 0) + diff
        if total:
            changes[row] = total
        else:
            del changes[row]
        return 1 if diff > 0 else -1

    def load_many(self, keys: Iterator[tuple] | list[tuple]) -> None:
        """Materialise the keys of a delta that are still in the table, all in one Arrow ``take`` (a key at a time
        costs an Arrow call per column per key).  Afterwards every one of ``keys`` is a plain dict entry or absent,
        so ``dict.get`` (:meth:`plain_get`) finds them without the lazy lookup."""
        import numpy as np

        pop = self._spans.pop
        wanted = [(key, span) for key in keys if (span := pop(key, None)) is not None]
        if not wanted:
            return
        spans = np.fromiter(chain.from_iterable(span for _key, span in wanted), dtype=np.int64,
                            count=2 * len(wanted))
        lows = spans[0::2]
        lengths = spans[1::2] - lows
        single = bool((lengths == 1).all())  # a dimension keyed by its primary key: one row per key
        if single:
            positions = lows
        else:
            offsets = np.cumsum(lengths) - lengths
            positions = np.repeat(lows - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
        part = self._table.take(_arrow().array(positions))
        if not self._spans:
            self._table = None  # every key is a dict entry now
        rows = list(zip(*(part.column(i).to_pylist() for i in range(self._arity))))
        counts = part.column(self._arity).to_pylist()
        if single:
            loaded = [{row: count} for row, count in zip(rows, counts)]
            if not self._overlay:  # nothing was arranged meanwhile: the entries as they are
                dict.update(self, zip([key for key, _span in wanted], loaded))
                return
            for (key, _span), one in zip(wanted, loaded):
                self._store(key, one)
            return
        at = 0
        for (key, _span), length in zip(wanted, lengths.tolist()):
            self._store(key, dict(zip(rows[at:at + length], counts[at:at + length])))
            at += length

    def plain_get(self) -> Callable[[Any], Any]:
        """``dict.get`` of the materialised keys only: a lookup for keys :meth:`load_many` was just given (or any
        key once nothing is pending), without the Python-level call of :meth:`get`."""
        self.settle()
        return dict.get.__get__(self, LazyArranged)  # type: ignore[attr-defined,no-any-return]

    def in_table(self, key: tuple) -> bool:
        """Whether ``key``'s rows are still only in the table (changes to it go to the overlay); any key may be,
        while the table is not sorted yet."""
        return self._deferred is not None or key in self._built_spans

    @property
    def pending(self) -> bool:
        """Whether some keys are still only in the table."""
        return self._deferred is not None or bool(self._built_spans)

    @property
    def unsorted(self) -> bool:
        """Whether the table is still left unsorted (:func:`arranged_later`)."""
        return self._deferred is not None

    def get(self, key: Any, default: Any = None) -> Any:
        if self._deferred is not None:
            self.settle()
        found = dict.get(self, key)
        if found is not None:
            return found
        if self._built_spans:
            loaded = self._load(key)
            if loaded is not None:
                return loaded
        return default

    def __getitem__(self, key: Any) -> Any:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        spans = self._spans  # first: sorting a deferred table may add entries
        return dict.__contains__(self, key) or key in spans

    def __bool__(self) -> bool:
        return self._deferred is not None or bool(self._built_spans) or dict.__len__(self) > 0

    def __delitem__(self, key: Any) -> None:
        self._spans.pop(key, None)
        self._overlay.pop(key, None)
        dict.__delitem__(self, key)

    def materialize(self) -> None:
        for key in list(self._spans):
            self._load(key)

    def unused_copy(self) -> "LazyArranged":
        """Another arrangement over the same (immutable) table, for a second operator to own; only before any key
        was materialised or changed."""
        if dict.__len__(self) or self._overlay:
            raise ValueError("only an untouched arrangement is copied")
        if self._deferred is not None:
            return LazyArranged(None, {}, self._arity, self._deferred)
        return LazyArranged(self._table, dict(self._spans), self._arity)

    def records(self) -> int:
        """Rows held: the materialised keys' and those still in the table (changes kept aside not counted; an
        unsorted table's rows counted as they are)."""
        if self._deferred is not None:
            return self._deferred[0].num_rows
        return sum(len(rows) for rows in dict.values(self)) + sum(high - low for low, high in self._spans.values())

    def size_bytes(self) -> int:
        """Approximate memory: the materialised keys' rows (sampled), the Arrow table and the spans."""
        if self._deferred is not None:
            return self._deferred[0].nbytes
        table = 0 if self._table is None else self._table.nbytes
        return state_size_bytes((dict(dict.items(self)),)) + table + 150 * len(self._spans)

    def __len__(self) -> int:
        spans = self._spans  # first: sorting a deferred table may add entries
        return dict.__len__(self) + len(spans)



def arranged(table: Any, key_columns: Sequence[int], arity: int) -> tuple[LazyArranged, int, bool, Any]:
    """``key → {row: count}`` of ``table``'s rows (exact columns ``c0 … c{arity-1}``, :func:`unified`) with no NULL
    in the key, with the number of records, whether every such row is there once, and the consolidated table
    (columns ``c0 … c{arity-1}``, ``count_all``): the rows consolidated and sorted by key
    (:func:`consolidated_sorted`), kept as a table that a :class:`LazyArranged` turns into rows per key when the
    key is first used."""
    import pyarrow.compute as pc

    empty = LazyArranged(None, {}, arity)
    if table.num_rows == 0:
        return empty, 0, True, None
    for c in set(key_columns):
        if table.column(f"c{c}").null_count:
            table = table.filter(pc.is_valid(table.column(f"c{c}")))
    if table.num_rows == 0:
        return empty, 0, True, None
    keys = list(dict.fromkeys(key_columns))
    order = keys + [c for c in range(arity) if c not in keys]
    counted = consolidated_sorted(table.select([f"c{c}" for c in order]))
    starts = key_starts(counted, [f"c{c}" for c in keys]).tolist()
    lows = starts[:-1]
    heads = counted.take(_arrow().array(lows, _arrow().int64()))
    key_lists = [heads.column(f"c{c}").to_pylist() for c in key_columns]
    spans = dict(zip(zip(*key_lists), zip(lows, starts[1:])))
    rows = counted.select([f"c{c}" for c in range(arity)] + ["count_all"])
    return LazyArranged(rows, spans, arity), counted.num_rows, counted.num_rows == table.num_rows, rows


def arranged_later(table: Any, key_columns: Sequence[int], arity: int) -> tuple[LazyArranged, int]:
    """What :func:`arranged` gives, left unsorted until a key is first looked up (``LazyArranged``'s "sorted
    later"), with the number of rows whose key has no NULL (the records, if no row is repeated)."""
    import pyarrow.compute as pc

    for c in set(key_columns):
        if table.column(f"c{c}").null_count:
            table = table.filter(pc.is_valid(table.column(f"c{c}")))
    if table.num_rows == 0:
        return LazyArranged(None, {}, arity), 0
    return LazyArranged(None, {}, arity, (table, tuple(key_columns))), table.num_rows


__all__ = ["LazyArranged", "MaterializingDict", "arranged", "arranged_later"]
