"""``to_date(text, text)`` and ``to_timestamp(text, text)`` against the real PostgreSQL server.

Hypothesis draws timestamps and renders each through a date/time template with PostgreSQL's own ``to_char``; both
servers parse the text back with the same template (and with a ``FM`` variant, and with the text mangled), and
their answers are compared raw off the wire (type OIDs, value bytes; errors by SQLSTATE and message).  Fixed
cases cover the reading rules (separators, spaces, ``FX``, quoted text, ``TH``, field conflicts, the 12-hour
clock, ``CC``/``J``/``DDD``/``WW``, ``TZH``/``TZM``) and malformed input; ``to_timestamp`` runs in UTC and in
other session zones; a materialized view over a table of text columns is compared after each change.  A form
steadystate refuses (0A000: BC, TM, SP, years outside 1..9999) must be one PostgreSQL accepts or
rejects too, never a different answer.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from scalar_support import outcome, postgres_server, quote, same

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

TEMPLATES = [
    "YYYY-MM-DD", "YYYY-MM-DD HH24:MI:SS", "YYYY-MM-DD HH24:MI:SS.US", "DD Mon YYYY HH12:MI AM", "Month DD, YYYY",
    "YYYYMMDDHH24MISS", "DD/MM/YY", "YYYY DDD", "J", "Y,YYY MM DD", "DD.MM.YYYY HH:MI:SS P.M.", "YYYY-MM-DD\"T\"HH24:MI",
    "CC YY MM DD", "Day, DD MONTH YYYY", "YYYY RM DD", "DDth \"of\" Mon YYYY", "YYYY-MM-DD HH24:MI:SS.MS",
    "YYYY-MM-DD HH24:MI:SS.FF3", "YYYY MM DD SSSS", "YYYY-MM-DD HH24:MI:SS TZH:TZM", "YY-MM-DD", "YYYY-MM",
    "FXYYYY-MM-DD HH24:MI", "Q YYYY MM DD", "YYYY WW D", "HH24:MI YYYY-MM-DD", "IYYY-IW-ID", "IYYY IDDD HH24",
    "IYYY-IW Dy", "IY IW", "YYYY-MM-DD AD",
]
DATES = st.datetimes(min_value=_dt.datetime(1001, 1, 1), max_value=_dt.datetime(9998, 12, 31))


@pytest.fixture(scope="module", autouse=True)
def _utc(connections: tuple[psycopg.Connection, psycopg.Connection]) -> None:
    connections[1].execute("SET TimeZone = 'UTC'")  # steadystate's default


def _agree(connections: Any, sql: str) -> None:
    """The same answer, or steadystate refuses (0A000) where PostgreSQL answers: never a different answer."""
    ours, theirs = connections
    mine, expected = outcome(ours, sql), outcome(theirs, sql)
    if mine[0] == "error" and mine[1] == "0A000" and "not supported" in mine[2]:
        return
    assert mine == expected, f"{sql}\n  steadystate: {mine}\n  PostgreSQL:  {expected}"


def _rendered(theirs: psycopg.Connection, value: _dt.datetime, template: str) -> str:
    row = theirs.execute("SELECT to_char(%s::timestamp, %s)", (value, template)).fetchone()
    assert row is not None
    return str(row[0])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=DATES, template=st.sampled_from(TEMPLATES), fill=st.booleans())
def test_rendered_timestamps_parse_back_as_postgresql_does(connections: Any, value: _dt.datetime, template: str,
                                                           fill: bool) -> None:
    _, theirs = connections
    if fill:
        template = template.replace("MM", "FMMM").replace("DD", "FMDD").replace("HH24", "FMHH24")
    text = _rendered(theirs, value, template)
    for function in ("to_date", "to_timestamp"):
        same(connections, f"SELECT {function}({quote(text)}, {quote(template)}) AS v")
    same(connections, f"SELECT to_timestamp({quote(text)}, {quote(template)}) AS v", binary=True)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=DATES, template=st.sampled_from(TEMPLATES), cut=st.integers(0, 30),
       insert=st.sampled_from(["", " ", "  ", "-", "x", "0", "9", "/", "+", ".", "AM", "Z"]))
def test_mangled_text_fails_or_parses_as_postgresql_does(connections: Any, value: _dt.datetime, template: str,
                                                         cut: int, insert: str) -> None:
    _, theirs = connections
    text = _rendered(theirs, value, template)
    text = text[:cut] + insert + text[cut + 1:]
    for function in ("to_date", "to_timestamp"):
        _agree(connections, f"SELECT {function}({quote(text)}, {quote(template)}) AS v")


CASES = [
    ("2020 -03", "YYYY-MM"), ("2020", "fxYYYY"), ("2020-02-30", "YYYY-MM-DD"), ("2020-01-01 13", "YYYY-MM-DD HH"),
    ("2020-01-01 1 p.m.", "YYYY-MM-DD HH a.m."), ("20200304", "YYYYMMDD"), ("2020 03", "YYYYMM"),
    ("2020 1.5", "YYYY FF1"), ("2020 x", "YYYY TZ"), ("2020 x", "YYYY OF"), ("05 Decem 2000", "DD MONTH YYYY"),
    ("2000 xii 05", "YYYY rm DD"), ("20 1 1", "CC YY DD"), ("21", "CC"), ("2020 1st 3", "YYYY DDth MM"),
    ("2020  ab 3", 'YYYY "ab" MM'), ("2020#$03", "YYYY-MM"), ("2020#03", "YYYY--MM"), ("2020ab", "YYYYMM"),
    ("2020  3", "FXYYYY MM"), ("2020 03", "FXYYYY-MM"), ("2020-12-4", "YYYY-MM-MM"), ("2020-12-12", "YYYY-MM-MM"),
    ("abc", "YYYY"), ("12", "YYYY"), ("1234567", "YYYYMMDD"), ("2020-01-01 25:00", "YYYY-MM-DD HH24:MI"),
    ("2020-01-01 23:59:59.9", "YYYY-MM-DD HH24:MI:SS.US"), ("2020-01-01-05", "YYYY-MM-DD TZH"),
    ("2020-01-01 16:00", "YYYY-MM-DD TZH:TZM"), ("2020-01-01 86400", "YYYY-MM-DD SSSSS"), ("Xyz 2020 03", "Dy YYYY MM"),
    ("   2020 3 2", "YYYY MM DD"), ("2020 3 2", "   YYYY MM DD"), ("2020/03/02", "YYYY MM DD"), ("0520 3 2", "YYY MM DD"),
    ("2020 -3 2", "YYYY MM DD"), ("2020 10 3", "IYYY IW D"), ("10 3", "IW ID"), ("97", "IDID"), ("66", "II"), ("2020 a.d.", "YYYY A.D."), ("2020 A.D. 3", "YYYY b.c. MM"),
    ("2020 xx", "YYYY AD"), ("2020 bc", "YYYY BC"), ("2020 32", "YYYY MMDD"), ("2020-00-01", "YYYY-MM-DD"), ("2000 367", "YYYY DDD"),
    ("200", "DDD"), ("1,99 01", "Y,YYY MM"), ("x,999 01", "Y,YYY MM"), ("99999999999 01", "YYYY MM"),
    ("1 1", "HH24 YYYY"), ("2020 0 pm", "YYYY HH12 PM"), ("2020 11 xm", "YYYY HH12 PM"), ("2020 W", "YYYY IW"),
    ("99999999-01-01", "YYYY-MM-DD"), ('2020"3', 'YYYY\\"MM'), ("2020 3", "YYYY TMMonth"), ("", "YYYY"), ("2020", ""),
    # TZM reads like a number field, TZH like a name: whether the field before it takes a fixed width
    ("521", "YTZH"), ("7", "YYTZHDHHY,YYY"), ("4+52mp", "TZMTZMY,YYYFM"), ("0936", "YYYTZMY,YYYFXJ"),
    ("4 ,1-..Mm", "TZH/YYYY"), ("28204-+", "YYTZHHH24"),
]

# the pieces random templates are made of, and the characters of random input
_PIECES = ["YYYY", "YYY", "YY", "Y", "Y,YYY", "MM", "Mon", "MON", "Month", "DD", "DDD", "D", "HH", "HH12", "HH24", "MI",
           "SS", "MS", "US", "FF3", "AM", "pm", "A.M.", "TZH", "TZM", "Q", "CC", "J", "RM", "W", "WW", "SSSS", "Dy",
           "Day", "FX", "FM", "TH", "th", "IYYY", "IW", "ID", "IDDD", "I", "AD", "b.c.", " ", "-", "/", ".", ":", '"x"', "x", "  ", ",", "9"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5).map("".join),
       text=st.text(alphabet="0123456789 -/.:,+xAMPampDecJuly", max_size=14))
def test_random_templates_and_text_agree_with_postgresql(connections: Any, template: str, text: str) -> None:
    for function in ("to_date", "to_timestamp"):
        _agree(connections, f"SELECT {function}({quote(text)}, {quote(template)}) AS v")


@pytest.mark.parametrize("text,template", CASES)
def test_reading_rules_and_errors_agree_with_postgresql(connections: Any, text: str, template: str) -> None:
    for function in ("to_date", "to_timestamp"):
        _agree(connections, f"SELECT {function}({quote(text)}, {quote(template)}) AS v")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.datetimes(min_value=_dt.datetime(1900, 1, 1), max_value=_dt.datetime(2100, 12, 31)),
       zone=st.sampled_from(["America/New_York", "Europe/Paris", "Asia/Kolkata", "UTC+3"]))
@example(value=_dt.datetime(2024, 3, 10, 2, 30), zone="America/New_York")
@example(value=_dt.datetime(2024, 11, 3, 1, 30), zone="America/New_York")
def test_to_timestamp_reads_wall_clock_time_in_the_session_zone(connections: Any, value: _dt.datetime,
                                                                zone: str) -> None:
    ours, theirs = connections
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    for conn in (ours, theirs):
        conn.execute(f"SET TimeZone = {quote(zone)}")
    try:
        same(connections, f"SELECT to_timestamp({quote(text)}, 'YYYY-MM-DD HH24:MI:SS') AS v")
        same(connections, f"SELECT to_timestamp({quote(text + ' -02:30')}, 'YYYY-MM-DD HH24:MI:SS TZH:TZM') AS v")
    finally:
        for conn in (ours, theirs):
            conn.execute("SET TimeZone = 'UTC'")


def test_output_names_and_types_agree_with_postgresql(connections: Any) -> None:
    ours, theirs = connections
    sql = "SELECT to_date('2020-01-02', 'YYYY-MM-DD'), to_timestamp('2020', 'YYYY'), to_timestamp(0)"
    names = [[(c.name, c.type_code) for c in conn.execute(sql).description or []] for conn in (ours, theirs)]
    assert names[0] == names[1]
    same(connections, sql)
    same(connections, "SELECT to_date(1, 'YYYY') AS v")
    same(connections, "SELECT to_date(NULL, 'YYYY') AS v, to_timestamp('1', NULL) AS w")


_tables = itertools.count()


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(st.lists(st.tuples(DATES, st.sampled_from(TEMPLATES[:12])), min_size=1, max_size=4),
                        min_size=1, max_size=3))
def test_a_maintained_view_of_to_date_agrees_with_postgresql(connections: Any,
                                                             batches: list[list[tuple[_dt.datetime, str]]]) -> None:
    ours, theirs = connections
    table = f"todate{next(_tables)}"
    for conn in (ours, theirs):
        conn.execute(f"CREATE TABLE {table} (k int, s text, f text)")
    query = f"SELECT k, to_date(s, f) AS d, to_timestamp(s, f) AS t FROM {table}"
    ours.execute(f"CREATE MATERIALIZED VIEW {table}_mv AS {query}")
    keys = itertools.count()
    for batch in batches:
        for value, template in batch:
            row = (next(keys), _rendered(theirs, value, template), template)
            for conn in (ours, theirs):
                conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", row)
        for conn in (ours, theirs):
            conn.execute(f"DELETE FROM {table} WHERE k % 4 = 1")
        mine = ours.execute(f"SELECT * FROM {table}_mv ORDER BY k").fetchall()
        expected = theirs.execute(f"{query} ORDER BY k").fetchall()
        assert mine == expected
