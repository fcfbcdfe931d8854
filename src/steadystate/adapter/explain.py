"""``EXPLAIN``: show a plan, how it would run, and which arrangements it builds or imports.

The output is one text column, ``Optimized Plan``, one row per line: the IR tree indented (one operator a
line, with its arguments), followed by how the query would be answered (fast-path peek of an index or
shard, local evaluation, or a new dataflow with its source imports, imported indexes and arrangements).  For
a join over an imported index it says whether the join reads the index's arrangement in place ("uses arrangement
of <index> (shared)") or keeps a copy, as the replica's renderer decides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from steadystate.adapter.dataflows import DataflowBuilder
from steadystate.adapter.fastpath import extract_mfp
from steadystate.render import Arrangement, RenderedDataflow
from steadystate.errors import FeatureNotSupported
from steadystate.expr import ir, temporal_filter
from steadystate.expr.fusion import plan_join_accumulate
from steadystate.expr.infer import Types, relation_types
from steadystate.expr.ir import decode_plan
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.sql import plan as p
from steadystate.sql.catalog_api import ResolvedItem
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind

if TYPE_CHECKING:
    from steadystate.adapter.backend import Adapter
    from steadystate.catalog.state import CatalogState


def _aggregate_text(agg: ir.AggregateExpr) -> str:
    arguments = ", ".join(scalar_text(e) for e in (agg.expr, *agg.args))
    order = ", ".join(scalar_text(o.expr) + (" desc" if o.desc else "") + (" nulls_first" if not o.nulls_last else "")
                      for o in agg.order_by)
    return f"{agg.func}({'distinct ' if agg.distinct else ''}{arguments}{' order_by=[' + order + ']' if order else ''})"


def scalar_text(expr: ir.ScalarExpr) -> str:
    if isinstance(expr, ir.ColumnRef):
        return f"#{expr.index}"
    if isinstance(expr, ir.Literal):
        return "null" if expr.value is None else repr(expr.value)
    if isinstance(expr, ir.CallUnary):
        return f"{expr.func}({scalar_text(expr.expr)})"
    if isinstance(expr, ir.CallBinary):
        return f"{expr.func}({scalar_text(expr.left)}, {scalar_text(expr.right)})"
    if isinstance(expr, ir.CallVariadic):
        return f"{expr.func}({', '.join(scalar_text(e) for e in expr.exprs)})"
    if isinstance(expr, ir.If):
        return f"case when {scalar_text(expr.cond)} then {scalar_text(expr.then)} else {scalar_text(expr.els)} end"
    return repr(expr)


def _window_text(func: ir.WindowFunc) -> str:
    args = [f"#{a}" for a in func.args] + ([str(func.param)] if func.param is not None else [])
    frame = func.frame

    def bound(b: ir.FrameBound) -> str:
        text = b.kind.value.replace("_", " ")
        return f"{b.offset.value} {text}" if b.offset is not None else text
    return f"{func.func}({', '.join(args)}) {frame.mode.value} between {bound(frame.start)} and {bound(frame.end)}"


def plan_lines(expr: ir.RelationExpr, names: dict[str, str], depth: int = 0,
               types_of: Callable[[str], Types | None] | None = None) -> list[str]:
    """The IR tree, one operator a line; with ``types_of``, a Reduce that runs fused says so."""
    pad = "  " * depth
    if isinstance(expr, ir.Get):
        head = f"Get {names.get(expr.id, expr.id)}"
    elif isinstance(expr, ir.Constant):
        head = f"Constant ({len(expr.updates())} rows)"
    elif isinstance(expr, ir.Map):
        head = "Map (" + ", ".join(scalar_text(s) for s in expr.scalars) + ")"
    elif isinstance(expr, ir.Filter):
        try:
            plain, bounds = temporal_filter.split(expr.predicates)
        except FeatureNotSupported:  # a one-off query's mz_now() is its timestamp: any predicate is fine there
            plain, bounds = expr.predicates, temporal_filter.TemporalBounds()
        head = "Filter " + " AND ".join(scalar_text(s) for s in plain) if plain else "Filter"
        if bounds:
            head += " // " + temporal_filter.bounds_text(bounds)
    elif isinstance(expr, ir.Project):
        head = "Project (" + ", ".join(f"#{i}" for i in expr.outputs) + ")"
    elif isinstance(expr, ir.Join):
        head = "Join on=(" + " AND ".join(" = ".join(scalar_text(e) for e in cls) for cls in expr.equivalences) + ")"
    elif isinstance(expr, ir.Reduce):
        aggs = ", ".join(_aggregate_text(a) for a in expr.aggregates)
        head = f"Reduce group_by=[{', '.join(scalar_text(k) for k in expr.group_key)}] aggregates=[{aggs}]"
        if types_of is not None and isinstance(expr.input, ir.Join):
            fused = plan_join_accumulate(expr, [relation_types(i, types_of) for i in expr.input.inputs])
            if fused is not None:
                other = 1 - fused.aggregated_input
                head += (f" fused=join_accumulate(aggregated input {fused.aggregated_input}: per-key partial sums, "
                         f"its rows not kept; input {other} by the join key, read in place when it is an index)")
    elif isinstance(expr, ir.TopK):
        order = ", ".join(f"#{o.column}{' desc' if o.desc else ''}" for o in expr.order_key)
        head = f"TopK group_by=[{', '.join(f'#{k}' for k in expr.group_key)}] order_by=[{order}] " \
               f"limit={expr.limit} offset={expr.offset}"
    elif isinstance(expr, ir.Window):
        order = ", ".join(f"#{o.column}{' desc' if o.desc else ''}" for o in expr.order_key)
        funcs = ", ".join(_window_text(f) for f in expr.functions)
        head = f"Window partition_by=[{', '.join(f'#{k}' for k in expr.partition_key)}] order_by=[{order}] " \
               f"functions=[{funcs}] (recomputes only the partitions a change touches)"
    elif isinstance(expr, ir.LetRec):
        return letrec_lines(expr, names, depth, types_of)
    elif isinstance(expr, ir.FlatMap):
        head = "FlatMap " + ", ".join(f"{c.func}(" + ", ".join(scalar_text(e) for e in c.exprs) + ")"
                                      for c in expr.calls) + \
            (" with ordinality" if expr.ordinality else "") + (" outer" if expr.outer else "")
    elif isinstance(expr, ir.ArrangeBy):
        head = "ArrangeBy keys=[" + "; ".join(", ".join(scalar_text(k) for k in key) for key in expr.keys) + "]"
    else:
        head = type(expr).__name__.rstrip("_")
    lines = [pad + head]
    for child in ir.children(expr):
        lines.extend(plan_lines(child, names, depth + 1, types_of))
    return lines


def letrec_lines(expr: ir.LetRec, names: dict[str, str], depth: int,
                 types_of: Callable[[str], Types | None] | None) -> list[str]:
    """A LetRec: its limit, how it is maintained, each binding's plan, then the body."""
    pad = "  " * depth
    limit = f"{expr.limit_kind.value} at recursion limit {expr.limit}" if expr.explicit_limit else \
        f"error after {expr.limit} iterations (default)"
    names = {**names, **{b.id: b.name for b in expr.bindings}}
    if types_of is not None:
        outer_types, local = types_of, {b.id: list(b.types) for b in expr.bindings}

        def types_of(item_id: str) -> Types | None:
            return local[item_id] if item_id in local else outer_types(item_id)  # type: ignore[return-value]
    lines = [pad + f"LetRec ({limit}; iterates semi-naively to a fixed point from empty, recomputed on each change "
                   "of its inputs with a deletion, continued from the fixed point on inserts when monotone; output "
                   "maintained as the difference)"]
    for binding in expr.bindings:
        lines.append(pad + f"  cte {binding.name} =")
        lines.extend(plan_lines(binding.value, names, depth + 2, types_of))
    lines.append(pad + "  Return")
    lines.extend(plan_lines(expr.body, names, depth + 2, types_of))
    return lines


def explain(adapter: "Adapter", plan: p.ExplainPlan, cluster_name: str) -> tuple[RelationDesc, list[Row]]:
    coord = adapter.coordinator
    catalog = coord.catalog
    names = {item.id: item.qualified for item in catalog.items.values()}
    names.update({b.id: b.qualified for b in catalog.builtins.values()})
    cluster = catalog.cluster_by_name(cluster_name)

    def types_of(global_id: str) -> Types | None:
        item = catalog.items.get(global_id) or catalog.builtins.get(global_id)
        return list(item.desc.types) if item is not None and item.desc is not None else None

    if plan.what == "query":
        assert isinstance(plan.target, p.SelectPlan)
        expr, body_desc = plan.target.expr, plan.target.desc
        title = "query"
    elif plan.what in (ItemKind.VIEW, ItemKind.MATERIALIZED_VIEW, ItemKind.INDEX):
        assert isinstance(plan.target, ResolvedItem)
        item = catalog.items[plan.target.id]
        if item.kind == ItemKind.INDEX:
            on = catalog.items[item.on_id]  # type: ignore[index]
            lines = [f"Index {item.qualified} on {on.qualified} key=({', '.join(item.key_names)})"]
            lines.append(f"  cluster: {catalog.clusters[item.cluster_id].name}")  # type: ignore[index]
            expr = decode_plan(on.plan) if on.plan else ir.Get(on.id)
            lines.extend("  " + line for line in plan_lines(expr, names, types_of=types_of))
            return _result(lines)
        assert item.plan is not None and item.desc is not None  # views and materialized views have both
        expr, body_desc, title = decode_plan(item.plan), item.desc, item.qualified
        if item.cluster_id:
            cluster = catalog.clusters.get(item.cluster_id)
    elif plan.what == "restart_cluster":
        assert isinstance(plan.target, tuple)
        cluster_id, _name = plan.target
        rows = adapter.readiness.restart_diff(cluster_id)
        desc = RelationDesc.of(("object_id", ScalarType.TEXT), ("name", ScalarType.TEXT),
                               ("restart", ScalarType.TEXT), ("detail", ScalarType.TEXT))
        return desc, [(r.object_id, r.name, r.status.value, r.detail) for r in rows]
    else:
        raise FeatureNotSupported(f"EXPLAIN {plan.what.replace('_', ' ').upper()} is not supported yet")
    lines = [f"Plan for {title}:"] + ["  " + line for line in plan_lines(expr, names, types_of=types_of)]
    lines.append("How it runs:")
    if adapter.reads.is_local(expr):
        lines.append("  evaluated in the coordinator (constants and system relations only)")
    elif cluster is not None:
        fast = extract_mfp(expr, lambda i: _arity(catalog, i)) if plan.what == "query" else None
        indexed = fast is not None and catalog.indexes_on(fast[0], cluster.id)
        if fast is not None and indexed:
            lines.append(f"  fast path: peek index {names[indexed[0].id]} on cluster {cluster.name}")
        elif fast is not None and catalog.items[fast[0]].kind.has_a_shard:
            lines.append(f"  fast path: read the storage shard of {names[fast[0]]} on cluster {cluster.name}")
        else:
            builder = DataflowBuilder(catalog, cluster.id)
            builder.add_object("t", expr, body_desc)
            lines.append(f"  dataflow on cluster {cluster.name}")
            for source in builder.sources.values():
                lines.append(f"    source import: {names.get(source.id, source.id)} (shard {source.shard})")
            for imported in builder.index_imports.values():
                lines.append(f"    index import (shared arrangement): {names.get(imported.index_id)} "
                             f"on {names.get(imported.on_id)}")
            lines.extend(f"    {line}" for line in join_import_lines(builder, names))
            for built in builder.objects[:-1]:
                lines.append(f"    builds: {names.get(built.id, built.id)}")
    return _result(lines)


def join_import_lines(builder: DataflowBuilder, names: dict[str, str]) -> list[str]:
    """How each join reads an imported index, decided by rendering the dataflow exactly as a replica would (with
    empty arrangements): in place, or copied into the join's own state because the keys differ."""
    if not builder.index_imports:
        return []
    desc = builder.finish(as_of=None, debug_name="explain")
    placeholders = {i.index_id: Arrangement(lambda row: ()) for i in desc.index_imports}
    try:
        rendered = RenderedDataflow(desc, placeholders)
    except Exception:  # noqa: BLE001 - a plan the renderer refuses fails when it runs; EXPLAIN still explains it
        return []
    lines = []
    for join in rendered.import_joins:
        name = names.get(join.index_id, join.index_id)
        if join.shared:
            through = ", through map/filter/project" if join.through_mfp else ""
            lines.append(f"join {join.side} input uses arrangement of {name} (shared{through})")
        else:
            lines.append(f"join {join.side} input copies {name} (the join key is not the index key)")
    return lines


def _result(lines: list[str]) -> tuple[RelationDesc, list[Row]]:
    return RelationDesc.of(("Optimized Plan", ScalarType.TEXT)), [(line,) for line in lines]


def _arity(catalog: CatalogState, item_id: str) -> int:
    desc = catalog.items[item_id].desc
    assert desc is not None  # a relation a query reads has columns
    return desc.arity
