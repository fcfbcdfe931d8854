"""Stateless and simple stateful operators: inputs, constants, MFP, union, negate, threshold, distinct.

Every operator is an :class:`Operator`: it names the nodes it reads (``inputs``) and implements
``run(time, deltas, first) -> Delta``, given one delta per input for a single timestamp (``first`` is true in the
dataflow's first round, which is when constants emit and global aggregates publish their empty-input row).
Errors (the ``err`` half of a delta) pass through every operator unchanged except where noted; an operator
that evaluates expressions turns a failing row into an error update of the same diff.
"""

from __future__ import annotations

from typing import Callable

from steadystate.dataflow.collection import EMPTY, Delta, ErrDelta, EvalError, OkDelta, Row, add_into, merge_into


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
    part, evaluated over Arrow columns at hydration (``render.dataflow.ColumnarMapper``) — added to the output of
    the round at ``time``."""

    def __init__(self, input: int, apply: Callable[[Row], Row | None]) -> None:
        self.inputs = (input,)
        self.apply = apply
        self.premapped: dict[int, OkDelta] = {}

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        apply = self.apply
        ok: OkDelta = {}
        err: ErrDelta = dict(err_in)
        get = ok.get
        for row, diff in ok_in.items():
            try:
                out = apply(row)
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(err, EvalError.from_exception(exc), diff)
                continue
            if out is not None:
                ok[out] = get(out, 0) + diff
        if self.premapped:
            extra = self.premapped.pop(time, None)
            if extra:
                if ok:
                    merge_into(ok, extra)
                else:
                    return extra, err
        return {r: d for r, d in ok.items() if d}, err


class UnionOperator(Operator):
    def __init__(self, inputs: tuple[int, ...]) -> None:
        self.inputs = inputs

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


class CountingOperator(Operator):
    """Keeps the accumulated count per row and emits the change of ``output_count(count)``."""

    def __init__(self, input: int, output_count: Callable[[int], int]) -> None:
        self.inputs = (input,)
        self.counts: dict[Row, int] = {}
        self.output_count = output_count

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        counts = self.counts
        output_count = self.output_count
        ok: OkDelta = {}
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


def threshold_operator(input: int) -> CountingOperator:
    """Keep rows with positive multiplicity, at that multiplicity (EXCEPT ALL's second half)."""
    return CountingOperator(input, lambda count: count if count > 0 else 0)


def distinct_operator(input: int) -> CountingOperator:
    """Each row with positive multiplicity, once."""
    return CountingOperator(input, lambda count: 1 if count > 0 else 0)


class TapOperator(Operator):
    """Passes its input through and hands each round's delta to ``listener(time, delta)`` (exports, sinks)."""

    def __init__(self, input: int, listener: Callable[[int, Delta], None]) -> None:
        self.inputs = (input,)
        self.listener = listener

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        delta = deltas[0]
        if delta[0] or delta[1]:
            self.listener(time, delta)
        return delta
