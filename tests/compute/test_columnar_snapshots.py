"""compute.snapshots: a snapshot stored as Arrow columns, read through the dataflow's first maps/filters/projections
as columns (premapped, or folded by the operator behind them, or carried through the first round as columns),
hydrates exactly what the row path hydrates —
including the writes after the load (deletes of loaded rows among them), and errors the row path reports (an overflow in a map: the columns are then read as rows).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from steadystate.compute.snapshots import feed_source, read_source
from steadystate.expr import ir
from steadystate.protocol import messages as m
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

TABLE = RelationDesc.of(("k", T.INT8), ("g", T.INT4), ("s", T.TEXT))
col, lit = ir.ColumnRef, ir.Literal

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
}


THROUGH_THE_ROUND = ("except all", "self-join into a distinct", "overflow through a union")
FOLDED = ("distinct expressions", "top-k per group", "global top-k behind a projection",
          "grouped after a filter")  # the reduce behind the filter builds its groups from the columns


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
