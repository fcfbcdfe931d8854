"""Sequencing reads: ``SELECT`` (fast path, slow path, local) and ``SUBSCRIBE``.

Every read happens at a timestamp from :meth:`Coordinator.read_timestamp`, which covers every write
acknowledged before the read started (strict serializability).  A ``SELECT`` is answered, in order of
preference:

1. **locally** in the coordinator when it reads only constants and builtin (introspection) relations: the
   builtins are replaced by their current rows and the plan runs through the engine in-process;
2. by a **fast-path peek** when it is a map/filter/project over a relation with an index on the session's
   cluster (peek the arrangement), or over a table or materialized view (peek its shard);
3. by the **slow path**: a transient dataflow with a transient index export is created on the cluster,
   peeked, and dropped — also when the read fails, is canceled or times out, which stops the replica's work on it.

A peek carries the session's ``max_result_size``: the replica stops building a larger result and the read fails.

``SUBSCRIBE`` creates a transient dataflow with a subscribe sink (at ``AS OF`` if given, checked against the inputs'
``since``); adapter/subscribe_rows.py turns its batches into rows ``(mz_timestamp, mz_diff, columns...)`` (or the
shape its options ask for) until it ends or the client goes away, when the dataflow is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from steadystate.adapter.dataflows import DataflowBuilder
from steadystate.adapter.fastpath import extract_mfp, reads_only, substitute_gets
from steadystate.adapter.policy import Statement
from steadystate.render import RenderedDataflow
from steadystate.adapter.subscribe_rows import SubscribeReader
from steadystate.errors import InvalidParameterValue, ObjectNotInPrerequisiteState, UndefinedObject, quote_ident
from steadystate.expr import ir
from steadystate.expr.finishing import finish
from steadystate.expr.temporal_filter import contains_mz_now, substitute_mz_now
from steadystate.protocol import messages as m
from steadystate.repr import Row
from steadystate.repr.arrow_rows import ArrowStream
from steadystate.repr.types import RelationDesc
from steadystate.repr.objects import ItemKind, is_system
from steadystate.sql.plan import SubscribePlan

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.adapter.introspection import Introspection


class Reads:
    def __init__(self, coordinator: "Coordinator", introspection: "Introspection") -> None:
        self.coord = coordinator
        self.introspection = introspection

    # ------------------------------------------------------------------ SELECT

    def is_local(self, expr: ir.RelationExpr) -> bool:
        return reads_only(expr, is_system)

    def _replica_id(self, cluster_id: str, replica_name: str | None) -> str | None:
        if not replica_name:
            return None
        replica = self.coord.catalog.replica_by_name(cluster_id, replica_name)
        if replica is None:
            cluster = self.coord.catalog.clusters[cluster_id]
            raise UndefinedObject(
                f"unknown cluster replica {quote_ident(cluster.name + '.' + replica_name)}",
                hint="RESET cluster_replica to let any replica answer",
            )
        return replica.id

    async def select(
        self, expr: ir.RelationExpr, desc: RelationDesc, finishing: ir.RowSetFinishing, cluster_id: str,
        timeout: float, replica_name: str | None = None, max_result_size: int | None = None,
    ) -> Sequence[Row]:
        """The query's rows, all of them."""
        rows = await self.select_stream(expr, desc, finishing, cluster_id, timeout, replica_name, max_result_size,
                                        stream=False)
        assert not isinstance(rows, ArrowStream)
        return rows

    async def select_stream(
        self, expr: ir.RelationExpr, desc: RelationDesc, finishing: ir.RowSetFinishing, cluster_id: str,
        timeout: float, replica_name: str | None = None, max_result_size: int | None = None, stream: bool = True,
    ) -> Sequence[Row] | ArrowStream:
        """The query's rows; a peek of an index or a shard may answer with an :class:`ArrowStream` as soon as its
        first chunk is here (``ComputeInstance.peek_stream``; ``stream=False``: never)."""
        query_ts: int | None = None
        if contains_mz_now(expr):  # mz_now() in a query is its timestamp
            query_ts = await self.coord.read_timestamp()
            expr = substitute_mz_now(expr, query_ts)
        if self.is_local(expr):
            return finish(self.evaluate_locally(expr, desc), finishing)
        replica_id = self._replica_id(cluster_id, replica_name)
        instance = self.coord.instance(cluster_id)
        catalog = self.coord.catalog
        fast = extract_mfp(expr, lambda item_id: catalog.items[item_id].desc.arity)  # type: ignore[union-attr]
        if fast is not None:
            get_id, mfp = fast
            item = catalog.items[get_id]
            indexes = catalog.indexes_on(get_id, cluster_id)
            timestamp = query_ts if query_ts is not None else await self.coord.read_timestamp()
            self.check_inputs_advance(expr, timestamp)
            peek = instance.peek_stream if stream else instance.peek
            if indexes:
                target = m.PeekTarget(m.PeekTargetKind.INDEX, indexes[0].id)
                return await peek(target, timestamp, mfp, timeout, replica_id, max_result_size, finishing)
            if item.kind.has_a_shard:
                assert item.shard is not None  # tables and materialized views have shards
                errors = m.errors_shard_of(item.shard) if item.kind == ItemKind.MATERIALIZED_VIEW else None
                target = m.PeekTarget(m.PeekTargetKind.SHARD, item.id, shard=item.shard, desc=item.desc,
                                      errors_shard=errors)
                return await peek(target, timestamp, mfp, timeout, replica_id, max_result_size, finishing)
        return await self._slow_path(expr, desc, cluster_id, timeout, replica_id, max_result_size, finishing,
                                     query_ts)

    async def _slow_path(
        self, expr: ir.RelationExpr, desc: RelationDesc, cluster_id: str, timeout: float, replica_id: str | None,
        max_result_size: int | None = None, finishing: ir.RowSetFinishing = ir.RowSetFinishing(),
        query_ts: int | None = None,
    ) -> Sequence[Row]:
        self.check_dataflow_allowed(cluster_id, "SELECT")
        instance = self.coord.instance(cluster_id)
        if not instance.replicas:
            raise instance._no_replicas()
        timestamp = query_ts if query_ts is not None else await self.coord.read_timestamp()
        self.check_inputs_advance(expr, timestamp)
        body_id, index_id = self.coord.transient_id(), self.coord.transient_id()
        builder = DataflowBuilder(self.coord.catalog, cluster_id)
        builder.add_object(body_id, expr, desc)
        # mz_now() in the views it builds is this query's timestamp too
        builder.objects = [substitute_mz_now(o, timestamp) for o in builder.objects]
        key = tuple(ir.ColumnRef(i) for i in range(desc.arity))
        dataflow = builder.finish(
            as_of=timestamp,
            index_exports=(m.IndexExport(index_id, body_id, key, desc),),
            debug_name=f"peek {index_id}",
        )
        instance.create_dataflow(dataflow, f"SELECT (transient dataflow {index_id})")
        try:
            return await instance.peek(m.PeekTarget(m.PeekTargetKind.INDEX, index_id), timestamp,
                                       ir.MapFilterProject(desc.arity), timeout, replica_id, max_result_size,
                                       finishing)
        finally:
            instance.drop(index_id, f"drop transient dataflow {index_id}")

    def check_inputs_advance(self, expr: ir.RelationExpr, timestamp: int) -> None:
        """A read waits until the materialized views it reads (directly or through views and other materialized
        views) are written up to its timestamp.  One that no replica maintains would hold the read until its
        statement timeout: refuse the read at once instead, naming the view and why."""
        catalog, seen = self.coord.catalog, set()
        stack = list(ir.depends_on(expr))
        while stack:
            item = catalog.items.get(stack.pop())
            if item is None or item.id in seen:
                continue
            seen.add(item.id)
            stack.extend(item.depends_on)
            if item.kind != ItemKind.MATERIALIZED_VIEW or item.shard is None:
                continue
            if (self.coord.store.upper(item.shard) or 0) > timestamp:
                continue  # written past the read's timestamp: readable whatever its replicas do now
            failed = self.coord.runs_nowhere(item)
            if failed is not None:
                raise ObjectNotInPrerequisiteState(
                    f"materialized view {quote_ident(item.qualified)} cannot be read: it is not maintained on any "
                    f"replica", detail=failed.error, hint=failed.hint)

    def check_dataflow_allowed(self, cluster_id: str, statement: str) -> None:
        """A sealed (or sealing) cluster creates no new dataflows, not even transient ones for queries."""
        self.coord.policy_check(cluster_id, Statement.NEW_DATAFLOW, statement)

    def evaluate_locally(self, expr: ir.RelationExpr, desc: RelationDesc) -> list[Row]:
        def builtin_rows(item_id: str) -> ir.RelationExpr | None:
            builtin = self.coord.catalog.builtins.get(item_id)
            if builtin is None:
                return None
            return ir.Constant.of(self.introspection.rows(builtin.name), builtin.desc.arity)

        plan = substitute_gets(expr, builtin_rows)
        export = m.IndexExport("t_local_idx", "t_local", (), desc)
        dataflow = m.DataflowDescription((), (), (m.BuildDesc("t_local", plan, desc),), (export,), (), as_of=0,
                                         debug_name="local")
        rendered = RenderedDataflow(dataflow, {})
        for _ in range(4):
            rendered.step()
            if rendered.frontier is None:
                break
        return rendered.arrangement("t_local_idx").peek(ir.MapFilterProject(desc.arity))

    # ------------------------------------------------------------------ SUBSCRIBE

    async def subscribe(self, plan: SubscribePlan, cluster_id: str) -> SubscribeReader:
        """Start a SUBSCRIBE's dataflow on the cluster; its rows come from the returned reader."""
        self.check_dataflow_allowed(cluster_id, "SUBSCRIBE")
        instance = self.coord.instance(cluster_id)
        if not instance.replicas:
            raise instance._no_replicas()
        timestamp = await self.coord.read_timestamp()
        body_id, sink_id = self.coord.transient_id(), self.coord.transient_id()
        # exact at as_of on every replica (so replicas' batches deduplicate): read sources, not arrangements
        builder = DataflowBuilder(self.coord.catalog, cluster_id, import_indexes=False)
        builder.add_object(body_id, plan.expr, plan.desc)
        if plan.as_of is not None:  # checked and started with no await in between: compaction cannot slip in
            timestamp = self._as_of(plan.as_of, plan.as_of_at_least, [s.shard for s in builder.sources.values()])
        sink = m.SinkExport(sink_id, body_id, m.SinkKind.SUBSCRIBE, plan.desc, with_snapshot=plan.with_snapshot)
        dataflow = builder.finish(as_of=timestamp, sink_exports=(sink,), debug_name=f"subscribe {sink_id}")
        channel = instance.open_subscribe(sink_id)
        instance.create_dataflow(dataflow, f"SUBSCRIBE (transient dataflow {sink_id})")
        return SubscribeReader(plan, instance, sink_id, channel, timestamp)

    def _as_of(self, as_of: int, at_least: bool, shards: list[str]) -> int:
        """``AS OF [AT LEAST] t``: the timestamp to start at, which every input must still be readable at."""
        since = max((self.coord.store.since(shard) or 0 for shard in shards), default=0)
        if at_least:
            return max(as_of, since)
        if as_of < since:
            raise InvalidParameterValue(
                f"timestamp {as_of} is not valid for all inputs",
                detail=f"the inputs' history is compacted up to {since}",
                hint="use a later AS OF timestamp, or AS OF AT LEAST")
        return as_of
