"""Top-k over a columnar arrangement: the rows ``[offset : offset + limit]`` of each group, input held in a spine.

The operator answers as :class:`~steadystate.dataflow.topk.TopKOperator` (same order, same whole-row tie break,
same output), but keeps its input in a :class:`~steadystate.dataflow.spine.Spine`: group keys are interned to
int64 ids (``k``) and each run is sorted by (group, order key, row).  The renderer picks it when the input's
columns are all of a type a spine holds and the top-k has a ``LIMIT`` (without one the whole group is the output
and the row operator is as good).

* **Hydration from columns** (:meth:`fold_columns`/:meth:`absorb_folded`, the ``ColumnarInput`` protocol of
  ``dataflow.operators``): a snapshot's Arrow tables become the first run directly — group keys interned per
  distinct key, the rows sorted and consolidated by ``Spine.consolidate`` (a ``numpy.sort`` of the packed order
  codes; every diff is 1, so the sums are counts of equal rows) — and the first round's output is read from the
  heads of the groups as columns (:class:`Selected`): a group's ``outputs``/``boundary_rows`` entries (Python rows)
  are made when a later round first touches the group (``_claim``), so no Python object is built per input row nor
  per output row unless a reader of rows asks.  A global top-k does not even sort: the snapshot is the spine's
  *deferred* run (``Spine.defer``), the first output is selected from the rows whose order word is at most the
  ``offset + limit``-th smallest (``numpy.partition``), and the run is sorted when a later round first needs the
  heads (a change before the boundary) or a merge reaches it.  In the dataflow's first round that first output
  is handed on as a :class:`~steadystate.dataflow.columnar_delta.ColumnarDelta` (the selected rows' columns, a row
  repeated as often as it counts; the same rows as ``{row: count}`` made only if a reader wants rows), so a join
  after it folds it as columns and leaves the snapshots' join as columns for the index export.
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

from typing import Any, Callable, NamedTuple, Sequence

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
        self._lazy: Selected | None = None  # the first output, as columns (``_first_output``)
        self._pending = np.zeros(0, dtype=bool)  # per group id: its entries are still in ``_lazy`` only
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
        if any(table.num_columns != len(names) for table in tables):
            return None
        # one group, one stored batch: integers stay as stored (the spine widens the rows it takes out of a
        # deferred run); else every column as the spine's type, so the batches' tables concatenate
        narrow = not self.group_columns and len(tables) == 1
        parts = []
        for table in tables:
            try:
                columns = [column if narrow and pa.types.is_integer(column.type) and pa.types.is_integer(typ)
                           else normalized(column, typ) for column, typ in zip(table.columns, types)]
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
                                                    pa.array(np.ones(n, dtype=np.int64))], schema=self.spine.schema),
                              ones=True)
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
        The selection stays columns (:class:`Selected`): a group's ``outputs`` and ``boundary_rows`` entries are
        made when a later round first touches it (:meth:`_claim`), so a hydration makes no Python object per
        output row unless a reader wants rows.  In the dataflow's first round (where the graph passes columns on,
        ``dataflow.columnar_delta``) the output is handed on as the selected rows' columns (a row repeated as
        often as it counts), with the rows made only if a reader asks for them."""
        candidates = self.spine.candidates(max(self.end, 1))
        spine = None
        if candidates is not None:  # the rows that can be in the output, as a spine of their own
            spine = Spine(self.spine.types, self.spine.order, self.spine.implied)
            spine.insert(candidates)
        selected = self._selected(groups, spine)
        self._lazy = selected
        self._pending = np.ones(len(self.groups), dtype=bool)
        if not first or not self.spine.names:
            return selected.rows()
        return ColumnarDelta([(selected.repeated(), 1)], len(self.spine.names), make_rows=selected.rows,
                             distinct=selected.distinct())

    def _claim(self, groups: np.ndarray) -> None:
        """Make the ``outputs``/``boundary_rows`` entries of the groups (sorted ids) still held as columns by the
        first output."""
        if self._lazy is None:
            return
        pending = self._pending
        groups = groups[groups < len(pending)]
        groups = groups[pending[groups]]
        if not len(groups):
            return
        pending[groups] = False
        self._lazy.into(groups, self.outputs, self.boundary_rows)

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
        unique = np.unique(keys)
        self._claim(unique)
        touched = unique.tolist()
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

    def _select(self, groups: np.ndarray) -> dict[int, dict[Row, int]]:
        """The new output of every group in ``groups`` (sorted ids), and their boundaries (see the module
        docstring)."""
        for g in groups.tolist():
            self.boundary_rows.pop(g, None)
        out: dict[int, dict[Row, int]] = {g: {} for g in groups.tolist()}
        self._selected(groups).into(groups, out, self.boundary_rows)
        return out

    def _selected(self, groups: np.ndarray, spine: Spine | None = None) -> Selected:
        """The output of every group in ``groups`` (sorted ids) in ``spine`` (the operator's), as columns."""
        depth = max(self.end, 1)
        pending = groups
        pieces: list[Piece] = []
        while len(pending):
            table, fence = heads(self.spine if spine is None else spine, pending, depth)
            pending = self._settle(table, fence, pieces)
            depth *= 4
        return Selected(pieces, self.spine.names)

    def _settle(self, table: pa.Table | None, fences: np.ndarray | None, pieces: list[Piece]) -> np.ndarray:
        """The output rows and boundary rows of the groups whose heads in ``table`` (consolidated, sorted) decide
        them, appended to ``pieces``; the others' ids."""
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
        picked = np.flatnonzero(take | reaches)
        if len(picked):
            pieces.append(Piece(k[picked], table.select(self.spine.names).take(pa.array(picked)),
                                (hi - lo)[picked], take[picked], reaches[picked]))
        return k[starts][undecided]

    def records(self) -> int:
        return len(self.spine)


class Piece(NamedTuple):
    """Rows of some groups' outputs, sorted by group: each row's group ``k``, the rows (columns ``c0 …``), how
    many times each is output (``copies``, where ``taken``) and whether it is the group's boundary (``reached``)."""

    k: np.ndarray
    table: pa.Table
    copies: np.ndarray
    taken: np.ndarray
    reached: np.ndarray


class Selected:
    """A selection of groups' outputs as columns (pieces, each sorted by group, the groups disjoint)."""

    def __init__(self, pieces: list[Piece], names: list[str]) -> None:
        self.pieces = pieces
        self.names = names

    def _rows(self, table: pa.Table) -> list[Row]:
        if not self.names:
            return [()] * table.num_rows
        return list(zip(*(column.to_pylist() for column in table.columns)))

    def rows(self) -> OkDelta:
        """The selected rows as ``{row: count}`` (a row is in one group, once)."""
        out: OkDelta = {}
        for piece in self.pieces:
            taken = np.flatnonzero(piece.taken)
            out.update(zip(self._rows(piece.table.take(pa.array(taken))), piece.copies[taken].tolist()))
        return out

    def repeated(self) -> pa.Table:
        """The selected rows as one table (columns ``c0 …``), a row repeated as many times as it counts."""
        parts = []
        for piece in self.pieces:
            taken = np.flatnonzero(piece.taken)
            copies = np.repeat(taken, piece.copies[taken])
            part = piece.table.take(pa.array(copies))
            parts.append(pa.table({f"c{i}": part.column(name) for i, name in enumerate(self.names)}))
        if not parts:
            return pa.table({f"c{i}": pa.array([], type=pa.null()) for i in range(len(self.names))})
        return pa.concat_tables(parts)

    def distinct(self) -> bool:
        return all(not len(piece.copies) or int(piece.copies[piece.taken].max(initial=1)) == 1 for piece in self.pieces)

    def into(self, groups: np.ndarray, outputs: dict[int, dict[Row, int]], boundaries: dict[int, Row]) -> None:
        """The output rows of ``groups`` (sorted ids) put into ``outputs`` (a dict per group with rows) and their
        boundary rows into ``boundaries``."""
        for piece in self.pieces:
            lo, hi = np.searchsorted(piece.k, groups, "left"), np.searchsorted(piece.k, groups, "right")
            positions = gather(lo, hi)
            if not len(positions):
                continue
            part = piece.table.take(pa.array(positions))
            for g, row, count, taken, reached in zip(piece.k[positions].tolist(), self._rows(part),
                                                     piece.copies[positions].tolist(), piece.taken[positions].tolist(),
                                                     piece.reached[positions].tolist()):
                if taken:
                    outputs.setdefault(g, {})[row] = count
                if reached:
                    boundaries[g] = row


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
    if len(parts) == 1:  # one run's rows: consolidated and sorted already
        return parts[0].append_column("fence", pa.array(fence_parts[0])), fence_parts[0]
    table = pa.concat_tables(parts).append_column("fence", pa.array(np.concatenate(fence_parts)))
    names = ["k", *spine.names]
    grouped = table.group_by(names, use_threads=False).aggregate([("diff", "sum"), ("fence", "max")])
    grouped = grouped.rename_columns([*names, "diff", "fence"])
    grouped = grouped.take(pa.array(spine.sort_indices(grouped)))
    fences = grouped.column("fence").to_numpy(zero_copy_only=False).astype(bool)
    # a row whose copies cancel is dropped, but a fence on it still bounds what is exact
    return grouped, fences


__all__ = ["Piece", "Selected", "SpineTopK", "heads"]
