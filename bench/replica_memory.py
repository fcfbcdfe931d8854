"""Replica memory against the Arrow size of the data it holds (issue 12: "no more than 3x; report both").

    python bench/replica_memory.py [--rows 1000000] [--shapes wide,narrow]

A real server (``steadystate serve --insecure`` in a temporary data directory, one replica process, as
``bench/results.py`` starts it).  For each shape a table of ``--rows`` rows is loaded through ``COPY FROM STDIN``
and indexed, so the replica holds it as an index arrangement:

* ``wide``: ``bench/results.py``'s table ``(id bigint, name text, amount numeric(12,2), at timestamp, flag boolean,
  score double precision)``, index on ``id``;
* ``narrow``: ``(id bigint, k integer, v bigint)`` (a fact table's ids and measures), index on ``id``.

Measured on the replica process only (found by its command line, as the orchestrator finds it): its resident set
(``VmRSS`` in ``/proc/<pid>/status``) before the table exists, once the index is hydrated (a lookup in it answered),
and after a ``SELECT *`` of the whole index (sent from the arrangement's Arrow runs, ``dataflow.arrangement_runs``);
and its peak (``VmHWM``, reset through ``/proc/<pid>/clear_refs`` before each phase) while the table is loaded and
indexed, during a ``SELECT count(*)`` and during the ``SELECT *`` (a query's own working memory on top).  The Arrow size is that of the same rows as the replica's peeks type them
(``repr.arrow_rows.rows_to_batch``: int64, large_string, decimal128, timestamp[us], bool, float64), computed in
this process.  Each shape runs on a fresh server, so one shape's memory is not left in the next one's figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import Steadystate, copy_text, rows as wide_rows  # noqa: E402

from steadystate.repr import arrow_rows  # noqa: E402

MB = 1024 * 1024


def narrow_rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        yield (i, i % 50_000, i * 7 % 1_000_003)


def narrow_copy(n: int) -> Iterator[bytes]:
    block: list[str] = []
    for i, k, v in narrow_rows(n):
        block.append(f"{i}\t{k}\t{v}\n")
        if len(block) == 50_000:
            yield "".join(block).encode()
            block = []
    yield "".join(block).encode()


#: shape -> (columns, the COPY text blocks of n rows, the rows as the replica holds them)
SHAPES: dict[str, tuple[str, Callable[[int], Iterator[bytes]], Callable[[int], Iterator[tuple[Any, ...]]]]] = {
    "wide": ("id bigint, name text, amount numeric(12,2), at timestamp, flag boolean, score double precision",
             copy_text, wide_rows),
    "narrow": ("id bigint, k integer, v bigint", narrow_copy, narrow_rows),
}


def replica_process(server: Steadystate) -> psutil.Process:
    replicas = [p for p in server.processes() if "replica" in (p.cmdline() or [])]
    if len(replicas) != 1:
        raise RuntimeError(f"expected one replica process, found {len(replicas)}")
    return replicas[0]


def vm_rss(pid: int, field: str = "VmRSS") -> int:
    """The resident set in bytes, as ``/proc/<pid>/status`` says (``VmRSS``, in kB; ``VmHWM``: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field}")


def reset_peak(pid: int) -> None:
    """Start ``VmHWM`` again from the current resident set (``clear_refs`` 5, Linux 4.0+: the process's owner may)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def settled_rss(pid: int) -> int:
    """The resident set once it stops moving (the replica finishes background work, e.g. loading pyarrow)."""
    previous = -1
    for _ in range(30):
        current = vm_rss(pid)
        if previous >= 0 and abs(current - previous) < MB:
            return current
        previous = current
        time.sleep(0.5)
    return vm_rss(pid)


def arrow_bytes(rows: Iterator[tuple[Any, ...]], n: int) -> int:
    total, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == 100_000:
            batch = arrow_rows.rows_to_batch(chunk)
            assert batch is not None
            total += batch.nbytes
            chunk = []
    if chunk:
        batch = arrow_rows.rows_to_batch(chunk)
        assert batch is not None
        total += batch.nbytes
    return total


def measure(shape: str, n: int) -> dict[str, float]:
    columns, blocks, rows = SHAPES[shape]
    root = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    server = Steadystate(root)
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("SET max_result_size = '4GB'")
            conn.execute("SELECT 1").fetchone()
            replica = replica_process(server)
            before = settled_rss(replica.pid)
            reset_peak(replica.pid)
            conn.execute(f"CREATE TABLE t ({columns})")
            with conn.cursor().copy("COPY t FROM STDIN") as copy:
                for block in blocks(n):
                    copy.write(block)
            conn.execute("CREATE INDEX t_id ON t (id)")
            # a lookup in the index answers once it is hydrated (it reads at a time the index must reach)
            assert conn.execute("SELECT id FROM t WHERE id = 1").fetchall() == [(1,)]
            hydrated = settled_rss(replica.pid)
            hydration_peak = vm_rss(replica.pid, "VmHWM")
            reset_peak(replica.pid)
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (n,)
            count_peak = vm_rss(replica.pid, "VmHWM")
            settled_rss(replica.pid)
            reset_peak(replica.pid)
            with conn.cursor(binary=True) as cursor:
                cursor.execute("SELECT * FROM t")
                assert len(cursor.fetchall()) == n
            after_select = settled_rss(replica.pid)
            select_peak = vm_rss(replica.pid, "VmHWM")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return {"before": before, "hydrated": hydrated, "after_select": after_select, "hydration_peak": hydration_peak,
            "count_peak": count_peak,
            "select_peak": select_peak, "arrow": arrow_bytes(rows(n), n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shapes", default="wide,narrow")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, "
          f"{args.rows:,} rows")
    print("| shape | Arrow size MB | replica RSS before MB | hydrated MB | (growth / Arrow) | after SELECT * MB "
          "| (growth / Arrow) | (RSS / Arrow) | peak: loading and hydrating MB | (peak / Arrow) | peak: count(*) MB "
          "| (peak / Arrow) | peak: SELECT * MB | (peak / Arrow) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for shape in args.shapes.split(","):
        figures = measure(shape, args.rows)
        arrow = figures["arrow"]
        grown, selected = figures["hydrated"] - figures["before"], figures["after_select"] - figures["before"]
        print(f"| {shape} | {arrow / MB:.1f} | {figures['before'] / MB:.0f} | {figures['hydrated'] / MB:.0f} | "
              f"{grown / arrow:.1f}x | {figures['after_select'] / MB:.0f} | {selected / arrow:.1f}x | "
              f"{figures['after_select'] / arrow:.1f}x | {figures['hydration_peak'] / MB:.0f} | "
              f"{figures['hydration_peak'] / arrow:.1f}x | {figures['count_peak'] / MB:.0f} | "
              f"{figures['count_peak'] / arrow:.1f}x | {figures['select_peak'] / MB:.0f} | "
              f"{figures['select_peak'] / arrow:.1f}x |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
