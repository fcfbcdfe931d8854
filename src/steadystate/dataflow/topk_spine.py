"""Top-k over a columnar arrangement: the rows ``[offset : offset + limit]`` of each group, input held in a spine.

The operator answers as :class:`~steadystate.dataflow.topk.TopKOperator` (same order, same whole-row tie break,
same output), but keeps its input in a :class:`~steadystate.dataflow.spine.Spine`: group keys are interned to
int64 ids (``k``) and each run is sorted by (group, order key, row).  The renderer picks it when the input's
columns are all of a type a spine holds and the top-k has a ``LIMIT`` (without one the whole group is the output
and the row operator is as good).

* **Hydration from columns** (:meth:`fold_columns`/:meth:`absorb_folded`, the ``ColumnarInput`` protocol of
  ``dataflow.operators``): a snapshot's Arrow tables become the first run directly — group keys interned per
  distinct key, the rows sorted and consolidated by ``Spine.consolidate`` (one numpy sort of encoded order words)
  — and the first round's output is read from the heads of the groups, so no Python object is built per input row,
  only per output row.  A global top-k does not even sort: the snapshot is the spine's *deferred* run
  (``Spine.defer``), the first output is selected from the rows whose order word is at most the
  ``offset + limit``-th smallest (``numpy.partition``), and the run is sorted when a later round first needs the
  heads (a change before the boundary) or a merge reaches it.  In the dataflow's first round that first output
  is handed on as a :class:`~steadystate.dataflow.columnar_delta.ColumnarDelta` as well (the selected rows'
  columns, a row repeated as often as it counts, beside the same rows as ``{row: count}``), so a join after it
  folds it as columns and leaves the snapshots' join as columns for the index export.
* **A round** turns the delta into a (small) run and pushes it into the spine, then recomputes the touched groups:
  the boundary short-cut of the row operator comes first (a group whose changed rows all sort after its last output
  row keeps its output; that costs the delta only), and the other groups are recomputed together, vectorized, from
  the *heads* of their ranges in each run (:func:`heads`): take the first ``h`` rows of each group in each run
  (``h`` = ``offset + limit`` at first); a run whose range was cut at ``h`` rows puts a *fence* at its last row
  taken; every row sorting at or before a group's first fence is complete (each run holds all its copies of it in
  the heads), so after consolidating, the positive rows up to the fence are exact; a group with enough of them
  (``offset + limit``), or without a fence, is done; the others are retried with ``h`` × 4.  A round costs
  O(delta + k · runs · log n), not O(group).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from steadystate.dataflow.collection import Delta, OkDelta, Row, add_into
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.operators import Operator
from steadystate.dataflow.spine import KeyInterner, SortKey, Spine, gather, normalized
from steadystate.dataflow.topk import SortColumn, order_key


class SpineTopK(Operator):
    def __init__(self, input: int, group_columns: Sequence[int], order: Sequence[SortColumn], limit: int,
                 offset: int, types: Sequence[pa.DataType]) -> None:
        self.inputs = (input,)
        self.group_columns = tuple(group_columns)
        self.order = tuple(order)
        self.limit = limit
        self.offset = offset
        self.end = offset + limit
        self.spine = Spine(types, [SortKey(c.column, c.descending, c.nulls_last) for c in order], group_columns)
        self.groups = KeyInterner()
        self.outputs: dict[int, dict[Row, int]] = {}
        self.boundary_rows: dict[int, Row] = {}  # group -> the last row the output reaches (full groups)
        self.key = order_key(self.order)
        self._absorbed: np.ndarray | None = None  # groups folded from columns, emitted in the next round
        getter: Callable[[Row], tuple]
        if not group_columns:
            getter = lambda row: ()  # noqa: E731
        elif len(group_columns) == 1:
            only = group_columns[0]
            getter = lambda row: (row[only],)  # noqa: E731
        else:
            getter = lambda row: tuple(row[c] for c in self.group_columns)  # noqa: E731
        self.group_of = getter

    # -- hydration from columns --------------------------------------------------------------------------

    def fold_columns(self, tables: list[Any]) -> pa.Table | None:
        """The snapshot's rows as one table of the spine's schema without ``k``'s ids assigned yet (changing
        nothing); ``None`` once anything was folded."""
        if len(self.spine) or self.outputs or len(self.groups):
            return None
        names, types = self.spine.names, self.spine.types
        parts = []
        for table in tables:
            if table.num_columns != len(names):
                return None
            try:
                columns = [normalized(column, typ) for column, typ in zip(table.columns, types)]
            except (pa.ArrowException, ValueError):
                return None
            parts.append(pa.table(dict(zip(names, columns))))
        return pa.concat_tables(parts) if parts else None

    def absorb_folded(self, table: pa.Table) -> None:
        """Take what :meth:`fold_columns` returned as the input's snapshot (diff 1 per row)."""
        n = table.num_rows
        if n == 0:
            return
        if self.group_columns:
            keys = self.groups.intern_columns([table.column(self.spine.names[c]) for c in self.group_columns], n)
            self.spine.insert(pa.Table.from_arrays([pa.array(keys), *table.columns,
                                                    pa.array(np.ones(n, dtype=np.int64))], schema=self.spine.schema))
        else:  # one group: sorted when first needed; the first output comes from the candidates (its ``k`` and
            # ``diff`` columns made for them, not for every row)
            self.spine.defer(table, self.groups.intern(()))
        self._absorbed = np.arange(len(self.groups), dtype=np.int64)  # the interner was empty: every id is new

    # -- rounds ------------------------------------------------------------------------------------------

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        recompute: set[int] = set()
        if self._absorbed is not None:
            groups, self._absorbed = self._absorbed, None
            if not ok_in:  # every group is new and had no output: the first output is the selection itself
                return self._first_output(groups, first), err_in  # type: ignore[return-value]
            recompute.update(groups.tolist())
        if ok_in:
            self._changes(ok_in, recompute)
        ok: OkDelta = {}
        if not recompute:
            return ok, err_in
        new_outputs = self._select(np.array(sorted(recompute), dtype=np.int64))
        for g in recompute:
            new = new_outputs.get(g, {})
            old = self.outputs.get(g, {})
            if new == old:
                continue
            for row, count in old.items():
                add_into(ok, row, -count)
            for row, count in new.items():
                add_into(ok, row, count)
            if new:
                self.outputs[g] = new
            else:
                self.outputs.pop(g, None)
        return ok, err_in

    def _first_output(self, groups: np.ndarray, first: bool) -> OkDelta | ColumnarDelta:
        """The output of the round that follows :meth:`absorb_folded` (no delta beside it): every group's
        selection, from the candidates of a deferred run (a global top-k, unsorted snapshot) or from the spine.
        In the dataflow's first round (where the graph passes columns on, ``dataflow.columnar_delta``) it is
        handed on as the selected rows' columns too, so a join or an export after it can take them as columns;
        the rows are the ones kept in ``outputs``."""
        candidates = self.spine.candidates(max(self.end, 1))
        spine = None
        if candidates is not None:  # the rows that can be in the output, as a spine of their own
            spine = Spine(self.spine.types, self.spine.order, self.spine.implied)
            spine.insert(candidates)
        parts: list[pa.Table] | None = [] if first and self.spine.names else None
        selected = self._select(groups, spine, parts)
        self.outputs = {g: rows for g, rows in selected.items() if rows}
        ok: OkDelta = {row: count for rows in self.outputs.values() for row, count in rows.items()}
        if parts is None:
            return ok
        return ColumnarDelta([(part, 1) for part in parts], len(self.spine.names), make_rows=lambda: ok,
                             distinct=max(ok.values(), default=1) == 1)  # a row counting more is repeated

    def _changes(self, ok_in: OkDelta, recompute: set[int]) -> None:
        """Put a delta into the spine and add to ``recompute`` the groups it may change: those without a
        boundary, and those with a changed row sorting at or before their boundary row.  The test runs on the
        encoded order words — the touched groups' boundary rows are encoded with the delta as zero-diff rows, which
        consolidation drops — when the order fits one word, else row by row with the row operator's key."""
        rows, diffs = list(ok_in), list(ok_in.values())
        n = len(rows)
        if self.group_columns:
            intern, group_of = self.groups.intern, self.group_of
            keys = np.fromiter((intern(group_of(row)) for row in rows), dtype=np.int64, count=n)
        else:
            keys = np.full(n, self.groups.intern(()), dtype=np.int64)
        touched = np.unique(keys).tolist()
        bounded = [g for g in touched if g not in recompute and g in self.boundary_rows]
        recompute.update(g for g in touched if g not in self.boundary_rows)
        boundary_rows = [self.boundary_rows[g] for g in bounded]
        table = self.spine.table_of(np.concatenate([keys, np.array(bounded, dtype=np.int64)]), rows + boundary_rows,
                                    diffs + [0] * len(bounded))
        self.spine.insert(table)
        if not bounded:
            return
        words = self.spine.sort_words(table)
        if len(words) == 1:
            word = words[0]
            groups = np.array(bounded, dtype=np.int64)  # sorted: ``touched`` came from numpy.unique
            where = np.minimum(np.searchsorted(groups, keys), len(groups) - 1)
            has = groups[where] == keys
            before = has & (word[:n] <= word[n:][where])
            recompute.update(np.unique(keys[before]).tolist())
            return
        key = self.key
        boundaries = {g: key(row) for g, row in zip(bounded, boundary_rows)}
        for g, row in zip(keys.tolist(), rows):
            boundary = boundaries.get(g)
            if boundary is not None and not boundary < key(row):
                recompute.add(g)

    def _select(self, groups: np.ndarray, spine: Spine | None = None,
                parts: list[pa.Table] | None = None) -> dict[int, dict[Row, int]]:
        """The new output of every group in ``groups`` (sorted ids) in ``spine`` (the operator's), and their
        boundaries (see the module docstring); with ``parts``, the output rows are also appended to it as tables
        (columns ``c0 …``, a row repeated as many times as it counts)."""
        out: dict[int, dict[Row, int]] = {}
        for g in groups.tolist():
            self.boundary_rows.pop(g, None)
        depth = max(self.end, 1)
        pending = groups
        while len(pending):
            table, fence = heads(self.spine if spine is None else spine, pending, depth)
            pending = self._settle(table, fence, out, parts)
            depth *= 4
        return out

    def _settle(self, table: pa.Table | None, fences: np.ndarray | None, out: dict[int, dict[Row, int]],
                parts: list[pa.Table] | None = None) -> np.ndarray:
        """Outputs of the groups whose heads in ``table`` (consolidated, sorted) decide them; the others' ids."""
        if table is None or table.num_rows == 0:
            return np.empty(0, dtype=np.int64)
        assert fences is not None
        k = table.column("k").to_numpy()
        counts = np.maximum(table.column("diff").to_numpy(), 0)
        n = len(k)
        starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
        lengths = np.diff(np.append(starts, n))
        group_start = np.repeat(starts, lengths)
        position = np.arange(n) - group_start
        # a group's rows are exact up to its first fence (inclusive); without a fence all of them
        first_fence = np.minimum.reduceat(np.where(fences, position, n), starts) if n else np.empty(0)
        complete = position <= np.repeat(first_fence, lengths)
        counts = np.where(complete, counts, 0)
        cumulative = np.cumsum(counts)
        before_group = np.repeat(np.concatenate(([0], cumulative[:-1]))[starts], lengths)
        after = cumulative - before_group  # positions covered through this row, within its group
        before = after - counts
        totals = np.add.reduceat(counts, starts)
        fenced = first_fence < lengths
        undecided = fenced & (totals < self.end)
        lo = np.maximum(before, self.offset)
        hi = np.minimum(after, self.end)
        take = (hi > lo) & complete & ~np.repeat(undecided, lengths)
        # the boundary: the row at which a decided group reaches ``end`` positions
        reaches = complete & (after >= self.end) & (before < self.end) & ~np.repeat(undecided, lengths)
        decided = k[starts][~undecided]
        for g in decided.tolist():
            out[g] = {}
        picked = np.flatnonzero(take | reaches)
        if parts is not None:
            taken = np.flatnonzero(take)
            copies = np.repeat(taken, (hi - lo)[taken])
            part = table.take(pa.array(copies))
            parts.append(pa.table({f"c{i}": part.column(name) for i, name in enumerate(self.spine.names)}))
        if len(picked):
            part = table.take(pa.array(picked))
            rows = list(zip(*(part.column(name).to_pylist() for name in self.spine.names))) if self.spine.names \
                else [()] * len(picked)
            counts_out = (hi - lo)[picked].tolist()
            for g, row, taken, count, reached in zip(k[picked].tolist(), rows, take[picked].tolist(), counts_out,
                                                     reaches[picked].tolist()):
                if taken:
                    out[g][row] = count
                if reached:
                    self.boundary_rows[g] = row
        return k[starts][undecided]

    def records(self) -> int:
        return len(self.spine)


def heads(spine: Spine, groups: np.ndarray, depth: int) -> tuple[pa.Table | None, np.ndarray | None]:
    """The first ``depth`` rows of each group of ``groups`` in each run, consolidated and sorted, and per row
    whether it is a *fence* (the last row taken of a range that was cut)."""
    parts, fence_parts = [], []
    for run, (lo, hi) in zip(spine.runs, spine.ranges(groups)):
        cut = np.minimum(hi, lo + depth)
        positions = gather(lo, cut)
        if not len(positions):
            continue
        fence = np.zeros(len(positions), dtype=bool)
        truncated = hi > cut
        ends = np.cumsum(cut - lo)  # exclusive end of each group's slice within ``positions``
        fence[(ends - 1)[truncated]] = True
        parts.append(run.take(pa.array(positions)))
        fence_parts.append(fence)
    if not parts:
        return None, None
    table = pa.concat_tables(parts).append_column("fence", pa.array(np.concatenate(fence_parts)))
    names = ["k", *spine.names]
    grouped = table.group_by(names, use_threads=False).aggregate([("diff", "sum"), ("fence", "max")])
    grouped = grouped.rename_columns([*names, "diff", "fence"])
    grouped = grouped.take(pa.array(spine.sort_indices(grouped)))
    fences = grouped.column("fence").to_numpy(zero_copy_only=False).astype(bool)
    # a row whose copies cancel is dropped, but a fence on it still bounds what is exact
    return grouped, fences


__all__ = ["SpineTopK", "heads"]
