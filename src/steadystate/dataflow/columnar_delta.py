"""A delta carried as Arrow columns through a dataflow's snapshot round, so hydration builds rows only where
state or an export needs them.

A source whose snapshot arrives as Arrow tables (``repr.columnar``) and whose readers are operators that run
over columns (``run_columnar``: map/filter/project, union, negate, distinct/threshold, join) hands the tables to
the graph as one :class:`ColumnarDelta` — the ok half of the source's first delta — instead of ``{row: count}``.
It is ``parts`` (Arrow tables with columns ``c0 … c{arity-1}``, each row one update of its part's ``sign``, +1 or
-1; rows may repeat) plus ``extra`` (a consolidated ``{row: diff}``: the snapshot's rows written after the load,
or what an operator computed as rows).  Its value is the sum of both.

``dataflow.graph`` passes a ColumnarDelta to an operator that has ``run_columnar(time, deltas, first)``; every
other operator (an export's tap, a reduce, a top-k) gets the rows (:meth:`ColumnarDelta.rows`, computed once and
shared by every reader).  The operators that run over columns:

* a map/filter/project with an Arrow layer (``render.hydration`` installs ``MfpOperator.arrow``: the MFP evaluated
  by ``expr.arrow_eval``) maps each part (:meth:`ColumnarDelta.mapped`), the extra rows by the row path; one that
  only projects selects the parts' columns, of any type (:meth:`ColumnarDelta.projected`);
* a union concatenates the parts; a negate flips their signs;
* a distinct or threshold (``CountingOperator``) with no state yet sums the parts' signs per row (:func:`summed`:
  rows packed into integer codes and summed by NumPy, ``dataflow.columns.consolidated_sorted``), builds its state
  from that, and emits its output as columns;
* a join side with no state folds positive parts as it folds a snapshot's columns (``dataflow.join``), and the
  snapshots' join leaves the join as columns.

Rows come out as the row path would make them: Arrow's ``to_pylist`` values of int64, string and bool columns are
the decoded rows' values, and a producer puts no other column in a part unless its ``to_pylist`` values are the
rows' too (a hydrated window's ``sum(bigint)``: ``decimal128(38, 0)``, ``dataflow.window``).  Rows are grouped over
columns only where every column is exact (``dataflow.columns``'s rule: float columns group unlike Python's equality,
``-0.0`` and NaN; decimals are not exact either); otherwise they are counted in Python.  (An index export takes
integral decimal columns as they are: ``Arrangement.apply_columns``.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from steadystate.dataflow.collection import Delta, OkDelta, add_into, merge_into
from steadystate.dataflow.columns import consolidated_sorted, python_values, summed_rows, unified

Layer = Callable[[Any], Any]  # table -> table, or None when a value needs the row path (an overflow)


def _pa() -> Any:
    import pyarrow as pa

    return pa


class ColumnarDelta:
    """``parts`` (``(table, sign)``) plus ``extra`` rows, of ``arity`` columns (see the module docstring)."""

    __slots__ = ("parts", "extra", "arity", "distinct", "_rows", "_make_rows")

    def __init__(self, parts: list[tuple[Any, int]], arity: int, extra: OkDelta | None = None,
                 make_rows: Callable[[], OkDelta] | None = None, distinct: bool = False) -> None:
        self.parts = [(table, sign) for table, sign in parts if table.num_rows]
        self.arity = arity
        self.extra: OkDelta = extra if extra is not None else {}
        self.distinct = distinct  # the producer knows no row of the parts repeats (a join of distinct sides)
        self._rows: OkDelta | None = None
        self._make_rows = make_rows  # the parts' rows, when the producer has them cheaper than a group-by

    def num_rows(self) -> int:
        """Rows in the parts (each one update), not counting the extra rows."""
        return sum(table.num_rows for table, _sign in self.parts)

    def __bool__(self) -> bool:
        return bool(self.parts) or bool(self.extra)

    def rows(self) -> OkDelta:
        """The delta as ``{row: diff}`` (computed once; the caller must not change it)."""
        if self._rows is None:
            rows = self._make_rows() if self._make_rows is not None and self.parts else self._parts_rows()
            if self.extra:
                rows = dict(rows)
                merge_into(rows, self.extra)
            self._rows = rows
        return self._rows

    def _parts_rows(self) -> OkDelta:
        if not self.parts:
            return {}
        if self.arity == 0:
            total = sum(table.num_rows * sign for table, sign in self.parts)
            return {(): total} if total else {}
        weighted = self.weighted()
        if weighted is None:  # columns Arrow does not group as Python does (floats): counted in Python
            out: OkDelta = {}
            for table, sign in self.parts:
                counted = Counter(zip(*(python_values(table.column(f"c{i}")) for i in range(self.arity))))
                if not out and sign == 1:
                    out = dict(counted)
                    continue
                for row, count in counted.items():
                    add_into(out, row, count * sign)
            return out
        return summed_rows(weighted, weighted.column("diff").to_numpy(), self.arity)

    def weighted(self) -> Any | None:
        """The parts as one table of exact columns (``dataflow.columns.unified``) with a ``diff`` column (each row's
        sign), or ``None`` when a column is not exact or the parts' types do not unify."""
        import numpy as np

        pa = _pa()
        tables = []
        for table, sign in self.parts:
            exact = unified([table], range(self.arity))
            if exact is None:
                return None
            tables.append(exact.append_column("diff", pa.array(np.full(table.num_rows, sign, dtype=np.int64))))
        if not tables:
            return None
        try:
            return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
        except pa.ArrowException:
            return None

    def positive_tables(self) -> list[Any] | None:
        """The parts as tables of insertions (every sign +1), or ``None``."""
        if any(sign != 1 for _table, sign in self.parts):
            return None
        return [table for table, _sign in self.parts]

    def negated(self) -> "ColumnarDelta":
        return ColumnarDelta([(table, -sign) for table, sign in self.parts], self.arity,
                             {row: -diff for row, diff in self.extra.items()})

    def projected(self, columns: tuple[int, ...]) -> "ColumnarDelta":
        """The parts' columns ``columns`` (in that order, possibly repeated), renamed ``c0 …`` (no extra rows: the
        caller projects them).  Any column type: its values are passed on unread."""
        pa = _pa()
        names = [f"c{i}" for i in range(len(columns))]
        parts = [(pa.table([table.column(f"c{c}") for c in columns], names=names), sign) for table, sign in self.parts]
        return ColumnarDelta(parts, len(columns))

    def mapped(self, layer: Layer, arity: int) -> "ColumnarDelta | None":
        """The parts through ``layer`` (an output of ``arity`` columns; no extra rows: the caller maps them);
        ``None`` when the layer cannot evaluate a part."""
        parts = []
        for table, sign in self.parts:
            out = layer(table)
            if out is None:
                return None
            parts.append((out, sign))
        return ColumnarDelta(parts, arity)


def summed(delta: ColumnarDelta) -> tuple[Any, Any] | None:
    """The parts' rows with their summed signs, non-zero ones only: ``(table of the distinct rows, sorted, their
    diffs as a NumPy array)`` (what a distinct's state is built from); ``None`` when the columns are not exact."""
    import pyarrow.compute as pc

    weighted = delta.weighted()
    if weighted is None or delta.arity == 0:
        return None
    names = [f"c{i}" for i in range(delta.arity)]
    counted = consolidated_sorted(weighted.select(names), weighted.column("diff").to_numpy())
    counted = counted.filter(pc.not_equal(counted.column("count_all"), 0))
    return counted.select(names), counted.column("count_all").to_numpy()


def as_rows(delta: tuple[Any, Any]) -> Delta:
    """A delta whose ok half may be a :class:`ColumnarDelta`, with that half as rows."""
    ok, err = delta
    return (ok.rows(), err) if type(ok) is ColumnarDelta else delta


def ok_rows(ok: Any) -> OkDelta:
    """An ok half as rows."""
    return ok.rows() if type(ok) is ColumnarDelta else ok


__all__ = ["ColumnarDelta", "as_rows", "ok_rows", "summed"]
