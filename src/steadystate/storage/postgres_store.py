"""The PostgreSQL shard store: shards in a PostgreSQL database, so replicas on other hosts share storage.

Opened with ``postgresql://user@host:port/db`` (any libpq URL; psycopg 3).  The schema is the SQLite one
(see ``sql_store.py``) with PostgreSQL types.  Writes run at READ COMMITTED and lock the shard rows they
change with ``SELECT ... FOR UPDATE`` (in name order, so multi-shard writers cannot deadlock) before
comparing uppers; reads that look at several tables run at REPEATABLE READ so the frontiers and the
batches come from one snapshot.  A commit returns only once PostgreSQL reports it durable.  A connection lost (the
server restarted) fails the call that found it lost; the next call connects again.
"""

from __future__ import annotations

import psycopg

from steadystate.errors import StorageError
from steadystate.storage.sql_store import Cursor, Dialect, SqlShardStore

POSTGRES_DIALECT = Dialect(
    placeholder="%s",
    int_type="BIGINT",
    blob_type="BYTEA",
    id_column="id BIGSERIAL PRIMARY KEY",
    begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    begin_write="BEGIN",
    lock_suffix=" FOR UPDATE",
    # An arbitrary constant key: serializes concurrent CREATE TABLE IF NOT EXISTS from several processes.
    schema_lock="SELECT pg_advisory_xact_lock(7462019)",
)


class PostgresShardStore(SqlShardStore):
    """Shards in a PostgreSQL database, shared by every process (on any host) that connects to it."""

    dialect = POSTGRES_DIALECT
    database_errors = (psycopg.Error,)

    def __init__(self, url: str) -> None:
        try:
            self._connection = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StorageError(
                f"could not connect to storage at {_redact(url)}: {exc}",
                hint="check that the PostgreSQL server is running and the URL is right",
            ) from exc
        self.url = url
        super().__init__()

    @classmethod
    def from_url(cls, url: str) -> "PostgresShardStore":
        return cls(url)

    def _cursor(self) -> Cursor:
        if self._connection.closed or self._connection.broken:
            self._reconnect()
        return self._connection.cursor()  # type: ignore[return-value]

    def _reconnect(self) -> None:
        """A new connection after the server restarted or the network broke: the call that found the old one lost
        failed (StorageError), the next one goes through, without restarting the process."""
        try:
            self._connection = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise StorageError(f"could not reconnect to storage at {_redact(self.url)}: {exc}",
                               hint="the PostgreSQL server is down or unreachable; retry once it is back") from exc

    def _close_connection(self) -> None:
        self._connection.close()


def _redact(url: str) -> str:
    """The URL without a password, for error messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, at, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}{at}{location}"
