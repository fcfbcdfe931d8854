"""Storage: durable shards, the timestamp oracle and group commit of table writes (DESIGN.md §7).

:func:`open_store` opens a :class:`ShardStore` by URL — ``sqlite:///abs/path/storage.db`` (the default
backend), ``postgresql://user@host:port/db``, or ``memory://NAME`` (an in-memory database shared within the
process, for tests: ``sqlite_store.MemoryShardStore``).  :class:`TimestampOracle` (``oracle.py``) hands out
durable, strictly increasing write timestamps; :class:`TableWriter` (``tables.py``) commits concurrent
table writes together at one oracle timestamp and keeps every table's upper advancing.
"""

from __future__ import annotations

import re

from steadystate.errors import InvalidParameterValue
from steadystate.storage.api import (
    Append,
    ShardDropped,
    ShardNotFound,
    ShardStore,
    SnapshotUnavailable,
    TimestampRecord,
    consolidate,
)
from steadystate.storage.oracle import TimestampOracle
from steadystate.storage.tables import TableWriter


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs: secrets never appear in them)."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def open_store(url: str) -> ShardStore:
    """Open the shard store a URL names (``sqlite:///...``, ``postgresql://...`` or ``memory://NAME``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from steadystate.storage.sqlite_store import SqliteShardStore

        return SqliteShardStore.from_url(url)
    if scheme == "memory":
        from steadystate.storage.sqlite_store import MemoryShardStore

        return MemoryShardStore.from_url(url)
    if scheme in ("postgresql", "postgres"):
        from steadystate.storage.postgres_store import PostgresShardStore

        return PostgresShardStore.from_url(url)
    raise InvalidParameterValue(
        f"unsupported storage url {redacted(url)!r}",
        hint="use sqlite:///absolute/path/to/storage.db or postgresql://user@host:port/database",
    )


__all__ = [
    "Append",
    "ShardDropped",
    "ShardNotFound",
    "ShardStore",
    "SnapshotUnavailable",
    "TableWriter",
    "TimestampOracle",
    "TimestampRecord",
    "consolidate",
    "open_store",
]
