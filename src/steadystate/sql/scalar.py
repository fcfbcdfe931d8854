"""Planning scalar expressions: sqlglot expression → typed IR ScalarExpr against a :class:`Scope`.

:func:`plan_expr` dispatches on the sqlglot node class through :data:`_HANDLERS`; function calls go through
the table in sql/functions.py.  Each result is a :class:`Typed`: the IR expression, its type and
nullability, and — for untyped constants (string literals, NULL, ``$n``) — what is needed to give them the
type their context asks for (:func:`coerce`).  Group keys, aggregates and subqueries already planned by
the relation planner are found in :attr:`ExprEnv.bindings` and become column references.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.eval import compile_scalar
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic, ColumnRef, If, Literal, ScalarExpr, literal
from steadystate.repr.types import ScalarType
from steadystate.sql import types as ty
from steadystate.sql.catalog_api import PlanContext

T = ScalarType


@dataclass(frozen=True)
class Typed:
    expr: ScalarExpr
    type: ScalarType
    nullable: bool = True
    unknown: str | None = None  # text of an untyped string literal
    untyped_null: bool = False
    param: int | None = None  # number of an untyped parameter ($n)

    @property
    def is_untyped(self) -> bool:
        return self.unknown is not None or self.untyped_null or self.param is not None


@dataclass(frozen=True)
class ScopeColumn:
    table: str | None
    name: str
    type: ScalarType
    nullable: bool = True
    shadowed: bool = False  # hidden from unqualified lookup (the right side of JOIN USING)
    in_star: bool = True


@dataclass(frozen=True)
class Scope:
    columns: tuple[ScopeColumn, ...] = ()

    def resolve(self, table: str | None, name: str) -> int:
        matches = [
            i for i, c in enumerate(self.columns)
            if c.name == name and (c.table == table if table is not None else not c.shadowed)
        ]
        if len(matches) == 1:
            return matches[0]
        shown = f"{table}.{name}" if table else name
        if len(matches) > 1:
            raise errors.SteadyError(f"column reference {errors.quote_ident(shown)} is ambiguous", sqlstate="42702")
        if table is not None and not any(c.table == table for c in self.columns):
            raise errors.UndefinedTable(f"missing FROM-clause entry for table {errors.quote_ident(table)}")
        raise errors.UndefinedColumn(f"column {errors.quote_ident(shown)} does not exist")

    def with_table(self, table: str) -> "Scope":
        return Scope(tuple(replace(c, table=table, shadowed=False) for c in self.columns))

    def __add__(self, other: "Scope") -> "Scope":
        return Scope(self.columns + other.columns)


@dataclass
class ExprEnv:
    """Mutable state shared by the scalar planning of one statement."""

    ctx: PlanContext
    scope: Scope = Scope()
    params: dict[int, ScalarType] = field(default_factory=dict)
    bindings: dict[str, tuple[int, ScalarType, bool]] = field(default_factory=dict)  # node sql → column
    grouped: bool = False  # column references must be group keys (bound), else 42803
    group_columns: dict[int, int] = field(default_factory=dict)  # input column → output column
    clause: str = "this context"  # for 'aggregate functions are not allowed in WHERE'
    reduce_arity: int = 0  # when grouped: arity of the Reduce output (group keys + aggregates)

    def child(self, scope: Scope) -> "ExprEnv":
        return ExprEnv(self.ctx, scope, self.params)


def binding_key(node: exp.Expression) -> str:
    return node.sql(dialect="postgres")


# ---------------------------------------------------------------------------------------------------------
# Coercion


def lit(value: Any, typ: ScalarType) -> Typed:
    return Typed(literal(value, typ), typ, nullable=value is None)


def coerce(value: Typed, target: ScalarType, env: ExprEnv, *, explicit: bool = False, what: str = "") -> Typed:
    """``value`` as ``target``: untyped constants adopt it, others are cast (implicitly unless ``explicit``)."""
    if value.unknown is not None:
        return lit(ty.parse_text(value.unknown, target), target)
    if value.untyped_null:
        return lit(None, target)
    if value.param is not None:
        env.params[value.param] = target
        return _param_value(value.param, target, env)
    if value.type is target:
        return value
    allowed = ty.explicitly_castable if explicit else ty.implicitly_castable
    if not allowed(value.type, target):
        if explicit:
            raise errors.SteadyError(
                f"cannot cast type {value.type.pg_name} to {target.pg_name}", sqlstate="42846"
            )
        message = (
            f"{what} is of type {target.pg_name} but expression is of type {value.type.pg_name}"
            if what
            else f"expression of type {value.type.pg_name} cannot be used as type {target.pg_name}"
        )
        raise errors.DatatypeMismatch(message, hint="You will need to rewrite or cast the expression.")
    cast = CallUnary(f"cast_{target.value}", value.expr)
    if isinstance(value.expr, Literal):
        folded = _fold(cast)
        if folded is not _NOT_FOLDED:
            return lit(folded, target)
    return Typed(cast, target, value.nullable)


_NOT_FOLDED = object()


def _fold(expr: CallUnary) -> Any:
    """A cast of a literal evaluated at plan time with the evaluator's own cast (``_NOT_FOLDED`` if it fails:
    the cast then stays in the plan, so its error surfaces, with its SQLSTATE, where the value is used)."""
    try:
        return compile_scalar(expr, [])(())
    except Exception:  # noqa: BLE001 - any failure leaves the cast to run time
        return _NOT_FOLDED


def _param_value(number: int, target: ScalarType, env: ExprEnv) -> Typed:
    params = env.ctx.params
    if params is None:
        return Typed(Literal(None, target), target)
    value = params[number - 1]
    if value is None:
        return lit(None, target)
    if isinstance(value, str):
        return lit(ty.parse_text(value, target), target)
    source = ty.datum_type(value)
    assert source is not None
    return coerce(lit(value, source), target, env, explicit=True)


def unify(values: list[Typed], env: ExprEnv, *, describe: Callable[[list[ScalarType]], errors.SteadyError]) -> tuple[list[Typed], ScalarType]:
    """Bring ``values`` to one type (untyped ones adopt it; all untyped → text)."""
    known = [v.type for v in values if not v.is_untyped]
    target = ty.common_type(known)
    if target is None:
        raise describe(known)
    return [coerce(v, target, env) for v in values], target


def operator_error(symbol: str, left: ScalarType, right: ScalarType) -> errors.SteadyError:
    return errors.UndefinedFunction(
        f"operator does not exist: {left.pg_name} {symbol} {right.pg_name}",
        hint="No operator matches the given name and argument types. You might need to add explicit type casts.",
    )


def require_bool(value: Typed, env: ExprEnv, construct: str) -> Typed:
    if value.is_untyped:
        return coerce(value, T.BOOL, env)
    if value.type is not T.BOOL:
        raise errors.DatatypeMismatch(f"argument of {construct} must be type boolean, not type {value.type.pg_name}")
    return value


def nullable_of(*values: Typed) -> bool:
    return any(v.nullable for v in values)


# ---------------------------------------------------------------------------------------------------------
# Handlers


def plan_expr(node: exp.Expression, env: ExprEnv) -> Typed:
    if env.bindings:
        bound = env.bindings.get(binding_key(node))
        if bound is not None:
            index, typ, nullable = bound
            return Typed(ColumnRef(index), typ, nullable)
    handler = _HANDLERS.get(type(node))
    if handler is None:
        from steadystate.sql import functions

        return functions.plan_function(node, env)
    return handler(node, env)


def _column(node: exp.Column, env: ExprEnv) -> Typed:
    if isinstance(node.this, exp.Star):
        raise errors.FeatureNotSupported("* is not supported in this position")
    table = node.table or None
    index = env.scope.resolve(table, node.name)
    column = env.scope.columns[index]
    if env.grouped:
        if index not in env.group_columns:
            shown = f"{column.table}.{column.name}" if column.table else column.name
            raise errors.SteadyError(
                f"column {errors.quote_ident(shown)} must appear in the GROUP BY clause or be used in an aggregate function",
                sqlstate="42803",
            )
        index = env.group_columns[index]
    return Typed(ColumnRef(index), column.type, column.nullable)


def _literal(node: exp.Literal, env: ExprEnv) -> Typed:
    if node.is_string:
        return Typed(Literal(node.this, T.TEXT), T.TEXT, nullable=False, unknown=node.this)
    value, typ = ty.number_literal_type(node.this)
    return lit(value, typ)


def _boolean(node: exp.Boolean, env: ExprEnv) -> Typed:
    return lit(bool(node.this), T.BOOL)


def _null(node: exp.Null, env: ExprEnv) -> Typed:
    return Typed(Literal(None, T.TEXT), T.TEXT, nullable=True, untyped_null=True)


def _parameter(node: exp.Parameter, env: ExprEnv) -> Typed:
    try:
        number = int(node.this.this if isinstance(node.this, exp.Expression) else node.this)
    except (TypeError, ValueError):
        raise errors.SyntaxError_(f"syntax error at or near {errors.quote_ident(node.sql())}") from None
    params = env.ctx.params
    if params is not None:
        if not 1 <= number <= len(params):
            raise errors.SteadyError(f"there is no parameter ${number}", sqlstate="42P02")
        value = params[number - 1]
        source = ty.datum_type(value)
        if source is None:
            if value is None:
                return Typed(Literal(None, T.TEXT), T.TEXT, untyped_null=True)
            return Typed(Literal(value, T.TEXT), T.TEXT, nullable=False, unknown=value)
        return lit(value, source)
    env.params.setdefault(number, T.TEXT)
    return Typed(Literal(None, T.TEXT), T.TEXT, param=number)


def _paren(node: exp.Paren, env: ExprEnv) -> Typed:
    return plan_expr(node.this, env)


def _alias(node: exp.Alias, env: ExprEnv) -> Typed:
    return plan_expr(node.this, env)


_ARITH = {exp.Add: ("add", "+"), exp.Sub: ("sub", "-"), exp.Mul: ("mul", "*"), exp.Div: ("div", "/"), exp.Mod: ("mod", "%")}
_COMPARE = {exp.EQ: ("eq", "="), exp.NEQ: ("neq", "<>"), exp.LT: ("lt", "<"), exp.LTE: ("lte", "<="),
            exp.GT: ("gt", ">"), exp.GTE: ("gte", ">=")}


def _binary_operands(node: exp.Expression, env: ExprEnv, symbol: str) -> tuple[Typed, Typed, ScalarType]:
    left, right = plan_expr(node.left, env), plan_expr(node.right, env)
    if left.is_untyped and right.is_untyped:
        if left.unknown is not None and right.unknown is not None and symbol in ("=", "<>", "<", "<=", ">", ">="):
            return coerce(left, T.TEXT, env), coerce(right, T.TEXT, env), T.TEXT
        if left.untyped_null or right.untyped_null:
            return coerce(left, T.TEXT, env), coerce(right, T.TEXT, env), T.TEXT
        raise errors.SteadyError(f"operator is not unique: unknown {symbol} unknown", sqlstate="42725",
                                 hint="Could not choose a best candidate operator. You might need to add explicit type casts.")
    (a, b), target = unify([left, right], env, describe=lambda known: operator_error(symbol, left.type, right.type))
    return a, b, target


def _arith(node: exp.Expression, env: ExprEnv) -> Typed:
    func, symbol = _ARITH[type(node)]
    a, b, target = _binary_operands(node, env, symbol)
    if not target.is_numeric:
        raise operator_error(symbol, a.type, b.type)
    return Typed(CallBinary(func, a.expr, b.expr), target, nullable_of(a, b))


def _compare(node: exp.Expression, env: ExprEnv) -> Typed:
    func, symbol = _COMPARE[type(node)]
    a, b, _ = _binary_operands(node, env, symbol)
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def _logical(node: exp.Expression, env: ExprEnv) -> Typed:
    construct = "AND" if isinstance(node, exp.And) else "OR"
    a = require_bool(plan_expr(node.left, env), env, construct)
    b = require_bool(plan_expr(node.right, env), env, construct)
    return Typed(CallBinary(construct.lower(), a.expr, b.expr), T.BOOL, nullable_of(a, b))


_NOT_IS = {True: "is_not_true", False: "is_not_false"}


def _not(node: exp.Not, env: ExprEnv) -> Typed:
    inner = node.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Boolean) and not inner.args.get("negate"):
        value = require_bool(plan_expr(inner.this, env), env, "IS")
        return Typed(CallUnary(_NOT_IS[bool(inner.expression.this)], value.expr), T.BOOL, False)
    value = require_bool(plan_expr(node.this, env), env, "NOT")
    return Typed(CallUnary("not", value.expr), T.BOOL, value.nullable)


def _neg(node: exp.Neg, env: ExprEnv) -> Typed:
    if isinstance(node.this, exp.Literal) and not node.this.is_string:
        value, typ = ty.number_literal_type(node.this.this)
        if typ is T.INT8 and -value == ty.INT_RANGES[T.INT4][0]:
            return lit(-value, T.INT4)
        return lit(-value, typ)
    value = plan_expr(node.this, env)
    if value.is_untyped:
        value = coerce(value, T.FLOAT8 if value.unknown else T.INT4, env)
    if not value.type.is_numeric:
        raise errors.UndefinedFunction(
            f"operator does not exist: - {value.type.pg_name}",
            hint="No operator matches the given name and argument types. You might need to add explicit type casts.",
        )
    return Typed(CallUnary("neg", value.expr), value.type, value.nullable)


def _is(node: exp.Is, env: ExprEnv) -> Typed:
    negate = bool(node.args.get("negate"))
    target = node.expression
    value = plan_expr(node.this, env)
    if isinstance(target, exp.Null):
        return Typed(CallUnary("is_not_null" if negate else "is_null", value.expr), T.BOOL, False)
    if isinstance(target, exp.Boolean):
        value = require_bool(value, env, "IS")
        func = ("is_not_" if negate else "is_") + ("true" if target.this else "false")
        return Typed(CallUnary(func, value.expr), T.BOOL, False)
    raise errors.FeatureNotSupported(f"IS {target.sql()} is not supported")


def _concat_pipe(node: exp.DPipe, env: ExprEnv) -> Typed:
    left, right = plan_expr(node.left, env), plan_expr(node.right, env)
    a = coerce(left, T.TEXT, env, explicit=True)
    b = coerce(right, T.TEXT, env, explicit=True)
    return Typed(CallBinary("concat", a.expr, b.expr), T.TEXT, nullable_of(a, b))


def _like(node: exp.Expression, env: ExprEnv) -> Typed:
    if node.args.get("escape") is not None:
        raise errors.FeatureNotSupported("LIKE ... ESCAPE is not supported")
    base = "ilike" if isinstance(node, exp.ILike) else "like"
    func = ("not_" + base) if node.args.get("negate") else base
    value = plan_expr(node.this, env)
    pattern = plan_expr(node.expression, env)
    for side in (value, pattern):
        if not side.is_untyped and side.type is not T.TEXT:
            raise operator_error("~~", value.type, pattern.type)
    a, b = coerce(value, T.TEXT, env), coerce(pattern, T.TEXT, env)
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def _regex(node: exp.Expression, env: ExprEnv) -> Typed:
    """``text ~ pattern`` / ``~*`` (case-insensitive): POSIX-style regular expression search."""
    func = "regex_imatch" if isinstance(node, exp.RegexpILike) else "regex_match"
    value, pattern = plan_expr(node.this, env), plan_expr(node.expression, env)
    for side in (value, pattern):
        if not side.is_untyped and side.type is not T.TEXT:
            raise operator_error("~*" if func == "regex_imatch" else "~", value.type, pattern.type)
    a, b = coerce(value, T.TEXT, env), coerce(pattern, T.TEXT, env)
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def _escape(node: exp.Escape, env: ExprEnv) -> Typed:
    raise errors.FeatureNotSupported("LIKE ... ESCAPE is not supported")


def _mismatch(construct: str) -> Callable[[list[ScalarType]], errors.SteadyError]:
    def describe(known: list[ScalarType]) -> errors.SteadyError:
        names = [t.pg_name for t in dict.fromkeys(known)]
        return errors.DatatypeMismatch(f"{construct} types {names[0]} and {names[1]} cannot be matched")

    return describe


def _between(node: exp.Between, env: ExprEnv) -> Typed:
    values = [plan_expr(node.this, env), plan_expr(node.args["low"], env), plan_expr(node.args["high"], env)]
    values, _ = unify(values, env, describe=lambda known: operator_error(">=", values[0].type, values[1].type))
    return Typed(CallVariadic("between", tuple(v.expr for v in values)), T.BOOL, nullable_of(*values))


def _in(node: exp.In, env: ExprEnv) -> Typed:
    if node.args.get("query") is not None or node.args.get("unnest") is not None:
        raise errors.FeatureNotSupported("IN (subquery) is not supported in this position")
    values = [plan_expr(node.this, env)] + [plan_expr(e, env) for e in node.expressions]
    values, _ = unify(values, env, describe=_mismatch("IN"))
    return Typed(CallVariadic("in_list", tuple(v.expr for v in values)), T.BOOL, nullable_of(*values))


def _case(node: exp.Case, env: ExprEnv) -> Typed:
    subject = node.this
    conditions: list[Typed] = []
    results: list[Typed] = []
    for branch in node.args.get("ifs") or []:
        if subject is not None:
            cond = _compare(exp.EQ(this=subject, expression=branch.this), env)
        else:
            cond = require_bool(plan_expr(branch.this, env), env, "CASE")
        conditions.append(cond)
        results.append(plan_expr(branch.args["true"], env))
    default = node.args.get("default")
    results.append(plan_expr(default, env) if default is not None else _null(exp.Null(), env))
    results, typ = unify(results, env, describe=_mismatch("CASE"))
    out = results[-1].expr
    for cond, result in zip(reversed(conditions), reversed(results[:-1])):
        out = If(cond.expr, result.expr, out)
    return Typed(out, typ, nullable_of(*results))


def _cast(node: exp.Cast, env: ExprEnv) -> Typed:
    target = ty.type_from_name(node.to.sql(dialect="postgres"))
    return coerce(plan_expr(node.this, env), target, env, explicit=True)


def _subquery_unbound(node: exp.Expression, env: ExprEnv) -> Typed:
    raise errors.FeatureNotSupported("subqueries are not supported in this position")


def _aggregate_unbound(node: exp.Expression, env: ExprEnv) -> Typed:
    raise errors.SteadyError(f"aggregate functions are not allowed in {env.clause}", sqlstate="42803")


AGGREGATE_CLASSES: tuple[type, ...] = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.LogicalAnd, exp.LogicalOr)

_HANDLERS: dict[type, Callable[[Any, ExprEnv], Typed]] = {
    exp.Column: _column,
    exp.Literal: _literal,
    exp.Boolean: _boolean,
    exp.Null: _null,
    exp.Parameter: _parameter,
    exp.Placeholder: _parameter,
    exp.Paren: _paren,
    exp.Alias: _alias,
    **{cls: _arith for cls in _ARITH},
    **{cls: _compare for cls in _COMPARE},
    exp.And: _logical,
    exp.Or: _logical,
    exp.Not: _not,
    exp.Neg: _neg,
    exp.Is: _is,
    exp.DPipe: _concat_pipe,
    exp.Like: _like,
    exp.ILike: _like,
    exp.RegexpLike: _regex,
    exp.RegexpILike: _regex,
    exp.Escape: _escape,
    exp.Between: _between,
    exp.In: _in,
    exp.Case: _case,
    exp.Cast: _cast,
    exp.Subquery: _subquery_unbound,
    exp.Exists: _subquery_unbound,
    **{cls: _aggregate_unbound for cls in AGGREGATE_CLASSES},
}
