"""Planning table functions (``generate_series``, ``unnest``, ``regexp_split_to_table``, ...) in FROM and in a
select list, as :class:`~steadystate.expr.ir.FlatMap` nodes over the table functions of ``expr/table_functions.py``
(whose module docstring describes the interface a new function plugs into: one entry in ``TABLE_FUNCTIONS``).

* **In FROM** (``sql/joins.py`` calls :func:`plan_item`): the call is a FlatMap over the FROM items before it — over
  one empty row when it comes first — so ``FROM t, unnest(t.arr)``, ``CROSS JOIN LATERAL generate_series(1, t.n)``
  and ``JOIN LATERAL f(t.x) AS g ON p`` see the earlier items' columns without any decorrelation (a FlatMap is
  per-row).  ``WITH ORDINALITY`` appends the position (bigint); ``AS t(x, n)`` names the columns; a single-column
  function aliased ``AS g`` has its column called ``g`` too (PostgreSQL's rule for scalar-returning functions).
  ``LEFT JOIN LATERAL f(...) ON true`` keeps the rows the function returns nothing for (a FlatMap with ``outer``);
  a LEFT join with another condition, and RIGHT/FULL joins, are refused with 0A000.
* **In a select list** (``sql/query.py`` calls :func:`plan_select_list`): every distinct table function call in
  the list becomes a call of one FlatMap under the projection and each call is bound to its column, as PostgreSQL
  evaluates set-returning functions in a select list: one output row per row they return, several calls in
  lockstep (the shorter padded with NULLs).  One in a grouped select list, one nested in another's arguments, or
  one inside CASE/COALESCE, is refused with 0A000; one
  anywhere else (WHERE, an aggregate's argument, ...) is 0A000 ``set-returning functions are not allowed in ...``
  (sql/table_function_calls.py, which recognizes the calls and is installed into sql/scalar.py).
"""

from __future__ import annotations

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import FlatMap, TableCall
from steadystate.expr.table_functions import TABLE_FUNCTIONS, Signature
from steadystate.repr.types import ScalarType
from steadystate.sql.relation import QueryState, Rel
from steadystate.sql.scalar import plan_expr
from steadystate.sql.table_function_calls import call_of
from steadystate.sql import date_parts
from steadystate.sql.typed import ExprEnv, Scope, ScopeColumn, Typed, binding_key, coerce, lit

T = ScalarType


class FromCall:
    """A FROM item that calls a table function: the call, its alias and WITH ORDINALITY."""

    def __init__(self, call: exp.Expr, alias: exp.TableAlias | None, ordinality: bool,
                 ordinality_name: str | None) -> None:
        self.call, self.alias, self.ordinality, self.ordinality_name = call, alias, ordinality, ordinality_name


def from_call(node: exp.Expr) -> FromCall | None:
    """``node`` as a FROM item calling a table function (``f(...)``, ``LATERAL f(...)``, ``unnest(...)``), or None."""
    if isinstance(node, exp.Unnest):
        offset = node.args.get("offset")
        name = offset.name if isinstance(offset, exp.Identifier) else None
        return FromCall(node, node.args.get("alias"), bool(offset), name)
    if isinstance(node, (exp.Table, exp.Lateral)) and node.this is not None and call_of(node.this) is not None:
        inner = from_call(node.this) if isinstance(node.this, exp.Unnest) else None
        if inner is not None and node.args.get("alias") is not None:
            inner.alias = node.args["alias"]
        if inner is not None:
            inner.ordinality = inner.ordinality or bool(node.args.get("ordinality"))
            return inner
        return FromCall(node.this, node.args.get("alias"), bool(node.args.get("ordinality")), None)
    return None


def _signature(name: str, args: list[exp.Expr], env: ExprEnv) -> tuple[Signature, list[Typed]]:
    values = [plan_expr(a, env) for a in args]
    signature = TABLE_FUNCTIONS[name].resolve([None if v.is_untyped else v.type for v in values])
    if signature is None:
        shown = ", ".join("unknown" if v.is_untyped else v.type.pg_name for v in values)
        raise errors.UndefinedFunction(f"function {name}({shown}) does not exist",
                                       hint="No function matches the given name and argument types. "
                                            "You might need to add explicit type casts.")
    coerced = [coerce(v, p, env) for v, p in zip(values, signature.params)]
    if name == "generate_series" and signature.params[0] is T.TIMESTAMPTZ:  # steps of days, months in the zone
        zone = date_parts.interval_zone(coerced[2], env, "generate_series")
        if zone is not None:
            coerced.append(lit(zone, T.TEXT))
    return signature, coerced


def plan_item(left: Rel, node: exp.Expr, state: QueryState, outer: bool = False) -> Rel:
    """``left`` followed by each row the table function of FROM item ``node`` returns for it (``outer``: a row of
    NULLs when it returns none)."""
    item = from_call(node)
    assert item is not None
    call = call_of(item.call)
    assert call is not None
    name, args = call
    env = state.env(left.scope)
    env.clause = "functions in FROM"
    signature, coerced = _signature(name, args, env)
    call_ir = TableCall(name, tuple(c.expr for c in coerced), signature.columns)
    expr = FlatMap(left.expr, (call_ir,), item.ordinality, outer)
    alias = item.alias
    table = alias.name if alias is not None and alias.name else name
    names = list(signature.names or ([name] * len(signature.columns)))
    if alias is not None and alias.name and not alias.columns and len(signature.columns) == 1 and not signature.names:
        names = [alias.name]
    types = list(signature.columns)
    if item.ordinality:
        names.append(item.ordinality_name or "ordinality")
        types.append(T.INT8)
    given = [c.name for c in alias.columns] if alias is not None and alias.columns else []
    if item.ordinality_name is not None and alias is not None:
        given = given[: len(signature.columns)]  # sqlglot moved the last column alias into ``offset``
    if len(given) > len(names):
        raise errors.SteadyError(f"table {errors.quote_ident(table)} has {len(names)} columns available but "
                                 f"{len(given)} columns specified", sqlstate="42P10")
    names[: len(given)] = given
    columns = tuple(ScopeColumn(table, n, t, True) for n, t in zip(names, types))
    return Rel(expr, Scope((*left.scope.columns, *columns)))


def join_is_outer(join: exp.Join) -> bool:
    """Whether an explicit join with a table function keeps the rows the function returns nothing for: ``LEFT JOIN
    [LATERAL] f(...) ON true``.  A LEFT join with another condition, and RIGHT/FULL joins, are refused (0A000)."""
    side = (join.args.get("side") or "").upper()
    if not side:
        return False
    on = join.args.get("on")
    if side == "LEFT" and (on is None or (isinstance(on, exp.Boolean) and on.this is True)) \
            and not join.args.get("using"):
        return True
    raise errors.FeatureNotSupported(f"{side} JOIN with a table function is not supported",
                                     hint="Use a comma, CROSS JOIN, an inner JOIN, or LEFT JOIN ... ON true.")


# ---------------------------------------------------------------------------------------------------------
# Select lists


def _calls_in(node: exp.Expr) -> list[exp.Expr]:
    """Table function calls in a select item, not inside a subquery; one inside CASE or COALESCE is refused
    (PostgreSQL's 0A000: it would run whatever the branch)."""
    found: list[exp.Expr] = []

    def visit(sub: exp.Expr, conditional: str | None) -> None:
        if isinstance(sub, (exp.Subquery, exp.Select)):
            return
        if call_of(sub) is not None:
            if conditional is not None:
                raise errors.FeatureNotSupported(f"set-returning functions are not allowed in {conditional}",
                                                 hint="You might be able to move the set-returning function into a "
                                                      "LATERAL FROM item.")
            found.append(sub)
            return
        if isinstance(sub, exp.Case):
            conditional = "CASE"
        elif isinstance(sub, exp.Coalesce):
            conditional = "COALESCE"
        for child in sub.iter_expressions():
            visit(child, conditional)

    visit(node, None)
    return found


def plan_select_list(items: list[exp.Expr], rel: Rel, state: QueryState,
                     grouped: bool) -> tuple[Rel, dict[str, tuple[int, ScalarType, bool]]]:
    """``rel`` with a FlatMap for the select list's table function call (if any), and the binding of that call to
    its output column."""
    calls: dict[str, exp.Expr] = {}
    for item in items:
        for call in _calls_in(item):
            calls.setdefault(binding_key(call), call)
    if not calls:
        return rel, {}
    if grouped:
        raise errors.FeatureNotSupported("set-returning functions in a grouped select list are not supported",
                                         hint="Call the function in FROM over a subquery that groups.")
    env = state.env(rel.scope)
    env.clause = "SELECT"
    planned: list[TableCall] = []
    bindings: dict[str, tuple[int, ScalarType, bool]] = {}
    columns: list[ScopeColumn] = []
    for key, node in calls.items():
        for sub in node.walk():
            if sub is not node and call_of(sub) is not None:
                raise errors.FeatureNotSupported("nested set-returning functions are not supported")
        found = call_of(node)
        assert found is not None
        name, args = found
        signature, coerced = _signature(name, args, env)
        if len(signature.columns) != 1:
            raise errors.FeatureNotSupported(f"{name} with several columns in a select list is not supported",
                                             hint="Call it in FROM.")
        planned.append(TableCall(name, tuple(c.expr for c in coerced), signature.columns))
        bindings[key] = (rel.arity + len(columns), signature.columns[0], True)
        columns.append(ScopeColumn(None, f"?{name}?", signature.columns[0], True, shadowed=True, in_star=False))
    expr = FlatMap(rel.expr, tuple(planned))  # several calls run in lockstep, as PostgreSQL runs them
    return Rel(expr, Scope((*rel.scope.columns, *columns))), bindings


__all__ = ["from_call", "join_is_outer", "plan_item", "plan_select_list"]
