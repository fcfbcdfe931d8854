"""An imported index of a wide table (numeric, float, timestamp, timestamptz, date, interval columns beside int and
text) hands its snapshot over as columns where the readers read only exact columns, and as rows decoded from the
runs otherwise — with the same answers as the row path in both cases, and DuckDB's where DuckDB types agree.

``render.hydration.feed_import_columns`` gives a reader the runs' tables when it drops the inexact columns unread
(a filter or projection onto int/text columns: ``expr.arrow_eval`` passes the others through, the chain's output
must be exact) or reads only exact ones (a reduce grouping and summing ints); every other reader (a reduce over a
numeric, a distinct over a float, a join side, a projection keeping a timestamp) gets the rows, decoded by the
codec (``Arrangement.decode_tables``).  Hypothesis draws the rows — NULLs, NaN, ``-0.0``, infinities, numerics
of one scale, timestamps across ``datetime``'s range — and later writes; the importer's output after the
snapshot and after each write must equal the same dataflow's with the snapshot read as rows, and the path taken
must be the one expected.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.arrangement import Arrangement, ArrangementCursor
from steadystate.dataflow.collection import add_into
from steadystate.dataflow.columns import exact_type
from steadystate.dataflow.graph import fold
from steadystate.expr import ir
from steadystate.expr.eval import compile_key
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexImport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.render.row_codec import ARROW_ROWS
from steadystate.repr.interval import Interval
from steadystate.repr.types import RelationDesc, ScalarType as T

col = ir.ColumnRef
WIDE = RelationDesc.of(("k", T.INT8), ("amount", T.NUMERIC), ("score", T.FLOAT8), ("at", T.TIMESTAMP),
                       ("atz", T.TIMESTAMPTZ), ("day", T.DATE), ("span", T.INTERVAL), ("s", T.TEXT), ("v", T.INT8))
OTHER = RelationDesc.of(("k2", T.INT8), ("w", T.INT8))
OUT = RelationDesc(())
KEY = (col(0),)
V, S = 8, 7  # the int and text columns besides k
LT0 = ir.CallBinary("lt", col(V), ir.Literal(0, T.INT8))

# name -> (plan, the inexact columns it reads or keeps (then given rows, unless the runs hold them as NULLs only),
# the DuckDB query when DuckDB's types agree)
PLANS: dict[str, tuple[ir.RelationExpr, tuple[int, ...], str | None]] = {
    "filter onto int and text": (ir.Project(ir.Filter(ir.Get("t"), (LT0,)), (0, S, V)), (),
                                 "SELECT k, s, v FROM t WHERE v < 0"),
    "reduce of ints": (ir.Reduce(ir.Get("t"), (col(0),), (ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL)),
                                                          ir.AggregateExpr("sum", col(V)))), (),
                       "SELECT k, count(*), sum(v) FROM t GROUP BY k"),
    "filter keeping every column, then a reduce of ints": (
        ir.Reduce(ir.Filter(ir.Get("t"), (ir.CallBinary("gte", col(V), ir.Literal(-1, T.INT8)),)), (col(0),),
                  (ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL)), ir.AggregateExpr("max", col(V)))), (),
        "SELECT k, count(*), max(v) FROM t WHERE v >= -1 GROUP BY k"),
    "filter keeping a numeric and a timestamp": (ir.Project(ir.Filter(ir.Get("t"), (LT0,)), (0, 1, 3)), (1, 3),
                                                 "SELECT k, amount, ts FROM t WHERE v < 0"),
    "filter keeping every column": (ir.Filter(ir.Get("t"), (LT0,)), (1, 2, 3, 4, 5, 6), None),
    "reduce over a numeric": (ir.Reduce(ir.Get("t"), (col(1),), (ir.AggregateExpr("count_star",
                                                                                  ir.Literal(True, T.BOOL)),
                                                                 ir.AggregateExpr("max", col(3)))), (1, 3),
                              "SELECT amount, count(*), max(ts) FROM t GROUP BY amount"),
    "reduce of floats": (ir.Reduce(ir.Get("t"), (col(0),), (ir.AggregateExpr("sum", col(2)),
                                                            ir.AggregateExpr("min", col(4)))), (2, 4), None),
    "distinct over a float and a date": (ir.Distinct(ir.Project(ir.Get("t"), (2, 5))), (2, 5), None),
    "distinct over an interval": (ir.Distinct(ir.Project(ir.Get("t"), (6, S))), (6,), None),
    "join": (ir.Project(ir.Join((ir.Get("t"), ir.Get("b")), ((col(0), col(9)),)), (1, 2, 10)), (1, 2, 3, 4, 5, 6), None),
}

_UTC = dt.timezone.utc
floats_ = st.sampled_from([0.0, -0.0, 1.5, -2.25, math.nan, math.inf, -math.inf, 1e308, 5e-324, None])
numerics_ = st.one_of(st.none(), st.integers(-10**20, 10**20).map(lambda n: Decimal(n).scaleb(-2)),
                      st.sampled_from([Decimal("0.00"), Decimal("-0.00"), Decimal("1.50")]))
timestamps_ = st.one_of(st.none(), st.sampled_from([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)]),
                        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
rows_ = st.tuples(
    st.integers(0, 6), numerics_, floats_, timestamps_,
    st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
              .map(lambda t: t.replace(tzinfo=_UTC))),
    st.one_of(st.none(), st.dates()),
    st.one_of(st.none(), st.sampled_from([Interval(1, 0, 0), Interval(0, 30, 0), Interval(0, 0, 5)])),
    st.sampled_from(["a", "ü", "", None]), st.one_of(st.none(), st.integers(-3, 3)))
table_ = st.lists(st.tuples(rows_, st.integers(1, 2)), min_size=8, max_size=40, unique_by=lambda x: repr(x[0]))
writes_ = st.lists(st.lists(st.tuples(rows_, st.sampled_from([1, -1])), max_size=8), max_size=2)
other_ = st.lists(st.tuples(st.integers(0, 6), st.integers(-2, 2)), max_size=10)


def producer(contents: dict[tuple, int]) -> Arrangement:
    """An index on ``t`` by ``k`` holding ``contents`` at time 0, mostly in runs (a small ``recent_min``)."""
    arrangement = Arrangement(compile_key(KEY, list(WIDE.types)), codec=ARROW_ROWS, recent_min=4)
    items = list(contents.items())
    half = len(items) // 2
    arrangement.apply(0, (dict(items[:half]), {}))
    arrangement.apply(0, (dict(items[half:]), {}))
    arrangement.advance(1)
    return arrangement


def run(plan: ir.RelationExpr, contents: dict[tuple, int], writes: list[list[tuple[tuple, int]]],
        other: list[tuple[int, int]], *, columns: bool) -> tuple[list[dict[tuple, int]], Counter]:
    """The importer's output folded after the snapshot and after each write, and the table's final contents."""
    arrangement = producer(contents)
    desc = DataflowDescription(
        (SourceImport("b", "sb", OTHER),), (IndexImport("i", "t", KEY, WIDE),), (BuildDesc("x", plan, OUT),), (),
        (SinkExport("s", "x", "subscribe", OUT),), as_of=0)
    dataflow = RenderedDataflow(desc, {"i": arrangement}, share_arrangements=False, import_columns=columns)
    dataflow.feed("b", [((k, w), 0, 1) for k, w in other], 1)
    table = Counter(contents)
    dataflow.step()
    emitted = dataflow.drain_sink("s")
    seen = [{row: count for row, count in fold(emitted).items() if count}]
    for time, batch in enumerate(writes, start=1):
        delta: dict[tuple, int] = {}
        for row, diff in batch:
            if diff < 0 and table[row] + delta.get(row, 0) <= 0:
                continue
            add_into(delta, row, diff)
        for row, diff in delta.items():
            table[row] += diff
        arrangement.apply(time, (delta, {}))
        arrangement.advance(time + 1)
        dataflow.feed("b", [], time + 1)
        dataflow.step()
        emitted += dataflow.drain_sink("s")
        seen.append({row: count for row, count in fold(emitted).items() if count})
    return seen, +table


def same(a: list[dict[tuple, int]], b: list[dict[tuple, int]]) -> bool:
    """Equal outputs, a NaN equal to a NaN.  Values compare by Python's equality, as the engine's rows do: which of
    equal values (``0.0`` and ``-0.0``, ``0.00`` and ``-0.00``) names a group is the order the rows came in, which
    the two paths need not share (the decoders' exactness, ``repr`` and all, is ``test_arrangement_runs``')."""
    def canonical(rows: dict[tuple, int]) -> Counter:
        return Counter({tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row): count
                        for row, count in rows.items()})
    return [canonical(x) for x in a] == [canonical(x) for x in b]


def duckdb_answer(sql: str, table: Counter) -> Counter:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k BIGINT, amount DECIMAL(38, 2), ts TIMESTAMP, s TEXT, v BIGINT)")
    rows = [(r[0], r[1], r[3], r[S], r[V]) for r, count in table.items() for _ in range(count)]
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    return Counter(tuple(int(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in row)
                   for row in con.execute(sql).fetchall())


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=table_, writes=writes_, other=other_)
def test_a_wide_import_equals_the_row_path_and_takes_columns_only_where_exact(
        name: str, table: list[tuple[tuple, int]], writes: list[list[tuple[tuple, int]]],
        other: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    plan, inexact, sql = PLANS[name]
    contents = dict(table)
    decoded: list[int] = []
    read: list[bool] = []
    reads_inexact: list[bool] = []
    original, read_columns = Arrangement.decode_tables, ArrangementCursor.read_snapshot_columns

    def spy(self: Arrangement, tables: list[Any]) -> dict[tuple, int]:
        decoded.append(len(tables))
        return original(self, tables)

    def spy_read(self: ArrangementCursor) -> Any:
        out = read_columns(self)
        read.append(out is not None)
        if out is not None:
            schema = out[1][0].schema
            reads_inexact.append(any(not exact_type(schema.field(c).type) for c in inexact))
        return out

    monkeypatch.setattr(Arrangement, "decode_tables", spy)
    monkeypatch.setattr(ArrangementCursor, "read_snapshot_columns", spy_read)
    by_columns, final = run(plan, contents, writes, other, columns=True)
    by_rows, _ = run(plan, contents, writes, other, columns=False)
    assert same(by_columns, by_rows)
    if read == [True]:  # the runs were read as columns (an index of few rows keeps them all recent)
        assert bool(decoded) == reads_inexact[0]
    if sql is not None:
        assert Counter(by_columns[-1]) == duckdb_answer(sql, final)


def test_a_wide_snapshots_tables_decode_to_its_rows() -> None:
    """``snapshot_columns`` gives the runs of any column types (codec columns with their metadata) and
    ``decode_tables`` their rows exactly, repeated rows counted."""
    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=2)
    rows = {(i, float(i) if i % 3 else -0.0, Decimal(i).scaleb(-3), Interval(0, i, 0), math.nan, f"s{i % 2}"): 1 + i % 2
            for i in range(12)}
    arrangement.apply(0, (rows, {}))
    arrangement.apply(1, ({(0, "x", None, None, None, None): 1}, {}))
    got = arrangement.snapshot_columns()
    assert got is not None
    tables, recent = got
    assert str(tables[0].schema.field(1).type) == "double" and tables[0].schema.field(3).metadata
    decoded = arrangement.decode_tables(tables)
    decoded.update(recent)
    expected = arrangement.rows_dict()
    assert {repr(k): v for k, v in decoded.items()} == {repr(k): v for k, v in expected.items()}
    assert sum(decoded.values()) == sum(rows.values()) + 1
