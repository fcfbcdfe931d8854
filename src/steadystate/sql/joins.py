"""FROM clauses: table references, derived tables, VALUES, and joins.

A FROM item is a catalog relation (``Get``), a CTE, a relation prebuilt by the subquery decorrelation, a
derived table (planned through :meth:`QueryState.subquery`, sql/relation.py) or a VALUES list
(:func:`plan_values`).  Inner joins become ``Join`` with equalities between the inputs as equivalence classes and
the rest of the ON condition as a Filter (``relation.inner_join``).  Outer joins follow Materialize: the inner join, plus the unmatched rows of the
preserved side padded with NULLs, where "unmatched" is ``Threshold(side - Project(inner, side columns))``
(a row of multiplicity m matching k rows leaves m - m·k, positive only when k = 0).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    CallBinary, ColumnRef, Constant, Get, Literal, Map, Negate, Project, RelationExpr, Threshold, Union_,
)
from steadystate.repr.types import ScalarType
from steadystate.sql.relation import QueryState, Rel, arg, conjuncts, inner_join, rename
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import Scope, ScopeColumn, Typed, literal_datum, mismatch, require_bool, unify

T = ScalarType


def plan_table_ref(node: exp.Expr, state: QueryState) -> Rel:
    alias_node = node.args.get("alias")
    alias = alias_node.name if alias_node is not None and alias_node.name else None
    names = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    if isinstance(node, exp.Table):
        if node.this is not None and not isinstance(node.this, exp.Identifier):
            raise errors.FeatureNotSupported("table functions are not supported")
        parts = tuple(p.name for p in (node.args.get("catalog"), node.args.get("db"), node.this) if p is not None)
        if len(parts) == 1 and parts[0] in state.prebuilt:
            return state.prebuilt[parts[0]]
        if len(parts) == 1 and parts[0] in state.ctes:
            return rename(state.ctes[parts[0]], alias or parts[0], names)
        item = state.ctx.catalog.resolve_item(parts)
        if item.desc is None:
            raise errors.WrongObjectType(f"{errors.quote_ident(item.name.item)} is an index and cannot be queried",
                                         hint="Query the relation the index is on instead.")
        scope = Scope(tuple(ScopeColumn(None, c.name, c.type, c.nullable, mod=c.mod) for c in item.desc.columns))
        return rename(Rel(Get(item.id), scope), alias or parts[-1], names)
    if isinstance(node, exp.Subquery):
        if alias is None:
            raise errors.SyntaxError_("subquery in FROM must have an alias",
                                      hint="For example, FROM (SELECT ...) [AS] foo.")
        return rename(state.subquery(node.this if not arg(node, "order", "limit") else node), alias, names)
    if isinstance(node, exp.Values):
        return plan_values(node, state, alias)
    if isinstance(node, exp.Lateral):
        raise errors.FeatureNotSupported("LATERAL is not supported")
    raise errors.FeatureNotSupported(f"{node.key.upper()} in FROM is not supported")


def plan_from(first: exp.Expr, joins: list[exp.Join], state: QueryState) -> Rel:
    rel = plan_table_ref(first, state)
    for join in joins:
        right = plan_table_ref(join.this, state)
        rel = _plan_join(rel, right, join, state)
    return rel


def _plan_join(left: Rel, right: Rel, join: exp.Join, state: QueryState) -> Rel:
    side = str(join.args.get("side") or "").upper()
    kind = str(join.args.get("kind") or "").upper()
    if kind in ("SEMI", "ANTI", "ASOF") or join.args.get("method"):
        raise errors.FeatureNotSupported(f"{kind or join.args.get('method')} JOIN is not supported")
    scope = left.scope + right.scope
    predicates: list[Any] = []
    using = join.args.get("using")
    if using:
        names = [u.name for u in using]
        shadowed = []
        for name in names:
            li, ri = _using_index(left.scope, name, "left"), _using_index(right.scope, name, "right")
            env = state.env(scope)
            lc, rc = left.scope.columns[li], right.scope.columns[ri]
            (a, b), _ = unify([Typed(ColumnRef(li), lc.type, lc.nullable),
                               Typed(ColumnRef(left.arity + ri), rc.type, rc.nullable)], env,
                              describe=lambda known: errors.DatatypeMismatch(
                                  f"JOIN/USING types {known[0].pg_name} and {known[1].pg_name} cannot be matched"))
            predicates.append(CallBinary("eq", a.expr, b.expr))
            shadowed.append(left.arity + ri)
        if side == "FULL":
            raise errors.FeatureNotSupported("FULL JOIN ... USING is not supported", hint="Use FULL JOIN ... ON.")
        keep_right = side == "RIGHT"
        columns = []
        for i, c in enumerate(scope.columns):
            hide = (i in shadowed) if not keep_right else (i < left.arity and c.name in names)
            columns.append(ScopeColumn(c.table, c.name, c.type, c.nullable, shadowed=hide, in_star=not hide))
        scope = Scope(tuple(columns))
    elif join.args.get("on") is not None:
        env = state.env(scope)
        env.clause = "JOIN conditions"
        for conjunct in conjuncts(join.args["on"]):
            predicates.append(require_bool(plan_expr(conjunct, env), env, "JOIN/ON").expr)
    elif kind != "CROSS" and side == "" and kind not in ("", "INNER"):
        raise errors.SyntaxError_("syntax error: JOIN requires ON or USING")
    inner = inner_join(left, right, predicates)
    if side == "":
        return Rel(inner, scope)
    parts: list[RelationExpr] = [inner]
    if side in ("LEFT", "FULL"):
        unmatched = Threshold(Union_((left.expr, Negate(Project(inner, tuple(range(left.arity)))))))
        nulls = tuple(Literal(None, c.type) for c in right.scope.columns)
        parts.append(Map(unmatched, nulls))
    if side in ("RIGHT", "FULL"):
        right_cols = tuple(range(left.arity, left.arity + right.arity))
        unmatched = Threshold(Union_((right.expr, Negate(Project(inner, right_cols)))))
        nulls = tuple(Literal(None, c.type) for c in left.scope.columns)
        padded = Map(unmatched, nulls)
        order = tuple(range(right.arity, right.arity + left.arity)) + tuple(range(right.arity))
        parts.append(Project(padded, order))
    columns = list(scope.columns)
    for i, c in enumerate(columns):
        on_left = i < left.arity
        if (on_left and side in ("RIGHT", "FULL")) or (not on_left and side in ("LEFT", "FULL")):
            columns[i] = ScopeColumn(c.table, c.name, c.type, True, c.shadowed, c.in_star)
    return Rel(Union_(tuple(parts)), Scope(tuple(columns)))


def _using_index(scope: Scope, name: str, which: str) -> int:
    matches = [i for i, c in enumerate(scope.columns) if c.name == name and not c.shadowed]
    if len(matches) != 1:
        if not matches:
            raise errors.UndefinedColumn(f"column {errors.quote_ident(name)} specified in USING clause does not exist in {which} table")
        raise errors.SteadyError(f"common column name {errors.quote_ident(name)} appears more than once in {which} table",
                                 sqlstate="42702")
    return matches[0]


# ---------------------------------------------------------------------------------------------------------
# VALUES


def plan_values(node: exp.Values, state: QueryState, alias: str | None = None) -> Rel:
    env = state.env(Scope())
    rows = [[plan_expr(e, env) for e in (t.expressions if isinstance(t, exp.Tuple) else [t])]
            for t in node.expressions]
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise errors.SyntaxError_("VALUES lists must all be the same length")
    columns = []
    for i in range(width):
        typed, typ = unify([r[i] for r in rows], env, describe=mismatch("VALUES"))
        for r, t in zip(rows, typed):
            r[i] = t
        columns.append(ScopeColumn(alias, f"column{i + 1}", typ, any(t.nullable for t in typed)))
    if all(isinstance(t.expr, Literal) for r in rows for t in r):
        expr: RelationExpr = Constant.of([tuple(literal_datum(t.expr) for t in r) for r in rows], width)
    else:
        unit = Constant.of([()], 0)
        parts = [Map(unit, tuple(t.expr for t in r)) for r in rows]
        expr = parts[0] if len(parts) == 1 else Union_(tuple(parts))
    names = [c.name for c in node.args["alias"].columns] if node.args.get("alias") else []
    return rename(Rel(expr, Scope(tuple(columns))), alias, names)
