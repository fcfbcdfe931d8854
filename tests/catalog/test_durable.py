"""The durable catalog behind ``catalog.durable.CatalogStore``, and the in-memory parts of a test environment.

* a transaction that raises leaves records, counters, audit events and meta exactly as they were (atomic DDL rests
  on this), for the file and the in-memory catalog alike (hypothesis: any sequence of committed and failed
  transactions leaves what the committed ones wrote);
* a :class:`MemoryCatalog` outlives ``close`` (a coordinator restart in a test reopens it) until ``dispose``;
* ``CatalogState`` bootstraps an empty catalog once and loads it again unchanged;
* ``memory://NAME`` shard stores of one name share their shards, across stores and after one is closed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from steadystate.catalog.durable import DurableCatalog, MemoryCatalog
from steadystate.catalog.records import RoleRecord
from steadystate.catalog.state import CatalogState
from steadystate.storage import open_store
from steadystate.storage.sqlite_store import drop_memory_database


class Boom(Exception):
    pass


def contents(catalog: DurableCatalog) -> tuple[object, ...]:
    counters = catalog._conn.execute("SELECT name, value FROM counters ORDER BY name").fetchall()
    meta = catalog._conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
    return catalog.load(), counters, meta, catalog.audit_events()


transactions = st.lists(st.tuples(st.booleans(), st.lists(st.sampled_from("abcde"), max_size=3)), max_size=8)


@settings(max_examples=40, deadline=None)
@given(transactions)
def test_only_committed_transactions_leave_anything(steps: list[tuple[bool, list[str]]]) -> None:
    catalog = MemoryCatalog()
    committed: dict[str, RoleRecord] = {}
    for fails, names in steps:
        before = contents(catalog)
        try:
            with catalog.transact("tester") as txn:
                written = {}
                for name in names:
                    record = RoleRecord(f"g{txn.next_id('role')}", name, False)
                    txn.put(record)
                    txn.audit_event("create", "role", name)
                    written[record.id] = record
                txn.set_meta("last", ",".join(names))
                if fails:
                    raise Boom()
        except Boom:
            assert contents(catalog) == before
        else:
            committed.update(written)
    assert {r.id: r for r in catalog.load()["role"]} == committed  # type: ignore[attr-defined]
    catalog.dispose()


def test_the_file_catalog_rolls_back_too(tmp_path: Path) -> None:
    catalog = DurableCatalog(str(tmp_path / "catalog.db"))
    with catalog.transact("tester") as txn:
        txn.put(RoleRecord(f"g{txn.next_id('role')}", "kept", False))
    before = contents(catalog)
    with pytest.raises(Boom), catalog.transact("tester") as txn:
        txn.put(RoleRecord(f"g{txn.next_id('role')}", "lost", False))
        raise Boom()
    assert contents(catalog) == before
    catalog.close()
    reopened = DurableCatalog(str(tmp_path / "catalog.db"))
    assert [r.name for r in reopened.load()["role"]] == ["kept"]  # type: ignore[attr-defined]
    reopened.close()


def test_a_memory_catalog_outlives_close_and_bootstraps_once() -> None:
    catalog = MemoryCatalog()
    first = CatalogState(catalog)
    catalog.close()  # what a coordinator's shutdown does
    second = CatalogState(catalog)
    assert second.clusters == first.clusters and second.replicas == first.replicas and second.roles == first.roles
    assert [c.name for c in second.clusters.values()] == ["quickstart"]
    catalog.dispose()


def test_memory_stores_of_one_name_share_their_shards() -> None:
    first, second = open_store("memory://shared-test"), open_store("memory://shared-test")
    other = open_store("memory://other-test")
    first.create_shard("s")
    first.compare_and_append("s", [(("x",), 0, 1)], 0, 1)
    assert second.snapshot("s", 0) == [(("x",), 1)]
    assert not other.shard_exists("s")
    first.close()
    assert second.upper("s") == 1  # closing one store leaves the database to the others
    third = open_store("memory://shared-test")
    assert third.snapshot("s", 0) == [(("x",), 1)]
    for store in (second, third, other):
        store.close()
    drop_memory_database("shared-test")
    drop_memory_database("other-test")
    assert not open_store("memory://shared-test").shard_exists("s")  # dropped: a fresh database
    drop_memory_database("shared-test")
