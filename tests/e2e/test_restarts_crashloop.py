"""Crash loops and memory: an over-limit replica is oom-killed, shows as crash-looping, harms nobody else.

A ``2xsmall`` replica (192 MiB) is asked to hydrate an index over ~60 MB of padded rows, every pad different (the
columnar arrangement would hold one repeated pad in a few bytes), which needs far more than its limit.  The orchestrator kills it (status history reason ``oom-killed``), restarts
it with backoff, and after three crashes within a minute reports ``crash-looping`` — visibly, with the reason.
Meanwhile the ``quickstart`` cluster keeps answering reads and taking writes.  Dropping the cluster stops the
loop: no process of that replica comes back.
"""

from __future__ import annotations

import time

HISTORY = "SELECT status, reason FROM mz_internal.mz_cluster_replica_status_history WHERE replica_id = %s"
BIG_ROWS = 300_000
PAD = "x" * 190


def test_oom_killed_then_crash_looping_while_others_keep_answering(env) -> None:  # type: ignore[no-untyped-def]
    env.execute(
        "CREATE TABLE small (k int)",
        "INSERT INTO small VALUES (1), (2)",
        "CREATE VIEW sv AS SELECT k FROM small",
        "CREATE INDEX sv_idx ON sv (k)",
        "CREATE TABLE big (k int, pad text)",
    )
    with env.connect() as conn:
        with conn.cursor().copy("COPY big FROM STDIN") as copy:
            for k in range(BIG_ROWS):
                copy.write_row((k, f"{k:010d}{PAD}"))
    env.execute("CREATE CLUSTER tiny (SIZE = '2xsmall', REPLICATION FACTOR = 1)",
                "CREATE VIEW bv AS SELECT k, pad FROM big",
                "CREATE INDEX bv_idx IN CLUSTER tiny ON bv (k)")
    (replica_id,) = env.cluster_replicas("tiny").values()

    # the rest of the system keeps answering and taking writes while the replica crashes
    written = [1, 2]
    def others_answer_and_loops() -> list[tuple] | None:
        k = len(written) + 1
        env.execute(f"INSERT INTO small VALUES ({k})")
        written.append(k)
        assert env.query("SELECT k FROM sv ORDER BY k") == [(i,) for i in written]
        history = env.query(HISTORY, (replica_id,))
        return history if any(s == "crash-looping" for s, _ in history) else None

    history = env.wait_for(others_answer_and_loops, timeout=90, interval=0.2)
    offline = [reason for status, reason in history if status in ("offline", "crash-looping")]
    assert offline and all(reason.startswith("oom-killed") for reason in offline), history
    looping = [reason for status, reason in history if status == "crash-looping"]
    assert "crashes in the last minute" in looping[0] and "next restart in" in looping[0]
    assert len(written) > 3, "quickstart took writes and answered during the crash loop"
    status = env.query("SELECT status FROM mz_internal.mz_cluster_replica_statuses WHERE replica_id = %s",
                       (replica_id,))
    assert status in ([("crash-looping",)], [("online",)])  # between two crashes a restart may be online

    env.execute("DROP CLUSTER tiny CASCADE")
    env.wait_for(lambda: replica_id not in env.replica_pids())
    # observe for a while (a bounded number of samples): the dropped replica never comes back
    for _ in range(30):
        assert replica_id not in env.replica_pids()
        time.sleep(0.1)
    assert [rid for rid, _ in env.replica_processes()] == sorted(env.cluster_replicas("quickstart").values())
    assert env.query("SELECT k FROM sv ORDER BY k") == [(i,) for i in written]
