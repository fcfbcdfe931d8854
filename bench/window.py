"""Window functions: the per-batch cost of the Window operator against DuckDB's recomputation.

    SELECT id, g, x, rank() OVER (PARTITION BY g ORDER BY x) AS r,
           sum(x) OVER (PARTITION BY g ORDER BY x, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM t

over ``--rows`` rows in ``--partitions`` partitions, planned by the real planner and rendered by the real
renderer.  Reports hydration, then for ``--batches`` batches of ``--changes`` updates (half deletes, half inserts,
in random partitions) the median and p95 time of one step, against DuckDB answering the same query over the same
table after each batch (what a system without incremental maintenance pays).  The maintained result is checked
against DuckDB's after the last batch.

Usage: python bench/window.py [--rows 1000000] [--partitions 10000] [--batches 20] [--changes 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

import duckdb
import pyarrow as pa

from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import Column, RelationDesc, ScalarType as T
from steadystate.sql.catalog_api import PlanContext, QualifiedName, ResolvedItem
from steadystate.sql.parser import parse_one
from steadystate.sql.query import new_state, plan_subquery

DESC = RelationDesc((Column("id", T.INT8, False), Column("g", T.INT8, False), Column("x", T.INT8, False)))
QUERY = ("SELECT id, g, x, rank() OVER (PARTITION BY g ORDER BY x) AS r, sum(x) OVER (PARTITION BY g ORDER BY x, id"
         " ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM t")


class Catalog:
    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        return ResolvedItem("t", QualifiedName("materialize", "public", "t"), "table", DESC)

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        raise NotImplementedError

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        return QualifiedName("materialize", "public", parts[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--changes", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(7)
    rows = {(i, rng.randrange(args.partitions), rng.randrange(1_000_000)) for i in range(args.rows)}
    plan = plan_subquery(parse_one(QUERY).node, new_state(PlanContext(Catalog()))).expr  # type: ignore[arg-type]
    dataflow = RenderedDataflow(DataflowDescription(
        (SourceImport("t", "s-t", DESC),), (), (BuildDesc("v", plan, RelationDesc(())),),
        (IndexExport("i", "v", (ir.ColumnRef(0),), RelationDesc(())),), (), as_of=1), {})
    duck = duckdb.connect(":memory:")
    duck.execute("CREATE TABLE t (id BIGINT, g BIGINT, x BIGINT)")
    ordered = sorted(rows)
    table = pa.table({"id": [r[0] for r in ordered], "g": [r[1] for r in ordered], "x": [r[2] for r in ordered]})
    duck.register("arrow_t", table)
    duck.execute("INSERT INTO t SELECT * FROM arrow_t")
    duck.unregister("arrow_t")
    start = time.perf_counter()
    dataflow.feed_snapshot("t", {row: 1 for row in rows}, 1, 2)
    dataflow.step()
    print(f"hydration: {time.perf_counter() - start:.2f} s ({args.rows:,} rows, {args.partitions:,} partitions)")
    steps, recomputes = [], []
    next_id = args.rows
    live = list(rows)
    for batch in range(args.batches):
        time_ = batch + 2
        deletes = [live.pop(rng.randrange(len(live))) for _ in range(args.changes // 2)]
        inserts = [(next_id + i, rng.randrange(args.partitions), rng.randrange(1_000_000)) for i in range(args.changes // 2)]
        next_id += len(inserts)
        live.extend(inserts)
        dataflow.feed("t", [(r, time_, -1) for r in deletes] + [(r, time_, 1) for r in inserts], time_ + 1)
        start = time.perf_counter()
        dataflow.step()
        steps.append(time.perf_counter() - start)
        duck.execute("DELETE FROM t WHERE id IN (" + ", ".join(str(r[0]) for r in deletes) + ")")
        duck.executemany("INSERT INTO t VALUES (?, ?, ?)", inserts)
        start = time.perf_counter()
        duck.execute(QUERY).fetchall()
        recomputes.append(time.perf_counter() - start)

    def show(name: str, values: list[float]) -> None:
        ordered = sorted(values)
        print(f"{name}: median {statistics.median(values) * 1000:.1f} ms, p95 "
              f"{ordered[int(0.95 * (len(ordered) - 1))] * 1000:.1f} ms")
    show(f"maintained step ({args.changes} changes)", steps)
    show("DuckDB recomputation", recomputes)
    got = Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(0)))
    want = Counter((a, b, c, d, int(e)) for a, b, c, d, e in duck.execute(QUERY).fetchall())
    assert Counter({(a, b, c, d, int(e)): n for (a, b, c, d, e), n in got.items()}) == want, "results differ"
    print("results agree")


if __name__ == "__main__":
    main()
