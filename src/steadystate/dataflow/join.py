"""Joins: binary delta joins over arrangements, chained for multi-way joins, planned from equivalence classes.

:class:`JoinOperator` keeps both inputs arranged by their join key (key → {row: count}).  For one timestamp it
emits ``ΔL ⋈ R_old + L_new ⋈ ΔR`` — the exact change of ``L ⋈ R`` — with output rows ``left + right``.  Keys
containing NULL never match (SQL equality).  An empty key is a cross join.

A side may instead be *shared*: an imported index whose key is the join key, read in place through a
:class:`~steadystate.dataflow.arrangement.SharedInput` (``state_at(t)``: the index's contents as of round ``t``),
so the operator keeps no copy of it.  A shared right side uses the equivalent ``L_old ⋈ ΔR + ΔL ⋈ R_new`` (R_new as
of ``t`` already holds ΔR, so a caught-up importer reads the producer's state as is) — except in a round before
which R was empty (the importer's snapshot round): there ``ΔL ⋈ R_old`` vanishes and ``L_new ⋈ ΔR`` needs fewer
lookups.  A shared left side uses ``ΔL ⋈ R_old + L_new ⋈ ΔR`` with L_new as of ``t``; both shared, R_old is R as
of ``t − 1``.

**From columns.**  When the keys are plain columns (``columns``), a side that is a source may take its snapshot as
Arrow tables (:meth:`JoinOperator.side`, a :class:`~steadystate.dataflow.accumulate.FoldsColumns`): its state
becomes a :class:`~steadystate.dataflow.lazy_arranged.LazyArranged` — the rows consolidated and sorted by key in Arrow,
with one Python entry per key (its span); a key's rows become tuples when a delta first looks the key up (a
delta's keys in one Arrow ``take``), and changes to a key not looked up yet are kept aside until it is.  When both sides took columns, the round at the snapshot's time adds
``Lc ⋈ Rc`` (the two snapshots' join) to the usual ``ΔL ⋈ R_old + L_new ⋈ ΔR`` over the rest of the snapshot
(rows written after the load), which is exact since ``(Lc + ΔL) ⋈ (Rc + ΔR) = Lc ⋈ Rc + ΔL ⋈ Rc + L_new ⋈ ΔR``.
``Lc ⋈ Rc`` is computed by Acero's hash join and, when the join's only reader can take columns
(``columnar_reader``: a reduce), handed to it as a table; otherwise (or under a query guard) it becomes rows.

Multi-way joins are chains of these binary operators; the renderer plans the chain from a plan's join
equivalences (``render.translate.plan_join``) and hands each operator its compiled key functions.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from steadystate.dataflow import guard
from steadystate.dataflow.accumulate import FoldsColumns
from steadystate.dataflow.arrangement import state_size_bytes
from steadystate.dataflow.shared_input import RowsOf, SharedSide
from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into, merge_into
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.columns import gc_paused, joined, joined_counted, rows_of, table_of_rows, unified
from steadystate.dataflow.lazy_arranged import LazyArranged, arranged, arranged_later
from steadystate.dataflow.operators import ColumnarInput, Operator

KeyFn = Callable[[Row], tuple]


def _arrange(state: dict[tuple, dict[Row, int]], key: tuple, row: Row, diff: int) -> int:
    """``state[key][row] += diff``; returns how the number of (key, row) records changed (+1, 0 or -1)."""
    rows = state.get(key)
    if rows is None:
        state[key] = {row: diff}
        return 1
    old = rows.get(row)
    if old is None:
        rows[row] = diff
        return 1
    total = old + diff
    if total:
        rows[row] = total
        return 0
    del rows[row]
    if not rows:
        del state[key]
    return -1


class JoinColumns(NamedTuple):
    """The join's key columns and arity per side, when every key is a plain column."""

    left_key: tuple[int, ...]
    right_key: tuple[int, ...]
    left_arity: int
    right_arity: int


class ArrangedSide(NamedTuple):
    """A side's snapshot taken as columns: the table (for ``Lc ⋈ Rc``) and the state built from it."""

    table: Any
    state: LazyArranged
    records: int
    distinct: bool  # no row (with a key that can match) is repeated
    counted: Any  # the rows with a key that can match, consolidated (``count_all``), or None when there are none


class JoinSide(FoldsColumns):
    """One input of a :class:`JoinOperator` as a taker of Arrow columns (``columnar_consumer`` hands it out)."""

    def __init__(self, join: "JoinOperator", side: int) -> None:
        self.join = join
        self.side = side

    def fold_columns(self, tables: list[Any]) -> ArrangedSide | None:
        return self.join.fold_side(self.side, tables)

    def absorb_folded(self, folded: ArrangedSide) -> None:
        self.join.absorb_side(self.side, folded)


class JoinOperator(Operator):
    """``L ⋈ R`` by key.  A side given a :class:`~steadystate.dataflow.arrangement.SharedInput` keeps no state of its
    own: it is read, as of the round's time, from the imported arrangement (its key function must be the index's)."""

    def __init__(self, left: int, right: int, left_key: KeyFn, right_key: KeyFn, *,
                 left_shared: SharedSide | None = None, right_shared: SharedSide | None = None,
                 keys_total: bool = False) -> None:
        self.inputs = (left, right)
        self.left_key = left_key
        self.right_key = right_key
        self.left_state: dict[tuple, dict[Row, int]] = {}
        self.right_state: dict[tuple, dict[Row, int]] = {}
        self._records = 0  # (key, row) entries of both states, kept as they change (sizes are reported often)
        self.left_shared = left_shared
        self.right_shared = right_shared
        # key functions that cannot fail (column references): a shared side's delta need not be keyed when
        # nothing can match it, as there are no evaluation errors to report either
        self.keys_total = keys_total
        self.columns: JoinColumns | None = None  # set when the keys are plain columns: sides may take columns
        self.columnar_reader: ColumnarInput | None = None  # the only reader, when it takes ``Lc ⋈ Rc`` as columns
        self._tables: list[ArrangedSide | None] = [None, None]  # the sides' snapshots taken as columns, until the
        # next round
        self._columnar_out = False  # in ``run_columnar``: the snapshots' join is left as columns

    def side(self, index: int) -> JoinSide | None:
        """Input ``index`` (0 left, 1 right) as a taker of its snapshot's columns; ``None`` when it cannot."""
        if self.columns is None or (self.left_shared, self.right_shared)[index] is not None:
            return None
        if not (self.columns.left_key if index == 0 else self.columns.right_key):
            return None  # a cross join: its output is left to the guarded row path
        return JoinSide(self, index)

    def fold_side(self, index: int, tables: list[Any]) -> ArrangedSide | None:
        """Side ``index``'s state built from its snapshot's Arrow tables, changing nothing; ``None`` when the
        columns are not exact (``dataflow.columns``) or the side holds something already."""
        columns = self.columns
        if columns is None or (self.left_state, self.right_state)[index]:
            return None
        key, arity = (columns.left_key, columns.left_arity) if index == 0 else (columns.right_key, columns.right_arity)
        table = unified(tables, range(arity))
        if table is None:
            return None
        other_arity, other_key = (columns.right_arity, columns.right_key) if index == 0 \
            else (columns.left_arity, columns.left_key)
        if arity > 1 and other_arity == 1 and len(other_key) == 1:
            # the other side may be a set of distinct keys (a decorrelated LATERAL's): sorted in the snapshot's
            # round unless it is, then only when a new key of it looks this side up (``_snapshots_joined``)
            state, records = arranged_later(table, key, arity)
            return ArrangedSide(table, state, records, False, None)
        with gc_paused():
            built = arranged(table, key, arity)
        if built is None:
            return None
        return ArrangedSide(table, *built)

    def absorb_side(self, index: int, folded: ArrangedSide) -> None:
        """Take what :meth:`fold_side` returned as side ``index``'s snapshot (its state becomes the lazily
        materialised arrangement, ``dataflow.lazy_arranged.LazyArranged``)."""
        if index == 0:
            self.left_state = folded.state
        else:
            self.right_state = folded.state
        self._records += folded.records
        self._tables[index] = folded

    def _other_side_as_columns(self, left_ok: OkDelta, right_ok: OkDelta) -> tuple[OkDelta, OkDelta]:
        """In the round one side's snapshot was taken as columns, the other side's first delta (its snapshot as an
        upstream operator computed it: rows) taken as columns as well (``columns.table_of_rows``), so that
        ``Lc ⋈ Rc`` is Acero's and its reader may take it as columns; the deltas left to the row path."""
        index = 0 if self._tables[0] is None else 1
        delta = (left_ok, right_ok)[index]
        if not delta or (self.left_state, self.right_state)[index] or guard.active() or self.columns is None \
                or (self.left_shared, self.right_shared)[index] is not None:
            return left_ok, right_ok
        arity = self.columns.left_arity if index == 0 else self.columns.right_arity
        table = table_of_rows(delta, arity)
        folded = self.fold_side(index, [table]) if table is not None else None
        if folded is None:
            return left_ok, right_ok
        self.absorb_side(index, folded)
        return ({}, right_ok) if index == 0 else (left_ok, {})

    def run_columnar(self, time: int, deltas: list[Any], first: bool) -> tuple[Any, ErrDelta]:
        """A round where an input's delta is columns (``dataflow.columnar_delta``): a side with no state folds them
        as it folds a snapshot's columns (its extra rows go the row path on top), and the snapshots' join is
        output as columns (with the rest of the round's output as rows beside it)."""
        # before this round (a fold below changes it); a side whose snapshot was folded for this round holds
        # nothing older: its join with what the other side folds here is the snapshots' join
        held = [self._holds(index, time) and self._tables[index] is None for index in (0, 1)]
        oks = [ok if type(ok) is not ColumnarDelta else self._fold_delta(index, ok, held[1 - index])
               for index, (ok, _err) in enumerate(deltas)]
        self._columnar_out = True
        try:
            return self.run(time, [(oks[0], deltas[0][1]), (oks[1], deltas[1][1])], first)
        finally:
            self._columnar_out = False

    def _holds(self, index: int, time: int) -> bool:
        """Whether side ``index`` may hold rows from rounds before ``time``."""
        shared = (self.left_shared, self.right_shared)[index]
        if shared is not None:
            return not shared.empty_before(time)
        return bool((self.left_state, self.right_state)[index])

    def _fold_delta(self, index: int, delta: ColumnarDelta, other_old: bool) -> OkDelta:
        """Side ``index``'s columns folded into its state where it can take them (what is left: the extra rows),
        else the whole delta as rows.  Folded only while the other side held nothing before the round
        (``other_old`` false; an imported index's snapshot may come in a later round than the other side's): the
        folded part's join with the other side's old state would be lost."""
        tables = delta.positive_tables()
        if tables and not other_old and self._tables[index] is None and self.side(index) is not None \
                and not guard.active():
            folded = self.fold_side(index, tables)
            if folded is not None:
                self.absorb_side(index, folded)
                return delta.extra
        return delta.rows()

    def _snapshots_joined(self) -> OkDelta | ColumnarDelta:
        """``Lc ⋈ Rc`` when both sides took their snapshots as columns (before this round's deltas are applied):
        handed to ``columnar_reader`` as a table when it takes it (nothing is returned then), else as rows."""
        left, right = self._tables
        self._tables = [None, None]
        if left is None or right is None:
            return {}
        if guard.active():  # a transient dataflow: the row path, in guarded slices
            for state in (self.left_state, self.right_state):
                if isinstance(state, LazyArranged):
                    state.materialize()
            keyed = [(key, row, count) for key, rows in self.left_state.items() for row, count in rows.items()]
            return _left_half(keyed, self.right_state.get)
        assert self.columns is not None
        with gc_paused():
            keys_only = (left.distinct and len(self.columns.left_key) == 1 and self.columns.left_arity == 1,
                         right.distinct and len(self.columns.right_key) == 1 and self.columns.right_arity == 1)
            distinct_sides = [left.distinct, right.distinct]
            counted = [left.counted, right.counted]
            reader = self.columnar_reader
            fold_weighted = getattr(reader, "fold_weighted", None)
            for index, side in enumerate((left, right)):
                # sorted now unless the other side is distinct keys (and the reader does not count by weight)
                if side.state.unsorted and (not keys_only[1 - index] or fold_weighted is not None):
                    side.state.settle()
                    assert side.state.facts is not None
                    self._records += side.state.facts[0] - side.records
                    distinct_sides[index] = side.state.facts[1]
                    counted[index] = side.state.counted
            if fold_weighted is not None and counted[0] is not None and counted[1] is not None:
                # the reader counts rows by weight: the consolidated sides are joined, each pair once, cut to the
                # columns the reader reads first
                columns_read = getattr(reader, "columns_read", None)
                folded = fold_weighted([joined_counted(counted[0], counted[1], self.columns.left_key,
                                                       self.columns.right_key,
                                                       columns_read() if columns_read is not None else None)])
                if folded is not None:
                    reader.absorb_folded(folded)  # type: ignore[union-attr]
                    return {}
            table = joined(left.table, right.table, self.columns.left_key, self.columns.right_key,
                           keys_only=keys_only)
            if reader is not None:
                folded = reader.fold_columns([table])
                if folded is not None:
                    reader.absorb_folded(folded)
                    return {}
            distinct = distinct_sides[0] and distinct_sides[1]
            if self._columnar_out:
                return ColumnarDelta([(table, 1)], table.num_columns,
                                     make_rows=lambda: rows_of(table, distinct=distinct), distinct=distinct)
            return rows_of(table, distinct=distinct)

    def records(self) -> int:
        """Rows this operator holds itself (a shared side holds none)."""
        return self._records

    def size_bytes(self) -> int:
        """Approximate memory of the states this operator holds (a side hydrated from columns by its own
        estimate: its Arrow table and the keys materialised so far)."""
        states = (self.left_state, self.right_state)
        if not any(isinstance(state, LazyArranged) for state in states):
            return state_size_bytes(states, self._records)
        size = 0
        for state in states:
            size += state.size_bytes() if isinstance(state, LazyArranged) else state_size_bytes((state,))
        return size

    def _keyed(self, ok_in: OkDelta, key_fn: KeyFn, err: ErrDelta) -> list[tuple[tuple, Row, int]]:
        try:  # fast path: one comprehension (key functions over columns never raise)
            return [(key, row, diff) for row, diff in ok_in.items() if None not in (key := key_fn(row))]
        except Exception:  # noqa: BLE001 - some row failed: redo row by row, turning failures into errors
            pass
        keyed = []
        for row, diff in ok_in.items():
            try:
                key = key_fn(row)
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(err, EvalError.from_exception(exc), diff)
                continue
            if None in key:
                continue
            keyed.append((key, row, diff))
        return keyed

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        (left_ok, left_err), (right_ok, right_err) = deltas
        err: ErrDelta = dict(left_err)
        merge_into(err, right_err)
        if (self._tables[0] is None) != (self._tables[1] is None):  # one side took columns: the other's rows too
            left_ok, right_ok = self._other_side_as_columns(left_ok, right_ok)
        snapshots = self._snapshots_joined() if any(t is not None for t in self._tables) else {}
        # Each half produces distinct rows with non-zero diffs: a delta and a state are consolidated and
        # ``left + right`` is injective for a fixed left arity.  So a half is built by one comprehension; only when
        # both halves produce rows are they merged (and zeros dropped).
        right_shared = self.right_shared
        if right_shared is not None and self.left_shared is None and not right_shared.empty_before(time):
            halves = self._run_right_shared(time, left_ok, right_ok, err)
        else:
            halves = self._run(time, left_ok, right_ok, err)
        if type(snapshots) is ColumnarDelta:  # the snapshots' join as columns, the rest as its extra rows
            for half in halves:
                merge_into(snapshots.extra, half)
            return snapshots, err  # type: ignore[return-value]
        halves = [half for half in halves + [snapshots] if half]  # type: ignore[list-item,misc]
        if not halves:
            return {}, err
        if len(halves) == 1:
            return halves[0], err
        halves.sort(key=len, reverse=True)
        out = halves[0]
        for other_half in halves[1:]:
            merge_into(out, other_half)
        return out, err

    def _run(self, time: int, left_ok: OkDelta, right_ok: OkDelta, err: ErrDelta) -> list[OkDelta]:
        """``ΔL ⋈ R_old + L_new ⋈ ΔR``: R_old is the own right state (or a shared R as of ``time - 1``), L_new the
        own left state after ``ΔL`` (or a shared L as of ``time``)."""
        left_state, right_state = self.left_state, self.right_state
        left_shared, right_shared = self.left_shared, self.right_shared
        halves: list[OkDelta] = []
        if left_ok:
            right_rows = (right_state.get if right_state else None) if right_shared is None \
                else right_shared.state_at(time - 1)
            if right_rows is not None or left_shared is None or not self.keys_total:
                keyed = self._keyed(left_ok, self.left_key, err)
                if _preload(right_state, keyed) and right_shared is None and right_rows is not None:
                    right_rows = right_state.plain_get()  # type: ignore[attr-defined]  # (a LazyArranged)
                if right_rows is not None:
                    if right_shared is not None:
                        right_shared.prefetch(key for key, _row, _diff in keyed)
                    halves.append(_left_half(keyed, right_rows))
                if left_shared is None:
                    self._records += arrange_all(left_state, keyed)
        if right_ok:
            left_rows = (left_state.get if left_state else None) if left_shared is None else left_shared.state_at(time)
            if left_rows is not None or right_shared is None or not self.keys_total:
                keyed = self._keyed(right_ok, self.right_key, err)
                if _preload(left_state, keyed) and left_shared is None and left_rows is not None:
                    left_rows = left_state.plain_get()  # type: ignore[attr-defined]  # (a LazyArranged)
                if left_rows is not None:
                    if left_shared is not None:
                        left_shared.prefetch(key for key, _row, _diff in keyed)
                    halves.append(_right_half(keyed, left_rows))
                if right_shared is None:
                    self._records += arrange_all(right_state, keyed)
        return halves

    def _run_right_shared(self, time: int, left_ok: OkDelta, right_ok: OkDelta, err: ErrDelta) -> list[OkDelta]:
        """``L_old ⋈ ΔR + ΔL ⋈ R_new``, R_new the shared right side as of ``time`` (it already holds ``ΔR``)."""
        left_state = self.left_state
        assert self.right_shared is not None
        halves: list[OkDelta] = []
        if right_ok and (left_state or not self.keys_total):
            keyed = self._keyed(right_ok, self.right_key, err)
            _preload(left_state, keyed)
            if left_state:
                halves.append(_right_half(keyed, left_state.get))
        if left_ok:
            keyed = self._keyed(left_ok, self.left_key, err)
            right_rows = self.right_shared.state_at(time)
            if right_rows is not None:
                self.right_shared.prefetch(key for key, _row, _diff in keyed)
                halves.append(_left_half(keyed, right_rows))
            self._records += arrange_all(left_state, keyed)
        return halves


def _left_half(keyed: list[tuple[tuple, Row, int]], right_rows: RowsOf) -> OkDelta:
    """``ΔL ⋈ R``: output rows ``left + right``."""
    if guard.active():
        return _guarded_half(keyed, right_rows, _left_rows)
    return _left_rows(keyed, right_rows)


def _left_rows(keyed: list[tuple[tuple, Row, int]], right_rows: RowsOf) -> OkDelta:
    return {
        row + other: diff * count
        for key, row, diff in keyed if (matches := right_rows(key))
        for other, count in matches.items()
    }


def _right_half(keyed: list[tuple[tuple, Row, int]], left_rows: RowsOf) -> OkDelta:
    """``L ⋈ ΔR``: output rows ``left + right``."""
    if guard.active():
        return _guarded_half(keyed, left_rows, _right_rows)
    return _right_rows(keyed, left_rows)


def _right_rows(keyed: list[tuple[tuple, Row, int]], left_rows: RowsOf) -> OkDelta:
    return {
        other + row: diff * count
        for key, row, diff in keyed if (matches := left_rows(key))
        for other, count in matches.items()
    }


def _guarded_half(
    keyed: list[tuple[tuple, Row, int]], rows_of: RowsOf,
    half: Callable[[list[tuple[tuple, Row, int]], RowsOf], OkDelta],
) -> OkDelta:
    """A half built slice by slice under the active guard (a transient dataflow's join: a cross join's output can
    outgrow the replica's memory), checking between slices; a slice's size adapts so that it yields about
    ``guard.CHECK_EVERY_ROWS`` rows.  The halves' rows are distinct, so the slices' outputs are simply united."""
    out: OkDelta = {}
    step, start, limit = 8, 0, guard.CHECK_EVERY_ROWS
    while start < len(keyed):
        part = half(keyed[start:start + step], rows_of)
        start += step
        out.update(part)
        grown = len(part)
        del part
        guard.check()
        if grown > limit:
            step = max(1, step // 2)
        elif grown < limit // 4:
            step = min(step * 2, 1 << 16)
    return out


def _preload(state: dict[tuple, dict[Row, int]], keyed: list[tuple[tuple, Row, int]]) -> bool:
    """A side hydrated from columns materialises the keys a delta will look up or change in one go; whether it did
    (every key of ``keyed`` is then a plain dict entry or absent: ``LazyArranged.plain_get`` finds it)."""
    if type(state) is LazyArranged and state.pending and len(keyed) > 1:
        state.load_many([key for key, _row, _diff in keyed])
        return True
    return False


def arrange_all(state: dict[tuple, dict[Row, int]], keyed: list[tuple[tuple, Row, int]]) -> int:
    """Fold keyed updates into ``state``; into an empty state (hydration) rows are simply placed, into keys of a
    side hydrated from columns not yet looked up the changes are kept aside (``LazyArranged.arrange``).  Returns
    how the number of records changed."""
    if type(state) is LazyArranged and state.pending:
        inside = state.in_table_many([key for key, _row, _diff in keyed])
        change = state.arrange_many([update for update, in_table in zip(keyed, inside) if in_table])
        for (key, row, diff), in_table in zip(keyed, inside):
            if not in_table:
                change += _arrange(state, key, row, diff)
        return change
    if not state:
        for key, row, diff in keyed:
            rows = state.get(key)
            if rows is None:
                state[key] = {row: diff}
            else:
                rows[row] = diff  # rows of a consolidated delta are distinct
        return len(keyed)
    change = 0
    for key, row, diff in keyed:
        change += _arrange(state, key, row, diff)
    return change
