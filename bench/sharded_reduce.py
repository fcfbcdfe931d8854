"""Prototype: one operator (a reduce: count, sum and max per key) sharded over worker processes with an exchange.

    python bench/sharded_reduce.py [--rows 1000000] [--keys 50000] [--workers 2] [--batches 20]

How a replica of a larger size would spread its work (the design notes' "Beyond one core"): ``--workers``
processes each own the keys whose hash falls in their shard.  Each worker reads its own slice of the input (as
each would read its part of a shard's batches), splits it by key hash, sends every other worker its part over a
pipe (the exchange), and folds what it owns into its own ``dataflow.reduce.ReduceOperator``.  A batch of updates
goes the same way.  The answer is the union of the workers' outputs (keys are disjoint).

Measured in the same run: the same operator in one process over all rows (the baseline), hydration and per-batch
wall time, and the results compared (equal).  Work per worker halves with two workers; what the exchange costs
(pickling, pipes) is what the prototype measures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from steadystate.dataflow.reduce import reduce_operator
from steadystate.expr.aggregates import CountState, MaxState, SumState

Row = tuple[Any, ...]


def make_operator() -> Any:
    return reduce_operator(0, lambda row: (row[1],), [None, lambda row: row[2], lambda row: row[2]],
                           [lambda: CountState(), lambda: SumState(), MaxState], is_global=False)


def shard_of(key: int, workers: int) -> int:
    return hash(key) % workers


def split(updates: dict[Row, int], workers: int) -> list[dict[Row, int]]:
    parts: list[dict[Row, int]] = [{} for _ in range(workers)]
    for row, diff in updates.items():
        parts[shard_of(row[1], workers)][row] = diff
    return parts


def worker(index: int, workers: int, control: Connection, peers: list[Connection | None]) -> None:
    """Receives (time, its slice of the input) on ``control``; exchanges with its peers; answers with timings."""
    operator = make_operator()
    output: dict[Row, int] = {}
    while True:
        message = control.recv()
        if message is None:
            control.send(sorted(row for row, n in output.items() if n > 0))
            return
        t, mine = message  # its slice, as if read from its part of the shard's batches
        control.send("loaded")
        control.recv()  # go
        started = time.perf_counter()
        parts = split(mine, workers)
        # send from threads while receiving here: a pipe holds only so much, and every worker sends at once
        senders = [threading.Thread(target=peer.send, args=(parts[peer_index],))
                   for peer_index, peer in enumerate(peers) if peer is not None]
        for sender in senders:
            sender.start()
        owned = parts[index]
        for peer in peers:
            if peer is not None:
                owned.update(peer.recv())  # disjoint rows: one worker read each row
        for sender in senders:
            sender.join()
        ok, _err = operator.run(t, [(owned, {})], t == 0)
        for row, diff in ok.items():
            output[row] = output.get(row, 0) + diff
        control.send(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    rows = {(i, rng.randrange(args.keys), rng.randrange(1, 1001)): 1 for i in range(args.rows)}
    next_id = args.rows
    batches = []
    live = list(rows)
    for _ in range(args.batches):
        batch: dict[Row, int] = {}
        for position in rng.sample(range(len(live)), 500):
            batch[live[position]] = -1
        for _ in range(500):
            row = (next_id, rng.randrange(args.keys), rng.randrange(1, 1001))
            next_id += 1
            batch[row] = 1
        live = [r for r in live if batch.get(r) != -1] + [r for r, d in batch.items() if d > 0]
        batches.append(batch)

    # one process
    single = make_operator()
    single_out: dict[Row, int] = {}
    started = time.perf_counter()
    ok, _ = single.run(0, [(dict(rows), {})], True)
    single_hydration = time.perf_counter() - started
    for row, diff in ok.items():
        single_out[row] = single_out.get(row, 0) + diff
    single_batches = []
    for t, batch in enumerate(batches, start=1):
        started = time.perf_counter()
        ok, _ = single.run(t, [(dict(batch), {})], False)
        single_batches.append((time.perf_counter() - started) * 1e3)
        for row, diff in ok.items():
            single_out[row] = single_out.get(row, 0) + diff

    # sharded
    workers = args.workers
    ends = [mp.Pipe() for _ in range(workers)]
    mesh: list[list[Connection | None]] = [[None] * workers for _ in range(workers)]
    for a in range(workers):
        for b in range(a + 1, workers):
            mesh[a][b], mesh[b][a] = mp.Pipe()
    processes = [mp.Process(target=worker, args=(i, workers, ends[i][1], mesh[i])) for i in range(workers)]
    for process in processes:
        process.start()
    items = list(rows.items())
    slices = [dict(items[i::workers]) for i in range(workers)]

    def round_trip(t: int, parts: list[dict[Row, int]]) -> float:
        """Hand each worker its slice (not timed: a worker reads its own), then time the exchange and the fold."""
        for (control, _), part in zip(ends, parts):
            control.send((t, part))
        for control, _ in ends:
            control.recv()
        started = time.perf_counter()
        for control, _ in ends:
            control.send("go")
        for control, _ in ends:
            control.recv()
        return time.perf_counter() - started

    sharded_hydration = round_trip(0, slices)
    sharded_batches = []
    for t, batch in enumerate(batches, start=1):
        batch_items = list(batch.items())
        sharded_batches.append(round_trip(t, [dict(batch_items[i::workers]) for i in range(workers)]) * 1e3)
    outputs: list[Row] = []
    for control, _ in ends:
        control.send(None)
        outputs.extend(control.recv())
    for process in processes:
        process.join()
    assert sorted(outputs) == sorted(row for row, n in single_out.items() if n > 0), "sharded and single disagree"
    print(f"rows={args.rows} keys={args.keys} workers={workers} batches={args.batches} (results agree)")
    print(f"one process: hydration {single_hydration:.2f} s; per batch median "
          f"{statistics.median(single_batches):.2f} ms")
    print(f"{workers} workers: hydration {sharded_hydration:.2f} s (wall, including the exchange); per batch median "
          f"{statistics.median(sharded_batches):.2f} ms")


if __name__ == "__main__":
    main()
