"""``plan(statement, ctx) -> Plan``: turn a parsed statement into a plan for the adapter to sequence.

Dispatch is a ``match`` on the statement node's class (``sql.statements.Node``; mypy checks it is exhaustive
with ``assert_never``); queries are planned by sql/query.py, DML and DDL here.  Names resolve through
``ctx.catalog`` (sql/catalog_api.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, assert_never

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import ColumnRef, Constant, Literal, Map, Project, RelationExpr, ScalarExpr, Union_
from steadystate.expr import statement_time, temporal_filter
from steadystate.repr.typmod import TypeMod
from steadystate.repr.types import Column, RelationDesc, ScalarType
from steadystate.sql import pg_compat, session_zone
from steadystate.sql import plan as p
from steadystate.sql import statements as st
from steadystate.sql.options import (
    ALTER_CLUSTER_OPTIONS, CLUSTER_OPTIONS, REPLICA_OPTIONS, copy_options, honoured, options_dict,
)
from steadystate.sql.catalog_api import PlanContext, ResolvedItem
from steadystate.sql.query import new_state, plan_query, plan_subquery
from steadystate.sql.relation import QueryState, Rel, arg, conjuncts
from steadystate.sql.scalar import plan_expr
from steadystate.sql.dml_extras import check_target_not_in_other, plan_other, plan_returning
from steadystate.sql.show_create import plan_show_create
from steadystate.sql.subscribe_plan import plan_fetch, plan_subscribe
from steadystate.sql.typed import Scope, ScopeColumn, Typed, coerce, literal_datum, output_name, require_bool
from steadystate.sql import types as ty
from steadystate.repr.objects import ItemKind
from steadystate.security.scram import is_verifier, make_verifier

T = ScalarType


def plan(statement: st.Statement | st.Node, ctx: PlanContext) -> p.Plan:
    """The plan of a parsed statement (or of its bare node): one case per kind of statement node."""
    node, sql_text = (statement.node, statement.sql) if isinstance(statement, st.Statement) else (statement, None)
    if isinstance(node, _MAINTAINED) or (isinstance(node, st.CopyTo) and isinstance(node.query, st.Subscribe)):
        # what these define is maintained (or a DEFAULT): now() would go stale; what it computes in the
        # session's TimeZone is recorded on it (sql/session_zone.py)
        ctx = replace(ctx, now=None, zone_uses=set())
        planned = _plan_node(node, ctx, sql_text)
        for field in ("expr", "defaults", "key"):  # mz_now() only in temporal filters (expr.temporal_filter)
            temporal_filter.check_maintained(getattr(planned, field, None))
        if ctx.zone_uses and isinstance(planned, _ZONED_ITEMS):
            planned = replace(planned, time_zone=session_zone.setting(ctx))
        return planned
    return _plan_node(node, ctx, sql_text)


def _plan_node(node: st.Node, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    match node:
        case exp.Query() | exp.Values():
            return plan_select(node, ctx, sql_text)
        case exp.Insert():
            return _insert(node, ctx, sql_text)
        case exp.Update():
            return _update(node, ctx, sql_text)
        case exp.Delete():
            return _delete(node, ctx, sql_text)
        case exp.Create():
            return _create(node, ctx, sql_text)
        case exp.Expr():  # any other sqlglot statement
            raise errors.FeatureNotSupported(f"{type(node).__name__} statements are not supported")
        case st.CreateView():
            return _create_view(node, ctx, sql_text)
        case st.CreateIndex():
            return _create_index(node, ctx, sql_text)
        case st.CreateCluster():
            return _create_cluster(node, ctx, sql_text)
        case st.CreateClusterReplica():
            return _create_cluster_replica(node, ctx, sql_text)
        case st.DropCluster():
            return _drop_cluster(node, ctx, sql_text)
        case st.DropClusterReplica():
            return _drop_cluster_replica(node, ctx, sql_text)
        case st.DropObjects():
            return _drop_objects(node, ctx, sql_text)
        case st.AlterCluster():
            return _alter_cluster(node, ctx, sql_text)
        case st.CreateSchema():
            database, name = _schema_name(node.name, ctx)
            return p.CreateSchemaPlan(database, name, node.if_not_exists)
        case st.DropSchema():
            database, name = _schema_name(node.name, ctx)
            return p.DropSchemaPlan(database, name, node.if_exists, node.cascade)
        case st.CommentOn():
            return p.CommentPlan(node.target, node.name, node.comment, ctx.database, ctx.schema)
        case st.AlterName():
            return p.AlterNamePlan(node.target, node.name, node.new_name, node.swap, node.if_exists, ctx.database,
                                   ctx.schema)
        case st.CreateDatabase():
            return p.CreateDatabasePlan(node.name, node.if_not_exists)
        case st.DropDatabase():
            return p.DropDatabasePlan(node.name, node.if_exists, node.cascade)
        case st.CreateRole():
            return p.CreateRolePlan(node.name, node.superuser, _verifier(node.password), node.attributes)
        case st.AlterDefaultPrivileges():
            return _alter_default_privileges(node, ctx)
        case st.AlterSystem():
            return p.AlterSystemPlan(node.name, node.value)
        case st.AlterRole():
            return p.AlterRolePlan(node.name, node.superuser, _verifier(node.password), node.clear_password,
                                   node.attributes)
        case st.GrantPrivileges():
            return _grant_privileges(node, ctx)
        case st.GrantRole():
            return p.GrantRolePlan(node.roles, node.members, node.revoke)
        case st.DropRole():
            return p.DropRolePlan(node.name, node.if_exists)
        case st.SetVariable():
            return p.SetVariablePlan(node.name, node.value, node.local)
        case st.ResetVariable():
            return p.ResetVariablePlan(node.name)
        case st.ShowVariable():
            return p.ShowVariablePlan(node.name)
        case st.ShowObjects():
            return _show_objects(node, ctx, sql_text)
        case st.Subscribe():
            return _subscribe(node, ctx, sql_text)
        case st.CopyFrom():
            return _copy_from(node, ctx, sql_text)
        case st.CopyTo():
            return _copy_to(node, ctx, sql_text)
        case st.Explain():
            return _explain(node, ctx, sql_text)
        case st.Transaction():
            return p.TransactionPlan(node.action, node.savepoint, node.read_only)
        case st.Discard():
            return p.DiscardPlan(node.what)
        case st.Deallocate():
            return p.DeallocatePlan(node.name)
        case st.Declare():
            inner = plan_subscribe(node.query, replace(ctx, now=None)) if isinstance(node.query, st.Subscribe) \
                else plan_select(node.query, ctx, node.query_sql)
            return p.DeclarePlan(node.name, inner, inner.param_types)
        case st.Fetch():
            return plan_fetch(node)
        case st.Close():
            return p.ClosePlan(node.name)
        case st.ShowCreate():
            return plan_show_create(node, ctx)
        case st.ShowColumns():
            return p.ShowColumnsPlan(ctx.catalog.resolve_item(node.on))
        case _:
            assert_never(node)


#: statements whose expressions are evaluated later and again (views, indexes, subscriptions, column DEFAULTs)
_MAINTAINED = (st.CreateView, st.CreateIndex, st.Subscribe, exp.Create)
#: the plans of items that record the TimeZone they depend on (sql/session_zone.py)
_ZONED_ITEMS = (p.CreateViewPlan, p.CreateMaterializedViewPlan, p.CreateTablePlan)



def _alter_default_privileges(node: st.AlterDefaultPrivileges, ctx: PlanContext) -> p.AlterDefaultPrivilegesPlan:
    """The scopes named, qualified (the adapter checks they exist)."""
    scopes: list[tuple[str | None, str | None]] = [_schema_name(name, ctx) for name in node.schemas]
    scopes += [(database, None) for database in node.databases]
    roles = node.roles if node.roles != () else (ctx.user,)
    return p.AlterDefaultPrivilegesPlan(roles, tuple(scopes) or ((None, None),), node.privileges, node.object_type,
                                        node.grantees, node.revoke)


def _grant_privileges(node: st.GrantPrivileges, ctx: PlanContext) -> p.GrantPrivilegesPlan:
    """Resolve the objects of a GRANT/REVOKE (unknown ones fail as they do elsewhere: 42P01, 42704, 3F000)."""
    objects: list[str] = []
    for name in node.names:
        if node.object_type == "TABLE":
            objects.append(ctx.catalog.resolve_item(name).id)
        elif node.object_type == "CLUSTER":
            objects.append(ctx.catalog.resolve_cluster(".".join(name))[0])
        elif node.object_type == "SCHEMA":
            objects.append(".".join(_schema_name(name, ctx)))
        else:
            objects.append(".".join(name))
    return p.GrantPrivilegesPlan(node.privileges, node.object_type, tuple(objects), node.grantees, node.revoke)


def _schema_name(name: tuple[str, ...], ctx: PlanContext) -> tuple[str, str]:
    """``schema`` or ``database.schema`` as (database, schema)."""
    if len(name) > 2:
        raise errors.SyntaxError_(f"improper schema name (too many dotted names): {'.'.join(name)}")
    return (name[0], name[1]) if len(name) == 2 else (ctx.database, name[0])

def _param_types(state: QueryState) -> tuple[ScalarType, ...]:
    if not state.params:
        return ()
    return tuple(state.params.get(i, T.TEXT) for i in range(1, max(state.params) + 1))


def plan_select(node: exp.Expr, ctx: PlanContext, sql_text: str | None = None) -> p.SelectPlan:
    node = pg_compat.rewrite(node)  # what PostgreSQL clients' catalog queries need (psql's \d)
    state = new_state(ctx)
    rel, finishing = plan_query(node, state, top=True)
    desc = rel.desc()
    if finishing.project is not None:
        desc = RelationDesc(tuple(desc.columns[i] for i in finishing.project))
    return p.SelectPlan(rel.expr, desc, finishing, _param_types(state))


def _relation_for_object(node: exp.Expr, ctx: PlanContext) -> tuple[Rel, tuple[ScalarType, ...]]:
    state = new_state(ctx)
    return plan_subquery(node, state), _param_types(state)


def _resolve_cluster(name: str | None, ctx: PlanContext) -> str:
    return ctx.catalog.resolve_cluster(name or ctx.cluster)[0]


def _check_unique_names(desc: RelationDesc) -> None:
    seen: set[str] = set()
    for name in desc.names:
        if name in seen:
            raise errors.DuplicateObject(f"column {errors.quote_ident(name)} specified more than once", sqlstate="42701")
        seen.add(name)


# ---------------------------------------------------------------------------------------------------------
# DDL


def _create(node: exp.Create, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    if str(node.args.get("kind") or "").upper() != "TABLE":
        raise errors.FeatureNotSupported(f"CREATE {node.args.get('kind')} is not supported")
    schema = node.this
    if not isinstance(schema, exp.Schema):
        raise errors.FeatureNotSupported("CREATE TABLE AS is not supported")
    properties = node.args.get("properties")
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, exp.TemporaryProperty):
            raise errors.FeatureNotSupported(
                "CREATE TEMPORARY TABLE is not supported",
                hint="Temporary tables would outlive the session here: create a table and drop it when done.")
        raise errors.FeatureNotSupported(f"CREATE TABLE option {prop.sql(dialect='postgres')} is not supported")
    table = schema.this
    parts = tuple(x.name for x in (table.args.get("catalog"), table.args.get("db"), table.this) if x is not None)
    columns = []
    defaults: list[Any] = []
    for column in schema.expressions:
        if not isinstance(column, exp.ColumnDef):
            raise _unenforced(column)
        declared = ty.resolve_type(column.args["kind"])
        typ = declared.type
        nullable = True
        default = None
        for constraint in column.args.get("constraints") or []:
            kind = constraint.kind
            if isinstance(kind, exp.NotNullColumnConstraint):
                nullable = bool(kind.args.get("allow_null"))
            elif isinstance(kind, exp.DefaultColumnConstraint):  # now() there: each write's time
                env = new_state(replace(ctx, statement_time=True)).env(Scope())
                default = _assignment_cast(plan_expr(kind.this, env), typ, column.name, env, declared.mod).expr
            else:
                raise _unenforced(kind)
        columns.append(Column(column.name, typ, nullable, declared.mod))
        defaults.append(default)
    desc = RelationDesc(tuple(columns))
    _check_unique_names(desc)
    return p.CreateTablePlan(ctx.catalog.qualify(parts), desc, bool(node.args.get("exists")),
                             tuple(defaults) if any(d is not None for d in defaults) else ())


#: constraints that are accepted but not enforced would be a silent wrong answer: refused, with their names
_CONSTRAINT_NAMES: dict[type, str] = {
    exp.PrimaryKeyColumnConstraint: "PRIMARY KEY", exp.PrimaryKey: "PRIMARY KEY",
    exp.UniqueColumnConstraint: "UNIQUE", exp.Reference: "FOREIGN KEY", exp.ForeignKey: "FOREIGN KEY",
    exp.CheckColumnConstraint: "CHECK",
}


def _unenforced(node: exp.Expr) -> errors.SteadyError:
    name = _CONSTRAINT_NAMES.get(type(node))
    if name is None and isinstance(node, exp.Constraint):
        inner = node.expressions[0] if node.expressions else None
        name = _CONSTRAINT_NAMES.get(type(inner.kind if isinstance(inner, exp.ColumnConstraint) else inner), None)
    if name is not None:
        return errors.FeatureNotSupported(
            f"{name} constraints are not supported",
            hint="steadystate does not enforce them; NOT NULL and DEFAULT are supported.")
    return errors.FeatureNotSupported(f"constraint {node.sql(dialect='postgres')} is not supported")


def _create_view(node: st.CreateView, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    rel, params = _relation_for_object(node.query, ctx)
    if params:
        raise errors.SteadyError("there is no parameter $1", sqlstate="42P02")
    desc = rel.desc()
    if node.columns:
        if len(node.columns) > desc.arity:
            raise errors.SyntaxError_("CREATE VIEW specifies more column names than columns")
        desc = RelationDesc(tuple(Column(node.columns[i] if i < len(node.columns) else c.name, c.type, c.nullable, c.mod)
                                  for i, c in enumerate(desc.columns)))
    _check_unique_names(desc)
    name = ctx.catalog.qualify(node.name)
    if node.materialized:
        return p.CreateMaterializedViewPlan(name, rel.expr, desc, node.query_sql, _resolve_cluster(node.in_cluster, ctx),
                                            node.if_not_exists)
    if node.in_cluster is not None:
        raise errors.SyntaxError_("syntax error at or near \"IN\"", hint="Only materialized views run IN CLUSTER.")
    return p.CreateViewPlan(name, rel.expr, desc, node.query_sql, node.if_not_exists)


def _create_index(node: st.CreateIndex, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    on = ctx.catalog.resolve_item(node.on)
    if on.desc is None or on.kind == ItemKind.INDEX:
        raise errors.WrongObjectType(f"cannot create an index on {errors.quote_ident(str(on.name))} because it is an index")
    key: tuple[ScalarExpr, ...]
    if node.key is None:
        key = tuple(ColumnRef(i) for i in range(on.desc.arity))
        names = on.desc.names
    else:
        scope = Scope(tuple(ScopeColumn(on.name.item, c.name, c.type, c.nullable) for c in on.desc.columns))
        env = new_state(ctx).env(scope)
        typed = [plan_expr(k, env) for k in node.key]
        key = tuple(t.expr for t in typed)
        names = tuple(output_name(k) for k in node.key)
    name = None
    if node.name is not None:
        name = ctx.catalog.qualify((on.name.database, on.name.schema, node.name))
    return p.CreateIndexPlan(name, on.id, on.name, key, tuple(names), _resolve_cluster(node.in_cluster, ctx),
                             node.if_not_exists)


def _create_cluster(node: st.CreateCluster, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    options = honoured(options_dict(node.options), CLUSTER_OPTIONS, "CREATE CLUSTER")
    if str(options.get("managed", True)).lower() not in ("true", "on", "1"):  # a cluster with a SIZE is managed
        raise errors.FeatureNotSupported("MANAGED = false is not supported",
                                         hint="Name the replicas instead: CREATE CLUSTER c REPLICAS (r1 (SIZE = ...)).")
    if node.replicas is not None:
        replicas: list[tuple[str, str | None]] = []
        for replica in node.replicas:
            size = honoured(options_dict(replica.options), REPLICA_OPTIONS, "a cluster replica").get("size")
            replicas.append((replica.name, str(size) if size is not None else None))
        return p.CreateClusterPlan(node.name, False, None, None, tuple(replicas), tuple(options.items()))
    factor = options.get("replication_factor", 1)
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 0:
        raise errors.InvalidParameterValue(f"invalid REPLICATION FACTOR: {factor}")
    size = options.get("size")
    return p.CreateClusterPlan(node.name, True, None if size is None else str(size), factor, (),
                               tuple(options.items()))


def _create_cluster_replica(node: st.CreateClusterReplica, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    cluster_id, cluster_name = ctx.catalog.resolve_cluster(node.cluster)
    size = honoured(options_dict(node.options), REPLICA_OPTIONS, "CREATE CLUSTER REPLICA").get("size")
    return p.CreateClusterReplicaPlan(cluster_id, cluster_name, node.name, None if size is None else str(size))


def _drop_cluster(node: st.DropCluster, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    try:
        cluster_id, name = ctx.catalog.resolve_cluster(node.name)
    except errors.UndefinedObject:
        if not node.if_exists:
            raise
        return p.DropClusterPlan(None, node.name, node.cascade)
    return p.DropClusterPlan(cluster_id, name, node.cascade)


def _drop_cluster_replica(node: st.DropClusterReplica, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    try:
        cluster_id, name = ctx.catalog.resolve_cluster(node.cluster)
    except errors.UndefinedObject:
        if not node.if_exists:
            raise
        return p.DropClusterReplicaPlan(None, node.cluster, node.name, True)
    return p.DropClusterReplicaPlan(cluster_id, name, node.name, node.if_exists)


_KIND_WORDS = {ItemKind.TABLE: "a table", ItemKind.VIEW: "a view", ItemKind.MATERIALIZED_VIEW: "a materialized view",
               ItemKind.INDEX: "an index"}


def _drop_objects(node: st.DropObjects, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    items: list[ResolvedItem] = []
    missing: list[str] = []
    for name in node.names:
        try:
            item = ctx.catalog.resolve_item(name)
        except errors.UndefinedObject:
            if not node.if_exists:
                raise
            missing.append(".".join(name))
            continue
        if item.kind != node.kind:
            raise errors.WrongObjectType(
                f"{errors.quote_ident(str(item.name))} is not {_KIND_WORDS[node.kind]}",
                hint=f"Use DROP {item.kind.replace('_', ' ').upper()} to remove {_KIND_WORDS.get(item.kind, 'it')}."
                if item.kind in _KIND_WORDS else None,
            )
        items.append(item)
    return p.DropObjectsPlan(node.kind, tuple(items), tuple(missing), node.cascade)


def _alter_cluster(node: st.AlterCluster, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    cluster_id, name = ctx.catalog.resolve_cluster(node.name)
    wait = None if node.wait is None else options_dict(node.wait)
    options = options_dict(node.options)
    known = ALTER_CLUSTER_OPTIONS.get(node.action)
    if known is not None:
        honoured(options, known, f"ALTER CLUSTER ... {node.action.value.upper()}")
    return p.AlterClusterPlan(cluster_id, name, node.action, options, wait)


# ---------------------------------------------------------------------------------------------------------
# DML


def _table(parts: tuple[str, ...], ctx: PlanContext) -> ResolvedItem:
    item = ctx.catalog.resolve_item(parts)
    if item.kind != ItemKind.TABLE:
        raise errors.WrongObjectType(f"cannot modify {errors.quote_ident(str(item.name))}: it is not a table",
                                     hint="Only tables accept INSERT, UPDATE, DELETE and COPY FROM.")
    assert item.desc is not None
    return item


def _table_parts(node: exp.Expr) -> tuple[str, ...]:
    if isinstance(node, exp.Schema):
        node = node.this
    return tuple(x.name for x in (node.args.get("catalog"), node.args.get("db"), node.this) if x is not None)


def _target_columns(item: ResolvedItem, names: list[str] | None) -> list[int]:
    assert item.desc is not None
    if names is None:
        return list(range(item.desc.arity))
    out = []
    for name in names:
        index = item.desc.index_of(name)
        if index is None:
            raise errors.UndefinedColumn(
                f"column {errors.quote_ident(name)} of relation {errors.quote_ident(item.name.item)} does not exist")
        if index in out:
            raise errors.SteadyError(f"column {errors.quote_ident(name)} specified more than once", sqlstate="42701")
        out.append(index)
    return out


def _insert(node: exp.Insert, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    if node.args.get("conflict"):
        raise errors.FeatureNotSupported("INSERT ... ON CONFLICT is not supported")
    target = node.this
    names = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
    item = _table(_table_parts(target), ctx)
    desc = item.desc
    assert desc is not None
    columns = _target_columns(item, names)
    state = new_state(ctx)
    source = node.expression
    if isinstance(source, exp.Values) and not arg(source, "order", "limit", "offset"):
        if names is None:  # without a column list, trailing columns may be omitted
            widest = max(len(r.expressions) if isinstance(r, exp.Tuple) else 1 for r in source.expressions)
            columns = columns[: max(widest, 1)] if widest <= len(columns) else columns
        rel = _insert_values(source, columns, desc, state, item)
    else:
        rel = plan_subquery(source, state)
        if names is None:  # without a column list, a query may leave trailing columns to their defaults too
            columns = columns[: max(rel.arity, 1)]
    if rel.arity > len(columns):
        raise errors.SyntaxError_("INSERT has more expressions than target columns")
    if rel.arity < len(columns) and not isinstance(source, exp.Values):
        raise errors.SyntaxError_("INSERT has more target columns than expressions")
    env = state.env(rel.scope)
    exprs = []
    for position, column in enumerate(desc.columns):
        if position in columns[: rel.arity]:
            i = columns.index(position)
            c = rel.scope.columns[i]
            value = Typed(ColumnRef(i), c.type, c.nullable, mod=c.mod)
            if c.type is not column.type or c.mod != column.mod:
                value = _assignment_cast(value, column.type, column.name, env, column.mod)
            exprs.append(value.expr)
        else:
            exprs.append(_column_default(item, position, column.type, ctx))
    expr: RelationExpr = Project(Map(rel.expr, tuple(exprs)), tuple(range(rel.arity, rel.arity + desc.arity)))
    if isinstance(rel.expr, Constant) and all(isinstance(e, (Literal, ColumnRef)) for e in exprs):
        rows = [row for row, _ in rel.expr.updates()]
        expr = Constant.of([tuple(_datum_or_column(e, row) for e in exprs) for row in rows], desc.arity)
    table_node = target.this if isinstance(target, exp.Schema) else target
    returning, returning_desc = plan_returning(node, _table_scope(item, table_node.alias or None), state)
    return p.InsertPlan(item.id, expr, desc, _param_types(state), returning, returning_desc)


def _assignment_cast(value: Typed, target: ScalarType, column: str, env: Any, mod: TypeMod | None = None) -> Typed:
    """PostgreSQL's assignment casts: implicit ones, plus numeric narrowing and anything to text; then the column's
    type modifier by the rules of an assignment (repr/typmod.py).  An array is assigned element by element, as
    PostgreSQL's array coercion does (``integer[]`` into a ``smallint[]`` column)."""
    if value.is_untyped or ty.implicitly_castable(value.type, target):
        return _to_mod(coerce(value, target, env), mod, env)
    source, element = value.type, target
    if source.is_array and target.is_array:
        source, element = source.element, target.element
        if ty.implicitly_castable(source, element):
            return _to_mod(coerce(value, target, env, explicit=True), mod, env)
    if (source.is_numeric and element.is_numeric) or element is T.TEXT:
        return _to_mod(coerce(value, target, env, explicit=True), mod, env)
    raise errors.DatatypeMismatch(
        f"column {errors.quote_ident(column)} is of type {target.pg_name} but expression is of type {value.type.pg_name}",
        hint="You will need to rewrite or cast the expression.")


def _to_mod(value: Typed, mod: TypeMod | None, env: Any) -> Typed:
    return value if mod is None else coerce(value, value.type, env, mod=mod)


def _column_default(item: ResolvedItem, position: int, typ: ScalarType, ctx: PlanContext) -> Any:
    """The DEFAULT expression of a table column (NULL when it has none); refused (0A000) when the table's
    DEFAULTs depend on a TimeZone other than the session's (sql/session_zone.py)."""
    default = item.defaults[position] if position < len(item.defaults) else None
    if default is None:
        return Literal(None, typ)
    session_zone.use_item(ctx, item, f"the DEFAULT of table \"{item.name}\"")
    if ctx.now is None:
        raise errors.FeatureNotSupported("a column DEFAULT is not supported here")
    return statement_time.bind(default, ctx.now, session_zone.setting(ctx))  # now(): this statement's time


def _is_default_keyword(value: exp.Expr) -> bool:
    """Whether ``value`` (in VALUES or UPDATE's SET) is the keyword DEFAULT (sqlglot reads it as a name)."""
    if isinstance(value, exp.Var):
        return value.name.upper() == "DEFAULT"
    return isinstance(value, exp.Column) and value.name.upper() == "DEFAULT" and not value.table \
        and not value.this.args.get("quoted")


def _insert_values(node: exp.Values, columns: list[int], desc: RelationDesc, state: QueryState,
                   item: ResolvedItem | None = None) -> Rel:
    """VALUES rows typed by their target columns (so '1' goes into an int column as 1)."""
    env = state.env(Scope())
    rows = []
    for row in node.expressions:
        values = row.expressions if isinstance(row, exp.Tuple) else [row]
        if len(values) > len(columns):
            raise errors.SyntaxError_("INSERT has more expressions than target columns")
        if len(values) < len(columns):
            raise errors.SyntaxError_("INSERT has more target columns than expressions")
        typed = []
        for value, index in zip(values, columns):
            column = desc.columns[index]
            if _is_default_keyword(value):
                default = Literal(None, column.type) if item is None else \
                    _column_default(item, index, column.type, state.ctx)
                typed.append(Typed(default, column.type))
                continue
            typed.append(_assignment_cast(plan_expr(value, env), column.type, column.name, env, column.mod))
        rows.append(typed)
    scope = Scope(tuple(ScopeColumn(None, desc.columns[i].name, desc.columns[i].type, True, mod=desc.columns[i].mod)
                        for i in columns))
    if all(isinstance(t.expr, Literal) for r in rows for t in r):
        return Rel(Constant.of([tuple(literal_datum(t.expr) for t in r) for r in rows], len(columns)), scope)
    unit = Constant.of([()], 0)
    parts = [Map(unit, tuple(t.expr for t in r)) for r in rows]
    return Rel(parts[0] if len(parts) == 1 else Union_(tuple(parts)), scope)


def _desc_of(scope: Scope) -> RelationDesc:
    return RelationDesc(tuple(Column(c.name, c.type, c.nullable, c.mod) for c in scope.columns))


def _table_scope(item: ResolvedItem, alias: str | None) -> Scope:
    assert item.desc is not None
    return Scope(tuple(ScopeColumn(alias or item.name.item, c.name, c.type, c.nullable, mod=c.mod)
                       for c in item.desc.columns))


def _where(node: exp.Expr, scope: Scope, state: QueryState) -> tuple[Any, ...]:
    where = node.args.get("where")
    if where is None:
        return ()
    env = state.env(scope)
    env.clause = "WHERE"
    return tuple(require_bool(plan_expr(c, env), env, "WHERE").expr for c in conjuncts(where.this))


def _update(node: exp.Update, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    item = _table(_table_parts(node.this), ctx)
    assert item.desc is not None
    scope = _table_scope(item, node.this.alias or None)
    state = new_state(ctx)
    other = plan_other(node, state)
    if other is not None:
        check_target_not_in_other(node.this.alias or item.name.item, other[1])
        scope = scope + other[1]
    env = state.env(scope)
    env.clause = "UPDATE"
    assignments = []
    for assignment in node.expressions:
        name = assignment.left.name
        index = _target_columns(item, [name])[0]
        column = item.desc.columns[index]
        if _is_default_keyword(assignment.right):  # SET c = DEFAULT: the column's DEFAULT (NULL without one)
            assignments.append((index, _column_default(item, index, column.type, ctx)))
            continue
        value = _assignment_cast(plan_expr(assignment.right, env), column.type, column.name, env, column.mod)
        assignments.append((index, value.expr))
    predicates = _where(node, scope, state)
    returning, returning_desc = plan_returning(node, scope, state)
    return p.UpdatePlan(item.id, predicates, tuple(assignments), item.desc, _param_types(state),
                        other[0] if other else None, _desc_of(other[1]) if other else None, returning, returning_desc)


def _delete(node: exp.Delete, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    item = _table(_table_parts(node.this), ctx)
    state = new_state(ctx)
    scope = _table_scope(item, node.this.alias or None)
    other = plan_other(node, state)
    if other is not None:
        check_target_not_in_other(node.this.alias or item.name.item, other[1])
        scope = scope + other[1]
    predicates = _where(node, scope, state)
    returning, returning_desc = plan_returning(node, scope, state)
    return p.DeletePlan(item.id, predicates, item.desc, _param_types(state),
                        other[0] if other else None, _desc_of(other[1]) if other else None, returning, returning_desc)


# ---------------------------------------------------------------------------------------------------------
# Session, SHOW, SUBSCRIBE, COPY, EXPLAIN


def _subscribe(node: st.Subscribe, ctx: PlanContext, sql_text: str | None, copy: bool = False) -> p.Plan:
    return plan_subscribe(node, ctx, copy)


def _copy_from(node: st.CopyFrom, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    item = _table(node.table, ctx)
    assert item.desc is not None
    columns = _target_columns(item, list(node.columns) if node.columns else None)
    options = copy_options(node.options, "from")
    fmt = str(options.get("format", "text")).lower()
    if fmt not in ("text", "csv", "binary"):
        raise errors.FeatureNotSupported(f"COPY format {errors.quote_ident(fmt)} is not supported")
    header = options.get("header", False)
    header = header if isinstance(header, bool) else str(header).lower() in ("true", "on", "1")
    delimiter = str(options.get("delimiter", "," if fmt == "csv" else "\t"))
    null = str(options.get("null", "" if fmt == "csv" else "\\N"))
    if len(delimiter) != 1:
        raise errors.FeatureNotSupported("COPY delimiter must be a single one-byte character")
    if any(d is not None for i, d in enumerate(item.defaults) if i not in columns):  # omitted columns take them
        session_zone.use_item(ctx, item, f"the DEFAULT of table \"{item.name}\"")
    return p.CopyFromPlan(item.id, tuple(columns), item.desc, fmt, header, delimiter, null, item.defaults)


def _copy_to(node: st.CopyTo, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    if isinstance(node.query, st.Subscribe):
        return _subscribe(node.query, ctx, sql_text, copy=True)
    fmt = str(copy_options(node.options, "to").get("format", "text")).lower()
    return p.CopyToPlan(plan_select(node.query, ctx), fmt)


def _explain(node: st.Explain, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    if node.what == "query":
        assert node.query is not None
        return p.ExplainPlan("query", plan_select(node.query, ctx), node.stage, node.format)
    assert node.name is not None
    if node.what == "restart_cluster":
        return p.ExplainPlan("restart_cluster", ctx.catalog.resolve_cluster(node.name[0]))
    item = ctx.catalog.resolve_item(node.name)
    assert isinstance(node.what, ItemKind)
    if item.kind != node.what:
        raise errors.WrongObjectType(f"{errors.quote_ident(str(item.name))} is not {_KIND_WORDS[node.what]}")
    return p.ExplainPlan(node.what, item, node.stage, node.format)


def _show_objects(node: st.ShowObjects, ctx: PlanContext, sql_text: str | None) -> p.Plan:
    in_cluster = ctx.catalog.resolve_cluster(node.in_cluster)[0] if node.in_cluster else None
    on_id = ctx.catalog.resolve_item(node.on).id if node.on else None
    schema = None
    if node.kind == "objects":
        schema = _schema_name(node.schema, ctx) if node.schema else (ctx.database, ctx.schema)
    return p.ShowObjectsPlan(node.kind, in_cluster, on_id, schema)


def _datum_or_column(expr: ScalarExpr, row: tuple) -> object:
    """A literal's value, or the row's column for a column reference (a constant INSERT row's DEFAULTs)."""
    if isinstance(expr, Literal):
        return expr.datum()
    assert isinstance(expr, ColumnRef)
    return row[expr.index]


def _verifier(password: str | None) -> str | None:
    """What a role's password is stored as: its SCRAM-SHA-256 verifier (a verifier given already hashed is kept)."""
    if password is None:
        return None
    if is_verifier(password):
        return password
    if not password:
        raise errors.InvalidParameterValue("empty string is not a valid password")
    return make_verifier(password)
