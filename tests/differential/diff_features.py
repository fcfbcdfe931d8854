"""Hypothesis strategies for the query features of issue 14, over the schemas of ``diff_generators``.

Each strategy builds one maintained query shape as SQL text that PostgreSQL's semantics and DuckDB agree on, so the
generated-query test (``test_generated_features.py``) can hold the maintained result to DuckDB after every write:

* **windows**: ``row_number``, ``rank``, ``dense_rank``, ``ntile``, ``lag``/``lead``, ``first_value``/``last_value``
  and running aggregates ``OVER (PARTITION BY ... ORDER BY ...)``, with ROWS frames; the ORDER BY covers every
  column the output shows, so ties cannot make two correct answers differ;
* **LATERAL**: the top-k-per-group idiom and a correlated aggregate, from a DISTINCT driver;
* **recursion**: a transitive closure (``WITH RECURSIVE ... UNION``) over two tables' key pairs;
* **joins**: ``NATURAL``, ``USING``, ``IS NOT DISTINCT FROM`` and non-equi conditions, comma joins mixed with an
  explicit outer join;
* **aggregates**: ``string_agg`` ordered, ``FILTER (WHERE ...)``, ``DISTINCT`` aggregates; ``DISTINCT ON``;
  ``bit_and``/``bit_or``/``bit_xor`` and the median by ``percentile_cont``/``percentile_disc(0.5)``
  ``WITHIN GROUP`` (where DuckDB's quantiles and PostgreSQL's agree);
* **grouping sets**: ``ROLLUP``, ``CUBE`` and ``GROUPING SETS`` with ``grouping()``.
"""

from __future__ import annotations

from typing import Callable

from hypothesis import strategies as st

from diff_generators import BOOL, INT, NUM, TEXT, ExprGen, Query, Table, table_source

WINDOW_RANKS = ["row_number()", "rank()", "dense_rank()", "ntile(2)"]
WINDOW_VALUES = ["lag({})", "lead({})", "lag({}, 2)", "first_value({})", "last_value({})"]
WINDOW_AGGREGATES = ["sum({})", "count({})", "min({})", "max({})"]
FRAMES = ["", " ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", " ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
          " ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"]


def _name(table: Table) -> str:
    return f"{{prefix}}_{table.alias}"


def _columns(table: Table, kinds: tuple[str, ...] = (INT, TEXT, BOOL, NUM)) -> list[str]:
    return [name for name, kind in table.columns if kind in kinds]


@st.composite
def window_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    table = draw(st.sampled_from(tables))
    shown = _columns(table, (INT, TEXT, NUM))
    partition = draw(st.sampled_from(["", "PARTITION BY k ", "PARTITION BY j ", "PARTITION BY k, j "]))
    # every shown column in the ORDER BY (k and j first, in a drawn order): equal sort keys are equal rows
    order = ", ".join(draw(st.permutations(shown)))
    direction = draw(st.sampled_from(["", " DESC"]))
    if direction:
        order = ", ".join(f"{c} DESC" for c in order.split(", "))
    items = []
    for i in range(draw(st.integers(1, 2))):
        family = draw(st.sampled_from(["rank", "value", "aggregate"]))
        argument = draw(st.sampled_from(_columns(table, (INT,))))
        if family == "rank":
            call, frame = draw(st.sampled_from(WINDOW_RANKS)), ""
        elif family == "value":
            call = draw(st.sampled_from(WINDOW_VALUES)).format(argument)
            frame = draw(st.sampled_from(FRAMES)) if call.startswith(("first", "last")) else ""
        else:
            call, frame = draw(st.sampled_from(WINDOW_AGGREGATES)).format(argument), draw(st.sampled_from(FRAMES))
        items.append(f"{call} OVER ({partition}ORDER BY {order}{frame}) AS w{i}")
    where = f" WHERE {ExprGen(draw, table_source(table).scope).expr(BOOL, 1)}" if draw(st.booleans()) else ""
    select = ", ".join([f"{table.alias}.{c} AS c{i}" for i, c in enumerate(shown)] + items)
    return Query(f"SELECT {select} FROM {_name(table)} AS {table.alias}{where}", len(shown) + len(items))


@st.composite
def lateral_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    outer, inner = draw(st.permutations(tables))[:2]
    key = draw(st.sampled_from(["k", "j"]))
    value = draw(st.sampled_from(_columns(inner, (INT, TEXT, NUM))))
    driver = f"(SELECT DISTINCT {key} AS g FROM {_name(outer)}) AS d"
    if draw(st.booleans()):  # top-k per group
        direction = draw(st.sampled_from(["", " DESC"]))
        limit = draw(st.integers(1, 3))
        body = (f"SELECT u.{value} AS v FROM {_name(inner)} AS u WHERE u.{key} = d.g "
                f"ORDER BY u.{value}{direction} LIMIT {limit}")
        return Query(f"SELECT d.g AS c0, x.v AS c1 FROM {driver}, LATERAL ({body}) AS x", 2)
    join = draw(st.sampled_from(["CROSS JOIN LATERAL", "LEFT JOIN LATERAL"]))
    on = " ON true" if join.startswith("LEFT") else ""
    body = f"SELECT count(*) AS n, max(u.j) AS m FROM {_name(inner)} AS u WHERE u.k <= d.g"
    return Query(f"SELECT d.g AS c0, x.n AS c1, x.m AS c2 FROM {driver} {join} ({body}) AS x{on}", 3)


@st.composite
def recursive_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    base, step = draw(st.permutations(tables))[:2]
    start = draw(st.sampled_from(["", " WHERE k IS NOT NULL", " WHERE j > 0"]))
    closure = (f"WITH RECURSIVE r(a, b) AS (SELECT k, j FROM {_name(base)}{start} "
               f"UNION SELECT r.a, s.j FROM r JOIN {_name(step)} AS s ON r.b = s.k)")
    tail = draw(st.sampled_from(["SELECT a AS c0, b AS c1 FROM r",
                                 "SELECT a AS c0, count(*) AS c1 FROM r GROUP BY a"]))
    return Query(f"{closure} {tail}", 2)


@st.composite
def join_feature_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    left, right = draw(st.permutations(tables))[:2]
    form = draw(st.sampled_from(["natural", "using", "not_distinct", "non_equi", "comma_outer"]))
    kind = draw(st.sampled_from(["JOIN", "LEFT JOIN", "FULL JOIN"]))
    a, b = f"{_name(left)} AS a", f"{_name(right)} AS b"
    if form == "natural":  # the tables share k and j, and maybe more: NATURAL joins on all of them
        common = [c for c, _ in left.columns if c in dict(right.columns)]
        return Query(f"SELECT {', '.join(f'{c} AS c{i}' for i, c in enumerate(common))} "
                     f"FROM {a} NATURAL {kind} {b}", len(common))
    if form == "using":
        return Query(f"SELECT k AS c0, a.j AS c1, b.j AS c2 FROM {a} {kind} {b} USING (k)", 3)
    if form == "not_distinct":
        return Query(f"SELECT a.k AS c0, a.j AS c1, b.j AS c2 FROM {a} {kind} {b} ON a.k IS NOT DISTINCT FROM b.k", 3)
    if form == "non_equi":
        op = draw(st.sampled_from(["<", "<=", "<>"]))
        return Query(f"SELECT a.k AS c0, b.k AS c1 FROM {a} {kind} {b} ON a.k {op} b.j", 2)
    third = tables[2] if len(tables) > 2 else left
    outer = draw(st.sampled_from(["LEFT JOIN", "FULL JOIN", "RIGHT JOIN"]))
    return Query(f"SELECT c.k AS c0, a.j AS c1, b.j AS c2 FROM {_name(third)} AS c, {a} {outer} {b} "
                 f"ON a.k = b.k WHERE c.j IS NOT DISTINCT FROM a.j OR a.j IS NULL", 3)


@st.composite
def aggregate_feature_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    table = draw(st.sampled_from(tables))
    gen = ExprGen(draw, table_source(table).scope)
    form = draw(st.sampled_from(["string_agg", "filter", "distinct_on", "distinct_agg", "bitwise", "median"]))
    source = f"{_name(table)} AS {table.alias}"
    if form == "distinct_on":
        shown = _columns(table, (INT, TEXT, NUM))
        direction = draw(st.sampled_from(["", " DESC"]))
        order = ", ".join(f"{c}{direction}" for c in shown)
        return Query(f"SELECT DISTINCT ON (k) {', '.join(f'{c} AS c{i}' for i, c in enumerate(shown))} "
                     f"FROM {source} ORDER BY {order}", len(shown))
    if form == "string_agg":
        text = gen.expr(TEXT, 1)
        return Query(f"SELECT k AS c0, string_agg({text}, ',' ORDER BY {text}) AS c1 FROM {source} GROUP BY k", 2)
    if form == "filter":
        condition = gen.expr(BOOL, 1)
        aggregate = draw(st.sampled_from(["count(*)", "sum(j)", "max(j)", "count(DISTINCT j)"]))
        return Query(f"SELECT k AS c0, {aggregate} FILTER (WHERE {condition}) AS c1, count(*) AS c2 "
                     f"FROM {source} GROUP BY k", 3)
    if form == "bitwise":
        condition = gen.expr(BOOL, 1)
        aggregate = draw(st.sampled_from(["bit_and(j)", "bit_or(j)", "bit_xor(j)"]))
        return Query(f"SELECT k AS c0, {aggregate} AS c1, bool_and({condition}) AS c2 FROM {source} GROUP BY k", 3)
    if form == "median":
        direction = draw(st.sampled_from(["", " DESC"]))
        return Query(f"SELECT k AS c0, percentile_cont(0.5) WITHIN GROUP (ORDER BY j{direction}) AS c1, "
                     f"percentile_disc(0.5) WITHIN GROUP (ORDER BY j) AS c2 FROM {source} GROUP BY k", 3)
    aggregate = draw(st.sampled_from(["sum(DISTINCT j)", "count(DISTINCT j)", "avg(DISTINCT j)"]))
    return Query(f"SELECT k AS c0, {aggregate} AS c1 FROM {source} GROUP BY k", 2)


@st.composite
def grouping_sets_query(draw: Callable, tables: tuple[Table, ...]) -> Query:
    table = draw(st.sampled_from(tables))
    sets = draw(st.sampled_from(["ROLLUP (k, j)", "CUBE (k, j)", "GROUPING SETS ((k), (j), ())",
                                 "GROUPING SETS ((k, j), (k))"]))
    return Query(f"SELECT k AS c0, j AS c1, grouping(k, j) AS c2, count(*) AS c3, sum(j) AS c4 "
                 f"FROM {_name(table)} GROUP BY {sets}", 5)


@st.composite
def feature_queries(draw: Callable, tables: tuple[Table, ...]) -> Query:
    return draw(st.one_of(window_query(tables), lateral_query(tables), recursive_query(tables),
                          join_feature_query(tables), aggregate_feature_query(tables), grouping_sets_query(tables)))
