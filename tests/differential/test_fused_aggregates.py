"""Star-schema aggregates that run fused (``dataflow.join_accumulate``), server vs DuckDB after every write.

``Reduce(Join(fact, dim))`` with count/sum/avg over fact columns grouped by dimension columns runs as one operator
that keeps per-key partial sums of the fact table instead of its rows.  These cases drive the corners of that
operator through the real server — dimension rows that move between groups, duplicated dimension rows, NULL
join keys on either side, groups emptied by retractions, int/bigint/numeric sums and averages, HAVING on top,
a two-column join — and EXPLAIN must say the fusion is used (else these cases would test the unfused path).
"""

from __future__ import annotations

import pytest

import test_corpus
from diff_support import Mirror
from test_corpus import COUNTER, Case, drop_tables, make_tables

STAR = {"f": "id int, dim_id int, amount int, big bigint, price numeric(10,2)", "d": "id int, region text"}
SETUP = (
    "INSERT INTO {p}d VALUES (1, 'east'), (2, 'west'), (3, 'east'), (NULL, 'nowhere')",
    "INSERT INTO {p}f VALUES (1, 1, 10, 5000000000, 1.25), (2, 1, NULL, NULL, NULL), (3, 2, 7, 1, 2.50), "
    "(4, 3, -2, 3, 0.10), (5, NULL, 100, 100, 100.00), (6, 4, 9, 9, 9.99)",
)
WRITES = (
    "UPDATE {p}d SET region = 'west' WHERE id = 1",  # a whole key moves to another group
    "INSERT INTO {p}d VALUES (2, 'west')",  # a duplicated dimension row doubles its key's contribution
    "INSERT INTO {p}f VALUES (7, 2, 1, 1, 0.01), (8, 4, 1, 1, 1.00)",
    "INSERT INTO {p}d VALUES (4, 'north')",  # a key whose facts were waiting for a dimension row
    "DELETE FROM {p}f WHERE dim_id = 3",  # the last facts of a key: its partial sums go
    "UPDATE {p}f SET dim_id = NULL WHERE id = 3",
    "DELETE FROM {p}d WHERE region = 'west'",  # groups emptied by retracting the dimension side
    "UPDATE {p}f SET dim_id = 4",
)

CASES = [
    Case("star aggregates follow dimension updates", STAR, SETUP,
         "SELECT d.region, count(*) AS n, sum(f.amount) AS s, avg(f.amount) AS a, sum(f.big) AS sb, "
         "sum(f.price) AS sp, avg(f.price) AS ap, count(f.amount) AS c "
         "FROM {p}f AS f JOIN {p}d AS d ON f.dim_id = d.id GROUP BY d.region", WRITES),
    Case("dimension first, grouped by the join key and an attribute", STAR, SETUP,
         "SELECT d.id, d.region, count(*) AS n, sum(f.big) AS sb FROM {p}d AS d JOIN {p}f AS f ON d.id = f.dim_id "
         "GROUP BY d.id, d.region", WRITES),
    Case("having over a fused aggregate", STAR, SETUP,
         "SELECT d.region, sum(f.amount) AS s FROM {p}f AS f JOIN {p}d AS d ON f.dim_id = d.id GROUP BY d.region "
         "HAVING sum(f.amount) > 8", WRITES),
    Case("two join columns", {"f": "k1 int, k2 int, v int", "d": "k1 int, k2 int, g text"},
         ("INSERT INTO {p}d VALUES (1, 1, 'a'), (1, 2, 'b'), (NULL, 1, 'c')",
          "INSERT INTO {p}f VALUES (1, 1, 5), (1, 2, 6), (1, NULL, 7), (NULL, 1, 8)"),
         "SELECT d.g, count(*) AS n, sum(f.v) AS s FROM {p}f AS f JOIN {p}d AS d ON f.k1 = d.k1 AND f.k2 = d.k2 "
         "GROUP BY d.g",
         ("UPDATE {p}d SET g = 'a' WHERE k2 = 2", "INSERT INTO {p}f VALUES (1, 1, 1)", "DELETE FROM {p}f WHERE v = 5",
          "UPDATE {p}d SET k1 = 1 WHERE g = 'c'")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fused_aggregate_case(mirror: Mirror, case: Case) -> None:
    test_corpus.test_corpus_case(mirror, case)


def test_explain_shows_the_fusion(mirror: Mirror) -> None:
    prefix = f"x{next(COUNTER)}_"
    make_tables(mirror, prefix, STAR)
    try:
        mirror.server(f"CREATE VIEW {prefix}v AS {CASES[0].query.format(p=prefix)}")
        plan = "\n".join(row[0] for row in mirror.server(f"EXPLAIN VIEW {prefix}v") or [])
        assert "fused=join_accumulate(aggregated input 0" in plan, plan
        # max is not accumulable (it needs the multiset of values, not a sum): not fused
        mirror.server(f"CREATE VIEW {prefix}w AS SELECT d.region, max(f.amount) FROM {prefix}f AS f "
                      f"JOIN {prefix}d AS d ON f.dim_id = d.id GROUP BY d.region")
        plan = "\n".join(row[0] for row in mirror.server(f"EXPLAIN VIEW {prefix}w") or [])
        assert "fused=" not in plan, plan
    finally:
        drop_tables(mirror, prefix, STAR)


def test_an_error_below_the_fused_aggregate_surfaces_and_recovers(mirror: Mirror) -> None:
    prefix = f"e{next(COUNTER)}_"
    tables = {"f": "dim_id int, amount int, dv int", "d": "id int, region text"}
    make_tables(mirror, prefix, tables)
    try:
        query = (f"SELECT d.region, count(*) AS n, sum(f.q) AS s FROM (SELECT dim_id, amount / dv AS q FROM {prefix}f) "
                 f"AS f JOIN {prefix}d AS d ON f.dim_id = d.id GROUP BY d.region")
        mirror.server(f"CREATE VIEW {prefix}v AS {query}")
        mirror.server(f"CREATE DEFAULT INDEX ON {prefix}v")
        mirror.both(f"INSERT INTO {prefix}d VALUES (1, 'a'), (2, 'b')")
        mirror.both(f"INSERT INTO {prefix}f VALUES (1, 10, 2), (2, 4, 0)")
        test_corpus.expect_error(mirror, f"SELECT * FROM {prefix}v", "22012")
        mirror.both(f"DELETE FROM {prefix}f WHERE dv = 0")
        mirror.check(f"SELECT * FROM {prefix}v", query, "after deleting the row that divided by zero")
    finally:
        drop_tables(mirror, prefix, tables)


def test_fused_aggregate_over_an_indexed_dimension_reads_it_in_place(mirror: Mirror) -> None:
    prefix = f"i{next(COUNTER)}_"
    make_tables(mirror, prefix, STAR)
    try:
        for statement in SETUP:
            mirror.both(statement.format(p=prefix))
        mirror.server(f"CREATE INDEX {prefix}d_id ON {prefix}d (id)")
        query = CASES[0].query.format(p=prefix)
        mirror.server(f"CREATE VIEW {prefix}v AS {query}")
        mirror.server(f"CREATE DEFAULT INDEX ON {prefix}v")
        plan = "\n".join(row[0] for row in mirror.server(f"EXPLAIN VIEW {prefix}v") or [])
        assert "fused=join_accumulate" in plan and f"uses arrangement of materialize.public.{prefix}d_id (shared)" in plan, plan
        mirror.check(f"SELECT * FROM {prefix}v", query, "after creation")
        for write in WRITES:
            mirror.both(write.format(p=prefix))
            mirror.check(f"SELECT * FROM {prefix}v", query, f"after {write}")
    finally:
        drop_tables(mirror, prefix, STAR)
