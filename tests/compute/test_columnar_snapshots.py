"""compute.snapshots: a snapshot stored as Arrow columns, read through the dataflow's first maps/filters/projections
as columns (premapped, or folded by the operator behind them, or carried through the first round as columns),
hydrates exactly what the row path hydrates —
including the writes after the load (deletes of loaded rows among them), and errors the row path reports (an overflow in a map: the columns are then read as rows).
A top-k per group hydrated from a join's columns hands its first output on as columns; it and the join after it then
keep matching the row path through later deletes and inserts.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from steadystate.compute.snapshots import feed_source, read_source
from steadystate.expr import ir
from steadystate.protocol import messages as m
from steadystate.dataflow.lazy_counts import LazyCounts
from steadystate.dataflow.operators import CountingOperator
from steadystate.render import RenderedDataflow
from columnar_support import change_both, hydrate_both, store_with_load
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

TABLE = RelationDesc.of(("k", T.INT8), ("g", T.INT4), ("s", T.TEXT))
col, lit = ir.ColumnRef, ir.Literal

def _joined_back(inner: tuple[int, ...], order: tuple[ir.ColumnOrder, ...], limit: int,
                 outputs: tuple[int, ...]) -> ir.RelationExpr:
    """Per distinct ``g``: the top ``limit`` of its rows (projected to ``inner``, ``g`` first), joined back to the
    distinct ``g``s."""
    keys = ir.Distinct(ir.Project(ir.Get("u1"), (1,)))
    top = ir.TopK(ir.Project(ir.Join((keys, ir.Get("u1")), ((col(0), col(2)),)), inner), (0,), order, limit=limit)
    return ir.Project(ir.Join((keys, top), ((col(0), col(1)),)), outputs)


VIEWS: dict[str, tuple[ir.RelationExpr, RelationDesc]] = {
    "filtered": (ir.Project(ir.Filter(ir.Get("u1"), (ir.CallBinary("lt", col(0), lit(500, T.INT8)),)), (2, 0)),
                 RelationDesc.of(("s", T.TEXT), ("k", T.INT8))),
    "distinct expressions": (
        ir.Distinct(ir.Project(ir.Map(ir.Get("u1"), (ir.CallBinary("mod", col(1), lit(7, T.INT4)),
                                                      ir.CallBinary("div", col(0), lit(1000, T.INT8)))), (3, 4))),
        RelationDesc.of(("a", T.INT4), ("b", T.INT8))),
    "grouped after a filter": (
        ir.Reduce(ir.Filter(ir.Get("u1"), (ir.CallBinary("gte", col(2), lit("m", T.TEXT)),)), (col(1),),
                  (ir.AggregateExpr("max", col(0)),)),
        RelationDesc.of(("g", T.INT4), ("hi", T.INT8))),
    "top-k per group": (ir.TopK(ir.Get("u1"), (1,), (ir.ColumnOrder(2, desc=True, nulls_last=False),
                                                     ir.ColumnOrder(0)), limit=3, offset=1), TABLE),
    "global top-k behind a projection": (
        ir.TopK(ir.Project(ir.Get("u1"), (2, 0)), (), (ir.ColumnOrder(0), ir.ColumnOrder(1, desc=True)), limit=5),
        RelationDesc.of(("s", T.TEXT), ("k", T.INT8))),
    "overflow in a map": (ir.Map(ir.Get("u1"), (ir.CallBinary("mul", col(1), lit(2**30, T.INT4)),)),
                          RelationDesc.of(("k", T.INT8), ("g", T.INT4), ("s", T.TEXT), ("x", T.INT4))),
    # read through the first round as columns (``dataflow.columnar_delta``): a union, an EXCEPT ALL, a self-join
    "except all": (ir.Threshold(ir.Union_((
        ir.Project(ir.Filter(ir.Get("u1"), (ir.CallBinary("lt", col(0), lit(3000, T.INT8)),)), (1,)),
        ir.Negate(ir.Project(ir.Filter(ir.Get("u1"), (ir.CallBinary("eq", col(2), lit("m", T.TEXT)),)), (1,)))))),
        RelationDesc.of(("g", T.INT4))),
    "self-join into a distinct": (
        ir.Distinct(ir.Union_((ir.Project(ir.Join((ir.Get("u1"), ir.Get("u1")), ((col(1), col(3)),)), (2, 5)),
                               ir.Project(ir.Get("u1"), (2, 2))))),
        RelationDesc.of(("s", T.TEXT), ("s2", T.TEXT))),
    "overflow through a union": (
        ir.Union_((ir.Map(ir.Get("u1"), (ir.CallBinary("mul", col(1), lit(2**30, T.INT4)),)),
                   ir.Map(ir.Get("u1"), (lit(0, T.INT4),)))),
        RelationDesc.of(("k", T.INT8), ("g", T.INT4), ("s", T.TEXT), ("x", T.INT4))),
    # UNION then EXCEPT of one integer column (sets): distincts and a threshold whose state stays NumPy arrays
    # (``dataflow.lazy_counts``) until rows change
    "set difference": (ir.Threshold(ir.Union_((
        ir.Distinct(ir.Union_((ir.Project(ir.Filter(ir.Get("u1"), (ir.CallBinary("lt", col(0), lit(3000, T.INT8)),)),
                                          (1,)),
                               ir.Project(ir.Map(ir.Get("u1"), (ir.CallBinary("div", col(0), lit(100, T.INT8)),)),
                                          (3,))))),
        ir.Negate(ir.Distinct(ir.Project(ir.Filter(ir.Get("u1"), (ir.CallBinary("eq", col(2), lit("m", T.TEXT)),)),
                                         (1,))))))),
        RelationDesc.of(("g", T.INT8))),
    # a top-k per group fed by a join's columns, its first output joined back by key as columns (the LATERAL
    # shape's plan, ``dataflow.topk_spine``); the second keeps only (g, s): its output rows repeat (counts > 1)
    "top-k of a join, joined back": (_joined_back((0, 1, 3), (ir.ColumnOrder(2, desc=True, nulls_last=False),
                                                              ir.ColumnOrder(1)), 2, (0, 2, 3)),
                                     RelationDesc.of(("g", T.INT4), ("k", T.INT8), ("s", T.TEXT))),
    "top-k with repeated rows, joined back": (_joined_back((0, 3), (ir.ColumnOrder(1, desc=True),), 3, (0, 2)),
                                              RelationDesc.of(("g", T.INT4), ("s", T.TEXT))),
}


THROUGH_THE_ROUND = ("except all", "self-join into a distinct", "overflow through a union", "set difference")
FOLDED = ("distinct expressions", "top-k per group", "global top-k behind a projection",
          "grouped after a filter", "top-k of a join, joined back", "top-k with repeated rows, joined back")  # the reduce behind the filter builds its groups from the columns


@pytest.fixture(scope="module")
def store() -> Any:
    rng = random.Random(3)
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    loaded = [((k, rng.randrange(-50, 50), rng.choice(["a", "m", "z", None])), 0, 1) for k in range(6000)]
    store.compare_and_append("t", loaded, 0, 1)  # one insert-only batch of 6000 rows: stored as Arrow columns
    writes = [(row, 1, -1) for row, _, _ in loaded[::7]] + [((k, 3, "q"), 1, 1) for k in range(10_000, 10_050)]
    store.compare_and_append("t", writes, 1, 2)  # deletes of loaded rows and inserts: stored as rows
    return store


def dataflow(plan: ir.RelationExpr, desc: RelationDesc) -> RenderedDataflow:
    return RenderedDataflow(m.DataflowDescription(
        (m.SourceImport("u1", "t", TABLE),), (), (m.BuildDesc("v", plan, desc),),
        (m.IndexExport("v_idx", "v", tuple(col(i) for i in range(desc.arity)), desc),), (), as_of=1,
    ), {})


def contents(rendered: RenderedDataflow, desc: RelationDesc) -> tuple[Counter[Any], str | None]:
    try:
        return Counter(rendered.arrangement("v_idx").peek(ir.MapFilterProject(desc.arity))), None
    except Exception as exc:  # noqa: BLE001 - an evaluation error in the view: compared as its SQLSTATE
        return Counter(), getattr(exc, "sqlstate", type(exc).__name__)


@pytest.mark.parametrize("name", list(VIEWS))
def test_a_premapped_snapshot_hydrates_what_the_rows_hydrate(store: Any, name: str) -> None:
    plan, desc = VIEWS[name]
    by_rows = dataflow(plan, desc)
    by_rows.feed_snapshot("u1", store.snapshot_counts("t", 1), 1, 2)
    by_rows.step()

    by_columns = dataflow(plan, desc)
    read = read_source(store, by_columns, "u1", "t", 1, name)
    if name == "overflow in a map":
        assert read.premapped is None and read.folded is None  # the columns hold an error the rows must report
    elif name in THROUGH_THE_ROUND:  # the load as columns into the first round, the writes as rows
        assert read.tables is not None and read.rows and read.folded is None and read.premapped is None
    elif name in FOLDED:  # the operator takes the (mapped) columns itself: a ColumnarInput
        assert read.folded is not None and read.premapped is None and read.rows
    else:
        assert read.premapped is not None and read.rows  # the load as columns, the writes as rows
        assert read.premapped.num_rows() < 6000
    feed_source(by_columns, "u1", read, 1, 2)
    by_columns.step()
    assert contents(by_columns, desc) == contents(by_rows, desc)
    if name.startswith("overflow"):
        assert contents(by_rows, desc)[1] == "22003"


@pytest.mark.parametrize("name", ["top-k of a join, joined back", "top-k with repeated rows, joined back"])
def test_a_top_k_hydrated_from_columns_then_changed_matches_the_rows(name: str) -> None:
    """A load with no writes beside it: the top-k's first output is handed on as columns (the join back folds them);
    later rounds delete and insert rows that change groups' top rows (ties, NULLs, a group emptied, a new group),
    and the view stays what the row path maintains."""
    plan, desc = VIEWS[name]
    rng = random.Random(5)
    loaded = [(k, rng.randrange(-20, 20), rng.choice(["a", "m", "z", None])) for k in range(6000)]
    by_rows, by_columns, read = hydrate_both(store_with_load(loaded), lambda: dataflow(plan, desc), name)
    assert read.folded is not None and not read.rows
    assert contents(by_columns, desc) == contents(by_rows, desc)
    present = list(loaded)
    for time in range(2, 6):
        best = sorted(present, key=lambda row: (row[1], row[2] or ""), reverse=True)[:40]
        deleted = rng.sample(best, 15) + [row for row in present if row[1] == -20]  # top rows, and a whole group
        inserted = [(10_000 * time + i, rng.choice([-20, 0, 19, 25]), rng.choice(["z", "zz", None])) for i in range(20)]
        change_both((by_rows, by_columns), present, deleted, inserted, time)
        assert contents(by_columns, desc) == contents(by_rows, desc)
        assert contents(by_columns, desc)[0]  # not vacuous


@pytest.mark.parametrize("name", ["set difference", "except all", "distinct expressions"])
def test_a_distinct_hydrated_from_columns_then_changed_matches_the_rows(name: str) -> None:
    """A load with no writes beside it, so the distincts and thresholds build their state from the columns; later
    rounds delete loaded rows, insert new ones (values seen before and new ones) and delete some of those again,
    and the view stays what the row path maintains."""
    plan, desc = VIEWS[name]
    rng = random.Random(11)
    loaded = [(k, rng.randrange(-50, 50), rng.choice(["a", "m", "z", None])) for k in range(6000)]
    by_rows, by_columns, read = hydrate_both(store_with_load(loaded), lambda: dataflow(plan, desc), name)
    assert not read.rows and (read.tables is not None or read.folded is not None)
    assert contents(by_columns, desc) == contents(by_rows, desc)
    states = [node.counts for node in by_columns.graph.nodes if isinstance(node, CountingOperator)]
    if name != "distinct expressions":  # one integer column: the states are arrays, not dicts of rows
        assert states and all(isinstance(state, LazyCounts) for state in states)
    present = list(loaded)
    for time in range(2, 8):
        # rows at random and every row of one value (each once)
        deleted = list(dict.fromkeys(rng.sample(present, 300) + [row for row in present if row[1] == time - 50]))
        inserted = [(rng.choice([rng.randrange(3000), 20_000 + 1000 * time + i]), rng.randrange(-60, 60),
                     rng.choice(["m", "z"])) for i in range(200)]
        change_both((by_rows, by_columns), present, deleted, inserted, time)
        assert contents(by_columns, desc) == contents(by_rows, desc)
        assert contents(by_columns, desc)[0]  # not vacuous
