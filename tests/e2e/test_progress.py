"""Progress of long work, end to end: hydration progress columns, NOTICEs while a RESTART waits, ``status --watch``.

* ``mz_internal.mz_hydration_statuses`` keeps Materialize's columns and adds ``rows_total`` (the updates the
  dataflow reads at hydration: the shards it imports, as ``mz_storage_shards`` counts them), ``rows_done``,
  ``hydrating_for`` and ``time_left_estimate``; a hydrated object has done all its rows and has no time left.
* ``ALTER CLUSTER ... RESTART`` sends NOTICEs *while it waits* for its replacement replicas: each progress
  notice is checked to have arrived while the reconfiguration was still pending (another connection reads
  ``mz_pending_reconfigurations`` from inside the notice handler), and names the replacement replica; the last
  notice says how long the replacements took.
* ``steadystate status --watch --json`` prints the verdict again and again, and shows a change made meanwhile
  (a second replica); Ctrl-C ends it with status 0.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

ROWS = 20_000


@pytest.fixture(scope="module")
def world(shared_env):  # type: ignore[no-untyped-def]
    env = shared_env
    env.execute("CREATE TABLE big (k int, v text)")
    with env.connect() as conn, conn.cursor() as cur:
        with cur.copy("COPY big FROM STDIN") as copy:
            for k in range(ROWS):
                copy.write_row((k, f"v{k % 97}"))
        conn.commit()
    env.execute("CREATE CLUSTER work (SIZE = 'small', REPLICATION FACTOR = 1)",
                "CREATE INDEX big_idx IN CLUSTER work ON big (k)",
                "CREATE MATERIALIZED VIEW big_counts IN CLUSTER work AS SELECT v, count(*) AS n FROM big GROUP BY v")
    env.wait_all_clean("work")
    return env


def wait_hydrated(env, cluster: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    query = ("SELECT h.object_id, h.hydrated, h.hydration_time, h.rows_total, h.rows_done, h.hydrating_for, "
             "h.time_left_estimate FROM mz_internal.mz_hydration_statuses h JOIN mz_catalog.mz_cluster_replicas r "
             "ON r.id = h.replica_id JOIN mz_catalog.mz_clusters c ON c.id = r.cluster_id WHERE c.name = %s")
    return env.wait_for(lambda: (rows := env.query(query, (cluster,))) and all(r[1] for r in rows) and rows,
                        timeout=60)


def test_hydration_statuses_count_rows_of_a_known_total(world) -> None:  # type: ignore[no-untyped-def]
    rows = wait_hydrated(world, "work")
    ((big_id,),) = world.query("SELECT id FROM mz_catalog.mz_tables WHERE name = 'big'")
    ((updates,),) = world.query("SELECT updates FROM mz_internal.mz_storage_shards WHERE object_id = %s", (big_id,))
    assert updates == ROWS  # every row written once, none deleted
    assert len(rows) == 2
    for _object_id, hydrated, seconds, total, done, hydrating_for, left in rows:
        assert hydrated and seconds is not None and seconds > 0
        assert (total, done) == (updates, updates)  # both objects read the whole table at hydration
        assert (hydrating_for, left) == (None, None)


def test_restart_reports_hydration_progress_while_it_waits(world) -> None:  # type: ignore[no-untyped-def]
    ((cluster_id,),) = world.query("SELECT id FROM mz_catalog.mz_clusters WHERE name = 'work'")
    seen: list[tuple[str, bool]] = []
    with world.connect(autocommit=True) as observer, world.connect(autocommit=True) as conn:
        def on_notice(notice) -> None:  # type: ignore[no-untyped-def]
            pending = observer.execute("SELECT count(*) FROM mz_internal.mz_pending_reconfigurations "
                                       "WHERE cluster_id = %s", (cluster_id,)).fetchone()
            seen.append((notice.message_primary or "", bool(pending and pending[0])))

        conn.add_notice_handler(on_notice)
        conn.execute("ALTER CLUSTER work RESTART")
    progress = [(text, pending) for text, pending in seen if "hydrated in" not in text]
    assert progress, seen
    for text, pending in progress:
        assert text.startswith('restarting cluster "work": replica r1-pending'), text
        assert pending, f"the notice {text!r} arrived after the restart had finished"
    final = [text for text, _ in seen if "hydrated in" in text]
    assert len(final) == 1 and final[0].startswith('restarting cluster "work": the replacement replicas hydrated')
    wait_hydrated(world, "work")


def test_status_watch_prints_again_after_a_change(world) -> None:  # type: ignore[no-untyped-def]
    watch = subprocess.Popen([sys.executable, "-m", "steadystate", "status", "--http-port", str(world.http_port),
                              "--data-dir", str(world.data_dir), "--watch", "--json", "--interval", "0.2", "work"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             # SIGINT acts as a terminal's Ctrl-C: a suite started in the background of a shell
                             # without job control has it ignored, inherited, and Python then installs no handler
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert watch.stdout is not None
        (first,) = json.loads(watch.stdout.readline())
        assert first["name"] == "work" and len(first["replicas"]) == 1
        assert first["hydration"]["total"] == 2
        world.execute("ALTER CLUSTER work SET (REPLICATION FACTOR = 2)")
        for line in watch.stdout:
            (cluster,) = json.loads(line)
            if len(cluster["replicas"]) == 2:
                break
        else:
            raise AssertionError("status --watch ended without showing the second replica")
    finally:
        watch.send_signal(signal.SIGINT)
        # the pipes are drained while it exits: unread output would block its last flush (and hide the failure)
        _out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
