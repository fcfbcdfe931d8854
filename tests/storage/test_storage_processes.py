"""Several OS processes on one store: racing compare_and_append, and durability across kill -9.

Workers run in ``spawn``-ed child processes (a fresh interpreter, its own store connection).
"""

from __future__ import annotations

import multiprocessing
import os
import signal

from steadystate.errors import UpperMismatch
from steadystate.storage import open_store

STEPS = 120
ROWS_PER_STEP = 3


def deterministic_updates(time: int) -> list[tuple[tuple, int, int]]:
    """The updates every racer wants to write for ``[time, time + 1)`` (identical in every process)."""
    return [((time, j, f"v{time}-{j}"), time, 1) for j in range(ROWS_PER_STEP)]


def racing_writer(url: str, shard: str, start, results) -> None:  # noqa: ANN001 - multiprocessing proxies
    store = open_store(url)
    start.wait()
    upper = store.upper(shard)
    won = lost = 0
    while upper < STEPS:
        try:
            store.compare_and_append(shard, deterministic_updates(upper), upper, upper + 1)
            upper += 1
            won += 1
        except UpperMismatch as mismatch:
            assert mismatch.actual is not None and mismatch.actual > upper
            upper = mismatch.actual  # the other writer wrote exactly what we would have
            lost += 1
    store.close()
    results.put((won, lost))


def test_two_processes_racing_write_each_update_once(store_url: str) -> None:
    with open_store(store_url) as store:
        store.create_shard("mv")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results = ctx.Queue()
    racers = [ctx.Process(target=racing_writer, args=(store_url, "mv", start, results)) for _ in range(2)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    assert sum(won for won, _lost in outcomes) == STEPS, "every step is appended by exactly one racer"
    with open_store(store_url) as store:
        assert store.upper("mv") == STEPS
        snapshot = store.snapshot("mv", STEPS - 1)
        expected = [(row, 1) for t in range(STEPS) for row, _t, _d in deterministic_updates(t)]
        assert sorted(snapshot) == sorted(expected)
        updates, _ = store.listen("mv", 0)
        assert len(updates) == STEPS * ROWS_PER_STEP, "no update may be stored twice"


def acking_writer(url: str, shard: str, acks) -> None:  # noqa: ANN001 - a multiprocessing connection
    store = open_store(url)
    time = 0
    while True:
        store.compare_and_append(shard, [((time, "acked"), time, 1)], time, time + 1)
        acks.send(time)  # only after compare_and_append returned: the append is acknowledged
        time += 1


def test_acknowledged_appends_survive_kill_9(store_url: str) -> None:
    with open_store(store_url) as store:
        store.create_shard("t")
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=acking_writer, args=(store_url, "t", sender))
    child.start()
    sender.close()
    acked: list[int] = []
    while len(acked) < 40:
        assert receiver.poll(60), "the writer stopped acknowledging"
        acked.append(receiver.recv())
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    while receiver.poll(0.1):  # acks sent before the kill landed
        try:
            acked.append(receiver.recv())
        except EOFError:
            break
    with open_store(store_url) as store:
        upper = store.upper("t")
        assert upper is not None and upper > max(acked)
        present = {row[0] for row, diff in store.snapshot("t", upper - 1)}
        assert set(acked) <= present
        assert present == set(range(upper)), "the store holds exactly the appends below its upper"
