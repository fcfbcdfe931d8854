"""The adapter as a whole: the coordinator plus everything that sequences client requests.

:class:`Adapter` implements the ``Backend`` of ``adapter.client`` (one
:class:`~steadystate.adapter.session.ClientSession` per connection, cancel routing) and owns the sequencers
(``Ddl``, ``Reads``, ``Writes``), production readiness and introspection.  ``steadystate.server`` puts it
behind the SQL port (pgwire) and the HTTP port.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from steadystate.adapter.coordinator import Coordinator, CoordinatorConfig
from steadystate.adapter.comments import Comments
from steadystate.adapter.ddl import Ddl
from steadystate.adapter.grants import Grants
from steadystate.adapter.introspection import Introspection
from steadystate.adapter.readiness import Readiness
from steadystate.adapter.reads import Reads
from steadystate.adapter.reconfigure import Reconfigurer
from steadystate.adapter.renames import Renames
from steadystate.adapter.session import ClientSession
from steadystate.adapter.writes import Writes
from steadystate.adapter.metrics import Metrics
from steadystate.errors import ConnectionFailure, InvalidCatalogName, quote_ident
from steadystate.sql.statements import AlterAction


class Adapter:
    def __init__(self, config: CoordinatorConfig) -> None:
        self.config = config
        self.coordinator = Coordinator(config)
        self.introspection = Introspection(self.coordinator)
        self.ddl = Ddl(self.coordinator)
        self.grants = Grants(self.coordinator)  # roles, GRANT and REVOKE
        self.reads = Reads(self.coordinator, self.introspection)
        self.writes = Writes(self.coordinator)
        self.sessions: dict[int, ClientSession] = {}
        self.readiness = Readiness(self.coordinator)
        self.reconfigurer = Reconfigurer(self.coordinator, self.readiness)
        self.comments = Comments(self.coordinator)
        self.renames = Renames(self.coordinator, self.readiness, self.ddl)
        # each takes (plan, user, notices, statement timeout) and holds the DDL lock only while it changes the
        # catalog, never while replicas hydrate
        self.alter_cluster_actions: dict[AlterAction, Callable[..., Awaitable[str]]] = {
            AlterAction.SEAL: self.reconfigurer.seal,
            AlterAction.UNSEAL: self.reconfigurer.unseal,
            AlterAction.RESTART: self.reconfigurer.restart,
            AlterAction.OWNER: self.reconfigurer.change_owner,
            AlterAction.RESIZE: self.reconfigurer.resize,
        }
        self.introspection.readiness = self.readiness
        self.metrics = Metrics(self.coordinator, self.readiness)

    # ------------------------------------------------------------------ the client.Backend contract

    async def connect(self, user: str, database: str, options: dict[str, str]) -> ClientSession:
        if not self.coordinator.ready:
            raise ConnectionFailure("the server is starting up", sqlstate="57P03")
        database = database or "materialize"
        if database not in self.coordinator.catalog.databases():
            raise InvalidCatalogName(f"database {quote_ident(database)} does not exist",
                                     hint="the databases are listed by SELECT name FROM mz_catalog.mz_databases")
        session = ClientSession(self, user or "materialize", database, options)
        self.sessions[session.process_id] = session
        return session

    async def cancel(self, process_id: int, secret_key: int) -> None:
        session = self.sessions.get(process_id)
        if session is not None and session.secret_key == secret_key:
            session.cancel()

    async def start(self) -> None:
        await self.coordinator.start()
        self.reconfigurer.resume()  # finish what a previous coordinator left half done

    async def stop(self, *, stop_replicas: bool = True) -> None:
        await self.coordinator.shutdown(stop_replicas=stop_replicas)
