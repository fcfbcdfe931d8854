"""Stateless and simple stateful operators: inputs, constants, MFP, union, negate, threshold, distinct.

Every operator is an :class:`Operator`: it names the nodes it reads (``inputs``) and implements
``run(time, deltas, first) -> Delta``, given one delta per input for a single timestamp (``first`` is true in the
dataflow's first round, which is when constants emit and global aggregates publish their empty-input row).
Errors (the ``err`` half of a delta) pass through every operator unchanged except where noted; an operator
that evaluates expressions turns a failing row into an error update of the same diff.
"""

from __future__ import annotations

from itertools import compress
from typing import Any, Callable, Protocol, runtime_checkable

from steadystate.dataflow import guard
from steadystate.dataflow.collection import EMPTY, Delta, ErrDelta, EvalError, OkDelta, Row, add_into, merge_into
from steadystate.dataflow.columnar_delta import ColumnarDelta, Layer, ok_rows, summed
from steadystate.dataflow.columns import counted_table, python_values
from steadystate.dataflow.lazy_counts import lazy_counts


@runtime_checkable
class ColumnarInput(Protocol):
    """An operator that can take a snapshot of its (first) input as Arrow tables (columns ``c0 … cN``, one
    insertion per row) instead of rows, before its first round: :meth:`fold_columns` prepares what it takes without
    changing anything (``None``: it cannot, the rows take the row path), :meth:`absorb_folded` takes it; the next
    round emits what it changes.  ``render.dataflow.RenderedDataflow.columnar_consumer`` finds such an operator
    behind a source, directly or behind maps/filters/projections ``expr.arrow_eval`` evaluates."""

    def fold_columns(self, tables: list[Any]) -> Any: ...

    def absorb_folded(self, folded: Any) -> None: ...


class Operator:
    """A node of the dataflow graph."""

    inputs: tuple[int, ...] = ()

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        raise NotImplementedError


class InputOperator(Operator):
    """A source (shard or imported arrangement): the graph sets ``current`` before each round."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.current: Delta = EMPTY

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        current, self.current = self.current, EMPTY
        return current


class ConstantOperator(Operator):
    """Literal rows, emitted once, in the first round."""

    def __init__(self, rows: list[tuple[Row, int]]) -> None:
        ok: OkDelta = {}
        for row, diff in rows:
            add_into(ok, row, diff)
        self.rows = ok

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        return (dict(self.rows), {}) if first else EMPTY


class MfpOperator(Operator):
    """Fused map/filter/project; a row whose evaluation raises becomes an error update.

    ``premapped[time]`` is output computed elsewhere for rows that never reach the input — a snapshot's columnar
    part, evaluated over Arrow columns at hydration (``render.columnar.ColumnarMapper``) — added to the output of
    the round at ``time``: as columns (a :class:`ColumnarDelta`) in the dataflow's first round (``columns_at``
    tells the graph), so an index export arranges them without building rows (``Arrangement.apply_columns``), as
    rows in any other."""

    def __init__(self, input: int, apply: Callable[[Row], Row | None]) -> None:
        self.inputs = (input,)
        self.apply = apply
        self.premapped: dict[int, ColumnarDelta] = {}
        # the MFP over Arrow tables and its output's arity, for a snapshot's columns (``dataflow.columnar_delta``)
        self.arrow: tuple[Layer, int] | None = None
        # the input columns kept, when the MFP only projects (the renderer sets it): a snapshot's columns of any
        # type are then selected as they are (their values pass through unread: exact or not, they stay the rows')
        self.projection: tuple[int, ...] | None = None

    def columns_at(self, time: int) -> bool:
        """Whether the round at ``time`` has premapped columns to add (the graph then runs it by
        :meth:`run_columnar`)."""
        return time in self.premapped

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        """A snapshot's columns mapped by the Arrow layer, or selected when the MFP only projects (the extra rows
        by the row path; rows when there is no layer or it cannot evaluate a value: the row path then reports the
        error as data), and this round's premapped columns beside them."""
        ok_in, err_in = deltas[0]
        premapped = self.premapped.pop(time, None)
        mapped = None
        if type(ok_in) is ColumnarDelta and self.projection:
            mapped = ok_in.projected(self.projection)
        elif type(ok_in) is ColumnarDelta and self.arrow is not None:
            layer, arity = self.arrow
            mapped = ok_in.mapped(layer, arity)
        if mapped is not None:
            mapped.extra, err = self.run(time, [(ok_in.extra, err_in)], first)
        else:
            rows, err = self.run(time, [(ok_rows(ok_in), err_in)], first)
            if premapped is None:
                return rows, err
            mapped = ColumnarDelta([], premapped.arity, rows)
        if premapped is not None:
            mapped.parts += premapped.parts
            merge_into(mapped.extra, premapped.extra)
        return mapped, err

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        apply = self.apply
        ok: OkDelta = {}
        err: ErrDelta = dict(err_in)
        get = ok.get
        for row, diff in guard.checked(ok_in.items()):
            try:
                out = apply(row)
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(err, EvalError.from_exception(exc), diff)
                continue
            if out is not None:
                ok[out] = get(out, 0) + diff
        ok = {r: d for r, d in ok.items() if d}
        if self.premapped:
            extra = self.premapped.pop(time, None)
            if extra:
                merge_into(ok, extra.rows())
        return ok, err


class UnionOperator(Operator):
    def __init__(self, inputs: tuple[int, ...]) -> None:
        self.inputs = inputs

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        """The inputs' columns side by side, their rows summed."""
        parts: list[tuple[Any, int]] = []
        extra: OkDelta = {}
        err: ErrDelta = {}
        arity = 0
        for ok_in, err_in in deltas:
            if type(ok_in) is ColumnarDelta:
                parts += ok_in.parts
                arity = ok_in.arity
                merge_into(extra, ok_in.extra)
            else:
                merge_into(extra, ok_in)
            merge_into(err, err_in)
        return ColumnarDelta(parts, arity, extra), err

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        non_empty = [d for d in deltas if d[0] or d[1]]
        if len(non_empty) == 1:
            return non_empty[0]
        ok: OkDelta = {}
        err: ErrDelta = {}
        for ok_in, err_in in non_empty:
            merge_into(ok, ok_in)
            merge_into(err, err_in)
        return ok, err


class NegateOperator(Operator):
    """Negates the ok part; errors are not negated (an error stays an error)."""

    def __init__(self, input: int) -> None:
        self.inputs = (input,)

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        return {row: -diff for row, diff in ok_in.items()}, err_in

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        ok_in, err_in = deltas[0]
        return ok_in.negated(), err_in


class CountingOperator(Operator):
    """Keeps the accumulated count per row and emits the change of ``output_count(count)``.

    Hydrates from columns (:class:`ColumnarInput`): a snapshot's tables are counted per distinct row by Arrow's
    hash aggregation, so only the distinct rows become Python tuples."""

    def __init__(self, input: int, output_count: Callable[[int], int]) -> None:
        """``output_count(count)`` is 0 unless ``count`` is positive, then 1 (a distinct) or ``count`` (a
        threshold): what :meth:`run_columnar` computes over columns."""
        self.inputs = (input,)
        self.counts: dict[Row, int] = {}
        self.output_count = output_count
        self._absorbed: dict[Row, int] | None = None  # counts folded from columns (``counts`` itself), emitted next
        self._absorbed_table: Any = None  # and their output as an Arrow table
        self.once = output_count(2) == 1  # a distinct (each positive row once), not a threshold

    def fold_columns(self, tables: list[Any]) -> tuple[dict[Row, int], Any] | None:
        if self.counts or not tables or any(t.num_columns != tables[0].num_columns for t in tables):
            return None
        import numpy as np
        import pyarrow as pa  # the engine takes Arrow only where a snapshot arrives as columns

        names = [f"c{i}" for i in range(tables[0].num_columns)]
        if not names or any(pa.types.is_floating(f.type) for t in tables for f in t.schema):
            return None  # no columns; floats, whose -0.0 and NaN Arrow groups unlike Python's equality
        table = pa.concat_tables([t.rename_columns(names) for t in tables], promote_options="permissive")
        grouped = counted_table(table)
        counts = _state(grouped.select(names), grouped.column("count_all").to_numpy())
        if not self.once:  # a threshold outputs each row as often as it is counted
            grouped = grouped.take(pa.array(np.repeat(np.arange(grouped.num_rows), grouped.column("count_all"))))
        return counts, grouped.select(names)

    def absorb_folded(self, folded: tuple[dict[Row, int], Any]) -> None:
        self.counts, self._absorbed_table = folded
        self._absorbed = self.counts

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        """A snapshot's columns counted per row by Arrow (the state built from the distinct rows), the output as
        columns too; rows when something is counted already or the columns are not exact."""
        ok_in, err_in = deltas[0]
        if self.counts or self._absorbed is not None or ok_in.extra or not ok_in.parts:
            return self.run(time, [(ok_in.rows(), err_in)], first)
        counted = summed(ok_in)
        if counted is None:
            return self.run(time, [(ok_in.rows(), err_in)], first)
        import numpy as np
        import pyarrow as pa

        table, diffs = counted
        self.counts = _state(table, diffs)
        # ``output_count`` vectorized: a count's output is 0 unless it is positive, then 1 (distinct) or the count
        outputs = np.where(diffs > 0, 1 if self.once else diffs, 0)
        kept = np.flatnonzero(outputs)
        counted_rows = table
        if len(kept) < len(outputs) or not self.once:  # each row as often as it is output
            table = table.take(pa.array(np.repeat(kept, outputs[kept])))

        def make_rows() -> OkDelta:
            rows = zip(*(python_values(column) for column in counted_rows.columns))
            if self.once:
                return dict.fromkeys(compress(rows, outputs), 1)
            return {row: out for row, out in zip(rows, outputs.tolist()) if out}

        return ColumnarDelta([(table, 1)], ok_in.arity, make_rows=make_rows), err_in

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        counts = self.counts
        output_count = self.output_count
        ok: OkDelta = {}
        if self._absorbed is not None:
            absorbed, self._absorbed = self._absorbed, None
            table, self._absorbed_table = self._absorbed_table, None
            if not ok_in:  # the output as columns too (``dataflow.columnar_delta``), its rows made if needed
                made = (lambda: dict.fromkeys(absorbed, 1)) if self.once else (lambda: dict(absorbed))
                return ColumnarDelta([(table, 1)], table.num_columns, make_rows=made), err_in  # type: ignore[return-value]
            # counts from columns are positive: a distinct emits each row once, a threshold each at its count
            ok = dict.fromkeys(absorbed, 1) if self.once else dict(absorbed)
            if ok_in:  # the rest of the snapshot, as rows, on top of what was absorbed
                for row, diff in ok_in.items():
                    before = counts.get(row, 0)
                    add_into(counts, row, diff)
                    change = output_count(before + diff) - output_count(before)
                    if change:
                        add_into(ok, row, change)
                return ok, err_in
        for row, diff in ok_in.items():
            before = counts.get(row, 0)
            after = before + diff
            if after:
                counts[row] = after
            else:
                del counts[row]
            change = output_count(after) - output_count(before)
            if change:
                ok[row] = change
        return ok, err_in


def _state(table: Any, counts: Any) -> dict[Row, int]:
    """A distinct's or threshold's ``row → count`` from a consolidated table and its non-zero counts: kept as
    arrays when the rows are one integer column (``lazy_counts.LazyCounts``), else a dict of the rows."""
    lazy = lazy_counts(table, counts)
    if lazy is not None:
        return lazy
    return dict(zip(zip(*(python_values(column) for column in table.columns)), counts.tolist()))


def threshold_operator(input: int) -> CountingOperator:
    """Keep rows with positive multiplicity, at that multiplicity (EXCEPT ALL's second half)."""
    return CountingOperator(input, lambda count: count if count > 0 else 0)


def distinct_operator(input: int) -> CountingOperator:
    """Each row with positive multiplicity, once."""
    return CountingOperator(input, lambda count: 1 if count > 0 else 0)


class TapOperator(Operator):
    """Passes its input through and hands each round's delta to ``listener(time, delta)`` (exports, sinks).

    A snapshot's round may bring columns (a :class:`ColumnarDelta`): ``columns(time, ok, err)`` takes them when it
    can (an index export's ``Arrangement.apply_columns``: True), else the listener gets them as rows."""

    def __init__(self, input: int, listener: Callable[[int, Delta], None],
                 columns: Callable[[int, ColumnarDelta, ErrDelta], bool] | None = None) -> None:
        self.inputs = (input,)
        self.listener = listener
        self.columns = columns

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        ok, err = deltas[0]
        if type(ok) is not ColumnarDelta or self.columns is None or not self.columns(time, ok, err):
            self.run(time, [(ok_rows(ok), err)], first)
        return ok, err

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        delta = deltas[0]
        if delta[0] or delta[1]:
            self.listener(time, delta)
        return delta
