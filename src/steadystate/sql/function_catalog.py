"""The functions the planner knows, by name: what ``mz_catalog.mz_functions`` lists (adapter/mz_catalog.py).

The planner has no table of signatures: a call is planned by its sqlglot node class (``exp.Upper``,
``exp.Count``, ...; sql/scalar.py ``_FUNCTIONS``, sql/query.py ``_AGG_FUNCS``) or, for a call sqlglot reads as
anonymous, by name (sql/scalar.py ``_ANONYMOUS``, expr/table_functions.py ``TABLE_FUNCTIONS``).  So the names are
found the way a statement finds them: each name the dialect's parser knows is parsed as a call (with 0 to 3
arguments) and kept when the node it becomes is one the planner plans; the anonymous names are added as they are.
A name is listed once (overloads are resolved by rules, not rows: ``mz_functions.argument_type_ids`` and
``return_type_id`` are NULL), with ``returns_set`` for the table functions.
"""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

from steadystate.expr.table_functions import TABLE_FUNCTIONS
from steadystate.sql import scalar
from steadystate.sql.dialect import DIALECT
from steadystate.sql.query import aggregate_functions

#: the node classes that are set-returning calls (sql/table_function_calls.py reads them as table functions)
_SET_RETURNING = (exp.Explode, exp.ExplodingGenerateSeries, exp.GenerateSeries, exp.Unnest)


def _planned_class(name: str) -> type | None:
    """The class of the node ``name(...)`` parses into, when the planner plans that class; else None."""
    for args in ("", "a", "a, b", "a, b, c"):
        try:
            node = sqlglot.parse_one(f"SELECT {name}({args})", read=DIALECT).expressions[0]
        except Exception:  # noqa: BLE001 - not a call with this many arguments, or not a call at all
            continue
        cls = type(node)
        if cls is not exp.Anonymous and (cls in scalar.planned_function_classes() or cls in aggregate_functions() or cls in _SET_RETURNING):
            return cls
    return None


@functools.cache
def known_functions() -> tuple[tuple[str, bool], ...]:
    """(name, returns_set) of every function the planner plans, by name."""
    parser = sqlglot.Dialect.get_or_raise(DIALECT).parser_class
    found: dict[str, bool] = {}
    for name in sorted(set(parser.FUNCTIONS) | set(parser.FUNCTION_PARSERS)):
        cls = _planned_class(name)
        if cls is not None:
            found[name.lower()] = issubclass(cls, _SET_RETURNING)
    found.update({name: False for name in aggregate_functions().values()})
    found.update({name: name in TABLE_FUNCTIONS for name in scalar.planned_function_names()})
    found.update({name: True for name in TABLE_FUNCTIONS})
    return tuple(sorted(found.items()))


__all__ = ["known_functions"]
