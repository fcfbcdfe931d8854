"""The chaos suite, short and bounded for CI: kill -9 replicas and the coordinator under a live workload.

The workload (``chaos_workload.py``, shared with ``bench/soak.py``) writes to a table and reads two indexes of
a SEALED two-replica cluster while a seeded injector kills a replica, the coordinator process alone (which the
supervisor restarts behind its pgwire proxy), or the whole server at random moments.  The report is printed; the
test requires: no acknowledged write lost, no answer that differs from the model / DuckDB at a consistent prefix,
no recovery that needed a manual step, and no failed or blocked query caused by the loss of a replica or of the
coordinator process (killing the whole server does fail the queries in flight: those are only counted).  Table
shards are compacted all the while.
"""

from __future__ import annotations

from chaos_workload import run_chaos


def test_chaos_short(make_env) -> None:  # type: ignore[no-untyped-def]
    # table shards are compacted every half second, a second behind the clock: the kills hit compaction's read
    # holds (replicas restarting, adopted, reconnecting) many times over
    env = make_env("--compaction-interval", "0.5", "--compaction-lag-ms", "1000")
    report = run_chaos(env, seed=1, duration_s=30.0)
    assert report.faults["replica"] + report.faults["coordinator"] + report.faults["supervised"] >= 4
    assert report.acknowledged > 0 and report.answered > 0
    assert report.lost == 0
    assert report.wrong == []
    assert report.manual_recoveries == 0
    assert report.failed["replica"] == 0 and report.blocked["replica"] == 0
    assert report.failed["supervised"] == 0 and report.blocked["supervised"] == 0  # the proxy resends reads
    assert report.failed["none"] == 0 and report.blocked["none"] == 0
