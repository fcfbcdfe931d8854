"""EXPLAIN's variants beyond the default (adapter/explain.py): Materialize's stages and formats.

``EXPLAIN [stage PLAN [AS TEXT | AS JSON] FOR] ...`` — each stage is its own plan, never silently another:

* ``RAW PLAN``: Materialize's plan before decorrelation.  The planner here decorrelates while it plans, so there
  is no such plan: refused with 0A000 (use ``DECORRELATED``).
* ``DECORRELATED PLAN FOR <query>``: the planner's output before the optimizer (``expr.optimize``) runs.  For a
  view or index the stored plan is already optimized: refused with 0A000.
* ``OPTIMIZED PLAN`` (the default): adapter/explain.py; ``AS JSON`` gives the same tree as JSON.
* ``PHYSICAL PLAN``: the dataflow a replica renders: every object it builds (with the fused reduce the renderer
  picks), its source and index imports, its exports, and how its joins read imported indexes.
* ``TIMESTAMP FOR <query>``: the timestamp a SELECT would read at now, and each input's ``since``/``upper``.

``AS JSON`` answers one row with one JSON document: a plan tree is ``{"operator": text, "inputs": [...]}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from steadystate.adapter.dataflows import DataflowBuilder
from steadystate.adapter.explain import join_import_lines, plan_lines, scalar_text
from steadystate.errors import FeatureNotSupported
from steadystate.expr import ir
from steadystate.expr.infer import Types
from steadystate.expr.ir import decode_plan
from steadystate.protocol import messages as m
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.sql import plan as p
from steadystate.sql.catalog_api import ResolvedItem
from steadystate.sql.statements import ExplainFormat, ExplainStage

if TYPE_CHECKING:
    from steadystate.adapter.backend import Adapter

_COLUMN = {ExplainStage.DECORRELATED: "Decorrelated Plan", ExplainStage.OPTIMIZED: "Optimized Plan",
           ExplainStage.PHYSICAL: "Physical Plan", ExplainStage.TIMESTAMP: "Timestamp"}


def is_default(plan: p.ExplainPlan) -> bool:
    """Whether adapter/explain.py answers this EXPLAIN as it always has (optimized, as text)."""
    return plan.stage is ExplainStage.OPTIMIZED and plan.format is ExplainFormat.TEXT


def plan_tree(expr: ir.RelationExpr, names: dict[str, str], types_of: Callable[[str], Types | None]) -> dict[str, Any]:
    head = plan_lines(expr, names, 0, types_of)[0]
    return {"operator": head, "inputs": [plan_tree(child, names, types_of) for child in ir.children(expr)]}


def _result(stage: ExplainStage, fmt: ExplainFormat, lines: list[str], document: Any) -> tuple[RelationDesc, list[Row]]:
    desc = RelationDesc.of((_COLUMN[stage], ScalarType.TEXT))
    if fmt is ExplainFormat.JSON:
        return desc, [(json.dumps(document, indent=2, sort_keys=True),)]
    return desc, [(line,) for line in lines]


async def explain_variant(adapter: "Adapter", plan: p.ExplainPlan, cluster_name: str) -> tuple[RelationDesc, list[Row]]:
    coord = adapter.coordinator
    catalog = coord.catalog
    names = {item.id: item.qualified for item in catalog.items.values()}
    names.update({b.id: b.qualified for b in catalog.builtins.values()})

    def types_of(global_id: str) -> Types | None:
        item = catalog.items.get(global_id) or catalog.builtins.get(global_id)
        return list(item.desc.types) if item is not None and item.desc is not None else None

    stage, fmt = plan.stage, plan.format
    if stage is ExplainStage.RAW:
        raise FeatureNotSupported("EXPLAIN RAW PLAN is not supported",
                                  hint="the planner decorrelates as it plans: use EXPLAIN DECORRELATED PLAN")
    if plan.what == "restart_cluster":
        raise FeatureNotSupported(f"EXPLAIN {stage.upper()} PLAN is not supported for RESTART CLUSTER")
    if stage is ExplainStage.TIMESTAMP:
        assert isinstance(plan.target, p.SelectPlan)
        return await _timestamp(adapter, plan.target, cluster_name, fmt)
    if isinstance(plan.target, p.SelectPlan):
        expr, desc, title = plan.target.expr, plan.target.desc, "query"
    else:
        assert isinstance(plan.target, ResolvedItem)
        if stage is ExplainStage.DECORRELATED:
            raise FeatureNotSupported(
                f"EXPLAIN DECORRELATED PLAN FOR {plan.target.kind.replace('_', ' ').upper()} is not supported",
                hint="a stored object keeps only its optimized plan: EXPLAIN DECORRELATED PLAN FOR its SELECT")
        item = catalog.items[plan.target.id]
        if item.kind == ItemKind.INDEX:
            on = catalog.items[item.on_id or ""]
            expr = decode_plan(on.plan) if on.plan else ir.Get(on.id)
            assert on.desc is not None
            desc, title = on.desc, item.qualified
        else:
            assert item.plan is not None and item.desc is not None
            expr, desc, title = decode_plan(item.plan), item.desc, item.qualified
    if stage is not ExplainStage.PHYSICAL:
        lines = [f"{_COLUMN[stage]} for {title}:"] + ["  " + line for line in plan_lines(expr, names, types_of=types_of)]
        return _result(stage, fmt, lines, {"plan": plan_tree(expr, names, types_of)})
    # PHYSICAL: the dataflow description a replica would render
    if isinstance(plan.target, ResolvedItem) and plan.target.kind in (ItemKind.INDEX, ItemKind.MATERIALIZED_VIEW):
        dataflow = coord.plan_dataflow(catalog.items[plan.target.id], None)
        builder = None
    else:
        cluster = catalog.cluster_by_name(cluster_name)
        if cluster is None:
            raise FeatureNotSupported(f"EXPLAIN PHYSICAL PLAN needs a cluster: {cluster_name!r} does not exist")
        builder = DataflowBuilder(catalog, cluster.id)
        builder.add_object("t_explain", expr, desc)
        key = tuple(ir.ColumnRef(i) for i in range(desc.arity))
        dataflow = builder.finish(as_of=None, index_exports=(m.IndexExport("t_explain_idx", "t_explain", key, desc),),
                                  debug_name="explain")
    names.setdefault("t_explain", "(the query)")
    lines = [f"Physical Plan for {title}:"]
    document: dict[str, Any] = {"objects": [], "source_imports": [], "index_imports": [], "exports": []}
    for source in dataflow.source_imports:
        lines.append(f"  source import: {names.get(source.id, source.id)} (shard {source.shard})")
        document["source_imports"].append({"id": source.id, "name": names.get(source.id), "shard": source.shard})
    for imported in dataflow.index_imports:
        lines.append(f"  index import (shared arrangement): {names.get(imported.index_id)} on {names.get(imported.on_id)}")
        document["index_imports"].append({"index": names.get(imported.index_id), "on": names.get(imported.on_id)})
    for built in dataflow.objects_to_build:
        name = names.get(built.id, built.id)
        lines.append(f"  build {name}:")
        lines.extend("    " + line for line in plan_lines(built.plan, names, types_of=types_of))
        document["objects"].append({"id": name, "plan": plan_tree(built.plan, names, types_of)})
    for export in dataflow.index_exports:
        lines.append(f"  arrange {names.get(export.on_id, export.on_id)} by "
                     f"[{', '.join(str(k) for k in _key_text(export.key))}] (index export)")
        document["exports"].append({"kind": "index", "on": names.get(export.on_id, export.on_id)})
    for sink in dataflow.sink_exports:
        lines.append(f"  {sink.kind.value} sink of {names.get(sink.on_id, sink.on_id)}"
                     + (f" into shard {sink.shard}" if sink.shard else ""))
        document["exports"].append({"kind": sink.kind.value, "on": names.get(sink.on_id, sink.on_id)})
    if builder is not None:
        joins = join_import_lines(builder, names)
        lines.extend("  " + line for line in joins)
        document["joins"] = joins
    return _result(stage, fmt, lines, document)


def _key_text(key: tuple[ir.ScalarExpr, ...]) -> list[str]:
    return [scalar_text(k) for k in key]


async def _timestamp(adapter: "Adapter", select: p.SelectPlan, cluster_name: str,
                     fmt: ExplainFormat) -> tuple[RelationDesc, list[Row]]:
    coord = adapter.coordinator
    catalog = coord.catalog
    timestamp = await coord.read_timestamp()
    builder = DataflowBuilder(catalog, "", import_indexes=False)
    local = adapter.reads.is_local(select.expr)
    if not local:
        builder.add_object("t_explain", select.expr, select.desc)
    sources: list[dict[str, Any]] = []
    for source in builder.sources.values():
        since, upper = coord.store.frontiers(source.shard)
        sources.append({"name": catalog.items[source.id].qualified, "id": source.id, "since": since, "upper": upper})
    lines = [f"                query timestamp: {timestamp}",
             f"                          since: {max((s['since'] or 0 for s in sources), default=0)}",
             f"                          upper: {min((s['upper'] or 0 for s in sources), default=timestamp + 1)}",
             f"        can respond immediately: {str(all((s['upper'] or 0) > timestamp for s in sources)).lower()}",
             "                       timeline: EpochMilliseconds" if not local else
             "                       timeline: none (constants and system relations, evaluated in the coordinator)"]
    for entry in sources:
        lines.append(f"source {entry['name']} ({entry['id']}, storage):")
        lines.append(f"                  read frontier: {entry['since']}")
        lines.append(f"                 write frontier: {entry['upper']}")
    return _result(ExplainStage.TIMESTAMP, fmt, lines, {"query_timestamp": timestamp, "sources": sources})
