"""Test support shipped with the package: an in-memory environment (``testing.memory``).

This package sits at the top of the layer stack beside ``steadystate.server``: it wires the adapter to an
in-process orchestrator (``testing.inprocess``), so it may import everything and nothing imports it but tests
and benchmarks.
"""

from __future__ import annotations

from steadystate.testing.memory import MemoryEnvironment, Result, eventually, memory_environment

__all__ = ["MemoryEnvironment", "Result", "eventually", "memory_environment"]
