"""Uncorrelated scalar subqueries — ``(SELECT max(x) FROM t)`` used as a value — decorrelated into joins.

Each scalar subquery in a SELECT's select list, WHERE or HAVING is planned on its own, turned into a
relation with exactly one row, cross-joined to the query's FROM relation as a hidden column, and the
subquery in the syntax tree is replaced by a reference to that column.  The one-row relation is the union of

* the subquery's rows, kept only while it has at most one row;
* a NULL row while it has none (SQL: an empty scalar subquery is NULL);
* an error row while it has more than one (SQL: ``more than one row returned by a subquery used as an
  expression``, 21000) — an error as data, so a maintained view reports it when read and recovers when the
  subquery is back to one row.

Everything is incremental: the row count is a global ``count(*)`` that updates with the subquery.  A
subquery that refers to the outer query (correlated) is not supported and says so (0A000).
"""

from __future__ import annotations

import itertools

from sqlglot import exp

from steadystate import errors
from steadystate.expr.ir import (
    AggregateExpr, CallBinary, ColumnRef, Filter, Join, Literal, Map, Project, Reduce, RelationExpr, Union_,
)
from steadystate.repr.types import ScalarType
from steadystate.sql import correlated, functions
from steadystate.sql.scalar import Scope, ScopeColumn

_names = itertools.count(1)


def _scalar_subqueries(node: exp.Select) -> list[exp.Subquery]:
    roots: list[exp.Expression] = list(node.expressions)
    for clause in ("where", "having"):
        if node.args.get(clause) is not None:
            roots.append(node.args[clause].this)
    found = []
    for root in roots:
        for sub in root.find_all(exp.Subquery):
            parent = sub.parent
            if isinstance(parent, (exp.In, exp.Exists)) or sub.find_ancestor(exp.Exists) is not None:
                continue
            if sub.find_ancestor(exp.Subquery) is not None:
                continue  # nested inside another subquery: that one plans it
            found.append(sub)
    return found


def one_row(sub_expr: RelationExpr, typ: ScalarType) -> RelationExpr:
    """Exactly one row: the subquery's value, NULL when it is empty, an error when it has several rows."""
    count = Reduce(sub_expr, (), (AggregateExpr("count_star", Literal(True, ScalarType.BOOL)),))
    at_most_one = Filter(count, (CallBinary("lte", ColumnRef(0), Literal(1, ScalarType.INT8)),))
    value_rows = Project(Join((sub_expr, at_most_one), ()), (0,))
    empty = Filter(count, (CallBinary("eq", ColumnRef(0), Literal(0, ScalarType.INT8)),))
    null_row = Project(Map(empty, (Literal(None, typ),)), (1,))
    several = Filter(count, (CallBinary("gt", ColumnRef(0), Literal(1, ScalarType.INT8)),))
    error = CallBinary("subquery_cardinality", ColumnRef(0), Literal(None, typ))
    error_row = Project(Map(several, (error,)), (1,))
    return Union_((value_rows, null_row, error_row))


def inline_scalar_subqueries(node: exp.Select, rel_expr: RelationExpr, scope: Scope, state) -> tuple[RelationExpr, Scope]:  # type: ignore[no-untyped-def]
    """Join every scalar subquery of ``node`` to the FROM relation and point the syntax tree at its column."""
    from steadystate.sql.query import plan_subquery

    subqueries = _scalar_subqueries(node)
    if not subqueries:
        return rel_expr, scope
    columns = list(scope.columns)
    for sub in subqueries:
        try:
            planned = plan_subquery(sub.this, state)
        except errors.SteadyError as error:
            if correlated.is_correlation_error(error):
                raise errors.FeatureNotSupported(
                    "correlated scalar subqueries are not supported",
                    hint="rewrite it as a join with GROUP BY, or use EXISTS / IN in WHERE",
                ) from None
            raise
        if planned.arity != 1:
            raise errors.SyntaxError_("subquery must return only one column")
        column = planned.scope.columns[0]
        name = f"__subquery_{next(_names)}"
        rel_expr = Join((rel_expr, one_row(planned.expr, column.type)), ())
        columns.append(ScopeColumn(None, name, column.type, True, in_star=False))
        reference = exp.column(name)
        if any(sub is item for item in node.expressions):
            sub.replace(exp.alias_(reference, functions.output_name(sub)))  # keep the column's name
        else:
            sub.replace(reference)
    return rel_expr, Scope(tuple(columns))
