"""Introspection relations queried with SELECT and WHERE; the HTTP endpoints; the log file.

The expected contents are derived from what the test itself created (cluster names, replication factors,
index names) and from the live processes (pids), not copied from the server's output.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE items (id int, name text)",
        "INSERT INTO items VALUES (1, 'x'), (2, 'y')",
        "CREATE VIEW items_v AS SELECT id, name FROM items WHERE id > 0",
        "CREATE INDEX items_idx ON items_v (id)",
        "CREATE CLUSTER analytics (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE MATERIALIZED VIEW items_mv IN CLUSTER analytics AS SELECT id FROM items",
    )
    return shared_env


def test_mz_clusters_select_where(world) -> None:  # type: ignore[no-untyped-def]
    rows = world.query("SELECT name, managed, size, replication_factor FROM mz_catalog.mz_clusters "
                       "WHERE name = 'analytics'")
    assert rows == [("analytics", True, "small", 2)]
    names = {r[0] for r in world.query("SELECT name FROM mz_catalog.mz_clusters WHERE replication_factor >= 1")}
    assert names == {"quickstart", "analytics"}


def test_mz_cluster_replicas_match_processes(world) -> None:  # type: ignore[no-untyped-def]
    (cluster_id,), = world.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = 'analytics'")
    replicas = world.query("SELECT id, name, size FROM mz_catalog.mz_cluster_replicas WHERE cluster_id = %s "
                           "ORDER BY name", (cluster_id,))
    assert [(r[1], r[2]) for r in replicas] == [("r1", "small"), ("r2", "small")]
    all_ids = sorted(r[0] for r in world.query("SELECT id FROM mz_catalog.mz_cluster_replicas"))
    world.wait_for(lambda: [rid for rid, _ in world.replica_processes()] == all_ids)


def test_replica_statuses_online_with_real_pids(world) -> None:  # type: ignore[no-untyped-def]
    def statuses() -> dict[str, tuple] | None:
        rows = world.query("SELECT replica_id, process_id, status FROM mz_internal.mz_cluster_replica_statuses "
                           "WHERE status = 'online'")
        out = {r[0]: r for r in rows}
        return out if len(out) == 3 else None

    online = world.wait_for(statuses)
    pids = world.replica_pids()
    assert {rid: row[1] for rid, row in online.items()} == pids
    history = world.query("SELECT replica_id FROM mz_internal.mz_cluster_replica_status_history "
                          "WHERE status = 'online'")
    assert set(pids) <= {r[0] for r in history}


def test_hydration_statuses(world) -> None:  # type: ignore[no-untyped-def]
    (index_id,), = world.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'items_idx'")
    (mv_id,), = world.query("SELECT id FROM mz_catalog.mz_materialized_views WHERE name = 'items_mv'")
    (quickstart_id,), = world.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = 'quickstart'")
    (quickstart_replica,), = world.query("SELECT id FROM mz_catalog.mz_cluster_replicas WHERE cluster_id = %s",
                                         (quickstart_id,))
    world.wait_for(lambda: world.query(
        "SELECT replica_id, hydrated FROM mz_internal.mz_hydration_statuses WHERE object_id = %s",
        (index_id,)) == [(quickstart_replica, True)])
    mv_rows = world.wait_for(lambda: (rows := world.query(
        "SELECT replica_id FROM mz_internal.mz_hydration_statuses WHERE object_id = %s AND hydrated",
        (mv_id,))) and len(rows) == 2 and rows)
    assert quickstart_replica not in {r[0] for r in mv_rows}
    times = world.query("SELECT hydration_time FROM mz_internal.mz_hydration_statuses "
                        "WHERE object_id = %s", (index_id,))
    assert times[0][0] is not None and times[0][0] >= 0


def _get(url: str | urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_http_readyz_and_livez(world) -> None:  # type: ignore[no-untyped-def]
    assert _get(f"http://127.0.0.1:{world.http_port}/api/readyz")[0] == 200
    assert _get(f"http://127.0.0.1:{world.http_port}/api/livez")[0] == 200
    status, body = _get(world.http_request("/api/clusters"))
    assert status == 200
    names = {c["name"] for c in json.loads(body)["clusters"]}
    assert names == {"quickstart", "analytics"}
    assert _get(world.http_request("/api/no_such_endpoint"))[0] == 404


def test_log_file_records_replica_starts_and_ddl(world) -> None:  # type: ignore[no-untyped-def]
    log = world.log_path.read_text()
    for replica_id, pid in world.replica_pids().items():
        assert f"replica {replica_id} started (pid {pid})" in log
    assert "items_idx" in log and "analytics" in log  # DDL is logged
