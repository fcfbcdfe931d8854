"""A replica reports each dataflow's hydration as it happens, not all of them at the end of a replay.

``ComputeState.tick`` stops stepping further dataflows after one has hydrated while others have yet to, so the
Status sent after that tick (the replica's server sends one after every tick that changed it) shows the objects
hydrated so far: ``mz_hydration_statuses`` and a reconfiguration's NOTICEs can say "2 of 3 objects hydrated".
The sans-I/O state is driven directly: one tick hydrates exactly one more dataflow, and the status after each tick
counts one more hydrated collection, until all are.  A transient dataflow (a peek's) is not waited for.
"""

from __future__ import annotations

from steadystate.compute.state import ComputeState
from steadystate.protocol import messages as m
from steadystate.protocol.history import CommandHistory

from test_reconciliation import SECRET, over_shard, store_with_shards


def hydrated(state: ComputeState) -> int:
    return sum(1 for c in state.status().collections if c.hydrated)


def test_each_tick_reports_one_more_hydrated_dataflow() -> None:
    store = store_with_shards()
    state = ComputeState("r1", store)
    history = CommandHistory()
    history.push(m.CreateInstance(m.InstanceConfig("c1", "", "")))
    for n in range(1, 4):
        history.push(m.CreateDataflow(over_shard(f"u{n}", ("u100", "u101")[n % 2], as_of=1, threshold=0)))
    history.push(m.InitializationComplete())
    state.handle(m.Hello("n1", SECRET, 1))
    for command in history.replay():
        state.handle(command)
    counts = []
    for _ in range(10):
        state.tick()
        counts.append(hydrated(state))
        if counts[-1] == 3:
            break
    assert counts == [1, 2, 3]
    assert set(state.arrangements) == {"u1", "u2", "u3"}
