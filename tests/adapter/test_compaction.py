"""Read holds of table shard compaction (``adapter.compaction.since_targets``): a shard's ``since`` never passes a
position some replica may still read from.

A reader is one dataflow with, per replica of its cluster, the frontiers that replica reported on its current
connection (``None``: not connected).  The invariants, checked over random readers:

* a shard advances only when every replica of every dataflow reading it has reported all of that dataflow's
  exports, and then no further than ``min(F) - 1`` over their frontiers ``F`` (listen is exact above since);
* it never advances past the bound (the clock lag) and never regresses (only targets above the current since);
* a shard nobody reads advances to the bound.
"""

from __future__ import annotations

from hypothesis import given, strategies as st

from steadystate.adapter.compaction import DataflowReads, since_targets

SHARDS = ["s1", "s2", "s3"]
EXPORTS = ["e1", "e2"]

frontier_maps = st.one_of(
    st.none(),  # the replica is not connected
    st.dictionaries(st.sampled_from(EXPORTS), st.one_of(st.none(), st.integers(0, 100)), max_size=2),
)
readers = st.builds(
    DataflowReads,
    st.frozensets(st.sampled_from(SHARDS), min_size=1),
    st.lists(st.sampled_from(EXPORTS), min_size=1, max_size=2, unique=True).map(tuple),
    st.lists(frontier_maps, max_size=3).map(tuple),
)


@given(sinces=st.fixed_dictionaries({s: st.integers(0, 100) for s in SHARDS}),
       readers=st.lists(readers, max_size=4), bound=st.integers(0, 120))
def test_since_never_passes_a_read_position(sinces, readers, bound) -> None:  # type: ignore[no-untyped-def]
    targets = since_targets(sinces, readers, dict.fromkeys(SHARDS, bound))
    for shard, target in targets.items():
        assert sinces[shard] < target <= bound
        for reader in (r for r in readers if shard in r.shards):
            for frontiers in reader.replica_frontiers:
                assert frontiers is not None, "an unconnected replica must block its shards"
                for export_id in reader.export_ids:
                    assert export_id in frontiers, "an unreported export must block its shards"
                    if frontiers[export_id] is not None:
                        assert target <= frontiers[export_id] - 1
    for shard in SHARDS:
        if not any(shard in r.shards for r in readers) and bound > sinces[shard]:
            assert targets[shard] == bound


def test_examples() -> None:
    reported = DataflowReads(frozenset({"s1"}), ("e1",), ({"e1": 50}, {"e1": 40}))
    assert since_targets({"s1": 10, "s2": 10}, [reported], {"s1": 100, "s2": 100}) == {"s1": 39, "s2": 100}
    down = DataflowReads(frozenset({"s1"}), ("e1",), ({"e1": 50}, None))
    assert since_targets({"s1": 10}, [reported, down], {"s1": 100}) == {}
    hydrating = DataflowReads(frozenset({"s1"}), ("e1", "e2"), ({"e1": 50},))  # e2 not reported yet
    assert since_targets({"s1": 10}, [hydrating], {"s1": 100}) == {}
    complete = DataflowReads(frozenset({"s1"}), ("e1",), ({"e1": None},))  # an empty frontier reads no more
    assert since_targets({"s1": 10}, [complete], {"s1": 100}) == {"s1": 100}
    assert since_targets({"s1": 10}, [], {"s1": 5}) == {}  # never regresses


def test_a_replica_with_no_process_is_left_out_and_one_whose_process_runs_blocks() -> None:
    """``dataflow_reads`` over a real controller whose replica is not connected: while the orchestrator knows no
    process of it, it reads nothing and the shard may advance; once a process runs (adopted, or starting up), it
    may read from anywhere at or above the current since, so the shard stays."""
    import asyncio
    from types import SimpleNamespace

    from steadystate.adapter.compaction import dataflow_reads
    from steadystate.controller.instance import ComputeInstance
    from steadystate.expr import ir
    from steadystate.protocol import messages as m
    from steadystate.repr.types import Column, RelationDesc, ScalarType

    desc = RelationDesc((Column("a", ScalarType.INT4),))
    dataflow = m.DataflowDescription((m.SourceImport("u1", "shard-u1", desc),), (), (),
                                     (m.IndexExport("u2", "u1", (ir.ColumnRef(0),), desc),), (), as_of=5)
    pids: dict[str, int | None] = {"r1": None}

    async def scenario() -> tuple[list[DataflowReads], list[DataflowReads]]:
        instance = ComputeInstance("c1", "c", "secret")
        instance.add_replica("r1", lambda: None)  # no endpoint: never connects
        instance.create_dataflow(dataflow, "CREATE INDEX")
        coord = SimpleNamespace(instances={"c1": instance}, orchestrator=SimpleNamespace(pid=pids.get))
        gone = list(dataflow_reads(coord))  # type: ignore[arg-type]
        pids["r1"] = 4242
        running = list(dataflow_reads(coord))  # type: ignore[arg-type]
        await instance.shutdown()
        return gone, running

    gone, running = asyncio.run(scenario())
    assert [(r.shards, r.export_ids, r.replica_frontiers) for r in gone] == [(frozenset({"shard-u1"}), ("u2",), ())]
    assert since_targets({"shard-u1": 3}, gone, {"shard-u1": 10}) == {"shard-u1": 10}
    assert [r.replica_frontiers for r in running] == [(None,)]
    assert since_targets({"shard-u1": 3}, running, {"shard-u1": 10}) == {}
