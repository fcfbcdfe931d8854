"""psql's describe commands beyond the listings: ``\\d NAME`` (a table's and a view's columns with types and
nullability, and the table's indexes), ``\\l``, ``\\du``, ``\\dn``, ``\\df``, ``\\dx``, through the real psql binary.

psql sends ``OPERATOR(pg_catalog.~)``, ``COLLATE pg_catalog.default``, ``::pg_catalog.regtype``, ``ARRAY(SELECT
...)``, ``pg_get_indexdef`` and queries over catalogs that are empty here (policies, publications, statistics
objects, inheritance); each answer is compared with what was created.
"""

from __future__ import annotations


def table_rows(out: str) -> list[tuple[str, ...]]:
    """The data rows of psql's aligned output (header, rule and footer dropped)."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) <= {"-", "+"} and line)
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip() or line.startswith("(") or not line.startswith(" "):
            break
        rows.append(tuple(cell.strip() for cell in line.split("|")))
    return rows


def test_describe_a_table_and_a_view(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute(
        "CREATE TABLE psql_orders (id int NOT NULL, amount numeric, note text, at timestamp)",
        "CREATE INDEX psql_orders_id ON psql_orders (id)",
        "CREATE VIEW psql_orders_v AS SELECT id, note FROM psql_orders",
    )
    out = shared_env.psql(r"\d psql_orders").stdout
    assert 'Table "public.psql_orders"' in out
    assert table_rows(out) == [
        ("id", "integer", "", "not null", ""),
        ("amount", "numeric", "", "", ""),
        ("note", "text", "", "", ""),
        ("at", "timestamp without time zone", "", "", ""),
    ]
    indexes = out.split("Indexes:")[1]
    assert '"psql_orders_id"' in indexes and "ON public.psql_orders (id)" in indexes
    view = shared_env.psql(r"\d psql_orders_v").stdout
    assert 'View "public.psql_orders_v"' in view
    assert [row[:2] for row in table_rows(view)] == [("id", "integer"), ("note", "text")]
    missing = shared_env.psql(r"\d no_such_relation", check=False)
    assert "Did not find any relation named" in missing.stderr


def test_databases_roles_schemas_functions_extensions(shared_env) -> None:  # type: ignore[no-untyped-def]
    databases = table_rows(shared_env.psql(r"\l").stdout)
    assert [row[:3] for row in databases] == [("materialize", "materialize", "UTF8")]
    roles = table_rows(shared_env.psql(r"\du").stdout)
    (materialize,) = [row for row in roles if row[0] == "materialize"]
    assert "Superuser" in materialize[1] and materialize[2] == "{}"
    schemas = {row[0]: row[1] for row in table_rows(shared_env.psql(r"\dn").stdout)}
    assert schemas["public"] == "materialize"
    assert table_rows(shared_env.psql(r"\df").stdout) == []  # no user-defined functions exist
    assert table_rows(shared_env.psql(r"\dx").stdout) == []


def test_listings_by_kind(shared_env) -> None:  # type: ignore[no-untyped-def]
    shared_env.execute("CREATE TABLE psql_kind_t (a int)", "CREATE VIEW psql_kind_v AS SELECT a FROM psql_kind_t",
                       "CREATE INDEX psql_kind_i ON psql_kind_t (a)")
    assert ("public", "psql_kind_t", "table", "materialize") in table_rows(shared_env.psql(r"\dt").stdout)
    assert ("public", "psql_kind_v", "view", "materialize") in table_rows(shared_env.psql(r"\dv").stdout)
    assert ("public", "psql_kind_i", "index", "materialize", "psql_kind_t") in table_rows(
        shared_env.psql(r"\di").stdout)
