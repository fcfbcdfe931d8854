"""Durable graceful reconfiguration: SEAL, RESTART and resizing survive a coordinator crash, never leave pending
replicas, never let the replicas of one cluster run different histories, and never hold up other work.

A replacement replica is frozen with SIGSTOP to hold a reconfiguration in its waiting phase for as long as a
test needs; SIGCONT lets it hydrate.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psycopg
import pytest


def pending(env, cluster: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {name: rid for name, rid in env.cluster_replicas(cluster).items() if name.endswith("-pending")}


def freeze_pending(env, cluster: str, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Wait for ``count`` replacement replicas of ``cluster`` to have processes and SIGSTOP them (before they
    can connect: the tests' data is small enough to hydrate in milliseconds)."""
    ids = env.wait_for(lambda: (lambda p: list(p.values()) if len(p) == count else None)(pending(env, cluster)),
                       interval=0.002)
    pids = env.wait_for(lambda: (lambda found: found if len(found) == count else None)(
        [pid for rid, pid in env.replica_pids().items() if rid in ids]), interval=0.002)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return pids


def thaw(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def run_in_thread(env, statement: str) -> tuple[threading.Thread, dict[str, object]]:  # type: ignore[no-untyped-def]
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            env.execute(statement)
            outcome["ok"] = True
        except psycopg.Error as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def dirty_cluster(env, name: str, replicas: int = 2) -> None:  # type: ignore[no-untyped-def]
    env.execute(f"CREATE CLUSTER {name} (SIZE = 'small', REPLICATION FACTOR = {replicas})")
    env.wait_all_clean(name)
    env.execute(f"CREATE INDEX {name}_idx IN CLUSTER {name} ON t (k)")
    env.wait_for(lambda: all(not r[0] for r in env.replica_readiness(name).values()))


def settled(env, name: str, factor: int) -> None:  # type: ignore[no-untyped-def]
    """No pending replicas or reconfiguration, ``factor`` replicas named r1..rN, one process each."""
    env.wait_for(lambda: env.query("SELECT * FROM mz_internal.mz_pending_reconfigurations") == [], timeout=60)
    replicas = env.cluster_replicas(name)
    assert sorted(replicas) == [f"r{n}" for n in range(1, factor + 1)]
    env.wait_for(lambda: sorted(rid for rid, _ in env.replica_processes() if rid in set(replicas.values()))
                 == sorted(replicas.values()))
    assert not any(name.endswith("-pending") for name, _ in env.query("SELECT name, id FROM mz_catalog."
                                                                      "mz_cluster_replicas"))


@pytest.fixture
def world(env):  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE t (k int, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return env


def test_coordinator_crash_during_seal_resumes_and_cuts_over(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    dirty_cluster(env, "prod")
    thread, outcome = run_in_thread(env, "ALTER CLUSTER prod SEAL")
    frozen = freeze_pending(env, "prod", 2)
    old_pid = env.coordinator_pid()
    os.kill(old_pid, signal.SIGKILL)
    env.wait_coordinator_replaced(old_pid)
    thread.join(30)
    assert "error" in outcome  # the client lost its coordinator mid-statement: outcome unknown (08006)
    # the new coordinator resumed the reconfiguration: it is still pending, the cluster refuses DDL meanwhile
    assert [r[1] for r in env.query("SELECT * FROM mz_internal.mz_pending_reconfigurations")] == ["seal"]
    with pytest.raises(psycopg.Error) as info:
        env.execute("CREATE INDEX later IN CLUSTER prod ON t (v)")
    assert info.value.sqlstate == "55000"
    thaw(frozen)
    settled(env, "prod", 2)
    env.wait_all_clean("prod")
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'prod'") == [(True,)]
    env.wait_for(lambda: env.query("SELECT ready FROM mz_internal.mz_cluster_readiness WHERE cluster_id = %s",
                                   (env.cluster_id("prod"),)) == [(True,)])
    with env.connect() as conn:
        conn.execute("SET cluster = prod")
        assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [(1, "a"), (2, "b"), (3, "c")]


def test_coordinator_crash_during_restart_rolls_back_at_the_deadline(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    dirty_cluster(env, "stage")
    before = env.cluster_replicas("stage")
    thread, _ = run_in_thread(env, "ALTER CLUSTER stage RESTART WITH (TIMEOUT = '4s')")
    frozen = freeze_pending(env, "stage", 2)
    old_pid = env.coordinator_pid()
    os.kill(old_pid, signal.SIGKILL)
    env.wait_coordinator_replaced(old_pid)
    thread.join(30)
    try:
        settled(env, "stage", 2)  # the deadline passed with the replacements frozen: rolled back
    finally:
        thaw(frozen)
    assert env.cluster_replicas("stage") == before
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'stage'") == [(False,)]
    env.wait_for(lambda: not any(pid in frozen for _, pid in env.replica_processes()))


def test_restart_timeout_while_an_old_replica_reconnects_keeps_histories(world) -> None:  # type: ignore[no-untyped-def]
    """A residual dataflow makes the old and the fresh history differ; an old replica that reconnects during a
    RESTART that then times out must still run the old one, like its sibling."""
    env = world
    env.execute(
        "CREATE CLUSTER res (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE VIEW tv AS SELECT k, v FROM t WHERE k > 0",
        "CREATE INDEX t_idx IN CLUSTER res ON t (k)",
        "CREATE INDEX tv_idx IN CLUSTER res ON tv (k)",
        "DROP INDEX t_idx",  # residual: tv_idx still imports it
    )
    env.wait_all_clean("res")
    (t_idx,), = env.query("SELECT object_id FROM mz_internal.mz_residual_dataflows LIMIT 1")
    old = env.cluster_replicas("res")
    thread, outcome = run_in_thread(env, "ALTER CLUSTER res RESTART WITH (TIMEOUT = '5s')")
    frozen = freeze_pending(env, "res", 2)
    try:
        env.kill_replica(old["r1"])  # reconnects (and replays its history) while the restart waits
        thread.join(60)
        assert "error" in outcome and outcome["error"].sqlstate == "57014"  # type: ignore[union-attr]
    finally:
        thaw(frozen)
    settled(env, "res", 2)
    assert env.cluster_replicas("res") == old

    def residual_on_both() -> bool:  # each replica reports the residual index's frontier: it runs it
        rows = env.query("SELECT replica_id FROM mz_internal.mz_frontiers WHERE object_id = %s", (t_idx,))
        return sorted(r[0] for r in rows) == sorted(old.values())
    env.wait_for(residual_on_both, timeout=30)
    assert [r[0] for r in env.query("SELECT object_id FROM mz_internal.mz_residual_dataflows")] == [t_idx] * 2


def test_reconfiguration_does_not_hold_up_other_work(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    dirty_cluster(env, "slow", replicas=1)
    thread, outcome = run_in_thread(env, "ALTER CLUSTER slow RESTART WITH (TIMEOUT = '60s')")
    frozen = freeze_pending(env, "slow", 1)
    try:
        # DDL elsewhere, writes, and a slow-path query on the restarting (unsealed) cluster all go through
        env.execute("CREATE TABLE elsewhere (x int)", "INSERT INTO t VALUES (4, 'd')")
        with env.connect() as conn:
            conn.execute("SET cluster = slow")
            assert conn.execute("SELECT count(*), max(k) FROM t WHERE v <> 'z'").fetchall() == [(4, 4)]
        # DDL on the cluster itself must wait for the restart
        with pytest.raises(psycopg.Error) as info:
            env.execute("CREATE INDEX slow_v IN CLUSTER slow ON t (v)")
        assert info.value.sqlstate == "55000"
        assert [r[1] for r in env.query("SELECT * FROM mz_internal.mz_pending_reconfigurations")] == ["restart"]
        assert thread.is_alive()
    finally:
        thaw(frozen)
    thread.join(60)
    assert outcome == {"ok": True}
    settled(env, "slow", 1)
    env.wait_all_clean("slow")


def test_resize_without_a_gap(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER grow (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE INDEX grow_idx IN CLUSTER grow ON t (k)")
    env.wait_all_clean("grow")
    failures: list[Exception] = []
    answers: list[list[tuple]] = []
    stop = threading.Event()

    def reader() -> None:
        with env.connect() as conn:
            conn.execute("SET cluster = grow")
            while not stop.is_set():
                try:
                    answers.append(conn.execute("SELECT k FROM t ORDER BY k").fetchall())
                except psycopg.Error as exc:
                    failures.append(exc)
                time.sleep(0.01)

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        env.execute("ALTER CLUSTER grow SET (SIZE = 'medium', REPLICATION FACTOR = 2) "
                    "WITH (WAIT UNTIL READY (TIMEOUT = '60s', ON TIMEOUT = 'ROLLBACK'))")
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failures == []
    assert answers and all(a == [(1,), (2,), (3,)] for a in answers)
    settled(env, "grow", 2)
    assert env.query("SELECT size, replication_factor FROM mz_catalog.mz_clusters WHERE name = 'grow'") == \
        [("medium", 2)]
    assert {r[0] for r in env.query("SELECT size FROM mz_catalog.mz_cluster_replicas WHERE cluster_id = %s",
                                    (env.cluster_id("grow"),))} == {"medium"}


@pytest.mark.parametrize("on_timeout", ["COMMIT", "ROLLBACK"])
def test_resize_timeout_commits_or_rolls_back(world, on_timeout: str) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER rz (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE INDEX rz_idx IN CLUSTER rz ON t (k)")
    env.wait_all_clean("rz")
    before = env.cluster_replicas("rz")
    thread, outcome = run_in_thread(env, "ALTER CLUSTER rz SET (SIZE = 'medium') WITH (WAIT UNTIL READY "
                                         f"(TIMEOUT = '2s', ON TIMEOUT = '{on_timeout}'))")
    frozen = freeze_pending(env, "rz", 1)
    try:
        thread.join(60)
        settled(env, "rz", 1)
        size = env.query("SELECT size FROM mz_catalog.mz_clusters WHERE name = 'rz'")
        if on_timeout == "COMMIT":
            assert outcome == {"ok": True} and size == [("medium",)]
            assert env.cluster_replicas("rz") != before
        else:
            assert outcome["error"].sqlstate == "57014"  # type: ignore[union-attr]
            assert size == [("small",)] and env.cluster_replicas("rz") == before
    finally:
        thaw(frozen)
    env.wait_all_clean("rz", timeout=60)
    with env.connect() as conn:
        conn.execute("SET cluster = rz")
        assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (2,), (3,)]
