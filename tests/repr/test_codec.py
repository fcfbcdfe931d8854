"""Update batches and rows survive encoding exactly, for every kind of datum (numerics and dates included)."""

from __future__ import annotations

import datetime as dt
import decimal

from hypothesis import given, settings, strategies as hs

from steadystate.repr import codec

DATUMS = hs.one_of(
    hs.none(),
    hs.booleans(),
    hs.integers(-2**63, 2**63 - 1),
    hs.floats(allow_nan=False),
    hs.text(max_size=8),
    hs.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**9, max_value=10**9),
    hs.dates(),
    hs.datetimes(),
)
ROWS = hs.lists(hs.tuples(DATUMS, DATUMS, DATUMS).map(tuple), max_size=20)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


@settings(max_examples=200, deadline=None)
@given(rows=ROWS, times=hs.lists(hs.integers(0, 2**62), min_size=1), diffs=hs.lists(hs.integers(-5, 5), min_size=1))
def test_updates_round_trip_with_their_types(rows: list[tuple], times: list[int], diffs: list[int]) -> None:
    updates = [(row, times[i % len(times)], diffs[i % len(diffs)]) for i, row in enumerate(rows)]
    decoded = codec.decode_updates(codec.encode_updates(updates))
    assert len(decoded) == len(updates)
    for (row, t, d), (row2, t2, d2) in zip(updates, decoded):
        assert (t, d) == (t2, d2) and isinstance(row2, tuple)
        assert all(_same(a, b) for a, b in zip(row, row2)), (row, row2)


@settings(max_examples=200, deadline=None)
@given(rows=ROWS)
def test_rows_round_trip_with_their_types(rows: list[tuple]) -> None:
    decoded = codec.decode_rows(codec.encode_rows(rows))
    assert [tuple(type(v) for v in r) for r in decoded] == [tuple(type(v) for v in r) for r in rows]
    assert decoded == rows


def test_special_datums_are_not_turned_into_strings() -> None:
    row = (decimal.Decimal("1.50"), dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 12, 0, 1, 5), "1.50")
    (decoded,) = codec.decode_rows(codec.encode_rows([row]))
    assert decoded == row and type(decoded[0]) is decimal.Decimal and type(decoded[3]) is str
