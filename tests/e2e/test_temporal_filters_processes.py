"""Temporal filters with real processes: a sliding window over rows written once moves as the clock does, through a
replica kill and a coordinator restart.

The clock is moved through the test hook ``STEADYSTATE_CLOCK_OFFSET_FILE`` (``storage.oracle.clock_from_env``):
milliseconds the coordinator's timestamp oracle runs ahead of the wall clock, which the test only increases.  The
events sit minutes away from each clock reading the test checks at, so the seconds the test itself takes never
decide an answer; the expected rows come from the definition of the predicate (``_window``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from steadystate.storage.oracle import CLOCK_OFFSET_ENV

from conftest import Environment

MINUTE = 60_000
EVENTS = {1: -30, 2: -5, 3: 30, 4: 120}  # id -> created_at, minutes from the start reading of mz_now()
WINDOW = "SELECT id FROM events WHERE mz_now() >= created_at AND mz_now() <= created_at + INTERVAL '1 hour'"


def _window(minutes: int) -> list[tuple[int]]:
    return sorted((i,) for i, at in EVENTS.items() if at <= minutes <= at + 60)


def test_a_window_moves_with_the_clock_across_a_replica_kill_and_a_coordinator_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    offset_file = tmp_path / "clock-offset"
    offset_file.write_text("0")
    monkeypatch.setenv(CLOCK_OFFSET_ENV, str(offset_file))
    env = Environment(tmp_path / "data")
    env.start()
    try:
        (text,), = env.query("SELECT mz_now()")  # mz_timestamp: psycopg has no loader for it, so text
        start = int(text)
        env.execute("CREATE TABLE events (id int, created_at timestamptz)")
        for i, at in EVENTS.items():
            instant = dt.datetime.fromtimestamp((start + at * MINUTE) / 1000, dt.timezone.utc)
            env.execute(f"INSERT INTO events VALUES ({i}, '{instant.isoformat()}')")
        env.execute(f"CREATE VIEW recent AS {WINDOW}", "CREATE INDEX recent_idx ON recent (id)",
                    f"CREATE MATERIALIZED VIEW recent_mv AS {WINDOW}")

        def check_at(minutes: int) -> None:
            offset_file.write_text(str(minutes * MINUTE))
            expected = _window(minutes)
            for relation in ("recent", "recent_mv"):
                env.wait_for(lambda r=relation: sorted(env.query(f"SELECT id FROM {r}")) == expected, 60)

        check_at(0)
        check_at(45)
        (replica_id,) = env.cluster_replicas("quickstart").values()
        old_pid = env.kill_replica(replica_id)
        env.wait_for(lambda: env.replica_pids().get(replica_id) not in (None, old_pid), 60)
        check_at(70)  # the new replica process rehydrated and holds the right retractions
        env.restart()  # a planned coordinator restart: the replica is adopted
        check_at(130)
        check_at(200)
        assert env.query("SELECT count(*) FROM recent_mv") == [(0,)]
    finally:
        env.stop()
        env.reap_replicas()
