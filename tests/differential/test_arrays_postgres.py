"""Arrays and table functions against the real PostgreSQL server: the same statements, the same bytes, the same
SQLSTATEs, and maintained views that answer as PostgreSQL's query over the same rows through write batches.

* Expressions (``ARRAY[...]``, literals, subscripts, slices, ``= ANY``/``<> ALL``, ``||``, ``@>``/``<@``/``&&``,
  the array functions, ``array_agg``, comparisons and ORDER BY over arrays) and table functions in FROM and in a
  select list (``generate_series``, ``unnest``, ``regexp_split_to_table``, ``WITH ORDINALITY``): each answer is
  compared raw, as it came off the wire — RowDescription type OIDs and every value's bytes, in text and in binary
  format — or by SQLSTATE and message (scalar_support.py).
* Round trips (hypothesis): arrays of generated values (NULLs, quotes, backslashes, braces, white space, ``NULL``
  spelled as text) built with ``ARRAY[...]``; PostgreSQL's text form of each is read back by both servers as a
  literal and through ``COPY FROM``, stored, and read out in text, binary and ``COPY TO`` form.
* Maintained: views, an index and a materialized view over a table of arrays (unnest with ordinality, array_agg
  with its own ORDER BY, a correlated generate_series, a join on an array column, = ANY) are compared, after each
  write batch, with PostgreSQL's answer to the view's query over the same rows.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import outcome, postgres_server, quote, same

__all__ = ["postgres_server"]

TABLE = ("CREATE TABLE arr (k int, g int, ia int[], ta text[], na numeric[], ba boolean[], fa real[], "
         "ba8 bigint[], tsa timestamp[], tza timestamptz[], da date[], iva interval[])")
ROWS = [
    "(1, 1, '{1,2,3}', '{a,\"b c\",NULL}', '{1.50,-2}', '{t,f}', '{0.1,2.5}', '{9000000000}', "
    "'{\"2024-01-01 10:00:00\"}', '{\"2024-01-01 10:00:00+00\"}', '{2024-02-29}', '{\"1 day 02:00:00\"}')",
    "(2, 1, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')",
    "(3, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(4, 2, '{5,NULL,1}', '{\"\",\"NULL\",\"x\\\\\\\\y\",\"q\\\"t\"}', '{NULL}', '{NULL,t}', '{-0.5}', '{-1,1}', "
    "'{NULL}', '{NULL}', '{NULL,2000-01-01}', '{-1 mon}')",
    "(5, 3, '{1,2}', '{a}', '{1.5}', '{f}', '{1e-3}', '{2}', '{\"2000-01-01 00:00:00.5\"}', '{}', '{}', '{}')",
]


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP SCHEMA IF EXISTS arrays_diff CASCADE")
    theirs.execute("CREATE SCHEMA arrays_diff")
    theirs.execute("SET search_path = arrays_diff")
    theirs.execute("SET TimeZone = 'UTC'")
    theirs.execute("SET extra_float_digits = 1")
    for conn in (ours, theirs):
        conn.execute(TABLE)
        conn.execute("INSERT INTO arr VALUES " + ", ".join(ROWS))
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


EXPRESSIONS = [
    # arrays of jsonb, uuid and bytea (their element codecs come from repr/jsonb.py and repr/bytea.py)
    "SELECT ARRAY['{\"a\": [1, \"x y\"]}'::jsonb, 'null'::jsonb, NULL], '{\"[1]\",\"{}\"}'::jsonb[]",
    "SELECT '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'::uuid[], ARRAY['\\x00ff'::bytea, ''::bytea, NULL]",
    "SELECT (ARRAY['\\x00ff'::bytea])[1], ARRAY['[1]'::jsonb] @> ARRAY['[1]'::jsonb], "
    "CAST(ARRAY['{\"a\":1}'::jsonb] AS text), '{\"\\\\\\\\x01\"}'::bytea[]",
    # literals, constructors, casts
    "SELECT '{1,2,3}'::int[], ARRAY[1,2,NULL], ARRAY['a','b c'], ARRAY[1.5, 2], ARRAY[]::text[]",
    "SELECT '{ 1 , 2 }'::int[], '{\"a\\\\\"b\", c}'::text[], '{NULL,\"NULL\",null}'::text[]",
    "SELECT ARRAY[true, false, NULL], ARRAY[1::bigint], ARRAY[1::smallint], ARRAY['2024-01-01'::date]",
    "SELECT ARRAY['1 day'::interval], ARRAY[0.1::real], ARRAY[0.1::float8], ARRAY['10:00'::time]",
    "SELECT ARRAY['2024-01-01 10:00'::timestamp], ARRAY['2024-01-01 10:00+02'::timestamptz]",
    "SELECT ARRAY[1,2]::text, ARRAY[0.1::real]::text, ARRAY[true]::text, '{1,2}'::int[]::bigint[]",
    "SELECT CAST(ARRAY[1.5, 2.5] AS int[]), CAST('{a}' AS text[])",
    "SELECT '{1,a}'::int[]", "SELECT '{1,2'::int[]", "SELECT '1,2'::int[]",
    "SELECT ARRAY[]", "SELECT ARRAY[1, 'a']", "SELECT ARRAY[1, 2.5]",
    # subscripts and slices
    "SELECT (ARRAY[1,2,3])[2], (ARRAY[1,2,3])[0], (ARRAY[1,2,3])[4], (ARRAY[1,2,3])[NULL]",
    "SELECT (ARRAY[1,2,3])[2:3], (ARRAY[1,2,3])[:2], (ARRAY[1,2,3])[2:], (ARRAY[1,2,3])[3:1], (ARRAY[1,2,3])[-5:9]",
    "SELECT k, ia[1], ta[2], ia[2:3], ta[k] FROM arr ORDER BY k",
    # ANY / ALL
    "SELECT 2 = ANY(ARRAY[1,2]), 3 = ANY(ARRAY[1,2]), 3 = ANY(ARRAY[1,NULL]), 1 = ANY(ARRAY[]::int[])",
    "SELECT 3 <> ALL(ARRAY[1,2]), 1 <> ALL(ARRAY[1,2]), 3 <> ALL(ARRAY[1,NULL]), 1 <> ALL(ARRAY[]::int[])",
    "SELECT NULL::int = ANY(ARRAY[1]), 1 = ANY(NULL::int[]), 2 < ANY('{1,3}'), 5 >= ALL(ARRAY[1,5])",
    "SELECT 1.5 = ANY(ARRAY[1,2]), 'a' = ANY(ARRAY['a','b']), 2 = ANY('{1,2}')",
    "SELECT k FROM arr WHERE 2 = ANY(ia) ORDER BY k", "SELECT k FROM arr WHERE 'a' = ANY(ta) ORDER BY k",
    "SELECT k FROM arr WHERE 5 <> ALL(ia) ORDER BY k", "SELECT 1 = ANY(1)",
    # operators
    "SELECT ARRAY[1,2] || ARRAY[3], ARRAY[1] || 2, 0 || ARRAY[1], ARRAY[1] || '{2,3}', NULL::int[] || 1",
    "SELECT ARRAY[1,2] || NULL::int[], ARRAY['a'] || 'b'::text, ARRAY[1] || ARRAY[1.5]",
    "SELECT ARRAY[1,2,3] @> ARRAY[2], ARRAY[1,2] @> ARRAY[3], ARRAY[1,NULL] @> ARRAY[NULL]::int[], ARRAY[1] <@ ARRAY[1,2]",
    "SELECT ARRAY[1,2] && ARRAY[2,3], ARRAY[1] && ARRAY[2], ARRAY[NULL]::int[] && ARRAY[NULL]::int[], ARRAY[]::int[] @> ARRAY[]::int[]",
    "SELECT ARRAY[1,2] = ARRAY[1,2], ARRAY[1,NULL] = ARRAY[1,NULL], ARRAY[1,2] < ARRAY[1,3], ARRAY[1] < ARRAY[1,0]",
    "SELECT ARRAY[NULL]::int[] > ARRAY[1], ARRAY[2] > ARRAY[1,5], ARRAY[]::int[] < ARRAY[1], ARRAY[1,2] <> ARRAY[1]",
    "SELECT k, ia FROM arr ORDER BY ia, k", "SELECT k, ta FROM arr ORDER BY ta DESC, k",
    "SELECT ia, count(*) FROM arr GROUP BY ia ORDER BY ia", "SELECT DISTINCT ta FROM arr ORDER BY ta",
    "SELECT a.k, b.k FROM arr a JOIN arr b ON a.ia = b.ia ORDER BY 1, 2",
    "SELECT min(ia), max(ia), min(ta), max(ta), count(DISTINCT ia) FROM arr",
    "SELECT k, lag(ia) OVER (ORDER BY k) FROM arr ORDER BY k", "SELECT k FROM arr ORDER BY ia DESC NULLS LAST, k",
    "SELECT greatest(ARRAY[1], ARRAY[2]), coalesce(NULL::int[], '{9}'), nullif(ARRAY[1], ARRAY[1])",
    "SELECT k, CASE WHEN k > 1 THEN ia ELSE '{0}' END FROM arr ORDER BY k",
    # functions
    "SELECT array_length(ARRAY[1,2], 1), array_length(ARRAY[1,2], 2), array_length(ARRAY[]::int[], 1)",
    "SELECT cardinality(ARRAY[1,2]), cardinality(ARRAY[]::int[]), array_lower(ARRAY[5], 1), array_upper(ARRAY[5,6], 1)",
    "SELECT array_ndims(ARRAY[1]), array_ndims(ARRAY[]::int[])",
    "SELECT array_position(ARRAY['a','b','a'], 'a'), array_position(ARRAY[1,NULL], NULL), array_position(ARRAY[1], 2)",
    "SELECT array_to_string(ARRAY[1,NULL,3], ','), array_to_string(ARRAY[1,NULL,3], ',', '*'), array_to_string(ARRAY['a'], NULL)",
    "SELECT array_to_string(ARRAY[0.1::real, 1e20::real], '|'), array_to_string(ARRAY[true, false], '')",
    "SELECT string_to_array('a,b,,c', ','), string_to_array('a,b,,c', ',', ''), string_to_array('abc', NULL)",
    "SELECT string_to_array('abc', ''), string_to_array('', ','), string_to_array(NULL, ',')",
    "SELECT array_append(ARRAY[1], 2), array_prepend(0, ARRAY[1]), array_cat(ARRAY[1], ARRAY[2,3])",
    "SELECT array_append(NULL::int[], 1), array_cat(NULL::int[], ARRAY[1]), array_cat(NULL::int[], NULL::int[])",
    "SELECT array_remove(ARRAY[1,2,1,NULL], 1), array_remove(ARRAY[1,NULL], NULL)",
    "SELECT k, array_length(ia, 1), cardinality(ta), array_to_string(ta, '/', '-') FROM arr ORDER BY k",
    # aggregates
    "SELECT g, array_agg(k ORDER BY k DESC) FROM arr GROUP BY g ORDER BY g",
    "SELECT g, array_agg(ia[1] ORDER BY ia[1] NULLS FIRST, k) FROM arr GROUP BY g ORDER BY g",
    "SELECT array_agg(DISTINCT g ORDER BY g) FROM arr", "SELECT array_agg(k) FILTER (WHERE k > 100) FROM arr",
    "SELECT array_agg(x ORDER BY x) FROM (VALUES ('b'), (NULL), ('a')) AS v(x)",
    "SELECT ARRAY(SELECT k FROM arr ORDER BY k DESC), ARRAY(SELECT k FROM arr WHERE k > 100)",
    "SELECT g, ARRAY(SELECT b.k FROM arr AS b WHERE b.g = a.g ORDER BY b.k) FROM arr AS a ORDER BY 1, 2",
    # table functions
    "SELECT * FROM generate_series(1, 5)", "SELECT * FROM generate_series(1, 10, 3) WITH ORDINALITY AS t(x, n)",
    "SELECT * FROM generate_series(5, 1, -2) AS g", "SELECT g FROM generate_series(1, 0) AS g",
    "SELECT * FROM generate_series(1::bigint, 3)", "SELECT * FROM generate_series(0.5, 2.5, 0.5)",
    "SELECT * FROM generate_series(1, 3, 0)", "SELECT * FROM generate_series(1, NULL)",
    "SELECT * FROM generate_series('2024-01-30'::timestamp, '2024-04-30', '1 month')",
    "SELECT * FROM generate_series('2024-01-01 00:00+00'::timestamptz, '2024-01-01 03:00+00', '90 minutes')",
    "SELECT * FROM generate_series('2024-01-02'::timestamp, '2024-01-01', '-6 hours')",
    "SELECT * FROM unnest(ARRAY[1,2,NULL])", "SELECT * FROM unnest(ARRAY['a','b']) WITH ORDINALITY",
    "SELECT * FROM unnest(ARRAY[1,2,3], ARRAY['x']) AS u(n, s)", "SELECT * FROM unnest(ARRAY[]::int[])",
    "SELECT * FROM unnest(NULL::int[])", "SELECT u FROM unnest(ARRAY[3,4]) u",
    "SELECT * FROM regexp_split_to_table('a b  c', ' +')", "SELECT * FROM regexp_split_to_table('hello', '')",
    "SELECT * FROM regexp_split_to_table('ABcab', 'b', 'i') WITH ORDINALITY",
    "SELECT k, x FROM arr, unnest(arr.ia) AS u(x) ORDER BY k, x",
    "SELECT k, x, n FROM arr, unnest(ta) WITH ORDINALITY AS u(x, n) ORDER BY k, n",
    "SELECT k, s FROM arr CROSS JOIN LATERAL generate_series(1, k) AS s WHERE k < 4 ORDER BY k, s",
    "SELECT k, x FROM arr JOIN unnest(ARRAY[1,5]) AS u(x) ON x = k ORDER BY k",
    "SELECT k, x, n FROM arr LEFT JOIN LATERAL unnest(ia) WITH ORDINALITY AS u(x, n) ON true ORDER BY k, n",
    "SELECT k, s FROM arr LEFT JOIN generate_series(2, k) AS s ON true ORDER BY k, s",
    "SELECT k, unnest(ia) FROM arr ORDER BY 1, 2", "SELECT k, generate_series(1, g) AS s FROM arr ORDER BY k, s",
    "SELECT unnest(ARRAY[1,2]) + 1", "SELECT regexp_split_to_table('a,b', ',') AS part",
    "SELECT unnest(ARRAY[1,2,3]), unnest(ARRAY['x']), generate_series(1, 2)",
    "SELECT k, unnest(ia) AS x, generate_subscripts(ia, 1) AS i FROM arr ORDER BY k, i",
    "SELECT * FROM generate_subscripts(ARRAY['a','b','c'], 1, true)", "SELECT * FROM generate_subscripts(ARRAY[1], 2)",
    "SELECT k FROM arr WHERE unnest(ia) > 1", "SELECT sum(x) FROM unnest(ARRAY[1,2,3]) AS u(x)",
    "SELECT count(*) FROM arr, unnest(ia) AS u(x) WHERE x IS NULL",
    "SELECT * FROM generate_series(1, 2) AS a(x) CROSS JOIN unnest(ARRAY['p','q']) AS b(y) ORDER BY x, y",
]


@pytest.mark.parametrize("sql", EXPRESSIONS)
def test_expressions_agree_with_postgresql(connections: Any, sql: str) -> None:
    if same(connections, sql)[0] == "ok":
        same(connections, sql, binary=True)


@pytest.mark.parametrize("sql", [
    "SELECT '{{1,2},{3,4}}'::int[]", "SELECT ARRAY[ARRAY[1],ARRAY[2]]", "SELECT '[0:1]={1,2}'::int[]",
    "SELECT (ARRAY[1,2])[1][1]", "SELECT k FROM arr LEFT JOIN LATERAL unnest(ia) AS u(x) ON x > 1",
    "SELECT k FROM arr RIGHT JOIN unnest(ARRAY[1]) AS u(x) ON true",
    "SELECT g, unnest(array_agg(k)) FROM arr GROUP BY g",
    "SELECT ARRAY(SELECT k FROM arr ORDER BY k LIMIT 2)", "SELECT ARRAY(SELECT DISTINCT g FROM arr)",
])
def test_what_is_not_supported_is_refused(connections: Any, sql: str) -> None:
    """Multi-dimensional arrays and the table function forms not implemented: 0A000, never another answer."""
    ours, theirs = connections
    assert outcome(theirs, sql)[0] == "ok"
    assert outcome(ours, sql)[:2] == ("error", "0A000")


@pytest.mark.parametrize("column", ["ia", "ta", "na", "ba", "fa", "ba8", "tsa", "tza", "da", "iva"])
def test_array_columns_read_and_copy_as_postgresql(connections: Any, column: str) -> None:
    """Each array column: its type OID, its values in both formats, and COPY TO's bytes."""
    same(connections, f"SELECT {column} FROM arr ORDER BY k")
    same(connections, f"SELECT {column} FROM arr ORDER BY k", binary=True)
    same(connections, f"SELECT {column}::text FROM arr ORDER BY k")
    assert _copy_out(connections[0], column) == _copy_out(connections[1], column)


def _copy_out(conn: psycopg.Connection, column: str) -> bytes:
    with conn.cursor().copy(f"COPY (SELECT k, {column} FROM arr ORDER BY k) TO STDOUT") as copy:
        return b"".join(bytes(chunk) for chunk in copy)


# ------------------------------------------------------------------------------------------------ round trips

TEXT_ELEMENTS = st.one_of(
    st.none(),
    st.sampled_from(["", "NULL", "null", " a", "b ", "a b", '"', "\\", "{", "}", ",", "x,y", "{1}", "é", "\t"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
)
INT_ELEMENTS = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
NUMERIC_ELEMENTS = st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=3,
                                                    min_value=-10**6, max_value=10**6))
ARRAYS = st.one_of(
    st.tuples(st.just("int[]"), st.lists(INT_ELEMENTS, max_size=5).map(lambda v: [None if x is None else str(x) for x in v])),
    st.tuples(st.just("text[]"), st.lists(TEXT_ELEMENTS, max_size=5)),
    st.tuples(st.just("numeric[]"), st.lists(NUMERIC_ELEMENTS, max_size=4).map(lambda v: [None if x is None else str(x) for x in v])),
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_keys = itertools.count(1000)


def _constructor(typ: str, elements: list[str | None]) -> str:
    items = ", ".join("NULL" if e is None else quote(e) for e in elements)
    return f"ARRAY[{items}]::{typ}" if elements else f"ARRAY[]::{typ}"


@SETTINGS
@given(case=ARRAYS)
def test_array_values_round_trip_as_postgresql(connections: Any, case: tuple[str, list[str | None]]) -> None:
    """value → text (PostgreSQL's) → value → binary / storage / COPY, on both servers."""
    typ, elements = case
    ours, theirs = connections
    built = _constructor(typ, elements)
    same(connections, f"SELECT {built}")
    same(connections, f"SELECT {built}", binary=True)
    answer = outcome(theirs, f"SELECT ({built})::text")
    assert answer[0] == "ok"
    text = answer[2][0][0].decode()
    same(connections, f"SELECT {quote(text)}::{typ}", binary=True)
    same(connections, f"SELECT {quote(text)}::{typ} = {built}")
    column = {"int[]": "ia", "text[]": "ta", "numeric[]": "na"}[typ]
    key = next(_keys)
    same(connections, f"INSERT INTO arr (k, {column}) VALUES ({key}, {quote(text)})")
    escaped = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    line = f"{key + 100000}\t{escaped}"  # COPY's text format
    for conn in (ours, theirs):
        with conn.cursor().copy(f"COPY arr (k, {column}) FROM STDIN") as copy:
            copy.write(line.encode() + b"\n")
    read = f"SELECT k, {column} FROM arr WHERE k IN ({key}, {key + 100000}) ORDER BY k"
    same(connections, read)
    same(connections, read, binary=True)
    same(connections, f"DELETE FROM arr WHERE k IN ({key}, {key + 100000})")


# ------------------------------------------------------------------------------------------------ maintained

VIEWS = {
    "unnested": "SELECT k, x, n FROM arr, unnest(ia) WITH ORDINALITY AS u(x, n)",
    "aggregated": "SELECT g, array_agg(k ORDER BY k DESC) AS ks, array_agg(DISTINCT x ORDER BY x) AS xs "
                  "FROM arr, unnest(ia) AS u(x) GROUP BY g",
    "series": "SELECT k, s FROM arr, generate_series(1, cardinality(ia)) AS s",
    "select_list": "SELECT k, unnest(ta) AS t, generate_subscripts(ta, 1) AS i, unnest(ia) AS x FROM arr",
    "matching": "SELECT a.k AS a, b.k AS b FROM arr a JOIN arr b ON a.ia = b.ia AND a.k < b.k",
    "anyof": "SELECT k FROM arr WHERE 2 = ANY(ia) OR 'a' = ANY(ta)",
    "kept": "SELECT k, x FROM arr LEFT JOIN LATERAL unnest(ia) AS u(x) ON true",
    "rebuilt": "SELECT g, array_agg(x ORDER BY x) AS xs FROM arr, unnest(ia) AS u(x) WHERE x IS NOT NULL GROUP BY g",
}


def _rows(conn: psycopg.Connection, sql: str) -> list[tuple]:
    result = outcome(conn, sql)
    assert result[0] == "ok", f"{sql}: {result}"
    return sorted(result[2], key=repr)


def test_maintained_views_agree_with_postgresql_through_writes(connections: Any) -> None:
    ours, theirs = connections
    ours.execute("CREATE TABLE arr2 (k int, g int, ia int[], ta text[])")
    theirs.execute("CREATE TABLE arr2 (k int, g int, ia int[], ta text[])")
    views = {name: re.sub(r"\barr\b", "arr2", sql) for name, sql in VIEWS.items()}
    for name, sql in views.items():
        kind = "MATERIALIZED VIEW" if name in ("aggregated", "matching") else "VIEW"
        ours.execute(f"CREATE {kind} m_{name} AS {sql}")
    ours.execute("CREATE INDEX m_unnested_k ON m_unnested (k)")
    ours.execute("CREATE INDEX m_rebuilt_g ON m_rebuilt (g)")
    rng = random.Random(13)
    pool = ["{1,2}", "{2}", "{}", None, "{3,NULL,2}", "{5,5}", "{NULL}"]
    texts = ["{a}", "{b,\"c d\"}", "{}", None, "{NULL,a}"]
    key = 0
    for batch in range(6):
        statements = []
        for _ in range(4):
            key += 1
            ia, ta = rng.choice(pool), rng.choice(texts)
            statements.append(f"INSERT INTO arr2 VALUES ({key}, {key % 3}, "
                              f"{'NULL' if ia is None else quote(ia)}, {'NULL' if ta is None else quote(ta)})")
        if batch >= 2:
            statements.append(f"DELETE FROM arr2 WHERE k = {rng.randint(1, key)}")
            statements.append(f"UPDATE arr2 SET ia = array_append(ia, {batch}) WHERE k = {rng.randint(1, key)}")
        for conn in (ours, theirs):
            for statement in statements:
                conn.execute(statement)
        for name, sql in views.items():
            assert _rows(ours, f"SELECT * FROM m_{name}") == _rows(theirs, sql), f"{name} after batch {batch}"
