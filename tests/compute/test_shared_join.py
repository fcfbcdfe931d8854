"""Joins reading an imported index in place (``dataflow.shared_input.SharedInput``) vs a naive fold and the copying join.

A producer dataflow maintains index ``ri`` on source ``r``; an importer joins its own source ``l`` with ``r`` through
that index.  Hypothesis writes random updates (deletes to zero, duplicates, NULL keys, injected errors) at random
times to both sources and steps the two dataflows in random interleavings, so the producer runs ahead of the
importer by several timestamps and one importer step covers several timestamps.  At every time the importer's
folded output must equal the join of the folded inputs (with the imported side empty before the importer's
snapshot time), and equal, rows and errors, what the same dataflow computes with the copying join.  The sharing
join must hold no rows of the shared side, and the in-flight updates it keeps must be gone once it caught up.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from hypothesis import given, settings, strategies as st

from steadystate.render import RenderedDataflow
from steadystate.dataflow.join import JoinOperator
from steadystate.expr import ir
from steadystate.protocol.messages import (
    BuildDesc, DataflowDescription, IndexExport, IndexImport, SinkExport, SourceImport,
)
from steadystate.repr.types import RelationDesc, ScalarType as T

col = ir.ColumnRef
R = RelationDesc.of(("k", T.INT8), ("v", T.INT8))
L = RelationDesc.of(("a", T.INT8), ("b", T.INT8))
JOINED = RelationDesc.of(("x0", T.INT8), ("x1", T.INT8), ("x2", T.INT8), ("x3", T.INT8))
START = 5
BOOM = ("boom", "XX000", "SteadyError", "", "")

# variant -> (index key over r, join inputs, equivalences, which sides share)
VARIANTS = {
    "right": ((col(0),), ("l", "r"), ((col(0), col(2)),), ("right",)),
    "left": ((col(0),), ("r", "l"), ((col(0), col(2)),), ("left",)),
    "both": ((col(0),), ("r", "r"), ((col(0), col(2)),), ("left", "right")),
    "permuted": ((col(1), col(0)), ("l", "r"), ((col(0), col(2)), (col(1), col(3))), ("right",)),
    "expression": ((ir.CallBinary("div", col(0), col(1)),), ("l", "r"),
                   ((col(0), ir.CallBinary("div", col(2), col(3))),), ("right",)),
    # through a filter (rows of r with v > 0) and through a projection ((v, k), joined on k)
    "filtered": ((col(0),), ("l", "rf"), ((col(0), col(2)),), ("right",)),
    "projected": ((col(0),), ("rp", "l"), ((col(1), col(2)),), ("left",)),
}
INPUTS = {
    "l": ir.Get("l"), "r": ir.Get("r"),
    "rf": ir.Filter(ir.Get("r"), (ir.CallBinary("gt", col(1), ir.Literal(0, T.INT8)),)),
    "rp": ir.Project(ir.Get("r"), (1, 0)),
}


def producer(key: tuple[ir.ScalarExpr, ...]) -> RenderedDataflow:
    desc = DataflowDescription((SourceImport("r", "s-r", R),), (), (), (IndexExport("ri", "r", key, R),), (),
                               as_of=START)
    return RenderedDataflow(desc, {})


def importer(variant: str, arrangement, share: bool) -> RenderedDataflow:  # type: ignore[no-untyped-def]
    key, inputs, equivalences, _ = VARIANTS[variant]
    plan = ir.Join(tuple(INPUTS[i] for i in inputs), equivalences)
    sources = (SourceImport("l", "s-l", L),) if "l" in inputs else ()
    desc = DataflowDescription(
        sources, (IndexImport("ri", "r", key, R),), (BuildDesc("j", plan, JOINED),), (),
        (SinkExport("out", "j", "materialized_view", JOINED),), as_of=START)
    return RenderedDataflow(desc, {"ri": arrangement}, share_arrangements=share)


def naive(variant: str, left: Counter, right: Counter) -> Counter:
    key, inputs, equivalences, _ = VARIANTS[variant]

    def r_key(row: tuple) -> tuple | None:
        if variant == "permuted":
            return row
        if variant == "expression":
            if row[0] is None or row[1] in (None, 0):
                return None
            quotient = abs(row[0]) // abs(row[1])  # SQL integer division truncates toward zero
            return (quotient if (row[0] >= 0) == (row[1] >= 0) else -quotient,)
        return (row[0],)

    def viewed(name: str, relation: Counter) -> Counter:
        if name == "rf":
            return Counter({row: n for row, n in relation.items() if row[1] is not None and row[1] > 0})
        if name == "rp":
            return Counter({(row[1], row[0]): n for row, n in relation.items()})
        return relation

    def key_of(name: str, row: tuple) -> tuple | None:
        if name == "l":
            return row if variant == "permuted" else (row[0],)
        if name == "rp":
            return (row[1],)
        return r_key(row)

    out: Counter = Counter()
    relations = {"l": left, "r": right, "rf": right, "rp": right}
    for first, m in viewed(inputs[0], relations[inputs[0]]).items():
        for second, n in viewed(inputs[1], relations[inputs[1]]).items():
            k1, k2 = key_of(inputs[0], first), key_of(inputs[1], second)
            if k1 is None or k2 is None or None in k1 or k1 != k2:
                continue
            out[first + second] += m * n
    return Counter({row: c for row, c in out.items() if c})


def fold(updates: list, up_to: int) -> Counter:
    out: Counter = Counter()
    for row, time, diff in updates:
        if time < up_to:
            out[row] += diff
    return Counter({row: c for row, c in out.items() if c})


values = st.one_of(st.none(), st.integers(-2, 2))
rows = st.tuples(values, values)
action = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(["l", "r"]), st.lists(st.tuples(rows, st.integers(1, 3)), max_size=4),
              st.integers(0, 2), st.booleans(), st.booleans()),
    st.tuples(st.just("step"), st.sampled_from(["producer", "importer", "both"])),
)


def fold_in(live: Counter, updates: list) -> None:
    for row, _time, diff in updates:
        live[row] += diff


def play(actions: list, prod: RenderedDataflow, importers: tuple[RenderedDataflow, ...],
         step_importers: Callable[[], None], history: dict[str, list]) -> int:
    """Carry out ``actions``: writes to ``r`` go to the producer (with an injected error when asked), writes to
    ``l`` to every importer (to ``r`` when no importer reads ``l``), steps as drawn; then close both inputs at a
    final time, step everything once more and return that time.  ``history`` collects each source's updates."""
    next_time = {"l": 0, "r": 0}
    live: dict[str, Counter] = {"l": Counter(), "r": Counter()}
    for act in actions:
        if act[0] == "step":
            if act[1] in ("producer", "both"):
                prod.step()
            if act[1] in ("importer", "both"):
                step_importers()
            continue
        _, source, writes, gap, delete, error = act
        if source == "l" and not importers:
            source = "r"
        time = next_time[source] + gap
        updates = [(row, time, n) for row, n in writes]
        if delete:  # retract some of what is live, to zero
            updates += [(row, time, -n) for row, n in list(live[source].items())[:2] if n > 0]
        fold_in(live[source], updates)
        history[source].extend(updates)
        next_time[source] = time + 1
        if source == "r":
            prod.feed("r", updates, time + 1, [(BOOM, time, 1)] if error else [])
        else:
            for flow in importers:
                flow.feed("l", list(updates), time + 1)
    final = max(*next_time.values(), START) + 1
    prod.feed("r", [], final)
    for flow in importers:
        flow.feed("l", [], final)
    prod.step()
    step_importers()
    return final


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VARIANTS)), st.lists(action, max_size=30))
def test_shared_join_equals_naive_fold_and_copying_join(variant: str, actions: list) -> None:
    key, inputs, _eq, sides = VARIANTS[variant]
    prod = producer(key)
    arrangement = prod.arrangement("ri")
    shared, copying = importer(variant, arrangement, True), importer(variant, arrangement, False)
    history: dict[str, list] = {"l": [], "r": []}
    outputs: dict[bool, list] = {True: [], False: []}
    errors: dict[bool, list] = {True: [], False: []}
    snapshot_at: list[int] = []

    def step_importers() -> None:
        if not snapshot_at:
            snapshot_at.append(max(max((arrangement.frontier or 1) - 1, 0), START))
        for flow, share in ((shared, True), (copying, False)):
            flow.step()
            outputs[share].extend(flow.drain_sink("out"))
            errors[share].extend(flow.drain_sink_errors("out"))

    final = play(actions, prod, (shared, copying) if "l" in inputs else (), step_importers, history)
    assert shared.frontier == copying.frontier == final

    snapshot = snapshot_at[0]
    for time in range(START, final):
        left = fold(history["l"], time + 1)
        right = fold(history["r"], time + 1) if time >= snapshot else Counter()
        expected = naive(variant, left, right)
        assert fold(outputs[True], time + 1) == expected, (time, snapshot)
        assert fold(outputs[False], time + 1) == expected, (time, snapshot)
        assert fold(errors[True], time + 1) == fold(errors[False], time + 1), time

    joins = [node for node in shared.graph.nodes if isinstance(node, JoinOperator)]
    for join in joins + [node for node in copying.graph.nodes if isinstance(node, JoinOperator)]:
        held = sum(len(rows) for state in (join.left_state, join.right_state) for rows in state.values())
        assert join.records() == held  # kept as the states change
    assert [(j.side, j.index_id) for j in shared.import_joins if j.shared] == [(side, "ri") for side in sides]
    for join in joins:
        if "right" in sides:
            assert join.right_state == {} and join.right_shared is not None
        if "left" in sides:
            assert join.left_state == {} and join.left_shared is not None
    assert copying.import_joins and not any(j.shared for j in copying.import_joins)
    # caught up: nothing in flight is kept, and the arrangement's own log is trimmed
    assert all(not s.pending for s in shared._shared.values())
    assert not arrangement._log and not arrangement._err_log


def three_way(shared_input: ir.RelationExpr, share: bool = True) -> RenderedDataflow:
    """l ⋈ r ⋈ s on l.a = r.k = s.k: the second and third inputs are (maybe wrapped) imports of ``ri``."""
    prod = producer((col(0),))
    prod.feed("r", [((1, 10), 5, 1), ((1, 11), 5, 2), ((2, 20), 5, 1), ((None, 0), 5, 1)], 6)
    prod.step()
    plan = ir.Join((ir.Get("l"), shared_input, ir.Get("r")), ((col(0), col(2), col(4)),))
    out = RelationDesc.of(*[(f"x{i}", T.INT8) for i in range(6)])
    desc = DataflowDescription(
        (SourceImport("l", "s-l", L),), (IndexImport("ri", "r", (col(0),), R),), (BuildDesc("j", plan, out),), (),
        (SinkExport("out", "j", "materialized_view", out),), as_of=START)
    flow = RenderedDataflow(desc, {"ri": prod.arrangement("ri")}, share_arrangements=share)
    flow.feed("l", [((1, 0), 5, 1), ((2, 0), 5, 1), ((None, 0), 5, 1)], 6)
    flow.step()
    return flow


def test_multiway_join_shares_imports_directly_or_through_filters_and_copies_computed_keys() -> None:
    direct, filtered = three_way(ir.ArrangeBy(ir.Get("r"), ((col(0),),))), three_way(
        ir.Filter(ir.Get("r"), (ir.CallBinary("gt", col(1), ir.Literal(0, T.INT8)),)))
    # the key of the middle input is a computed column (k + 0): its join must copy it
    computed = three_way(ir.Project(ir.Map(ir.Get("r"), (ir.CallBinary("add", col(0), ir.Literal(0, T.INT8)),)),
                                    (2, 1)))
    assert [(j.side, j.index_id, j.shared, j.through_mfp) for j in direct.import_joins] == [
        ("right", "ri", True, False), ("right", "ri", True, False)]
    assert [(j.side, j.index_id, j.shared, j.through_mfp) for j in filtered.import_joins] == [
        ("right", "ri", True, True), ("right", "ri", True, False)]
    assert [(j.side, j.index_id, j.shared, j.through_mfp) for j in computed.import_joins] == [
        ("right", "ri", False, True), ("right", "ri", True, False)]
    expected = Counter({(1, 0, 1, 10, 1, 10): 1, (1, 0, 1, 10, 1, 11): 2, (1, 0, 1, 11, 1, 10): 2,
                        (1, 0, 1, 11, 1, 11): 4, (2, 0, 2, 20, 2, 20): 1})
    for flow in (direct, filtered, computed, three_way(ir.Get("r"), share=False)):
        assert fold(flow.drain_sink("out"), START + 1) == expected


def test_a_shared_side_is_not_counted_in_operator_sizes() -> None:
    shared, copying = three_way(ir.Get("r")), three_way(ir.Get("r"), share=False)
    # shared: the first join holds l's two rows with a key, the second its prefix (l ⋈ r: 3 rows); r is read in place
    assert shared.operator_sizes()[0] == 2 + 3
    # copying: the same plus r's three keyed rows (the NULL key is dropped) in each join
    assert copying.operator_sizes()[0] == 2 + 3 + 3 + 3
    joins = [n for n in shared.graph.nodes if isinstance(n, JoinOperator)]
    assert all(j.right_state == {} for j in joins)


def fused_importer(arrangement, fast: bool) -> RenderedDataflow:  # type: ignore[no-untyped-def]
    """``SELECT r.v, count(*), sum(l.b) FROM l JOIN r ON l.a = r.k GROUP BY r.v`` over the imported index ``ri``:
    fused and reading the index in place (``fast``), or unfused with the join copying it."""
    plan = ir.Reduce(ir.Join((ir.Get("l"), ir.Get("r")), ((col(0), col(2)),)), (col(3),),
                     (ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL)), ir.AggregateExpr("sum", col(1))))
    out = RelationDesc.of(("v", T.INT8), ("n", T.INT8), ("s", T.NUMERIC))
    desc = DataflowDescription(
        (SourceImport("l", "s-l", L),), (IndexImport("ri", "r", (col(0),), R),), (BuildDesc("g", plan, out),), (),
        (SinkExport("out", "g", "materialized_view", out),), as_of=START)
    return RenderedDataflow(desc, {"ri": arrangement}, share_arrangements=fast, fuse=fast)


# writes spread over more timestamps (times below START collapse into the snapshot), producer often ahead
fused_action = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(["l", "r"]), st.lists(st.tuples(rows, st.integers(1, 3)), max_size=3),
              st.integers(1, 4), st.booleans(), st.just(False)),
    st.tuples(st.just("step"), st.sampled_from(["producer", "producer", "importer", "both"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(fused_action, max_size=30))
def test_fused_aggregate_reads_an_imported_dimension_in_place(actions: list) -> None:
    """The fused join-accumulate with B read in place as of each round (producer ahead, several timestamps per
    step) equals the unfused, copying plan at every time, and keeps no B rows of its own."""
    from steadystate.dataflow.join_accumulate import JoinAccumulate

    prod = producer((col(0),))
    arrangement = prod.arrangement("ri")
    fused, plain = fused_importer(arrangement, True), fused_importer(arrangement, False)
    outputs: dict[bool, list] = {True: [], False: []}

    def step_importers() -> None:
        for flow, fast in ((fused, True), (plain, False)):
            flow.step()
            outputs[fast].extend(flow.drain_sink("out"))

    final = play(actions, prod, (fused, plain), step_importers, {"l": [], "r": []})
    assert fused.frontier == plain.frontier == final
    for time in range(START, final):
        assert fold(outputs[True], time + 1) == fold(outputs[False], time + 1), time
    (op,) = [n for n in fused.graph.nodes if isinstance(n, JoinAccumulate)]
    assert op.shared_b is not None and op.arranged == {}
    assert [(j.side, j.shared) for j in fused.import_joins] == [("right", True)]
    assert all(not s.pending for s in fused._shared.values())


def test_fused_aggregate_sees_the_dimension_as_of_each_round_not_the_producers_latest() -> None:
    """The producer has applied r's update at 8 when the importer runs its round at 6: that round must join the
    dimension as of 5, so the update at 8 counts once (at 8), not also at 6."""
    prod = producer((col(0),))
    arrangement = prod.arrangement("ri")
    fused, plain = fused_importer(arrangement, True), fused_importer(arrangement, False)
    prod.feed("r", [((1, 7), 5, 1)], 6)
    prod.step()
    for flow in (fused, plain):
        flow.feed("l", [], 6)
        flow.step()
    prod.feed("r", [((1, 8), 8, 1)], 9)
    prod.step()
    for flow in (fused, plain):
        flow.feed("l", [((1, 10), 6, 1)], 10)
        flow.step()
    got, want = fused.drain_sink("out"), plain.drain_sink("out")
    assert sorted(got) == sorted(want) == [((7, 1, 10), 6, 1), ((8, 1, 10), 8, 1)]

