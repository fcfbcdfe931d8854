"""`steadystate serve` is a supervisor: a coordinator that dies is restarted on the same sockets, unaided.

The test kills the coordinator process itself (not the supervisor the user started): the supervisor starts a
new coordinator, which adopts the running replicas (same pids, nothing rebuilt), and clients that connect
meanwhile are queued by the still-open listening socket and then served — none is refused.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import psycopg


def test_killed_coordinator_is_restarted_by_the_supervisor(env) -> None:  # type: ignore[no-untyped-def]
    env.execute("CREATE TABLE t (k int, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
                "CREATE VIEW tv AS SELECT k, v FROM t", "CREATE INDEX tv_idx ON tv (k)")
    index_id = env.query("SELECT id FROM mz_catalog.mz_indexes WHERE name = 'tv_idx'")[0][0]
    env.wait_for(lambda: env.query("SELECT hydrated FROM mz_internal.mz_hydration_statuses WHERE object_id = %s",
                                   (index_id,)) == [(True,)])
    replicas_before = env.replica_pids()
    old = env.coordinator_pid()

    answers: list[list[tuple]] = []
    errors: list[BaseException] = []

    def connect_during_restart() -> None:
        time.sleep(0.05)  # lands while no coordinator is accepting
        try:
            with psycopg.connect(env.dsn, autocommit=True, connect_timeout=30) as conn:
                answers.append(conn.execute("SELECT k, v FROM tv ORDER BY k").fetchall())
        except BaseException as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(exc)

    client = threading.Thread(target=connect_during_restart)
    os.kill(old, signal.SIGKILL)
    client.start()
    client.join(60)

    assert not errors, errors  # the connection waited in the accept queue instead of being refused
    assert answers == [[(1, "a"), (2, "b")]]
    new = env.wait_for(lambda: (pid := env.coordinator_pid()) != old and pid)
    assert psutil.pid_exists(env.process.pid)  # the supervisor itself never went away
    assert env.replica_pids() == replicas_before  # replicas adopted, not replaced
    assert new != old
