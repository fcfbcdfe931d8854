"""The recursive query corpus shared by the recursion tests: tables, queries and reference queries.

``edges(a, b)`` is a directed graph over nodes 0..5 (cycles and duplicate edges allowed); ``tree(id, parent)`` a
forest (``parent`` is NULL or smaller than ``id``, so every walk down it ends, as a UNION ALL recursion must).
:data:`CORPUS` pairs each steadystate query with the query PostgreSQL and DuckDB answer for it: the same text for
``WITH RECURSIVE``; for ``WITH MUTUALLY RECURSIVE`` (which neither has) an equivalent ``WITH RECURSIVE``, bounded
where the fixed point is a minimum (shortest paths over 6 nodes are shorter than 8 steps).
"""

from __future__ import annotations

from hypothesis import strategies as st

TABLES = {"edges": ("a", "b"), "tree": ("id", "parent")}

CLOSURE = "WITH RECURSIVE r(a, b) AS (SELECT a, b FROM edges UNION SELECT r.a, e.b FROM r JOIN edges AS e ON r.b = e.a)"
REACH = ("WITH RECURSIVE reach(v) AS (SELECT 0 UNION SELECT e.b FROM reach JOIN edges AS e ON reach.v = e.a) "
         "SELECT v FROM reach")

RECURSIVE = [
    # transitive closure and reachability (UNION: dedups across iterations, ends on cycles)
    f"{CLOSURE} SELECT a, b FROM r",
    REACH,
    # the same paths with UNION ALL, bounded by depth: one row per path (bag semantics)
    "WITH RECURSIVE p(a, b, d) AS (SELECT a, b, 1 FROM edges UNION ALL SELECT p.a, e.b, p.d + 1 FROM p"
    " JOIN edges AS e ON p.b = e.a WHERE p.d < 3) SELECT a, b, d FROM p",
    "WITH RECURSIVE p(a, b, d) AS (SELECT a, b, 1 FROM edges UNION SELECT p.a, e.b, p.d + 1 FROM p"
    " JOIN edges AS e ON p.b = e.a WHERE p.d < 3) SELECT a, b, d FROM p",
    # tree walks: depth of every node below a root, and every (node, ancestor) pair with its multiplicity
    "WITH RECURSIVE sub(id, depth) AS (SELECT id, 0 FROM tree WHERE parent IS NULL UNION ALL"
    " SELECT t.id, s.depth + 1 FROM sub AS s JOIN tree AS t ON t.parent = s.id) SELECT id, depth FROM sub",
    "WITH RECURSIVE anc(id, up) AS (SELECT id, parent FROM tree WHERE parent IS NOT NULL UNION ALL"
    " SELECT anc.id, t.parent FROM anc JOIN tree AS t ON anc.up = t.id WHERE t.parent IS NOT NULL)"
    " SELECT id, up, count(*) AS n FROM anc GROUP BY id, up",
    # counting sequences: constant, from table rows, Fibonacci in bigint
    "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 60) SELECT n FROM t",
    "WITH RECURSIVE c(n) AS (SELECT a FROM edges UNION ALL SELECT n + 1 FROM c WHERE n < 8) SELECT n, count(*) AS k"
    " FROM c GROUP BY n",
    "WITH RECURSIVE f(i, x, y) AS (SELECT 1, CAST(0 AS bigint), CAST(1 AS bigint) UNION ALL"
    " SELECT i + 1, y, x + y FROM f WHERE i < 50) SELECT i, x FROM f",
    # a later CTE reading a recursive one; two recursive CTEs, the second over the first
    f"{CLOSURE}, s AS (SELECT a, count(*) AS n FROM r GROUP BY a) SELECT a, n FROM s",
    "WITH RECURSIVE r1(v) AS (SELECT 0 UNION SELECT e.b FROM r1 JOIN edges AS e ON r1.v = e.a),"
    " r2(v) AS (SELECT v FROM r1 UNION SELECT e.a FROM r2 JOIN edges AS e ON r2.v = e.b) SELECT v FROM r2",
    # the recursion in a subquery, twice in one query; read twice by the body; by a correlated subquery
    "SELECT count(*) AS n FROM (WITH RECURSIVE reach(v) AS (SELECT 1 UNION SELECT e.b FROM reach"
    " JOIN edges AS e ON reach.v = e.a) SELECT v FROM reach) AS q",
    f"SELECT count(*) AS n FROM ({REACH}) AS x, ({REACH}) AS y WHERE x.v <= y.v",
    "WITH RECURSIVE r(v) AS (SELECT 0 UNION SELECT e.b FROM r JOIN edges AS e ON r.v = e.a)"
    " SELECT x.v, y.v AS w FROM r AS x JOIN r AS y ON x.v < y.v",
    f"SELECT e.a, (SELECT count(*) FROM ({REACH}) AS r WHERE r.v > e.a) AS n FROM edges AS e",
]

# (WITH MUTUALLY RECURSIVE query, an equivalent query PostgreSQL and DuckDB answer)
MUTUALLY = [
    ("WITH MUTUALLY RECURSIVE reach(v int) AS (SELECT 0 UNION SELECT e.b FROM reach JOIN edges AS e"
     " ON reach.v = e.a) SELECT v FROM reach", REACH),
    # nodes reached from 0 by a walk of even length: two bindings, each reading the other
    ("WITH MUTUALLY RECURSIVE even(v int) AS (SELECT 0 UNION SELECT e.b FROM odd JOIN edges AS e ON odd.v = e.a),"
     " odd(v int) AS (SELECT e.b FROM even JOIN edges AS e ON even.v = e.a) SELECT v FROM even",
     "WITH RECURSIVE w(v, p) AS (SELECT 0, 0 UNION SELECT e.b, 1 - w.p FROM w JOIN edges AS e ON w.v = e.a)"
     " SELECT v FROM w WHERE p = 0"),
    # shortest distances from 0: an aggregate inside the recursion (not monotone; WITH RECURSIVE refuses it)
    ("WITH MUTUALLY RECURSIVE dist(v int, d int) AS (SELECT v, min(d) FROM (SELECT 0 AS v, 0 AS d UNION ALL"
     " SELECT e.b, dist.d + 1 FROM dist JOIN edges AS e ON dist.v = e.a) AS q GROUP BY v) SELECT v, d FROM dist",
     "WITH RECURSIVE p(v, d) AS (SELECT 0, 0 UNION SELECT e.b, p.d + 1 FROM p JOIN edges AS e ON p.v = e.a"
     " WHERE p.d < 8) SELECT v, min(d) FROM p GROUP BY v"),
    # the smallest node reaching each node (itself included): label propagation with min
    ("WITH MUTUALLY RECURSIVE label(v int, l int) AS (SELECT v, min(l) FROM (SELECT a AS v, a AS l FROM edges"
     " UNION ALL SELECT b, b FROM edges UNION ALL SELECT e.b, label.l FROM label JOIN edges AS e ON label.v = e.a)"
     " AS q GROUP BY v) SELECT v, l FROM label",
     f"{CLOSURE}, nodes(v) AS (SELECT a FROM edges UNION SELECT b FROM edges) SELECT n.v, min(s.x) FROM nodes AS n"
     " JOIN (SELECT a AS x, b AS y FROM r UNION ALL SELECT v, v FROM nodes) AS s ON s.y = n.v GROUP BY n.v"),
    # a WITH RECURSIVE nested in a binding, reading the binding
    ("WITH MUTUALLY RECURSIVE a(v int) AS (SELECT 0 UNION SELECT q.v FROM (WITH RECURSIVE r(v) AS (SELECT v FROM a"
     " UNION SELECT e.b FROM r JOIN edges AS e ON r.v = e.a) SELECT v FROM r) AS q) SELECT v FROM a", REACH),
]

NODE = st.integers(0, 5)
EDGE_WRITES = st.one_of(
    st.lists(st.tuples(NODE, NODE), min_size=1, max_size=4).map(
        lambda rows: "INSERT INTO edges VALUES " + ", ".join(f"({a}, {b})" for a, b in rows)),
    NODE.map(lambda a: f"DELETE FROM edges WHERE a = {a}"),
    st.tuples(NODE, NODE).map(lambda e: f"DELETE FROM edges WHERE a = {e[0]} AND b = {e[1]}"),
)
TREE_WRITES = st.one_of(
    st.integers(1, 6).flatmap(lambda i: st.one_of(st.none(), st.integers(0, i - 1)).map(
        lambda p: f"INSERT INTO tree VALUES ({i}, {'NULL' if p is None else p})")),
    st.integers(0, 6).map(lambda i: f"DELETE FROM tree WHERE id = {i}"),
)
WRITES = st.lists(st.one_of(EDGE_WRITES, TREE_WRITES), min_size=3, max_size=10)
DATA = st.fixed_dictionaries({
    "edges": st.lists(st.tuples(NODE, NODE), max_size=10),
    "tree": st.lists(st.integers(1, 6).flatmap(lambda i: st.tuples(st.just(i), st.one_of(
        st.none(), st.integers(0, i - 1)))), max_size=7),
})


def create_tables() -> list[str]:
    return [f"CREATE TABLE {name} ({', '.join(f'{c} int' for c in cols)})" for name, cols in TABLES.items()]


def inserts(data: dict[str, list[tuple]]) -> list[str]:
    out = []
    for name, rows in data.items():
        if rows:
            values = ", ".join("(" + ", ".join("NULL" if v is None else str(v) for v in row) + ")" for row in rows)
            out.append(f"INSERT INTO {name} VALUES {values}")
    return out
