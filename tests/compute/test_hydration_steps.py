"""A replica reports a dataflow's hydration as it progresses, a few stored batches per tick.

The sans-I/O ``ComputeState`` is driven directly over a table stored as several batches (columnar ones, as a COPY
writes, and msgpack ones, as INSERTs write, deletes included).  Reading one batch per tick
(``hydration_step_updates=1``), each tick but the last sends a ``HydrationProgress`` whose ``updates_read`` is
strictly between 0 and the total and grows tick by tick; the last tick feeds the snapshot and the collection is
hydrated, with exactly the contents of a dataflow that read the whole snapshot in one tick (the default budget),
and of the rows the table holds.  The storage side (``SnapshotReader`` read in steps equals ``snapshot_counts``)
is checked with hypothesis.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from steadystate.compute.state import ComputeState
from steadystate.expr.ir import CallBinary, ColumnRef, Filter, Get, literal
from steadystate.protocol import messages as m
from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.storage import ShardStore, open_store

SECRET = "secret"
DESC = RelationDesc((Column("a", ScalarType.INT8), Column("b", ScalarType.TEXT)))
LOAD = 5000  # rows per loaded batch: above repr.columnar.MIN_UPDATES, so stored as Arrow columns


def multi_batch_store() -> tuple[ShardStore, dict[tuple[int, str], int]]:
    """Shard ``t``: two columnar loads, then inserts and a delete as small batches; and what it holds at time 9."""
    store = open_store("sqlite:///:memory:")
    store.create_shard("t")
    batches = [
        [((i, f"r{i}"), 0, 1) for i in range(LOAD)],
        [((i, f"s{i}"), 1, 1) for i in range(LOAD)],
        [((-1, "x"), 2, 1), ((-2, "y"), 2, 1)],
        [((3, "r3"), 3, -1), ((7, "z"), 3, 2)],
    ]
    expected: dict[tuple[int, str], int] = {}
    for time, batch in enumerate(batches):
        store.compare_and_append("t", batch, time, time + 1)
        for row, _t, diff in batch:
            expected[row] = expected.get(row, 0) + diff
    store.compare_and_append("t", [], len(batches), 10)
    return store, {row: diff for row, diff in expected.items() if diff}


def dataflow(threshold: int) -> m.DataflowDescription:
    plan = Filter(Get("t"), (CallBinary("gt", ColumnRef(0), literal(threshold, ScalarType.INT8)),))
    return m.DataflowDescription(
        source_imports=(m.SourceImport("t", "t", DESC),), index_imports=(),
        objects_to_build=(m.BuildDesc("u1-view", plan, DESC),),
        index_exports=(m.IndexExport("u1", "u1-view", (ColumnRef(0),), DESC),),
        sink_exports=(), as_of=9, debug_name="u1")


def started(store: ShardStore, step_updates: int, threshold: int) -> ComputeState:
    state = ComputeState("r1", store, hydration_step_updates=step_updates)
    for command in (m.Hello("n1", SECRET, 1), m.CreateInstance(m.InstanceConfig("c1", "", "")),
                    m.InitializationComplete(), m.CreateDataflow(dataflow(threshold))):
        state.handle(command)
    return state


def contents(state: ComputeState) -> dict[tuple, int]:
    rows: dict[tuple, int] = {}
    for row in state.arrangements["u1"].peek_iter():
        rows[row] = rows.get(row, 0) + 1
    return rows


def hydrated(state: ComputeState) -> bool:
    return any(c.id == "u1" and c.hydrated for c in state.status().collections)


def test_progress_climbs_batch_by_batch_then_the_collection_hydrates() -> None:
    store, expected = multi_batch_store()
    total = store.batch_stats("t")[1]
    state = started(store, step_updates=1, threshold=1)
    reported: list[int] = []
    for _ in range(20):
        responses = state.tick()
        progress = [r for r in responses if isinstance(r, m.HydrationProgress)]
        if hydrated(state):
            assert not progress  # the last batch's tick feeds and steps: the Status says it is hydrated
            break
        assert not any(isinstance(r, m.Frontiers) and r.output is not None and r.output > 9 for r in responses)
        assert [p.id for p in progress] == ["u1"]
        assert progress[0].updates_total == total
        reported.append(progress[0].updates_read)
    assert hydrated(state)
    # one tick per batch but the last: every report strictly between 0 and the total, growing
    assert len(reported) == store.batch_stats("t")[0] - 1
    assert all(0 < n < total for n in reported)
    assert reported == sorted(set(reported))

    at_once = started(store, step_updates=10**9, threshold=1)
    responses = at_once.tick()
    assert hydrated(at_once) and not any(isinstance(r, m.HydrationProgress) for r in responses)
    want = {row: n for row, n in expected.items() if row[0] > 1}
    assert contents(state) == contents(at_once) == want


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(st.tuples(st.integers(0, 6), st.integers(-1, 2)), min_size=1, max_size=8),
                     min_size=1, max_size=6),
    budget=st.integers(1, 10),
    columnar=st.booleans(),
)
def test_a_snapshot_read_in_steps_is_the_snapshot(batches: list[list[tuple[int, int]]], budget: int,
                                                  columnar: bool) -> None:
    store = open_store("sqlite:///:memory:")
    store.create_shard("s")
    for time, batch in enumerate(batches):
        updates = [((k,), time, diff) for k, diff in batch if diff]
        store.compare_and_append("s", updates, time, time + 1)
    as_of = len(batches) - 1
    reader = store.snapshot_reader("s", as_of, columnar=columnar)
    seen = []
    while not reader.done:
        reader.read(budget)
        seen.append(reader.updates_read)
    assert seen == sorted(seen) and reader.updates_read == reader.updates_total == store.batch_stats("s")[1]
    assert dict(reader.counts()) == dict(store.snapshot_counts("s", as_of))
