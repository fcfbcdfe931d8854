"""The temporal filter operator against its definition: a row with interval ``[lower, upper)`` is in the output
at time ``t`` exactly when its accumulated input count at ``t`` is non-zero and ``lower <= t < upper``.

Random updates are fed to a real :class:`~steadystate.dataflow.graph.Graph` in batches whose input upper only
advances (as table uppers do); after each step, the output accumulated up to every time below the graph's
frontier is compared with the definition.  Held updates are released only once the frontier passes them.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.dataflow.collection import Delta, Update, add_into
from steadystate.dataflow.graph import Graph, fold
from steadystate.dataflow.operators import TapOperator
from steadystate.dataflow.temporal_filter import TemporalFilterOperator

_bound = st.one_of(st.none(), st.integers(0, 30))
_row = st.tuples(st.integers(0, 3), _bound, _bound)
_update = st.tuples(_row, st.integers(0, 25), st.sampled_from([1, -1, 2]))


def _bounds(row: tuple) -> tuple[int | None, int | None] | None:
    return row[1], row[2]


def _expected(inputs: list[Update], t: int) -> dict:
    accumulated: dict = {}
    for row, time, diff in inputs:
        if time <= t:
            add_into(accumulated, row, diff)
    return {row: count for row, count in accumulated.items()
            if (row[1] is None or row[1] <= t) and (row[2] is None or t < row[2])}


@settings(max_examples=150, deadline=None)
@given(st.lists(_update, max_size=30), st.lists(st.integers(1, 8), min_size=1, max_size=6), st.booleans())
def test_output_at_every_time_is_the_definition(updates: list[Update], steps: list[int], complete: bool) -> None:
    graph = Graph(as_of=0)
    source = graph.add_input("in")
    filtered = graph.add(TemporalFilterOperator(source, _bounds))
    out: list[Update] = []

    def listen(time: int, delta: Delta) -> None:
        out.extend((row, time, diff) for row, diff in delta[0].items())

    graph.add(TapOperator(filtered, listen))
    port = graph.ports["in"]
    fed: list[Update] = []
    upper = 0
    for step in steps:
        upper += step
        batch = [u for u in updates if upper - step <= u[1] < upper]
        fed.extend(batch)
        port.push(batch, upper)
        graph.step()
        assert graph.frontier == upper
        assert all(time < upper for _, time, _ in out), "an update was released before its time"
        for t in range(upper):
            assert fold(out, t + 1) == _expected(fed, t), f"at time {t}"
    if complete:
        rest = [u for u in updates if u[1] >= upper]
        fed.extend(rest)
        port.push(rest, None)
        graph.step()
        for t in range(40):
            assert fold(out, t + 1) == _expected(fed, t), f"at time {t}"
        assert not any(graph.timed[0].scheduled.values())


def test_a_round_runs_at_a_held_time_without_any_input() -> None:
    """A row inserted once leaves the output at its upper bound, in a round of its own, once the frontier passes."""
    graph = Graph(as_of=0)
    source = graph.add_input("in")
    filtered = graph.add(TemporalFilterOperator(source, _bounds))
    out: list[Update] = []
    graph.add(TapOperator(filtered, lambda time, delta: out.extend((r, time, d) for r, d in delta[0].items())))
    row = (1, 5, 10)
    graph.ports["in"].push([(row, 2, 1)], 3)
    graph.step()
    assert out == []
    graph.ports["in"].push([], 7)
    graph.step()
    assert out == [(row, 5, 1)]
    graph.ports["in"].push([], 10)
    graph.step()
    assert out == [(row, 5, 1)]  # the retraction at 10 waits until 10 is complete
    graph.ports["in"].push([], 11)
    graph.step()
    assert out == [(row, 5, 1), (row, 10, -1)]
