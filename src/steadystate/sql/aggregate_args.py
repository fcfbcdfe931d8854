"""How an aggregate's arguments are typed, as PostgreSQL resolves its overloads.

:data:`UNKNOWN_ARGUMENT` is the policy for an argument of unknown type (a quoted literal, a bare NULL): PostgreSQL
keeps the candidates of the string category if any (``min('a')`` is ``min(text)``), else those of the one category
all candidates share, preferring its preferred type (``stddev('1')`` is ``stddev(float8)``); when the candidates
span categories it fails with 42725 (``sum('1.5')``: there are ``sum(interval)`` and ``sum(money)``), and a
polymorphic aggregate fails with 42804 (``jsonb_agg('a')``).  :func:`resolve_unknown` applies it.

:func:`bit_argument`, :func:`float8_argument` and :func:`ordered_argument` check and cast the arguments of the
bitwise (int2/int4/int8), regression (float8, integers and numeric cast implicitly) and ordered-set aggregates
(``percentile_cont`` orders float8 or interval; ``percentile_disc`` and ``mode`` any type), with PostgreSQL's 42883 message
otherwise.  :func:`plan_regression` and :func:`plan_within_group` plan those calls (``sql.query`` the others); the
states are in ``expr.stat_aggregates``.  An ordered-set aggregate's fraction is a constant float8 or float8[], or
under a plain GROUP BY an expression of its group key columns (the same in every row of a group: 42803 for another
column, 0A000 for one without columns, ``random()``); it is the call's first further argument and its ORDER BY key
its own ORDER BY (fed ``(x, fraction, (x,))``).
"""

from __future__ import annotations

import enum
from typing import NoReturn

from sqlglot import exp

from steadystate import errors
from steadystate.expr import infer
from steadystate.expr.eval import compile_scalar
from steadystate.expr.ir import (AggregateExpr, AggregateOrder, CallBinary, CallUnary, CallVariadic, ColumnRef, If,
                                 Literal, ScalarExpr, literal)
from steadystate.expr.stat_aggregates import ORDERED_SET_FUNCTIONS
from steadystate.repr.types import ScalarType
from steadystate.sql.scalar import plan_expr
from steadystate.sql.typed import AGGREGATE_CLASSES, ExprEnv, Typed, coerce

T = ScalarType

_NO_MATCH_HINT = "No function matches the given name and argument types. You might need to add explicit type casts."


class Unresolvable(enum.Enum):
    """An unknown argument the aggregate's overloads cannot resolve."""

    NOT_UNIQUE = "not unique"  # candidates of several categories: 42725
    POLYMORPHIC = "polymorphic"  # a polymorphic parameter: 42804
    ANY = "any"  # a parameter of type "any" (count): an unknown literal is text, a bound parameter undetermined (42P18)


#: per aggregate, the type an unknown argument takes, or why it cannot take one
UNKNOWN_ARGUMENT: dict[str, ScalarType | Unresolvable] = {
    "count": Unresolvable.ANY, "min": T.TEXT, "max": T.TEXT, "string_agg": T.TEXT,
    "bool_and": T.BOOL, "bool_or": T.BOOL,
    **{name: T.FLOAT8 for name in ("var_samp", "var_pop", "stddev_samp", "stddev_pop", "corr", "covar_pop",
                                   "covar_samp", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept",
                                   "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "percentile_cont")},
    **{name: Unresolvable.NOT_UNIQUE for name in ("sum", "avg", "bit_and", "bit_or", "bit_xor", "array_agg")},
    **{name: Unresolvable.POLYMORPHIC for name in ("jsonb_agg", "percentile_disc", "mode")},
}

_INTEGERS = (T.INT2, T.INT4, T.INT8)


def resolve_unknown(func: str, value: Typed, env: ExprEnv, shown: str | None = None) -> Typed:
    """``value`` (of unknown type) as the argument of aggregate ``func`` (``shown``: the name the user typed)."""
    policy = UNKNOWN_ARGUMENT.get(func, T.TEXT)
    if policy is Unresolvable.NOT_UNIQUE:
        raise errors.SteadyError(f"function {shown or func}(unknown) is not unique", sqlstate="42725",
                                 hint="Could not choose a best candidate function. You might need to add explicit "
                                      "type casts.")
    if policy is Unresolvable.POLYMORPHIC:
        raise errors.DatatypeMismatch("could not determine polymorphic type because input has type unknown")
    if policy is Unresolvable.ANY:
        if value.param is not None:
            raise errors.SteadyError(f"could not determine data type of parameter ${value.param}", sqlstate="42P18")
        return coerce(value, T.TEXT, env)
    assert isinstance(policy, ScalarType)
    return coerce(value, policy, env)


def argument_type_name(value: Typed) -> str:
    """An argument's type as PostgreSQL's "function ... does not exist" names it."""
    return "unknown" if value.is_untyped else value.type.pg_name


def bit_argument(func: str, value: Typed, env: ExprEnv) -> Typed:
    """bit_and/bit_or/bit_xor take int2, int4 or int8 (PostgreSQL's bit type does not exist here)."""
    if value.is_untyped:
        return resolve_unknown(func, value, env)
    if value.type not in _INTEGERS:
        raise errors.UndefinedFunction(f"function {func}({value.type.pg_name}) does not exist", hint=_NO_MATCH_HINT)
    return value


def float8_arguments(func: str, values: list[Typed], env: ExprEnv, shown: list[Typed] | None = None) -> list[Typed]:
    """The arguments of a regression aggregate (or percentile_cont's), cast to float8; ``shown`` are the
    arguments the error message names (all of the call's)."""
    if any(not v.is_untyped and not v.type.is_numeric for v in values):
        names = ", ".join(argument_type_name(v) for v in (shown or values))
        raise errors.UndefinedFunction(f"function {func}({names}) does not exist", hint=_NO_MATCH_HINT)
    return [coerce(v, T.FLOAT8, env) for v in values]


def ordered_argument(func: str, value: Typed, env: ExprEnv, direct: list[Typed]) -> Typed:
    """The ORDER BY value of an ordered-set aggregate: float8 or interval for percentile_cont (what it
    interpolates), any type for percentile_disc and mode."""
    if func == "percentile_cont":
        if not value.is_untyped and value.type is T.INTERVAL:
            return value
        return float8_arguments(func, [value], env, [*direct, value])[0]
    if value.is_untyped:
        return resolve_unknown(func, value, env)
    return value


def _literal_leaves(expr: ScalarExpr) -> bool:
    """Whether ``expr`` is literals under array constructors and casts (``ARRAY[0.25, 0.5]``): constant."""
    if isinstance(expr, Literal):
        return True
    if isinstance(expr, CallVariadic) and expr.func == "array_build":
        return all(_literal_leaves(e) for e in expr.exprs)
    if isinstance(expr, CallUnary) and expr.func.startswith("cast_"):
        return _literal_leaves(expr.expr)
    return False


def _constant(expr: ScalarExpr) -> Literal | None:
    """A constant fraction as a literal, evaluated now (``None``: not a constant)."""
    if isinstance(expr, Literal):
        return expr
    if not _literal_leaves(expr):
        return None
    value = compile_scalar(expr, [])(())
    return literal(value, infer.scalar_type(expr, []) or T.FLOAT8_ARRAY)


def _columns_of(expr: ScalarExpr) -> set[int]:
    if isinstance(expr, ColumnRef):
        return {expr.index}
    if isinstance(expr, (CallUnary, CallBinary, CallVariadic, If)):
        children = ((expr.expr,) if isinstance(expr, CallUnary) else (expr.left, expr.right)
                    if isinstance(expr, CallBinary) else expr.exprs if isinstance(expr, CallVariadic)
                    else (expr.cond, expr.then, expr.els))
        return set().union(*(_columns_of(c) for c in children))
    return set()


def _grouped_fraction(func: str, expr: ScalarExpr, env: ExprEnv) -> ScalarExpr:
    """A fraction that is not a constant: PostgreSQL evaluates it once per group, so it may use only group key
    columns (then it is the same in every row of the group, and the state reads it from its rows)."""
    columns = _columns_of(expr)
    if env.group_key_columns is None or not columns:  # no plain GROUP BY, or random(): not one value per group
        raise errors.FeatureNotSupported(f"the fraction of {func} must be a constant or use only GROUP BY columns")
    # (a grouping set's branch that rolls a column up reads it here, not as NULL: refused below, never wrong)
    for index in sorted(columns - env.group_key_columns):
        column = env.scope.columns[index]
        shown = f"{column.table}.{column.name}" if column.table else column.name
        raise errors.SteadyError(
            f"column {errors.quote_ident(shown)} must appear in the GROUP BY clause or be used in an aggregate "
            "function", sqlstate="42803", detail="Direct arguments of an ordered-set aggregate must use only grouped "
                                                 "columns.")
    return expr


def _no_nesting(nodes: list[exp.Expr | None], env: ExprEnv) -> None:
    env.clause = "aggregate function calls"
    if any(n is not None and n.find(*AGGREGATE_CLASSES) is not None for n in nodes):
        raise errors.SteadyError("aggregate function calls cannot be nested", sqlstate="42803")


def plan_regression(node: exp.Expr, func: str, env: ExprEnv) -> tuple[AggregateExpr, ScalarType, bool]:
    """``corr(y, x)``, ``covar_*``, ``regr_*``: fed ``(y, x, ())``, float8 (regr_count: int8, never NULL)."""
    y_node, x_node = node.this, node.expression
    if isinstance(y_node, exp.Distinct):
        raise errors.FeatureNotSupported(f"{func}(DISTINCT ...) is not supported")
    _no_nesting([y_node, x_node], env)
    y, x = float8_arguments(func, [plan_expr(y_node, env), plan_expr(x_node, env)], env)
    count = func == "regr_count"
    return AggregateExpr(func, y.expr, False, (x.expr,)), T.INT8 if count else T.FLOAT8, not count


def refuse_without_within_group(node: exp.Expr, func: str, env: ExprEnv) -> NoReturn:
    """An ordered-set aggregate called without WITHIN GROUP: with as many arguments as its direct and ordered ones
    (``mode(x)``, ``percentile_cont(0.5, x)``) PostgreSQL finds it and says WITHIN GROUP is required (42809), else
    no such function (``percentile_cont(0.5)``: 42883)."""
    arguments = [plan_expr(a, env) for a in (node.this, node.args.get("expression")) if isinstance(a, exp.Expr)]
    if len(arguments) == (1 if func == "mode" else 2):
        raise errors.SteadyError(f"WITHIN GROUP is required for ordered-set aggregate {func}", sqlstate="42809")
    shown = ", ".join(argument_type_name(v) for v in arguments)
    raise errors.UndefinedFunction(f"function {func}({shown}) does not exist", hint=_NO_MATCH_HINT)


def plan_within_group(node: exp.WithinGroup, env: ExprEnv, func: str | None) -> tuple[AggregateExpr, ScalarType,
                                                                                      bool]:
    """``percentile_cont(f) / percentile_disc(f) / mode() WITHIN GROUP (ORDER BY x [DESC])`` (``func``: the
    aggregate's name, ``None`` when the call is no aggregate).  Another aggregate with WITHIN GROUP is, as in
    PostgreSQL, a call of a function of its arguments and ORDER BY keys that does not exist."""
    call, order = node.this, node.expression
    keys = list(order.expressions) if isinstance(order, exp.Order) else []
    direct_nodes = [n for n in (call.this, call.args.get("expression")) if isinstance(n, exp.Expr)]
    _no_nesting([*direct_nodes, *keys], env)
    direct = [plan_expr(n, env) for n in direct_nodes]
    ordered = [plan_expr(k.this, env) for k in keys]
    if func not in ORDERED_SET_FUNCTIONS or len(keys) != 1 or len(direct) != (0 if func == "mode" else 1):
        shown = ", ".join(argument_type_name(v) for v in (*direct, *ordered))
        name = func or call.meta.get("typed_name") or call.sql(dialect="postgres").split("(")[0].lower()
        raise errors.UndefinedFunction(f"function {name}({shown}) does not exist", hint=_NO_MATCH_HINT)
    value = ordered_argument(func, ordered[0], env, direct)
    arguments: tuple[ScalarExpr, ...] = ()
    if direct:
        fraction = direct[0]
        many = not fraction.is_untyped and fraction.type.is_array  # percentile_cont(ARRAY[0.25, 0.5]): an array
        if many:
            if not fraction.type.element.is_numeric:
                raise errors.UndefinedFunction(f"function {func}({fraction.type.pg_name}, "
                                               f"{argument_type_name(ordered[0])}) does not exist", hint=_NO_MATCH_HINT)
            fraction = coerce(fraction, T.FLOAT8_ARRAY, env, explicit=True)  # numeric[] casts implicitly in PostgreSQL
        else:
            fraction = float8_arguments(func, [fraction], env, [fraction, ordered[0]])[0]
        folded = _constant(fraction.expr)
        arguments = (folded if folded is not None else _grouped_fraction(func, fraction.expr, env),)
    desc = bool(keys[0].args.get("desc"))
    typ = T.FLOAT8 if func == "percentile_cont" and value.type is not T.INTERVAL else value.type
    if direct and fraction.type.is_array:
        array = typ.array
        if array is None:
            raise errors.FeatureNotSupported(f"{func} of {typ.pg_name} values with an array of fractions is not "
                                             "supported")
        typ = array
    return AggregateExpr(func, value.expr, False, arguments, (AggregateOrder(value.expr, desc),)), typ, True


__all__ = ["UNKNOWN_ARGUMENT", "Unresolvable", "argument_type_name", "bit_argument", "float8_arguments",
           "ordered_argument", "plan_regression", "plan_within_group", "refuse_without_within_group",
           "resolve_unknown"]
