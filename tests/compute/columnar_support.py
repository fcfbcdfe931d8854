"""Helpers shared by the tests that hydrate a view from a snapshot's columns and from its rows side by side
(``test_columnar_snapshots.py``, ``test_columnar_snapshot_types.py``): a store holding one load, both hydrations
of a dataflow reading it, and a round of deletes and inserts fed to both."""

from __future__ import annotations

from typing import Any, Callable

from steadystate.compute.snapshots import feed_source, read_source
from steadystate.render import RenderedDataflow
from steadystate.storage import open_store


def store_with_load(rows: list[tuple]) -> Any:
    """A store whose shard ``t`` holds ``rows`` as one insert-only batch at time 0 (stored as Arrow columns when
    large enough) and nothing at time 1: a snapshot at 1 is the load alone."""
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    store.compare_and_append("t", [(row, 0, 1) for row in rows], 0, 1)
    store.compare_and_append("t", [], 1, 2)
    return store


def hydrate_both(store: Any, make: Callable[[], RenderedDataflow], label: str) -> tuple[RenderedDataflow,
                                                                                       RenderedDataflow, Any]:
    """The dataflow ``make()`` builds, hydrated at time 1 from the shard's rows and, again, as the replica reads a
    snapshot (``compute.snapshots.read_source``: columns where a reader takes them): ``(by rows, by columns, what
    was read)``."""
    by_rows = make()
    by_rows.feed_snapshot("u1", store.snapshot_counts("t", 1), 1, 2)
    by_rows.step()
    by_columns = make()
    read = read_source(store, by_columns, "u1", "t", 1, label)
    feed_source(by_columns, "u1", read, 1, 2)
    by_columns.step()
    return by_rows, by_columns, read


def change_both(dataflows: tuple[RenderedDataflow, ...], present: list[tuple], deleted: list[tuple],
                inserted: list[tuple], time: int) -> None:
    """Delete ``deleted`` (each once) and insert ``inserted`` at ``time`` in every dataflow, and in ``present``."""
    for row in deleted:
        present.remove(row)
    present.extend(inserted)
    updates = [(row, time, -1) for row in deleted] + [(row, time, 1) for row in inserted]
    for rendered in dataflows:
        rendered.feed("u1", updates, time + 1)
        rendered.step()
