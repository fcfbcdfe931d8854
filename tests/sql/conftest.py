"""Fixtures of the planner tests: a dict-backed PlanCatalog, and the throwaway PostgreSQL server of the storage
tests (tests/storage/conftest.py, loaded by path) for checking answers against PostgreSQL itself."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from steadystate.sql.catalog_api import PlanContext

from sql_catalog import DictCatalog

_spec = importlib.util.spec_from_file_location(
    "steadystate_storage_fixtures", Path(__file__).resolve().parent.parent / "storage" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_storage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_storage)
postgres_server = _storage.postgres_server  # a session-scoped PostgreSQL; skips when the binaries are absent


@pytest.fixture
def ctx() -> PlanContext:
    return PlanContext(DictCatalog())
