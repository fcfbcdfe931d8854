"""Date and time semantics against the real PostgreSQL server (TimeZone UTC on both, as Materialize requires).

Hypothesis generates timestamps, dates, times and intervals (fields of mixed signs, fractions that spill from
months into days and from days into hours, month ends) and runs the same statements on a real steadystate server
and on PostgreSQL: casts from text in PostgreSQL's input forms, every date/time operator of PostgreSQL's table
(``timestamp + interval``, ``timestamp - timestamp``, ``interval * float``, ``date + time``, ...), ``extract``
(numeric) and ``date_part`` (double precision) of every field, ``date_trunc``, comparisons, and writes of each type
into a table read back in text and binary format.  Answers are compared raw off the wire (type OIDs, typmods,
value bytes) and errors by SQLSTATE and message, as in test_scalar_postgres.py.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import copy_outcome, postgres_server, quote, same

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

TYPES = ["date", "time", "timestamp", "timestamptz", "interval"]


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP SCHEMA IF EXISTS temporal_diff CASCADE")
    theirs.execute("CREATE SCHEMA temporal_diff")
    theirs.execute("SET search_path = temporal_diff")
    theirs.execute("SET TimeZone = 'UTC'")
    for conn in (ours, theirs):
        for typ in TYPES:
            conn.execute(f"CREATE TABLE w_{typ} (k int, v {typ})")
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


# ------------------------------------------------------------------------------------------------ values

TIMESTAMPS = st.one_of(
    st.datetimes(min_value=_dt.datetime(1900, 1, 1), max_value=_dt.datetime(2100, 12, 31)),
    st.sampled_from([_dt.datetime(2024, 1, 31, 10), _dt.datetime(2024, 2, 29), _dt.datetime(2023, 12, 31, 23, 59,
                                                                                              59, 999999)]),
).map(lambda t: t.isoformat(sep=" "))
DATES = st.dates(min_value=_dt.date(1900, 1, 1), max_value=_dt.date(2100, 12, 31)).map(_dt.date.isoformat)
TIMES = st.times().map(lambda t: t.isoformat())
ZONED = st.tuples(TIMESTAMPS, st.sampled_from(["", "+00", "Z", "+02", "-05:30", " UTC"])).map("".join)

_UNIT_WORDS = ["year", "years", "mon", "mons", "month", "day", "days", "hour", "hours", "minute", "min", "second",
               "secs", "week", "microseconds", "milliseconds", "decade"]


@st.composite
def interval_text(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        number = draw(st.one_of(st.integers(-40, 40).map(str),
                                st.tuples(st.integers(-9, 9), st.integers(0, 99)).map(lambda p: f"{p[0]}.{p[1]}")))
        parts.append(f"{number} {draw(st.sampled_from(_UNIT_WORDS))}")
    if draw(st.booleans()):
        hours, minutes, seconds = draw(st.integers(0, 30)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
        sign = draw(st.sampled_from(["", "-", "+"]))
        parts.append(f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}" + draw(st.sampled_from(["", ".5", ".000123"])))
    if draw(st.integers(0, 5)) == 0:
        parts.append("ago")
    return " ".join(parts)


INTERVALS = st.one_of(interval_text(), st.sampled_from([
    "1 mon", "30 days", "1 day", "24 hours", "-1 day +02:00:00", "1.5 months", "1.5 days", "P1Y2M3DT4H5M6S",
    "@ 3 days ago", "10", "1:30", "0", "-00:00:01", "1 year -1 mon", "2 weeks", "1 century",
]))

VALUES = {"date": DATES, "time": TIMES, "timestamp": TIMESTAMPS, "timestamptz": ZONED, "interval": INTERVALS}

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_keys = itertools.count()


def typed(typ: str, text: str) -> str:
    return f"CAST({quote(text)} AS {typ})"


@SETTINGS
@given(data=st.data(), typ=st.sampled_from(TYPES))
def test_casts_and_output_agree_with_postgresql(connections: Any, data: st.DataObject, typ: str) -> None:
    text = data.draw(VALUES[typ])
    same(connections, f"SELECT {typed(typ, text)} AS v")
    same(connections, f"SELECT {typed(typ, text)} AS v", binary=True)
    same(connections, f"SELECT CAST({typed(typ, text)} AS text) AS v")


@SETTINGS
@given(data=st.data(), typ=st.sampled_from(["timestamp", "timestamptz", "time"]), precision=st.integers(0, 7))
def test_fractional_second_precisions_agree_with_postgresql(connections: Any, data: st.DataObject, typ: str,
                                                           precision: int) -> None:
    text = data.draw(VALUES[typ])
    if typ == "time" and text >= "23:59:59.5":
        return  # PostgreSQL rounds these up to 24:00:00, which steadystate refuses (0A000)
    same(connections, f"SELECT CAST({quote(text)} AS {typ}({precision})) AS v")
    same(connections, f"SELECT CAST({quote(text)} AS {typ}({precision})) AS v", binary=True)


#: (left type, operator, right type) of PostgreSQL's date/time operators
OPERATORS = [
    ("date", "+", "integer"), ("date", "-", "integer"), ("date", "-", "date"), ("date", "+", "interval"),
    ("date", "-", "interval"), ("date", "+", "time"), ("timestamp", "+", "interval"), ("timestamp", "-", "interval"),
    ("timestamp", "-", "timestamp"), ("timestamptz", "+", "interval"), ("timestamptz", "-", "interval"),
    ("timestamptz", "-", "timestamptz"), ("time", "+", "interval"), ("time", "-", "interval"), ("time", "-", "time"),
    ("interval", "+", "interval"), ("interval", "-", "interval"), ("interval", "+", "timestamp"),
    ("interval", "*", "double precision"), ("double precision", "*", "interval"), ("interval", "/", "double precision"),
    ("timestamp", "<", "timestamptz"), ("date", "=", "timestamp"), ("interval", "<", "interval"),
    ("interval", "=", "interval"), ("time", ">", "time"),
]
FACTORS = st.sampled_from(["2", "0.5", "-1.5", "3.25", "1e-3", "0", "7"])
INTEGERS = st.integers(-1000, 1000).map(str)


@SETTINGS
@given(data=st.data(), operator=st.sampled_from(OPERATORS))
def test_operators_agree_with_postgresql(connections: Any, data: st.DataObject,
                                         operator: tuple[str, str, str]) -> None:
    left, symbol, right = operator

    def value(typ: str) -> str:
        strategy = {"integer": INTEGERS, "double precision": FACTORS, **VALUES}[typ]
        return typed(typ, data.draw(strategy))

    same(connections, f"SELECT {value(left)} {symbol} {value(right)} AS v")
    same(connections, f"SELECT -{typed('interval', data.draw(INTERVALS))} AS v")


FIELDS = ["year", "month", "day", "hour", "minute", "second", "millisecond", "microsecond", "epoch", "dow", "isodow",
          "doy", "week", "isoyear", "quarter", "decade", "century", "millennium"]


@SETTINGS
@given(data=st.data(), typ=st.sampled_from(TYPES), field=st.sampled_from(FIELDS))
def test_extract_and_date_part_agree_with_postgresql(connections: Any, data: st.DataObject, typ: str,
                                                     field: str) -> None:
    value = typed(typ, data.draw(VALUES[typ]))
    same(connections, f"SELECT EXTRACT({field} FROM {value}) AS v")
    same(connections, f"SELECT date_part('{field}', {value}) AS v")


TRUNC_UNITS = ["microseconds", "milliseconds", "second", "minute", "hour", "day", "month", "quarter", "year",
               "decade", "century", "millennium"]


@SETTINGS
@given(data=st.data(), typ=st.sampled_from(["timestamp", "timestamptz", "interval", "date"]),
       unit=st.sampled_from(TRUNC_UNITS + ["week"]))
def test_date_trunc_agrees_with_postgresql(connections: Any, data: st.DataObject, typ: str, unit: str) -> None:
    same(connections, f"SELECT date_trunc('{unit}', {typed(typ, data.draw(VALUES[typ]))}) AS v")


@SETTINGS
@given(data=st.data(), typ=st.sampled_from(TYPES))
def test_writes_agree_with_postgresql(connections: Any, data: st.DataObject, typ: str) -> None:
    text = data.draw(VALUES[typ])
    key = next(_keys)
    table = f"w_{typ}"
    read = f"SELECT k, v FROM {table} WHERE k = {key}"
    if same(connections, f"INSERT INTO {table} VALUES ({key}, {quote(text)})")[0] == "ok":
        same(connections, read)
        same(connections, read, binary=True)
        same(connections, f"SELECT k FROM {table} WHERE v = {quote(text)} AND k = {key}")
    same(connections, f"DELETE FROM {table} WHERE k = {key}")
    ours, theirs = connections
    line = f"{key}\t{text}"
    assert copy_outcome(ours, table, line) == copy_outcome(theirs, table, line), f"COPY {table}: {line!r}"
    same(connections, read)
    same(connections, f"DELETE FROM {table} WHERE k = {key}")


@pytest.mark.parametrize("sql", [
    "SELECT sum(v), avg(v), min(v), max(v) FROM (VALUES (INTERVAL '1 day'), (INTERVAL '2 hours'), "
    "(INTERVAL '1 mon 3 days')) AS t(v)",
    "SELECT v, count(*) FROM (VALUES (INTERVAL '1 mon'), (INTERVAL '30 days'), (INTERVAL '1 day')) AS t(v) "
    "GROUP BY v ORDER BY v",
    "SELECT CAST('2024-01-01 10:00:00+02' AS timestamptz) = CAST('2024-01-01 08:00:00' AS timestamp)",
    "SELECT date_trunc('week', CAST('2024-05-09 10:00' AS timestamp))",
    "SELECT CAST(CAST('2024-05-09 10:00:00+00' AS timestamptz) AS date), "
    "CAST(CAST('2024-05-09 10:00:00+00' AS timestamptz) AS time)",
    "SELECT CAST(CAST('25:00:00' AS interval) AS time)", "SELECT CAST(CAST('10:30' AS time) AS interval)",
    "SELECT CAST('1 fortnight' AS interval)", "SELECT CAST('' AS interval)",
    "SELECT EXTRACT(julian FROM CAST('2020-01-01' AS date))",
    "SELECT CAST('2024-02-30' AS date)", "SELECT CAST('24:00:01' AS time)",
    "SELECT INTERVAL '1 day' + 1", "SELECT INTERVAL '1 day' + INTERVAL '2 hours'", "SELECT DATE '2024-01-01' + '1 day'",
    "SELECT TIMESTAMP '2024-01-01' - '2023-01-01'", "SELECT CAST('2024-01-01' AS date) + '1'",
    "SELECT CAST('1 mon' AS interval) / 3.25", "SELECT date_part('millisecond', CAST('00:00:02.321586' AS time))", "SELECT CAST('1 mon 1 day' AS interval) * 0.3",
])
def test_statements_agree_with_postgresql(connections: Any, sql: str) -> None:
    same(connections, sql)


def test_now_is_the_statements_time_and_refused_where_maintained(connections: Any) -> None:
    ours, _ = connections
    before = _dt.datetime.now(_dt.timezone.utc)
    (now, today, local), = ours.execute("SELECT now(), current_date, localtimestamp").fetchall()
    after = _dt.datetime.now(_dt.timezone.utc)
    assert before <= now <= after and today == now.date() and local == now.replace(tzinfo=None)
    for ddl in ("CREATE VIEW v_now AS SELECT now()", "CREATE MATERIALIZED VIEW mv_now AS SELECT current_date"):
        # (a column DEFAULT now() is each write's time: test_default_now_postgres.py)
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            ours.execute(ddl)
    with pytest.raises(psycopg.errors.InvalidParameterValue):  # other zones: test_timezone_postgres.py
        ours.execute("SET TimeZone = 'America/Nowhere'")
