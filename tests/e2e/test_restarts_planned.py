"""Planned restarts keep the replica processes: they are adopted and reconcile, nothing rehydrates.

Real processes throughout:

* ``steadystate restart --data-dir DIR`` (SIGHUP to the supervisor) restarts the coordinator in place: the
  supervisor and its ports stay, an idle psycopg session carries on (its ``SET cluster`` included), the same
  replica processes serve and keep every dataflow (``mz_internal.mz_dataflow_reconciliation``: all kept, none
  rebuilt; every dataflow's hydration time in ``mz_compute_hydration_times`` unchanged);
* SIGTERM to ``serve``, or Ctrl-C (SIGINT to its process group), stops it gracefully — the catalog is closed
  cleanly and every acknowledged write is there afterwards — and leaves the replica processes running, so the
  next ``serve`` adopts them;
* ``steadystate stop --data-dir DIR`` stops ``serve`` and every replica process with it.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest
from test_restarts_coordinator import build_world, hydrated, hydration_times, reconciled, replica_of


def hydrated_world(env) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    ids = build_world(env)
    (replica_id,) = replica_of(env, "quickstart")
    for oid in ids.values():
        env.wait_for(lambda oid=oid: hydrated(env, oid, replica_id))
    return ids, replica_id


def test_in_place_restart_keeps_connections_replicas_and_dataflows(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE TABLE t (k int, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
                "CREATE VIEW tv AS SELECT k, v FROM t", "CREATE INDEX tv_idx IN CLUSTER prod ON tv (k)")
    ids, replica_id = hydrated_world(env)
    (prod_replica,) = replica_of(env, "prod")
    tv_idx = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'tv_idx'")[0][0]
    env.wait_for(lambda: hydrated(env, tv_idx, prod_replica))
    idle = env.connect()
    idle.execute("SET cluster = prod")
    assert idle.execute("SELECT k, v FROM tv ORDER BY k").fetchall() == [(1, "a"), (2, "b")]
    pids_before = env.replica_pids()
    supervisor = env.process.pid
    coordinator_before = env.coordinator_pid()
    times_before = hydration_times(env, replica_id, ids.values())

    result = env.cli("restart")

    assert result.returncode == 0, result.stderr
    assert env.process.poll() is None and env.process.pid == supervisor, "the supervisor (and its ports) stays"
    assert env.coordinator_pid() != coordinator_before
    assert env.replica_pids() == pids_before, "a planned restart must adopt the running replicas"
    # The idle session carries on with the new coordinator, its cluster setting replayed.
    with idle:
        assert idle.execute("SHOW cluster").fetchall() == [("prod",)]
        assert idle.execute("SELECT k, v FROM tv ORDER BY k").fetchall() == [(1, "a"), (2, "b")]
    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (2, "bob", 20)]
    assert env.query("SELECT * FROM totals ORDER BY customer") == [("ann", 15), ("bob", 20)]
    assert reconciled(env, replica_id) == (len(ids), 0)
    assert reconciled(env, prod_replica) == (1, 0)
    assert hydration_times(env, replica_id, ids.values()) == times_before, "nothing rehydrates"
    env.execute("INSERT INTO orders VALUES (4, 'cy', 40)")
    assert env.query("SELECT * FROM ann_mv ORDER BY id") == [(1, 10), (3, 5)]
    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (2, "bob", 20), (4, "cy", 40)]
    assert env.replica_processes() == sorted(pids_before.items())


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_graceful_stop_leaves_replicas_for_the_next_serve_to_adopt(env, how: str) -> None:  # type: ignore
    ids, replica_id = hydrated_world(env)
    env.execute("INSERT INTO orders VALUES (4, 'cy', 40)", "DELETE FROM orders WHERE id = 2")
    pids_before = env.replica_pids()
    times_before = hydration_times(env, replica_id, ids.values())

    if how == "sigterm":
        env.stop(keep_replicas=True)
    else:  # a terminal's Ctrl-C: SIGINT to the whole foreground process group, supervisor and coordinator
        os.killpg(env.process.pid, signal.SIGINT)
        assert env.process.wait(30) == 0
        env.process = None

    assert env.replica_processes() == sorted(pids_before.items()), "replicas outlive a planned stop"
    assert not (env.data_dir / "serve.json").exists()
    # The coordinator closed the catalog cleanly: nothing is left in its write-ahead log.
    assert not (env.data_dir / "catalog.db-wal").exists()

    env.start()

    assert env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (4, "cy", 40)]
    assert env.replica_pids() == pids_before
    assert reconciled(env, replica_id) == (len(ids), 0)
    assert hydration_times(env, replica_id, ids.values()) == times_before, "nothing rehydrates"
    assert env.query("SELECT * FROM totals ORDER BY customer") == [("ann", 15), ("cy", 40)]
    assert env.query("SELECT * FROM ann_mv ORDER BY id") == [(1, 10), (3, 5)]


def test_stop_command_stops_serve_and_every_replica(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
                "CREATE TABLE t (k int)", "INSERT INTO t VALUES (1), (2)")
    env.wait_for(lambda: len(env.replica_processes()) == 3)
    pids_before = {pid for _, pid in env.replica_processes()}
    supervisor = env.process

    result = env.cli("stop")

    assert result.returncode == 0, result.stderr
    assert supervisor.wait(10) == 0
    assert env.replica_processes() == []
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in pids_before)
    assert not (env.data_dir / "serve.json").exists()
    assert env.cli("stop").returncode == 1, "nothing left to stop"
    env.process = None

    env.start()  # a fresh start: new replica processes, the same data
    assert env.query("SELECT k FROM t ORDER BY k") == [(1,), (2,)]
    env.wait_for(lambda: len(env.replica_processes()) == 3)
    assert not pids_before & {pid for _, pid in env.replica_processes()}


def test_in_place_restarts_while_a_client_keeps_querying(env) -> None:  # type: ignore[no-untyped-def]
    """A statement cancelled by the old coordinator's shutdown must not keep its connection serving: before the
    fix, one restart in three under a query loop waited for the supervisor to kill the old coordinator (30 s),
    so ``steadystate restart --timeout 15`` failed."""
    import threading

    import psycopg

    env.execute("CREATE TABLE loop_t (k int)", "INSERT INTO loop_t VALUES (1)", "CREATE INDEX loop_i ON loop_t (k)")
    stop = threading.Event()
    answers: list[list[tuple]] = []
    errors: list[str] = []

    def client() -> None:
        with env.connect() as conn:
            while not stop.is_set():
                try:
                    answers.append(conn.execute("SELECT k FROM loop_t WHERE k = 1").fetchall())
                except psycopg.Error as exc:
                    errors.append(f"{exc.sqlstate}: {exc}")

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        env.wait_for(lambda: len(answers) > 10)
        for _ in range(6):
            before = len(answers)
            result = env.cli("restart", "--timeout", "15", timeout=60)
            assert result.returncode == 0, result.stderr
            env.wait_for(lambda: len(answers) > before + 5)
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert all(a == [(1,)] for a in answers)
