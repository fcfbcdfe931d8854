"""The coordinator: owns the catalog, storage, the timestamp oracle, controllers and the orchestrator.

Startup (``Coordinator.start``): open the durable catalog (``catalog.db``) and the shard store
(``storage.db``, or a PostgreSQL URL) in the data directory, and make the orchestrator; find the replica processes
a previous coordinator left running; register table shards (their contents are loaded into memory on the first
``UPDATE``/``DELETE``); create one :class:`~steadystate.controller.instance.ComputeInstance` per cluster and adopt
or start one process per replica (a start that fails is retried by the orchestrator in the background, startup goes on), stopping
adoptable processes of replicas the catalog no longer has; then re-plan every index and materialized view from
the catalog and install its dataflow (adopted replicas reconcile against it), and start compacting table shards
(``adapter.compaction``).  After that the SQL and HTTP ports serve.

Shutdown (``Coordinator.shutdown``) stops compaction, closes the replica connections, then either stops the
replica processes (a full stop) or leaves them running for the next coordinator to adopt (a planned restart:
``stop_replicas=False``), and finally flushes the table writer and closes storage and the catalog.

Sequencing of statements lives in ``adapter.ddl`` (catalog changes), ``adapter.reads`` (SELECT, SUBSCRIBE)
and ``adapter.writes`` (INSERT/UPDATE/DELETE/COPY); ``adapter.session`` turns pgwire requests into plans.
This module offers what they share: catalog transactions, dataflow installation, and per-cluster controllers.

**What it runs on is injected.**  The catalog, the shard store and the orchestrator are reached only through their
interfaces (``catalog.durable.CatalogStore``, ``storage.ShardStore`` by URL, ``orchestrator.api.Orchestrator``),
made by the config's ``catalog_factory``, ``storage_url`` and ``orchestrator_factory``; left ``None`` they are the
files of the data directory and one OS process per replica (``steadystate serve``).  ``steadystate.testing``
injects an in-memory catalog, a ``memory://`` store and in-process replicas instead, so the whole environment runs
inside one test.  The coordinator never imports the replica's code either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from steadystate.adapter.compaction import ShardCompactor
from steadystate.adapter.lag_history import WallclockLagHistory, measure_lags
from steadystate.adapter.dataflows import DataflowBuilder, import_order, index_dataflow
from steadystate.adapter.policy import ClusterState, Statement, check
from steadystate.catalog.durable import CatalogStore, DurableCatalog
from steadystate.catalog.records import (
    KIND_NAMES,
    ClusterRecord,
    ItemRecord,
    ReconfigurationKind,
    ReplicaRecord,
    StatusEvent,
)
from steadystate.catalog.state import CatalogState
from steadystate.controller.instance import ComputeInstance
from steadystate.errors import QueryCanceled, SteadyError
from steadystate.expr.ir import decode_plan
from steadystate.orchestrator.api import Orchestrator, OrchestratorFactory, ProcessStatus, ReplicaEvent, ReplicaSpec
from steadystate.orchestrator.process import ProcessOrchestrator
from steadystate.protocol import messages as m
from steadystate.adapter.progress import CopyBoard
from steadystate.storage import ShardStore, open_store
from steadystate.storage.oracle import TimestampOracle, clock_from_env
from steadystate.storage.tables import TableWriter
from steadystate.repr import Row
from steadystate.repr.objects import IdKind, ItemKind, id_number, make_id

log = logging.getLogger("steadystate.coordinator")


@dataclass
class ReplicaStatus:
    status: ProcessStatus = ProcessStatus.OFFLINE
    reason: str | None = "starting"
    process_id: int = 0
    updated_at_ms: int = 0


@dataclass(frozen=True)
class Residual:
    """A dataflow still running on a cluster for an object the catalog no longer has."""

    cluster_id: str
    index_id: str
    name: str
    held_by: tuple[str, ...]


@dataclass(frozen=True)
class FailedObject:
    """An index or materialized view whose dataflow could not be planned at start-up (a catalog written by an
    older version, a bug): it runs nowhere, is a readiness reason, and can be dropped."""

    object_id: str
    name: str
    kind: str
    cluster_id: str
    error: str
    hint: str


@dataclass
class CoordinatorConfig:
    data_dir: Path
    sql_host: str = "127.0.0.1"
    sql_port: int = 6875
    http_port: int = 6876
    storage_url: str | None = None
    statement_timeout_s: float = 60.0
    startup_timeout_s: float = 60.0
    orphan_timeout_s: float = 30.0
    compaction_interval_s: float = 5.0  # 0: table shards are never compacted
    compaction_lag_ms: int = 10_000
    # mz_wallclock_lag_history (adapter/lag_history.py): how often lag is measured (0: never, by itself), the
    # width of its bins and how long they are kept
    lag_sample_interval_s: float = 1.0
    lag_history_bin_s: float = 60.0
    lag_history_retention_s: float = 86_400.0
    sql_fd: int | None = None  # listening sockets inherited from the supervisor
    http_fd: int | None = None
    # what the coordinator runs on (``steadystate.testing`` injects in-memory ones); None: the defaults below
    catalog_factory: Callable[[], CatalogStore] | None = None  # default: DurableCatalog(<data-dir>/catalog.db)
    orchestrator_factory: OrchestratorFactory | None = None  # default: ProcessOrchestrator (replica processes)
    secret: str | None = None  # default: <data-dir>/secret, created on first start
    clock: Callable[[], int] | None = None  # the timestamp oracle's clock (ms); default: storage.oracle.clock_from_env

    @property
    def uses_data_dir(self) -> bool:
        """Whether anything lives in the data directory (not for a fully injected, in-memory environment)."""
        return (self.catalog_factory is None or self.orchestrator_factory is None or self.secret is None
                or self.storage_url is None)


@dataclass
class Coordinator:
    config: CoordinatorConfig
    catalog: CatalogState = field(init=False)
    store: ShardStore = field(init=False)
    oracle: TimestampOracle = field(init=False)
    tables: TableWriter = field(init=False)
    orchestrator: Orchestrator = field(init=False)
    compactor: ShardCompactor | None = field(init=False, default=None)
    lag_history: WallclockLagHistory | None = None  # mz_wallclock_lag_history, once started
    secret: str = field(init=False)
    instances: dict[str, ComputeInstance] = field(default_factory=dict)
    table_rows: dict[str, Counter[Row]] = field(default_factory=dict)
    # table id -> column -> value -> rows with that value (hash indexes for UPDATE/DELETE point lookups)
    table_indexes: dict[str, dict[int, dict[Any, set[Row]]]] = field(default_factory=dict)
    replica_status: dict[str, ReplicaStatus] = field(default_factory=dict)
    residuals: dict[str, Residual] = field(default_factory=dict)
    # cluster id -> the SEAL / RESTART / resize running on it (durable once it starts replacement replicas)
    reconfiguring: dict[str, ReconfigurationKind] = field(default_factory=dict)
    failed_objects: dict[str, FailedObject] = field(default_factory=dict)
    last_crash_loop_ms: dict[str, int] = field(default_factory=dict)  # replica id -> its last crash loop
    startup_s: float | None = None  # how long the last start-up took (the coordinator's part of a restart)
    fastest_hydration_ms: dict[str, float] = field(default_factory=dict)  # object id -> fastest hydration seen
    copies: CopyBoard = field(default_factory=CopyBoard)  # the COPY FROM statements running (mz_copy_progress)
    _replica_started: dict[str, float] = field(default_factory=dict)  # replica id -> when we started it
    _replica_start_s: dict[str, float] = field(default_factory=dict)  # cluster id -> start to first connection
    started_at: float = field(default_factory=time.time)
    ready: bool = False
    _transient_ids: int = 0
    ddl_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ------------------------------------------------------------------ startup / shutdown

    @property
    def storage_url(self) -> str:
        return self.config.storage_url or f"sqlite:///{(self.config.data_dir / 'storage.db').resolve()}"

    async def start(self) -> None:
        began = time.monotonic()
        data_dir = self.config.data_dir
        config = self.config
        if config.uses_data_dir:
            data_dir.mkdir(parents=True, exist_ok=True)
        self.secret = config.secret if config.secret is not None else _load_secret(data_dir / "secret")
        durable = (config.catalog_factory() if config.catalog_factory is not None
                   else DurableCatalog(str(data_dir / "catalog.db")))
        self.catalog = CatalogState(durable)
        self.store = open_store(self.storage_url)
        self.oracle = TimestampOracle(self.store, clock=config.clock or clock_from_env())
        self.tables = TableWriter(self.store, self.oracle, tick_ms=1000)
        make_orchestrator: OrchestratorFactory = config.orchestrator_factory or ProcessOrchestrator
        self.orchestrator = make_orchestrator(data_dir, self.secret, self._on_replica_event,
                                              orphan_timeout=config.orphan_timeout_s)
        adoptable = self.orchestrator.adopt()
        if adoptable:
            log.info("found %d running replica process(es) to adopt: %s", len(adoptable), ", ".join(adoptable))
        for item in self._items_in_order():
            if item.kind == ItemKind.TABLE:
                assert item.shard is not None
                self.store.create_shard(item.shard)
                self.tables.register(item.shard)
        read_ts = await self.tables.barrier()
        self.tables.start()
        for cluster in self.catalog.clusters.values():
            self._start_instance(cluster)
        for replica in self.catalog.replicas.values():
            await self.start_replica(replica)
        self.orchestrator.finish_adoption()
        for cluster_id in list(self.instances):
            for item, desc in self.fresh_dataflows(cluster_id, read_ts, record_failures=True):
                self.install_planned(item, desc)
        if self.config.compaction_interval_s > 0:
            self.compactor = ShardCompactor(self, interval_s=self.config.compaction_interval_s,
                                            lag_ms=self.config.compaction_lag_ms)
            self.compactor.start()
        for event in self.catalog.durable.status_history():
            if event.status == ProcessStatus.CRASH_LOOPING:
                self.last_crash_loop_ms[event.replica_id] = event.occurred_at_ms
        self.lag_history = WallclockLagHistory(
            lambda now_ms: measure_lags(self, now_ms), bin_s=config.lag_history_bin_s,
            retention_s=config.lag_history_retention_s, interval_s=config.lag_sample_interval_s)
        self.lag_history.start()
        self.startup_s = time.monotonic() - began
        self.ready = True
        log.info("coordinator ready: %d clusters, %d replicas, %d objects",
                 len(self.catalog.clusters), len(self.catalog.replicas), len(self.catalog.items))

    async def shutdown(self, *, stop_replicas: bool = True) -> None:
        """Stop gracefully; with ``stop_replicas=False`` the replica processes keep running, to be adopted."""
        self.ready = False
        if self.compactor is not None:
            await self.compactor.stop()
        if self.lag_history is not None:
            await self.lag_history.stop()
        for instance in self.instances.values():
            await instance.shutdown()
        if stop_replicas:
            await self.orchestrator.shutdown()
        else:
            left = self.orchestrator.detach()
            log.info("left %d replica process(es) running for the next coordinator to adopt (they exit after "
                     "%g s without one): %s", len(left), self.config.orphan_timeout_s, ", ".join(left) or "-")
        await self.tables.stop()
        self.store.close()
        self.catalog.durable.close()

    # ------------------------------------------------------------------ policy

    def cluster_state(self, cluster_id: str) -> ClusterState:
        cluster = self.catalog.clusters[cluster_id]
        return ClusterState.of(cluster.sealed, self.reconfiguring.get(cluster_id))

    def policy_check(self, cluster_id: str | None, statement: Statement, text: str) -> None:
        """Refuse ``statement`` (spelled ``text``) if the cluster's state does not allow it (``adapter.policy``)."""
        if cluster_id is None or cluster_id not in self.catalog.clusters:
            return
        check(statement, self.cluster_state(cluster_id), self.catalog.clusters[cluster_id].name, text)

    def ddl(self, timeout: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the DDL lock (catalog changes are serialized), waiting at most ``timeout`` seconds for it."""
        return bounded(self.ddl_lock, timeout, "another DDL statement")

    def _items_in_order(self) -> list[ItemRecord]:
        return sorted(self.catalog.items.values(), key=lambda i: id_number(i.id))

    # ------------------------------------------------------------------ clusters and replicas

    def _start_instance(self, cluster: ClusterRecord) -> ComputeInstance:
        instance = ComputeInstance(cluster.id, cluster.name, self.secret)
        instance.on_status = self._on_replica_signal
        instance.after_drop = lambda collection_id, cluster_id=cluster.id: self.release_residuals(cluster_id)
        instance.exit_reason = self.orchestrator.exit_reason
        instance.replica_name = self._replica_name
        self.instances[cluster.id] = instance
        return instance

    def _replica_name(self, replica_id: str) -> str:
        replica = self.catalog.replicas.get(replica_id)
        return replica.name if replica is not None else replica_id

    def _on_replica_signal(self, replica_id: str, status: m.Status, previous: m.Status | None) -> None:
        """Append clean/dirty transitions to the replica's status history."""
        if previous is not None and previous.nonce == status.nonce and previous.clean == status.clean:
            return
        if not status.steady:
            return
        word = "clean" if status.clean else "dirty"
        reason = status.dirtied_by if not status.clean else "entered steady state"
        pid = status.pid or self.replica_status.get(replica_id, ReplicaStatus()).process_id
        at = status.dirtied_at_ms if not status.clean and status.dirtied_at_ms else _now_ms()
        self.catalog.durable.record_status(StatusEvent(replica_id, pid, word, reason, at))
        log.info("replica %s is %s%s", replica_id, word, f": {reason}" if not status.clean else "")

    # ------------------------------------------------------------------ residual dataflows

    def holders(self, cluster_id: str, index_id: str) -> set[str]:
        """Live exports on the cluster whose dataflows import ``index_id``."""
        instance = self.instances.get(cluster_id)
        if instance is None:
            return set()
        return {
            export_id
            for export_id, desc in instance.history.live_dataflows().items()
            if export_id != index_id and any(i.index_id == index_id for i in desc.index_imports)
        }

    def drop_index_dataflow(self, item: ItemRecord, notices: list[str]) -> None:
        """Drop an index's dataflow, or keep it running as a residual dataflow while others import it."""
        assert item.cluster_id is not None
        held_by = self.holders(item.cluster_id, item.id)
        if held_by:
            self.residuals[item.id] = Residual(item.cluster_id, item.id, item.qualified, tuple(sorted(held_by)))
            names = ", ".join(self.catalog.describe(h) for h in sorted(held_by))
            notices.append(
                f"index {item.qualified} is dropped, but its dataflow will continue to be maintained and take up "
                f"resources until all dependent dataflows ({names}) are dropped or the cluster is restarted; "
                f"a restart would plan them without it"
            )
            log.info("index %s (%s) dropped but still imported by %s: residual dataflow", item.qualified, item.id,
                     names)
            return
        self.instance(item.cluster_id).drop(item.id, f"DROP INDEX {item.qualified} ({item.id})")

    def release_residuals(self, cluster_id: str) -> None:
        for index_id, residual in list(self.residuals.items()):
            if residual.cluster_id != cluster_id:
                continue
            held_by = self.holders(cluster_id, index_id)
            if held_by:
                self.residuals[index_id] = Residual(cluster_id, index_id, residual.name, tuple(sorted(held_by)))
                continue
            del self.residuals[index_id]
            instance = self.instances.get(cluster_id)
            if instance is not None:
                instance.drop(index_id, f"DROP INDEX {residual.name} ({index_id})")

    def instance(self, cluster_id: str) -> ComputeInstance:
        instance = self.instances.get(cluster_id)
        if instance is None:
            instance = self._start_instance(self.catalog.clusters[cluster_id])
        return instance

    async def start_replica(self, replica: ReplicaRecord, replacement: bool = False) -> None:
        self.replica_status[replica.id] = ReplicaStatus(updated_at_ms=_now_ms())
        if not self.orchestrator.adoptable(replica.id):
            self._replica_started[replica.id] = time.monotonic()
        spec = ReplicaSpec(replica.id, replica.cluster_id, replica.size, self.storage_url)
        await self.orchestrator.ensure_replica(spec)
        self.instance(replica.cluster_id).add_replica(
            replica.id, functools.partial(self.orchestrator.endpoint, replica.id), replacement=replacement
        )

    def replica_start_s(self, cluster_id: str) -> float:
        """How long a replica of the cluster took from its process start to its first connection (the part of a
        replica restart before hydration); 1 s until one was measured."""
        instance = self.instances.get(cluster_id)
        for replica_id, state in (instance.replicas.items() if instance is not None else ()):
            started = self._replica_started.get(replica_id)
            connected = state.connection.first_connected_at
            if started is not None and connected is not None and connected >= started:
                self._replica_start_s[cluster_id] = connected - started
                del self._replica_started[replica_id]
        return self._replica_start_s.get(cluster_id, 1.0)

    async def stop_replica(self, replica: ReplicaRecord) -> None:
        instance = self.instances.get(replica.cluster_id)
        if instance is not None:
            await instance.remove_replica(replica.id)
        await self.orchestrator.remove_replica(replica.id)
        self.replica_status.pop(replica.id, None)

    async def drop_instance(self, cluster_id: str) -> None:
        instance = self.instances.pop(cluster_id, None)
        if instance is not None:
            await instance.shutdown()

    def _on_replica_event(self, event: ReplicaEvent) -> None:
        status = self.replica_status.setdefault(event.replica_id, ReplicaStatus())
        status.status, status.reason = event.status, event.reason
        status.process_id, status.updated_at_ms = event.process_id, event.occurred_at_ms
        if event.status is ProcessStatus.CRASH_LOOPING:
            self.last_crash_loop_ms[event.replica_id] = event.occurred_at_ms
        self.catalog.durable.record_status(
            StatusEvent(event.replica_id, event.process_id, event.status.value, event.reason, event.occurred_at_ms)
        )
        log.info("replica %s is %s%s", event.replica_id, event.status, f" ({event.reason})" if event.reason else "")

    # ------------------------------------------------------------------ dataflows

    def transient_id(self) -> str:
        self._transient_ids += 1
        return make_id(IdKind.TRANSIENT, self._transient_ids)

    def plan_dataflow(self, item: ItemRecord, as_of: int | None) -> m.DataflowDescription:
        """A fresh plan, from the catalog, of the dataflow that maintains an index or materialized view."""
        assert item.cluster_id is not None
        skip = frozenset(self.failed_objects)
        if item.kind == ItemKind.INDEX:
            assert item.on_id is not None
            return index_dataflow(self.catalog, item.cluster_id, item.id, item.on_id, item.key, as_of, item.qualified,
                                  skip_indexes=skip)
        assert item.plan is not None and item.desc is not None and item.shard is not None
        builder = DataflowBuilder(self.catalog, item.cluster_id, skip_indexes=skip)
        body_id = f"{item.id}_body"
        builder.add_object(body_id, decode_plan(item.plan), item.desc)
        sink = m.SinkExport(item.id, body_id, m.SinkKind.MATERIALIZED_VIEW, item.desc, shard=item.shard)
        if as_of is not None and self.store.shard_exists(item.shard):
            shard_upper = self.store.upper(item.shard) or 0
            as_of = min(as_of, max(shard_upper - 1, 0)) if shard_upper > 0 else as_of
        return builder.finish(as_of=as_of, sink_exports=(sink,), debug_name=item.qualified)

    @staticmethod
    def ddl_text(item: ItemRecord) -> str:
        kind = "INDEX" if item.kind == ItemKind.INDEX else "MATERIALIZED VIEW"
        return f"CREATE {kind} {item.qualified} ({item.id})"

    def fresh_dataflows(
        self, cluster_id: str, as_of: int | None, record_failures: bool = False
    ) -> list[tuple[ItemRecord, m.DataflowDescription]]:
        """Fresh plans of every index and materialized view on a cluster, producers before importers.

        Objects that failed at start-up are left out.  With ``record_failures`` (start-up), an object that cannot
        be planned is recorded as failed instead of failing the whole start; importers then plan without it."""
        items = {i.id: i for i in self.catalog.objects_on_cluster(cluster_id)
                 if i.kind.keeps_a_dataflow and i.id not in self.failed_objects}
        descs: dict[str, m.DataflowDescription] = {}
        for item_id, item in sorted(items.items(), key=lambda kv: id_number(kv[0])):
            try:
                descs[item_id] = self.plan_dataflow(item, as_of)
            except Exception as exc:  # noqa: BLE001 - any planning failure at start-up fails this object only
                if not record_failures:
                    raise
                self._record_failure(item, exc)
        if record_failures and any(i in self.failed_objects for d in descs.values() for i in _imported(d)):
            return self.fresh_dataflows(cluster_id, as_of, record_failures)  # re-plan importers without them
        return [(items[item_id], descs[item_id]) for item_id in import_order(descs)]

    def _record_failure(self, item: ItemRecord, exc: Exception) -> None:
        assert item.cluster_id is not None
        error = exc.message if isinstance(exc, SteadyError) else f"{type(exc).__name__}: {exc}"
        kind = KIND_NAMES[item.kind]
        self.failed_objects[item.id] = FailedObject(
            item.id, item.qualified, kind, item.cluster_id, f"cannot be planned at start-up: {error}",
            f"DROP {kind.upper()} {item.qualified} and create it again (it runs nowhere until then)")
        log.error("%s %s (%s) cannot be planned, so it runs nowhere: %s", kind, item.qualified, item.id, error)

    def failures(self) -> list[FailedObject]:
        """Every object that runs nowhere or not everywhere: those that failed to plan at start-up, and those a
        replica reports it cannot render (one row per replica)."""
        out = list(self.failed_objects.values())
        for instance in self.instances.values():
            for replica_id, state in instance.replicas.items():
                for collection in state.status.collections if state.status is not None else ():
                    item = self.catalog.items.get(collection.id)
                    if collection.error is None or item is None or item.cluster_id is None:
                        continue
                    replica = self.catalog.replicas.get(replica_id)
                    kind = KIND_NAMES[item.kind]
                    out.append(FailedObject(
                        item.id, item.qualified, kind, item.cluster_id,
                        f"replica {replica.name if replica else replica_id} cannot render it: {collection.error}",
                        f"DROP {kind.upper()} {item.qualified} and create it again (it does not run on that replica)"))
        return out

    def runs_nowhere(self, item: ItemRecord) -> FailedObject | None:
        """Why no replica maintains ``item`` (an index or materialized view), or None when one may: it failed to
        plan at start-up, or its cluster has replicas and every one of them reports it cannot render it."""
        failed = self.failed_objects.get(item.id)
        if failed is not None or item.cluster_id is None or item.cluster_id not in self.instances:
            return failed
        errors = []
        for replica_id, state in self.instances[item.cluster_id].replicas.items():
            reported = {c.id: c.error for c in state.status.collections} if state.status is not None else {}
            if reported.get(item.id) is None:
                return None
            replica = self.catalog.replicas.get(replica_id)
            errors.append(f"replica {replica.name if replica else replica_id}: {reported[item.id]}")
        if not errors:
            return None
        kind = KIND_NAMES[item.kind]
        return FailedObject(item.id, item.qualified, kind, item.cluster_id,
                            "no replica can render it (" + "; ".join(errors) + ")",
                            f"DROP {kind.upper()} {item.qualified} and create it again")

    def forget_failure(self, item_id: str) -> None:
        self.failed_objects.pop(item_id, None)

    def install_planned(self, item: ItemRecord, desc: m.DataflowDescription) -> None:
        assert item.cluster_id is not None
        instance = self.instance(item.cluster_id)
        instance.create_dataflow(desc, self.ddl_text(item))
        if item.kind == ItemKind.MATERIALIZED_VIEW:
            instance.allow_writes(item.id)

    async def read_timestamp(self) -> int:
        """A timestamp that covers every acknowledged write (strict serializability)."""
        return await self.tables.barrier()


@contextlib.asynccontextmanager
async def bounded(lock: asyncio.Lock, timeout: float, holder: str) -> AsyncIterator[None]:
    """Hold ``lock``, waiting at most ``timeout`` seconds (the statement's timeout) for ``holder`` to release it."""
    try:
        await asyncio.wait_for(lock.acquire(), timeout)
    except asyncio.TimeoutError:
        raise QueryCanceled("canceling statement due to statement timeout",
                            detail=f"it was waiting for {holder} to finish") from None
    try:
        yield
    finally:
        lock.release()


def _imported(desc: m.DataflowDescription) -> list[str]:
    return [i.index_id for i in desc.index_imports]


def _load_secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_hex(32)
        path.write_text(value)
        path.chmod(0o600)
        return value


def _now_ms() -> int:
    return int(time.time() * 1000)
