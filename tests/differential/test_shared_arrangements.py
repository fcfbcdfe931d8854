"""Shared arrangements: a dataflow over an indexed view on the same cluster imports the view's index.

A view V with an index on cluster ``shared``; a second view over V with its own index and a materialized
view over V, both on ``shared``, must show ``index import (shared arrangement)`` of V's index in EXPLAIN,
while the same query on another cluster must not (it cannot reach that arrangement).  Their results are
checked against DuckDB after every write, and ``mz_internal.mz_arrangement_sizes`` reports the indexes'
record counts.
"""

from __future__ import annotations

from diff_support import Mirror

IMPORT_LINE = "index import (shared arrangement)"


def explain(mirror: Mirror, statement: str) -> str:
    return "\n".join(row[0] for row in mirror.server(f"EXPLAIN {statement}") or [])


def arrangement_records(mirror: Mirror, index_name: str) -> list[int]:
    rows = mirror.server(
        "SELECT s.records FROM mz_internal.mz_arrangement_sizes AS s JOIN mz_catalog.mz_indexes AS i "
        f"ON s.object_id = i.id WHERE i.name = '{index_name}'") or []
    return [int(r[0]) for r in rows]


def test_index_imports_share_the_arrangement_and_stay_correct(server, mirror: Mirror) -> None:  # type: ignore[no-untyped-def]
    mirror.server("CREATE CLUSTER shared (SIZE = 'small', REPLICATION FACTOR = 1)")
    mirror.server("CREATE CLUSTER elsewhere (SIZE = 'small', REPLICATION FACTOR = 1)")
    try:
        mirror.both("CREATE TABLE sa_base (k int, v int)")
        mirror.both("INSERT INTO sa_base VALUES (1, 2), (1, 3), (2, 5), (NULL, 1), (3, 0)")
        v_sql = "SELECT k, sum(v) AS total, count(*) AS n FROM sa_base GROUP BY k"
        mirror.server(f"CREATE VIEW sa_v AS {v_sql}")
        mirror.duckdb(f"CREATE VIEW sa_v AS {v_sql}")
        mirror.server("CREATE INDEX sa_v_idx IN CLUSTER shared ON sa_v (k)")

        w_sql = "SELECT k, total * 2 AS dbl FROM sa_v WHERE total > 1"
        mirror.server(f"CREATE VIEW sa_w AS {w_sql}")
        mirror.server("CREATE INDEX sa_w_idx IN CLUSTER shared ON sa_w (k)")
        m_sql = "SELECT count(*) AS groups, sum(n) AS rows FROM sa_v"
        mirror.server(f"CREATE MATERIALIZED VIEW sa_m IN CLUSTER shared AS {m_sql}")
        mirror.server(f"CREATE MATERIALIZED VIEW sa_far IN CLUSTER elsewhere AS {m_sql}")

        # EXPLAIN VIEW plans the view's dataflow on the session's cluster (EXPLAIN INDEX lists no imports)
        mirror.server("SET cluster = shared")
        for statement in ("VIEW sa_w", "MATERIALIZED VIEW sa_m"):
            plan = explain(mirror, statement)
            assert IMPORT_LINE in plan and "sa_v_idx" in plan, plan
        mirror.server("SET cluster = elsewhere")
        for statement in ("VIEW sa_w", "MATERIALIZED VIEW sa_far"):
            far = explain(mirror, statement)
            assert IMPORT_LINE not in far and "builds: materialize.public.sa_v" in far, far
        mirror.server("SET cluster = quickstart")

        writes = ["INSERT INTO sa_base VALUES (2, 7), (4, 4)", "DELETE FROM sa_base WHERE k = 1",
                  "UPDATE sa_base SET v = 10 WHERE k IS NULL", "DELETE FROM sa_base"]
        for step, write in enumerate([""] + writes):
            if write:
                mirror.both(write)
            for name, sql in (("sa_v", v_sql), ("sa_w", w_sql), ("sa_m", m_sql), ("sa_far", m_sql)):
                mirror.check(f"SELECT * FROM {name}", sql, f"{name} after write {step}")
            # one record per distinct row of each index (reported by the one replica once it has stepped)
            for index, sql in (("sa_v_idx", v_sql), ("sa_w_idx", w_sql)):
                distinct_rows = len(set(mirror.duckdb(sql)))
                server.wait_for(lambda: arrangement_records(mirror, index) == [distinct_rows], timeout=15)
    finally:
        mirror.server("DROP TABLE IF EXISTS sa_base CASCADE")
        mirror.server("DROP CLUSTER IF EXISTS shared CASCADE")
        mirror.server("DROP CLUSTER IF EXISTS elsewhere CASCADE")


SHARED_LINE = "join right input uses arrangement of materialize.public.sj_dim_idx (shared)"
COPY_LINE = "join right input copies materialize.public.sj_dim_idx (the join key is not the index key)"


def test_join_reads_an_imported_index_in_place(server, mirror: Mirror) -> None:  # type: ignore[no-untyped-def]
    """A join keyed on an indexed relation's index key reads the index's arrangement (EXPLAIN says so) and keeps no
    copy of it: the join view's index reports its own rows plus the fact side the join holds, not the dimension."""
    mirror.server("CREATE CLUSTER sjc (SIZE = 'small', REPLICATION FACTOR = 1)")
    try:
        mirror.both("CREATE TABLE sj_dim (id int, name text)")
        mirror.both("CREATE TABLE sj_fact (id int, dim_id int, amount int)")
        mirror.both("INSERT INTO sj_dim VALUES (1, 'a'), (2, 'b'), (3, 'c'), (NULL, 'n')")
        mirror.both("INSERT INTO sj_fact VALUES (1, 1, 10), (2, 1, 20), (3, 2, 5), (4, NULL, 1), (5, 9, 9)")
        mirror.server("CREATE INDEX sj_dim_idx IN CLUSTER sjc ON sj_dim (id)")
        j_sql = "SELECT f.id, f.amount, d.name FROM sj_fact AS f JOIN sj_dim AS d ON f.dim_id = d.id"
        mirror.server(f"CREATE VIEW sj_j AS {j_sql}")
        mirror.server("SET cluster = sjc")
        plan = explain(mirror, "VIEW sj_j")
        assert SHARED_LINE in plan and COPY_LINE not in plan, plan
        # a predicate on the dimension is pushed below the join: the join reads the index through the filter
        filtered = explain(mirror, f"{j_sql} WHERE d.name <> 'c'")
        assert SHARED_LINE.replace("(shared)", "(shared, through map/filter/project)") in filtered, filtered
        # joined on another column, the same index is copied into the join
        mirror.server("CREATE TABLE sj_other (name text)")
        other = explain(mirror, "SELECT * FROM sj_other AS o JOIN sj_dim AS d ON o.name = d.name")
        assert COPY_LINE in other and SHARED_LINE not in other, other
        mirror.server("CREATE INDEX sj_j_idx IN CLUSTER sjc ON sj_j (id)")
        # reads on sjc peek sj_j_idx, the index the join maintains (a query elsewhere would compute sj_j anew)
        assert "fast path: peek index materialize.public.sj_j_idx" in explain(mirror, "SELECT * FROM sj_j")

        writes = ["INSERT INTO sj_dim VALUES (9, 'z'), (1, 'a2')", "DELETE FROM sj_fact WHERE id = 1",
                  "UPDATE sj_dim SET name = 'bb' WHERE id = 2", "INSERT INTO sj_fact VALUES (6, 3, 7), (6, 3, 7)",
                  "DELETE FROM sj_dim WHERE id = 1"]
        for step, write in enumerate([""] + writes):
            if write:
                mirror.both(write)
            mirror.check("SELECT * FROM sj_j", j_sql, f"sj_j after write {step}")
            mirror.check(f"{j_sql} WHERE d.name <> 'c'", f"{j_sql} WHERE d.name <> 'c'", f"filtered {step}")
            # the view's index holds its distinct rows; the join holds the fact rows with a key (its left input),
            # but not one row of sj_dim, which it reads from sj_dim_idx
            own = len(set(mirror.duckdb(j_sql)))
            fact = len(set(mirror.duckdb("SELECT * FROM sj_fact WHERE dim_id IS NOT NULL")))
            server.wait_for(lambda: arrangement_records(mirror, "sj_j_idx") == [own + fact], timeout=15)
        # dropped while the join reads it in place: it stays maintained as a residual dataflow, the join stays right
        mirror.server("DROP INDEX sj_dim_idx")
        for step, write in enumerate(["INSERT INTO sj_dim VALUES (1, 'back')", "DELETE FROM sj_dim WHERE id = 3",
                                      "INSERT INTO sj_fact VALUES (7, 1, 1)"]):
            mirror.both(write)
            mirror.check("SELECT * FROM sj_j", j_sql, f"sj_j after residual write {step}")
    finally:
        mirror.server("SET cluster = quickstart")
        mirror.server("DROP TABLE IF EXISTS sj_fact CASCADE")
        mirror.server("DROP TABLE IF EXISTS sj_dim CASCADE")
        mirror.server("DROP TABLE IF EXISTS sj_other CASCADE")
        mirror.server("DROP CLUSTER IF EXISTS sjc CASCADE")
