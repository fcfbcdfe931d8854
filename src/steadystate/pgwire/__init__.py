"""pgwire: the PostgreSQL v3 wire protocol (see DESIGN.md §3).

A sans-I/O core (``wire`` framing, ``frontend`` message decoding, ``values`` and ``copy_format``
encodings, the socket-free ``conversation`` with its ``extended`` query handlers) and a thin asyncio
``server``.  The adapter plugs in by implementing ``Backend`` and ``Session`` of ``steadystate.adapter.client``
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
    Notice,
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
    "Notice",
    "Outcome",
    "PgServer",
    "RowsOutcome",
    "Session",
    "serve",
]
