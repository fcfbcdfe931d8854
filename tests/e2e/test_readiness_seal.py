"""Sealing, graceful restarts, residual dataflows, the readiness verdict, audit and ownership (issue §2-§5).

All cases share one environment; each uses its own cluster, so they do not interfere:

* sealing a dirty 2-replica cluster while another connection runs fast-path queries in a loop: zero failed or
  wrong answers, and the cluster ends sealed with clean replacement replicas (same names, new ids, one process
  each, the old processes gone);
* sealing that times out rolls back completely (unsealed, same replica ids and processes, nothing pending);
* ``RESTART = false`` on a dirty cluster is refused naming the dirty replicas and the DDL that dirtied them;
  a cluster without replicas cannot be sealed;
* a dropped index still imported by another dataflow: NOTICE, ``mz_residual_dataflows``, sealing refused,
  ``EXPLAIN RESTART CLUSTER`` says absent, ``ALTER CLUSTER ... RESTART`` clears it and results stay correct;
* the verdict (``mz_internal.mz_cluster_readiness``, ``GET /api/readiness``, ``steadystate status``) flips as
  each condition is met;
* seal/unseal audit events; only the owner or a superuser may seal (42501 otherwise).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg
import pytest

ROWS = [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE t (k int, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')",
        "CREATE VIEW v AS SELECT k, v FROM t WHERE k > 0",
        "CREATE VIEW w AS SELECT k, v FROM v WHERE k < 100",
    )
    return shared_env


def dirty_cluster(env, name: str, replicas: int = 2) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A cluster with an index on ``v`` created after its replicas are up: every replica is dirty."""
    env.execute(f"CREATE CLUSTER {name} (SIZE = 'small', REPLICATION FACTOR = {replicas})")
    env.wait_all_clean(name)
    env.execute(f"CREATE INDEX {name}_idx IN CLUSTER {name} ON v (k)")
    env.wait_for(lambda: all(not r[0] and r[3] for r in env.replica_readiness(name).values()))
    return env.cluster_replicas(name)


def processes_of(env, replica_ids) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [p for p in env.replica_processes() if p[0] in set(replica_ids)]


def verdict(env, name: str) -> tuple[bool, bool, str, str]:  # type: ignore[no-untyped-def]
    (row,) = env.query("SELECT sealed, ready, reasons, warnings FROM mz_internal.mz_cluster_readiness "
                       "WHERE cluster_id = %s", (env.cluster_id(name),))
    return row


def api_readiness(env) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(env.http_request("/api/readiness"), timeout=10) as response:
        assert response.headers.get_content_type() == "application/json"
        return {c["name"]: c for c in json.load(response)["clusters"]}


# ---------------------------------------------------------------------------------------------- graceful seal


def test_seal_dirty_cluster_while_fast_path_queries_run(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    old = dirty_cluster(env, "busy")
    old_processes = processes_of(env, old.values())
    assert len(old_processes) == 2

    answers: list[tuple[float, float, object]] = []
    errors: list[tuple[float, str]] = []
    stop = threading.Event()

    def client() -> None:
        with env.connect() as conn:
            conn.execute("SET cluster = busy")
            n = 0
            while not stop.is_set():
                key = n % 4 + 1
                started = time.monotonic()
                try:
                    rows = conn.execute("SELECT k, v FROM v WHERE k = %s", (key,)).fetchall()
                    answers.append((started, time.monotonic(), (key, rows)))
                except psycopg.Error as exc:
                    errors.append((started, f"{exc.sqlstate}: {exc}"))
                n += 1

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    env.wait_for(lambda: len(answers) + len(errors) >= 5)
    seal_started = time.monotonic()
    env.execute("ALTER CLUSTER busy SEAL")
    seal_ended = time.monotonic()
    count_at_seal_end = len(answers) + len(errors)
    env.wait_for(lambda: len(answers) + len(errors) >= count_at_seal_end + 5)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()

    assert errors == [], f"{len(errors)} failed queries, first: {errors[:3]}"
    wrong = [(key, rows) for _s, _e, (key, rows) in answers if rows != [ROWS[key - 1]]]  # type: ignore[misc]
    assert wrong == [], f"wrong answers: {wrong[:5]}"
    during = [a for a in answers if a[0] >= seal_started and a[1] <= seal_ended]
    assert during, "no query ran while the cluster was being sealed"

    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'busy'") == [(True,)]
    new = env.cluster_replicas("busy")
    assert set(new) == set(old), "replacements must take the retired replicas' names"
    assert set(new.values()).isdisjoint(old.values()), "dirty replicas must have been replaced"
    readiness = env.replica_readiness("busy")
    assert set(readiness) == set(new.values())
    assert all(r[0] is True and r[2:] == (None, None, None) for r in readiness.values()), readiness
    env.wait_for(lambda: not processes_of(env, old.values()))
    assert sorted(r for r, _ in processes_of(env, new.values())) == sorted(new.values())
    assert env.query("SELECT k, v FROM v ORDER BY k") == ROWS
    sealed, ready, reasons, _warnings = verdict(env, "busy")
    assert (sealed, ready, reasons) == (True, True, "")


def test_seal_timeout_rolls_back_completely(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    old = dirty_cluster(env, "slowseal")
    old_processes = processes_of(env, old.values())
    all_replica_ids = set(env.query("SELECT id FROM mz_catalog.mz_cluster_replicas"))
    before_readiness = env.replica_readiness("slowseal")
    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER slowseal SEAL WITH (TIMEOUT = '1ms')")
    message = info.value.diag.message_primary or ""
    assert '"slowseal"' in message and "timed out" in message, message
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'slowseal'") == [(False,)]
    assert env.cluster_replicas("slowseal") == old
    assert set(env.query("SELECT id FROM mz_catalog.mz_cluster_replicas")) == all_replica_ids, \
        "a replacement replica was left in the catalog"
    env.wait_for(lambda: sorted(processes_of(env, old.values())) == sorted(old_processes))
    env.wait_for(lambda: len(env.replica_processes()) == len(all_replica_ids))
    # left exactly as it was: the same (still dirty) replicas, still answering
    assert env.replica_readiness("slowseal") == before_readiness
    with env.connect() as conn:
        conn.execute("SET cluster = slowseal")
        assert conn.execute("SELECT * FROM v ORDER BY k").fetchall() == ROWS
    # the same cluster seals with enough time
    env.execute("ALTER CLUSTER slowseal SEAL")
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'slowseal'") == [(True,)]
    env.execute("ALTER CLUSTER slowseal UNSEAL", "DROP CLUSTER slowseal CASCADE")


def test_seal_without_restart_refused_on_dirty_cluster(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    old = dirty_cluster(env, "norestart")
    (index_id,), = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'norestart_idx'")
    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER norestart SEAL WITH (RESTART = false)")
    error = info.value
    assert error.sqlstate == "55000"
    text = f"{error.diag.message_primary} {error.diag.message_detail}"
    assert '"norestart"' in text
    for replica_name in old:
        assert f'"{replica_name}"' in text, text
    assert f"CREATE INDEX materialize.public.norestart_idx ({index_id})" in text, text
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'norestart'") == [(False,)]
    assert env.cluster_replicas("norestart") == old
    # once clean (ALTER CLUSTER RESTART on its own), RESTART = false seals without replacing anything
    env.execute("ALTER CLUSTER norestart RESTART")
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'norestart'") == [(False,)]
    clean = env.wait_all_clean("norestart")
    restarted = env.cluster_replicas("norestart")
    assert set(restarted) == set(old) and set(restarted.values()).isdisjoint(old.values())
    env.execute("ALTER CLUSTER norestart SEAL WITH (RESTART = false)")
    assert env.cluster_replicas("norestart") == restarted
    assert env.replica_readiness("norestart") == clean
    env.execute("ALTER CLUSTER norestart UNSEAL", "DROP CLUSTER norestart CASCADE")


def test_seal_refused_without_replicas(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER empty (SIZE = 'small', REPLICATION FACTOR = 0)")
    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER empty SEAL")
    assert info.value.sqlstate == "55000"
    assert '"empty"' in info.value.diag.message_primary and "no replicas" in info.value.diag.message_primary
    sealed, ready, reasons, _ = verdict(env, "empty")
    assert (sealed, ready) == (False, False) and "no replicas" in reasons
    env.execute("DROP CLUSTER empty")


# ---------------------------------------------------------------------------------------------- residual dataflows


def test_dropped_index_in_use_is_residual(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER res (SIZE = 'small', REPLICATION FACTOR = 2)")
    env.wait_all_clean("res")
    env.execute("CREATE INDEX res_v_idx IN CLUSTER res ON v (k)",
                "CREATE MATERIALIZED VIEW res_mv IN CLUSTER res AS SELECT k, v FROM w")
    plan = "\n".join(r[0] for r in env.query("EXPLAIN MATERIALIZED VIEW res_mv"))
    assert "index import (shared arrangement)" in plan and "res_v_idx" in plan, plan
    (index_id,), = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'res_v_idx'")
    (mv_id,), = env.query("SELECT id FROM mz_catalog.mz_materialized_views WHERE name = 'res_mv'")
    replica_ids = sorted(env.cluster_replicas("res").values())

    notices: list[str] = []
    with env.connect() as conn:
        conn.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
        conn.execute("DROP INDEX res_v_idx")
    assert any("res_v_idx" in n and "res_mv" in n for n in notices), notices

    residual = env.query("SELECT cluster_id, replica_id, object_id, name, held_by "
                         "FROM mz_internal.mz_residual_dataflows WHERE cluster_id = %s ORDER BY replica_id",
                         (env.cluster_id("res"),))
    assert [r[1] for r in residual] == replica_ids
    assert all(r[2] == index_id and r[3].endswith("res_v_idx") and mv_id in r[4] for r in residual), residual

    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER res SEAL")
    assert info.value.sqlstate == "55000"
    assert '"res"' in info.value.diag.message_primary and "residual" in info.value.diag.message_primary
    assert "res_v_idx" in (info.value.diag.message_detail or "")
    assert env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'res'") == [(False,)]

    diff = {r[0]: r for r in env.query("EXPLAIN RESTART CLUSTER res")}
    assert diff[index_id][2] == "absent", diff
    assert diff[mv_id][2] == "different", diff
    _sealed, ready, reasons, _ = verdict(env, "res")
    assert not ready and "residual" in reasons and index_id in reasons

    # the residual arrangement keeps the MV correct
    env.execute("INSERT INTO t VALUES (50, 'x')")
    assert env.query("SELECT * FROM res_mv ORDER BY k") == ROWS + [(50, "x")]

    env.execute("ALTER CLUSTER res RESTART")
    assert env.query("SELECT * FROM mz_internal.mz_residual_dataflows WHERE cluster_id = %s",
                     (env.cluster_id("res"),)) == []
    diff = env.query("EXPLAIN RESTART CLUSTER res")
    assert [(r[0], r[2]) for r in diff] == [(mv_id, "identical")], diff
    env.wait_all_clean("res")
    env.execute("DELETE FROM t WHERE k = 50")
    assert env.query("SELECT * FROM res_mv ORDER BY k") == ROWS
    env.execute("ALTER CLUSTER res SEAL")
    assert verdict(env, "res")[:3] == (True, True, "")
    env.execute("ALTER CLUSTER res UNSEAL", "DROP CLUSTER res CASCADE")


# ---------------------------------------------------------------------------------------------- verdict


def test_verdict_flips_as_each_condition_is_met(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    dirty_cluster(env, "vc")
    sealed, ready, reasons, warnings = verdict(env, "vc")
    assert (sealed, ready) == (False, False)
    assert "not sealed" in reasons and "dirty" in reasons and "vc_idx" in reasons
    assert warnings == ""

    env.execute("ALTER CLUSTER vc RESTART")  # clean, still unsealed
    env.wait_all_clean("vc")
    sealed, ready, reasons, warnings = verdict(env, "vc")
    assert (sealed, ready) == (False, False)
    assert "not sealed" in reasons and "dirty" not in reasons, reasons

    env.execute("ALTER CLUSTER vc SEAL")
    assert verdict(env, "vc") == (True, True, "", "")
    api = api_readiness(env)["vc"]
    assert (api["sealed"], api["ready"], api["reasons"], api["warnings"]) == (True, True, [], [])

    # one replica: still ready, with a warning about downtime from the measured hydration time
    env.execute("ALTER CLUSTER vc UNSEAL", "ALTER CLUSTER vc SET (REPLICATION FACTOR = 1)")
    env.wait_all_clean("vc")
    env.wait_for(lambda: env.query("SELECT count(*) FROM mz_internal.mz_compute_hydration_times h "
                                   "JOIN mz_catalog.mz_cluster_replicas r ON h.replica_id = r.id "
                                   "WHERE r.cluster_id = %s", (env.cluster_id("vc"),)) == [(1,)])
    env.execute("ALTER CLUSTER vc SEAL")
    sealed, ready, reasons, warnings = verdict(env, "vc")
    assert (sealed, ready, reasons) == (True, True, "")
    assert "one replica" in warnings and "downtime" in warnings and "hydration" in warnings, warnings
    api = api_readiness(env)["vc"]
    assert api["ready"] is True and api["warnings"] and api["expected_downtime_s"] is not None

    # dirty (unsealed to allow DDL) -> not ready
    env.execute("ALTER CLUSTER vc UNSEAL", "CREATE INDEX vc_idx2 IN CLUSTER vc ON v (v)")
    env.wait_for(lambda: "dirty" in verdict(env, "vc")[2])
    # residual: an index imported by an MV, then dropped
    env.execute("CREATE MATERIALIZED VIEW vc_mv IN CLUSTER vc AS SELECT k FROM w", "DROP INDEX vc_idx")
    env.wait_for(lambda: "not hydrated" not in verdict(env, "vc")[2])  # the new MV hydrates
    sealed, ready, reasons, _ = verdict(env, "vc")
    assert not ready and "residual" in reasons and "not sealed" in reasons and "dirty" in reasons, reasons
    api = api_readiness(env)["vc"]
    assert "; ".join(api["reasons"]) == reasons and api["ready"] is False

    env.execute("ALTER CLUSTER vc RESTART", "ALTER CLUSTER vc SEAL")
    sealed, ready, reasons, _ = verdict(env, "vc")
    assert (sealed, ready, reasons) == (True, True, "")
    env.execute("ALTER CLUSTER vc UNSEAL", "DROP CLUSTER vc CASCADE")


def test_api_readiness_matches_sql(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    api = api_readiness(env)
    rows = env.query("SELECT c.name, r.sealed, r.ready, r.reasons, r.warnings FROM mz_internal.mz_cluster_readiness r "
                     "JOIN mz_catalog.mz_clusters c ON r.cluster_id = c.id")
    assert set(api) == {r[0] for r in rows}
    for name, sealed, ready, reasons, warnings in rows:
        cluster = api[name]
        assert cluster["cluster_id"] == env.cluster_id(name)
        assert (cluster["sealed"], cluster["ready"]) == (sealed, ready)
        assert "; ".join(cluster["reasons"]) == reasons and "; ".join(cluster["warnings"]) == warnings
        assert {r["id"] for r in cluster["replicas"]} == set(env.cluster_replicas(name).values())
        assert {r["name"] for r in cluster["replicas"]} == set(env.cluster_replicas(name))


def test_steadystate_status_command(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    api = api_readiness(env)
    status = subprocess.run([sys.executable, "-m", "steadystate", "status", "--data-dir", str(env.data_dir), "--http-port", str(env.http_port)],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    for name, cluster in api.items():
        (line,) = [l for l in lines if l.split()[:1] == [name]]
        assert line.split()[1:3] == [str(cluster["sealed"]).lower(), str(cluster["ready"]).lower()], line
        for reason in cluster["reasons"]:
            assert any(reason in l for l in lines), reason
    checked = subprocess.run([sys.executable, "-m", "steadystate", "status", "--data-dir", str(env.data_dir), "--check", "--http-port",
                              str(env.http_port)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == (0 if all(c["ready"] for c in api.values()) else 1)
    as_json = subprocess.run([sys.executable, "-m", "steadystate", "status", "--data-dir", str(env.data_dir), "--json", "--http-port",
                              str(env.http_port)], capture_output=True, text=True, timeout=60)
    assert {c["name"] for c in json.loads(as_json.stdout)} == set(api)


# ---------------------------------------------------------------------------------------------- audit and owners


def test_seal_and_unseal_are_audited(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER aud (SIZE = 'small', REPLICATION FACTOR = 1)")
    env.wait_all_clean("aud")
    cluster_id = env.cluster_id("aud")
    (last,), = env.query("SELECT max(id) FROM mz_catalog.mz_audit_events")
    env.execute("ALTER CLUSTER aud SEAL", "ALTER CLUSTER aud UNSEAL")
    env.execute("CREATE ROLE aud_owner LOGIN PASSWORD 'aud-pw'")
    env.execute("ALTER CLUSTER aud OWNER TO aud_owner")
    with psycopg.connect(env.dsn_as("aud_owner", "aud-pw"), autocommit=True) as conn:
        conn.execute("ALTER CLUSTER aud SEAL")
    events = env.query("SELECT id, event_type, object_type, details, user, occurred_at "
                       "FROM mz_catalog.mz_audit_events WHERE id > %s ORDER BY id", (last,))
    mine = [(e[1], e[2], json.loads(e[3]), e[4]) for e in events if json.loads(e[3]).get("id") == cluster_id]
    sealing = [(t, o, d.get("sealed"), u) for t, o, d, u in mine if "sealed" in d]
    assert sealing == [("alter", "cluster", True, "materialize"), ("alter", "cluster", False, "materialize"),
                       ("alter", "cluster", True, "aud_owner")], mine
    assert all(e[5] is not None for e in events)
    with psycopg.connect(env.dsn_as("aud_owner", "aud-pw"), autocommit=True) as conn:
        conn.execute("ALTER CLUSTER aud UNSEAL")
    env.execute("DROP CLUSTER aud")


def test_only_owner_or_superuser_may_seal(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE ROLE bob PASSWORD 'pw-bob'", "CREATE ROLE boss SUPERUSER PASSWORD 'pw-boss'",
                "CREATE ROLE carol CREATECLUSTER PASSWORD 'pw-carol'")
    assert set(env.query("SELECT name, superuser FROM mz_catalog.mz_roles WHERE name IN ('bob', 'boss')")) == {
        ("bob", False), ("boss", True)}
    # a cluster created by carol is owned by carol
    with psycopg.connect(env.dsn_as("carol", "pw-carol"), autocommit=True) as carol:
        carol.execute("CREATE CLUSTER carols (SIZE = 'small', REPLICATION FACTOR = 1)")
    assert env.query("SELECT owner FROM mz_catalog.mz_clusters WHERE name = 'carols'") == [("carol",)]
    env.wait_all_clean("carols")

    def seal_as(user: str, action: str = "SEAL") -> None:
        with psycopg.connect(env.dsn_as(user, f"pw-{user}"), autocommit=True) as conn:
            conn.execute(f"ALTER CLUSTER carols {action}")

    def is_sealed() -> bool:
        return env.query("SELECT sealed FROM mz_catalog.mz_clusters WHERE name = 'carols'")[0][0]

    with pytest.raises(psycopg.Error) as info:  # a role without privilege
        seal_as("bob")
    assert info.value.sqlstate == "42501", info.value
    assert '"carols"' in info.value.diag.message_primary
    assert not is_sealed()
    with pytest.raises(psycopg.OperationalError) as refused:  # a user name that is no role cannot log in
        seal_as("dave")
    assert "password authentication failed" in str(refused.value)
    assert not is_sealed()
    seal_as("carol")
    assert is_sealed()
    with pytest.raises(psycopg.Error) as info:
        seal_as("bob", "UNSEAL")
    assert info.value.sqlstate == "42501" and is_sealed()
    seal_as("boss", "UNSEAL")  # a superuser
    assert not is_sealed()
    with psycopg.connect(env.dsn, autocommit=True) as conn:  # the default user is a superuser
        conn.execute("ALTER CLUSTER carols SEAL")
    assert is_sealed()
    seal_as("carol", "UNSEAL")
    with pytest.raises(psycopg.Error) as info:  # only the owner or a superuser may give the cluster away
        with psycopg.connect(env.dsn_as("bob", "pw-bob"), autocommit=True) as conn:
            conn.execute("ALTER CLUSTER carols OWNER TO bob")
    assert info.value.sqlstate == "42501"
    env.execute("ALTER CLUSTER carols OWNER TO bob")
    assert env.query("SELECT owner FROM mz_catalog.mz_clusters WHERE name = 'carols'") == [("bob",)]
    seal_as("bob")
    assert is_sealed()
    with pytest.raises(psycopg.Error) as info:
        seal_as("carol", "UNSEAL")  # no longer the owner
    assert info.value.sqlstate == "42501"
    seal_as("bob", "UNSEAL")
    env.execute("DROP CLUSTER carols", "DROP ROLE boss")
    assert env.query("SELECT name FROM mz_catalog.mz_roles WHERE name = 'boss'") == []


# ---------------------------------------------------------------------------------------------- restart diff


def test_seal_refused_when_restart_would_change_a_plan(world) -> None:  # type: ignore[no-untyped-def]
    """No residual, but a fresh plan differs: an MV imports index A of v; an index B on w (which the MV reads)
    created later would be imported by a fresh plan instead."""
    env = world
    env.execute("CREATE CLUSTER diff (SIZE = 'small', REPLICATION FACTOR = 1)")
    env.wait_all_clean("diff")
    env.execute("CREATE INDEX diff_v_idx IN CLUSTER diff ON v (k)",
                "CREATE MATERIALIZED VIEW diff_mv IN CLUSTER diff AS SELECT k, v FROM w")
    (mv_id,), = env.query("SELECT id FROM mz_catalog.mz_materialized_views WHERE name = 'diff_mv'")
    assert {r[2] for r in env.query("EXPLAIN RESTART CLUSTER diff")} == {"identical"}
    env.execute("CREATE INDEX diff_w_idx IN CLUSTER diff ON w (k)")
    diff = {r[0]: r for r in env.query("EXPLAIN RESTART CLUSTER diff")}
    assert diff[mv_id][2] == "different" and diff[mv_id][3], diff
    for options in ("", " WITH (RESTART = false)"):
        with pytest.raises(psycopg.Error) as info:
            env.execute(f"ALTER CLUSTER diff SEAL{options}")
        assert info.value.sqlstate == "55000"
        assert '"diff"' in info.value.diag.message_primary
        assert mv_id in (info.value.diag.message_detail or ""), info.value.diag.message_detail
    assert "a restart would change" in verdict(env, "diff")[2]
    env.execute("ALTER CLUSTER diff RESTART")
    assert {r[2] for r in env.query("EXPLAIN RESTART CLUSTER diff")} == {"identical"}
    assert env.query("SELECT * FROM diff_mv ORDER BY k") == ROWS
    env.execute("ALTER CLUSTER diff SEAL")
    assert verdict(env, "diff")[:3] == (True, True, "")
    env.execute("ALTER CLUSTER diff UNSEAL", "DROP CLUSTER diff CASCADE")


def test_subscribe_running_at_seal_time_does_not_dirty_the_sealed_cluster(world) -> None:  # type: ignore[no-untyped-def]
    """A SUBSCRIBE open while a cluster is sealed: sealing may refuse it, but if it seals, the cluster's
    replicas must stay clean (the subscribe's end must not be replica-level DDL on the sealed cluster)."""
    env = world
    dirty_cluster(env, "subs")
    received: list[tuple] = []
    done = threading.Event()

    def subscriber() -> None:
        conn = env.connect()  # closed, not committed: leaving COPY OUT early leaves the connection busy
        try:
            conn.execute("SET cluster = subs")
            with conn.cursor().copy("COPY (SUBSCRIBE TO v) TO STDOUT") as copy:
                for row in copy.rows():
                    received.append(row)
                    if row[2] == "77":
                        break
        finally:
            conn.close()
            done.set()

    thread = threading.Thread(target=subscriber, daemon=True)
    thread.start()
    env.wait_for(lambda: len(received) >= len(ROWS))
    try:
        env.execute("ALTER CLUSTER subs SEAL")
        sealed = True
    except psycopg.Error as exc:
        assert exc.sqlstate == "55000", exc
        sealed = False
    env.execute("INSERT INTO t VALUES (77, 'z')")
    assert done.wait(30), "the subscription stopped delivering"
    thread.join(10)
    assert [r[1:] for r in received[len(ROWS):]] == [("1", "77", "z")], "updates lost or duplicated"
    env.execute("DELETE FROM t WHERE k = 77")
    if sealed:
        # give the replicas time to report the end of the subscription, then require them clean
        env.wait_for(lambda: not any(r[0] == "t" for r in
                                     (row[0] for row in env.query("EXPLAIN RESTART CLUSTER subs"))))
        readiness = env.wait_for(lambda: (r := env.replica_readiness("subs")) and
                                 all(x[1] is not None for x in r.values()) and r)
        assert all(x[0] is True for x in readiness.values()), \
            f"the sealed cluster's replicas became dirty: {[x[3] for x in readiness.values()]}"
        assert verdict(env, "subs")[:3] == (True, True, "")
        env.execute("ALTER CLUSTER subs UNSEAL")
    env.execute("DROP CLUSTER subs CASCADE")


def test_sealed_cluster_replica_kill9_stays_sealed_clean_and_ready(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER sk (SIZE = 'small', REPLICATION FACTOR = 2)")
    env.wait_all_clean("sk")
    env.execute("CREATE INDEX sk_idx IN CLUSTER sk ON v (k)", "ALTER CLUSTER sk SEAL")
    replicas = env.cluster_replicas("sk")
    victim = replicas["r1"]
    old_pid = env.kill_replica(victim)
    with env.connect() as conn:  # the other replica keeps answering
        conn.execute("SET cluster = sk")
        assert conn.execute("SELECT * FROM v ORDER BY k").fetchall() == ROWS
    env.wait_for(lambda: env.replica_pids().get(victim) not in (None, old_pid), timeout=60)
    env.wait_all_clean("sk", timeout=60)
    assert env.cluster_replicas("sk") == replicas
    env.wait_for(lambda: verdict(env, "sk")[:3] == (True, True, ""), timeout=60)
    env.execute("ALTER CLUSTER sk UNSEAL", "DROP CLUSTER sk CASCADE")


# ---------------------------------------------------------------------------------------------- the complete verdict


def test_verdict_counts_replicas_against_the_replication_factor(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER rf (SIZE = 'small', REPLICATION FACTOR = 2)")
    env.wait_all_clean("rf")
    env.execute("DROP CLUSTER REPLICA rf.r2")
    env.wait_all_clean("rf")
    _, ready, reasons, _ = verdict(env, "rf")
    assert not ready and "has 1 replica(s) but its replication factor is 2" in reasons, reasons
    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER rf SEAL")
    assert info.value.sqlstate == "55000" and "replication factor" in info.value.diag.message_primary
    env.execute("ALTER CLUSTER rf SET (REPLICATION FACTOR = 2)")
    env.wait_all_clean("rf")
    assert "replication factor" not in verdict(env, "rf")[2]
    env.execute("DROP CLUSTER rf")


def test_verdict_remembers_a_recent_crash_loop(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER loop (SIZE = 'small', REPLICATION FACTOR = 1)")
    env.wait_all_clean("loop")
    (replica_id,) = env.cluster_replicas("loop").values()
    assert "crash-looping" not in verdict(env, "loop")[2]
    for _ in range(3):  # three crashes within a minute: crash-looping
        pid = env.wait_for(lambda: env.replica_pids().get(replica_id))
        env.kill_replica(replica_id)
        env.wait_for(lambda: env.replica_pids().get(replica_id) not in (None, pid), timeout=30)
    env.wait_for(lambda: env.query("SELECT count(*) FROM mz_internal.mz_cluster_replica_status_history "
                                   "WHERE replica_id = %s AND status = 'crash-looping'", (replica_id,)) != [(0,)])
    env.wait_all_clean("loop", timeout=60)  # up again, online and clean ...
    _, ready, reasons, _ = verdict(env, "loop")
    assert not ready and "crash-looping" in reasons, reasons  # ... and still not ready
    with pytest.raises(psycopg.Error) as info:
        env.execute("ALTER CLUSTER loop SEAL")
    assert info.value.sqlstate == "55000" and "crash-looping" in info.value.diag.message_primary
    env.execute("DROP CLUSTER loop")


def test_controller_expectation_beside_the_replica_signal(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    dirty_cluster(env, "exp", replicas=1)
    (replica_id,) = env.cluster_replicas("exp").values()

    def row() -> tuple:
        (found,) = env.query("SELECT clean, dirtied_by, error, expected_clean, expected_dirtied_by FROM "
                             "mz_internal.mz_cluster_replica_readiness WHERE replica_id = %s", (replica_id,))
        return found
    clean, dirtied_by, error, expected_clean, expected_by = env.wait_for(lambda: (lambda r: r if r[3] is not None
                                                                                  else None)(row()))
    assert (clean, expected_clean) == (False, False)
    assert dirtied_by == expected_by and "CREATE INDEX" in dirtied_by and error is None
    env.execute("ALTER CLUSTER exp RESTART")
    env.wait_all_clean("exp")
    (replica_id,) = env.cluster_replicas("exp").values()
    clean, dirtied_by, error, expected_clean, expected_by = env.wait_for(lambda: (lambda r: r if r[0] else None)(
        row()))
    assert (clean, dirtied_by, error, expected_clean, expected_by) == (True, None, None, True, None)
    env.execute("DROP CLUSTER exp CASCADE")


def test_explain_restart_predicts_cascaded_rebuilds(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute(
        "CREATE CLUSTER cas (SIZE = 'small', REPLICATION FACTOR = 1)",
        "CREATE VIEW cas_v1 AS SELECT k, v FROM t WHERE k > 1",
        "CREATE VIEW cas_v2 AS SELECT k FROM cas_v1 WHERE k < 100",
        "CREATE INDEX cas_t IN CLUSTER cas ON t (k)",
        "CREATE INDEX cas_b IN CLUSTER cas ON cas_v1 (k)",   # imports cas_t
        "CREATE INDEX cas_c IN CLUSTER cas ON cas_v2 (k)",   # imports cas_b
        "DROP INDEX cas_t",                                   # residual: a restart rebuilds cas_b, so cas_c too
    )
    ids = dict(env.query("SELECT name, id FROM mz_catalog.mz_indexes WHERE name LIKE 'cas_%'"))
    rows = {r[0]: r[2] for r in env.query("EXPLAIN RESTART CLUSTER cas")}
    assert rows[ids["cas_b"]] == "different"
    assert rows[ids["cas_c"]] == "rebuilt", rows
    env.execute("ALTER CLUSTER cas RESTART")
    rows = {r[0]: r[2] for r in env.query("EXPLAIN RESTART CLUSTER cas")}
    assert rows == {ids["cas_b"]: "identical", ids["cas_c"]: "identical"}
    env.execute("DROP CLUSTER cas CASCADE")


def test_status_check_limited_to_named_clusters(world) -> None:  # type: ignore[no-untyped-def]
    env = world
    env.execute("CREATE CLUSTER okc (SIZE = 'small', REPLICATION FACTOR = 1)")
    env.wait_all_clean("okc")
    env.execute("ALTER CLUSTER okc SEAL")
    env.wait_for(lambda: verdict(env, "okc")[1])

    def status(*names: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "steadystate", "status", "--data-dir", str(env.data_dir), "--check", "--http-port",
                               str(env.http_port), *names], capture_output=True, text=True, timeout=60)
    assert status("okc").returncode == 0
    assert status("okc", "quickstart").returncode == 1  # quickstart is not sealed
    assert status("nosuch").returncode == 2
    shown = status("okc").stdout.splitlines()
    assert [l.split()[0] for l in shown[1:] if not l.startswith(" ")] == ["okc"]
    env.execute("ALTER CLUSTER okc UNSEAL", "DROP CLUSTER okc")
