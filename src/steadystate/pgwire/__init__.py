"""pgwire: the PostgreSQL v3 wire protocol (see DESIGN.md §3).

A sans-I/O core (``wire`` framing, ``frontend`` message decoding, ``values`` and ``copy_format``
encodings, ``results`` streaming, and the ``conversation`` with its ``extended`` query handlers: a
generator that yields the ``effects`` it needs — bytes to send, bytes to receive, calls into the adapter —
and is resumed with their results) and a thin asyncio ``server`` whose ``Driver`` performs those effects.
The supervisor's ``proxy`` is built the same way (pure state machine, thin ``proxy_server``).  The adapter plugs in by implementing ``Backend`` and ``Session`` of ``steadystate.adapter.client``
(the contract lives in the layer below, so imports point down).
"""

from __future__ import annotations

from steadystate.adapter.client import (
    Backend,
    CommandOutcome,
    CopyInOutcome,
    CopyInSink,
    CopyOutOutcome,
    EmptyOutcome,
    Field,
    Outcome,
    RowsOutcome,
    Session,
)
from .conversation import Conversation
from .server import PgServer, serve

__all__ = [
    "Backend",
    "CommandOutcome",
    "Conversation",
    "CopyInOutcome",
    "CopyInSink",
    "CopyOutOutcome",
    "EmptyOutcome",
    "Field",
    "Outcome",
    "PgServer",
    "RowsOutcome",
    "Session",
    "serve",
]
