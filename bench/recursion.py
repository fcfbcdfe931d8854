"""Recursion: the per-batch cost of a maintained WITH RECURSIVE (a LetRec) against DuckDB's recomputation.

    WITH RECURSIVE reach(v) AS (SELECT 0 UNION SELECT e.b FROM reach JOIN edges AS e ON reach.v = e.a)
    SELECT v FROM reach

over a random directed graph of ``--edges`` edges on as many nodes (out-degree 1 on average, plus a chain from 0
so that most nodes are reachable), planned by the real planner and rendered by the real renderer.  Reports hydration,
then for ``--batches`` batches of ``--changes`` edge changes (half deletes, half inserts) the median and p95 time of
one step, against DuckDB answering the same query over the same table after each batch.  The LetRec recomputes its
fixed point from empty on a change with deletions (dataflow/iterate.py), so such a batch costs about a hydration;
with ``--inserts-only`` the monotone recursion continues from its fixed point (cost of the new rows only).  The maintained result is checked against DuckDB's after the last batch.

Usage: python bench/recursion.py [--edges 100000] [--batches 5] [--changes 100] [--inserts-only]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

import duckdb

from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import Column, RelationDesc, ScalarType as T
from steadystate.sql.catalog_api import PlanContext, QualifiedName, ResolvedItem
from steadystate.sql.parser import parse_one
from steadystate.sql.query import new_state, plan_subquery

DESC = RelationDesc((Column("a", T.INT4, False), Column("b", T.INT4, False)))
QUERY = ("WITH RECURSIVE reach(v) AS (SELECT 0 UNION SELECT e.b FROM reach JOIN edges AS e ON reach.v = e.a)"
         " SELECT v FROM reach")


class Catalog:
    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        return ResolvedItem("edges", QualifiedName("materialize", "public", "edges"), "table", DESC)

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        raise NotImplementedError

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        return QualifiedName("materialize", "public", parts[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--inserts-only", action="store_true", help="batches insert edges only (the monotone path)")
    args = parser.parse_args()
    rng = random.Random(7)
    nodes = args.edges
    edges = [(rng.randrange(nodes), rng.randrange(nodes)) for _ in range(args.edges)]
    edges += [(i, i + 1) for i in range(0, nodes // 10)]  # a chain from 0: most of the graph is reachable
    plan = plan_subquery(parse_one(QUERY).node, new_state(PlanContext(Catalog()))).expr  # type: ignore[arg-type]
    dataflow = RenderedDataflow(DataflowDescription(
        (SourceImport("edges", "s-edges", DESC),), (), (BuildDesc("v", plan, RelationDesc(())),),
        (IndexExport("i", "v", (ir.ColumnRef(0),), RelationDesc(())),), (), as_of=1), {})
    duck = duckdb.connect(":memory:")
    duck.execute("CREATE TABLE edges (a INTEGER, b INTEGER)")
    duck.executemany("INSERT INTO edges VALUES (?, ?)", edges)
    start = time.perf_counter()
    dataflow.feed_snapshot("edges", dict(Counter(edges)), 1, 2)
    dataflow.step()
    hydration = time.perf_counter() - start
    reached = len(dataflow.arrangement("i").peek(ir.MapFilterProject(1)))
    iterations = dataflow.letrecs[0].iterations
    print(f"hydration: {hydration:.2f} s ({len(edges):,} edges, {reached:,} nodes reached in {iterations} iterations)")
    start = time.perf_counter()
    duck.execute(QUERY).fetchall()
    print(f"DuckDB one-shot: {(time.perf_counter() - start) * 1000:.1f} ms")
    steps, recomputes = [], []
    live = list(edges)
    for batch in range(args.batches):
        time_ = batch + 2
        deleted = 0 if args.inserts_only else args.changes // 2
        deletes = [live.pop(rng.randrange(len(live))) for _ in range(deleted)]
        inserts = [(rng.randrange(nodes), rng.randrange(nodes)) for _ in range(args.changes - deleted)]
        live.extend(inserts)
        dataflow.feed("edges", [(r, time_, -1) for r in deletes] + [(r, time_, 1) for r in inserts], time_ + 1)
        start = time.perf_counter()
        dataflow.step()
        steps.append(time.perf_counter() - start)
        for a, b in deletes:  # one row of each deleted pair (duplicates stay)
            duck.execute("DELETE FROM edges WHERE rowid = (SELECT min(rowid) FROM edges WHERE a = ? AND b = ?)", (a, b))
        duck.executemany("INSERT INTO edges VALUES (?, ?)", inserts)
        start = time.perf_counter()
        duck.execute(QUERY).fetchall()
        recomputes.append(time.perf_counter() - start)

    def show(name: str, values: list[float]) -> None:
        ordered = sorted(values)
        print(f"{name}: median {statistics.median(values) * 1000:.1f} ms, p95 "
              f"{ordered[int(0.95 * (len(ordered) - 1))] * 1000:.1f} ms")
    kind = "inserts" if args.inserts_only else "changes, half deletes"
    show(f"maintained step ({args.changes} edge {kind}; {dataflow.letrecs[0].restarts} restarts from empty)", steps)
    show("DuckDB recomputation", recomputes)
    got = Counter(dataflow.arrangement("i").peek(ir.MapFilterProject(1)))
    want = Counter(duck.execute(QUERY).fetchall())
    assert got == want, "results differ"
    print("results agree")


if __name__ == "__main__":
    main()
