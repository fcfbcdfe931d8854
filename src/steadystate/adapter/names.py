"""Name resolution for the planner (the real catalog behind ``sql.catalog_api.PlanCatalog``), and the
optimizer applied to every plan with the catalog's column types (:func:`optimize_plan`).

:class:`SessionCatalog` binds the coordinator's :class:`~steadystate.catalog.state.CatalogState` to one
session's defaults (database, schema) and answers the planner's questions with PostgreSQL's errors:
``relation "x" does not exist`` (42P01), ``unknown cluster "x"`` (42704).
"""

from __future__ import annotations

from steadystate.adapter import privileges as pv
from steadystate.catalog.builtins import BuiltinRelation
from steadystate.catalog.records import ItemRecord
import dataclasses
from typing import TypeVar

from steadystate.adapter.pg_catalog import database_oid, object_oid, schema_oid
from steadystate.catalog.state import SYSTEM_SCHEMAS, CatalogState
from steadystate.expr.infer import Types
from steadystate.expr.optimize import optimize
from steadystate.errors import UndefinedObject, UndefinedTable, quote_ident
from steadystate.sql import plan as p
from steadystate.sql.statements import ExplainStage
from steadystate.sql.catalog_api import QualifiedName, ResolvedItem
from steadystate.repr.objects import ItemKind


def resolved(item: ItemRecord | BuiltinRelation) -> ResolvedItem:
    if isinstance(item, BuiltinRelation):
        return ResolvedItem(item.id, QualifiedName(item.database, item.schema, item.name), ItemKind.BUILTIN, item.desc)
    return ResolvedItem(
        item.id,
        QualifiedName(item.database, item.schema, item.name),
        item.kind,
        item.desc,
        cluster_id=item.cluster_id,
        on_id=item.on_id,
        defaults=item.defaults,
        time_zone=item.zone,
    )


class SessionCatalog:
    def __init__(self, state: CatalogState, database: str, schema: str) -> None:
        self.state = state
        self.database = database
        self.schema = schema

    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        found = self.state.resolve_parts(tuple(parts), self.database, self.schema)
        if found is None:
            raise UndefinedTable(f"relation {quote_ident('.'.join(parts))} does not exist")
        return resolved(found)

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        cluster = self.state.cluster_by_name(name)
        if cluster is None:
            raise UndefinedObject(
                f"unknown cluster {quote_ident(name)}", hint="SHOW CLUSTERS lists the clusters that exist"
            )
        return cluster.id, cluster.name

    def has_privilege(self, role: str, object_type: str, parts: tuple[str, ...], privileges: tuple[str, ...]) -> bool:
        """Whether ``role`` holds any of ``privileges`` on the named object (the has_*_privilege functions)."""
        if self.state.role_by_name(role) is None:
            raise UndefinedObject(f"role {quote_ident(role)} does not exist")
        obj: pv.Obj
        if object_type == "TABLE":
            found = self.state.resolve_parts(parts, self.database, self.schema)
            if found is None:
                raise UndefinedTable(f"relation {quote_ident('.'.join(parts))} does not exist")
            obj = pv.item_obj(found)
        elif object_type == "CLUSTER":
            cluster_id, _ = self.resolve_cluster(".".join(parts))
            obj = pv.cluster_obj(self.state.clusters[cluster_id])
        elif object_type == "SCHEMA":
            database, schema = (parts[0], parts[1]) if len(parts) == 2 else (self.database, parts[-1])
            if not self.state.schema_exists(database, schema):
                raise UndefinedObject(f"schema {quote_ident(schema)} does not exist", sqlstate="3F000")
            obj = pv.schema_obj(self.state, database, schema)
        else:
            if ".".join(parts) not in self.state.databases():
                raise UndefinedObject(f"database {quote_ident('.'.join(parts))} does not exist", sqlstate="3D000")
            obj = pv.database_obj(".".join(parts))
        return any(pv.has_privilege(self.state, role, obj, pv.Privilege(name)) for name in privileges)

    def privilege_oids(self, role: str, object_type: str, privileges: tuple[str, ...]) -> tuple[list[int], list[int]]:
        """The has_*_privilege functions asked per row by oid: (the oids of the objects of ``object_type`` that
        ``role`` holds any of ``privileges`` on, the oids of the others), with pg_catalog's oids (pg_class: the
        catalog's relations; pg_namespace: the session database's schemas; pg_database)."""
        if self.state.role_by_name(role) is None:
            raise UndefinedObject(f"role {quote_ident(role)} does not exist")
        objects: list[tuple[int, pv.Obj]]
        if object_type == "TABLE":
            objects = [(object_oid(item.id), pv.item_obj(item)) for item in self.state.items.values()]
        elif object_type == "SCHEMA":
            objects = [(schema_oid(name), pv.schema_obj(self.state, self.database, name))
                       for name in self.state.schema_names(self.database) | SYSTEM_SCHEMAS]
        else:
            objects = [(database_oid(name), pv.database_obj(name, self.state)) for name in self.state.databases()]
        held: list[int] = []
        other: list[int] = []
        for oid, obj in objects:
            holds = any(pv.has_privilege(self.state, role, obj, pv.Privilege(name)) for name in privileges)
            (held if holds else other).append(oid)
        return held, other

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        if len(parts) == 3:
            return QualifiedName(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            return QualifiedName(self.database, parts[0], parts[1])
        return QualifiedName(self.database, self.schema, parts[0])


PlanT = TypeVar("PlanT", bound=p.Plan)

_OPTIMIZED = (p.SelectPlan, p.SubscribePlan, p.CreateViewPlan, p.CreateMaterializedViewPlan, p.InsertPlan)


def optimize_plan(plan: PlanT, state: CatalogState) -> PlanT:
    """The plan with its relation expression optimized (``expr.optimize``); other plans unchanged."""

    def types_of(item_id: str) -> Types | None:
        item = state.items.get(item_id) or state.builtins.get(item_id)
        desc = item.desc if item is not None else None
        return desc.types if desc is not None else None

    if isinstance(plan, _OPTIMIZED):
        return dataclasses.replace(plan, expr=optimize(plan.expr, types_of))
    if isinstance(plan, p.CopyToPlan):
        return dataclasses.replace(plan, select=optimize_plan(plan.select, state))
    if isinstance(plan, p.ExplainPlan) and isinstance(plan.target, p.SelectPlan) \
            and plan.stage is not ExplainStage.DECORRELATED:  # the planner's output as it is
        return dataclasses.replace(plan, target=optimize_plan(plan.target, state))
    return plan
