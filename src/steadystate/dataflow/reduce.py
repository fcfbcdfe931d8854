"""Reduce: per-key incremental aggregation.

State per group key: the number of input rows and one incremental aggregate state per aggregate.  The engine
does not know which aggregates there are: the caller passes a factory per aggregate whose states have
``add(value, diff)`` (``diff`` may be negative: a retraction), ``result()`` and optionally ``add_many(values,
diffs)`` for a batch (:class:`AggregateState`); the renderer makes them from SQL's aggregates
(``expr.aggregates``).  In each round the operator folds the input delta into the states of the keys it touches,
then for each touched key retracts the previously emitted output row and emits the new one (nothing when they are
equal).  A group whose row count drops to zero disappears.

A reduce with an empty group key is a *global* aggregate and follows SQL: it always has exactly one output row,
also on empty input (``count`` 0, other aggregates NULL); that row is published in the dataflow's first round.
Errors evaluating keys or aggregate arguments become error updates; input errors pass through.  An error computing
a group's result (``percentile_cont(2)``, a regression's overflow) is that group's error update instead of its row,
retracted when the group changes or goes.

**From columns.**  When the group key and every aggregate's argument are plain columns (``columns``, set by the
renderer), the operator takes an insert-only snapshot as Arrow tables (:class:`~steadystate.dataflow.accumulate.
FoldsColumns`), its groups built by ``dataflow.reduce_columns``: eagerly, each group's states from its distinct
values in bulk, or — ``min``, ``max`` and counts only — lazily (:class:`~steadystate.dataflow.reduce_columns.
LazyGroups`): the first output computed over the columns, a group's states built when a delta first touches it
(the reduce asks for a delta's groups at once, ``load_many``).  Columns whose values are not exactly the row
path's (floats, numerics, timestamps) leave the snapshot to the rows.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from steadystate.dataflow.accumulate import FoldsColumns
from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into
from steadystate.dataflow.columns import gc_paused, grouped_values
from steadystate.dataflow.operators import Operator
from steadystate.dataflow.reduce_columns import (ROWS as _ROWS, ColumnsOf, GroupState, LazyGroups, column_results,
                                                 eager_groups, lazy_groups)
BULK_THRESHOLD = 512  # deltas at least this large are folded per group, smaller ones row by row


class AggregateState(Protocol):
    """One aggregate's incremental state within one group."""

    def add(self, value: Any, diff: int) -> None: ...

    def result(self) -> Any: ...


def add_many(state: AggregateState, values: list[Any], diffs: list[int]) -> None:
    """Fold many ``(value, diff)`` pairs into ``state`` (in bulk when the state has ``add_many``)."""
    bulk = getattr(state, "add_many", None)
    if bulk is not None:
        bulk(values, diffs)
        return
    add = state.add
    for value, diff in zip(values, diffs):
        add(value, diff)


def _output(key: tuple, group: GroupState) -> tuple[Row | None, EvalError | None]:
    """The group's output row, or the error computing it raised (an error update, as an argument's would be)."""
    try:
        return key + tuple([state.result() for state in group.aggs]), None
    except Exception as exc:  # noqa: BLE001 - evaluation errors become data
        return None, EvalError.from_exception(exc)


class ReduceOperator(FoldsColumns, Operator):
    def __init__(
        self,
        input: int,
        key_fn: Callable[[Row], tuple],
        value_fns: Sequence[Callable[[Row], Any] | None],
        factories: Sequence[Callable[[], Any]],
    ) -> None:
        """``value_fns[i]`` computes aggregate i's argument (``None``: it takes none and counts rows)."""
        self.inputs = (input,)
        self.key_fn = key_fn
        self.value_fns = list(value_fns)
        self.factories = list(factories)
        self.groups: dict[tuple, GroupState] = {}
        self.is_global = False
        self.columns: ColumnsOf | None = None  # set when the snapshot may be taken as columns
        self._absorbed: set[tuple] = set()  # groups built from columns, emitted in the next round

    def fold_columns(self, tables: list[Any]) -> dict[tuple, GroupState] | None:
        """The groups an insert-only snapshot given as Arrow tables builds (see the module docstring), changing
        nothing; ``None`` when the plan or the columns do not allow it, or something was folded already."""
        if self.columns is None or self.groups:
            return None
        with gc_paused():
            return self._groups_of(tables, self.columns)

    def fold_weighted(self, tables: list[Any]) -> dict[tuple, GroupState] | None:
        """:meth:`fold_columns` of tables whose rows each stand for as many as their ``count_all`` column says
        (a join of consolidated snapshots: ``dataflow.join``)."""
        if self.columns is None or self.groups:
            return None
        with gc_paused():
            return self._groups_of(tables, self.columns, weighted=True)

    def columns_read(self) -> list[int] | None:
        """The input columns :meth:`fold_weighted` reads (the group key and the arguments), or ``None``: a join
        handing it its snapshots' join may leave the others out (``dataflow.columns.joined_counted``'s ``keep``)."""
        if self.columns is None:
            return None
        return sorted(set(self.columns.key) | {c for c in self.columns.arguments if c is not None})

    def _groups_of(self, tables: list[Any], columns: ColumnsOf,
                   weighted: bool = False) -> dict[tuple, GroupState] | LazyGroups | None:
        results = column_results(columns, self.factories)
        if results is not None:
            return lazy_groups(tables, columns, self.factories, results, weighted)
        arguments = [c for c in columns.arguments if c is not None]
        grouped = grouped_values(tables, columns.key, list(dict.fromkeys(arguments)), weighted)
        if grouped is None:
            return None
        return eager_groups(grouped, columns, self.factories)

    def absorb_folded(self, groups: dict[tuple, GroupState] | LazyGroups) -> None:
        """Take what :meth:`fold_columns` returned as the input's snapshot."""
        if type(groups) is LazyGroups and not self.groups:
            self.groups = groups  # its first output is emitted at the start of the next round
            return
        self.groups.update(groups)
        self._absorbed = set(groups)

    def _new_group(self) -> GroupState:
        return GroupState([make() for make in self.factories])

    def _fold_pending(self, ok_in: OkDelta, groups: LazyGroups, ok: OkDelta) -> OkDelta:
        """Fold the rows of groups still pending in ``groups`` into their output rows where that is exact
        (``LazyGroups.fold_pending``), their output changes added to ``ok``; returns the other rows (every row
        when one fails to evaluate: the usual paths report it)."""
        if groups.vector is not None:  # int64 arguments: the whole delta at once (``dataflow.reduce_vector``)
            rows, diffs = list(ok_in), list(ok_in.values())
            left = groups.fold_batch(rows, diffs, self.key_fn, ok)
            if left is None:  # values the arrays do not hold: the delta's pending groups built, every row left
                try:
                    groups.load_many(list(map(self.key_fn, rows)))
                except Exception:  # noqa: BLE001 - the usual paths report it
                    pass
                return ok_in
            if len(left) == len(rows):
                return ok_in
            return {rows[i]: diffs[i] for i in left}
        try:
            keys = list(map(self.key_fn, ok_in))
            columns = [None if f is None else list(map(f, ok_in)) for f in self.value_fns]
        except Exception:  # noqa: BLE001 - redone by the usual paths
            return ok_in
        pending = groups.pending
        positions: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            if key in pending:
                found = positions.get(key)
                if found is None:
                    positions[key] = [i]
                else:
                    found.append(i)
        if not positions:
            return ok_in
        rows, diffs = list(ok_in), list(ok_in.values())
        folded: set[int] = set()
        built: list[tuple] = []  # groups whose states the rest of the round needs: built at once below
        for key, where in positions.items():
            change = groups.fold_pending(key, [diffs[i] for i in where],
                                         [None if column is None else [column[i] for i in where]
                                          for column in columns])
            if change is None:
                built.append(key)
                continue
            old, new = change
            add_into(ok, old, -1)
            if new is not None:
                add_into(ok, new, 1)
            folded.update(where)
        groups.load_many(built)
        if not folded:
            return ok_in
        return {rows[i]: diffs[i] for i in range(len(rows)) if i not in folded}

    def _fold_bulk(self, ok_in: OkDelta) -> set[tuple] | None:
        """Fold a large delta group by group (keys and arguments computed column-wise first).

        Returns the touched keys, or ``None`` (nothing folded) when some row fails to evaluate, so the caller
        takes the row-by-row path that turns such rows into errors.
        """
        try:
            keys = list(map(self.key_fn, ok_in))
            columns = [None if f is None else list(map(f, ok_in)) for f in self.value_fns]
        except Exception:  # noqa: BLE001 - redone row by row
            return None
        diffs = list(ok_in.values())
        positions: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            found = positions.get(key)
            if found is None:
                positions[key] = [i]
            else:
                found.append(i)
        groups = self.groups
        if type(groups) is LazyGroups:  # the delta's groups still pending built at once
            groups.load_many(positions)
        for key, where in positions.items():
            group = groups.get(key)
            if group is None:
                group = groups[key] = self._new_group()
            group_diffs = [diffs[i] for i in where]
            group.rows += sum(group_diffs)
            for state, column in zip(group.aggs, columns):
                values = [_ROWS] * len(where) if column is None else [column[i] for i in where]
                add_many(state, values, group_diffs)
        return set(positions)

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        err: ErrDelta = dict(err_in)
        groups = self.groups
        # groups built lazily from columns: their first output, before any change (``reduce_columns.LazyGroups``)
        ok: OkDelta = {}
        if type(groups) is LazyGroups:
            ok = groups.first_output()
            if ok_in and groups.pending:  # pending groups' rows folded into their outputs, if exact
                ok_in = self._fold_pending(ok_in, groups, ok)
        key_fn = self.key_fn
        value_fns = self.value_fns
        touched = self._fold_bulk(ok_in) if len(ok_in) >= BULK_THRESHOLD else None
        if touched is not None:
            ok_in = {}
        else:
            touched = set()
        absorbed, self._absorbed = self._absorbed, set()
        for row, diff in ok_in.items():
            try:
                key = key_fn(row)
                values = [_ROWS if f is None else f(row) for f in value_fns]
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(err, EvalError.from_exception(exc), diff)
                continue
            group = groups.get(key)
            if group is None:
                group = groups[key] = self._new_group()
            group.rows += diff
            for state, value in zip(group.aggs, values):
                state.add(value, diff)
            touched.add(key)
        if self.is_global and first:
            touched.add(())
            if () not in groups:
                groups[()] = self._new_group()
        if absorbed:  # groups built from columns and not touched since: new, non-empty, output rows distinct
            for key in (absorbed - touched if touched else absorbed):
                group = groups[key]
                out, error = _output(key, group)
                group.output, group.error = out, error
                if out is not None:
                    ok[out] = 1
                else:
                    add_into(err, error, 1)
        for key in touched:
            group = groups[key]
            old, old_error = group.output, group.error
            error = None
            if group.rows == 0 and not self.is_global:
                new = None
                del groups[key]
            elif group.rows < 0:
                new = None  # more retractions than insertions (transiently inconsistent input)
            else:
                new, error = _output(key, group)
            if old_error != error:
                if old_error is not None:
                    add_into(err, old_error, -1)
                if error is not None:
                    add_into(err, error, 1)
                group.error = error
            if old == new:
                continue
            if old is not None:
                add_into(ok, old, -1)
            if new is not None:
                add_into(ok, new, 1)
            group.output = new
        return ok, err


def reduce_operator(
    input: int,
    key_fn: Callable[[Row], tuple],
    value_fns: Sequence[Callable[[Row], Any] | None],
    factories: Sequence[Callable[[], Any]],
    is_global: bool,
    columns: ColumnsOf | None = None,
) -> ReduceOperator:
    operator = ReduceOperator(input, key_fn, value_fns, factories)
    operator.is_global = is_global
    operator.columns = columns
    return operator
