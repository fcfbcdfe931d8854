"""The issue's walk-through through the real ``psql`` binary, checking what psql prints.

psql runs with ``-X`` (no psqlrc) and default aligned output, so command tags ("CREATE TABLE", "INSERT 0 3")
and result tables ("(2 rows)") appear exactly as a user would see them.  psql's own parsing of the
responses (row descriptions, data rows, command completion, ready-for-query) is the thing under test.
"""

from __future__ import annotations

import re
import shutil

import pytest

PSQL = shutil.which("psql")

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")


def table_lines(output: str) -> list[list[str]]:
    """The data lines of psql's aligned output, split into stripped cells (header and rule excluded)."""
    out: list[list[str]] = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if re.fullmatch(r"-+(\+-+)*", line.strip()) and index > 0:
            for data in lines[index + 1:]:
                if re.fullmatch(r"\(\d+ rows?\)", data.strip()) or not data.strip():
                    break
                out.append([cell.strip() for cell in data.split("|")])
    return out


def test_walkthrough_through_psql(shared_env) -> None:  # type: ignore[no-untyped-def]
    result = shared_env.psql(
        "CREATE TABLE orders (id int, customer text, amount int)",
        "INSERT INTO orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5)",
        "CREATE VIEW big AS SELECT id, customer, amount FROM orders WHERE amount > 6",
        "CREATE INDEX big_idx ON big (customer)",
        "SELECT * FROM big ORDER BY id",
    )
    out = result.stdout
    for tag in ("CREATE TABLE", "INSERT 0 3", "CREATE VIEW", "CREATE INDEX", "(2 rows)"):
        assert tag in out, out
    assert re.search(r"^\s*id\s*\|\s*customer\s*\|\s*amount\s*$", out, re.M), out
    assert table_lines(out) == [["1", "ann", "10"], ["2", "bob", "20"]]

    result = shared_env.psql(
        "UPDATE orders SET amount = 30 WHERE id = 3",
        "DELETE FROM orders WHERE id = 1",
        "SELECT * FROM big ORDER BY id",
    )
    assert "UPDATE 1" in result.stdout and "DELETE 1" in result.stdout
    assert table_lines(result.stdout) == [["2", "bob", "20"], ["3", "ann", "30"]]

    result = shared_env.psql(
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE MATERIALIZED VIEW ann_orders IN CLUSTER prod AS "
        "SELECT id, amount FROM orders WHERE customer = 'ann'",
        "SELECT * FROM ann_orders",
    )
    assert "CREATE CLUSTER" in result.stdout and "CREATE MATERIALIZED VIEW" in result.stdout
    assert table_lines(result.stdout) == [["3", "30"]]
    assert "(1 row)" in result.stdout

    # SET cluster lasts for the psql session: both statements in one -c string (one simple-query message).
    result = shared_env.psql("SET cluster = prod; CREATE INDEX ann_idx ON ann_orders (id)",
                             "SHOW cluster")
    assert "CREATE INDEX" in result.stdout
    assert table_lines(result.stdout) == [["prod"]]

    clusters = table_lines(shared_env.psql("SHOW CLUSTERS").stdout)
    assert sorted(row[0] for row in clusters) == ["prod", "quickstart"]
    replicas = sorted(tuple(row[:3]) for row in table_lines(shared_env.psql("SHOW CLUSTER REPLICAS").stdout))
    assert replicas == [("prod", "r1", "small"), ("prod", "r2", "small"), ("quickstart", "r1", "small")]
    indexes = sorted(tuple(row[:4]) for row in table_lines(shared_env.psql("SHOW INDEXES").stdout))
    assert indexes == [("ann_idx", "ann_orders", "prod", "id"), ("big_idx", "big", "quickstart", "customer")]
    mvs = [tuple(row[:2]) for row in table_lines(shared_env.psql("SHOW MATERIALIZED VIEWS").stdout)]
    assert mvs == [("ann_orders", "prod")]

    prod_ids = set(shared_env.replica_pids()) - {"r1"}
    assert len(prod_ids) == 2
    result = shared_env.psql("DROP INDEX big_idx", "DROP CLUSTER prod CASCADE", "SHOW CLUSTERS")
    assert "DROP INDEX" in result.stdout and "DROP CLUSTER" in result.stdout
    assert [row[0] for row in table_lines(result.stdout)] == ["quickstart"]
    shared_env.wait_for(lambda: not (prod_ids & set(shared_env.replica_pids())))


def test_psql_error_reports_sqlstate_and_exit_code(shared_env) -> None:  # type: ignore[no-untyped-def]
    result = shared_env.psql("\\set VERBOSITY verbose", "SELECT * FROM no_such_table", check=False)
    assert result.returncode != 0
    assert "42P01" in result.stderr and "no_such_table" in result.stderr
    # psql keeps working afterwards.
    assert table_lines(shared_env.psql("SELECT 1 + 1 AS two").stdout) == [["2"]]


def test_psql_several_statements_in_one_message(shared_env) -> None:  # type: ignore[no-untyped-def]
    result = shared_env.psql(
        "CREATE TABLE multi (a int); INSERT INTO multi VALUES (1), (2); SELECT a FROM multi ORDER BY a"
    )
    assert table_lines(result.stdout) == [["1"], ["2"]]
    assert "INSERT 0 2" in result.stdout
