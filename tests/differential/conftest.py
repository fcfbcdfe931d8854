"""Fixtures of the differential tests: one real steadystate server per test module."""

from __future__ import annotations

from typing import Iterator

import pytest

from diff_support import Mirror, load_environment_class

Environment = load_environment_class()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real ``steadystate serve`` (coordinator + replica processes) shared by one module."""
    environment = Environment(tmp_path_factory.mktemp("differential") / "data")
    environment.start()
    try:
        yield environment
    finally:
        environment.stop()


@pytest.fixture
def mirror(server: object) -> Iterator[Mirror]:
    conn = server.connect()  # type: ignore[attr-defined]
    m = Mirror(conn)
    try:
        yield m
    finally:
        m.close()
        conn.close()
