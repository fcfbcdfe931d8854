"""Production readiness: restart diffs, the readiness conditions, and the verdict derived from them.

The seed's two signals, made concrete (DESIGN.md §5):

* **Passive**: each replica reports clean/dirty in its ``Status``; the controller derives what it should be
  from the commands it sent (``protocol.stages.disagreement``), and a disagreement is surfaced on the replica.
* **Active**: ``ALTER CLUSTER c SEAL`` (``adapter.reconfigure``) freezes a cluster after proving it restarts
  cleanly.

How a cluster is judged:

* the **restart diff** compares every dataflow the cluster runs (its command history's live dataflows) with a
  fresh plan of the same object from the catalog, by fingerprint: ``identical``, ``different`` (and how,
  including a rebuild cascaded from an imported index that a restart rebuilds), ``absent`` (the catalog no
  longer has the object: a residual dataflow), ``missing`` (the catalog has an object with no dataflow) or
  ``transient`` (a slow-path peek, which a restart would end, or a SUBSCRIBE, which a replica restart does not
  end while another replica or the replacement serves it);
* :data:`CONDITIONS` is the one list of readiness conditions.  Each says what it finds, whether a finding is a
  *reason* (not ready) or a *warning* in the verdict, and what ``SEAL`` does about it: refuse, wait a moment
  and then refuse, restart the affected replicas, or nothing.  :meth:`Readiness.verdict` and
  :meth:`Readiness.check_seal` are both derived from it, so a policy change edits one table.
* the **expected downtime** of restarting one replica of a cluster is the time its processes took to start
  and connect plus the hydration times of its objects added up (they compete in one process); a full
  environment restart adds the coordinator's own start-up.
"""

from __future__ import annotations

import asyncio
import enum
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from steadystate.catalog.records import ClusterRecord, ReplicaRecord
from steadystate.adapter.privileges import owns
from steadystate.errors import InsufficientPrivilege, ObjectNotInPrerequisiteState, quote_ident
from steadystate.orchestrator.api import ProcessStatus
from steadystate.orchestrator.process import FIRST_RESTART_DELAY_S
from steadystate.protocol import messages as m
from steadystate.repr.objects import is_transient

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

CRASH_LOOP_WINDOW_S = 600.0  # a replica that crash-looped within this window is a reason the cluster is not ready


class RestartFate(enum.StrEnum):
    """What a restart would do to a dataflow (EXPLAIN RESTART CLUSTER's ``restart`` column shows the value)."""

    IDENTICAL = "identical"  # a fresh plan is the same: kept
    DIFFERENT = "different"  # a fresh plan differs: rebuilt
    ABSENT = "absent"  # runs, but the catalog no longer has it: not run again
    MISSING = "missing"  # the catalog has it, but no dataflow runs: built
    TRANSIENT = "transient"  # a peek's or subscribe's dataflow: ends with the restart
    REBUILT = "rebuilt"  # unchanged, but imports an index a restart rebuilds: rebuilt too

    @property
    def changes_the_index(self) -> bool:
        """A restart builds this dataflow's collection anew (its importers are rebuilt with it)."""
        return self in (RestartFate.DIFFERENT, RestartFate.MISSING, RestartFate.ABSENT)


@dataclass(frozen=True)
class DiffRow:
    object_id: str
    name: str
    status: RestartFate
    detail: str


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


class Severity(enum.Enum):
    REASON = "reason"  # the cluster is not ready
    WARNING = "warning"  # ready, but worth knowing


class AtSeal(enum.Enum):
    REFUSE = "refuse"  # SEAL is refused while the condition has findings
    WAIT = "wait"  # SEAL waits up to the condition's patience for the findings to go away, then refuses
    RESTART = "restart"  # SEAL restarts the replicas it names (or refuses, WITH (RESTART = false))
    IGNORE = "ignore"  # SEAL does not look at it


@dataclass(frozen=True)
class Finding:
    text: str  # a reason or warning of the verdict, with what to do
    detail: str = ""  # the same for SEAL's error detail (defaults to ``text``)
    replica_id: str | None = None  # the replica it is about (what SEAL restarts)


@dataclass(frozen=True)
class Condition:
    """One readiness condition: ``check`` lists what is wrong (no findings: the condition holds)."""

    name: str
    check: Callable[["Readiness", ClusterRecord], list[Finding]]
    severity: Severity
    at_seal: AtSeal
    seal_message: str = ""  # "cannot seal cluster {cluster}: <seal_message>"
    seal_hint: str = ""
    patience_s: float = 0.0  # how long SEAL waits (AtSeal.WAIT)

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
        rows: dict[str, DiffRow] = {}
        for export_id, desc in sorted(running.items()):
            name = catalog.describe(export_id)
            if desc.is_transient:
                rows[export_id] = DiffRow(export_id, desc.debug_name, RestartFate.TRANSIENT, _transient_fate(desc))
            elif export_id not in fresh:
                residual = self.coord.residuals.get(export_id)
                name = residual.name if residual else name
                held = f" (still imported by {', '.join(residual.held_by)})" if residual else ""
                rows[export_id] = DiffRow(export_id, name, RestartFate.ABSENT,
                                          f"the catalog no longer has this object{held}; a restart would not run it")
            elif fresh[export_id].fingerprint() == desc.fingerprint():
                rows[export_id] = DiffRow(export_id, name, RestartFate.IDENTICAL, "")
            else:
                rows[export_id] = DiffRow(export_id, name, RestartFate.DIFFERENT,
                                          describe_difference(desc, fresh[export_id]))
        for export_id in fresh:
            if export_id not in running:
                rows[export_id] = DiffRow(export_id, catalog.describe(export_id), RestartFate.MISSING,
                                          "the catalog has this object but no dataflow runs for it")
        # a replica keeps a dataflow only if every index it imports was kept: rebuilds cascade to importers
        rebuilt = {i for i, row in rows.items() if row.status.changes_the_index}
        changed = True
        while changed:
            changed = False
            for export_id, row in rows.items():
                if row.status is not RestartFate.IDENTICAL:
                    continue
                imports = sorted(i.index_id for i in running[export_id].index_imports if i.index_id in rebuilt)
                if imports:
                    rows[export_id] = DiffRow(export_id, row.name, RestartFate.REBUILT,
                                              f"its plan is unchanged, but it imports {', '.join(imports)}, which a "
                                              f"restart rebuilds, so a restart rebuilds it too")
                    rebuilt.add(export_id)
                    changed = True
        return list(rows.values())

    def hydration_gaps(self, cluster_id: str) -> list[str]:
        """'object on replica' for every object not hydrated on every connected replica."""
        instance = self.coord.instance(cluster_id)
        expected = [i for i in self.coord.catalog.objects_on_cluster(cluster_id)
                    if i.kind.keeps_a_dataflow]
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

    def replica_signal(self, replica: ReplicaRecord) -> dict[str, object]:
        """The clean/dirty signal of one replica as the verdict and introspection use it."""
        instance = self.coord.instances.get(replica.cluster_id)
        state = instance.replicas.get(replica.id) if instance is not None else None
        status = state.status if state is not None else None
        online = self.coord.replica_status.get(replica.id)
        return {
            "online": bool(online and online.status is ProcessStatus.ONLINE and state is not None
                           and state.connection.live),
            "status": status,
            "clean": bool(status is not None and status.steady and status.clean),
            "disagreement": state.disagreement if state is not None else None,
            "reason": online.reason if online else "not started",
            "expected": state.connection.expected.signal() if state is not None and state.connection.live else None,
        }


    # ------------------------------------------------------------------ the conditions' checks

    def _no_replicas(self, cluster: ClusterRecord) -> list[Finding]:
        if self.coord.catalog.replicas_of(cluster.id):
            return []
        name = quote_ident(cluster.name)
        return [Finding(f"cluster {name} has no replicas: add one with ALTER CLUSTER {name} SET "
                        f"(REPLICATION FACTOR = 1)")]

    def _replica_count(self, cluster: ClusterRecord) -> list[Finding]:
        replicas = self.coord.catalog.replicas_of(cluster.id)
        factor = cluster.replication_factor
        if not cluster.managed or factor is None or not replicas or len(replicas) == factor \
                or cluster.id in self.coord.catalog.reconfigurations:  # pending replicas: counted at cut-over
            return []
        name = quote_ident(cluster.name)
        return [Finding(f"cluster {name} has {len(replicas)} replica(s) but its replication factor is {factor}: "
                        f"run ALTER CLUSTER {name} SET (REPLICATION FACTOR = {factor})",
                        f"{len(replicas)} replica(s), replication factor {factor}")]

    def _reconfiguration(self, cluster: ClusterRecord) -> list[Finding]:
        kind = self.coord.reconfiguring.get(cluster.id)
        if kind is None:
            return []
        return [Finding(f"cluster {quote_ident(cluster.name)} is being reconfigured ({kind.value}): wait until it "
                        f"finishes (mz_internal.mz_pending_reconfigurations)")]

    def _failed_objects(self, cluster: ClusterRecord) -> list[Finding]:
        return [Finding(f"{failed.kind} {failed.name} ({failed.object_id}) failed: {failed.error}; {failed.hint}",
                        f"{failed.name}: {failed.error}")
                for failed in self.coord.failures() if failed.cluster_id == cluster.id]

    def _residuals(self, cluster: ClusterRecord) -> list[Finding]:
        name = quote_ident(cluster.name)
        return [Finding(f"residual dataflow {r.name} ({r.index_id}) is still imported by {', '.join(r.held_by)}: "
                        f"run ALTER CLUSTER {name} RESTART",
                        f"{r.name} ({r.index_id}) is still imported by {', '.join(r.held_by)}")
                for r in self.coord.residuals.values() if r.cluster_id == cluster.id]

    def _restart_changes(self, cluster: ClusterRecord) -> list[Finding]:
        return [Finding(f"a restart would change {row.name} ({row.object_id}): {row.detail}",
                        f"{row.name} ({row.object_id}) is {row.status.value}: {row.detail}")
                for row in self.restart_diff(cluster.id)
                if row.status in (RestartFate.DIFFERENT, RestartFate.MISSING)
                or (row.status is RestartFate.ABSENT and row.object_id not in self.coord.residuals)]

    def _offline(self, cluster: ClusterRecord) -> list[Finding]:
        out = []
        for replica in self.coord.catalog.replicas_of(cluster.id):
            signal = self.replica_signal(replica)
            if not signal["online"]:
                out.append(Finding(f"replica {quote_ident(replica.name)} is offline "
                                   f"({signal['reason'] or 'not connected'})",
                                   f"replica {quote_ident(replica.name)} is offline", replica.id))
        return out

    def _online_replicas(self, cluster: ClusterRecord) -> list[tuple[ReplicaRecord, dict[str, object]]]:
        signals = [(r, self.replica_signal(r)) for r in self.coord.catalog.replicas_of(cluster.id)]
        return [(r, s) for r, s in signals if s["online"]]

    def _crash_loops(self, cluster: ClusterRecord) -> list[Finding]:
        out = []
        now_ms = time.time() * 1000
        for replica in self.coord.catalog.replicas_of(cluster.id):
            at = self.coord.last_crash_loop_ms.get(replica.id)
            if at is not None and now_ms - at < CRASH_LOOP_WINDOW_S * 1000:
                minutes = max(1, round((now_ms - at) / 60_000))
                out.append(Finding(
                    f"replica {quote_ident(replica.name)} was crash-looping {minutes} minute(s) ago: find the cause "
                    f"in mz_internal.mz_cluster_replica_status_history (this clears "
                    f"{CRASH_LOOP_WINDOW_S / 60:g} minutes after the last crash loop)",
                    f"replica {quote_ident(replica.name)} was crash-looping {minutes} minute(s) ago", replica.id))
        return out

    def _disagreements(self, cluster: ClusterRecord) -> list[Finding]:
        return [Finding(f"replica {quote_ident(r.name)} disagrees with the controller: {s['disagreement']}",
                        replica_id=r.id)
                for r, s in self._online_replicas(cluster) if s["disagreement"]]

    def _hydration(self, cluster: ClusterRecord) -> list[Finding]:
        return [Finding(g + ": wait for hydration", g) for g in self.hydration_gaps(cluster.id)]

    def _transients(self, cluster: ClusterRecord) -> list[Finding]:
        return [Finding(f"transient dataflow {row.object_id} ({row.name}) is running: {row.detail}",
                        f"{row.object_id}: {row.name}")
                for row in self.restart_diff(cluster.id) if row.status is RestartFate.TRANSIENT]

    def _dirty(self, cluster: ClusterRecord) -> list[Finding]:
        name = quote_ident(cluster.name)
        out = []
        for replica, signal in self._online_replicas(cluster):
            status = signal["status"]
            if isinstance(status, m.Status) and not signal["clean"]:
                out.append(Finding(f"replica {quote_ident(replica.name)} is dirty (dirtied by {status.dirtied_by}): "
                                   f"run ALTER CLUSTER {name} RESTART to make it clean",
                                   f"replica {quote_ident(replica.name)} was dirtied by {status.dirtied_by}",
                                   replica.id))
        return out

    def _one_replica(self, cluster: ClusterRecord) -> list[Finding]:
        if len(self.coord.catalog.replicas_of(cluster.id)) != 1:
            return []
        downtime = self.expected_downtime_s(cluster.id)
        if downtime is None:
            expected = "as long as starting a replica and hydrating take"
        else:
            expected = f"about {_seconds(downtime)} (process start and the measured hydration times)"
        name = quote_ident(cluster.name)
        return [Finding(f"cluster {name} has one replica: restarting it means downtime of {expected}; add a replica "
                        f"to restart without downtime")]

    def _not_sealed(self, cluster: ClusterRecord) -> list[Finding]:
        if cluster.sealed:
            return []
        name = quote_ident(cluster.name)
        return [Finding(f"cluster {name} is not sealed: run ALTER CLUSTER {name} SEAL once it is in production")]

    # ------------------------------------------------------------------ the verdict and SEAL, from CONDITIONS

    def verdict(self, cluster: ClusterRecord) -> tuple[bool, list[str], list[str]]:
        reasons: list[str] = []
        warnings: list[str] = []
        for condition in CONDITIONS:
            found = [f.text for f in condition.check(self, cluster)]
            (reasons if condition.severity is Severity.REASON else warnings).extend(found)
        return (not reasons, reasons, warnings)

    async def check_seal(self, cluster: ClusterRecord, restart: bool, timeout: float) -> list[ReplicaRecord]:
        """Check every condition SEAL looks at, in order; returns the replicas SEAL must restart (raises 55000
        with the condition's message, detail and hint if one refuses)."""
        name = quote_ident(cluster.name)
        to_restart: list[ReplicaRecord] = []
        for condition in CONDITIONS:
            if condition.at_seal is AtSeal.IGNORE:
                continue
            findings = condition.check(self, cluster)
            if condition.at_seal is AtSeal.WAIT:
                deadline = time.monotonic() + min(timeout, condition.patience_s)
                while findings and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    findings = condition.check(self, cluster)
            if not findings:
                continue
            if condition.at_seal is AtSeal.RESTART and restart:
                replicas = self.coord.catalog.replicas
                to_restart.extend(replicas[f.replica_id] for f in findings if f.replica_id in replicas)
                continue
            message = condition.seal_message.format(count=len(findings), first=_first_replica(self, findings))
            raise ObjectNotInPrerequisiteState(
                f"cannot seal cluster {name}{'' if message.startswith(' ') else ': '}{message}",
                detail="; ".join(f.detail or f.text for f in findings) or None,
                hint=condition.seal_hint.format(cluster=name) or None,
            )
        return to_restart

    def replica_restart_cpu_s(self, cluster_id: str) -> list[float]:
        """What restarting each replica of the cluster costs in CPU time, as the replicas measured it (their
        process start plus their last full rebuild): independent of what else ran beside them then."""
        instance = self.coord.instances.get(cluster_id)
        costs = []
        for state in instance.replicas.values() if instance is not None else ():
            status = state.status
            if status is not None and status.hydration_cpu_s is not None:
                costs.append(status.startup_cpu_s + status.hydration_cpu_s)
        return costs

    def expected_downtime_s(self, cluster_id: str) -> float | None:
        """Restarting one replica after a crash: the orchestrator noticing and waiting its first backoff, then the
        replica's process start and the rebuild of its dataflows, alone on the machine.  Measured in CPU time by
        the replicas (``Status.startup_cpu_s``/``hydration_cpu_s``), since wall times measured while several
        replicas started side by side (a full restart) overstate it.  Before a replica has reported one: the
        fastest wall-clock hydration seen of each object plus the measured process start.  ``None`` before
        anything was measured."""
        costs = self.replica_restart_cpu_s(cluster_id)
        if costs:
            return FIRST_RESTART_DELAY_S + min(costs)
        instance = self.coord.instances.get(cluster_id)
        if instance is None:
            return None
        fastest = self.coord.fastest_hydration_ms
        for state in instance.replicas.values():
            for c in state.status.collections if state.status is not None else ():
                if c.hydration_ms is not None and not is_transient(c.id):
                    fastest[c.id] = min(fastest.get(c.id, c.hydration_ms), c.hydration_ms)
        objects = [i.id for i in self.coord.catalog.objects_on_cluster(cluster_id)
                   if i.kind.keeps_a_dataflow and i.id in fastest]
        if not objects:
            return None
        return FIRST_RESTART_DELAY_S + self.coord.replica_start_s(cluster_id) + sum(fastest[o] for o in objects) / 1000

    def environment_downtime_s(self) -> float | None:
        """Restarting the whole environment, replicas included: the coordinator's start-up, then every replica
        starts and rebuilds at once, sharing the machine's cores (their CPU costs added up over the cores), and
        no sooner than the slowest cluster alone."""
        if self.coord.startup_s is None:
            return None
        clusters = [d for d in (self.expected_downtime_s(c) for c in self.coord.catalog.clusters) if d is not None]
        total_cpu = sum(sum(self.replica_restart_cpu_s(c)) for c in self.coord.catalog.clusters)
        shared = FIRST_RESTART_DELAY_S + total_cpu / (os.cpu_count() or 1)
        return self.coord.startup_s + max([shared, *clusters])

    def verdict_json(self, cluster_ids: set[str] | None = None) -> list[dict[str, object]]:
        """The verdict of every cluster (or of ``cluster_ids``) as ``GET /api/readiness`` and the console show it."""
        out = []
        for cluster in sorted(self.coord.catalog.clusters.values(), key=lambda c: c.name):
            if cluster_ids is not None and cluster.id not in cluster_ids:
                continue
            ready, reasons, warnings = self.verdict(cluster)
            replicas = []
            for replica in self.coord.catalog.replicas_of(cluster.id):
                signal = self.replica_signal(replica)
                status = signal["status"]
                replicas.append({
                    "id": replica.id, "name": replica.name, "online": signal["online"], "clean": signal["clean"],
                    "dirtied_by": status.dirtied_by if isinstance(status, m.Status) else None,
                })
            out.append({"cluster_id": cluster.id, "name": cluster.name, "sealed": cluster.sealed,
                        "ready": ready, "reasons": reasons, "warnings": warnings, "replicas": replicas,
                        "expected_downtime_s": self.expected_downtime_s(cluster.id)})
        return out

    # ------------------------------------------------------------------ privileges

    def check_owner(self, cluster: ClusterRecord, user: str, action: str) -> None:
        if owns(self.coord.catalog, user, cluster.owner):  # the owner, a member of the owning role, a superuser
            return
        raise InsufficientPrivilege(
            f"must be owner of CLUSTER {quote_ident(cluster.name)} to {action} it",
            hint=f"the cluster is owned by {quote_ident(cluster.owner)}; a superuser or the owner can "
                 f"{action} it",
        )


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _first_replica(readiness: Readiness, findings: list[Finding]) -> str:
    for finding in findings:
        replica = readiness.coord.catalog.replicas.get(finding.replica_id or "")
        if replica is not None:
            return quote_ident(replica.name)
    return ""


def _transient_fate(desc: m.DataflowDescription) -> str:
    if any(sink.kind == m.SinkKind.SUBSCRIBE for sink in desc.sink_exports):
        return ("a SUBSCRIBE: it goes on through a replica restart and ALTER CLUSTER ... RESTART (its dataflow is "
                "replayed), and ends with an error if the coordinator restarts")
    return "a running query's dataflow: dropped when the query ends; a restart does not rebuild it"


_R = Readiness
_RESTART_HINT = "run ALTER CLUSTER {cluster} RESTART first: it rebuilds the cluster from the catalog"

# The readiness conditions, in the order SEAL checks them.  Severity says what a finding means for the verdict;
# AtSeal what SEAL does about it.
CONDITIONS: tuple[Condition, ...] = (
    Condition("sealed", _R._not_sealed, Severity.REASON, AtSeal.IGNORE),
    Condition("reconfiguration", _R._reconfiguration, Severity.REASON, AtSeal.IGNORE),
    Condition("replicas", _R._no_replicas, Severity.REASON, AtSeal.REFUSE, "it has no replicas",
              "add a replica first, e.g. ALTER CLUSTER {cluster} SET (REPLICATION FACTOR = 1)"),
    Condition("replication factor", _R._replica_count, Severity.REASON, AtSeal.REFUSE,
              "its number of replicas differs from its replication factor",
              "ALTER CLUSTER {cluster} SET (REPLICATION FACTOR = ...) to the number it should run"),
    Condition("failed objects", _R._failed_objects, Severity.REASON, AtSeal.REFUSE,
              "{count} object(s) on it failed to plan or render",
              "drop the failed objects (mz_internal.mz_failed_objects) and create them again"),
    Condition("residual dataflows", _R._residuals, Severity.REASON, AtSeal.REFUSE,
              "it runs residual dataflows that a restart would not reproduce", _RESTART_HINT),
    Condition("restart diff", _R._restart_changes, Severity.REASON, AtSeal.REFUSE,
              "a restart would change what it runs", _RESTART_HINT),
    Condition("online", _R._offline, Severity.REASON, AtSeal.WAIT, "replica {first} is offline",
              "wait until every replica is online (SHOW CLUSTER REPLICAS)", patience_s=30.0),
    Condition("no crash loops", _R._crash_loops, Severity.REASON, AtSeal.REFUSE,
              "a replica was crash-looping in the last 10 minutes",
              "find the cause in mz_internal.mz_cluster_replica_status_history and seal once the replicas stay up"),
    Condition("agreement", _R._disagreements, Severity.REASON, AtSeal.WAIT,
              "a replica disagrees with the controller about its clean/dirty state",
              "run ALTER CLUSTER {cluster} RESTART to replace the replica", patience_s=2.0),
    Condition("hydrated", _R._hydration, Severity.REASON, AtSeal.WAIT,
              "not every object is hydrated on every replica",
              "wait for hydration (mz_internal.mz_hydration_statuses) and retry", patience_s=10.0),
    Condition("no transient dataflows", _R._transients, Severity.WARNING, AtSeal.WAIT,
              "{count} transient dataflow(s) (SUBSCRIBE or query) are running on it, and ending them later would "
              "change a sealed cluster", "end the subscriptions (or let the queries finish) and seal again",
              patience_s=2.0),
    Condition("clean", _R._dirty, Severity.REASON, AtSeal.RESTART,
              " without restarting it: {count} replica(s) are dirty",
              "use ALTER CLUSTER {cluster} SEAL WITH (RESTART = true) to restart them gracefully"),
    Condition("more than one replica", _R._one_replica, Severity.WARNING, AtSeal.IGNORE),
)
