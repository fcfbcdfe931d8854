"""Guards on the work one query asks of a replica: stop it at once when it is canceled or would exhaust memory.

A replica evaluates a peek, and steps a transient dataflow (a slow-path ``SELECT``'s or a ``SUBSCRIBE``'s), inside
:func:`guarded`; the loops that can allocate without bound — a join's output, a peek's result rows, a snapshot
read, an arrangement's bulk load (:func:`sliced`), an operator's loop over its input (:func:`checked`: a map, a
reduce's fold, a window's partitioning) and a large sort (:func:`checked_key`) — call :func:`check` between bounded
pieces of work (about :data:`CHECK_EVERY_ROWS` rows); the graph checks before each operator with ``room`` for its
input (``dataflow.graph``), since an operator may allocate its input's size in one piece.  With no guard active
(installed indexes and materialized views, the coordinator's local evaluation) :func:`check` reads one module
global and returns, and :func:`active` lets a hot loop keep its unguarded fast form.

A :class:`Guard` raises

* :class:`~steadystate.errors.QueryCanceled` when its ``canceled()`` callback says the work is no longer wanted (the
  controller sent ``CancelPeek``, or dropped the transient dataflow: the replica's I/O thread records that while
  the worker thread is busy evaluating, see ``compute.server``);
* :class:`~steadystate.errors.OutOfMemory` (53200) when the process's resident set passes ``memory_threshold``: the
  replica refuses the query rather than let the orchestrator kill the whole process (and every other query and
  dataflow with it) for passing its size's memory limit.

Only one thread of a process evaluates guarded work (the replica's worker thread), so the active guard is a plain
module global.  The work a guard interrupted is left half done: callers throw it away (a peek answers with the
error, a transient dataflow is failed and waits to be dropped), never an installed dataflow.  Once it is thrown away,
:func:`release_memory` hands the freed heap back to the OS, or the resident set would stay at its peak and the
memory check would refuse every later query.
"""

from __future__ import annotations

import ctypes
import gc
import threading

from contextlib import contextmanager
from itertools import count, islice
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from steadystate.errors import OutOfMemory, QueryCanceled

T = TypeVar("T")

#: What a guard raises: work stopped, which no operator may turn into an error of its data
STOPS = (QueryCanceled, OutOfMemory)

#: Rows of output (or input) a hot loop may produce between two checks: at ~150 bytes a row, a few MB.
CHECK_EVERY_ROWS = 16384
#: Rows of a bulk loop between two checks where a row costs a key tuple and its encoding, not a whole output row
SLICE_ROWS = 4 * CHECK_EVERY_ROWS

_PAGE = 4096
#: How much a piece of work may grow the resident set past the threshold when it began above it (glibc keeps freed
#: heap resident; a query reuses it before it asks the OS for more)
GROWTH_ALLOWANCE = 2 << 20


def rss_bytes() -> int:
    """The process's resident set size (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Guard:
    """Stops one piece of work: ``what`` names it in errors ("query", "peek")."""

    def __init__(self, canceled: Callable[[], bool], memory_threshold: int | None, memory_limit: int | None,
                 what: str = "query", baseline: int | None = None) -> None:
        self.canceled = canceled
        self.memory_threshold = memory_threshold
        self.memory_limit = memory_limit
        self.what = what
        # the resident set when the work began: above the threshold, the work is refused once it has grown it by
        # GROWTH_ALLOWANCE (heap that earlier work left resident is reused first and does not count)
        self.baseline = baseline

    def check(self, room: int = 0) -> None:
        """Raise if the work must stop; ``room``: bytes the work is about to allocate in one piece (a bulk copy no
        check can interrupt), counted as if already resident."""
        if self.canceled():
            raise QueryCanceled("canceling statement due to user request")
        if self.memory_threshold is not None:
            rss = rss_bytes() + room
            if rss > self.memory_threshold and (self.baseline is None or rss > self.baseline + GROWTH_ALLOWANCE):
                limit = f" of {self.memory_limit >> 20} MiB" if self.memory_limit else ""
                raise OutOfMemory(
                    "out of memory",
                    detail=f"the replica refused the {self.what}: it would pass the replica's memory limit{limit} "
                           f"(resident {rss >> 20} MiB, the replica refuses queries above "
                           f"{self.memory_threshold >> 20} MiB)",
                    hint="use a larger replica size (ALTER CLUSTER ... SET (SIZE = ...)), or a query that needs "
                         "less memory (a LIMIT does not help: it applies after the result is built)",
                )


class _Active(threading.local):
    """The guard of the work this thread evaluates: per thread, since in-process replicas (the in-memory
    environment, tests) step their dataflows on threads of one process, and one replica's guarded query must not
    make another's installed dataflow take the guarded (row) path or stop with its error."""

    guard: Guard | None = None


_active = _Active()


def active() -> bool:
    """Whether guarded work is being evaluated (hot loops keep their fast, unchecked form otherwise)."""
    return _active.guard is not None


def check(room: int = 0) -> None:
    """Raise if the guarded work under way must stop (``room``: see :meth:`Guard.check`); a no-op outside
    :func:`guarded`."""
    guard = _active.guard
    if guard is not None:
        guard.check(room)


def checked(items: Iterable[T]) -> Iterable[T]:
    """``items`` as they are outside guarded work; under a guard, the same items with a check after every
    :data:`SLICE_ROWS` (an operator's loop over its input: the check runs in the loop's header, outside any ``try``
    of its body that turns a row's failure into data)."""
    if _active.guard is None:
        return items
    return _checked(iter(items))


def _checked(iterator: Iterator[T]) -> Iterator[T]:
    while True:
        chunk = list(islice(iterator, SLICE_ROWS))
        yield from chunk
        if len(chunk) < SLICE_ROWS:
            return
        check()


def checked_key(key: Callable[[T], Any]) -> Callable[[T], Any]:
    """A sort key as it is outside guarded work; under a guard, one that checks every :data:`SLICE_ROWS` calls (a
    sort of millions of rows builds a key for each before it compares)."""
    if _active.guard is None:
        return key
    calls = count()

    def checking(value: T) -> Any:
        if not next(calls) % SLICE_ROWS:
            check()
        return key(value)

    return checking


def sliced(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """``rows`` whole outside guarded work; under a guard, in slices of :data:`SLICE_ROWS` with a check after each
    (bulk loops over a large collection: an arrangement's load, its encoding)."""
    if _active.guard is None or len(rows) <= SLICE_ROWS:
        yield rows
        return
    for start in range(0, len(rows), SLICE_ROWS):
        yield rows[start:start + SLICE_ROWS]
        check()


@contextmanager
def guarded(guard: Guard | None) -> Iterator[None]:
    """Evaluate the body under ``guard`` (``None``: unguarded, e.g. an installed dataflow's step)."""
    previous, _active.guard = _active.guard, guard
    try:
        yield
    finally:
        _active.guard = previous


_libc: ctypes.CDLL | None = None


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc's ``malloc_trim``): without it the
    process's resident size stays at its peak after a big query, and the memory check refuses every later one."""
    global _libc
    gc.collect()
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the collection is all we can do
        pass
