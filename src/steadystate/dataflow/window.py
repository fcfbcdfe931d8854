"""Window functions: each row of a partition extended with values computed over the partition in a sort order.

State per partition (rows of equal partition key): the multiset of its input rows and the output rows last
emitted for it.  When a round touches a partition, the operator sorts the partition's rows (each row repeated by
its multiplicity; the order is the sort order with ties broken by the whole row, as in top-k, so every replica
computes the same values), asks ``compute`` for the appended values of each position, and emits the difference
between the new output and the previous one.  A round costs the sizes of the partitions it touches; the others
are not looked at (Materialize renders window functions the same way: a reduction per partition).

``compute`` is given by the renderer (``expr/window.py`` owns what the functions mean); the engine knows only
sorted rows.  **Hydration from columns** (the ``ColumnarInput`` protocol): where the renderer also gives a
``columnar`` function (``expr/window_columns.py``), a snapshot's Arrow columns are sorted and computed at once (each
function's values an Arrow array whose ``to_pylist`` values are the row path's); the first round emits every
output row — as columns (a ``dataflow.columnar_delta.ColumnarDelta`` of one part: the sorted input columns and the
values beside them, :meth:`WindowOperator.run_columnar`) in the snapshot's round, so a projection and an index
export downstream take them without a Python object per row, or as rows in any other round — and the partitions
stay as slices of the sorted columns until a change first touches one (its rows and outputs become Python rows
then), so a hydration builds no per-partition state.  If ``compute`` raises a ``SteadyError`` (``ntile(0)``), the
partition's output is that error, counted once, until a later change makes the partition computable again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from steadystate import errors
from steadystate.dataflow import guard
from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into, merge_into
from steadystate.dataflow.columnar_delta import ColumnarDelta, ok_rows
from steadystate.dataflow.operators import Operator
from steadystate.dataflow.topk import SortColumn, sort_rows

#: sorted rows of one partition -> the values appended to each of them, in order
Compute = Callable[[list[Row]], list[tuple]]
#: a hydrated snapshot: its rows sorted, each function's values in that order (Arrow arrays), partition starts
Folded = tuple[pa.Table, list[pa.Array], np.ndarray]


class WindowOperator(Operator):
    def __init__(self, input: int, partition_fn: Callable[[Row], tuple] | None, order: Sequence[SortColumn],
                 compute: Compute) -> None:
        self.inputs = (input,)
        self.partition_fn = partition_fn
        self.order = tuple(order)
        self.compute = compute
        self.partitions: dict[tuple, dict[Row, int]] = {}
        self.outputs: dict[tuple, dict[Row, int]] = {}
        self.failures: dict[tuple, EvalError] = {}
        #: snapshot columns -> (rows sorted, each function's values, partition starts), or None (row path)
        self.columnar: Callable[[Any], Folded | None] | None = None
        #: a partition's rows -> the values appended to every one of them, when they are one for the whole partition
        #: whatever the order (no sort then); ``None``: sort and ``compute``
        self.uniform: Callable[[dict[Row, int]], tuple] | None = None
        self._lazy: _Slices | None = None  # partitions hydrated from columns that no change has touched yet
        self._unsent: _Slices | None = None  # the hydrated output, emitted by the next round

    def records(self) -> int:
        lazy = self._lazy.rows if self._lazy is not None else 0
        return lazy + sum(len(rows) for rows in self.partitions.values())

    # -- hydration from columns (``ColumnarInput``) ----------------------------------------------------------

    def fold_columns(self, tables: list[Any]) -> Folded | None:
        """The snapshot sorted and computed (changing nothing); ``None``: the rows take the row path."""
        if self.columnar is None or self.partitions or self._lazy is not None or not tables:
            return None
        try:
            table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            return self.columnar(table)
        except (pa.ArrowException, ValueError):
            return None

    def absorb_folded(self, folded: Folded) -> None:
        table, values, starts = folded
        if table.num_rows == 0:
            return
        slices = _Slices(table, values, starts, self.partition_fn)
        self._lazy = self._unsent = slices

    def _take_partitions(self, keys: list[tuple]) -> None:
        """Hydrated partitions a change touches (``keys``, all still lazy): their rows and outputs become the row
        path's state, taken from the columns at once."""
        assert self._lazy is not None
        for key, rows, outputs in self._lazy.take_many(keys):
            self.partitions[key] = rows
            self.outputs[key] = outputs
        if not self._lazy.index:
            self._lazy = None

    def _evaluate(self, rows: dict[Row, int]) -> dict[Row, int]:
        uniform = self.uniform
        if uniform is not None:
            values = uniform(rows)
            return {row + values: count for row, count in rows.items() if count > 0}
        ordered: list[Row] = []
        for row in sort_rows([r for r, count in rows.items() if count > 0], self.order):
            ordered.extend([row] * rows[row])
        out: dict[Row, int] = {}
        for row, values in zip(ordered, self.compute(ordered)):
            add_into(out, row + values, 1)
        return out

    def columns_at(self, time: int) -> bool:
        """Whether this round has the hydrated output to emit (the graph then runs it by :meth:`run_columnar`)."""
        return self._unsent is not None

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        """The snapshot's round: the hydrated output as columns (one part), what the round's rows change (a
        partition they touch: its hydrated output retracted, its new output inserted) as the extra rows."""
        ok_in, err_in = deltas[0]
        unsent, self._unsent = self._unsent, None
        ok, err = self.run(time, [(ok_rows(ok_in), err_in)], first)
        if unsent is None:
            return ok, err
        table = unsent.output_table()
        return ColumnarDelta([(table, 1)], table.num_columns, ok), err

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        partition_fn = self.partition_fn
        ok: OkDelta = {}
        if self._unsent is not None:
            ok, self._unsent = self._unsent.all_outputs(), None
        keys = [()] * len(ok_in) if partition_fn is None else list(map(partition_fn, ok_in))
        lazy = self._lazy
        if lazy is not None and keys:
            index = lazy.index
            wanted = [key for key in dict.fromkeys(keys) if key in index]
            if wanted:
                self._take_partitions(wanted)
        partitions = self.partitions
        for key, (row, diff) in guard.checked(zip(keys, ok_in.items())):
            rows = partitions.get(key)
            if rows is None:
                rows = partitions[key] = {}
            total = rows.get(row, 0) + diff
            if total:
                rows[row] = total
            else:
                del rows[row]
        touched = set(keys)
        err: ErrDelta = dict(err_in)
        exclusive = not ok  # no other output in ``ok``: the partitions' outputs (disjoint) need no merging
        for key in touched:
            rows = self.partitions[key]
            new: dict[Row, int] = {}
            failure: EvalError | None = None
            if rows:
                try:
                    new = self._evaluate(rows)
                except guard.STOPS:
                    raise  # a guarded query stopped: not an error of the window's data
                except errors.SteadyError as exc:
                    failure = EvalError.from_exception(exc)
            else:
                del self.partitions[key]
            old = self.outputs.pop(key, None)
            if old is None:
                merge_into(ok, new, 1)
            elif exclusive and new.keys().isdisjoint(old):  # every output row changed: no row to cancel
                ok.update({row: -count for row, count in old.items()})
                ok.update(new)
            else:
                merge_into(ok, old, -1)
                merge_into(ok, new, 1)
            if new:
                self.outputs[key] = new
            old_failure = self.failures.pop(key, None)
            if old_failure is not None:
                add_into(err, old_failure, -1)
            if failure is not None:
                self.failures[key] = failure
                add_into(err, failure, 1)
        return ok, err


class _Slices:
    """Partitions hydrated from columns: the sorted input rows, each function's values in that order (Arrow arrays),
    and where each partition's slice is (by partition key)."""

    def __init__(self, table: pa.Table, values: list[pa.Array], starts: np.ndarray,
                 partition_fn: Callable[[Row], tuple] | None) -> None:
        self.table = table
        self.values = values
        self.rows = table.num_rows
        bounds = np.append(starts, table.num_rows).tolist()
        firsts = table.take(pa.array(starts)).columns
        self.index: dict[tuple, tuple[int, int]] = {}
        for i, row in enumerate(zip(*(column.to_pylist() for column in firsts))):
            key = partition_fn(row) if partition_fn is not None else ()
            self.index[key] = (bounds[i], bounds[i + 1])

    def output_table(self) -> pa.Table:
        """Every output row, as columns ``c0 …``: the input's, then each function's values."""
        columns = [*self.table.columns, *self.values]
        return pa.table(columns, names=[f"c{i}" for i in range(len(columns))])

    def all_outputs(self) -> OkDelta:
        table = self.output_table()
        return _counted(list(zip(*(column.to_pylist() for column in table.columns))))

    def take_many(self, keys: list[tuple]) -> list[tuple[tuple, dict[Row, int], dict[Row, int]]]:
        """``(key, rows, outputs)`` of each partition of ``keys`` (distinct, all in :attr:`index`), taken out of the
        columns at once: one Arrow ``take`` of their positions, not a slice per partition."""
        spans = [self.index.pop(key) for key in keys]
        lows = np.fromiter((low for low, _high in spans), dtype=np.int64, count=len(spans))
        lengths = np.fromiter((high for _low, high in spans), dtype=np.int64, count=len(spans)) - lows
        total = int(lengths.sum())
        self.rows -= total
        offsets = np.cumsum(lengths) - lengths
        positions = pa.array(np.repeat(lows - offsets, lengths) + np.arange(total, dtype=np.int64))
        part = self.table.take(positions)
        rows: list[Row] = list(zip(*(column.to_pylist() for column in part.columns)))
        appended = zip(*(_python_values(values.take(positions)) for values in self.values))
        outputs = [row + extra for row, extra in zip(rows, appended)]
        out = []
        start = 0
        for key, length in zip(keys, lengths.tolist()):
            out.append((key, _counted(rows[start:start + length]), _counted(outputs[start:start + length])))
            start += length
        return out


def _python_values(array: pa.Array) -> list[Any]:
    """``array.to_pylist()``; an integral decimal column's (``sum(bigint)``) through ``int64``, each distinct int made
    one ``Decimal`` (the same values, exponent 0) shared by its rows — a partition's rows share its sum, whose hash
    (about 1 µs for a fresh ``Decimal``) is then computed once, not per output row."""
    typ = array.type
    if isinstance(typ, pa.Decimal128Type) and typ.scale == 0:
        try:
            ints = array.cast(pa.int64()).to_pylist()
        except pa.ArrowInvalid:  # beyond int64
            return array.to_pylist()
        made: dict[int | None, Decimal | None] = {None: None}
        for value in ints:
            if value not in made:
                made[value] = Decimal(value)
        return [made[value] for value in ints]
    return array.to_pylist()


def _counted(rows: list[Row]) -> dict[Row, int]:
    out = dict.fromkeys(rows, 1)
    if len(out) < len(rows):  # repeated rows: count them
        out = {}
        for row in rows:
            out[row] = out.get(row, 0) + 1
    return out
