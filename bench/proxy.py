"""What the supervisor's pgwire proxy costs: the same work through the proxy and directly to the coordinator.

    python bench/proxy.py [--queries 1000] [--rows 1000000] [--rounds 3]

One ``steadystate serve`` (the e2e ``Environment``).  Clients connect either to the public SQL port (the
supervisor's proxy, which carries the connection over to the coordinator) or *directly* to the coordinator's
internal loopback port (found from the coordinator process's listening sockets), and run, alternating
proxied and direct in each of ``--rounds`` rounds:

* ``--queries`` trivial queries (``SELECT 1``) one after another on one connection: the per-query round trip;
* ``COPY t FROM STDIN`` of ``--rows`` two-column rows (psycopg ``write_row``): bulk client-to-server data;
* ``COPY (SELECT k, v FROM t) TO STDOUT`` of the same rows: bulk server-to-client data.

The best time of the rounds is printed for each, with the proxy's overhead in percent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from conftest import Environment  # noqa: E402


def coordinator_port(env: Environment) -> int:
    coordinator = psutil.Process(env.coordinator_pid())
    ports = {c.laddr.port for c in coordinator.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    (port,) = ports - {env.http_port}
    return port


def trivial_queries(dsn: str, queries: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        for _ in range(queries):
            conn.execute("SELECT 1").fetchall()
        return time.perf_counter() - started


def copy_in(dsn: str, rows: int, table: str) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (k int, v int)")
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for k in range(rows):
                copy.write_row((k, k % 1000))
        return time.perf_counter() - started


def copy_out(dsn: str, rows: int, table: str) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        received = 0
        with conn.cursor().copy(f"COPY (SELECT k, v FROM {table}) TO STDOUT") as copy:
            for block in copy:
                received += bytes(block).count(b"\n")
        elapsed = time.perf_counter() - started
        assert received == rows, (received, rows)
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steadystate-proxy-") as tmp:
        env = Environment(Path(tmp) / "data")
        env.start()
        try:
            plain = env.dsn + " sslmode=disable"  # the proxy's own cost: the coordinator speaks no TLS
            dsns = {"proxy": plain,
                    "direct": plain.replace(f"port={env.sql_port}", f"port={coordinator_port(env)}")}
            best: dict[tuple[str, str], float] = {}
            for round_ in range(args.rounds):
                for path, dsn in dsns.items():
                    table = f"t_{path}_{round_}"
                    work: dict[str, Callable[[], float]] = {
                        f"{args.queries} x SELECT 1": lambda d=dsn: trivial_queries(d, args.queries),
                        f"COPY FROM STDIN, {args.rows:,} rows": lambda d=dsn, t=table: copy_in(d, args.rows, t),
                        f"COPY TO STDOUT, {args.rows:,} rows": lambda d=dsn, t=table: copy_out(d, args.rows, t),
                    }
                    for name, run in work.items():
                        elapsed = run()
                        best[(name, path)] = min(elapsed, best.get((name, path), float("inf")))
                        print(f"round {round_ + 1} {path:>6}: {name}: {elapsed:.3f} s", flush=True)
        finally:
            env.stop()
            env.reap_replicas()
    print("\n| work | direct (s) | through the proxy (s) | overhead |\n|---|---:|---:|---:|")
    for name in dict.fromkeys(name for name, _ in best):
        direct, proxied = best[(name, "direct")], best[(name, "proxy")]
        print(f"| {name} | {direct:.3f} | {proxied:.3f} | {100 * (proxied / direct - 1):+.0f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
