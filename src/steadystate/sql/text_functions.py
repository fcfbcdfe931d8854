"""Planning ``format``, ``overlay``, ``SIMILAR TO``, ``quote_*`` and ``pg_typeof`` (evaluated in expr/text_functions.py).

* ``format(fmt, args...)``: every argument is cast to text here (timestamptz in the session's zone), but a bool,
  whose output (``t``) is not its text cast (``true``); ``VARIADIC`` arrays are not supported.
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
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit, operator_error

T = ScalarType

def _format(plan: PlanExpr, node: exp.Format, env: ExprEnv) -> Typed:
    if any(isinstance(e, exp.Var) or (isinstance(e, exp.Column) and e.name.upper() == "VARIADIC")
           for e in node.expressions):
        raise errors.FeatureNotSupported("format with VARIADIC arguments is not supported")
    template = coerce(plan(node.this, env), T.TEXT, env) if node.this is not None else None
    if template is None or template.type is not T.TEXT:
        raise no_function("format", [t for t in (template,) if t is not None])
    values = [plan(e, env) for e in node.expressions]
    values = [v if not v.is_untyped and v.type is T.BOOL else coerce(v, T.TEXT, env, explicit=True)
              for v in values]  # a bool shows as its output (t/f), which its cast to text is not
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
