"""Authorization: what each statement requires, checked in one place before it runs.

:data:`REQUIREMENTS` maps each plan class to the function listing what the statement needs (:class:`Need`):
a privilege on an object (held by the session's role, or, for what a view reads, by the view's owner), a role
attribute, or ownership.  :func:`authorize` (called by the session for every plan, before sequencing) checks
them with adapter/privileges.py's model and refuses the first unmet one with 42501, naming the object and
the privilege as Materialize does::

    ERROR:  permission denied for TABLE "materialize.public.t"
    DETAIL:  The 'joe' role needs SELECT privileges on TABLE "materialize.public.t"

A plan class with no entry needs nothing here (``tests/adapter/test_authorization.py`` checks that every plan
class has an entry, so a new statement is a conscious decision).  Checks that depend on state only the
sequencer knows stay there: ownership for DROP, ALTER CLUSTER and CREATE CLUSTER REPLICA (adapter/ddl.py,
adapter/readiness.py ``check_owner``), and the rules about roles (adapter/grants.py).

What each statement needs (Materialize's rules, simplified where noted):

* reading a relation (SELECT, SUBSCRIBE, COPY TO, the query of INSERT ... SELECT, a view's body at CREATE):
  SELECT on it and USAGE on its schema; for a view or materialized view, its owner needs SELECT on what it
  reads, recursively (so a view cannot launder access); USAGE on the session's cluster unless the query reads
  only system relations or constants (those run in the coordinator);
* INSERT / COPY FROM: INSERT on the table; UPDATE: UPDATE, and SELECT when it reads the table's columns;
  DELETE: DELETE, and SELECT with a WHERE clause (PostgreSQL's rule); RETURNING: SELECT on the table;
  UPDATE ... FROM / DELETE ... USING: what the FROM / USING items read;
* DECLARE: what its query reads; CREATE DATABASE: the CREATEDB attribute; DROP DATABASE: ownership;
  COMMENT ON, ALTER ... RENAME and SWAP: ownership of each object (checked where the names are resolved:
  adapter/comments.py, adapter/renames.py);
* CREATE TABLE / VIEW: CREATE on the schema; CREATE MATERIALIZED VIEW: also CREATE on its cluster;
  CREATE INDEX: ownership of the relation, CREATE on the schema and on the cluster;
  CREATE SCHEMA: CREATE on the database; CREATE CLUSTER: the CREATECLUSTER attribute; DROP SCHEMA: ownership;
* GRANT / REVOKE on objects: ownership of each object; GRANT / REVOKE of roles: CREATEROLE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from steadystate.adapter.privileges import (
    Attribute,
    Obj,
    Privilege,
    cluster_obj,
    database_obj,
    has_attribute,
    has_privilege,
    item_obj,
    owns,
    schema_obj,
)
from steadystate.catalog.state import CatalogState
from steadystate.errors import InsufficientPrivilege
from steadystate.expr.ir import RelationExpr, ScalarExpr, depends_on, depends_on_columns
from steadystate.repr.objects import ItemKind
from steadystate.sql import plan as p


@dataclass(frozen=True)
class Need:
    """One requirement: ``privilege`` on ``obj`` held by ``role``; or ``attribute``; or ownership of ``obj``."""

    role: str
    obj: Obj | None = None
    privilege: Privilege | None = None
    attribute: Attribute | None = None
    owner: bool = False


@dataclass(frozen=True)
class AuthContext:
    state: CatalogState
    user: str
    cluster: str  # the session's cluster variable
    is_local: Callable[[RelationExpr], bool]  # whether a query runs in the coordinator (no cluster needed)


def _item(ctx: AuthContext, item_id: str) -> Any:
    return ctx.state.items.get(item_id) or ctx.state.builtins.get(item_id)


def reads(ctx: AuthContext, expr: RelationExpr, cluster: bool = True) -> Iterator[Need]:
    """What reading ``expr`` needs (see the module docstring)."""
    for item_id in sorted(depends_on(expr)):
        item = _item(ctx, item_id)
        if item is None:
            continue
        yield Need(ctx.user, item_obj(item), Privilege.SELECT)
        yield Need(ctx.user, schema_obj(ctx.state, item.database, item.schema), Privilege.USAGE)
        yield from _owner_reads(ctx, item, set())
    if cluster and not ctx.is_local(expr):
        record = ctx.state.cluster_by_name(ctx.cluster)
        if record is not None:  # an unknown cluster fails when the read runs (42704)
            yield Need(ctx.user, cluster_obj(record), Privilege.USAGE)


def _owner_reads(ctx: AuthContext, item: Any, seen: set[str]) -> Iterator[Need]:
    if getattr(item, "kind", None) not in (ItemKind.VIEW, ItemKind.MATERIALIZED_VIEW) or item.id in seen:
        return
    seen.add(item.id)
    for dep_id in item.depends_on:
        dep = _item(ctx, dep_id)
        if dep is not None:
            yield Need(item.owner, item_obj(dep), Privilege.SELECT)
            yield from _owner_reads(ctx, dep, seen)


def _schema_create(ctx: AuthContext, name: p.QualifiedName) -> Iterator[Need]:
    if ctx.state.schema_exists(name.database, name.schema):  # else the DDL fails with 3F000
        yield Need(ctx.user, schema_obj(ctx.state, name.database, name.schema), Privilege.CREATE)


def _cluster(ctx: AuthContext, cluster_id: str, privilege: Privilege) -> Iterator[Need]:
    record = ctx.state.clusters.get(cluster_id)
    if record is not None:
        yield Need(ctx.user, cluster_obj(record), privilege)


def _table(ctx: AuthContext, table_id: str, privilege: Privilege) -> Iterator[Need]:
    item = _item(ctx, table_id)
    if item is not None:
        yield Need(ctx.user, item_obj(item), privilege)
        yield Need(ctx.user, schema_obj(ctx.state, item.database, item.schema), Privilege.USAGE)


def _reads_columns(exprs: Iterable[ScalarExpr]) -> bool:
    return any(depends_on_columns(e) for e in exprs)


def _create_table(plan: p.CreateTablePlan, ctx: AuthContext) -> Iterator[Need]:
    yield from _schema_create(ctx, plan.name)


def _create_view(plan: p.CreateViewPlan, ctx: AuthContext) -> Iterator[Need]:
    yield from _schema_create(ctx, plan.name)
    yield from reads(ctx, plan.expr, cluster=False)


def _create_mv(plan: p.CreateMaterializedViewPlan, ctx: AuthContext) -> Iterator[Need]:
    yield from _schema_create(ctx, plan.name)
    yield from _cluster(ctx, plan.cluster_id, Privilege.CREATE)
    yield from reads(ctx, plan.expr, cluster=False)


def _create_index(plan: p.CreateIndexPlan, ctx: AuthContext) -> Iterator[Need]:
    on = _item(ctx, plan.on_id)
    if on is not None:
        yield Need(ctx.user, item_obj(on), owner=True)
    yield from _schema_create(ctx, plan.name or plan.on_name)
    yield from _cluster(ctx, plan.cluster_id, Privilege.CREATE)


def _insert(plan: p.InsertPlan, ctx: AuthContext) -> Iterator[Need]:
    yield from _table(ctx, plan.table_id, Privilege.INSERT)
    yield from reads(ctx, plan.expr)
    if plan.returning:  # RETURNING reads the rows written (PostgreSQL's rule: SELECT on the table)
        yield from _table(ctx, plan.table_id, Privilege.SELECT)


def _update(plan: p.UpdatePlan, ctx: AuthContext) -> Iterator[Need]:
    yield from _table(ctx, plan.table_id, Privilege.UPDATE)
    if _reads_columns([*plan.predicates, *(e for _, e in plan.assignments)]) or plan.returning:
        yield from _table(ctx, plan.table_id, Privilege.SELECT)
    if plan.other is not None:  # UPDATE ... FROM reads its FROM items
        yield from reads(ctx, plan.other)


def _delete(plan: p.DeletePlan, ctx: AuthContext) -> Iterator[Need]:
    yield from _table(ctx, plan.table_id, Privilege.DELETE)
    if _reads_columns(plan.predicates) or plan.returning:
        yield from _table(ctx, plan.table_id, Privilege.SELECT)
    if plan.other is not None:  # DELETE ... USING reads its USING items
        yield from reads(ctx, plan.other)


def _grant_privileges(plan: p.GrantPrivilegesPlan, ctx: AuthContext) -> Iterator[Need]:
    for obj in objects_of(ctx.state, plan.object_type, plan.objects):
        yield Need(ctx.user, obj, owner=True)


def objects_of(state: CatalogState, object_type: str, ids: Iterable[str]) -> Iterator[Obj]:
    """The objects a GRANT/REVOKE names (the planner resolved them)."""
    for object_id in ids:
        if object_type == "TABLE":
            item = state.items.get(object_id) or state.builtins.get(object_id)
            if item is not None:
                yield item_obj(item)
        elif object_type == "CLUSTER":
            cluster = state.clusters.get(object_id)
            if cluster is not None:
                yield cluster_obj(cluster)
        elif object_type == "SCHEMA":
            database, schema = object_id.split(".", 1)
            yield schema_obj(state, database, schema)
        else:
            yield database_obj(object_id)


def _nothing(plan: Any, ctx: AuthContext) -> Iterator[Need]:
    return iter(())


#: what each statement needs; ``_nothing`` where the sequencer checks (ownership, roles) or nothing is needed
REQUIREMENTS: dict[type, Callable[[Any, AuthContext], Iterable[Need]]] = {
    p.CreateTablePlan: _create_table,
    p.CreateViewPlan: _create_view,
    p.CreateMaterializedViewPlan: _create_mv,
    p.CreateIndexPlan: _create_index,
    p.CreateClusterPlan: lambda plan, ctx: [Need(ctx.user, attribute=Attribute.CREATECLUSTER)],
    p.CreateClusterReplicaPlan: _nothing,  # ownership of the cluster: adapter/ddl.py
    p.DropObjectsPlan: _nothing,  # ownership: adapter/ddl.py
    p.DropClusterPlan: _nothing,
    p.DropClusterReplicaPlan: _nothing,
    p.AlterClusterPlan: _nothing,  # ownership: adapter/readiness.py check_owner
    p.CreateRolePlan: _nothing,  # CREATEROLE, and superuser for SUPERUSER: adapter/grants.py
    p.AlterRolePlan: _nothing,
    p.AlterSystemPlan: _nothing,  # superuser only: adapter/limits.py alter_system
    p.AlterDefaultPrivilegesPlan: _nothing,  # membership in the target role: adapter/default_privileges.py
    p.DropRolePlan: _nothing,
    p.CreateSchemaPlan: lambda plan, ctx: [Need(ctx.user, database_obj(plan.database, ctx.state), Privilege.CREATE)]
    if plan.database in ctx.state.databases() else [],
    p.DropSchemaPlan: lambda plan, ctx: [Need(ctx.user, schema_obj(ctx.state, plan.database, plan.name), owner=True)]
    if ctx.state.schema_exists(plan.database, plan.name) else [],
    p.InsertPlan: _insert,
    p.UpdatePlan: _update,
    p.DeletePlan: _delete,
    p.SelectPlan: lambda plan, ctx: reads(ctx, plan.expr),
    p.SubscribePlan: lambda plan, ctx: reads(ctx, plan.expr),
    p.CopyFromPlan: lambda plan, ctx: _table(ctx, plan.table_id, Privilege.INSERT),
    p.CopyToPlan: lambda plan, ctx: reads(ctx, plan.select.expr),
    p.ExplainPlan: _nothing,  # explains, reads no data
    p.SetVariablePlan: _nothing,
    p.ResetVariablePlan: _nothing,
    p.ShowVariablePlan: _nothing,
    p.ShowObjectsPlan: _nothing,
    p.TransactionPlan: _nothing,
    p.DiscardPlan: _nothing,
    p.DeallocatePlan: _nothing,
    p.GrantPrivilegesPlan: _grant_privileges,
    p.GrantRolePlan: lambda plan, ctx: [Need(ctx.user, attribute=Attribute.CREATEROLE)],
    p.DeclarePlan: lambda plan, ctx: REQUIREMENTS[type(plan.query)](plan.query, ctx),  # what its query reads
    p.FetchPlan: _nothing,  # the cursor's DECLARE was checked
    p.ClosePlan: _nothing,
    p.ShowCreatePlan: _nothing,  # definitions are in the catalog relations PUBLIC reads
    p.ShowColumnsPlan: _nothing,
    p.CommentPlan: _nothing,  # ownership of the object named: adapter/comments.py (check_owner)
    p.AlterNamePlan: _nothing,  # ownership of each object renamed or swapped: adapter/renames.py (check_owner)
    p.CreateDatabasePlan: lambda plan, ctx: [Need(ctx.user, attribute=Attribute.CREATEDB)],
    p.DropDatabasePlan: lambda plan, ctx: [Need(ctx.user, database_obj(plan.name, ctx.state), owner=True)]
    if plan.name in ctx.state.databases() else [],
}


def check_owner(state: CatalogState, role: str, obj: Obj) -> None:
    """Refuse (42501) unless ``role`` owns ``obj`` (directly, through a role it is a member of, or as superuser)."""
    if not owns(state, role, obj.owner):
        raise refusal(Need(role, obj, owner=True))


def refusal(need: Need) -> InsufficientPrivilege:
    if need.attribute is not None:
        word = need.attribute.value.upper()
        return InsufficientPrivilege(
            "permission denied for SYSTEM", detail=f"The '{need.role}' role needs {word} privileges on SYSTEM",
            hint=f"a superuser (or a role with CREATEROLE) can ALTER ROLE {need.role} {word}")
    assert need.obj is not None
    if need.owner:
        return InsufficientPrivilege(f"must be owner of {need.obj}",
                                     detail=f"The '{need.role}' role is not the owner of {need.obj}",
                                     hint=f"it is owned by {need.obj.owner or 'the system'}; a superuser or "
                                          "the owner can do this")
    assert need.privilege is not None
    return InsufficientPrivilege(
        f"permission denied for {need.obj}",
        detail=f"The '{need.role}' role needs {need.privilege.value} privileges on {need.obj}",
        hint=f"the owner of {need.obj} or a superuser can GRANT {need.privilege.value} ON "
             f"{need.obj.type.value.upper()} {need.obj.name} TO {need.role}")


def satisfied(state: CatalogState, need: Need) -> bool:
    if need.attribute is not None:
        return has_attribute(state, need.role, need.attribute)
    assert need.obj is not None
    if need.owner:
        return owns(state, need.role, need.obj.owner)
    assert need.privilege is not None
    return has_privilege(state, need.role, need.obj, need.privilege)


def authorize(plan: object, ctx: AuthContext) -> None:
    """Refuse ``plan`` (42501) unless the session's role (and the owners of the views it reads) hold what it
    needs.  A superuser holds everything."""
    requirements = REQUIREMENTS.get(type(plan))
    if requirements is None:
        return
    for need in requirements(plan, ctx):
        if not satisfied(ctx.state, need):
            raise refusal(need)
