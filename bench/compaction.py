"""Benchmark: what table shard compaction saves a replica that hydrates after a history of small writes.

    python bench/compaction.py [--rows 10000] [--writes 20000] [--no-docs]

Two fresh ``steadystate serve`` processes run in the same run, one with compaction off
(``--compaction-interval 0``) and one with it on (a round every 0.5 s, ``since`` 2 s behind the clock). Each gets
``t(k int, v int)`` loaded with ``--rows`` rows by ``COPY``, then ``--writes`` small write transactions that slide a
window over the table (insert a new row, delete the oldest: a queue, or a table of recent events), each its own
batch in the shard: the live data stays ``--rows`` rows while the history grows with every write. When the compacting server's
shard has settled, both create a view over the table with an index and measure its **hydration** (from ``CREATE
INDEX`` until the index is hydrated and answers), with the shard's batches and stored updates
(``mz_internal.mz_storage_shards``) beside it. The two answers must be equal. The write latency of both is reported
too (median and p99): compaction merges in the coordinator's process, in a thread.

The table is printed and written as the "Shard compaction" section of ``docs/benchmarks.md`` unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import datetime
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR / "tests" / "e2e"))

from conftest import Environment  # noqa: E402

DOCS = ROOT_DIR / "docs" / "benchmarks.md"
BEGIN_MARK, END_MARK = "<!-- compaction:begin -->", "<!-- compaction:end -->"
VARIANTS = {"off": ("--compaction-interval", "0"),
            "on": ("--compaction-interval", "0.5", "--compaction-lag-ms", "2000")}


def shard_stats(conn: psycopg.Connection) -> tuple[int, int]:
    (row,) = conn.execute("SELECT s.batches, s.updates FROM mz_internal.mz_storage_shards s "
                          "JOIN mz_catalog.mz_tables t ON s.object_id = t.id WHERE t.name = 't'").fetchall()
    return row


def hydrate(conn: psycopg.Connection) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    conn.execute("CREATE INDEX tv_k ON tv (g)")
    (index_id,) = conn.execute("SELECT id FROM mz_catalog.mz_objects WHERE name = 'tv_k'").fetchone()
    while True:
        statuses = conn.execute("SELECT hydrated FROM mz_internal.mz_hydration_statuses WHERE object_id = %s",
                                (index_id,)).fetchall()
        if statuses and all(s[0] for s in statuses):
            break
        time.sleep(0.002)
    answer = sorted(conn.execute("SELECT * FROM tv").fetchall())
    return time.perf_counter() - started, answer


def run(rows: int, writes: int, seed: int = 3) -> dict[str, dict]:
    results: dict[str, dict] = {}
    workdir = Path(tempfile.mkdtemp(prefix="ss-compaction-"))
    envs = {name: Environment(workdir / name, flags) for name, flags in VARIANTS.items()}
    try:
        conns = {}
        for name, env in envs.items():
            env.start()
            conn = conns[name] = env.connect(autocommit=True)
            conn.execute("CREATE TABLE t (k int, v int)")
            with conn.cursor().copy("COPY t FROM STDIN") as copy:
                for i in range(rows):
                    copy.write(f"{i}\t{i % 1000}\n")
            conn.execute("CREATE VIEW tv AS SELECT k % 100 AS g, count(*) AS n, sum(v) AS s FROM t GROUP BY k % 100")
            results[name] = {"latency_ms": []}
        rng = random.Random(seed)
        for n in range(writes):
            value = rng.randrange(1000)
            for name, conn in conns.items():  # interleaved, so both see the same machine load
                started = time.perf_counter()
                with conn.transaction():
                    conn.execute(f"INSERT INTO t VALUES ({rows + n}, {value})")
                    conn.execute(f"DELETE FROM t WHERE k = {n}")
                results[name]["latency_ms"].append((time.perf_counter() - started) * 1000)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and shard_stats(conns["on"])[0] > 20:
            time.sleep(0.2)
        for name, conn in conns.items():
            results[name]["batches"], results[name]["updates"] = shard_stats(conn)
            results[name]["hydration_s"], results[name]["answer"] = hydrate(conn)
            conn.close()
    finally:
        for env in envs.values():
            env.kill9()
            env.reap_replicas()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def table(results: dict[str, dict], rows: int, writes: int) -> str:
    lines = ["| compaction | batches in the shard | updates stored | index hydration s | write ms (median / p99) |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        latency = r["latency_ms"]
        p99 = sorted(latency)[int(0.99 * (len(latency) - 1))]
        lines.append(f"| {name} | {r['batches']:,} | {r['updates']:,} | {r['hydration_s']:.2f} "
                     f"| {statistics.median(latency):.1f} / {p99:.1f} |")
    same = results["off"]["answer"] == results["on"]["answer"]
    ratio = results["off"]["hydration_s"] / results["on"]["hydration_s"]
    return "\n".join(lines) + (f"\n\n{rows:,} loaded rows, then {writes:,} write transactions (insert a row, delete "
                               f"the oldest). Hydration with compaction: {ratio:.1f}x faster; the two answers "
                               f"{'are equal' if same else 'DIFFER'}.")


def write_docs(text: str, args: argparse.Namespace) -> None:
    generated = "\n".join([
        BEGIN_MARK,
        f"Run: `python bench/compaction.py --rows {args.rows} --writes {args.writes}` — "
        f"{datetime.date.today().isoformat()}.",
        "",
        text,
        END_MARK,
    ])
    content = DOCS.read_text()
    if BEGIN_MARK in content and END_MARK in content:
        head, rest = content.split(BEGIN_MARK, 1)
        content = head + generated + rest.split(END_MARK, 1)[1]
    else:
        content = content.rstrip("\n") + "\n\n## Shard compaction (`bench/compaction.py`)\n\n" + generated + "\n"
    DOCS.write_text(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    results = run(args.rows, args.writes)
    text = table(results, args.rows, args.writes)
    print(text)
    if not args.no_docs:
        write_docs(text, args)
    if results["off"]["answer"] != results["on"]["answer"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
