"""A snapshot's columns carried through the first round (``dataflow.columnar_delta``) answer as the row path does.

Sources whose readers run over columns (unions, negations, distincts, thresholds, joins, behind maps/filters/
projections) take their snapshot as Arrow tables (``RenderedDataflow.feed_columns``): one or two loaded tables
(integer columns at different widths, all-NULL columns as Arrow's null type, repeated rows) plus the rest as rows
(writes after the load, deletes of loaded rows among them); then random batches of inserts and deletes.  After the
snapshot and after each batch the index must equal ``dataflow_naive``'s evaluation of the plan and the sink's
updates must fold to it — so the states built over columns are the states later deltas expect.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.graph import fold
from steadystate.dataflow.operators import CountingOperator
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

from dataflow_naive import evaluate_plan

col = ir.ColumnRef
A = RelationDesc.of(("x", T.INT8), ("y", T.INT8))
B = RelationDesc.of(("x", T.INT8), ("z", T.INT8))
S = RelationDesc.of(("x", T.INT8), ("s", T.TEXT))
F = RelationDesc.of(("x", T.INT8), ("f", T.FLOAT8))

a, b = ir.Get("a"), ir.Get("b")
JOIN = ir.Join((a, b), ((col(0), col(2)),))
NULL = ir.Literal(None, T.INT8)


def positive(expr: ir.RelationExpr, column: int) -> ir.RelationExpr:
    return ir.Filter(expr, (ir.CallBinary("gt", col(column), ir.Literal(0, T.INT8)),))


# the SQL shapes that reach these operators: EXCEPT, UNION, a LEFT JOIN's unmatched rows, INTERSECT-like joins
PLANS: dict[str, ir.RelationExpr] = {
    "except": ir.Threshold(ir.Union_((ir.Distinct(ir.Project(positive(a, 1), (0,))),
                                      ir.Negate(ir.Distinct(ir.Project(b, (0,))))))),
    "except_all": ir.Threshold(ir.Union_((ir.Project(a, (0,)), ir.Negate(ir.Project(b, (0,)))))),
    "union_distinct": ir.Distinct(ir.Union_((ir.Project(a, (0,)), ir.Project(positive(b, 1), (0,))))),
    "union_all": ir.Union_((ir.Project(a, (1,)), ir.Project(b, (1,)))),
    "left_join": ir.Union_((JOIN, ir.Map(ir.Threshold(ir.Union_((a, ir.Negate(ir.Project(JOIN, (0, 1)))))),
                                         (NULL, NULL)))),
    "filtered_left_join": ir.Union_((
        ir.Join((a, positive(b, 1)), ((col(0), col(2)),)),
        ir.Map(ir.Threshold(ir.Union_((a, ir.Negate(ir.Project(ir.Join((a, positive(b, 1)), ((col(0), col(2)),)),
                                                                  (0, 1)))))), (NULL, NULL)))),
    # a's snapshot folded by its join side (its only reader), b's through the first round as columns
    "distinct_over_join_and_union": ir.Distinct(ir.Union_((ir.Project(JOIN, (1, 3)), b))),
    "mapped_union": ir.Union_((ir.Map(a, (ir.CallBinary("add", col(0), col(1)),)),
                               ir.Map(b, (ir.CallBinary("mul", col(0), ir.Literal(2, T.INT8)),)))),
}

values = st.one_of(st.none(), st.integers(0, 3))
int_rows = st.tuples(values, values)
text_rows = st.tuples(values, st.one_of(st.none(), st.sampled_from(["", "a", "ab", "B", "é", "\U0001f600"])))
float_rows = st.tuples(values, st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.5, -2.25])))
WIDTHS = [pa.int8(), pa.int16(), pa.int64()]


def snapshot(rows: st.SearchStrategy) -> st.SearchStrategy:
    """(loaded tables' rows split in one or two tables, integer widths per table, rest as (row, insert?, pick))."""
    return st.tuples(st.lists(st.lists(rows, max_size=12), min_size=1, max_size=2),
                     st.lists(st.sampled_from(WIDTHS), min_size=2, max_size=2),
                     st.lists(st.tuples(rows, st.booleans(), st.integers(0, 50)), max_size=5))


def batches_of(a_rows: st.SearchStrategy, b_rows: st.SearchStrategy) -> st.SearchStrategy:
    one = st.one_of(st.tuples(st.just("a"), a_rows, st.booleans(), st.integers(0, 50)),
                    st.tuples(st.just("b"), b_rows, st.booleans(), st.integers(0, 50)))
    return st.lists(st.lists(one, max_size=6), max_size=4)


def arrow_table(rows: list[tuple], width: Any, desc: RelationDesc) -> pa.Table:
    columns = {}
    for i, typ in enumerate(desc.types):
        values = [row[i] for row in rows]
        if all(v is None for v in values):
            columns[f"c{i}"] = pa.nulls(len(rows))  # what storage writes for a column of NULLs
        else:
            columns[f"c{i}"] = pa.array(values, {T.TEXT: pa.string(), T.FLOAT8: pa.float64()}.get(typ, width))
    return pa.table(columns)


def render(plan: ir.RelationExpr, a_desc: RelationDesc, b_desc: RelationDesc) -> RenderedDataflow:
    out_desc = RelationDesc(())
    return RenderedDataflow(DataflowDescription(
        source_imports=(SourceImport("a", "sa", a_desc), SourceImport("b", "sb", b_desc)),
        index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out_desc),),
        index_exports=(IndexExport("i", "v", (col(0),), out_desc),),
        sink_exports=(SinkExport("s", "v", "subscribe", out_desc),),
        as_of=1,
    ), {})


def pick_existing(env: Counter, pick: int) -> tuple:
    return sorted(env, key=repr)[pick % len(env)]


def run(plan: ir.RelationExpr, descs: dict[str, RelationDesc], snapshots: dict[str, Any], batches: list,
        columns: bool = True) -> set[str]:
    """Hydrate (the snapshot's loaded part as columns where the dataflow takes them, else all as rows), then apply
    the batches, checking against the naive evaluator each time; returns the sources that went in as columns
    (folded by their reader or through the first round)."""
    dataflow = render(plan, descs["a"], descs["b"])
    env: dict[str, Counter] = {"a": Counter(), "b": Counter()}
    as_columns: set[str] = set()
    emitted: list = []

    def check() -> None:
        expected = {r: c for r, c in evaluate_plan(plan, env).items() if c}
        assert Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0))) == Counter(
            {r: c for r, c in expected.items() if c > 0})
        emitted.extend(dataflow.drain_sink("s"))
        assert fold(emitted) == expected

    for name in "ab":
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
        tables = [arrow_table(load, width, descs[name]) for load, width in zip(loads, widths)]
        consumer = dataflow.columnar_consumer(name) if columns else None
        folded = consumer.fold_columns(tables) if consumer is not None else None
        rest_rows = {r: c for r, c in rest_counts.items() if c}
        if folded is not None:  # its reader folds them (a distinct's output is then columns in the first round)
            assert consumer is not None
            as_columns.add(name)
            consumer.absorb_folded(folded)
            dataflow.feed_snapshot(name, rest_rows, 1, 2)
        elif columns and dataflow.columnar_source(name):
            as_columns.add(name)
            dataflow.feed_columns(name, tables, rest_rows, 1, 2)
        else:
            dataflow.feed_snapshot(name, {r: c for r, c in env[name].items() if c}, 1, 2)
    dataflow.step()
    check()
    for t, batch in enumerate(batches, start=2):
        updates: dict[str, list] = {"a": [], "b": []}
        for table, row, insert, pick in batch:
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
        check()
    return as_columns


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(int_rows), b=snapshot(int_rows), batches=batches_of(int_rows, int_rows))
def test_columnar_rounds_match_naive_evaluation(name: str, a: Any, b: Any, batches: list) -> None:
    run(PLANS[name], {"a": A, "b": B}, {"a": a, "b": b}, batches)


@pytest.mark.parametrize("name", ["except_all", "union_distinct", "left_join", "distinct_over_join_and_union"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(text_rows), b=snapshot(int_rows), batches=batches_of(text_rows, int_rows))
def test_text_columns_through_columnar_rounds(name: str, a: Any, b: Any, batches: list) -> None:
    run(PLANS[name], {"a": S, "b": B}, {"a": a, "b": b}, batches)


@pytest.mark.parametrize("name", ["except_all", "union_distinct", "left_join"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(float_rows), b=snapshot(int_rows), batches=batches_of(float_rows, int_rows))
def test_float_columns_are_counted_as_python_counts_them(name: str, a: Any, b: Any, batches: list) -> None:
    """Floats group unlike Python's equality in Arrow (``-0.0``): such rows are counted in Python."""
    plan = PLANS[name]
    if name == "union_distinct":  # b's second column is an integer: union a's float column with itself
        plan = ir.Distinct(ir.Union_((ir.Project(a_get := ir.Get("a"), (1,)), ir.Project(a_get, (1,)))))
    run(plan, {"a": F, "b": B}, {"a": a, "b": b}, batches)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_plans_take_columns(name: str) -> None:
    """Every plan above really takes a snapshot as columns (else the property test proves little)."""
    load = ([[(1, 2), (1, 3), (None, 1), (2, 2), (1, 2)]], [pa.int8(), pa.int64()], [])
    assert run(PLANS[name], {"a": A, "b": B}, {"a": load, "b": load}, [])


def test_a_distinct_builds_its_state_over_columns_and_outputs_columns() -> None:
    """The EXCEPT's distincts count the snapshot by Arrow, their output in the first round is columns, and so is
    the threshold's: rows appear only at the export."""
    dataflow = render(PLANS["except"], A, B)
    seen: list[Any] = []
    for node in dataflow.graph.nodes:
        if isinstance(node, CountingOperator):
            def spy(time: int, deltas: list, first: bool, node: CountingOperator = node,
                    run: Any = node.run_columnar) -> Any:
                out = run(time, deltas, first)
                seen.append(out[0])
                return out
            node.run_columnar = spy  # type: ignore[method-assign]
    rows = [(i % 7, i % 3) for i in range(100)]
    for name in "ab":
        consumer = dataflow.columnar_consumer(name)
        assert consumer is not None
        consumer.absorb_folded(consumer.fold_columns([pa.table({"c0": [r[0] for r in rows],
                                                                 "c1": [r[1] for r in rows]})]))
        dataflow.feed_snapshot(name, {}, 1, 2)
    dataflow.step()
    assert seen and all(type(out) is ColumnarDelta for out in seen)
    assert sorted(dataflow.arrangement("i").peek(ir.MapFilterProject(0))) == []  # every x of a is in b


def test_a_left_joins_columnar_side_is_folded_beside_a_side_folded_before_the_round(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The LEFT JOIN's filtered side is folded by the join before the round (its only reader), the other side
    reaches the join as columns in the round: it is folded as columns too — never turned into rows and back into a
    table (``columns.table_of_rows``) — and the answer is the naive evaluator's."""
    import steadystate.dataflow.join as join_module

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a columnar side went through rows")

    monkeypatch.setattr(join_module, "table_of_rows", refused)
    load = ([[(i % 5, i % 3) for i in range(40)] + [(None, 1)]], [pa.int64(), pa.int64()], [((1, 2), True, 0)])
    assert run(PLANS["filtered_left_join"], {"a": A, "b": B}, {"a": load, "b": load},
               [[("a", (7, 1), True, 0), ("b", (0, 0), False, 3), ("b", (7, 2), True, 0)]]) == {"a", "b"}


@pytest.mark.parametrize("name", ["left_join", "filtered_left_join", "distinct_over_join_and_union"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=snapshot(text_rows), b=snapshot(int_rows), batches=batches_of(text_rows, int_rows))
def test_an_index_hydrated_from_the_rounds_columns_matches_naive_evaluation(name: str, a: Any, b: Any,
                                                                           batches: list) -> None:
    """With every hydration delta stored straight as an Arrow run (the arrangement's ``recent_min`` 1), the export
    takes the first round's columns (``TapOperator.run_columnar``, ``Arrangement.apply_columns``) and the index
    still answers as the naive evaluator after every batch."""
    from unittest import mock

    import steadystate.render.dataflow as render_dataflow

    with mock.patch.object(render_dataflow, "RECENT_MIN", 1):
        run(PLANS[name], {"a": S, "b": B}, {"a": a, "b": b}, batches)

