"""min/max, count(DISTINCT) and joins hydrate from Arrow columns on a real replica and stay exact after writes.

Both tables are loaded by ``COPY`` in batches of at least 4096 rows, so storage keeps them as Arrow
(``repr.columnar``) and the replica hands the snapshots to the operators as columns: a reduce over plain columns
builds its groups (min/max as sorted states) from Arrow's consolidated ``(key, value)`` counts, a join builds both
arrangements from the columns and the two snapshots' join is Acero's, handed to the reduce over it as columns.  The
views must equal DuckDB's evaluation of the same SQL on the same data after the load, after writes that delete
extremes and move dimension rows, and when hydrated again after those writes (what is still stored as loaded as
columns, the writes as rows).
"""

from __future__ import annotations

import random
from typing import Any

import duckdb

FACTS, DIMS = 9000, 5000  # fact: two COPYs of 4500 rows; dim: one COPY of 5000 (each at least 4096: columnar)
VIEWS = {
    "mm": "SELECT dim_id, min(amount) AS lo, max(amount) AS hi, count(DISTINCT note) AS notes, sum(amount) AS s, "
          "count(*) AS n, max(note) AS last_note FROM fact GROUP BY dim_id",
    "cd": "SELECT d.region, count(DISTINCT f.dim_id) AS dims, min(f.amount) AS lo, max(f.note) AS hi "
          "FROM fact AS f JOIN dim AS d ON f.dim_id = d.id GROUP BY d.region",
    "jf": "SELECT f.id, f.amount, d.region FROM fact AS f JOIN dim AS d ON f.dim_id = d.id WHERE f.amount < 100",
    "gmax": "SELECT max(amount) AS hi, min(note) AS lo, count(DISTINCT dim_id) AS n FROM fact",
}


def normal(rows: list[Any]) -> list[tuple]:
    def value(v: Any) -> Any:
        return int(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, float) else v
    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def test_min_max_and_distinct_over_a_join_hydrate_from_columns(env) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(12)
    facts = [(i, rng.choice([None] + list(range(DIMS // 10))), rng.choice([None] + list(range(-50, 1000))),
              rng.choice([None, "a", "b", "c", "ab"])) for i in range(FACTS)]
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
    for name, sql in VIEWS.items():
        env.execute(f"CREATE VIEW {name} AS {sql}", f"CREATE DEFAULT INDEX ON {name}")
    db = duckdb.connect()
    db.execute("CREATE TABLE fact (id INTEGER, dim_id INTEGER, amount BIGINT, note TEXT)")
    db.execute("CREATE TABLE dim (id INTEGER, region TEXT)")
    db.executemany("INSERT INTO fact VALUES (?, ?, ?, ?)", facts)
    db.executemany("INSERT INTO dim VALUES (?, ?)", dims)

    def check(suffix: str = "") -> None:
        for name, sql in VIEWS.items():
            assert normal(env.query(f"SELECT * FROM {name}{suffix}")) == normal(db.execute(sql).fetchall()), name

    check()
    (replica_id,) = [r for (r,) in env.query(
        "SELECT r.id FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c ON r.cluster_id = c.id "
        "WHERE c.name = 'quickstart'")]
    # every source read of the four dataflows took columns: mm, gmax (fact), cd and jf (fact and dim)
    assert env.replica_log(replica_id).count("folded as columns") == 6
    lows = [row[0] for row in db.execute("SELECT min(amount) FROM fact GROUP BY dim_id").fetchall()[:20]]
    for statement in (f"DELETE FROM fact WHERE amount IN ({', '.join(str(v) for v in lows if v is not None)})",
                      "UPDATE dim SET region = 'moved' WHERE id % 11 = 0",
                      "DELETE FROM fact WHERE id % 3 = 0 OR note = 'c'",
                      "INSERT INTO fact VALUES (99999, 1, 5000, 'zz'), (99998, NULL, -999, NULL), (99997, 2, NULL, 'a')",
                      "DELETE FROM dim WHERE id % 5 = 1"):
        env.execute(statement)
        db.execute(statement)
        check()

    # hydrated again after the writes: what is still stored as loaded goes in as columns, the writes (deletes of
    # loaded rows among them) as rows (compaction may have rewritten a shard as rows meanwhile: then all of it)
    for name, sql in VIEWS.items():
        env.execute(f"CREATE VIEW {name}_after AS {sql}", f"CREATE DEFAULT INDEX ON {name}_after")
    check("_after")
