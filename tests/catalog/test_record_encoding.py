"""Catalog records stored by earlier releases still decode: the catalog is durable, so a record's encoding is a
format, not an implementation detail.

``ItemRecord.kind`` was a ``str`` and is now ``repr.objects.ItemKind`` (a ``str``-valued enum).  The bytes below
are item records exactly as the release before the enum encoded them (``msgspec.msgpack.encode`` of an
``ItemRecord`` whose ``kind`` was the string); they are written into a catalog file the way that release wrote
them, and read back by today's code: each decodes with its kind as an ``ItemKind`` member, and encodes back to what
was stored but for fields added since with their defaults (a column's ``mod``, an item's ``time_zone``: None), which older code ignores
when it decodes (msgspec skips unknown fields), so a file written now is read by the older code too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from steadystate.catalog.durable import DurableCatalog
from steadystate.catalog.records import ItemRecord
from steadystate.repr.objects import ItemKind

# kind -> the record u1..u4 as encoded when ItemRecord.kind was a str (one column "a" int4; see the docstring)
STORED: dict[ItemKind, str] = {
    ItemKind.TABLE: (
        "de0012a26964a27531a86461746162617365ab6d6174657269616c697a65a6736368656d61a67075626c6963a46e616d65a26f31"
        "a46b696e64a57461626c65a56f776e6572ab6d6174657269616c697a65a46465736381a7636f6c756d6e739183a46e616d65a161"
        "a474797065a4696e7434a86e756c6c61626c65c3a373716ca0a4706c616ec0a57368617264a4732d7531aa636c75737465725f6964"
        "c0a56f6e5f6964c0a36b657990a96b65795f6e616d657390aa646570656e64735f6f6e90ad637265617465645f61745f6d7300a864"
        "656661756c747390a776657273696f6e01"
    ),
    ItemKind.VIEW: (
        "de0012a26964a27532a86461746162617365ab6d6174657269616c697a65a6736368656d61a67075626c6963a46e616d65a26f32"
        "a46b696e64a476696577a56f776e6572ab6d6174657269616c697a65a46465736381a7636f6c756d6e739183a46e616d65a161a474"
        "797065a4696e7434a86e756c6c61626c65c3a373716ca853454c4543542031a4706c616ec0a57368617264c0aa636c75737465725f"
        "6964c0a56f6e5f6964c0a36b657990a96b65795f6e616d657390aa646570656e64735f6f6e90ad637265617465645f61745f6d7300"
        "a864656661756c747390a776657273696f6e01"
    ),
    ItemKind.MATERIALIZED_VIEW: (
        "de0012a26964a27533a86461746162617365ab6d6174657269616c697a65a6736368656d61a67075626c6963a46e616d65a26f33"
        "a46b696e64b16d6174657269616c697a65645f76696577a56f776e6572ab6d6174657269616c697a65a46465736381a7636f6c756d"
        "6e739183a46e616d65a161a474797065a4696e7434a86e756c6c61626c65c3a373716ca0a4706c616ec0a57368617264a4732d7533"
        "aa636c75737465725f6964a26331a56f6e5f6964c0a36b657990a96b65795f6e616d657390aa646570656e64735f6f6e90ad637265"
        "617465645f61745f6d7300a864656661756c747390a776657273696f6e01"
    ),
    ItemKind.INDEX: (
        "de0012a26964a27534a86461746162617365ab6d6174657269616c697a65a6736368656d61a67075626c6963a46e616d65a26f34"
        "a46b696e64a5696e646578a56f776e6572ab6d6174657269616c697a65a464657363c0a373716ca0a4706c616ec0a57368617264c0"
        "aa636c75737465725f6964a26331a56f6e5f6964a27531a36b657990a96b65795f6e616d657391a161aa646570656e64735f6f6e90"
        "ad637265617465645f61745f6d7300a864656661756c747390a776657273696f6e01"
    ),
}


@pytest.fixture
def old_catalog(tmp_path: Path) -> Path:
    """A catalog file holding the stored records, written with SQL as the earlier release's catalog wrote them."""
    path = tmp_path / "catalog.db"
    DurableCatalog(str(path)).close()  # today's schema: the records table is unchanged
    with sqlite3.connect(path) as conn:
        for n, data in enumerate(STORED.values(), start=1):
            conn.execute("INSERT INTO records (kind, id, value) VALUES ('item', ?, ?)", (f"u{n}", bytes.fromhex(data)))
    return path


def test_items_stored_with_string_kinds_load_as_item_kinds(old_catalog: Path) -> None:
    catalog = DurableCatalog(str(old_catalog))
    try:
        items = {record.id: record for record in catalog.load()["item"]}  # type: ignore[attr-defined]
    finally:
        catalog.close()
    assert [(items[f"u{n}"].kind, type(items[f"u{n}"].kind)) for n in range(1, 5)] == [
        (kind, ItemKind) for kind in STORED]
    assert all(isinstance(record, ItemRecord) for record in items.values())
    assert items["u4"].on_id == "u1" and items["u4"].key_names == ("a",)


def test_items_encode_to_the_bytes_the_earlier_release_stored(old_catalog: Path) -> None:
    catalog = DurableCatalog(str(old_catalog))
    try:
        items = {record.id: record for record in catalog.load()["item"]}  # type: ignore[attr-defined]
    finally:
        catalog.close()
    added_since = {"mod": None, "time_zone": None}  # fields added after these records were stored, with their defaults

    def without_added(value: object) -> object:
        if isinstance(value, dict):
            return {k: without_added(v) for k, v in value.items() if not (k in added_since and v == added_since[k])}
        if isinstance(value, list):
            return [without_added(v) for v in value]
        return value

    for n, (kind, data) in enumerate(STORED.items(), start=1):
        encoded = msgspec.msgpack.decode(msgspec.msgpack.encode(items[f"u{n}"]))
        assert without_added(encoded) == msgspec.msgpack.decode(bytes.fromhex(data)), kind
