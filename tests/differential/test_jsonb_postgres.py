"""jsonb, uuid and bytea against the real PostgreSQL server: the same statements, the same answers and SQLSTATEs.

* Operators, functions, casts and their errors on hand-picked cases, compared raw in text and binary format
  (``scalar_support.same``: type OIDs and every value's bytes).
* Generated documents (hypothesis): ordering and equality (``<``, ``=``), containment both ways, ``||``, ``-``,
  ``->``/``->>``/``#>``/``?``, ``jsonb_typeof``/``jsonb_strip_nulls``/``jsonb_pretty`` of pairs of documents.
* Tables with jsonb, uuid and bytea columns: INSERT and COPY, read back in text and binary format, ORDER BY,
  GROUP BY and a join on jsonb.
* A maintained view over jsonb (operators, ``jsonb_agg``, ``jsonb_object_agg``, grouping by a jsonb value) with an
  index, checked after each generated write batch against PostgreSQL running the view's query on the same rows.
* asyncpg (binary format, its own jsonb/uuid/bytea codecs) gets the same Python values from both servers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any, Iterator

import asyncpg
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import copy_outcome, postgres_server, quote, same

__all__ = ["postgres_server"]


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP SCHEMA IF EXISTS jsonb_diff CASCADE")
    theirs.execute("CREATE SCHEMA jsonb_diff")
    theirs.execute("SET search_path = jsonb_diff")
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

DOC = "CAST('{\"a\": [1, 2.50, {\"b\": null}], \"c\": \"x\", \"d\": {\"e\": [true, false]}}' AS jsonb)"


@pytest.mark.parametrize("sql", [
    f"SELECT {DOC}", f"SELECT {DOC} -> 'a'", f"SELECT {DOC} ->> 'c'", f"SELECT {DOC} -> 'a' -> 1",
    f"SELECT {DOC} -> 'a' -> -1", f"SELECT {DOC} -> 'a' ->> 5", f"SELECT {DOC} -> 'zz'", f"SELECT {DOC} #> '{{a,2}}'",
    f"SELECT {DOC} #>> '{{d,e,0}}'", f"SELECT {DOC} #> '{{}}'", f"SELECT {DOC} #>> '{{a,x}}'",
    f"SELECT {DOC} @> '{{\"c\": \"x\"}}'", f"SELECT {DOC} @> '{{\"a\": [2.5]}}'", f"SELECT {DOC} <@ '{{}}'",
    f"SELECT {DOC} ? 'c'", f"SELECT {DOC} ?| ARRAY['q', 'd']", f"SELECT {DOC} ?& ARRAY['a', 'q']",
    f"SELECT {DOC} ?| '{{q,d}}'", f"SELECT {DOC} ?& '{{a,c}}'", f"SELECT {DOC} ?& '{{}}'",
    f"SELECT {DOC} || '{{\"c\": 1}}'", f"SELECT {DOC} - 'a'", f"SELECT jsonb_strip_nulls({DOC})",
    f"SELECT jsonb_pretty({DOC})", f"SELECT jsonb_typeof({DOC} -> 'd')", f"SELECT jsonb_array_length({DOC} -> 'a')",
    "SELECT CAST('[1, 2, 3]' AS jsonb) - 1", "SELECT CAST('[1, 2, 3]' AS jsonb) - -1", "SELECT CAST('1' AS jsonb) - 'a'",
    "SELECT CAST('{}' AS jsonb) - 0", "SELECT jsonb_array_length(CAST('1' AS jsonb))",
    "SELECT jsonb_array_length(CAST('{}' AS jsonb))", "SELECT CAST('[1, 2]' AS jsonb) @> '1'",
    "SELECT CAST('1' AS jsonb) @> '[1]'", "SELECT CAST('\"a\"' AS jsonb) ? 'a'", "SELECT CAST('1' AS jsonb) || '2'",
    "SELECT CAST('[1]' AS jsonb) || '{\"a\": 1}'", "SELECT CAST('{\"a\": 1}' AS jsonb) || '3'",
    "SELECT jsonb_pretty('[]')", "SELECT jsonb_pretty('{\"a\": {}, \"b\": []}')", "SELECT jsonb_pretty('\"x\"')",
    "SELECT CAST('{\"b\": 1, \"a\": 2, \"b\": 3, \"aa\": 1e2}' AS jsonb)",
    "SELECT CAST('\"\\u00e9\\n\\t\\u0001\"' AS jsonb)", "SELECT CAST('[1,' AS jsonb)", "SELECT CAST('NaN' AS jsonb)",
    "SELECT CAST('\"\\u0000\"' AS jsonb)", "SELECT CAST(CAST('1.50' AS jsonb) AS numeric)",
    "SELECT CAST(CAST('2.5' AS jsonb) AS integer)", "SELECT CAST(CAST('true' AS jsonb) AS boolean)",
    "SELECT CAST(CAST('\"1\"' AS jsonb) AS numeric)", "SELECT CAST(CAST('1' AS jsonb) AS boolean)",
    "SELECT CAST(CAST('{}' AS jsonb) AS integer)", "SELECT CAST(CAST('1e3' AS jsonb) AS double precision)",
    "SELECT CAST(CAST('[1, \"a\"]' AS jsonb) AS text)",
    "SELECT jsonb_build_object('a', 1, 'b', 'x', 'c', NULL, 'd', true, 'e', 2.50, 'f', CAST(0.1 AS real))",
    "SELECT jsonb_build_object(1, 2)", "SELECT jsonb_build_object('a')", "SELECT jsonb_build_object(NULL, 1)",
    "SELECT jsonb_build_array(1, 'x', NULL, CAST('{\"a\": 1}' AS jsonb), CAST(1.5 AS double precision))",
    "SELECT jsonb_build_array()", "SELECT to_jsonb(1)", "SELECT to_jsonb(CAST('x' AS text))",
    "SELECT to_jsonb(CAST(1e20 AS double precision))", "SELECT to_jsonb(CAST('2020-01-02 03:04:05.5' AS timestamp))",
    "SELECT to_jsonb(CAST('2020-01-02' AS date))", "SELECT to_jsonb(true)",
    "SELECT CAST('[]' AS jsonb) < CAST('null' AS jsonb)", "SELECT CAST('1.0' AS jsonb) = CAST('1' AS jsonb)",
    "SELECT CAST('{\"a\": 1}' AS jsonb) > CAST('[1, 2, 3]' AS jsonb)", "SELECT jsonb_typeof(NULL)",
    # uuid
    "SELECT CAST('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AS uuid)", "SELECT CAST('{a0eebc999c0b4ef8bb6d6bb9bd380a11}' AS uuid)",
    "SELECT CAST('a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11' AS uuid)", "SELECT CAST('a0eebc99' AS uuid)",
    "SELECT CAST(' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid)",
    "SELECT CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid) < CAST('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid)",
    "SELECT CAST(CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid) AS text)",
    # bytea
    "SELECT CAST('\\x0aFF' AS bytea)", "SELECT CAST('abc\\\\d\\001' AS bytea)", "SELECT CAST('\\x0' AS bytea)",
    "SELECT CAST('\\xzz' AS bytea)", "SELECT CAST('a\\q' AS bytea)", "SELECT CAST('é' AS bytea)",
    "SELECT md5(CAST('\\x00ff' AS bytea))", "SELECT length(CAST('\\x00ff' AS bytea))",
    "SELECT octet_length(CAST('\\x00ff01' AS bytea))", "SELECT encode(CAST('\\x00ff' AS bytea), 'hex')",
    "SELECT encode(CAST('hello world' AS bytea), 'base64')", "SELECT decode('00ff', 'hex')",
    "SELECT decode('aGVsbG8=', 'base64')", "SELECT encode(CAST('a\\\\b\\001' AS bytea), 'escape')",
    "SELECT decode('0g', 'hex')", "SELECT encode(CAST('\\x00' AS bytea), 'nope')",
    "SELECT CAST('\\x01' AS bytea) || CAST('\\x02' AS bytea)", "SELECT CAST('\\x01' AS bytea) < CAST('\\x0100' AS bytea)",
    "SELECT CAST(CAST('\\x41' AS bytea) AS text)", "SELECT octet_length('é')",
    # sha224/256/384/512 of bytea (an unknown literal is bytea; text is no argument), bit_length of text and bytea
    "SELECT sha224('abc'), sha256(CAST('abc' AS bytea)), sha384(''), sha512(CAST('\\x00ff' AS bytea))",
    "SELECT sha256(CAST('abc' AS text))", "SELECT sha256(NULL), bit_length(NULL)", "SELECT sha256(1)",
    "SELECT bit_length('é'), bit_length(CAST('\\x00ff01' AS bytea)), bit_length(CAST('ab' AS varchar))",
    "SELECT encode(sha256(CAST(x AS bytea)), 'hex') FROM (VALUES ('a'), ('b')) v(x) ORDER BY 1",
    "SELECT jsonb_nosuch(CAST('1' AS jsonb))", "SELECT CAST('1' AS jsonb) + 1",
    # a top-level scalar is a one-element array to ``->``/``->>`` by position (PostgreSQL's storage shows through)
    "SELECT CAST('false' AS jsonb) ->> 0, CAST('1' AS jsonb) -> -1, CAST('1' AS jsonb) -> 1, CAST('null' AS jsonb) -> 0",
    "SELECT CAST('null' AS jsonb) ->> 0, CAST('\"x\"' AS jsonb) -> 0, CAST('1' AS jsonb) #> '{0}'",
    # the table functions (expr/table_functions.py takes their rows from expr/jsonb_functions.py)
    "SELECT * FROM jsonb_array_elements(CAST('[1, \"a\", null, [2], {}]' AS jsonb)) WITH ORDINALITY",
    "SELECT * FROM jsonb_array_elements_text('[1, \"a\", null, [2]]') WITH ORDINALITY AS t(v, n)",
    f"SELECT * FROM jsonb_each({DOC}) ORDER BY key", f"SELECT key, value FROM jsonb_each_text({DOC}) ORDER BY 1",
    f"SELECT jsonb_object_keys({DOC}) AS k ORDER BY k", "SELECT e.value FROM jsonb_array_elements('[3, 1]') AS e",
    "SELECT * FROM jsonb_array_elements('{}')", "SELECT * FROM jsonb_each('[]')", "SELECT jsonb_object_keys('1')",
    "SELECT * FROM jsonb_array_elements(NULL)", "SELECT count(*) FROM jsonb_array_elements_text('[1, 2, 3]')",
])
def test_statements_agree_with_postgresql(connections: Any, sql: str) -> None:
    same(connections, sql)
    same(connections, sql, binary=True)


LETTERS = st.text("abc", max_size=3)  # collation-neutral strings: steadystate compares bytewise
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([1.5, 2.50, -0.25]).map(str), LETTERS)
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(LETTERS, inner, max_size=3)), max_leaves=8)


def _json(tree: Any) -> str:
    return json.dumps(tree).replace('"1.5"', "1.5").replace('"2.50"', "2.50").replace('"-0.25"', "-0.25")


@SETTINGS
@given(a=TREES, b=TREES, key=LETTERS, index=st.integers(-3, 3))
def test_generated_documents_agree_with_postgresql(connections: Any, a: Any, b: Any, key: str, index: int) -> None:
    x, y = f"CAST({quote(_json(a))} AS jsonb)", f"CAST({quote(_json(b))} AS jsonb)"
    same(connections, f"SELECT {x} < {y}, {x} = {y}, {x} >= {y}, {x} @> {y}, {x} <@ {y}, {x} ? {quote(key)}")
    same(connections, f"SELECT {x} || {y}, {x} -> {quote(key)}, {x} ->> {index}, {x} #> '{{{key},{index}}}'")
    same(connections, f"SELECT jsonb_typeof({x}), jsonb_strip_nulls({x}), jsonb_pretty({x})", binary=True)
    same(connections, f"SELECT {x} - {quote(key)}")
    same(connections, f"SELECT {x} - {index}")


_keys = itertools.count()


def test_tables_of_jsonb_uuid_and_bytea_agree_with_postgresql(connections: Any) -> None:
    ours, theirs = connections
    for conn in (ours, theirs):
        conn.execute("CREATE TABLE docs (k int, d jsonb, u uuid, b bytea)")
    rows = [
        (1, '{"a": 1, "b": [1, 2]}', "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\x00ff"),
        (2, '[]', "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}", "ab\\\\c"),
        (3, 'null', "a0eebc999c0b4ef8bb6d6bb9bd380a10", ""),
        (4, '{"a": 1.0, "b": [1, 2]}', None, None),
        (5, '"x"', "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\x"),
    ]
    for k, d, u, b in rows:
        values = ", ".join("NULL" if v is None else quote(str(v)) for v in (k, d, u, b))
        same(connections, f"INSERT INTO docs VALUES ({values})")
    for line in ['6\t{"c": [true]}\tb0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\t\\\\x0102', "7\t[1,\tnot-a-uuid\t\\\\x",
                 "8\t1\tnot-a-uuid\t\\\\x", "9\t2\t\\N\t\\N"]:
        assert copy_outcome(ours, "docs", line) == copy_outcome(theirs, "docs", line), line
    for sql in ["SELECT * FROM docs ORDER BY k", "SELECT d, count(*) AS n FROM docs GROUP BY d ORDER BY d",
                "SELECT u, b FROM docs ORDER BY u, b, k", "SELECT x.k, y.k FROM docs AS x JOIN docs AS y ON x.d = y.d "
                "ORDER BY x.k, y.k", "SELECT k FROM docs WHERE d @> '{\"b\": [2]}' ORDER BY k",
                "SELECT DISTINCT b FROM docs ORDER BY b"]:
        same(connections, sql)
        same(connections, sql, binary=True)
    with ours.cursor().copy("COPY (SELECT * FROM docs ORDER BY k) TO STDOUT") as copy:
        mine = b"".join(bytes(block) for block in copy)
    with theirs.cursor().copy("COPY (SELECT * FROM docs ORDER BY k) TO STDOUT") as copy:
        expected = b"".join(bytes(block) for block in copy)
    assert mine == expected


VIEW = ("SELECT d -> 'g' AS g, count(*) AS n, jsonb_agg(d ORDER BY k) AS docs, "
        "jsonb_object_agg(CAST(k AS text), d ->> 'v' ORDER BY k) AS vs, sum(CAST(d ->> 'n' AS numeric)) AS total "
        "FROM events WHERE d ? 'g' GROUP BY d -> 'g'")

# a correlated table function over the same rows, maintained as a materialized view
KEYS_VIEW = ("SELECT kv.key, count(*) AS n, jsonb_agg(kv.value ORDER BY e.k) AS vs "
             "FROM events AS e, jsonb_each(e.d) AS kv GROUP BY kv.key")

EVENT = st.fixed_dictionaries({"g": st.one_of(st.integers(0, 2), st.sampled_from(["a", "b"]), st.just([1])),
                               "v": LETTERS, "n": st.sampled_from([1, 2.5, 10, 0.125])},
                              optional={"x": st.booleans()})
BATCHES = st.lists(st.lists(st.one_of(st.tuples(st.just("insert"), EVENT), st.tuples(st.just("delete"),
                                                                                     st.integers(0, 20))),
                            min_size=1, max_size=4), min_size=1, max_size=4)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=BATCHES)
def test_a_maintained_jsonb_view_agrees_with_postgresql(connections: Any, batches: list[list[tuple[str, Any]]]) -> None:
    ours, theirs = connections
    suffix = next(_keys)
    for conn in (ours, theirs):
        conn.execute(f"CREATE TABLE events{suffix} (k int, d jsonb)")
    ours.execute(f"CREATE VIEW events_view{suffix} AS {VIEW.replace('events', f'events{suffix}')}")
    ours.execute(f"CREATE DEFAULT INDEX ON events_view{suffix}")
    ours.execute(f"CREATE MATERIALIZED VIEW keys_view{suffix} AS {KEYS_VIEW.replace('events', f'events{suffix}')}")
    keys = itertools.count()
    for batch in batches:
        statements = []
        for action, payload in batch:
            if action == "insert":
                statements.append(f"INSERT INTO events{suffix} VALUES ({next(keys)}, {quote(json.dumps(payload))})")
            else:
                statements.append(f"DELETE FROM events{suffix} WHERE k = {payload}")
        for conn in (ours, theirs):
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)
        read = f"SELECT * FROM events_view{suffix} ORDER BY g"
        expected = f"SELECT * FROM ({VIEW.replace('events', f'events{suffix}')}) AS q ORDER BY g"
        mine, theirs_rows = ours.execute(read).fetchall(), theirs.execute(expected).fetchall()
        assert mine == theirs_rows, f"after {statements}"
        read = f"SELECT * FROM keys_view{suffix} ORDER BY key"
        expected = f"SELECT * FROM ({KEYS_VIEW.replace('events', f'events{suffix}')}) AS q ORDER BY key"
        assert ours.execute(read).fetchall() == theirs.execute(expected).fetchall(), f"after {statements}"


def test_asyncpg_decodes_the_same_values(server: Any, postgres_server: str) -> None:
    """asyncpg asks for binary results and sends binary parameters of the types it knows."""
    query = ("SELECT CAST('{\"a\": [1, 2.5]}' AS jsonb) AS d, CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid) AS u,"
             " CAST('\\x00ff' AS bytea) AS b, CAST($1 AS jsonb) AS p, CAST($2 AS uuid) AS q, CAST($3 AS bytea) AS r")
    params = ('{"k": [true, null]}', uuid.UUID("b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), b"\x01\x02")

    async def fetch(dsn: str, **connect: Any) -> list[Any]:
        conn = await asyncpg.connect(dsn, **connect)
        try:
            return [tuple(r) for r in await conn.fetch(query, *params)]
        finally:
            await conn.close()

    ours = asyncio.run(fetch(f"postgresql://materialize@127.0.0.1:{server.sql_port}/materialize",
                             password=server.password, ssl=False))
    theirs = asyncio.run(fetch(postgres_server))
    assert ours == theirs and ours[0][1] == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")


def test_psycopg_adapters_send_and_read_the_same_values(connections: Any) -> None:
    """psycopg's own jsonb/uuid/bytea dumpers and loaders, parameters and results in text and in binary format."""
    from psycopg.types.json import Jsonb

    values = (Jsonb({"a": [1, 2.5, None], "b": "é"}), uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), b"\x00\xff")
    sql = "SELECT CAST(%s AS jsonb) AS d, CAST(%s AS uuid) AS u, CAST(%s AS bytea) AS b, CAST(%s AS jsonb) -> 'a' AS a"
    for binary in (False, True):
        answers = [conn.cursor(binary=binary).execute(sql, (*values, values[0])).fetchall() for conn in connections]
        assert answers[0] == answers[1], f"binary={binary}"
        assert answers[0][0][1] == values[1] and answers[0][0][2] == values[2]


def test_psql_prints_the_same(server: Any, postgres_server: str) -> None:
    """psql (text format, aligned output) shows jsonb, uuid and bytea values as it does from PostgreSQL."""
    import shutil
    import subprocess

    query = ("SELECT CAST('{\"b\": [1, 2.50], \"a\": \"é\"}' AS jsonb) AS d, "
             "CAST('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AS uuid) AS u, CAST('\\x00ff' AS bytea) AS b, "
             "jsonb_pretty(CAST('{\"k\": [1]}' AS jsonb)) AS p")
    ours = server.psql(query).stdout
    psql = shutil.which("psql")
    assert psql is not None
    theirs = subprocess.run([psql, "-X", postgres_server, "-c", query], capture_output=True, text=True, timeout=60,
                            check=True).stdout
    assert ours == theirs


def test_gen_random_uuid_is_per_row_and_refused_where_results_are_maintained(connections: Any) -> None:
    ours, _ = connections
    ours.execute("CREATE TABLE uuid_rows (k int)")
    ours.execute("INSERT INTO uuid_rows VALUES (1), (2), (3)")
    values = [r[0] for r in ours.execute("SELECT gen_random_uuid() FROM uuid_rows").fetchall()]
    assert len(set(values)) == 3 and all(isinstance(v, uuid.UUID) and v.version == 4 for v in values)
    for ddl in ["CREATE VIEW uuid_view AS SELECT k, gen_random_uuid() AS u FROM uuid_rows",
                "CREATE MATERIALIZED VIEW uuid_mv AS SELECT gen_random_uuid() AS u"]:
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            ours.execute(ddl)


@pytest.mark.parametrize("sql", [
    "SELECT jsonb_object_agg(k, v) FROM (VALUES (CAST(NULL AS text), 1), ('a', 2)) AS t(k, v)",
    "SELECT jsonb_object_agg(k, v ORDER BY v) FROM (VALUES ('b', 1), ('a', 2), ('b', 3)) AS t(k, v)",
    "SELECT jsonb_agg(v ORDER BY v DESC) FROM (VALUES (1), (NULL), (3)) AS t(v)",
    "SELECT jsonb_agg(v) FROM (VALUES (1)) AS t(v) WHERE v > 1",
])
def test_jsonb_aggregates_agree_with_postgresql(connections: Any, sql: str) -> None:
    same(connections, sql)
