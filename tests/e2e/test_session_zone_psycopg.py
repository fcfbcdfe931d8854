"""Views and the session TimeZone with real processes and psycopg (sql/session_zone.py).

A view and a materialized view whose results depend on the zone, created in UTC and in America/New_York, answer
in their own zone and are refused (SQLSTATE 0A000, with a hint naming the zone to set) to sessions in any other
zone, never answered in the wrong one; after a restart of ``serve`` (the catalog read back from disk) the same
holds.  The values are checked against Python's zoneinfo on the same instants.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import psycopg
import pytest

UTC = dt.timezone.utc
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
INSTANTS = {1: dt.datetime(2020, 3, 8, 4, 30, tzinfo=UTC), 2: dt.datetime(2020, 11, 1, 5, 30, tzinfo=UTC),
            3: dt.datetime(2020, 7, 1, 2, 0, tzinfo=UTC)}


def _dates(zone: dt.tzinfo) -> list[tuple[int, dt.date]]:
    return sorted((k, t.astimezone(zone).date()) for k, t in INSTANTS.items())


def _refused(conn: psycopg.Connection, sql: str, zone: str) -> None:
    with pytest.raises(psycopg.errors.FeatureNotSupported) as caught:
        conn.execute(sql)
    assert caught.value.diag.sqlstate == "0A000"
    assert caught.value.diag.message_hint is not None and f"SET TimeZone = '{zone}'" in caught.value.diag.message_hint


def _check(env) -> None:  # type: ignore[no-untyped-def]
    with env.connect() as utc, env.connect() as new_york:
        new_york.execute("SET TimeZone = 'America/New_York'")
        assert utc.execute("SELECT k, d FROM utc_days ORDER BY k").fetchall() == _dates(UTC)
        assert utc.execute("SELECT k, d FROM utc_days_mv ORDER BY k").fetchall() == _dates(UTC)
        assert new_york.execute("SELECT k, d FROM ny_days ORDER BY k").fetchall() == _dates(NEW_YORK)
        assert new_york.execute("SELECT k, d FROM ny_over ORDER BY k").fetchall() == _dates(NEW_YORK)
        for name in ("utc_days", "utc_days_mv"):
            _refused(new_york, f"SELECT * FROM {name}", "UTC")
        for name in ("ny_days", "ny_over"):
            _refused(utc, f"SELECT * FROM {name}", "America/New_York")
        # the instants themselves depend on no zone: every session reads them, shown in its own zone
        shown = new_york.execute("SELECT k, ts FROM plain ORDER BY k").fetchall()
        assert [(k, ts.astimezone(UTC)) for k, ts in shown] == sorted(INSTANTS.items())
        assert all(ts.utcoffset() != dt.timedelta(0) for _, ts in shown)


def test_views_depend_on_the_zone_they_were_created_in_across_a_restart(env) -> None:  # type: ignore[no-untyped-def]
    rows = ", ".join(f"({k}, '{t.isoformat()}')" for k, t in INSTANTS.items())
    env.execute("CREATE TABLE instants (k int, ts timestamptz)", f"INSERT INTO instants VALUES {rows}",
                "CREATE VIEW utc_days AS SELECT k, CAST(ts AS date) AS d FROM instants",
                "CREATE MATERIALIZED VIEW utc_days_mv AS SELECT k, CAST(ts AS date) AS d FROM instants",
                "CREATE VIEW plain AS SELECT k, ts FROM instants")
    with env.connect() as conn:
        conn.execute("SET TimeZone = 'America/New_York'")
        conn.execute("CREATE VIEW ny_days AS SELECT k, CAST(ts AS date) AS d FROM instants")
        conn.execute("CREATE VIEW ny_over AS SELECT * FROM ny_days")
    _check(env)
    env.restart()
    _check(env)
