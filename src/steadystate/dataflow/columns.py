"""Arrow helpers for operators that take a snapshot as columns: grouping values per key, arranging rows, joining.

A snapshot read from storage may come as Arrow tables with columns ``c0 … cN`` (``repr.columnar``: int, float,
string and bool columns, integers stored at the narrowest width).  The operators that accept it (the
``dataflow.operators.ColumnarInput`` protocol) build their state from what this module computes
with Arrow's kernels, so that the Python work is per *group* or per *distinct value*, not per input row:

* :func:`unified` concatenates a snapshot's tables, widening integers to int64 (one type per column);
* :func:`grouped_values` is a reduce's input consolidated to ``(key, value) → count`` and sorted, cut into
  groups: what a group's aggregate states are built from (``dataflow.reduce``);
* ``dataflow.lazy_arranged`` builds a join input's arrangement ``key → {row: count}`` per key from them;
* :func:`joined` is the inner equi-join of two such tables (Acero's hash join), and :func:`rows_of` a table as
  consolidated ``{row: count}``; :func:`table_of_rows` the reverse, for a join side whose snapshot came as rows
  (from an operator) while the other side's came as columns.

Which columns qualify is decided here (:func:`exact_column`): integers, strings, booleans and all-NULL columns,
whose Python values and Arrow's order (bytes order for strings, which is code point order) are exactly the row
path's.  Floats are left to the row path (``-0.0`` equals ``0.0`` and NaN is unordered in Python, not in Arrow).
Every function returns ``None`` when a column does not qualify; the caller then takes the rows.
"""

from __future__ import annotations

import contextlib
import gc
from datetime import time as time_of_day, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator, Sequence


Row = tuple[Any, ...]


def _pa() -> Any:
    import pyarrow as pa

    return pa


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC paused while state is built in bulk: the new objects are all reachable, and collections
    triggered by their allocation would scan the whole heap again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def exact_type(typ: Any) -> bool:
    """Whether a column of Arrow type ``typ`` is exact (:func:`exact_column` takes it): integers, strings, booleans,
    NULLs."""
    pa = _pa()
    return bool(pa.types.is_integer(typ) or pa.types.is_null(typ) or pa.types.is_string(typ)
                or pa.types.is_large_string(typ) or pa.types.is_boolean(typ))


def exact_column(column: Any) -> Any | None:
    """``column`` with integers widened to int64 (storage keeps the narrowest width) and an all-NULL column as
    int64, or ``None`` when its values are not ones whose Arrow order and equality are Python's."""
    pa = _pa()
    typ = column.type
    if not exact_type(typ):
        return None
    if pa.types.is_integer(typ) or pa.types.is_null(typ):
        return column if typ == pa.int64() else column.cast(pa.int64())
    return column


def unified(tables: list[Any], columns: Sequence[int] | None = None, widen: bool = True) -> Any | None:
    """One table of ``tables`` (columns ``c{i}`` for ``i`` in ``columns``, all when ``None``) with every column
    exact (:func:`exact_column`; ``widen=False``: of an exact type, integers left as narrow as the batches have them,
    for a caller that widens them later); ``None`` when some column is not, or the batches' types do not unify (an
    all-NULL batch column takes the others' type)."""
    pa = _pa()
    parts = []
    for table in tables:
        names = table.column_names if columns is None else [f"c{i}" for i in columns]
        if any(name not in table.column_names for name in names):
            return None
        parts.append(table.select(names) if names else pa.table({"_": pa.nulls(table.num_rows, pa.int64())}))
    if not parts:
        return None
    try:
        table = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    except pa.ArrowException:
        return None
    if not widen:
        return table if all(exact_type(column.type) for column in table.columns) else None
    exact = [exact_column(column) for column in table.columns]
    if any(column is None for column in exact):
        return None
    return pa.table(dict(zip(table.column_names, exact)))


def ordered_type(typ: Any) -> bool:
    """Whether a column of Arrow type ``typ`` is one whose values Arrow groups and orders as Python does when every
    part has that very type: a decimal of one scale (``Decimal('1.50')`` against ``Decimal('1.50')``: the same
    integer), a timestamp (without a zone, or in UTC: instants), a date or a time (microseconds or days)."""
    pa = _pa()
    return bool(pa.types.is_decimal(typ) or typ == pa.timestamp("us") or typ == pa.timestamp("us", tz="UTC")
                or typ == pa.date32() or typ == pa.time64("us"))


def arrangeable(tables: list[Any], arity: int, floats: Sequence[int] = ()) -> Any | None:
    """The columns ``c0 … c{arity-1}`` of ``tables`` as one table whose rows Arrow groups as Python does: every
    column exact (:func:`exact_column`), or of an :func:`ordered_type` that is the same in every table (a decimal's
    scale is part of its values: two scales never unify), or — the columns ``floats`` only — float64 in every table
    (whose ``-0.0`` and NaN Arrow groups unlike Python: the caller must not group rows with them); ``None``
    otherwise."""
    pa = _pa()
    names = [f"c{i}" for i in range(arity)]
    if not tables or any(name not in table.column_names for table in tables for name in names):
        return None
    parts = [table.select(names) for table in tables]
    columns = []
    for name in names:
        types = {part.schema.field(name).type for part in parts}
        if len(types) == 1 and (ordered_type(next(iter(types)))
                                or (names.index(name) in floats and next(iter(types)) == pa.float64())):
            columns.append(pa.chunked_array([chunk for part in parts for chunk in part.column(name).chunks],
                                            type=next(iter(types))))
            continue
        exact = unified(parts, [names.index(name)])
        if exact is None:
            return None
        columns.append(exact.column(0))
    return pa.table(dict(zip(names, columns)))


def key_starts(table: Any, names: Sequence[str]) -> Any:
    """Positions (a NumPy array) where a new group of equal ``names`` values begins in ``table`` (sorted by them),
    and its length at the end.  NULLs equal each other here (a GROUP BY key)."""
    import numpy as np
    import pyarrow.compute as pc

    n = table.num_rows
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    changed = np.zeros(n - 1, dtype=bool)
    for name in names:
        column = table.column(name).combine_chunks()
        after, before = column.slice(1), column.slice(0, n - 1)
        differs = pc.fill_null(pc.not_equal(after, before), True)
        both_null = pc.and_(pc.is_null(after), pc.is_null(before))
        changed |= pc.and_not(differs, both_null).to_numpy(zero_copy_only=False)
    return np.concatenate(([0], np.flatnonzero(changed) + 1, [n])).astype(np.int64)


class SortedKeys:
    """Distinct int64 keys sorted ascending (a NumPy array), found many at a time (:meth:`find`): by a direct map
    from key to position when the keys are dense (a dimension's ids: their range at most a few times their number;
    built on the first search), else by binary search."""

    __slots__ = ("keys", "_map", "_low")

    def __init__(self, keys: Any) -> None:
        self.keys = keys
        self._map: Any = None  # key - low -> position (-1: none), when dense
        self._low = 0

    def find(self, values: Any) -> Any:
        """The position of each of ``values`` (int64) among the keys, -1 where absent."""
        import numpy as np

        keys = self.keys
        if not len(keys):
            return np.full(len(values), -1, dtype=np.int64)
        if self._map is None and len(values) > 16:
            low, high = int(keys[0]), int(keys[-1])
            if high - low < 4 * len(keys) + 4096:
                self._low = low
                self._map = np.full(high - low + 1, -1, dtype=np.int64)
                self._map[keys - low] = np.arange(len(keys), dtype=np.int64)
        if self._map is not None:
            inside = (values >= self._low) & (values <= keys[-1])
            return np.where(inside, self._map[np.where(inside, values - self._low, 0)], -1)
        at = np.minimum(keys.searchsorted(values), len(keys) - 1)
        return np.where(keys[at] == values, at, -1)


class Grouped:
    """A snapshot consolidated per group: ``keys[g]`` (tuples, sorted), ``rows[g]`` (input rows, NULLs included) and
    per value column ``values[c]``/``counts[c]`` with ``starts[c]``: group g's distinct non-NULL values, ascending,
    are ``values[c][starts[c][g]:ends[c][g]]``.  Python lists, or (``grouped_values(..., arrays=True)``) NumPy
    arrays and, for ``values``, an Arrow array: nothing made per value."""

    __slots__ = ("keys", "rows", "starts", "ends", "values", "counts")

    def __init__(self) -> None:
        self.keys: list[tuple] = []
        self.rows: Any = []
        self.starts: dict[int, Any] = {}
        self.ends: dict[int, Any] = {}
        self.values: dict[int, Any] = {}
        self.counts: dict[int, Any] = {}


def _digits(column: Any) -> tuple[Any, int, int, Callable[[Any], Any]] | None:
    """A column as order-preserving codes ``0 … base-2`` (NULL is ``base - 1``: last): ``(values, low, base,
    decode)`` where a row's code is ``values[i] - low`` (``values`` a NumPy array; ``None`` for an integer column
    without NULLs, whose values are its own, of the narrow type storage keeps) and ``decode`` turns codes back to an Arrow array: integers offset by their minimum, strings
    and booleans by their rank among the column's distinct values (dictionary-encoded, the dictionary sorted).
    ``None`` for other types."""
    import numpy as np
    import pyarrow.compute as pc

    pa = _pa()
    if pa.types.is_signed_integer(column.type):
        extremes = pc.min_max(column).as_py()
        low, high = extremes["min"] or 0, extremes["max"] or 0
        base = high - low + 2
        if base >= 2 ** 62:
            return None
        typ = column.type
        # without NULLs the values are read from each block's buffer as they are (``None`` here)
        values = pc.fill_null(column.cast(pa.int64()), low + base - 1).to_numpy() if column.null_count else None

        def decode_int(digits: Any) -> Any:
            return pa.array(digits + low, mask=digits == base - 1).cast(typ)

        return values, low, base, decode_int
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            or pa.types.is_boolean(column.type)):
        return None
    encoded = pc.dictionary_encode(column).combine_chunks()
    dictionary = encoded.dictionary
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[len(order)] = len(order)  # NULL
    base = len(order) + 1
    indices = pc.fill_null(encoded.indices.cast(pa.int64()), len(order)).to_numpy()
    ordered = dictionary.take(pa.array(order))

    def decode(digits: Any) -> Any:
        nulls = digits == base - 1
        return ordered.take(pa.array(np.where(nulls, 0, digits), mask=nulls)) if len(ordered) else \
            pa.nulls(len(digits), column.type)

    return rank[indices], 0, base, decode


PACK_BLOCK = 1 << 20  # rows packed at a time when they are counted into a table of every possible code


def _packed(table: Any, weights: Any = None) -> Any | None:
    """:func:`consolidated_sorted` when the columns' codes (:func:`_digits`) multiply to less than 2⁶²: each row
    packed into one int64, then either counted into a table of every possible code when there are few (block by
    block, so the packed codes of one block are reused memory, not a fresh array of the table's length), or
    consolidated and sorted by NumPy's ``unique``; unpacked again.  ``None`` when the columns are not such."""
    import numpy as np

    pa = _pa()
    encoded = []
    width = 1
    for column in table.columns:
        digits = _digits(column)
        if digits is None:
            return None
        width *= digits[2]
        if width >= 2 ** 62:
            return None
        encoded.append(digits)

    blocks = []  # (first row, the rows of a block of at most PACK_BLOCK rows: its columns are arrays)
    start = 0
    for batch in table.to_batches(max_chunksize=PACK_BLOCK):
        blocks.append((start, batch))
        start += batch.num_rows

    def packed(start: int, batch: Any) -> Any:
        code = np.zeros(batch.num_rows, dtype=np.int64)
        for i, (values, low, base, _decode) in enumerate(encoded):
            code *= base
            # a narrow integer type is widened as it is added
            code += batch.column(i).to_numpy() if values is None else values[start:start + batch.num_rows]
            if low:
                code -= low
        return code

    def whole() -> Any:
        return np.concatenate([packed(start, batch) for start, batch in blocks]) if blocks else \
            np.zeros(0, dtype=np.int64)

    n = table.num_rows
    if width <= max(4 * n, 1 << 16):  # few possible codes: counted in place, in one pass, not sorted
        every = np.zeros(width, dtype=np.int64)
        for start, batch in blocks:
            np.add.at(every, packed(start, batch), 1 if weights is None else weights[start:start + batch.num_rows])
        if weights is None:
            unique = np.flatnonzero(every).astype(np.int64)
        else:  # a code present with weights summing to zero is kept, as the sorting path keeps it
            present = np.zeros(width, dtype=bool)
            for start, batch in blocks:
                present[packed(start, batch)] = True
            unique = np.flatnonzero(present).astype(np.int64)
        counts = every[unique]
    elif weights is not None:  # each row counts its weight: summed per distinct row
        code = whole()
        order = np.argsort(code, kind="stable")
        code = code[order]
        starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1]))) if len(code) else \
            np.zeros(0, dtype=np.int64)
        unique = code[starts]
        counts = np.add.reduceat(weights[order], starts) if len(code) else np.zeros(0, dtype=np.int64)
    else:
        unique, counts = np.unique(whole(), return_counts=True)
    decoded = []
    for _values, _low, base, decode in reversed(encoded):
        decoded.append(decode(unique % base))
        unique = unique // base
    names = table.column_names
    return pa.table(dict(zip(names, reversed(decoded))) | {"count_all": pa.array(counts.astype(np.int64))})


def counted_table(table: Any) -> Any:
    """``table``'s distinct rows with how often each occurs (a column ``count_all``), in no particular order:
    packed and counted by NumPy when the columns allow it (:func:`_packed`), else by Arrow's hash aggregation."""
    packed = _packed(table)
    if packed is not None:
        return packed
    return table.group_by(table.column_names, use_threads=False).aggregate([([], "count_all")])


def repeats(table: Any) -> bool:
    """Whether some row of ``table`` occurs more than once (:func:`counted_table`'s distinct rows are fewer).  One
    integer column without NULLs (an index's id) is checked in place: strictly ascending (ids loaded in order: no
    temporary but a block's comparison), else by sorting its values (one copy); counting distinct rows would build
    several arrays of the table's length."""
    import numpy as np

    pa = _pa()
    if table.num_columns == 1 and pa.types.is_integer(table.schema.types[0]) and not table.column(0).null_count:
        previous = None
        for chunk in table.column(0).chunks:
            values = chunk.to_numpy()
            if not len(values):
                continue
            if (previous is not None and values[0] <= previous) or not bool((values[1:] > values[:-1]).all()):
                ordered = np.sort(table.column(0).to_numpy())
                return bool((ordered[1:] == ordered[:-1]).any())
            previous = values[-1]
        return False
    return bool(counted_table(table).num_rows < table.num_rows)


def consolidated_sorted(table: Any, weights: Any = None) -> Any:
    """``table``'s distinct rows, sorted by its columns in order (NULLs last), with their multiplicities in a
    column ``count_all`` (each row counting once, or its ``weights`` entry: a NumPy int64 array; a sum may then
    be zero): packed and sorted by NumPy when the columns allow it (:func:`_packed`), else by Arrow's hash
    aggregation and sort."""
    packed = _packed(table, weights)
    if packed is not None:
        return packed
    names = table.column_names
    if weights is None:
        counted = table.group_by(names, use_threads=False).aggregate([([], "count_all")])
    else:
        counted = table.append_column("w", _pa().array(weights)).group_by(names, use_threads=False).aggregate(
            [("w", "sum")]).rename_columns([*names, "count_all"])
    return counted.sort_by([(name, "ascending", "at_end") for name in names])


def grouped_values(tables: list[Any], key_columns: Sequence[int], value_columns: Sequence[int],
                   weighted: bool = False, arrays: bool = False) -> Grouped | None:
    """The rows of ``tables`` grouped by ``key_columns`` with, per column of ``value_columns``, each group's
    distinct values and their counts (Arrow's hash aggregation, then a sort by key and value); ``None`` when a
    column is not exact (:func:`exact_column`).  ``weighted``: each row stands for as many as its ``count_all``
    column says (a join of consolidated tables, :func:`joined_counted`).  ``arrays``: the positions, counts and
    values left as arrays (:class:`Grouped`)."""
    import numpy as np
    import pyarrow.compute as pc

    needed = sorted(set(key_columns) | set(value_columns))
    table = unified(tables, needed)
    if table is None:
        return None
    weights = None
    if weighted:
        weights = np.concatenate([t.column("count_all").to_numpy().astype(np.int64, copy=False) for t in tables]) \
            if tables else np.zeros(0, dtype=np.int64)
    out = Grouped()
    if table.num_rows == 0:
        return out
    keys = [f"k{i}" for i in range(len(key_columns))]
    named = {name: table.column(f"c{c}") for name, c in zip(keys, key_columns)}
    first = True
    passes: list[int | None] = list(value_columns) or [None]
    for c in passes:
        columns = dict(named)
        if c is not None:
            columns["v"] = table.column(f"c{c}")
        if columns:
            counted = consolidated_sorted(_pa().table(columns), weights)
        else:
            total = table.num_rows if weights is None else int(weights.sum())
            counted = _pa().table({"count_all": _pa().array([total], _pa().int64())})
        starts = key_starts(counted, keys)
        counts = counted.column("count_all").to_numpy()
        if first:
            first = False
            lows = starts[:-1]
            out.rows = np.add.reduceat(counts, lows) if len(counts) else np.zeros(0, dtype=np.int64)
            if not arrays:
                out.rows = out.rows.tolist()
            if keys:
                heads = counted.take(pc.cast(_pa().array(lows), _pa().int64()))
                out.keys = list(zip(*(heads.column(name).to_pylist() for name in keys)))
            else:
                out.keys = [()]
        if c is None:
            continue
        values = counted.column("v")
        valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
        # NULLs sort last within a group: a group's non-NULL values end before its NULL entry, if any
        ends = starts[1:] - ~valid[starts[1:] - 1]
        if arrays:
            out.starts[c], out.ends[c], out.counts[c] = starts[:-1], ends, counts
            out.values[c] = values.combine_chunks() if isinstance(values, _pa().ChunkedArray) else values
            continue
        out.starts[c] = starts[:-1].tolist()
        out.ends[c] = ends.tolist()
        out.values[c] = values.to_pylist()
        out.counts[c] = counts.tolist()
    return out


def joined_counted(left: Any, right: Any, left_key: Sequence[int], right_key: Sequence[int],
                   keep: Sequence[int] | None = None) -> Any:
    """:func:`joined` of two consolidated tables (columns ``c0 …`` and ``count_all``, :func:`arranged`'s): the
    pairs of distinct rows, with ``count_all`` the product of their counts — the join of the rows they stand for,
    each joined row once with its multiplicity.

    ``keep``: the only output columns the reader needs (numbered as in the full output).  Each side is then first
    cut to its kept and key columns and consolidated again by weight (:func:`projected_counted`), so the join pairs
    distinct *projected* rows — for ``count(DISTINCT o.customer_id) … GROUP BY c.region`` one row per customer on
    either side instead of one per order — and the output has only the kept columns (named by their full-output
    positions) and ``count_all``."""
    import pyarrow.compute as pc

    left_arity, right_arity = left.num_columns - 1, right.num_columns - 1
    left_cols, right_cols = list(range(left_arity)), list(range(right_arity))
    if keep is not None:
        left_cols = sorted(set(left_key) | {c for c in keep if c < left_arity})
        right_cols = sorted(set(right_key) | {c - left_arity for c in keep if c >= left_arity})
        left, right = projected_counted(left, left_cols), projected_counted(right, right_cols)
        left_key = [left_cols.index(c) for c in left_key]
        right_key = [right_cols.index(c) for c in right_key]
    out = _joined_with_unique_side(left, right, left_key, right_key)
    if out is None:
        out = joined(left, right, left_key, right_key)
    width = len(left_cols)
    weight = pc.multiply(out.column(width), out.column(width + 1 + len(right_cols)))
    columns = {f"c{c}": out.column(i) for i, c in enumerate(left_cols)} | \
        {f"c{left_arity + c}": out.column(width + 1 + i) for i, c in enumerate(right_cols)}
    if keep is not None:
        columns = {name: column for name, column in columns.items() if int(name[1:]) in keep}
    return _pa().table(columns | {"count_all": weight})


def _joined_with_unique_side(left: Any, right: Any, left_key: Sequence[int], right_key: Sequence[int]) -> Any | None:
    """:func:`joined` (columns ``c0 …``, one row per matching pair; row order not kept) by a lookup instead of a
    hash join when the key is one column of one type and one side holds each key value at most once (a consolidated
    dimension keyed by its primary key): the other side's keys found among it by ``index_in``; ``None`` when not
    so."""
    import pyarrow.compute as pc

    pa = _pa()
    if len(left_key) != 1 or left.column(left_key[0]).type != right.column(right_key[0]).type:
        return None
    for many, unique, many_key, unique_key, unique_first in ((left, right, left_key[0], right_key[0], False),
                                                            (right, left, right_key[0], left_key[0], True)):
        keys = unique.column(unique_key)
        valid = unique.filter(pc.is_valid(keys)) if keys.null_count else unique
        keys = valid.column(unique_key)
        if pc.count_distinct(keys).as_py() != len(keys):
            continue
        at = pc.index_in(many.column(many_key), value_set=keys.combine_chunks(), skip_nulls=True)
        matched = pc.is_valid(at)
        kept, found = many.filter(matched), valid.take(pc.filter(at, matched))
        parts = [found, kept] if unique_first else [kept, found]
        columns = [*parts[0].columns, *parts[1].columns]
        return pa.table({f"c{i}": column for i, column in enumerate(columns)})
    return None


def projected_counted(counted: Any, columns: Sequence[int]) -> Any:
    """A consolidated table (columns ``c0 …``, ``count_all``) cut to ``columns`` (renumbered ``c0 …``) and
    consolidated again: each distinct projected row with the summed counts of the rows it stands for."""
    arity = counted.num_columns - 1
    if list(columns) == list(range(arity)):
        return counted
    cut = counted.select([f"c{c}" for c in columns]).rename_columns([f"c{i}" for i in range(len(columns))])
    return consolidated_sorted(cut, counted.column("count_all").to_numpy().astype("int64", copy=False))


def joined(left: Any, right: Any, left_key: Sequence[int], right_key: Sequence[int], *,
           keys_only: tuple[bool, bool] = (False, False)) -> Any:
    """``left ⋈ right`` on the key columns (NULL keys never match), columns ``c0 …`` numbering the left's columns
    then the right's, one row per pair of rows (repeated rows repeat).  ``keys_only``: whether the left (right)
    side is a set of distinct keys — one key column, its only column, no value twice (the distinct keys a
    decorrelated ``LATERAL`` joins with): the join is then the other side's rows whose key is among them
    (:func:`_semijoined`), no hash join."""
    pa = _pa()
    for lc, rc in zip(left_key, right_key):  # a key column of NULLs only (int64 by default) takes the other's type
        lcol, rcol = left.column(lc), right.column(rc)
        if lcol.type != rcol.type:
            if lcol.null_count == len(lcol):
                left = left.set_column(lc, left.column_names[lc], pa.nulls(len(lcol), rcol.type))
            elif rcol.null_count == len(rcol):
                right = right.set_column(rc, right.column_names[rc], pa.nulls(len(rcol), lcol.type))
    left_arity, right_arity = left.num_columns, right.num_columns
    if len(left_key) == 1 and left.column(left_key[0]).type == right.column(right_key[0]).type:
        if keys_only[0] and left_arity == 1:
            kept = _semijoined(right, right_key[0], left.column(0))
            return pa.table({f"c{i}": column for i, column in enumerate([kept.column(right_key[0]), *kept.columns])})
        if keys_only[1] and right_arity == 1:
            kept = _semijoined(left, left_key[0], right.column(0))
            return pa.table({f"c{i}": column for i, column in enumerate([*kept.columns, kept.column(left_key[0])])})
    left = left.rename_columns([f"l{i}" for i in range(left_arity)])
    right = right.rename_columns([f"r{i}" for i in range(right_arity)])
    out = left.join(right, [f"l{i}" for i in left_key], [f"r{i}" for i in right_key], join_type="inner",
                    coalesce_keys=False, use_threads=False)
    columns = [out.column(f"l{i}") for i in range(left_arity)] + [out.column(f"r{i}") for i in range(right_arity)]
    return pa.table({f"c{i}": column for i, column in enumerate(columns)})


def _semijoined(table: Any, key: int, keys: Any) -> Any:
    """The rows of ``table`` whose column ``key`` is one of ``keys`` (NULL is none of them), all columns: int64
    keys whose range is at most a few times their number (ids), against a column without NULLs, by a table of
    the range marking the keys, others by Arrow's hashing ``is_in``; ``table`` itself when every row is kept (no
    copy)."""
    import numpy as np
    import pyarrow.compute as pc

    pa = _pa()
    value_set = keys.combine_chunks() if hasattr(keys, "combine_chunks") else keys
    column = table.column(key)
    mask = None
    if column.type == pa.int64() and column.null_count == 0 and len(value_set) > value_set.null_count \
            and table.num_rows > 16:
        present = value_set.drop_null().to_numpy()
        low, high = int(present.min()), int(present.max())
        if high - low < 4 * len(present) + 4096:
            marked = np.zeros(high - low + 1, dtype=bool)
            marked[present - low] = True
            values = column.to_numpy()
            if int(values.min()) >= low and int(values.max()) <= high:
                mask = pa.array(marked[values - low])
            else:
                inside = (values >= low) & (values <= high)
                mask = pa.array(inside & marked[np.where(inside, values - low, 0)])
    if mask is None:
        mask = pc.is_in(column, value_set=value_set, skip_nulls=True)
    if (pc.sum(mask).as_py() or 0) == table.num_rows:  # a NULL in the mask is not counted: it is not kept
        return table
    return table.filter(mask)


_EXACT_INFERRED = ("int64", "string", "bool", "null")


def table_of_rows(rows: dict[Row, int], arity: int) -> Any | None:
    """A consolidated delta of insertions (``{row: count}``, every count positive) as an exact table (columns
    ``c0 … c{arity-1}``, a row repeated ``count`` times): what a join side that took rows hands to Acero when the
    other side took columns.  ``None`` when a count is not positive or a column's values are not all Python ints
    (in int64), strings, booleans or NULLs."""
    import numpy as np

    pa = _pa()
    counts = list(rows.values())
    if not rows or min(counts) <= 0:
        return None
    columns = {}
    for i, values in enumerate(zip(*rows)):
        try:
            column = pa.array(values)
        except (pa.ArrowException, OverflowError, TypeError):
            return None
        if str(column.type) not in _EXACT_INFERRED or (column.type == pa.int64() and any(
                type(v) is bool for v in values)):
            return None
        columns[f"c{i}"] = column.cast(pa.int64()) if column.type == pa.null() else column
    if len(columns) != arity:
        return None
    table = pa.table(columns)
    if max(counts) > 1:
        table = table.take(pa.array(np.repeat(np.arange(len(counts), dtype=np.int64), counts)))
    return table


def python_values(column: Any) -> list[Any]:
    """A column's values as Python objects (``to_pylist``'s), a string column's through its dictionary: each
    distinct string becomes one object, shared by its rows (faster, and smaller, than one object per row).
    Timestamps (without a zone, or in UTC: then given ``timezone.utc``) and dates go through NumPy's
    ``datetime64`` and times and numerics through their text, as ``repr.columnar.python_values`` reads them
    (pyarrow builds those one Python call at a time, and a UTC timestamp with a ``ZoneInfo``)."""
    import pyarrow.compute as pc

    pa = _pa()
    kind = column.type
    if kind == pa.timestamp("us") or kind == pa.date32():  # NULL is NaT, which becomes None
        return list(column.to_numpy(zero_copy_only=False).astype(object).tolist())
    if kind == pa.timestamp("us", tz="UTC"):  # the instants, naive, then in UTC as the row path holds them
        return [None if v is None else v.replace(tzinfo=timezone.utc)
                for v in column.to_numpy(zero_copy_only=False).astype(object).tolist()]
    if kind == pa.time64("us") or pa.types.is_decimal(kind):
        parse = time_of_day.fromisoformat if kind == pa.time64("us") else Decimal
        return [None if text is None else parse(text) for text in column.cast(pa.string()).to_pylist()]
    if len(column) < 4096 or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column.to_pylist()
    encoded = pc.dictionary_encode(column)
    encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
    dictionary = encoded.dictionary.to_pylist()
    if len(dictionary) * 4 > len(column):  # mostly distinct: the dictionary saves nothing
        return column.to_pylist()
    dictionary.append(None)
    indices = pc.fill_null(encoded.indices, len(dictionary) - 1).to_numpy().tolist()
    return list(map(dictionary.__getitem__, indices))


def counted_rows(table: Any, arity: int) -> dict[Row, int]:
    """``{row: count}`` of the first ``arity`` columns of a table (``arity`` 0: the table only counts rows),
    consolidated by :func:`consolidated_sorted` (rows packed into integers and counted by NumPy, when the
    columns allow) where every column is exact, else by Arrow's hash aggregation (which groups floats as Python
    does not: callers give exact columns or none that repeat)."""
    if arity == 0:
        return {(): table.num_rows} if table.num_rows else {}
    names = [f"c{i}" for i in range(arity)]
    if table.num_rows == 0:
        return {}
    exact = unified([table], range(arity))
    if exact is None:
        counted = table.select(names).group_by(names, use_threads=False).aggregate([([], "count_all")])
    else:
        counted = consolidated_sorted(exact)
    return _counted_dict(counted, names)


def _counted_dict(counted: Any, names: Sequence[str]) -> dict[Row, int]:
    """``{row: count}`` of a consolidated table (its ``count_all`` column), zero counts left out."""
    import pyarrow.compute as pc

    counts = counted.column("count_all")
    if counts.null_count == 0 and pc.min(counts).as_py() == 1 == pc.max(counts).as_py():
        return dict.fromkeys(zip(*(python_values(counted.column(name)) for name in names)), 1)
    counted = counted.filter(pc.not_equal(counts, 0))
    rows = zip(*(python_values(counted.column(name)) for name in names))
    return dict(zip(rows, counted.column("count_all").to_pylist()))


def summed_rows(table: Any, weights: Any, arity: int) -> dict[Row, int]:
    """``{row: sum of its weights}`` (a NumPy int64 array, any sign; zero sums left out) of a table of exact
    columns ``c0 … c{arity-1}`` (:func:`unified`)."""
    names = [f"c{i}" for i in range(arity)]
    return _counted_dict(consolidated_sorted(table.select(names), weights), names)


def rows_of(table: Any, distinct: bool = False) -> dict[Row, int]:
    """``{row: count}`` of a table's rows (``distinct``: the caller knows no row is repeated)."""
    names = table.column_names
    if table.num_rows == 0:
        return {}
    if distinct:
        return dict.fromkeys(zip(*(python_values(table.column(name)) for name in names)), 1)
    if all(name == f"c{i}" for i, name in enumerate(names)):
        return counted_rows(table, len(names))
    counted = table.group_by(names, use_threads=False).aggregate([([], "count_all")])
    rows = zip(*(counted.column(name).to_pylist() for name in names))
    return dict(zip(rows, counted.column("count_all").to_pylist()))


__all__ = ["Grouped", "SortedKeys", "consolidated_sorted", "counted_rows", "counted_table", "repeats", "exact_column", "exact_type", "gc_paused",
           "grouped_values", "joined", "joined_counted", "projected_counted", "python_values", "rows_of", "summed_rows",
           "table_of_rows", "unified"]
