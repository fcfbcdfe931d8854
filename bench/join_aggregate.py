"""End-to-end benchmark: a maintained join + aggregate through the real server, against DuckDB in the same run.

For each fact size (default 100k, 1M, 3M rows) with a 10k-row dimension table, the script starts a fresh
``steadystate serve`` (coordinator + replica processes) in a temporary directory and:

1. loads ``fact(id int, dim_id int, amount int)`` and ``dim(id int, region text)`` with ``COPY ... FROM STDIN``;
2. creates ``v`` (``SELECT d.region, count(*), sum(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id GROUP BY
   d.region``) and an index on it, and measures **hydration**: from ``CREATE INDEX`` until
   ``mz_internal.mz_hydration_statuses`` says hydrated and a ``SELECT`` answers — against DuckDB's one-shot
   evaluation of the same query on the same data; a sampler thread records the replica process's peak RSS;
3. applies N write batches, each ONE transaction of 500 ``DELETE FROM fact WHERE id IN (...)`` ids, 500 inserted
   fact rows and 10 ``UPDATE dim SET region = ... WHERE id = ...``, and measures per batch: the write
   acknowledgement (BEGIN .. COMMIT acknowledged), the freshness (COMMIT acknowledged until a ``SELECT`` on the index
   equals the expected result, maintained here in Python), the replica's engine time (from
   ``mz_internal.mz_replica_step_times``), and DuckDB's apply-batch + full recomputation time;
4. drops the index and creates it again, measuring that second hydration (the load read as columns, the batches'
   writes as rows) against DuckDB's one-shot evaluation on the data as it is then;
5. checks the final view against DuckDB (prints FAIL if they differ), prints a table, and rewrites the generated
   part of ``docs/benchmarks.md`` (between the ``join_aggregate`` markers).

Usage: ``python bench/join_aggregate.py [--rows 100000,1000000,3000000] [--batches 100] [--no-docs]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psutil
import psycopg
import pyarrow as pa

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR / "tests" / "e2e"))

from conftest import Environment  # noqa: E402

DIM_ROWS = 10_000
REGIONS = [f"region-{i:02d}" for i in range(20)]
DELETES, INSERTS, DIM_UPDATES = 500, 500, 10
VIEW_SQL = ("SELECT d.region, count(*), sum(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id "
            "GROUP BY d.region")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN_MARK, END_MARK = "<!-- join_aggregate:begin -->", "<!-- join_aggregate:end -->"


# ---------------------------------------------------------------------------------------------- the server


class Server(Environment):
    """One ``steadystate serve`` process on free ports in its own data directory (the e2e tests' environment)."""

    def pids(self) -> list[int]:
        return list(self.replica_pids().values())


class RssSampler(threading.Thread):
    """Samples the RSS of the given processes every 50 ms and keeps the peak of their sum."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total = 0
            for process in self.processes:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, total)
            self.stopped.wait(0.05)


class StepTimes:
    """Collects new entries of ``mz_replica_step_times`` (a rolling window of recent steps) across polls."""

    def __init__(self) -> None:
        self.previous: list[float] = []
        self.collected: list[float] = []

    def poll(self, conn: psycopg.Connection) -> None:
        rows = conn.execute("SELECT replica_id, seq, step_ms FROM mz_internal.mz_replica_step_times").fetchall()
        replica = min((r[0] for r in rows), default=None)
        current = [ms for rid, _seq, ms in sorted(rows, key=lambda r: (r[0], r[1])) if rid == replica]
        old = self.previous
        new = current
        for shift in range(len(old) + 1):  # longest suffix of old that is a prefix of current
            tail = old[shift:]
            if current[: len(tail)] == tail:
                new = current[len(tail):]
                break
        self.collected.extend(new)
        self.previous = current


# ---------------------------------------------------------------------------------------------- the data


@dataclass
class Model:
    """The expected contents, kept incrementally: fact rows, dim regions, per-dim count/sum, per-region totals."""

    fact: dict[int, tuple[int, int]]
    dim: list[str]
    dim_count: list[int] = field(default_factory=list)
    dim_sum: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dim_count = [0] * len(self.dim)
        self.dim_sum = [0] * len(self.dim)
        for dim_id, amount in self.fact.values():
            self.dim_count[dim_id] += 1
            self.dim_sum[dim_id] += amount

    def view(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = {}
        for dim_id, region in enumerate(self.dim):
            if self.dim_count[dim_id]:
                entry = out.setdefault(region, [0, 0])
                entry[0] += self.dim_count[dim_id]
                entry[1] += self.dim_sum[dim_id]
        return {region: (c, s) for region, (c, s) in out.items()}

    def delete(self, fact_id: int) -> None:
        dim_id, amount = self.fact.pop(fact_id)
        self.dim_count[dim_id] -= 1
        self.dim_sum[dim_id] -= amount

    def insert(self, fact_id: int, dim_id: int, amount: int) -> None:
        self.fact[fact_id] = (dim_id, amount)
        self.dim_count[dim_id] += 1
        self.dim_sum[dim_id] += amount


def _as_view(rows: list[tuple]) -> dict[str, tuple[int, int]]:
    return {region: (int(count), int(total)) for region, count, total in rows}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _copy_rows(conn: psycopg.Connection, statement: str, lines: list[str]) -> None:
    with conn.cursor() as cur, cur.copy(statement) as copy:
        chunk = 50_000
        for start in range(0, len(lines), chunk):
            copy.write("".join(lines[start:start + chunk]))


# ---------------------------------------------------------------------------------------------- one size


@dataclass
class Result:
    rows: int
    batches: int
    load_s: float = 0.0
    hydration_s: float = 0.0
    hydration_reported_s: float | None = None
    duck_oneshot_s: float = 0.0
    rehydration_s: float = 0.0
    rehydration_reported_s: float | None = None
    duck_after_s: float = 0.0
    peak_rss_mb: float = 0.0
    ack_ms: list[float] = field(default_factory=list)
    commit_ms: list[float] = field(default_factory=list)
    fresh_ms: list[float] = field(default_factory=list)
    engine_ms: list[float] = field(default_factory=list)
    duck_ms: list[float] = field(default_factory=list)
    agree: bool = False
    stale_reads: int = 0


def _hydrate(conn: psycopg.Connection, index: str) -> tuple[float, float | None, dict]:
    """Create ``index`` on ``v`` and wait until it is hydrated and a SELECT answers: (seconds, the replica's
    reported hydration time, the answer)."""
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX {index} ON v (region)")
    index_id = conn.execute("SELECT id FROM mz_catalog.mz_objects WHERE name = %s", (index,)).fetchone()
    while True:
        statuses = conn.execute(
            "SELECT hydrated, hydration_time FROM mz_internal.mz_hydration_statuses WHERE object_id = %s",
            (index_id[0] if index_id else "",)).fetchall() if index_id else []
        if statuses and all(s[0] for s in statuses):
            break
        if not index_id and conn.execute("SELECT * FROM v").fetchall():
            break
        time.sleep(0.002)  # a coarser poll would add up to its interval to a ~50 ms measurement
    answer = _as_view(conn.execute("SELECT * FROM v").fetchall())
    elapsed = time.perf_counter() - started
    reported = float(statuses[0][1]) if statuses and statuses[0][1] is not None else None
    return elapsed, reported, answer


def run_size(rows: int, batches: int, seed: int = 7) -> Result:
    rng = random.Random(seed)
    result = Result(rows, batches)
    dim = [REGIONS[rng.randrange(len(REGIONS))] for _ in range(DIM_ROWS)]
    fact_dim = [rng.randrange(DIM_ROWS) for _ in range(rows)]
    fact_amount = [rng.randrange(1, 1000) for _ in range(rows)]
    model = Model({i: (fact_dim[i], fact_amount[i]) for i in range(rows)}, list(dim))

    db = duckdb.connect()
    db.execute("CREATE TABLE fact (id INTEGER, dim_id INTEGER, amount INTEGER)")
    db.execute("CREATE TABLE dim (id INTEGER, region TEXT)")
    db.register("dim_arrow", pa.table({"id": list(range(DIM_ROWS)), "region": dim}))
    db.execute("INSERT INTO dim SELECT * FROM dim_arrow")
    db.register("fact_arrow", pa.table({"id": list(range(rows)), "dim_id": fact_dim, "amount": fact_amount}))
    db.execute("INSERT INTO fact SELECT * FROM fact_arrow")
    db.unregister("fact_arrow")
    started = time.perf_counter()
    db.execute(VIEW_SQL).fetchall()
    result.duck_oneshot_s = time.perf_counter() - started

    workdir = Path(tempfile.mkdtemp(prefix="ss-bench-"))
    server = Server(workdir / "data")
    sampler: RssSampler | None = None
    try:
        server.start()
        conn = server.connect()
        conn.execute("CREATE TABLE fact (id int, dim_id int, amount int)")
        conn.execute("CREATE TABLE dim (id int, region text)")
        started = time.perf_counter()
        _copy_rows(conn, "COPY dim FROM STDIN", [f"{i}\t{r}\n" for i, r in enumerate(dim)])
        _copy_rows(conn, "COPY fact FROM STDIN",
                   [f"{i}\t{fact_dim[i]}\t{fact_amount[i]}\n" for i in range(rows)])
        result.load_s = time.perf_counter() - started
        del fact_dim, fact_amount
        conn.execute(f"CREATE VIEW v AS {VIEW_SQL}")

        pids = server.pids()
        sampler = RssSampler(pids)
        sampler.start()
        result.hydration_s, result.hydration_reported_s, answer = _hydrate(conn, "v_region")
        if answer != model.view():
            print(f"  FAIL: hydrated view differs from the expected result at {rows} rows", flush=True)

        steps = StepTimes()
        steps.poll(conn)
        next_id = rows
        live = list(model.fact)
        for b in range(batches):
            positions = sorted(rng.sample(range(len(live)), DELETES), reverse=True)
            deleted = []
            for p in positions:
                deleted.append(live[p])
                live[p] = live[-1]
                live.pop()
            inserted = [(next_id + k, rng.randrange(DIM_ROWS), rng.randrange(1, 1000)) for k in range(INSERTS)]
            next_id += INSERTS
            live.extend(r[0] for r in inserted)
            dim_changes = [(d, REGIONS[rng.randrange(len(REGIONS))]) for d in rng.sample(range(DIM_ROWS), DIM_UPDATES)]

            delete_sql = f"DELETE FROM fact WHERE id IN ({', '.join(map(str, deleted))})"
            insert_sql = "INSERT INTO fact VALUES " + ", ".join(f"({i}, {d}, {a})" for i, d, a in inserted)
            update_sqls = [f"UPDATE dim SET region = '{r}' WHERE id = {d}" for d, r in dim_changes]

            started = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute(delete_sql)
            conn.execute(insert_sql)
            for sql in update_sqls:
                conn.execute(sql)
            commit_started = time.perf_counter()
            conn.execute("COMMIT")
            acked = time.perf_counter()
            result.ack_ms.append((acked - started) * 1000)
            result.commit_ms.append((acked - commit_started) * 1000)

            for fact_id in deleted:
                model.delete(fact_id)
            for fact_id, d, a in inserted:
                model.insert(fact_id, d, a)
            for d, r in dim_changes:
                model.dim[d] = r
            expected = model.view()
            while True:
                got = _as_view(conn.execute("SELECT * FROM v").fetchall())
                if got == expected:
                    break
                result.stale_reads += 1
                if time.perf_counter() - acked > 60:
                    print(f"  FAIL: batch {b} not reflected after 60 s", flush=True)
                    break
            result.fresh_ms.append((time.perf_counter() - acked) * 1000)

            started = time.perf_counter()
            db.execute("DELETE FROM fact WHERE id IN (SELECT unnest(?))", [deleted])
            db.register("batch_fact", pa.table({"id": [r[0] for r in inserted], "dim_id": [r[1] for r in inserted],
                                                "amount": [r[2] for r in inserted]}))
            db.execute("INSERT INTO fact SELECT * FROM batch_fact")
            db.register("batch_dim", pa.table({"id": [d for d, _ in dim_changes], "region": [r for _, r in dim_changes]}))
            db.execute("UPDATE dim SET region = b.region FROM batch_dim b WHERE dim.id = b.id")
            db.execute(VIEW_SQL).fetchall()
            result.duck_ms.append((time.perf_counter() - started) * 1000)
            if b % 10 == 9:
                steps.poll(conn)

        time.sleep(1.2)  # the replica reports its status (with the step window) about once a second
        steps.poll(conn)
        # the batch steps are the largest new steps (the others only advance frontiers)
        result.engine_ms = sorted(steps.collected, reverse=True)[:batches]

        # a replica that hydrates now reads the load as columns and the batches' writes as rows
        conn.execute("DROP INDEX v_region")
        result.rehydration_s, result.rehydration_reported_s, answer = _hydrate(conn, "v_region_again")
        started = time.perf_counter()
        db.execute(VIEW_SQL).fetchall()
        result.duck_after_s = time.perf_counter() - started
        if answer != model.view():
            print(f"  FAIL: view hydrated after the batches differs from the expected result at {rows} rows", flush=True)

        final = _as_view(conn.execute("SELECT * FROM v").fetchall())
        duck_final = _as_view(db.execute(VIEW_SQL).fetchall())
        result.agree = final == duck_final == model.view()
        if not result.agree:
            print(f"  FAIL: final view differs from DuckDB at {rows} rows", flush=True)
        conn.close()
    finally:
        if sampler is not None:
            sampler.stopped.set()
            sampler.join()
            result.peak_rss_mb = sampler.peak / 2**20
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------------------------- reporting


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {percentile(values, 0.95):.1f}" if values else "n/a"


def table(results: list[Result]) -> str:
    lines = [
        "| fact rows | load (COPY) s | hydration s (replica-reported) | DuckDB one-shot s | hydration / DuckDB "
        "| peak replica RSS MB | write ack ms (median / p95) | COMMIT alone ms | freshness ms | engine ms per batch "
        "| DuckDB apply+recompute ms | DuckDB / engine (median) | hydration after the batches s (DuckDB s) | agree |",
        "|" + "---|" * 14,
    ]
    for r in results:
        reported = f" ({r.hydration_reported_s:.2f})" if r.hydration_reported_s is not None else ""
        after = f"{r.rehydration_s:.2f} ({r.duck_after_s:.3f}, {r.rehydration_s / r.duck_after_s:.0f}x)"
        ratio = statistics.median(r.duck_ms) / statistics.median(r.engine_ms) if r.engine_ms else float("nan")
        lines.append(
            f"| {r.rows:,} | {r.load_s:.1f} | {r.hydration_s:.2f}{reported} | {r.duck_oneshot_s:.3f} "
            f"| {r.hydration_s / r.duck_oneshot_s:.0f}x | {r.peak_rss_mb:.0f} | {_fmt(r.ack_ms)} | {_fmt(r.commit_ms)} "
            f"| {_fmt(r.fresh_ms)} | {_fmt(r.engine_ms)} | {_fmt(r.duck_ms)} | {ratio:.2f}x | {after} "
            f"| {'yes' if r.agree else 'FAIL'} |"
        )
    return "\n".join(lines)


def machine_facts(note: str) -> str:
    load = os.getloadavg()
    facts = (f"{datetime.date.today().isoformat()}, {platform.platform()}, Python {platform.python_version()}, "
             f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
             f"DuckDB {duckdb.__version__}, load average at the end {load[0]:.2f}")
    return facts + (f". {note}" if note else "")


def write_docs(results: list[Result], batches: int, note: str) -> None:
    generated = "\n".join([
        BEGIN_MARK,
        f"Run: `python bench/join_aggregate.py --rows {','.join(str(r.rows) for r in results)} --batches {batches}` "
        f"— {machine_facts(note)}.",
        "",
        table(results),
        "",
        "Per-batch figures are median / p95 over the batches. Each batch is one transaction of "
        f"{DELETES} deletes (`DELETE ... WHERE id IN (...)`), {INSERTS} inserts (one multi-row `INSERT`) and "
        f"{DIM_UPDATES} `UPDATE dim ... WHERE id = ...`.",
        END_MARK,
    ])
    text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{BEGIN_MARK}\n{END_MARK}\n"
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        tail = rest.split(END_MARK, 1)[1]
        text = head + generated + tail
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,1000000,3000000", help="comma-separated fact table sizes")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a remark for the docs (e.g. other work running on the machine)")
    args = parser.parse_args()
    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        print(f"fact rows {rows:,} ...", flush=True)
        results.append(run_size(rows, args.batches))
        print(table(results[-1:]), flush=True)
    print()
    print(table(results))
    if not args.no_docs:
        write_docs(results, args.batches, args.note)
        print(f"wrote {DOCS}")
    if not all(r.agree for r in results):
        print("FAIL: the maintained view disagrees with DuckDB")
        sys.exit(1)


if __name__ == "__main__":
    main()
