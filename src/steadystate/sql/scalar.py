"""Planning scalar expressions: sqlglot expression → typed IR ScalarExpr against a :class:`Scope`.

:func:`plan_expr` dispatches on the sqlglot node class through :data:`_HANDLERS` (operators, literals, column
references, CASE, casts); function calls go through :data:`_FUNCTIONS` (:func:`plan_function`), whose session
functions (``version()``, ``current_database()``, ...) fold to literals from the PlanContext.  Each result is
a :class:`~steadystate.sql.typed.Typed` (sql/typed.py: the types, scopes and coercion every planner module
shares).  Group keys, aggregates and subqueries already planned by the relation planner are found in
:attr:`ExprEnv.bindings` and become column references.  Operators and functions are one module because they
recurse into each other (a function's arguments are expressions, and an expression may call a function); function
families live in their own modules (``sql.date_parts``, ``sql.time_functions``, ``sql.string_math``,
``sql.jsonb_scalar``, ``sql.array_exprs``), which receive :func:`plan_expr` when their tables are merged here.
"""

from __future__ import annotations

import functools

from dataclasses import replace
from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.equality import not_distinct
from steadystate.expr.infer import TEMPORAL_OPERATORS, TEMPORAL_TYPES
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic, ColumnRef, If, Literal
from steadystate.sql import date_parts, string_math, text_functions, time_functions
from steadystate.repr.types import ScalarType
from steadystate.sql import jsonb_scalar
from steadystate.sql import array_exprs, table_function_calls
from steadystate.sql import types as ty
from steadystate.sql.function_args import no_function, signature
from steadystate.sql import privilege_functions
from steadystate.sql.typed import (
    AGGREGATE_CLASSES, ExprEnv, Typed, binary_operands, binding_key, coerce, lit, mismatch, nullable_of, operator_error,
    require_bool, unify,
)

T = ScalarType


# ---------------------------------------------------------------------------------------------------------
# Handlers


def plan_expr(node: exp.Expr, env: ExprEnv) -> Typed:
    if node is None:  # a function's required argument not given (``ceil()``): what PostgreSQL calls no such function
        raise errors.UndefinedFunction("function does not exist: a required argument is missing",
                                       hint="No function matches the given name and argument count.")
    if env.bindings:
        bound = env.bindings.get(binding_key(node))
        if bound is not None:
            index, typ, nullable = bound
            return Typed(ColumnRef(index), typ, nullable)
    handler = _HANDLERS.get(type(node))
    if handler is None:
        return plan_function(node, env)
    return handler(node, env)


def _column(node: exp.Column, env: ExprEnv) -> Typed:
    if isinstance(node.this, exp.Star):
        raise errors.FeatureNotSupported("* is not supported in this position")
    table = node.table or None
    index = node.meta.get("scope_index")  # a column ``*`` stands for: by position (``k`` may be ambiguous by name)
    if index is None or index >= len(env.scope.columns) or env.scope.columns[index].name != node.name:
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
    return Typed(ColumnRef(index), column.type, column.nullable, mod=column.mod)


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
        number = int(node.this.this if isinstance(node.this, exp.Expr) else node.this)
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
            text = ty.unknown_text(value)
            return Typed(Literal(text, T.TEXT), T.TEXT, nullable=False, unknown=text)
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


def _binary_operands(node: exp.Binary, env: ExprEnv, symbol: str) -> tuple[Typed, Typed, ScalarType]:
    return binary_operands(plan_expr(node.left, env), plan_expr(node.right, env), env, symbol)


def _temporal_arith(func: str, symbol: str, left: Typed, right: Typed, env: ExprEnv) -> Typed:
    """``+ - * /`` with a date/time operand, resolved by PostgreSQL's operator table (expr.infer.TEMPORAL_OPERATORS):
    an untyped operand takes the other's type where that operator exists, else the one type that fits."""

    def candidates(known: ScalarType, known_is_left: bool) -> list[tuple[ScalarType, ScalarType]]:
        return [(l, r) for (op, l, r) in TEMPORAL_OPERATORS if op == func and (l if known_is_left else r) is known]

    if left.is_untyped or right.is_untyped:
        known, known_is_left = (right.type, False) if left.is_untyped else (left.type, True)
        options = candidates(known, known_is_left)
        same = [o for o in options if o[0] is o[1]]
        chosen = same[0] if same else options[0] if len(options) == 1 else None
        if chosen is None and options:
            shown = [("unknown" if v.is_untyped else v.type.pg_name) for v in (left, right)]
            raise errors.SteadyError(
                f"operator is not unique: {shown[0]} {symbol} {shown[1]}", sqlstate="42725",
                hint="Could not choose a best candidate operator. You might need to add explicit type casts.")
        if chosen is None:
            raise operator_error(symbol, left.type, right.type)
        left, right = coerce(left, chosen[0], env), coerce(right, chosen[1], env)
    signature = (func, left.type, right.type)
    if signature not in TEMPORAL_OPERATORS:
        # integer/numeric/real factors of an interval are double precision; a timestamp with a timestamptz, a date
        # with a timestamp: the implicit casts PostgreSQL would apply
        for l_type, r_type in [(l, r) for (op, l, r) in TEMPORAL_OPERATORS if op == func]:
            if (ty.implicitly_castable(left.type, l_type) and ty.implicitly_castable(right.type, r_type)
                    and (func, l_type, r_type) in TEMPORAL_OPERATORS):
                left, right = coerce(left, l_type, env), coerce(right, r_type, env)
                signature = (func, l_type, r_type)
                break
        else:
            raise operator_error(symbol, left.type, right.type)
    if T.TIMESTAMPTZ in signature[1:] and T.INTERVAL in signature[1:]:  # days and months in the session's zone
        stamp, interval = (left, right) if left.type is T.TIMESTAMPTZ else (right, left)
        zone = date_parts.interval_zone(interval, env, f"timestamptz {symbol} interval")
        if zone is not None:
            return Typed(CallVariadic(f"timestamptz_{func}_in", (stamp.expr, interval.expr, Literal(zone, T.TEXT))),
                         T.TIMESTAMPTZ, nullable_of(left, right))
    return Typed(CallBinary(f"temporal_{func}", left.expr, right.expr), TEMPORAL_OPERATORS[signature],
                 nullable_of(left, right))


def _arith(node: exp.Binary, env: ExprEnv) -> Typed:
    func, symbol = _ARITH[type(node)]
    left, right = plan_expr(node.left, env), plan_expr(node.right, env)
    other = jsonb_scalar.plan_operator(symbol, left, right, env)  # jsonb - text, jsonb - integer
    if other is not None:
        return other
    if any(v.type in TEMPORAL_TYPES for v in (left, right) if not v.is_untyped):
        return _temporal_arith(func, symbol, left, right, env)
    a, b, target = _binary_operands(node, env, symbol)
    if not target.is_numeric:
        raise operator_error(symbol, a.type, b.type)
    return Typed(CallBinary(func, a.expr, b.expr), target, nullable_of(a, b))


def _substring(node: exp.Substring, env: ExprEnv) -> Typed:
    """``substring(s FROM n [FOR m])`` takes characters; ``substring(s FROM pattern)`` with a text (or
    string-literal) pattern is PostgreSQL's regular-expression form."""
    start = node.args.get("start")
    if start is not None and node.args.get("length") is None:
        typed = plan_expr(start, env)
        if (typed.unknown is not None and not typed.untyped_null) or (not typed.is_untyped and typed.type is T.TEXT):
            value, pattern = _typed_args("substring", [node.this, start], [T.TEXT, T.TEXT], env)
            return Typed(CallBinary("substring_regex", value.expr, pattern.expr), T.TEXT, True)
    return _call("substr", "substr", ("this", "start", "length"), [T.TEXT, T.INT4, T.INT4], T.TEXT)(node, env)


def _compare(node: exp.Binary, env: ExprEnv) -> Typed:
    func, symbol = _COMPARE[type(node)]
    a, b, _ = _binary_operands(node, env, symbol)
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def _distinct_from(node: exp.Binary, env: ExprEnv) -> Typed:
    symbol = "IS NOT DISTINCT FROM" if isinstance(node, exp.NullSafeEQ) else "IS DISTINCT FROM"
    a, b, _ = _binary_operands(node, env, symbol)
    same = not_distinct(a.expr, b.expr)
    return Typed(same if isinstance(node, exp.NullSafeEQ) else CallUnary("not", same), T.BOOL, False)


def _logical(node: exp.Connector, env: ExprEnv) -> Typed:
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
        return lit(-value if value else value, typ)  # a numeric literal: no negative zero (-0.0 is 0.0)
    value = plan_expr(node.this, env)
    if value.is_untyped:
        value = coerce(value, T.FLOAT8 if value.unknown else T.INT4, env)
    if not value.type.is_numeric and value.type is not T.INTERVAL:
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
    other = jsonb_scalar.plan_operator("||", left, right, env)  # jsonb || jsonb, bytea || bytea
    if other is not None:
        return other
    a = coerce(left, T.TEXT, env, explicit=True)
    b = coerce(right, T.TEXT, env, explicit=True)
    return Typed(CallBinary("concat", a.expr, b.expr), T.TEXT, nullable_of(a, b))


def _like(node: exp.Expr, env: ExprEnv, escape: exp.Expr | None = None) -> Typed:
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
    if escape is not None:  # ``p ESCAPE e`` is PostgreSQL's like_escape(p, e) (expr/text_functions.py)
        e = coerce(plan_expr(escape, env), T.TEXT, env)
        b = Typed(CallBinary("like_escape", b.expr, e.expr), T.TEXT, nullable_of(b, e))
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def _regex(node: exp.Expr, env: ExprEnv) -> Typed:
    """``text ~ pattern`` / ``~*`` (case-insensitive): POSIX-style regular expression search."""
    func = "regex_imatch" if isinstance(node, exp.RegexpILike) else "regex_match"
    value, pattern = plan_expr(node.this, env), plan_expr(node.expression, env)
    for side in (value, pattern):
        if not side.is_untyped and side.type is not T.TEXT:
            raise operator_error("~*" if func == "regex_imatch" else "~", value.type, pattern.type)
    a, b = coerce(value, T.TEXT, env), coerce(pattern, T.TEXT, env)
    return Typed(CallBinary(func, a.expr, b.expr), T.BOOL, nullable_of(a, b))


def _escape(node: exp.Escape, env: ExprEnv) -> Typed:
    if isinstance(node.this, exp.SimilarTo):
        return text_functions.plan_similar(plan_expr, node.this, node.expression, env)
    if isinstance(node.this, (exp.Like, exp.ILike)):
        return _like(node.this, env, node.expression)
    raise errors.FeatureNotSupported(f"{node.this.key.upper()} ... ESCAPE is not supported")


def _between(node: exp.Between, env: ExprEnv) -> Typed:
    values = [plan_expr(node.this, env), plan_expr(node.args["low"], env), plan_expr(node.args["high"], env)]
    values, _ = unify(values, env, describe=lambda known: operator_error(">=", values[0].type, values[1].type))
    between = CallVariadic("between", tuple(v.expr for v in values))
    if node.args.get("symmetric"):  # PostgreSQL's definition: either bound may be the lower one
        swapped = CallVariadic("between", (values[0].expr, values[2].expr, values[1].expr))
        return Typed(CallBinary("or", between, swapped), T.BOOL, nullable_of(*values))
    return Typed(between, T.BOOL, nullable_of(*values))


def _in(node: exp.In, env: ExprEnv) -> Typed:
    if node.args.get("query") is not None or node.args.get("unnest") is not None:
        raise errors.FeatureNotSupported("IN (subquery) is not supported in this position")
    values = [plan_expr(node.this, env)] + [plan_expr(e, env) for e in node.expressions]
    values, _ = unify(values, env, describe=mismatch("IN"))
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
    results, typ = unify(results, env, describe=mismatch("CASE"))
    out = results[-1].expr
    for cond, result in zip(reversed(conditions), reversed(results[:-1])):
        out = If(cond.expr, result.expr, out)
    return Typed(out, typ, nullable_of(*results))


def _cast(node: exp.Cast, env: ExprEnv) -> Typed:
    declared = ty.resolve_type(node.to)
    value = coerce(plan_expr(node.this, env), declared.type, env, explicit=True, mod=declared.mod)
    return value if value.mod == declared.mod else replace(value, mod=declared.mod)


def _subquery_unbound(node: exp.Expr, env: ExprEnv) -> Typed:
    raise errors.FeatureNotSupported("subqueries are not supported in this position")


def _aggregate_unbound(node: exp.Expr, env: ExprEnv) -> Typed:
    raise errors.SteadyError(f"aggregate functions are not allowed in {env.clause}", sqlstate="42803")


def _window_unbound(node: exp.Expr, env: ExprEnv) -> Typed:
    """A window function the SELECT planner (sql/window.py) has not planned as a column: it is somewhere else."""
    if env.clause == "aggregate function calls":
        raise errors.SteadyError("aggregate function calls cannot contain window function calls", sqlstate="42803")
    raise errors.SteadyError(f"window functions are not allowed in {env.clause}", sqlstate="42P20")


_HANDLERS: dict[type, Callable[[Any, ExprEnv], Typed]] = {
    exp.Window: _window_unbound,
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
    exp.NullSafeEQ: _distinct_from,
    exp.NullSafeNEQ: _distinct_from,
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


# ---------------------------------------------------------------------------------------------------------
# Function calls

def _args(node: exp.Expr, *names: str) -> list[exp.Expr]:
    return [node.args[name] for name in names if node.args.get(name) is not None]


def _typed_args(name: str, nodes: list[exp.Expr], wanted: list[ScalarType], env: ExprEnv) -> list[Typed]:
    values = [plan_expr(n, env) for n in nodes]
    out = []
    for value, target in zip(values, wanted):
        if not value.is_untyped and value.type is not target and not _implicit(value.type, target):
            raise no_function(name, values)
        out.append(coerce(value, target, env))
    return out


def _implicit(source: ScalarType, target: ScalarType) -> bool:
    return ty.implicitly_castable(source, target)


def _text_fn(func: str, name: str) -> Callable[[exp.Expr, ExprEnv], Typed]:
    def plan(node: exp.Expr, env: ExprEnv) -> Typed:
        if name == "md5":
            argument = plan_expr(node.this, env)
            on_bytes = jsonb_scalar.bytea_argument(name, argument)
            if on_bytes is not None:
                return Typed(CallUnary(on_bytes, argument.expr), T.TEXT, argument.nullable)
        (value,) = _typed_args(name, [node.this], [T.TEXT], env)
        return Typed(CallUnary(func, value.expr), T.TEXT, value.nullable)

    return plan


def _length(node: exp.Expr, env: ExprEnv) -> Typed:
    argument = plan_expr(node.this, env)
    on_bytes = jsonb_scalar.bytea_argument("length", argument)
    if on_bytes is not None:
        return Typed(CallUnary(on_bytes, argument.expr), T.INT4, argument.nullable)
    (value,) = _typed_args("length", [node.this], [T.TEXT], env)
    return Typed(CallUnary("length", value.expr), T.INT4, value.nullable)


def _trim(node: exp.Trim, env: ExprEnv) -> Typed:
    position = str(node.args.get("position") or "").upper()
    func = {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "trim")
    chars = node.args.get("expression")
    if chars is not None:  # trim(both 'x' from s), btrim(s, 'xy'), ltrim(s, 'x')
        name = "btrim" if func == "trim" else func
        value, characters = _typed_args(name, [node.this, chars], [T.TEXT, T.TEXT], env)
        return Typed(CallBinary(f"{name}_chars", value.expr, characters.expr), T.TEXT,
                     value.nullable or characters.nullable)
    return _text_fn(func, func)(node, env)


def _numeric_arg(name: str, node: exp.Expr, env: ExprEnv) -> Typed:
    value = plan_expr(node, env)
    if value.is_untyped:
        return coerce(value, T.FLOAT8, env)
    if not value.type.is_numeric:
        raise no_function(name, [value])
    return value


def _same_numeric(func: str) -> Callable[[exp.Expr, ExprEnv], Typed]:
    def plan(node: exp.Expr, env: ExprEnv) -> Typed:
        value = _numeric_arg(func, node.this, env)
        return Typed(CallUnary(func, value.expr), value.type, value.nullable)

    return plan


def _math(func: str) -> Callable[[exp.Expr, ExprEnv], Typed]:
    """int → double precision; numeric and double precision keep their type."""

    def plan(node: exp.Expr, env: ExprEnv) -> Typed:
        value = _numeric_arg(func, node.this, env)
        if value.type in (T.INT4, T.INT8):
            value = coerce(value, T.FLOAT8, env)
        return Typed(CallUnary(func, value.expr), value.type, value.nullable)

    return plan


def _round(node: exp.Round, env: ExprEnv) -> Typed:
    if node.args.get("decimals") is None:
        return _math("round")(node, env)
    value, places = _typed_args("round", [node.this, node.args["decimals"]], [T.NUMERIC, T.INT4], env)
    return Typed(CallBinary("round_to", value.expr, places.expr), T.NUMERIC, nullable_of(value, places))


def _log(node: exp.Log, env: ExprEnv) -> Typed:
    base, arg = node.this, node.args.get("expression")
    if arg is None:
        return _math("log10")(exp.Log(this=node.this), env)
    # PostgreSQL has log(numeric, numeric) only: integers and unknown literals cast to numeric, floats do not
    b, x = signature("log", [plan_expr(base, env), plan_expr(arg, env)], [T.NUMERIC, T.NUMERIC], env)
    return Typed(CallBinary("log_base", b.expr, x.expr), T.NUMERIC, nullable_of(b, x))


def _pow(node: exp.Pow, env: ExprEnv) -> Typed:
    a, b = _numeric_arg("pow", node.this, env), _numeric_arg("pow", node.expression, env)
    target = T.NUMERIC if T.NUMERIC in (a.type, b.type) and T.FLOAT8 not in (a.type, b.type) else T.FLOAT8
    a, b = coerce(a, target, env), coerce(b, target, env)
    return Typed(CallBinary("pow", a.expr, b.expr), target, nullable_of(a, b))


def _variadic_same(func: str, construct: str) -> Callable[[exp.Expr, ExprEnv], Typed]:
    def plan(node: exp.Expr, env: ExprEnv) -> Typed:
        nodes = [node.this, *node.expressions] if node.this is not None else list(node.expressions)
        values = [plan_expr(n, env) for n in nodes]
        values, typ = unify(values, env, describe=mismatch(construct))
        nullable = all(v.nullable for v in values) if func == "coalesce" else nullable_of(*values)
        return Typed(CallVariadic(func, tuple(v.expr for v in values)), typ, nullable)

    return plan


def _nullif(node: exp.Nullif, env: ExprEnv) -> Typed:
    (a, b), typ = unify([plan_expr(node.this, env), plan_expr(node.expression, env)], env,
                        describe=mismatch("NULLIF"))
    return Typed(CallBinary("nullif", a.expr, b.expr), typ, True)


def _concat(node: exp.Concat, env: ExprEnv) -> Typed:
    values = [coerce(plan_expr(n, env), T.TEXT, env, explicit=True) for n in node.expressions]
    return Typed(CallVariadic("concat", tuple(v.expr for v in values)), T.TEXT, False)


def _call(name: str, func: str, arg_names: tuple[str, ...], types: list[ScalarType], result: ScalarType,
          kind: str = "variadic") -> Callable[[exp.Expr, ExprEnv], Typed]:
    def plan(node: exp.Expr, env: ExprEnv) -> Typed:
        nodes = _args(node, *arg_names)
        values = _typed_args(name, nodes, types[: len(nodes)], env)
        exprs = tuple(v.expr for v in values)
        if kind == "binary":
            call: Any = CallBinary(func, exprs[0], exprs[1])
        else:
            call = CallVariadic(func, exprs)
        return Typed(call, result, nullable_of(*values))

    return plan


def _pad(node: exp.Pad, env: ExprEnv) -> Typed:
    func = "lpad" if node.args.get("is_left") else "rpad"
    return _call(func, func, ("this", "expression", "fill_pattern"), [T.TEXT, T.INT4, T.TEXT], T.TEXT)(node, env)


def _position(node: exp.StrPosition, env: ExprEnv) -> Typed:
    if node.args.get("position") is not None:
        raise errors.FeatureNotSupported("strpos with a start position is not supported")
    needle, haystack = _typed_args("position", [node.args["substr"], node.this], [T.TEXT, T.TEXT], env)
    return Typed(CallBinary("position", needle.expr, haystack.expr), T.INT4, nullable_of(needle, haystack))


def _session(getter: Callable[[ExprEnv], str]) -> Callable[[exp.Expr, ExprEnv], Typed]:
    def plan(node: exp.Expr, env: ExprEnv) -> Typed:
        return lit(getter(env), T.TEXT)

    return plan


def _current_setting(args: list[exp.Expr], env: ExprEnv) -> Typed:
    if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
        raise errors.FeatureNotSupported("current_setting takes one constant text argument")
    name = args[0].this.lower()
    settings = dict(env.ctx.settings)
    settings.setdefault("cluster", env.ctx.cluster)
    settings.setdefault("database", env.ctx.database)
    settings.setdefault("search_path", env.ctx.schema)
    if name not in settings:
        raise errors.UndefinedObject(f"unrecognized configuration parameter {errors.quote_ident(name)}")
    return lit(settings[name], T.TEXT)


_ANONYMOUS: dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]] = {
    "current_setting": _current_setting,
}


def _anonymous(node: exp.Anonymous, env: ExprEnv) -> Typed:
    name = str(node.this).lower()
    planner = _ANONYMOUS.get(name)
    if planner is None:
        values = [plan_expr(a, env) for a in node.expressions]
        raise no_function(name, values)
    return planner(list(node.expressions), env)


_FUNCTIONS: dict[type, Callable[[Any, ExprEnv], Typed]] = {
    exp.Upper: _text_fn("upper", "upper"),
    exp.Lower: _text_fn("lower", "lower"),
    exp.MD5: _text_fn("md5", "md5"),
    exp.Length: _length,
    exp.Trim: _trim,
    exp.Abs: _same_numeric("abs"),
    exp.Sign: _same_numeric("sign"),
    exp.Round: _round,
    exp.Floor: _math("floor"),
    exp.Ceil: _math("ceil"),
    exp.Sqrt: _math("sqrt"),
    exp.Exp: _math("exp"),
    exp.Ln: _math("ln"),
    exp.Log: _log,
    exp.Pow: _pow,
    exp.Coalesce: _variadic_same("coalesce", "COALESCE"),
    exp.Greatest: _variadic_same("greatest", "GREATEST"),
    exp.Least: _variadic_same("least", "LEAST"),
    exp.Nullif: _nullif,
    exp.Concat: _concat,
    exp.Substring: _substring,
    exp.Replace: _call("replace", "replace", ("this", "expression", "replacement"), [T.TEXT] * 3, T.TEXT),
    exp.Pad: _pad,
    exp.StrPosition: _position,
    exp.Left: _call("left", "left", ("this", "expression"), [T.TEXT, T.INT4], T.TEXT, "binary"),
    exp.Right: _call("right", "right", ("this", "expression"), [T.TEXT, T.INT4], T.TEXT, "binary"),
    exp.Repeat: _call("repeat", "repeat", ("this", "times"), [T.TEXT, T.INT4], T.TEXT, "binary"),
    exp.CurrentVersion: _session(lambda env: env.ctx.version),
    exp.CurrentDatabase: _session(lambda env: env.ctx.database),
    exp.CurrentSchema: _session(lambda env: env.ctx.schema),
    exp.CurrentUser: _session(lambda env: env.ctx.user),
    exp.Anonymous: _anonymous,
}


_HANDLERS.update(jsonb_scalar.handlers(plan_expr))  # jsonb, uuid and bytea operators (sql/jsonb_scalar.py)
_ANONYMOUS.update(jsonb_scalar.functions(plan_expr))
_ANONYMOUS.update(privilege_functions.functions(plan_expr))  # has_table_privilege, ... (sql/privilege_functions.py)
# function families planned in their own modules, handed plan_expr (sql.function_args)
_FUNCTIONS.update({node: functools.partial(planner, plan_expr)
                   for node, planner in (time_functions.FUNCTIONS | date_parts.FUNCTIONS | string_math.FUNCTIONS
                                         | text_functions.FUNCTIONS).items()})
_ANONYMOUS.update({name: functools.partial(planner, plan_expr)
                   for name, planner in (time_functions.ANONYMOUS | date_parts.ANONYMOUS | string_math.ANONYMOUS
                                         | text_functions.ANONYMOUS).items()})
_HANDLERS.update({node: functools.partial(planner, plan_expr)
                  for node, planner in (text_functions.HANDLERS | string_math.HANDLERS).items()})
# arrays (sql/array_exprs.py) add their handlers and wrap the comparisons and ``||``; a table function call not
# bound to a FlatMap's column is refused where it stands (sql/table_function_calls.py)
array_exprs.install(_HANDLERS, _FUNCTIONS, _ANONYMOUS, plan_expr)
table_function_calls.install(_FUNCTIONS, _ANONYMOUS)


def plan_function(node: exp.Expr, env: ExprEnv) -> Typed:
    planner = _FUNCTIONS.get(type(node))
    if planner is None:
        if isinstance(node, exp.Func):  # named as the user typed it, never by sqlglot's internal name
            typed = node.meta.get("typed_name") or node.sql(dialect="postgres").split("(")[0].strip().lower()
            raise errors.FeatureNotSupported(f"function {typed} is not supported")
        raise errors.FeatureNotSupported(f"expression {node.sql(dialect='postgres')[:60]!r} is not supported")
    return planner(node, env)


def planned_function_classes() -> frozenset[type]:
    """The sqlglot node classes planned as scalar functions (mz_functions lists them: sql/function_catalog.py)."""
    return frozenset(_FUNCTIONS)


def planned_function_names() -> frozenset[str]:
    """The function names planned from anonymous calls (mz_functions lists them)."""
    return frozenset(_ANONYMOUS)
