"""String constants and text functions against the real PostgreSQL server, through the wire (psycopg, text and
binary format): the same statements, the same answers (type OIDs and value bytes) and SQLSTATEs.

* ``E'...'`` escape strings (hypothesis draws bodies from every kind of escape, valid or not), ``U&'...'`` [UESCAPE],
  dollar quotes and constants continued on the next line, also as parameters' neighbours in the extended protocol.
* ``format`` (generated format strings: positions, widths, ``*``, flags, errors), with the properties
  ``format('%L', x) = quote_nullable(x)`` and ``format('%I', x) = quote_ident(x)`` checked on PostgreSQL's answers.
* ``x [NOT] [I]LIKE p ESCAPE e``; ``x [NOT] SIMILAR TO p [ESCAPE e]`` over generated patterns (errors by SQLSTATE: the regex libraries' words
  differ), ``overlay``, ``pg_typeof`` (text here as in Materialize, regtype in PostgreSQL: compared as text).
* ``to_char`` for numbers of every numeric type over generated templates.
* ``jsonb_set``/``jsonb_insert`` over generated documents and paths.
* A maintained view with an index and a materialized view using all of them, checked after each write against
  PostgreSQL running the view's query on the same rows.
* ``json``, ``list`` and ``map`` columns are refused with 0A000 (PostgreSQL has json; Materialize has list and
  map; steadystate refuses rather than read them as another type).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import outcome, postgres_server, quote, same

__all__ = ["postgres_server"]

_tables = itertools.count()


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP SCHEMA IF EXISTS text_diff CASCADE")
    theirs.execute("CREATE SCHEMA text_diff")
    theirs.execute("SET search_path = text_diff")
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


def same_or_same_error(connections: Any, sql: str) -> None:
    """Equal answers; for an error, the same SQLSTATE (messages of the regex libraries differ)."""
    mine, theirs = outcome(connections[0], sql), outcome(connections[1], sql)
    if theirs[0] == "error":
        assert mine[:2] == theirs[:2], f"{sql}\n  steadystate: {mine}\n  PostgreSQL:  {theirs}"
    else:
        assert mine == theirs, f"{sql}\n  steadystate: {mine}\n  PostgreSQL:  {theirs}"


# ---------------------------------------------------------------------------------------------------------------
# String constants

ESCAPES = st.sampled_from([
    "a", "é", "😀", " ", "''", "\\'", "\\\\", "\\n", "\\t", "\\b", "\\f", "\\r", "\\v", "\\q", "\\x41", "\\x4", "\\xz",
    "\\x", "\\101", "\\7", "\\0", "\\377", "\\400", "\\8", "\\xff", "\\xc3\\xa9", "\\xc3", "\\xe2\\x82\\xac",
    "\\u00e9", "\\u20AC", "\\u00", "\\u0000", "\\U0001F600", "\\U00110000", "\\ud83d\\ude00", "\\ud83d\\U0000DE00",
    "\\ud800", "\\ude00", "\\ud800x", "$", "$1", "\\\n",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(ESCAPES, max_size=5), prefix=st.sampled_from(["E", "e"]))
def test_escape_strings_agree_with_postgresql(connections: Any, pieces: list[str], prefix: str) -> None:
    sql = f"SELECT {prefix}'{''.join(pieces)}' AS v"
    same(connections, sql)


@pytest.mark.parametrize("sql", [
    "SELECT $$it's$$ AS a, $t$a$$b$t$ AS b, $_1$x$_1$ AS c, $A$x$a$ $A$ AS d, $$$$ AS e",
    "SELECT $$a\\nb$$ AS v, length($$\\$$) AS n",
    "SELECT E'a' || $$b$$ || 'c' AS v",
    "SELECT 1 AS $$",
    "SELECT E'abc\\'",
    "SELECT E'\\u00e9'::bytea AS v",
    "SELECT '{\"a\": \"\\u00e9\"}'::jsonb ->> 'a' AS v, E'{\"a\": 1}'::jsonb AS w",
    "SELECT INTERVAL E'1\\tday' AS v",
    "SELECT E'\\ud800é' AS v", "SELECT E'\\ud800😀' AS v",  # the error names the next character's first byte
])
def test_string_constants_agree_with_postgresql(connections: Any, sql: str) -> None:
    same(connections, sql)
    same(connections, sql, binary=True)


@pytest.mark.parametrize("sql", [
    "SELECT 'a'\n'b' AS v", "SELECT 'a' -- c\n'b' AS v", "SELECT 'a' \t -- c\n  \n -- d\n 'b' AS v",
    "SELECT 'a'\r'b' AS v", "SELECT 'a' \f\n'b' AS v", "SELECT 'a'\n'b'\n'c''d' AS v", "SELECT E'\\\\'\n'\\x41' AS v",
    "SELECT 'a'\n-- c'b' AS v", "SELECT E'a'\n'\\xff' AS v", "SELECT 'a' 'b'", "SELECT $$a$$ 'b'",
    "SELECT 'a'\n$$b$$ AS v", "SELECT 'a'\nE'b' AS v", "SELECT $$a$$\n'b' AS v", "SELECT 'a' /* x */\n'b' AS v",
    "SELECT U&'d\\0061t\\+000061' AS a, U&'\\\\' AS b, U&'it''s' AS c, u&'x' AS d",
    "SELECT U&'d!0061t' UESCAPE '!' AS v", "SELECT U&'\\00'", "SELECT U&'\\0000'", "SELECT U&'\\D800'",
    "SELECT U&'\\D83D\\DE00' AS a, U&'\\+01F600' AS b", "SELECT U&'\\D83Dx'", "SELECT U&'a' UESCAPE 'a'",
    "SELECT U&'a'\n'b' AS v", "SELECT U&'!0061'\n'!0062' UESCAPE '!' AS v", "SELECT U&'\\D83D'\n'\\DE00' AS v",
])
def test_string_continuation_agrees_with_postgresql(connections: Any, sql: str) -> None:
    """A constant continues after whitespace holding a newline, in its own mode (E: the continuation's escapes
    too); anything else beside a constant is a syntax error at the second one."""
    same(connections, sql)


def test_escape_and_dollar_strings_beside_parameters(connections: Any) -> None:
    sql = "SELECT %s::text || E'\\t' || $$x$$ || %s::text AS v, E'$1' AS w"
    answers = [conn.execute(sql, ("a", "b"), prepare=True).fetchall() for conn in connections]
    assert answers[0] == answers[1] == [("a\txb", "$1")]


# ---------------------------------------------------------------------------------------------------------------
# format, quote_*, overlay, pg_typeof

SPECS = st.sampled_from(["%s", "%I", "%L", "%%", "%1$s", "%2$I", "%3$L", "%-5s", "%5s", "%*s", "%-*s", "%*2$s",
                         "%1$-3L", "x", " ", "%", "%0$s", "%q", "%5", "%-", "%*", "%99999999999s", "é"])
ARGS = st.sampled_from(["'a'", "NULL", "'A b'", "'it''s'", "E'x\\\\y'", "3", "-4", "'select'", "'\"q\"'", "true",
                        "1.50", "ARRAY[1, NULL]", "'{\"k\": [1]}'::jsonb", "'2024-01-02'::date", "'user_1'",
                        "'Ab'::varchar(4)"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(SPECS, max_size=4), args=st.lists(ARGS, max_size=4))
def test_format_agrees_with_postgresql(connections: Any, specs: list[str], args: list[str]) -> None:
    fmt = "".join(specs)
    same(connections, f"SELECT format({quote(fmt)}{''.join(', ' + a for a in args)}) AS v")


@pytest.mark.parametrize("sql", [
    "SELECT format('%s|%s', VARIADIC ARRAY[1, NULL]) AS a, format('x', VARIADIC ARRAY[]::int[]) AS b, "
    "format('%s', VARIADIC ARRAY[true]) AS c, format('%L %I', VARIADIC ARRAY['a b', 'C d']) AS d",
    "SELECT format('%%', VARIADIC NULL::text[]) AS v", "SELECT format('%s', VARIADIC NULL::text[])",
    "SELECT format('%s %s', 'a', VARIADIC ARRAY['b'])", "SELECT format('%s', VARIADIC 'a')",
    "SELECT format('%s', VARIADIC ARRAY[1.5::float4, 2.5]) AS v", "SELECT format(1, 'a')",
    "SELECT format('%s', 1.5::float4) AS a, format('%s', now()::date - now()::date) AS b",
])
def test_format_cases_agree_with_postgresql(connections: Any, sql: str) -> None:
    same(connections, sql)
    same(connections, sql, binary=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.none(), st.text(alphabet="aZ_1 $'\"\\é", max_size=6),
                       st.sampled_from(["select", "user", "name", "from_", "Mixed"])))
def test_format_quotes_as_quote_literal_and_quote_ident(connections: Any, value: str | None) -> None:
    arg = "NULL::text" if value is None else quote(value)
    ours, theirs = connections
    sql = (f"SELECT format('%L', {arg}) AS l, quote_nullable({arg}) AS n, quote_literal({arg}) AS q, "
           f"format('%I', coalesce({arg}, 'x')) AS i, quote_ident(coalesce({arg}, 'x')) AS qi")
    row = same(connections, sql)[2][0]
    assert row[0] == row[1] and row[3] == row[4]  # the invariant, on answers both servers gave alike
    same(connections, f"SELECT format('%I', {arg}) AS v")  # NULL: 22004 on both


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="abcdé", max_size=8), replacement=st.text(alphabet="XY", max_size=3),
       start=st.integers(-1, 10), count=st.one_of(st.none(), st.integers(-3, 10)))
def test_overlay_agrees_with_postgresql(connections: Any, text: str, replacement: str, start: int,
                                        count: int | None) -> None:
    extra = "" if count is None else f" for {count}"
    same(connections, f"SELECT overlay({quote(text)} placing {quote(replacement)} from {start}{extra}) AS v")
    same(connections, f"SELECT overlay(CAST({quote(text)} AS bytea) placing CAST({quote(replacement)} AS bytea) "
                      f"from {start}{extra}) AS v", binary=True)


@pytest.mark.parametrize("expression", [
    "1", "'a'", "NULL", "1.5", "1::int2", "1::int8", "1::float4", "1::float8", "'a'::text", "'a'::varchar(3)",
    "'a'::char(2)", "true", "now()", "now()::timestamp", "current_date", "'12:00'::time", "'1 day'::interval",
    "'{}'::jsonb", "'a'::bytea", "gen_random_uuid()", "ARRAY[1]", "ARRAY['a']", "ARRAY[1.5]", "1 + 2.5",
])
def test_pg_typeof_names_types_as_postgresql(connections: Any, expression: str) -> None:
    same(connections, f"SELECT pg_typeof({expression})::text AS v")


def test_pg_typeof_is_text_as_in_materialize(connections: Any) -> None:
    ours, _ = connections
    cursor = ours.execute("SELECT pg_typeof(1) AS v")
    assert cursor.description[0].type_code == 25 and cursor.fetchall() == [("integer",)]


# ---------------------------------------------------------------------------------------------------------------
# SIMILAR TO

PATTERN_PIECES = st.sampled_from(["a", "b", "%", "_", "(", ")", "|", "*", "+", "?", "[ab]", "[^a]", "[]a]", ".", "\\",
                                  "#", "$", "^", "{2}", "{1,}", "\\d", "#\"", "\"", "\\y", "\\b"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(PATTERN_PIECES, max_size=5), text=st.text(alphabet="ab.%_#$^\n", max_size=5),
       escape=st.sampled_from([None, "#", "", "NULL", "ab"]), negate=st.booleans())
def test_similar_to_agrees_with_postgresql(connections: Any, pieces: list[str], text: str, escape: str | None,
                                           negate: bool) -> None:
    clause = "" if escape is None else f" ESCAPE {escape if escape == 'NULL' else quote(escape)}"
    operator = "NOT SIMILAR TO" if negate else "SIMILAR TO"
    same_or_same_error(connections, f"SELECT {quote(text)} {operator} {quote(''.join(pieces))}{clause} AS v")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=st.text(alphabet="ab%_#\\", max_size=6), text=st.text(alphabet="ab%_#\\", max_size=4),
       escape=st.sampled_from(["#", "", "\\", "a", "NULL", "##"]), operator=st.sampled_from(["LIKE", "NOT ILIKE"]))
def test_like_escape_agrees_with_postgresql(connections: Any, pattern: str, text: str, escape: str,
                                            operator: str) -> None:
    escaped = escape if escape == "NULL" else quote(escape)
    if pattern.endswith(escape) and escape not in ("", "NULL"):
        return  # a pattern ending in its escape: PostgreSQL errs only if matching reaches it (not followed here)
    same(connections, f"SELECT {quote(text)} {operator} {quote(pattern)} ESCAPE {escaped} AS v")


@pytest.mark.parametrize("sql", [
    "SELECT 1 SIMILAR TO '1'", "SELECT 'a' SIMILAR TO 1", "SELECT NULL SIMILAR TO 'a' AS v",
    "SELECT 'abc' SIMILAR TO 'a#\"b#\"c#\"#\"' ESCAPE '#'",
])
def test_similar_to_types_and_errors(connections: Any, sql: str) -> None:
    same(connections, sql)


# ---------------------------------------------------------------------------------------------------------------
# to_char for numbers

TEMPLATE_PIECES = st.sampled_from(["9", "9", "9", "0", "0", ".", "D", ",", "G", "FM", "S", "MI", "PL", "SG", "PR",
                                   "L", "EEEE", "V", "x", '"a"', "fm", "d", "s", "9", "0", "RN", "rn", "TH", "th"])
NUMBERS = st.one_of(
    st.integers(-10**7, 10**7).map(lambda n: f"{n}::int4"),
    st.integers(-10**12, 10**12).map(lambda n: f"{n}::int8"),
    st.integers(-999, 999).map(lambda n: f"{n}::int2"),
    st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False).map(lambda d: f"{d}::numeric"),
    st.floats(-1e7, 1e7, allow_nan=False).map(lambda f: f"{f!r}::float8"),
    st.floats(-1e5, 1e5, allow_nan=False, width=32).map(lambda f: f"{f!r}::float4"),
    st.sampled_from(["'NaN'::numeric", "'Infinity'::float8", "'-Infinity'::float4", "'NaN'::float8", "0.5",
                     "9.95", "-0.004", "0::numeric"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=NUMBERS, pieces=st.lists(TEMPLATE_PIECES, min_size=1, max_size=7))
def test_to_char_of_numbers_agrees_with_postgresql(connections: Any, number: str, pieces: list[str]) -> None:
    same(connections, f"SELECT to_char({number}, {quote(''.join(pieces))}) AS v")


@pytest.mark.parametrize("sql", [
    "SELECT to_char(5000, 'RN') AS a, to_char(1994, 'FMRN') AS b, to_char(3999.5, 'rn') AS c, "
    "to_char(2.5::float8, 'RN') AS d, to_char(12, 'FMRN,MIPL') AS e, to_char(4, 'RNSG') AS f",
    "SELECT to_char('NaN'::numeric, 'RN')", "SELECT to_char(1e10::int8, 'RN')",
    "SELECT to_char(1e10::float8, 'RN') AS a, to_char('NaN'::float8, 'RN') AS b",
    "SELECT to_char(1, '9TH') AS a, to_char(12, '99th') AS b, to_char(-1, '9TH') AS c, to_char(1.5, '9.9TH') AS d, "
    "to_char(113, 'FM999TH') AS e",
])
def test_to_char_roman_numerals_and_ordinals(connections: Any, sql: str) -> None:
    same(connections, sql)


# ---------------------------------------------------------------------------------------------------------------
# jsonb_set, jsonb_insert

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b"]))
DOCUMENTS = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from(["a", "b", "c"]), inner,
                                                                         max_size=3)), max_leaves=6)
STEPS = st.sampled_from(["a", "b", "c", "0", "1", "-1", "-5", "7", "x", " 1", "NULL"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCUMENTS, path=st.lists(STEPS, max_size=3), new=DOCUMENTS, flag=st.sampled_from([None, "true", "false"]),
       function=st.sampled_from(["jsonb_set", "jsonb_insert"]), as_array=st.booleans())
def test_jsonb_set_and_insert_agree_with_postgresql(connections: Any, doc: Any, path: list[str], new: Any,
                                                   flag: str | None, function: str, as_array: bool) -> None:
    if as_array:
        path_sql = "ARRAY[" + ", ".join("NULL" if s == "NULL" else quote(s) for s in path) + "]::text[]"
    else:
        path_sql = quote("{" + ",".join(s if s == "NULL" else '"' + s + '"' for s in path) + "}")
    extra = "" if flag is None else f", {flag}"
    same(connections, f"SELECT {function}({quote(json.dumps(doc))}, {path_sql}, {quote(json.dumps(new))}{extra}) AS v")


# ---------------------------------------------------------------------------------------------------------------
# Maintained views, types refused

VIEW = ("SELECT k, format('%s|%L|%-4I|', s, s, coalesce(s, 'x')) AS f, overlay(s placing E'\\t' from 2) AS o, "
        "s SIMILAR TO 'a%' AS sim, s NOT SIMILAR TO 'a#%%' ESCAPE '#' AS nsim, to_char(n, 'FM999.00') AS tc, "
        "to_char(k, 'S0000') AS tk, jsonb_set(d, '{a}', to_jsonb(k)) AS js, pg_typeof(n)::text AS ty, "
        "quote_literal(s) AS ql, $$d'q$$ AS dq FROM t")
ROWS = st.lists(st.tuples(st.one_of(st.none(), st.text(alphabet="a%b'\\", max_size=4)),
                          st.one_of(st.none(), st.decimals(-999, 999, places=2, allow_nan=False)),
                          st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b"]), LEAVES, max_size=2))),
                min_size=1, max_size=4)


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(ROWS, min_size=1, max_size=3))
def test_a_maintained_view_of_text_functions_agrees_with_postgresql(connections: Any, batches: list[Any]) -> None:
    ours, theirs = connections
    table = f"t{next(_tables)}"
    for conn in (ours, theirs):
        conn.execute(f"CREATE TABLE {table} (k int, s text, n numeric, d jsonb)")
    view = VIEW.replace("FROM t", f"FROM {table}")
    ours.execute(f"CREATE VIEW {table}_v AS {view}")
    ours.execute(f"CREATE DEFAULT INDEX ON {table}_v")
    ours.execute(f"CREATE MATERIALIZED VIEW {table}_mv AS SELECT to_char(k % 3, 'FM0.0') AS c, "
                 f"count(*) FILTER (WHERE s SIMILAR TO '%a%') AS n FROM {table} GROUP BY 1")
    keys = itertools.count()
    for batch in batches:
        for s, n, d in batch:
            values = (next(keys), s, n, None if d is None else json.dumps(d))
            for conn in (ours, theirs):
                conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", values)
        for conn in (ours, theirs):
            conn.execute(f"DELETE FROM {table} WHERE k % 4 = 1")
        mine = ours.execute(f"SELECT * FROM {table}_v ORDER BY k").fetchall()
        expected = theirs.execute(f"SELECT * FROM ({view}) AS q ORDER BY k").fetchall()
        assert mine == expected
        mine = ours.execute(f"SELECT * FROM {table}_mv ORDER BY c").fetchall()
        expected = theirs.execute(f"SELECT to_char(k % 3, 'FM0.0') AS c, count(*) FILTER (WHERE s SIMILAR TO "
                                  f"'%a%') AS n FROM {table} GROUP BY 1 ORDER BY c").fetchall()
        assert mine == expected


@pytest.mark.parametrize(("ddl", "named"), [
    ("CREATE TABLE refused_a (x json)", '"json"'),
    ("CREATE TABLE refused_b (x int list)", '"int list"'),
    ("CREATE TABLE refused_c (x text list list)", '"text list list"'),
    ("CREATE TABLE refused_d (x map[text=>int])", '"map[text=>int]"'),
    ("SELECT '{}'::json", '"json"'),
    ("SELECT CAST('{1}' AS int list)", '"int list"'),
])
def test_json_list_and_map_are_refused(connections: Any, ddl: str, named: str) -> None:
    ours, _ = connections
    kind, sqlstate, message = outcome(ours, ddl)
    assert (kind, sqlstate) == ("error", "0A000") and named in message
    assert outcome(ours, "SELECT 1 FROM mz_tables WHERE name LIKE 'refused_%'")[2] == []
