"""Hydration from Arrow columns agrees with the naive evaluator, at the snapshot and after every later batch.

A replica hands a loaded table's snapshot to the operator that can take it as columns
(``RenderedDataflow.columnar_consumer``: a reduce over plain columns, a join side, either behind maps/filters/
projections) and the rest of the snapshot (writes after the load, deletes of loaded rows among them) as rows.
Here the snapshot is random: a part as one or two Arrow tables (integer columns at different widths, all-NULL
columns as Arrow's null type, repeated rows), the rest as rows; then random batches of inserts and deletes.  After
the snapshot and after each batch the index must equal ``dataflow_naive``'s evaluation of the plan, and the sink's
updates must fold to it — so the states built from columns must be the states later deltas expect.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate import errors
from steadystate.dataflow.graph import fold
from steadystate.dataflow.join import JoinOperator
from steadystate.dataflow.reduce import ReduceOperator
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.render.columnar import FanOut
from steadystate.repr.types import RelationDesc, ScalarType as T

from dataflow_naive import evaluate_plan

col = ir.ColumnRef
A = RelationDesc.of(("x", T.INT8), ("y", T.INT8))
B = RelationDesc.of(("x", T.INT8), ("z", T.INT8))
S = RelationDesc.of(("x", T.INT8), ("s", T.TEXT))


def agg(func: str, expr: ir.ScalarExpr, distinct: bool = False) -> ir.AggregateExpr:
    return ir.AggregateExpr(func, expr, distinct)


def every_aggregate(column: int) -> tuple[ir.AggregateExpr, ...]:
    return (agg("min", col(column)), agg("max", col(column)), agg("count", col(column)),
            agg("count_star", ir.Literal(1, T.INT8)), agg("sum", col(column)), agg("avg", col(column)),
            agg("count", col(column), True), agg("sum", col(column), True))


JOIN = ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)),))
KEYS_OF_B = ir.Distinct(ir.Project(ir.Get("b"), (0,)))
FILTERED_A = ir.Filter(ir.Get("a"), (ir.CallBinary("gt", col(1), ir.Literal(0, T.INT8)),))

# plan -> the operator classes that must take a snapshot as columns in it
PLANS: dict[str, tuple[ir.RelationExpr, tuple[type, ...]]] = {
    "min_max_and_the_rest": (ir.Reduce(ir.Get("a"), (col(0),), every_aggregate(1)), (ReduceOperator,)),
    # min/max/counts only: groups built lazily (``reduce_columns.LazyGroups``; a dense key without NULL keys)
    "min_max_counts": (ir.Reduce(ir.Get("a"), (col(0),), (agg("min", col(1)), agg("max", col(1)), agg("count", col(1)),
                                                         agg("count_star", ir.Literal(1, T.INT8)))),
                       (ReduceOperator,)),
    "global": (ir.Reduce(ir.Get("a"), (), (agg("min", col(1)), agg("max", col(0)), agg("count", col(1), True))),
               (ReduceOperator,)),
    "group_by_the_argument": (ir.Reduce(ir.Get("a"), (col(0), col(1)), (agg("max", col(1)), agg("count", col(0)))),
                              (ReduceOperator,)),
    "filtered_reduce": (ir.Reduce(FILTERED_A, (col(1),), (agg("min", col(0)), agg("count", col(0), True))),
                        (ReduceOperator,)),
    "bitwise": (ir.Reduce(ir.Get("a"), (col(0),), (agg("bit_and", col(1)), agg("bit_or", col(1)),
                                                   agg("bit_xor", col(1)), agg("bit_xor", col(1), True))),
                (ReduceOperator,)),
    "join": (JOIN, (JoinOperator,)),
    "filtered_join": (ir.Join((FILTERED_A, ir.Get("b")), ((col(0), col(2)),)), (JoinOperator,)),
    "reduce_over_join": (ir.Reduce(JOIN, (col(3),), (agg("count", col(1), True), agg("min", col(1)),
                                                     agg("max", col(0)), agg("count_star", ir.Literal(1, T.INT8)))),
                         (JoinOperator, ReduceOperator)),
    # a reads only its join column: the join's inputs are projected first (``columns.pruned_join_inputs``)
    "pruned_reduce_over_join": (ir.Reduce(JOIN, (col(3),), (agg("count", col(2), True),
                                                             agg("count_star", ir.Literal(1, T.INT8)))),
                                (JoinOperator, ReduceOperator)),
    # count(DISTINCT o.customer_id) ... GROUP BY c.region: a cut to its join column, b's side sorted in the round
    # and both folded by weight, each side cut to the columns the reduce reads (``columns.joined_counted``)
    "count_distinct_of_the_key_over_join": (ir.Reduce(JOIN, (col(3),), (agg("count", col(0), True),)),
                                            (JoinOperator, ReduceOperator)),
    "join_multikey": (ir.Join((ir.Get("a"), ir.Get("b")), ((col(0), col(2)), (col(1), col(3)))), (JoinOperator,)),
    # the snapshots' join through a projection computed over columns, or through a filter into a reduce
    "projected_join": (ir.Project(ir.Filter(JOIN, (ir.CallBinary("lt", col(1), col(3)),)), (3, 1)), (JoinOperator,)),
    # ROLLUP (z): one join read by two fused reduces (the source's columns fanned out to both), the global one
    # with a grouping set's nulled column (``max(z) FILTER (WHERE false)``: a NULL constant after the reduce)
    "rollup_over_join": (
        ir.Union_((ir.Reduce(JOIN, (col(3),), (agg("count_star", ir.Literal(True, T.BOOL)), agg("sum", col(1)))),
                   ir.Reduce(JOIN, (), (agg("max", ir.If(ir.Literal(False, T.BOOL), col(3), ir.Literal(None, T.INT8))),
                                        agg("count_star", ir.Literal(True, T.BOOL)), agg("sum", col(1)))))),
        (FanOut,)),
    # a side that comes as rows from an operator (the distinct keys of b) while the other took columns: the rows
    # are taken as columns too, and the snapshots' join is Acero's (LATERAL's decorrelated shape, with its top-k)
    "join_after_distinct": (ir.Join((KEYS_OF_B, ir.Get("a")), ((col(0), col(1)),)), (JoinOperator,)),
    "topk_per_key_after_distinct": (
        ir.TopK(ir.Join((KEYS_OF_B, ir.Get("a")), ((col(0), col(1)),)), (0,),
                (ir.ColumnOrder(2, desc=True, nulls_last=False), ir.ColumnOrder(1)), 2),
        (JoinOperator,)),
    "reduce_over_filtered_join": (
        ir.Reduce(ir.Filter(JOIN, (ir.CallBinary("gt", col(3), ir.Literal(0, T.INT8)),)), (col(0),),
                  (agg("max", col(3)), agg("count", col(1), True))),
        (JoinOperator, ReduceOperator)),
}

values = st.one_of(st.none(), st.integers(0, 3))
int_rows = st.tuples(values, values)
text_rows = st.tuples(values, st.one_of(st.none(), st.sampled_from(["", "a", "ab", "B", "é", "z\u00e9", "\U0001f600"])))
WIDTHS = [pa.int8(), pa.int16(), pa.int64()]


def snapshot(rows: st.SearchStrategy) -> st.SearchStrategy:
    """(loaded tables' rows split in one or two tables, integer widths per table, rest as (row, insert?, pick))."""
    return st.tuples(st.lists(st.lists(rows, max_size=12), min_size=1, max_size=2),
                     st.lists(st.sampled_from(WIDTHS), min_size=2, max_size=2),
                     st.lists(st.tuples(rows, st.booleans(), st.integers(0, 50)), max_size=5))


batches_of = lambda rows: st.lists(  # noqa: E731
    st.lists(st.tuples(st.sampled_from("ab"), rows, st.booleans(), st.integers(0, 50)), max_size=6), max_size=4)


def arrow_table(rows: list[tuple], width: Any, types: RelationDesc) -> pa.Table:
    columns = {}
    for i, typ in enumerate(types.types):
        values = [row[i] for row in rows]
        if all(v is None for v in values):
            columns[f"c{i}"] = pa.nulls(len(rows))  # what storage writes for a column of NULLs
        else:
            columns[f"c{i}"] = pa.array(values, pa.string() if typ is T.TEXT else width)
    return pa.table(columns)


def render(plan: ir.RelationExpr, a_desc: RelationDesc) -> RenderedDataflow:
    out_desc = RelationDesc(())
    return RenderedDataflow(DataflowDescription(
        source_imports=(SourceImport("a", "sa", a_desc), SourceImport("b", "sb", B)),
        index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out_desc),),
        index_exports=(IndexExport("i", "v", (col(0),), out_desc),),
        sink_exports=(SinkExport("s", "v", "subscribe", out_desc),),
        as_of=1,
    ), {})


def pick_existing(env: Counter, pick: int) -> tuple:
    return sorted(env, key=repr)[pick % len(env)]


def check(dataflow: RenderedDataflow, plan: ir.RelationExpr, env: dict[str, Counter], emitted: list) -> None:
    expected = {r: c for r, c in evaluate_plan(plan, env).items() if c}
    assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0))) == Counter(
        {r: c for r, c in expected.items() if c > 0})
    emitted.extend(dataflow.drain_sink("s"))
    assert fold(emitted) == expected


def run(plan: ir.RelationExpr, a_desc: RelationDesc, snapshots: dict[str, Any], batches: list, *,
        columns: bool = True, naive: bool = True, peeks: list[Counter] | None = None) -> set[type]:
    """Hydrate from columns (and rows for the rest; all rows when not ``columns``), then apply the batches,
    checking against the naive evaluator (``naive``) and recording the index's contents each time (``peeks``);
    returns the operator classes that took columns."""
    dataflow = render(plan, a_desc)

    def compare(emitted: list) -> None:
        if naive:
            check(dataflow, plan, env, emitted)
        if peeks is not None:
            peeks.append(Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0))))

    env: dict[str, Counter] = {"a": Counter(), "b": Counter()}
    took: set[type] = set()
    for node in dataflow.graph.nodes:  # record the reduces that take columns (from a source or from a join)
        if isinstance(node, ReduceOperator):
            def absorb(folded: Any, node: ReduceOperator = node, absorb: Any = node.absorb_folded) -> None:
                took.add(ReduceOperator)
                absorb(folded)
            node.absorb_folded = absorb  # type: ignore[method-assign]
    for name, desc in (("a", a_desc), ("b", B)):
        loads, widths, rest = snapshots[name]
        rest_counts: Counter = Counter()
        for load in loads:
            env[name].update(load)
        for row, insert, pick in rest:
            if insert or not env[name]:
                env[name][row] += 1
                rest_counts[row] += 1
            else:
                existing = pick_existing(env[name], pick)
                env[name][existing] -= 1
                env[name] = +env[name]
                rest_counts[existing] -= 1
        tables = [arrow_table(load, width, desc) for load, width in zip(loads, widths)]
        consumer = dataflow.columnar_consumer(name) if columns else None
        folded = consumer.fold_columns(tables) if consumer is not None else None
        if folded is not None:
            assert consumer is not None
            consumer.absorb_folded(folded)
            taker = getattr(consumer, "consumer", consumer)  # behind maps/filters/projections
            if hasattr(taker, "join"):  # a join side
                took.add(JoinOperator)
            if isinstance(taker, FanOut):  # several readers, each folding the columns
                took.add(FanOut)
            rows = {r: c for r, c in rest_counts.items() if c}
        else:
            rows = {r: c for r, c in env[name].items() if c}
        dataflow.feed_snapshot(name, rows, 1, 2)
    dataflow.step()
    emitted: list = []
    compare(emitted)
    for t, batch in enumerate(batches, start=2):
        updates: dict[str, list] = {"a": [], "b": []}
        for table, row, insert, pick in batch:
            if table == "a" and a_desc is S:
                row = (row[0], None if row[1] is None else "xyz"[row[1] % 3])
            if insert or not env[table]:
                env[table][row] += 1
                updates[table].append((row, t, 1))
            else:
                existing = pick_existing(env[table], pick)
                env[table][existing] -= 1
                env[table] = +env[table]
                updates[table].append((existing, t, -1))
        for table in "ab":
            dataflow.feed(table, updates[table], t + 1)
        dataflow.step()
        compare(emitted)
    return took


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(int_rows), b=snapshot(int_rows), batches=batches_of(int_rows))
def test_hydration_from_columns_matches_naive_evaluation(name: str, a: Any, b: Any, batches: list) -> None:
    plan, _ = PLANS[name]
    run(plan, A, {"a": a, "b": b}, batches)


@pytest.mark.parametrize("name", ["rollup_over_join"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(int_rows), b=snapshot(int_rows), batches=batches_of(int_rows))
def test_join_accumulate_partial_sums_kept_as_columns(name: str, a: Any, b: Any, batches: list) -> None:
    """The fused join-accumulate with A's partial sums kept as their Arrow table from the first key on
    (``LazyPartial``, otherwise only past ``LAZY_PARTIAL_KEYS`` keys) gives what the naive evaluation gives."""
    from steadystate.dataflow import join_accumulate

    plan, _ = PLANS[name]
    kept = join_accumulate.LAZY_PARTIAL_KEYS
    join_accumulate.LAZY_PARTIAL_KEYS = 0
    try:
        run(plan, A, {"a": a, "b": b}, batches)
    finally:
        join_accumulate.LAZY_PARTIAL_KEYS = kept


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_plans_take_columns(name: str) -> None:
    """Each plan above really hydrates from columns where it says (else the property test proves little): a
    non-empty snapshot of every source, taken as columns by the operators listed."""
    plan, expected = PLANS[name]
    load = ([[(1, 2), (1, 3), (None, 1), (2, 2), (1, 2)]], [pa.int8(), pa.int64()], [])
    took = run(plan, A, {"a": load, "b": load}, [])
    assert set(expected) <= took


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(text_rows), b=snapshot(int_rows), batches=batches_of(int_rows))
def test_text_min_max_and_distinct_from_columns(a: Any, b: Any, batches: list) -> None:
    """Strings: Arrow sorts them by UTF-8 bytes, which is code point order — the row path's order."""
    plan = ir.Reduce(ir.Get("a"), (col(0),), (agg("min", col(1)), agg("max", col(1)), agg("count", col(1), True)))
    assert ReduceOperator in run(plan, S, {"a": a, "b": b}, batches) or not any(a[0])


def test_float_columns_are_left_to_the_rows() -> None:
    """-0.0 equals 0.0 and NaN is unordered in Python, not in Arrow: a float column is not taken as columns."""
    plan = ir.Reduce(ir.Get("a"), (col(0),), (agg("min", col(1)),))
    dataflow = render(plan, RelationDesc.of(("x", T.INT8), ("f", T.FLOAT8)))
    consumer = dataflow.columnar_consumer("a")
    assert consumer is not None
    assert consumer.fold_columns([pa.table({"c0": [1, 1], "c1": [0.0, -0.0]})]) is None


def test_a_projected_join_computes_its_snapshot_rows_over_columns() -> None:
    """The snapshots' join of ``projected_join`` goes through the filter and projection as Arrow columns: only the
    projected rows become Python rows (``PremappedTaker``)."""
    from steadystate.render.columnar import PremappedTaker

    dataflow = render(PLANS["projected_join"][0], A)
    assert dataflow.columnar_consumer("a") is not None and dataflow.columnar_consumer("b") is not None
    (join,) = [n for n in dataflow.graph.nodes if isinstance(n, JoinOperator)]
    assert isinstance(join.columnar_reader, PremappedTaker)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(int_rows, max_size=15),
       ops=st.lists(st.tuples(st.sampled_from(["arrange", "get", "load_many"]), int_rows, st.sampled_from([1, -1])),
                    max_size=25))
def test_a_lazily_arranged_side_is_the_dict_it_stands_for(rows: list[tuple], ops: list) -> None:
    """``LazyArranged`` (a join side hydrated from columns) answers every lookup as the eagerly built
    ``key → {row: count}`` would, whether a key was changed before (its changes kept aside) or after it was first
    looked up, and iterates to the same contents."""
    from steadystate.dataflow.lazy_arranged import arranged
    from steadystate.dataflow.join import arrange_all

    lazy, _records, _distinct, _counted = arranged(arrow_table(rows, pa.int64(), A), [0], 2)
    assert lazy.records() == len({row for row in rows if row[0] is not None})
    eager: dict[tuple, dict[tuple, int]] = {}
    arrange_all(eager, [((row[0],), row, count) for row, count in Counter(rows).items() if row[0] is not None])
    for op, row, diff in ops:
        key = (row[0],)
        if row[0] is None:
            continue
        if op == "arrange":
            present = eager.get(key, {}).get(row, 0)
            if present + diff < 0:
                continue  # the join's input is consistent: no more retractions than insertions
            arrange_all(lazy, [(key, row, diff)])
            arrange_all(eager, [(key, row, diff)])
        elif op == "get":  # also by values equal to the integer key (a single int key: binary search)
            for probe in (key, (float(row[0]),), (row[0] == 1,) if row[0] in (0, 1) else ("x",)):
                assert (probe in lazy) == (probe in eager)
                assert lazy.get(probe) == eager.get(probe)
        else:
            lazy.load_many([key, (row[1],), key])
    assert dict(lazy.items()) == eager


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(text_rows), b=snapshot(int_rows), batches=batches_of(int_rows))
def test_string_agg_from_columns_equals_the_row_path(a: Any, b: Any, batches: list) -> None:
    """``string_agg`` with a constant delimiter (fed ``(value, delimiter, ())``) hydrated from columns answers as the
    same dataflow hydrated from rows, at the snapshot and after every batch (the naive evaluator has no
    string_agg)."""
    plan = ir.Reduce(ir.Get("a"), (col(0),), (ir.AggregateExpr("string_agg", col(1), args=(ir.Literal(",", T.TEXT),)),
                                              agg("max", col(1))))
    by_columns: list[Counter] = []
    by_rows: list[Counter] = []
    took = run(plan, S, {"a": a, "b": b}, batches, naive=False, peeks=by_columns)
    run(plan, S, {"a": a, "b": b}, batches, columns=False, naive=False, peeks=by_rows)
    assert by_columns == by_rows
    assert ReduceOperator in took or not any(a[0])


def test_a_reduce_over_a_join_arranges_only_the_columns_it_reads() -> None:
    dataflow = render(PLANS["pruned_reduce_over_join"][0], A)
    (join,) = [n for n in dataflow.graph.nodes if isinstance(n, JoinOperator)]
    assert join.columns is not None and (join.columns.left_arity, join.columns.right_arity) == (1, 2)


def test_a_join_side_that_came_as_rows_is_joined_as_columns() -> None:
    """The distinct keys of b reach the join as rows, a as columns: the rows are taken as columns in that round
    (``columns.table_of_rows``), so both sides are lazily arranged tables and Acero computed their join."""
    from steadystate.dataflow.lazy_arranged import LazyArranged

    plan = PLANS["join_after_distinct"][0]
    load = ([[(1, 2), (1, 3), (None, 1), (2, 2), (1, 2)]], [pa.int8(), pa.int64()], [])
    dataflow = render(plan, A)
    (join,) = [n for n in dataflow.graph.nodes if isinstance(n, JoinOperator)]
    run(plan, A, {"a": load, "b": load}, [])  # correct (against the naive evaluation)
    dataflow = render(plan, A)
    for name in "ab":
        consumer = dataflow.columnar_consumer(name)
        assert consumer is not None
        consumer.absorb_folded(consumer.fold_columns([arrow_table(load[0][0], pa.int64(), A)]))
        dataflow.feed_snapshot(name, {}, 1, 2)
    dataflow.step()
    (join,) = [n for n in dataflow.graph.nodes if isinstance(n, JoinOperator)]
    assert isinstance(join.left_state, LazyArranged) and isinstance(join.right_state, LazyArranged)
    assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0))) == Counter(
        {(1, 1, 2): 2, (1, 1, 3): 1, (2, 2, 2): 1})


def series(start: ir.ScalarExpr, stop: ir.ScalarExpr, *step: ir.ScalarExpr, ordinality: bool = False) -> ir.FlatMap:
    call = ir.TableCall("generate_series", (start, stop, *step), (T.INT8,))
    return ir.FlatMap(ir.Get("a"), (call,), ordinality=ordinality)


SERIES_PLANS = {
    "count_per_value": ir.Reduce(series(ir.Literal(1, T.INT8), col(1)), (col(2),),
                                 (agg("count_star", ir.Literal(1, T.INT8)), agg("sum", col(0)))),
    "backwards_with_ordinality": ir.Reduce(series(col(1), col(0), ir.Literal(-1, T.INT8), ordinality=True),
                                           (col(3),), (agg("max", col(2)), agg("count", col(0)))),
    "step_from_a_column": ir.Reduce(series(col(0), ir.Literal(5, T.INT8), col(1)), (col(2),),
                                    (agg("count_star", ir.Literal(1, T.INT8)),)),  # a zero step: the row path
    # a filter on the input's columns after the expansion is also applied before it (``_filter_before``)
    "filtered_before_expanding": ir.Reduce(
        ir.Filter(series(ir.Literal(1, T.INT8), col(1), ordinality=True),
                  (ir.CallBinary("gt", col(0), ir.Literal(0, T.INT8)), ir.CallBinary("lt", col(2), col(1)))),
        (col(0),), (agg("count_star", ir.Literal(1, T.INT8)), agg("max", col(3)))),
    "top_per_row": ir.TopK(series(ir.Literal(0, T.INT8), ir.CallBinary("add", col(1), ir.Literal(1, T.INT8))),
                           (0,), (ir.ColumnOrder(2, desc=True, nulls_last=False),), 2),
}


@pytest.mark.parametrize("name", sorted(SERIES_PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(int_rows), b=snapshot(int_rows), batches=batches_of(int_rows))
def test_a_table_function_per_row_over_columns_equals_the_row_path(name: str, a: Any, b: Any, batches: list) -> None:
    """``generate_series`` per row evaluated over the snapshot's columns (``arrow_eval.compile_arrow_flat_map``)
    feeds the reduce or top-k behind it what the row path's FlatMap would: the index agrees at the snapshot and
    after every batch (the naive evaluator has no table functions)."""
    plan = SERIES_PLANS[name]

    def outcome(columns: bool) -> tuple[list[Counter], str]:
        peeks: list[Counter] = []
        try:
            run(plan, A, {"a": a, "b": b}, batches, columns=columns, naive=False, peeks=peeks)
        except errors.SteadyError as exc:  # a zero step: the index reports the row path's error
            return peeks, exc.sqlstate
        return peeks, ""

    assert outcome(True) == outcome(False)


def test_a_table_function_per_row_takes_columns() -> None:
    load = [(1, 2), (1, 3), (None, 1), (2, 2), (1, 2), (3, None), (2, 0)]
    for name, plan in SERIES_PLANS.items():
        consumer = render(plan, A).columnar_consumer("a")
        assert consumer is not None, name
        folded = consumer.fold_columns([arrow_table(load, pa.int16(), A)])
        assert (folded is None) == (name == "step_from_a_column"), name  # a zero step is left to the rows


def test_aggregates_that_keep_nulls_are_left_to_the_rows() -> None:
    """array_agg keeps NULLs, which the columns' grouping leaves out: a reduce with it takes no columns."""
    plan = ir.Reduce(ir.Get("a"), (col(0),), (agg("array_agg", col(1)), agg("min", col(1))))
    dataflow = render(plan, A)
    consumer = dataflow.columnar_consumer("a")
    assert consumer is None or consumer.fold_columns([pa.table({"c0": [1, 1], "c1": [None, 2]})]) is None
