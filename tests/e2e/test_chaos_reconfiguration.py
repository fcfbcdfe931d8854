"""The chaos suite, reconfiguration edition: kill -9 replicas (pending replacements included), the coordinator
process alone and the whole server *during* SEAL, UNSEAL, RESTART, resizes and DDL, under a live workload.

Reuses ``chaos_workload.ChaosRun`` for the writer (single-statement writes logged in a model, outcome-unknown
writes resolved afterwards) and the readers (fast-path reads of the sealed cluster ``prod``'s two indexes,
checked against the model at a consistent prefix).  On top of it, seeded and bounded:

* a **reconfiguration driver** issues, on ``prod`` and on the development cluster ``dev``, ``ALTER CLUSTER ...
  SEAL`` / ``UNSEAL`` / ``RESTART WITH (TIMEOUT)`` and resizes ``SET (SIZE, REPLICATION FACTOR) WITH (WAIT UNTIL
  READY (TIMEOUT, ON TIMEOUT = 'COMMIT' | 'ROLLBACK'))``;
* a **DDL driver** creates and drops indexes and materialized views on ``dev`` (chosen from the catalog, so
  a statement whose outcome was unknown never confuses it);
* the **fault injector** SIGKILLs a replica process (a ``-pending`` replacement when one exists, half of the
  time), the coordinator process alone (the supervisor restarts it), or the whole ``serve`` (started again on
  the same data directory; its coordinator must not outlive it), or SIGSTOPs a pending replacement for 3-8 s
  (often past the 6 s TIMEOUT: the reconfiguration rolls back, or cuts over anyway with ON TIMEOUT =
  'COMMIT').  Half of the faults wait (up to 3 s) for a reconfiguration to be pending first, so they land in
  its waiting phase.

Statements that fail because the connection was lost (08006 / no SQLSTATE), the cluster was busy or sealed
(55000, the policy table), or a reconfiguration / statement timed out (57014) are expected and counted.

After the run, with no more faults, everything must settle by itself (no manual step): no pending replicas or
reconfigurations; per cluster as many replicas as its replication factor, each with exactly one process and no
orphan process; the replicas of a cluster report the same set of objects and no disagreement; every acknowledged
write is in the table; every index and materialized view (read from each replica, ``SET cluster_replica``)
equals DuckDB's answer over the table's final contents.  ``CHAOS_SEED``, ``CHAOS_DURATION`` (seconds) and
``CHAOS_FAULT_GAP`` ("0.3,1.5": seconds between faults) override the seed, the length of the run and the rate of
faults (for longer hunts outside CI).  The seed fixes the schedule of choices; the assertions
are invariants that hold whatever the timing.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter

import duckdb
import psutil
import psycopg
import pyarrow as pa
from chaos_workload import AGG_SQL, ChaosRun

# dev's views: name -> defining query over c(k, v); indexes and materialized views come and go
DEV_QUERIES = {
    "dv_filter": ("SELECT k, v FROM c WHERE v % 3 = 0", "k"),
    "dv_map": ("SELECT k, v * 2 + k AS w FROM c WHERE k % 2 = 1", "k"),
    "dv_agg": ("SELECT v % 5 AS g, count(*) AS n, sum(k) AS s FROM c GROUP BY v % 5", "g"),
}
PROD_QUERIES = {"cv": "SELECT k, v FROM c", "cagg": AGG_SQL}
SHAPES = {"prod": [("xsmall", 1), ("xsmall", 2), ("small", 1), ("small", 2)],
          "dev": [("2xsmall", 1), ("2xsmall", 2), ("xsmall", 1), ("xsmall", 2)]}
RECONFIGURE_TIMEOUT = "6s"
EXPECTED = {"08006": "connection lost", "55000": "busy or sealed", "57014": "timed out"}


def classify(exc: psycopg.Error) -> str:
    if exc.sqlstate is None or exc.sqlstate.startswith("08"):
        return "08006"
    return exc.sqlstate


def settle(observe, expected, timeout: float, ok=None) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``observe()`` equals ``expected`` (or satisfies ``ok``); on timeout fail showing both."""
    ok = ok or (lambda got: got == expected)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ok(observe()):
                return
        except psycopg.Error:
            pass
        time.sleep(0.2)
    got = observe()
    assert ok(got), f"not settled within {timeout} s: {got!r}, expected {expected!r}"


class ReconfigurationChaos(ChaosRun):
    def __init__(self, env, seed: int, duration_s: float,  # type: ignore[no-untyped-def]
                 fault_gap_s: tuple[float, float] = (1.0, 3.0)) -> None:
        super().__init__(env, seed, duration_s, query_threads=1, fault_gap_s=fault_gap_s)
        self.statements: Counter = Counter()  # kind -> run
        self.outcomes: Counter = Counter()  # (kind, outcome) -> count
        self.unexpected: list[tuple[str, str, str, str]] = []  # (kind, sql, sqlstate, message)
        self.lingering: list[int] = []  # coordinators that outlived their killed supervisor

    # ------------------------------------------------------------------ set-up

    def set_up(self) -> list[str]:
        replicas = super().set_up()  # prod: sealed, two replicas, cv_idx and cagg_idx
        self.env.execute("CREATE CLUSTER dev (SIZE = '2xsmall', REPLICATION FACTOR = 1)",
                         *(f"CREATE VIEW {name} AS {query}" for name, (query, _) in DEV_QUERIES.items()),
                         "CREATE INDEX dv_filter_idx IN CLUSTER dev ON dv_filter (k)")
        self.env.wait_all_clean("dev", timeout=60)
        return replicas

    # ------------------------------------------------------------------ statements

    def _run(self, conn: psycopg.Connection, kind: str, sql: str) -> psycopg.Connection | None:
        """Run one statement, count its outcome; returns the connection to use next (None: reconnect)."""
        self.statements[kind] += 1
        try:
            conn.execute(sql)
            self.outcomes[(kind, "ok")] += 1
            return conn
        except psycopg.Error as exc:
            state = classify(exc)
            self.outcomes[(kind, EXPECTED.get(state, state))] += 1
            if state not in EXPECTED:
                self.unexpected.append((kind, sql, state, str(exc).splitlines()[0]))
            if state == "08006" or conn.closed or conn.broken:
                conn.close()
                return None
            return conn

    def _driver_connection(self) -> psycopg.Connection | None:
        conn = self._connect()
        if conn is not None:
            try:
                conn.execute("SET statement_timeout = '20s'")
            except psycopg.Error:
                conn.close()
                return None
        return conn

    def _catalog(self, conn: psycopg.Connection, sql: str, params: tuple = ()) -> list[tuple] | None:
        try:
            return conn.execute(sql, params).fetchall()
        except psycopg.Error:
            return None

    def _reconfigurer(self) -> None:
        rng = random.Random(self.seed * 104729 + 3)
        conn: psycopg.Connection | None = None
        while not self.stop.is_set():
            cluster = rng.choice(["prod", "dev"])
            action = rng.choice(["seal or unseal", "seal or unseal", "restart", "resize", "resize"])
            on_timeout = rng.choice(["COMMIT", "ROLLBACK"])
            shape_pick = rng.random()
            pause = rng.uniform(0.1, 0.8)
            if conn is None or conn.closed:
                conn = self._driver_connection()
                if conn is None:
                    return
            if action == "seal or unseal":  # toggles, so dev is unsealed (open to DDL) about half of the time
                rows = self._catalog(conn, "SELECT sealed FROM mz_catalog.mz_clusters WHERE name = %s", (cluster,))
                if not rows:
                    conn.close()
                    conn = None
                    continue
                action = "unseal" if rows[0][0] else "seal"
                sql = (f"ALTER CLUSTER {cluster} UNSEAL" if rows[0][0] else
                       f"ALTER CLUSTER {cluster} SEAL WITH (TIMEOUT = '{RECONFIGURE_TIMEOUT}')")
            elif action == "restart":
                sql = f"ALTER CLUSTER {cluster} RESTART WITH (TIMEOUT = '{RECONFIGURE_TIMEOUT}')"
            else:
                rows = self._catalog(conn, "SELECT size, replication_factor FROM mz_catalog.mz_clusters "
                                           "WHERE name = %s", (cluster,))
                if not rows:
                    conn.close()
                    conn = None
                    continue
                others = [s for s in SHAPES[cluster] if s != (rows[0][0], rows[0][1])]
                size, factor = others[int(shape_pick * len(others))]
                sql = (f"ALTER CLUSTER {cluster} SET (SIZE = '{size}', REPLICATION FACTOR = {factor}) WITH "
                       f"(WAIT UNTIL READY (TIMEOUT = '{RECONFIGURE_TIMEOUT}', ON TIMEOUT = '{on_timeout}'))")
            conn = self._run(conn, action, sql)
            self.stop.wait(pause)
        if conn is not None:
            conn.close()

    def _ddl(self) -> None:
        rng = random.Random(self.seed * 15485863 + 5)
        conn: psycopg.Connection | None = None
        while not self.stop.is_set():
            view = rng.choice(sorted(DEV_QUERIES))
            mv = rng.random() < 0.4
            pause = rng.uniform(0.2, 1.0)
            if conn is None or conn.closed:
                conn = self._driver_connection()
                if conn is None:
                    return
            if mv:
                name = f"dm_{view[3:]}"
                rows = self._catalog(conn, "SELECT 1 FROM mz_catalog.mz_materialized_views WHERE name = %s", (name,))
                create = f"CREATE MATERIALIZED VIEW {name} IN CLUSTER dev AS {DEV_QUERIES[view][0]}"
                drop = f"DROP MATERIALIZED VIEW {name}"
                kinds = ("create mv", "drop mv")
            else:
                name = f"{view}_idx"
                rows = self._catalog(conn, "SELECT 1 FROM mz_catalog.mz_indexes WHERE name = %s", (name,))
                create = f"CREATE INDEX {name} IN CLUSTER dev ON {view} ({DEV_QUERIES[view][1]})"
                drop = f"DROP INDEX {name}"
                kinds = ("create index", "drop index")
            if rows is None:
                conn.close()
                conn = None
                continue
            conn = self._run(conn, kinds[1] if rows else kinds[0], drop if rows else create)
            self.stop.wait(pause)
        if conn is not None:
            conn.close()

    # ------------------------------------------------------------------ faults

    def _inject_faults(self, replicas: list[str], deadline: float) -> None:
        drivers = [threading.Thread(target=self._reconfigurer, daemon=True, name="chaos-reconfigure"),
                   threading.Thread(target=self._ddl, daemon=True, name="chaos-ddl")]
        for thread in drivers:
            thread.start()
        try:
            self._faults(deadline)
        finally:
            self.stop.set()
            for thread in drivers:
                thread.join(60)

    def _faults(self, deadline: float) -> None:
        rng = random.Random(self.seed)
        while time.monotonic() < deadline:
            gap, aimed, draw, pick_pending, pick = (rng.uniform(*self.fault_gap_s), rng.random() < 0.5,
                                                    rng.random(), rng.random() < 0.5, rng.random())
            hold = rng.uniform(3.0, 8.0)
            kind = ("server" if draw < 0.15 else "supervised" if draw < 0.35 else "freeze" if draw < 0.5
                    else "replica")
            time.sleep(gap)
            if aimed or kind == "freeze":  # land in a reconfiguration's waiting phase: wait for a pending replica
                try:
                    self.env.wait_for(lambda: self._pending_replica_ids(), timeout=3.0, interval=0.02)
                except AssertionError:
                    pass
            if time.monotonic() >= deadline:
                break
            self.fault = kind
            if kind == "replica":
                recovered = self._kill_some_replica(pick_pending, pick)
            elif kind == "freeze":
                recovered = self._freeze_pending_replica(pick, hold)
            elif kind == "supervised":
                recovered = self._kill_supervised()
            else:
                recovered = self._kill_server()
            if not recovered:
                self.report.manual_recoveries += 1
                self._manual_recovery()
            self.fault = "none"

    def _pending_replica_ids(self) -> list[str]:
        rows = self.env.query("SELECT id FROM mz_catalog.mz_cluster_replicas WHERE name LIKE '%-pending'")
        return sorted(r[0] for r in rows)

    def _kill_some_replica(self, pick_pending: bool, pick: float) -> bool:
        processes = self.env.replica_processes()
        if not processes:
            return True
        try:
            pending = set(self._pending_replica_ids())
        except Exception:  # noqa: BLE001 - the server may be restarting: any replica will do
            pending = set()
        candidates = [p for p in processes if p[0] in pending] if pick_pending and pending else processes
        candidates = candidates or processes
        replica_id, pid = candidates[int(pick * len(candidates))]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        self.report.faults["replica-pending" if replica_id in pending else "replica"] += 1
        return True  # the orchestrator restarts it (or it was retired meanwhile): checked at the end

    def _freeze_pending_replica(self, pick: float, hold: float) -> bool:
        """SIGSTOP a pending replacement replica for ``hold`` seconds (often past the reconfiguration's TIMEOUT:
        it then rolls back, or cuts over to a replica that has not hydrated with ON TIMEOUT = 'COMMIT')."""
        try:
            pending = set(self._pending_replica_ids())
        except Exception:  # noqa: BLE001 - the server may be restarting
            pending = set()
        candidates = [p for p in self.env.replica_processes() if p[0] in pending]
        if not candidates:
            return True
        _, pid = candidates[int(pick * len(candidates))]
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return True
        self.report.faults["freeze-pending"] += 1
        try:
            time.sleep(hold)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        return True

    def _kill_supervised(self) -> bool:
        self.report.faults["supervised"] += 1
        try:
            old = self.env.coordinator_pid()
            os.kill(old, signal.SIGKILL)
            self.env.wait_coordinator_replaced(old, timeout=self.recovery_timeout)
            return True
        except (AssertionError, ProcessLookupError, ValueError):
            return False

    def _kill_server(self) -> bool:
        self.report.faults["server"] += 1
        self.server_up.clear()
        try:
            old = self.env.coordinator_pid()
        except (ValueError, psutil.Error):  # between two coordinators
            old = None
        try:
            self.env.kill9()
            if old is not None:  # the coordinator goes with its supervisor, never lingers beside the next one
                try:
                    self.env.wait_for(lambda: not psutil.pid_exists(old) or
                                      psutil.Process(old).status() == psutil.STATUS_ZOMBIE, timeout=30)
                except AssertionError:
                    self.lingering.append(old)
            self.env.start(timeout=self.recovery_timeout)
            return True
        except RuntimeError:
            return False
        finally:
            self.server_up.set()

    # ------------------------------------------------------------------ the end state

    def _final_check(self) -> None:
        super()._final_check()  # resolves the last write, counts acknowledged writes lost
        env = self.env
        quiet = 90.0
        settle(lambda: env.query("SELECT * FROM mz_internal.mz_pending_reconfigurations"), [], quiet)
        assert self._pending_replica_ids() == []
        clusters = {name: (cid, factor) for cid, name, factor in env.query(
            "SELECT id, name, replication_factor FROM mz_catalog.mz_clusters WHERE managed")}
        assert set(clusters) >= {"prod", "dev"}
        all_replicas: dict[str, str] = {}
        for name, (_, factor) in clusters.items():
            replicas = env.cluster_replicas(name)
            assert sorted(replicas) == [f"r{n}" for n in range(1, factor + 1)], (name, replicas, factor)
            all_replicas.update({rid: name for rid in replicas.values()})
        # exactly one process per replica of the catalog, none of any other replica (orphans are stopped)
        settle(lambda: [rid for rid, _ in env.replica_processes()], sorted(all_replicas), quiet)
        assert env.query("SELECT * FROM mz_internal.mz_failed_objects") == []
        for name, (cluster_id, _) in clusters.items():
            self._check_agreement(name, cluster_id, quiet)
        self._check_answers(clusters)
        log = env.log_path.read_text(errors="replace") if env.log_path.exists() else ""
        self.history = {"resumed by a new coordinator": log.count("left by a previous coordinator")}
        for (details,) in env.query("SELECT details FROM mz_catalog.mz_audit_events WHERE object_type = "
                                    "'cluster-replica' AND event_type = 'drop'"):
            if "rolled back" in details:
                self.history["replacements rolled back"] = self.history.get("replacements rolled back", 0) + 1
            elif "retired by graceful" in details:
                self.history["replicas retired at cut-over"] = self.history.get("replicas retired at cut-over",
                                                                                0) + 1

    def _check_agreement(self, name: str, cluster_id: str, timeout: float) -> None:
        env = self.env
        objects = {r[0] for r in env.query("SELECT id FROM mz_catalog.mz_objects WHERE cluster_id = %s AND "
                                           "type IN ('index', 'materialized-view', 'materialized view')",
                                           (cluster_id,))}
        replica_ids = sorted(env.cluster_replicas(name).values())

        def state() -> tuple[dict[str, set[str]], dict[str, tuple]]:
            """Per replica: the objects it reports a frontier for (those of the cluster at least, the same set
            for all), and (steady, disagreement) from its readiness."""
            by_replica: dict[str, set[str]] = {rid: set() for rid in replica_ids}
            for object_id, replica_id in env.query("SELECT object_id, replica_id FROM mz_internal.mz_frontiers"):
                if replica_id in by_replica:
                    by_replica[replica_id].add(object_id)
            readiness = env.replica_readiness(name)
            return by_replica, {rid: (r[1] is not None, r[4]) for rid, r in readiness.items()}
        found = next(iter(state()[0].values()), set()) | objects
        settle(state, ({rid: found for rid in replica_ids}, {rid: (True, None) for rid in replica_ids}), timeout,
               lambda got: all(s >= objects for s in got[0].values()) and len({frozenset(s) for s in got[0].values()})
               == 1 and got[1] == {rid: (True, None) for rid in replica_ids})

    def _check_answers(self, clusters: dict[str, tuple[str, int]]) -> None:
        env = self.env
        table = env.query("SELECT k, v FROM c")
        duck = duckdb.connect()
        duck.register("c", pa.table({"k": pa.array([r[0] for r in table], pa.int32()),
                                     "v": pa.array([r[1] for r in table], pa.int32())}))
        indexed = {view: ("prod", query) for view, query in PROD_QUERIES.items()}
        for (view,) in env.query("SELECT v.name FROM mz_catalog.mz_indexes i JOIN mz_catalog.mz_views v "
                                 "ON i.on_id = v.id WHERE i.name LIKE 'dv_%'"):
            indexed[view] = ("dev", DEV_QUERIES[view][0])
        mvs = {name: DEV_QUERIES["dv_" + name[3:]][0]
               for (name,) in env.query("SELECT name FROM mz_catalog.mz_materialized_views")}
        self.checked = sorted(indexed) + sorted(mvs)
        for relation, (cluster, query) in [*indexed.items(), *((mv, ("dev", q)) for mv, q in mvs.items())]:
            expected = sorted(tuple(int(x) for x in row) for row in duck.execute(query).fetchall())
            replicas = sorted(env.cluster_replicas(cluster))
            for replica in [None, *replicas]:
                with env.connect() as conn:
                    conn.execute(f"SET cluster = {cluster}")
                    conn.execute("SET statement_timeout = '30s'")
                    if replica is not None:
                        conn.execute(f"SET cluster_replica = {replica}")
                    rows = sorted(tuple(int(x) for x in row) for row in
                                  conn.execute(f"SELECT * FROM {relation}").fetchall())
                assert rows == expected, (relation, cluster, replica, rows[:10], expected[:10])
        duck.close()

    # ------------------------------------------------------------------ report

    def table(self) -> str:
        lines = [self.report.table(), "  statements      run  " + "  ".join(sorted(
            {o for _, o in self.outcomes}))]
        outcomes = sorted({o for _, o in self.outcomes})
        for kind in sorted(self.statements):
            lines.append(f"  {kind:<14}{self.statements[kind]:>5}  "
                         + "  ".join(f"{o}={self.outcomes[(kind, o)]}" for o in outcomes if self.outcomes[(kind, o)]))
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in getattr(self, "history", {}).items()))
        lines.append(f"  relations checked against DuckDB: {', '.join(getattr(self, 'checked', []))}")
        for unexpected in self.unexpected[:10]:
            lines.append(f"  unexpected: {unexpected}")
        return "\n".join(lines)


SEED = 11


def run(make_env, seed: int, duration_s: float = 30.0) -> ReconfigurationChaos:  # type: ignore[no-untyped-def]
    env = make_env("--compaction-interval", "1", "--compaction-lag-ms", "1000")
    gap = tuple(float(x) for x in os.environ.get("CHAOS_FAULT_GAP", "1.0,3.0").split(","))
    chaos = ReconfigurationChaos(env, seed, duration_s, gap)  # type: ignore[arg-type]
    try:
        chaos.run()
    finally:
        print(chaos.table())
    return chaos


def test_chaos_reconfiguration(make_env) -> None:  # type: ignore[no-untyped-def]
    seed = int(os.environ.get("CHAOS_SEED", str(SEED)))
    chaos = run(make_env, seed, float(os.environ.get("CHAOS_DURATION", "30")))
    report = chaos.report
    assert sum(report.faults.values()) >= 3  # the kinds are seeded; whether a target was found is timing
    assert chaos.outcomes[("resize", "ok")] + chaos.outcomes[("restart", "ok")] + chaos.outcomes[("seal", "ok")] > 0
    assert report.acknowledged > 0 and report.answered > 0
    assert report.lost == 0
    assert report.wrong == []
    assert report.manual_recoveries == 0
    assert chaos.unexpected == []
    assert chaos.lingering == []
