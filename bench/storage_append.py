"""Benchmark: shard appends as one blob per batch (the SQLite ShardStore) vs one row per update.

Both variants run in this process against SQLite files in the same temp directory with the same pragmas
(WAL, the same ``synchronous`` mode) and the same compare-and-append protocol (``BEGIN IMMEDIATE``, read
and check the upper, insert, move the upper, ``COMMIT``).  Only the layout differs: the store encodes
the whole batch into one blob row; the baseline inserts each update as its own row (row encoded alone).

Prints appends/s, updates/s and commit latency (median, p99) per batch size and synchronous mode, plus
the cost of a ``listen`` poll that finds nothing new.

    python bench/storage_append.py [--seconds 1.0] [--batches 1,100,1000] [--sync normal,full]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from steadystate.repr.codec import encode_rows
from steadystate.storage.sqlite_store import SqliteShardStore

Update = tuple[tuple, int, int]


def make_batch(time_: int, size: int) -> list[Update]:
    return [((time_ * size + i, f"customer-{i % 97}", i * 1.5), time_, 1) for i in range(size)]


class RowPerUpdateBaseline:
    """The same compare-and-append, but one SQLite row per update."""

    def __init__(self, path: str, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        self.conn.execute("CREATE TABLE shards (name TEXT PRIMARY KEY, upper_ts INTEGER)")
        self.conn.execute("CREATE TABLE updates (shard TEXT, row BLOB, time INTEGER, diff INTEGER)")
        self.conn.execute("CREATE INDEX updates_by_time ON updates (shard, time)")
        self.conn.execute("INSERT INTO shards VALUES ('s', 0)")

    def compare_and_append(self, shard: str, updates: list[Update], expected: int, new: int) -> None:
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        (actual,) = cur.execute("SELECT upper_ts FROM shards WHERE name = ?", (shard,)).fetchone()
        if actual != expected:
            cur.execute("ROLLBACK")
            raise RuntimeError("upper mismatch")
        cur.executemany(
            "INSERT INTO updates VALUES (?, ?, ?, ?)",
            [(shard, encode_rows([row]), t, d) for row, t, d in updates],
        )
        cur.execute("UPDATE shards SET upper_ts = ? WHERE name = ?", (new, shard))
        cur.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def run(append: Callable[[str, list[Update], int, int], None], batch_size: int, seconds: float) -> dict:
    latencies: list[float] = []
    batches = [make_batch(t, batch_size) for t in range(64)]
    upper = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        updates = [(row, upper, diff) for row, _t, diff in batches[upper % len(batches)]]
        started = time.perf_counter()
        append("s", updates, upper, upper + 1)
        latencies.append(time.perf_counter() - started)
        upper += 1
    total = sum(latencies)
    latencies.sort()
    return {
        "appends_per_s": len(latencies) / total,
        "updates_per_s": len(latencies) * batch_size / total,
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--batches", default="1,100,1000")
    parser.add_argument("--sync", default="normal,full")
    args = parser.parse_args()
    header = f"{'sync':6} {'batch':>6} {'layout':15} {'appends/s':>10} {'updates/s':>11} {'median ms':>10} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(dir=Path.home() if Path.home().exists() else None) as directory:
        for sync in args.sync.split(","):
            for batch_size in (int(b) for b in args.batches.split(",")):
                tag = f"{sync}-{batch_size}"
                store = SqliteShardStore(f"{directory}/blob-{tag}.db", synchronous=sync)
                store.create_shard("s")
                baseline = RowPerUpdateBaseline(f"{directory}/rows-{tag}.db", sync)
                for name, append in (("blob-per-batch", store.compare_and_append), ("row-per-update", baseline.compare_and_append)):
                    r = run(append, batch_size, args.seconds)
                    print(
                        f"{sync:6} {batch_size:>6} {name:15} {r['appends_per_s']:>10.0f} {r['updates_per_s']:>11.0f} "
                        f"{r['median_ms']:>10.3f} {r['p99_ms']:>8.3f}"
                    )
                polls = 2000
                upper = store.upper("s")
                started = time.perf_counter()
                for _ in range(polls):
                    store.listen("s", upper)
                poll_us = (time.perf_counter() - started) / polls * 1e6
                print(f"{sync:6} {batch_size:>6} {'listen (idle)':15} {poll_us:>10.1f} us per poll")
                store.close()
                baseline.close()


if __name__ == "__main__":
    main()
