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

Multi-way joins are chains of these binary operators; the renderer plans the chain from a plan's join
equivalences (``render.translate.plan_join``) and hands each operator its compiled key functions.
"""

from __future__ import annotations

from typing import Callable

from steadystate.dataflow import guard
from steadystate.dataflow.arrangement import RowsOf, SharedSide
from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into, merge_into
from steadystate.dataflow.operators import Operator

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

    def records(self) -> int:
        """Rows this operator holds itself (a shared side holds none)."""
        return self._records

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
        # Each half produces distinct rows with non-zero diffs: a delta and a state are consolidated and
        # ``left + right`` is injective for a fixed left arity.  So a half is built by one comprehension; only when
        # both halves produce rows are they merged (and zeros dropped).
        right_shared = self.right_shared
        if right_shared is not None and self.left_shared is None and not right_shared.empty_before(time):
            halves = self._run_right_shared(time, left_ok, right_ok, err)
        else:
            halves = self._run(time, left_ok, right_ok, err)
        halves = [half for half in halves if half]
        if not halves:
            return {}, err
        if len(halves) == 1:
            return halves[0], err
        out, other_half = halves if len(halves[0]) >= len(halves[1]) else halves[::-1]
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
                if right_rows is not None:
                    halves.append(_left_half(keyed, right_rows))
                if left_shared is None:
                    self._records += _arrange_all(left_state, keyed)
        if right_ok:
            left_rows = (left_state.get if left_state else None) if left_shared is None else left_shared.state_at(time)
            if left_rows is not None or right_shared is None or not self.keys_total:
                keyed = self._keyed(right_ok, self.right_key, err)
                if left_rows is not None:
                    halves.append(_right_half(keyed, left_rows))
                if right_shared is None:
                    self._records += _arrange_all(right_state, keyed)
        return halves

    def _run_right_shared(self, time: int, left_ok: OkDelta, right_ok: OkDelta, err: ErrDelta) -> list[OkDelta]:
        """``L_old ⋈ ΔR + ΔL ⋈ R_new``, R_new the shared right side as of ``time`` (it already holds ``ΔR``)."""
        left_state = self.left_state
        assert self.right_shared is not None
        halves: list[OkDelta] = []
        if right_ok and (left_state or not self.keys_total):
            keyed = self._keyed(right_ok, self.right_key, err)
            if left_state:
                halves.append(_right_half(keyed, left_state.get))
        if left_ok:
            keyed = self._keyed(left_ok, self.left_key, err)
            right_rows = self.right_shared.state_at(time)
            if right_rows is not None:
                halves.append(_left_half(keyed, right_rows))
            self._records += _arrange_all(left_state, keyed)
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


def _arrange_all(state: dict[tuple, dict[Row, int]], keyed: list[tuple[tuple, Row, int]]) -> int:
    """Fold keyed updates into ``state``; into an empty state (hydration) rows are simply placed.  Returns how the
    number of records changed."""
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
