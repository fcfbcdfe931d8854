"""FROM clauses: table references, derived tables, VALUES, and joins.

A FROM item is a catalog relation (``Get``), a CTE, a relation prebuilt by the subquery decorrelation, a
derived table (planned through :meth:`QueryState.subquery`, sql/relation.py), a VALUES list
(:func:`plan_values`), a joined table in parentheses (``(a JOIN b ON ...) [AS j]``) or a LATERAL subquery
(sql/lateral.py, reached through :meth:`QueryState.lateral`).

A FROM list is PostgreSQL's grammar: items separated by commas, each a left-deep chain of explicit joins whose
right operand may itself be a chain (``a JOIN b JOIN c ON p ON q``) or a parenthesised join; a comma binds looser
than any JOIN (:func:`plan_from`).  The parser marks the items after a comma (sql/dialect.py), since sqlglot
gives ``a, b`` and ``a JOIN b`` the same tree.

Inner joins become ``Join`` with equalities between the inputs (columns or expressions, and ``IS NOT DISTINCT
FROM``) as equivalence classes and the rest of the ON condition as a Filter (``relation.inner_join``; a join
condition with no equality is a filtered cross product).  Outer joins follow Materialize: the inner join, plus
the unmatched rows of the preserved side padded with NULLs, where "unmatched" is
``Threshold(side - Project(inner, side columns))`` (a row of multiplicity m matching k rows leaves m - m·k,
positive only when k = 0).  ``USING`` and ``NATURAL`` add PostgreSQL's merged columns (:func:`_plan_using`).
"""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import Any

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    CallBinary, CallVariadic, ColumnRef, Constant, Get, Join, Literal, Map, Negate, Project, RelationExpr, Threshold,
    Union_,
)
from steadystate.repr.types import ScalarType
from steadystate.sql.relation import QueryState, Rel, arg, conjuncts, inner_join, rename
from steadystate.sql import session_zone, settings, table_functions
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import Scope, ScopeColumn, Typed, literal_datum, mismatch, require_bool, unify

T = ScalarType


def plan_table_ref(node: exp.Expr, state: QueryState) -> Rel:
    nested = node.args.get("joins")
    if nested and not isinstance(node, (exp.Select, exp.SetOperation)):  # the right side of ``a JOIN b JOIN c ON p ON q``, or a parenthesised join: b's own joins first
        base = node.copy()
        base.set("joins", None)
        return plan_from(base, list(nested), state)
    alias_node = node.args.get("alias")
    alias = alias_node.name if alias_node is not None and alias_node.name else None
    names = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    if isinstance(node, exp.Subquery) and _is_table_ref(node.this):
        rel = plan_table_ref(node.this, state)  # ``(a JOIN b ON ...) [AS j]``: a joined table in parentheses
        if alias is None:
            return rel  # the tables inside stay visible by their own names
        # an alias hides the tables inside: the join's columns are what ``*`` shows, all named ``alias.column``
        visible = tuple(i for i, c in enumerate(rel.scope.columns) if c.in_star)
        if visible != tuple(range(rel.arity)):
            rel = Rel(Project(rel.expr, visible), Scope(tuple(rel.scope.columns[i] for i in visible)))
        return rename(rel, alias, names)
    if table_functions.from_call(node) is not None:  # generate_series(...), unnest(...): over one empty row
        return table_functions.plan_item(Rel(Constant.of([()], 0), Scope()), node, state)
    if node.args.get("sample") is not None:  # a random sample: refused, never the whole table instead
        raise errors.FeatureNotSupported("TABLESAMPLE is not supported")
    if isinstance(node, exp.Table):
        if node.args.get("rows_from"):
            raise errors.FeatureNotSupported("ROWS FROM is not supported",
                                             hint="Join the table functions WITH ORDINALITY on their ordinality.")
        if node.this is None:
            raise errors.FeatureNotSupported(f"FROM item {node.sql(dialect='postgres')[:60]!r} is not supported")
        if not isinstance(node.this, exp.Identifier):
            name = node.this.sql_name().lower() if isinstance(node.this, exp.Func) else node.this.key
            raise errors.FeatureNotSupported(f"table function {name} is not supported")
        # unquoted names fold to lower case, as PostgreSQL folds them (``"materialize".INFORMATION_SCHEMA.columns``)
        parts = tuple(p.name if p.args.get("quoted") else p.name.lower()
                      for p in (node.args.get("catalog"), node.args.get("db"), node.this) if p is not None)
        if len(parts) == 1 and parts[0] in state.prebuilt:
            return state.prebuilt[parts[0]]
        if len(parts) == 1 and parts[0] in state.ctes:
            return rename(state.ctes[parts[0]], alias or parts[0], names)
        item = state.ctx.catalog.resolve_item(parts)
        if item.desc is None:
            raise errors.WrongObjectType(f"{errors.quote_ident(item.name.item)} is an index and cannot be queried",
                                         hint="Query the relation the index is on instead.")
        scope = Scope(tuple(ScopeColumn(None, c.name, c.type, c.nullable, mod=c.mod) for c in item.desc.columns))
        if (item.name.schema, item.name.item) == ("pg_catalog", "pg_settings"):  # the session's values
            values = state.ctx.settings or tuple(settings.DEFAULT_VARIABLES.items())
            return rename(Rel(Constant.of(settings.rows(values), item.desc.arity), scope), alias or parts[-1], names)
        session_zone.use_item(state.ctx, item)  # planned in another TimeZone: refused (0A000)
        return rename(Rel(Get(item.id), scope), alias or parts[-1], names)
    if isinstance(node, exp.Subquery):
        if alias is None:
            raise errors.SyntaxError_("subquery in FROM must have an alias",
                                      hint="For example, FROM (SELECT ...) [AS] foo.")
        return rename(state.subquery(node.this if not arg(node, "order", "limit") else node), alias, names)
    if isinstance(node, exp.Values):
        if arg(node, "order", "limit", "offset"):  # a query with its finishing, named as a derived table
            return rename(state.subquery(node), alias or "*VALUES*", names)
        return plan_values(node, state, alias)
    if isinstance(node, exp.Lateral):
        raise errors.FeatureNotSupported("LATERAL as the first FROM item is not supported")
    raise errors.FeatureNotSupported(f"{node.key.upper()} in FROM is not supported")


def _is_table_ref(node: exp.Expr) -> bool:
    """Whether ``node``, found inside parentheses in FROM, is a FROM item (a join, a table, an aliased derived
    table) rather than a query (``(SELECT ...)``, which needs an alias)."""
    if isinstance(node, (exp.Select, exp.SetOperation, exp.Values)):
        return False  # a query (a SELECT's own joins are its FROM list)
    if node.args.get("joins") or isinstance(node, exp.Table):
        return True
    return isinstance(node, exp.Subquery) and (node.args.get("alias") is not None or _is_table_ref(node.this))


def plan_from(first: exp.Expr, joins: list[exp.Join], state: QueryState) -> Rel:
    """A FROM list: comma-separated items, each a left-deep chain of explicit joins.  A comma binds looser than any
    JOIN (``a, b FULL JOIN c`` is ``a × (b FULL JOIN c)``), so the chain is cut at each comma and the items are
    crossed (one n-ary Join, whose equivalences the optimizer takes from WHERE)."""
    items: list[Rel] = []
    rel = plan_table_ref(first, state)
    for join in joins:
        if table_functions.from_call(join.this) is not None:  # a FlatMap over the items before it
            if join.meta.get("comma"):
                items.append(rel)
                rel, items = table_functions.plan_item(_cross(items), join.this, state), []
            else:
                outer = table_functions.join_is_outer(join)
                rel = table_functions.plan_item(rel, join.this, state, outer)
                if join.args.get("on") is not None and not outer:
                    rel = state.where(rel, join.args["on"], exp.select("*"))
                elif join.args.get("using"):
                    raise errors.FeatureNotSupported("JOIN ... USING with a table function is not supported")
        elif isinstance(join.this, exp.Lateral):  # it may refer to the items before it (sql/lateral.py)
            if join.meta.get("comma"):
                items.append(rel)
                rel, items = state.lateral(_cross(items), join.this), []
            else:
                rel = _join_lateral(rel, items, join, state)
        elif join.meta.get("comma"):
            items.append(rel)
            rel = plan_table_ref(join.this, state)
        else:
            rel = _plan_join(rel, plan_table_ref(join.this, state), join, state)
    items.append(rel)
    return _cross(items)


def _join_lateral(left: Rel, items: list[Rel], join: exp.Join, state: QueryState) -> Rel:
    """``left JOIN LATERAL (...)``: the subquery sees ``left``; one that refers to an earlier comma-separated item
    (which PostgreSQL allows) is refused with 0A000 rather than mis-planned."""
    try:
        return state.lateral(left, join.this, join)
    except (errors.UndefinedColumn, errors.UndefinedTable):
        if not items:
            raise
        try:
            state.lateral(_cross([*items, left]), join.this.copy(), join)
        except errors.SteadyError:
            pass
        else:
            raise errors.FeatureNotSupported(
                "a LATERAL subquery in a JOIN that refers to FROM items before the comma is not supported",
                hint="Put the LATERAL subquery after a comma, or move the items it refers to into the JOIN.") from None
        raise


def _cross(items: list[Rel]) -> Rel:
    """Comma-separated FROM items: their cross product (one n-ary Join)."""
    if len(items) == 1:
        return items[0]
    for i, item in enumerate(items[1:], start=1):
        _check_table_names(Rel(Constant.of([], 0), Scope(tuple(c for it in items[:i] for c in it.scope.columns))), item)
    scope = Scope(tuple(c for item in items for c in item.scope.columns))
    return Rel(Join(tuple(item.expr for item in items), ()), scope)


def _check_table_names(left: Rel, right: Rel) -> None:
    """PostgreSQL refuses the same table name twice in one FROM clause (``FROM t, t``; alias one of them)."""
    shared = {c.table for c in left.scope.columns if c.table} & {c.table for c in right.scope.columns if c.table}
    if shared:
        raise errors.SteadyError(f"table name {errors.quote_ident(sorted(shared)[0])} specified more than once",
                                 sqlstate="42712")


def _plan_join(left: Rel, right: Rel, join: exp.Join, state: QueryState) -> Rel:
    _check_table_names(left, right)
    side = JoinSide(str(join.args.get("side") or "").upper() or "INNER")
    kind = str(join.args.get("kind") or "").upper()
    method = str(join.args.get("method") or "").upper()
    if kind in ("SEMI", "ANTI", "ASOF") or method not in ("", "NATURAL") or join.args.get("match_condition"):
        raise errors.FeatureNotSupported(f"{kind or method} JOIN is not supported")
    if kind == "CROSS" and side is not JoinSide.INNER:
        raise errors.SyntaxError_(f"syntax error at or near \"{side.value}\"")
    using = join.args.get("using")
    if method == "NATURAL":
        right_names = {c.name for c in right.scope.columns if not c.shadowed and c.in_star}
        names = list(dict.fromkeys(c.name for c in left.scope.columns
                                   if not c.shadowed and c.in_star and c.name in right_names))
        return _plan_using(left, right, names, side, state)
    if using:
        return _plan_using(left, right, [u.name for u in using], side, state)
    predicates: list[Any] = []
    if join.args.get("on") is not None:
        env = state.env(left.scope + right.scope)
        env.clause = "JOIN conditions"
        for conjunct in conjuncts(join.args["on"]):
            predicates.append(require_bool(plan_expr(conjunct, env), env, "JOIN/ON").expr)
    expr, columns = _join(left, right, predicates, side)
    return Rel(expr, Scope(columns))


class JoinSide(enum.Enum):
    """Which sides of a join keep their unmatched rows (padded with NULLs)."""

    INNER = "INNER"
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    FULL = "FULL"

    @property
    def keeps_left(self) -> bool:
        return self in (JoinSide.LEFT, JoinSide.FULL)

    @property
    def keeps_right(self) -> bool:
        return self in (JoinSide.RIGHT, JoinSide.FULL)


def _join(left: Rel, right: Rel, predicates: list[Any], side: JoinSide) -> tuple[RelationExpr, tuple[ScopeColumn, ...]]:
    """The join's IR (columns: left's then right's) and its columns, made nullable on a side that may be padded."""
    inner = inner_join(left, right, predicates)
    parts: list[RelationExpr] = [inner]
    if side.keeps_left:
        unmatched = Threshold(Union_((left.expr, Negate(Project(inner, tuple(range(left.arity)))))))
        nulls = tuple(Literal(None, c.type) for c in right.scope.columns)
        parts.append(Map(unmatched, nulls))
    if side.keeps_right:
        right_cols = tuple(range(left.arity, left.arity + right.arity))
        unmatched = Threshold(Union_((right.expr, Negate(Project(inner, right_cols)))))
        nulls = tuple(Literal(None, c.type) for c in left.scope.columns)
        padded = Map(unmatched, nulls)
        order = tuple(range(right.arity, right.arity + left.arity)) + tuple(range(right.arity))
        parts.append(Project(padded, order))
    columns = list(left.scope.columns + right.scope.columns)
    for i, c in enumerate(columns):
        if side.keeps_right if i < left.arity else side.keeps_left:
            columns[i] = replace(c, nullable=True)
    return (parts[0] if len(parts) == 1 else Union_(tuple(parts))), tuple(columns)


def _plan_using(left: Rel, right: Rel, names: list[str], side: JoinSide, state: QueryState) -> Rel:
    """``JOIN ... USING (names)`` (and NATURAL JOIN, with the common names) as PostgreSQL has it: one merged column
    per name comes first (the left's value, the right's for a RIGHT join, COALESCE of both for a FULL one); the
    two sides' own columns of that name stay reachable qualified (``a.x``) but are hidden from ``*`` and from
    unqualified names."""
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise errors.SteadyError(f"column name {errors.quote_ident(duplicate)} appears more than once in USING clause",
                                 sqlstate="42701")
    env = state.env(left.scope + right.scope)
    predicates: list[Any] = []
    merged: list[Any] = []
    merged_columns: list[ScopeColumn] = []
    hidden: set[int] = set()
    for name in names:
        li, ri = _using_index(left.scope, name, "left"), _using_index(right.scope, name, "right")
        lc, rc = left.scope.columns[li], right.scope.columns[ri]
        (a, b), typ = unify([Typed(ColumnRef(li), lc.type, lc.nullable),
                             Typed(ColumnRef(left.arity + ri), rc.type, rc.nullable)], env,
                            describe=lambda known: errors.DatatypeMismatch(
                                f"JOIN/USING types {known[0].pg_name} and {known[1].pg_name} cannot be matched"))
        predicates.append(CallBinary("eq", a.expr, b.expr))
        hidden.update((li, left.arity + ri))
        if side is JoinSide.FULL:
            merged.append(CallVariadic("coalesce", (a.expr, b.expr)))
            nullable = lc.nullable and rc.nullable
        else:
            chosen = b if side is JoinSide.RIGHT else a
            merged.append(chosen.expr)
            nullable = chosen.nullable
        merged_columns.append(ScopeColumn(None, name, typ, nullable))
    expr, columns = _join(left, right, predicates, side)
    arity = len(columns)
    outputs = tuple(range(arity, arity + len(merged))) + tuple(range(arity))
    shown = tuple(replace(c, shadowed=True, in_star=False) if i in hidden else c for i, c in enumerate(columns))
    return Rel(Project(Map(expr, tuple(merged)), outputs) if merged else expr, Scope(tuple(merged_columns) + shown))


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
