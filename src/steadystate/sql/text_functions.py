"""Planning ``format``, ``overlay``, ``SIMILAR TO``, ``quote_*`` and ``pg_typeof`` (evaluated in expr/text_functions.py).

* ``format(fmt, args...)``: every argument is shown by its type's output (untyped literals and timestamptz are cast
  to text here, in the session's zone, as ``concat_ws`` does); ``VARIADIC`` arrays are not supported.
* ``overlay(s placing r from n [for m])`` over text (bytea: 0A000).
* ``x [NOT] SIMILAR TO p [ESCAPE e]``: text operands; NOT is the ordinary negation around it.
* ``quote_literal(x)``/``quote_nullable(x)`` take ``x::text`` (PostgreSQL's ``anyelement`` forms cast to text);
  ``quote_ident(text)``.
* ``pg_typeof(x)``: as Materialize, a text constant naming the argument's type as PostgreSQL does (``integer``,
  ``character varying``, ``timestamp with time zone``, ``unknown`` for an untyped literal or NULL), the type before
  any coercion; PostgreSQL's result type is ``regtype``, which prints the same name.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallUnary, CallVariadic
from steadystate.repr.typmod import ModKind
from steadystate.repr.types import ScalarType
from steadystate.sql.function_args import PlanExpr, no_function, signature
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit

T = ScalarType

#: types whose text the evaluator would show in UTC: cast to text here, in the session's zone (sql/session_zone.py)
_OUTPUT_IN_ZONE = (T.TIMESTAMPTZ, T.TIMESTAMPTZ_ARRAY)


def _format(plan: PlanExpr, node: exp.Format, env: ExprEnv) -> Typed:
    if any(isinstance(e, exp.Var) or (isinstance(e, exp.Column) and e.name.upper() == "VARIADIC")
           for e in node.expressions):
        raise errors.FeatureNotSupported("format with VARIADIC arguments is not supported")
    template = coerce(plan(node.this, env), T.TEXT, env) if node.this is not None else None
    if template is None or template.type is not T.TEXT:
        raise no_function("format", [t for t in (template,) if t is not None])
    values = [plan(e, env) for e in node.expressions]
    values = [coerce(v, T.TEXT, env, explicit=True) if v.is_untyped or v.type in _OUTPUT_IN_ZONE else v
              for v in values]
    return Typed(CallVariadic("format", (template.expr, *(v.expr for v in values))), T.TEXT, template.nullable
                 or any(v.nullable for v in values))


def _overlay(plan: PlanExpr, node: exp.Overlay, env: ExprEnv) -> Typed:
    nodes = [node.this, node.expression, node.args.get("from_")]
    if node.args.get("for_") is not None:
        nodes.append(node.args["for_"])
    values = [plan(n, env) for n in nodes]
    if any(not v.is_untyped and v.type is T.BYTEA for v in values[:2]):
        raise errors.FeatureNotSupported("overlay(bytea placing bytea ...) is not supported")
    typed = signature("overlay", values, [T.TEXT, T.TEXT] + [T.INT4] * (len(values) - 2), env)
    return Typed(CallVariadic("overlay", tuple(t.expr for t in typed)), T.TEXT, any(t.nullable for t in typed))


def _operand(value: Typed, env: ExprEnv, left: Typed, right: Typed) -> Typed:
    if not value.is_untyped and value.type is not T.TEXT:
        described = ", ".join("unknown" if v.is_untyped else v.type.pg_name for v in (left, right))
        raise errors.UndefinedFunction(f"operator does not exist: SIMILAR TO ({described})",
                                       hint="No operator matches the given name and argument types. You might "
                                            "need to add explicit type casts.")
    return coerce(value, T.TEXT, env)


def plan_similar(plan: PlanExpr, node: exp.SimilarTo, escape: exp.Expr | None, env: ExprEnv) -> Typed:
    left, right = plan(node.this, env), plan(node.expression, env)
    args = [_operand(left, env, left, right), _operand(right, env, left, right)]
    if escape is not None:
        args.append(coerce(plan(escape, env), T.TEXT, env))
    return Typed(CallVariadic("similar_to", tuple(a.expr for a in args)), T.BOOL, any(a.nullable for a in args))


def _similar(plan: PlanExpr, node: exp.SimilarTo, env: ExprEnv) -> Typed:
    return plan_similar(plan, node, None, env)


def _quote(name: str) -> Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]:
    def plan_call(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
        values = [plan(a, env) for a in args]
        if len(values) != 1:
            raise no_function(name, values)
        value = values[0]
        if name == "quote_ident":
            value = signature(name, values, [T.TEXT], env)[0]
        else:
            value = coerce(value, T.TEXT, env, explicit=True)
        nullable = value.nullable and name != "quote_nullable"
        return Typed(CallUnary(name, value.expr), T.TEXT, nullable)

    return plan_call


def type_name(value: Typed) -> str:
    """PostgreSQL's name of ``value``'s type, as ``regtype`` prints it (no modifiers)."""
    if value.is_untyped:
        return "unknown"
    if value.mod is not None and value.mod.kind is ModKind.VARCHAR:
        return "character varying"
    if value.mod is not None and value.mod.kind is ModKind.BPCHAR:
        return "character"
    return value.type.pg_name


def _pg_typeof(plan: PlanExpr, args: list[exp.Expr], env: ExprEnv) -> Typed:
    values = [plan(a, env) for a in args]
    if len(values) != 1:
        raise no_function("pg_typeof", values)
    if values[0].param is not None:
        raise errors.SteadyError(f"could not determine data type of parameter ${values[0].param}",
                                 sqlstate="42P18")
    return lit(type_name(values[0]), T.TEXT)


FUNCTIONS: dict[type, Callable[[PlanExpr, Any, ExprEnv], Typed]] = {
    exp.Format: _format,
    exp.Overlay: _overlay,
}

HANDLERS: dict[type, Callable[[PlanExpr, Any, ExprEnv], Typed]] = {
    exp.SimilarTo: _similar,
}

ANONYMOUS: dict[str, Callable[[PlanExpr, list[exp.Expr], ExprEnv], Typed]] = {
    "quote_literal": _quote("quote_literal"),
    "quote_nullable": _quote("quote_nullable"),
    "quote_ident": _quote("quote_ident"),
    "pg_typeof": _pg_typeof,
}

__all__ = ["ANONYMOUS", "FUNCTIONS", "HANDLERS", "plan_similar", "type_name"]
