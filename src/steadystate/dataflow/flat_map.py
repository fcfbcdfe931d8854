"""The flat-map operator: each input row extended by each row a function returns for it (Materialize's FlatMap).

The renderer (``render/dataflow.py``) hands :class:`FlatMapOperator` a function ``row -> iterable of tuples`` (a
table function's rows for the row's arguments, ``expr/table_functions.py``).  For every ``(row, diff)`` of the
input delta, each returned tuple ``t`` becomes the update ``(row + t, diff)``: the operator is stateless and
linear, so a retraction of an input row retracts exactly the rows it produced, and it is maintained incrementally
as a map is.  A function that raises turns that input row into one error update of the same diff (as
:class:`~steadystate.dataflow.operators.MfpOperator` does); no output row of that input row is kept.
"""

from __future__ import annotations

from typing import Callable, Iterable

from steadystate.dataflow.collection import Delta, ErrDelta, EvalError, OkDelta, Row, add_into
from steadystate.dataflow.operators import Operator


class FlatMapOperator(Operator):
    def __init__(self, input: int, rows_of: Callable[[Row], Iterable[tuple]]) -> None:
        self.inputs = (input,)
        self.rows_of = rows_of

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        rows_of = self.rows_of
        ok: OkDelta = {}
        err: ErrDelta = dict(err_in)
        get = ok.get
        for row, diff in ok_in.items():
            try:
                produced = [row + tuple(extra) for extra in rows_of(row)]
            except Exception as exc:  # noqa: BLE001 - evaluation errors become data
                add_into(err, EvalError.from_exception(exc), diff)
                continue
            for out in produced:
                ok[out] = get(out, 0) + diff
        return {r: d for r, d in ok.items() if d}, err


__all__ = ["FlatMapOperator"]
