"""A COPY-loaded table hydrates a top-k view and a DISTINCT view from Arrow columns, and both stay exact.

The top-k holds its input in a columnar arrangement (``dataflow.topk_spine``) built straight from the snapshot's
columns; the DISTINCT counts the columns of its maps/projections with Arrow (``CountingOperator.fold_columns``).
The replica logs each snapshot taken as columns ("folded as columns").  Both views must equal DuckDB's evaluation of
the same SQL on the same data after the load and after writes that delete the top rows and insert new ones, and
again for views hydrated after some of those writes (the loads as columns, the writes as rows).
"""

from __future__ import annotations

import random

import duckdb

ROWS = 9000  # two COPYs of 4500 rows: each one columnar batch
TOPK = "SELECT id, amount, note FROM t ORDER BY amount DESC NULLS LAST, note, id LIMIT 7 OFFSET 2"
DISTINCT = "SELECT DISTINCT k % 5 AS a, note FROM t WHERE amount > 10"


def test_topk_and_distinct_hydrate_from_columns_and_stay_exact(env) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(11)
    rows = [(i, rng.randrange(-20, 40), rng.choice([None] + list(range(-3, 5000))), rng.choice([None, "a", "b", "é"]))
            for i in range(ROWS)]
    env.execute("CREATE TABLE t (id bigint, k int, amount bigint, note text)")
    with env.connect() as conn:
        for load in (rows[: ROWS // 2], rows[ROWS // 2:]):
            with conn.cursor().copy("COPY t FROM STDIN") as copy:
                for row in load:
                    copy.write_row(row)
    views = {"top_rows": TOPK, "distinct_rows": DISTINCT}
    for name, sql in views.items():
        env.execute(f"CREATE VIEW {name} AS {sql}", f"CREATE DEFAULT INDEX ON {name}")
    db = duckdb.connect()
    db.execute("CREATE TABLE t (id BIGINT, k INTEGER, amount BIGINT, note TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)

    def key(row: tuple) -> str:
        return repr(row)

    def check(suffix: str = "") -> None:
        for name, sql in views.items():
            got = sorted(map(tuple, env.query(f"SELECT * FROM {name}{suffix}")), key=key)
            assert got == sorted(map(tuple, db.execute(sql).fetchall()), key=key), name

    check()
    (replica_id,) = [r for (r,) in env.query(
        "SELECT r.id FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c ON r.cluster_id = c.id "
        "WHERE c.name = 'quickstart'")]
    assert env.replica_log(replica_id).count("folded as columns") == 2
    top_ids = [row[0] for row in db.execute(TOPK).fetchall()][:3]
    writes = [f"DELETE FROM t WHERE id IN ({', '.join(map(str, top_ids))})",
              "INSERT INTO t VALUES (100000, 1, 99999, 'z'), (100001, 2, NULL, NULL), (100002, 3, 4999, 'a')",
              "DELETE FROM t WHERE id % 4 = 0", "UPDATE t SET amount = amount + 1 WHERE note = 'b'"]
    for statement in writes[:2]:
        env.execute(statement)
        db.execute(statement)
        check()
    for name, sql in views.items():  # hydrated after writes: the loads as columns, the writes as rows
        env.execute(f"CREATE VIEW {name}_after AS {sql}", f"CREATE DEFAULT INDEX ON {name}_after")
    check("_after")
    # (whether these read the loads as columns depends on the coordinator's compaction having rewritten the
    # batches or not — a race; tests/compute/test_columnar_snapshots.py checks that path deterministically)
    for statement in writes[2:]:
        env.execute(statement)
        db.execute(statement)
        check()
        check("_after")
