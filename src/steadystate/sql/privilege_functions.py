"""PostgreSQL's and Materialize's privilege inquiry functions: ``has_table_privilege``, ``has_schema_privilege``,
``has_database_privilege``, ``has_cluster_privilege`` (and ``has_any_column_privilege``, which is the table's).

Each takes ``([role,] object, privileges)`` as text constants (the object by name, privileges a comma-separated
list: true when the role holds any of them) and is answered at plan time from the catalog, through the planner
catalog's ``has_privilege`` (adapter/names.py, over adapter/privileges.py).  Non-constant arguments (a query over
``pg_class`` asking per row) are refused with 0A000 rather than answered wrongly.
"""

from __future__ import annotations

from typing import Callable

from sqlglot import exp

from steadystate import errors
from steadystate.repr.types import ScalarType
from steadystate.sql.typed import ExprEnv, Typed, lit

PRIVILEGE_NAMES = ("SELECT", "INSERT", "UPDATE", "DELETE", "USAGE", "CREATE")


def _text(arg: exp.Expr, name: str) -> str:
    if isinstance(arg, exp.Cast):
        arg = arg.this
    if not isinstance(arg, exp.Literal) or not arg.is_string:
        raise errors.FeatureNotSupported(f"{name} takes constant text arguments",
                                         hint="name the role, the object and the privileges as string literals")
    return str(arg.this)


def object_name(text: str) -> tuple[str, ...]:
    """``'public.t'`` → ``("public", "t")``: dotted parts, double-quoted ones kept as written, others lower-cased."""
    parts = []
    for part in text.split("."):
        part = part.strip()
        parts.append(part[1:-1].replace('""', '"') if len(part) > 1 and part[0] == part[-1] == '"' else part.lower())
    return tuple(parts)


def privilege_list(text: str) -> tuple[str, ...]:
    out = []
    for word in text.split(","):
        name = " ".join(word.upper().split())
        if name.endswith(" WITH GRANT OPTION"):
            raise errors.FeatureNotSupported("WITH GRANT OPTION is not supported", hint="grant options do not exist")
        if name not in PRIVILEGE_NAMES:
            raise errors.InvalidParameterValue(f"unrecognized privilege type: {errors.quote_ident(word.strip())}")
        out.append(name)
    return tuple(out)


def _inquiry(object_type: str, name: str) -> Callable[[list[exp.Expr], ExprEnv], Typed]:
    def plan(args: list[exp.Expr], env: ExprEnv) -> Typed:
        if len(args) not in (2, 3):
            raise errors.SteadyError(f"function {name} takes 2 or 3 arguments", sqlstate="42883")
        values = [_text(a, name) for a in args]
        role = values[0] if len(values) == 3 else env.ctx.user
        check = getattr(env.ctx.catalog, "has_privilege", None)
        if check is None:  # pragma: no cover - a planner catalog of a test
            raise errors.FeatureNotSupported(f"{name} is not supported here")
        held = check(role, object_type, object_name(values[-2]), privilege_list(values[-1]))
        return lit(bool(held), ScalarType.BOOL)

    return plan


FUNCTIONS: dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]] = {
    name: _inquiry(object_type, name) for name, object_type in (
        ("has_table_privilege", "TABLE"), ("has_any_column_privilege", "TABLE"),
        ("has_schema_privilege", "SCHEMA"), ("has_database_privilege", "DATABASE"),
        ("has_cluster_privilege", "CLUSTER"))
}
