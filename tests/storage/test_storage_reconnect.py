"""Storage faults: after the PostgreSQL server restarts, a store (each process holds one) fails the call that finds
its connection lost and serves the next ones, without a restart of the process; nothing acknowledged is lost."""

from __future__ import annotations

from collections.abc import Callable

from steadystate.errors import StorageError
from steadystate.storage import open_store


def test_a_store_reconnects_after_postgres_restarts(postgres_url: str, restart_postgres: Callable[[], None]) -> None:
    with open_store(postgres_url) as store:
        store.create_shard("s")
        store.compare_and_append("s", [((1,), 0, 1)], 0, 1)
        restart_postgres()
        try:  # the first call may find the connection lost (or, if psycopg noticed already, reconnect at once)
            store.compare_and_append("s", [((2,), 1, 1)], 1, 2)
        except StorageError:
            store.compare_and_append("s", [((2,), 1, 1)], 1, 2)
        assert sorted(store.snapshot("s", 1)) == [((1,), 1), ((2,), 1)]
        assert store.upper("s") == 2


def test_a_store_reports_storage_down_then_recovers(postgres_url: str, restart_postgres: Callable[[], None]) -> None:
    with open_store(postgres_url) as store:
        store.create_shard("s")
        restart_postgres()
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append(store.upper("s"))
            except StorageError as exc:
                assert exc.sqlstate == "58030"
                outcomes.append(None)
        assert outcomes[-1] == 0
