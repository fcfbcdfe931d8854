"""``GET /metrics`` on the HTTP port: a real Prometheus scrape parsed with ``prometheus_client``'s own parser.

Each value is compared with what the same server answers in SQL (the introspection relations the metrics are
derived from) or with what the test did: the clusters and their sealed/ready state, replica status and
clean/dirty, hydration and arrangement sizes of an index, freshness lag, statement counts, and a replica restart
after ``kill -9``.
"""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(env) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:  # type: ignore[no-untyped-def]
    """name -> {sorted label pairs -> value} (counters under their sample name, ``..._total``)."""
    with urllib.request.urlopen(env.http_request("/metrics"), timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    matches = [v for key, v in metrics.get(name, {}).items() if set(labels.items()) <= set(key)]
    assert len(matches) == 1, (name, labels, metrics.get(name))
    return matches[0]


def test_metrics_follow_the_catalog_and_the_replicas(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE TABLE m_t (k int, v text)",
                "INSERT INTO m_t VALUES " + ", ".join(f"({k}, 'x')" for k in range(1, 51)),
                "CREATE INDEX m_t_k IN CLUSTER prod ON m_t (k)")
    env.wait_all_clean("prod")
    env.wait_for(lambda: env.query("SELECT bool_and(hydrated) FROM mz_internal.mz_hydration_statuses h "
                                   "JOIN mz_catalog.mz_indexes i ON i.id = h.object_id WHERE i.name = 'm_t_k'")
                 == [(True,)])
    env.execute("ALTER CLUSTER prod SEAL")
    (replica_id,) = env.cluster_replicas("prod").values()
    index_id = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'm_t_k'")[0][0]
    metrics = scrape(env)
    for cluster, sealed, ready in env.query(
            "SELECT c.name, r.sealed, r.ready FROM mz_internal.mz_cluster_readiness r "
            "JOIN mz_catalog.mz_clusters c ON c.id = r.cluster_id"):
        assert value(metrics, "steadystate_cluster_sealed", cluster=cluster) == float(sealed)
        assert value(metrics, "steadystate_cluster_ready", cluster=cluster) == float(ready)
    assert value(metrics, "steadystate_cluster_sealed", cluster="prod") == 1.0
    assert value(metrics, "steadystate_cluster_replicas", cluster="prod") == 1.0
    assert value(metrics, "steadystate_replica_status", replica_id=replica_id, status="online") == 1.0
    assert value(metrics, "steadystate_replica_status", replica_id=replica_id, status="offline") == 0.0
    (clean,) = env.query("SELECT clean FROM mz_internal.mz_cluster_replica_readiness WHERE replica_id = %s",
                         (replica_id,))[0]
    assert value(metrics, "steadystate_replica_clean", replica_id=replica_id) == float(clean)
    assert value(metrics, "steadystate_object_hydrated", object_id=index_id) == 1.0
    assert value(metrics, "steadystate_replica_objects_hydrated", replica_id=replica_id) == 1.0
    (records, size), = env.query("SELECT records, size_bytes FROM mz_internal.mz_arrangement_sizes "
                                 "WHERE object_id = %s AND replica_id = %s", (index_id, replica_id))
    assert value(metrics, "steadystate_arrangement_records", object_id=index_id) == records > 0
    assert value(metrics, "steadystate_arrangement_size_bytes", object_id=index_id) == size
    assert value(metrics, "steadystate_object_lag_seconds", object_id=index_id) >= 0
    assert value(metrics, "steadystate_replica_memory_bytes", replica_id=replica_id) > 0
    assert value(metrics, "steadystate_replica_restarts_total", replica_id=replica_id) == 0.0

    before = value(metrics, "steadystate_statements_total", kind="select", outcome="success")
    for _ in range(3):
        env.query("SELECT count(*) FROM m_t")
    after = scrape(env)
    assert value(after, "steadystate_statements_total", kind="select", outcome="success") >= before + 3
    assert value(after, "steadystate_statement_duration_seconds_count", kind="select") >= before + 3

    env.execute("ALTER CLUSTER prod UNSEAL")
    env.kill_replica(replica_id)
    env.wait_for(lambda: value(scrape(env), "steadystate_replica_restarts_total", replica_id=replica_id) == 1.0
                 and value(scrape(env), "steadystate_replica_status", replica_id=replica_id, status="online") == 1.0,
                 timeout=60)
