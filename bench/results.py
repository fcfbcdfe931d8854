"""Results benchmark: how fast a large ``SELECT`` reaches the client, against PostgreSQL in the same run.

    python bench/results.py [--sizes 100000,1000000] [--repeat 3] [--profile 100000]

A real server (``steadystate serve --insecure`` in a temporary data directory, one replica process, as the README
starts it) and a throwaway PostgreSQL cluster (``initdb`` under /tmp, as ``tests/storage/conftest.py`` starts one)
are loaded with the same tables ``t<n>(id bigint, name text, amount numeric(12,2), at timestamp, flag boolean,
score double precision)`` of ``n`` rows for each of ``--sizes`` through ``COPY FROM STDIN``; steadystate also gets an
index on ``id``, so ``SELECT * FROM t<n>`` is a fast-path peek of the whole arrangement (``SELECT * FROM t<large>
WHERE id < <small>`` one that scans it, and ``... WHERE amount >= 0.00`` one that takes the row path).  For each query, through psycopg:

* ``text``: ``cursor.execute`` + ``fetchall`` (text format, psycopg's default);
* ``binary``: the same with ``cursor(binary=True)``;
* ``copy``: ``COPY (SELECT ...) TO STDOUT``, reading every block.

The best of ``--repeat`` runs is reported, in seconds and rows per second, with the CPU seconds the steadystate
processes (supervisor and proxy, coordinator, replica: ``psutil``) spent per run (the mean of the runs) — on a machine shared with
other work the wall time varies with the load, the CPU time much less; every steadystate answer is checked
against PostgreSQL's (the same rows as Python values, ordered by ``id``).  Then the first run of each steadystate query, and one read of the largest table right after writes
changed a few of its rows (an index arrangement keeps its rows as Arrow runs, ``dataflow.arrangement_runs``: a
whole-index read sends them; rows changed since are encoded then).  ``--profile N`` runs the coordinator's and
the replica's parts of an ``N``-row answer in this process under cProfile (replica: rows to the peek response's
payload; coordinator: payload to the result; pgwire: result to DataRow bytes) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import decimal
import io
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
COLUMNS = "id bigint, name text, amount numeric(12,2), at timestamp, flag boolean, score double precision"
BASE = dt.datetime(2024, 1, 1)
NULL = "\\N"
CENTS = decimal.Decimal("0.01")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        yield (i, f"customer-{i % 9973}", (decimal.Decimal(i % 100000) / 100).quantize(CENTS),
               BASE + dt.timedelta(seconds=i, microseconds=(i * 7919) % 1000000),
               i % 3 == 0, None if i % 17 == 0 else i / 7)


def copy_text(n: int) -> Iterator[bytes]:
    buffer = io.StringIO()
    for index, (i, name, amount, at, flag, score) in enumerate(rows(n)):
        score_text = NULL if score is None else repr(score)
        buffer.write(f"{i}\t{name}\t{amount}\t{at.isoformat(' ')}\t{'t' if flag else 'f'}\t{score_text}\n")
        if index % 50000 == 49999:
            yield buffer.getvalue().encode()
            buffer = io.StringIO()
    yield buffer.getvalue().encode()


# ------------------------------------------------------------------------------------------- servers


class Steadystate:
    def __init__(self, root: Path) -> None:
        self.data = root / "ss"
        self.sql_port, self.http_port = free_port(), free_port()
        self.log = open(root / "ss.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "steadystate", "serve", "--insecure", "--data-dir", str(self.data),
             "--sql-port", str(self.sql_port), "--http-port", str(self.http_port)],
            stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("steadystate did not become ready")

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.sql_port} user=materialize dbname=materialize sslmode=disable"

    def processes(self) -> list[psutil.Process]:
        """The supervisor, its descendants (the coordinator) and the replica processes of this data directory."""
        top = psutil.Process(self.process.pid)
        found = {p.pid: p for p in [top, *top.children(recursive=True)]}
        for process in psutil.process_iter(["pid", "cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "replica" in cmdline and any(str(self.data) in part for part in cmdline):
                found.setdefault(process.pid, process)
        return list(found.values())

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_role().values())

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds so far of the supervisor with its pgwire proxy, the coordinator and the replica."""
        out = dict.fromkeys(ROLES, 0.0)
        for process in self.processes():
            try:
                cmdline = process.cmdline()
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            role = "replica" if "replica" in cmdline else "coordinator" if "coordinator" in cmdline else "proxy"
            out[role] += times.user + times.system
        return out

    def stop(self) -> None:
        subprocess.run([sys.executable, "-m", "steadystate", "stop", "--data-dir", str(self.data)],
                       capture_output=True, timeout=60)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    def __init__(self, root: Path) -> None:
        bin_dir = next(d for d in PG_BIN_DIRS if (d / "initdb").exists())
        self.pg_ctl = str(bin_dir / "pg_ctl")
        self.root = root / "pg"
        self.root.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U",
                                     "postgres", "--no-sync"]), check=True, capture_output=True)
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([self.pg_ctl, "-D", str(self.root / "data"), "-o", options, "-l",
                                     str(self.root / "log"), "-w", "start"]), check=True, capture_output=True)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def stop(self) -> None:
        subprocess.run(_as_postgres([self.pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)


def load(dsn: str, n: int, steadystate: bool) -> float:
    """Table ``t<n>`` of ``n`` rows (with an index on ``id`` on steadystate)."""
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE t{n} ({COLUMNS})")
        with conn.cursor().copy(f"COPY t{n} FROM STDIN") as copy:
            for block in copy_text(n):
                copy.write(block)
        if steadystate:
            conn.execute(f"CREATE INDEX t{n}_id ON t{n} (id)")
            conn.execute("SET max_result_size = '4GB'")
        conn.execute(f"SELECT count(*) FROM t{n}").fetchone()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------- measurements


def queries(sizes: list[int]) -> list[tuple[str, int, str]]:
    """(label, rows, SQL): every row of each table (the whole index); every row of the smallest through a filter on
    the numeric column, which the columnar copy does not evaluate (the row path: the replica streams the chunks as
    it builds them); and the smallest size out of the largest table through a filter on ``id`` (over the columnar
    copy)."""
    out = [(f"{size:,}", size, f"SELECT * FROM t{size}") for size in sizes]
    small = min(sizes)
    out.append((f"{small:,} (row path)", small, f"SELECT * FROM t{small} WHERE amount >= 0.00"))
    if len(sizes) > 1:
        large = max(sizes)
        out.append((f"{small:,} of {large:,} (filter)", small, f"SELECT * FROM t{large} WHERE id < {small}"))
    return out


def run_select(dsn: str, sql: str, binary: bool) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if "port" in dsn and "materialize" in dsn:
            conn.execute("SET max_result_size = '4GB'")
        with conn.cursor(binary=binary) as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


def run_copy(dsn: str, sql: str) -> int:
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        if "materialize" in dsn:
            conn.execute("SET max_result_size = '4GB'")
        with conn.cursor().copy(f"COPY ({sql}) TO STDOUT") as copy:
            for block in copy:
                total += len(block)
    return total


FIRST_RUNS: dict[str, float] = {}  # query label -> the wall time of its first run (steadystate)


ROLES = ("proxy", "coordinator", "replica")


def best(repeat: int, action: Callable[[], Any], cpu: Callable[[], dict[str, float]] = dict,
         label: str = "") -> tuple[float, Any, dict[str, float]]:
    """The best wall time of ``repeat`` runs, the last result, and the server CPU seconds per run by process (the
    mean over the runs: psutil counts in 10 ms ticks, too coarse for one run)."""
    times, result = [], None
    before = cpu()
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    after = cpu()
    if label:
        FIRST_RUNS[label] = times[0]
    return min(times), result, {role: (after[role] - before[role]) / repeat for role in after}


def cpu_text(used: dict[str, float]) -> str:
    return f"{sum(used.values()):.3f} ({' / '.join(f'{used[role]:.3f}' for role in ROLES)})"


def after_writes(ss: Steadystate, size: int) -> None:
    """A whole-index read right after a few writes changed the index (the replica patches its columnar copy)."""
    with psycopg.connect(ss.dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE t{size} SET name = 'changed' WHERE id % 10000 = 0")
        conn.execute(f"DELETE FROM t{size} WHERE id % 10000 = 1")
    used = ss.cpu_seconds()
    start = time.perf_counter()
    rows = run_select(ss.dsn, f"SELECT * FROM t{size}", False)
    wall = time.perf_counter() - start
    assert len(rows) == size - size // 10000
    print(f"after writes to {size // 5000} rows: SELECT * FROM t{size}, text: {wall:.3f} s "
          f"({len(rows) / wall:,.0f} rows/s), server CPU {ss.cpu_seconds() - used:.3f} s")


def normalized(result: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(result, key=lambda row: row[0])


# ------------------------------------------------------------------------------------------- profile


def profile(n: int) -> None:
    """The replica's, the coordinator's and pgwire's parts of an ``n``-row answer, in this process."""
    from steadystate.adapter.client import Field
    from steadystate.pgwire import values as v
    from steadystate.pgwire.results import RowStream, encoders_for

    from steadystate.compute import peeks
    from steadystate.dataflow.arrangement import Arrangement
    from steadystate.render.row_codec import ARROW_ROWS
    from steadystate.controller.instance import peek_result
    from steadystate.expr.ir import MapFilterProject
    from steadystate.protocol import messages as m

    data = list(rows(n))
    peek = m.Peek("p", m.PeekTarget(m.PeekTargetKind.INDEX, "i"), 0, MapFilterProject(6), arrow=True)
    fields = [Field(name, oid, -1) for name, oid in
              (("id", v.INT8), ("name", v.TEXT), ("amount", v.NUMERIC), ("at", v.TIMESTAMP), ("flag", v.BOOL),
               ("score", v.FLOAT8))]

    class Sink:
        pending = 0

        def write(self, data: bytes) -> None:
            pass

        def write_bulk(self, data: bytes) -> None:
            pass

        def flush(self) -> Iterator[None]:
            yield from ()

    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS)
    arrangement.apply(1, ({row: 1 for row in data}, {}))
    for label, action in (
        ("replica: rows -> peek responses (the row path)", lambda: peeks.chunked(peek, data)),
        ("replica: index -> Arrow table (its runs)", lambda: arrangement.table()),
        ("replica: index's Arrow table -> peek responses", lambda: peeks.table_chunks(peek, arrangement.table())),
    ):
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        responses = action()
        profiler.disable()
        print(f"\n=== {label}: {time.perf_counter() - start:.3f} s")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(12)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    result = peek_result(responses)
    profiler.disable()
    print(f"\n=== coordinator: responses -> result: {time.perf_counter() - start:.3f} s")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(12)
    for fmt in (0, 1):
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in RowStream(result, encoders_for(fields, [fmt])).pump(Sink()):
            pass
        profiler.disable()
        print(f"\n=== pgwire: result -> DataRows ({'binary' if fmt else 'text'}): {time.perf_counter() - start:.3f} s")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(12)


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="profile the parts of an N-row answer and exit")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="bench-results-"))
    ss = pg = None
    try:
        pg = Postgres(root)
        ss = Steadystate(root)
        for size in sizes:
            print(f"load {size} rows: steadystate {load(ss.dsn, size, True):.1f} s, "
                  f"PostgreSQL {load(pg.dsn, size, False):.1f} s")
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}")
        print("| rows | path | steadystate s | rows/s | server CPU s (proxy / coordinator / replica) | PostgreSQL s "
              "| rows/s |")
        print("|---|---|---|---|---|---|---|")
        server = ss
        for what, size, sql in queries(sizes):
            for label, binary in (("text", False), ("binary", True)):
                ss_time, ss_rows, ss_cpu = best(args.repeat, lambda: run_select(server.dsn, sql, binary),
                                                server.cpu_by_role, f"{what} {label}")
                pg_time, pg_rows, _ = best(args.repeat, lambda: run_select(pg.dsn, sql, binary))
                assert len(ss_rows) == size and normalized(ss_rows) == normalized(pg_rows), "results differ"
                del ss_rows, pg_rows
                print(f"| {what} | SELECT, {label} | {ss_time:.3f} | {size / ss_time:,.0f} | {cpu_text(ss_cpu)} | "
                      f"{pg_time:.3f} | {size / pg_time:,.0f} |", flush=True)
            ss_time, ss_bytes, ss_cpu = best(args.repeat, lambda: run_copy(server.dsn, sql), server.cpu_by_role)
            pg_time, pg_bytes, _ = best(args.repeat, lambda: run_copy(pg.dsn, sql))
            assert ss_bytes == pg_bytes, f"COPY sizes differ: {ss_bytes} vs {pg_bytes}"
            print(f"| {what} | COPY TO STDOUT | {ss_time:.3f} | {size / ss_time:,.0f} | {cpu_text(ss_cpu)} | "
                  f"{pg_time:.3f} | {size / pg_time:,.0f} |", flush=True)
        print("first runs (steadystate; the first whole read of an index builds its columnar copy): "
              + ", ".join(f"{label} {wall:.3f} s" for label, wall in FIRST_RUNS.items()))
        after_writes(ss, max(sizes))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if ss is not None:
            ss.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
