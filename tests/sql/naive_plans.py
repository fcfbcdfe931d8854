"""The from-scratch plan evaluator of the dataflow tests (tests/dataflow/dataflow_naive.py), for planner tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "dataflow_naive_for_sql", Path(__file__).resolve().parent.parent / "dataflow" / "dataflow_naive.py")
assert _spec is not None and _spec.loader is not None
naive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive)
