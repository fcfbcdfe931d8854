"""A large append (a COPY's load) is stored as several batches of at most ``max_batch_updates`` updates each, so a
replica reads its snapshot, and reports its hydration, a batch at a time; what is read is the same.

The store's ``max_batch_updates`` is lowered so that the test stays small.  An append of 2.5 batches' worth of
inserts becomes three batches (two columnar ones and the short tail), ``batch_stats`` counts them and their updates,
a ``SnapshotReader`` reading one batch per step sees 5000, 10000, 12500 updates, and ``snapshot_counts`` and
``snapshot_columns`` (tables and rest together) give exactly the rows appended, with a later delete applied.
"""

from __future__ import annotations

import tracemalloc
from collections import Counter

from steadystate.storage import open_store


def test_a_large_append_is_stored_as_several_batches() -> None:
    store = open_store("sqlite:///:memory:")
    store.max_batch_updates = 5000  # type: ignore[attr-defined]
    store.create_shard("s")
    rows = [(i % 7000, f"v{i % 3}") for i in range(12_500)]
    store.compare_and_append("s", [(row, 0, 1) for row in rows], 0, 1)
    store.compare_and_append("s", [(rows[0], 1, -1)], 1, 2)
    assert store.batch_stats("s") == (4, 12_501)

    reader = store.snapshot_reader("s", 0)
    steps = []
    while not reader.done:
        reader.read(1)
        steps.append(reader.updates_read)
    assert steps == [5000, 10_000, 12_500]
    want = Counter(rows)
    assert dict(reader.counts()) == dict(want)

    want[rows[0]] -= 1
    assert dict(store.snapshot_counts("s", 1)) == {row: n for row, n in want.items() if n}
    columnar = store.snapshot_columns("s", 1)
    assert columnar is not None and len(columnar.tables) == 2  # the tail (2500 updates) is below the columnar size
    got: Counter[tuple] = Counter(columnar.rest)
    for table in columnar.tables:
        got.update(zip(*(column.to_pylist() for column in table.columns)))
    assert {row: n for row, n in got.items() if n} == {row: n for row, n in want.items() if n}


def test_a_snapshot_is_held_once_while_its_batches_are_opened() -> None:
    """Opening a stored batch (its checksum checked) copies its payload; each fetched row is let go as its batch is
    opened, so reading a snapshot of many batches holds it about once, not twice (a hydration's memory peak)."""
    store = open_store("sqlite:///:memory:")
    store.max_batch_updates = 2000  # type: ignore[attr-defined]
    store.create_shard("s")
    store.compare_and_append("s", [((i, "x" * 500), 0, 1) for i in range(40_000)], 0, 1)  # 20 batches of ~1 MB
    stored = sum(len(batch.blob) for batch in store.snapshot_reader("s", 0)._batches)  # noqa: SLF001
    tracemalloc.start()
    try:
        reader = store.snapshot_reader("s", 0)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.updates_total == 40_000
    assert peak < 1.3 * stored, (peak, stored)
