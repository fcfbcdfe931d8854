"""Scalar semantics against the real PostgreSQL server: the same statements, the same answers, the same SQLSTATEs.

Hypothesis generates values (boundaries, halves to round, trailing spaces, out-of-range numbers) for the types
whose behaviour a modifier or a range decides — ``smallint``, ``integer``, ``bigint``, ``real``, ``double
precision``, ``numeric(p, s)``, ``varchar(n)``, ``char(n)``, ``timestamp(p)`` — and runs, on a real steadystate
server and on a real PostgreSQL server (the one the storage tests start, tests/storage/conftest.py):

* explicit casts of a text literal and of a numeric constant (``CAST('1.235' AS numeric(4,2))``),
* arithmetic between values of one type (``+``, ``-``, ``*``, overflow included),
* ``INSERT``, ``UPDATE`` and ``COPY FROM`` into a column of the type, then reading the table back.

Each answer is compared raw, as it came off the wire: the column type OIDs and type modifiers of the
RowDescription and every value's bytes, in text format and (for reads) in binary format; an error is compared by
its SQLSTATE and message.  So a rounding, a padding, a float4 digit or a typmod that differs fails the test with
the statement that shows it.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
import random
import struct
from typing import Any, Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import copy_outcome, postgres_server, quote, same
from steadystate.repr.floattext import float4_text, float8_text

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests


#: the column types of the tables the writes go to (one table per type, on both servers)
COLUMN_TYPES = [
    "smallint", "integer", "bigint", "real", "double precision", "numeric", "numeric(5,2)", "numeric(3)",
    "numeric(4,4)", "numeric(12,6)", "varchar(3)", "character varying", "char(3)", "char", "text",
    "timestamp", "timestamp(0)", "timestamp(3)", "timestamptz", "timestamptz(2)", "time", "time(3)", "interval",
    "date",
]
INTEGERS = ["smallint", "integer", "bigint"]
FLOATS = ["real", "double precision"]


@pytest.fixture(scope="module")
def connections(server: Any, postgres_server: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    ours = server.connect()
    theirs = psycopg.connect(postgres_server, autocommit=True)
    theirs.execute("DROP SCHEMA IF EXISTS scalar_diff CASCADE")
    theirs.execute("CREATE SCHEMA scalar_diff")
    theirs.execute("SET search_path = scalar_diff")
    for conn in (ours, theirs):
        for number, typ in enumerate(COLUMN_TYPES):
            conn.execute(f"CREATE TABLE t{number} (k int, v {typ})")
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


# ------------------------------------------------------------------------------------------------ values

_INT_EDGES = [0, 1, -1, 32767, 32768, -32768, -32769, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63,
              -(2**63), -(2**63) - 1]
INTEGER_TEXT = st.one_of(st.sampled_from(_INT_EDGES), st.integers(-(2**64), 2**64),
                         st.integers(-40000, 40000)).map(str)
FLOAT_TEXT = st.one_of(
    st.sampled_from(["0.1", "1e38", "3.4e38", "3.5e38", "1e39", "1e-40", "1e-46", "1e-50", "1e308", "1e309",
                     "-0", "123456789", "1.5", "2.5", "16777217", "0.3333333333"]),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@st.composite
def numeric_text(draw: st.DrawFn) -> str:
    whole = draw(st.one_of(st.integers(0, 10**draw(st.integers(0, 14))), st.sampled_from([0, 9, 99, 999, 1000])))
    fraction = draw(st.text("0123456789", max_size=8))
    if draw(st.booleans()):
        fraction = fraction[:draw(st.integers(0, 4))] + "5"  # a half to round
    sign = draw(st.sampled_from(["", "-"]))
    return f"{sign}{whole}" + (f".{fraction}" if fraction else "")


STRING_TEXT = st.text(alphabet="ab ", max_size=6)


@st.composite
def timestamp_text(draw: st.DrawFn) -> str:
    value = draw(st.datetimes(min_value=_dt.datetime(1900, 1, 1), max_value=_dt.datetime(2100, 1, 1)))
    micros = draw(st.sampled_from([value.microsecond, 500000, 499999, 5, 999999, 123456, 0]))
    return value.replace(microsecond=micros).isoformat(sep=" ")


@st.composite
def numeric_type(draw: st.DrawFn) -> str:
    precision = draw(st.integers(1, 16))
    return f"numeric({precision},{draw(st.integers(0, precision))})"


#: (type, value text, whether the value may be written as a bare numeric constant)
CASES = st.one_of(
    st.tuples(st.sampled_from(INTEGERS), INTEGER_TEXT, st.just(True)),
    st.tuples(st.sampled_from(FLOATS), FLOAT_TEXT, st.just(False)),
    st.tuples(st.one_of(numeric_type(), st.sampled_from(["numeric(5,2)", "numeric(3)", "numeric(4,4)"])),
              numeric_text(), st.just(True)),
    st.tuples(st.sampled_from(["varchar(3)", "char(3)", "varchar(1)", "char(1)", "char", "character varying"]),
              STRING_TEXT, st.just(False)),
    st.tuples(st.sampled_from(["timestamp(0)", "timestamp(2)", "timestamp(5)", "timestamp"]), timestamp_text(),
              st.just(False)),
)

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_keys = itertools.count()


@SETTINGS
@given(case=CASES)
def test_casts_agree_with_postgresql(connections: Any, case: tuple[str, str, bool]) -> None:
    typ, text, bare = case
    same(connections, f"SELECT CAST({quote(text)} AS {typ}) AS v")
    same(connections, f"SELECT CAST({quote(text)} AS {typ}) AS v", binary=True)
    if bare:
        same(connections, f"SELECT CAST(({text}) AS {typ}) AS v")


@SETTINGS
@given(typ=st.sampled_from(INTEGERS + FLOATS), op=st.sampled_from(["+", "-", "*"]), data=st.data())
def test_arithmetic_agrees_with_postgresql(connections: Any, typ: str, op: str, data: st.DataObject) -> None:
    values = INTEGER_TEXT if typ in INTEGERS else FLOAT_TEXT
    a, b = data.draw(values), data.draw(values)
    same(connections, f"SELECT CAST({quote(a)} AS {typ}) {op} CAST({quote(b)} AS {typ}) AS v")


#: the tables a value of a family may go to when its own type has no table (timestamps stay among timestamps:
#: PostgreSQL's full date/time input parser is not what these tests are about)
_FAMILIES = {
    "number": [t for t in COLUMN_TYPES
               if not t.startswith(("timestamp", "varchar", "char", "character", "text", "time", "interval", "date"))]
    + ["text", "varchar(3)"],
    "string": ["varchar(3)", "character varying", "char(3)", "char", "text"],
    "timestamp": ["timestamp", "timestamp(0)", "timestamp(3)", "text"],
}


def _family(typ: str) -> str:
    if typ.startswith("timestamp"):
        return "timestamp"
    if typ.startswith(("varchar", "char", "character", "text")):
        return "string"
    return "number"


@SETTINGS
@given(case=CASES, fallback=st.integers(0, 100))
def test_writes_agree_with_postgresql(connections: Any, case: tuple[str, str, bool], fallback: int) -> None:
    """INSERT (text literal and numeric constant), UPDATE and COPY of one value into a column of its type (or, when
    the generated type has no table, of another type of its family: assignment casts between types are exercised
    too)."""
    typ, text, bare = case
    if typ not in COLUMN_TYPES:
        choices = _FAMILIES[_family(typ)]
        typ = choices[fallback % len(choices)]
    table = f"t{COLUMN_TYPES.index(typ)}"
    key = next(_keys)
    read = f"SELECT k, v FROM {table} WHERE k = {key}"
    inserts = [f"INSERT INTO {table} VALUES ({key}, {quote(text)})"]
    if bare:
        inserts.append(f"INSERT INTO {table} VALUES ({key}, {text})")
    for insert in inserts:
        if same(connections, insert)[0] == "ok":
            same(connections, read)
            same(connections, read, binary=True)
            same(connections, f"SELECT k FROM {table} WHERE v = {quote(text)} AND k = {key}")
            same(connections, f"SELECT k FROM {table} WHERE v IN ({quote(text)}, {quote(text + ' ')}) AND k = {key}")
            same(connections, f"UPDATE {table} SET v = {quote(text)} WHERE k = {key}")
            same(connections, read)
        same(connections, f"DELETE FROM {table} WHERE k = {key}")
    ours, theirs = connections
    line = f"{key}\t{text}"
    assert copy_outcome(ours, table, line) == copy_outcome(theirs, table, line), f"COPY {table}: {line!r}"
    same(connections, read)
    same(connections, f"DELETE FROM {table} WHERE k = {key}")


@pytest.mark.parametrize("typ", COLUMN_TYPES)
def test_column_types_are_reported_as_postgresql_reports_them(connections: Any, typ: str) -> None:
    """RowDescription's type OID and type modifier, for a table column and for a cast to the type."""
    same(connections, f"SELECT v FROM t{COLUMN_TYPES.index(typ)}")
    same(connections, f"SELECT CAST(NULL AS {typ}) AS v")


@pytest.mark.parametrize("sql", [
    "SELECT 2147483647 + 1", "SELECT -2147483648 - 1", "SELECT 9223372036854775807 + 1",
    "SELECT CAST(32767 AS smallint) + CAST(1 AS smallint)", "SELECT -CAST(-32768 AS smallint)",
    "SELECT CAST(-2147483648 AS integer) * -1", "SELECT abs(CAST(-32768 AS smallint))",
    "SELECT CAST(70000 AS smallint)", "SELECT CAST('32769.0' AS smallint)", "SELECT CAST('1_000' AS integer)", "SELECT CAST(3e9 AS integer)", "SELECT CAST(1e19 AS bigint)",
    "SELECT CAST(1e39 AS real)", "SELECT CAST(1e-50 AS real)", "SELECT CAST(3.4e38 AS real) * 10",
    "SELECT CAST(1e-30 AS real) * CAST(1e-30 AS real)", "SELECT CAST(1e-200 AS float8) * CAST(1e-200 AS float8)",
    "SELECT CAST(1e-200 AS float8) / CAST(1e200 AS float8)", "SELECT CAST(CAST(0.1 AS real) AS double precision)",
    "SELECT CAST(0.1 AS real) = 0.1", "SELECT CAST(0.1 AS real) = CAST(0.1 AS double precision)",
    "SELECT CAST('abc' AS char(5)) = 'abc'", "SELECT length(CAST('ab' AS char(5)))",
    "SELECT CAST('a' AS char(3)) = 'a  '", "SELECT CAST('a' AS char(3)) = CAST('a  ' AS text)",
    "SELECT CAST('a' AS char(3)) = CAST('a  ' AS varchar(3))", "SELECT CAST('a' AS char(3)) IN ('b', 'a ')",
    "SELECT CAST('ab' AS char(5)) || 'x'", "SELECT CAST(CAST('ab ' AS varchar(5)) AS char(1))",
    "SELECT CAST(12.345 AS numeric(4,2))", "SELECT CAST('99999999999999999999999999999' AS numeric(29,0))",
    "SELECT CAST('-1234567890123456789012345678901234567890.125' AS numeric(45,2))", "SELECT CAST(99.995 AS numeric(4,2))",
    "SELECT CAST(-0.005 AS numeric(3,2))", "SELECT CAST('NaN' AS numeric(3,1))",
    "SELECT CAST(1 AS numeric(1001))", "SELECT CAST('a' AS varchar(0))", "SELECT CAST(1 AS int(3))",
    "SELECT CAST('a' AS text(3))", "SELECT CAST(1.5 AS float(10))", "SELECT CAST(1.5 AS float(60))",
    "SELECT CAST('2020-01-01 10:00:00.5' AS timestamp(0))", "SELECT CAST(1 AS smallint) + 1",
    "SELECT sum(x), avg(x) * 2 = 3 FROM (VALUES (CAST(1 AS smallint)), (CAST(2 AS smallint))) AS v(x)",
    "SELECT avg(x) FROM (VALUES (CAST(0.5 AS real)), (CAST(0.25 AS real))) AS v(x)",
    "SELECT sum(x) FROM (VALUES (CAST(0.5 AS real)), (CAST(0.25 AS real))) AS v(x)",
])
def test_statements_agree_with_postgresql(connections: Any, sql: str) -> None:
    same(connections, sql)


@pytest.mark.parametrize("ddl", [
    "CREATE TEMPORARY TABLE tmp (a int)",
    "CREATE TABLE c1 (a int PRIMARY KEY)",
    "CREATE TABLE c2 (a int UNIQUE)",
    "CREATE TABLE c3 (a int CHECK (a > 0))",
    "CREATE TABLE c4 (a int REFERENCES t1 (v))",
    "CREATE TABLE c5 (a int, PRIMARY KEY (a))",
    "CREATE TABLE c6 (a int, UNIQUE (a))",
])
def test_unenforced_definitions_are_refused(connections: Any, ddl: str) -> None:
    """Not silently accepted: steadystate cannot keep these promises, so it refuses them (0A000)."""
    ours, _ = connections
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        ours.execute(ddl)


def test_float_digits_are_postgresqls(connections: Any) -> None:
    """float8 and float4 values of random bit patterns print as PostgreSQL prints them (repr/floattext.py), Ryu's
    refusal of digits that lie exactly between two floats included."""
    rng = random.Random(13)
    doubles = [struct.unpack("!d", struct.pack("!Q", rng.getrandbits(64)))[0] for _ in range(4000)]
    singles = [struct.unpack("!f", struct.pack("!I", rng.getrandbits(32)))[0] for _ in range(4000)]
    doubles += [3.3256623128244992e16, 0.1, 1e15, 1e-5, 123456.789, 5e-324, 1.7976931348623157e308, 1e16, 1e-4]
    singles += [0.1, 1e6, 1e-5, 16777217.0, 1.4e-45, 3.4028234663852886e38]
    _, theirs = connections
    for values, typ, ours in ((doubles, "float8", float8_text), (singles, "float4", float4_text)):
        finite = [v for v in values if math.isfinite(v)]
        rows = theirs.execute(f"SELECT x::{typ}::text FROM unnest(%s::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
                              ([repr(v) for v in finite],)).fetchall()
        mismatches = [(v, ours(v), row[0]) for v, row in zip(finite, rows) if ours(v) != row[0]]
        assert not mismatches, f"{typ}: {mismatches[:5]}"


def test_catalog_column_types_are_format_types(connections: Any) -> None:
    """``mz_catalog.mz_columns`` spells each column's type as PostgreSQL's ``format_type`` does, with the same type
    oid and ``atttypmod``, and the same nullability."""
    ours, theirs = connections
    for number in range(len(COLUMN_TYPES)):
        mine = ours.execute(
            "SELECT c.name, c.type, c.type_oid, c.type_mod, c.nullable FROM mz_catalog.mz_columns c "
            "JOIN mz_catalog.mz_tables t ON t.id = c.id WHERE t.name = %s ORDER BY c.position",
            (f"t{number}",)).fetchall()
        expected = theirs.execute(
            "SELECT attname::text, format_type(atttypid, atttypmod), atttypid::int8, atttypmod, NOT attnotnull "
            "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
            (f"scalar_diff.t{number}",)).fetchall()
        assert mine == expected
