"""Giving memory freed in bulk back to the operating system (a replica's resident set tracks what it holds).

A hydration builds one Python object per row of a snapshot that is not Arrow (numerics, timestamps: ``repr.columnar``
stores those batches as msgpack), hands them to the operators, and frees most of them once the state is built (an
index arrangement keeps Arrow runs, ``dataflow.arrangement_runs``); a whole-index peek builds Arrow tables and IPC
chunks and frees them once sent.  Neither allocator gives such memory back by itself: glibc's ``malloc`` keeps
freed heap pages (large lists and dict tables live there) and Arrow's pool (mimalloc) keeps freed segments for
reuse, so the replica's resident set stayed at the peak — several times the state it holds.

:func:`release` asks both to return what is free: ``malloc_trim(0)`` (glibc; skipped where the C library has no such
function) and ``MemoryPool.release_unused()``.  It costs a pass over the heap's free lists (milliseconds), so the
replica calls it only after such bulk frees: when an installed dataflow has hydrated, and after a peek that sent
at least :data:`LARGE_RESULT_BYTES`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

log = logging.getLogger("steadystate.compute")

#: a peek that sent this many bytes releases free memory afterwards
LARGE_RESULT_BYTES = 16 << 20

_libc: Any = None
_looked_up = False


def _malloc_trim() -> Any:
    global _libc, _looked_up
    if not _looked_up:
        _looked_up = True
        name = ctypes.util.find_library("c")
        try:
            library = ctypes.CDLL(name) if name else None
            _libc = getattr(library, "malloc_trim", None)
        except OSError:
            _libc = None
    return _libc


def release() -> None:
    """Return freed memory to the operating system (see the module docstring); never raises."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - only an optimisation: an Arrow without release_unused just keeps its memory
        log.debug("the Arrow memory pool did not release its free memory", exc_info=True)
