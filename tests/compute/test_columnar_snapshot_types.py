"""A load with numeric, timestamp, date and time columns is stored as Arrow columns (``repr.columnar``: the types a
peek gives them) and hydrates every kind of view exactly as the same snapshot read as rows does, then keeps matching
it through deletes and inserts.

The table is ``(k int8, g int4, amount numeric(12,2), at timestamp, day date, t time, s text, seen timestamptz)``.  Each view reads
some of the new columns in the way an operator could read them as columns — compared, grouped, summed, ordered,
distinct, joined on, unioned — or only the exact columns beside them; whichever form ``compute.snapshots`` picks
(folded, premapped, through the first round, or rows), the index must hold what the row path holds.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from steadystate.expr import ir
from steadystate.protocol import messages as m
from steadystate.render import RenderedDataflow
from steadystate.repr.columnar import MAGIC
from steadystate.repr.types import RelationDesc, ScalarType as T
from columnar_support import change_both, hydrate_both, store_with_load

TABLE = RelationDesc.of(("k", T.INT8), ("g", T.INT4), ("amount", T.NUMERIC), ("at", T.TIMESTAMP), ("day", T.DATE),
                        ("t", T.TIME), ("s", T.TEXT), ("seen", T.TIMESTAMPTZ))
col = ir.ColumnRef
CENTS = Decimal("0.01")
START = dt.datetime(2024, 3, 1, 12, 0)


def lit(value: Any, typ: T) -> ir.Literal:
    return ir.Literal(value, typ)


def _binary(func: str, left: ir.ScalarExpr, right: ir.ScalarExpr) -> ir.ScalarExpr:
    return ir.CallBinary(func, left, right)


VIEWS: dict[str, tuple[ir.RelationExpr, RelationDesc]] = {
    "the table itself": (ir.Get("u1"), TABLE),  # an index on the table: its columns arranged as they are
    "a projection": (ir.Project(ir.Get("u1"), (3, 2, 0)),
                     RelationDesc.of(("at", T.TIMESTAMP), ("amount", T.NUMERIC), ("k", T.INT8))),
    "numeric filter": (
        ir.Project(ir.Filter(ir.Get("u1"), (_binary("lt", col(2), lit(Decimal("-2.50"), T.NUMERIC)),)), (6, 2, 0)),
        RelationDesc.of(("s", T.TEXT), ("amount", T.NUMERIC), ("k", T.INT8))),
    "timestamp filter": (
        ir.Project(ir.Filter(ir.Get("u1"), (_binary("gte", col(3), lit(START + dt.timedelta(hours=30), T.TIMESTAMP)),)),
                   (0, 3)),
        RelationDesc.of(("k", T.INT8), ("at", T.TIMESTAMP))),
    "grouped by date": (
        ir.Reduce(ir.Get("u1"), (col(4),), (ir.AggregateExpr("sum", col(2)), ir.AggregateExpr("count_star", col(0)),
                                            ir.AggregateExpr("max", col(3)), ir.AggregateExpr("min", col(2)))),
        RelationDesc.of(("day", T.DATE), ("total", T.NUMERIC), ("n", T.INT8), ("last", T.TIMESTAMP),
                        ("least", T.NUMERIC))),
    "grouped by an int, numeric sums": (
        ir.Reduce(ir.Get("u1"), (col(1),), (ir.AggregateExpr("sum", col(2)), ir.AggregateExpr("max", col(5)),
                                            ir.AggregateExpr("min", col(7)))),
        RelationDesc.of(("g", T.INT4), ("total", T.NUMERIC), ("latest", T.TIME), ("first", T.TIMESTAMPTZ))),
    "distinct instants": (ir.Distinct(ir.Project(ir.Get("u1"), (7,))), RelationDesc.of(("seen", T.TIMESTAMPTZ))),
    "exact columns only": (
        ir.Reduce(ir.Project(ir.Get("u1"), (1, 0, 6)), (col(0),), (ir.AggregateExpr("sum", col(1)),
                                                                  ir.AggregateExpr("count", col(2)))),
        RelationDesc.of(("g", T.INT4), ("total", T.NUMERIC), ("n", T.INT8))),
    "top-k per group by timestamp": (
        ir.TopK(ir.Get("u1"), (1,), (ir.ColumnOrder(3, desc=True, nulls_last=False), ir.ColumnOrder(0)), limit=2),
        TABLE),
    "global top-k by numeric": (
        ir.TopK(ir.Project(ir.Get("u1"), (2, 0, 4)), (), (ir.ColumnOrder(0, desc=True), ir.ColumnOrder(1)), limit=7),
        RelationDesc.of(("amount", T.NUMERIC), ("k", T.INT8), ("day", T.DATE))),
    "distinct dates and times": (ir.Distinct(ir.Project(ir.Get("u1"), (4, 5))),
                                 RelationDesc.of(("day", T.DATE), ("t", T.TIME))),
    "union and except of dates": (
        ir.Threshold(ir.Union_((
            ir.Project(ir.Filter(ir.Get("u1"), (_binary("lt", col(0), lit(3000, T.INT8)),)), (4,)),
            ir.Negate(ir.Project(ir.Filter(ir.Get("u1"), (_binary("eq", col(6), lit("m", T.TEXT)),)), (4,)))))),
        RelationDesc.of(("day", T.DATE))),
    "self-join on a numeric": (
        ir.Distinct(ir.Project(ir.Join((ir.Filter(ir.Get("u1"), (_binary("eq", col(6), lit("a", T.TEXT)),)),
                                        ir.Filter(ir.Get("u1"), (_binary("eq", col(6), lit("z", T.TEXT)),))),
                                       ((col(2), col(9)),)), (2, 4, 11))),
        RelationDesc.of(("amount", T.NUMERIC), ("day", T.DATE), ("day2", T.DATE))),
}


def _row(k: int, rng: random.Random) -> tuple:
    amount = None if rng.random() < 0.05 else (Decimal(rng.randrange(-1000, 1000)) / 100).quantize(CENTS)
    at = None if rng.random() < 0.05 else START + dt.timedelta(seconds=rng.randrange(0, 200_000), microseconds=k % 7)
    day = None if rng.random() < 0.05 else dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 60))
    t = dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.choice([0, 5, 999_999]))
    seen = None if rng.random() < 0.05 else (START + dt.timedelta(seconds=rng.randrange(0, 9000))).replace(
        tzinfo=dt.timezone.utc)
    return (k, rng.randrange(-30, 30), amount, at, day, t, rng.choice(["a", "m", "z", None]), seen)


@pytest.fixture(scope="module")
def loaded() -> tuple[Any, list[tuple]]:
    rng = random.Random(11)
    rows = [_row(k, rng) for k in range(9000)]  # past an index arrangement's recent_min (8192): arranged as columns
    return store_with_load(rows), rows  # one insert-only batch: Arrow columns


def dataflow(plan: ir.RelationExpr, desc: RelationDesc) -> RenderedDataflow:
    return RenderedDataflow(m.DataflowDescription(
        (m.SourceImport("u1", "t", TABLE),), (), (m.BuildDesc("v", plan, desc),),
        (m.IndexExport("v_idx", "v", tuple(col(i) for i in range(desc.arity)), desc),), (), as_of=1,
    ), {})


def contents(rendered: RenderedDataflow, desc: RelationDesc) -> Counter[Any]:
    return Counter(rendered.arrangement("v_idx").peek(ir.MapFilterProject(desc.arity)))


def test_the_load_is_stored_as_columns_of_the_peek_types(loaded: tuple[Any, list[tuple]]) -> None:
    store, rows = loaded
    reader = store.snapshot_reader("t", 1, columnar=True)
    reader.read()
    snapshot = reader.columns()
    assert snapshot is not None and len(snapshot.tables) == 1 and not snapshot.rest
    types = [str(field.type) for field in snapshot.tables[0].schema]
    assert types[2:6] == ["decimal128(38, 2)", "timestamp[us]", "date32[day]", "time64[us]"]
    assert types[7] == "timestamp[us, tz=UTC]"
    assert Counter(store.snapshot_counts("t", 1)) == Counter(rows)  # read back as rows: the same values
    assert all(repr(a) == repr(b) for a, b in zip(sorted(store.snapshot_counts("t", 1), key=lambda r: r[0]), rows))


@pytest.mark.parametrize("name", list(VIEWS))
def test_a_view_over_typed_columns_hydrates_and_changes_as_the_rows_do(loaded: tuple[Any, list[tuple]],
                                                                      name: str) -> None:
    plan, desc = VIEWS[name]
    store, rows = loaded
    by_rows, by_columns, _read = hydrate_both(store, lambda: dataflow(plan, desc), name)
    assert contents(by_columns, desc) == contents(by_rows, desc)
    assert contents(by_rows, desc)  # not vacuous
    if name == "the table itself":  # the load's columns became the arrangement's run as they are
        bulk = by_columns.arrangement("v_idx").bulk
        assert bulk is not None and bulk.records == len(rows)
    rng = random.Random(name)
    present = list(rows)
    for time in range(2, 5):
        deleted = rng.sample(present, 40)
        change_both((by_rows, by_columns), present, deleted, [_row(10_000 * time + i, rng) for i in range(40)], time)
        assert contents(by_columns, desc) == contents(by_rows, desc)


def test_values_arrow_would_not_hand_back_keep_the_batch_in_rows() -> None:
    """A numeric ``-0.00`` (Arrow drops the sign), mixed exponents, and an aware timestamp not in ``timezone.utc``
    keep a load msgpack."""
    from steadystate.repr.columnar import encode_columnar

    def load(value: Any) -> list[tuple[tuple, int, int]]:
        return [((k, Decimal("1.00") if k else value), 0, 1) for k in range(5000)]

    assert encode_columnar(load(Decimal("2.00"))) is not None
    assert encode_columnar(load(Decimal("2.00")))[: len(MAGIC)] == MAGIC
    for value in (Decimal("-0.00"), Decimal("2.0"), Decimal("NaN"),
                  dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))):
        assert encode_columnar(load(value)) is None, value
