"""Planning ``format``, ``overlay``, ``SIMILAR TO``, ``quote_*`` and ``pg_typeof`` (evaluated in expr/text_functions.py).

* ``format(fmt, args...)``: every argument is cast to text here (timestamptz in the session's zone), but a bool,
  whose output (``t``) is not its text cast (``true``); ``format(fmt, VARIADIC array)`` takes the elements.
* ``overlay(s placing r from n [for m])`` over text or bytea.
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
from steadystate.expr.ir import CallBinary, CallUnary, CallVariadic
from steadystate.repr.typmod import ModKind
from steadystate.repr.types import ScalarType
from steadystate.sql.function_args import PlanExpr, no_function, signature
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit, operator_error

T = ScalarType

def _format(plan: PlanExpr, node: exp.Format, env: ExprEnv) -> Typed:
    if node.this is None:
        raise no_function("format", [])
    template = plan(node.this, env)
    nodes = list(node.expressions)
    if any(isinstance(e, exp.Variadic) for e in nodes):
        return _format_variadic(plan, template, nodes, env)
    values = [plan(e, env) for e in nodes]
    if not template.is_untyped and template.type is not T.TEXT:
        raise no_function("format", [template, *values])
    template = coerce(template, T.TEXT, env)
    values = [v if not v.is_untyped and v.type is T.BOOL else coerce(v, T.TEXT, env, explicit=True)
              for v in values]  # a bool shows as its output (t/f), which its cast to text is not
    return Typed(CallVariadic("format", (template.expr, *(v.expr for v in values))), T.TEXT, template.nullable
                 or any(v.nullable for v in values))


def _format_variadic(plan: PlanExpr, template: Typed, nodes: list[exp.Expr], env: ExprEnv) -> Typed:
    """``format(fmt, VARIADIC array)``: the array's elements are the arguments (a NULL array: none)."""
    values = [plan(e.this if isinstance(e, exp.Variadic) else e, env) for e in nodes]
    array = values[-1]
    if len(nodes) == 1 and (array.is_untyped or not array.type.is_array):
        raise errors.SteadyError("VARIADIC argument must be an array", sqlstate="42804")
    if len(nodes) != 1 or not isinstance(nodes[0], exp.Variadic) or (
            not template.is_untyped and template.type is not T.TEXT):
        raise no_function("format", [template, *values])
    if array.type is not T.BOOL_ARRAY:  # elements show as their output: cast to text[] here (bools: t/f)
        array = coerce(array, T.TEXT_ARRAY, env, explicit=True)
    template = coerce(template, T.TEXT, env)
    return Typed(CallBinary("format_variadic", template.expr, array.expr), T.TEXT, template.nullable)


def _overlay(plan: PlanExpr, node: exp.Overlay, env: ExprEnv) -> Typed:
    nodes = [node.this, node.expression, node.args.get("from_")]
    if node.args.get("for_") is not None:
        nodes.append(node.args["for_"])
    values = [plan(n, env) for n in nodes]
    kind = T.BYTEA if any(not v.is_untyped and v.type is T.BYTEA for v in values[:2]) else T.TEXT
    typed = signature("overlay", values, [kind, kind] + [T.INT4] * (len(values) - 2), env)
    func = "overlay_bytea" if kind is T.BYTEA else "overlay"
    return Typed(CallVariadic(func, tuple(t.expr for t in typed)), kind, any(t.nullable for t in typed))


def plan_similar(plan: PlanExpr, node: exp.SimilarTo, escape: exp.Expr | None, env: ExprEnv) -> Typed:
    """PostgreSQL rewrites ``x SIMILAR TO p ESCAPE e`` into ``x ~ similar_to_escape(p, e)``: its errors name those."""
    left, right = plan(node.this, env), plan(node.expression, env)
    pattern_args = [right] + ([plan(escape, env)] if escape is not None else [])
    pattern = signature("pg_catalog.similar_to_escape", pattern_args, [T.TEXT] * len(pattern_args), env)
    if not left.is_untyped and left.type is not T.TEXT:
        raise operator_error("~", left.type, T.TEXT)
    args = [coerce(left, T.TEXT, env), *pattern]
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
