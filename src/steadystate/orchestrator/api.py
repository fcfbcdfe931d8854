"""The orchestrator interface: what the coordinator asks of whatever runs its replicas.

The coordinator (``adapter.coordinator``) starts, watches and stops replicas only through :class:`Orchestrator`,
and learns about them only through :class:`ReplicaEvent` callbacks and the queries below.  Two implementations:

* ``orchestrator.process.ProcessOrchestrator`` (the default, ``steadystate serve``): one OS process per replica,
  restarted with backoff, memory-limited, adoptable by the next coordinator;
* ``testing.inprocess.InProcessOrchestrator`` (tests, ``steadystate.testing``): each replica's server runs
  inside the coordinator's own process, so a whole environment starts in milliseconds.

The contract every implementation keeps:

* **Exactly one incarnation per replica.**  ``ensure_replica`` adopts a running incarnation found by ``adopt``
  (one a previous coordinator left running) or starts one; a start that fails is retried in the background, never
  raised.  An incarnation that dies unasked is reported (``offline``/``crash-looping``) and started again.
* **Adoption.**  ``adopt`` finds incarnations left running and returns their replica ids; ``adoptable`` says
  whether one is waiting for ``ensure_replica``; ``finish_adoption`` stops the ones nobody claimed.
* **Stopping.**  ``remove_replica`` stops one replica for good; ``shutdown`` stops them all (a full stop);
  ``detach`` stops watching but leaves them running for the next coordinator (a planned restart).
* **Queries.**  ``endpoint`` is where the controller connects (``(host, port, pid)``, ``None`` until the
  incarnation is listening); ``pid`` its process id while it runs; ``status`` the last reported status;
  ``exit_reason`` why the current incarnation exited (``oom-killed``, ``killed by signal 9 (SIGKILL)``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol


class ProcessStatus(enum.StrEnum):
    """A replica incarnation's status as its orchestrator reports it (the status history stores the value)."""

    ONLINE = "online"  # listening
    OFFLINE = "offline"  # not running (starting, exited, stopped)
    CRASH_LOOPING = "crash-looping"  # exited too often lately: restarted with backoff


@dataclass(frozen=True)
class ReplicaSpec:
    """What to run: one replica of one cluster, of a size, reading and writing the shards at ``storage_url``."""

    replica_id: str
    cluster_id: str
    size: str
    storage_url: str


@dataclass(frozen=True)
class ReplicaEvent:
    """A change of a replica's status, reported to the coordinator (which records it in the catalog)."""

    replica_id: str
    process_id: int
    status: ProcessStatus
    reason: str | None
    occurred_at_ms: int


OnReplicaEvent = Callable[[ReplicaEvent], None]


class Orchestrator(Protocol):
    """Runs the replicas of every cluster (see the module docstring for the contract)."""

    def adopt(self) -> list[str]: ...

    def adoptable(self, replica_id: str) -> bool: ...

    def finish_adoption(self) -> int: ...

    async def ensure_replica(self, spec: ReplicaSpec) -> None: ...

    async def remove_replica(self, replica_id: str) -> None: ...

    async def shutdown(self) -> None: ...

    def detach(self) -> list[str]: ...

    def endpoint(self, replica_id: str) -> tuple[str, int, int] | None: ...

    def status(self, replica_id: str) -> tuple[ProcessStatus, str | None, int]: ...

    def exit_reason(self, replica_id: str) -> str | None: ...

    def pid(self, replica_id: str) -> int | None: ...


class OrchestratorFactory(Protocol):
    """Makes the coordinator's orchestrator at start-up: ``(data_dir, secret, on_event, orphan_timeout)``, the
    signature of ``ProcessOrchestrator``'s constructor."""

    def __call__(self, data_dir: Path, secret: str, on_event: OnReplicaEvent,
                 orphan_timeout: float) -> Orchestrator: ...
