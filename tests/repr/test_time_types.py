"""Round trips of the date/time datums (hypothesis): text output → text input, binary wire format, storage codec and
plan literals give back the same value, field for field (an interval's months, days and microseconds stay apart:
'1 mon' and '30 days' are equal but not the same value).  PostgreSQL's answers for the same values are checked in
tests/differential/test_temporal_postgres.py; here the invariant is that nothing is lost on the way.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings, strategies as hs

from steadystate.expr.casts import CASTS, parse_time, parse_timestamptz, to_text
from steadystate.expr.ir import literal
from steadystate.pgwire import values as wire
from steadystate.repr import codec
from steadystate.repr.interval import Interval, format_interval, parse_interval
from steadystate.repr.types import ScalarType

_BIG = hs.one_of(hs.integers(-(2**62), 2**62), hs.integers(2**53, 2**62), hs.integers(-(2**40), 2**40))
INTERVALS = hs.builds(Interval, hs.integers(-(2**31) + 1, 2**31 - 1), hs.integers(-(2**31) + 1, 2**31 - 1), _BIG)
TIMES = hs.times()
ZONED = hs.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)).map(
    lambda t: t.replace(tzinfo=dt.timezone.utc))


def _fields(value: Interval) -> tuple[int, int, int]:
    return value.months, value.days, value.micros


def _through_everything(value: object, oid: int, typ: ScalarType) -> list[object]:
    text = wire.column_encoder(oid, 0)(value)
    binary = wire.column_encoder(oid, 1)(value)
    return [
        wire.decode_param(text, 0, oid),
        wire.decode_param(binary, 1, oid),
        codec.decode_updates(codec.encode_updates([((value,), 1, 1)]))[0][0][0],
        literal(value, typ).datum(),
        CASTS[typ](to_text(value)),
    ]


@settings(max_examples=500, deadline=None)
@given(value=INTERVALS)
def test_intervals_round_trip_field_for_field(value: Interval) -> None:
    assert _fields(parse_interval(format_interval(value))) == _fields(value)
    for decoded in _through_everything(value, wire.INTERVAL, ScalarType.INTERVAL):
        assert isinstance(decoded, Interval) and _fields(decoded) == _fields(value)


@settings(max_examples=300, deadline=None)
@given(value=TIMES)
def test_times_round_trip(value: dt.time) -> None:
    assert parse_time(to_text(value) or "") == value
    assert _through_everything(value, wire.TIME, ScalarType.TIME) == [value] * 5


@settings(max_examples=300, deadline=None)
@given(value=ZONED, offset=hs.integers(-14 * 60, 14 * 60))
def test_timestamptz_round_trip_in_utc(value: dt.datetime, offset: int) -> None:
    assert parse_timestamptz(to_text(value) or "") == value
    shifted = value.astimezone(dt.timezone(dt.timedelta(minutes=offset)))
    assert parse_timestamptz(shifted.isoformat()) == value  # the same instant, whatever the zone it is written in
    for decoded in _through_everything(value, wire.TIMESTAMPTZ, ScalarType.TIMESTAMPTZ):
        assert decoded == value and decoded.tzinfo is not None  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(a=INTERVALS, b=INTERVALS)
def test_interval_order_is_the_span_order(a: Interval, b: Interval) -> None:
    assert (a < b) == (a.span() < b.span()) and (a == b) == (a.span() == b.span())
    assert (a == b) <= (hash(a) == hash(b))
