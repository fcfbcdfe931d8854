"""Recognizing table function calls in a sqlglot tree, and refusing one where no set of rows may stand.

:func:`call_of` names the table function a node calls (``unnest``/``generate_series`` have their own sqlglot
classes; the rest are ``Anonymous`` calls named in ``expr/table_functions.py`` ``TABLE_FUNCTIONS``).
:func:`install` puts :func:`not_allowed` into sql/scalar.py's tables, so that a call the relation planner did not
bind to a FlatMap column (sql/table_functions.py) — one in WHERE, in an aggregate's argument, ... — is 0A000
``set-returning functions are not allowed in <clause>``.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.table_functions import TABLE_FUNCTIONS
from steadystate.sql.typed import ExprEnv, Typed

_SERIES = (exp.ExplodingGenerateSeries, exp.GenerateSeries)


def call_of(node: exp.Expr) -> tuple[str, list[exp.Expr]] | None:
    """The table function ``node`` calls and its argument nodes, or None."""
    if isinstance(node, exp.Unnest):
        return "unnest", list(node.expressions)
    if isinstance(node, exp.Explode):
        return "unnest", [node.this, *node.expressions]
    if isinstance(node, _SERIES):
        return "generate_series", [node.args[k] for k in ("start", "end", "step") if node.args.get(k) is not None]
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in TABLE_FUNCTIONS:
        return str(node.this).lower(), list(node.expressions)
    return None


def not_allowed(node: exp.Expr, env: ExprEnv) -> Typed:
    """A table function call where no set of rows may appear (WHERE, an aggregate's argument, ...)."""
    call = call_of(node)
    name = call[0] if call is not None else "a set-returning function"
    clause = env.clause if env.clause != "SELECT" else "this position"
    raise errors.FeatureNotSupported(f"set-returning functions are not allowed in {clause}",
                                     hint=f"{name} may be called in FROM or directly in a select list.")


def install(handlers: dict[type, Callable[[Any, ExprEnv], Typed]],
            anonymous: dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]]) -> None:
    """Make scalar planning of a table function call (not bound to a FlatMap column) the 0A000 of
    :func:`not_allowed`."""
    for cls in (exp.Unnest, exp.Explode, *_SERIES):
        handlers[cls] = not_allowed
    for name in TABLE_FUNCTIONS:
        anonymous[name] = _refuse(name)


def _refuse(name: str) -> Callable[[list[exp.Expr], ExprEnv], Typed]:
    def plan(args: list[exp.Expr], env: ExprEnv) -> Typed:
        return not_allowed(exp.Anonymous(this=name, expressions=args), env)

    return plan




__all__ = ["call_of", "install", "not_allowed"]
