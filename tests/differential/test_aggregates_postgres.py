"""every, bit_and/bit_or/bit_xor, corr/covar_*/regr_*, percentile_cont/percentile_disc/mode WITHIN GROUP and unknown
literals as aggregate arguments, against the real PostgreSQL server.

One-shot statements must answer alike byte for byte (type OIDs, values in text format, or SQLSTATE and message:
``scalar_support.same``), except the regression aggregates' float8 results, which steadystate computes from exact
sums and PostgreSQL by Youngs-Cramer in float8: they must agree to 1e-9 relative.  Maintained results — a
materialized view and an indexed view over a table written by hypothesis with random inserts and deletes — must
equal PostgreSQL's answer to the same query on the same rows after every write.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from scalar_support import postgres_server, same

__all__ = ["postgres_server"]

_NAMES = itertools.count()


def both(connections: tuple[psycopg.Connection, psycopg.Connection], sql: str) -> None:
    for conn in connections:
        conn.execute(sql)


ROWS = "(1, 1, 5::int2, 10, 2.5::float8, 'b'), (1, 2, -3::int2, NULL, 3.5, 'a'), (1, 4, 7::int2, 12, 9.0, 'b'), " \
       "(2, NULL, NULL, 1, 1.0, NULL), (2, 3, 6::int2, 2, NULL, 'c'), (3, 5, 1::int2, NULL, NULL, 'c')"


@pytest.fixture(scope="module")
def table(connections: tuple[psycopg.Connection, psycopg.Connection]) -> str:
    name = f"agg_t{next(_NAMES)}"
    both(connections, f"CREATE TABLE {name} (g int, i int, s smallint, b bigint, f float8, t text)")
    both(connections, f"INSERT INTO {name} VALUES {ROWS}")
    return name


SAME = [
    # unknown literals: PostgreSQL's resolution, or its refusal
    "SELECT sum('1.5')", "SELECT avg('1')", "SELECT sum(NULL)", "SELECT bit_and('1')", "SELECT array_agg('a')",
    "SELECT jsonb_agg('a')", "SELECT min('a'), max('b'), count('a'), string_agg('a', ',')",
    "SELECT bool_and('t'), every('t'), bool_or('f')", "SELECT stddev('1'), var_pop('1'), variance('2')",
    "SELECT corr('1', '2'), regr_count('1', 2)", "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY 'a')",
    "SELECT mode() WITHIN GROUP (ORDER BY 'a')",
    "SELECT percentile_cont('0.5') WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2)) v(x)",
    "SELECT count(NULL), min(NULL), max(NULL), string_agg(NULL, ','), string_agg('a', NULL)",
    "SELECT bool_and(NULL), every(NULL), stddev(NULL), corr(NULL, NULL), bit_and(NULL::int)",
    "SELECT jsonb_object_agg('a', 'b')", "SELECT min('a') OVER (), count('a') OVER ()", "SELECT avg('1') OVER ()",
    "SELECT mode() WITHIN GROUP (ORDER BY NULL)", "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY NULL)",
    "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY NULL::int)",
    # every and the bitwise aggregates
    "SELECT every(x), bool_and(x) FROM (VALUES (true), (NULL), (false)) v(x)", "SELECT every(1)",
    "SELECT every(x) FROM (VALUES (true)) v(x) WHERE false",
    "SELECT bit_and(s), bit_or(s), bit_xor(s), bit_and(i), bit_or(i), bit_xor(i), bit_and(b), bit_or(b), "
    "bit_xor(b) FROM {t}",
    "SELECT g, bit_and(s), bit_or(i), bit_xor(b) FROM {t} GROUP BY g ORDER BY g",
    "SELECT bit_and(x), bit_or(x), bit_xor(x) FROM (VALUES (-1::int8), (-9223372036854775807::int8), (5::int8)) v(x)",
    "SELECT bit_and(DISTINCT x), bit_xor(DISTINCT x) FROM (VALUES (3), (3), (5)) v(x)",
    "SELECT bit_or(x) FROM (VALUES (1.5)) v(x)", "SELECT bit_xor(i) FROM {t} WHERE false",
    # ordered-set aggregates
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i), percentile_disc(0.5) WITHIN GROUP (ORDER BY i), "
    "mode() WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT g, percentile_cont(0.25) WITHIN GROUP (ORDER BY f), percentile_disc(0.75) WITHIN GROUP (ORDER BY t), "
    "mode() WITHIN GROUP (ORDER BY t DESC) FROM {t} GROUP BY g ORDER BY g",
    "SELECT percentile_cont(0.3) WITHIN GROUP (ORDER BY i DESC), percentile_disc(0.3) WITHIN GROUP (ORDER BY s DESC)"
    " FROM {t}",
    *(f"SELECT percentile_cont({f}) WITHIN GROUP (ORDER BY x), percentile_disc({f}) WITHIN GROUP (ORDER BY x) "
      "FROM (VALUES (1), (2), (2), (7), (11)) v(x)" for f in ("0.0", "0.1", "0.99", "1.0", "1", "'0.25'")),
    "SELECT percentile_disc(0) WITHIN GROUP (ORDER BY x), percentile_disc(1) WITHIN GROUP (ORDER BY x) "
    "FROM (VALUES (1), (2), (7)) v(x)",
    # a fraction of group key columns (evaluated per group), or of other columns (42803)
    "SELECT p, percentile_cont(p) WITHIN GROUP (ORDER BY x), percentile_disc(p / 2) WITHIN GROUP (ORDER BY x DESC) "
    "FROM (VALUES (0.0), (0.1), (0.99), (1.0), (NULL)) p(p), (VALUES (1), (2), (2), (7), (11)) v(x) GROUP BY p "
    "ORDER BY p",
    "SELECT g, percentile_cont(ARRAY[g / 4.0, 0.5]) WITHIN GROUP (ORDER BY i) FROM {t} GROUP BY g ORDER BY g",
    "SELECT g, percentile_cont(g) WITHIN GROUP (ORDER BY i) FROM {t} GROUP BY g",
    "SELECT percentile_cont(f) WITHIN GROUP (ORDER BY i) FROM {t} GROUP BY g",
    "SELECT percentile_cont(f) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), mode() WITHIN GROUP (ORDER BY x) "
    "FROM (VALUES ('NaN'::float8), (1), (2), ('NaN')) v(x)",
    "SELECT percentile_cont(0.3) WITHIN GROUP (ORDER BY x) FROM (VALUES ('infinity'::float8), (1)) v(x)",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x::numeric) FROM (VALUES (1), (2)) v(x)",
    "SELECT mode() WITHIN GROUP (ORDER BY x), mode() WITHIN GROUP (ORDER BY x DESC) FROM (VALUES (1), (2)) v(x)",
    "SELECT percentile_cont(NULL) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i) FROM {t} WHERE false",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i) FILTER (WHERE g = 1) FROM {t}",
    "SELECT percentile_cont(1.5) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(1.5) WITHIN GROUP (ORDER BY i) FROM {t} WHERE false",
    "SELECT percentile_cont(1.5) WITHIN GROUP (ORDER BY i) FROM {t} WHERE false GROUP BY g",
    "SELECT percentile_disc('NaN') WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(0.5) FROM {t}", "SELECT mode(i) FROM {t}", "SELECT percentile_disc(0.5, i) FROM {t}",
    "SELECT mode() FROM {t}", "SELECT sum(i) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM {t}",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i, g) FROM {t}",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i) OVER () FROM {t}",
    "SELECT percentile_cont(ARRAY[0.5, NULL, 0, 1]) WITHIN GROUP (ORDER BY i), "
    "percentile_disc(ARRAY[0.5, 1]) WITHIN GROUP (ORDER BY t DESC) FROM {t}",
    "SELECT g, percentile_disc(ARRAY[0.1, 0.9]::float8[]) WITHIN GROUP (ORDER BY b) FROM {t} GROUP BY g ORDER BY g",
    "SELECT percentile_cont(ARRAY[1.5]) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(ARRAY[1.5]) WITHIN GROUP (ORDER BY i) FROM {t} WHERE false",
    "SELECT percentile_cont(ARRAY[]::float8[]) WITHIN GROUP (ORDER BY i), "
    "percentile_cont(NULL::float8[]) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(ARRAY['a']) WITHIN GROUP (ORDER BY i) FROM {t}",
    "SELECT percentile_cont(0.3) WITHIN GROUP (ORDER BY x), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY "
    "x DESC), percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES ('1 day'::interval), ('3 days 4 hours'), "
    "('1 mon'), ('-2 hours'), ('1 year 2 mons -3 days 00:00:01.5')) v(x)",
    # every and the bitwise aggregates as window functions
    "SELECT i, every(i > 1) OVER (ORDER BY i), bit_or(s) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), "
    "bit_and(b) OVER (PARTITION BY g), bit_xor(i) OVER () FROM {t} ORDER BY i",
    "SELECT sum('1') OVER ()", "SELECT every(1) OVER ()", "SELECT bool_or(x) OVER () FROM (VALUES (1)) v(x)",
    "SELECT i, regr_count(f, i) OVER (ORDER BY i), regr_avgx(f, i) OVER (PARTITION BY g), regr_sxx(f, i) OVER "
    "(ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), covar_pop(f, i) FILTER (WHERE g < 3) OVER (ORDER BY i "
    "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM {t} ORDER BY i",
    "SELECT corr(t, i) OVER () FROM {t}",
    # in HAVING, ORDER BY, expressions, subqueries
    "SELECT g, bit_or(i) + 1 AS b, percentile_cont(0.5) WITHIN GROUP (ORDER BY i) * 2 AS p FROM {t} GROUP BY g "
    "HAVING every(i > 0) AND percentile_disc(0.5) WITHIN GROUP (ORDER BY i) > 0 ORDER BY mode() WITHIN GROUP "
    "(ORDER BY i DESC), g",
    "SELECT g, (SELECT bit_xor(i) FROM {t} AS u WHERE u.g = o.g) AS x, (SELECT percentile_cont(0.5) WITHIN GROUP "
    "(ORDER BY u.i) FROM {t} AS u WHERE u.g = o.g) AS p FROM (SELECT DISTINCT g FROM {t}) AS o ORDER BY g",
    "SELECT g FROM {t} AS o WHERE i = (SELECT mode() WITHIN GROUP (ORDER BY i) FROM {t} AS u WHERE u.g = o.g) "
    "ORDER BY g",
    "SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY i), bit_or(i), regr_count(f, i) FROM {t} GROUP BY ROLLUP (g) "
    "ORDER BY g",
    "WITH c AS (SELECT g, regr_avgx(f, i) AS r, regr_count(f, i) AS n FROM {t} GROUP BY g) SELECT * FROM c ORDER BY g",
    "SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY i), percentile_cont(0.5) WITHIN GROUP (ORDER BY i DESC), "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM {t} GROUP BY g ORDER BY g",
    # regression aggregates whose answers are exact in both
    "SELECT regr_count(f, i), regr_count(i, f) FROM {t}", "SELECT regr_count(f, i) FROM {t} WHERE false",
    "SELECT corr(f, i), regr_slope(f, i), covar_samp(f, i), regr_sxx(f, i) FROM {t} WHERE g = 3",
    "SELECT corr(f, i), covar_pop(f, i), regr_avgx(f, i) FROM {t} WHERE false",
    "SELECT corr(y, x), regr_r2(y, x), regr_slope(y, x) FROM (VALUES (1, 1), (2, 1), (3, 1)) v(x, y)",
    "SELECT corr(y, x), regr_r2(y, x), regr_slope(y, x) FROM (VALUES (1, 1), (1, 2), (1, 3)) v(x, y)",
    "SELECT regr_sxx(y, x), regr_syy(y, x), regr_sxy(y, x), regr_avgx(y, x), regr_avgy(y, x), corr(y, x) "
    "FROM (VALUES ('infinity'::float8, 1::float8), (2, 2)) v(x, y)",
    "SELECT corr(1e200::float8 * x, x) FROM (VALUES (1), (2)) v(x)", "SELECT corr(t, i) FROM {t}",
]


@pytest.mark.parametrize("sql", SAME)
def test_aggregate_agrees_with_postgresql(connections: Any, table: str, sql: str) -> None:
    same(connections, sql.format(t=table))


REFUSED = [  # PostgreSQL answers these; steadystate refuses them rather than answer wrongly
    "SELECT g, percentile_cont(random()) WITHIN GROUP (ORDER BY x) FROM (VALUES (1, 2)) v(g, x) GROUP BY g",
    "SELECT percentile_cont(0.25 + 0.25) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2)) v(x)",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_refused_with_0a000(connections: Any, sql: str) -> None:
    ours, theirs = connections
    assert answers(ours, sql) == ("error", "0A000")
    assert isinstance(answers(theirs, sql), list)


@pytest.mark.parametrize("sql", ["SELECT every(true), bit_and(1), corr(1, 2), regr_count(1, 2), stddev(1)",
                                 "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY 1), mode() WITHIN GROUP (ORDER BY 1)",
                                 "SELECT count(*) FILTER (WHERE true), mode() WITHIN GROUP (ORDER BY 1) FILTER (WHERE true), "
                                 "bit_xor(2) FILTER (WHERE false)"])
def test_column_names_are_postgresql_s(connections: Any, sql: str) -> None:
    ours, theirs = connections
    assert [c.name for c in ours.execute(sql).description] == [c.name for c in theirs.execute(sql).description]


REGRESSIONS = ("corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept",
               "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy")
ALL_REGRESSIONS = ", ".join(f"{f}(y, x)" for f in REGRESSIONS)


def close(mine: list[tuple], expected: list[tuple]) -> bool:
    """Rows equal, floats to 1e-9 relative (1e-12 absolute: a sum that cancels to about zero)."""
    if len(mine) != len(expected):
        return False
    for a_row, b_row in zip(mine, expected):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                if not (a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)):
                    return False
            elif a != b:
                return False
    return True


def answers(conn: psycopg.Connection, sql: str) -> list[tuple] | tuple[str, str]:
    try:
        return conn.execute(sql).fetchall()
    except psycopg.Error as exc:
        return ("error", str(exc.diag.sqlstate))


SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
POINT = st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(-50, 50)),
                  st.one_of(st.none(), st.integers(-1000, 1000).map(lambda v: v / 8)))


@SETTINGS
@given(rows=st.lists(POINT, max_size=12))
def test_regression_aggregates_agree_with_postgresql(connections: Any, rows: list[tuple]) -> None:
    """Grouped, and over a sliding window frame (the state retracts the rows leaving it)."""
    values = ", ".join(f"({g}, {'NULL' if x is None else x}::int, {'NULL' if y is None else y}::float8)"
                       for g, x, y in rows) or "(0, NULL::int, NULL::float8)"
    window = "OVER (PARTITION BY g ORDER BY x, y ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    sliding = ", ".join(f"{f}(y, x) {window} AS {f}" for f in REGRESSIONS)
    for sql in (f"SELECT g, {ALL_REGRESSIONS} FROM (VALUES {values}) v(g, x, y) GROUP BY g ORDER BY g",
                f"SELECT * FROM (SELECT g, x, y, {sliding} FROM (VALUES {values}) v(g, x, y)) w "
                f"ORDER BY g, x, y, regr_count, regr_sxx"):
        ours, theirs = connections
        mine, expected = answers(ours, sql), answers(theirs, sql)
        assert (mine == expected if isinstance(expected, tuple) else
                isinstance(mine, list) and close(mine, expected)), f"{sql}\n{mine}\n{expected}"


MAINTAINED = (
    "SELECT g, every(i > 0) AS e, bit_and(i) AS ba, bit_or(s) AS bo, bit_xor(b) AS bx, "
    "percentile_cont(0.4) WITHIN GROUP (ORDER BY i) AS pc, percentile_disc(0.6) WITHIN GROUP (ORDER BY s DESC) AS pd, "
    "mode() WITHIN GROUP (ORDER BY b) AS mo, regr_count(f, i) AS rc, corr(f, i) AS co, regr_slope(f, i) AS sl, "
    "covar_samp(f, s) AS cs, regr_avgy(f, b) AS ay, percentile_disc(g / 4.0) WITHIN GROUP (ORDER BY i) AS pg "
    "FROM {t} GROUP BY g"
)
COLUMNS = "SELECT g, bit_and(i) AS ba, bit_or(s) AS bo, bit_xor(b) AS bx, count(i) AS c FROM {t} GROUP BY g"
GLOBAL = ("SELECT bit_or(i) AS bo, bit_xor(s) AS bx, percentile_cont(0.5) WITHIN GROUP (ORDER BY f) AS pc, "
          "mode() WITHIN GROUP (ORDER BY i) AS mo, regr_sxy(f, i) AS sxy, regr_intercept(f, s) AS ri FROM {t}")
ROW = st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(-20, 20)),
                st.one_of(st.none(), st.integers(-300, 300)), st.one_of(st.none(), st.integers(-2**40, 2**40)),
                st.one_of(st.none(), st.integers(-80, 80).map(lambda v: v / 4)))
WRITE = st.one_of(st.tuples(st.just("insert"), st.lists(ROW, min_size=1, max_size=5)),
                  st.tuples(st.just("delete"), st.integers(-20, 20)))


def _literal(value: Any) -> str:
    return "NULL" if value is None else repr(value)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(initial=st.lists(ROW, max_size=8), writes=st.lists(WRITE, min_size=1, max_size=6))
def test_maintained_aggregates_follow_inserts_and_deletes(connections: Any, initial: list[tuple],
                                                          writes: list[tuple]) -> None:
    """The views are created over ``initial`` rows (built from the table's snapshot), then follow the writes."""
    ours, theirs = connections
    name = f"agg_m{next(_NAMES)}"
    both(connections, f"CREATE TABLE {name} (g int, i int, s smallint, b bigint, f float8)")
    if initial:
        both(connections, f"INSERT INTO {name} VALUES " + ", ".join(
            "(" + ", ".join(map(_literal, row)) + ")" for row in initial))
    try:
        ours.execute(f"CREATE MATERIALIZED VIEW {name}_mv AS {MAINTAINED.format(t=name)}")
        ours.execute(f"CREATE VIEW {name}_v AS {GLOBAL.format(t=name)}")
        ours.execute(f"CREATE INDEX {name}_i ON {name}_v (bo)")
        ours.execute(f"CREATE MATERIALIZED VIEW {name}_c AS {COLUMNS.format(t=name)}")  # hydrated from columns
        for kind, argument in writes:
            if kind == "insert":
                values = ", ".join("(" + ", ".join(map(_literal, row)) + ")" for row in argument)
                both(connections, f"INSERT INTO {name} VALUES {values}")
            else:
                both(connections, f"DELETE FROM {name} WHERE i = {argument} OR i IS NULL AND {argument} % 3 = 0")
            for view, query in ((f"{name}_mv", MAINTAINED), (f"{name}_v", GLOBAL), (f"{name}_c", COLUMNS)):
                mine = answers(ours, f"SELECT * FROM {view}")
                expected = answers(theirs, query.format(t=name))
                if isinstance(mine, list) and isinstance(expected, list):
                    mine, expected = sorted(mine, key=repr), sorted(expected, key=repr)
                    assert close(mine, expected), f"{view} after {kind} {argument}:\n{mine}\n{expected}"
                else:
                    assert mine == expected, f"{view} after {kind} {argument}:\n{mine}\n{expected}"
    finally:
        ours.execute(f"DROP TABLE {name} CASCADE")
        theirs.execute(f"DROP TABLE {name}")


def test_a_group_result_error_comes_and_goes_with_the_group(connections: Any) -> None:
    """percentile_cont(1.5) errors for a group that exists (PostgreSQL's final function): a maintained view answers
    the error while such a group exists, and its rows again once the group is gone — the error is retracted."""
    ours, theirs = connections
    name = f"agg_e{next(_NAMES)}"
    query = f"SELECT g, percentile_cont(1.5) WITHIN GROUP (ORDER BY x) AS p FROM {name} WHERE g > 0 GROUP BY g"
    both(connections, f"CREATE TABLE {name} (g int, x int)")
    try:
        ours.execute(f"CREATE MATERIALIZED VIEW {name}_mv AS {query}")
        ours.execute(f"CREATE VIEW {name}_v AS {query}")
        ours.execute(f"CREATE INDEX {name}_i ON {name}_v (g)")
        steps = [f"INSERT INTO {name} VALUES (0, 1)", f"INSERT INTO {name} VALUES (1, 1), (1, 2)",
                 f"DELETE FROM {name} WHERE x = 1", f"DELETE FROM {name} WHERE g = 1",
                 f"INSERT INTO {name} VALUES (2, 5)", f"UPDATE {name} SET g = 0"]
        for step in steps:
            both(connections, step)
            expected = answers(theirs, query)
            for view in (f"{name}_mv", f"{name}_v"):
                assert answers(ours, f"SELECT * FROM {view}") == expected, f"{view} after {step}"
    finally:
        ours.execute(f"DROP TABLE {name} CASCADE")
        theirs.execute(f"DROP TABLE {name}")


@pytest.mark.parametrize(("sql", "params"), [
    ("SELECT sum(%s)", ["1.5"]), ("SELECT min(%s), count(%s)", ["a", "b"]), ("SELECT stddev(%s)", ["2"]),
    ("SELECT percentile_cont(%s) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2)) v(x)", [0.25]),
    ("SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2)) v(x)", [0.5]),
    ("SELECT percentile_cont(%s::float8) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2)) v(x)", ["0.75"]),
    ("SELECT bit_or(%s::int2), corr(%s, %s)", [3, 1.5, 2]),
])
def test_parameters_as_postgresql_types_them(connections: Any, sql: str, params: list) -> None:
    """Bound parameters (psycopg sends a str as unknown, a float as float8, an int as int2/int4/int8)."""
    ours, theirs = connections

    def run(conn: psycopg.Connection) -> Any:
        try:
            return conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            return ("error", exc.diag.sqlstate)

    assert run(ours) == run(theirs)


@pytest.mark.parametrize("sql", [
    "SELECT bit_and(s), bit_or(i), bit_xor(b), every(i > 0), regr_count(f, i) FROM {t}",
    "SELECT percentile_cont(ARRAY[0.5, NULL]) WITHIN GROUP (ORDER BY i), percentile_disc(ARRAY[0.5]) WITHIN GROUP "
    "(ORDER BY t), mode() WITHIN GROUP (ORDER BY s), percentile_disc(0.5) WITHIN GROUP (ORDER BY b) FROM {t}",
    "SELECT percentile_cont(ARRAY[0.3]) WITHIN GROUP (ORDER BY x), percentile_cont(0.7) WITHIN GROUP (ORDER BY x) "
    "FROM (VALUES ('1 day'::interval), ('3 days 4 hours'), ('1 mon')) v(x)",
])
def test_binary_format_agrees_with_postgresql(connections: Any, table: str, sql: str) -> None:
    same(connections, sql.format(t=table), binary=True)
