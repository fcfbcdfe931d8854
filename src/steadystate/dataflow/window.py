"""Window functions: each row of a partition extended with values computed over the partition in a sort order.

State per partition (rows of equal partition key): the multiset of its input rows and the output rows last
emitted for it.  When a round touches a partition, the operator sorts the partition's rows (each row repeated by
its multiplicity; the order is the sort order with ties broken by the whole row, as in top-k, so every replica
computes the same values), asks ``compute`` for the appended values of each position, and emits the difference
between the new output and the previous one.  A round costs the sizes of the partitions it touches; the others
are not looked at (Materialize renders window functions the same way: a reduction per partition).

``compute`` is given by the renderer (``expr/window.py`` owns what the functions mean); the engine knows only
sorted rows.  If it raises a ``SteadyError`` (``ntile(0)``), the partition's output is that error, counted once,
until a later change makes the partition computable again.
"""

from __future__ import annotations

from typing import Callable, Sequence

from steadystate import errors
from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into, merge_into
from steadystate.dataflow.operators import Operator
from steadystate.dataflow.topk import SortColumn, sort_rows

#: sorted rows of one partition -> the values appended to each of them, in order
Compute = Callable[[list[Row]], list[tuple]]


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

    def records(self) -> int:
        return sum(len(rows) for rows in self.partitions.values())

    def _evaluate(self, rows: dict[Row, int]) -> dict[Row, int]:
        ordered: list[Row] = []
        for row in sort_rows([r for r, count in rows.items() if count > 0], self.order):
            ordered.extend([row] * rows[row])
        out: dict[Row, int] = {}
        for row, values in zip(ordered, self.compute(ordered)):
            add_into(out, row + values, 1)
        return out

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        touched: set[tuple] = set()
        partition_fn = self.partition_fn
        for row, diff in ok_in.items():
            key = partition_fn(row) if partition_fn is not None else ()
            rows = self.partitions.get(key)
            if rows is None:
                rows = self.partitions[key] = {}
            add_into(rows, row, diff)
            touched.add(key)
        ok: OkDelta = {}
        err: ErrDelta = dict(err_in)
        for key in touched:
            rows = self.partitions[key]
            new: dict[Row, int] = {}
            failure: EvalError | None = None
            if rows:
                try:
                    new = self._evaluate(rows)
                except errors.SteadyError as exc:
                    failure = EvalError.from_exception(exc)
            else:
                del self.partitions[key]
            merge_into(ok, self.outputs.pop(key, {}), -1)
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
