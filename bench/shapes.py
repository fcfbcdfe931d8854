"""View shapes benchmark: hydration and per-batch cost of the engine for many view shapes, against DuckDB.

    python bench/shapes.py [--orders 1000000] [--customers 50000] [--batches 20] [--only NAME ...] [--no-docs]

Tables ``orders(id, customer_id, amount)`` (``--orders`` rows) and ``customers(id, region, tier)`` (``--customers``
rows).  Each shape is a view with a default index, planned by steadystate itself: an in-memory environment
(``steadystate.testing``) runs the DDL on empty tables and the benchmark takes the index's ``DataflowDescription``
from the controller's command history, then renders it in this process (``render.RenderedDataflow``) and drives it
as the replica would:

* **hydration**: the dataflow rendered (``RenderedDataflow``: the replica's counterpart of DuckDB planning the
  query, which DuckDB's one-shot time includes), then the tables' snapshots go in as the replica hands them over
  (``compute.snapshots``, with the cyclic GC paused during hydration and the hydrated heap frozen after it, as
  ``compute.state`` does): Arrow columns folded by a summing reader (the fused join-accumulate, the accumulating
  reduce), or handed to the first round as columns (``dataflow.columnar_delta``: unions, distincts, joins over columns), or evaluated through
  the source's first maps/filters/projections (``expr.arrow_eval``) with only their output becoming rows, or else
  decoded into ``{row: count}`` (timed: it is part of what hydration costs), then one step.  The decode alone is
  also reported once per table (``decode``);
* **per batch**: ``--batches`` batches of 500 order deletes + 500 order inserts + 10 customer updates, each fed and
  stepped (write to fresh answer, without the peek).  As in the replica (``compute.state``), the cyclic GC is
  paused while the dataflow hydrates and the hydrated state is frozen out of its later collections
  (``gc.freeze()``, timed with the hydration).

DuckDB, in the same run and on the same data: the view's SQL evaluated once (``one-shot``, the hydration baseline),
and per batch the batch applied (DELETE/INSERT/UPDATE) and the view's SQL evaluated again.  At the end of every
shape the engine's index contents must equal DuckDB's answer (numbers compared as in the differential tests).

Shapes the engine cannot maintain yet (window functions, temporal filters) are reported with the error the planner
gives.  Results go to the "View shapes" section of ``docs/benchmarks.md`` unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow as pa

from steadystate.dataflow.accumulate import prepare_columns
from steadystate.expr import ir
from steadystate.protocol import messages as m
from steadystate.render import RenderedDataflow
from steadystate.repr.columnar import narrowed
from steadystate.testing import memory_environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "differential"))

from diff_support import normalize_value  # noqa: E402

REGIONS = [f"region-{i}" for i in range(20)]


@dataclass(frozen=True)
class Shape:
    name: str
    sql: str
    setup: tuple[str, ...] = ()  # extra DDL before the view (a materialized view it reads)
    duck_sql: str | None = None  # DuckDB's spelling, where it differs (its integer ``/`` is a float division)


SHAPES = [
    Shape("star aggregate (the tuned shape)",
          "SELECT c.region, sum(o.amount) AS total, count(*) AS n FROM orders o JOIN customers c "
          "ON o.customer_id = c.id GROUP BY c.region"),
    Shape("join without aggregate (~10% out)",
          "SELECT o.id, o.amount, c.region FROM orders o JOIN customers c ON o.customer_id = c.id "
          "WHERE o.amount < 100"),
    Shape("min/max per key", "SELECT customer_id, min(amount) AS lo, max(amount) AS hi FROM orders GROUP BY customer_id"),
    Shape("count(DISTINCT) over a join",
          "SELECT c.region, count(DISTINCT o.customer_id) AS n FROM orders o JOIN customers c "
          "ON o.customer_id = c.id GROUP BY c.region"),
    Shape("global top-k", "SELECT id, amount FROM orders ORDER BY amount DESC, id LIMIT 10"),
    Shape("DISTINCT over two expressions", "SELECT DISTINCT customer_id % 1000 AS a, amount / 10 AS b FROM orders",
          duck_sql="SELECT DISTINCT customer_id % 1000 AS a, amount // 10 AS b FROM orders"),
    Shape("outer join",
          "SELECT c.id, c.region, o.id AS order_id FROM customers c LEFT JOIN orders o "
          "ON o.customer_id = c.id AND o.amount > 995"),
    Shape("union / except",
          "SELECT customer_id FROM orders WHERE amount < 50 UNION ALL SELECT id FROM customers WHERE tier = 1 "
          "EXCEPT SELECT id FROM customers WHERE tier = 2"),
    Shape("count per key", "SELECT customer_id, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer_id"),
    Shape("indexed view over a materialized view",
          "SELECT region, count(*) AS n FROM big_orders GROUP BY region",
          setup=("CREATE MATERIALIZED VIEW big_orders AS SELECT o.id, c.region FROM orders o JOIN customers c "
                 "ON o.customer_id = c.id WHERE o.amount > 500",)),
    Shape("window function", "SELECT id, sum(amount) OVER (PARTITION BY customer_id) AS s FROM orders"),
    # a sliding window over ids: at logical time t it holds the rows with t <= id + 1000 ({mz_now}: DuckDB's t)
    Shape("temporal filter", "SELECT id FROM orders WHERE mz_now() <= id + 1000",
          duck_sql="SELECT id FROM orders WHERE {mz_now} <= id + 1000"),
    Shape("LATERAL top-k per group",
          "SELECT c.id, x.id AS order_id, x.amount FROM customers c, LATERAL (SELECT o.id, o.amount FROM orders o "
          "WHERE o.customer_id = c.id ORDER BY o.amount DESC, o.id LIMIT 3) x"),
    Shape("table function per row",
          "SELECT o.id, g.n FROM orders o, generate_series(1, o.amount % 3) AS g(n) WHERE o.amount < 200"),
    Shape("grouping sets (ROLLUP)",
          "SELECT c.region, c.tier, count(*) AS n, sum(o.amount) AS total FROM orders o JOIN customers c "
          "ON o.customer_id = c.id GROUP BY ROLLUP (c.region, c.tier)"),
]


# ------------------------------------------------------------------------------------------------ planning


async def plan_shapes(shapes: list[Shape]) -> dict[str, tuple[m.DataflowDescription | None, dict[str, str], str]]:
    """Per shape: the index's dataflow description, table ids by name, and the planner's error (if refused)."""
    out: dict[str, tuple[m.DataflowDescription | None, dict[str, str], str]] = {}
    async with memory_environment() as env:
        await env.execute("CREATE TABLE orders (id bigint, customer_id bigint, amount bigint)")
        await env.execute("CREATE TABLE customers (id bigint, region text, tier bigint)")
        catalog = env.coordinator.catalog
        for shape in shapes:
            try:
                for ddl in shape.setup:
                    await env.execute(ddl)
                await env.execute(f"CREATE VIEW shape_view AS {shape.sql}")
                await env.execute("CREATE DEFAULT INDEX ON shape_view")
            except Exception as exc:  # noqa: BLE001 - a refused shape is reported, not fatal
                out[shape.name] = (None, {}, str(exc))
                await _drop(env)
                continue
            names = {item.name: item.id for item in catalog.items.values()}
            created = [c.desc for c in env.instance().history.replay() if isinstance(c, m.CreateDataflow)]
            index_id = next(item.id for item in catalog.items.values()
                            if item.kind == "index" and item.on_id == names["shape_view"])
            desc = next(d for d in created if any(e.index_id == index_id for e in d.index_exports))
            out[shape.name] = (desc, names, "")
            await _drop(env)
    return out


async def _drop(env: Any) -> None:
    for statement in ("DROP VIEW IF EXISTS shape_view CASCADE", "DROP MATERIALIZED VIEW IF EXISTS big_orders CASCADE"):
        try:
            await env.execute(statement)
        except Exception:  # noqa: BLE001 - nothing to drop
            pass


# ------------------------------------------------------------------------------------------------ data


class Data:
    """The tables' rows and the batches' changes.  The rows are kept as dicts of ints and strings only (a column
    per dict, keyed by id): CPython never tracks such a dict for the cyclic GC, where a dict of row tuples is
    tracked again by every new tuple put in after a full collection untracked it, and the next young collection
    (inside the engine's timed step) then walks all its million entries (~25 ms, every few batches)."""

    def __init__(self, orders: int, customers: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.region: dict[int, str] = {}
        self.tier: dict[int, int] = {}
        for i in range(customers):
            self.region[i] = REGIONS[rng.randrange(len(REGIONS))]
            self.tier[i] = rng.randrange(5)
        self.customer_of: dict[int, int] = {}
        self.amount: dict[int, int] = {}
        for i in range(orders):
            self.customer_of[i] = rng.randrange(customers)
            self.amount[i] = rng.randrange(1, 1001)
        self.next_id = orders
        self.live_ids = list(self.customer_of)

    def tables(self) -> dict[str, pa.Table]:
        """The tables as storage keeps a load's batch (``repr.columnar``): integer columns at the narrowest width
        that holds their values (ids and amounts int32 or int16 here), which is what a replica's snapshot reads."""
        columns = {"orders": [list(self.customer_of), list(self.customer_of.values()), list(self.amount.values())],
                   "customers": [list(self.region), list(self.region.values()), list(self.tier.values())]}
        return {name: pa.table({f"c{i}": narrowed(pa.array(values)) for i, values in enumerate(lists)})
                for name, lists in columns.items()}

    def batch(self, t: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """(order updates, customer updates, (deleted ids, inserted rows, changed customers)) at ``t``."""
        rng = self.rng
        positions = rng.sample(range(len(self.live_ids)), 500)
        deleted = [(i, self.customer_of.pop(i), self.amount.pop(i)) for i in (self.live_ids[p] for p in positions)]
        for p in sorted(positions, reverse=True):
            self.live_ids[p] = self.live_ids[-1]
            self.live_ids.pop()
        inserted = []
        for _ in range(500):
            row = (self.next_id, rng.randrange(len(self.region)), rng.randrange(1, 1001))
            self.customer_of[self.next_id], self.amount[self.next_id] = row[1], row[2]
            self.live_ids.append(self.next_id)
            inserted.append(row)
            self.next_id += 1
        customer_updates, changed = [], []
        for cid in rng.sample(range(len(self.region)), 10):
            old = (cid, self.region[cid], self.tier[cid])
            new = (cid, REGIONS[rng.randrange(len(REGIONS))], old[2])
            customer_updates += [(old, t, -1), (new, t, 1)]
            self.region[cid] = new[1]
            changed.append(new)
        order_updates = [(row, t, -1) for row in deleted] + [(row, t, 1) for row in inserted]
        return order_updates, customer_updates, [deleted, inserted, changed]


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Result:
    name: str
    hydration_s: float | None = None
    duck_once_s: float | None = None
    batch_ms: float | None = None
    duck_batch_ms: float | None = None
    note: str = ""
    max_rss_hydrated_mib: int | None = None  # the process's maximum resident set once hydrated (data, DuckDB too)


def duck_view_sql(shape: Shape) -> str:
    sql = shape.duck_sql or shape.sql
    for ddl in shape.setup:  # the materialized view becomes a CTE
        name = ddl.split()[3]
        body = ddl.split(" AS ", 1)[1]
        sql = f"WITH {name} AS ({body}) {sql}"
    return sql


def run_shape(shape: Shape, desc: m.DataflowDescription, names: dict[str, str], args: argparse.Namespace) -> Result:
    data = Data(args.orders, args.customers)
    tables = data.tables()
    ids = {names["orders"]: "orders", names["customers"]: "customers"}
    mv_id = names.get("big_orders")
    duck = duckdb.connect()
    for name, table in tables.items():
        columns = {"orders": ["id", "customer_id", "amount"], "customers": ["id", "region", "tier"]}[name]
        declared = [c.cast(pa.int64()) if pa.types.is_integer(c.type) else c for c in table.columns]  # bigint
        duck.register(f"{name}_arrow", pa.table(dict(zip(columns, declared))))
        duck.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    view_sql = duck_view_sql(shape)

    if mv_id is not None:  # the materialized view's contents, computed by DuckDB (its own dataflow's output), as
        # the replica reads them: its sink's first write is one batch of insertions at one time, which storage keeps
        # as Arrow columns (``repr.columnar``), so its snapshot is read as columns like a loaded table's
        mv_table = duck.execute(shape.setup[0].split(" AS ", 1)[1]).to_arrow_table()
        tables["big_orders"] = pa.table({f"c{i}": narrowed(column.combine_chunks())
                                         for i, column in enumerate(mv_table.columns)})
        ids[mv_id] = "big_orders"
    # as the replica hydrates (compute.snapshots): a loaded table's columns folded by a summing reader, or mapped
    # through its first maps/filters/projections as columns, or else decoded into {row: count}; and, as the replica
    # does (compute.state), with the cyclic GC paused while the snapshots are fed and stepped, and the hydrated
    # state frozen out of later collections (gc.freeze) once the first step is done
    # (rendering the dataflow is timed too: a replica renders it before it hydrates, as DuckDB's one-shot time
    # includes planning the query)
    gc.collect()
    gc.disable()
    started = time.perf_counter()
    rendered = RenderedDataflow(desc, {})
    for source in desc.source_imports:
        table = tables[ids[source.id]]
        consumer = rendered.columnar_consumer(source.id)
        as_columns = consumer is None and rendered.columnar_source(source.id)
        mapper = rendered.columnar_mapper(source.id) if consumer is None and not as_columns else None
        folded = consumer.fold_columns([table]) if consumer is not None else None
        premapped = mapper.apply([table]) if mapper is not None else None
        if as_columns:
            rendered.feed_columns(source.id, [table], {}, desc.as_of, desc.as_of + 1)
        elif folded is not None:
            assert consumer is not None
            consumer.absorb_folded(folded)
            rendered.feed_snapshot(source.id, {}, desc.as_of, desc.as_of + 1)
        elif premapped is not None:
            assert mapper is not None
            rendered.feed_premapped(mapper, premapped, desc.as_of)
            rendered.feed_snapshot(source.id, {}, desc.as_of, desc.as_of + 1)
        else:
            rows: dict[tuple, int] = {}
            for row in zip(*(col.to_pylist() for col in table.columns)):
                rows[row] = rows.get(row, 0) + 1
            rendered.feed_snapshot(source.id, rows, desc.as_of, desc.as_of + 1)
    rendered.step()
    gc.freeze()  # the hydrated state is long-lived: kept out of later collections
    gc.enable()
    hydration = time.perf_counter() - started
    hydrated_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # the process's maximum so far

    started = time.perf_counter()
    duck.execute(view_sql.replace("{mz_now}", str(desc.as_of))).fetchall()
    duck_once = time.perf_counter() - started

    engine_ms: list[float] = []
    duck_ms: list[float] = []
    if mv_id is None:  # the view over a materialized view reads the MV's output: its batches are not modelled
        for b in range(args.batches):
            t = desc.as_of + 1 + b
            order_updates, customer_updates, (deleted, inserted, changed) = data.batch(t)
            started = time.perf_counter()
            for source in desc.source_imports:
                updates = order_updates if ids[source.id] == "orders" else customer_updates
                rendered.feed(source.id, list(updates), t + 1)
            rendered.step()
            engine_ms.append((time.perf_counter() - started) * 1e3)
            started = time.perf_counter()
            duck.execute("DELETE FROM orders WHERE id IN (SELECT unnest(?))", [[r[0] for r in deleted]])
            duck.register("ins", pa.table({"id": [r[0] for r in inserted], "customer_id": [r[1] for r in inserted],
                                           "amount": [r[2] for r in inserted]}))
            duck.execute("INSERT INTO orders SELECT * FROM ins")
            duck.register("chg", pa.table({"id": [r[0] for r in changed], "region": [r[1] for r in changed]}))
            duck.execute("UPDATE customers SET region = chg.region FROM chg WHERE customers.id = chg.id")
            duck.execute(view_sql.replace("{mz_now}", str(t))).fetchall()
            duck_ms.append((time.perf_counter() - started) * 1e3)
    (export,) = desc.index_exports
    now = desc.as_of + args.batches if mv_id is None else desc.as_of
    gc.unfreeze()  # the next shape starts from a clean heap
    gc.collect()
    gc.disable()  # millions of result tuples: no collection walks them while they are built
    try:  # each side normalized as it is read, its raw rows dropped (at 10M rows they were most of the peak RSS)
        ours = normalized(rendered.arrangement(export.index_id).peek(ir.MapFilterProject(export.desc.arity)))
        theirs = normalized(duck.execute(view_sql.replace("{mz_now}", str(now))).fetchall())
        same = ours == theirs
    finally:
        gc.enable()
    if not same:
        raise AssertionError(f"{shape.name}: the engine and DuckDB disagree ({len(ours)} vs {len(theirs)} rows)")
    return Result(shape.name, hydration, duck_once, statistics.median(engine_ms) if engine_ms else None,
                  statistics.median(duck_ms) if duck_ms else None, max_rss_hydrated_mib=hydrated_rss)


def normalized(rows: list[tuple]) -> list[tuple]:
    """``normalize_rows``' sorted multiset with each row's ``(rank, value)`` pairs flattened into one tuple: the same
    equality and order (every pair has two items), a third of the objects."""
    return sorted(tuple(chain.from_iterable(map(normalize_value, row))) for row in rows)


def decode_times(args: argparse.Namespace) -> dict[str, float]:
    """Arrow batch -> {row: count}, per table: what the replica's snapshot read costs a row reader."""
    out = {}
    for name, table in Data(args.orders, args.customers).tables().items():
        started = time.perf_counter()
        rows: dict[tuple, int] = {}
        for row in zip(*(col.to_pylist() for col in table.columns)):
            rows[row] = rows.get(row, 0) + 1
        out[name] = time.perf_counter() - started
    return out


def render_table(results: list[Result], decode: dict[str, float], args: argparse.Namespace, note: str) -> str:
    def fmt(value: float | None, unit: str) -> str:
        if value is None:
            return "–"
        return f"{value:.2f} s" if unit == "s" else f"{value:.1f} ms"

    lines = [
        f"`python bench/shapes.py --orders {args.orders} --customers {args.customers} --batches {args.batches}` "
        f"— {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the end, {time.strftime('%Y-%m-%d')}. {note}".rstrip(),
        "",
        "| shape | hydration | DuckDB one-shot | ratio | per batch | DuckDB apply + recompute | DuckDB / engine |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.note:
            lines.append(f"| {r.name} | {r.note} | | | | | |")
            continue
        ratio = f"{r.hydration_s / r.duck_once_s:.0f}×" if r.hydration_s and r.duck_once_s else "–"
        speed = f"{r.duck_batch_ms / r.batch_ms:.1f}×" if r.batch_ms and r.duck_batch_ms else "–"
        lines.append(f"| {r.name} | {fmt(r.hydration_s, 's')} | {fmt(r.duck_once_s, 's')} | {ratio} | "
                     f"{fmt(r.batch_ms, 'ms')} | {fmt(r.duck_batch_ms, 'ms')} | {speed} |")
    lines += ["", "Snapshot decode (stored Arrow batches to `{row: count}`, paid by every row reader at hydration): "
              + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in decode.items()) + "."]
    return "\n".join(lines)


def write_docs(table: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    heading = "## View shapes"
    section = f"{heading}\n\nHydration and per-batch cost of the engine per view shape, DuckDB in the same run " \
              f"(`bench/shapes.py`; results equal DuckDB's at the end of every shape).\n\n{table}\n"
    if heading in text:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if end == -1 else text[end:])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=None, help="substrings of shape names to run")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    shapes = [s for s in SHAPES if not args.only or any(o in s.name for o in args.only)]
    # what a replica's warm-up thread does while it connects (``compute.server``): Arrow's lazy set-up and
    # pyarrow's one-time pandas probe, paid otherwise by whichever shape first builds an array from Python values
    prepare_columns()
    pa.array([0, None])
    planned = asyncio.run(plan_shapes(shapes))
    results = []
    for shape in shapes:
        desc, names, error = planned[shape.name]
        if desc is None:
            results.append(Result(shape.name, note=f"refused: {error}"))
        else:
            results.append(run_shape(shape, desc, names, args))
        print(results[-1], flush=True)
    decode = decode_times(args)
    table = render_table(results, decode, args, args.note)
    print(table)
    print(f"RSS at the end {psutil.Process().memory_info().rss / 2**20:.0f} MiB, maximum "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if not args.no_docs:
        write_docs(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
