"""The issue's walk-through, statement by statement, through psycopg against real processes.

One environment for the module; the tests run in file order and build on each other exactly as the
walk-through does (orders → big → big_idx → prod → ann_orders → ann_idx → SHOW … → drops).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def conn(shared_env):  # type: ignore[no-untyped-def]
    with shared_env.connect() as connection:
        yield connection


def rows(conn, sql: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return conn.execute(sql).fetchall()


def test_create_table_insert_view_index(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("CREATE TABLE orders (id int, customer text, amount int)")
    cur = conn.execute("INSERT INTO orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5)")
    assert cur.rowcount == 3
    conn.execute("CREATE VIEW big AS SELECT id, customer, amount FROM orders WHERE amount > 6")
    conn.execute("CREATE INDEX big_idx ON big (customer)")
    cur = conn.execute("SELECT * FROM big ORDER BY id")
    assert [d.name for d in cur.description] == ["id", "customer", "amount"]
    assert cur.fetchall() == [(1, "ann", 10), (2, "bob", 20)]


def test_index_is_on_the_session_cluster(conn) -> None:  # type: ignore[no-untyped-def]
    assert rows(conn, "SHOW cluster") == [("quickstart",)]
    shown = rows(conn, "SHOW INDEXES")
    assert ("big_idx", "big", "quickstart", "customer") in [tuple(r[:4]) for r in shown]


def test_update_delete_reflected(conn) -> None:  # type: ignore[no-untyped-def]
    assert conn.execute("UPDATE orders SET amount = 30 WHERE id = 3").rowcount == 1
    assert conn.execute("DELETE FROM orders WHERE id = 1").rowcount == 1
    assert rows(conn, "SELECT * FROM big ORDER BY id") == [(2, "bob", 20), (3, "ann", 30)]


def test_materialized_view_on_two_replica_cluster(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)")
    prod = rows(conn, "SELECT id FROM mz_catalog.mz_clusters WHERE name = 'prod'")
    assert len(prod) == 1
    prod_replicas = {r[0] for r in rows(conn, f"SELECT id FROM mz_catalog.mz_cluster_replicas "
                                              f"WHERE cluster_id = '{prod[0][0]}'")}
    assert len(prod_replicas) == 2
    shared_env.wait_for(lambda: prod_replicas <= set(shared_env.replica_pids()))
    conn.execute(
        "CREATE MATERIALIZED VIEW ann_orders IN CLUSTER prod AS "
        "SELECT id, amount FROM orders WHERE customer = 'ann'"
    )
    # Two replicas write the same MV shard: exactly one copy of each update.
    assert rows(conn, "SELECT * FROM ann_orders") == [(3, 30)]
    conn.execute("INSERT INTO orders VALUES (4, 'ann', 7), (5, 'bob', 8)")
    assert sorted(rows(conn, "SELECT * FROM ann_orders")) == [(3, 30), (4, 7)]
    assert rows(conn, "SELECT count(*) FROM ann_orders") == [(2,)]


def test_set_cluster_and_index_on_mv(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("SET cluster = prod")
    assert rows(conn, "SHOW cluster") == [("prod",)]
    conn.execute("CREATE INDEX ann_idx ON ann_orders (id)")
    assert sorted(rows(conn, "SELECT * FROM ann_orders")) == [(3, 30), (4, 7)]
    shown = [tuple(r[:4]) for r in rows(conn, "SHOW INDEXES")]
    assert ("ann_idx", "ann_orders", "prod", "id") in shown


def test_show_clusters(conn) -> None:  # type: ignore[no-untyped-def]
    shown = {r[0]: r for r in rows(conn, "SHOW CLUSTERS")}
    assert set(shown) == {"quickstart", "prod"}
    assert "r1" in shown["quickstart"][1]
    assert "r1" in shown["prod"][1] and "r2" in shown["prod"][1]


def test_show_cluster_replicas(conn) -> None:  # type: ignore[no-untyped-def]
    shown = sorted(tuple(r[:3]) for r in rows(conn, "SHOW CLUSTER REPLICAS"))
    assert shown == [("prod", "r1", "small"), ("prod", "r2", "small"), ("quickstart", "r1", "small")]


def test_show_indexes_and_materialized_views(conn) -> None:  # type: ignore[no-untyped-def]
    indexes = sorted(tuple(r[:4]) for r in rows(conn, "SHOW INDEXES"))
    assert indexes == [("ann_idx", "ann_orders", "prod", "id"), ("big_idx", "big", "quickstart", "customer")]
    assert [tuple(r[:2]) for r in rows(conn, "SHOW MATERIALIZED VIEWS")] == [("ann_orders", "prod")]


def test_drop_index(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("DROP INDEX big_idx")
    assert "big_idx" not in [r[0] for r in rows(conn, "SHOW INDEXES")]
    # The view is still answerable (now through the slow path) and still correct.
    conn.execute("SET cluster = quickstart")
    assert rows(conn, "SELECT * FROM big ORDER BY id") == [(2, "bob", 20), (3, "ann", 30), (4, "ann", 7),
                                                          (5, "bob", 8)]


def test_drop_cluster_cascade_stops_its_replicas(shared_env, conn) -> None:  # type: ignore[no-untyped-def]
    (prod_id,), = rows(conn, "SELECT id FROM mz_catalog.mz_clusters WHERE name = 'prod'")
    prod_replicas = {r[0] for r in rows(conn, f"SELECT id FROM mz_catalog.mz_cluster_replicas "
                                              f"WHERE cluster_id = '{prod_id}'")}
    assert len(prod_replicas) == 2
    assert prod_replicas <= set(shared_env.replica_pids())
    conn.execute("DROP CLUSTER prod CASCADE")
    assert [r[0] for r in rows(conn, "SHOW CLUSTERS")] == ["quickstart"]
    assert rows(conn, "SHOW MATERIALIZED VIEWS") == []
    assert [r[0] for r in rows(conn, "SHOW INDEXES")] == []
    shared_env.wait_for(lambda: not (prod_replicas & set(shared_env.replica_pids())))
    remaining = shared_env.replica_processes()
    assert [rid for rid, _ in remaining] == ["r1"]
    # The table and the view survive; the MV does not.
    assert rows(conn, "SELECT count(*) FROM orders") == [(4,)]
    with pytest.raises(Exception) as info:
        conn.execute("SELECT * FROM ann_orders")
    assert getattr(info.value, "sqlstate", None) == "42P01"
