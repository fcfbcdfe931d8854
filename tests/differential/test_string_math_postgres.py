"""String and math functions against the real PostgreSQL server: hypothesis draws the arguments (text over a small
alphabet with delimiters and regex metacharacters, positions of both signs and zero, numbers of every numeric type)
and the same ``SELECT`` runs on steadystate and on PostgreSQL, answers compared raw off the wire (type OIDs, value
bytes; errors by SQLSTATE and message): ``concat_ws``, ``split_part``, ``regexp_replace``, ``initcap``,
``reverse``, ``translate``, ``ascii``, ``chr``, ``starts_with``, ``trunc``, ``cbrt``, ``pi``, ``degrees``,
``radians``, ``div``, ``scale``/``min_scale``/``trim_scale``, ``factorial``, ``width_bucket``; and an unknown or
unsupported function is named as the user typed it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import given, settings, strategies as st

from scalar_support import outcome, postgres_server, quote, same

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

TEXT = st.text(alphabet="ab,. -xY1", max_size=12)
NUMBERS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False).map(lambda d: f"{d}::numeric"),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f!r}::float8"),
)


@settings(max_examples=100, deadline=None)
@given(a=TEXT, b=TEXT, c=TEXT, delimiter=st.sampled_from([",", " ", "", "ab", "."]), position=st.integers(-4, 4))
def test_string_functions_agree_with_postgresql(connections: Any, a: str, b: str, c: str, delimiter: str,
                                                position: int) -> None:
    same(connections, f"SELECT concat_ws({quote(delimiter)}, {quote(a)}, NULL, {quote(b)}, 3, 2.50) AS v")
    same(connections, f"SELECT concat_ws(NULL, {quote(a)}) AS v")
    same(connections, f"SELECT split_part({quote(a)}, {quote(delimiter)}, {position}) AS v")
    same(connections, f"SELECT initcap({quote(a + ' ' + b)}) AS v")
    same(connections, f"SELECT reverse({quote(a)}) AS v, ascii({quote(a)}) AS w, starts_with({quote(a)}, {quote(b)}) AS x")
    same(connections, f"SELECT translate({quote(a)}, {quote(b)}, {quote(c)}) AS v")


@settings(max_examples=100, deadline=None)
@given(text=TEXT, pattern=st.sampled_from(["a", "b+", "(a)(b)?", "[.,]", "x|Y", "^a", "b$", "(", "a*"]),
       replacement=st.sampled_from(["", "Z", "<\\1>", "[\\&]", "\\2\\1", "\\\\"]),
       flags=st.sampled_from([None, "g", "i", "gi", "q", "gq", "z"]))
def test_regexp_replace_agrees_with_postgresql(connections: Any, text: str, pattern: str, replacement: str,
                                               flags: str | None) -> None:
    extra = f", {quote(flags)}" if flags is not None else ""
    mine = outcome(connections[0], f"SELECT regexp_replace({quote(text)}, {quote(pattern)}, {quote(replacement)}"
                   f"{extra}) AS v")
    theirs = outcome(connections[1], f"SELECT regexp_replace({quote(text)}, {quote(pattern)}, "
                     f"{quote(replacement)}{extra}) AS v")
    if theirs[0] == "error":  # an invalid pattern or flag: the same SQLSTATE (the regex library's words differ)
        assert mine[:2] == theirs[:2], (mine, theirs)
    else:
        assert mine == theirs


@settings(max_examples=100, deadline=None)
@given(number=NUMBERS, places=st.integers(-3, 4), code=st.one_of(st.integers(-2, 200), st.just(0x10FFFF + 1)))
def test_math_functions_agree_with_postgresql(connections: Any, number: str, places: int, code: int) -> None:
    same(connections, f"SELECT trunc({number}) AS v")
    same(connections, f"SELECT trunc({number}, {places}) AS v")
    same(connections, f"SELECT cbrt({number}) AS v, degrees({number}) AS w, radians({number}) AS x")
    same(connections, f"SELECT chr({code}) AS v")


def test_pi_and_function_names_as_typed(connections: Any) -> None:
    same(connections, "SELECT pi() AS v")
    ours, _ = connections
    with pytest.raises(psycopg.Error) as caught:
        ours.execute("SELECT to_hex(255)")  # sqlglot calls it Hex
    assert caught.value.diag.message_primary == "function to_hex is not supported"
    with pytest.raises(psycopg.Error) as caught:
        ours.execute("SELECT no_such_function(1)")
    assert caught.value.diag.sqlstate == "42883"
    assert "no_such_function" in (caught.value.diag.message_primary or "")


@settings(max_examples=100, deadline=None)
@given(text=TEXT, pattern=st.sampled_from(["a", "b+", "(a)(b)?", "[.,]", "x|Y", "^a", "b$", "(", "a*", "(x)?1"]),
       flags=st.sampled_from([None, "i", "q", "g", "z"]))
def test_regexp_match_agrees_with_postgresql(connections: Any, text: str, pattern: str, flags: str | None) -> None:
    """text[] of the capture groups (or the whole match), NULL without a match, in text and binary format."""
    extra = f", {quote(flags)}" if flags is not None else ""
    sql = f"SELECT regexp_match({quote(text)}, {quote(pattern)}{extra}) AS v"
    for binary in (False, True):
        mine, theirs = outcome(connections[0], sql, binary), outcome(connections[1], sql, binary)
        if theirs[0] == "error":  # the regex library's words differ; the SQLSTATE does not
            assert mine[:2] == theirs[:2], (mine, theirs)
        else:
            assert mine == theirs


INTEGERS = st.one_of(st.integers(-2**31, 2**31 - 1), st.sampled_from([0, 1, -1, -2**31, 2**31 - 1, 65536, 46341]))


@settings(max_examples=100, deadline=None)
@given(a=INTEGERS, b=INTEGERS, wide=st.booleans())
def test_gcd_and_lcm_agree_with_postgresql(connections: Any, a: int, b: int, wide: bool) -> None:
    """int4 and int8 (squared, to reach bigint's range), with 22003 past the type's range."""
    if wide:
        a, b = max(min(a * abs(a), 2**63 - 1), -2**63), max(min(b * 3, 2**63 - 1), -2**63)
        x, y = f"CAST({a} AS bigint)", f"CAST({b} AS bigint)"
    else:
        x, y = f"CAST({a} AS integer)", f"CAST({b} AS integer)"
    same(connections, f"SELECT gcd({x}, {y}) AS v")
    same(connections, f"SELECT lcm({x}, {y}) AS v")


@pytest.mark.parametrize("sql", ["SELECT gcd(12, 18)", "SELECT gcd(-2147483648, 0)", "SELECT lcm(0, 5)",
                                 "SELECT gcd(CAST(-9223372036854775808 AS bigint), 0)", "SELECT gcd(NULL, 1)",
                                 "SELECT gcd(CAST(4 AS smallint), CAST(6 AS smallint))", "SELECT gcd('12', '8')",
                                 "SELECT gcd(12, '8')", "SELECT lcm(CAST(3037000499 AS bigint), 3037000498)",
                                 "SELECT (regexp_match('a1b22', '[0-9]+'))[1]", "SELECT regexp_match(NULL, 'a')"])
def test_gcd_lcm_and_regexp_match_cases(connections: Any, sql: str) -> None:
    same(connections, sql)


@settings(max_examples=100, deadline=None)
@given(text=TEXT, pattern=st.sampled_from(["a", "b+", "(a)(b)?", "[.,]", "x|Y", "^a", "b$", "a*", "(x)?1", "()"]),
       flags=st.sampled_from([None, "g", "gi", "i", "q"]))
def test_regexp_matches_agrees_with_postgresql(connections: Any, text: str, pattern: str, flags: str | None) -> None:
    """The set of matches (every one with ``g``) with their positions (WITH ORDINALITY), in text and binary."""
    extra = f", {quote(flags)}" if flags is not None else ""
    sql = (f"SELECT m, n FROM regexp_matches({quote(text)}, {quote(pattern)}{extra}) WITH ORDINALITY AS r(m, n) "
           "ORDER BY n")
    for binary in (False, True):
        mine, theirs = outcome(connections[0], sql, binary), outcome(connections[1], sql, binary)
        assert mine == theirs, (sql, mine, theirs)


BUCKET_NUMBERS = st.one_of(
    st.integers(-20, 20).map(str),
    st.decimals(min_value=-20, max_value=20, places=3, allow_nan=False).map(lambda d: f"{d}::numeric"),
    st.floats(-20, 20, allow_nan=False).map(lambda f: f"{f!r}::float8"),
    st.sampled_from(["'NaN'::numeric", "'Infinity'::float8", "'-Infinity'::float8", "'NaN'::float8"]),
)


@settings(max_examples=100, deadline=None)
@given(operand=BUCKET_NUMBERS, low=BUCKET_NUMBERS, high=BUCKET_NUMBERS, count=st.integers(-1, 7))
def test_width_bucket_agrees_with_postgresql(connections: Any, operand: str, low: str, high: str, count: int) -> None:
    same(connections, f"SELECT width_bucket({operand}, {low}, {high}, {count}) AS v")


@settings(max_examples=100, deadline=None)
@given(a=NUMBERS, b=NUMBERS, n=st.integers(-3, 40))
def test_div_scale_and_factorial_agree_with_postgresql(connections: Any, a: str, b: str, n: int) -> None:
    same(connections, f"SELECT div({a}, {b}) AS v")
    same(connections, f"SELECT scale({a}) AS v, min_scale({a}) AS w, trim_scale({a}) AS x")
    same(connections, f"SELECT factorial({n}) AS v")


def test_numeric_function_edges_and_names(connections: Any) -> None:
    for special in ("'NaN'", "0.000", "-12.3400", "100"):  # numeric's infinities are not supported (22P02)
        same(connections, f"SELECT scale({special}::numeric) AS v, min_scale({special}::numeric) AS w, "
                          f"trim_scale({special}::numeric) AS x, div({special}::numeric, 7) AS y")
    for sql in ("SELECT div(1, 0) AS v", "SELECT div('NaN'::numeric, 0) AS v", "SELECT factorial(32178) AS v",
                "SELECT width_bucket(2147483647.5, 0, 1, 2147483647) AS v", "SELECT width_bucket(1, 0, 2, 0::int8)"):
        same(connections, sql)
    assert len(same(connections, "SELECT factorial(1000) AS v")[2][0][0]) == 2568
    # a width past double precision's range: PostgreSQL 15 divides inf by inf here (its answer is undefined);
    # steadystate halves the inputs as PostgreSQL 16 does
    assert outcome(connections[0], "SELECT width_bucket(0, -1e308, 1e308, 4) AS v")[2] == [(b"3",)]
    ours, theirs = connections
    for sql in ("SELECT div(7, 2)", "SELECT width_bucket(1, 0, 2, 3)", "SELECT factorial(3)", "SELECT scale(1.5)"):
        names = [[c.name for c in conn.execute(sql).description] for conn in (ours, theirs)]
        assert names[0] == names[1], (sql, names)
