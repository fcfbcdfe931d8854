"""Hand-written differential cases: the corners a generator may miss, server vs DuckDB after every write.

Each case creates its tables (same DDL in both engines), maintains one query as a view with an index and as
a materialized view, applies its writes, and after each write compares both objects with DuckDB.  The
error cases check PostgreSQL's SQLSTATEs surface through a maintained view (22012, 22P02) and go away when
the offending row is deleted, and that unsupported SQL is refused with 0A000.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from diff_support import Mirror, ServerError

COUNTER = itertools.count()


@dataclass(frozen=True)
class Case:
    name: str
    tables: dict[str, str]  # name -> column list
    setup: tuple[str, ...]  # inserts, with {p} as the table prefix
    query: str
    writes: tuple[str, ...]


T = {"a": "k int, v int, s text", "b": "k int, w int, flag bool"}
N = {"a": "g int, x numeric(10,2), i int"}
J = {"a": "k int, v int", "b": "k int, w int", "c": "k int, x int"}

CASES = [
    Case("null join keys never match", T,
         ("INSERT INTO {p}a VALUES (NULL, 1, 'x'), (1, 2, 'y')", "INSERT INTO {p}b VALUES (NULL, 5, true), (1, 6, false)"),
         "SELECT a.v, b.w FROM {p}a AS a JOIN {p}b AS b ON a.k = b.k",
         ("INSERT INTO {p}b VALUES (NULL, 7, NULL)", "UPDATE {p}a SET k = NULL WHERE v = 2", "UPDATE {p}a SET k = 1 WHERE v = 1")),
    Case("left join padding appears and disappears", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y'), (2, 2, 'y')",),
         "SELECT a.k, a.v, b.w FROM {p}a AS a LEFT JOIN {p}b AS b ON a.k = b.k",
         ("INSERT INTO {p}b VALUES (2, 10, true)", "INSERT INTO {p}b VALUES (2, 11, true)", "DELETE FROM {p}b WHERE w = 10",
          "DELETE FROM {p}b")),
    Case("full join with extra predicate", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (NULL, 2, 'y')", "INSERT INTO {p}b VALUES (1, 5, true), (1, 6, false), (NULL, 7, true)"),
         "SELECT a.v, b.w FROM {p}a AS a FULL JOIN {p}b AS b ON a.k = b.k AND b.flag",
         ("UPDATE {p}b SET flag = NULL WHERE w = 5", "UPDATE {p}b SET flag = true WHERE w = 6", "DELETE FROM {p}a WHERE v = 1")),
    Case("right join on two columns", T,
         ("INSERT INTO {p}a VALUES (1, 5, 'x'), (1, 6, 'y')", "INSERT INTO {p}b VALUES (1, 5, true), (1, 7, NULL)"),
         "SELECT a.s, b.w FROM {p}a AS a RIGHT JOIN {p}b AS b ON a.k = b.k AND a.v = b.w",
         ("INSERT INTO {p}a VALUES (1, 7, 'z')", "UPDATE {p}b SET k = NULL WHERE w = 5")),
    Case("scalar subqueries in select and where follow their table", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 5, 'y')", "INSERT INTO {p}b VALUES (1, 3, true)"),
         "SELECT a.k, a.v, (SELECT max(w) FROM {p}b) AS top FROM {p}a AS a WHERE a.v > (SELECT min(w) FROM {p}b)",
         ("INSERT INTO {p}b VALUES (2, 0, false)", "DELETE FROM {p}b", "INSERT INTO {p}b VALUES (3, 9, true)",
          "UPDATE {p}a SET v = 10 WHERE k = 1")),
    Case("global aggregates over an empty table give one row", T, (),
         "SELECT count(*) AS n, count(v) AS nv, sum(v) AS sv, min(s) AS ms, max(v) AS mv, avg(v) AS av FROM {p}a",
         ("INSERT INTO {p}a VALUES (1, NULL, NULL)", "INSERT INTO {p}a VALUES (2, 4, 'q')", "DELETE FROM {p}a")),
    Case("bool aggregates and count distinct with nulls", T,
         ("INSERT INTO {p}b VALUES (1, 1, true), (1, 1, NULL), (1, 2, false), (2, NULL, NULL)",),
         "SELECT k, bool_and(flag) AS ba, bool_or(flag) AS bo, count(DISTINCT w) AS dw, count(w) AS cw FROM {p}b GROUP BY k",
         ("DELETE FROM {p}b WHERE w = 2", "UPDATE {p}b SET flag = false WHERE k = 2", "INSERT INTO {p}b VALUES (NULL, 3, true)")),
    Case("retraction empties a group and its row disappears", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 2, 'x'), (2, 3, 'y')",),
         "SELECT k, count(*) AS n, sum(v) AS s, max(v) AS m FROM {p}a GROUP BY k HAVING count(*) >= 1",
         ("DELETE FROM {p}a WHERE k = 2", "DELETE FROM {p}a WHERE v = 2", "UPDATE {p}a SET k = 3 WHERE k = 1",
          "DELETE FROM {p}a")),
    Case("min and max survive deleting the extreme", T,
         ("INSERT INTO {p}a VALUES (1, 5, 'm'), (1, 5, 'm'), (1, 9, 'z'), (1, 1, 'a')",),
         "SELECT k, min(v) AS lo, max(v) AS hi, min(s) AS ls, max(s) AS hs FROM {p}a GROUP BY k",
         ("DELETE FROM {p}a WHERE v = 9", "DELETE FROM {p}a WHERE v = 1", "UPDATE {p}a SET v = NULL WHERE v = 5")),
    Case("duplicates through distinct and union all", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 1, 'x'), (2, 2, NULL)", "INSERT INTO {p}b VALUES (1, 1, true)"),
         "SELECT DISTINCT k FROM {p}a UNION ALL SELECT k FROM {p}b",
         ("DELETE FROM {p}a WHERE k = 1", "INSERT INTO {p}b VALUES (1, 1, true)")),
    Case("except all and intersect all multiplicities", T,
         ("INSERT INTO {p}a VALUES (1, 0, ''), (1, 0, ''), (1, 0, ''), (NULL, 0, '')", "INSERT INTO {p}b VALUES (1, 0, true), (NULL, 0, true)"),
         "SELECT k FROM {p}a EXCEPT ALL SELECT k FROM {p}b",
         ("INSERT INTO {p}b VALUES (1, 0, true), (1, 0, true)", "DELETE FROM {p}b WHERE k IS NULL")),
    Case("intersect all", T,
         ("INSERT INTO {p}a VALUES (1, 0, ''), (1, 0, ''), (NULL, 0, '')", "INSERT INTO {p}b VALUES (1, 0, true), (NULL, 0, true), (NULL, 0, true)"),
         "SELECT k FROM {p}a INTERSECT ALL SELECT k FROM {p}b",
         ("INSERT INTO {p}b VALUES (1, 0, true)", "DELETE FROM {p}a WHERE k = 1")),
    Case("top-k with ties on the order key keeps duplicates exactly", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 1, 'x'), (1, 1, 'x'), (2, 0, 'y')",),
         "SELECT * FROM (SELECT k, v FROM {p}a) AS q ORDER BY v, k LIMIT 3",
         ("DELETE FROM {p}a WHERE k = 2", "INSERT INTO {p}a VALUES (0, 1, 'z')", "INSERT INTO {p}a VALUES (NULL, NULL, NULL)")),
    Case("top-k descending with nulls first and offset", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, NULL, 'y'), (3, 3, 'z'), (4, 4, 'w')",),
         "SELECT * FROM (SELECT v, s FROM {p}a) AS q ORDER BY v DESC, s LIMIT 2 OFFSET 1",
         ("DELETE FROM {p}a WHERE v IS NULL", "INSERT INTO {p}a VALUES (5, 9, 'n')", "DELETE FROM {p}a WHERE k < 5")),
    Case("group top-k via subquery in from and with", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 2, 'x'), (2, 3, 'y')",),
         "WITH g AS (SELECT k, sum(v) AS total FROM {p}a GROUP BY k) SELECT * FROM (SELECT k, total FROM g) AS q ORDER BY total DESC, k LIMIT 1",
         ("INSERT INTO {p}a VALUES (2, 5, 'y')", "DELETE FROM {p}a WHERE k = 2")),
    Case("three valued logic in filters", T,
         ("INSERT INTO {p}b VALUES (1, NULL, NULL), (2, 1, true), (NULL, 2, false), (3, 3, NULL)",),
         "SELECT k, w FROM {p}b WHERE NOT (flag AND w > 1) OR (k IN (1, NULL) IS NULL AND NOT (w BETWEEN 2 AND 3))",
         ("UPDATE {p}b SET flag = true WHERE k = 3", "DELETE FROM {p}b WHERE w IS NULL")),
    Case("case coalesce nullif like", T,
         ("INSERT INTO {p}a VALUES (1, 0, 'abc'), (2, NULL, NULL), (NULL, 2, 'xbz')",),
         "SELECT CASE WHEN s LIKE '_b%' THEN COALESCE(NULLIF(v, 0), -1) ELSE k * 10 END AS c, s NOT LIKE '%z' AS nz FROM {p}a",
         ("UPDATE {p}a SET v = 3 WHERE k = 1", "INSERT INTO {p}a VALUES (4, 4, '%b_')")),
    Case("numeric sums and averages", N,
         ("INSERT INTO {p}a VALUES (1, 1.25, 1), (1, 2.50, 2), (2, NULL, NULL)",),
         "SELECT g, sum(x) AS sx, avg(x) AS ax, avg(i) AS ai, sum(x * i) AS sxi, CAST(i AS numeric(10,2)) + 0.5 AS dummy FROM {p}a GROUP BY g, i",
         ("INSERT INTO {p}a VALUES (1, -3.75, 1)", "DELETE FROM {p}a WHERE g = 1")),
    Case("in subquery and correlated exists", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z')", "INSERT INTO {p}b VALUES (1, 1, true), (1, 2, true)"),
         "SELECT k, v FROM {p}a AS a WHERE k IN (SELECT k FROM {p}b) AND NOT EXISTS (SELECT 1 FROM {p}b AS b WHERE b.w = a.v AND b.flag IS NULL)",
         ("INSERT INTO {p}b VALUES (9, 1, NULL)", "INSERT INTO {p}b VALUES (2, 0, false)", "DELETE FROM {p}b WHERE w = 1")),
    Case("correlated count is 0 for outer rows without a match and for NULL keys", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 1, true), (1, 2, NULL), (NULL, 3, true)"),
         "SELECT a.k, a.v, (SELECT count(*) FROM {p}b AS b WHERE b.k = a.k) AS n,"
         " (SELECT count(b.flag) FROM {p}b AS b WHERE b.k = a.k) AS nf FROM {p}a AS a",
         ("INSERT INTO {p}b VALUES (2, 5, false)", "DELETE FROM {p}b WHERE k = 1", "UPDATE {p}a SET k = NULL WHERE v = 2",
          "UPDATE {p}b SET k = 1 WHERE k IS NULL", "DELETE FROM {p}b")),
    Case("correlated aggregate in where against the row's own group", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 5, 'x'), (2, 2, 'y'), (NULL, 3, 'z'), (NULL, 9, 'z')",),
         "SELECT a.k, a.v FROM {p}a AS a WHERE a.v > (SELECT avg(a2.v) FROM {p}a AS a2 WHERE a2.k = a.k)",
         ("INSERT INTO {p}a VALUES (2, 4, 'q')", "DELETE FROM {p}a WHERE v = 5", "UPDATE {p}a SET k = 1 WHERE k = 2",
          "DELETE FROM {p}a WHERE k = 1")),
    Case("correlated value subquery with one row or none, inside CASE", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y'), (2, 2, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 10, true), (NULL, 30, true)"),
         "SELECT a.k, (SELECT b.w FROM {p}b AS b WHERE b.k = a.k) AS w,"
         " CASE WHEN (SELECT max(b.w) FROM {p}b AS b WHERE b.k = a.k) > 15 THEN 'big' ELSE 'small' END AS size"
         " FROM {p}a AS a",
         ("INSERT INTO {p}b VALUES (2, 20, false)", "UPDATE {p}b SET w = NULL WHERE k = 1", "DELETE FROM {p}b WHERE k = 2")),
    Case("not in and in with NULLs in the subquery and in the probe, and an empty subquery", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z'), (3, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 1, true), (2, 1, NULL)"),
         "SELECT a.k, a.k NOT IN (SELECT b.k FROM {p}b AS b) AS ni, a.k IN (SELECT b.k FROM {p}b AS b) AS i,"
         " a.k NOT IN (SELECT b.k FROM {p}b AS b WHERE b.flag) AS nif FROM {p}a AS a",
         ("INSERT INTO {p}b VALUES (NULL, 5, true)", "DELETE FROM {p}b WHERE k = 1", "DELETE FROM {p}b WHERE k IS NULL",
          "DELETE FROM {p}b", "INSERT INTO {p}b VALUES (3, 0, false)")),
    Case("not in in where keeps only true", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z'), (4, 4, NULL)",
          "INSERT INTO {p}b VALUES (1, 1, true)"),
         "SELECT a.k, a.v FROM {p}a AS a WHERE a.k NOT IN (SELECT b.k FROM {p}b AS b WHERE b.flag)",
         ("INSERT INTO {p}b VALUES (NULL, 0, true)", "UPDATE {p}b SET flag = false WHERE k IS NULL", "DELETE FROM {p}b",
          "INSERT INTO {p}b VALUES (4, 0, true), (4, 0, true)")),
    Case("correlated not in, exists and not exists as values", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 2, 'x'), (2, NULL, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 1, true), (1, NULL, true), (2, 5, false)"),
         "SELECT a.k, a.v, a.v NOT IN (SELECT b.w FROM {p}b AS b WHERE b.k = a.k) AS ni,"
         " EXISTS (SELECT 1 FROM {p}b AS b WHERE b.k = a.k) AS e, NOT EXISTS (SELECT 1 FROM {p}b AS b WHERE b.w = a.v) AS ne"
         " FROM {p}a AS a",
         ("DELETE FROM {p}b WHERE w IS NULL", "INSERT INTO {p}b VALUES (2, NULL, NULL)", "DELETE FROM {p}b WHERE k = 1",
          "UPDATE {p}a SET v = 5 WHERE k = 2")),
    Case("subqueries in the select list and having of an aggregating query", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 2, 'x'), (2, 2, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 1, true), (2, 1, true), (2, 2, false)"),
         "SELECT a.k, count(*) AS n, (SELECT count(*) FROM {p}b AS b WHERE b.k = a.k) AS nb, count(*) IN (SELECT w FROM {p}b) AS i"
         " FROM {p}a AS a GROUP BY a.k HAVING count(*) >= (SELECT count(*) FROM {p}b AS b WHERE b.k = a.k)",
         ("INSERT INTO {p}b VALUES (1, 9, NULL)", "DELETE FROM {p}b WHERE k = 2", "INSERT INTO {p}a VALUES (NULL, 0, 'q')")),
    Case("correlation by a non-equality", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 5, 'y'), (NULL, NULL, 'z')", "INSERT INTO {p}b VALUES (1, 2, true), (1, 4, true)"),
         "SELECT a.k, (SELECT count(*) FROM {p}b AS b WHERE b.w < a.v) AS n, (SELECT min(b.w) FROM {p}b AS b WHERE b.w > a.v) AS m"
         " FROM {p}a AS a",
         ("INSERT INTO {p}b VALUES (NULL, 0, NULL)", "UPDATE {p}a SET v = 3 WHERE k = 1", "DELETE FROM {p}b")),
    Case("correlated order by limit picks per outer row", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 10, true), (1, 20, NULL), (1, 20, false), (NULL, 5, true)"),
         "SELECT a.k, (SELECT b.w FROM {p}b AS b WHERE b.k = a.k ORDER BY b.w DESC LIMIT 1) AS top,"
         " (SELECT b.w FROM {p}b AS b WHERE b.k = a.k ORDER BY b.w LIMIT 1 OFFSET 1) AS second FROM {p}a AS a",
         ("DELETE FROM {p}b WHERE w = 20", "INSERT INTO {p}b VALUES (2, 7, true)", "DELETE FROM {p}b")),
    Case("correlated in and exists over aggregates and group by", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (1, 5, 'x'), (2, 2, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 5, true), (1, 1, true), (2, NULL, false)"),
         "SELECT a.k, a.v, a.v IN (SELECT max(b.w) FROM {p}b AS b WHERE b.k = a.k) AS top,"
         " EXISTS (SELECT b.flag FROM {p}b AS b WHERE b.k = a.k GROUP BY b.flag HAVING count(*) > 1) AS dup"
         " FROM {p}a AS a WHERE a.v NOT IN (SELECT min(b.w) FROM {p}b AS b WHERE b.k = a.k)",
         ("INSERT INTO {p}b VALUES (2, 7, false)", "DELETE FROM {p}b WHERE w = 1", "UPDATE {p}b SET flag = false WHERE k = 1",
          "DELETE FROM {p}b")),
    Case("subqueries nested in correlated subqueries", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z')",
          "INSERT INTO {p}b VALUES (1, 1, true), (1, 2, false), (2, 2, NULL)"),
         "SELECT a.k, (SELECT count(*) FROM {p}b AS b WHERE b.k = a.k AND b.w IN (SELECT a2.v FROM {p}a AS a2)) AS n,"
         " a.v IN (SELECT b.w FROM {p}b AS b WHERE b.k = a.k AND NOT EXISTS (SELECT 1 FROM {p}a AS a3 WHERE a3.k = b.w)) AS i"
         " FROM {p}a AS a",
         ("INSERT INTO {p}a VALUES (2, 9, 'q')", "DELETE FROM {p}b WHERE w = 1", "UPDATE {p}b SET w = NULL WHERE k = 2",
          "DELETE FROM {p}a WHERE k = 1")),
    Case("cross join and three way join", T,
         ("INSERT INTO {p}a VALUES (1, 1, 'x'), (2, 2, 'y')", "INSERT INTO {p}b VALUES (1, 1, true)"),
         "SELECT a1.k, a2.k AS k2, b.w FROM {p}a AS a1 CROSS JOIN {p}a AS a2 JOIN {p}b AS b ON a2.k = b.k",
         ("INSERT INTO {p}b VALUES (2, 2, false)", "DELETE FROM {p}a WHERE k = 1")),
    # join forms (issue 14): a comma binds looser than JOIN; USING/NATURAL merged columns; keys on expressions
    Case("a comma binds looser than an explicit join", J,
         ("INSERT INTO {p}a VALUES (1, 1)", "INSERT INTO {p}b VALUES (2, 2)", "INSERT INTO {p}c VALUES (3, 3)"),
         "SELECT a.k AS ak, b.k AS bk, c.k AS ck, c.x FROM {p}a AS a, {p}b AS b FULL JOIN {p}c AS c ON b.k = c.k",
         ("INSERT INTO {p}b VALUES (3, 4)", "INSERT INTO {p}a VALUES (NULL, 5)", "DELETE FROM {p}c",
          "DELETE FROM {p}a WHERE k = 1")),
    Case("full join using and natural join merge their columns", J,
         ("INSERT INTO {p}a VALUES (1, 1), (NULL, 2)", "INSERT INTO {p}b VALUES (1, 5), (2, 6), (NULL, 7)",
          "INSERT INTO {p}c VALUES (2, 8)"),
         "SELECT * FROM {p}a FULL JOIN {p}b USING (k) NATURAL LEFT JOIN {p}c",
         ("INSERT INTO {p}c VALUES (1, 9), (NULL, 10)", "DELETE FROM {p}b WHERE k = 2", "INSERT INTO {p}a VALUES (2, 3)",
          "DELETE FROM {p}a WHERE k IS NULL")),
    Case("is not distinct from joins null to null", J,
         ("INSERT INTO {p}a VALUES (1, 1), (NULL, 2)", "INSERT INTO {p}b VALUES (NULL, 5), (1, 0)"),
         "SELECT a.v, b.w, a.k IS DISTINCT FROM b.k AS d FROM {p}a AS a LEFT JOIN {p}b AS b"
         " ON a.k IS NOT DISTINCT FROM b.k AND a.v < b.w",
         ("INSERT INTO {p}b VALUES (NULL, 1), (1, 3)", "DELETE FROM {p}b WHERE w = 5", "UPDATE {p}a SET k = 1 WHERE k IS NULL")),
    Case("non-equi and expression join conditions", J,
         ("INSERT INTO {p}a VALUES (1, 1), (2, 2)", "INSERT INTO {p}c VALUES (2, 1), (3, 5), (4, NULL)"),
         "SELECT a.v, c.x FROM {p}a AS a RIGHT JOIN {p}c AS c ON a.k + 1 = c.k OR a.v > c.x",
         ("INSERT INTO {p}a VALUES (3, 0)", "UPDATE {p}c SET x = 0 WHERE k = 4", "DELETE FROM {p}a WHERE k = 1")),
    # aggregates (issue 14): stddev/variance, FILTER, DISTINCT, string_agg with ORDER BY, DISTINCT ON
    Case("stddev variance filter and distinct aggregates", J,
         ("INSERT INTO {p}a VALUES (1, 1), (1, 4), (1, 4), (2, NULL), (2, 7)",),
         "SELECT k, stddev(v) AS sd, var_pop(v) AS vp, count(*) FILTER (WHERE v > 1) AS n,"
         " sum(DISTINCT v) FILTER (WHERE v < 5) AS s, avg(DISTINCT v) AS av FROM {p}a GROUP BY k",
         ("INSERT INTO {p}a VALUES (2, 9)", "DELETE FROM {p}a WHERE v = 4", "UPDATE {p}a SET v = 2 WHERE k = 1",
          "DELETE FROM {p}a WHERE k = 2")),
    Case("string_agg in its own order and distinct on", J,
         ("INSERT INTO {p}a VALUES (1, 3), (1, 1), (2, 5), (NULL, 2)", "INSERT INTO {p}b VALUES (1, 10), (2, 20)"),
         "SELECT k, string_agg(CAST(v AS text), ',' ORDER BY v DESC) AS s, max(v) AS m FROM {p}a GROUP BY k",
         ("INSERT INTO {p}a VALUES (1, 2)", "DELETE FROM {p}a WHERE v = 3", "UPDATE {p}a SET k = 1 WHERE k IS NULL")),
    Case("distinct on keeps the first row of each group", J,
         ("INSERT INTO {p}a VALUES (1, 3), (1, 1), (2, 5), (2, NULL)",),
         "SELECT DISTINCT ON (k) k, v FROM {p}a ORDER BY k, v DESC",
         ("INSERT INTO {p}a VALUES (1, 9)", "DELETE FROM {p}a WHERE v = 9", "DELETE FROM {p}a WHERE v IS NULL",
          "INSERT INTO {p}a VALUES (NULL, 0)")),
    # window functions (issue 14): one partition recomputed per change
    Case("ranking and running sums per partition", J,
         ("INSERT INTO {p}a VALUES (1, 3), (1, 1), (1, 3), (2, 5), (2, NULL), (NULL, 4)",),
         "SELECT k, v, rank() OVER (PARTITION BY k ORDER BY v) AS r, dense_rank() OVER (PARTITION BY k ORDER BY v DESC)"
         " AS d, sum(v) OVER (PARTITION BY k ORDER BY v) AS s, count(*) OVER (PARTITION BY k) AS n FROM {p}a",
         ("INSERT INTO {p}a VALUES (1, 2)", "DELETE FROM {p}a WHERE v = 3", "UPDATE {p}a SET k = 1 WHERE k = 2",
          "DELETE FROM {p}a WHERE k = 1")),
    Case("lag lead and sliding frames over a total order", J,
         ("INSERT INTO {p}a VALUES (1, 1), (1, 2), (2, 3), (2, 4), (3, 5)",),
         "SELECT k, v, lag(v, 1, 0) OVER (ORDER BY v) AS p, lead(k) OVER (PARTITION BY k ORDER BY v) AS n,"
         " avg(v) OVER (ORDER BY v ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS av,"
         " max(v) OVER (ORDER BY v RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS m FROM {p}a",
         ("INSERT INTO {p}a VALUES (2, 0)", "DELETE FROM {p}a WHERE v = 3", "UPDATE {p}a SET v = 9 WHERE v = 1")),
    Case("top rows per group through row_number", J,
         ("INSERT INTO {p}a VALUES (1, 3), (1, 1), (1, 2), (2, 5), (2, 6)",),
         "SELECT k, v FROM (SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v DESC) AS n FROM {p}a) AS q"
         " WHERE n <= 2",
         ("INSERT INTO {p}a VALUES (1, 9)", "DELETE FROM {p}a WHERE v = 9", "DELETE FROM {p}a WHERE k = 2")),
    # LATERAL (issue 14): the top-k-per-group idiom, decorrelated into a TopK per outer key; LEFT JOIN LATERAL
    Case("top k per group through lateral", J,
         ("INSERT INTO {p}a VALUES (1, 0), (2, 0), (3, 0), (NULL, 0)",
          "INSERT INTO {p}b VALUES (1, 10), (1, 30), (1, 20), (2, 5), (NULL, 1)"),
         "SELECT a.k, l.w FROM {p}a AS a, LATERAL (SELECT w FROM {p}b AS b WHERE b.k = a.k ORDER BY w DESC LIMIT 2) AS l",
         ("INSERT INTO {p}b VALUES (1, 40)", "DELETE FROM {p}b WHERE w = 30", "INSERT INTO {p}b VALUES (3, 7)",
          "DELETE FROM {p}a WHERE k = 1")),
    Case("left join lateral with an aggregate and padding", J,
         ("INSERT INTO {p}a VALUES (1, 1), (2, 5), (NULL, 0)", "INSERT INTO {p}b VALUES (1, 2), (1, 3), (2, 4)"),
         "SELECT a.k, a.v, l.n, m.w FROM {p}a AS a LEFT JOIN LATERAL (SELECT w FROM {p}b AS b WHERE b.k = a.k AND"
         " b.w > a.v) AS m ON true, LATERAL (SELECT count(*) AS n FROM {p}b AS b WHERE b.w > a.v) AS l",
         ("INSERT INTO {p}b VALUES (2, 9)", "DELETE FROM {p}b WHERE k = 1", "UPDATE {p}a SET v = 0 WHERE k = 2")),
]


def make_tables(mirror: Mirror, prefix: str, tables: dict[str, str]) -> None:
    for name, columns in tables.items():
        mirror.both(f"CREATE TABLE {prefix}{name} ({columns})")


def drop_tables(mirror: Mirror, prefix: str, tables: dict[str, str]) -> None:
    for name in tables:
        mirror.server(f"DROP TABLE IF EXISTS {prefix}{name} CASCADE")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(mirror: Mirror, case: Case) -> None:
    prefix = f"c{next(COUNTER)}_"
    make_tables(mirror, prefix, case.tables)
    try:
        for statement in case.setup:
            mirror.both(statement.format(p=prefix))
        query = case.query.format(p=prefix)
        mirror.server(f"CREATE VIEW {prefix}v AS {query}")
        mirror.server(f"CREATE DEFAULT INDEX ON {prefix}v")
        mirror.server(f"CREATE MATERIALIZED VIEW {prefix}mv AS {query}")
        for step, write in enumerate(("",) + case.writes):
            if write:
                mirror.both(write.format(p=prefix))
            mirror.check(f"SELECT * FROM {prefix}v", query, f"indexed view after write {step}")
            mirror.check(f"SELECT * FROM {prefix}mv", query, f"materialized view after write {step}")
        mirror.check(query, query, "ad hoc SELECT")
    finally:
        drop_tables(mirror, prefix, case.tables)


# ---------------------------------------------------------------------------------------------- errors

def maintain(mirror: Mirror, name: str, query: str, maintained: str) -> None:
    """``query`` as an indexed view or as a materialized view called ``name``."""
    if maintained == "index":
        mirror.server(f"CREATE VIEW {name} AS {query}")
        mirror.server(f"CREATE DEFAULT INDEX ON {name}")
    else:
        mirror.server(f"CREATE MATERIALIZED VIEW {name} AS {query}")


def expect_error(mirror: Mirror, sql: str, sqlstate: str) -> ServerError:
    with pytest.raises(ServerError) as caught:
        mirror.server(sql)
    assert caught.value.sqlstate == sqlstate, caught.value
    return caught.value


@pytest.mark.parametrize("maintained", ["index", "materialized"])
@pytest.mark.parametrize("expression, bad_row, sqlstate", [
    ("100 / d", "(0, '1')", "22012"),
    ("100 % d", "(0, '1')", "22012"),
    ("CAST(s AS int) + d", "(1, 'oops')", "22P02"),
])
def test_errors_surface_on_read_and_recover(mirror: Mirror, maintained: str, expression: str, bad_row: str,
                                            sqlstate: str) -> None:
    prefix = f"e{next(COUNTER)}_"
    make_tables(mirror, prefix, {"t": "d int, s text"})
    try:
        mirror.both(f"INSERT INTO {prefix}t VALUES (4, '2'), (5, '3')")
        query = f"SELECT d, {expression} AS r FROM {prefix}t"
        maintain(mirror, f"{prefix}v", query, maintained)
        mirror.check(f"SELECT * FROM {prefix}v", query, "before the bad row")
        mirror.both(f"INSERT INTO {prefix}t VALUES {bad_row}")
        expect_error(mirror, f"SELECT * FROM {prefix}v", sqlstate)
        expect_error(mirror, f"SELECT count(*) FROM {prefix}v", sqlstate)
        mirror.both(f"DELETE FROM {prefix}t WHERE d = {bad_row[1:].split(',')[0]}")
        mirror.check(f"SELECT * FROM {prefix}v", query, "after deleting the bad row")
    finally:
        drop_tables(mirror, prefix, {"t": ""})


@pytest.mark.parametrize("maintained", ["index", "materialized"])
def test_correlated_subquery_with_several_rows_is_21000_and_recovers(mirror: Mirror, maintained: str) -> None:
    prefix = f"m{next(COUNTER)}_"
    make_tables(mirror, prefix, T)
    try:
        mirror.both(f"INSERT INTO {prefix}a VALUES (1, 1, 'x'), (2, 2, 'y'), (NULL, 3, 'z')")
        mirror.both(f"INSERT INTO {prefix}b VALUES (1, 10, true), (NULL, 20, true)")
        query = f"SELECT a.k, (SELECT b.w FROM {prefix}b AS b WHERE b.k = a.k) AS w FROM {prefix}a AS a"
        maintain(mirror, f"{prefix}v", query, maintained)
        mirror.check(f"SELECT * FROM {prefix}v", query, "one row or none per outer row")
        mirror.both(f"INSERT INTO {prefix}b VALUES (2, 30, false), (2, 31, false)")
        error = expect_error(mirror, f"SELECT * FROM {prefix}v", "21000")
        assert error.message.startswith("more than one row returned by a subquery used as an expression")
        expect_error(mirror, query, "21000")
        mirror.both(f"DELETE FROM {prefix}b WHERE w = 31")
        mirror.check(f"SELECT * FROM {prefix}v", query, "after the second row is gone")
    finally:
        drop_tables(mirror, prefix, T)


@pytest.mark.parametrize("sql", [
    "SELECT k, sum(v) OVER (ORDER BY v ROWS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) FROM {p}t",
    "SELECT k, (SELECT count(*) FROM {p}t AS u WHERE EXISTS (SELECT 1 FROM {p}t AS w WHERE w.v = {p}t.k)) FROM {p}t",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT DISTINCT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT * FROM {p}t AS a, LATERAL (SELECT max(a.k) AS m) AS l",
    "SELECT k FROM {p}t WHERE EXISTS (SELECT u.v FROM {p}t AS u WHERE u.k = {p}t.k UNION SELECT 1)",
])
def test_unsupported_sql_is_0a000(mirror: Mirror, sql: str) -> None:
    prefix = f"u{next(COUNTER)}_"
    make_tables(mirror, prefix, {"t": "k int, v int"})
    try:
        error = expect_error(mirror, f"CREATE VIEW {prefix}v AS {sql.format(p=prefix)}", "0A000")
        assert "not supported" in error.message or "only supported" in error.message
    finally:
        drop_tables(mirror, prefix, {"t": ""})


def test_explain_shows_the_decorrelated_join(mirror: Mirror) -> None:
    prefix = f"x{next(COUNTER)}_"
    make_tables(mirror, prefix, T)
    try:
        query = (f"SELECT a.k, (SELECT count(*) FROM {prefix}b AS b WHERE b.k = a.k) AS n,"
                 f" a.k NOT IN (SELECT b.k FROM {prefix}b AS b) AS ni FROM {prefix}a AS a")
        rows = mirror.server(f"EXPLAIN {query}")
        text = "\n".join(str(r[0]) for r in rows or [])
        assert "Join" in text and "Distinct" in text, text
        mirror.server(f"CREATE VIEW {prefix}v AS {query}")
        assert mirror.server(f"EXPLAIN VIEW {prefix}v")
    finally:
        drop_tables(mirror, prefix, T)
