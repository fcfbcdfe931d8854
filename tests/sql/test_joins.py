"""Joins (sql/joins.py): every mix of comma and explicit joins, nested and parenthesised, outer on either side,
USING/NATURAL with merged columns, CROSS, non-equi and expression conditions, IS [NOT] DISTINCT FROM — each
maintained by the real operators through write batches and compared with DuckDB after every batch.

DuckDB agrees with PostgreSQL on all of these (checked by hand against PostgreSQL 15/16 while writing them),
except two things PostgreSQL refuses and DuckDB answers: an ON condition naming a table outside its join
(``a, b JOIN c ON a.k = c.k``: 42P01 here, as in PostgreSQL) and FULL JOIN on a condition that is not an
equality (PostgreSQL: "FULL JOIN is only supported with merge-joinable or hash-joinable join conditions"; here,
as in DuckDB and Materialize, the standard's answer).  See tests/sql/join_support.py for the harness.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate import errors
from steadystate.expr import ir

from join_support import COLUMNS, Duck, Maintained, check_maintained, optimized, plan_query

VALUE = st.one_of(st.none(), st.integers(0, 3))


@pytest.fixture(scope="module")
def duck() -> Iterator[Duck]:
    d = Duck()
    yield d
    d.close()


@st.composite
def batches(draw: st.DrawFn, max_batches: int = 4) -> list[dict[str, list[tuple[tuple, int]]]]:
    """An initial load, then batches of inserts and deletes (a delete removes one copy of a present row)."""
    data: dict[str, Counter] = {name: Counter() for name in COLUMNS}
    out = []
    for number in range(draw(st.integers(2, max_batches))):
        batch: dict[str, list[tuple[tuple, int]]] = {name: [] for name in COLUMNS}
        for _ in range(draw(st.integers(4, 12) if number == 0 else st.integers(0, 5))):
            name = draw(st.sampled_from(sorted(COLUMNS)))
            present = sorted((row for row, n in data[name].items() if n > 0), key=repr)
            if number and present and draw(st.booleans()):
                row, diff = draw(st.sampled_from(present)), -1
            else:
                row, diff = (draw(VALUE), draw(VALUE)), 1
            data[name][row] += diff
            batch[name].append((row, diff))
        out.append(batch)
    return out


# ---------------------------------------------------------------------------------------------- the corpus

CORPUS = [
    # the wrong answer of issue 14: a comma binds looser than JOIN
    "SELECT * FROM t1, t2 FULL JOIN t3 ON t2.k = t3.k",
    "SELECT * FROM t1, t2 LEFT JOIN t3 ON t2.k = t3.k",
    "SELECT * FROM t1, t2 RIGHT JOIN t3 ON t2.k = t3.k WHERE t1.k = t3.k",
    "SELECT * FROM t1 LEFT JOIN t2 ON t1.k = t2.k, t3 FULL JOIN t4 ON t3.k = t4.k",
    "SELECT * FROM t1 CROSS JOIN t2, t3 LEFT JOIN t4 ON t3.k < t4.k",
    # nesting on the right: parenthesised, and the unparenthesised form ``a JOIN b JOIN c ON p ON q``
    "SELECT * FROM t1 LEFT JOIN (t2 FULL JOIN t3 ON t2.k = t3.k) ON t1.k = t3.k",
    "SELECT * FROM t1 FULL JOIN (t2 LEFT JOIN t3 ON t2.k = t3.k) ON t1.k = t2.k",
    "SELECT * FROM t1 LEFT JOIN t2 JOIN t3 ON t2.k < t3.k ON t1.k = t2.k",
    "SELECT * FROM t1 RIGHT JOIN t2 FULL JOIN t3 ON t2.k = t3.k ON t1.k = t3.k",
    "SELECT * FROM (t1 LEFT JOIN t2 ON t1.k = t2.k) RIGHT JOIN (t3 FULL JOIN t4 ON t3.k = t4.k) ON t2.k = t4.k",
    "SELECT * FROM ((t1 FULL JOIN t2 ON t1.k = t2.k) LEFT JOIN t3 ON t2.k = t3.k)",
    "SELECT * FROM ((t1 JOIN t2 ON t1.k = t2.k))",
    "SELECT * FROM (SELECT t1.k, b FROM t1 CROSS JOIN t2 JOIN t3 ON t2.k = t3.k) AS s",  # a derived table, not a join
    "SELECT * FROM ((SELECT t1.k, b FROM t1, t2 WHERE t1.k = t2.k) AS s JOIN t3 ON s.k = t3.k)",
    # a parenthesised join with an alias hides the tables inside
    "SELECT j.* FROM (t1 LEFT JOIN t2 ON t1.k = t2.k) AS j (k1, a, k2, b) WHERE j.k2 IS NULL",
    "SELECT * FROM (t1 FULL JOIN t2 USING (k)) AS j JOIN t3 ON j.k = t3.k",
    # ON conditions that are not equalities between the sides
    "SELECT * FROM t1 LEFT JOIN t2 ON t1.k = 1",
    "SELECT * FROM t1 LEFT JOIN t2 ON t2.b > 1",
    "SELECT * FROM t1 FULL JOIN t2 ON t1.k < t2.k AND t1.a > t2.b",
    "SELECT * FROM t1 JOIN t2 ON t1.k = t2.k AND t1.a > t2.b",
    "SELECT * FROM t1 RIGHT JOIN t2 ON t1.k = t2.k OR t1.a IS NULL",
    "SELECT * FROM t1 LEFT JOIN t2 ON t1.k + 1 = t2.k",
    "SELECT * FROM t1 FULL JOIN t2 ON t1.k * 2 = t2.b - 1",
    "SELECT * FROM t1 JOIN t2 ON true",
    "SELECT * FROM t1 FULL JOIN t2 ON false",
    # USING and NATURAL: merged columns first, COALESCEd for FULL, the sides' own reachable qualified
    "SELECT * FROM t1 JOIN t2 USING (k)",
    "SELECT * FROM t1 LEFT JOIN t2 USING (k)",
    "SELECT * FROM t1 RIGHT JOIN t2 USING (k)",
    "SELECT * FROM t1 FULL JOIN t2 USING (k)",
    "SELECT k, t1.k, t2.k, a, b FROM t1 FULL JOIN t2 USING (k)",
    "SELECT t1.*, t2.* FROM t1 RIGHT JOIN t2 USING (k)",
    "SELECT * FROM t1 NATURAL JOIN t2",
    "SELECT * FROM t1 NATURAL FULL JOIN t2",
    "SELECT * FROM t1 NATURAL LEFT JOIN t2 NATURAL RIGHT JOIN t3",
    "SELECT * FROM t1 FULL JOIN t2 USING (k) FULL JOIN t3 USING (k) FULL JOIN t4 USING (k)",
    "SELECT * FROM t1 FULL JOIN (t2 FULL JOIN t3 USING (k)) USING (k)",
    "SELECT k, count(*) AS n FROM t1 FULL JOIN t2 USING (k) GROUP BY k",
    "SELECT * FROM t1 JOIN t2 USING (k) WHERE k > 0",
    "SELECT * FROM t1 FULL JOIN (SELECT CAST(k AS bigint) AS k, b FROM t2) AS s USING (k)",  # int4 meets int8
    "SELECT * FROM (SELECT k + 1 AS k, a FROM t1) AS s NATURAL RIGHT JOIN t2",
    # subqueries over merged columns and parenthesised joins
    "SELECT k, (SELECT count(*) FROM t3 WHERE t3.c = k) AS n FROM t1 FULL JOIN t2 USING (k)",
    "SELECT * FROM t1 NATURAL FULL JOIN t2 WHERE k IN (SELECT k FROM t3)",
    "SELECT j.k, j.b FROM (t1 FULL JOIN t2 USING (k)) AS j WHERE j.k NOT IN (SELECT k FROM t4 WHERE k IS NOT NULL)",
    "SELECT k, count(*) AS n FROM t1 FULL JOIN t2 USING (k) GROUP BY k"
    " HAVING count(*) > (SELECT count(*) FROM t4 WHERE t4.k = k)",
    # CROSS JOIN
    "SELECT * FROM t1 CROSS JOIN t2",
    "SELECT * FROM t1 CROSS JOIN t2 LEFT JOIN t3 ON t2.k = t3.k",
    # IS [NOT] DISTINCT FROM, in scalars and as a join condition (NULL meets NULL)
    "SELECT t1.k, t2.k, t1.k IS DISTINCT FROM t2.k AS d, t1.k IS NOT DISTINCT FROM t2.k AS s FROM t1, t2",
    "SELECT * FROM t1 JOIN t2 ON t1.k IS NOT DISTINCT FROM t2.k",
    "SELECT * FROM t1 FULL JOIN t2 ON t2.k IS NOT DISTINCT FROM t1.k",
    "SELECT * FROM t1 LEFT JOIN t2 ON t1.k IS DISTINCT FROM t2.k",
    "SELECT * FROM t1, t2 WHERE t1.k IS NOT DISTINCT FROM t2.k AND t1.a IS DISTINCT FROM 1",
    "SELECT * FROM t1 JOIN t2 ON t1.k IS NOT DISTINCT FROM t2.k + 1",
    # equalities in WHERE over a comma list become join keys, also of a join inside the list
    "SELECT * FROM t1, t2 WHERE t1.k + 1 = t2.k AND t1.a > 0",
    "SELECT * FROM t1 CROSS JOIN t2, t3 WHERE t1.k = t2.k AND t2.k - 1 = t3.k AND t1.a IS NOT NULL",
    "SELECT * FROM t1 LEFT JOIN t2 ON t1.k = t2.k, t3 WHERE t2.b = t3.c",
]


@pytest.mark.parametrize("sql", CORPUS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=batches())
def test_corpus_is_maintained_like_duckdb(duck: Duck, sql: str, changes) -> None:  # type: ignore[no-untyped-def]
    check_maintained(sql, changes, duck)


# ---------------------------------------------------------------------------------------------- generated


@dataclass(frozen=True)
class Tree:
    sql: str
    tables: tuple[str, ...]  # the tables under it (each at most once per query, by its own name)
    keys: int  # how many columns named k an unqualified reference or a USING would see
    joined: bool  # a join (not a single table)
    qualified: bool  # its top join ends with ON or USING (so it may be a right operand without parentheses)


JOIN_WORDS = ["JOIN", "INNER JOIN", "LEFT JOIN", "LEFT OUTER JOIN", "RIGHT JOIN", "FULL JOIN", "FULL OUTER JOIN"]


def _conditions(left: Tree, right: Tree) -> st.SearchStrategy[str]:
    def condition(draw: st.DrawFn) -> str:
        lt, rt = draw(st.sampled_from(left.tables)), draw(st.sampled_from(right.tables))
        lx, rx = f"{lt}.{COLUMNS[lt][1]}", f"{rt}.{COLUMNS[rt][1]}"
        l, r = f"{lt}.k", f"{rt}.k"
        return draw(st.sampled_from([
            f"{l} = {r}", f"{r} = {l}", f"{l} = {r} AND {lx} > {rx}", f"{l} < {r}", f"{l} + 1 = {r}",
            f"{l} IS NOT DISTINCT FROM {r}", f"{r} IS NOT DISTINCT FROM {l}", "true", f"{l} = {r} OR {lx} IS NULL",
            f"{l} = 1", f"{rx} > 1 AND {l} = {r}", f"{l} IS DISTINCT FROM {r}",
        ]))
    return st.composite(condition)()


@st.composite
def trees(draw: st.DrawFn, tables: tuple[str, ...]) -> Tree:
    if len(tables) == 1:
        name, (k, x) = tables[0], COLUMNS[tables[0]]
        leaf = draw(st.sampled_from([name, f"(SELECT * FROM {name}) AS {name}",
                                     f"(SELECT {k}, {x} FROM {name} WHERE {x} IS DISTINCT FROM 2) AS {name}",
                                     f"(SELECT DISTINCT {k}, {x} FROM {name}) AS {name}"]))
        return Tree(leaf, tables, 1, False, False)
    split = draw(st.integers(1, len(tables) - 1))
    left, right = draw(trees(tables[:split])), draw(trees(tables[split:]))
    forms = ["on", "cross"] + (["using", "natural"] if left.keys == right.keys == 1 else [])
    form = draw(st.sampled_from(forms))
    left_sql = f"({left.sql})" if left.joined and draw(st.booleans()) else left.sql
    # a join on the right is parenthesised, or nested bare when both it and this join end with a qualifier
    bare = right.joined and right.qualified and form in ("on", "using") and draw(st.booleans())
    right_sql = f"({right.sql})" if right.joined and not bare else right.sql
    if form == "cross":
        return Tree(f"{left_sql} CROSS JOIN {right_sql}", tables, left.keys + right.keys, True, False)
    word = draw(st.sampled_from(JOIN_WORDS))
    if form == "natural":
        return Tree(f"{left_sql} NATURAL {word} {right_sql}", tables, 1, True, False)
    if form == "using":
        return Tree(f"{left_sql} {word} {right_sql} USING (k)", tables, 1, True, True)
    condition = draw(_conditions(left, right))
    return Tree(f"{left_sql} {word} {right_sql} ON {condition}", tables, left.keys + right.keys, True, True)


@st.composite
def queries(draw: st.DrawFn) -> str:
    tables = tuple(draw(st.permutations(sorted(COLUMNS))))[: draw(st.integers(2, 4))]
    cuts = sorted(draw(st.sets(st.integers(1, len(tables) - 1), max_size=2))) if len(tables) > 1 else []
    parts = [tables[a:b] for a, b in zip([0, *cuts], [*cuts, len(tables)])]
    items = [draw(trees(part)) for part in parts]
    from_list = ", ".join(item.sql for item in items)
    shape = draw(st.sampled_from(["star", "columns", "aggregate"]))
    group_by = ""
    if shape == "star":
        select = "*"
    elif shape == "columns":
        select = ", ".join(f"{t}.{c}" for t in tables for c in COLUMNS[t])
    else:  # an aggregate over the join, grouped by a column of one table
        g, v = draw(st.sampled_from(tables)), draw(st.sampled_from(tables))
        select = f"{g}.k AS g, count(*) AS n, count({v}.k) AS c, sum({v}.{COLUMNS[v][1]}) AS s"
        group_by = f" GROUP BY {g}.k"
    where = ""
    if len(items) > 1 and draw(st.booleans()):
        a, b = draw(st.sampled_from(items[0].tables)), draw(st.sampled_from(items[1].tables))
        where = " WHERE " + draw(st.sampled_from([f"{a}.k = {b}.k", f"{a}.k IS NOT DISTINCT FROM {b}.k",
                                                  f"{a}.k < {b}.k"]))
    return f"SELECT {select} FROM {from_list}{where}{group_by}"


@settings(max_examples=int(__import__("os").environ.get("JOIN_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sql=queries(), changes=batches())
def test_generated_join_trees_are_maintained_like_duckdb(duck: Duck, sql: str, changes) -> None:  # type: ignore[no-untyped-def]
    check_maintained(sql, changes, duck)


# ---------------------------------------------------------------------------------------------- plans


def _joins(expr: ir.RelationExpr) -> list[ir.Join]:
    found = [expr] if isinstance(expr, ir.Join) else []
    for child in ir.children(expr):
        found.extend(_joins(child))
    return found


@pytest.mark.parametrize("sql", [
    "SELECT * FROM t1 JOIN t2 ON t1.k + 1 = t2.k",
    "SELECT * FROM t1 JOIN t2 ON t1.k IS NOT DISTINCT FROM t2.k",
    "SELECT * FROM t1 FULL JOIN t2 USING (k)",
    "SELECT * FROM t1 NATURAL JOIN t2",
    "SELECT * FROM t1, t2 WHERE t1.k = t2.k",
    "SELECT * FROM t1, t2 WHERE t1.k + 1 = t2.k",
    "SELECT * FROM t1, t2 WHERE t1.k IS NOT DISTINCT FROM t2.k AND t1.a > 1",
    "SELECT * FROM t1 CROSS JOIN t2, t3 WHERE t1.k = t2.k AND t2.k = t3.k",  # pushed into the inner join too
    "SELECT * FROM t1 JOIN t2 USING (k), t3 WHERE t1.a = t2.b AND t2.k = t3.k",
])
def test_equalities_between_the_sides_key_the_join(sql: str) -> None:
    """An equality (of columns or expressions, or IS NOT DISTINCT FROM) is a join key, not a filtered cross
    product."""
    assert all(join.equivalences for join in _joins(optimized(sql)))


def test_a_comma_binds_looser_than_join() -> None:
    """``t1, t2 FULL JOIN t3`` is ``t1 × (t2 FULL JOIN t3)``: the FULL JOIN's inputs are t2 and t3 only."""
    expr = plan_query("SELECT * FROM t1, t2 FULL JOIN t3 ON t2.k = t3.k").expr
    top = [j for j in _joins(expr) if len(j.inputs) == 2 and j.inputs[0] == ir.Get("t1")]
    assert len(top) == 1 and ir.Get("t1") not in _gets(top[0].inputs[1]) - {ir.Get("t2"), ir.Get("t3")}


def _gets(expr: ir.RelationExpr) -> set[ir.RelationExpr]:
    found = {expr} if isinstance(expr, ir.Get) else set()
    for child in ir.children(expr):
        found |= _gets(child)
    return found


@pytest.mark.parametrize("sql, columns", [
    ("SELECT * FROM t1 FULL JOIN t2 USING (k)", ["k", "a", "b"]),
    ("SELECT * FROM t2 NATURAL RIGHT JOIN t1", ["k", "b", "a"]),
    ("SELECT * FROM t1 JOIN t2 USING (k) JOIN t3 USING (k)", ["k", "a", "b", "c"]),
    ("SELECT * FROM (t1 JOIN t2 USING (k)) AS j", ["k", "a", "b"]),
    ("SELECT * FROM t1 NATURAL JOIN (t2 CROSS JOIN t3)", None),  # t2.k and t3.k: ambiguous, refused below
])
def test_star_over_using_shows_the_merged_column_once(sql: str, columns: list[str] | None) -> None:
    if columns is None:
        with pytest.raises(errors.SteadyError) as caught:
            plan_query(sql)
        assert caught.value.sqlstate == "42702"
        return
    assert [c.name for c in plan_query(sql).desc.columns] == columns


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("sql, sqlstate", [
    ("SELECT * FROM t1 JOIN t2", "42601"),  # JOIN needs ON or USING
    ("SELECT * FROM t1 LEFT JOIN t2 WHERE true", "42601"),
    ("SELECT * FROM t1, t2 JOIN t3 ON t1.k = t3.k", "42P01"),  # t1 is outside the JOIN
    ("SELECT * FROM t1 JOIN t2 USING (a)", "42703"),
    ("SELECT * FROM t1 JOIN t2 USING (k, k)", "42701"),
    ("SELECT * FROM (t1 JOIN t2 USING (k)) AS j WHERE t1.k = 1", "42P01"),  # the alias hides t1
    ("SELECT k FROM t1 JOIN t2 ON t1.k = t2.k", "42702"),
    ("SELECT * FROM t1 ASOF JOIN t2 ON t1.k = t2.k", "0A000"),
])
def test_bad_joins_are_refused(sql: str, sqlstate: str) -> None:
    with pytest.raises(errors.SteadyError) as caught:
        plan_query(sql)
    assert caught.value.sqlstate == sqlstate, caught.value


def test_outer_joins_share_their_inner_join() -> None:
    """The inner join under an outer join's parts is rendered once, so nested outer joins do not multiply."""
    from steadystate.dataflow.join import JoinOperator

    maintained = Maintained("SELECT * FROM t1 FULL JOIN t2 USING (k) FULL JOIN t3 USING (k) FULL JOIN t4 USING (k)")
    assert sum(isinstance(node, JoinOperator) for node in maintained.dataflow.graph.nodes) == 3
