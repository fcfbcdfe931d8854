"""Items whose plan depends on the session's TimeZone, through the whole stack (sql/session_zone.py).

In the in-memory environment: a view, materialized view or DEFAULT that computes something in the session's zone
records the zone it was created in; a read from a session in another zone (SELECT, SUBSCRIBE, COPY TO, a view
over it, an INSERT taking the DEFAULT) is refused with 0A000, also after a coordinator restart (the zone is on the
durable catalog record) and through views over views; one created in a zone answers in that zone (checked against
Python's zoneinfo on the same instants); an item that does not depend on the zone reads from anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from typing import Any

import pytest

from steadystate import errors
from steadystate.catalog.records import ItemRecord
from steadystate.repr.objects import ItemKind
from steadystate.testing import MemoryEnvironment, memory_environment

UTC = dt.timezone.utc
INSTANTS = [dt.datetime(2020, 3, 8, 4, 30, tzinfo=UTC), dt.datetime(2020, 3, 8, 6, 30, tzinfo=UTC),
            dt.datetime(2020, 11, 1, 5, 30, tzinfo=UTC), dt.datetime(2020, 7, 1, 2, 0, tzinfo=UTC)]
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


async def _refused(env: MemoryEnvironment, sql: str, session: Any) -> errors.SteadyError:
    with pytest.raises(errors.SteadyError) as caught:
        await env.execute(sql, session)
    assert caught.value.sqlstate == "0A000", (sql, caught.value)
    return caught.value


async def _setup(env: MemoryEnvironment) -> None:
    await env.execute("CREATE TABLE instants (k int, ts timestamptz)")
    rows = ", ".join(f"({k}, '{t.isoformat()}')" for k, t in enumerate(INSTANTS))
    await env.execute(f"INSERT INTO instants VALUES {rows}")
    await env.execute("CREATE VIEW v_day AS SELECT k, CAST(ts AS date) AS d FROM instants")  # zone: UTC
    await env.execute("CREATE MATERIALIZED VIEW mv_trunc AS SELECT k, date_trunc('day', ts) AS t FROM instants")
    await env.execute("CREATE VIEW v_plain AS SELECT k, ts FROM instants WHERE ts > '2020-06-01 00:00:00+00'")
    await env.execute("CREATE VIEW v_over AS SELECT k FROM v_day WHERE d > DATE '2020-06-01'")  # over a zoned one
    await env.execute("CREATE VIEW v_over_plain AS SELECT k FROM v_plain")


ZONED_READS = [
    "SELECT * FROM v_day", "SELECT * FROM mv_trunc", "SELECT * FROM v_over", "SELECT count(*) FROM v_day",
    "SELECT k FROM instants WHERE k IN (SELECT k FROM v_over)", "CREATE VIEW v_new AS SELECT * FROM v_day",
    "CREATE MATERIALIZED VIEW mv_new AS SELECT * FROM mv_trunc", "SUBSCRIBE v_day", "SUBSCRIBE (SELECT k FROM v_over)",
    "COPY (SELECT * FROM v_day) TO STDOUT", "EXPLAIN SELECT * FROM v_day",
]


async def _check_reads(env: MemoryEnvironment) -> None:
    new_york = await env.session()
    await env.execute("SET TimeZone = 'America/New_York'", new_york)
    for sql in ZONED_READS:
        error = await _refused(env, sql, new_york)
        assert "UTC" in error.message and "America/New_York" in error.message
        assert error.hint is not None and "SET TimeZone = 'UTC'" in error.hint
    # what does not depend on the zone reads from anywhere
    assert sorted(await env.query("SELECT k FROM v_plain", new_york)) == [(2,), (3,)]
    assert sorted(await env.query("SELECT k FROM v_over_plain", new_york)) == [(2,), (3,)]
    # spellings of UTC are UTC; GMT is not (to_char's TZ shows "GMT" there, so an item made under UTC could show
    # another name than PostgreSQL's view would: refused rather than possibly wrong)
    for spelling in ("utc", "Etc/UTC"):
        await env.execute(f"SET TimeZone = '{spelling}'", new_york)
        got = sorted(await env.query("SELECT k, d FROM v_day", new_york))
        assert got == [(k, t.date()) for k, t in enumerate(INSTANTS)]
    await env.execute("SET TimeZone = 'GMT'", new_york)
    assert "GMT" in (await _refused(env, "SELECT * FROM v_day", new_york)).message
    await new_york.close()


def test_reads_from_another_zone_are_refused_also_after_a_restart() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await _setup(env)
            await _check_reads(env)
            await env.restart()
            await _check_reads(env)

    asyncio.run(main())


def test_an_item_created_in_a_zone_answers_in_it_and_only_to_it() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await _setup(env)
            new_york = await env.session()
            await env.execute("SET TimeZone = 'America/New_York'", new_york)
            await env.execute("CREATE VIEW ny_day AS SELECT k, CAST(ts AS date) AS d, extract(hour FROM ts) AS h "
                              "FROM instants", new_york)
            await env.execute("CREATE MATERIALIZED VIEW ny_mv AS SELECT k, d FROM ny_day", new_york)
            await env.execute("CREATE INDEX ny_day_idx ON ny_day (k)", new_york)
            expected = sorted((k, t.astimezone(NEW_YORK).date(), t.astimezone(NEW_YORK).hour)
                              for k, t in enumerate(INSTANTS))
            got = sorted((k, d, int(h)) for k, d, h in await env.query("SELECT * FROM ny_day", new_york))
            assert got == expected
            assert sorted(await env.query("SELECT * FROM ny_mv", new_york)) == [(k, d) for k, d, _ in expected]
            await env.restart()
            utc, berlin = await env.session(), await env.session()
            await env.execute("SET TimeZone = 'Europe/Berlin'", berlin)
            for session, zone in ((utc, "UTC"), (berlin, "Europe/Berlin")):
                for sql in ("SELECT * FROM ny_day", "SELECT * FROM ny_mv", "SELECT k FROM ny_day WHERE k = 1"):
                    error = await _refused(env, sql, session)
                    assert zone in error.message and "America/New_York" in error.message
                    assert error.hint is not None and "SET TimeZone = 'America/New_York'" in error.hint
            # the zone's name is matched as PostgreSQL matches it, case-insensitively
            await env.execute("SET TimeZone = 'america/new_york'", berlin)
            assert sorted(await env.query("SELECT * FROM ny_mv", berlin)) == [(k, d) for k, d, _ in expected]

    asyncio.run(main())


def test_defaults_that_depend_on_the_zone() -> None:
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE td (k int, d text DEFAULT CAST(TIMESTAMPTZ '2020-01-01 03:00:00+00' "
                              "AS date)::text, n int DEFAULT 7)")
            await env.execute("CREATE TABLE plain (k int, n int DEFAULT 7)")
            new_york = await env.session()
            await env.execute("SET TimeZone = 'America/New_York'", new_york)
            for sql in ("INSERT INTO td (k) VALUES (1)", "INSERT INTO td VALUES (1, DEFAULT, 2)",
                        "INSERT INTO td (k, d) VALUES (1, 'x')"):
                await _refused(env, sql, new_york)
            await env.execute("INSERT INTO td VALUES (2, 'given', 3)", new_york)  # no DEFAULT taken
            await env.execute("INSERT INTO plain (k) VALUES (1)", new_york)  # a DEFAULT that needs no zone
            await env.execute("INSERT INTO td (k) VALUES (3)")  # in UTC
            assert sorted(await env.query("SELECT * FROM td")) == [(2, "given", 3), (3, "2020-01-01", 7)]
            assert await env.query("SELECT * FROM plain", new_york) == [(1, 7)]

    asyncio.run(main())


def test_literals_are_read_once_in_the_creating_zone() -> None:
    """PostgreSQL folds a literal into the view's definition: the view does not depend on the reader's zone."""
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE instants (k int, ts timestamptz)")
            await env.execute("INSERT INTO instants VALUES (1, '2020-01-01 04:00:00+00'), "
                              "(2, '2020-01-01 06:00:00+00')")
            new_york = await env.session()
            await env.execute("SET TimeZone = 'America/New_York'", new_york)
            await env.execute("CREATE VIEW after_midnight AS SELECT k FROM instants WHERE ts > '2020-01-01 00:00'",
                              new_york)  # midnight in New York: 05:00 UTC
            assert await env.query("SELECT k FROM after_midnight") == [(2,)]
            assert await env.query("SELECT k FROM after_midnight", new_york) == [(2,)]

    asyncio.run(main())


def test_records_from_before_zones_were_tracked() -> None:
    """An older record (no ``time_zone``) with a plan or DEFAULTs was created under UTC and may depend on it."""
    base = ItemRecord(id="u1", database="materialize", schema="public", name="x", kind=ItemKind.VIEW, owner="m")
    assert base.zone == ""
    assert ItemRecord(id="u1", database="materialize", schema="public", name="x", kind=ItemKind.VIEW, owner="m",
                      plan=b"x").zone == "UTC"
    assert ItemRecord(id="u1", database="materialize", schema="public", name="x", kind=ItemKind.VIEW, owner="m",
                      plan=b"x", time_zone="").zone == ""
    assert ItemRecord(id="u1", database="materialize", schema="public", name="x", kind=ItemKind.VIEW, owner="m",
                      plan=b"x", time_zone="Europe/Berlin").zone == "Europe/Berlin"


def test_the_zone_does_not_change_under_an_open_cursor() -> None:
    """PostgreSQL computes a cursor's rows when they are fetched, in the zone of that moment; here a cursor is
    planned at DECLARE, so changing the zone while one is open is refused rather than answered in the old zone."""
    async def main() -> None:
        async with memory_environment() as env:
            await env.execute("CREATE TABLE instants (k int, ts timestamptz)")
            await env.execute("INSERT INTO instants VALUES (1, '2020-01-01 03:00:00+00')")
            session = await env.session()
            declare = "DECLARE c CURSOR FOR SELECT k, CAST(ts AS date) FROM instants"
            for change in ("SET TimeZone = 'America/New_York'", "SET LOCAL TimeZone = 'Europe/Berlin'"):
                await env.execute("BEGIN", session)
                await env.execute(declare, session)
                await _refused(env, change, session)
                await env.execute("ROLLBACK", session)
            await env.execute("BEGIN", session)
            await env.execute(declare, session)
            await env.execute("SET TimeZone = 'utc'", session)  # the same zone
            assert await env.query("FETCH ALL c", session) == [(1, dt.date(2020, 1, 1))]
            await env.execute("CLOSE c", session)
            await env.execute("SET TimeZone = 'America/New_York'", session)
            await env.execute(declare, session)
            assert await env.query("FETCH ALL c", session) == [(1, dt.date(2019, 12, 31))]
            await _refused(env, "RESET TimeZone", session)
            await env.execute("ROLLBACK", session)

    asyncio.run(main())
