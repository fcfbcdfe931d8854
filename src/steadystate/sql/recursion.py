"""Planning recursive queries: PostgreSQL's ``WITH RECURSIVE`` and Materialize's ``WITH MUTUALLY RECURSIVE``.

Both become an IR ``LetRec`` (expr/ir.py): bindings iterated to a fixed point from empty, then a body reading them
(dataflow/iterate.py runs it, maintained through every change of its inputs).  :func:`plan_recursive_with` brings the
block's names into scope (``state.ctes``, each a ``Get`` of a local id) and returns the function that wraps the
planned body in its LetRec(s).

**WITH MUTUALLY RECURSIVE** ``[(RETURN AT | ERROR AT) RECURSION LIMIT n | (RECURSION LIMIT n)] name (col type, ...)
AS (query), ...``, Materialize's semantics: every binding is in scope in every definition and in the body; the
bindings start empty and are updated in order, each from the current values of all of them, until an iteration
changes none.  A value is brought to its declared types by implicit casts (else 42804).  ``RETURN AT`` returns the
iterate reached at the limit, ``ERROR AT`` (and ``RECURSION LIMIT``) fails; with no option the iteration fails after
:data:`DEFAULT_RECURSION_LIMIT` iterations (Materialize would iterate forever).

**WITH RECURSIVE**, PostgreSQL's semantics.  A CTE that does not read itself is an ordinary CTE.  One that does must
be ``non-recursive-term UNION [ALL] recursive-term`` (42P19 otherwise, as PostgreSQL says), its columns typed by the
non-recursive term (the recursive term's columns are cast to them; a type the union would widen is 42804, as in
PostgreSQL).  PostgreSQL evaluates it with a *working table*: ``W0 = N``, ``W(i+1) = R(Wi)``, the result the sum
(UNION ALL) or the distinct union (UNION) of the ``Wi``.  That equals the least fixed point of ``X = N + R(X)``
(``X = distinct(N ∪ R(X))`` for UNION) when ``R`` is *linear* in ``X`` — distributes over a sum — which holds when
the reference is read exactly once (PostgreSQL requires it) and only through maps, filters, projections, inner
joins and UNION ALL (each branch of which reads it, with UNION ALL; a constant branch would be added again at every
step); with UNION, through DISTINCT too (sets).  So the CTE becomes a one-binding LetRec of that equation, and a
recursive term outside this class (an aggregate, an outer join, a subquery over the reference...) is refused
(0A000, pointing to WITH MUTUALLY RECURSIVE) rather than answered differently from PostgreSQL.  Each recursive CTE is
its own LetRec around the rest of the block, so a later CTE reads its final value.  A recursion PostgreSQL would
run forever fails at the default limit.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr import ir
from steadystate.sql.relation import QueryState, Rel, rename
from steadystate.sql.typed import AGGREGATE_CLASSES, Scope, ScopeColumn, Typed, coerce
from steadystate.sql import types as ty
from steadystate.sql.types import resolve_type

DEFAULT_RECURSION_LIMIT = 100_000  # iterations before a recursion with no limit option is reported as diverging

Wrap = Callable[[Rel], Rel]

# operators a WITH RECURSIVE term may read its reference through (it stays linear in it)
_LINEAR = (ir.Map, ir.Filter, ir.Project, ir.Join, ir.Union_, ir.ArrangeBy)
_LINEAR_SETS = _LINEAR + (ir.Distinct,)


def plan_recursive_with(with_: exp.With, state: QueryState) -> Wrap:
    if "mutually" in with_.meta:
        return _plan_mutually_recursive(with_, state)
    return _plan_with_recursive(with_, state)


def _local_id(with_: exp.With, name: str) -> str:
    digest = hashlib.sha1(with_.sql(dialect="postgres").encode()).hexdigest()[:10]
    return f"{name}#{digest}"


# ---------------------------------------------------------------------------------------------------------
# WITH MUTUALLY RECURSIVE


def _plan_mutually_recursive(with_: exp.With, state: QueryState) -> Wrap:
    option: tuple[str, int] | None = with_.meta["mutually"]
    if option is not None and option[1] < 1:
        raise errors.InvalidParameterValue(f"recursion limit must be at least 1, not {option[1]}")
    declared: list[tuple[str, str, Scope]] = []
    for cte in with_.expressions:
        name = cte.alias
        if any(name == other for other, _, _ in declared):
            raise errors.SteadyError(f"WITH query name {errors.quote_ident(name)} specified more than once",
                                     sqlstate="42712")
        columns = []
        for column_name, type_node in zip(cte.alias_column_names, cte.meta["types"]):
            scalar, mod = resolve_type(type_node)
            columns.append(ScopeColumn(name, column_name, scalar, True, mod=mod))
        declared.append((name, _local_id(with_, name), Scope(tuple(columns))))
    for name, local_id, scope in declared:
        state.ctes[name] = Rel(ir.Get(local_id), scope)
    bindings = []
    for cte, (name, local_id, scope) in zip(with_.expressions, declared):
        rel = state.subquery(cte.this)
        value = _to_declared(rel, scope, name, state)
        bindings.append(ir.LetRecBinding(local_id, name, value, tuple(c.type for c in scope.columns)))
    if option is None:
        limit, kind, explicit = DEFAULT_RECURSION_LIMIT, ir.RecursionLimitKind.ERROR, False
    else:
        limit, kind, explicit = option[1], ir.RecursionLimitKind(option[0]), True

    def wrap(body: Rel) -> Rel:
        return Rel(ir.LetRec(tuple(bindings), body.expr, limit, kind, explicit), body.scope)
    return wrap


def _to_declared(rel: Rel, scope: Scope, name: str, state: QueryState) -> ir.RelationExpr:
    declared = [c.type for c in scope.columns]
    returned = [c.type for c in rel.scope.columns]

    def mismatch() -> errors.SteadyError:
        return errors.DatatypeMismatch(
            f"WITH MUTUALLY RECURSIVE query {errors.quote_ident(name)} declared types "
            f"({', '.join(t.pg_name for t in declared)}), but query returns types "
            f"({', '.join(t.pg_name for t in returned)})",
            hint="cast the query's columns to the declared types")
    if len(declared) != len(returned):
        raise mismatch()
    env = state.env(Scope())
    exprs: list[ir.ScalarExpr] = []
    for index, (column, target) in enumerate(zip(rel.scope.columns, scope.columns)):
        try:
            typed = coerce(Typed(ir.ColumnRef(index), column.type, column.nullable, mod=column.mod), target.type, env,
                           mod=target.mod)
        except errors.DatatypeMismatch:
            raise mismatch() from None
        exprs.append(typed.expr)
    return _cast_columns(rel.expr, exprs)


def _cast_columns(expr: ir.RelationExpr, exprs: list[ir.ScalarExpr]) -> ir.RelationExpr:
    if all(isinstance(e, ir.ColumnRef) and e.index == i for i, e in enumerate(exprs)):
        return expr
    arity = len(exprs)
    return ir.Project(ir.Map(expr, tuple(exprs)), tuple(range(arity, 2 * arity)))


# ---------------------------------------------------------------------------------------------------------
# WITH RECURSIVE


def _references(node: exp.Expr, name: str) -> bool:
    return any(not table.args.get("db") and table.name == name for table in node.find_all(exp.Table))


def _in_dependency_order(ctes: list[exp.CTE]) -> list[exp.CTE]:
    """``WITH RECURSIVE``'s items in an order where each comes after the items it reads: PostgreSQL lets an item read
    a later one there.  Items reading each other (other than an item reading itself) are refused, as PostgreSQL
    refuses them; Materialize's ``WITH MUTUALLY RECURSIVE`` is for that."""
    names = {cte.alias for cte in ctes}
    reads = {cte.alias: {n for n in names - {cte.alias} if _references(cte.this, n)} for cte in ctes}
    ordered: list[exp.CTE] = []
    done: set[str] = set()
    pending = list(ctes)
    while pending:
        ready = [cte for cte in pending if reads[cte.alias] <= done]
        if not ready:
            raise errors.FeatureNotSupported("mutual recursion between WITH items is not implemented",
                                             hint="WITH MUTUALLY RECURSIVE lets its items read each other.")
        for cte in ready:
            ordered.append(cte)
            done.add(cte.alias)
            pending.remove(cte)
    return ordered


def _plan_with_recursive(with_: exp.With, state: QueryState) -> Wrap:
    wrappers: list[tuple[ir.LetRecBinding, int]] = []  # each recursive CTE's binding, wrapped around the rest
    for cte in _in_dependency_order(list(with_.expressions)):
        name = cte.alias
        alias = cte.args.get("alias")
        column_names = [c.name for c in (alias.columns or [])] if alias else []
        if not _references(cte.this, name):
            state.ctes[name] = rename(state.subquery(cte.this), name, column_names)
            continue
        binding = _plan_recursive_cte(cte.this, name, column_names, _local_id(with_, name), state)
        wrappers.append((binding, DEFAULT_RECURSION_LIMIT))

    def wrap(body: Rel) -> Rel:
        expr = body.expr
        for binding, limit in reversed(wrappers):
            expr = ir.LetRec((binding,), expr, limit)
        return Rel(expr, body.scope)
    return wrap


def _plan_recursive_cte(node: exp.Expr, name: str, column_names: list[str], local_id: str,
                        state: QueryState) -> ir.LetRecBinding:
    quoted = errors.quote_ident(name)
    while isinstance(node, exp.Subquery) and not node.args.get("alias"):
        node = node.this
    if not isinstance(node, exp.Union):
        raise errors.InvalidRecursion(
            f"recursive query {quoted} does not have the form non-recursive-term UNION [ALL] recursive-term")
    for clause, what in (("order", "ORDER BY"), ("limit", "LIMIT"), ("offset", "OFFSET")):
        if node.args.get(clause) is not None:
            raise errors.FeatureNotSupported(f"{what} in a recursive query is not implemented")
    if _references(node.this, name):
        raise errors.InvalidRecursion(f"recursive reference to query {quoted} must not appear within its "
                                      "non-recursive term")
    _check_recursive_term(node.expression, name)
    distinct = node.args.get("distinct", True) is not False
    start = rename(state.subquery(node.this), name, column_names)
    scope = Scope(tuple(ScopeColumn(name, c.name, c.type, True, mod=c.mod) for c in start.scope.columns))
    state.ctes[name] = Rel(ir.Get(local_id), scope)
    step = state.subquery(node.expression)
    if step.arity != start.arity:
        raise errors.SyntaxError_("each UNION query must have the same number of columns")
    env = state.env(Scope())
    exprs: list[ir.ScalarExpr] = []
    for index, (first, later) in enumerate(zip(start.scope.columns, step.scope.columns)):
        overall = ty.common_type([first.type, later.type])
        if overall is not first.type:
            raise errors.DatatypeMismatch(
                f"recursive query {quoted} column {index + 1} has type {first.type.pg_name} in non-recursive term "
                f"but type {(overall or later.type).pg_name} overall",
                hint="Cast the output of the non-recursive term to the correct type.")
        exprs.append(coerce(Typed(ir.ColumnRef(index), later.type, later.nullable), first.type, env).expr)
    step_expr = _cast_columns(step.expr, exprs)
    if _linear_references(step_expr, local_id, name, distinct, True) > 1:
        raise errors.InvalidRecursion(f"recursive reference to query {quoted} must not appear more than once")
    value: ir.RelationExpr = ir.Union_((start.expr, step_expr))
    if distinct:
        value = ir.Distinct(value)
    return ir.LetRecBinding(local_id, name, value, tuple(c.type for c in scope.columns))


def _check_recursive_term(term: exp.Expr, name: str) -> None:
    """PostgreSQL's own refusals (42P19) of a recursive term: an aggregate, the reference on the NULL-padded side of
    an outer join, or inside a subquery of an expression."""
    quoted = errors.quote_ident(name)
    selects = [term] if isinstance(term, exp.Select) else list(term.find_all(exp.Select))
    for select in selects:
        if not _references(select, name):
            continue
        for item in select.expressions + [select.args.get("having")]:
            if item is not None and any(not _in_subquery(agg, item) for agg in item.find_all(*AGGREGATE_CLASSES)):
                raise errors.InvalidRecursion("aggregate functions are not allowed in a recursive query's recursive term")
        from_ = select.args.get("from_") or select.args.get("from")
        items: list[exp.Expr] = [from_.this] if from_ is not None else []
        for join in select.args.get("joins") or []:
            side = str(join.args.get("side") or "").upper()
            nullable = {"LEFT": [join.this], "RIGHT": items, "FULL": items + [join.this]}.get(side, [])
            if any(_references(item, name) for item in nullable):
                raise errors.InvalidRecursion(f"recursive reference to query {quoted} must not appear within an outer join")
            items = items + [join.this]
        for clause in [select.args.get("where"), *select.expressions]:
            for sub in clause.find_all(exp.Subquery, exp.Exists) if clause is not None else []:
                if _references(sub, name):
                    raise errors.InvalidRecursion(f"recursive reference to query {quoted} must not appear within a subquery")


def _in_subquery(node: exp.Expr, root: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and parent is not root:
        if isinstance(parent, (exp.Subquery, exp.Select)):
            return True
        parent = parent.parent
    return False


def _linear_references(expr: ir.RelationExpr, local_id: str, name: str, sets: bool, on_path: bool) -> int:
    """How often ``expr`` reads ``local_id``; refuses a read through an operator it is not linear through."""
    if isinstance(expr, ir.Get):
        if expr.id != local_id:
            return 0
        if not on_path:
            raise _nonlinear(name)
        return 1
    linear = isinstance(expr, _LINEAR_SETS if sets else _LINEAR)
    counts = [_linear_references(child, local_id, name, sets, on_path and linear) for child in ir.children(expr)]
    if isinstance(expr, ir.Union_) and not sets and any(counts) and not all(counts):
        raise errors.FeatureNotSupported(
            f"a UNION ALL in the recursive term of {errors.quote_ident(name)} with a branch that does not read it "
            "is not supported (PostgreSQL would add that branch again at every step)",
            hint="use UNION, or WITH MUTUALLY RECURSIVE")
    return sum(counts)


def _nonlinear(name: str) -> errors.SteadyError:
    return errors.FeatureNotSupported(
        f"reading {errors.quote_ident(name)} in its recursive term through an aggregate, DISTINCT, an outer join, "
        "a subquery or a set operation other than UNION ALL is not supported in WITH RECURSIVE",
        hint="WITH MUTUALLY RECURSIVE computes such recursions as fixed points")

