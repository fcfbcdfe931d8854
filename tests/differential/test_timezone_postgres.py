"""The session's TimeZone against the real PostgreSQL server: the same zone set on both, the same answers.

For IANA zones with daylight saving time (transitions both ways, a 30-minute one, a 45-minute offset, a zone before
1970 with a local-mean-time offset) and PostgreSQL's offset spellings (``'+02:00'`` and ``'UTC+2'`` are POSIX,
west of Greenwich; a bare number is hours east), each test runs the same statements on steadystate and PostgreSQL
and compares the raw answers (type OIDs, value bytes in text and binary format; errors by SQLSTATE and message):
timestamptz text input without an offset (in gaps and ambiguous hours too) and output, casts to and from
timestamp/date/time/text, ``date_trunc``, ``extract``/``date_part``, ``to_char``, ``current_date``, ``SHOW`` and the
ParameterStatus the client is sent.  Generated instants around the transitions go through a table and the same
expressions over its column.  A maintained object whose result would depend on a zone other than UTC is refused
(0A000); one created under UTC is computed in UTC and agrees with PostgreSQL computing its query in UTC.

Both connections disable psycopg's automatic server-side prepare: PostgreSQL folds a literal's cast into a cached
plan with the zone of the time it was planned.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import outcome, postgres_server, same

__all__ = ["postgres_server"]

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "europe/berlin", "+02:00",
         "UTC+2", "-03:30", "5.5", "-8", "UTC", "EST", "Europe/Amsterdam"]

EXPRESSIONS = [
    "TIMESTAMPTZ '2020-03-29 00:30:00+00'", "TIMESTAMPTZ '1900-01-01 12:00:00+00'",
    "CAST('2020-03-29 02:30:00' AS timestamptz)", "CAST('2020-10-25 02:30:00' AS timestamptz)",
    "CAST('2020-11-01 01:30:00' AS timestamptz)", "CAST('2020-07-01 12:00:00 UTC' AS timestamptz)",
    "CAST('2020-07-01 12:00:00.25-07' AS timestamptz)",
    "CAST(TIMESTAMPTZ '2020-10-25 00:30:00+00' AS timestamp)", "CAST(TIMESTAMPTZ '2020-10-24 22:30:00+00' AS date)",
    "CAST(TIMESTAMPTZ '2020-03-29 01:30:00+00' AS time)", "CAST(TIMESTAMP '2020-03-29 02:30:00' AS timestamptz)",
    "CAST(TIMESTAMP '2020-10-25 02:30:00' AS timestamptz)", "CAST(DATE '2020-03-29' AS timestamptz)",
    "CAST(TIMESTAMPTZ '2020-03-29 01:30:00+00' AS text)", "CAST(CAST('2020-06-01 10:00' AS text) AS timestamptz)",
    "ARRAY[TIMESTAMPTZ '2020-07-01 00:00:00+00', NULL]", "CAST(ARRAY[TIMESTAMPTZ '2020-01-01 00:00:00+00'] AS text)",
    "date_trunc('day', TIMESTAMPTZ '2020-03-29 12:00:00+00')", "date_trunc('hour', TIMESTAMPTZ '2020-10-25 00:30:00+00')",
    "date_trunc('hour', TIMESTAMPTZ '2020-10-25 01:30:00+00')", "date_trunc('minute', TIMESTAMPTZ '2020-10-04 15:50:00+00')",
    "date_trunc('month', TIMESTAMPTZ '2020-03-31 23:30:00+00')", "date_trunc('week', TIMESTAMPTZ '2020-03-29 23:30:00+00')",
    "extract(hour FROM TIMESTAMPTZ '2020-03-29 01:30:00+00')", "extract(epoch FROM TIMESTAMPTZ '2020-03-29 01:30:00+00')",
    "extract(dow FROM TIMESTAMPTZ '2020-03-28 23:30:00+00')", "date_part('day', TIMESTAMPTZ '2020-03-28 23:30:00+00')",
    "date_part('epoch', TIMESTAMPTZ '2020-03-28 23:30:00+00')",
    "to_char(TIMESTAMPTZ '2020-03-29 01:30:00+00', 'YYYY-MM-DD HH24:MI:SS')",
    "TIMESTAMPTZ '2020-07-01 12:00:00' = TIMESTAMPTZ '2020-07-01 12:00:00+00'",
    "DATE '2020-03-29' < TIMESTAMPTZ '2020-03-28 23:30:00+00'",
    "CAST(now() AS date) = current_date", "CAST(now() AS timestamp) = localtimestamp",
    "CAST('2020-13-01 00:00' AS timestamptz)",
]


def _connect(dsn_or_server: Any) -> psycopg.Connection:
    if isinstance(dsn_or_server, str):
        return psycopg.connect(dsn_or_server, autocommit=True, prepare_threshold=None)
    return dsn_or_server.connect(prepare_threshold=None)


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours, theirs = _connect(server), _connect(postgres_server)
    theirs.execute("DROP SCHEMA IF EXISTS timezone_diff CASCADE")
    theirs.execute("CREATE SCHEMA timezone_diff")
    theirs.execute("SET search_path = timezone_diff")
    for conn in (ours, theirs):
        conn.execute("CREATE TABLE instants (k int, ts timestamptz)")
    try:
        yield ours, theirs
    finally:
        for conn in (ours, theirs):
            conn.execute("SET TimeZone = 'UTC'")
            conn.close()


def _set_zone(connections: tuple[psycopg.Connection, psycopg.Connection], zone: str) -> None:
    for conn in connections:
        conn.execute(f"SET TimeZone = '{zone}'")


@pytest.mark.parametrize("zone", ZONES)
def test_zone_dependent_expressions_agree(connections: Any, zone: str) -> None:
    _set_zone(connections, zone)
    ours, theirs = connections
    assert outcome(ours, "SHOW TimeZone") == outcome(theirs, "SHOW TimeZone")
    assert ours.info.parameter_status("TimeZone") == theirs.info.parameter_status("TimeZone")
    for expression in EXPRESSIONS:
        for binary in (False, True):
            same(connections, f"SELECT {expression}", binary=binary)


@pytest.mark.parametrize("zone", ["Nowhere/City", "UTC+200", "Europe/", "200"])
def test_unknown_zones_are_refused_alike(connections: Any, zone: str) -> None:
    same(connections, f"SET TimeZone = '{zone}'")
    _set_zone(connections, "UTC")


@pytest.mark.parametrize("zone", ["+25:00", "30"])
def test_offsets_of_a_day_or_more_are_not_supported(connections: Any, zone: str) -> None:
    """PostgreSQL takes offsets up to a week; a zone here holds less than a day: refused, not misread."""
    assert outcome(connections[0], f"SET TimeZone = '{zone}'")[:2] == ("error", "0A000")
    assert outcome(connections[0], "SHOW TimeZone") == outcome(connections[1], "SHOW TimeZone")


def test_time_zone_spelling_and_reset(connections: Any) -> None:
    ours, theirs = connections
    for statement in ("SET TIME ZONE 'America/New_York'", "SET TimeZone = 2", "SET TIME ZONE 'Asia/Kathmandu'"):
        ours.execute(statement)
        theirs.execute(statement)
        assert outcome(ours, "SHOW TimeZone") == outcome(theirs, "SHOW TimeZone"), statement
        assert ours.info.parameter_status("TimeZone") == theirs.info.parameter_status("TimeZone"), statement
    for statement in ("RESET TimeZone", "SET TIME ZONE 'Asia/Kathmandu'", "SET TimeZone TO DEFAULT"):
        ours.execute(statement)  # the default is UTC here (Materialize's); PostgreSQL's is the server's zone
        expected = "Asia/Kathmandu" if "Kathmandu" in statement else "UTC"
        assert ours.execute("SHOW TimeZone").fetchone() == (expected,), statement
        assert ours.info.parameter_status("TimeZone") == expected, statement


#: instants within a day of the 2020 and 2021 transitions of the zones above, and some others
INSTANTS = st.one_of(
    st.sampled_from([_dt.datetime(2020, 3, 29, 1), _dt.datetime(2020, 10, 25, 1), _dt.datetime(2020, 3, 8, 7),
                     _dt.datetime(2020, 11, 1, 6), _dt.datetime(2020, 4, 4, 15), _dt.datetime(2020, 10, 3, 15, 30)])
    .flatmap(lambda t: st.integers(-36 * 60, 36 * 60).map(lambda m: t + _dt.timedelta(minutes=m))),
    st.datetimes(min_value=_dt.datetime(1890, 1, 1), max_value=_dt.datetime(2060, 1, 1)),
)
COLUMN_EXPRESSIONS = ["ts", "CAST(ts AS text)", "CAST(ts AS timestamp)", "CAST(ts AS date)", "CAST(ts AS time)",
                      "date_trunc('day', ts)", "date_trunc('hour', ts)", "date_trunc('month', ts)",
                      "extract(hour FROM ts)", "extract(day FROM ts)", "date_part('minute', ts)",
                      "to_char(ts, 'YYYY-MM-DD HH24:MI')", "CAST(CAST(ts AS timestamp) AS timestamptz) = ts"]


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(instants=st.lists(INSTANTS, min_size=1, max_size=8),
       zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC+2"]))
def test_generated_instants_in_a_table(connections: Any, instants: list[_dt.datetime], zone: str) -> None:
    _set_zone(connections, "UTC")
    rows = ", ".join(f"({k}, '{t.isoformat(sep=' ')}+00')" for k, t in enumerate(instants))
    for conn in connections:
        conn.execute("DELETE FROM instants")
        conn.execute(f"INSERT INTO instants VALUES {rows}")
    _set_zone(connections, zone)
    same(connections, f"SELECT k, {', '.join(COLUMN_EXPRESSIONS)} FROM instants ORDER BY k")
    local = ", ".join(f"({k}, '{t.isoformat(sep=' ')}')" for k, t in enumerate(instants))  # wall-clock times
    same(connections, f"SELECT k, CAST(v AS timestamptz) FROM (VALUES {local}) AS l(k, v) ORDER BY k")


def test_maintained_objects_do_not_depend_on_the_session_zone(connections: Any) -> None:
    """Created under another zone, a view whose result depends on it is refused; under UTC it is computed in UTC."""
    ours, theirs = connections
    _set_zone(connections, "UTC")
    for conn in connections:
        conn.execute("DELETE FROM instants")
        conn.execute("INSERT INTO instants VALUES (1, '2020-03-29 00:30:00+00'), (2, '2020-10-24 22:30:00+00')")
    ours.execute("SET TimeZone = 'Europe/Berlin'")
    for body in ("SELECT CAST(ts AS date) FROM instants", "SELECT date_trunc('day', ts) FROM instants",
                 "SELECT ts FROM instants WHERE ts > '2020-06-01 00:00'", "SELECT CAST(ts AS text) FROM instants"):
        for kind in ("VIEW", "MATERIALIZED VIEW"):
            answer = outcome(ours, f"CREATE {kind} tz_refused AS {body}")
            assert answer[:2] == ("error", "0A000"), (kind, body, answer)
    ours.execute("CREATE VIEW tz_fixed_offset AS SELECT k FROM instants WHERE ts > '2020-06-01 00:00:00+00'")
    assert ours.execute("SELECT k FROM tz_fixed_offset").fetchall() == [(2,)]
    ours.execute("SET TimeZone = 'UTC'")
    query = "SELECT k, CAST(ts AS date) AS d, date_trunc('day', ts) AS t, extract(hour FROM ts) AS h FROM instants"
    ours.execute(f"CREATE MATERIALIZED VIEW tz_in_utc AS {query}")
    _set_zone(connections, "Europe/Berlin")
    theirs.execute("SET TimeZone = 'UTC'")  # PostgreSQL computing the query in UTC; timestamptz shown in Berlin
    mine = ours.execute("SELECT k, d, CAST(t AS timestamptz), h FROM tz_in_utc ORDER BY k").fetchall()
    expected = theirs.execute(f"SELECT * FROM ({query}) AS q ORDER BY k").fetchall()
    assert mine == expected
    for statement in ("DROP MATERIALIZED VIEW tz_in_utc", "DROP VIEW tz_fixed_offset"):
        ours.execute(statement)


def test_copy_reads_and_writes_in_the_session_zone(connections: Any) -> None:
    """COPY FROM: a timestamptz without an offset is wall-clock time in the zone; COPY TO shows the zone."""
    _set_zone(connections, "America/New_York")
    lines = b"1\t2020-03-08 02:30:00\n2\t2020-11-01 01:30:00\n3\t2020-07-01 12:00:00+00\n4\t2020-01-01 00:00:00 UTC\n"
    answers = []
    for conn in connections:
        conn.execute("DELETE FROM instants")
        with conn.cursor().copy("COPY instants FROM STDIN") as copy:
            copy.write(lines)
        with conn.cursor().copy("COPY (SELECT k, ts FROM instants ORDER BY k) TO STDOUT") as copy:
            answers.append(b"".join(bytes(block) for block in copy))
    assert answers[0] == answers[1]
    same(connections, "SELECT k, ts FROM instants ORDER BY k", binary=True)
