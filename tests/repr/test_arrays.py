"""Array datums: text ↔ value ↔ binary wire ↔ storage round trips (hypothesis), PostgreSQL's order, and refusals.

The text form is checked against PostgreSQL itself in tests/differential/test_arrays_postgres.py; here the
invariants: every array survives each encoding unchanged, the order is a total order that agrees with element-wise
comparison with NULL elements last and shorter prefixes first, and what is not one-dimensional is refused (0A000).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from typing import Any

import pytest
from hypothesis import given, strategies as st

from steadystate import errors
from steadystate.expr.arrays import array_to_text
from steadystate.expr.casts import CASTS
from steadystate.pgwire import values
from steadystate.repr import codec
from steadystate.repr.arrays import Array, parse_array, split_array
from steadystate.repr.interval import Interval
from steadystate.repr.types import ScalarType as T

TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
ELEMENTS: dict[T, Any] = {
    T.INT4_ARRAY: st.integers(-(2**31), 2**31 - 1),
    T.INT8_ARRAY: st.integers(-(2**63), 2**63 - 1),
    T.TEXT_ARRAY: st.one_of(TEXTS, st.sampled_from(["", "NULL", "null", '"', "\\", "{}", " a ", ","])),
    T.BOOL_ARRAY: st.booleans(),
    T.FLOAT8_ARRAY: st.floats(allow_nan=False),
    T.NUMERIC_ARRAY: st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**9, max_value=10**9),
    T.DATE_ARRAY: st.dates(min_value=dt.date(1, 1, 1)),
    T.TIMESTAMP_ARRAY: st.datetimes(min_value=dt.datetime(1, 1, 1)),
    T.TIMESTAMPTZ_ARRAY: st.datetimes(min_value=dt.datetime(1, 1, 2)).map(lambda v: v.replace(tzinfo=dt.timezone.utc)),
    T.TIME_ARRAY: st.times(),
    T.INTERVAL_ARRAY: st.builds(Interval, st.integers(-1000, 1000), st.integers(-1000, 1000),
                                st.integers(-(10**12), 10**12)),
}


@st.composite
def arrays(draw: st.DrawFn) -> tuple[T, Array]:
    typ = draw(st.sampled_from(sorted(ELEMENTS, key=lambda t: t.value)))
    return typ, Array(draw(st.lists(st.one_of(st.none(), ELEMENTS[typ]), max_size=6)))


@given(arrays())
def test_text_form_round_trips(case: tuple[T, Array]) -> None:
    typ, value = case
    assert CASTS[typ](array_to_text(value)) == value  # the cast's reader takes what array_out writes
    wire_text = values.text_encoder(typ.pg_oid)(value).decode()
    assert values.decode_param(wire_text.encode(), 0, typ.pg_oid) == value


@given(arrays())
def test_binary_wire_form_round_trips(case: tuple[T, Array]) -> None:
    typ, value = case
    data = values.binary_encoder(typ.pg_oid)(value)
    assert values.decode_param(data, 1, typ.pg_oid) == value


@given(st.lists(arrays(), max_size=4))
def test_storage_codec_round_trips(cases: list[tuple[T, Array]]) -> None:
    rows = [(i, value) for i, (_typ, value) in enumerate(cases)]
    decoded = codec.decode_updates(codec.encode_updates([(row, 7, 1) for row in rows]))
    assert [u[0] for u in decoded] == rows
    assert all(isinstance(u[0][1], Array) for u in decoded)


def _reference_compare(a: tuple, b: tuple) -> int:
    for x, y in zip(a, b):
        if x is None and y is None:
            continue
        if x is None or y is None:
            return 1 if x is None else -1
        if x != y:
            return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))


INT_ARRAYS = st.lists(st.one_of(st.none(), st.integers(-3, 3)), max_size=4).map(Array)


@given(st.lists(INT_ARRAYS, max_size=8))
def test_order_is_postgresqls(items: list[Array]) -> None:
    ordered = sorted(items)
    assert ordered == sorted(items, key=functools.cmp_to_key(_reference_compare))
    for a, b in zip(ordered, ordered[1:]):
        assert a <= b and not a > b and (a == b) == (_reference_compare(a, b) == 0)


def test_equal_arrays_hash_alike_and_nulls_are_equal_elements() -> None:
    assert Array((1, None)) == Array((1, None)) and hash(Array((1, None))) == hash(Array((1, None)))
    assert Array((decimal.Decimal("1.0"),)) == Array((decimal.Decimal("1"),))


@pytest.mark.parametrize("text", ["{{1,2},{3,4}}", "[0:1]={1,2}", "{1,{2}}"])
def test_what_is_not_one_dimensional_is_refused(text: str) -> None:
    with pytest.raises(errors.SteadyError) as info:
        split_array(text)
    assert info.value.sqlstate == "0A000"


@pytest.mark.parametrize("text", ["1,2", "{1,2", "{1,2}x", "{,}", "{a b\"c}", "{\"a\"b}"])
def test_malformed_literals_are_22P02(text: str) -> None:
    with pytest.raises(errors.SteadyError) as info:
        parse_array(text, str)
    assert info.value.sqlstate == "22P02"
