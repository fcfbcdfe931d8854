"""Hydration of a dataflow that imports an index: its snapshot read as the index's Arrow runs vs as Python rows.

An index on ``t (id)`` holds ``--rows`` rows in Arrow runs (``dataflow.arrangement``, as the replica's index
exports do); an indexed view importing it is rendered and stepped once (its hydration), with the snapshot handed
over as the runs' columns (``RenderedDataflow(import_columns=True)``, where readers take columns) and as rows
decoded from the runs (``import_columns=False``, before).  Three views:

* ``filter``: ``SELECT id, k FROM t WHERE k < 10`` (a map/filter/project);
* ``reduce``: ``SELECT k, count(*), sum(id) FROM t GROUP BY k``;
* ``join``: ``SELECT t.id, d.name FROM t JOIN d ON t.k = d.k`` (``d`` a 1000-row source, the join copying ``t``);
* ``filtred``: ``SELECT k, count(*), sum(id) FROM t WHERE k < 500 GROUP BY k`` (a filter, then a reduce);
* ``numsum`` (wide only): ``SELECT k, sum(amount), max(at) FROM t WHERE k < 500 GROUP BY k`` (the reduce reads a
  numeric and a timestamp: the snapshot is read as rows decoded from the runs either way).

Shapes: ``narrow`` ``(id bigint, k bigint, name text, flag boolean)`` and ``wide`` (``bench/results.py``'s table
with ``k`` added: numeric, timestamp and float columns beside int, text and bool; the runs hand them over as
columns to readers that drop them unread or read only exact columns, ``render.hydration.feed_import_columns``).
Best of ``--repeat``; both variants must agree.  First, per shape, the snapshot read as rows through a cursor (what an
importer that takes no columns pays): from the runs (decoded by ``render.row_codec``) and from a row arrangement
(no codec) of the same rows.

Usage: python bench/import_snapshot.py [--rows 1000000] [--repeat 2] [--shapes narrow,wide]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from results import rows as wide_rows  # noqa: E402

from steadystate.dataflow.arrangement import Arrangement, ArrangementCursor  # noqa: E402
from steadystate.expr import ir  # noqa: E402
from steadystate.expr.eval import compile_key  # noqa: E402
from steadystate.protocol.messages import (  # noqa: E402
    BuildDesc, DataflowDescription, IndexExport, IndexImport, SourceImport,
)
from steadystate.render import RenderedDataflow  # noqa: E402
from steadystate.render.row_codec import ARROW_ROWS  # noqa: E402
from steadystate.repr.types import RelationDesc, ScalarType as T  # noqa: E402

col = ir.ColumnRef
NARROW = RelationDesc.of(("id", T.INT8), ("k", T.INT8), ("name", T.TEXT), ("flag", T.BOOL))
WIDE = RelationDesc.of(("id", T.INT8), ("name", T.TEXT), ("amount", T.NUMERIC), ("at", T.TIMESTAMP),
                       ("flag", T.BOOL), ("score", T.FLOAT8), ("k", T.INT8))
DIM = RelationDesc.of(("dk", T.INT8), ("dname", T.TEXT))


def table_rows(shape: str, n: int) -> list[tuple[Any, ...]]:
    if shape == "narrow":
        return [(i, i % 1000, f"customer-{i % 9973}", i % 3 == 0) for i in range(n)]
    return [(*row, row[0] % 1000) for row in wide_rows(n)]


def plans(shape: str) -> dict[str, ir.RelationExpr]:
    k = 1 if shape == "narrow" else 6
    width = 4 if shape == "narrow" else 7
    return {
        "filter": ir.Project(ir.Filter(ir.Get("t"), (ir.CallBinary("lt", col(k), ir.Literal(10, T.INT8)),)),
                             (0, k)),
        "reduce": ir.Reduce(ir.Get("t"), (col(k),), (ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL)),
                                                     ir.AggregateExpr("sum", col(0)))),
        "join": ir.Project(ir.Join((ir.Get("t"), ir.Get("d")), ((col(k), col(width)),)), (0, width + 1)),
        "filtred": ir.Reduce(ir.Filter(ir.Get("t"), (ir.CallBinary("lt", col(k), ir.Literal(500, T.INT8)),)),
                             (col(k),), (ir.AggregateExpr("count_star", ir.Literal(True, T.BOOL)),
                                         ir.AggregateExpr("sum", col(0)))),
        **({"numsum": ir.Reduce(ir.Filter(ir.Get("t"), (ir.CallBinary("lt", col(k), ir.Literal(500, T.INT8)),)),
                                (col(k),), (ir.AggregateExpr("sum", col(2)), ir.AggregateExpr("max", col(3))))}
           if shape == "wide" else {}),
    }


def hydrate(desc: RelationDesc, index: Arrangement, plan: ir.RelationExpr, columns: bool) -> tuple[float, int]:
    out = RelationDesc(())
    flow = DataflowDescription(
        (SourceImport("d", "sd", DIM),), (IndexImport("i", "t", (col(0),), desc),), (BuildDesc("x", plan, out),),
        (IndexExport("x_idx", "x", (col(0),), out),), (), as_of=0)
    dataflow = RenderedDataflow(flow, {"i": index}, share_arrangements=False, import_columns=columns)
    dataflow.feed_snapshot("d", {(i, f"dim-{i}"): 1 for i in range(1000)}, 0, 1)
    gc.collect()
    started = time.perf_counter()
    dataflow.step()
    elapsed = time.perf_counter() - started
    records = dataflow.arrangement("x_idx").records()
    dataflow.close()
    return elapsed, records


def snapshot_read(index: Arrangement) -> float:
    """Seconds to read an index's snapshot as rows through a cursor (what an importer not taking columns pays)."""
    cursor = ArrangementCursor(index)
    gc.collect()
    started = time.perf_counter()
    read = cursor.read_snapshot()
    elapsed = time.perf_counter() - started
    assert read is not None
    cursor.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--shapes", default="narrow,wide")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    for shape in args.shapes.split(","):
        desc = NARROW if shape == "narrow" else WIDE
        index = Arrangement(compile_key((col(0),), list(desc.types)), codec=ARROW_ROWS)
        index.apply(0, ({row: 1 for row in table_rows(shape, args.rows)}, {}))
        index.advance(1)
        assert index.bulk is not None and index.bulk.records == args.rows
        taken = index.snapshot_columns() is not None
        rows_index = Arrangement(compile_key((col(0),), list(desc.types)))  # no codec: the row arrangement
        rows_index.apply(0, (index.rows_dict(), {}))
        rows_index.advance(1)
        gc.disable()  # as the replica hydrates (``compute.state``)
        runs_read = min(snapshot_read(index) for _ in range(args.repeat))
        row_read = min(snapshot_read(rows_index) for _ in range(args.repeat))
        gc.enable()
        del rows_index
        print(f"{shape:6} snapshot read as rows: from the runs {runs_read:.3f} s, from the row arrangement "
              f"{row_read:.3f} s")
        for name, plan in plans(shape).items():
            figures = {}
            for columns in (False, True):
                best, records = min(hydrate(desc, index, plan, columns) for _ in range(args.repeat))
                figures[columns] = (best, records)
            assert figures[False][1] == figures[True][1], figures
            print(f"{shape:6} {name:6} runs as columns={taken!s:5} rows: {figures[False][0]:.3f} s  "
                  f"columns: {figures[True][0]:.3f} s  ({figures[True][1]} output records)")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
