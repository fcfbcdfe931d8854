"""The coordinator: owns the catalog, storage, the timestamp oracle, controllers and the orchestrator.

Startup (``Coordinator.start``): open the durable catalog (``catalog.db``) and the shard store
(``storage.db``, or a PostgreSQL URL) in the data directory; stop replica processes a previous coordinator
left behind; load every table's current contents (kept in memory to compute ``UPDATE``/``DELETE``); create
one :class:`~steadystate.controller.instance.ComputeInstance` per cluster and start one process per replica;
then re-plan every index and materialized view from the catalog and install its dataflow.  After that the
SQL and HTTP ports serve.

Sequencing of statements lives in ``adapter.ddl`` (catalog changes), ``adapter.reads`` (SELECT, SUBSCRIBE)
and ``adapter.writes`` (INSERT/UPDATE/DELETE/COPY); ``adapter.session`` turns pgwire requests into plans.
This module offers what they share: catalog transactions, dataflow installation, and per-cluster controllers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from steadystate.adapter.dataflows import DataflowBuilder, index_dataflow
from steadystate.catalog.durable import DurableCatalog
from steadystate.catalog.records import ClusterRecord, ItemRecord, ReplicaRecord, StatusEvent
from steadystate.catalog.state import CatalogState
from steadystate.controller.instance import ComputeInstance
from steadystate.expr.ir import decode_plan
from steadystate.orchestrator.process import ProcessOrchestrator, ReplicaEvent, ReplicaSpec
from steadystate.protocol import messages as m
from steadystate.storage import ShardStore, open_store
from steadystate.storage.oracle import TimestampOracle
from steadystate.storage.tables import TableWriter

log = logging.getLogger("steadystate.coordinator")


@dataclass
class ReplicaStatus:
    status: str = "offline"
    reason: str | None = "starting"
    process_id: int = 0
    updated_at_ms: int = 0


@dataclass
class CoordinatorConfig:
    data_dir: Path
    sql_host: str = "127.0.0.1"
    sql_port: int = 6875
    http_port: int = 6876
    storage_url: str | None = None
    statement_timeout_s: float = 60.0


@dataclass
class Coordinator:
    config: CoordinatorConfig
    catalog: CatalogState = field(init=False)
    store: ShardStore = field(init=False)
    oracle: TimestampOracle = field(init=False)
    tables: TableWriter = field(init=False)
    orchestrator: ProcessOrchestrator = field(init=False)
    secret: str = field(init=False)
    instances: dict[str, ComputeInstance] = field(default_factory=dict)
    table_rows: dict[str, Counter[tuple]] = field(default_factory=dict)
    replica_status: dict[str, ReplicaStatus] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    ready: bool = False
    _transient_ids: int = 0
    ddl_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ------------------------------------------------------------------ startup / shutdown

    @property
    def storage_url(self) -> str:
        return self.config.storage_url or f"sqlite:///{(self.config.data_dir / 'storage.db').resolve()}"

    async def start(self) -> None:
        data_dir = self.config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.secret = _load_secret(data_dir / "secret")
        self.catalog = CatalogState(DurableCatalog(str(data_dir / "catalog.db")))
        self.store = open_store(self.storage_url)
        self.oracle = TimestampOracle(self.store)
        self.tables = TableWriter(self.store, self.oracle, tick_ms=1000)
        self.orchestrator = ProcessOrchestrator(data_dir, self.secret, self._on_replica_event)
        killed = self.orchestrator.sweep()
        if killed:
            log.info("stopped %d replica process(es) left by an earlier coordinator", killed)
        for item in self._items_in_order():
            if item.kind == "table":
                assert item.shard is not None
                self.store.create_shard(item.shard)
                self.tables.register(item.shard)
        read_ts = await self.tables.barrier()
        for item in self._items_in_order():
            if item.kind == "table":
                assert item.shard is not None
                self.table_rows[item.id] = Counter(dict(self.store.snapshot(item.shard, read_ts)))
        self.tables.start()
        for cluster in self.catalog.clusters.values():
            self._start_instance(cluster)
        for replica in self.catalog.replicas.values():
            await self.start_replica(replica)
        for item in self._items_in_order():
            if item.kind in ("index", "materialized_view"):
                self.install_dataflow(item, read_ts)
        self.ready = True
        log.info("coordinator ready: %d clusters, %d replicas, %d objects",
                 len(self.catalog.clusters), len(self.catalog.replicas), len(self.catalog.items))

    async def shutdown(self) -> None:
        self.ready = False
        for instance in self.instances.values():
            await instance.shutdown()
        await self.orchestrator.shutdown()
        await self.tables.stop()
        self.store.close()
        self.catalog.durable.close()

    def _items_in_order(self) -> list[ItemRecord]:
        return sorted(self.catalog.items.values(), key=lambda i: int(i.id[1:]))

    # ------------------------------------------------------------------ clusters and replicas

    def _start_instance(self, cluster: ClusterRecord) -> ComputeInstance:
        instance = ComputeInstance(cluster.id, cluster.name, self.secret)
        self.instances[cluster.id] = instance
        return instance

    def instance(self, cluster_id: str) -> ComputeInstance:
        instance = self.instances.get(cluster_id)
        if instance is None:
            instance = self._start_instance(self.catalog.clusters[cluster_id])
        return instance

    async def start_replica(self, replica: ReplicaRecord) -> None:
        self.replica_status[replica.id] = ReplicaStatus(updated_at_ms=_now_ms())
        spec = ReplicaSpec(replica.id, replica.cluster_id, replica.size, self.storage_url)
        await self.orchestrator.ensure_replica(spec)
        self.instance(replica.cluster_id).add_replica(
            replica.id, lambda rid=replica.id: self.orchestrator.endpoint(rid)
        )

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
        self.catalog.durable.record_status(
            StatusEvent(event.replica_id, event.process_id, event.status, event.reason, event.occurred_at_ms)
        )
        log.info("replica %s is %s%s", event.replica_id, event.status, f" ({event.reason})" if event.reason else "")

    # ------------------------------------------------------------------ dataflows

    def transient_id(self) -> str:
        self._transient_ids += 1
        return f"t{self._transient_ids}"

    def install_dataflow(self, item: ItemRecord, as_of: int) -> m.DataflowDescription:
        """Create the dataflow that maintains an index or materialized view on its cluster."""
        assert item.cluster_id is not None
        instance = self.instance(item.cluster_id)
        debug = f"{'INDEX' if item.kind == 'index' else 'MATERIALIZED VIEW'} {item.qualified} ({item.id})"
        if item.kind == "index":
            assert item.on_id is not None
            desc = index_dataflow(self.catalog, item.cluster_id, item.id, item.on_id, item.key, as_of, item.qualified)
            instance.create_dataflow(desc, f"CREATE {debug}")
        else:
            assert item.plan is not None and item.desc is not None and item.shard is not None
            builder = DataflowBuilder(self.catalog, item.cluster_id)
            body_id = f"{item.id}_body"
            builder.add_object(body_id, decode_plan(item.plan), item.desc)
            sink = m.SinkExport(item.id, body_id, "materialized_view", item.desc, shard=item.shard)
            shard_upper = self.store.upper(item.shard) or 0
            start = min(as_of, max(shard_upper - 1, 0)) if shard_upper > 0 else as_of
            desc = builder.finish(as_of=start, sink_exports=(sink,), debug_name=item.qualified)
            instance.create_dataflow(desc, f"CREATE {debug}")
            instance.allow_writes(item.id)
        return desc

    async def read_timestamp(self) -> int:
        """A timestamp that covers every acknowledged write (strict serializability)."""
        return await self.tables.barrier()


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
