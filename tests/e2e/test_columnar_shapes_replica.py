"""COPY-loaded tables hydrate the shapes issue 12 measured far from DuckDB — ROLLUP over a join, LATERAL top-k per
group, a table function per row, count(DISTINCT) over a join, an outer join, UNION ALL / EXCEPT, INTERSECT, a join
without aggregate — through their columnar paths in a real replica
(storage keeps integers at their narrowest width), and each view stays exact.

Each view must equal DuckDB's evaluation of the same SQL on the same data after the load, after writes (deletes of
loaded rows, inserts, a dimension update) and again for views hydrated after some of those writes (the loads as
columns, the writes as rows).
"""

from __future__ import annotations

import random

import duckdb

ORDERS = 9000  # two COPYs of 4500 rows: each one columnar batch
CUSTOMERS = 4500  # one columnar batch too (a COPY of fewer than 4096 rows is stored as rows)
VIEWS = {
    "rollup_v": "SELECT c.region, c.tier, count(*) AS n, sum(o.amount) AS total FROM orders o JOIN customers c "
                "ON o.customer_id = c.id GROUP BY ROLLUP (c.region, c.tier)",
    "lateral_v": "SELECT c.id, x.id AS order_id, x.amount FROM customers c, LATERAL (SELECT o.id, o.amount "
                 "FROM orders o WHERE o.customer_id = c.id ORDER BY o.amount DESC NULLS LAST, o.id LIMIT 2) x",
    "series_v": "SELECT o.id, g.n FROM orders o, generate_series(1, o.amount % 3) AS g(n) WHERE o.amount < 300",
    "distinct_v": "SELECT c.region, count(DISTINCT o.customer_id) AS n FROM orders o JOIN customers c "
                  "ON o.customer_id = c.id GROUP BY c.region",
    # through the first round as columns (``dataflow.columnar_delta``): outer join, UNION ALL / EXCEPT, INTERSECT
    "outer_v": "SELECT c.id, c.region, o.id AS order_id FROM customers c LEFT JOIN orders o "
               "ON o.customer_id = c.id AND o.amount > 900",
    "except_v": "SELECT customer_id FROM orders WHERE amount < 50 UNION ALL SELECT id FROM customers WHERE tier = 1 "
                "EXCEPT SELECT id FROM customers WHERE tier = 2",
    "intersect_v": "SELECT region FROM customers INTERSECT SELECT CASE WHEN amount > 500 THEN 'n' ELSE 's' END "
                   "FROM orders",
    "join_v": "SELECT o.id, o.amount, c.region FROM orders o JOIN customers c ON o.customer_id = c.id "
              "WHERE o.amount < 100",
}


def test_the_far_shapes_hydrate_from_columns_and_stay_exact(env) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    # a few customers without an id: NULL keys on the outer side of LATERAL's join back (which is keyed on plain
    # columns: the top-k's group key is never NULL) and of the joins
    customers = [(i if i % 500 else None, rng.choice(["n", "s", "é", None]), rng.choice([1, 2, None]))
                 for i in range(CUSTOMERS)]
    orders = [(i, rng.choice([None] + list(range(CUSTOMERS + 5))), rng.choice([None] + list(range(1, 1000))))
              for i in range(ORDERS)]
    env.execute("CREATE TABLE orders (id bigint, customer_id bigint, amount bigint)",
                "CREATE TABLE customers (id bigint, region text, tier int)")
    with env.connect() as conn:
        for table, rows in (("customers", customers), ("orders", orders[: ORDERS // 2]),
                            ("orders", orders[ORDERS // 2:])):
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    for name, sql in VIEWS.items():
        env.execute(f"CREATE VIEW {name} AS {sql}", f"CREATE DEFAULT INDEX ON {name}")
    db = duckdb.connect()
    db.execute("CREATE TABLE orders (id BIGINT, customer_id BIGINT, amount BIGINT)")
    db.execute("CREATE TABLE customers (id BIGINT, region TEXT, tier INTEGER)")
    db.executemany("INSERT INTO orders VALUES (?, ?, ?)", orders)
    db.executemany("INSERT INTO customers VALUES (?, ?, ?)", customers)

    def normal(rows: list) -> list:
        return sorted((tuple(int(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, (bool, float))
                             else v for v in row) for row in rows), key=repr)

    def check(suffix: str = "") -> None:
        for name, sql in VIEWS.items():
            assert normal(env.query(f"SELECT * FROM {name}{suffix}")) == normal(db.execute(sql).fetchall()), name

    check()
    writes = ["DELETE FROM orders WHERE id % 7 = 0",
              "INSERT INTO orders VALUES (100000, 3, 999), (100001, NULL, 5), (100002, 3, 998), (100003, 4, NULL)",
              "INSERT INTO customers VALUES (NULL, 'n', 1), (4600, NULL, 2)",
              "UPDATE customers SET region = 's', tier = 2 WHERE id IN (3, 4, 5)",
              "DELETE FROM customers WHERE id = 7"]
    for statement in writes[:3]:
        env.execute(statement)
        db.execute(statement)
        check()
    for name, sql in VIEWS.items():  # hydrated after writes: the loads as columns, the writes as rows
        env.execute(f"CREATE VIEW {name}_after AS {sql}", f"CREATE DEFAULT INDEX ON {name}_after")
    check("_after")
    for statement in writes[3:]:
        env.execute(statement)
        db.execute(statement)
        check()
        check("_after")
