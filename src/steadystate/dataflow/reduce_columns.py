"""A reduce's groups built from an insert-only snapshot's Arrow columns (``dataflow.reduce``'s ``fold_columns``).

**Eagerly** (:func:`eager_groups`): Arrow consolidates the snapshot to ``(key, value) → count`` per argument column
and sorts it (``dataflow.columns.grouped_values``), and each group's states are built from its distinct values in
bulk — a state's ``absorb(values, counts, ordered)`` when it has one (``min``/``max`` take the sorted values as
their sorted state), else one ``add(value, count)`` per distinct value.  The Python work is per group and distinct
value, not per row.

**Lazily** (:class:`LazyGroups`), when every aggregate's state class declares what its result is over a group's
sorted distinct values (``COLUMN_RESULT``: ``"first"``, the least non-NULL value — ``min``; ``"last"``, the greatest
— ``max``; ``"count"``, how many non-NULL values there are, or rows for an aggregate without argument) and the
group key is not empty: the first output is computed over the columns, vectorized, and a group's states are built
(exactly as eagerly) only when a later delta touches the group.  Hydration then makes one output row per group and
no state object at all.  The output comes from

* a *dense* integer key (one int64 column without NULLs, few possible values: :data:`DENSE_SLACK`) with int64
  arguments: NumPy's ``minimum.at``/``maximum.at``/``bincount`` over the rows, no sort at all; the consolidated,
  sorted form the states are built from is computed when a delta first touches a group ("sorted later", as
  ``dataflow.lazy_arranged.arranged_later`` does for a join side);
* otherwise the consolidated, sorted form itself (``grouped_values(..., arrays=True)``): each group's first and
  last non-NULL value taken by position, the counts by cumulative sums.

Both give the values the row path gives (Arrow's ``to_pylist`` of int64, string and bool columns); other columns
(floats, numerics, timestamps) are not exact (``dataflow.columns.exact_column``) and leave the snapshot to the rows.

**Deltas.**  A delta's rows of a pending group are folded into its output row where that is exact
(:meth:`LazyGroups.fold_pending`): a count adds the diffs, a minimum (maximum) takes a smaller (greater) inserted
value, a delete of a value above the minimum (below the maximum) leaves it — the input is consistent, so a deleted
value is one the group holds.  The changes are kept aside (``overlay``) for the states.  A delete that reaches the
minimum (maximum), or rows going negative, builds the group's states instead — its sorted distinct values, the
changes kept aside applied — and the delete then reveals the next value as the row path's state does.  So a batch
builds states only for the groups whose extreme it deletes, not for every group it touches.  When every
argument is an int64 column (the dense path's, or the sorted form's), the pending groups' outputs are also kept as
NumPy arrays and a whole delta is folded at once (``dataflow.reduce_vector``, :meth:`LazyGroups.fold_batch`):
the same rules, vectorized, with Python work only for the groups whose output changed.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

from steadystate.dataflow.collection import EvalError, OkDelta, Row
from steadystate.dataflow.columns import Grouped, grouped_values, unified
from steadystate.dataflow.lazy_arranged import MaterializingDict
from steadystate.dataflow.reduce_vector import VectorFold

ROWS = object()  # the non-NULL value fed to an aggregate that takes no argument (it counts rows)
#: a dense key's possible values (its range) may be this many times the rows, plus :data:`DENSE_FLOOR`
DENSE_SLACK = 4
DENSE_FLOOR = 65_536


class GroupState:
    __slots__ = ("rows", "aggs", "output", "error")

    def __init__(self, aggs: list[Any]) -> None:
        self.rows = 0
        self.aggs = aggs
        self.output: Row | None = None
        self.error: EvalError | None = None  # what computing the output raised (a percentile out of range)


class ColumnsOf(NamedTuple):
    """Where a reduce's group key and aggregate arguments are in its input rows (``None``: an aggregate that takes
    no argument and counts rows), when all are plain columns."""

    key: tuple[int, ...]
    arguments: tuple[int | None, ...]
    # per aggregate, what follows the argument in the value its state is fed (its constant further arguments and
    # its empty order keys: ``string_agg(x, ',')`` is fed ``(x, ',', ())``), or ``None``: the argument alone
    suffixes: tuple[tuple[Any, ...] | None, ...] = ()


def eager_groups(grouped: Grouped, columns: ColumnsOf, factories: Sequence[Callable[[], Any]]) -> dict[tuple, GroupState]:
    """Every group's states built from ``grouped`` (Python lists: ``grouped_values`` without ``arrays``)."""
    groups: dict[tuple, GroupState] = {}
    if not grouped.keys:
        return groups
    # per aggregate: where its groups' values are, and its states' bulk method (one class per aggregate)
    sample = [make() for make in factories]
    suffixes = columns.suffixes or (None,) * len(columns.arguments)
    feeds = [None if column is None else
             (grouped.starts[column], grouped.ends[column],
              grouped.values[column] if suffix is None else [(v, *suffix) for v in grouped.values[column]],
              grouped.counts[column], getattr(type(state), "absorb", None) if suffix is None else None)
             for column, suffix, state in zip(columns.arguments, suffixes, sample)]
    all_rows = grouped.rows
    for g, key in enumerate(grouped.keys):
        aggs = [make() for make in factories]
        group = GroupState(aggs)
        rows = group.rows = all_rows[g]
        for state, feed in zip(aggs, feeds):
            if feed is None:
                state.add(ROWS, rows)
                continue
            starts, ends, values, counts, absorb = feed
            low, high = starts[g], ends[g]
            if low == high:
                continue
            if absorb is not None:  # the slices are new lists: the state may keep them
                absorb(state, values[low:high], counts[low:high], True)
            else:
                for value, count in zip(values[low:high], counts[low:high]):
                    state.add(value, count)
        groups[key] = group
    return groups


def column_results(columns: ColumnsOf, factories: Sequence[Callable[[], Any]]) -> list[str] | None:
    """Per aggregate, its states' ``COLUMN_RESULT`` (see the module docstring), or ``None`` when some aggregate has
    none (or is fed more than its argument), or the group key is empty: the groups are then built eagerly."""
    if not columns.key:
        return None
    suffixes = columns.suffixes or (None,) * len(columns.arguments)
    results = []
    for make, column, suffix in zip(factories, columns.arguments, suffixes):
        result = getattr(type(make()), "COLUMN_RESULT", None)
        if result not in ("first", "last", "count") or suffix is not None or (column is None and result != "count"):
            return None
        results.append(result)
    return results


def lazy_groups(tables: list[Any], columns: ColumnsOf, factories: Sequence[Callable[[], Any]], results: list[str],
                weighted: bool) -> "LazyGroups | None":
    """The groups of ``tables`` with their first output computed over the columns and their states left to be
    built when first used (see the module docstring); ``None`` when a column is not exact."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    dense = None if weighted else _dense_outputs(tables, columns, results)
    if dense is not None:
        keys, outputs, rows, read, vector = dense
        return LazyGroups(dict(zip(keys, outputs)), None, [read], columns, factories, results, rows, vector)
    arguments = [c for c in columns.arguments if c is not None]
    grouped = grouped_values(tables, columns.key, list(dict.fromkeys(arguments)), weighted, arrays=True)
    if grouped is None:
        return None
    if not grouped.keys:
        return LazyGroups({}, None, None, columns, factories, results)
    # the vectorized fold (``dataflow.reduce_vector``) when every argument is an int64 column
    as_arrays = all(grouped.values[c].type == pa.int64() for c in arguments)
    computed: list[list[Any]] = []
    extremes: list[Any] = []
    present: list[Any] = []
    counted: list[Any] = []
    for column, result in zip(columns.arguments, results):
        extremes.append(None)
        present.append(None)
        counted.append(None)
        if column is None:
            computed.append(grouped.rows.tolist())
            continue
        starts, ends = grouped.starts[column], grouped.ends[column]
        if result == "count":
            counts = grouped.counts[column]
            total = np.concatenate(([0], np.cumsum(counts))) if len(counts) else np.zeros(1, dtype=np.int64)
            counted[-1] = total[ends] - total[starts]
            computed.append(counted[-1].tolist())
            continue
        empty = starts >= ends
        where = np.where(empty, 0, starts if result == "first" else ends - 1)
        if as_arrays:
            values = pc.fill_null(grouped.values[column], 0).to_numpy()
            extremes[-1], present[-1] = values[where] if len(where) else np.zeros(0, dtype=np.int64), ~empty
            computed.append([v if h else None for v, h in zip(extremes[-1].tolist(), present[-1].tolist())])
            continue
        computed.append(grouped.values[column].take(pa.array(where, mask=empty)).to_pylist() if len(where) else [])
    keys = grouped.keys
    outputs = [key + tuple(values) for key, values in zip(keys, zip(*computed))] if computed else list(keys)
    lazy = LazyGroups(dict(zip(keys, outputs)), grouped, None, columns, factories, results)
    if as_arrays:
        lazy.vector = VectorFold(results, columns.arguments, grouped.rows, extremes, present, counted, keys=keys,
                                 position=lambda: lazy.positions())
    return lazy


def _dense_outputs(tables: list[Any], columns: ColumnsOf, results: list[str]
                   ) -> tuple[list[tuple], list[Row], tuple[Any, int], Any, VectorFold] | None:
    """The keys and first output rows of a dense integer key with int64 arguments, by NumPy's unbuffered
    ``minimum.at``/``maximum.at`` and ``bincount`` (no sort), the rows per key (an array from the key's least
    value on, and that value), the snapshot's columns read (kept for the sorted form, the others let go) and the
    outputs' makings as arrays over the key's range (``VectorFold``); ``None`` when the columns are not such."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(columns.key) != 1:
        return None
    arguments = list(dict.fromkeys(c for c in columns.arguments if c is not None))
    table = unified(tables, sorted(set(columns.key) | set(arguments)))
    if table is None or table.num_rows == 0:
        return None
    key_column = table.column(f"c{columns.key[0]}")
    if key_column.type != pa.int64() or key_column.null_count:
        return None
    if any(table.column(f"c{c}").type != pa.int64() for c in arguments):
        return None
    n = table.num_rows
    bounds = pc.min_max(key_column).as_py()
    low = bounds["min"]
    span = bounds["max"] - low + 1
    if span > DENSE_SLACK * n + DENSE_FLOOR:
        return None
    key = key_column.to_numpy()
    if low:
        key = key - low
    rows = np.bincount(key, minlength=span)
    present_keys = np.flatnonzero(rows)
    computed: list[list[Any]] = []
    extremes: list[Any] = []
    present: list[Any] = []
    counted: list[Any] = []
    prepared: dict[int, tuple[Any, Any, Any]] = {}  # per argument column: its non-NULL values, their keys, counts
    for column, result in zip(columns.arguments, results):
        extremes.append(None)
        present.append(None)
        counted.append(None)
        if column is None:
            computed.append(rows[present_keys].tolist())
            continue
        found = prepared.get(column)
        if found is None:
            values = table.column(f"c{column}")
            if values.null_count:
                valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
                numbers, keys_of = pc.fill_null(values, 0).to_numpy()[valid], key[valid]
            else:
                numbers, keys_of = values.to_numpy(), key
            found = prepared[column] = (numbers, keys_of, np.bincount(keys_of, minlength=span))
        numbers, keys_of, counts = found
        if result == "count":
            counted[-1] = counts
            computed.append(counts[present_keys].tolist())
            continue
        if result == "first":
            extreme = np.full(span, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(extreme, keys_of, numbers)
        else:
            extreme = np.full(span, np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(extreme, keys_of, numbers)
        extremes[-1], present[-1] = extreme, counts > 0
        computed.append(pa.array(extreme[present_keys], mask=counts[present_keys] == 0).to_pylist())
    key_values = (present_keys + low).tolist()
    keys = [(k,) for k in key_values]
    vector = VectorFold(results, columns.arguments, rows, extremes, present, counted, low=low)
    return keys, list(zip(key_values, *computed)), (rows, low), table, vector


class LazyGroups(MaterializingDict):
    """A reduce's ``key → GroupState`` whose groups not used yet are only their first output row (``pending``): a
    group's states are built the first time the reduce looks it up (``get``, ``[]``) or :meth:`load_many` is given
    its key — from the consolidated, sorted arrays (``grouped``), computed then from ``source`` (the snapshot's
    tables and columns) when the output came from a dense key.  Every full read materialises all groups first.
    A materialised group's ``output`` is its first output row: :meth:`first_output` is emitted once, before any
    change (``dataflow.reduce`` calls it at the start of the round after the snapshot)."""

    def __init__(self, pending: dict[tuple, Row], grouped: Grouped | None, tables: list[Any] | None,
                 columns: ColumnsOf, factories: Sequence[Callable[[], Any]], results: Sequence[str],
                 dense_rows: tuple[Any, int] | None = None, vector: VectorFold | None = None) -> None:
        """``grouped``, or the ``tables`` it is computed from when first needed (unweighted); ``results``: the
        aggregates' ``COLUMN_RESULT``; ``dense_rows``: the snapshot's rows per key of a dense key (from its least
        value on, and that value); ``vector``: the pending outputs' makings as arrays, when every argument is an
        int64 column (deltas are then folded by :meth:`fold_batch`, not :meth:`fold_pending`)."""
        super().__init__()
        self.vector = vector
        self.pending = pending
        self._results = list(results)
        # each argument column once, with the first aggregate that reads it (where ``fold_pending`` finds its values)
        self._read: list[tuple[int, int]] = []
        for i, argument in enumerate(columns.arguments):
            if argument is not None and all(argument != seen for seen, _i in self._read):
                self._read.append((argument, i))
        self._dense_rows = dense_rows
        # changes folded into a pending group's output (:meth:`fold_pending`): its rows now, and per argument
        # column the values' diffs, applied to its states when they are built
        self._overlay: dict[tuple, tuple[list[int], dict[int, dict[Any, int]]]] = {}
        self._grouped = grouped
        self._tables = tables
        self._columns = columns
        self._factories = list(factories)
        self._early: list[tuple] = []  # groups materialised before the first output was emitted
        self._emitted = False
        self._position: dict[tuple, int] | None = None

    def _sorted(self) -> tuple[Grouped, dict[tuple, int]]:
        grouped = self._grouped
        if grouped is None:
            assert self._tables is not None
            columns = self._columns
            arguments = [c for c in columns.arguments if c is not None]
            grouped = grouped_values(self._tables, columns.key, list(dict.fromkeys(arguments)), arrays=True)
            if grouped is None:  # the dense path read the same exact columns
                raise AssertionError("a dense snapshot's columns did not group")
            self._grouped, self._tables = grouped, None
        if self._position is None:
            self._position = {key: g for g, key in enumerate(grouped.keys)}
        return grouped, self._position

    def positions(self) -> dict[tuple, int]:
        """Each snapshot key's position among the sorted keys (its group number)."""
        return self._sorted()[1]

    def fold_batch(self, rows: list[Row], diffs: list[int], key_of: Callable[[Row], tuple],
                   ok: OkDelta) -> list[int] | None:
        """Fold a delta's rows of pending groups into their output rows at once (``VectorFold.fold``), the output
        changes added to ``ok``; builds the states of the groups whose rows it could not fold (a delete reaching
        an extreme) and returns the positions of the rows left to the row path; ``None`` when the delta's values
        are not the arrays' (the caller then builds its groups and takes every row)."""
        assert self.vector is not None
        done = self.vector.fold(rows, diffs, key_of, self._columns.key, self.pending, ok)
        if done is None:
            return None
        left, build = done
        self.load_many(build)
        return left

    def load_many(self, keys: Sequence[tuple] | Any) -> None:
        """Build the states of the pending groups among ``keys`` (at once: one Arrow ``take`` per argument column);
        afterwards each of ``keys`` is a plain dict entry or absent."""
        import numpy as np
        import pyarrow as pa

        pending = self.pending
        wanted = [key for key in keys if key in pending]
        if not wanted:
            return
        wanted = list(dict.fromkeys(wanted))
        grouped, position = self._sorted()
        at = np.array([position[key] for key in wanted], dtype=np.int64)
        vector = self.vector
        logged = vector.changes_of([vector.group_of(key) for key in wanted]) if vector is not None else {}
        columns = self._columns.arguments
        fed: dict[int, tuple[list[Any], list[int], list[int]]] = {}
        for column in dict.fromkeys(c for c in columns if c is not None):
            starts, ends = grouped.starts[column][at], grouped.ends[column][at]
            lengths = ends - starts
            offsets = np.concatenate(([0], np.cumsum(lengths)))
            # the groups' ranges, one after another: position j of group i is starts[i] + (j - offsets[i])
            positions = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]), dtype=np.int64)
            values = grouped.values[column].take(pa.array(positions)).to_pylist() if len(positions) else []
            fed[column] = (values, grouped.counts[column][positions].tolist(), offsets.tolist())
        if vector is not None:
            rows = vector.rows[[vector.group_of(key) for key in wanted]].tolist()
        else:
            rows = grouped.rows[at].tolist()
        factories = self._factories
        overlays = self._overlay
        for i, key in enumerate(wanted):
            aggs = [make() for make in factories]
            group = GroupState(aggs)
            overlay = overlays.pop(key, None) if overlays else None
            if vector is not None and logged:
                changes = logged.get(vector.group_of(key))
                if changes:  # the changes folded meanwhile, as the one-group fold keeps them aside
                    by_column: dict[int, dict[Any, int]] = {}
                    for diff, logged_values in changes:
                        for logged_column, value in logged_values.items():
                            if value is not None:
                                found = by_column.setdefault(logged_column, {})
                                found[value] = found.get(value, 0) + diff
                    overlay = ([rows[i]], by_column)
            group.rows = rows[i] if overlay is None else overlay[0][0]
            group.output = pending.pop(key)
            for state, argument in zip(aggs, columns):
                if argument is None:
                    state.add(ROWS, group.rows)
                    continue
                values, counts, bounds = fed[argument]
                low, high = bounds[i], bounds[i + 1]
                if low < high:  # new lists: the state may keep them
                    type(state).absorb(state, values[low:high], counts[low:high], True)
                if overlay is not None:
                    for value, diff in overlay[1].get(argument, {}).items():
                        if diff:
                            state.add(value, diff)
            dict.__setitem__(self, key, group)
            if not self._emitted:
                self._early.append(key)
        if not pending:
            self._grouped = self._position = self.vector = None  # every group is a dict entry now

    def _snapshot_rows(self, key: tuple) -> int:
        if self._dense_rows is not None:
            rows, low = self._dense_rows
            return int(rows[key[0] - low])
        grouped, position = self._sorted()
        return int(grouped.rows[position[key]])

    def fold_pending(self, key: tuple, diffs: list[int],
                     values: Sequence[list[Any] | None]) -> tuple[Row, Row | None] | None:
        """Fold a delta's rows of the pending group ``key`` (``diffs``, and per aggregate its arguments' values,
        ``None`` for one without argument) into its output row without building its states: a count adds the
        diffs, a minimum (maximum) takes a smaller (greater) inserted value; the changes are kept aside for the
        states (applied when the group is built).  Returns the old and the new output (``None``: the group has no
        row left); ``None``, changing nothing, when a delete reaches the minimum (maximum) — only the group's
        sorted values know the next one — or the rows would go negative: the caller then builds the group."""
        old = self.pending[key]
        overlay = self._overlay.get(key)
        before = overlay[0][0] if overlay is not None else self._snapshot_rows(key)
        rows = before + sum(diffs)
        if rows < 0:
            return None
        width = len(key)
        results = list(old[width:])
        for i, (kind, column) in enumerate(zip(self._results, values)):
            current = results[i]
            if kind == "count":
                results[i] = current + (sum(diffs) if column is None else
                                        sum([d for v, d in zip(column, diffs) if v is not None]))
                continue
            assert column is not None
            first = kind == "first"
            for value, diff in zip(column, diffs):
                if value is None:
                    continue
                if diff < 0 and (current is None or (value <= current if first else value >= current)):
                    return None  # (deletes reach only values there are: ``current`` is a value of the group)
            for value, diff in zip(column, diffs):
                if value is not None and diff > 0 and (current is None or (
                        value < current if first else value > current)):
                    current = value
            results[i] = current
        if rows == 0:
            del self.pending[key]
            self._overlay.pop(key, None)
            return old, None
        new = key + tuple(results)
        self.pending[key] = new
        if overlay is None:
            overlay = self._overlay[key] = ([rows], {})
        overlay[0][0] = rows
        changes = overlay[1]
        for argument, i in self._read:
            column = values[i]
            assert column is not None
            found = changes.setdefault(argument, {})
            for value, diff in zip(column, diffs):
                if value is not None:
                    found[value] = found.get(value, 0) + diff
        return old, new

    def first_output(self) -> OkDelta:
        """The first output row of every group, once."""
        if self._emitted:
            return {}
        self._emitted = True
        out: OkDelta = dict.fromkeys(self.pending.values(), 1)
        for key in self._early:
            group = dict.get(self, key)
            if group is not None and group.output is not None:
                out[group.output] = 1
        self._early = []
        return out

    def materialize(self) -> None:
        self.load_many(list(self.pending))

    def get(self, key: Any, default: Any = None) -> Any:
        found = dict.get(self, key)
        if found is None and key in self.pending:
            self.load_many([key])
            found = dict.get(self, key)
        return default if found is None else found

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.pending

    def __len__(self) -> int:
        return dict.__len__(self) + len(self.pending)

    def __bool__(self) -> bool:
        return bool(self.pending) or dict.__len__(self) > 0

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self.pending:
            self.load_many([key])
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        if key in self.pending:
            self.load_many([key])
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self.pending:
            self.load_many([key])
        return dict.pop(self, key, *default)

    def copy(self) -> dict[Any, Any]:
        self.materialize()
        return dict(dict.items(self))


__all__ = ["ColumnsOf", "GroupState", "LazyGroups", "ROWS", "column_results", "eager_groups", "lazy_groups"]
