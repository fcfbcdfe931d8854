"""The README walk-through, end to end, through psycopg against real processes."""

from __future__ import annotations


def test_walkthrough_index_reflects_writes(shared_env) -> None:
    shared_env.execute(
        "CREATE TABLE orders (id int, customer text, amount int)",
        "INSERT INTO orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5)",
        "CREATE VIEW big AS SELECT id, customer, amount FROM orders WHERE amount > 6",
        "CREATE INDEX big_idx ON big (customer)",
    )
    assert shared_env.query("SELECT * FROM big ORDER BY id") == [(1, "ann", 10), (2, "bob", 20)]
    shared_env.execute("UPDATE orders SET amount = 30 WHERE id = 3", "DELETE FROM orders WHERE id = 1")
    assert shared_env.query("SELECT * FROM big ORDER BY id") == [(2, "bob", 20), (3, "ann", 30)]
