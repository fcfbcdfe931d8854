"""A dict-backed PlanCatalog for planner tests."""

from __future__ import annotations

import pytest

from steadystate.sql.catalog_api import PlanContext

from sql_catalog import DictCatalog


@pytest.fixture
def ctx() -> PlanContext:
    return PlanContext(DictCatalog())
