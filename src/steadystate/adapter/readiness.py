"""Production readiness: restart diffs, readiness verdicts, graceful restarts, and sealing.

The seed's two signals, made concrete (DESIGN.md §5):

* **Passive**: each replica reports clean/dirty in its ``Status``; the controller derives what it should be
  from the commands it sent, and a disagreement is surfaced as an error on the replica.
* **Active**: ``ALTER CLUSTER c SEAL`` freezes a cluster after proving it restarts cleanly.

How a cluster is judged:

* the **restart diff** compares every dataflow the cluster runs (its command history's live dataflows) with a
  fresh plan of the same object from the catalog, by fingerprint: ``identical``, ``different`` (and how),
  ``absent`` (the catalog no longer has the object: a residual dataflow), ``missing`` (the catalog has an
  object with no dataflow) or ``transient`` (a SUBSCRIBE or slow-path peek, which a restart would end);
* the **verdict** lists every unmet condition (sealed, replicas, online, clean, hydrated, no residuals, empty
  restart diff) as a reason a user can act on, plus warnings (one replica means downtime on restart, with the
  expected length from measured hydration times).

A **graceful restart** replaces replicas one-for-one: a replacement process is started, gets the cluster's
command history, and must hydrate every object of the cluster before the old replica is retired and the
replacement takes its name; queries keep being answered by the old replicas meanwhile.  If hydration does
not finish within the timeout, the replacements are removed and the cluster is left as it was.
``ALTER CLUSTER c RESTART`` first re-plans the cluster's history from the catalog (so residual dataflows and
stale plans go away), then replaces every replica.  ``SEAL`` refuses a cluster whose restart would not
reproduce what runs now, and restarts only its dirty replicas (or, with ``RESTART = false``, refuses them).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steadystate.adapter.introspection import audit_details
from steadystate.catalog.records import ClusterRecord, ReplicaRecord
from steadystate.errors import (
    InsufficientPrivilege,
    InvalidParameterValue,
    ObjectNotInPrerequisiteState,
    QueryCanceled,
    UndefinedObject,
    quote_ident,
)
from steadystate.protocol import messages as m
from steadystate.protocol.history import CommandHistory
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class DiffRow:
    object_id: str
    name: str
    status: str  # identical | different | absent | missing | transient
    detail: str


def parse_interval(value: object) -> float:
    text = str(value).strip().lower().strip("'")
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("min", 60.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    try:
        return float(text)
    except ValueError:
        raise InvalidParameterValue(f"invalid TIMEOUT {quote_ident(str(value))}",
                                    hint="use a duration such as '30s', '5m' or '500ms'") from None


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return True
    return str(value).strip().lower() in ("true", "on", "1", "yes", "t")


def describe_difference(running: m.DataflowDescription, fresh: m.DataflowDescription) -> str:
    parts = []
    old_imports = {i.index_id for i in running.index_imports}
    new_imports = {i.index_id for i in fresh.index_imports}
    if old_imports - new_imports:
        parts.append("imports index " + ", ".join(sorted(old_imports - new_imports)) + " that a fresh plan would not")
    if new_imports - old_imports:
        parts.append("a fresh plan would import index " + ", ".join(sorted(new_imports - old_imports)))
    old_sources = {s.id for s in running.source_imports}
    new_sources = {s.id for s in fresh.source_imports}
    if old_sources != new_sources:
        parts.append(f"reads {sorted(old_sources)} but a fresh plan reads {sorted(new_sources)}")
    if [o.id for o in running.objects_to_build] != [o.id for o in fresh.objects_to_build]:
        parts.append(f"builds {[o.id for o in running.objects_to_build]} but a fresh plan builds "
                     f"{[o.id for o in fresh.objects_to_build]}")
    elif running.objects_to_build != fresh.objects_to_build:
        parts.append("its plans differ from a fresh plan")
    return "; ".join(parts) or "its description differs from a fresh plan"


class Readiness:
    def __init__(self, coordinator: "Coordinator") -> None:
        self.coord = coordinator

    # ------------------------------------------------------------------ what runs vs what the catalog says

    def fresh_descs(self, cluster_id: str) -> dict[str, m.DataflowDescription]:
        return {item.id: desc for item, desc in self.coord.fresh_dataflows(cluster_id, None)}

    def restart_diff(self, cluster_id: str) -> list[DiffRow]:
        catalog = self.coord.catalog
        instance = self.coord.instance(cluster_id)
        running = instance.history.live_dataflows()
        fresh = self.fresh_descs(cluster_id)
        rows = []
        for export_id, desc in sorted(running.items()):
            name = catalog.describe(export_id)
            if export_id.startswith("t"):
                rows.append(DiffRow(export_id, desc.debug_name, "transient", "a restart would end it"))
            elif export_id not in fresh:
                residual = self.coord.residuals.get(export_id)
                name = residual.name if residual else name
                held = f" (still imported by {', '.join(residual.held_by)})" if residual else ""
                rows.append(DiffRow(export_id, name, "absent",
                                    f"the catalog no longer has this object{held}; a restart would not run it"))
            elif fresh[export_id].fingerprint() == desc.fingerprint():
                rows.append(DiffRow(export_id, name, "identical", ""))
            else:
                rows.append(DiffRow(export_id, name, "different", describe_difference(desc, fresh[export_id])))
        for export_id in fresh:
            if export_id not in running:
                rows.append(DiffRow(export_id, catalog.describe(export_id), "missing",
                                    "the catalog has this object but no dataflow runs for it"))
        return rows

    def hydration_gaps(self, cluster_id: str) -> list[str]:
        """'object on replica' for every object not hydrated on every connected replica."""
        instance = self.coord.instance(cluster_id)
        expected = [i for i in self.coord.catalog.objects_on_cluster(cluster_id)
                    if i.kind in ("index", "materialized_view")]
        gaps = []
        for replica in self.coord.catalog.replicas_of(cluster_id):
            state = instance.replicas.get(replica.id)
            hydrated = set()
            if state is not None and state.status is not None:
                hydrated = {c.id for c in state.status.collections if c.hydrated}
            for item in expected:
                if item.id not in hydrated:
                    gaps.append(f"{item.qualified} is not hydrated on replica {quote_ident(replica.name)}")
        return gaps

    async def _wait_for_hydration(self, cluster_id: str, patience: float) -> list[str]:
        """Give objects created just before a SEAL a moment to report hydration; the gaps that remain."""
        deadline = time.monotonic() + patience
        while True:
            gaps = self.hydration_gaps(cluster_id)
            if not gaps or time.monotonic() > deadline:
                return gaps
            await asyncio.sleep(0.05)

    def replica_signal(self, replica: ReplicaRecord) -> dict[str, object]:
        """The clean/dirty signal of one replica as the verdict and introspection use it."""
        instance = self.coord.instances.get(replica.cluster_id)
        state = instance.replicas.get(replica.id) if instance is not None else None
        status = state.status if state is not None else None
        online = self.coord.replica_status.get(replica.id)
        return {
            "online": bool(online and online.status == "online" and state is not None and state.connection.live),
            "status": status,
            "clean": bool(status is not None and status.steady and status.clean),
            "disagreement": state.disagreement if state is not None else None,
            "reason": online.reason if online else "not started",
        }

    def expected_downtime_s(self, cluster_id: str) -> float | None:
        instance = self.coord.instances.get(cluster_id)
        if instance is None:
            return None
        times = [c.hydration_ms for s in instance.replicas.values() if s.status is not None
                 for c in s.status.collections if c.hydration_ms is not None and not c.id.startswith("t")]
        return max(times) / 1000 if times else None

    def verdict(self, cluster: ClusterRecord) -> tuple[bool, list[str], list[str]]:
        reasons: list[str] = []
        warnings: list[str] = []
        name = quote_ident(cluster.name)
        if not cluster.sealed:
            reasons.append(f"cluster {name} is not sealed: run ALTER CLUSTER {name} SEAL once it is in production")
        replicas = self.coord.catalog.replicas_of(cluster.id)
        if not replicas:
            reasons.append(f"cluster {name} has no replicas: add one with ALTER CLUSTER {name} SET "
                           f"(REPLICATION FACTOR = 1)")
        for replica in replicas:
            signal = self.replica_signal(replica)
            rname = quote_ident(replica.name)
            if not signal["online"]:
                reasons.append(f"replica {rname} is offline ({signal['reason'] or 'not connected'})")
                continue
            status = signal["status"]
            if signal["disagreement"]:
                reasons.append(f"replica {rname} disagrees with the controller: {signal['disagreement']}")
            if status is not None and not signal["clean"]:
                reasons.append(f"replica {rname} is dirty (dirtied by {status.dirtied_by}): run ALTER CLUSTER "
                               f"{name} RESTART to make it clean")
        reasons.extend(g + ": wait for hydration" for g in self.hydration_gaps(cluster.id))
        for residual in self.coord.residuals.values():
            if residual.cluster_id == cluster.id:
                reasons.append(f"residual dataflow {residual.name} ({residual.index_id}) is still imported by "
                               f"{', '.join(residual.held_by)}: run ALTER CLUSTER {name} RESTART")
        for row in self.restart_diff(cluster.id):
            if row.status in ("different", "missing") or (row.status == "absent"
                                                           and row.object_id not in self.coord.residuals):
                reasons.append(f"a restart would change {row.name} ({row.object_id}): {row.detail}")
            elif row.status == "transient":
                warnings.append(f"transient dataflow {row.object_id} ({row.name}) would end on a restart")
        if len(replicas) == 1:
            downtime = self.expected_downtime_s(cluster.id)
            if downtime is None:
                expected = "as long as hydration takes"
            else:
                length = f"{downtime * 1000:.0f} ms" if downtime < 1 else f"{downtime:.1f} s"
                expected = f"about {length} (the measured hydration time)"
            warnings.append(f"cluster {name} has one replica: restarting it means downtime of {expected}; "
                            f"add a replica to restart without downtime")
        return (not reasons, reasons, warnings)

    def verdict_json(self) -> list[dict[str, object]]:
        out = []
        for cluster in sorted(self.coord.catalog.clusters.values(), key=lambda c: c.name):
            ready, reasons, warnings = self.verdict(cluster)
            replicas = []
            for replica in self.coord.catalog.replicas_of(cluster.id):
                signal = self.replica_signal(replica)
                status = signal["status"]
                replicas.append({
                    "id": replica.id, "name": replica.name, "online": signal["online"], "clean": signal["clean"],
                    "dirtied_by": status.dirtied_by if status is not None else None,
                })
            out.append({"cluster_id": cluster.id, "name": cluster.name, "sealed": cluster.sealed,
                        "ready": ready, "reasons": reasons, "warnings": warnings, "replicas": replicas,
                        "expected_downtime_s": self.expected_downtime_s(cluster.id)})
        return out

    # ------------------------------------------------------------------ privileges

    def check_owner(self, cluster: ClusterRecord, user: str, action: str) -> None:
        role = self.coord.catalog.role_by_name(user)
        if cluster.owner == user or (role is not None and role.superuser):
            return
        raise InsufficientPrivilege(
            f"must be owner of CLUSTER {quote_ident(cluster.name)} to {action} it",
            hint=f"the cluster is owned by {quote_ident(cluster.owner)}; a superuser or the owner can "
                 f"{action} it",
        )

    # ------------------------------------------------------------------ statements

    async def seal(self, plan: p.AlterClusterPlan, user: str, notices: list) -> str:
        cluster = self.coord.catalog.clusters[plan.cluster_id]
        self.check_owner(cluster, user, "seal")
        name = quote_ident(cluster.name)
        if cluster.sealed:
            self._notice(notices, f"cluster {name} is already sealed")
            return "ALTER CLUSTER"
        restart = _truthy(plan.options.get("restart", True))
        timeout = parse_interval(plan.options.get("timeout", DEFAULT_TIMEOUT_S))
        self.coord.sealing.add(cluster.id)  # no new transient dataflows from here on
        try:
            await self._seal(cluster, restart, timeout, user)
        finally:
            self.coord.sealing.discard(cluster.id)
        return "ALTER CLUSTER"

    async def _seal(self, cluster: ClusterRecord, restart: bool, timeout: float, user: str) -> None:
        name = quote_ident(cluster.name)
        hint_restart = f"run ALTER CLUSTER {name} RESTART first: it rebuilds the cluster from the catalog"
        replicas = self.coord.catalog.replicas_of(cluster.id)
        if not replicas:
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}: it has no replicas",
                hint=f"add a replica first, e.g. ALTER CLUSTER {name} SET (REPLICATION FACTOR = 1)",
            )
        residual = [r for r in self.coord.residuals.values() if r.cluster_id == cluster.id]
        if residual:
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}: it runs residual dataflows that a restart would not reproduce",
                detail="; ".join(f"{r.name} ({r.index_id}) is still imported by {', '.join(r.held_by)}"
                                 for r in residual),
                hint=hint_restart,
            )
        changes = [r for r in self.restart_diff(cluster.id) if r.status in ("different", "absent", "missing")]
        if changes:
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}: a restart would change what it runs",
                detail="; ".join(f"{r.name} ({r.object_id}) is {r.status}: {r.detail}" for r in changes),
                hint=hint_restart,
            )
        offline = await self._wait_for_online(replicas, min(timeout, 30.0))
        if offline:
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}: replica {quote_ident(offline[0].name)} is offline",
                hint="wait until every replica is online (SHOW CLUSTER REPLICAS)",
            )
        gaps = await self._wait_for_hydration(cluster.id, min(timeout, 10.0))
        if gaps:
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}: not every object is hydrated on every replica",
                detail="; ".join(gaps), hint="wait for hydration (mz_internal.mz_hydration_statuses) and retry",
            )
        transient = await self._wait_for_transients(cluster.id, 2.0)
        if transient:
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}: {len(transient)} transient dataflow(s) (SUBSCRIBE or query) are "
                f"running on it, and ending them later would change a sealed cluster",
                detail="; ".join(f"{r.object_id}: {r.name}" for r in transient),
                hint="end the subscriptions (or let the queries finish) and seal again",
            )
        dirty = [r for r in replicas if not self.replica_signal(r)["clean"]]
        if dirty and not restart:
            described = "; ".join(
                f"replica {quote_ident(r.name)} was dirtied by {self.replica_signal(r)['status'].dirtied_by}"
                for r in dirty
            )
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name} without restarting it: {len(dirty)} replica(s) are dirty",
                detail=described,
                hint=f"use ALTER CLUSTER {name} SEAL WITH (RESTART = true) to restart them gracefully",
            )
        if dirty:
            await self.graceful_replace(cluster, dirty, timeout, user)
        self._set_sealed(cluster, True, user)

    async def _wait_for_online(self, replicas: list[ReplicaRecord], patience: float) -> list[ReplicaRecord]:
        """Give replicas that are starting (e.g. right after CREATE CLUSTER) a moment; those still offline."""
        deadline = time.monotonic() + patience
        while True:
            offline = [r for r in replicas if not self.replica_signal(r)["online"]]
            if not offline or time.monotonic() > deadline:
                return offline
            await asyncio.sleep(0.05)

    async def _wait_for_transients(self, cluster_id: str, patience: float) -> list[DiffRow]:
        deadline = time.monotonic() + patience
        while True:
            transient = [r for r in self.restart_diff(cluster_id) if r.status == "transient"]
            if not transient or time.monotonic() > deadline:
                return transient
            await asyncio.sleep(0.05)

    async def unseal(self, plan: p.AlterClusterPlan, user: str, notices: list) -> str:
        cluster = self.coord.catalog.clusters[plan.cluster_id]
        self.check_owner(cluster, user, "unseal")
        if not cluster.sealed:
            self._notice(notices, f"cluster {quote_ident(cluster.name)} is not sealed")
            return "ALTER CLUSTER"
        self._set_sealed(cluster, False, user)
        return "ALTER CLUSTER"

    async def restart(self, plan: p.AlterClusterPlan, user: str, notices: list) -> str:
        cluster = self.coord.catalog.clusters[plan.cluster_id]
        self.check_owner(cluster, user, "restart")
        timeout = parse_interval(plan.options.get("timeout", DEFAULT_TIMEOUT_S))
        replicas = self.coord.catalog.replicas_of(cluster.id)
        instance = self.coord.instance(cluster.id)
        old_history = instance.history
        instance.history = await self._fresh_history(cluster.id, old_history)
        self.coord.sealing.add(cluster.id)
        try:
            if replicas:
                await self.graceful_replace(cluster, replicas, timeout, user)
        except BaseException:
            instance.history = old_history
            raise
        finally:
            self.coord.sealing.discard(cluster.id)
        for index_id, residual in list(self.coord.residuals.items()):
            if residual.cluster_id == cluster.id:
                del self.coord.residuals[index_id]
        return "ALTER CLUSTER"

    async def change_owner(self, plan: p.AlterClusterPlan, user: str, notices: list) -> str:
        cluster = self.coord.catalog.clusters[plan.cluster_id]
        self.check_owner(cluster, user, "alter")
        new_owner = str(plan.options.get("owner"))
        if self.coord.catalog.role_by_name(new_owner) is None:
            raise UndefinedObject(f"unknown role {quote_ident(new_owner)}")
        updated = ClusterRecord(cluster.id, cluster.name, cluster.managed, cluster.size, cluster.replication_factor,
                                new_owner, cluster.sealed)
        with self.coord.catalog.durable.transact(user) as txn:
            txn.put(updated)
            txn.audit_event("alter", "cluster", audit_details(id=cluster.id, name=cluster.name, owner=new_owner))
        self.coord.catalog.apply_puts([updated])
        return "ALTER CLUSTER"

    # ------------------------------------------------------------------ mechanics

    def _notice(self, notices: list, text: str) -> None:
        notices.append(text)

    def _set_sealed(self, cluster: ClusterRecord, sealed: bool, user: str) -> None:
        current = self.coord.catalog.clusters[cluster.id]
        updated = ClusterRecord(current.id, current.name, current.managed, current.size,
                                current.replication_factor, current.owner, sealed)
        with self.coord.catalog.durable.transact(user) as txn:
            txn.put(updated)
            txn.audit_event("alter", "cluster",
                            audit_details(id=cluster.id, name=cluster.name, sealed=sealed,
                                          action="seal" if sealed else "unseal"))
        self.coord.catalog.apply_puts([updated])

    async def _fresh_history(self, cluster_id: str, old: CommandHistory) -> CommandHistory:
        """The command history a freshly started coordinator would build for this cluster."""
        history = CommandHistory()
        history.push(m.CreateInstance(m.InstanceConfig(cluster_id, "", "")))
        as_of = await self.coord.read_timestamp()
        for item, desc in self.coord.fresh_dataflows(cluster_id, as_of):
            history.push(m.CreateDataflow(desc, self.coord.ddl_text(item)))
            history.push(m.Schedule(item.id))
            if item.kind == "materialized_view":
                history.push(m.AllowWrites(item.id))
        seen: set[str] = set()
        for export_id, desc in old.live_dataflows().items():
            if export_id.startswith("t") and desc.fingerprint() not in seen:
                seen.add(desc.fingerprint())
                history.push(m.CreateDataflow(desc, f"transient dataflow {desc.debug_name}"))
        history.push(m.InitializationComplete())
        return history

    async def graceful_replace(
        self, cluster: ClusterRecord, old: list[ReplicaRecord], timeout: float, user: str
    ) -> None:
        catalog = self.coord.catalog
        with catalog.durable.transact(user) as txn:
            replacements = [ReplicaRecord(f"r{txn.next_id('replica')}", f"{r.name}-pending", cluster.id, r.size,
                                          r.owner) for r in old]
            for replica in replacements:
                txn.put(replica)
                txn.audit_event("create", "cluster-replica",
                                audit_details(id=replica.id, cluster=cluster.name, name=replica.name,
                                              reason="graceful restart"))
        catalog.apply_puts(replacements)
        for replica in replacements:
            await self.coord.start_replica(replica)
        deadline = time.monotonic() + timeout
        try:
            while True:
                ready = all(self._replacement_ready(r) for r in replacements)
                if ready:
                    break
                if time.monotonic() > deadline:
                    raise QueryCanceled(
                        f"restarting cluster {quote_ident(cluster.name)} timed out after {timeout:g} s: the "
                        f"replacement replicas did not hydrate in time; the cluster was left as it was",
                        hint="retry with a longer TIMEOUT, e.g. WITH (TIMEOUT = '10m')",
                    )
                await asyncio.sleep(0.05)
        except BaseException:
            with catalog.durable.transact(user) as txn:
                for replica in replacements:
                    txn.delete("replica", replica.id)
                    txn.audit_event("drop", "cluster-replica",
                                    audit_details(id=replica.id, name=replica.name, reason="restart rolled back"))
            catalog.apply_deletes(("replica", r.id) for r in replacements)
            for replica in replacements:
                await self.coord.stop_replica(replica)
            raise
        renamed = [ReplicaRecord(new.id, old_replica.name, new.cluster_id, new.size, new.owner)
                   for new, old_replica in zip(replacements, old)]
        with catalog.durable.transact(user) as txn:
            for replica in old:
                txn.delete("replica", replica.id)
                txn.audit_event("drop", "cluster-replica",
                                audit_details(id=replica.id, name=replica.name, reason="retired by graceful restart"))
            for replica in renamed:
                txn.put(replica)
        catalog.apply_deletes(("replica", r.id) for r in old)
        catalog.apply_puts(renamed)
        for replica in old:
            await self.coord.stop_replica(replica)

    def _replacement_ready(self, replica: ReplicaRecord) -> bool:
        instance = self.coord.instance(replica.cluster_id)
        state = instance.replicas.get(replica.id)
        if state is None or state.status is None or not state.connection.live or not state.status.steady:
            return False
        hydrated = {c.id for c in state.status.collections if c.hydrated}
        expected = {i.id for i in self.coord.catalog.objects_on_cluster(replica.cluster_id)
                    if i.kind in ("index", "materialized_view")}
        return expected <= hydrated


def readiness_reasons_text(reasons: list[str], warnings: list[str]) -> str:
    return json.dumps({"reasons": reasons, "warnings": warnings})
