"""The graph's round under a guard (a query's transient dataflow): each operator is refused before it starts when its
input's rows, at ``ROW_ROOM`` bytes each, would take the process past the memory threshold — an operator may build
its output or state in one piece no check interrupts — and a delta no later operator reads is let go at once, so a
round holds only the deltas still to be read, not every operator's output until its end."""

from __future__ import annotations

import weakref

import pytest

from steadystate.dataflow import guard
from steadystate.dataflow.collection import Delta
from steadystate.dataflow.graph import ROW_ROOM, Graph
from steadystate.dataflow.operators import Operator
from steadystate.errors import OutOfMemory

ROWS = 10_000


class Tracked(dict):  # type: ignore[type-arg]
    """A delta's rows that a weak reference can follow."""


class Copy(Operator):
    """Outputs its input's rows in a new ``Tracked`` dict; ``seen`` records which earlier outputs were alive when it
    ran."""

    def __init__(self, input: int, watched: list[weakref.ref] | None = None) -> None:
        self.inputs = (input,)
        self.watched = watched if watched is not None else []
        self.seen: list[bool] = []
        self.ran = False

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        self.ran = True
        self.seen = [ref() is not None for ref in self.watched]
        out = Tracked(deltas[0][0])
        self.watched.append(weakref.ref(out))
        return out, {}


def chain(length: int) -> tuple[Graph, list[Copy]]:
    graph = Graph(as_of=0)
    node = graph.add_input("t")
    watched: list[weakref.ref] = []
    copies = []
    for _ in range(length):
        copy = Copy(node, watched)
        node = graph.add(copy)
        copies.append(copy)
    graph.ports["t"].push([((i,), 0, 1) for i in range(ROWS)], 1)
    return graph, copies


def test_a_delta_no_later_operator_reads_is_let_go_during_the_round() -> None:
    graph, copies = chain(4)
    graph.step()
    # the fourth operator ran while only the third's output (its input) was alive: the first two were let go
    assert copies[3].seen == [False, False, True]


def test_under_a_guard_an_operator_whose_input_would_not_fit_is_refused_before_it_runs() -> None:
    graph, copies = chain(2)
    threshold = guard.rss_bytes() + ROW_ROOM * ROWS // 2  # room for half the input's rows
    with guard.guarded(guard.Guard(lambda: False, threshold, None)), pytest.raises(OutOfMemory):
        graph.step()
    assert not copies[0].ran


def test_under_a_guard_an_input_that_fits_runs() -> None:
    graph, copies = chain(2)
    threshold = guard.rss_bytes() + 4 * ROW_ROOM * ROWS + (64 << 20)
    with guard.guarded(guard.Guard(lambda: False, threshold, None)):
        graph.step()
    assert copies[1].ran
