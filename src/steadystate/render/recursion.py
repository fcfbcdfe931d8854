"""Rendering a LetRec (recursive bindings): an inner dataflow per LetRec, iterated by ``dataflow.iterate``.

:func:`render_letrec` adds to the outer dataflow one :class:`~steadystate.dataflow.iterate.LetRecOperator` whose
inputs are the collections the bindings read from outside (every global id their values read), and one
:class:`~steadystate.dataflow.iterate.SelectBinding` per binding; the body is then rendered with each binding's
local id resolving to its selector, and the local ids leave scope again.

The operator's *inner program* (:class:`InnerDataflow`) is an ordinary rendered dataflow (the same renderer, so
every operator works inside a recursion) of its own: its sources are the outer inputs and the bindings (under
their local ids), its objects the bindings' values, read out through subscribe-style sinks.  Each push feeds one
inner time and steps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steadystate import errors
from steadystate.dataflow.collection import EMPTY, Delta, ErrDelta, EvalError, OkDelta, add_into
from steadystate.dataflow.iterate import LetRecOperator, SelectBinding
from steadystate.expr import ir
from steadystate.protocol.messages import BuildDesc, DataflowDescription, SinkExport, SinkKind, SourceImport
from steadystate.repr.types import Column, RelationDesc, ScalarType

if TYPE_CHECKING:
    from steadystate.render.dataflow import Rendered, RenderedDataflow


def _desc(types: list[ScalarType | None]) -> RelationDesc:
    return RelationDesc(tuple(Column(f"c{i}", t) for i, t in enumerate(types)))  # type: ignore[arg-type]


class InnerDataflow:
    """The bindings' values as a dataflow of their own (see the module docstring)."""

    def __init__(self, dataflow_class: type["RenderedDataflow"], expr: ir.LetRec,
                 outer: dict[str, list[ScalarType | None]]) -> None:
        sources = [SourceImport(item_id, "", _desc(types)) for item_id, types in outer.items()]
        sources += [SourceImport(b.id, "", _desc(list(b.types))) for b in expr.bindings]
        builds = tuple(BuildDesc(f"{b.id}:next", b.value, _desc(list(b.types))) for b in expr.bindings)
        self.sink_ids = tuple(f"{b.id}:out" for b in expr.bindings)
        sinks = tuple(SinkExport(sink_id, f"{b.id}:next", SinkKind.SUBSCRIBE, _desc(list(b.types)))
                      for sink_id, b in zip(self.sink_ids, expr.bindings))
        desc = DataflowDescription(tuple(sources), (), builds, (), sinks, as_of=0, debug_name="letrec")
        self.dataflow = dataflow_class(desc, {}, share_arrangements=False)
        self.source_ids = [s.id for s in sources]
        self.time = 0

    def push(self, feed: dict[str, Delta]) -> list[Delta]:
        time = self.time
        self.time += 1
        for source_id in self.source_ids:
            ok, err = feed.get(source_id, EMPTY)
            self.dataflow.feed(source_id, [(row, time, diff) for row, diff in ok.items()], time + 1,
                               [(tuple(error), time, diff) for error, diff in err.items()])
        self.dataflow.step()
        out: list[Delta] = []
        for sink_id in self.sink_ids:
            rows: OkDelta = {}
            for row, _time, diff in self.dataflow.drain_sink(sink_id):
                add_into(rows, row, diff)
            errs: ErrDelta = {}
            for error, _time, diff in self.dataflow.drain_sink_errors(sink_id):
                add_into(errs, EvalError(*error), diff)
            out.append((rows, errs))
        return out


_MONOTONE = (ir.Get, ir.Map, ir.Filter, ir.Project, ir.Join, ir.Union_, ir.Distinct, ir.ArrangeBy)


def _monotone(expr: ir.RelationExpr) -> bool:
    """Built only from operators whose output grows when their inputs grow (``dataflow.iterate``'s fast path)."""
    if isinstance(expr, ir.Constant):
        return all(diff > 0 for _, diff in expr.updates())
    return isinstance(expr, _MONOTONE) and all(_monotone(child) for child in ir.children(expr))


def render_letrec(dataflow: "RenderedDataflow", expr: ir.LetRec) -> "Rendered":
    local_ids = {b.id for b in expr.bindings}
    outer_ids = sorted(ir.depends_on_letrec(ir.LetRec(expr.bindings, ir.Constant.of([], 0), expr.limit)))
    outer_nodes: list[int] = []
    outer_types: dict[str, list[ScalarType | None]] = {}
    for item_id in outer_ids:
        node, types = dataflow._resolve(item_id)
        if types is None:
            raise errors.InternalError(f"cannot determine the column types of {errors.quote_ident(item_id)}")
        outer_nodes.append(node)
        outer_types[item_id] = list(types)
    program = InnerDataflow(type(dataflow), expr, outer_types)
    operator = LetRecOperator(
        tuple(outer_nodes), tuple(outer_ids), tuple(b.id for b in expr.bindings), tuple(b.name for b in expr.bindings),
        program, expr.limit, expr.limit_kind is ir.RecursionLimitKind.RETURN,
        monotone=not expr.explicit_limit and all(_monotone(b.value) for b in expr.bindings))
    node = dataflow.graph.add(operator)
    dataflow.letrecs.append(operator)
    saved: dict[str, Any] = {}
    for index, binding in enumerate(expr.bindings):
        if binding.id in dataflow._collections:
            saved[binding.id] = dataflow._collections[binding.id]
        selector = dataflow.graph.add(SelectBinding(node, index))
        dataflow._collections[binding.id] = (selector, list(binding.types))
    try:
        return dataflow._render(expr.body)
    finally:
        for binding_id in local_ids:
            dataflow._collections.pop(binding_id, None)
        dataflow._collections.update(saved)
        for subtree in [s for s in dataflow._rendered if ir.depends_on(s) & local_ids]:
            del dataflow._rendered[subtree]
