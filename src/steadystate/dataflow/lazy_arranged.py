"""A join side's arrangement ``key → {row: count}`` hydrated from Arrow columns, rows made per key when used.

:func:`arranged` consolidates a snapshot's table and sorts it by key (``dataflow.columns.consolidated_sorted``),
keeping one span of positions per distinct key; :class:`LazyArranged` is the dict the join reads, which turns a
key's span into rows the first time the key is looked up or changed (``get``, item assignment and deletion) and
every key at once only for a full read.  :func:`arranged_later` leaves the table unsorted until the first lookup,
for a join side that only a new key of the other side reads (a decorrelated ``LATERAL``'s rows).  Hydration thus
builds one Python object per key, and rows only for the keys later deltas touch — and none per key when the key is
one int64 column: :class:`SortedSpans` keeps the keys' spans as NumPy arrays and finds a key by binary search (a
delta's keys in one vectorized search).
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Callable, Iterator, Sequence, Union

from steadystate.dataflow.arrangement import state_size_bytes
from steadystate.dataflow.columns import SortedKeys, consolidated_sorted, key_starts

Row = tuple[Any, ...]


def _arrow() -> Any:
    import pyarrow  # imported when first needed, as dataflow.columns does

    return pyarrow


class MaterializingDict(dict):  # type: ignore[type-arg]
    """A dict some of whose entries are still elsewhere (an Arrow table): every full read (iteration, ``keys``,
    ``values``, ``items``, equality) first brings them all in with :meth:`materialize`; a lookup by ``[]`` is the
    subclass's ``get`` (which brings in the one entry; entries are never ``None``)."""

    def materialize(self) -> None:
        raise NotImplementedError

    def __getitem__(self, key: Any) -> Any:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

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


def int_key(key: Any) -> int | None:
    """The int64 a 1-tuple ``key`` stands for in a dict keyed by 1-tuples of ints: its value, or a value equal to
    an integer and hashing alike (``True``, ``1.0``, ``Decimal(1)``); ``None`` for anything else."""
    if type(key) is not tuple or len(key) != 1:
        return None
    value = key[0]
    if type(value) is not int:
        try:
            whole = int(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if whole != value or hash(whole) != hash(value):
            return None
        value = whole
    return value if -(2 ** 63) <= value < 2 ** 63 else None


def live_position(keys: Any, alive: Any, key: Any) -> int:
    """Where the 1-tuple ``key`` (:func:`int_key`) is among ``keys`` (int64, strictly ascending) and still
    ``alive`` (a bool array beside them), or -1."""
    value = int_key(key)
    if value is None or not len(keys):
        return -1
    at = int(keys.searchsorted(value))
    return at if at < len(keys) and int(keys[at]) == value and alive[at] else -1


class SortedSpans:
    """``key → (low, high)`` for a table sorted by one int64 key column, found by binary search over the keys
    (NumPy) instead of a dict holding a Python tuple per key: what :func:`arranged` keeps for a single integer key
    (a dimension's primary key, a fact's foreign key), so hydration builds nothing per key.  It answers as that
    dict would for the operations :class:`LazyArranged` uses (``pop``, ``in``, ``len``, iteration, ``values``):
    a key is a 1-tuple; a value equal to an integer (``True``, ``1.0``, ``Decimal(1)``: equal and hashing alike in
    the dict) finds that integer's span; anything else is absent.  Popped keys are marked, not removed."""

    __slots__ = ("keys", "lows", "highs", "alive", "count", "finder")

    def __init__(self, keys: Any, lows: Any, highs: Any, finder: SortedKeys | None = None) -> None:
        import numpy as np

        self.keys = keys  # int64, strictly ascending
        self.finder = finder if finder is not None else SortedKeys(keys)  # many keys' positions at once
        self.lows = lows
        self.highs = highs
        self.alive = np.ones(len(keys), dtype=bool)
        self.count = len(keys)

    def _position(self, key: Any) -> int:
        """Where ``key``'s span is, or -1."""
        return live_position(self.keys, self.alive, key)

    def positions(self, keys: list[tuple]) -> Any:
        """:meth:`_position` of many keys at once (-1: absent), vectorized when they are all 1-tuples of ints."""
        import numpy as np

        try:  # the type checks by ``set(map(...))``: C loops, not a Python test per key
            if set(map(type, keys)) != {tuple} or set(map(len, keys)) != {1}:
                raise TypeError
            firsts = [key[0] for key in keys]
            if set(map(type, firsts)) != {int}:
                raise TypeError
            values = np.array(firsts, dtype=np.int64)
        except (TypeError, ValueError, OverflowError, IndexError):
            return np.array([self._position(key) for key in keys], dtype=np.int64)
        at = self.finder.find(values)
        found = at >= 0
        return np.where(found & self.alive[np.where(found, at, 0)], at, -1) if len(self.keys) else at

    def pop(self, key: Any, default: Any = None) -> Any:
        at = self._position(key)
        if at < 0:
            return default
        self.alive[at] = False
        self.count -= 1
        return int(self.lows[at]), int(self.highs[at])

    def pop_many(self, keys: list[tuple]) -> tuple[list[tuple], Any, Any]:
        """The keys of ``keys`` present (once, in order of first appearance), taken out, with their spans' lows
        and highs (arrays)."""
        import numpy as np

        at = self.positions(keys)
        hit = np.flatnonzero(at >= 0)
        if not len(hit):
            return [], at[:0], at[:0]
        first = np.unique(at[hit], return_index=True)[1]  # a key repeated in ``keys`` is taken once
        hit = np.sort(hit[first])
        where = at[hit]
        self.alive[where] = False
        self.count -= len(where)
        return [keys[i] for i in hit.tolist()], self.lows[where], self.highs[where]

    def __contains__(self, key: object) -> bool:
        return self._position(key) >= 0

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def _live(self) -> Any:
        import numpy as np

        return np.flatnonzero(self.alive)

    def __iter__(self) -> Iterator[tuple]:
        return iter([(key,) for key in self.keys[self._live()].tolist()])

    def values(self) -> Iterator[tuple[int, int]]:
        live = self._live()
        return iter(list(zip(self.lows[live].tolist(), self.highs[live].tolist())))

    def rows(self) -> int:
        """The rows the spans still in place cover."""
        return int((self.highs - self.lows)[self.alive].sum())

    def copy(self) -> "SortedSpans":
        copied = SortedSpans(self.keys, self.lows, self.highs, self.finder)
        copied.alive, copied.count = self.alive.copy(), self.count
        return copied


Spans = Union[dict[tuple, tuple[int, int]], SortedSpans]


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

    def __init__(self, table: Any, spans: Spans, arity: int,
                 deferred: tuple[Any, tuple[int, ...]] | None = None) -> None:
        super().__init__()
        self._table = table
        self._built_spans = spans
        self._arity = arity
        self._overlay: dict[tuple, dict[Row, int]] = {}  # changes to keys still in the table (``arrange``)
        self._deferred = deferred  # (the rows unsorted, the key columns) until first needed
        self.facts: tuple[int, bool] | None = None  # (records, distinct) of a deferred table, once sorted
        self.counted: Any = None  # a deferred table consolidated (``arranged``'s), once sorted
        self.derived: dict[Any, Any] = {}  # what readers computed once from ``table`` (``join_accumulate_columns``)

    @property
    def _spans(self) -> Spans:
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
        built, records, distinct, counted = arranged(table, key_columns, self._arity)
        self._table, self._built_spans = built._table, built._built_spans
        self.facts = (records, distinct)
        self.counted = counted
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

    def arrange_many(self, keyed: list[tuple[tuple, Row, int]]) -> int:
        """:meth:`arrange` of many ``(key, row, diff)`` (keys still in the table) in one loop."""
        overlay = self._overlay
        change = 0
        for key, row, diff in keyed:
            changes = overlay.get(key)
            if changes is None:
                overlay[key] = {row: diff}
            else:
                total = changes.get(row, 0) + diff
                if total:
                    changes[row] = total
                else:
                    del changes[row]
            change += 1 if diff > 0 else -1
        return change

    def load_many(self, keys: Iterator[tuple] | list[tuple]) -> None:
        """Materialise the keys of a delta that are still in the table, all in one Arrow ``take`` (a key at a time
        costs an Arrow call per column per key).  Afterwards every one of ``keys`` is a plain dict entry or absent,
        so ``dict.get`` (:meth:`plain_get`) finds them without the lazy lookup."""
        import numpy as np

        held = self._spans
        if type(held) is SortedSpans:
            wanted_keys, lows, highs = held.pop_many(list(keys))
            if not wanted_keys:
                return
            lengths = highs - lows
        else:
            pop = held.pop
            wanted = [(key, span) for key in keys if (span := pop(key, None)) is not None]
            if not wanted:
                return
            wanted_keys = [key for key, _span in wanted]
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
            overlay = self._overlay
            if not overlay:  # nothing was arranged meanwhile: the entries as they are
                dict.update(self, zip(wanted_keys, loaded))
                return
            # the keys with changes arranged meanwhile one by one, the others as they are
            dict.update(self, [(key, one) for key, one in zip(wanted_keys, loaded) if key not in overlay])
            for key, one in zip(wanted_keys, loaded):
                if key in overlay:
                    self._store(key, one)
            return
        at = 0
        for key, length in zip(wanted_keys, lengths.tolist()):
            self._store(key, dict(zip(rows[at:at + length], counts[at:at + length])))
            at += length

    def plain_get(self) -> Callable[[Any], Any]:
        """``dict.get`` of the materialised keys only: a lookup for keys :meth:`load_many` was just given (or any
        key once nothing is pending), without the Python-level call of :meth:`get`."""
        self.settle()
        return dict.get.__get__(self, LazyArranged)  # type: ignore[attr-defined,no-any-return]

    def table_spans(self, values: Any) -> tuple[Any, Any, Any] | None:
        """For int64 key values (a NumPy array), ``(found, lows, highs)``: whether each key's rows are still only in
        the table, unchanged (no change kept aside for it), and where they are in :meth:`table`; the table is not
        changed and nothing is materialised.  ``None`` unless the keys are one int64 column (``SortedSpans``) of a
        sorted table."""
        import numpy as np

        spans = self._built_spans
        if self._deferred is not None or type(spans) is not SortedSpans or self._table is None or not len(spans.keys):
            return None
        at = spans.finder.find(values)
        found = at >= 0
        at = np.where(found, at, 0)
        found &= spans.alive[at]
        if self._overlay:  # keys with changes kept aside: their rows are not the table's alone
            aside = [key[0] for key in self._overlay
                     if len(key) == 1 and type(key[0]) is int and -(2 ** 63) <= key[0] < 2 ** 63]
            if len(aside) < len(self._overlay):  # a key no int64 value equals: take none of the table
                found[:] = False
            else:
                found &= ~np.isin(values, np.array(aside, dtype=np.int64))
        return found, spans.lows[at], spans.highs[at]

    @property
    def table(self) -> Any:
        """The consolidated, key-sorted table of the keys not yet materialised (columns ``c0 … c{arity-1}`` and
        the count), or ``None``; rows of keys already materialised are stale in it (:meth:`table_spans`)."""
        return self._table

    def in_table_many(self, keys: list[tuple]) -> list[bool]:
        """:meth:`in_table` of many keys (by one binary search for a single integer key)."""
        if self._deferred is not None:
            return [True] * len(keys)
        spans = self._built_spans
        if type(spans) is SortedSpans:
            return (spans.positions(keys) >= 0).tolist()  # type: ignore[no-any-return]
        return [key in spans for key in keys]

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

    def __contains__(self, key: object) -> bool:
        spans = self._spans  # first: sorting a deferred table may add entries
        # a key still in the table is loaded: the changes kept aside for it may have retracted all its rows
        return dict.__contains__(self, key) or (key in spans and self.get(key) is not None)

    def __bool__(self) -> bool:
        return self._deferred is not None or bool(self._built_spans) or dict.__len__(self) > 0

    def __delitem__(self, key: Any) -> None:
        self._spans.pop(key, None)
        self._overlay.pop(key, None)
        dict.__delitem__(self, key)

    def materialize(self) -> None:
        spans = self._spans
        if type(spans) is SortedSpans:  # every key in one take
            self.load_many(list(spans))
            return
        for key in list(spans):
            self._load(key)

    def unused_copy(self) -> "LazyArranged":
        """Another arrangement over the same (immutable) table, for a second operator to own; only before any key
        was materialised or changed."""
        if dict.__len__(self) or self._overlay:
            raise ValueError("only an untouched arrangement is copied")
        if self._deferred is not None:
            return LazyArranged(None, {}, self._arity, self._deferred)
        spans = self._spans
        return LazyArranged(self._table, spans.copy() if type(spans) is SortedSpans else dict(spans), self._arity)

    def records(self) -> int:
        """Rows held: the materialised keys' and those still in the table (changes kept aside not counted; an
        unsorted table's rows counted as they are)."""
        if self._deferred is not None:
            return self._deferred[0].num_rows
        spans = self._spans
        in_table = spans.rows() if type(spans) is SortedSpans else sum(high - low for low, high in spans.values())
        return sum(len(rows) for rows in dict.values(self)) + in_table

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
    bounds = key_starts(counted, [f"c{c}" for c in keys])
    heads = counted.take(_arrow().array(bounds[:-1]))
    spans: Spans
    if len(key_columns) == 1 and heads.column(f"c{key_columns[0]}").type == _arrow().int64():
        # one integer key: its spans found by binary search, no Python object per key (``SortedSpans``)
        spans = SortedSpans(heads.column(f"c{key_columns[0]}").to_numpy(), bounds[:-1], bounds[1:])
    else:
        starts = bounds.tolist()
        key_lists = [heads.column(f"c{c}").to_pylist() for c in key_columns]
        spans = dict(zip(zip(*key_lists), zip(starts[:-1], starts[1:])))
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


__all__ = ["LazyArranged", "MaterializingDict", "SortedSpans", "arranged", "arranged_later", "int_key", "live_position"]
