"""Window functions over a whole snapshot in columns: how ``dataflow.window.WindowOperator`` hydrates.

The row path (``expr/window.py``) sorts each partition's Python rows and computes its functions row by row: at a
million rows that is most of a window view's hydration.  :func:`compile_window_columns` returns, for the window
shapes it computes exactly, a function from the snapshot (one Arrow table of the window's input columns, one row
per insertion) to ``(sorted rows, appended values, partition starts)``:

* **Order** — the rows sorted as the row path sorts each partition (``dataflow.topk.sort_rows``): by partition,
  then the ORDER BY columns (direction and NULL placement), then the whole row ascending with NULLs last.  Every
  column becomes dense ranks (``pyarrow.compute.rank``: text by code point, as Python compares ``str``; an integer
  column without NULLs is its own ranks, order and equality alike, and is not ranked) and
  ``numpy.lexsort`` sorts them, so the order, the peer groups and every order-dependent value (``row_number``,
  ``lag``) are the row path's.
* **Values** — per function, one Arrow array whose ``to_pylist`` values are the row path's (``int64``: ``int``,
  ``double``: ``float``, ``decimal128(38, 0)`` for a ``sum`` of ``bigint``: ``Decimal`` of exponent 0, as the row
  path's ``Decimal(int)``), from NumPy over the sorted columns (so a hydration builds no Python object per value): positions within the partition and peer group for
  the ranking functions, shifted takes for ``lag``/``lead``, prefix sums for ``count``/``sum`` over the whole
  partition or the running frames (``RANGE``/``GROUPS`` up to the current row's peers, ``ROWS`` up to the row),
  ``reduceat`` for ``min``/``max`` over the whole partition.

Anything else — other column types (floats and their NaN, numeric scale, dates), other functions (``avg``,
``ntile``, ``first_value``…), other frames, a ``sum`` that might pass 2⁶² — gives ``None`` and the row path, which
stays the definition: ``tests/expr/test_window_columns.py`` checks this module against it on random partitions.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steadystate.expr import ir
from steadystate.expr.infer import Types
from steadystate.repr.types import ScalarType

B = ir.BoundKind

#: the column types whose Arrow order is the row path's order (no NaN, no scale, no time zone)
SORTABLE = frozenset({ScalarType.INT2, ScalarType.INT4, ScalarType.INT8, ScalarType.TEXT})
INTEGERS = frozenset({ScalarType.INT2, ScalarType.INT4, ScalarType.INT8})
#: a sum is computed in int64 only while it cannot overflow
SAFE_TOTAL = 2 ** 62

#: the hydrated window: input rows sorted as the row path sorts, each function's values in that order (Arrow arrays
#: whose ``to_pylist`` values are the row path's), and the position where each partition starts
Hydrated = tuple[pa.Table, list[pa.Array], np.ndarray]
#: ``sum(bigint)`` is numeric: the row path's ``Decimal(int)`` values, exponent 0
SUM_BIGINT = pa.decimal128(38, 0)


class _Sorted:
    """The snapshot sorted, with each row's partition and peer-group bounds (positions, half-open)."""

    def __init__(self, columns: list[pa.Array], part_start: np.ndarray, part_end: np.ndarray, peer_start: np.ndarray,
                 peer_end: np.ndarray, dense: np.ndarray) -> None:
        self.columns = columns
        self.n = len(part_start)
        self.position = np.arange(self.n, dtype=np.int64)
        self.part_start, self.part_end = part_start, part_end
        self.peer_start, self.peer_end = peer_start, peer_end
        self.dense = dense


Values = Callable[[_Sorted], pa.Array | None]


def _ranks(column: pa.Array, descending: bool = False, nulls_last: bool = True) -> np.ndarray:
    """Dense ranks of ``column`` (equal values, NULLs included, share one), NULLs first or last — or, for an integer
    column without NULLs, its values themselves (bitwise-inverted when descending: ``~x`` reverses int64's order
    without overflow), which order and compare as its ranks do, without Arrow's sort for the ranks."""
    if pa.types.is_integer(column.type) and not column.null_count and pa.types.is_signed_integer(column.type):
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
        return ~values if descending else values
    ranks = pc.rank(column, sort_keys="descending" if descending else "ascending", tiebreaker="dense")
    out = np.asarray(ranks.to_numpy(zero_copy_only=False), dtype=np.int64)
    if not nulls_last and column.null_count:
        out[np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = 0
    return out


def _bounds(changes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first position of its run and one past its last, from where runs start (``changes``)."""
    starts = np.flatnonzero(changes)
    run = np.cumsum(changes) - 1
    return starts[run], np.append(starts[1:], n)[run]


def _frame_end(frame: ir.WindowFrame) -> str | None:
    """Which running frame this is: ``"partition"``, ``"peers"`` (up to the row's last peer), ``"row"``, or
    ``None`` for a frame this module does not compute."""
    if frame.start.kind is not B.UNBOUNDED_PRECEDING:
        return None
    if frame.end.kind is B.UNBOUNDED_FOLLOWING:
        return "partition"
    if frame.end.kind is B.CURRENT_ROW:
        return "row" if frame.mode is ir.FrameMode.ROWS else "peers"
    return None


def _ends(sorted_: _Sorted, end: str) -> np.ndarray:
    if end == "partition":
        return sorted_.part_end
    if end == "peers":
        return sorted_.peer_end
    return sorted_.position + 1


def _not_null(column: pa.Array) -> np.ndarray:
    return np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.int64)


def _framed_sum(values: np.ndarray, sorted_: _Sorted, ends: np.ndarray) -> np.ndarray:
    prefix = np.concatenate(([0], np.cumsum(values)))
    return prefix[ends] - prefix[sorted_.part_start]


def _int64(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An int64 array (NULL where ``valid`` is false)."""
    return pa.array(values.astype(np.int64, copy=False), mask=None if valid is None else ~valid)


def _float64(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.float64, copy=False))


def _aggregate(func: ir.WindowFunc, types: Types, ordered: bool) -> Values | None:
    end = _frame_end(func.frame)
    if end is None:
        return None
    if end == "peers" and not ordered:  # without ORDER BY every row is a peer: the frame is the partition
        end = "partition"
    name = func.func
    if name in ("count", "count_star"):
        def count(s: _Sorted) -> pa.Array:
            ends = _ends(s, end)
            if not func.args:
                return _int64(ends - s.part_start)
            return _int64(_framed_sum(_not_null(s.columns[func.args[0]]), s, ends))
        return count
    if not func.args or types[func.args[0]] not in INTEGERS:
        return None
    argument, typ = func.args[0], types[func.args[0]]
    if name == "sum":
        def total(s: _Sorted) -> pa.Array | None:
            column = s.columns[argument]
            values = np.asarray(column.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            if float(np.abs(values.astype(np.float64)).sum()) >= SAFE_TOTAL:
                return None
            ends = _ends(s, end)
            sums = _int64(_framed_sum(values, s, ends), _framed_sum(_not_null(column), s, ends) > 0)
            return sums.cast(SUM_BIGINT) if typ is ScalarType.INT8 else sums  # sum(bigint) is numeric
        return total
    if name in ("min", "max") and end == "partition":
        def extreme(s: _Sorted) -> pa.Array | None:
            column = s.columns[argument]
            valid = _not_null(column).astype(bool)
            raw = np.asarray(column.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            sentinel = np.iinfo(np.int64).max if name == "min" else np.iinfo(np.int64).min
            values = np.where(valid, raw, sentinel)
            starts = np.unique(s.part_start)
            reduce = np.minimum if name == "min" else np.maximum
            per_part = reduce.reduceat(values, starts)
            any_valid = np.add.reduceat(valid.astype(np.int64), starts) > 0
            part = np.searchsorted(starts, s.part_start)
            return _int64(per_part[part], any_valid[part])
        return extreme
    return None


def _function(func: ir.WindowFunc, types: Types, ordered: bool) -> Values | None:
    name = func.func
    if name == "row_number":
        return lambda s: _int64(s.position - s.part_start + 1)
    if name == "rank":
        return lambda s: _int64(s.peer_start - s.part_start + 1)
    if name == "dense_rank":
        return lambda s: _int64(s.dense)
    if name == "percent_rank":
        def percent(s: _Sorted) -> pa.Array:
            size = s.part_end - s.part_start
            return _float64(np.where(size > 1, (s.peer_start - s.part_start) / np.maximum(size - 1, 1), 0.0))
        return percent
    if name == "cume_dist":
        return lambda s: _float64((s.peer_end - s.part_start) / (s.part_end - s.part_start))
    if name in ("lag", "lead"):
        value, default = func.args[0], func.args[1] if len(func.args) > 1 else None
        shift = (func.param if func.param is not None else 1) * (-1 if name == "lag" else 1)

        def offset(s: _Sorted) -> pa.Array:
            target = s.position + shift
            inside = (target >= s.part_start) & (target < s.part_end)
            taken = s.columns[value].take(pa.array(np.where(inside, target, 0)))
            fallback = s.columns[default] if default is not None else pa.nulls(s.n, taken.type)
            return pc.if_else(pa.array(inside), taken, fallback.cast(taken.type))
        return offset
    if name in ("ntile", "first_value", "last_value", "nth_value"):
        return None
    return _aggregate(func, types, ordered)


def _stored_as(arrow: pa.DataType, typ: ScalarType | None) -> bool:
    if typ in INTEGERS:
        return bool(pa.types.is_integer(arrow))
    return bool(pa.types.is_string(arrow) or pa.types.is_large_string(arrow))


def compile_window_columns(expr: ir.Window, types: Types | None) -> Callable[[pa.Table], Hydrated | None] | None:
    """The columnar hydration of ``expr`` over input columns of ``types``, or ``None`` where only the row path
    computes it exactly.  The function returns ``None`` for a snapshot it declines (a sum that could overflow)."""
    if types is None or any(t not in SORTABLE for t in types):
        return None
    functions = [_function(f, types, bool(expr.order_key)) for f in expr.functions]
    if any(f is None for f in functions):
        return None
    for func in expr.functions:  # lag/lead's default must have the value's type (else the row path casts)
        if func.func in ("lag", "lead") and len(func.args) > 1 and types[func.args[1]] != types[func.args[0]]:
            return None
    partition, order = list(expr.partition_key), list(expr.order_key)
    # which row of a peer group gets which value matters only to these; otherwise the whole-row tie break is skipped
    # (the output is a multiset: peers' order within their group changes nothing)
    by_row = any(f.func in ("row_number", "lag", "lead") or _frame_end(f.frame) == "row" for f in expr.functions)

    def hydrate(table: pa.Table) -> Hydrated | None:
        n = table.num_rows
        columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in table.columns]
        if len(columns) != len(types) or not all(_stored_as(c.type, t) for c, t in zip(columns, types)):
            return None
        # ascending, NULLs last: partitions and the whole-row tie break
        plain = {c: _ranks(columns[c]) for c in (range(len(columns)) if by_row else partition)}
        ordered = [_ranks(columns[o.column], o.desc, o.nulls_last) for o in order]
        keys = [plain[c] for c in partition] + ordered + (list(plain.values()) if by_row else [])
        permutation = np.lexsort(keys[::-1]) if keys else np.arange(n)
        sorted_columns = [c.take(pa.array(permutation)) for c in columns]
        part_changes = np.zeros(n, dtype=bool)
        if n:
            part_changes[0] = True
        for c in partition:
            ranks = plain[c][permutation]
            part_changes[1:] |= ranks[1:] != ranks[:-1]
        peer_changes = part_changes.copy()
        for ranks_ in ordered:
            ranks = ranks_[permutation]
            peer_changes[1:] |= ranks[1:] != ranks[:-1]
        part_start, part_end = _bounds(part_changes, n)
        peer_start, peer_end = _bounds(peer_changes, n)
        peer_number = np.cumsum(peer_changes)
        dense = peer_number - peer_number[part_start] + 1 if n else peer_number
        sorted_ = _Sorted(sorted_columns, part_start, part_end, peer_start, peer_end, dense)
        values = []
        for compute in functions:
            assert compute is not None
            computed = compute(sorted_)
            if computed is None:
                return None
            values.append(computed)
        return (pa.Table.from_arrays(sorted_columns, names=table.column_names), values,
                np.flatnonzero(part_changes))
    return hydrate
