"""What the operator's console shows, as JSON documents: the environment, one cluster, one object.

The console (``adapter/console_http.py`` serves it, ``adapter/console_static/`` draws it) computes nothing of its
own: every figure here is read from the producer of the SQL relation or statement that shows the same thing, so
the page and a ``SELECT`` never disagree:

=================================  ===========================================================================
console                            source (the same code SQL reads)
=================================  ===========================================================================
sealed, ready, reasons, warnings   ``Readiness.verdict_json`` (``GET /api/readiness``, ``mz_cluster_readiness``)
replicas clean/dirty, dirtied by   ``mz_internal.mz_cluster_replica_readiness``, ``mz_cluster_replica_statuses``
status timeline                    ``mz_internal.mz_cluster_replica_status_history``
seal/unseal/restart events         ``mz_catalog.mz_audit_events``
hydration progress                 ``mz_internal.mz_hydration_statuses`` (``adapter/progress.py``)
freshness (lag) over time          ``mz_internal.mz_wallclock_lag_history`` (``adapter/lag_history.py``)
residual dataflows                 ``mz_internal.mz_residual_dataflows``
restart diff                       ``EXPLAIN RESTART CLUSTER`` (``Readiness.restart_diff``)
expected restart downtime          ``mz_internal.mz_expected_restart_downtime``
pending reconfigurations           ``mz_internal.mz_pending_reconfigurations``
COPY FROM in flight                ``mz_internal.mz_copy_progress``
an object's plan                   ``EXPLAIN`` (``adapter/explain.py``)
where it runs, arrangement sizes   ``mz_hydration_statuses``, ``mz_internal.mz_arrangement_sizes``
=================================  ===========================================================================

The freshness chart is :func:`lag_series` of ``mz_wallclock_lag_history`` (which the coordinator samples every
second into per-minute bins): per object and minute, its freshest replica's lag, over the last
:data:`LAG_WINDOW_S`.  Timestamps in the documents are milliseconds since the epoch (UTC).
"""

from __future__ import annotations

import calendar
import collections
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from steadystate.adapter.explain import explain
from steadystate.errors import SteadyError
from steadystate.repr.objects import ItemKind
from steadystate.sql import plan as p
from steadystate.sql.catalog_api import QualifiedName, ResolvedItem

if TYPE_CHECKING:
    from steadystate.adapter.backend import Adapter
    from steadystate.catalog.records import ClusterRecord, ItemRecord

Doc = dict[str, Any]

#: audit events drawn on a cluster's timeline: (event_type, the ``action`` detail) -> label
TIMELINE_ACTIONS = {"seal": "sealed", "unseal": "unsealed", "restart": "restarted", "resize": "resized"}
#: an audit event's type as the timeline words it
PAST = collections.defaultdict(lambda: "changed", {"create": "created", "drop": "dropped", "alter": "altered"})


def ms_of(value: dt.datetime | None) -> int | None:
    """A relation's naive-UTC timestamp as milliseconds since the epoch."""
    if value is None:
        return None
    return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def _named(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[Doc]:
    return [dict(zip(columns, row)) for row in rows]


#: how far back the freshness chart goes
LAG_WINDOW_S = 3600.0


def lag_series(rows: list[tuple[Any, ...]], object_ids: set[str], since_ms: float) -> dict[str, list[tuple[int, float]]]:
    """Per object of ``object_ids``, from ``mz_wallclock_lag_history``'s ``rows``: its freshest replica's lag in
    each bin from ``since_ms`` on, ``[(ms, seconds), ...]`` oldest first (Materialize's global lag history)."""
    best: dict[str, dict[int, float]] = {}
    for object_id, _replica, lag, occurred_at in rows:
        at = ms_of(occurred_at)
        if object_id not in object_ids or at is None or at < since_ms:
            continue
        seconds = lag.micros / 1e6
        points = best.setdefault(object_id, {})
        points[at] = min(points.get(at, seconds), seconds)
    return {object_id: sorted(points.items()) for object_id, points in best.items()}


class Console:
    """The documents of the console's JSON endpoints (``/console/api/...``)."""

    def __init__(self, adapter: "Adapter") -> None:
        self.adapter = adapter

    def lag(self, object_ids: set[str]) -> dict[str, list[tuple[int, float]]]:
        return lag_series(self._rows("mz_wallclock_lag_history"), object_ids,
                          time.time() * 1000 - LAG_WINDOW_S * 1000)

    def _rows(self, relation: str) -> list[tuple[Any, ...]]:
        return self.adapter.introspection.rows(relation)

    # ------------------------------------------------------------------ the environment at a glance

    def environment(self) -> Doc:
        readiness = self.adapter.readiness
        catalog = self.adapter.coordinator.catalog
        pending = {r[0] for r in self._rows("mz_pending_reconfigurations")}
        replica_cluster = {r.id: r.cluster_id for r in catalog.replicas.values()}
        hydration: dict[str, list[tuple[Any, ...]]] = {}
        for row in self._rows("mz_hydration_statuses"):
            hydration.setdefault(replica_cluster.get(row[1], ""), []).append(row)
        clusters = []
        for verdict in readiness.verdict_json():
            replicas: list[Doc] = verdict["replicas"]  # type: ignore[assignment]  # verdict_json's shape
            reasons: list[str] = verdict["reasons"]  # type: ignore[assignment]
            entries = hydration.get(str(verdict["cluster_id"]), [])
            lefts = [row[7] for row in entries if not row[2] and row[7] is not None]
            clusters.append({
                **verdict,
                "first_reason": reasons[0] if reasons else None,
                "online": sum(1 for r in replicas if r["online"]),
                "clean": sum(1 for r in replicas if r["clean"]),
                "reconfiguring": verdict["cluster_id"] in pending,
                "objects": len(catalog.objects_on_cluster(str(verdict["cluster_id"]))),
                # (object, replica) pairs of mz_hydration_statuses: how many, how many hydrated, the longest wait
                "hydration": {"total": len(entries), "hydrated": sum(1 for row in entries if row[2]),
                              "time_left_estimate": max(lefts) if lefts else None},
            })
        return {
            "now": int(time.time() * 1000),
            "clusters": clusters,
            "expected_downtime_s": readiness.environment_downtime_s(),
            "copies": self.copies(),
        }

    def copies(self) -> list[Doc]:
        docs = _named(("session_id", "table_id", "user", "phase", "rows_received", "rows_per_second", "started_at",
                       "updated_at"), self._rows("mz_copy_progress"))
        catalog = self.adapter.coordinator.catalog
        for doc in docs:
            doc["table"] = catalog.describe(doc["table_id"])
            doc["started_at"], doc["updated_at"] = ms_of(doc["started_at"]), ms_of(doc["updated_at"])
        return docs

    # ------------------------------------------------------------------ one cluster

    def cluster(self, name: str) -> Doc | None:
        catalog = self.adapter.coordinator.catalog
        cluster = catalog.cluster_by_name(name)
        if cluster is None:
            return None
        (verdict,) = self.adapter.readiness.verdict_json({cluster.id})
        replicas = catalog.replicas_of(cluster.id)
        ids = {r.id for r in replicas}
        readiness = {r[0]: r for r in self._rows("mz_cluster_replica_readiness")}
        statuses = {r[0]: r for r in self._rows("mz_cluster_replica_statuses")}
        replica_docs = []
        for replica in replicas:
            ready = readiness.get(replica.id)
            status = statuses.get(replica.id)
            replica_docs.append({
                "id": replica.id, "name": replica.name, "size": replica.size,
                "status": status[2] if status else None, "reason": status[3] if status else None,
                "clean": bool(ready[1]) if ready else False,
                "steady_since": ms_of(ready[2]) if ready else None, "dirtied_at": ms_of(ready[3]) if ready else None,
                "dirtied_by": ready[4] if ready else None, "error": ready[5] if ready else None,
            })
        names = {item.id: item.qualified for item in catalog.items.values()}
        objects = {item.id for item in catalog.objects_on_cluster(cluster.id) if item.kind.keeps_a_dataflow}
        hydration = [
            {**doc, "name": names.get(doc["object_id"], doc["object_id"]),
             "replica": catalog.replicas[doc["replica_id"]].name if doc["replica_id"] in catalog.replicas else None}
            for doc in _named(("object_id", "replica_id", "hydrated", "hydration_time", "rows_total", "rows_done",
                               "hydrating_for", "time_left_estimate"), self._rows("mz_hydration_statuses"))
            if doc["replica_id"] in ids
        ]
        downtime = {r[0]: r[1] for r in self._rows("mz_expected_restart_downtime")}
        return {
            "now": int(time.time() * 1000),
            "cluster": {k: v for k, v in verdict.items() if k != "replicas"},
            "size": cluster.size, "replication_factor": cluster.replication_factor, "managed": cluster.managed,
            "replicas": replica_docs,
            "history": [
                {"replica_id": r[0], "process_id": r[1], "status": r[2], "reason": r[3], "at": ms_of(r[4])}
                for r in self._rows("mz_cluster_replica_status_history") if r[0] in ids
            ],
            "events": self._events(cluster),
            "hydration": hydration,
            "lag": [{"object_id": o, "name": names.get(o, o), "points": points}
                    for o, points in sorted(self.lag(objects).items())],
            "residuals": _named(("cluster_id", "replica_id", "object_id", "name", "held_by"),
                                [r for r in self._rows("mz_residual_dataflows") if r[0] == cluster.id]),
            "restart_diff": [{"object_id": r.object_id, "name": r.name, "restart": r.status.value,
                              "detail": r.detail} for r in self.adapter.readiness.restart_diff(cluster.id)],
            "expected_downtime_s": downtime.get(cluster.id),
            "pending": _named(("cluster_id", "kind", "pending_replicas", "retiring_replicas", "started_at",
                               "deadline", "on_timeout"),
                              [r for r in self._rows("mz_pending_reconfigurations") if r[0] == cluster.id]),
            "objects": [{"id": item.id, "name": item.qualified, "kind": item.kind.value}
                        for item in sorted(catalog.objects_on_cluster(cluster.id), key=lambda i: i.qualified)],
        }

    def _events(self, cluster: "ClusterRecord") -> list[Doc]:
        """The cluster's audit events: its creation, seals, unseals, restarts, resizes and replicas coming and
        going (``mz_audit_events``; a replica's event names its cluster by name)."""
        out = []
        for event_id, event_type, object_type, details, user, occurred_at in self._rows("mz_audit_events"):
            try:
                fields = json.loads(details)
            except ValueError:
                continue
            if object_type == "cluster" and fields.get("id") == cluster.id:
                action = fields.get("action")
                label = TIMELINE_ACTIONS.get(action, action) if action else f"cluster {PAST[event_type]}"
            elif object_type == "cluster-replica" and fields.get("cluster") == cluster.name:
                label = f"replica {fields.get('name')} {PAST[event_type]}"
            else:
                continue
            out.append({"id": event_id, "event_type": event_type, "object_type": object_type, "label": label,
                        "user": user, "at": ms_of(occurred_at), "details": fields})
        return out

    # ------------------------------------------------------------------ one object

    def object(self, object_id: str) -> Doc | None:
        catalog = self.adapter.coordinator.catalog
        item = catalog.items.get(object_id)
        if item is None:
            return None
        cluster = catalog.clusters.get(item.cluster_id or "")
        sizes = _named(("replica_id", "object_id", "records", "size_bytes"),
                       [r for r in self._rows("mz_arrangement_sizes") if r[1] == item.id])
        hydration = _named(("object_id", "replica_id", "hydrated", "hydration_time", "rows_total", "rows_done",
                            "hydrating_for", "time_left_estimate"),
                           [r for r in self._rows("mz_hydration_statuses") if r[0] == item.id])
        for doc in [*sizes, *hydration]:
            replica = catalog.replicas.get(doc["replica_id"])
            doc["replica"] = replica.name if replica is not None else doc["replica_id"]
        return {
            "now": int(time.time() * 1000),
            "id": item.id, "name": item.qualified, "kind": item.kind.value, "owner": item.owner, "sql": item.sql,
            "cluster": cluster.name if cluster is not None else None,
            "plan": self._plan(item, cluster.name if cluster is not None else "default"),
            "hydration": hydration,
            "arrangements": sizes,
            "lag": self.lag({item.id}).get(item.id, []),
            "depends_on": [{"id": d, "name": catalog.describe(d)} for d in item.depends_on],
        }

    def _plan(self, item: "ItemRecord", cluster_name: str) -> list[str]:
        """``EXPLAIN`` of the object, line by line (tables have no plan)."""
        if item.kind not in (ItemKind.VIEW, ItemKind.MATERIALIZED_VIEW, ItemKind.INDEX):
            return []
        target = ResolvedItem(item.id, QualifiedName(item.database, item.schema, item.name), item.kind, item.desc,
                              item.cluster_id, item.on_id)
        try:
            _desc, rows = explain(self.adapter, p.ExplainPlan(item.kind, target), cluster_name)
        except SteadyError as exc:
            return [f"(no plan: {exc.message})"]
        return [str(row[0]) for row in rows]
