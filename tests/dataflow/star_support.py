"""Helpers of the join-accumulate tests (``test_join_accumulate``, ``test_accumulate_cohort``,
``test_join_accumulate_columns``): a star plan's dataflow rendered fused or not, a ROLLUP lowered as the planner
does, and a random update script run through a fused and an unfused dataflow whose outputs must agree."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import strategies as st

from steadystate.dataflow.graph import fold
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import RelationDesc, ScalarType as T

col = ir.ColumnRef


def agg(func: str, expr: ir.ScalarExpr) -> ir.AggregateExpr:
    return ir.AggregateExpr(func, expr)


def nulled(column: int, kind: T) -> ir.AggregateExpr:
    """A grouping set's rolled-up column: ``max(c) FILTER (WHERE false)``, a NULL constant after the reduce."""
    return agg("max", ir.If(ir.Literal(False, T.BOOL), col(column), ir.Literal(None, kind)))


def rollup(star: ir.RelationExpr, aggregates: tuple[ir.AggregateExpr, ...]) -> ir.RelationExpr:
    """``GROUP BY ROLLUP (region, tier)`` (the star's columns 4 and 5) as the planner lowers it: one reduce of the
    join per grouping set."""
    return ir.Union_((
        ir.Reduce(star, (col(4), col(5)), aggregates),
        ir.Reduce(star, (col(4),), (nulled(5, T.INT4),) + aggregates),
        ir.Reduce(star, (), (nulled(4, T.TEXT), nulled(5, T.INT4)) + aggregates),
    ))


def render_star(plan: ir.RelationExpr, fuse: bool, fact: RelationDesc, dim: RelationDesc) -> RenderedDataflow:
    """``plan`` over sources ``fact`` and ``dim``, exported as index ``i`` and subscribe sink ``s``."""
    out = RelationDesc(())
    desc = DataflowDescription(
        source_imports=(SourceImport("fact", "sf", fact), SourceImport("dim", "sd", dim)),
        index_imports=(),
        objects_to_build=(BuildDesc("v", plan, out),),
        index_exports=(IndexExport("i", "v", (col(0),), out),),
        sink_exports=(SinkExport("s", "v", "subscribe", out),),
        as_of=1,
    )
    return RenderedDataflow(desc, {}, fuse=fuse)


def script_steps(fact_rows: st.SearchStrategy, dim_rows: st.SearchStrategy, changes: int) -> st.SearchStrategy:
    """Scripts for :func:`run_script`: up to five steps of one to three timestamps, each up to ``changes`` (table,
    row, insert?) choices."""
    change = st.one_of(st.tuples(st.just("fact"), fact_rows, st.booleans()),
                       st.tuples(st.just("dim"), dim_rows, st.booleans()))
    return st.lists(st.lists(st.lists(change, max_size=changes), min_size=1, max_size=3), min_size=1, max_size=5)


def step_updates(step: Any, live: dict[str, Counter], time: int) -> tuple[dict[str, list], int]:
    """One script step's updates per table (a delete takes the first live row in a stable order), applied to
    ``live``; one timestamp per step element, from ``time``; returns them and the next timestamp."""
    updates: dict[str, list] = {"fact": [], "dim": []}
    for timestamp in step:
        for table, row, insert in timestamp:
            if insert or not live[table]:
                live[table][row] += 1
                updates[table].append((row, time, 1))
            else:
                victim = sorted(live[table], key=repr)[0]
                live[table][victim] -= 1
                live[table] = +live[table]
                updates[table].append((victim, time, -1))
        time += 1
    return updates, time


def run_script(fused: RenderedDataflow, unfused: RenderedDataflow, live: dict[str, Counter], script: Any,
               time: int) -> None:
    """Feed both dataflows the script's steps of timestamps of ``(table, row, insert?)`` (a retraction takes the
    first live row in a stable order) from ``time`` on: the folded sink output must agree at every timestamp and
    the index after every step."""
    sinks: dict[bool, list] = {True: [], False: []}
    first = time
    for step in script:
        updates, time = step_updates(step, live, time)
        for dataflow in (fused, unfused):
            for table in ("fact", "dim"):
                dataflow.feed(table, list(updates[table]), time)
            dataflow.step()
        for flag, dataflow in ((True, fused), (False, unfused)):
            sinks[flag].extend(dataflow.drain_sink("s"))
        for at in range(first, time + 1):  # every timestamp, not only the step's last
            assert fold(sinks[True], at) == fold(sinks[False], at)
        assert Counter(fused.arrangement("i").peek()) == Counter(unfused.arrangement("i").peek())


def hydrate(fused: RenderedDataflow, unfused: RenderedDataflow, loads: dict[str, list[tuple]],
            extra: dict[str, list[tuple]] | None = None) -> set[str]:
    """Both snapshots as columns into the fused dataflow (where it takes them), as rows into the unfused one, and
    the first round run; ``extra``: more snapshot rows per table, given to both as rows beside the columns.
    Returns the tables the fused dataflow took as columns."""
    from steadystate.repr.columnar import decode_columnar, encode_columnar

    taken = set()
    for table in ("fact", "dim"):
        beside = Counter((extra or {}).get(table, []))
        everything = Counter(loads[table]) + beside
        unfused.feed_snapshot(table, dict(everything), 1, 2)
        consumer = fused.columnar_consumer(table)
        folded = None
        if consumer is not None and loads[table]:
            columns = decode_columnar(encode_columnar([(row, 1, 1) for row in loads[table]], minimum=1))[1]
            folded = consumer.fold_columns([columns])
        if folded is not None:
            consumer.absorb_folded(folded)  # type: ignore[union-attr]
            taken.add(table)
            fused.feed_snapshot(table, dict(beside), 1, 2)
        else:
            fused.feed_snapshot(table, dict(everything), 1, 2)
    for dataflow in (fused, unfused):
        dataflow.step()
    return taken
