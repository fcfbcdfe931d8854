"""Values, rows, scalar types, relation descriptions, timestamps/frontiers and global ids.

Conventions used everywhere:

* A **timestamp** is an ``int`` (milliseconds since the Unix epoch, from the timestamp oracle).
* A **frontier** is ``int | None``: the least time that may still change, or ``None`` for the empty
  frontier (closed forever; after a drop).  :func:`frontier_le` and friends order them with ``None`` last.
* A **global id** is a ``str``: ``u<n>`` for user objects, ``s<n>`` for system objects, ``t<n>`` for
  transient dataflows (slow-path peeks, subscribes); :mod:`steadystate.repr.objects` owns the scheme (make,
  classify and order ids there, never by testing a first letter).
* A **row** is a ``tuple`` of datums (:data:`Row`, the one alias every layer above ``dataflow`` uses; the
  engine, which may import only ``errors``, spells the same shape as ``dataflow.collection.Row``); an
  **update** is ``(row, time, diff)``.
"""

from __future__ import annotations

from typing import Any

from steadystate.repr import numeric as _numeric  # noqa: F401  (installs the exact decimal context)
from steadystate.repr.types import Column, RelationDesc, ScalarType, TYPE_NAMES, datum_matches

Row = tuple[Any, ...]
Timestamp = int
Frontier = int | None
GlobalId = str


def frontier_le(a: Frontier, b: Frontier) -> bool:
    """``a <= b`` where ``None`` (the empty frontier) is greater than every time."""
    if b is None:
        return True
    if a is None:
        return False
    return a <= b


def frontier_min(*frontiers: Frontier) -> Frontier:
    times = [f for f in frontiers if f is not None]
    return min(times) if times else None


def frontier_max(*frontiers: Frontier) -> Frontier:
    if any(f is None for f in frontiers):
        return None
    return max(frontiers)  # type: ignore[type-var]


def passed(frontier: Frontier, time: Timestamp) -> bool:
    """Whether a collection at ``frontier`` is complete for ``time`` (frontier > time)."""
    return frontier is None or frontier > time


__all__ = [
    "Column",
    "RelationDesc",
    "ScalarType",
    "TYPE_NAMES",
    "datum_matches",
    "Timestamp",
    "Frontier",
    "GlobalId",
    "frontier_le",
    "frontier_min",
    "frontier_max",
    "passed",
]
