"""Fixtures of the differential tests: one real steadystate server per test module."""

from __future__ import annotations

from typing import Any, Iterator

import psycopg
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


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """A connection to the module's steadystate server and one to PostgreSQL (the module's ``postgres_server``,
    imported from ``scalar_support``), for the modules that need nothing more set up; others define their own."""
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()
