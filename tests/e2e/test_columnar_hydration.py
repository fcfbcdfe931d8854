"""A loaded fact table hydrates a fused star aggregate from Arrow columns, and the view stays exact afterwards.

``COPY`` of a large table writes insert-only batches, which storage keeps as Arrow (``repr.columnar``).  A star
aggregate over it runs as the fused join-accumulate, whose hydration then folds the fact snapshot with Arrow's
hash aggregation instead of one Python row at a time (``storage.snapshot_columns``; the replica logs it).  The
view must equal DuckDB's evaluation of the same SQL on the same data after the load and after writes, and a view
that also reads the fact rows themselves (a join, whose fact side builds its arrangement from the columns) must
agree too.  A plain GROUP BY of the
table (an accumulating reduce, NULL keys a group of their own) hydrates from the columns as well.  The table is
loaded by two COPYs whose integer columns are stored at different widths.
"""

from __future__ import annotations

import random

import duckdb

FACTS, DIMS = 9000, 40  # two COPYs of 4500 rows: each one columnar batch (at least 4096 rows)
VIEW = ("SELECT d.region, count(*) AS n, sum(f.amount) AS s, count(f.note) AS c FROM fact AS f "
        "JOIN dim AS d ON f.dim_id = d.id GROUP BY d.region")
GROUPED = "SELECT dim_id, count(*) AS n, sum(amount) AS s, count(note) AS c FROM fact GROUP BY dim_id"


def test_fused_aggregate_hydrates_from_columns_and_stays_exact(env) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    # the second load's amounts need int32, the first's int16: the batches store the column at different widths
    facts = [(i, rng.choice([None] + list(range(DIMS + 3))), rng.randrange(-50, 1000 if i < FACTS // 2 else 10 ** 6),
              rng.choice([None, "a", "b"])) for i in range(FACTS)]
    dims = [(i, f"r{i % 7}") for i in range(DIMS)]
    env.execute("CREATE TABLE fact (id int, dim_id int, amount bigint, note text)",
                "CREATE TABLE dim (id int, region text)")
    with env.connect() as conn:
        for load in (facts[: FACTS // 2], facts[FACTS // 2:]):
            with conn.cursor().copy("COPY fact FROM STDIN") as copy:
                for row in load:
                    copy.write_row(row)
        with conn.cursor().copy("COPY dim FROM STDIN") as copy:
            for row in dims:
                copy.write_row(row)
    env.execute(f"CREATE VIEW v AS {VIEW}", "CREATE DEFAULT INDEX ON v",
                "CREATE VIEW w AS SELECT f.id, d.region FROM fact AS f JOIN dim AS d ON f.dim_id = d.id",
                "CREATE DEFAULT INDEX ON w", f"CREATE VIEW g AS {GROUPED}", "CREATE DEFAULT INDEX ON g")
    db = duckdb.connect()
    db.execute("CREATE TABLE fact (id INTEGER, dim_id INTEGER, amount BIGINT, note TEXT)")
    db.execute("CREATE TABLE dim (id INTEGER, region TEXT)")
    db.executemany("INSERT INTO fact VALUES (?, ?, ?, ?)", facts)
    db.executemany("INSERT INTO dim VALUES (?, ?)", dims)

    def check() -> None:
        got = sorted((r, n, int(s), c) for r, n, s, c in env.query("SELECT * FROM v"))
        assert got == sorted((r, n, int(s), c) for r, n, s, c in db.execute(VIEW).fetchall())
        joined = "SELECT f.id, d.region FROM fact AS f JOIN dim AS d ON f.dim_id = d.id"
        assert sorted(env.query("SELECT * FROM w")) == sorted(db.execute(joined).fetchall())
        def key(row: tuple) -> tuple:
            return (row[0] is None, row[0] or 0, row[1:])
        grouped = [(k, n, int(s), c) for k, n, s, c in env.query("SELECT * FROM g")]
        assert sorted(grouped, key=key) == sorted(((k, n, int(s), c) for k, n, s, c in db.execute(GROUPED).fetchall()),
                                                  key=key)

    check()
    (replica_id,) = [r for (r,) in env.query(
        "SELECT r.id FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c ON r.cluster_id = c.id "
        "WHERE c.name = 'quickstart'")]
    log = env.replica_log(replica_id)
    # v (a fused star aggregate), w (the join's fact side) and g (a GROUP BY of the table) used the columns; the
    # dimension table (40 rows) was stored as rows
    assert log.count("folded as columns") == 3
    for statement in ("UPDATE dim SET region = 'moved' WHERE id < 5", "DELETE FROM fact WHERE id % 3 = 0",
                      "INSERT INTO fact VALUES (99999, 1, 7, 'z'), (99998, NULL, 1, NULL)"):
        env.execute(statement)
        db.execute(statement)
        check()

    # Hydrated after the writes, the snapshot is the loads as columns plus the writes (deletes of loaded rows
    # among them) as rows — unless compaction rewrote the shard as rows meanwhile (it does under load; the split
    # itself is covered by tests/compute/test_columnar_snapshots.py) — and the result must still be exact.
    env.execute(f"CREATE VIEW v_after AS {VIEW}", "CREATE DEFAULT INDEX ON v_after",
                f"CREATE VIEW g_after AS {GROUPED}", "CREATE DEFAULT INDEX ON g_after")
    assert sorted(tuple(r) for r in env.query("SELECT * FROM v_after")) == sorted(
        tuple(r) for r in env.query("SELECT * FROM v"))
    assert sorted(map(str, env.query("SELECT * FROM g_after"))) == sorted(map(str, env.query("SELECT * FROM g")))
    check()
