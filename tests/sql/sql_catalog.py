"""A dict-backed PlanCatalog for planner tests (the real catalog is tested end to end)."""

from __future__ import annotations

from steadystate import errors
from steadystate.repr.types import Column, RelationDesc, ScalarType as T
from steadystate.sql.catalog_api import QualifiedName, ResolvedItem


class DictCatalog:
    def __init__(self) -> None:
        def rel(*cols: tuple[str, T, bool]) -> RelationDesc:
            return RelationDesc(tuple(Column(n, t, nl) for n, t, nl in cols))

        name = lambda item, schema="public": QualifiedName("materialize", schema, item)  # noqa: E731
        self.items = {
            "t": ResolvedItem("u1", name("t"), "table", rel(("a", T.INT4, False), ("b", T.TEXT, True), ("c", T.FLOAT8, True))),
            "u": ResolvedItem("u2", name("u"), "table", rel(("a", T.INT4, True), ("d", T.DATE, True))),
            "v": ResolvedItem("u3", name("v"), "view", rel(("x", T.INT8, True))),
            "i": ResolvedItem("u4", name("i"), "index", None, cluster_id="c1", on_id="u1"),
            "mz_clusters": ResolvedItem("s1", name("mz_clusters", "mz_catalog"), "builtin", rel(("id", T.TEXT, False), ("name", T.TEXT, False))),
        }
        self.clusters = {"quickstart": "c1", "prod": "c2"}

    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        item = self.items.get(parts[-1])
        if item is None or (len(parts) > 1 and parts[-2] != item.name.schema):
            raise errors.UndefinedTable(f"relation {errors.quote_ident('.'.join(parts))} does not exist")
        return item

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        if name not in self.clusters:
            raise errors.UndefinedObject(f"unknown cluster {errors.quote_ident(name)}")
        return self.clusters[name], name

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        full = ("materialize", "public")[: 3 - len(parts)] + tuple(parts)
        return QualifiedName(*full)
