"""The chaos workload shared by ``tests/e2e/test_chaos.py`` (short, in CI) and ``bench/soak.py`` (long).

A sealed replicated cluster ``prod`` (two replicas) maintains two indexes over table ``c(k int, v int)``: the
rows themselves (``cv``) and an aggregate (``cagg``: per ``k % 7``, count and sum).  Three kinds of actors run
at once, all bounded in count and time:

* **one writer** applies single-statement operations (insert a new key, update a key to a fresh value,
  delete a key), each appended to an operation log *before* it is sent; once acknowledged it counts as
  committed.  A write whose outcome is unknown (the coordinator died) is resolved by reading the table once
  the server is back: applied → committed (but unacknowledged), not applied → removed from the log.
* **query threads** issue fast-path reads of ``cv`` and ``cagg`` on ``prod``.  An answer is *correct* when it
  equals the model at SOME prefix of the log between the committed count at the query's start and the log's
  length at its end (``cv`` is compared with the model directly; ``cagg`` with DuckDB over the model's rows).
* **the fault injector** (seeded) ``kill -9``s, at random moments, a random replica of ``prod`` (fault kind
  ``replica``), the whole ``steadystate serve`` (``coordinator``: supervisor, proxy and coordinator; started again
  with the same command), or only the coordinator process (``supervised``: ``serve`` restarts it and its pgwire
  proxy keeps the clients' connections).  A recovery that does not complete by
  itself within ``recovery_timeout`` counts as needing a manual step.

The report counts acknowledged writes lost (the final table against the model), wrong answers, manual
recoveries, and failed/blocked queries by the fault in progress when they failed (``none`` outside faults).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable

import duckdb
import psycopg
import pyarrow as pa

AGG_SQL = "SELECT k % 7 AS g, count(*) AS n, sum(v) AS total FROM c GROUP BY k % 7"
SET_UP = (
    "CREATE TABLE c (k int, v int)",
    "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
    "CREATE VIEW cv AS SELECT k, v FROM c",
    "CREATE INDEX cv_idx IN CLUSTER prod ON cv (k)",
    f"CREATE VIEW cagg AS {AGG_SQL}",
    "CREATE INDEX cagg_idx IN CLUSTER prod ON cagg (g)",
)
STATE_WINDOW = 400  # model states kept for answer checks (queries only need recent prefixes)


@dataclass(frozen=True)
class Op:
    kind: str  # insert | update | delete
    k: int
    v: int | None


@dataclass
class Report:
    duration_s: float = 0.0
    seed: int = 0
    faults: Counter = field(default_factory=Counter)
    acknowledged: int = 0
    committed_unacknowledged: int = 0
    lost: int = 0
    answered: int = 0
    wrong: list = field(default_factory=list)
    manual_recoveries: int = 0
    failed: Counter = field(default_factory=Counter)
    blocked: Counter = field(default_factory=Counter)
    longest_query_s: dict = field(default_factory=lambda: defaultdict(float))

    def table(self) -> str:
        kinds = sorted(set(self.faults) | set(self.failed) | set(self.blocked)
                       | {"none", "replica", "coordinator", "supervised"})
        lines = [
            f"chaos run: {self.duration_s:.0f} s, seed {self.seed}, faults injected: "
            + ", ".join(f"{k} x{self.faults[k]}" for k in sorted(self.faults)),
            f"  acknowledged writes                      {self.acknowledged}",
            f"  committed but unacknowledged (resolved)  {self.committed_unacknowledged}",
            f"  acknowledged writes lost                 {self.lost}   (must be 0)",
            f"  queries answered                         {self.answered}",
            f"  answers differing from the model/DuckDB  {len(self.wrong)}   (must be 0)",
            f"  recoveries needing a manual step         {self.manual_recoveries}   (must be 0)",
            "  fault kind     failed  blocked  longest query (s)",
        ]
        for kind in kinds:
            lines.append(f"  {kind:<13}{self.failed[kind]:>7}{self.blocked[kind]:>9}"
                         f"{self.longest_query_s.get(kind, 0.0):>19.3f}")
        return "\n".join(lines)


class Model:
    """The operation log and the table state after each recent prefix of it (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[Op] = []
        self.committed = 0
        self.states: dict[int, dict[int, int]] = {0: {}}
        self.next_key = 0
        self.next_value = 1

    def state(self, prefix: int) -> dict[int, int]:
        return self.states[prefix]

    def propose(self, rng: random.Random) -> Op:
        with self.lock:
            current = self.states[len(self.log)]
            roll = rng.random()
            if not current or (roll < 0.5 and len(current) < 150):
                op = Op("insert", self.next_key, self.next_value)
                self.next_key += 1
            elif roll < 0.8:
                op = Op("update", rng.choice(sorted(current)), self.next_value)
            else:
                op = Op("delete", rng.choice(sorted(current)), None)
            self.next_value += 1
            after = dict(current)
            if op.kind == "delete":
                del after[op.k]
            else:
                after[op.k] = op.v  # type: ignore[assignment]
            self.log.append(op)
            self.states[len(self.log)] = after
            self.states.pop(len(self.log) - STATE_WINDOW, None)
            return op

    def commit(self) -> None:
        with self.lock:
            self.committed = len(self.log)

    def retract_pending(self) -> None:
        with self.lock:
            self.states.pop(len(self.log), None)
            self.log.pop()

    def window(self) -> tuple[int, int]:
        with self.lock:
            return self.committed, len(self.log)


def op_sql(op: Op) -> tuple[str, tuple]:
    if op.kind == "insert":
        return "INSERT INTO c VALUES (%s, %s)", (op.k, op.v)
    if op.kind == "update":
        return "UPDATE c SET v = %s WHERE k = %s", (op.v, op.k)
    return "DELETE FROM c WHERE k = %s", (op.k,)


def op_applied(conn: psycopg.Connection, op: Op) -> bool:
    rows = conn.execute("SELECT v FROM c WHERE k = %s", (op.k,)).fetchall()
    return rows == [] if op.kind == "delete" else rows == [(op.v,)]


def duckdb_aggregate(state: dict[int, int]) -> list[tuple]:
    con = duckdb.connect()
    c = pa.table({"k": pa.array(list(state), pa.int32()), "v": pa.array(list(state.values()), pa.int32())})
    con.register("c", c)
    rows = con.execute(AGG_SQL).fetchall()
    con.close()
    return sorted((int(g), int(n), int(total)) for g, n, total in rows)


class ChaosRun:
    """One run of the workload against an ``Environment`` (tests/e2e/conftest.py)."""

    def __init__(self, env, seed: int, duration_s: float, query_threads: int = 2,  # type: ignore[no-untyped-def]
                 recovery_timeout: float = 60.0, fault_gap_s: tuple[float, float] = (0.5, 3.0)) -> None:
        self.env, self.seed, self.duration_s = env, seed, duration_s
        self.query_threads, self.recovery_timeout, self.fault_gap_s = query_threads, recovery_timeout, fault_gap_s
        self.model = Model()
        self.report = Report(seed=seed)
        self.stop = threading.Event()
        self.server_up = threading.Event()
        self.server_up.set()
        self.fault = "none"
        self.report_lock = threading.Lock()
        self.agg_cache: dict[int, list[tuple]] = {}

    # ------------------------------------------------------------------ set-up and run

    def set_up(self) -> list[str]:
        self.env.execute(*SET_UP)
        replicas = sorted(self.env.cluster_replicas("prod").values())
        for replica_id in replicas:
            self.env.wait_for(lambda rid=replica_id: self._hydrated(rid), timeout=60)
        self.env.execute("ALTER CLUSTER prod SEAL")  # only once every replica is online
        self.env.wait_for(lambda: self._prod_answers(), timeout=60)
        return replicas

    def run(self) -> Report:
        replicas = self.set_up()
        started = time.monotonic()
        threads = [threading.Thread(target=self._writer, daemon=True, name="chaos-writer")]
        threads += [threading.Thread(target=self._querier, args=(i,), daemon=True, name=f"chaos-query-{i}")
                    for i in range(self.query_threads)]
        for thread in threads:
            thread.start()
        try:
            self._inject_faults(replicas, started + self.duration_s)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(60)
        self._final_check()
        self.report.duration_s = time.monotonic() - started
        return self.report

    # ------------------------------------------------------------------ actors

    def _connect(self, cluster: str | None = None) -> psycopg.Connection | None:
        for _ in range(600):  # bounded: up to ~60 s while the coordinator restarts
            if self.stop.is_set():
                return None
            if self.server_up.is_set():
                try:
                    conn = self.env.connect(connect_timeout=5)
                    if cluster is not None:
                        conn.execute(f"SET cluster = {cluster}")
                        conn.execute("SET statement_timeout = '5s'")
                    return conn
                except psycopg.Error:
                    pass
            time.sleep(0.1)
        return None

    def _writer(self) -> None:
        rng = random.Random(self.seed * 7919 + 1)
        conn = self._connect()
        while conn is not None and not self.stop.is_set():
            op = self.model.propose(rng)
            sql, params = op_sql(op)
            try:
                conn.execute(sql, params)
                self.model.commit()
                with self.report_lock:
                    self.report.acknowledged += 1
            except psycopg.Error:
                conn.close()
                conn = self._connect()
                if conn is None:  # stopping: resolve with a fresh connection at the final check
                    self._pending_at_stop = op
                    return
                if op_applied(conn, op):
                    self.model.commit()
                    with self.report_lock:
                        self.report.committed_unacknowledged += 1
                else:
                    self.model.retract_pending()
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def _querier(self, index: int) -> None:
        conn = self._connect("prod")
        n = 0
        while conn is not None and not self.stop.is_set():
            n += 1
            aggregate = n % 2 == 0
            low, _ = self.model.window()
            fault = self.fault
            began = time.monotonic()
            try:
                rows = conn.execute("SELECT g, n, total FROM cagg" if aggregate else "SELECT k, v FROM cv").fetchall()
            except psycopg.Error as exc:
                fault = self.fault if self.fault != "none" else fault
                with self.report_lock:
                    if exc.sqlstate == "57014":
                        self.report.blocked[fault] += 1
                    else:
                        self.report.failed[fault] += 1
                if conn.closed or conn.broken:
                    conn = self._connect("prod")
                continue
            elapsed = time.monotonic() - began
            _, high = self.model.window()
            fault = self.fault if self.fault != "none" else fault
            ok = self._answer_matches(rows, aggregate, low, high)
            with self.report_lock:
                self.report.answered += 1
                self.report.longest_query_s[fault] = max(self.report.longest_query_s[fault], elapsed)
                if not ok:
                    self.report.wrong.append((fault, "cagg" if aggregate else "cv", low, high, sorted(rows)[:20]))
        if conn is not None:
            conn.close()

    def _answer_matches(self, rows: list[tuple], aggregate: bool, low: int, high: int) -> bool:
        with self.model.lock:
            states = {p: self.model.states[p] for p in range(low, high + 1) if p in self.model.states}
        if aggregate:
            answer = sorted((int(g), int(n), int(t)) for g, n, t in rows)
            for prefix, state in states.items():
                if prefix not in self.agg_cache:
                    self.agg_cache[prefix] = duckdb_aggregate(state)
                if answer == self.agg_cache[prefix]:
                    return True
            return False
        answer = sorted((int(k), int(v)) for k, v in rows)
        return any(answer == sorted(state.items()) for state in states.values())

    # ------------------------------------------------------------------ faults

    def _inject_faults(self, replicas: list[str], deadline: float) -> None:
        rng = random.Random(self.seed)
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(*self.fault_gap_s))
            if time.monotonic() >= deadline:
                break
            draw = rng.random()
            kind = "coordinator" if draw < 0.15 else "supervised" if draw < 0.35 else "replica"
            self.report.faults[kind] += 1
            self.fault = kind
            if kind == "coordinator":
                recovered = self._kill_coordinator()
            elif kind == "supervised":
                recovered = self._kill_supervised_coordinator()
            else:
                recovered = self._kill_replica(rng.choice(replicas))
            if not recovered:
                self.report.manual_recoveries += 1
                self._manual_recovery()
            self.fault = "none"

    def _kill_replica(self, replica_id: str) -> bool:
        try:
            old = self.env.kill_replica(replica_id)
        except KeyError:
            old = None
        try:
            self.env.wait_for(lambda: self.env.replica_pids().get(replica_id) not in (None, old),
                              timeout=self.recovery_timeout)
            self.env.wait_for(lambda: self._hydrated(replica_id), timeout=self.recovery_timeout, interval=0.1)
            return True
        except AssertionError:
            return False

    def _kill_coordinator(self) -> bool:
        self.server_up.clear()
        self.env.kill9()
        try:
            self.env.start(timeout=self.recovery_timeout)  # what a supervisor does: start the same command
        except RuntimeError:
            return False
        finally:
            self.server_up.set()
        try:
            self.env.wait_for(self._prod_answers, timeout=self.recovery_timeout, interval=0.1)
            return True
        except AssertionError:
            return False

    def _kill_supervised_coordinator(self) -> bool:
        """kill -9 of the coordinator process only: ``serve`` restarts it by itself and its pgwire proxy keeps the
        clients' connections (reads in flight are resent; a write in flight gets 08006, outcome unknown)."""
        try:
            old = self.env.coordinator_pid()
            os.kill(old, signal.SIGKILL)
            self.env.wait_coordinator_replaced(old, timeout=self.recovery_timeout)
            self.env.wait_for(self._prod_answers, timeout=self.recovery_timeout, interval=0.1)
            return True
        except (AssertionError, ProcessLookupError, ValueError):
            return False

    def _manual_recovery(self) -> None:
        """Counted as a manual step: restart everything, so the run can continue."""
        self.server_up.clear()
        if self.env.process is not None:
            self.env.kill9()
        self.env.reap_replicas()
        self.env.start()
        self.server_up.set()

    def _hydrated(self, replica_id: str) -> bool:
        rows = self.env.query("SELECT h.hydrated FROM mz_internal.mz_hydration_statuses h "
                              "JOIN mz_catalog.mz_indexes i ON h.object_id = i.id WHERE h.replica_id = %s", (replica_id,))
        return len(rows) == 2 and all(h for (h,) in rows)

    def _prod_answers(self) -> bool:
        with self.env.connect(connect_timeout=5) as conn:
            conn.execute("SET cluster = prod")
            conn.execute("SET statement_timeout = '5s'")
            conn.execute("SELECT k, v FROM cv").fetchall()
        return True

    # ------------------------------------------------------------------ end

    def _final_check(self) -> None:
        pending: Op | None = getattr(self, "_pending_at_stop", None)
        with self.env.connect() as conn:
            if pending is not None:
                if op_applied(conn, pending):
                    self.model.commit()
                    self.report.committed_unacknowledged += 1
                else:
                    self.model.retract_pending()
            table = dict(conn.execute("SELECT k, v FROM c").fetchall())
        committed, length = self.model.window()
        assert committed == length, "every write is resolved at the end"
        expected = self.model.state(committed)
        self.report.lost = sum(1 for k, v in expected.items() if table.get(k) != v) + \
            sum(1 for k in table if k not in expected)


def run_chaos(env, seed: int, duration_s: float, printer: Callable[[str], None] = print) -> Report:  # type: ignore[no-untyped-def]
    report = ChaosRun(env, seed, duration_s).run()
    printer(report.table())
    for wrong in report.wrong[:5]:
        printer(f"  wrong answer: {wrong}")
    return report
