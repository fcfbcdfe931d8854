"""Generated differential tests of the query features (windows, LATERAL, recursion, join forms, aggregates with
FILTER/ORDER BY/DISTINCT, DISTINCT ON, grouping sets), maintained through random writes, server vs DuckDB.

The same procedure as ``test_generated``: fresh tables in the shared server and a DuckDB mirror, the generated query
(``diff_features``) maintained as a view with an index or as a materialized view, a generated sequence of
INSERT/UPDATE/DELETE, and after every write the maintained result must equal DuckDB's evaluation of the same SQL as
a multiset; then the same query as an ad hoc SELECT, and EXPLAIN must show a plan.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, event, given, settings, strategies as st

from diff_features import feature_queries
from diff_generators import rows_for, schemas, writes
from diff_support import Mirror
from test_generated import create_tables, drop_tables

EXAMPLES = itertools.count()


@st.composite
def feature_scenarios(draw):  # type: ignore[no-untyped-def]
    tables = draw(schemas())
    data = [draw(rows_for(t, min_size=1, max_size=6)) for t in tables]
    query = draw(feature_queries(tables))
    steps = draw(st.lists(writes(tables), min_size=1, max_size=4))
    return tables, data, query, steps, draw(st.sampled_from(["index", "materialized"]))


@settings(max_examples=int(os.environ.get("DIFF_EXAMPLES", "30")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(scenario=feature_scenarios())
def test_maintained_feature_query_matches_duckdb_after_every_write(mirror: Mirror, scenario) -> None:  # type: ignore[no-untyped-def]
    tables, data, query, steps, maintained_as = scenario
    prefix = f"f{next(EXAMPLES)}"
    sql = query.render(prefix)
    event(sql.split(" FROM ")[0][:40] if "OVER" not in sql else "window function")
    create_tables(mirror, prefix, tables, data)
    try:
        view = f"{prefix}_v"
        if maintained_as == "index":
            mirror.server(f"CREATE VIEW {view} AS {sql}")
            mirror.server(f"CREATE INDEX {view}_idx ON {view} (c0)")
        else:
            mirror.server(f"CREATE MATERIALIZED VIEW {view} AS {sql}")
        mirror.check(f"SELECT * FROM {view}", sql, "after creation")
        for step in steps:
            mirror.both(step.render(prefix))
            mirror.check(f"SELECT * FROM {view}", sql, f"after {step.render(prefix)}")
        mirror.check(sql, sql, "ad hoc SELECT")
        assert mirror.server(f"EXPLAIN {sql}")
    finally:
        drop_tables(mirror, prefix, tables)
