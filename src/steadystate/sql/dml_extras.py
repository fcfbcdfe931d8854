"""PostgreSQL's DML extensions: ``RETURNING`` on INSERT, UPDATE and DELETE, ``UPDATE ... FROM`` and
``DELETE ... USING``.

* ``RETURNING items``: expressions (``*``, ``t.*``, aliases) over the row written — the inserted row, the updated
  row's new values, the deleted row — and, for UPDATE FROM / DELETE USING, the columns of the joined FROM items,
  as in PostgreSQL.  Planned here to scalar expressions over ``table columns ++ other columns``; the adapter
  evaluates them over the rows it writes (adapter/dml_returning.py), before anything is committed, so an error
  in a RETURNING expression writes nothing.
* ``UPDATE t SET ... FROM items WHERE cond`` / ``DELETE FROM t USING items WHERE cond``: the FROM (USING) items
  are planned as the relation ``SELECT * FROM items`` (``other``); the WHERE clause and the SET expressions are
  over ``t``'s columns followed by ``other``'s.  A target row is updated once even when it joins several rows
  (PostgreSQL leaves which one unspecified; here the first in the other relation's order), and deleted once.
"""

from __future__ import annotations

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import ColumnRef, RelationExpr, ScalarExpr
from steadystate.repr.types import Column, RelationDesc
from steadystate.sql.joins import plan_from
from steadystate.sql.relation import QueryState
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import Scope, output_name


def plan_returning(node: exp.Expr, scope: Scope, state: QueryState) -> tuple[tuple[ScalarExpr, ...], RelationDesc | None]:
    """The RETURNING list of ``node`` over ``scope``: (expressions, their columns); ``((), None)`` without one."""
    returning = node.args.get("returning")
    if returning is None:
        return (), None
    env = state.env(scope)
    env.clause = "RETURNING"
    exprs: list[ScalarExpr] = []
    columns: list[Column] = []
    for item in returning.expressions:
        star_table: str | None = None
        if isinstance(item, exp.Star):
            star = True
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            star, star_table = True, item.table
        else:
            star = False
        if star:
            matched = [(i, c) for i, c in enumerate(scope.columns)
                       if c.in_star and (star_table is None or c.table == star_table)]
            if star_table is not None and not matched:
                raise errors.UndefinedTable(f"missing FROM-clause entry for table {errors.quote_ident(star_table)}")
            for i, c in matched:
                exprs.append(ColumnRef(i))
                columns.append(Column(c.name, c.type, c.nullable, c.mod))
            continue
        typed = plan_expr(item, env)
        exprs.append(typed.expr)
        columns.append(Column(output_name(item), typed.type, typed.nullable, typed.mod))
    return tuple(exprs), RelationDesc(tuple(columns))


def _flatten(item: exp.Expr) -> list[exp.Expr]:
    """A FROM item as sqlglot reads it after UPDATE/DELETE (joins hung on the first table) as the first table and
    its joins, each plain comma join marked as Select's FROM marks it."""
    first = item.copy()
    joins = list(first.args.get("joins") or [])
    first.set("joins", None)
    for join in joins:
        if not any(join.args.get(k) for k in ("on", "using", "kind", "side", "method")):
            join.meta["comma"] = True
    return [first, *joins]


def plan_other(node: exp.Expr, state: QueryState) -> tuple[RelationExpr, Scope] | None:
    """UPDATE's FROM items or DELETE's USING items as one relation and its scope; None without them."""
    if isinstance(node, exp.Update):
        source = node.args.get("from_") or node.args.get("from")
        if source is None:
            return None
        items = [source.this]
    else:
        items = list(node.args.get("using") or [])
        if not items:
            return None
    parts: list[exp.Expr] = []
    for position, item in enumerate(items):
        flat = _flatten(item)
        if position:
            flat[0] = exp.Join(this=flat[0])
            flat[0].meta["comma"] = True
        parts.extend(flat)
    rel = plan_from(parts[0], [j for j in parts[1:] if isinstance(j, exp.Join)], state)
    return rel.expr, rel.scope


def check_target_not_in_other(target: str, scope: Scope) -> None:
    """PostgreSQL: ``table name "t" specified more than once`` when FROM repeats the target's name."""
    if any(c.table == target for c in scope.columns):
        raise errors.SteadyError(f"table name {errors.quote_ident(target)} specified more than once", sqlstate="42712")
