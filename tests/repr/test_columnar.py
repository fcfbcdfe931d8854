"""Columnar batches (``repr.columnar``): exact round trips through ``codec.decode_updates``, and refusals.

A large insert-only batch at one time is stored as Arrow; decoding it must give back exactly the updates that were
encoded — the same values of the same Python types, NULLs included, numerics with their scale — and every batch
Arrow could not hold exactly (mixed types in a column, ints beyond int64, numerics of mixed scales, ``-0``, NaN or
past 38 digits, an aware timestamp not in ``timezone.utc``, retractions, several times) must stay msgpack.
"""

from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo

from hypothesis import given, settings, strategies as st

from steadystate.repr.codec import decode_updates, encode_updates
from steadystate.repr.columnar import decode_columnar, encode_columnar, is_columnar

VALUES = {
    "int": st.integers(-(2 ** 63), 2 ** 63 - 1),
    "float": st.floats(allow_nan=False),
    "str": st.text(max_size=8),
    "bool": st.booleans(),
    "timestamp": st.datetimes().map(lambda v: v.replace(fold=0)),  # naive, years 1 to 9999, microseconds
    "date": st.dates(),
    "time": st.times().map(lambda v: v.replace(fold=0)),
    "timestamptz": st.datetimes(timezones=st.just(dt.timezone.utc)).map(lambda v: v.replace(fold=0)),
}


def _numerics(exponent: int) -> st.SearchStrategy[decimal.Decimal]:
    """A numeric column's values: one exponent (a ``numeric(p, s)`` column's), up to 38 digits, no ``-0``."""
    return st.integers(-(10 ** 24), 10 ** 24).map(lambda n: decimal.Decimal(n).scaleb(exponent))


@st.composite
def batches(draw):  # type: ignore[no-untyped-def]
    kinds = draw(st.lists(st.sampled_from([*sorted(VALUES), "numeric"]), min_size=1, max_size=4))
    columns = [st.one_of(st.none(), _numerics(draw(st.integers(-14, 0))) if k == "numeric" else VALUES[k])
               for k in kinds]
    rows = draw(st.lists(st.tuples(*columns), min_size=1, max_size=40))
    return [(row, draw(st.integers(0, 10 ** 12)) if i == 0 else None, 1) for i, row in enumerate(rows)]


@settings(max_examples=200, deadline=None)
@given(batches())
def test_columnar_batches_round_trip_exactly(drawn) -> None:  # type: ignore[no-untyped-def]
    time = drawn[0][1]
    updates = [(row, time, 1) for row, _t, _d in drawn]
    blob = encode_columnar(updates, minimum=1)
    assert blob is not None and is_columnar(blob)
    decoded = decode_updates(blob)
    assert decoded == updates
    assert [tuple(map(type, row)) for row, _t, _d in decoded] == [tuple(map(type, row)) for row, _t, _d in updates]
    assert repr(decoded) == repr(updates)  # a numeric keeps its exponent (its scale)


def test_batches_arrow_cannot_hold_exactly_stay_msgpack() -> None:
    refused = [
        [((1,), 5, 1), ((2.5,), 5, 1)],  # int and float in one column
        [((1,), 5, 1), ((True,), 5, 1)],  # int and bool
        [((2 ** 63,), 5, 1)],  # beyond int64 (msgpack still holds it as uint64)
        [((decimal.Decimal("1.50"),), 5, 1), ((decimal.Decimal("1.5"),), 5, 1)],  # two scales in one column
        [((decimal.Decimal("-0.00"),), 5, 1)],  # Arrow drops the sign of zero
        [((decimal.Decimal("NaN"),), 5, 1), ((decimal.Decimal("1"),), 5, 1)],
        [((decimal.Decimal("1E+2"),), 5, 1)],  # a positive exponent
        [((decimal.Decimal(10 ** 40),), 5, 1)],  # past 38 digits
        [((dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),), 5, 1)],  # not in UTC
        [((dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),), 5, 1), ((dt.datetime(2026, 1, 1),), 5, 1)],
        [((dt.time(1, 2, tzinfo=dt.timezone.utc),), 5, 1)],
        [((dt.date(2026, 1, 1),), 5, 1), ((dt.datetime(2026, 1, 1),), 5, 1)],  # date and timestamp in one column
        [((1,), 5, 1), ((2,), 5, -1)],  # a retraction
        [((1,), 5, 1), ((2,), 6, 1)],  # two times
        [((), 5, 1)],  # no columns
    ]
    for updates in refused:
        assert encode_columnar(updates, minimum=1) is None, updates
        assert repr(decode_updates(encode_updates(updates))) == repr(updates)
    # in UTC, but Arrow would hand it back as ``timezone.utc`` (msgpack, too: only its equality is kept there)
    assert encode_columnar([((dt.datetime(2026, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),), 5, 1)], minimum=1) is None
    small = [((1,), 5, 1)]
    assert encode_columnar(small) is None  # below the size that pays


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([7, 8, 15, 16, 31, 32, 62]).flatmap(
    lambda bits: st.lists(st.one_of(st.none(), st.integers(-(2 ** bits), 2 ** bits - 1)), min_size=1, max_size=30)
    .map(lambda values: values + [-(2 ** bits), 2 ** bits - 1])))
def test_int_columns_are_stored_narrow_and_read_back_exactly(values) -> None:  # type: ignore[no-untyped-def]
    """Values at the edges of each integer width pick the narrowest type that holds them, and come back exact."""
    updates = [((v, i), 7, 1) for i, v in enumerate(values)]
    blob = encode_columnar(updates, minimum=1)
    assert blob is not None
    assert decode_updates(blob) == updates
    stored = decode_columnar(blob)[1].schema.types[0]
    assert stored.bit_width == min(w for w in (8, 16, 32, 64) if -(2 ** (w - 1)) <= min(
        v for v in values if v is not None) and max(v for v in values if v is not None) < 2 ** (w - 1))
