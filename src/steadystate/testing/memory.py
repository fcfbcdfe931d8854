"""An in-memory environment: coordinator, controllers, replicas and storage inside one test, started in milliseconds.

:func:`memory_environment` builds a real :class:`~steadystate.adapter.backend.Adapter` (the coordinator and its
sequencers) on injected parts instead of files and processes:

* the catalog is a :class:`~steadystate.catalog.durable.MemoryCatalog` (SQLite in memory, same transactions);
* storage is ``memory://<name>`` (``storage.sqlite_store.MemoryShardStore``): every store opened on the name —
  the coordinator's, its compactor's, each replica's — sees the same shards;
* replicas run in this process (``testing.inprocess``): the real replica server on a loopback port, speaking
  the real compute protocol to the real controller.

All three outlive a coordinator, so :meth:`MemoryEnvironment.restart` is a planned coordinator restart over the
same catalog and storage whose replicas survive and are adopted (and reconciled), and
:meth:`MemoryEnvironment.kill_replica` is a replica crash: a fresh incarnation with empty state reconnects and the
controller replays its history.  SQL goes through the adapter's session API (``ClientSession.execute_simple``), as
pgwire would send it, without pgwire::

    async with memory_environment() as env:
        await env.execute("CREATE TABLE t (a int)")
        await env.execute("INSERT INTO t VALUES (1)")
        assert await env.query("SELECT a FROM t") == [(1,)]

The whole kit is async; tests drive it with ``asyncio.run`` (see ``tests/adapter``).  :func:`eventually` polls
a condition until a deadline that only bounds failure: no test asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from steadystate.adapter.backend import Adapter
from steadystate.adapter.client import CommandOutcome, CopyOutOutcome, EmptyOutcome, Outcome, RowsOutcome
from steadystate.adapter.coordinator import Coordinator, CoordinatorConfig
from steadystate.adapter.session import ClientSession
from steadystate.catalog.durable import MemoryCatalog
from steadystate.controller.instance import ComputeInstance
from steadystate.testing.inprocess import ReplicaPool
from steadystate.storage.sqlite_store import drop_memory_database

T = TypeVar("T")

_names = itertools.count(1)


@dataclass(frozen=True)
class Result:
    """What one statement returned: its command tag, and its rows (empty for a statement without rows)."""

    tag: str
    rows: list[tuple] = field(default_factory=list)


async def _collect(outcome: Outcome) -> Result:
    if isinstance(outcome, (RowsOutcome, CopyOutOutcome)):
        rows: list[tuple] = []
        if hasattr(outcome.rows, "__aiter__"):
            async for row in outcome.rows:  # type: ignore[union-attr]
                rows.append(row)
        else:
            rows.extend(outcome.rows)  # type: ignore[arg-type]
        tag = outcome.tag if isinstance(outcome, RowsOutcome) else outcome.tag_prefix
        return Result(tag, rows)
    if isinstance(outcome, CommandOutcome):
        return Result(outcome.tag)
    if isinstance(outcome, EmptyOutcome):
        return Result("")
    raise TypeError(f"the kit cannot run {type(outcome).__name__} (COPY FROM STDIN)")


class MemoryEnvironment:
    """One environment's lasting parts (catalog, storage, replicas) and its current coordinator."""

    def __init__(self, name: str | None = None, restart_delay_s: float = 0.02, **config: Any) -> None:
        self.name = name or f"env{next(_names)}-{time.monotonic_ns()}"
        self.catalog = MemoryCatalog()
        self.pool = ReplicaPool(restart_delay_s=restart_delay_s)
        self.secret = f"secret-{self.name}"
        self.config_overrides = config
        self.adapter: Adapter | None = None
        self._session: ClientSession | None = None

    @property
    def storage_url(self) -> str:
        return f"memory://{self.name}"

    def config(self) -> CoordinatorConfig:
        config = CoordinatorConfig(
            data_dir=Path("/nonexistent/steadystate-memory") / self.name,  # never touched: everything is injected
            sql_port=0, http_port=0, storage_url=self.storage_url, secret=self.secret,
            catalog_factory=lambda: self.catalog, orchestrator_factory=self.pool.factory,
        )
        for key, value in self.config_overrides.items():
            setattr(config, key, value)
        return config

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start a coordinator (adopting the replicas a previous one left running)."""
        assert self.adapter is None, "the environment already runs a coordinator"
        self.adapter = Adapter(self.config())
        await self.adapter.start()

    async def stop(self, *, stop_replicas: bool = True) -> None:
        """Stop the coordinator, with its replicas or leaving them running to be adopted."""
        if self.adapter is None:
            return
        if self._session is not None:
            await self._session.close()
            self._session = None
        adapter, self.adapter = self.adapter, None
        await adapter.stop(stop_replicas=stop_replicas)

    async def restart(self) -> None:
        """A planned coordinator restart: the replicas keep running and are adopted by the new coordinator."""
        await self.stop(stop_replicas=False)
        await self.start()

    async def close(self) -> None:
        await self.stop()
        await self.pool.close()
        self.catalog.dispose()
        drop_memory_database(self.name)

    # ------------------------------------------------------------------ SQL

    @property
    def coordinator(self) -> Coordinator:
        assert self.adapter is not None, "no coordinator is running"
        return self.adapter.coordinator

    async def session(self, user: str = "materialize", **options: str) -> ClientSession:
        """A new session, as a pgwire connection would get."""
        assert self.adapter is not None, "no coordinator is running"
        return await self.adapter.connect(user, "materialize", options)  # type: ignore[return-value]

    async def execute(self, sql: str, session: ClientSession | None = None) -> list[Result]:
        """Run a simple-query string (one or more statements); one result per statement.  Errors are raised
        (``steadystate.errors.SteadyError``), as pgwire would report them."""
        if session is None:
            if self._session is None:
                self._session = await self.session()
            session = self._session
        results = []
        async for outcome in session.execute_simple(sql):
            results.append(await _collect(outcome))
        return results

    async def query(self, sql: str, session: ClientSession | None = None) -> list[tuple]:
        """The rows of one statement."""
        results = await self.execute(sql, session)
        assert len(results) == 1, f"expected one statement, got {len(results)}"
        return results[0].rows

    # ------------------------------------------------------------------ clusters and replicas

    def cluster_id(self, cluster: str = "quickstart") -> str:
        return next(c.id for c in self.coordinator.catalog.clusters.values() if c.name == cluster)

    def replica_id(self, replica: str = "r1", cluster: str = "quickstart") -> str:
        cluster_id = self.cluster_id(cluster)
        return next(r.id for r in self.coordinator.catalog.replicas.values()
                    if r.cluster_id == cluster_id and r.name == replica)

    def instance(self, cluster: str = "quickstart") -> ComputeInstance:
        return self.coordinator.instances[self.cluster_id(cluster)]

    async def kill_replica(self, replica: str = "r1", cluster: str = "quickstart") -> str:
        """Crash a replica (its state is lost); the orchestrator starts a fresh one that reconnects and replays.
        Returns the replica's id."""
        replica_id = self.replica_id(replica, cluster)
        await self.pool.kill(replica_id)
        return replica_id

    async def wait_connected(self, cluster: str = "quickstart", timeout: float = 30.0) -> None:
        """Until every replica of the cluster has a live connection to its controller."""
        instance = self.instance(cluster)
        await eventually(lambda: all(s.connection.live for s in instance.replicas.values()), timeout,
                         f"replicas of {cluster} connected")


async def eventually(condition: Callable[[], T | Awaitable[T]], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``condition`` until it is truthy and return its value; fail after ``timeout`` seconds (a bound on failure
    only: tests never assert on how long something took)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def memory_environment(name: str | None = None, **config: Any) -> AsyncIterator[MemoryEnvironment]:
    """A started in-memory environment, closed (coordinator, replicas, catalog, storage) on exit.  Keyword arguments
    override ``CoordinatorConfig`` fields (``statement_timeout_s=5``) or set the pool's ``restart_delay_s``."""
    env = MemoryEnvironment(name, **config)
    try:
        await env.start()
        yield env
    finally:
        await env.close()
