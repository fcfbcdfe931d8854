"""Function calls: sqlglot function nodes → the scalar function vocabulary, and PostgreSQL's column names.

:data:`_FUNCTIONS` maps a sqlglot node class to a planner (argument types in, IR call and result type out);
session functions (``version()``, ``current_database()``, ...) fold to literals from the PlanContext.
:func:`output_name` gives the column name PostgreSQL would give an unaliased select item.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic, Literal
from steadystate.repr.types import ScalarType
from steadystate.sql.scalar import (
    AGGREGATE_CLASSES,
    ExprEnv,
    Typed,
    coerce,
    lit,
    nullable_of,
    plan_expr,
    unify,
)

T = ScalarType

_NO_FUNCTION_HINT = "No function matches the given name and argument types. You might need to add explicit type casts."


def _no_function(name: str, args: list[Typed]) -> errors.SteadyError:
    shown = ", ".join("unknown" if a.is_untyped else a.type.pg_name for a in args)
    return errors.UndefinedFunction(f"function {name}({shown}) does not exist", hint=_NO_FUNCTION_HINT)


def _args(node: exp.Expression, *names: str) -> list[exp.Expression]:
    return [node.args[name] for name in names if node.args.get(name) is not None]


def _typed_args(name: str, nodes: list[exp.Expression], wanted: list[ScalarType], env: ExprEnv) -> list[Typed]:
    values = [plan_expr(n, env) for n in nodes]
    out = []
    for value, target in zip(values, wanted):
        if not value.is_untyped and value.type is not target and not _implicit(value.type, target):
            raise _no_function(name, values)
        out.append(coerce(value, target, env))
    return out


def _implicit(source: ScalarType, target: ScalarType) -> bool:
    from steadystate.sql.types import implicitly_castable

    return implicitly_castable(source, target)


def _text_fn(func: str, name: str) -> Callable[[exp.Expression, ExprEnv], Typed]:
    def plan(node: exp.Expression, env: ExprEnv) -> Typed:
        (value,) = _typed_args(name, [node.this], [T.TEXT], env)
        return Typed(CallUnary(func, value.expr), T.TEXT, value.nullable)

    return plan


def _length(node: exp.Expression, env: ExprEnv) -> Typed:
    (value,) = _typed_args("length", [node.this], [T.TEXT], env)
    return Typed(CallUnary("length", value.expr), T.INT4, value.nullable)


def _trim(node: exp.Trim, env: ExprEnv) -> Typed:
    if node.args.get("expression") is not None:
        raise errors.FeatureNotSupported("trim with characters is not supported")
    position = str(node.args.get("position") or "").upper()
    func = {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "trim")
    return _text_fn(func, func)(node, env)


def _numeric_arg(name: str, node: exp.Expression, env: ExprEnv) -> Typed:
    value = plan_expr(node, env)
    if value.is_untyped:
        return coerce(value, T.FLOAT8, env)
    if not value.type.is_numeric:
        raise _no_function(name, [value])
    return value


def _same_numeric(func: str) -> Callable[[exp.Expression, ExprEnv], Typed]:
    def plan(node: exp.Expression, env: ExprEnv) -> Typed:
        value = _numeric_arg(func, node.this, env)
        return Typed(CallUnary(func, value.expr), value.type, value.nullable)

    return plan


def _math(func: str) -> Callable[[exp.Expression, ExprEnv], Typed]:
    """int → double precision; numeric and double precision keep their type."""

    def plan(node: exp.Expression, env: ExprEnv) -> Typed:
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
    if isinstance(base, exp.Literal) and base.this == "10":
        return _math("log10")(exp.Log(this=arg), env)
    raise errors.FeatureNotSupported("log with a base other than 10 is not supported")


def _pow(node: exp.Pow, env: ExprEnv) -> Typed:
    a, b = _numeric_arg("pow", node.this, env), _numeric_arg("pow", node.expression, env)
    target = T.NUMERIC if T.NUMERIC in (a.type, b.type) and T.FLOAT8 not in (a.type, b.type) else T.FLOAT8
    a, b = coerce(a, target, env), coerce(b, target, env)
    return Typed(CallBinary("pow", a.expr, b.expr), target, nullable_of(a, b))


def _variadic_same(func: str, construct: str) -> Callable[[exp.Expression, ExprEnv], Typed]:
    def plan(node: exp.Expression, env: ExprEnv) -> Typed:
        nodes = [node.this, *node.expressions] if node.this is not None else list(node.expressions)
        values = [plan_expr(n, env) for n in nodes]
        from steadystate.sql.scalar import _mismatch

        values, typ = unify(values, env, describe=_mismatch(construct))
        nullable = all(v.nullable for v in values) if func == "coalesce" else nullable_of(*values)
        return Typed(CallVariadic(func, tuple(v.expr for v in values)), typ, nullable)

    return plan


def _nullif(node: exp.Nullif, env: ExprEnv) -> Typed:
    from steadystate.sql.scalar import _mismatch

    (a, b), typ = unify([plan_expr(node.this, env), plan_expr(node.expression, env)], env,
                        describe=_mismatch("NULLIF"))
    return Typed(CallBinary("nullif", a.expr, b.expr), typ, True)


def _concat(node: exp.Concat, env: ExprEnv) -> Typed:
    values = [coerce(plan_expr(n, env), T.TEXT, env, explicit=True) for n in node.expressions]
    return Typed(CallVariadic("concat", tuple(v.expr for v in values)), T.TEXT, False)


def _call(name: str, func: str, arg_names: tuple[str, ...], types: list[ScalarType], result: ScalarType,
          kind: str = "variadic") -> Callable[[exp.Expression, ExprEnv], Typed]:
    def plan(node: exp.Expression, env: ExprEnv) -> Typed:
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


def _unit_of(node: exp.Expression) -> str:
    if isinstance(node, exp.Literal):
        return str(node.this).lower()
    return node.name.lower() if node.name else node.sql().lower()


def _temporal(name: str, node: exp.Expression, env: ExprEnv) -> Typed:
    value = plan_expr(node, env)
    if value.is_untyped:
        return coerce(value, T.TIMESTAMP, env)
    if value.type not in (T.DATE, T.TIMESTAMP):
        raise _no_function(name, [lit("", T.TEXT), value])
    return value


def _extract(node: exp.Extract, env: ExprEnv) -> Typed:
    value = _temporal("date_part", node.expression, env)
    field = Literal(_unit_of(node.this), T.TEXT)
    return Typed(CallBinary("date_part", field, value.expr), T.FLOAT8, value.nullable)


def _date_trunc(node: exp.Expression, env: ExprEnv) -> Typed:
    value = coerce(_temporal("date_trunc", node.this, env), T.TIMESTAMP, env)
    unit = Literal(_unit_of(node.args["unit"]), T.TEXT)
    return Typed(CallBinary("date_trunc", unit, value.expr), T.TIMESTAMP, value.nullable)


def _session(getter: Callable[[ExprEnv], str]) -> Callable[[exp.Expression, ExprEnv], Typed]:
    def plan(node: exp.Expression, env: ExprEnv) -> Typed:
        return lit(getter(env), T.TEXT)

    return plan


def _current_setting(args: list[exp.Expression], env: ExprEnv) -> Typed:
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


_ANONYMOUS: dict[str, Callable[[list[exp.Expression], ExprEnv], Typed]] = {
    "current_setting": _current_setting,
}


def _anonymous(node: exp.Anonymous, env: ExprEnv) -> Typed:
    name = str(node.this).lower()
    planner = _ANONYMOUS.get(name)
    if planner is None:
        values = [plan_expr(a, env) for a in node.expressions]
        raise _no_function(name, values)
    return planner(list(node.expressions), env)


def _now(node: exp.Expression, env: ExprEnv) -> Typed:
    raise errors.FeatureNotSupported("now() and current_timestamp are not supported")


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
    exp.Substring: _call("substr", "substr", ("this", "start", "length"), [T.TEXT, T.INT4, T.INT4], T.TEXT),
    exp.Replace: _call("replace", "replace", ("this", "expression", "replacement"), [T.TEXT] * 3, T.TEXT),
    exp.Pad: _pad,
    exp.StrPosition: _position,
    exp.Left: _call("left", "left", ("this", "expression"), [T.TEXT, T.INT4], T.TEXT, "binary"),
    exp.Right: _call("right", "right", ("this", "expression"), [T.TEXT, T.INT4], T.TEXT, "binary"),
    exp.Repeat: _call("repeat", "repeat", ("this", "times"), [T.TEXT, T.INT4], T.TEXT, "binary"),
    exp.Extract: _extract,
    exp.TimestampTrunc: _date_trunc,
    exp.CurrentVersion: _session(lambda env: env.ctx.version),
    exp.CurrentDatabase: _session(lambda env: env.ctx.database),
    exp.CurrentSchema: _session(lambda env: env.ctx.schema),
    exp.CurrentUser: _session(lambda env: env.ctx.user),
    exp.Anonymous: _anonymous,
    exp.CurrentTimestamp: _now,
}


def plan_function(node: exp.Expression, env: ExprEnv) -> Typed:
    planner = _FUNCTIONS.get(type(node))
    if planner is None:
        if isinstance(node, exp.Func):
            raise errors.FeatureNotSupported(f"function {node.sql_name().lower()} is not supported")
        raise errors.FeatureNotSupported(f"expression {node.sql(dialect='postgres')[:60]!r} is not supported")
    return planner(node, env)


# ---------------------------------------------------------------------------------------------------------
# Column names

_NAMES: dict[type, str] = {
    exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
    exp.LogicalAnd: "bool_and", exp.LogicalOr: "bool_or", exp.Upper: "upper", exp.Lower: "lower",
    exp.MD5: "md5", exp.Length: "length", exp.Abs: "abs", exp.Sign: "sign", exp.Round: "round",
    exp.Floor: "floor", exp.Ceil: "ceil", exp.Sqrt: "sqrt", exp.Exp: "exp", exp.Ln: "ln", exp.Log: "log",
    exp.Pow: "pow", exp.Coalesce: "coalesce", exp.Greatest: "greatest", exp.Least: "least",
    exp.Nullif: "nullif", exp.Concat: "concat", exp.Substring: "substring", exp.Replace: "replace",
    exp.StrPosition: "position", exp.Left: "left", exp.Right: "right", exp.Repeat: "repeat",
    exp.Extract: "extract", exp.TimestampTrunc: "date_trunc", exp.CurrentVersion: "version",
    exp.CurrentDatabase: "current_database", exp.CurrentSchema: "current_schema",
    exp.CurrentUser: "current_user", exp.Case: "case", exp.Exists: "exists", exp.Boolean: "bool",
}


def output_name(node: exp.Expression) -> str:
    """The name PostgreSQL gives an unaliased select item."""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Paren):
        return output_name(node.this)
    if isinstance(node, exp.Cast):
        inner = output_name(node.this)
        if inner != "?column?":
            return inner
        from steadystate.sql.types import type_from_name

        try:
            return type_from_name(node.to.sql(dialect="postgres")).value
        except errors.SteadyError:
            return "?column?"
    if isinstance(node, exp.Trim):
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(str(node.args.get("position") or "").upper(), "btrim")
    if isinstance(node, exp.Pad):
        return "lpad" if node.args.get("is_left") else "rpad"
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
        return output_name(node.this.expressions[0])
    return _NAMES.get(type(node), "?column?")


def is_aggregate(node: exp.Expression) -> bool:
    return isinstance(node, AGGREGATE_CLASSES)
