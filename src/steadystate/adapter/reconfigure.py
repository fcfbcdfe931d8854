"""Graceful reconfiguration of clusters: SEAL, UNSEAL, RESTART, resizing without a gap, and owner changes.

A **graceful replacement** replaces replicas without a moment with fewer answering replicas than before:

1. *Begin* (one catalog transaction, under the DDL lock): the replacement replicas (``<name>-pending``) and a
   durable :class:`~steadystate.catalog.records.ReconfigurationRecord` (kind, which replica replaces which,
   deadline, what to do on timeout, the cluster record to write at cut-over) are committed together; the
   replacement processes start.  The controller gives them their own history (``ComputeInstance.
   begin_replacement``): a fresh plan of the catalog for RESTART, the current history otherwise; the replicas
   they replace keep replaying theirs, so a replica that reconnects meanwhile never runs the other's dataflows.
2. *Wait* (no lock held: DDL, writes and queries elsewhere go on; on this cluster the policy table of
   ``adapter.policy`` decides, and slow-path queries of an unsealed cluster are answered by the old replicas)
   until every replacement is connected, steady and has hydrated every object of the cluster, or the deadline.
3. *Cut over* (one transaction): the replaced replicas are deleted, the replacements take their names, the
   cluster record is written (sealed, new size or replication factor), the reconfiguration record is deleted;
   then the old processes stop.  Or *roll back* (one transaction): the replacements and the record are deleted.
   A timeout rolls back (SEAL, RESTART, and resizes with ``ON TIMEOUT = 'ROLLBACK'``, the default) or cuts over
   anyway (``ON TIMEOUT = 'COMMIT'``); a cancelled statement rolls back.

A coordinator that starts and finds a reconfiguration record **resumes** it (:meth:`Reconfigurer.resume`):
the replacements are started (or adopted) again and the wait goes on in the background until the record's
deadline, then it cuts over or rolls back as the record says.  So a crash at any point leaves either the old
replicas, or the new ones, never both, and never a manual step.

``ALTER CLUSTER c SEAL`` checks the seal preconditions that ``adapter.readiness`` derives from its list of
readiness conditions, replaces dirty replicas, and seals at cut-over.  ``ALTER CLUSTER c RESTART`` replaces
every replica from a fresh plan of the catalog.  ``ALTER CLUSTER c SET (SIZE = ..., REPLICATION FACTOR = ...)
WITH (WAIT UNTIL READY (TIMEOUT = '10m', ON TIMEOUT = 'COMMIT' | 'ROLLBACK'))`` resizes without a gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from steadystate.adapter.ddl import cluster_shape
from steadystate.adapter.introspection import audit_details
from steadystate.adapter.limits import check_replicas
from steadystate.adapter.policy import Statement
from steadystate.adapter.progress import PROGRESS_EVERY_S, Notices, hydrating_summary
from steadystate.adapter.privileges import owns
from steadystate.catalog.records import (
    ClusterRecord,
    OnTimeout,
    ReconfigurationKind,
    ReconfigurationRecord,
    ReplicaRecord,
)
from steadystate.errors import (
    FeatureNotSupported,
    InsufficientPrivilege,
    InvalidParameterValue,
    QueryCanceled,
    UndefinedObject,
    quote_ident,
)
from steadystate.controller.instance import PlannedDataflow
from steadystate.protocol.history import CommandHistory
from steadystate.repr.objects import IdKind, ItemKind, make_id
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.adapter.readiness import Readiness

log = logging.getLogger("steadystate.reconfigure")

DEFAULT_TIMEOUT_S = 300.0


def parse_interval(value: object) -> float:
    text = str(value).strip().lower().strip("'")
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("min", 60.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    try:
        return float(text)
    except ValueError:
        raise InvalidParameterValue(f"invalid TIMEOUT {quote_ident(str(value))}",
                                    hint="use a duration such as '30s', '5m' or '500ms'") from None


def truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return True
    return str(value).strip().lower() in ("true", "on", "1", "yes", "t")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Reconfigurer:
    def __init__(self, coordinator: "Coordinator", readiness: "Readiness") -> None:
        self.coord = coordinator
        self.readiness = readiness
        self.background: dict[str, asyncio.Task[None]] = {}  # cluster id -> a resumed reconfiguration

    # ------------------------------------------------------------------ statements

    async def seal(self, plan: p.AlterClusterPlan, user: str, notices: list[str], timeout: float) -> str:
        async with self.coord.ddl(timeout):
            cluster = self.coord.catalog.clusters[plan.cluster_id]
            self.readiness.check_owner(cluster, user, "seal")
            if cluster.sealed:
                notices.append(f"cluster {quote_ident(cluster.name)} is already sealed")
                return "ALTER CLUSTER"
            restart = truthy(plan.options.get("restart", True))
            seal_timeout = parse_interval(plan.options.get("timeout", DEFAULT_TIMEOUT_S))
            self._begin(cluster, ReconfigurationKind.SEAL, "ALTER CLUSTER ... SEAL")
        try:
            dirty = await self.readiness.check_seal(cluster, restart, seal_timeout)
            sealed = msgspec.structs.replace(self.coord.catalog.clusters[cluster.id], sealed=True)
            if dirty:
                await self._replace(cluster, ReconfigurationKind.SEAL, user, dirty,
                                    [(r.name, r.size, r.id) for r in dirty], None, seal_timeout,
                                    OnTimeout.ROLLBACK, sealed, notices)
            else:
                async with self.coord.ddl_lock:
                    self._put_cluster(sealed, user, action="seal")
        finally:
            self.coord.reconfiguring.pop(cluster.id, None)
        return "ALTER CLUSTER"

    async def unseal(self, plan: p.AlterClusterPlan, user: str, notices: list[str], timeout: float) -> str:
        async with self.coord.ddl(timeout):
            cluster = self.coord.catalog.clusters[plan.cluster_id]
            self.readiness.check_owner(cluster, user, "unseal")
            self.coord.policy_check(cluster.id, Statement.UNSEAL, "ALTER CLUSTER ... UNSEAL")
            if not cluster.sealed:
                notices.append(f"cluster {quote_ident(cluster.name)} is not sealed")
                return "ALTER CLUSTER"
            self._put_cluster(msgspec.structs.replace(cluster, sealed=False), user, action="unseal")
        return "ALTER CLUSTER"

    async def restart(self, plan: p.AlterClusterPlan, user: str, notices: list[str], timeout: float) -> str:
        async with self.coord.ddl(timeout):
            cluster = self.coord.catalog.clusters[plan.cluster_id]
            self.readiness.check_owner(cluster, user, "restart")
            restart_timeout = parse_interval(plan.options.get("timeout", DEFAULT_TIMEOUT_S))
            self._begin(cluster, ReconfigurationKind.RESTART, "ALTER CLUSTER ... RESTART")
        try:
            instance = self.coord.instance(cluster.id)
            fresh = await self.fresh_history(cluster.id)
            replicas = self.coord.catalog.replicas_of(cluster.id)
            if replicas:
                await self._replace(cluster, ReconfigurationKind.RESTART, user, replicas,
                                    [(r.name, r.size, r.id) for r in replicas], fresh, restart_timeout,
                                    OnTimeout.ROLLBACK, None, notices)
            else:
                instance.begin_replacement(fresh)
                instance.commit_replacement()
            for index_id, residual in list(self.coord.residuals.items()):
                if residual.cluster_id == cluster.id:
                    del self.coord.residuals[index_id]
        finally:
            self.coord.reconfiguring.pop(cluster.id, None)
        return "ALTER CLUSTER"

    async def resize(self, plan: p.AlterClusterPlan, user: str, notices: list[str], timeout: float) -> str:
        """``ALTER CLUSTER ... SET (SIZE, REPLICATION FACTOR) WITH (WAIT UNTIL READY (...))``: new replicas of
        the new shape hydrate before the old ones go."""
        wait = {k.lower().replace(" ", "_"): v for k, v in (plan.wait or {}).items()}
        unknown = set(wait) - {"timeout", "on_timeout"}
        if unknown:
            raise InvalidParameterValue(f"unknown WAIT UNTIL READY option {quote_ident(sorted(unknown)[0])}",
                                        hint="the options are TIMEOUT and ON TIMEOUT")
        wait_timeout = parse_interval(wait.get("timeout", DEFAULT_TIMEOUT_S))
        on_timeout_text = str(wait.get("on_timeout", "rollback")).strip("'").lower()
        if on_timeout_text not in ("commit", "rollback"):
            raise InvalidParameterValue(f"invalid ON TIMEOUT {quote_ident(on_timeout_text)}",
                                        hint="use ON TIMEOUT = 'COMMIT' or 'ROLLBACK'")
        on_timeout = OnTimeout(on_timeout_text)
        async with self.coord.ddl(timeout):
            cluster = self.coord.catalog.clusters[plan.cluster_id]
            self.coord.policy_check(cluster.id, Statement.ALTER_OPTIONS, "ALTER CLUSTER")
            size, factor = cluster_shape(cluster, plan.options)
            check_replicas(self.coord.catalog, cluster.id, factor)
            if size == cluster.size and factor == cluster.replication_factor:
                raise FeatureNotSupported(
                    "ALTER CLUSTER ... WITH (WAIT UNTIL READY ...) needs a change of SIZE or REPLICATION FACTOR",
                    hint="the cluster already has this size and replication factor")
            self._begin(cluster, ReconfigurationKind.RESIZE, "ALTER CLUSTER ... SET")
        try:
            current = self.coord.catalog.replicas_of(cluster.id)
            by_name = {r.name: r for r in current}
            specs = [(f"r{n}", size, by_name[f"r{n}"].id if f"r{n}" in by_name else "")
                     for n in range(1, factor + 1)]
            updated = msgspec.structs.replace(cluster, size=size, replication_factor=factor)
            await self._replace(cluster, ReconfigurationKind.RESIZE, user, current, specs, None, wait_timeout,
                                on_timeout, updated, notices)
        finally:
            self.coord.reconfiguring.pop(cluster.id, None)
        return "ALTER CLUSTER"

    async def change_owner(self, plan: p.AlterClusterPlan, user: str, notices: list[str], timeout: float) -> str:
        async with self.coord.ddl(timeout):
            cluster = self.coord.catalog.clusters[plan.cluster_id]
            self.readiness.check_owner(cluster, user, "alter")
            self.coord.policy_check(cluster.id, Statement.ALTER_OWNER, "ALTER CLUSTER ... OWNER TO")
            new_owner = str(plan.options.get("owner"))
            if self.coord.catalog.role_by_name(new_owner) is None:
                raise UndefinedObject(f"unknown role {quote_ident(new_owner)}")
            if not owns(self.coord.catalog, user, new_owner):  # as in PostgreSQL: give only to a role one is
                raise InsufficientPrivilege(  # a member of (a superuser gives to anyone)
                    f"must be a member of role {quote_ident(new_owner)} to give it CLUSTER "
                    f"{quote_ident(cluster.name)}", hint=f"GRANT {new_owner} TO {user} first, or ask a superuser")
            with self.coord.catalog.durable.transact(user) as txn:
                updated = msgspec.structs.replace(cluster, owner=new_owner)
                txn.put(updated)
                txn.audit_event("alter", "cluster", audit_details(id=cluster.id, name=cluster.name, owner=new_owner))
            self.coord.catalog.apply_puts([updated])
        return "ALTER CLUSTER"

    # ------------------------------------------------------------------ resuming after a coordinator restart

    def resume(self) -> None:
        """Called at start-up, once replicas are started: finish every reconfiguration a previous coordinator
        left in the catalog, in the background (cut over once the replacements hydrate, or at the deadline
        do what the record says)."""
        for record in list(self.coord.catalog.reconfigurations.values()):
            cluster = self.coord.catalog.clusters.get(record.id)
            if cluster is None:  # pragma: no cover - the cluster's drop deletes its record
                continue
            self.coord.reconfiguring[cluster.id] = record.kind
            self.coord.instance(cluster.id).begin_replacement()
            log.info("resuming the %s of cluster %s left by a previous coordinator", record.kind.value, cluster.name)
            self.background[cluster.id] = asyncio.create_task(self._resumed(cluster, record),
                                                               name=f"reconfigure-{cluster.id}")

    async def _resumed(self, cluster: ClusterRecord, record: ReconfigurationRecord) -> None:
        try:
            await self._wait_and_finish(cluster, record, record.owner)
        except Exception as exc:  # noqa: BLE001 - a background task has nobody to raise to; the outcome is logged
            log.warning("the resumed %s of cluster %s ended: %s", record.kind.value, cluster.name, exc)
        finally:
            self.coord.reconfiguring.pop(cluster.id, None)
            self.background.pop(cluster.id, None)

    # ------------------------------------------------------------------ mechanics

    def _begin(self, cluster: ClusterRecord, kind: ReconfigurationKind, text: str) -> None:
        """Claim the cluster for a reconfiguration (under the DDL lock): refused unless the policy allows it."""
        self.coord.policy_check(cluster.id, Statement.RECONFIGURE, text)
        self.coord.reconfiguring[cluster.id] = kind

    def _put_cluster(self, updated: ClusterRecord, user: str, **details: Any) -> None:
        with self.coord.catalog.durable.transact(user) as txn:
            txn.put(updated)
            txn.audit_event("alter", "cluster", audit_details(id=updated.id, name=updated.name,
                                                              sealed=updated.sealed, **details))
        self.coord.catalog.apply_puts([updated])

    async def fresh_history(self, cluster_id: str) -> CommandHistory:
        """The command history a freshly started coordinator would build for this cluster (plus the transient
        dataflows running now, which the replacements must run too for the queries waiting on them)."""
        as_of = await self.coord.read_timestamp()
        planned = [PlannedDataflow(desc, self.coord.ddl_text(item), item.kind == ItemKind.MATERIALIZED_VIEW)
                   for item, desc in self.coord.fresh_dataflows(cluster_id, as_of)]
        return self.coord.instance(cluster_id).planned_history(planned)

    async def _replace(
        self, cluster: ClusterRecord, kind: ReconfigurationKind, user: str, retiring: list[ReplicaRecord],
        specs: list[tuple[str, str, str]], history: CommandHistory | None, timeout: float, on_timeout: OnTimeout,
        cluster_after: ClusterRecord | None, notices: list[str] | None = None,
    ) -> None:
        """Begin a graceful replacement (``specs``: name, size, id of the replica it replaces or ""), wait for
        it and cut over or roll back."""
        catalog = self.coord.catalog
        async with self.coord.ddl_lock:
            with catalog.durable.transact(user) as txn:
                replacements = [ReplicaRecord(id=make_id(IdKind.REPLICA, txn.next_id("replica")),
                                              name=f"{name}-pending", cluster_id=cluster.id, size=size, owner=user)
                                for name, size, _ in specs]
                record = ReconfigurationRecord(
                    id=cluster.id, kind=kind,
                    replacements=tuple((new.id, old) for new, (_, _, old) in zip(replacements, specs)),
                    retiring=tuple(r.id for r in retiring), deadline_ms=_now_ms() + int(timeout * 1000),
                    on_timeout=on_timeout, owner=user, started_at_ms=_now_ms(), cluster=cluster_after)
                for replica in replacements:
                    txn.put(replica)
                    txn.audit_event("create", "cluster-replica",
                                    audit_details(id=replica.id, cluster=cluster.name, name=replica.name,
                                                  reason=f"graceful {kind.value}"))
                txn.put(record)
            catalog.apply_puts([*replacements, record])
            self.coord.instance(cluster.id).begin_replacement(history)
            for replica in replacements:
                await self.coord.start_replica(replica, replacement=True)
        await self._wait_and_finish(cluster, record, user, notices)

    async def _wait_and_finish(self, cluster: ClusterRecord, record: ReconfigurationRecord, user: str,
                               notices: list[str] | None = None) -> None:
        """Wait for the replacements to hydrate, reporting their progress in NOTICEs while it waits
        (``adapter/progress.py``), then cut over; roll back on a timeout (or cut over: ON TIMEOUT = 'COMMIT')."""
        pending = [rid for rid, _ in record.replacements]
        reported = -PROGRESS_EVERY_S  # the first report at once
        try:
            while not all(self.replacement_ready(rid, cluster.id) for rid in pending):
                if isinstance(notices, Notices) and time.monotonic() - reported >= PROGRESS_EVERY_S:
                    reported = time.monotonic()
                    for line in hydrating_summary(self.coord, pending):
                        notices.progress(f"{_what(record.kind)} cluster {quote_ident(cluster.name)}: {line}")
                if _now_ms() > record.deadline_ms:
                    if record.on_timeout is OnTimeout.COMMIT:
                        log.warning("the %s of cluster %s timed out: cutting over to replicas that have not "
                                    "hydrated (ON TIMEOUT = 'COMMIT')", record.kind.value, cluster.name)
                        break
                    raise QueryCanceled(
                        f"{_what(record.kind)} cluster {quote_ident(cluster.name)} timed out after "
                        f"{(record.deadline_ms - record.started_at_ms) / 1000:g} s: the replacement replicas did not "
                        f"hydrate in time; the cluster was left as it was",
                        hint="retry with a longer TIMEOUT, e.g. WITH (TIMEOUT = '10m')")
                await asyncio.sleep(0.05)
        except BaseException:
            async with self.coord.ddl_lock:
                await self._roll_back(cluster, record, user)
            raise
        if notices is not None:
            notices.append(f"{_what(record.kind)} cluster {quote_ident(cluster.name)}: the replacement replicas "
                           f"hydrated in {(_now_ms() - record.started_at_ms) / 1000:.1f} s")
        async with self.coord.ddl_lock:
            await self._cut_over(cluster, record, user)

    async def _cut_over(self, cluster: ClusterRecord, record: ReconfigurationRecord, user: str) -> None:
        catalog = self.coord.catalog
        retiring = [catalog.replicas[rid] for rid in record.retiring if rid in catalog.replicas]
        renamed = [msgspec.structs.replace(catalog.replicas[new], name=catalog.replicas[new].name.removesuffix(
            "-pending")) for new, _ in record.replacements if new in catalog.replicas]
        with catalog.durable.transact(user) as txn:
            for replica in retiring:
                txn.delete("replica", replica.id)
                txn.audit_event("drop", "cluster-replica", audit_details(
                    id=replica.id, name=replica.name, reason=f"retired by graceful {record.kind.value}"))
            for replica in renamed:
                txn.put(replica)
            if record.cluster is not None:
                updated = msgspec.structs.replace(record.cluster, owner=catalog.clusters[cluster.id].owner)
                txn.put(updated)
                txn.audit_event("alter", "cluster", audit_details(
                    id=cluster.id, name=cluster.name, size=updated.size,
                    replication_factor=updated.replication_factor, sealed=updated.sealed,
                    action=record.kind.value))
            txn.delete("reconfiguration", record.id)
        catalog.apply_deletes([("replica", r.id) for r in retiring] + [("reconfiguration", record.id)])
        catalog.apply_puts(renamed + ([updated] if record.cluster is not None else []))
        self.coord.instance(cluster.id).commit_replacement()
        for replica in retiring:
            await self.coord.stop_replica(replica)

    async def _roll_back(self, cluster: ClusterRecord, record: ReconfigurationRecord, user: str) -> None:
        catalog = self.coord.catalog
        pending = [catalog.replicas[new] for new, _ in record.replacements if new in catalog.replicas]
        with catalog.durable.transact(user) as txn:
            for replica in pending:
                txn.delete("replica", replica.id)
                txn.audit_event("drop", "cluster-replica", audit_details(
                    id=replica.id, name=replica.name, reason=f"{record.kind.value} rolled back"))
            txn.delete("reconfiguration", record.id)
        catalog.apply_deletes([("replica", r.id) for r in pending] + [("reconfiguration", record.id)])
        self.coord.instance(cluster.id).abort_replacement()
        for replica in pending:
            await self.coord.stop_replica(replica)

    def replacement_ready(self, replica_id: str, cluster_id: str) -> bool:
        state = self.coord.instance(cluster_id).replicas.get(replica_id)
        if state is None or state.status is None or not state.connection.live or not state.status.steady:
            return False
        # an object the replacement cannot render is a failure it reports (a readiness reason), not a wait
        hydrated = {c.id for c in state.status.collections if c.hydrated or c.error is not None}
        expected = {i.id for i in self.coord.catalog.objects_on_cluster(cluster_id)
                    if i.kind.keeps_a_dataflow and i.id not in self.coord.failed_objects}
        return expected <= hydrated


def _what(kind: ReconfigurationKind) -> str:
    return {ReconfigurationKind.SEAL: "sealing", ReconfigurationKind.RESTART: "restarting",
            ReconfigurationKind.RESIZE: "resizing"}[kind]

