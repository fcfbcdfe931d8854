"""Orchestrators: start, watch and restart replica processes (DESIGN.md §2).

The process orchestrator (``orchestrator.process``) is the default; another orchestrator would implement
the same methods.  ``REPLICA_SIZES`` is the catalogue of replica sizes users may name in ``SIZE``: each size
has a memory limit: the orchestrator kills a replica process above it (``oom-killed``), and the replica, which is
told its size, refuses a query (53200) before its evaluation takes the process past 85% of it
(``compute.server``).
"""

from __future__ import annotations

REPLICA_SIZES: dict[str, int] = {
    "2xsmall": 192 * 1024**2,
    "xsmall": 512 * 1024**2,
    "small": 2 * 1024**3,
    "medium": 4 * 1024**3,
    "large": 8 * 1024**3,
}
