"""Building dataflow descriptions from the catalog (Materialize's "dataflow builder"), in import order.

Given the plan of what to compute on a cluster, :class:`DataflowBuilder` walks every ``Get`` in it:

* a relation with an index **on the same cluster** is imported as that index's arrangement
  (``IndexImport``: shared, not rebuilt — this is what makes arrangements shared);
* otherwise a view is inlined: its stored plan becomes an object to build, after whatever it reads;
* otherwise a table or materialized view is read from its shard (``SourceImport``).

System (builtin) relations cannot be maintained in a dataflow; queries over them run in the coordinator.
"""

from __future__ import annotations

from steadystate.catalog.state import CatalogState
from steadystate.errors import FeatureNotSupported
from steadystate.expr.ir import RelationExpr, ScalarExpr, decode_plan, depends_on
from steadystate.expr.temporal_filter import contains_mz_now
from steadystate.protocol import messages as m
from steadystate.repr.types import RelationDesc
from steadystate.repr.objects import ItemKind, id_order


class DataflowBuilder:
    def __init__(
        self, state: CatalogState, cluster_id: str, exclude_relation: str | None = None, import_indexes: bool = True,
        skip_indexes: frozenset[str] = frozenset(),
    ) -> None:
        self.state = state
        self.skip_indexes = skip_indexes  # indexes that run nowhere (failed at start-up): never imported
        self.cluster_id = cluster_id
        # SUBSCRIBE dataflows read their sources: an imported arrangement holds only its current state, so its
        # snapshot would be at its own frontier, not at the subscribe's as_of, and differ between replicas
        self.import_indexes = import_indexes
        # an index's own dataflow never imports indexes on the relation it indexes: that keeps the import graph
        # acyclic (it follows the dependency graph of relations, which is acyclic)
        self.exclude_relation = exclude_relation
        self.sources: dict[str, m.SourceImport] = {}
        self.index_imports: dict[str, m.IndexImport] = {}
        self.objects: list[m.BuildDesc] = []
        self._visited: set[str] = set()

    def import_or_build(self, item_id: str) -> None:
        if item_id in self._visited:
            return
        self._visited.add(item_id)
        for index in sorted(self.state.indexes_on(item_id, self.cluster_id), key=lambda i: id_order(i.id)):
            if index.id in self.skip_indexes:
                continue
            if item_id == self.exclude_relation or not self.import_indexes:
                break
            indexed = self.state.items[item_id]
            assert indexed.desc is not None
            self.index_imports[index.id] = m.IndexImport(index.id, item_id, index.key, indexed.desc)
            return
        item = self.state.items.get(item_id)
        if item is None:
            name = self.state.describe(item_id)
            raise FeatureNotSupported(
                f"system relation {name} cannot be used in a maintained dataflow",
                hint="query system relations on their own, without joining them to user data",
            )
        if item.kind == ItemKind.VIEW:
            assert item.plan is not None and item.desc is not None
            plan = decode_plan(item.plan)
            for dependency in sorted(depends_on(plan)):
                self.import_or_build(dependency)
            self.objects.append(m.BuildDesc(item_id, plan, item.desc))
        elif item.kind.has_a_shard:
            assert item.shard is not None and item.desc is not None
            errors = m.errors_shard_of(item.shard) if item.kind == ItemKind.MATERIALIZED_VIEW else None
            self.sources[item_id] = m.SourceImport(item_id, item.shard, item.desc, errors)
        else:
            raise FeatureNotSupported(f"cannot read {item.kind} {item.qualified} in a dataflow")

    def add_object(self, object_id: str, plan: RelationExpr, desc: RelationDesc) -> None:
        """Build ``plan`` as ``object_id`` after everything it reads."""
        for dependency in sorted(depends_on(plan)):
            self.import_or_build(dependency)
        self._visited.add(object_id)
        self.objects.append(m.BuildDesc(object_id, plan, desc))

    def finish(
        self,
        *,
        as_of: int | None,
        index_exports: tuple[m.IndexExport, ...] = (),
        sink_exports: tuple[m.SinkExport, ...] = (),
        debug_name: str,
    ) -> m.DataflowDescription:
        if not self.sources and not self.index_imports and contains_mz_now(tuple(o.plan for o in self.objects)):
            # no input ever advances such a dataflow's frontier: the time its filter waits for would never come
            raise FeatureNotSupported("temporal filters over constant collections are not supported",
                                      hint="Read the rows from a table.")
        return m.DataflowDescription(
            source_imports=tuple(self.sources[k] for k in sorted(self.sources)),
            index_imports=tuple(self.index_imports[k] for k in sorted(self.index_imports)),
            objects_to_build=tuple(self.objects),
            index_exports=index_exports,
            sink_exports=sink_exports,
            as_of=as_of,
            debug_name=debug_name,
        )


def index_dataflow(
    state: CatalogState,
    cluster_id: str,
    index_id: str,
    on_id: str,
    key: tuple[ScalarExpr, ...],
    as_of: int | None,
    debug_name: str,
    skip_indexes: frozenset[str] = frozenset(),
) -> m.DataflowDescription:
    """The dataflow that maintains index ``index_id`` on relation ``on_id``."""
    builder = DataflowBuilder(state, cluster_id, exclude_relation=on_id, skip_indexes=skip_indexes)
    item = state.items[on_id]
    assert item.desc is not None
    if item.kind == ItemKind.VIEW:
        assert item.plan is not None
        builder.add_object(on_id, decode_plan(item.plan), item.desc)
    else:
        builder.import_or_build(on_id)
    export = m.IndexExport(index_id, on_id, key, item.desc)
    return builder.finish(as_of=as_of, index_exports=(export,), debug_name=debug_name)


def import_order(descs: dict[str, m.DataflowDescription]) -> list[str]:
    """Export ids ordered so that every dataflow comes after the dataflows whose indexes it imports."""
    producer = {export_id: key for key, desc in descs.items() for export_id in desc.export_ids}
    ordered: list[str] = []
    placed: set[str] = set()

    def place(key: str, visiting: frozenset[str]) -> None:
        if key in placed:
            return
        if key in visiting:
            raise ValueError(f"dataflow {key} imports itself through {sorted(visiting)}")
        for imported in descs[key].index_imports:
            if imported.index_id in producer:
                place(producer[imported.index_id], visiting | {key})
        placed.add(key)
        ordered.append(key)

    for key in sorted(descs, key=id_order):
        place(key, frozenset())
    return ordered
