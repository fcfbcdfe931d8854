"""Which operators of a rendered dataflow take a source's snapshot as Arrow columns at hydration (a mixin of
``render.dataflow.RenderedDataflow``).

A replica hands a loaded table's snapshot over as Arrow tables (``compute.snapshots``) and asks, per source, in
this order:

* :meth:`ColumnarTakers.columnar_consumer`: the operator(s) that fold the columns into their state themselves
  (``dataflow.operators.ColumnarInput``: a fused join-accumulate — either input —, a reduce, a spine top-k, a
  distinct, a join side).  They read the source directly or behind a chain of *Arrow layers* — maps/filters/projections
  (``expr.arrow_eval.compile_arrow_mfp``) and table functions per row (``compile_arrow_flat_map``) that are
  evaluated over the columns (:class:`~steadystate.render.columnar.MappedConsumer`; the chain's own operators get
  nothing).  Where a collection has several readers (the branches of a ``ROLLUP``, one table read by two joins),
  every reader must take the columns, each through its own chain (:class:`~steadystate.render.columnar.FanOut`);
* :meth:`ColumnarTakers.columnar_mapper`: else, a chain of Arrow layers ending at a map/filter/project, whose
  output is computed over the columns and added to that operator's first round as rows (only the chain's output
  becomes Python objects);
* :meth:`ColumnarTakers.columnar_source`: else, when the source's readers (directly or behind maps/filters/
  projections) include operators that run over columns (``run_columnar``: a union, a negate, a distinct or
  threshold, a join, a temporal filter whose bounds are evaluated over Arrow), the snapshot goes into the
  dataflow's first round as columns (:meth:`ColumnarTakers.feed_columns`, a
  ``dataflow.columnar_delta.ColumnarDelta``): each map/filter/project is given its Arrow layer, and rows are made only where an operator's state or an export needs them;
* else the snapshot is read as rows.

An imported index's snapshot goes the same way (:meth:`ColumnarTakers.feed_import_columns`): the producer
arrangement's Arrow runs are the columns, its recent rows the rest.

A join whose two sides took columns hands the snapshots' join to its reader the same way (:meth:`_output_taker`).
"""

from __future__ import annotations

from typing import Any, Callable

from steadystate.dataflow.arrangement import ArrangementCursor
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.columns import exact_type
from steadystate.dataflow.graph import Graph
from steadystate.dataflow.join import JoinOperator, JoinSide
from steadystate.dataflow.join_accumulate import JoinAccumulate
from steadystate.dataflow.operators import ColumnarInput, MfpOperator, TapOperator
from steadystate.expr import ir
from steadystate.expr.arrow_eval import NotVectorized, compile_arrow_flat_map, compile_arrow_mfp
from steadystate.expr.infer import columns_of
from steadystate.render.columnar import (
    ColumnarMapper, FanOut, MappedConsumer, PremappedTaker, add_premapped, exact_output, reads_exact,
)
from steadystate.repr.types import ScalarType

Types = list[ScalarType | None] | None
Layer = Callable[[Any], Any]
Chain = list[tuple[int, Layer]]  # (graph node, its operator as an Arrow layer), from the source on


class ColumnarTakers:
    """The hydration-from-columns part of ``RenderedDataflow`` (see the module docstring)."""

    graph: Graph
    _collections: dict[str, tuple[int, Types]]
    _mfp_nodes: dict[int, tuple[int, Callable[[tuple], tuple | None], ir.MapFilterProject]]
    _mfp_types: dict[int, tuple[Types, Types]]
    _flat_maps: dict[int, tuple[ir.FlatMap, Types]]  # FlatMap node -> (its plan, its input's types)
    _source_types: dict[str, Types]

    def columnar_consumer(self, source_id: str) -> ColumnarInput | None:
        """Before the first step, what can take source ``source_id``'s snapshot as Arrow columns instead of rows:
        its reader(s) folding them, possibly behind Arrow layers (see the module docstring); ``None`` otherwise."""
        port = self.graph.ports.get(source_id)
        if port is None or self.graph.stepped:
            return None
        chain = self._arrow_chain(port.node)
        if chain is None:
            return None
        links, node, reader = chain
        consumer = self._input_consumer(reader, node) if reader is not None else self._fan_out(node)
        if consumer is None:
            return None
        return MappedConsumer([layer for _, layer in links], consumer) if links else consumer

    def columnar_mapper(self, source_id: str) -> ColumnarMapper | None:
        """Before the first step: when source ``source_id`` is read only by a chain of Arrow layers ending at a
        map/filter/project, a :class:`ColumnarMapper` that turns the snapshot's Arrow columns into that chain's
        output rows (the chain then gets only the rest of the snapshot as rows)."""
        port = self.graph.ports.get(source_id)
        if port is None or self.graph.stepped:
            return None
        node, links = port.node, []
        while True:
            readers = self._readers(node)
            if len(readers) != 1 or not self._is_layer(readers[0]):
                break
            reader = readers[0]
            layer = self._arrow_layer(reader)
            if layer is None:
                break
            links.append((reader, layer))
            node = reader
            if reader in self._mfp_nodes and not self._mfp_types[reader][1]:
                break  # arity 0: the rows only count
        links = _to_last_mfp(links, self._mfp_nodes)
        if not links:
            return None
        last = links[-1][0]
        return ColumnarMapper(last, [layer for _, layer in links], len(self._mfp_types[last][1] or ()))

    def columnar_source(self, source_id: str) -> bool:
        """Before the first step, whether source ``source_id``'s snapshot is best handed over as columns
        (:meth:`feed_columns`): an operator that runs over columns (not only a map/filter/project, which
        :meth:`columnar_mapper` covers) reads it, directly or behind maps/filters/projections, or an index export
        of the source itself (``Arrangement.apply_columns``)."""
        port = self.graph.ports.get(source_id)
        if port is None or self.graph.stepped:
            return False
        seen: set[int] = set()
        frontier = [port.node]
        while frontier:
            node = frontier.pop()
            for reader in self._readers(node):
                if reader in seen:
                    continue
                seen.add(reader)
                operator_ = self.graph.nodes[reader]
                if isinstance(operator_, MfpOperator):
                    frontier.append(reader)
                elif isinstance(operator_, TapOperator):  # an index export arranges a source's columns as they are
                    if node == port.node and operator_.columns is not None:
                        return True
                elif hasattr(operator_, "run_columnar") and getattr(operator_, "arrow", True) is not None:
                    return True  # (a temporal filter runs over columns when it has its bounds over Arrow)
        return False

    def feed_columns(self, source_id: str, tables: list[Any], rows: dict[tuple, int], time: int,
                     upper: int | None) -> None:
        """Source ``source_id``'s snapshot at ``time`` as Arrow tables (columns ``c0 …``, one insertion per row)
        and ``rows`` (the rest), handed to the first round as a ``ColumnarDelta`` (see the module docstring)."""
        port = self.graph.ports[source_id]
        self._give_arrow_layers()
        arity = len(self._source_types.get(source_id) or ())
        port.push_consolidated(time, ColumnarDelta([(table, 1) for table in tables], arity, dict(rows)), upper)

    def feed_import_columns(self, port_name: str, cursor: ArrangementCursor) -> bool:
        """An imported index's snapshot (its first read) handed over as the arrangement's Arrow runs, the way a
        source's is (:func:`compute.snapshots.read_source`'s forms: folded by a consumer, through the first round
        as columns, or premapped), its recent rows beside them as rows; False (nothing read) when no reader takes
        columns or the runs are not exact columns (``Arrangement.snapshot_columns``): read rows then."""
        if self.graph.stepped:
            return False
        consumer = self.columnar_consumer(port_name)
        as_columns = consumer is None and self.columnar_source(port_name)
        mapper = self.columnar_mapper(port_name) if consumer is None and not as_columns else None
        if consumer is None and mapper is None and not as_columns:
            return False
        start = self.graph.start
        snapshot_time = cursor.arrangement.snapshot_time()
        if (consumer is not None or mapper is not None) and snapshot_time > start:
            # folded or premapped output would land in the round at ``start``, not at the snapshot's time: the
            # columns go through the snapshot's round instead (operators that do not run over them get rows)
            consumer, mapper, as_columns = None, None, True
        read = cursor.read_snapshot_columns()
        if read is None:
            return False
        time, tables, rows, err = read
        port = self.graph.ports[port_name]
        upper = cursor.frontier
        schema = tables[0].schema
        exact = all(exact_type(field.type) for field in schema)
        if not exact:  # numerics, timestamps, floats …: only to readers that drop them or read exact columns only
            as_columns = False
            if consumer is not None and not reads_exact(consumer, schema):
                consumer = None
                if snapshot_time <= start:
                    mapper = self.columnar_mapper(port_name)
        if as_columns:
            self.feed_columns(port_name, tables, rows, time, upper)
        elif consumer is not None and (folded := consumer.fold_columns(tables)) is not None:
            consumer.absorb_folded(folded)
            port.push_consolidated(time, dict(rows), upper)
        elif mapper is not None and (premapped := mapper.apply(tables)) is not None:
            self.feed_premapped(mapper, premapped, start)
            port.push_consolidated(time, dict(rows), upper)
        elif exact:  # the columns were not taken after all: their rows
            port.push_consolidated(time, ColumnarDelta([(table, 1) for table in tables],
                                                       len(self._source_types.get(port_name) or ()),
                                                       dict(rows)).rows(), upper)
        else:  # decoded by the arrangement's codec (exact for every type)
            decoded = cursor.arrangement.decode_tables(tables)
            decoded.update(rows)  # each key's rows are in the runs or the recent layer, never both
            port.push_consolidated(time, decoded, upper)
        port.push([], upper, err)
        return True

    def _give_arrow_layers(self) -> None:
        """Every map/filter/project evaluated over Arrow as well (``MfpOperator.arrow``), for a columnar round."""
        for node in self._mfp_nodes:
            operator_ = self.graph.nodes[node]
            if not isinstance(operator_, MfpOperator) or operator_.arrow is not None:
                continue
            layer = self._arrow_layer(node)
            if layer is not None:
                operator_.arrow = (_returning_none(layer), len(self._mfp_types[node][1] or ()))

    def feed_premapped(self, mapper: ColumnarMapper, output: ColumnarDelta, time: int) -> None:
        """The output :meth:`ColumnarMapper.apply` computed, added to the mapper's last node's round at ``time``."""
        operator_ = self.graph.nodes[mapper.node]
        assert isinstance(operator_, MfpOperator)
        add_premapped(operator_, time, output)

    # -- the graph's shape --------------------------------------------------------------------------------

    def _readers(self, node: int) -> list[int]:
        return [i for i, operator_ in enumerate(self.graph.nodes) for input_ in operator_.inputs if input_ == node]

    def _is_layer(self, node: int) -> bool:
        """Whether ``node`` is a map/filter/project or a table function per row (not an operator taking columns)."""
        if node in self._flat_maps:
            return True
        return node in self._mfp_nodes and not isinstance(self.graph.nodes[node], ColumnarInput)

    def _arrow_layer(self, node: int) -> Layer | None:
        """Layer node ``node`` (:meth:`_is_layer`) evaluated over Arrow tables, or ``None`` when it cannot be."""
        if node in self._flat_maps:
            expr, types = self._flat_maps[node]
            expand = compile_arrow_flat_map(expr, types)
            before = self._filter_before(node, len(types or ()))
            if expand is None or before is None:
                return expand
            return lambda table: expand(before(table))
        input_types, output_types = self._mfp_types[node]
        if output_types is None:
            return None
        return compile_arrow_mfp(self._mfp_nodes[node][2], input_types)

    def _filter_before(self, node: int, arity: int) -> Layer | None:
        """The predicates of flat-map ``node``'s only reader (a filter) that read only the flat map's input, as an
        Arrow layer applied before the expansion (the filter still applies them after it: the same rows pass);
        ``None`` when there are none."""
        readers = self._readers(node)
        if len(readers) != 1 or readers[0] not in self._mfp_nodes:
            return None
        mfp = self._mfp_nodes[readers[0]][2]
        if mfp.map:
            return None
        early = tuple(p for p in mfp.predicates if columns_of(p) and max(columns_of(p)) < arity)
        if not early:
            return None
        return compile_arrow_mfp(ir.MapFilterProject(arity, predicates=early), self._flat_maps[node][1])

    def _arrow_chain(self, node: int) -> tuple[Chain, int, int | None] | None:
        """From ``node``, the chain of Arrow layers each the only reader of the one before: ``(links, the chain's
        last node, that node's only reader or None)``.  The chain ends where a node has several readers or none,
        or is a collection read as it is (exported, sunk); ``None`` when a link is not evaluated over Arrow."""
        links: Chain = []
        while True:
            readers = self._readers(node)
            if len(readers) != 1 or any(node == built for built, _types in self._collections.values()):
                return links, node, None
            reader = readers[0]
            if not self._is_layer(reader):
                return links, node, reader
            layer = self._arrow_layer(reader)
            if layer is None:
                return None
            links.append((reader, layer))
            node = reader

    def _fan_out(self, node: int) -> ColumnarInput | None:
        """Every reader of ``node`` (several, none of them an export) as one taker of columns (:class:`FanOut`),
        each possibly behind its own chain of Arrow layers; ``None`` unless every reader takes them."""
        readers = self._readers(node)
        if len(readers) < 2 or len(set(readers)) != len(readers) \
                or any(node == built for built, _types in self._collections.values()):
            return None
        takers: list[ColumnarInput] = []
        for reader in readers:
            if not self._is_layer(reader):
                taker = self._input_consumer(reader, node)
                if taker is None:
                    return None
                takers.append(taker)
                continue
            layer = self._arrow_layer(reader)
            chain = self._arrow_chain(reader) if layer is not None else None
            if chain is None:
                return None
            links, last, next_reader = chain
            taker = self._input_consumer(next_reader, last) if next_reader is not None else self._fan_out(last)
            if taker is None:
                return None
            takers.append(MappedConsumer([layer, *(link for _, link in links)], taker))  # type: ignore[list-item]
        return FanOut(takers)

    def _input_consumer(self, reader: int, node: int) -> ColumnarInput | None:
        """Graph node ``reader``'s input ``node`` as a taker of columns, or ``None``."""
        operator_ = self.graph.nodes[reader]
        if isinstance(operator_, JoinOperator):
            side = operator_.side(operator_.inputs.index(node))
            if side is not None and operator_.columnar_reader is None:
                operator_.columnar_reader = self._output_taker(reader)
            return side
        if isinstance(operator_, ColumnarInput) and operator_.inputs[0] == node:  # type: ignore[attr-defined]
            return operator_
        if isinstance(operator_, JoinAccumulate) and operator_.inputs[1] == node:
            return operator_.b_side()  # the fused join-accumulate's other input
        return None

    def _output_taker(self, node: int) -> ColumnarInput | None:
        """What takes graph node ``node``'s output as columns (a join's snapshots' join): its only reader when that
        takes columns, possibly behind Arrow layers (:class:`MappedConsumer`), or else such a chain ending at a
        map/filter/project, whose output rows are then computed over the columns (:class:`PremappedTaker`)."""
        chain = self._arrow_chain(node)
        if chain is None:
            return None
        links, last, reader = chain
        taker = self._input_consumer(reader, last) if reader is not None else None
        if taker is not None and not isinstance(taker, JoinSide):
            return MappedConsumer([layer for _, layer in links], taker) if links else taker
        links = _to_last_mfp(links, self._mfp_nodes)
        if not links:
            return None
        last = links[-1][0]
        operator_ = self.graph.nodes[last]
        assert isinstance(operator_, MfpOperator)
        return PremappedTaker([layer for _, layer in links], operator_, len(self._mfp_types[last][1] or ()),
                              self.graph.start)


def _returning_none(layer: Layer) -> Layer:
    """``layer`` returning ``None`` where a value needs the row path (``NotVectorized``) or its output keeps a column
    that is not exact (``expr.arrow_eval`` passes other types through unread: ``render.columnar.exact_output``)."""
    def apply(table: Any) -> Any:
        try:
            return exact_output(layer(table))
        except NotVectorized:
            return None
    return apply


def _to_last_mfp(links: Chain, mfp_nodes: dict[int, Any]) -> Chain:
    """The chain up to its last map/filter/project (whose round takes premapped rows)."""
    while links and links[-1][0] not in mfp_nodes:
        links = links[:-1]
    return links


__all__ = ["ColumnarTakers"]

