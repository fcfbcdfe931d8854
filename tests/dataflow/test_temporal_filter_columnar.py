"""The temporal filter's columnar snapshot path (``run_columnar``, held updates as ``HeldColumns``) against its row
path and the definition.

Two graphs get the same random snapshot at ``as_of`` — one as Arrow parts of either sign plus extra rows (a
``ColumnarDelta``, as hydration hands a loaded table over), the other as ``{row: count}`` — then the same random
updates in batches, with the input frontier advancing by random steps.  Rows are ``(k, lower, upper)``; a filter has
a lower and/or an upper side (drawn), a NULL on a present side keeps the row out, as a NULL bound does.  After every
step the two outputs accumulated at every time below the frontier must be equal, and equal to the definition; the
Arrow evaluator may also decline (``None``: the row path takes the whole delta), which must change nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.dataflow.collection import Delta, Update, add_into
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.graph import Graph, fold
from steadystate.dataflow.operators import TapOperator
from steadystate.dataflow.temporal_filter import TemporalFilterOperator

AS_OF = 10
_value = st.one_of(st.none(), st.integers(0, 40))
_row = st.tuples(st.integers(0, 3), _value, _value)
_part = st.tuples(st.lists(_row, max_size=12), st.sampled_from([1, -1]))
_update = st.tuples(_row, st.integers(AS_OF, 45), st.sampled_from([1, -1, 2]))


class Filter:
    """A filter's sides: the row bounds, its Arrow evaluator (or one that declines) and the definition."""

    def __init__(self, lower: bool, upper: bool, declines: bool) -> None:
        self.lower, self.upper, self.declines = lower, upper, declines

    def interval(self, row: tuple) -> tuple[int | None, int | None] | None:
        if (self.lower and row[1] is None) or (self.upper and row[2] is None):
            return None
        return (row[1] if self.lower else None), (row[2] if self.upper else None)

    def arrow(self, table: pa.Table, time: int) -> tuple[Any, Any, Any] | None:
        """The contract of ``expr.temporal_arrow``: the rows whose interval is not empty after ``time`` (``None``
        when that is every row) and their bounds."""
        if self.declines:
            return None
        keep = np.ones(table.num_rows, dtype=bool)
        sides = []
        for present, name in ((self.lower, "c1"), (self.upper, "c2")):
            if not present:
                sides.append(None)
                continue
            column = table.column(name)
            keep &= column.is_valid().to_numpy(zero_copy_only=False)
            sides.append(column.fill_null(0).to_numpy().astype(np.int64))
        lower, upper = sides
        if upper is not None:
            keep &= (upper > time) & (upper > (lower if lower is not None else time))
        if keep.all():
            return None, lower, upper
        rows = np.flatnonzero(keep)
        return rows, (None if lower is None else lower[rows]), (None if upper is None else upper[rows])

    def contains(self, row: tuple, t: int) -> bool:
        interval = self.interval(row)
        if interval is None:
            return False
        lower, upper = interval
        return (lower is None or lower <= t) and (upper is None or t < upper)


def _table(rows: list[tuple]) -> pa.Table:
    return pa.table({f"c{i}": pa.array([row[i] for row in rows], type=pa.int64()) for i in range(3)})


def _graph(filter_: Filter, columnar: bool) -> tuple[Graph, list[Update]]:
    graph = Graph(as_of=AS_OF)
    source = graph.add_input("in")
    node = graph.add(TemporalFilterOperator(source, filter_.interval, filter_.arrow if columnar else None))
    out: list[Update] = []

    def listen(time: int, delta: Delta) -> None:
        out.extend((row, time, diff) for row, diff in delta[0].items())

    graph.add(TapOperator(node, listen))
    return graph, out


@settings(max_examples=200, deadline=None)
@given(st.lists(_part, max_size=3), st.lists(_row, max_size=6), st.lists(_update, max_size=25),
       st.lists(st.integers(1, 9), min_size=1, max_size=6), st.booleans(), st.booleans(), st.booleans(),
       st.booleans())
def test_columnar_snapshot_path_equals_row_path_and_definition(
        parts: list[tuple[list[tuple], int]], extra_rows: list[tuple], updates: list[Update], steps: list[int],
        lower: bool, upper: bool, declines: bool, complete: bool) -> None:
    if not lower and not upper:
        upper = True
    filter_ = Filter(lower, upper, declines)
    extra: dict = {}
    for row in extra_rows:
        add_into(extra, row, 1)
    snapshot: dict = dict(extra)
    for rows, sign in parts:
        for row in rows:
            add_into(snapshot, row, sign)
    columnar, columnar_out = _graph(filter_, True)
    rows, rows_out = _graph(filter_, False)
    upper_time = AS_OF + 1
    columnar.ports["in"].push_consolidated(
        AS_OF, ColumnarDelta([(_table(r), sign) for r, sign in parts], 3, dict(extra)), upper_time)
    rows.ports["in"].push_consolidated(AS_OF, dict(snapshot), upper_time)
    fed: list[Update] = [(row, AS_OF, diff) for row, diff in snapshot.items()]
    for step in [0, *steps]:
        upper_time += step
        batch = [u for u in updates if upper_time - step <= u[1] < upper_time] if step else []
        fed.extend(batch)
        for graph in (columnar, rows):
            graph.ports["in"].push(list(batch), upper_time)
            graph.step()
        _check(filter_, fed, columnar_out, rows_out, upper_time)
    if complete:
        rest = [u for u in updates if u[1] >= upper_time]
        fed.extend(rest)
        for graph in (columnar, rows):
            graph.ports["in"].push(list(rest), None)
            graph.step()
        _check(filter_, fed, columnar_out, rows_out, 60)
        operator = columnar.nodes[1]
        assert isinstance(operator, TemporalFilterOperator) and operator.held() == 0


def _check(filter_: Filter, fed: list[Update], columnar_out: list[Update], rows_out: list[Update], upper: int) -> None:
    assert all(time < upper for _, time, _ in columnar_out), "an update was released before its time"
    for t in range(AS_OF, upper):
        accumulated: dict = {}
        for row, time, diff in fed:
            if time <= t:
                add_into(accumulated, row, diff)
        expected = {row: count for row, count in accumulated.items() if filter_.contains(row, t)}
        assert fold(rows_out, t + 1) == expected, f"row path at {t}"
        assert fold(columnar_out, t + 1) == expected, f"columnar path at {t}"


def test_held_columns_release_each_time_in_its_own_round() -> None:
    """A snapshot of rows due at two future times: nothing leaves early, each time's updates leave in its round, and
    the rows inside their interval at the as_of leave at once as columns."""
    filter_ = Filter(True, True, False)
    graph, out = _graph(filter_, True)
    snapshot = [(1, 0, 15), (2, 12, 20), (3, 12, 14), (4, 30, 30), (5, None, 50), (6, 0, 5)]
    assert filter_.arrow(_table(snapshot), AS_OF)[0].tolist() == [0, 1, 2]  # (4: empty, 5: NULL, 6: expired)
    graph.ports["in"].push_consolidated(AS_OF, ColumnarDelta([(_table(snapshot), 1)], 3), AS_OF + 1)
    graph.step()
    assert out == [((1, 0, 15), AS_OF, 1)]
    operator = graph.nodes[1]
    assert isinstance(operator, TemporalFilterOperator) and operator.held() == 5  # 1's end; 2 and 3 each twice
    graph.ports["in"].push([], 14)
    graph.step()
    assert sorted(out[1:]) == [((2, 12, 20), 12, 1), ((3, 12, 14), 12, 1)]
    graph.ports["in"].push([], 21)
    graph.step()
    assert sorted(out[3:]) == [((1, 0, 15), 15, -1), ((2, 12, 20), 20, -1), ((3, 12, 14), 14, -1)]
    assert [time for _, time, _ in out[3:]] == [14, 15, 20]  # one round per time, in order
    assert operator.held() == 0 and not operator.held_columns
