"""Planning ``SHOW CREATE {TABLE | VIEW | MATERIALIZED VIEW | INDEX | CLUSTER} name``: resolve the name and check its
kind (42809 ``"x" is not a view`` when it names something else, as Materialize says).  The statement text itself is
rebuilt from the catalog record by adapter/show_create.py, which can read records.
"""

from __future__ import annotations

from steadystate import errors
from steadystate.repr.objects import ItemKind
from steadystate.sql import plan as p
from steadystate.sql import statements as st
from steadystate.sql.catalog_api import PlanContext

_KIND_WORDS = {ItemKind.TABLE: "a table", ItemKind.VIEW: "a view", ItemKind.MATERIALIZED_VIEW: "a materialized view",
               ItemKind.INDEX: "an index"}


def plan_show_create(node: st.ShowCreate, ctx: PlanContext) -> p.ShowCreatePlan:
    if node.kind == "cluster":
        cluster_id, name = ctx.catalog.resolve_cluster(node.name[0])
        return p.ShowCreatePlan("cluster", cluster_id, name)
    item = ctx.catalog.resolve_item(node.name)
    if item.kind != node.kind:
        assert isinstance(node.kind, ItemKind)
        raise errors.WrongObjectType(f"{errors.quote_ident(str(item.name))} is not {_KIND_WORDS[node.kind]}")
    return p.ShowCreatePlan(node.kind, item.id, str(item.name))
