"""The render layer's takers of a snapshot's Arrow columns, used by ``render.dataflow`` at hydration.

* :class:`ColumnarMapper`: a source's chain of maps/filters/projections evaluated over its snapshot's columns
  (``expr.arrow_eval``), its output (columns) added to the chain's last operator's round (``premapped``);
* :class:`MappedConsumer`: an operator that takes columns (``dataflow.operators.ColumnarInput``) behind such a
  chain: the chain's output tables are what it folds — when they are exact, or the operator reads only exact ones
  (:func:`reads_exact`: a filter of a wide imported index keeps its numerics, the reduce after it reads ints);
* :class:`PremappedTaker`: the taker of a join's snapshots' join (``dataflow.join``) when the join is read by such
  a chain: the chain's output computed over the joined columns;
* :func:`columns_of`: where a reduce's group key and arguments are, when it can build its groups from columns
  (``dataflow.reduce.ColumnsOf``);
* :class:`FanOut`: several readers of one collection (the branches of a ``ROLLUP``, a source read by two joins),
  each taking the snapshot's columns itself: the collection is read as columns only when every reader can;
* :func:`pruned_join_inputs`: a reduce over a join with each join input projected onto what is read;
* :func:`without_null_aggregates`: a reduce's always-NULL aggregates (a grouping set's nulled grouping column,
  ``max(e) FILTER (WHERE false)``: ``sql.grouping_sets``) as constant NULL columns after the reduce, so the
  reduce that remains can be fused or accumulated and hydrate from columns like a plain ``GROUP BY``.

Each returns ``None`` (the rows then take the row path, which reports errors as data) when a value needs the row
evaluator (an overflow, a division by zero).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from steadystate.dataflow.collection import merge_into
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.columns import exact_type
from steadystate.dataflow.operators import ColumnarInput, MfpOperator
from steadystate.dataflow.accumulate import AccumulatingReduce
from steadystate.dataflow.reduce import ColumnsOf, ReduceOperator
from steadystate.expr import ir
from steadystate.expr.aggregates import SKIPS_NULLS
from steadystate.expr.arrow_eval import NotVectorized
from steadystate.expr.infer import columns_of as infer_columns, remap_columns
from steadystate.repr.types import ScalarType


def exact_output(table: Any) -> Any:
    """A chain's output table, or ``None`` when it keeps a column that is not exact (``dataflow.columns``' rule:
    ``expr.arrow_eval`` passes columns of other types through unread, a numeric of an imported index say).  Callers
    then take the rows: such a column's Python values, and the grouping of equal ones, are the row path's to make."""
    if table is None or not all(exact_type(field.type) for field in table.schema):
        return None
    return table


def reads_exact(consumer: ColumnarInput, schema: Any) -> bool:
    """Whether ``consumer`` reads only exact columns (``dataflow.columns.exact_type``) of tables of ``schema``:
    a chain of Arrow layers (``expr.arrow_eval`` evaluates a map/filter/project over other columns only when it
    does not read them, and :class:`MappedConsumer` checks its own taker against the chain's output), or a reduce
    whose group key and arguments are exact columns; ``False`` for any other taker (a join side, a distinct, a top-k
    read every column)."""
    if isinstance(consumer, MappedConsumer):
        return True
    if isinstance(consumer, FanOut):
        return all(reads_exact(taker, schema) for taker in consumer.takers)
    read: set[int]
    if isinstance(consumer, ReduceOperator) and consumer.columns is not None:
        read = {*consumer.columns.key, *(c for c in consumer.columns.arguments if c is not None)}
    elif isinstance(consumer, AccumulatingReduce):
        read = {*consumer.key_columns, *(a.column for a in consumer.accumulators if a.column is not None)}
    else:
        return False
    return all(c < len(schema) and exact_type(schema.field(c).type) for c in read)


class ColumnarMapper(NamedTuple):
    """A source's chain of maps/filters/projections, evaluated over its snapshot's Arrow columns
    (``expr.arrow_eval``): ``apply`` gives the chain's output as columns (a ``ColumnarDelta`` of insertions: the
    chain's last operator hands it on as columns in the snapshot's round, as rows otherwise), or ``None`` when some
    value needs the row path (an overflow, a division by zero: the row evaluator then reports it)."""

    node: int  # the last MFP node of the chain: its round at the snapshot's time adds the output
    layers: list[Callable[[Any], Any]]
    arity: int

    def apply(self, tables: list[Any]) -> ColumnarDelta | None:
        mapped = []
        try:
            for table in tables:
                for layer in self.layers:
                    table = layer(table)
                if exact_output(table) is None:  # a column kept whose values are the row path's to make
                    return None
                mapped.append((table, 1))
        except NotVectorized:
            return None
        return ColumnarDelta(mapped, self.arity)


class MappedConsumer:
    """A :class:`~steadystate.dataflow.operators.ColumnarInput` behind maps/filters/projections: the chain is
    evaluated over the snapshot's columns (``expr.arrow_eval``) and its output tables are what the operator folds;
    ``None`` (the rows take the row path, which reports errors as data) when a value needs the row evaluator."""

    def __init__(self, layers: list[Callable[[Any], Any]], consumer: ColumnarInput) -> None:
        self.layers = layers
        self.consumer = consumer

    def fold_columns(self, tables: list[Any]) -> Any:
        mapped = []
        try:
            for table in tables:
                for layer in self.layers:
                    table = layer(table)
                if exact_output(table) is None and not reads_exact(self.consumer, table.schema):
                    return None  # a column kept that the taker reads, or may: rows
                mapped.append(table)
        except NotVectorized:
            return None
        return self.consumer.fold_columns(mapped)

    def absorb_folded(self, folded: Any) -> None:
        self.consumer.absorb_folded(folded)


class PremappedTaker:
    """The output of a chain of maps/filters/projections computed over columns (a join's snapshots' join) and added
    to the chain's last operator's output in the snapshot's round (``MfpOperator.premapped`` at ``time``, the
    dataflow's first round: where a snapshot's join is computed)."""

    def __init__(self, layers: list[Callable[[Any], Any]], last: MfpOperator, arity: int, time: int) -> None:
        self.mapper = ColumnarMapper(0, layers, arity)
        self.last = last
        self.time = time

    def fold_columns(self, tables: list[Any]) -> ColumnarDelta | None:
        return self.mapper.apply(tables)

    def absorb_folded(self, folded: ColumnarDelta) -> None:
        add_premapped(self.last, self.time, folded)


class FanOut:
    """A :class:`~steadystate.dataflow.operators.ColumnarInput` made of every reader of one collection: each folds
    the same (immutable) Arrow tables itself; ``None`` when one of them cannot (every reader then takes rows).
    Takers whose ``fold_key()`` is equal would fold the same thing (a ``ROLLUP``'s branches: the same partial sums
    per join key): the tables are folded once and the others absorb a copy (``copy_folded``)."""

    def __init__(self, takers: list[ColumnarInput]) -> None:
        self.takers = takers

    def fold_columns(self, tables: list[Any]) -> list[tuple[Any, bool]] | None:
        folded: list[tuple[Any, bool]] = []  # (what it folded, whether another taker folded it)
        done: dict[Any, Any] = {}
        for taker in self.takers:
            fold_key = getattr(taker, "fold_key", None)
            key = fold_key() if fold_key is not None else None
            if key is not None and key in done:
                folded.append((done[key], True))
                continue
            one = taker.fold_columns(tables)
            if one is None:
                return None
            if key is not None:
                done[key] = one
            folded.append((one, False))
        return folded

    def absorb_folded(self, folded: list[tuple[Any, bool]]) -> None:
        for taker, (one, shared) in zip(self.takers, folded):
            taker.absorb_folded(taker.copy_folded(one) if shared else one)  # type: ignore[attr-defined]


_FALSE = ir.Literal(False, ScalarType.BOOL)


def _always_null(agg: ir.AggregateExpr) -> bool:
    """``max(e) FILTER (WHERE false)`` (``min`` too): NULL for every group, the empty global group included."""
    body = agg.expr
    return (agg.func in ("max", "min") and isinstance(body, ir.If) and body.cond == _FALSE
            and isinstance(body.els, ir.Literal) and body.els.value is None)


def without_null_aggregates(expr: ir.Reduce) -> tuple[ir.Reduce, ir.MapFilterProject] | None:
    """``expr`` as ``(the reduce without its always-NULL aggregates, the MFP over its output that appends them as
    NULL literals and restores the column order)``; ``None`` when it has none, or nothing else (a reduce needs an
    aggregate to give the empty global group its row)."""
    aggregates = expr.aggregates
    nulled = [i for i, agg in enumerate(aggregates) if _always_null(agg)]
    if not nulled or len(nulled) == len(aggregates):
        return None
    kept = [agg for i, agg in enumerate(aggregates) if i not in nulled]
    width = len(expr.group_key)
    inner_arity = width + len(kept)
    projection = list(range(width))
    kept_at = null_at = 0
    for i in range(len(aggregates)):
        if i in nulled:
            projection.append(inner_arity + null_at)
            null_at += 1
        else:
            projection.append(width + kept_at)
            kept_at += 1
    nulls = tuple(aggregates[i].expr.els for i in nulled)  # type: ignore[union-attr]
    return (ir.Reduce(expr.input, expr.group_key, tuple(kept)),
            ir.MapFilterProject(inner_arity, map=nulls, projection=tuple(projection)))


def add_premapped(operator: MfpOperator, time: int, output: ColumnarDelta) -> None:
    """``output`` added to ``operator``'s output in the round at ``time`` (taken as it is when nothing else is:
    the caller hands it over)."""
    present = operator.premapped.get(time)
    if present is not None:
        present.parts += output.parts
        merge_into(present.extra, output.extra)
    else:
        operator.premapped[time] = output


def pruned_join_inputs(expr: ir.Reduce, input_types: list[list[Any] | None]) -> ir.Reduce | None:
    """``Reduce(Join(X, Y, ...))`` with each join input projected onto the columns the join's equivalences and the
    reduce read (a projection keeps multiplicities, so the reduce sees the same groups), its references renumbered:
    a join side then arranges — and hydrates from columns — only what is used (``count(DISTINCT o.customer_id)``
    keeps one column of ``orders``, not three).  ``None`` when nothing is dropped, an input's types are unknown or
    an aggregate has an ORDER BY of its own."""
    join = expr.input
    if not isinstance(join, ir.Join) or any(t is None for t in input_types) \
            or any(agg.order_by for agg in expr.aggregates):
        return None
    used: set[int] = set()
    for scalar in expr.group_key:
        used |= infer_columns(scalar)
    for agg in expr.aggregates:
        for scalar in (agg.expr, *agg.args):
            used |= infer_columns(scalar)
    for equivalence in join.equivalences:
        for scalar in equivalence:
            used |= infer_columns(scalar)
    inputs: list[ir.RelationExpr] = []
    mapping: dict[int, int] = {}  # joined column -> its position in the pruned join
    offset = 0
    for child, types in zip(join.inputs, input_types):
        arity = len(types)  # type: ignore[arg-type]
        kept = [c for c in range(arity) if offset + c in used] or [0][:arity]  # an input of no columns keeps none
        for c in kept:
            mapping[offset + c] = len(mapping)
        inputs.append(child if len(kept) == arity else ir.Project(child, tuple(kept)))
        offset += arity
    if len(mapping) == offset:
        return None
    equivalences = tuple(tuple(remap_columns(e, mapping) for e in eq) for eq in join.equivalences)
    aggregates = tuple(ir.AggregateExpr(agg.func, remap_columns(agg.expr, mapping), agg.distinct,
                                        tuple(remap_columns(a, mapping) for a in agg.args))
                       for agg in expr.aggregates)
    return ir.Reduce(ir.Join(tuple(inputs), equivalences), tuple(remap_columns(k, mapping) for k in expr.group_key),
                     aggregates)


def columns_of(expr: ir.Reduce) -> ColumnsOf | None:
    """Where the reduce's group key and aggregate arguments are in its input rows, when all are plain columns and
    every aggregate ignores NULLs (``expr.aggregates.SKIPS_NULLS``: the columns feed only non-NULL values), its
    further arguments are constants and it has no ORDER BY of its own (its state is then fed the argument, or the
    argument with those constants: ``render.translate.aggregate_value``): then the reduce can build its groups
    from a snapshot's columns (``dataflow.reduce``)."""
    if not all(isinstance(k, ir.ColumnRef) for k in expr.group_key):
        return None
    arguments: list[int | None] = []
    suffixes: list[tuple[Any, ...] | None] = []
    for agg in expr.aggregates:
        if agg.func == "count_star":
            arguments.append(None)
            suffixes.append(None)
        elif (agg.func in SKIPS_NULLS and isinstance(agg.expr, ir.ColumnRef) and not agg.order_by
              and all(isinstance(arg, ir.Literal) for arg in agg.args)):
            arguments.append(agg.expr.index)
            suffixes.append((*(arg.datum() for arg in agg.args), ()) if agg.args else None)  # type: ignore[union-attr]
        else:
            return None
    return ColumnsOf(tuple(k.index for k in expr.group_key), tuple(arguments),  # type: ignore[union-attr]
                     tuple(suffixes))


__all__ = ["ColumnarMapper", "FanOut", "add_premapped", "exact_output", "reads_exact", "pruned_join_inputs", "MappedConsumer", "PremappedTaker", "columns_of", "without_null_aggregates"]
