"""The fused join-accumulate and the lean reduce against the unfused operators, on the same update streams.

``RenderedDataflow(fuse=False)`` renders ``Reduce(Join(...))`` as the delta join followed by the general reduce;
with fusion on it is one ``JoinAccumulate``.  Hypothesis drives both with the same random updates — a tiny value
domain so that duplicate rows (multiplicities > 1), NULL keys and groups emptied by retractions are common, and
several timestamps per step — and the folded sink output must agree at every timestamp, as must the index.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.render import RenderedDataflow
from steadystate.dataflow.graph import fold
from steadystate.dataflow.join_accumulate import JoinAccumulate
from steadystate.expr import ir
from steadystate.repr.types import RelationDesc, ScalarType as T

from star_support import hydrate, render_star, script_steps, step_updates

FACT = RelationDesc.of(("dim_id", T.INT4), ("amount", T.INT8), ("qty", T.INT4))
DIM = RelationDesc.of(("id", T.INT4), ("region", T.TEXT))
col = ir.ColumnRef


def agg(func: str, expr: ir.ScalarExpr) -> ir.AggregateExpr:
    return ir.AggregateExpr(func, expr)


STAR = ir.Join((ir.Get("fact"), ir.Get("dim")), ((col(0), col(3)),))
PLANS = {
    "star": ir.Reduce(STAR, (col(4),), (agg("count_star", ir.Literal(True, T.BOOL)), agg("sum", col(1)),
                                        agg("avg", col(2)), agg("count", col(1)), agg("sum", col(2)))),
    "star_by_key_and_region": ir.Reduce(STAR, (col(0), col(4)), (agg("count_star", ir.Literal(True, T.BOOL)),)),
    # no group key: the global group, one row from the start (count 0, sum NULL over no rows)
    "global_star": ir.Reduce(STAR, (), (agg("count_star", ir.Literal(True, T.BOOL)), agg("sum", col(1)),
                                        agg("avg", col(2)))),
    "dim_first": ir.Reduce(ir.Join((ir.Get("dim"), ir.Get("fact")), ((col(0), col(2)),)), (col(1),),
                           (agg("sum", col(3)),)),
}

fact_rows = st.tuples(st.sampled_from([0, 1, None]), st.sampled_from([1, 5, None]), st.sampled_from([2, None]))
dim_rows = st.tuples(st.sampled_from([0, 1, None]), st.sampled_from(["x", "y"]))
steps = script_steps(fact_rows, dim_rows, 5)  # steps of timestamps of (table, row, insert?) choices


def render(plan: ir.RelationExpr, fuse: bool) -> RenderedDataflow:
    return render_star(plan, fuse, FACT, DIM)


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=steps)
def test_fused_join_accumulate_equals_join_then_reduce(name: str, script) -> None:
    fused, unfused = render(PLANS[name], True), render(PLANS[name], False)
    assert any(isinstance(n, JoinAccumulate) for n in fused.graph.nodes)
    live: dict[str, Counter] = {"fact": Counter(), "dim": Counter()}
    time = 1
    sinks: dict[bool, list] = {True: [], False: []}
    for step in script:
        updates: dict[str, list] = {"fact": [], "dim": []}
        for timestamp in step:
            for table, row, insert in timestamp:
                if insert or not live[table]:
                    live[table][row] += 1
                    updates[table].append((row, time, 1))
                else:  # retract an existing row (the first in a stable order)
                    victim = sorted(live[table], key=repr)[0]
                    live[table][victim] -= 1
                    if not live[table][victim]:
                        del live[table][victim]
                    updates[table].append((victim, time, -1))
            time += 1
        for dataflow in (fused, unfused):
            for table in ("fact", "dim"):
                dataflow.feed(table, list(updates[table]), time)
            dataflow.step()
        for flag, dataflow in ((True, fused), (False, unfused)):
            sinks[flag].extend(dataflow.drain_sink("s"))
        for at in range(1, time + 1):  # every timestamp, not only the step's last
            assert fold(sinks[True], at) == fold(sinks[False], at)
        assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())


def test_duplicate_dimension_rows_multiply_and_a_dimension_update_moves_the_whole_key() -> None:
    fused = render(PLANS["star"], True)
    fused.feed("fact", [((0, 5, 2), 1, 1), ((0, 1, None), 1, 2), ((None, 7, 7), 1, 1)], 2)
    fused.feed("dim", [((0, "x"), 1, 2)], 2)  # the dimension row twice: every fact row joins twice
    fused.step()
    # fact rows of key 0: (5, 2) once and (1, NULL) twice, each joined twice; the NULL-keyed fact never joins
    assert fused.arrangement("i").peek() == [("x", 6, 14, 2, 6, 4)]
    fused.feed("dim", [((0, "x"), 2, -2), ((0, "y"), 2, 1)], 3)  # key 0 moves to region y, once
    fused.feed("fact", [], 3)
    fused.step()
    assert fused.arrangement("i").peek() == [("y", 3, 7, 2, 3, 2)]
    fused.feed("fact", [((0, 5, 2), 3, -1), ((0, 1, None), 3, -2)], 4)  # every fact row of the key goes
    fused.feed("dim", [], 4)
    fused.step()
    assert fused.arrangement("i").peek() == []
    op = next(n for n in fused.graph.nodes if isinstance(n, JoinAccumulate))
    assert op.partial == {} and op.groups == {}  # nothing left behind for an emptied key and group


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(st.tuples(st.sampled_from([0, 1, None]), st.sampled_from([1, 5, -3, 70000, None]),
                                st.sampled_from([2, None])), max_size=30),
       dims=st.lists(dim_rows, max_size=6), split=st.integers(0, 30))
def test_a_snapshot_folded_as_arrow_columns_equals_the_row_fold(facts, dims, split) -> None:  # type: ignore[no-untyped-def]
    """``absorb_columns`` (Arrow hash aggregation over the insert-only snapshot) leaves exactly the partial sums
    the row fold leaves, and the dataflow's answer after the dimension arrives is the same.  The snapshot comes in
    two batches, whose columns may be stored at different integer widths (or as all-NULL)."""
    from steadystate.repr.columnar import decode_columnar, encode_columnar

    by_columns, by_rows = render(PLANS["star"], True), render(PLANS["star"], True)
    updates = [(row, 1, 1) for row in facts]
    parts = [part for part in (updates[:split], updates[split:]) if part]
    blobs = [encode_columnar(part, minimum=1) for part in parts]
    (op_columns,) = [n for n in by_columns.graph.nodes if isinstance(n, JoinAccumulate)]
    (op_rows,) = [n for n in by_rows.graph.nodes if isinstance(n, JoinAccumulate)]
    if blobs:
        assert op_columns.absorb_columns([decode_columnar(blob)[1] for blob in blobs])
        by_columns.feed_snapshot("fact", {}, 1, 2)
    else:
        by_columns.feed("fact", updates, 2)
    by_rows.feed("fact", updates, 2)
    for dataflow in (by_columns, by_rows):
        dataflow.feed("dim", [(row, 1, 1) for row in dims], 2)
        dataflow.step()
    assert op_columns.partial == op_rows.partial
    assert Counter(by_columns.arrangement("i").peek()) == Counter(by_rows.arrangement("i").peek())


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(fact_rows, max_size=20), dims=st.lists(dim_rows, max_size=8),
       rest=st.lists(st.one_of(st.tuples(st.just("fact"), fact_rows), st.tuples(st.just("dim"), dim_rows)),
                     max_size=4),
       script=steps)
def test_both_inputs_hydrated_from_columns_equal_the_unfused_rows(name: str, facts, dims, rest, script) -> None:  # type: ignore[no-untyped-def]
    """Both snapshots taken as columns where the dataflow takes them (``columnar_consumer``: A folded into partial
    sums, B lazily arranged and joined with them by Acero in the first round), with a few rows of the snapshot
    given as rows beside them, then random batches: the index equals the unfused dataflow's fed only rows, at the
    snapshot and after every batch."""
    fused, unfused = render(PLANS[name], True), render(PLANS[name], False)
    loads = {"fact": facts, "dim": dims}
    taken = hydrate(fused, unfused, loads,
                    {table: [row for which, row in rest if which == table] for table in ("fact", "dim")})
    if facts and dims:
        assert taken == {"fact", "dim"}
    live = {table: Counter(loads[table]) + Counter(row for which, row in rest if which == table)
            for table in ("fact", "dim")}
    time = 2
    for step in script:
        for dataflow in (fused, unfused):
            dataflow.step()
        assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())
        updates, time = step_updates(step, live, time)
        for dataflow in (fused, unfused):
            for table in ("fact", "dim"):
                dataflow.feed(table, list(updates[table]), time)
    for dataflow in (fused, unfused):
        dataflow.step()
    assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())


def test_columns_that_could_overflow_int64_are_left_to_the_row_fold() -> None:
    import pyarrow as pa

    op = next(n for n in render(PLANS["star"], True).graph.nodes if isinstance(n, JoinAccumulate))
    huge = pa.table({"c0": [0, 0], "c1": [2 ** 62, 2 ** 62], "c2": [1, 1]})
    assert not op.absorb_columns([huge]) and op.partial == {}
    as_float = pa.table({"c0": [0], "c1": [1.5], "c2": [1]})
    assert not op.absorb_columns([as_float]) and op.partial == {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=st.lists(st.tuples(st.sampled_from([0, 1, None]), st.sampled_from([1, 5, -3, None]),
                                st.sampled_from([2, None])), max_size=30))
def test_an_accumulating_reduce_folds_its_snapshot_from_columns_like_rows(facts) -> None:  # type: ignore[no-untyped-def]
    """A GROUP BY (NULL is a group of its own here, unlike a join key) hydrated from Arrow columns emits exactly
    what the row fold emits, in the first round."""
    from steadystate.dataflow.accumulate import AccumulatingReduce
    from steadystate.repr.columnar import decode_columnar, encode_columnar

    plan = ir.Reduce(ir.Get("fact"), (col(0),), (agg("count_star", ir.Literal(True, T.BOOL)), agg("sum", col(1)),
                                                 agg("avg", col(2)), agg("count", col(1))))
    by_columns, by_rows = render(plan, True), render(plan, True)
    (reduce_columns,) = [n for n in by_columns.graph.nodes if isinstance(n, AccumulatingReduce)]
    updates = [(row, 1, 1) for row in facts]
    blob = encode_columnar(updates, minimum=1) if facts else None
    if blob is not None:
        assert reduce_columns.absorb_columns([decode_columnar(blob)[1]])
        by_columns.feed_snapshot("fact", {}, 1, 2)
    else:
        by_columns.feed("fact", updates, 2)
    by_rows.feed("fact", updates, 2)
    for dataflow in (by_columns, by_rows):
        dataflow.feed("dim", [], 2)
        dataflow.step()
    assert fold(by_columns.drain_sink("s")) == fold(by_rows.drain_sink("s"))
    assert Counter(by_columns.arrangement("i").peek()) == Counter(by_rows.arrangement("i").peek())


def test_the_snapshot_groups_are_joined_by_arrow_at_storage_widths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage keeps integers at the narrowest width: the partial sums and the dimension's columns still join in
    Arrow (keys widened alike), not through the row fold over the dimension's rows."""
    import pyarrow as pa

    import steadystate.dataflow.join_accumulate as module

    def row_fold(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the snapshot groups fell back to the row fold")

    monkeypatch.setattr(module, "rows_of", row_fold)
    fused = render(PLANS["star"], True)
    fact = pa.table({"c0": pa.array([0, 1, 1], pa.int8()), "c1": pa.array([5, 6, 7], pa.int16()),
                     "c2": pa.array([2, 2, None], pa.int8())})
    dim = pa.table({"c0": pa.array([0, 1], pa.int8()), "c1": ["x", "y"]})
    for name, table in (("fact", fact), ("dim", dim)):
        consumer = fused.columnar_consumer(name)
        assert consumer is not None
        consumer.absorb_folded(consumer.fold_columns([table]))
        fused.feed_snapshot(name, {}, 1, 2)
    fused.step()
    unfused = render(PLANS["star"], False)
    unfused.feed("fact", [((0, 5, 2), 1, 1), ((1, 6, 2), 1, 1), ((1, 7, None), 1, 1)], 2)
    unfused.feed("dim", [((0, "x"), 1, 1), ((1, "y"), 1, 1)], 2)
    unfused.step()
    assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())
