"""Value encodings and COPY formats: properties (hypothesis) and PostgreSQL's documented outputs."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.numeric import DecimalBinaryDumper, NumericBinaryLoader

from steadystate.errors import SteadyError
from steadystate.pgwire.copy_format import (
    CsvCopyParser,
    TextCopyParser,
    encode_csv_row,
    encode_text_row,
)
from steadystate.pgwire.values import (
    FLOAT8,
    INT2,
    INT4,
    INT8,
    NUMERIC,
    TEXT,
    binary_encoder,
    decode_numeric_binary,
    decode_param,
    encode_numeric_binary,
    format_float4,
    format_float8,
    text_encoder,
)

# ---------------------------------------------------------------- text output


@pytest.mark.parametrize(
    "value, expected",  # what PostgreSQL 15 prints for these float8 values
    [
        (1.0, "1"), (-2.0, "-2"), (0.1, "0.1"), (1e20, "1e+20"), (1e15, "1e+15"),
        (123456789012345.0, "123456789012345"), (1e-4, "0.0001"), (1e-5, "1e-05"),
        (0.30000000000000004, "0.30000000000000004"), (-0.0, "-0"), (1.5e300, "1.5e+300"),
        (math.inf, "Infinity"), (-math.inf, "-Infinity"), (math.nan, "NaN"), (2.5e-310, "2.5e-310"),
    ],
)
def test_float8_text_matches_postgres(value: float, expected: str) -> None:
    assert format_float8(value) == expected


@given(st.floats(allow_nan=False))
def test_float8_text_round_trips(value: float) -> None:
    text = format_float8(value)
    assert float(text.replace("Infinity", "inf")) == value
    assert not text.endswith(".0") and "e" not in text.split("e")[0]


@pytest.mark.parametrize("value, expected", [
    (0.1, "0.1"), (1e10, "1e+10"), (3.14159, "3.14159"), (100000.0, "100000"),
    # near the largest float4, a shorter text can round past it (3.403e+38 overflows): PostgreSQL's outputs
    (3.4028234663852886e38, "3.4028235e+38"), (3.4025001647762064e38, "3.4025002e+38"),
])
def test_float4_text(value: float, expected: str) -> None:
    assert format_float4(value) == expected


def test_text_encoders_by_oid() -> None:
    assert text_encoder(16)(True) == b"t" and text_encoder(16)(False) == b"f"
    assert text_encoder(NUMERIC)(decimal.Decimal("1E+2")) == b"100"
    assert text_encoder(1082)(dt.date(2024, 1, 2)) == b"2024-01-02"
    assert text_encoder(1114)(dt.datetime(2024, 1, 2, 3, 4, 5)) == b"2024-01-02 03:04:05"
    assert text_encoder(1114)(dt.datetime(2024, 1, 2, 3, 4, 5, 500000)) == b"2024-01-02 03:04:05.5"
    assert text_encoder(TEXT)("é") == "é".encode()


# ---------------------------------------------------------------- binary


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: abs(d.adjusted()) < 200))
def test_numeric_binary_matches_psycopg(value: decimal.Decimal) -> None:
    ours = encode_numeric_binary(value)
    theirs = bytes(DecimalBinaryDumper(decimal.Decimal).dump(value))
    assert NumericBinaryLoader(NUMERIC, None).load(ours) == value
    assert decode_numeric_binary(theirs) == value
    assert decode_numeric_binary(ours) == value
    assert ours[:2] == theirs[:2] or value == 0  # same digit-group count


@given(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False))
def test_binary_params_round_trip(integer: int, number: float) -> None:
    for oid, lo, hi in ((INT2, -2**15, 2**15 - 1), (INT4, -2**31, 2**31 - 1), (INT8, -2**63, 2**63 - 1)):
        if lo <= integer <= hi:
            assert decode_param(binary_encoder(oid)(integer), 1, oid) == integer
    assert decode_param(binary_encoder(FLOAT8)(number), 1, FLOAT8) == number
    assert decode_param(str(integer).encode(), 0, INT8) == integer


def test_text_params_by_oid_and_unknown_stays_str() -> None:
    assert decode_param(b"42", 0, 0) == "42"
    assert decode_param(b"42", 0, INT4) == 42
    assert decode_param(b"on", 0, 16) is True
    assert decode_param(b"1.50", 0, NUMERIC) == decimal.Decimal("1.50")
    assert decode_param(b"2024-02-29", 0, 1082) == dt.date(2024, 2, 29)
    assert decode_param(None, 1, INT4) is None
    with pytest.raises(SteadyError) as info:
        decode_param(b"x", 0, INT4)
    assert info.value.sqlstate == "22P02"
    with pytest.raises(SteadyError) as info:
        decode_param(b"\x00\x01", 1, INT4)
    assert info.value.sqlstate == "22P03"


# ---------------------------------------------------------------- COPY round trips

fields = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["", "\\N", "\\.", "\\", "\r\n", '"', ",", "\t"]))


def _chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 8))))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def _parse_all(parser: TextCopyParser | CsvCopyParser, chunks: list[bytes]) -> list[tuple[str | None, ...]]:
    rows = []
    for chunk in chunks:
        rows.extend(parser.feed(chunk))
    rows.extend(parser.finish())
    return rows


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.lists(st.tuples(*[fields] * n), max_size=8)), st.integers(0, 10**6))
def test_text_copy_round_trip(rows: list[tuple[str | None, ...]], seed: int) -> None:
    if not rows:
        return
    data = "".join(encode_text_row(row) for row in rows).encode()
    parser = TextCopyParser(len(rows[0]), "\t", "\\N", header=False)
    assert _parse_all(parser, _chunks(data, seed)) == rows


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.lists(st.tuples(*[fields] * n), max_size=8)), st.integers(0, 10**6),
       st.booleans())
def test_csv_copy_round_trip(rows: list[tuple[str | None, ...]], seed: int, header: bool) -> None:
    if not rows:
        return
    width = len(rows[0])
    head = encode_csv_row([f"c{i}" for i in range(width)]) if header else ""
    data = (head + "".join(encode_csv_row(row) for row in rows)).encode()
    parser = CsvCopyParser(width, ",", "", header)
    assert _parse_all(parser, _chunks(data, seed)) == rows


def test_text_copy_escapes_and_end_marker() -> None:
    parser = TextCopyParser(2, "\t", "\\N", header=False)
    data = b"\\101\\x42\\n\\\\\t\\N\na\\\tb\tc\n\\.\nignored\tafter marker\n"
    assert _parse_all(parser, [data]) == [("AB\n\\", None), ("a\tb", "c")]


def test_copy_column_count_errors() -> None:
    with pytest.raises(SteadyError, match="extra data after last expected column"):
        TextCopyParser(1, "\t", "\\N", header=False).feed(b"a\tb\n")
    with pytest.raises(SteadyError, match="missing data for column 2"):
        CsvCopyParser(2, ",", "", header=False).feed(b"a\n")
    with pytest.raises(SteadyError, match="unterminated CSV quoted field"):
        _parse_all(CsvCopyParser(1, ",", "", header=False), [b'"abc'])
