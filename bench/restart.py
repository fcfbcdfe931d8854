"""Restart downtime: what each kind of restart costs a client issuing fast-path queries continuously.

    python bench/restart.py [--rows 1000000] [--settle 5] [--no-docs] [--note "..."]

A fresh ``steadystate serve`` (the e2e ``Environment``) gets ``big(k int, v int)`` with ``--rows`` rows through
``COPY``, a view ``bv`` over it, an index on a two-replica cluster ``c2`` and one on a one-replica cluster
``c1``.  For each event a client thread issues point lookups (``SELECT k, v FROM bv WHERE k = <random>``, a
fast-path peek of the index) in a loop, reconnecting when its connection breaks.  Its connection goes to
``steadystate serve``'s SQL port, i.e. through the supervisor's pgwire proxy:

* (a) graceful restart of ``c2``: ``ALTER CLUSTER c2 RESTART``;
* (b) ``kill -9`` of one replica of ``c2``;
* (c) ``kill -9`` of the whole ``serve`` (supervisor, proxy and coordinator together) and a new ``serve`` with
  the replicas alive (they are adopted): the client's connection breaks and it reconnects;
* (c') ``kill -9`` of the coordinator process alone: the supervisor restarts it, and its proxy keeps the
  client's connection open, resending a read that was in flight to the new coordinator;
* (e) a planned in-place restart, ``steadystate restart`` (SIGHUP to the supervisor): the coordinator stops
  gracefully leaving its replicas running and a new one starts at once behind the proxy, which keeps the
  client's connection;
* (f) a planned stop and start: SIGTERM to ``serve`` (what Ctrl-C does: the replicas are left running) and a
  new ``serve``, which adopts them; the client's connection breaks and it reconnects;
* (g) a full stop and start: ``steadystate stop`` (the replicas are stopped too, what SIGTERM did before
  planned restarts kept them) and a new ``serve``, whose new replica processes hydrate every index;
* (e)-(g) planned restarts: ``steadystate restart`` in place, SIGTERM and a new ``serve`` (replicas adopted),
  ``steadystate stop`` and a new ``serve`` (replicas rehydrate);
* (h) a resize of ``c2`` to ``medium`` with ``WITH (WAIT UNTIL READY (...))``: the new replicas hydrate first;
* (d) ``kill -9`` of the only replica of ``c1`` — the baseline: its downtime is the hydration time.

For (d) and (g) the table also shows the downtime the readiness verdict predicted just before the event
(``mz_internal.mz_expected_restart_downtime``: of ``c1``'s replica, and of the whole environment).

The event window runs from the event until the system is whole again (new replica hydrated / coordinator
answering) plus ``--settle`` seconds.  Reported per event: failed queries (an error or a refused connection
attempt, retried every 50 ms), the longest gap between two answered queries, p99 latency of the ``--settle``
seconds before the event vs during the window, connections the client lost (and opened again), and dataflows rebuilt (``created dataflow`` lines the event
added to replica logs; for (c) also ``mz_internal.mz_dataflow_reconciliation``).  The table is printed and
written as the "Restart downtime" section of ``docs/benchmarks.md`` unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from conftest import Environment  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Restart downtime (`bench/restart.py`)"


@dataclass(frozen=True)
class Sample:
    began: float
    ended: float
    ok: bool


class Client(threading.Thread):
    """Point lookups on one cluster in a loop (bounded by ``max_seconds``), every outcome recorded."""

    def __init__(self, env: Environment, cluster: str, rows: int, max_seconds: float = 900.0) -> None:
        super().__init__(daemon=True)
        self.env, self.cluster, self.rows, self.max_seconds = env, cluster, rows, max_seconds
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.connections = 0  # connections opened (the first one included)

    def _connect(self) -> psycopg.Connection:
        conn = self.env.connect(connect_timeout=2)
        self.connections += 1
        conn.execute(f"SET cluster = {self.cluster}")
        conn.execute("SET statement_timeout = '30s'")
        return conn

    def run(self) -> None:
        rng = random.Random(5)
        deadline = time.monotonic() + self.max_seconds
        conn: psycopg.Connection | None = None
        while not self.stop.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = self._connect()
                k = rng.randrange(self.rows)
                rows = conn.execute("SELECT k, v FROM bv WHERE k = %s", (k,)).fetchall()
                ok = rows == [(k, k % 1000)]
            except psycopg.Error:
                ok = False
            self.samples.append(Sample(began, time.monotonic(), ok))
            if not ok:
                time.sleep(0.05)
        if conn is not None:
            conn.close()


@dataclass
class Result:
    name: str
    failed: int
    longest_gap_s: float
    p99_before_ms: float
    p99_during_ms: float
    rebuilt: str
    recovery_s: float
    connections_lost: int
    predicted_s: float | None = None  # the verdict's expected downtime, read just before the event


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def created_lines(env: Environment) -> dict[str, int]:
    out = {}
    for log in (env.data_dir / "replicas").glob("*/replica.log"):
        out[log.parent.name] = log.read_text(errors="replace").count("created dataflow")
    return out


def rebuilt_since(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(n - before.get(rid, 0) for rid, n in after.items())


def hydrated_everywhere(env: Environment, cluster: str) -> bool:
    replicas = set(env.cluster_replicas(cluster).values())
    rows = env.query("SELECT replica_id, hydrated FROM mz_internal.mz_hydration_statuses")
    done = {rid for rid, h in rows if h and rid in replicas}
    return bool(replicas) and done == replicas and set(replicas) <= set(env.replica_pids())


def expected_downtime(env: Environment, cluster: str | None) -> float | None:
    """``mz_internal.mz_expected_restart_downtime`` of a cluster (None: of the whole environment)."""
    rows = env.query("SELECT cluster_id, expected_downtime_s FROM mz_internal.mz_expected_restart_downtime")
    wanted = env.cluster_id(cluster) if cluster is not None else None
    return next((seconds for cluster_id, seconds in rows if cluster_id == wanted), None)


def measure(env: Environment, name: str, cluster: str, rows: int, settle: float,
            event: Callable[[], str | None], predicts: str | None = "") -> Result:
    client = Client(env, cluster, rows)
    client.start()
    env.wait_for(lambda: sum(s.ok for s in client.samples) >= 20, timeout=60)
    time.sleep(settle)  # the "before" window (measurement, not an assertion)
    predicted = expected_downtime(env, predicts or None) if predicts != "" else None
    logs_before = created_lines(env)
    connections_before = client.connections
    started = time.monotonic()
    extra = event()
    recovered = time.monotonic()
    time.sleep(settle)
    client.stop.set()
    client.join(60)
    window = [s for s in client.samples if s.ended >= started]
    before = [s for s in client.samples if started - settle <= s.began and s.ended < started and s.ok]
    answered = [s.ended for s in client.samples if s.ok and s.ended >= started - settle]
    gaps = [b - a for a, b in zip(answered, answered[1:])]
    rebuilt = str(rebuilt_since(logs_before, created_lines(env)))
    if extra:
        rebuilt += f" ({extra})"
    return Result(
        name=name,
        failed=sum(not s.ok for s in window),
        longest_gap_s=max(gaps, default=float("nan")),
        p99_before_ms=p99([(s.ended - s.began) * 1000 for s in before]),
        p99_during_ms=p99([(s.ended - s.began) * 1000 for s in window if s.ok]),
        rebuilt=rebuilt,
        recovery_s=recovered - started,
        connections_lost=client.connections - connections_before,
        predicted_s=predicted,
    )


def graceful_restart(env: Environment) -> str | None:
    env.execute("ALTER CLUSTER c2 RESTART")
    env.wait_for(lambda: hydrated_everywhere(env, "c2"), timeout=600, interval=0.2)
    return None


def kill_one_of_two(env: Environment) -> str | None:
    victim = sorted(env.cluster_replicas("c2").values())[0]
    old = env.kill_replica(victim)
    env.wait_for(lambda: env.replica_pids().get(victim) not in (None, old), timeout=120)
    env.wait_for(lambda: hydrated_everywhere(env, "c2"), timeout=600, interval=0.2)
    return None


def coordinator_kill9(env: Environment) -> str | None:
    pids = env.replica_pids()
    with_dataflows = len(env.cluster_replicas("c1")) + len(env.cluster_replicas("c2"))
    env.kill9()
    env.start(timeout=300)
    env.wait_for(lambda: env.query("SELECT count(*) FROM mz_internal.mz_dataflow_reconciliation "
                                   "WHERE kept + rebuilt > 0")[0][0] >= with_dataflows, timeout=300, interval=0.2)
    rows = env.query("SELECT sum(kept), sum(rebuilt) FROM mz_internal.mz_dataflow_reconciliation")
    same = env.replica_pids() == pids
    return f"reconciliation: kept {rows[0][0]}, rebuilt {rows[0][1]}; same replica pids: {same}"


def coordinator_crash_supervised(env: Environment) -> str | None:
    """kill -9 of the coordinator process itself: ``steadystate serve`` (the supervisor) restarts it."""
    import os
    import signal

    pids = env.replica_pids()
    old = env.coordinator_pid()
    os.kill(old, signal.SIGKILL)
    env.wait_coordinator_replaced(old, timeout=300)
    with_dataflows = len(env.cluster_replicas("c1")) + len(env.cluster_replicas("c2"))
    env.wait_for(lambda: env.query("SELECT count(*) FROM mz_internal.mz_dataflow_reconciliation "
                                   "WHERE kept + rebuilt > 0")[0][0] >= with_dataflows, timeout=300, interval=0.2)
    rows = env.query("SELECT sum(kept), sum(rebuilt) FROM mz_internal.mz_dataflow_reconciliation")
    return f"reconciliation: kept {rows[0][0]}, rebuilt {rows[0][1]}; same replica pids: {env.replica_pids() == pids}"


def _reconciled(env: Environment, pids: dict[str, int]) -> str:
    with_dataflows = len(env.cluster_replicas("c1")) + len(env.cluster_replicas("c2"))
    env.wait_for(lambda: env.query("SELECT count(*) FROM mz_internal.mz_dataflow_reconciliation "
                                   "WHERE kept + rebuilt > 0")[0][0] >= with_dataflows, timeout=300, interval=0.2)
    rows = env.query("SELECT sum(kept), sum(rebuilt) FROM mz_internal.mz_dataflow_reconciliation")
    return f"reconciliation: kept {rows[0][0]}, rebuilt {rows[0][1]}; same replica pids: {env.replica_pids() == pids}"


def planned_restart_in_place(env: Environment) -> str | None:
    """``steadystate restart``: a graceful coordinator restart behind the supervisor's proxy."""
    pids = env.replica_pids()
    result = env.cli("restart", timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"steadystate restart failed: {result.stderr}")
    return _reconciled(env, pids)


def planned_stop_and_start(env: Environment) -> str | None:
    """SIGTERM to ``serve`` (the replicas are left running), then a new ``serve`` that adopts them."""
    pids = env.replica_pids()
    env.stop(keep_replicas=True)
    env.start(timeout=300)
    return _reconciled(env, pids)


def full_stop_and_start(env: Environment) -> str | None:
    """``steadystate stop`` (replicas stopped too), then a new ``serve``: every replica hydrates again."""
    pids = env.replica_pids()
    env.stop()
    env.start(timeout=300)
    env.wait_for(lambda: hydrated_everywhere(env, "c2") and hydrated_everywhere(env, "c1"), timeout=600,
                 interval=0.2)
    return f"same replica pids: {env.replica_pids() == pids}"


def resize_without_a_gap(env: Environment) -> str | None:
    """``ALTER CLUSTER c2 SET (SIZE = 'medium') WITH (WAIT UNTIL READY (...))``: new replicas hydrate first."""
    env.execute("ALTER CLUSTER c2 SET (SIZE = 'medium') WITH (WAIT UNTIL READY (TIMEOUT = '10m'))")
    env.wait_for(lambda: hydrated_everywhere(env, "c2"), timeout=600, interval=0.2)
    sizes = {r[0] for r in env.query("SELECT size FROM mz_catalog.mz_cluster_replicas WHERE cluster_id = %s",
                                     (env.cluster_id("c2"),))}
    return f"replica sizes after: {', '.join(sorted(sizes))}"


def kill_only_replica(env: Environment) -> str | None:
    (victim,) = env.cluster_replicas("c1").values()
    old = env.kill_replica(victim)
    env.wait_for(lambda: env.replica_pids().get(victim) not in (None, old), timeout=120)
    env.wait_for(lambda: hydrated_everywhere(env, "c1"), timeout=600, interval=0.2)
    return None


# (name, the cluster the client reads, the event, what the verdict predicts for it: a cluster's replica restart,
# None for the whole environment's restart, "" for nothing)
EVENTS: list[tuple[str, str, Callable[[Environment], str | None], str | None]] = [
    ("(a) graceful restart of a 2-replica cluster", "c2", graceful_restart, ""),
    ("(b) kill -9 of one replica of two", "c2", kill_one_of_two, ""),
    ("(c) kill -9 of serve (supervisor + coordinator), replicas alive", "c2", coordinator_kill9, ""),
    ("(c') coordinator process kill -9 under the supervisor's proxy", "c2", coordinator_crash_supervised, ""),
    ("(e) planned restart in place (`steadystate restart`)", "c2", planned_restart_in_place, ""),
    ("(f) planned stop (SIGTERM) and a new serve, replicas alive", "c2", planned_stop_and_start, ""),
    ("(g) full stop (`steadystate stop`) and a new serve: replicas rehydrate", "c2", full_stop_and_start, None),
    ("(h) resize of a 2-replica cluster (`WITH (WAIT UNTIL READY)`)", "c2", resize_without_a_gap, ""),
    ("(d) kill -9 of the only replica (baseline)", "c1", kill_only_replica, "c1"),
]


def load(env: Environment, rows: int) -> float:
    started = time.monotonic()
    env.execute("CREATE TABLE big (k int, v int)")
    with env.connect() as conn:
        with conn.cursor().copy("COPY big FROM STDIN") as copy:
            for k in range(rows):
                copy.write_row((k, k % 1000))
    env.execute(
        "CREATE VIEW bv AS SELECT k, v FROM big",
        "CREATE CLUSTER c2 (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE CLUSTER c1 (SIZE = 'small', REPLICATION FACTOR = 1)",
        "CREATE INDEX bv_c2 IN CLUSTER c2 ON bv (k)",
        "CREATE INDEX bv_c1 IN CLUSTER c1 ON bv (k)",
    )
    env.wait_for(lambda: hydrated_everywhere(env, "c2") and hydrated_everywhere(env, "c1"),
                 timeout=1200, interval=0.5)
    return time.monotonic() - started


def render(results: list[Result], rows: int, load_s: float, note: str) -> str:
    lines = [
        f"{rows:,} rows; load + first hydration of both clusters {load_s:.1f} s. {note}".strip(),
        "",
        "| event | failed queries | connections lost | longest gap (s) | predicted downtime (s) | p99 before (ms) "
        "| p99 during (ms) | back to whole (s) | dataflows rebuilt |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        predicted = "-" if r.predicted_s is None else f"{r.predicted_s:.2f}"
        lines.append(f"| {r.name} | {r.failed} | {r.connections_lost} | {r.longest_gap_s:.3f} | {predicted} | "
                     f"{r.p99_before_ms:.1f} | {r.p99_during_ms:.1f} | {r.recovery_s:.1f} | {r.rebuilt} |")
    return "\n".join(lines)


BEGIN, END = "<!-- restart:begin -->", "<!-- restart:end -->"


def write_docs(table: str) -> None:
    """Replace the figures between the section's markers (the prose around them is kept), or write the section."""
    text = DOCS.read_text()
    figures = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + figures + rest.split(END, 1)[1]
    else:
        body = (
            f"{SECTION}\n\n```\npython bench/restart.py [--rows 1000000] [--settle 5] [--no-docs]\n```\n\n"
            "A client issues fast-path point lookups on an index over `big` continuously while each event happens "
            "(see the script's docstring).\n\n"
            f"{figures}\n"
        )
        pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.S)
        text = pattern.sub(lambda _: body, text) if SECTION in text else text.rstrip("\n") + "\n\n" + body
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds measured before and after each event")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a note printed under the table")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="steadystate-restart-") as tmp:
        env = Environment(Path(tmp) / "data")
        env.start()
        try:
            load_s = load(env, args.rows)
            print(f"loaded {args.rows} rows and hydrated in {load_s:.1f} s", flush=True)
            for name, cluster, event, predicts in EVENTS:
                result = measure(env, name, cluster, args.rows, args.settle, lambda e=event: e(env), predicts)
                print(result, flush=True)
                results.append(result)
        finally:
            env.stop()
            env.reap_replicas()
    table = render(results, args.rows, load_s, args.note)
    print(table)
    if not args.no_docs:
        write_docs(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
