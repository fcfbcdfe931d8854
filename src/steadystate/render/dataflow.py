"""Rendering: turn a DataflowDescription's plans into a running dataflow (``dataflow.graph``) with exports.

:class:`RenderedDataflow` is the replica's handle on one dataflow:

* source imports become input ports fed by :meth:`RenderedDataflow.feed` (the caller reads shards);
* index imports read a *shared* :class:`~steadystate.dataflow.arrangement.Arrangement` of another dataflow through a
  cursor (snapshot first, then its updates) — the other dataflow's plan is not re-run;
* a join input that is an imported index (``Get``, possibly under ``ArrangeBy``) whose key is the join key for that
  side (the same expressions in any order; both sides' keys are reordered to the index's order) is read in place
  through a :class:`~steadystate.dataflow.arrangement.SharedInput` instead of being copied into the join's state;
  so is one behind maps/filters/projections (``_mfp_nodes``) whose join key columns are, through them, the index's
  key columns (``column_below``): the join applies their composed row function to the rows it looks up;
  ``import_joins`` records, per join input that is an import, whether it is shared (EXPLAIN shows it), and
  ``operator_sizes`` what the joins do copy.  ``share_arrangements=False`` turns sharing off (tests, benchmarks);
* ``objects_to_build`` are rendered in order, one operator per IR node (:data:`_RENDERERS` dispatches on the node
  class); ``Get(id)`` resolves to an imported index on ``id``, else an earlier built object, else a source;
* index exports maintain an Arrangement by key; sink exports buffer the collection's updates for
  :meth:`RenderedDataflow.drain_sink`.

Column types flow along (``expr.infer``) so scalar evaluation checks int4/int8 overflow exactly.
"""

from __future__ import annotations

import operator
import os
from typing import Any, Callable, NamedTuple

from steadystate import errors
from steadystate.dataflow.accumulate import AccumulatingReduce
from steadystate.dataflow.accumulate_cohort import Cohort, cohort_key
from steadystate.dataflow import arrangement as arrangement_module
from steadystate.dataflow.arrangement import Arrangement, ArrangementCursor
from steadystate.dataflow.shared_input import MappedSharedInput, SharedInput, SharedSide
from steadystate.dataflow.collection import Delta, EvalError, Update, add_into, first_error
from steadystate.dataflow.flat_map import FlatMapOperator
from steadystate.dataflow.graph import Graph
from steadystate.dataflow.iterate import LetRecOperator
from steadystate.dataflow.join import JoinColumns, JoinOperator
from steadystate.dataflow.join_accumulate import JoinAccumulate
from steadystate.dataflow.operators import (
    ConstantOperator,
    MfpOperator,
    NegateOperator,
    TapOperator,
    UnionOperator,
    distinct_operator,
    threshold_operator,
)
from steadystate.dataflow.reduce import reduce_operator
from steadystate.dataflow.spine import columnar_types
from steadystate.dataflow.topk import TopKOperator
from steadystate.dataflow.topk_spine import SpineTopK
from steadystate.dataflow.temporal_filter import TemporalFilterOperator
from steadystate.dataflow.window import WindowOperator
from steadystate.expr import ir, temporal_arrow, temporal_filter
from steadystate.expr.aggregates import accumulator_kind, aggregate_factory
from steadystate.expr.eval import compile_key, compile_mfp, mfp_types
from steadystate.expr.fusion import plan_join_accumulate
from steadystate.expr.infer import relation_types
from steadystate.expr.window import compile_uniform, compile_window
from steadystate.expr.window_columns import compile_window_columns
from steadystate.protocol.messages import DataflowDescription, IndexImport, SinkExport
from steadystate.render.columnar import columns_of, pruned_join_inputs, without_null_aggregates
from steadystate.render.hydration import ColumnarTakers
from steadystate.render.recursion import render_letrec
from steadystate.render.translate import flat_map_rows
from steadystate.render.translate import (
    accumulators, aggregate_value, column_below, compose, key_order, mfp_view, plan_join, sort_columns,
)
from steadystate.render.row_codec import ARROW_ROWS
from steadystate.repr.types import ScalarType

__all__ = ["Arrangement", "ArrangementCursor", "RenderedDataflow", "Update"]

Types = list[ScalarType | None] | None
Rendered = tuple[int, Types]  # (graph node, column types)

#: an index arrangement's recent layer moves into Arrow runs past this many records (``dataflow.arrangement``); the
#: environment can lower it so that tests over small data exercise the runs (the differential suites)
RECENT_MIN = int(os.environ.get("STEADYSTATE_ARRANGEMENT_RECENT_MIN", "0")) or arrangement_module.RECENT_MIN


class _Sink:
    def __init__(self, export: SinkExport, start: int) -> None:
        self.export = export
        self.start = start
        self.buffer: list[Update] = []
        self.error_buffer: list[Update] = []  # error updates as (tuple(error), time, diff), for durable sinks
        self.errors: dict[EvalError, int] = {}

    def listen(self, time: int, delta: Delta) -> None:
        export = self.export
        if not export.with_snapshot and time <= self.start:
            return
        if export.up_to is not None and time >= export.up_to:
            return
        ok, err = delta
        self.buffer.extend((row, time, diff) for row, diff in ok.items())
        for error, diff in err.items():
            add_into(self.errors, error, diff)
            self.error_buffer.append((tuple(error), time, diff))


class RenderedDataflow(ColumnarTakers):
    def __init__(self, desc: DataflowDescription, imported: dict[str, Arrangement], *,
                 share_arrangements: bool = True, fuse: bool = True, import_columns: bool = True) -> None:
        self.desc = desc
        self.share_arrangements = share_arrangements  # False: joins copy imported inputs (tests, benchmarks)
        self.fuse = fuse  # render fusable node patterns as one operator (``expr.fusion``); off for comparisons
        self.import_columns = import_columns  # an import's snapshot as its Arrow runs where readers take them
        self.initial_time = desc.as_of or 0  # the time the dataflow's first output is a snapshot of
        self._snapshotted: set[str] = set()
        self.graph = Graph(desc.as_of, desc.until)
        self.source_shards: dict[str, str] = {}
        self._collections: dict[str, Rendered] = {}
        self._imported_by_on_id: dict[str, Rendered] = {}
        self._imports_by_node: dict[int, tuple[str, IndexImport, Arrangement]] = {}  # port node -> its import
        self._shared: dict[str, SharedInput] = {}  # port name -> the import read in place by joins
        self._mfp_nodes: dict[int, tuple[int, Callable[[tuple], tuple | None], ir.MapFilterProject]] = {}
        self._mfp_types: dict[int, tuple[Types, Types]] = {}  # MFP node -> (input types, output types)
        self._flat_maps: dict[int, tuple[ir.FlatMap, Types]] = {}  # FlatMap node -> (plan, input types)
        self._accumulate_cohorts: dict[tuple, JoinAccumulate] = {}  # ``accumulate_cohort.cohort_key`` -> first
        self._rendered: dict[ir.RelationExpr, Rendered] = {}  # subtree -> its nodes (identical subtrees share them)
        self.import_joins: list[ImportJoin] = []  # join sides that are imported indexes: read in place or copied
        self._cursors: dict[str, ArrangementCursor] = {}
        self._arrangements: dict[str, Arrangement] = {}
        self._sinks: dict[str, _Sink] = {}
        self._source_types: dict[str, Types] = {}
        self.letrecs: list[LetRecOperator] = []  # recursive bindings (render/recursion.py), for introspection

        for source in desc.source_imports:
            self.source_shards[source.id] = source.shard
            self._source_types[source.id] = list(source.desc.types)
            self.graph.add_input(source.id)
        for index in desc.index_imports:
            arrangement = imported.get(index.index_id)
            if arrangement is None:
                raise errors.InternalError(f"index {errors.quote_ident(index.index_id)} was not provided for import")
            port_name = f"index:{index.index_id}"
            node = self.graph.add_input(port_name)
            self._cursors[port_name] = arrangement.cursor()
            self._source_types[port_name] = list(index.desc.types)
            self._imported_by_on_id.setdefault(index.on_id, (node, list(index.desc.types)))
            self._imports_by_node.setdefault(node, (port_name, index, arrangement))
        for build in desc.objects_to_build:
            node, types = self._render(build.plan)
            self._collections[build.id] = (node, list(build.desc.types) if build.desc.columns else types)
        for export in desc.index_exports:
            node, types = self._resolve(export.on_id)
            types = list(export.desc.types) if export.desc.columns else types
            key_columns = [e.index for e in export.key if isinstance(e, ir.ColumnRef)]
            arrangement = Arrangement(compile_key(export.key, types), mfp_view(types), name=export.index_id,
                                      codec=ARROW_ROWS, recent_min=RECENT_MIN,
                                      key_columns=key_columns if len(key_columns) == len(export.key) else None)
            self.graph.add(TapOperator(node, arrangement.apply, arrangement.apply_columns))
            self._arrangements[export.index_id] = arrangement
        for sink_export in desc.sink_exports:
            node, _ = self._resolve(sink_export.on_id)
            sink = _Sink(sink_export, self.graph.start)
            self.graph.add(TapOperator(node, sink.listen))
            self._sinks[sink_export.id] = sink

    # -- public API ---------------------------------------------------------------------------------------

    @property
    def frontier(self) -> int | None:
        return self.graph.frontier

    @property
    def hydrated(self) -> bool:
        frontier = self.graph.frontier
        return self.graph.stepped and (frontier is None or frontier > self.graph.start)

    def feed(self, source_id: str, updates: list[Update], upper: int | None,
             error_updates: list[Update] | None = None) -> None:
        """New updates of a source (and, for a materialized view's shard, its error rows as stored by
        ``drain_sink_errors``), with the source's new upper."""
        port = self.graph.ports.get(source_id)
        if port is None:
            raise errors.InternalError(f"dataflow has no source {errors.quote_ident(source_id)}")
        evaluation_errors = [(EvalError(*row), time, diff) for row, time, diff in error_updates or ()]
        port.push(updates, upper, evaluation_errors)

    def feed_snapshot(self, source_id: str, rows: dict[tuple, int], time: int, upper: int | None) -> None:
        """A source's consolidated snapshot ``{row: count}`` at ``time`` (handed to the engine as is)."""
        port = self.graph.ports.get(source_id)
        if port is None:
            raise errors.InternalError(f"dataflow has no source {errors.quote_ident(source_id)}")
        port.push_consolidated(time, rows, upper)

    def step(self) -> bool:
        for port_name, cursor in self._cursors.items():
            shared = self._shared.get(port_name)
            if port_name not in self._snapshotted:
                # an imported arrangement's first read is its current contents, at its frontier - 1: the
                # dataflow's initial state is as of that time, not as of ``as_of``
                self._snapshotted.add(port_name)
                if cursor.frontier is not None:
                    self.initial_time = max(self.initial_time, cursor.frontier - 1)
                if self.import_columns and self.feed_import_columns(port_name, cursor):
                    if shared is not None:
                        shared.snapshot_read(max(cursor.snapshot_time, self.graph.start))
                    continue
                snapshot = cursor.read_snapshot()
                assert snapshot is not None
                time, rows, err = snapshot
                if shared is not None:
                    shared.snapshot_read(max(time, self.graph.start))
                port = self.graph.ports[port_name]
                if rows:  # one consolidated delta, handed to the graph as is
                    port.push_consolidated(time, rows, cursor.frontier)
                port.push([], cursor.frontier, err)
                continue
            ok, err = cursor.read_all()
            if shared is not None:
                shared.delivered(ok)
            self.graph.ports[port_name].push(ok, cursor.frontier, err)
        progressed = self.graph.step()
        for shared in self._shared.values():
            shared.passed(self.graph.frontier)
        for arrangement in self._arrangements.values():
            arrangement.advance(self.graph.frontier)
        return progressed

    def arrangement(self, index_id: str) -> Arrangement:
        try:
            return self._arrangements[index_id]
        except KeyError:
            raise errors.UndefinedObject(f"index {errors.quote_ident(index_id)} is not exported by this dataflow") from None

    def drain_sink(self, sink_id: str) -> list[Update]:
        sink = self._sinks[sink_id]
        out, sink.buffer = sink.buffer, []
        return out

    def sink_error(self, sink_id: str) -> errors.SteadyError | None:
        """The sink's current (first) error, if its collection holds errors."""
        error = first_error(self._sinks[sink_id].errors)
        return None if error is None else error.to_exception()

    def drain_sink_errors(self, sink_id: str) -> list[Update]:
        """Error updates of the sink's collection since the last drain: ``(message, sqlstate, kind, detail,
        hint)`` rows with their times and diffs (a materialized view stores them beside its rows)."""
        sink = self._sinks[sink_id]
        out, sink.error_buffer = sink.error_buffer, []
        return out

    def sizes(self) -> dict[str, tuple[int, int]]:
        return {index_id: (a.records(), a.size_bytes()) for index_id, a in self._arrangements.items()}

    def operator_sizes(self) -> tuple[int, int]:
        """``(records, approximate bytes)`` that the dataflow's join operators hold themselves: the copies of
        join inputs (and, for a fused join-accumulate, its per-key partial sums and arranged B rows).  A side
        read from an imported arrangement counts nothing here (the producer reports it)."""
        records = size = 0
        for node in self.graph.nodes:
            if isinstance(node, JoinOperator):
                records += node.records()
                size += node.size_bytes()
            elif isinstance(node, JoinAccumulate):
                records += node.records()
                size += node.size_bytes()
        return records, size

    def close(self) -> None:
        """Release cursors on imported arrangements (call when the dataflow is dropped)."""
        for cursor in self._cursors.values():
            cursor.close()
        self._cursors.clear()

    # -- rendering ----------------------------------------------------------------------------------------

    def _resolve(self, global_id: str) -> Rendered:
        if global_id in self._imported_by_on_id:
            return self._imported_by_on_id[global_id]
        if global_id in self._collections:
            return self._collections[global_id]
        if global_id in self._source_types:
            return self.graph.add_input(global_id), self._source_types[global_id]
        raise errors.InternalError(f"dataflow cannot resolve collection {errors.quote_ident(global_id)}")

    def _types_of_get(self, global_id: str) -> Types:
        try:
            return self._resolve(global_id)[1]
        except errors.SteadyError:
            return None

    def _types(self, expr: ir.RelationExpr) -> Types:
        return relation_types(expr, self._types_of_get)

    def _render(self, expr: ir.RelationExpr) -> Rendered:
        """One operator (chain) per distinct subtree: an identical subtree met again — a decorrelated subquery's
        outer relation, a CTE used twice — reuses the nodes already rendered (operators never mutate their
        inputs, so a node may feed several consumers)."""
        done = self._rendered.get(expr)
        if done is not None:
            return done
        renderer = _RENDERERS.get(type(expr))
        if renderer is None:
            raise errors.InternalError(f"cannot render {type(expr).__name__}")
        rendered = self._rendered[expr] = renderer(self, expr)
        return rendered

    def _render_get(self, expr: ir.Get) -> Rendered:
        return self._resolve(expr.id)

    def _render_constant(self, expr: ir.Constant) -> Rendered:
        return self.graph.add(ConstantOperator(expr.updates())), self._types(expr)

    def _render_mfp(self, input_expr: ir.RelationExpr, mfp_of: Callable[[int], ir.MapFilterProject]) -> Rendered:
        node, types = self._render(input_expr)
        arity = len(types) if types is not None else _arity(input_expr, self)
        mfp = mfp_of(arity)
        apply = compile_mfp(mfp, types)
        out_types = mfp_types(mfp, types) if types is not None else None
        mfp_operator = MfpOperator(node, apply)
        kept = tuple(range(mfp.input_arity)) if mfp.projection is None else tuple(mfp.projection)
        if not mfp.map and not mfp.predicates and kept:  # a projection: columns selected as they are
            mfp_operator.projection = kept
        out = self.graph.add(mfp_operator)
        self._mfp_nodes[out] = (node, apply, mfp)  # a join may read through it into an imported arrangement
        self._mfp_types[out] = (types, out_types)
        return out, out_types

    def _render_map(self, expr: ir.Map) -> Rendered:
        return self._render_mfp(expr.input, lambda arity: ir.MapFilterProject(arity, map=expr.scalars))

    def _render_filter(self, expr: ir.Filter) -> Rendered:
        plain, bounds = temporal_filter.split(expr.predicates)
        if not bounds:
            return self._render_mfp(expr.input, lambda arity: ir.MapFilterProject(arity, predicates=expr.predicates))
        # a temporal filter: the ordinary predicates as an MFP, then the operator that schedules each row's
        # insertion and retraction at the times its bounds give
        if plain:
            node, types = self._render_mfp(expr.input, lambda arity: ir.MapFilterProject(arity, predicates=plain))
        else:
            node, types = self._render(expr.input)
        # (and, for a snapshot's columns, the same bounds over Arrow tables: ``dataflow.temporal_filter``)
        return self.graph.add(TemporalFilterOperator(node, temporal_filter.compile_bounds(bounds, types),
                                                     temporal_arrow.compile_arrow_bounds(bounds, types))), types

    def _render_project(self, expr: ir.Project) -> Rendered:
        inner = expr.input
        if isinstance(inner, ir.Project):  # a projection of a projection: one operator, not two passes
            return self._render(ir.Project(inner.input, tuple(inner.outputs[i] for i in expr.outputs)))
        return self._render_mfp(expr.input, lambda arity: ir.MapFilterProject(arity, projection=expr.outputs))

    def _render_join(self, expr: ir.Join) -> Rendered:
        rendered = [self._render(child) for child in expr.inputs]
        arities = [len(t) if t is not None else _arity(child, self) for (_, t), child in zip(rendered, expr.inputs)]
        all_types: Types = []
        for _, types in rendered:
            if types is None or all_types is None:
                all_types = None
            else:
                all_types.extend(types)
        steps, residual = plan_join(arities, expr.equivalences)
        node, prefix_types = rendered[0][0], (list(rendered[0][1]) if rendered[0][1] is not None else None)
        for i, step in enumerate(steps, start=1):
            right_node, right_types = rendered[i]
            left_exprs, right_exprs = list(step.left), list(step.right)
            # a side that is an imported index whose key is this step's key (in some order) is read in place
            right_import = self._shareable(right_node, right_exprs)
            if right_import is not None:
                order = right_import[1]
                left_exprs, right_exprs = [left_exprs[j] for j in order], [right_exprs[j] for j in order]
            left_import = self._shareable(node, left_exprs) if i == 1 else None
            if left_import is not None:
                order = left_import[1]
                left_exprs, right_exprs = [left_exprs[j] for j in order], [right_exprs[j] for j in order]
                again = self._shareable(right_node, right_exprs) if right_import else None
                if again is None or again[1] != list(range(len(right_exprs))):
                    right_import = None  # both sides are indexes, keyed in different orders: share the left one
            left_key = compile_key(left_exprs, prefix_types)
            right_key = compile_key(right_exprs, right_types)
            join = JoinOperator(
                node, right_node, left_key, right_key,
                left_shared=self._shared_side(left_import), right_shared=self._shared_side(right_import),
                keys_total=all(isinstance(e, ir.ColumnRef) for e in left_exprs + right_exprs),
            )
            if join.keys_total and prefix_types is not None and right_types is not None:
                join.columns = JoinColumns(tuple(e.index for e in left_exprs),  # type: ignore[union-attr]
                                           tuple(e.index for e in right_exprs),  # type: ignore[union-attr]
                                           len(prefix_types), len(right_types))
            left_behind = self._import_behind(node) if i == 1 else None
            right_behind = self._import_behind(right_node)
            node = self.graph.add(join)
            for side, behind, imported in (("left", left_behind, left_import), ("right", right_behind, right_import)):
                if behind is not None:
                    index_id = self._imports_by_node[behind[0]][1].index_id
                    self.import_joins.append(ImportJoin(node, side, index_id, imported is not None, bool(behind[1])))
            if prefix_types is not None and right_types is not None:
                prefix_types = prefix_types + list(right_types)
            else:
                prefix_types = None
        if residual:
            apply = compile_mfp(ir.MapFilterProject(sum(arities), predicates=tuple(residual)), all_types)
            node = self.graph.add(MfpOperator(node, apply))
        return node, all_types

    def _import_behind(self, node: int) -> tuple[int, list[tuple[Callable, ir.MapFilterProject]]] | None:
        """``(import port node, MFP layers outermost first)`` when ``node`` is an imported index, possibly under
        maps, filters and projections; None otherwise."""
        chain: list[tuple[Callable, ir.MapFilterProject]] = []
        while node not in self._imports_by_node:
            layer = self._mfp_nodes.get(node)
            if layer is None:
                return None
            node, apply, mfp = layer
            chain.append((apply, mfp))
        return node, chain

    def _shareable(self, node: int, key: list[ir.ScalarExpr]) -> tuple[str, list[int], Callable | None] | None:
        """``(port name, order, row function)`` when the join input rendered as ``node`` is an imported index (or
        maps/filters/projections of one, whose composition is the row function) and ``[key[j] for j in order]``,
        taken through those layers, is the index's key; None when the join must keep its own copy."""
        behind = self._import_behind(node) if self.share_arrangements else None
        if behind is None:
            return None
        port_node, chain = behind
        port_name, index, _arrangement = self._imports_by_node[port_node]
        below = [column_below(chain, expr) for expr in key] if chain else key
        if any(expr is None for expr in below):
            return None
        order = key_order(below, list(index.key))  # type: ignore[arg-type]
        if order is None:
            return None
        return port_name, order, compose([apply for apply, _ in reversed(chain)]) if chain else None

    def _shared_side(self, shareable: tuple[str, list[int], Callable | None] | None) -> SharedSide | None:
        if shareable is None:
            return None
        port_name, _order, apply = shareable
        shared = self._shared.get(port_name)
        if shared is None:
            shared = self._shared[port_name] = SharedInput(self._imports_by_node[self.graph.ports[port_name].node][2])
        return shared if apply is None else MappedSharedInput(shared, apply)

    def _render_reduce(self, expr: ir.Reduce) -> Rendered:
        stripped = without_null_aggregates(expr)
        if stripped is not None:  # a grouping set's nulled columns: constants after a plain reduce
            inner, append_nulls = stripped
            return self._render_mfp(inner, lambda _arity: append_nulls)
        fused = self._render_join_accumulate(expr)
        if fused is not None:
            return fused
        if isinstance(expr.input, ir.Join):  # the join's inputs projected onto what is read, when that drops some
            pruned = pruned_join_inputs(expr, [self._types(child) for child in expr.input.inputs])
            if pruned is not None:
                return self._render_reduce(pruned)
        node, types = self._render(expr.input)
        accumulating = _accumulating_reduce(node, expr, types)
        if accumulating is not None:
            return self.graph.add(accumulating), self._types(expr)
        key_fn = compile_key(expr.group_key, types)
        value_fns = [None if a.func == "count_star" else aggregate_value(a, types) for a in expr.aggregates]
        factories = [aggregate_factory(a, types) for a in expr.aggregates]
        operator_ = reduce_operator(node, key_fn, value_fns, factories, is_global=not expr.group_key,
                                    columns=columns_of(expr))
        return self.graph.add(operator_), self._types(expr)

    def _render_join_accumulate(self, expr: ir.Reduce) -> Rendered | None:
        """``Reduce(Join(X, Y))`` as one fused operator when ``expr.fusion`` says it can (else ``None``)."""
        join = expr.input
        if not self.fuse or not isinstance(join, ir.Join) or len(join.inputs) != 2:
            return None
        fused = plan_join_accumulate(expr, [self._types(child) for child in join.inputs])
        if fused is None:
            return None
        a_node = self._render(join.inputs[fused.aggregated_input])[0]
        b_node = self._render(join.inputs[1 - fused.aggregated_input])[0]
        a_key, b_key = list(fused.a_key), list(fused.b_key)
        # B read in place when it is an imported index keyed by B's join columns (in some order)
        b_import = self._shareable(b_node, [ir.ColumnRef(c) for c in b_key])
        if b_import is not None:
            order = b_import[1]
            a_key, b_key = [a_key[j] for j in order], [b_key[j] for j in order]
        b_types = self._types(join.inputs[1 - fused.aggregated_input])
        operator_ = JoinAccumulate(a_node, b_node, a_key, b_key, fused.group_columns,
                                   accumulators(fused.accumulators), shared_b=self._shared_side(b_import),
                                   b_arity=len(b_types) if b_types is not None else None)
        node = self.graph.add(operator_)
        key = cohort_key(operator_)
        if key is not None:  # a sibling (another grouping set of a ROLLUP): the two share their state
            sibling = self._accumulate_cohorts.get(key)
            if sibling is None:
                self._accumulate_cohorts[key] = operator_
            else:
                if sibling.cohort is None:
                    sibling.cohort = Cohort(sibling)
                sibling.cohort.join(operator_)
                operator_.cohort = sibling.cohort
        behind = self._import_behind(b_node)
        if behind is not None:
            index_id = self._imports_by_node[behind[0]][1].index_id
            side = "right" if fused.aggregated_input == 0 else "left"
            self.import_joins.append(ImportJoin(node, side, index_id, b_import is not None, bool(behind[1])))
        return node, self._types(expr)

    def _render_topk(self, expr: ir.TopK) -> Rendered:
        node, types = self._render(expr.input)
        group = list(expr.group_key)
        spine_types = columnar_types([_SPINE_TYPES.get(t) if t is not None else None for t in types or [None]])
        if expr.limit is not None and types and spine_types is not None and self.fuse:
            # input held in a columnar arrangement (``dataflow.topk_spine``): hydrates from columns
            return self.graph.add(SpineTopK(node, group, sort_columns(expr.order_key), expr.limit, expr.offset,
                                            spine_types)), types
        if not group:  # one group: the operator takes its rows in bulk
            return self.graph.add(TopKOperator(node, None, sort_columns(expr.order_key), expr.limit,
                                               expr.offset)), types
        if len(group) == 1:
            only = group[0]
            group_fn: Callable[[tuple], tuple] = lambda row: (row[only],)
        else:
            group_fn = operator.itemgetter(*group)
        return self.graph.add(TopKOperator(node, group_fn, sort_columns(expr.order_key), expr.limit, expr.offset)), types

    def _render_window(self, expr: ir.Window) -> Rendered:
        node, types = self._render(expr.input)
        keys = list(expr.partition_key)
        partition_fn: Callable[[tuple], tuple] | None = None
        if len(keys) == 1:
            only = keys[0]
            partition_fn = lambda row: (row[only],)  # noqa: E731
        elif keys:
            partition_fn = operator.itemgetter(*keys)
        window = WindowOperator(node, partition_fn, sort_columns(expr.order_key), compile_window(expr, types))
        if self.fuse:  # hydrates from columns where expr/window_columns.py computes the functions exactly
            window.columnar = compile_window_columns(expr, types)
            window.uniform = compile_uniform(expr, types)  # one value per partition: no sort per change
        return self.graph.add(window), self._types(expr)

    def _render_distinct(self, expr: ir.Distinct) -> Rendered:
        node, types = self._render(expr.input)
        return self.graph.add(distinct_operator(node)), types

    def _render_threshold(self, expr: ir.Threshold) -> Rendered:
        node, types = self._render(expr.input)
        return self.graph.add(threshold_operator(node)), types

    def _render_negate(self, expr: ir.Negate) -> Rendered:
        node, types = self._render(expr.input)
        return self.graph.add(NegateOperator(node)), types

    def _render_union(self, expr: ir.Union_) -> Rendered:
        rendered = [self._render(child) for child in expr.inputs]
        return self.graph.add(UnionOperator(tuple(n for n, _ in rendered))), rendered[0][1]

    def _render_flat_map(self, expr: ir.FlatMap) -> Rendered:
        node, types = self._render(expr.input)
        rows_of = flat_map_rows(expr, types)
        out_types = None if types is None else [*types, *expr.types]
        out = self.graph.add(FlatMapOperator(node, rows_of))
        self._flat_maps[out] = (expr, types)  # evaluated over a snapshot's columns (``render.hydration``)
        return out, out_types

    def _render_arrange_by(self, expr: ir.ArrangeBy) -> Rendered:
        return self._render(expr.input)

    def _render_letrec(self, expr: ir.LetRec) -> Rendered:
        return render_letrec(self, expr)


class ImportJoin(NamedTuple):
    """A join input that is an imported index, and whether the join reads its arrangement in place (EXPLAIN)."""

    node: int  # the JoinOperator's graph node
    side: str  # "left" or "right"
    index_id: str
    shared: bool  # False: the join keeps its own copy (its key is not the index's key, or sharing is off)
    through_mfp: bool = False  # the input is maps/filters/projections of the import


# the engine types a spine holds exactly (``dataflow.spine.columnar_types``' names)
_SPINE_TYPES = {ScalarType.INT2: "int", ScalarType.INT4: "int", ScalarType.INT8: "int", ScalarType.TEXT: "text",
                ScalarType.BOOL: "bool"}


def _arity(expr: ir.RelationExpr, dataflow: RenderedDataflow) -> int:
    """Arity when types are unknown (Constant knows its arity; otherwise infer through the tree)."""
    if isinstance(expr, ir.Constant):
        return expr.arity
    types = dataflow._types(expr)
    if types is None:
        raise errors.InternalError("cannot determine the arity of a plan input")
    return len(types)


_RENDERERS: dict[type, Callable[[RenderedDataflow, Any], Rendered]] = {
    ir.Get: RenderedDataflow._render_get,
    ir.Constant: RenderedDataflow._render_constant,
    ir.Map: RenderedDataflow._render_map,
    ir.Filter: RenderedDataflow._render_filter,
    ir.Project: RenderedDataflow._render_project,
    ir.Join: RenderedDataflow._render_join,
    ir.Reduce: RenderedDataflow._render_reduce,
    ir.TopK: RenderedDataflow._render_topk,
    ir.Window: RenderedDataflow._render_window,
    ir.Distinct: RenderedDataflow._render_distinct,
    ir.Threshold: RenderedDataflow._render_threshold,
    ir.Negate: RenderedDataflow._render_negate,
    ir.Union_: RenderedDataflow._render_union,
    ir.ArrangeBy: RenderedDataflow._render_arrange_by,
    ir.LetRec: RenderedDataflow._render_letrec,
    ir.FlatMap: RenderedDataflow._render_flat_map,
}


def _accumulating_reduce(node: int, expr: ir.Reduce, types: Types) -> AccumulatingReduce | None:
    """The lean reduce when every group key is a plain column and every aggregate is accumulable over its
    argument's type (``expr.aggregates.accumulator_kind``); else ``None`` (the general reduce)."""
    if not all(isinstance(k, ir.ColumnRef) for k in expr.group_key):
        return None
    kinds = [accumulator_kind(agg, types) for agg in expr.aggregates]
    if any(kind is None for kind in kinds):
        return None
    pairs = [(kind, None if agg.func == "count_star" else agg.expr.index)  # type: ignore[union-attr]
             for kind, agg in zip(kinds, expr.aggregates)]
    keys = [k.index for k in expr.group_key]  # type: ignore[union-attr]
    return AccumulatingReduce(node, keys, accumulators(pairs), is_global=not expr.group_key)  # type: ignore[arg-type]

