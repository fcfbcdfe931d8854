"""Engine benchmark: a 1M-row fact table joined with a 10k dimension table, grouped by region.

    SELECT c.region, sum(o.amount), count(*) FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.region

Measures hydration, then 100 batches of 500 order deletes + 500 order inserts + 10 customer updates, as the
per-batch time of the incremental engine (steadystate.render) and, in the same run, of DuckDB applying the batch and
recomputing the view.  The engine runs the view twice over the same updates: *fused* (the default: one
join-accumulate operator, ``dataflow.join_accumulate``) and *unfused* (delta join, then reduce), alternating
which goes first in each batch.  Prints median and p95 for each, the ratios, and checks all agree at the end.

Usage: python bench/engine.py [--orders 1000000] [--customers 10000] [--batches 100]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import duckdb
import pyarrow as pa

from steadystate.render import RenderedDataflow
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SourceImport
from steadystate.repr.types import RelationDesc, ScalarType as T

ORDERS = RelationDesc.of(("id", T.INT8), ("customer_id", T.INT8), ("amount", T.INT8))
CUSTOMERS = RelationDesc.of(("id", T.INT8), ("region", T.TEXT))
OUT = RelationDesc.of(("region", T.TEXT), ("total", T.NUMERIC), ("n", T.INT8))
REGIONS = [f"region-{i}" for i in range(20)]


def build_dataflow(as_of: int, fuse: bool = True) -> RenderedDataflow:
    col = ir.ColumnRef
    join = ir.Join((ir.Get("orders"), ir.Get("customers")), ((col(1), col(3)),))
    plan = ir.Reduce(join, (col(4),), (ir.AggregateExpr("sum", col(2)), ir.AggregateExpr("count_star", col(0))))
    desc = DataflowDescription(
        source_imports=(SourceImport("orders", "s-orders", ORDERS), SourceImport("customers", "s-customers", CUSTOMERS)),
        index_imports=(),
        objects_to_build=(BuildDesc("view", plan, OUT),),
        index_exports=(IndexExport("idx", "view", (col(0),), OUT),),
        sink_exports=(),
        as_of=as_of,
    )
    return RenderedDataflow(desc, {}, fuse=fuse)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)

    customers = {i: REGIONS[rng.randrange(len(REGIONS))] for i in range(args.customers)}
    orders = {i: (i, rng.randrange(args.customers), rng.randrange(1, 1000)) for i in range(args.orders)}

    # -- hydration -------------------------------------------------------------------------------------------
    dataflows: dict[str, RenderedDataflow] = {}
    hydration: dict[str, float] = {}
    for name, fuse in (("fused", True), ("unfused", False)):
        dataflow = build_dataflow(as_of=1, fuse=fuse)
        snapshot = {row: 1 for row in orders.values()}
        started = time.perf_counter()
        dataflow.feed_snapshot("orders", snapshot, 1, 2)
        dataflow.feed_snapshot("customers", {(i, r): 1 for i, r in customers.items()}, 1, 2)
        dataflow.step()
        hydration[name] = time.perf_counter() - started
        dataflows[name] = dataflow
        del snapshot

    db = duckdb.connect()
    db.execute("CREATE TABLE orders (id BIGINT, customer_id BIGINT, amount BIGINT)")
    db.execute("CREATE TABLE customers (id BIGINT, region TEXT)")
    started = time.perf_counter()
    db.register("customers_arrow", pa.table({"id": list(customers), "region": list(customers.values())}))
    db.execute("INSERT INTO customers SELECT * FROM customers_arrow")
    db.register("orders_arrow", pa.table({"id": [o[0] for o in orders.values()],
                                          "customer_id": [o[1] for o in orders.values()],
                                          "amount": [o[2] for o in orders.values()]}))
    db.execute("INSERT INTO orders SELECT * FROM orders_arrow")
    duck_load = time.perf_counter() - started
    view_sql = ("SELECT c.region, sum(o.amount), count(*) FROM orders o JOIN customers c ON o.customer_id = c.id "
                "GROUP BY c.region")

    # -- batches ---------------------------------------------------------------------------------------------
    engine_ms: dict[str, list[float]] = {name: [] for name in dataflows}
    duck_ms: list[float] = []
    next_id = args.orders
    live_ids = list(orders)
    for b in range(args.batches):
        t = 2 + b
        deleted_positions = rng.sample(range(len(live_ids)), 500)
        deleted = [orders.pop(live_ids[p]) for p in deleted_positions]
        for p in sorted(deleted_positions, reverse=True):
            live_ids[p] = live_ids[-1]
            live_ids.pop()
        inserted = []
        for _ in range(500):
            row = (next_id, rng.randrange(args.customers), rng.randrange(1, 1000))
            orders[next_id] = row
            live_ids.append(next_id)
            inserted.append(row)
            next_id += 1
        customer_changes = []
        for cid in rng.sample(range(args.customers), 10):
            new_region = REGIONS[rng.randrange(len(REGIONS))]
            customer_changes.append(((cid, customers[cid]), t, -1))
            customer_changes.append(((cid, new_region), t, 1))
            customers[cid] = new_region
        order_updates = [(row, t, -1) for row in deleted] + [(row, t, 1) for row in inserted]

        names = list(dataflows) if b % 2 else list(dataflows)[::-1]  # alternate which runs first
        for name in names:
            dataflow = dataflows[name]
            started = time.perf_counter()
            dataflow.feed("orders", list(order_updates), t + 1)
            dataflow.feed("customers", list(customer_changes), t + 1)
            dataflow.step()
            engine_ms[name].append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        db.execute("DELETE FROM orders WHERE id IN (SELECT unnest(?))", [[row[0] for row in deleted]])
        db.register("batch_orders", pa.table({"id": [r[0] for r in inserted], "customer_id": [r[1] for r in inserted],
                                              "amount": [r[2] for r in inserted]}))
        db.execute("INSERT INTO orders SELECT * FROM batch_orders")
        changed = [(cid, region) for (cid, region), _, diff in customer_changes if diff > 0]
        db.register("batch_customers", pa.table({"id": [c for c, _ in changed], "region": [r for _, r in changed]}))
        db.execute("UPDATE customers SET region = b.region FROM batch_customers b WHERE customers.id = b.id")
        db.execute(view_sql).fetchall()
        duck_ms.append((time.perf_counter() - started) * 1000)

    duck_rows = sorted((r, int(s), n) for r, s, n in db.execute(view_sql).fetchall())
    for name, dataflow in dataflows.items():
        engine_rows = sorted((r, int(s), n) for r, s, n in dataflow.arrangement("idx").peek(ir.MapFilterProject(3)))
        assert engine_rows == duck_rows, f"engine ({name}) and DuckDB disagree"

    dm, dp = statistics.median(duck_ms), percentile(duck_ms, 0.95)
    print(f"orders={args.orders} customers={args.customers} batches={args.batches} (results agree)")
    print(f"duckdb: bulk load {duck_load:.2f} s; apply + recompute per batch median {dm:.2f} ms p95 {dp:.2f} ms")
    for name in dataflows:
        em, ep = statistics.median(engine_ms[name]), percentile(engine_ms[name], 0.95)
        print(f"engine {name:8}: hydration {hydration[name]:.2f} s; per batch median {em:.2f} ms p95 {ep:.2f} ms; "
              f"duckdb/engine {dm / em:.2f}x")


if __name__ == "__main__":
    main()
