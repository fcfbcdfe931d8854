"""Subqueries used as values — ``(SELECT ...)``, ``x [NOT] IN (SELECT ...)``, ``[NOT] EXISTS (...)`` — as joins.

:func:`inline_subqueries` takes the expressions of one clause of a SELECT and a :class:`FromHost` (the FROM
relation, before aggregation) or a :class:`GroupedHost` (the Reduce output, for the select list and HAVING of
an aggregating query).  Every subquery of those expressions (not those nested deeper) becomes one more hidden
column of the host relation, and the syntax tree is pointed at that column.

``IN`` and ``EXISTS`` are first rewritten into scalar subqueries with SQL's three-valued answer.  With
``F``/``P``/``e`` the subquery's FROM, WHERE and select item (or, when the subquery does not refer to the outer
query, ``F`` the whole subquery as a derived table with column ``e``) and ``x`` the probe (named, when it reads
columns, so that inner names cannot capture it):

    EXISTS (...)  →  (SELECT count(*) > 0 FROM F WHERE P)
    x IN (...)    →  CASE WHEN (SELECT count(*) > 0 FROM F WHERE P AND e = x)  THEN true
                          WHEN NOT (SELECT count(*) > 0 FROM F WHERE P)        THEN false      -- empty
                          WHEN x IS NULL OR (SELECT count(*) > 0 FROM F WHERE P AND e IS NULL) THEN NULL
                          ELSE false END

so ``NOT IN`` is TRUE on an empty subquery even for a NULL probe, FALSE on a match, NULL otherwise when a NULL
is involved.  The first of the three is an equi-join on ``e = x``; the other two do not depend on the outer row.
When the subquery is correlated, the same answer comes from one aggregate, decorrelated once:

    (SELECT CASE WHEN bool_or(e = x) THEN true WHEN count(*) = 0 THEN false
                 WHEN x IS NULL OR count(*) > count(e) THEN NULL ELSE false END FROM F WHERE P)

A scalar subquery that does not refer to the outer query is planned on its own and cross-joined as a relation
with exactly one row (:func:`one_row`), the union of

* the subquery's rows, kept only while it has at most one row;
* a NULL row while it has none (SQL: an empty scalar subquery is NULL);
* an error row while it has more than one (SQL: ``more than one row returned by a subquery used as an
  expression``, 21000) — an error as data, so a maintained view reports it when read and recovers when the
  subquery is back to one row.

A correlated one is decorrelated by sql/correlated_scalar.py, which also takes a correlated IN / EXISTS whose
subquery is more than ``SELECT ... FROM ... WHERE`` (aggregates, GROUP BY, LIMIT, subqueries in its WHERE):
such a node is replaced by a marked subquery (:func:`_placeholder`).  Everything stays incremental.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    AggregateExpr, CallBinary, ColumnRef, Filter, Join, Literal, Map, Project, Reduce, RelationExpr, Union_,
)
from steadystate.repr.types import ScalarType
from steadystate.sql import correlated
from steadystate.sql.correlated_scalar import correlated_exists, correlated_in, correlated_scalar
from steadystate.sql.relation import QueryState
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import AGGREGATE_CLASSES, ExprEnv, Scope, ScopeColumn, Typed, output_name

_names = itertools.count(1)


class _Probes:
    """IN probes: outer values subqueries refer to by a name (an expression over the host's columns)."""

    def __init__(self) -> None:
        self.probes: dict[str, Typed] = {}

    def add_probe(self, name: str, typed: Typed) -> None:
        self.probes[name] = typed

    def probe(self, node: exp.Column) -> Typed | None:
        return None if node.table else self.probes.get(node.name)


class FromHost(_Probes):
    """Subqueries inlined into the FROM relation (WHERE, and the select list of a query without aggregates)."""

    def __init__(self, expr: RelationExpr, scope: Scope, state: QueryState) -> None:
        super().__init__()
        self.expr, self.scope, self.state = expr, scope, state
        self.base, self.base_arity = expr, len(scope.columns)

    @property
    def arity(self) -> int:
        return len(self.scope.columns)

    def outer_column(self, node: exp.Column) -> Typed:
        probe = self.probe(node)
        if probe is not None:
            return probe
        index = self.scope.resolve(node.table or None, node.name)
        column = self.scope.columns[index]
        return Typed(ColumnRef(index), column.type, column.nullable)

    def plan_outer(self, node: exp.Expr) -> Typed:
        return plan_expr(node, self.state.env(self.scope))

    def add(self, expr: RelationExpr, name: str, typed: Typed) -> None:
        self.expr = expr
        self.scope = self.scope + Scope((ScopeColumn(None, name, typed.type, typed.nullable, in_star=False),))


class GroupedHost(_Probes):
    """Subqueries inlined into a Reduce's output: outer references must be group keys, as in SQL."""

    def __init__(self, expr: RelationExpr, env: ExprEnv, input_scope: Scope) -> None:
        super().__init__()
        self.expr, self.env, self.input_scope = expr, env, input_scope
        self.base, self.base_arity = expr, env.reduce_arity

    @property
    def arity(self) -> int:
        return self.env.reduce_arity

    def outer_column(self, node: exp.Column) -> Typed:
        probe = self.probe(node)
        if probe is not None:
            return probe
        index = self.input_scope.resolve(node.table or None, node.name)
        column = self.input_scope.columns[index]
        if index not in self.env.group_columns:
            shown = f"{column.table}.{column.name}" if column.table else column.name
            raise errors.SteadyError(
                f"subquery uses ungrouped column {errors.quote_ident(shown)} from outer query", sqlstate="42803")
        return Typed(ColumnRef(self.env.group_columns[index]), column.type, column.nullable)

    def plan_outer(self, node: exp.Expr) -> Typed:
        return plan_expr(node, self.env)

    def add(self, expr: RelationExpr, name: str, typed: Typed) -> None:
        self.expr = expr
        self.env.bindings[name] = (self.env.reduce_arity, typed.type, typed.nullable)
        self.env.reduce_arity += 1


def one_row(sub_expr: RelationExpr, typ: ScalarType) -> RelationExpr:
    """Exactly one row: the subquery's value, NULL when it is empty, an error when it has several rows."""
    count = Reduce(sub_expr, (), (AggregateExpr("count_star", Literal(True, ScalarType.BOOL)),))
    at_most_one = Filter(count, (CallBinary("lte", ColumnRef(0), Literal(1, ScalarType.INT8)),))
    value_rows = Project(Join((sub_expr, at_most_one), ()), (0,))
    empty = Filter(count, (CallBinary("eq", ColumnRef(0), Literal(0, ScalarType.INT8)),))
    null_row = Project(Map(empty, (Literal(None, typ),)), (1,))
    several = Filter(count, (CallBinary("gt", ColumnRef(0), Literal(1, ScalarType.INT8)),))
    error = CallBinary("subquery_cardinality", ColumnRef(0), Literal(None, typ))
    error_row = Project(Map(several, (error,)), (1,))
    return Union_((value_rows, null_row, error_row))


def _own(select: exp.Select, roots: list[exp.Expr], *classes: type[exp.Expr]) -> list[Any]:
    return [node for root in roots for node in root.find_all(*classes) if node.find_ancestor(exp.Select) is select]


def has_subquery(node: exp.Expr) -> bool:
    return node.find(exp.Subquery, exp.Exists) is not None


# ---------------------------------------------------------------------------------------------------------
# IN / EXISTS as scalar subqueries


def _exists_select(from_: exp.Expr, joins: list[exp.Expr], where: exp.Expr | None) -> exp.Subquery:
    select = exp.Select(expressions=[exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0))])
    select.set("from_", exp.From(this=from_.copy()))
    if joins:
        select.set("joins", [j.copy() for j in joins])
    if where is not None:
        select.set("where", exp.Where(this=where.copy()))
    return exp.Subquery(this=select)


def _and(*parts: exp.Expr | None) -> exp.Expr | None:
    present = [exp.Paren(this=p.copy()) for p in parts if p is not None]
    if not present:
        return None
    out: exp.Expr = present[0]
    for p in present[1:]:
        out = exp.And(this=out, expression=p)
    return out


@dataclass(frozen=True)
class _Parts:
    """A subquery as FROM, joins, WHERE and select item — or, uncorrelated, as a derived table ``__subN(v)``."""

    from_: exp.Expr
    joins: list[exp.Expr]
    where: exp.Expr | None
    item: exp.Expr | None
    correlated: bool


def _parts(query: exp.Expr, state: QueryState, construct: str) -> _Parts:
    try:
        planned = state.subquery(query.copy())
    except errors.SteadyError as error:
        if not correlated.is_correlation_error(error):
            raise
        try:
            select = correlated.check_plain_select(query, construct)
        except errors.FeatureNotSupported:
            raise _General(error) from None
        if select.args.get("where") is not None and select.args["where"].find(exp.Subquery, exp.Exists):
            raise _General(error)  # its count(*) form could not take them
        from_ = select.args.get("from_", select.args.get("from"))
        assert from_ is not None  # check_plain_select requires a FROM
        where = select.args["where"].this if select.args.get("where") else None
        if construct == "IN" and (len(select.expressions) != 1 or isinstance(select.expressions[0], exp.Star)):
            raise errors.SyntaxError_("subquery has too many columns")
        return _Parts(from_.this, list(select.args.get("joins") or []), where, select.expressions[0], True)
    name = f"__sub{next(_names)}"
    if construct == "IN" and planned.arity != 1:
        raise errors.SyntaxError_("subquery has too many columns")
    alias = exp.TableAlias(this=exp.to_identifier(name), columns=[exp.to_identifier("v")] if construct == "IN" else [])
    return _Parts(exp.Subquery(this=query.copy(), alias=alias), [], None, exp.column("v", table=name), False)


class _General(Exception):
    """A correlated subquery with GROUP BY, aggregates, LIMIT ...: decorrelated as a whole (see _placeholder)."""

    def __init__(self, original: errors.SteadyError) -> None:
        self.original = original


def _placeholder(query: exp.Expr, construct: str, probe: str | None, original: errors.SteadyError) -> exp.Subquery:
    """A subquery node that inlining hands to correlated_scalar.correlated_exists / correlated_in."""
    node = exp.Subquery(this=query.copy())
    node.meta["decorrelate"] = (construct, probe, original)
    return node


def _rewrite_exists(node: exp.Exists, state: QueryState) -> exp.Expr:
    try:
        parts = _parts(node.this, state, "EXISTS")
    except _General as general:
        return _placeholder(node.this, "EXISTS", None, general.original)
    return _exists_select(parts.from_, parts.joins, parts.where)


def _case(ifs: list[tuple[exp.Expr, exp.Expr]], default: exp.Expr) -> exp.Expr:
    return exp.Paren(this=exp.Case(ifs=[exp.If(this=c, true=v) for c, v in ifs], default=default))


def _rewrite_in(node: exp.In, host: Any, state: QueryState) -> exp.Expr:
    query = node.args["query"]
    query = query.this if isinstance(query, exp.Subquery) else query
    if isinstance(node.this, exp.Tuple):
        raise errors.FeatureNotSupported("row-valued IN (subquery) is not supported")
    outer_probe: exp.Expr = node.this
    name = f"__probe{next(_names)}"
    compare_with: type[exp.Binary] = node.meta.get("compare", exp.EQ)
    try:
        parts = _parts(query, state, "IN")
    except _General as general:
        if compare_with is not exp.EQ:
            raise errors.FeatureNotSupported(
                "a comparison other than = with ANY or ALL over a correlated subquery with aggregates, GROUP BY or "
                "LIMIT is not supported") from None
        host.add_probe(name, host.plan_outer(outer_probe))
        return _placeholder(query, "IN", name, general.original)
    item = parts.item.this if isinstance(parts.item, exp.Alias) else parts.item
    assert item is not None
    probe = outer_probe  # as the subqueries see it: a name for the outer value, unless it is a constant
    if probe.find(exp.Column, exp.Subquery, exp.Exists, *AGGREGATE_CLASSES) is not None:
        host.add_probe(name, host.plan_outer(probe))
        probe = exp.column(name)
    true, false, null = exp.Boolean(this=True), exp.Boolean(this=False), exp.Null()
    probe_null = exp.Is(this=probe.copy(), expression=exp.Null())
    # ``x op e`` (``e = x`` for IN: the same for =, and the equi-join the planner looks for)
    equal = exp.EQ(this=item.copy(), expression=probe.copy()) if compare_with is exp.EQ else \
        compare_with(this=probe.copy(), expression=item.copy())
    if parts.correlated:
        # one aggregate per outer row: decorrelated once, over the subquery's own correlation
        rows = exp.Count(this=exp.Star())
        unknown: exp.Expr = exp.Or(this=probe_null, expression=exp.GT(this=rows.copy(),
                                                                        expression=exp.Count(this=item.copy()))) \
            if compare_with is exp.EQ else exp.LogicalOr(this=exp.Is(this=exp.Paren(this=equal.copy()),
                                                                     expression=exp.Null()))
        answer = _case([(exp.LogicalOr(this=equal), true), (exp.EQ(this=rows, expression=exp.Literal.number(0)), false),
                        (unknown, null)], false)
        select = exp.Select(expressions=[answer])
        select.set("from_", exp.From(this=parts.from_.copy()))
        if parts.joins:
            select.set("joins", [j.copy() for j in parts.joins])
        if parts.where is not None:
            select.set("where", exp.Where(this=parts.where.copy()))
        return exp.Subquery(this=select)
    # uncorrelated: only the match depends on the outer row, and it is an equi-join on the probe
    match = _exists_select(parts.from_, parts.joins, _and(parts.where, equal))
    nonempty = _exists_select(parts.from_, parts.joins, parts.where)
    if compare_with is exp.EQ:
        has_null = _exists_select(parts.from_, parts.joins,
                                  _and(parts.where, exp.Is(this=item.copy(), expression=exp.Null())))
        unknown = exp.Or(this=exp.Is(this=exp.Paren(this=outer_probe.copy()), expression=exp.Null()),
                         expression=has_null)
    else:  # some comparison is NULL (the probe's or an item's NULL)
        unknown = _exists_select(parts.from_, parts.joins,
                                 _and(parts.where, exp.Is(this=exp.Paren(this=equal.copy()), expression=exp.Null())))
    return _case([(match, true), (exp.Not(this=nonempty), false), (unknown, null)], false)


# ---------------------------------------------------------------------------------------------------------
# Quantified comparisons


def quantified_to_in(node: exp.Expr) -> exp.Expr:
    """``x op ANY (subquery)`` as ``x IN (subquery)`` compared by ``op`` (``In.meta["compare"]``, absent for ``=``),
    and ``x op ALL (subquery)`` as ``NOT (x IN (subquery))`` compared by the negated ``op`` (``<> ALL`` is ``NOT
    IN``), the same answer NULLs included; an array stays sql/array_exprs.py's."""
    if not any(True for _ in node.find_all(exp.Any, exp.All)) and not any(
            str(n.this).upper() == "ALL" for n in node.find_all(exp.Anonymous)):
        return node
    return node.transform(_quantified)


def _quantified(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, exp.Binary):
        return node
    right = node.expression
    is_all = isinstance(right, exp.All) or (isinstance(right, exp.Anonymous) and str(right.this).upper() == "ALL"
                                            and len(right.expressions) == 1)
    if not (isinstance(right, exp.Any) or is_all):
        return node
    inner = right.this if isinstance(right, (exp.Any, exp.All)) else right.expressions[0]
    while isinstance(inner, (exp.Paren, exp.Subquery)):
        inner = inner.this
    if not isinstance(inner, (exp.Select, exp.SetOperation)):
        return node  # an array
    if not isinstance(node, tuple(_NEGATED)):
        raise errors.FeatureNotSupported(f"{node.key} {'ALL' if is_all else 'ANY'} (subquery) is not supported")
    # x op ALL (S) is NOT (x (not op) ANY (S)), NULLs included; x op ANY (S) is IN with op for its equality
    compare = _NEGATED[type(node)] if is_all else type(node)
    membership = exp.In(this=node.this.copy(), query=exp.Subquery(this=inner.copy()))
    if compare is not exp.EQ:
        membership.meta["compare"] = compare
    return exp.Not(this=exp.Paren(this=membership)) if is_all else membership


_NEGATED: dict[type[exp.Binary], type[exp.Binary]] = {
    exp.EQ: exp.NEQ, exp.NEQ: exp.EQ, exp.LT: exp.GTE, exp.GTE: exp.LT, exp.GT: exp.LTE, exp.LTE: exp.GT}


# ---------------------------------------------------------------------------------------------------------
# Inlining


def inline_subqueries(select: exp.Select, roots: list[exp.Expr], host: Any, state: QueryState) -> None:
    """Add a hidden column to ``host`` for every subquery in ``roots`` and point the syntax tree at it."""
    roots = list(roots)
    for node in _own(select, roots, exp.Exists, exp.In):
        if isinstance(node, exp.In) and node.args.get("query") is None:
            continue
        new = _rewrite_exists(node, state) if isinstance(node, exp.Exists) else _rewrite_in(node, host, state)
        roots = [new if root is node else root for root in roots]
        node.replace(new)
    for sub in _own(select, roots, exp.Subquery):
        name = f"__subquery_{next(_names)}"
        expr, typed = _plan_scalar(sub, host, state)
        host.add(expr, name, typed)
        reference = exp.column(name)
        if any(sub is item for item in select.expressions):
            sub.replace(exp.alias_(reference, output_name(sub)))  # keep the column's name
        else:
            sub.replace(reference)


def _plan_scalar(sub: exp.Subquery, host: Any, state: QueryState) -> tuple[RelationExpr, Typed]:
    general = sub.meta.get("decorrelate")
    if general is not None:
        construct, probe, original = general
        if construct == "EXISTS":
            return correlated_exists(host, sub, state, original)
        return correlated_in(host, sub, host.probes[probe], state, original)
    try:
        planned = state.subquery(sub.this.copy())
    except errors.SteadyError as error:
        if error.sqlstate == "42803" and _aggregates_outer_columns(sub.this):
            raise errors.FeatureNotSupported(
                "an aggregate of the outer query's columns in a subquery is not supported") from None
        if not correlated.is_correlation_error(error):
            raise
        return correlated_scalar(host, sub, state, error)
    if planned.arity != 1:
        raise errors.SyntaxError_("subquery must return only one column")
    column = planned.scope.columns[0]
    return Join((host.expr, one_row(planned.expr, column.type)), ()), Typed(ColumnRef(host.arity), column.type, True)


def _aggregates_outer_columns(query: exp.Expr) -> bool:
    """Whether an aggregate of ``query`` names a table its own FROM clause does not have (an outer one)."""
    if not isinstance(query, exp.Select):
        return False
    sources = [query.args.get("from_", query.args.get("from"))] + list(query.args.get("joins") or [])
    tables = {t.alias_or_name for source in sources if source is not None for t in source.find_all(exp.Table)}
    tables |= {t.alias for source in sources if source is not None for t in source.find_all(exp.Subquery) if t.alias}
    return any(column.table and column.table not in tables
               for agg in query.find_all(*AGGREGATE_CLASSES) if agg.find_ancestor(exp.Select) is query
               for column in agg.find_all(exp.Column))
