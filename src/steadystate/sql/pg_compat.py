"""What PostgreSQL clients send that is not plain SQL over our relations: rewritten before a SELECT is planned.

psql's describe commands (``\\d``, ``\\dt``, ``\\dv``, ``\\di``, ``\\dm``) query ``pg_catalog`` with
schema-qualified function calls.  :func:`rewrite` turns, in the parsed statement:

* ``pg_catalog.f(...)`` into ``f(...)`` (our functions live in no schema; an unknown one is re-read by name so
  that, say, ``pg_catalog.lower`` plans like ``lower``);
* ``pg_get_userbyid(oid)`` into the correlated scalar subquery
  ``(SELECT rolname FROM pg_catalog.pg_roles WHERE oid = <oid>)``;
* ``pg_table_is_visible(oid)`` into ``EXISTS (...)`` over ``pg_class`` and ``pg_namespace``: the relation's schema
  is the session's schema or ``pg_catalog`` (the search path a session has here).

The subqueries are decorrelated into joins like any other, so nothing here evaluates anything itself.  The
``pg_catalog`` relations are builtins (``catalog/builtins.py``) whose rows ``adapter/pg_catalog.py`` computes.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from steadystate.sql.dialect import DIALECT

_USER_BY_ID = "(SELECT pg_rr.rolname FROM pg_catalog.pg_roles AS pg_rr WHERE pg_rr.oid = 0)"
_TABLE_IS_VISIBLE = (
    "EXISTS (SELECT 1 FROM pg_catalog.pg_class AS pg_vc JOIN pg_catalog.pg_namespace AS pg_vn "
    "ON pg_vn.oid = pg_vc.relnamespace WHERE pg_vc.oid = 0 AND pg_vn.nspname IN (current_schema(), 'pg_catalog'))"
)
_TEMPLATES = {"pg_get_userbyid": _USER_BY_ID, "pg_table_is_visible": _TABLE_IS_VISIBLE}


def _with_argument(template: str, argument: exp.Expr) -> exp.Expr:
    """``template`` parsed, with its placeholder literal ``0`` replaced by ``argument``."""
    tree = sqlglot.parse_one(f"SELECT {template}", read=DIALECT).expressions[0]
    placeholder = next(node for node in tree.find_all(exp.Literal) if node.this == "0" and not node.is_string)
    placeholder.replace(argument.copy())
    return tree


def _visit(node: exp.Expr) -> exp.Expr:
    if (isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier)
            and node.this.name.lower() == "pg_catalog" and isinstance(node.expression, exp.Func)):
        inner = node.expression
        if isinstance(inner, exp.Anonymous) and str(inner.this).lower() not in _TEMPLATES:
            try:  # a known function sqlglot read as anonymous because of the qualifier: read it by name
                inner = exp.func(str(inner.this), *inner.expressions, dialect=DIALECT)
            except Exception:  # noqa: BLE001 - not a function sqlglot knows: planned (and refused) as is
                pass
        return _visit(inner)
    if isinstance(node, exp.Anonymous):
        template = _TEMPLATES.get(str(node.this).lower())
        if template is not None and len(node.expressions) == 1:
            return _with_argument(template, node.expressions[0])
    return node


def rewrite(node: exp.Expr) -> exp.Expr:
    """``node`` with the rewrites of the module docstring applied (``node`` itself when none applies)."""
    if not any(
        isinstance(n, exp.Dot) or (isinstance(n, exp.Anonymous) and str(n.this).lower() in _TEMPLATES)
        for n in node.find_all(exp.Dot, exp.Anonymous)
    ):
        return node
    return node.transform(_visit)


__all__ = ["rewrite"]
