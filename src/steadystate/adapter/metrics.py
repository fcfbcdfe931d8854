"""The Prometheus exposition served at ``GET /metrics`` on the HTTP port (the ``prometheus-client`` library).

Two kinds of metrics, one registry per coordinator (:class:`Metrics`):

* **derived on every scrape** by :class:`_StateCollector` from what the introspection relations read (the
  catalog, the orchestrator's replica statuses, the controllers' view of each replica, the readiness verdict), so
  a scrape and ``SELECT * FROM mz_internal...`` never disagree and nothing is kept twice;
* **counted as it happens**: statements executed and their durations, by statement kind and outcome
  (:meth:`Metrics.observe_statement`, called by the session for every plan it sequences).

The metric names and labels are in ``METRICS`` (policy as data); ``docs/metrics.md`` documents them with example
alerts.  Every cluster-level series carries ``cluster`` (its name) and ``cluster_id``; every replica-level series
also ``replica`` and ``replica_id``, so a replica that is replaced under the same name is still a new series.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from steadystate.orchestrator.api import ProcessStatus
from steadystate.repr.objects import is_user

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.adapter.readiness import Readiness

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CLUSTER = ("cluster", "cluster_id")
REPLICA = ("cluster", "cluster_id", "replica", "replica_id")
OBJECT = ("cluster", "cluster_id", "replica", "replica_id", "object", "object_id")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # "gauge" or "counter"
    labels: tuple[str, ...]
    help: str


#: every metric derived on scrape (names without the ``_total`` a counter gets in the exposition)
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("steadystate_cluster_info", "gauge", CLUSTER + ("size", "managed"),
               "1 per cluster; its size and whether it is managed"),
    MetricSpec("steadystate_cluster_sealed", "gauge", CLUSTER, "1 if the cluster is sealed"),
    MetricSpec("steadystate_cluster_ready", "gauge", CLUSTER,
               "1 if the cluster's readiness verdict is ready (mz_internal.mz_cluster_readiness)"),
    MetricSpec("steadystate_cluster_readiness_reasons", "gauge", CLUSTER,
               "how many reasons the readiness verdict gives against the cluster"),
    MetricSpec("steadystate_cluster_replicas", "gauge", CLUSTER, "replicas of the cluster in the catalog"),
    MetricSpec("steadystate_replica_status", "gauge", REPLICA + ("status",),
               "1 for the replica process's current status (online, offline, crash-looping), 0 for the others"),
    MetricSpec("steadystate_replica_clean", "gauge", REPLICA,
               "1 if the replica reports steady and clean (it would restart into the same state)"),
    MetricSpec("steadystate_replica_memory_bytes", "gauge", REPLICA, "memory the replica process reports"),
    MetricSpec("steadystate_replica_objects", "gauge", REPLICA,
               "indexes and materialized views the replica maintains"),
    MetricSpec("steadystate_replica_objects_hydrated", "gauge", REPLICA, "of those, how many are hydrated"),
    MetricSpec("steadystate_replica_restarts", "counter", REPLICA,
               "times the replica's process was started again (status history: online processes beyond the first)"),
    MetricSpec("steadystate_object_hydrated", "gauge", OBJECT, "1 if the object is hydrated on the replica"),
    MetricSpec("steadystate_object_hydration_seconds", "gauge", OBJECT, "how long the object took to hydrate"),
    MetricSpec("steadystate_arrangement_records", "gauge", OBJECT, "records in the object's arrangements"),
    MetricSpec("steadystate_arrangement_size_bytes", "gauge", OBJECT, "bytes of the object's arrangements"),
    MetricSpec("steadystate_object_lag_seconds", "gauge", OBJECT,
               "wall-clock time minus the object's write frontier on the replica (freshness)"),
)}


class _StateCollector(Collector):
    """Derives the ``METRICS`` from the coordinator's state at scrape time."""

    def __init__(self, coord: "Coordinator", readiness: "Readiness") -> None:
        self.coord = coord
        self.readiness = readiness

    def collect(self) -> Iterable[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            spec.name: (GaugeMetricFamily if spec.kind == "gauge" else CounterMetricFamily)(
                spec.name, spec.help, labels=list(spec.labels))
            for spec in METRICS.values()
        }
        for name, labels, value in self._samples():
            families[name].add_metric(list(labels), value)
        return families.values()

    def _samples(self) -> Iterator[tuple[str, tuple[str, ...], float]]:
        catalog = self.coord.catalog
        now_ms = time.time() * 1000
        starts: dict[str, set[int]] = {}
        for event in catalog.durable.status_history():
            if event.status == ProcessStatus.ONLINE.value and event.process_id is not None:
                starts.setdefault(event.replica_id, set()).add(event.process_id)
        for cluster in catalog.clusters.values():
            c = (cluster.name, cluster.id)
            ready, reasons, _warnings = self.readiness.verdict(cluster)
            yield "steadystate_cluster_info", c + (cluster.size or "", str(cluster.managed).lower()), 1
            yield "steadystate_cluster_sealed", c, float(cluster.sealed)
            yield "steadystate_cluster_ready", c, float(ready)
            yield "steadystate_cluster_readiness_reasons", c, len(reasons)
            replicas = catalog.replicas_of(cluster.id)
            yield "steadystate_cluster_replicas", c, len(replicas)
            instance = self.coord.instances.get(cluster.id)
            objects = [i for i in catalog.objects_on_cluster(cluster.id) if i.kind.keeps_a_dataflow]
            for replica in replicas:
                r = c + (replica.name, replica.id)
                process = self.coord.replica_status.get(replica.id)
                current = process.status if process is not None else ProcessStatus.OFFLINE
                for status in ProcessStatus:
                    yield "steadystate_replica_status", r + (status.value,), float(status is current)
                yield "steadystate_replica_restarts", r, max(0, len(starts.get(replica.id, ())) - 1)
                state = instance.replicas.get(replica.id) if instance is not None else None
                status_report = state.status if state is not None else None
                clean = status_report is not None and status_report.steady and status_report.clean
                yield "steadystate_replica_clean", r, float(clean)
                yield "steadystate_replica_memory_bytes", r, status_report.memory_bytes if status_report else 0
                reported = {col.id: col for col in status_report.collections} if status_report else {}
                yield "steadystate_replica_objects", r, len(objects)
                yield "steadystate_replica_objects_hydrated", r, sum(
                    1 for o in objects if o.id in reported and reported[o.id].hydrated)
                frontiers = state.frontiers if state is not None else {}
                for item in objects:
                    o = r + (item.name, item.id)
                    collection = reported.get(item.id)
                    yield "steadystate_object_hydrated", o, float(collection is not None and collection.hydrated)
                    if collection is not None and collection.hydration_ms is not None:
                        yield "steadystate_object_hydration_seconds", o, collection.hydration_ms / 1000
                    if collection is not None and is_user(item.id):
                        yield "steadystate_arrangement_records", o, collection.records
                        yield "steadystate_arrangement_size_bytes", o, collection.size_bytes
                    frontier = frontiers.get(item.id)
                    if frontier is not None:
                        yield "steadystate_object_lag_seconds", o, max(0.0, now_ms - frontier) / 1000


class Metrics:
    """The coordinator's registry: the state collector and the statement counters."""

    def __init__(self, coord: "Coordinator", readiness: "Readiness") -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StateCollector(coord, readiness))
        self.statements = Counter("steadystate_statements", "statements executed, by kind and outcome",
                                  ["kind", "outcome"], registry=self.registry)
        self.durations = Histogram("steadystate_statement_duration_seconds",
                                   "how long statements took, by kind (errors included)", ["kind"],
                                   registry=self.registry)

    def observe_statement(self, kind: str, ok: bool, seconds: float) -> None:
        self.statements.labels(kind, "success" if ok else "error").inc()
        self.durations.labels(kind).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def statement_kind(plan: object) -> str:
    """A plan's kind as a label: ``SelectPlan`` → ``select``, ``CreateTablePlan`` → ``create_table``."""
    name = type(plan).__name__.removesuffix("Plan")
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("_")


__all__ = ["CONTENT_TYPE", "METRICS", "Metrics", "statement_kind"]
