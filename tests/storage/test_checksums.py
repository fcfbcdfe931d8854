"""Checksums on stored batches and catalog records (repr/checksum.py): one flipped byte anywhere in a batch is
XX001 naming the shard, never a wrong answer; what the previous release stored (no checksum) still reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings, strategies as hs

from steadystate.catalog.durable import DurableCatalog
from steadystate.catalog.records import RoleRecord
from steadystate.errors import DataCorrupted
from steadystate.repr.codec import encode_updates
from steadystate.storage import open_store

UPDATES = [((n, f"row {n}"), 1, 1) for n in range(50)]


def _stored(path: Path) -> bytes:
    with open_store(f"sqlite:///{path}") as store:
        store.create_shard("s1")
        store.compare_and_append("s1", UPDATES, 0, 2)
    with sqlite3.connect(path) as conn:
        (blob,), = conn.execute("SELECT data FROM batches WHERE shard = 's1'")
    return bytes(blob)


def _rewrite(path: Path, blob: bytes) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE batches SET data = ? WHERE shard = 's1'", (blob,))


@settings(max_examples=40, deadline=None)
@given(hs.data())
def test_any_flipped_byte_is_an_error_naming_the_shard(tmp_path_factory: pytest.TempPathFactory,
                                                       data: hs.DataObject) -> None:
    path = tmp_path_factory.mktemp("cs") / "storage.db"
    blob = _stored(path)
    position = data.draw(hs.integers(0, len(blob) - 1))
    bit = data.draw(hs.integers(0, 7))
    damaged = bytearray(blob)
    damaged[position] ^= 1 << bit
    _rewrite(path, bytes(damaged))
    with open_store(f"sqlite:///{path}") as store:
        for read in (lambda: store.snapshot("s1", 1), lambda: store.listen("s1", 0)):
            try:
                result = read()
            except DataCorrupted as exc:
                assert exc.sqlstate == "XX001" and '"s1"' in str(exc)
            else:  # only a damaged header byte may leave an unsealed-looking blob that still decodes: never wrong
                pytest.fail(f"byte {position} bit {bit} flipped, read gave {result!r:.80}")


def test_a_batch_stored_without_a_checksum_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "storage.db"
    _stored(path)
    _rewrite(path, encode_updates(UPDATES))  # what the previous release stored: msgpack, no header
    with open_store(f"sqlite:///{path}") as store:
        assert sorted(store.snapshot("s1", 1)) == sorted((row, 1) for row, _, _ in UPDATES)
        store.compare_and_append("s1", [((99, "new"), 2, 1)], 2, 3)
        assert len(store.snapshot("s1", 2)) == 51


def test_catalog_records_are_checked_and_old_ones_still_load(tmp_path: Path) -> None:
    path = str(tmp_path / "catalog.db")
    catalog = DurableCatalog(path)
    with catalog.transact("materialize") as txn:
        txn.put(RoleRecord(id="g7", name="r7", superuser=False))
    catalog.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO records (kind, id, value) VALUES ('role', 'g8', ?)",  # an unsealed, older record
                 (msgspec.msgpack.encode(RoleRecord(id="g8", name="r8", superuser=False)),))
    conn.commit()
    catalog = DurableCatalog(path)
    assert {r.name for r in catalog.load()["role"]} == {"r7", "r8"}  # type: ignore[attr-defined]
    catalog.close()
    (value,), = conn.execute("SELECT value FROM records WHERE id = 'g7'")
    damaged = bytearray(value)
    damaged[-3] ^= 0x20
    conn.execute("UPDATE records SET value = ? WHERE id = 'g7'", (bytes(damaged),))
    conn.commit()
    conn.close()
    catalog = DurableCatalog(path)
    with pytest.raises(DataCorrupted) as info:
        catalog.load()
    assert info.value.sqlstate == "XX001" and "g7" in str(info.value)
    catalog.close()


def test_a_transaction_left_open_by_a_failed_rollback_does_not_block_later_writes(tmp_path: Path) -> None:
    """What a write I/O error whose ROLLBACK also failed leaves behind: the connection still in a transaction.
    The next write rolls it back and goes through, without reopening the store."""
    with open_store(f"sqlite:///{tmp_path / 'storage.db'}") as store:
        store.create_shard("s")
        store._cursor().execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
        store.compare_and_append("s", UPDATES, 0, 2)
        assert len(store.snapshot("s", 1)) == len(UPDATES)
