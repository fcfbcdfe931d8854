"""Resolving a function's arguments against one PostgreSQL signature, shared by the function planners.

:func:`no_function` is PostgreSQL's 42883 for a call no signature matches, naming the function as the user typed it
and the argument types; :func:`signature` checks planned arguments against one signature (an untyped literal adopts
the parameter's type, a typed value must cast to it implicitly) and coerces them.  Planners of a function family
live in their own modules (``sql.time_functions``, ``sql.string_math``) and receive ``sql.scalar.plan_expr`` as a
:data:`PlanExpr` when ``sql.scalar`` registers them, so they do not import it.
"""

from __future__ import annotations

from typing import Callable

from sqlglot import exp

from steadystate import errors
from steadystate.repr.types import ScalarType
from steadystate.sql import types as ty
from steadystate.sql.typed import ExprEnv, Typed, coerce

PlanExpr = Callable[[exp.Expr, ExprEnv], Typed]

NO_FUNCTION_HINT = "No function matches the given name and argument types. You might need to add explicit type casts."


def no_function(name: str, args: list[Typed]) -> errors.SteadyError:
    shown = ", ".join("unknown" if a.is_untyped else a.type.pg_name for a in args)
    return errors.UndefinedFunction(f"function {name}({shown}) does not exist", hint=NO_FUNCTION_HINT)


def signature(name: str, values: list[Typed], wanted: list[ScalarType], env: ExprEnv) -> list[Typed]:
    """``values`` coerced to ``wanted``, or 42883 when they do not fit it."""
    if len(values) != len(wanted):
        raise no_function(name, values)
    for value, target in zip(values, wanted):
        if not value.is_untyped and value.type is not target and not ty.implicitly_castable(value.type, target):
            raise no_function(name, values)
    return [coerce(value, target, env) for value, target in zip(values, wanted)]
