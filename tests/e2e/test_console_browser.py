"""The operator's console in a real headless browser (Debian's Chromium over the DevTools protocol: browser.py).

One environment (``steadystate serve``, real replica processes) holds a sealed, ready cluster ``prod`` (two
replicas, an index and a materialized view) and a cluster ``dev`` whose replica was dirtied by a second index.
What the pages show is checked against what SQL says about the same things (``mz_cluster_readiness``,
``mz_cluster_replica_readiness``, ``EXPLAIN``, ``EXPLAIN RESTART CLUSTER``, ``mz_hydration_statuses``), so the
test holds the console to the relations it claims to draw, not to figures written here.

* the environment page lists every cluster with SQL's sealed/ready verdict and first reason, replicas online and
  clean: prod sealed and ready, dev not ready with its replica dirty;
* the cluster pages show the replicas with clean/dirty and what dirtied them, the status timeline, hydration
  progress, the restart diff; the object page shows EXPLAIN's plan and where the object runs;
* the pages update without a reload: a replica added to ``dev`` appears, and a clean replica dirtied by DDL turns
  dirty on the open page; a ``COPY FROM`` in flight appears on the environment page (``mz_copy_progress``).

With ``STEADYSTATE_SCREENSHOTS=<dir>`` the test also writes the README's screenshots (docs/console/).
Chromium missing fails the test (browser.py): nothing is skipped.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest

from browser import Browser, screenshot_dir


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    env = shared_env
    env.execute(
        "CREATE TABLE t (k int, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE VIEW v AS SELECT k, v FROM t WHERE k > 0",
        "CREATE CLUSTER prod (SIZE = 'small', REPLICATION FACTOR = 2)",
        "CREATE INDEX v_prod_idx IN CLUSTER prod ON v (k)",
        "CREATE MATERIALIZED VIEW mv IN CLUSTER prod AS SELECT k, count(*) AS n FROM t GROUP BY k",
        "CREATE CLUSTER dev (SIZE = 'small', REPLICATION FACTOR = 1)",
        "CREATE INDEX v_dev_idx IN CLUSTER dev ON v (v)",
    )
    env.wait_for(lambda: len(env.replica_readiness("prod")) == 2
                 and all(r[1] is not None for r in env.replica_readiness("prod").values()))
    env.execute("ALTER CLUSTER prod SEAL")
    env.wait_all_clean("prod")
    env.wait_all_clean("dev")
    env.execute("CREATE INDEX v_dev_idx2 IN CLUSTER dev ON v (k)")  # dirties dev's replica
    env.wait_for(lambda: not any(r[0] for r in env.replica_readiness("dev").values()))
    env.wait_for(lambda: env.query("SELECT bool_and(hydrated) FROM mz_internal.mz_hydration_statuses") == [(True,)])
    return env


@pytest.fixture(scope="module")
def browser(world) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    with Browser() as b:
        b.authenticate("materialize", world.password)
        yield b


def url(env, fragment: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"http://127.0.0.1:{env.http_port}/console/{fragment}"


def rows(b: Browser, selector: str) -> list[dict[str, str]]:
    """The data-* attributes of the rows matching ``selector`` (what the page marks up for each entity)."""
    return b.evaluate(f"[...document.querySelectorAll({json.dumps(selector)})].map(e => Object.assign({{}}, "
                      f"e.dataset, {{text: e.innerText}}))")


def sql_verdicts(env) -> dict[str, tuple[bool, bool, str]]:  # type: ignore[no-untyped-def]
    return {name: (sealed, ready, reasons) for name, sealed, ready, reasons in env.query(
        "SELECT c.name, r.sealed, r.ready, r.reasons FROM mz_internal.mz_cluster_readiness r "
        "JOIN mz_catalog.mz_clusters c ON c.id = r.cluster_id")}


def shoot(b: Browser, name: str) -> None:
    directory = screenshot_dir()
    if directory is not None:
        b.screenshot(directory / f"{name}.png")


def test_the_console_needs_credentials(world) -> None:  # type: ignore[no-untyped-def]
    """The console is behind the HTTP API's authentication: no credentials or a wrong password get 401 and the
    Basic challenge a browser answers with its login prompt; the superuser's password opens it."""
    for request in (url(world), url(world, "api/environment"),
                    world.http_request("/console/api/environment", password="wrong")):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == 401
        assert info.value.headers["WWW-Authenticate"].startswith("Basic")
    with urllib.request.urlopen(world.http_request("/console/"), timeout=10) as response:
        assert response.status == 200


def test_environment_page_shows_the_verdict_of_every_cluster(world, browser) -> None:  # type: ignore[no-untyped-def]
    browser.navigate(url(world))
    browser.wait_for("!!document.querySelector('tr[data-cluster=dev]')")
    page = {r["cluster"]: r for r in rows(browser, "tr[data-cluster]")}
    verdicts = sql_verdicts(world)
    assert set(page) == set(verdicts)
    for name, (sealed, ready, reasons) in verdicts.items():
        assert (page[name]["sealed"], page[name]["ready"]) == (str(sealed).lower(), str(ready).lower()), name
        if reasons:  # the first reason SQL gives is the one the page shows
            assert reasons.split("; ")[0] in page[name]["text"]
    assert (page["prod"]["sealed"], page["prod"]["ready"]) == ("true", "true")
    assert (page["prod"]["online"], page["prod"]["clean"], page["prod"]["replicas"]) == ("2", "2", "2")
    assert (page["dev"]["ready"], page["dev"]["clean"], page["dev"]["replicas"]) == ("false", "0", "1")
    shoot(browser, "environment")


def test_cluster_pages_show_replicas_timeline_hydration_and_restart_diff(world, browser) -> None:  # type: ignore[no-untyped-def]
    browser.navigate(url(world, "#/cluster/dev"))
    browser.wait_for("!!document.querySelector('h1[data-cluster-page=dev]')")
    (replica,) = rows(browser, "tr[data-replica]")
    (readiness,) = world.replica_readiness("dev").values()
    clean, _since, _dirtied_at, dirtied_by, _error = readiness
    assert (replica["clean"], clean) == ("false", False)
    assert dirtied_by and "v_dev_idx2" in dirtied_by and dirtied_by in replica["text"]
    # the timeline draws the replica's status history: an online segment, a clean one and a dirty one
    fills = browser.evaluate("[...document.querySelectorAll('#timeline rect title')].map(t => t.textContent)")
    assert any(f.startswith("online") for f in fills) and any(f.startswith("dirty") for f in fills)
    shoot(browser, "cluster-dev")

    browser.navigate(url(world, "#/cluster/prod"))
    browser.wait_for("!!document.querySelector('h1[data-cluster-page=prod]')")
    heading = browser.evaluate("Object.assign({}, document.querySelector('h1[data-cluster-page]').dataset)")
    assert (heading["sealed"], heading["ready"]) == ("true", "true")
    assert all(r["clean"] == "true" for r in rows(browser, "tr[data-replica]"))
    assert len(rows(browser, "tr[data-replica]")) == 2
    hydration = rows(browser, "tr[data-hydration]")
    expected = world.query("SELECT count(*) FROM mz_internal.mz_hydration_statuses h JOIN "
                           "mz_catalog.mz_cluster_replicas r ON r.id = h.replica_id JOIN mz_catalog.mz_clusters c "
                           "ON c.id = r.cluster_id WHERE c.name = 'prod' AND h.hydrated")
    assert [(len(hydration),)] == expected and all(h["hydrated"] == "true" for h in hydration)
    diff = {r["restart"]: r["text"] for r in rows(browser, "tr[data-restart]")}
    explained = world.query("EXPLAIN RESTART CLUSTER prod")
    assert set(diff) == {object_id for object_id, *_ in explained}
    for object_id, _name, fate, _detail in explained:
        assert fate in diff[object_id]
    events = browser.evaluate("[...document.querySelectorAll('#timeline text.event')].map(t => t.textContent)")
    assert "sealed" in events
    # the freshness chart: one dot per object and minute that mz_wallclock_lag_history has for the cluster
    query = ("SELECT h.object_id, h.occurred_at FROM mz_internal.mz_wallclock_lag_history h JOIN "
             "mz_catalog.mz_cluster_replicas r ON r.id = h.replica_id JOIN mz_catalog.mz_clusters c "
             "ON c.id = r.cluster_id WHERE c.name = 'prod'")
    world.wait_for(lambda: (dots := browser.evaluate("document.querySelectorAll('#lag-chart circle').length")) > 0
                   and dots == len(set(world.query(query))))
    shoot(browser, "cluster-prod")


def test_object_page_shows_plan_and_where_it_runs(world, browser) -> None:  # type: ignore[no-untyped-def]
    ((mv_id,),) = world.query("SELECT id FROM mz_catalog.mz_objects WHERE name = 'mv'")
    browser.navigate(url(world, f"#/object/{mv_id}"))
    browser.wait_for("!!document.querySelector('#plan')")
    plan = browser.evaluate("document.querySelector('#plan').textContent")
    assert plan == "\n".join(line for (line,) in world.query("EXPLAIN MATERIALIZED VIEW mv"))
    runs_on = {r["runsOn"] for r in rows(browser, "tr[data-runs-on]")}
    assert runs_on == set(world.cluster_replicas("prod"))
    shoot(browser, "object")


def test_pages_update_after_a_change(world, browser) -> None:  # type: ignore[no-untyped-def]
    browser.navigate(url(world, "#/cluster/dev"))
    browser.wait_for("document.querySelectorAll('tr[data-replica]').length === 1")
    browser.evaluate("window.__not_reloaded = true")
    world.execute("ALTER CLUSTER dev SET (REPLICATION FACTOR = 2)")  # a new replica, clean: it replays history
    browser.wait_for("[...document.querySelectorAll('tr[data-replica]')].filter(r => r.dataset.clean === 'true')"
                     ".length === 1 && document.querySelectorAll('tr[data-replica]').length === 2", timeout=60)
    world.execute("CREATE INDEX v_dev_idx3 IN CLUSTER dev ON v (v, k)")  # dirties the new replica too
    browser.wait_for("[...document.querySelectorAll('tr[data-replica]')].every(r => r.dataset.clean === 'false')",
                     timeout=60)
    assert browser.evaluate("window.__not_reloaded === true")
    assert not any(r[0] for r in world.replica_readiness("dev").values())


def _environment(env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(env.http_request("/console/api/environment"), timeout=10) as response:
        return dict(json.load(response))


def test_copy_in_flight_is_shown_and_in_mz_copy_progress(world, browser) -> None:  # type: ignore[no-untyped-def]
    browser.navigate(url(world))
    browser.wait_for("!!document.querySelector('tr[data-cluster=prod]')")
    with world.connect() as conn, conn.cursor() as cur:
        ((table_id,),) = world.query("SELECT id FROM mz_catalog.mz_tables WHERE name = 't'")
        with cur.copy("COPY t FROM STDIN") as copy:
            for k in range(30_000):  # three of pgwire's batches: the first reach the adapter before COPY ends
                copy.write_row((1000 + k, "x"))
            progress = world.wait_for(lambda: [r for r in world.query(
                "SELECT session_id, table_id, phase, rows_received FROM mz_internal.mz_copy_progress")
                if r[3] >= 10_000])
            (session_id, copied_table, phase, received), = progress
            assert (copied_table, phase) == (table_id, "receiving") and received <= 30_000
            shown = browser.wait_for(f"document.querySelector('tr[data-copy=\"{session_id}\"]')?.innerText")
            assert "materialize.public.t" in shown
        conn.commit()
    assert world.query("SELECT count(*) FROM mz_internal.mz_copy_progress") == [(0,)]
    assert world.query("SELECT count(*) FROM t WHERE k >= 1000") == [(30_000,)]
    browser.wait_for("!document.querySelector('tr[data-copy]')")
    assert _environment(world)["copies"] == []
