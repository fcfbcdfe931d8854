"""The session's TimeZone against the real PostgreSQL server: the same zone set on both, the same answers.

For IANA zones with daylight saving time (transitions both ways, a 30-minute one, a 45-minute offset, a zone before
1970 with a local-mean-time offset) and PostgreSQL's offset spellings (``'+02:00'`` and ``'UTC+2'`` are POSIX,
west of Greenwich; a bare number is hours east), each test runs the same statements on steadystate and PostgreSQL
and compares the raw answers (type OIDs, value bytes in text and binary format; errors by SQLSTATE and message):
timestamptz text input without an offset (in gaps and ambiguous hours too) and output, casts to and from
timestamp/date/time/text, ``date_trunc``, ``extract``/``date_part``, ``to_char``, ``current_date``, ``SHOW`` and the
ParameterStatus the client is sent.  Generated instants around the transitions go through a table and the same
expressions over its column.  A view, materialized view or indexed view created in a zone answers as PostgreSQL's
view does in that zone; read from another zone it is refused (0A000) where PostgreSQL would recompute it.

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
    # days and months added in the zone (a day across a DST change is 23 or 25 hours); time parts as elapsed time
    "TIMESTAMPTZ '2024-03-09 17:00:00+00' + INTERVAL '1 day'", "TIMESTAMPTZ '2024-03-10 17:00:00+00' - INTERVAL '1 day'",
    "TIMESTAMPTZ '2024-03-09 07:30:00+00' + INTERVAL '1 day'", "TIMESTAMPTZ '2020-10-24 23:30:00+00' + INTERVAL '1 day'",
    "INTERVAL '1 month 1 day 1 hour' + TIMESTAMPTZ '2020-02-29 23:30:00+00'",
    "TIMESTAMPTZ '2020-01-31 12:00:00+00' + INTERVAL '1 month'", "TIMESTAMPTZ '2020-03-29 00:30:00+00' + INTERVAL '3 hours'",
    "TIMESTAMPTZ '2020-03-29 00:30:00+00' - INTERVAL '-2 days -25 hours'",
    "age(TIMESTAMPTZ '2020-03-29 12:00:00+00', TIMESTAMPTZ '2020-03-28 12:00:00+00')",
    "age(TIMESTAMPTZ '2020-11-01 12:00:00+00', TIMESTAMPTZ '2020-10-01 03:00:00+00')",
    "age(TIMESTAMPTZ '2020-01-01 00:00:00+00', TIMESTAMPTZ '2020-03-31 23:00:00+00')",
    "to_char(TIMESTAMPTZ '2020-03-29 01:30:00+00', 'YYYY-MM-DD HH24:MI:SS OF FMOF TZH:TZM')",
    "to_char(TIMESTAMP '2020-03-29 01:30:00', 'HH24 OF TZH:TZM \"tz\"TZ')",
    "date_bin(INTERVAL '1 day', TIMESTAMPTZ '2020-03-29 12:00:00+00', TIMESTAMPTZ '2020-01-01 00:00:00+00')",
    "generate_series(TIMESTAMPTZ '2020-03-27 12:00:00+00', TIMESTAMPTZ '2020-04-01 12:00:00+00', INTERVAL '1 day')",
    "generate_series(TIMESTAMPTZ '2020-11-03 12:00:00+00', TIMESTAMPTZ '2020-10-20 12:00:00+00', INTERVAL '-1 week')",
    "generate_series(TIMESTAMPTZ '2020-01-31 00:00:00+00', TIMESTAMPTZ '2020-12-31 00:00:00+00', INTERVAL '1 month')",
    "generate_series(TIMESTAMPTZ '2020-03-29 00:00:00+00', TIMESTAMPTZ '2020-03-29 04:00:00+00', INTERVAL '1 hour')",
    "age(TIMESTAMPTZ '2020-03-29 12:00:00+00') = age(CAST(current_date AS timestamptz), "
    "TIMESTAMPTZ '2020-03-29 12:00:00+00')",
    "make_timestamptz(2020, 3, 29, 2, 30, 0)", "make_timestamptz(2020, 10, 25, 2, 30, 0.5)",
    "make_timestamptz(2020, 7, 1, 12, 0, 0, 'Asia/Kathmandu')",
    "date_trunc('day', TIMESTAMPTZ '2020-07-01 02:00:00+00', 'UTC')",
    "date_trunc('day', TIMESTAMPTZ '2020-03-29 02:00:00+00', 'Europe/Berlin')",
    "concat_ws(',', TIMESTAMPTZ '2020-07-01 12:00:00+00', 1, ARRAY[TIMESTAMPTZ '2020-03-29 01:30:00+00'])",
]

#: what shows a timestamptz in the session's zone through jsonb, array_to_string, extract's zone fields and to_char's
#: TZ (a POSIX offset shows the name part of its spelling)
ZONE_SHOWN = [
    "to_jsonb(TIMESTAMPTZ '2020-07-01 12:00:00.25+00')", "to_jsonb(TIMESTAMPTZ '1890-07-01 12:00:00+00')",
    "to_jsonb(ARRAY[TIMESTAMPTZ '2020-03-29 01:30:00+00', NULL])",
    "jsonb_build_object('a', TIMESTAMPTZ '2020-07-01 12:00:00+00', 'b', 1)",
    "jsonb_build_object(TIMESTAMPTZ '2020-03-29 01:30:00+00', 1)",
    "jsonb_build_array(1, TIMESTAMPTZ '2020-11-01 05:30:00+00', ARRAY[TIMESTAMPTZ '2020-11-01 06:30:00+00'])",
    "array_to_string(ARRAY[TIMESTAMPTZ '2020-07-01 12:00:00+00', NULL, TIMESTAMPTZ '2020-01-01 00:00:00.5+00'], ',', '*')",
    "to_char(TIMESTAMPTZ '2020-07-01 12:00:00+00', 'TZ tz FMtz OF TZH:TZM')",
    "extract(timezone FROM TIMESTAMPTZ '2020-07-01 12:00:00+00')",
    "extract(timezone_hour FROM TIMESTAMPTZ '2020-01-01 12:00:00+00')",
    "extract(timezone_minute FROM TIMESTAMPTZ '2020-07-01 12:00:00+00')",
    "date_part('timezone', TIMESTAMPTZ '1890-07-01 12:00:00+00')",
    "date_part('timezone_minute', TIMESTAMPTZ '2020-01-01 12:00:00+00')",
    "date_part('nonsense', TIMESTAMPTZ '2020-03-29 01:30:00+00')",
    "(SELECT jsonb_agg(t ORDER BY t) FROM (VALUES (TIMESTAMPTZ '2020-03-29 01:30:00+00'), "
    "(TIMESTAMPTZ '2020-10-25 00:30:00+00')) AS v(t))",
    "(SELECT jsonb_object_agg(t, t) FROM (VALUES (TIMESTAMPTZ '2020-03-29 01:30:00+00')) AS v(t))",
    "(SELECT string_agg(CAST(date_part(f, TIMESTAMPTZ '2020-03-29 01:30:00+00') AS text), ',' ORDER BY f) "
    "FROM (VALUES ('hour'), ('timezone'), ('epoch'), ('timezone_hour')) AS v(f))",
]

#: zone spellings for ZONE_SHOWN: DST zones, a 45-minute one, POSIX offsets with and without a name, UTC's names
SHOWN_ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC+3",
               "+05:30", "-03:30", "<+02>-02", "5.5", "GMT", "EST"]

#: array casts PostgreSQL computes element by element in the session's zone
ZONE_SHOWN += [
    "CAST(ARRAY[TIMESTAMPTZ '2020-07-01 02:00:00+00', NULL] AS text[])",
    "CAST(ARRAY[TIMESTAMPTZ '2020-07-01 02:00:00+00'] AS date[])",
    "CAST(ARRAY[TIMESTAMPTZ '2020-03-29 01:30:00+00'] AS timestamp[])",
    "CAST(ARRAY[TIMESTAMPTZ '2020-03-29 01:30:00+00'] AS time[])",
    "CAST(ARRAY[TIMESTAMP '2020-03-08 02:30:00', TIMESTAMP '2020-11-01 01:30:00'] AS timestamptz[])",
    "CAST(ARRAY[DATE '2020-07-01'] AS timestamptz[])",
    "CAST(ARRAY['2020-07-01 02:00', NULL] AS timestamptz[])",
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


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe",
                                  "UTC", "Europe/Amsterdam"])
def test_to_char_shows_the_zone_abbreviation(connections: Any, zone: str) -> None:
    _set_zone(connections, zone)
    for instant in ("2020-03-29 01:30:00+00", "2020-07-01 12:00:00+00", "1890-01-01 00:00:00+00"):
        same(connections, f"SELECT to_char(TIMESTAMPTZ '{instant}', 'TZ tz FMtz OF')")


@pytest.mark.parametrize("zone", SHOWN_ZONES)
def test_jsonb_array_to_string_and_zone_fields_show_the_zone(connections: Any, zone: str) -> None:
    _set_zone(connections, zone)
    try:
        for expression in ZONE_SHOWN:
            for binary in (False, True):
                same(connections, f"SELECT {expression}", binary=binary)
    finally:
        _set_zone(connections, "UTC")


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
                      "to_char(ts, 'YYYY-MM-DD HH24:MI')", "CAST(CAST(ts AS timestamp) AS timestamptz) = ts",
                      "ts + INTERVAL '1 day'", "ts - INTERVAL '1 month'", "ts + INTERVAL '1 day 2 hours'",
                      "ts - INTERVAL '1 year 3 days'", "age(ts, TIMESTAMPTZ '2020-01-01 00:00:00+00')",
                      "age(TIMESTAMPTZ '2020-10-25 01:30:00+00', ts)", "to_char(ts, 'OF TZH TZM FMOF')",
                      "date_bin(INTERVAL '1 day', ts, TIMESTAMPTZ '2001-01-01 00:00:00+00')",
                      "to_jsonb(ts)", "jsonb_build_array(ts)", "extract(timezone FROM ts)",
                      "date_part('timezone_minute', ts)", "to_char(ts, 'TZ tz')", "array_to_string(ARRAY[ts], ',')",
                      "CAST(ARRAY[ts] AS date[])", "CAST(ARRAY[CAST(ts AS timestamp)] AS timestamptz[])"]


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


VIEW_QUERY = ("SELECT k, CAST(ts AS date) AS d, date_trunc('day', ts) AS t, extract(hour FROM ts) AS h, "
              "CAST(ts AS text) AS s, to_char(ts, 'YYYY-MM-DD HH24:MI') AS c, CAST(ts AS timestamp) AS l FROM instants")


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
def test_views_answer_in_the_zone_they_were_created_in(connections: Any, zone: str) -> None:
    """A view (and a materialized view, an indexed view) created in a zone answers as PostgreSQL's view does in
    that zone; read from a session in another zone it is refused (0A000), never answered in the wrong zone."""
    ours, theirs = connections
    _set_zone(connections, "UTC")
    rows = "(1, '2020-03-29 00:30:00+00'), (2, '2020-10-24 22:30:00+00'), (3, '2020-03-08 06:30:00+00')"
    for conn in connections:
        conn.execute("DELETE FROM instants")
        conn.execute(f"INSERT INTO instants VALUES {rows}")
    _set_zone(connections, zone)
    for conn in connections:
        conn.execute(f"CREATE VIEW tz_view AS {VIEW_QUERY}")
        conn.execute("CREATE VIEW tz_over AS SELECT k, d, s FROM tz_view WHERE h > 0")
    ours.execute(f"CREATE MATERIALIZED VIEW tz_mv AS {VIEW_QUERY}")
    ours.execute("CREATE VIEW tz_indexed AS SELECT k, d, h FROM tz_view")
    ours.execute("CREATE INDEX tz_indexed_idx ON tz_indexed (k)")
    theirs.execute(f"CREATE VIEW tz_mv AS {VIEW_QUERY}")
    theirs.execute("CREATE VIEW tz_indexed AS SELECT k, d, h FROM tz_view")
    try:
        for binary in (False, True):
            for name in ("tz_view", "tz_over", "tz_mv", "tz_indexed"):
                same(connections, f"SELECT * FROM {name} ORDER BY k", binary=binary)
        other = "America/New_York" if zone != "America/New_York" else "UTC"
        ours.execute(f"SET TimeZone = '{other}'")
        for name in ("tz_view", "tz_over", "tz_mv", "tz_indexed"):
            answer = outcome(ours, f"SELECT * FROM {name}")
            assert answer[:2] == ("error", "0A000"), (name, answer)
        assert outcome(ours, "CREATE VIEW tz_refused AS SELECT * FROM tz_over")[:2] == ("error", "0A000")
    finally:
        ours.execute("SET TimeZone = 'UTC'")
        for conn in connections:
            conn.execute("DROP VIEW IF EXISTS tz_indexed")
            conn.execute("DROP VIEW IF EXISTS tz_over")
        ours.execute("DROP MATERIALIZED VIEW tz_mv")
        theirs.execute("DROP VIEW tz_mv")
        for conn in connections:
            conn.execute("DROP VIEW tz_view")


JSON_VIEW_QUERY = ("SELECT k, to_jsonb(ts) AS j, jsonb_build_object('t', ts) AS o, extract(timezone FROM ts) AS z, "
                   "date_part('timezone_hour', ts) AS zh, to_char(ts, 'HH24 TZ') AS c, "
                   "array_to_string(ARRAY[ts, ts + INTERVAL '1 hour'], ';') AS a FROM instants")
JSON_AGG_QUERY = ("SELECT k % 2 AS g, jsonb_agg(ts ORDER BY ts) AS j, jsonb_object_agg(k, ts) AS o "
                  "FROM instants GROUP BY k % 2")


@pytest.mark.parametrize("zone", ["America/New_York", "UTC+3", "Asia/Kathmandu"])
def test_maintained_jsonb_and_zone_fields_answer_in_the_creating_zone(connections: Any, zone: str) -> None:
    """Views, materialized views and indexed views of to_jsonb/jsonb_agg/extract(timezone)/to_char TZ/
    array_to_string of timestamptz, created in a zone, answer as PostgreSQL's views there (also after writes,
    which the maintained ones take in incrementally); from another zone they are refused (0A000)."""
    ours, theirs = connections
    _set_zone(connections, "UTC")
    rows = "(1, '2020-03-29 00:30:00+00'), (2, '2020-10-24 22:30:00+00'), (3, '2020-03-08 06:30:00+00')"
    for conn in connections:
        conn.execute("DELETE FROM instants")
        conn.execute(f"INSERT INTO instants VALUES {rows}")
    _set_zone(connections, zone)
    for conn in connections:
        conn.execute(f"CREATE VIEW tz_json AS {JSON_VIEW_QUERY}")
        conn.execute(f"CREATE VIEW tz_json_agg AS {JSON_AGG_QUERY}")
    ours.execute(f"CREATE MATERIALIZED VIEW tz_json_mv AS {JSON_VIEW_QUERY}")
    ours.execute(f"CREATE MATERIALIZED VIEW tz_json_agg_mv AS {JSON_AGG_QUERY}")
    ours.execute("CREATE INDEX tz_json_agg_idx ON tz_json_agg (g)")
    theirs.execute(f"CREATE VIEW tz_json_mv AS {JSON_VIEW_QUERY}")
    theirs.execute(f"CREATE VIEW tz_json_agg_mv AS {JSON_AGG_QUERY}")
    try:
        for step in range(2):
            if step:  # writes after creation: the maintained results follow
                for conn in connections:
                    conn.execute("INSERT INTO instants VALUES (4, '2020-11-01 05:30:00+00'), "
                                 "(5, '1890-01-01 00:00:00+00')")
                    conn.execute("DELETE FROM instants WHERE k = 1")
            for binary in (False, True):
                for name in ("tz_json", "tz_json_mv"):
                    same(connections, f"SELECT * FROM {name} ORDER BY k", binary=binary)
                for name in ("tz_json_agg", "tz_json_agg_mv"):
                    same(connections, f"SELECT * FROM {name} ORDER BY g", binary=binary)
        ours.execute("SET TimeZone = 'Europe/Berlin'")
        for name in ("tz_json", "tz_json_mv", "tz_json_agg", "tz_json_agg_mv"):
            assert outcome(ours, f"SELECT * FROM {name}")[:2] == ("error", "0A000"), name
    finally:
        ours.execute("SET TimeZone = 'UTC'")
        ours.execute("DROP MATERIALIZED VIEW tz_json_mv")
        ours.execute("DROP MATERIALIZED VIEW tz_json_agg_mv")
        theirs.execute("DROP VIEW tz_json_mv")
        theirs.execute("DROP VIEW tz_json_agg_mv")
        for conn in connections:
            conn.execute("DROP VIEW tz_json_agg")
            conn.execute("DROP VIEW tz_json")


def test_a_literal_in_a_view_is_read_in_the_creating_zone(connections: Any) -> None:
    """PostgreSQL folds a literal into the view's definition once: readers in any zone get the same rows."""
    ours, theirs = connections
    _set_zone(connections, "UTC")
    for conn in connections:
        conn.execute("DELETE FROM instants")
        conn.execute("INSERT INTO instants VALUES (1, '2020-06-01 03:00:00+00'), (2, '2020-06-01 05:00:00+00')")
    _set_zone(connections, "America/New_York")
    for conn in connections:
        conn.execute("CREATE VIEW tz_literal AS SELECT k FROM instants WHERE ts > '2020-06-01 00:00'")
    try:
        for zone in ("UTC", "Europe/Berlin", "America/New_York"):
            _set_zone(connections, zone)
            same(connections, "SELECT k FROM tz_literal ORDER BY k")
    finally:
        for conn in connections:
            conn.execute("DROP VIEW tz_literal")


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


def test_a_prepared_statement_answers_in_the_zone_it_is_executed_in(connections: Any, server: Any,
                                                                    postgres_server: str) -> None:
    """psycopg's server-side prepared statement, planned under UTC and executed after ``SET TimeZone``: in the new
    zone, as PostgreSQL (the extended protocol's Execute plans the statement again here)."""
    ours = server.connect(prepare_threshold=0)
    theirs = psycopg.connect(postgres_server, autocommit=True, prepare_threshold=0)
    try:
        theirs.execute("SET search_path = timezone_diff")
        query = ("SELECT k, CAST(ts AS text), CAST(ts AS date), extract(hour FROM ts), date_trunc('day', ts) "
                 "FROM instants ORDER BY k")
        for conn in (ours, theirs):
            conn.execute("SET TimeZone = 'UTC'")
            conn.execute("DELETE FROM instants")
            conn.execute("INSERT INTO instants VALUES (1, '2020-03-29 00:30:00+00'), (2, '2020-10-24 22:30:00+00')")
        answers = []
        for conn in (ours, theirs):
            first = conn.execute(query, prepare=True).fetchall()
            conn.execute("SET TimeZone = 'America/New_York'")
            answers.append((first, conn.execute(query, prepare=True).fetchall()))
        assert answers[0] == answers[1]
        assert answers[0][0] != answers[0][1]
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu", "UTC+2"])
def test_input_without_an_offset_is_read_in_the_zone(connections: Any, zone: str) -> None:
    """Literals in INSERT (the fast path), parameters (text and typed), arrays and COPY of a timestamptz[]: a value
    without an offset is wall-clock time in the session's zone, as in PostgreSQL."""
    ours, theirs = connections
    _set_zone(connections, "UTC")
    for conn in connections:
        conn.execute("DROP TABLE IF EXISTS stamps")
        conn.execute("CREATE TABLE stamps (k int, ts timestamptz, a timestamptz[])")
    _set_zone(connections, zone)
    try:
        for conn in connections:
            conn.execute("INSERT INTO stamps VALUES (1, '2020-07-01 12:00:00', '{\"2020-07-01 12:00\",NULL}')")
            conn.execute("INSERT INTO stamps (k, ts) VALUES (2, %s)", ["2020-03-08 02:30:00"])
            conn.execute("INSERT INTO stamps (k, ts) VALUES (3, %s::timestamptz)", ["2020-11-01 01:30:00"])
            conn.execute("INSERT INTO stamps (k, a) VALUES (4, %s)", ["{2020-11-01 01:30:00}"])
            conn.execute("INSERT INTO stamps (k, ts, a) VALUES (5, CAST(%s AS text)::timestamptz, "
                         "CAST('{\"2020-01-01 00:00\"}' AS timestamptz[]))", ["2020-01-01 00:00"])
            conn.execute("INSERT INTO stamps (k, a) SELECT 7, CAST(t AS timestamptz[]) FROM (VALUES (CAST(%s AS text))) "
                         "AS v(t)", ["{\"2020-03-08 02:30\",\"2020-03-08 02:30+01\"}"])
            with conn.cursor().copy("COPY stamps (k, ts, a) FROM STDIN") as copy:
                copy.write(b"6\t2020-07-01 12:00:00\t{\"2020-07-01 12:00\",\"2020-07-01 12:00+00\"}\n")
        same(connections, "SELECT k, ts, a FROM stamps ORDER BY k")
        same(connections, "SELECT k, ts, a FROM stamps ORDER BY k", binary=True)
        for value in ("2020-07-01 12:00:00", "2020-07-01 12:00:00+03"):
            answers = [conn.execute("SELECT %s::timestamptz, %s::timestamptz[]", [value, "{" + value + "}"])
                       .fetchall() for conn in connections]
            assert answers[0] == answers[1], value
    finally:
        _set_zone(connections, "UTC")
        for conn in connections:
            conn.execute("DROP TABLE stamps")


class _Stamp(str):
    """Text sent as a parameter declared timestamptz (oid 1184), in text format."""


class _Stamps(str):
    """Text sent as a parameter declared timestamptz[] (oid 1185), in text format."""


class _StampDumper(psycopg.adapt.Dumper):
    oid = 1184

    def dump(self, obj: str) -> bytes:
        return obj.encode()


class _StampsDumper(_StampDumper):
    oid = 1185


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu", "UTC"])
def test_parameters_declared_timestamptz_are_read_in_the_zone(connections: Any, zone: str) -> None:
    """A Bind parameter the client declares timestamptz (or timestamptz[]), in text without an offset: wall-clock
    time in the session's zone, as PostgreSQL reads it."""
    _set_zone(connections, zone)
    answers = []
    for conn in connections:
        cursor = conn.cursor()
        cursor.adapters.register_dumper(_Stamp, _StampDumper)
        cursor.adapters.register_dumper(_Stamps, _StampsDumper)
        rows = []
        for text in ("2020-07-01 12:00:00", "2020-03-08 02:30:00", "2020-11-01 01:30:00", "2020-07-01 12:00:00+02",
                     "2020-07-01 12:00:00 UTC"):
            cursor.execute("SELECT CAST(%s AS text), CAST(%s AS text)", [_Stamp(text), _Stamps("{" + f'"{text}"' + "}")])
            rows.append(cursor.fetchall())
        answers.append(rows)
    _set_zone(connections, "UTC")
    assert answers[0] == answers[1]


def test_spellings_of_utc_that_show_another_abbreviation_are_other_zones(connections: Any) -> None:
    """A view of to_char's TZ created under GMT shows GMT (PostgreSQL's view would show UTC to a UTC reader): read
    from a UTC session it is refused; UTC and Etc/UTC show UTC alike and share it."""
    ours, theirs = connections
    _set_zone(connections, "GMT")
    ours.execute("CREATE VIEW tz_gmt AS SELECT to_char(TIMESTAMPTZ '2020-07-01 00:00:00+00', 'TZ') AS z")
    _set_zone(connections, "UTC")
    ours.execute("CREATE VIEW tz_utc AS SELECT to_char(TIMESTAMPTZ '2020-07-01 00:00:00+00', 'TZ') AS z")
    try:
        assert outcome(ours, "SELECT * FROM tz_gmt")[:2] == ("error", "0A000")
        _set_zone(connections, "Etc/UTC")
        assert ours.execute("SELECT * FROM tz_utc").fetchall() == theirs.execute(
            "SELECT to_char(TIMESTAMPTZ '2020-07-01 00:00:00+00', 'TZ')").fetchall() == [("UTC",)]
        _set_zone(connections, "GMT")
        assert ours.execute("SELECT * FROM tz_gmt").fetchall() == theirs.execute(
            "SELECT to_char(TIMESTAMPTZ '2020-07-01 00:00:00+00', 'TZ')").fetchall() == [("GMT",)]
    finally:
        _set_zone(connections, "UTC")
        ours.execute("DROP VIEW tz_gmt")
        ours.execute("DROP VIEW tz_utc")
