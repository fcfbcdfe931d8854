"""dbt-materialize against a real server: the project in tests/e2e/dbt/project, run with the real ``dbt`` CLI.

The adapter (dbt-materialize 1.9.11 on dbt-core 1.10) lives in its own venv, ``.venv-dbt`` at the repository's
root, which scripts/test.sh creates from tests/e2e/dbt/requirements.txt (``$STEADYSTATE_DBT`` names another
``dbt`` executable).  It connects as a user does: ``materialize`` with the password from the data directory's
pgpass, over TLS.

``dbt seed`` loads two CSV files into tables; ``dbt run`` builds a ``view``, a ``table`` (a materialized view in
dbt-materialize) and a ``materialized_view`` with ``cluster=`` and ``indexes=`` configs, persisting the models'
descriptions with ``COMMENT ON``; ``dbt test`` runs generic tests (unique, not_null, accepted_values,
relationships) and a singular one; ``dbt docs generate`` writes the catalog.  The answers are compared with the
same computation over the CSV files in Python, and ``dbt test`` must fail once the data breaks a test.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).parent / "dbt" / "project"


def dbt_executable() -> str:
    path = os.environ.get("STEADYSTATE_DBT") or str(REPO / ".venv-dbt" / "bin" / "dbt")
    if not Path(path).exists():
        pytest.fail(f"dbt is not installed at {path}: run scripts/test.sh, which creates .venv-dbt from "
                    "tests/e2e/dbt/requirements.txt")
    return path


class Dbt:
    """The ``dbt`` CLI on a copy of the project, pointed at one environment."""

    def __init__(self, env, workdir: Path) -> None:  # type: ignore[no-untyped-def]
        self.env = env
        self.project = workdir / "project"
        shutil.copytree(PROJECT, self.project)
        self.executable = dbt_executable()

    def __call__(self, *args: str, check: bool = True, **environ: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.executable, *args, "--profiles-dir", str(self.project), "--no-use-colors"],
            cwd=self.project, capture_output=True, text=True, timeout=600,
            env={**os.environ, "STEADYSTATE_PORT": str(self.env.sql_port),
                 "STEADYSTATE_PASSWORD": self.env.password, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                 **environ})
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}"
                                 f"\n{result.stderr[-2000:]}")
        return result


def seed_rows(name: str) -> list[dict[str, str]]:
    with open(PROJECT / "seeds" / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def expected_revenue() -> dict[str, tuple[int, int]]:
    """revenue_by_region computed over the CSV files: region -> (revenue, orders)."""
    region = {c["customer_id"]: c["region"] for c in seed_rows("customers")}
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for order in seed_rows("orders"):
        if order["status"] != "returned":
            out[region[order["customer_id"]]][0] += int(order["amount"])
            out[region[order["customer_id"]]][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


@pytest.fixture
def dbt(env, tmp_path: Path) -> Dbt:  # type: ignore[no-untyped-def]
    env.execute("CREATE CLUSTER shop_prod (SIZE = '2xsmall')")
    return Dbt(env, tmp_path)


def test_seed_run_test_and_docs_generate(env, dbt: Dbt) -> None:  # type: ignore[no-untyped-def]
    dbt("seed")
    assert env.query("SELECT count(*) FROM shop.orders") == [(len(seed_rows("orders")),)]
    dbt("run")

    kinds = dict(env.query("SELECT o.name, o.type FROM mz_objects o JOIN mz_schemas s ON o.schema_id = s.id "
                           "WHERE s.name = 'shop' AND o.type IN ('table', 'view', 'materialized-view')"))
    assert kinds == {"orders": "table", "customers": "table", "stg_orders": "view",
                     "customer_orders": "materialized-view", "revenue_by_region": "materialized-view"}
    # cluster= and indexes=: the materialized view and both its indexes run on shop_prod
    on_cluster = env.query("SELECT c.name FROM mz_materialized_views mv JOIN mz_clusters c ON mv.cluster_id = c.id "
                           "WHERE mv.name = 'revenue_by_region'")
    assert on_cluster == [("shop_prod",)]
    indexes = env.query("SELECT i.name, c.name FROM mz_indexes i JOIN mz_clusters c ON i.cluster_id = c.id "
                        "JOIN mz_materialized_views mv ON i.on_id = mv.id WHERE mv.name = 'revenue_by_region'")
    assert len(indexes) == 2 and {cluster for _, cluster in indexes} == {"shop_prod"}

    revenue = {region: (int(total), int(n)) for region, total, n in
               env.query("SELECT region, revenue, orders FROM shop.revenue_by_region")}
    assert revenue == expected_revenue()
    counts = dict(env.query("SELECT name, order_count FROM shop.customer_orders"))
    kept = [o for o in seed_rows("orders") if o["status"] != "returned"]
    assert counts == {c["name"]: sum(o["customer_id"] == c["customer_id"] for o in kept)
                      for c in seed_rows("customers")}

    # persist_docs: the descriptions in schema.yml became comments
    comments = {(name, sub): comment for name, sub, comment in env.query(
        "SELECT o.name, c.object_sub_id, c.comment FROM mz_internal.mz_comments c JOIN mz_objects o ON o.id = c.id")}
    assert comments[("stg_orders", None)] == "Orders that were not returned."
    assert comments[("stg_orders", 1)] == "The order's key."
    assert comments[("revenue_by_region", 1)] == "The customer's region."

    result = dbt("test")
    assert "PASS=10" in result.stdout and "ERROR=0" in result.stdout, result.stdout[-3000:]

    dbt("docs", "generate")
    catalog = json.loads((dbt.project / "target" / "catalog.json").read_text())
    node = catalog["nodes"]["model.shop.revenue_by_region"]
    assert node["metadata"]["type"] == "materialized_view"
    assert list(node["columns"]) == ["region", "revenue", "orders"]
    assert node["metadata"]["comment"] == "Revenue per region, maintained on the production cluster."
    assert node["columns"]["region"]["comment"] == "The customer's region."

    # a returned order with a status the accepted_values test does not allow, and a duplicate order id: the
    # maintained models change, and dbt test reports the failures
    env.execute("INSERT INTO shop.orders VALUES (10, 2, 5, 'lost')")
    failed = dbt("test", check=False)
    assert failed.returncode != 0
    assert "FAIL 1 accepted_values_stg_orders_status__placed__shipped" in failed.stdout
    assert "FAIL 1 unique_stg_orders_order_id" in failed.stdout
    assert "PASS revenue_matches_orders" in failed.stdout  # the maintained view still adds up


def deploy_cluster_hydrated(env) -> bool:  # type: ignore[no-untyped-def]
    """What deploy_await waits for: every object on every replica of the deployment cluster hydrated."""
    rows = env.query("SELECT h.hydrated FROM mz_internal.mz_hydration_statuses h "
                     "JOIN mz_cluster_replicas r ON h.replica_id = r.id JOIN mz_clusters c ON r.cluster_id = c.id "
                     "WHERE c.name = 'shop_prod_dbt_deploy'")
    return bool(rows) and all(hydrated for (hydrated,) in rows)


def granted(env, relation: str, name: str) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(grantee, privilege) of the grants to roles other than the owner on the named schema or cluster."""
    rows = env.query(f"WITH p AS (SELECT mz_internal.mz_aclexplode(x.privileges).* FROM {relation} x "
                     "WHERE x.name = %s) SELECT r.name, p.privilege_type FROM p JOIN mz_roles r ON p.grantee = r.id "
                     "WHERE r.name <> 'materialize'", (name,))
    return set(rows)


def test_blue_green_deployment_promotes_onto_a_sealed_cluster(env, dbt: Dbt) -> None:  # type: ignore[no-untyped-def]
    # production: the project as it is, on a sealed cluster, its schema and cluster granted to a role
    dbt("seed")
    dbt("run")
    env.execute("CREATE ROLE analyst")
    env.execute("GRANT USAGE ON SCHEMA shop TO analyst")
    env.execute("GRANT USAGE, CREATE ON CLUSTER shop_prod TO analyst")
    production_grants = {"schema": {("analyst", "USAGE")},
                         "cluster": {("analyst", "USAGE"), ("analyst", "CREATE")}}
    env.execute("ALTER CLUSTER shop_prod SEAL")
    prod_id = env.cluster_id("shop_prod")
    old_columns = [c for (c,) in env.query(
        "SELECT c.name FROM mz_columns c JOIN mz_objects o ON c.id = o.id JOIN mz_schemas s ON o.schema_id = s.id "
        "WHERE s.name = 'shop' AND o.name = 'revenue_by_region' ORDER BY c.position")]
    assert old_columns == ["region", "revenue", "orders"]

    # the next generation: revenue_by_region gains a column
    model = dbt.project / "models" / "revenue_by_region.sql"
    model.write_text(model.read_text().replace("count(*) as orders", "count(*) as orders, max(o.amount) as largest"))

    dbt("run-operation", "deploy_init")  # copies the grants (read with mz_aclexplode) to the deployment's
    assert granted(env, "mz_schemas", "shop_dbt_deploy") == production_grants["schema"]
    assert granted(env, "mz_clusters", "shop_prod_dbt_deploy") == production_grants["cluster"]
    dbt("seed", "--vars", "deploy: True")
    dbt("run", "--vars", "deploy: True")
    deploy_id = env.cluster_id("shop_prod_dbt_deploy")
    deployed = {r: (int(a), int(b), int(c)) for r, a, b, c in
                env.query("SELECT region, revenue, orders, largest FROM shop_dbt_deploy.revenue_by_region")}

    # the deployment cluster's replica was built up statement by statement (dirty): promotion onto the sealed
    # production cluster refuses, and the transaction's schema swap is rolled back with it
    refused = dbt("run-operation", "deploy_promote", check=False)
    assert refused.returncode != 0
    assert 'cannot promote cluster "shop_prod_dbt_deploy" onto sealed cluster "shop_prod"' in refused.stdout
    assert env.cluster_id("shop_prod") == prod_id and env.cluster_id("shop_prod_dbt_deploy") == deploy_id
    assert env.query("SELECT count(*) FROM mz_columns c JOIN mz_objects o ON c.id = o.id "
                     "JOIN mz_schemas s ON o.schema_id = s.id WHERE s.name = 'shop' AND o.name = 'revenue_by_region'"
                     ) == [(3,)]

    # rebuilt clean from the catalog, then hydrated: the proof that it restarts cleanly
    env.execute("ALTER CLUSTER shop_prod_dbt_deploy RESTART")
    env.wait_for(lambda: deploy_cluster_hydrated(env), timeout=120)
    dbt("run-operation", "deploy_await", "--args", "{poll_interval: 1}")  # hydration and lag, read with mz_now()
    dbt("run-operation", "deploy_promote")

    # the swap: the new generation has the production names and the seal; the old one neither
    clusters = {name: (cid, sealed) for cid, name, sealed in env.query("SELECT id, name, sealed FROM mz_clusters")}
    assert clusters["shop_prod"] == (deploy_id, True)
    assert clusters["shop_prod_dbt_deploy"] == (prod_id, False)
    assert granted(env, "mz_schemas", "shop") == production_grants["schema"]  # the promoted ones keep the grants
    assert granted(env, "mz_clusters", "shop_prod") == production_grants["cluster"]
    promoted = {r: (int(a), int(b), int(c)) for r, a, b, c in
                env.query("SELECT region, revenue, orders, largest FROM shop.revenue_by_region")}
    assert promoted == deployed
    expected = expected_revenue()
    assert {r: v[:2] for r, v in promoted.items()} == expected
    on = env.query("SELECT c.name FROM mz_materialized_views mv JOIN mz_schemas s ON mv.schema_id = s.id "
                   "JOIN mz_clusters c ON mv.cluster_id = c.id WHERE s.name = 'shop' AND mv.name = 'revenue_by_region'")
    assert on == [("shop_prod",)]
    # ready as a sealed production cluster: clean, hydrated, and a restart would change nothing
    assert env.query("SELECT ready FROM mz_internal.mz_cluster_readiness WHERE cluster_id = %s",
                     (deploy_id,)) == [(True,)]
    tag = env.query("SELECT c.comment FROM mz_internal.mz_comments c JOIN mz_schemas s ON c.id = s.id "
                    "WHERE s.name = 'shop'")
    assert len(tag) == 1 and "Deployment by materialize" in tag[0][0]

    # the new generation serves writes: a new order reaches the promoted view
    env.execute("INSERT INTO shop.orders VALUES (99, 4, 100, 'placed')")
    env.wait_for(lambda: env.query("SELECT revenue, largest FROM shop.revenue_by_region WHERE region = 'east'")
                 == [(expected["east"][0] + 100, 100)])

    dbt("run-operation", "deploy_cleanup")
    assert [name for (name,) in env.query("SELECT name FROM mz_clusters ORDER BY name")] == ["quickstart", "shop_prod"]
    assert env.query("SELECT count(*) FROM mz_schemas WHERE name = 'shop_dbt_deploy'") == [(0,)]
