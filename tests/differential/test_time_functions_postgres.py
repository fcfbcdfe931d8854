"""Date/time constructors, zones and binning against the real PostgreSQL server (TimeZone UTC on both).

Hypothesis draws field values (valid ones and ones just outside their ranges), epochs, strides, pairs of timestamps
and IANA zones, including local times that a zone skips or repeats; the same statements run on steadystate and on
PostgreSQL and their answers are compared raw off the wire (type OIDs, value bytes; errors by SQLSTATE and message),
as in test_temporal_postgres.py: ``make_date``, ``make_timestamp``, ``make_timestamptz`` (with and without a zone),
``make_interval`` (positional and named), ``to_timestamp(double)``, ``date_bin``, ``age``, ``AT TIME ZONE`` /
``timezone()`` both ways, ``make_time`` and ``justify_days``/``justify_hours``/``justify_interval`` (fields up to
int32's range).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import example, given, settings, strategies as st

from scalar_support import postgres_server, quote, same

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

ZONES = ["UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata", "Australia/Lord_Howe", "america/sao_paulo",
         "Pacific/Chatham", "Africa/Casablanca", "Nowhere/Special"]
TIMESTAMPS = st.one_of(
    st.datetimes(min_value=_dt.datetime(1900, 1, 1), max_value=_dt.datetime(2100, 12, 31)),
    # around the 2024 transitions of New York and Paris (gaps and overlaps)
    st.sampled_from([_dt.datetime(2024, 3, 10, 2, 30), _dt.datetime(2024, 11, 3, 1, 30), _dt.datetime(2024, 3, 31, 2, 15),
                     _dt.datetime(2024, 10, 27, 2, 45), _dt.datetime(2024, 2, 29, 23, 59, 59, 999999)]),
).map(lambda t: t.isoformat(sep=" "))


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("SET TimeZone = 'UTC'")
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


@settings(max_examples=60, deadline=None)
@given(year=st.integers(-1, 3000), month=st.integers(0, 13), day=st.integers(0, 32), hour=st.integers(-1, 25),
       minute=st.integers(-1, 60), second=st.one_of(st.floats(-1, 61, allow_nan=False), st.sampled_from([0.0, 60.0])),
       zone=st.sampled_from(ZONES))
def test_make_functions_agree_with_postgresql(connections: Any, year: int, month: int, day: int, hour: int,
                                              minute: int, second: float, zone: str) -> None:
    if year == -1:
        year = 1  # BC years are not representable here
    same(connections, f"SELECT make_date({year}, {month}, {day}) AS v")
    same(connections, f"SELECT make_timestamp({year}, {month}, {day}, {hour}, {minute}, {second!r}) AS v")
    same(connections, f"SELECT make_timestamptz({year}, {month}, {day}, {hour}, {minute}, {second!r}) AS v")
    if year > 1:  # in year 1 a zone east of UTC gives a BC instant, which is not representable here
        same(connections, f"SELECT make_timestamptz({year}, {month}, {day}, {hour}, {minute}, {second!r}, "
                          f"{quote(zone)}) AS v")


@settings(max_examples=60, deadline=None)
@given(fields=st.lists(st.integers(-1000, 1000), min_size=6, max_size=6), secs=st.floats(-1e6, 1e6),
       named=st.sets(st.sampled_from(["years", "months", "weeks", "days", "hours", "mins", "secs"])))
def test_make_interval_agrees_with_postgresql(connections: Any, fields: list[int], secs: float, named: set[str]) -> None:
    same(connections, f"SELECT make_interval({', '.join(map(str, fields))}, {secs!r}) AS v")
    values = dict(zip(["years", "months", "weeks", "days", "hours", "mins"], fields), secs=secs)
    if named:
        same(connections, "SELECT make_interval(" + ", ".join(f"{k} => {values[k]!r}" for k in sorted(named)) + ") AS v")


@settings(max_examples=80, deadline=None)
@given(seconds=st.one_of(st.floats(-2e9, 5e9, allow_nan=False), st.integers(-2_000_000_000, 5_000_000_000),
                         st.sampled_from(["'NaN'::float8", "1e20"])))
def test_to_timestamp_agrees_with_postgresql(connections: Any, seconds: Any) -> None:
    same(connections, f"SELECT to_timestamp({seconds}) AS v")
    same(connections, f"SELECT to_timestamp({seconds}) AS v", binary=True)


@settings(max_examples=80, deadline=None)
@given(source=TIMESTAMPS, origin=TIMESTAMPS, stride=st.sampled_from(
    ["15 minutes", "1 hour", "7 days", "1 day 2 hours", "90 seconds", "0.5 seconds", "0 seconds", "-1 hour",
     "1 month"]), typ=st.sampled_from(["timestamp", "timestamptz"]))
def test_date_bin_agrees_with_postgresql(connections: Any, source: str, origin: str, stride: str, typ: str) -> None:
    same(connections, f"SELECT date_bin(INTERVAL {quote(stride)}, {typ} {quote(source)}, {typ} {quote(origin)}) AS v")


@settings(max_examples=100, deadline=None)
@given(a=TIMESTAMPS, b=TIMESTAMPS, typ=st.sampled_from(["timestamp", "timestamptz", "date"]))
def test_age_agrees_with_postgresql(connections: Any, a: str, b: str, typ: str) -> None:
    if typ == "date":
        a, b = a[:10], b[:10]
    same(connections, f"SELECT age({typ} {quote(a)}, {typ} {quote(b)}) AS v")


@settings(max_examples=100, deadline=None)
@given(value=TIMESTAMPS, zone=st.sampled_from(ZONES), typ=st.sampled_from(["timestamp", "timestamptz"]))
def test_at_time_zone_agrees_with_postgresql(connections: Any, value: str, zone: str, typ: str) -> None:
    same(connections, f"SELECT {typ} {quote(value)} AT TIME ZONE {quote(zone)} AS v")
    same(connections, f"SELECT timezone({quote(zone)}, {typ} {quote(value)}) AS v")


_PATTERNS = ["YYYY", "YYY", "YY", "Y", "Y,YYY", "IYYY", "IY", "CC", "Q", "MM", "Month", "MONTH", "month", "Mon", "MON",
             "mon", "RM", "rm", "DD", "DDD", "D", "ID", "IW", "WW", "W", "J", "Day", "DAY", "day", "Dy", "DY", "dy",
             "HH", "HH12", "HH24", "hh24", "MI", "SS", "MS", "US", "SSSS", "AM", "pm", "A.M.", "p.m.", "TZ", "tz", "OF",
             "yyyy", "mm", "dd", "TZH", "TZM", "IDDD", "tzh", "tzm", "of"]
_TEMPLATE_PIECES = st.one_of(
    st.sampled_from(_PATTERNS),
    st.sampled_from(_PATTERNS).map(lambda p: "FM" + p),
    st.sampled_from(["DD", "MM", "HH24", "YYYY", "D"]).flatmap(lambda p: st.sampled_from([p + "TH", p + "th"])),
    st.sampled_from(["-", " ", ":", ".", "/", ", ", '"T"', '"at" ', "\\\\", "x"]),
)


@settings(max_examples=150, deadline=None)
@given(value=TIMESTAMPS, pieces=st.lists(_TEMPLATE_PIECES, min_size=1, max_size=6),
       typ=st.sampled_from(["timestamp", "timestamptz", "date"]))
@example(value="2024-03-10 02:30:00", pieces=["tz", "mon"], typ="timestamp")  # "tzm" + "on": the longest keyword
def test_to_char_agrees_with_postgresql(connections: Any, value: str, pieces: list[str], typ: str) -> None:
    literal = value[:10] if typ == "date" else value
    same(connections, f"SELECT to_char({typ} {quote(literal)}, {quote(''.join(pieces))}) AS v")


INTERVAL_FIELDS = st.one_of(st.integers(-400, 400), st.integers(-2 ** 31, 2 ** 31 - 1))


@settings(max_examples=80, deadline=None)
@given(months=INTERVAL_FIELDS, days=INTERVAL_FIELDS, micros=st.one_of(
    st.integers(-10 * 86_400_000_000, 10 * 86_400_000_000), st.integers(-2 ** 62, 2 ** 62)),
    hour=st.integers(-1, 25), minute=st.integers(-1, 60), second=st.floats(-1, 61, allow_nan=False))
def test_justify_and_make_time_agree_with_postgresql(connections: Any, months: int, days: int, micros: int,
                                                     hour: int, minute: int, second: float) -> None:
    value = f"make_interval(months => {months}, days => {days}) + {micros} * interval '1 microsecond'"
    same(connections, f"SELECT justify_days({value}) AS a, justify_hours({value}) AS b")
    same(connections, f"SELECT justify_interval({value}) AS v")
    if (hour, minute, round(second * 1_000_000)) not in ((24, 0, 0),):  # PostgreSQL's 24:00:00 is refused here
        same(connections, f"SELECT make_time({hour}, {minute}, {second!r}) AS v")
