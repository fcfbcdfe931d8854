"""A loaded table with numeric, timestamp and date columns is stored as Arrow columns and every view over it hydrates
exactly, in a real server.

``COPY`` of 9000 rows writes one insert-only batch, which storage keeps as Arrow with the numerics as
``decimal128(38, 2)``, the timestamps as ``timestamp[us]`` (``timestamptz``: in UTC) and the dates as ``date32``
(``repr.columnar``).  A
``GROUP BY`` that reads only the integer columns folds the columns as they are, and an index on the table arranges
them as they are (the replica logs both); views that read the numerics, timestamps and dates in operators (grouped
by date, a numeric filter) take the snapshot's rows, converted from the columns.  Every view must equal DuckDB's evaluation of the same SQL on the same
data after the load and after writes.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import duckdb

ROWS = 9000  # one COPY: one columnar batch, past an index arrangement's recent_min (8192)
VIEWS = {
    "ints": "SELECT customer_id, count(*) AS n, sum(id) AS s FROM orders GROUP BY customer_id",
    "days": "SELECT day, sum(amount) AS total, max(placed) AS last, count(*) AS n, min(seen) AS first FROM orders "
            "GROUP BY day",
    "refunds": "SELECT id, amount, placed FROM orders WHERE amount < -9.00",
}


def _row(i: int, rng: random.Random) -> tuple:
    amount = None if i % 17 == 0 else (Decimal(rng.randrange(-1000, 1000)) / 100).quantize(Decimal("0.01"))
    placed = dt.datetime(2024, 5, 1) + dt.timedelta(seconds=rng.randrange(10 ** 7), microseconds=rng.randrange(10 ** 6))
    day = None if i % 23 == 0 else dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(90))
    seen = None if i % 29 == 0 else dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        seconds=rng.randrange(10 ** 6))
    return (i, rng.randrange(50), amount, placed, day, rng.choice(["a", "b", None]), seen)


def utc(value: object) -> object:
    """An aware timestamp as its UTC wall time (how DuckDB's side holds a timestamptz here)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def test_numeric_timestamp_and_date_columns_hydrate_exactly(env) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(8)
    rows = [_row(i, rng) for i in range(ROWS)]
    columns = "id int, customer_id int, amount numeric(12,2), placed timestamp, day date, note text, seen timestamptz"
    env.execute(f"CREATE TABLE orders ({columns})")
    with env.connect() as conn:
        with conn.cursor().copy("COPY orders FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    env.execute(*(f"CREATE VIEW {name} AS {sql}" for name, sql in VIEWS.items()),
                *(f"CREATE DEFAULT INDEX ON {name}" for name in VIEWS),
                "CREATE INDEX orders_id ON orders (id)")  # last: the views read the table's snapshot itself
    db = duckdb.connect()
    db.execute("CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount DECIMAL(12,2), placed TIMESTAMP, "
               "day DATE, note TEXT, seen TIMESTAMP)")  # timestamptz as UTC wall time (DuckDB's needs pytz)
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", [(*row[:6], utc(row[6])) for row in rows])

    def ordered(result: list) -> list:
        return sorted((tuple(utc(value) for value in row) for row in result), key=repr)

    def check() -> None:
        for name, sql in VIEWS.items():
            got = ordered(env.query(f"SELECT * FROM {name}"))
            assert got == ordered(db.execute(sql).fetchall()), name
            assert got, name  # not vacuous
        assert ordered(env.query("SELECT * FROM orders")) == ordered(db.execute("SELECT * FROM orders").fetchall())

    check()
    (replica_id,) = [r for (r,) in env.query(
        "SELECT r.id FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c ON r.cluster_id = c.id "
        "WHERE c.name = 'quickstart'")]
    log = env.replica_log(replica_id)
    assert log.count("folded as columns") == 1  # "ints": the integer columns only
    assert log.count("read as columns") == 1  # the index on the table: its columns arranged as they are
    for statement in ("DELETE FROM orders WHERE id % 5 = 0",
                      "UPDATE orders SET amount = amount - 20.00 WHERE customer_id = 3",
                      "INSERT INTO orders VALUES (90001, 7, -12.34, '2024-06-01 10:00:00.5', '2024-02-02', 'z', "
                      "'2024-06-01 10:00:00+00')"):
        env.execute(statement)
        db.execute(statement)
        check()
