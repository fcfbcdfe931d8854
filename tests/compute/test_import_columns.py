"""An imported index's snapshot handed over as the arrangement's Arrow runs equals the row path's, and DuckDB's.

A dataflow importing an index reads the index's first contents as the producer arrangement's runs (columns) plus its
recent rows (``RenderedDataflow.feed_import_columns``) where its readers take columns: a join side (copied or
read in place), a reduce, a distinct, a union and negate under a threshold, a map/filter/project.  Hypothesis draws
the indexed table's rows (runs with repeated rows, recent rows beside them) and later writes; the importer's
output, folded after the snapshot and after each write, must equal the same dataflow's with the snapshot read as
rows, and the final one the query's answer in DuckDB.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.arrangement import Arrangement, ArrangementCursor
from steadystate.dataflow.collection import add_into
from steadystate.dataflow.graph import fold
from steadystate.expr import ir
from steadystate.expr.eval import compile_key
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexImport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.render.row_codec import ARROW_ROWS
from steadystate.repr.types import RelationDesc, ScalarType as T

col = ir.ColumnRef
TABLE = RelationDesc.of(("k", T.INT8), ("v", T.INT8), ("s", T.TEXT), ("f", T.BOOL))
OTHER = RelationDesc.of(("k2", T.INT8), ("w", T.INT8))
OUT = RelationDesc(())
KEY = (col(0),)

PLANS: dict[str, tuple[ir.RelationExpr, str]] = {
    "filter": (ir.Filter(ir.Get("t"), (ir.CallBinary("gt", col(1), ir.Literal(0, T.INT8)),)),
               "SELECT k, v, s, f FROM t WHERE v > 0"),
    "reduce": (ir.Reduce(ir.Get("t"), (col(0),), (ir.AggregateExpr("sum", col(1)), ir.AggregateExpr("max", col(1)))),
               "SELECT k, sum(v), max(v) FROM t GROUP BY k"),
    "distinct": (ir.Distinct(ir.Project(ir.Get("t"), (0, 2))), "SELECT DISTINCT k, s FROM t"),
    "except": (ir.Threshold(ir.Union_((ir.Project(ir.Get("t"), (0,)), ir.Negate(ir.Project(ir.Get("b"), (0,)))))),
               "SELECT k FROM t EXCEPT ALL SELECT k2 FROM b"),
    "join": (ir.Join((ir.Get("t"), ir.Get("b")), ((col(0), col(4)),)),
             "SELECT t.k, t.v, t.s, t.f, b.k2, b.w FROM t JOIN b ON t.k = b.k2"),
}

rows_ = st.tuples(st.integers(0, 12), st.integers(-3, 3), st.sampled_from(["a", "b", "ü", "", None]),
                  st.sampled_from([True, False, None]))
table_ = st.lists(st.tuples(rows_, st.integers(1, 2)), min_size=0, max_size=60)
writes_ = st.lists(st.lists(st.tuples(rows_, st.sampled_from([1, -1])), max_size=12), max_size=3)
other_ = st.lists(st.tuples(st.integers(0, 12), st.integers(-2, 2)), max_size=20)


def producer(contents: dict[tuple, int], frontier: int) -> Arrangement:
    """An index on ``t`` by ``k`` holding ``contents`` at time 0 (in runs: a small ``recent_min``), at
    ``frontier``."""
    arrangement = Arrangement(compile_key(KEY, list(TABLE.types)), codec=ARROW_ROWS, recent_min=4)
    items = list(contents.items())
    half = len(items) // 2
    arrangement.apply(0, (dict(items[:half]), {}))  # a run, then recent rows (or a second run)
    arrangement.apply(0, (dict(items[half:]), {}))
    arrangement.advance(frontier)
    return arrangement


def importer(plan: ir.RelationExpr, arrangement: Arrangement, *, columns: bool, share: bool,
             as_of: int) -> RenderedDataflow:
    desc = DataflowDescription(
        (SourceImport("b", "sb", OTHER),), (IndexImport("i", "t", KEY, TABLE),), (BuildDesc("x", plan, OUT),), (),
        (SinkExport("s", "x", "subscribe", OUT),), as_of=as_of)
    return RenderedDataflow(desc, {"i": arrangement}, share_arrangements=share, import_columns=columns)


def duckdb_answer(sql: str, table: Counter, other: list[tuple[int, int]]) -> Counter:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k BIGINT, v BIGINT, s TEXT, f BOOLEAN)")
    con.execute("CREATE TABLE b (k2 BIGINT, w BIGINT)")
    rows = [row for row, count in table.items() for _ in range(count)]
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    if other:
        con.executemany("INSERT INTO b VALUES (?, ?)", other)
    return Counter(tuple(_plain(v) for v in row) for row in con.execute(sql).fetchall())


def _plain(value: Any) -> Any:
    return int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, (bool, float)) else value


def run(plan: ir.RelationExpr, contents: dict[tuple, int], writes: list[list[tuple[tuple, int]]],
        other: list[tuple[int, int]], *, columns: bool, share: bool, times: tuple[int, int] = (1, 0),
        ) -> tuple[list[dict[tuple, int]], Counter]:
    """The importer's output folded after the snapshot and after each write, and the table's final contents."""
    frontier, as_of = times
    arrangement = producer(contents, frontier)
    dataflow = importer(plan, arrangement, columns=columns, share=share, as_of=as_of)
    dataflow.feed("b", [((k, w), as_of, 1) for k, w in other], as_of + 1)
    table = Counter({row: count for row, count in contents.items()})
    dataflow.step()
    emitted = dataflow.drain_sink("s")
    seen = [{row: count for row, count in fold(emitted).items() if count}]
    for time, batch in enumerate(writes, start=frontier):
        delta: dict[tuple, int] = {}
        for row, diff in batch:
            if diff < 0 and table[row] + delta.get(row, 0) <= 0:
                continue  # no deletion of what is not there
            add_into(delta, row, diff)
        for row, diff in delta.items():
            table[row] += diff
        arrangement.apply(time, (delta, {}))
        arrangement.advance(time + 1)
        dataflow.feed("b", [], max(time, as_of) + 1)
        dataflow.step()
        emitted += dataflow.drain_sink("s")
        seen.append({row: count for row, count in fold(emitted).items() if count})
    settled = frontier + len(writes) + as_of + 2  # every time up to as_of passed, whatever the producer's frontier
    arrangement.advance(settled)
    dataflow.feed("b", [], settled)
    dataflow.step()
    emitted += dataflow.drain_sink("s")
    seen.append({row: count for row, count in fold(emitted).items() if count})
    return seen, +table


# (the producer's frontier, the importer's as_of): the snapshot's time (frontier - 1) at, before and after as_of
@pytest.mark.parametrize("times", [(1, 0), (1, 2), (4, 1)])
@pytest.mark.parametrize("share", [False, True])
@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=table_, writes=writes_, other=other_)
def test_an_import_read_as_columns_equals_the_row_path_and_duckdb(
        name: str, share: bool, times: tuple[int, int], table: list[tuple[tuple, int]], writes: list[list[tuple[tuple, int]]],
        other: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    plan, sql = PLANS[name]
    contents: dict[tuple, int] = {}
    for row, count in table:
        contents[row] = count
    read_as_columns: list[bool] = []
    original = ArrangementCursor.read_snapshot_columns

    def spy(self: ArrangementCursor) -> Any:
        out = original(self)
        read_as_columns.append(out is not None)
        return out

    monkeypatch.setattr(ArrangementCursor, "read_snapshot_columns", spy)
    by_columns, final = run(plan, contents, writes, other, columns=True, share=share, times=times)
    by_rows, _ = run(plan, contents, writes, other, columns=False, share=share, times=times)
    assert by_columns == by_rows
    assert Counter(by_columns[-1]) == duckdb_answer(sql, final, other)
    if len(contents) >= 8:  # a run exists: every reader here takes columns
        assert read_as_columns == [True]


def test_runs_of_exact_columns_are_handed_over_with_their_recent_rows() -> None:
    """The runs' tables plus the recent rows are the arrangement's contents (``large_string`` given as ``string``)."""
    exact = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=2)
    exact.apply(0, ({(i, str(i)): 1 for i in range(10)}, {}))
    exact.apply(1, ({(0, "x"): 1}, {}))
    got = exact.snapshot_columns()
    assert got is not None
    tables, recent = got
    assert str(tables[0].schema.field(1).type) == "string"
    rows = Counter(row for table in tables for row in zip(*(c.to_pylist() for c in table.columns)))
    rows.update(recent)
    assert rows == Counter(exact.rows_dict())
