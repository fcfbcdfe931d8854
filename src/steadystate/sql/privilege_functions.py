"""PostgreSQL's and Materialize's privilege inquiry functions: ``has_table_privilege``, ``has_schema_privilege``,
``has_database_privilege``, ``has_cluster_privilege`` (and ``has_any_column_privilege``, which is the table's).

Each takes ``([role,] object, privileges)`` (privileges a comma-separated list: true when the role holds any of
them) and is answered at plan time from the catalog, through the planner catalog's ``has_privilege`` and
``privilege_oids`` (adapter/names.py, over adapter/privileges.py):

* the object a text constant (its name): a constant;
* the object an oid that varies per row (``SELECT relname FROM pg_class WHERE has_table_privilege(oid,
  'SELECT')``, as psql and SQLAlchemy ask) for a relation, schema or database: per row, an expression over the
  oids of the objects the role holds the privilege on and those it does not (an oid of no object is NULL, as in
  PostgreSQL).  The answer is the catalog's as the statement is planned.

Anything else that is not constant (a role or privilege list per row, a relation's name per row, a cluster per
row) is refused with 0A000 rather than answered wrongly.
"""

from __future__ import annotations

from typing import Callable

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import CallVariadic, If, Literal
from steadystate.repr.types import ScalarType
from steadystate.sql.function_args import PlanExpr
from steadystate.sql.typed import ExprEnv, Typed, coerce, lit

PRIVILEGE_NAMES = ("SELECT", "INSERT", "UPDATE", "DELETE", "USAGE", "CREATE")


def _constant_text(arg: exp.Expr) -> str | None:
    if isinstance(arg, exp.Cast):
        arg = arg.this
    return str(arg.this) if isinstance(arg, exp.Literal) and arg.is_string else None


def _text(arg: exp.Expr, name: str) -> str:
    text = _constant_text(arg)
    if text is None:
        raise errors.FeatureNotSupported(f"{name} takes constant text arguments",
                                         hint="name the role and the privileges as string literals; the object by "
                                              "a string literal or, per row, by its oid")
    return text


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


def _inquiry(object_type: str, name: str, plan_expr: PlanExpr) -> Callable[[list[exp.Expr], ExprEnv], Typed]:
    def plan(args: list[exp.Expr], env: ExprEnv) -> Typed:
        if len(args) not in (2, 3):
            raise errors.SteadyError(f"function {name} takes 2 or 3 arguments", sqlstate="42883")
        role = _text(args[0], name) if len(args) == 3 else env.ctx.user
        privileges = privilege_list(_text(args[-1], name))
        catalog = env.ctx.catalog
        if _constant_text(args[-2]) is not None:
            check = getattr(catalog, "has_privilege", None)
            if check is None:  # pragma: no cover - a planner catalog of a test
                raise errors.FeatureNotSupported(f"{name} is not supported here")
            held = check(role, object_type, object_name(_text(args[-2], name)), privileges)
            return lit(bool(held), ScalarType.BOOL)
        return _per_row(plan_expr(args[-2], env), role, object_type, privileges, name, env)

    return plan


def _per_row(target: Typed, role: str, object_type: str, privileges: tuple[str, ...], name: str,
             env: ExprEnv) -> Typed:
    """``target`` an oid per row: true for the oids of the objects the role holds a privilege on, false for the
    other objects' oids, NULL for an oid of no object."""
    oids = getattr(env.ctx.catalog, "privilege_oids", None)
    if oids is None or object_type == "CLUSTER" or not (target.type.is_integer or target.is_untyped):
        raise errors.FeatureNotSupported(
            f"{name} with an object that is not constant is supported only by oid",
            hint="give the object as a string literal, or its oid (pg_class.oid, pg_namespace.oid, pg_database.oid)")
    value = coerce(target, ScalarType.INT8, env)
    held, other = oids(role, object_type, privileges)

    def member(values: list[int]) -> CallVariadic:
        return CallVariadic("in_list", (value.expr, *(Literal(v, ScalarType.INT8) for v in sorted(values))))

    out: If | Literal = Literal(None, ScalarType.BOOL)
    if other:
        out = If(member(other), Literal(False, ScalarType.BOOL), out)
    if held:
        out = If(member(held), Literal(True, ScalarType.BOOL), out)
    return Typed(out, ScalarType.BOOL, True)


def functions(plan_expr: PlanExpr) -> dict[str, Callable[[list[exp.Expr], ExprEnv], Typed]]:
    """The inquiry functions by name, for sql/scalar.py's anonymous functions."""
    return {name: _inquiry(object_type, name, plan_expr) for name, object_type in (
        ("has_table_privilege", "TABLE"), ("has_any_column_privilege", "TABLE"),
        ("has_schema_privilege", "SCHEMA"), ("has_database_privilege", "DATABASE"),
        ("has_cluster_privilege", "CLUSTER"))}
