"""``GROUP BY GROUPING SETS (...)``, ``ROLLUP (...)`` and ``CUBE (...)``: a rewrite into a ``UNION ALL`` of plain
GROUP BYs, one per grouping set, so each branch is an ordinary (incrementally maintained) Reduce.

The GROUP BY list is expanded as PostgreSQL does: each element gives a list of sets (an expression: one set;
``ROLLUP (a, b)``: ``(a, b), (a), ()``; ``CUBE (a, b)``: every subset; ``GROUPING SETS (...)``: the union of its
items' sets, nested ROLLUP/CUBE included; a parenthesized list is one composite element), and the elements'
lists are crossed.  In the branch of a set ``S``, a grouping expression not in ``S`` reads as NULL: every
occurrence of it outside an aggregate (in the select list and HAVING) becomes ``max(expr) FILTER (WHERE false)``,
an aggregate that is always NULL and has the expression's type; ``grouping(e1, ..., en)`` becomes the integer
whose bit ``n - i`` is set when ``ei`` is not in ``S``.  Expressions are matched by their SQL text, as written
(``t.a`` and ``a`` are different texts: a mismatch leaves a column ungrouped, which is an error, never a wrong
answer).  Each branch keeps the original output names; ORDER BY, LIMIT and OFFSET apply to the union (so ORDER
BY may name only output columns), and SELECT DISTINCT makes the union distinct.  Window functions over grouping
sets are refused with 0A000.
"""

from __future__ import annotations

import itertools
from typing import Callable

from sqlglot import exp

from steadystate import errors
from steadystate.sql.typed import output_name

GroupingSet = tuple[exp.Expr, ...]
_SET_NODES = (exp.GroupingSets, exp.Rollup, exp.Cube)
_KEEP = exp.Null()  # what a transform returns for "this node as it is, and nothing under it"


def _members(node: exp.Expr) -> GroupingSet:
    """A ROLLUP/CUBE item or a GROUPING SETS item: a parenthesized list is one composite member."""
    if isinstance(node, exp.Tuple):
        return tuple(node.expressions)
    if isinstance(node, exp.Paren):
        return (node.this,)
    return (node,)


def _sets(node: exp.Expr) -> list[GroupingSet]:
    if isinstance(node, exp.Rollup):
        items = [_members(e) for e in node.expressions]
        return [tuple(itertools.chain.from_iterable(items[:n])) for n in range(len(items), -1, -1)]
    if isinstance(node, exp.Cube):
        items = [_members(e) for e in node.expressions]
        out = []
        for size in range(len(items), -1, -1):
            for chosen in itertools.combinations(items, size):
                out.append(tuple(itertools.chain.from_iterable(chosen)))
        return out
    if isinstance(node, exp.GroupingSets):
        out = []
        for item in node.expressions:
            out.extend(_sets(item) if isinstance(item, _SET_NODES) else [_members(item)])
        return out
    return [_members(node)]


def grouping_sets(group: exp.Group) -> list[GroupingSet] | None:
    """The grouping sets of a GROUP BY clause, or None for a plain GROUP BY."""
    elements = list(group.expressions)
    for key in ("grouping_sets", "cube", "rollup"):
        extra = group.args.get(key)
        if extra:
            elements.extend(extra if isinstance(extra, list) else [extra])
    if not any(isinstance(e, _SET_NODES) or isinstance(e, exp.Tuple) and not e.expressions for e in elements):
        return None  # a plain GROUP BY (``GROUP BY ()``, the empty set, goes through here too)
    product: list[GroupingSet] = [()]
    for element in elements:
        product = [left + right for left in product for right in _sets(element)]
    return product


def _text(node: exp.Expr) -> str:
    return node.sql(dialect="postgres")


def _branch_expr(node: exp.Expr, nulled: dict[str, exp.Expr], present: set[str]) -> exp.Expr:
    """``node`` with the nulled grouping expressions read as NULL and grouping() as its constant."""

    def replace(sub: exp.Expr) -> exp.Expr:
        if isinstance(sub, exp.Grouping):
            bits = 0
            for argument in sub.expressions:
                text = _text(argument)
                if text not in nulled and text not in present:
                    raise errors.SteadyError("arguments to GROUPING must be grouping expressions of the associated "
                                             "query level", sqlstate="42803")
                bits = bits * 2 + (1 if text in nulled else 0)
            return exp.Literal.number(bits)
        if isinstance(sub, (exp.AggFunc, exp.Filter, exp.Subquery)):
            return _KEEP  # inside an aggregate (or a subquery) the expression keeps its value
        text = _text(sub)
        if text in nulled:
            return exp.Filter(this=exp.Max(this=sub.copy()), expression=exp.Where(this=exp.false()))
        return sub

    return _transform(node, replace)


def _transform(node: exp.Expr, fn: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """Top-down: replace each node by ``fn(node)``; descend only into nodes ``fn`` left unchanged (``_KEEP``: keep
    the node and do not descend)."""
    replaced = fn(node)
    if replaced is _KEEP:
        return node
    if replaced is not node:
        return replaced
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expr):
            node.set(key, _transform(value, fn))
        elif isinstance(value, list):
            node.set(key, [_transform(v, fn) if isinstance(v, exp.Expr) else v for v in value])
    return node


def expand(select: exp.Select) -> exp.Expr | None:
    """The UNION ALL a SELECT with grouping sets means, or None when it has none."""
    group = select.args.get("group")
    if group is None:
        return None
    sets = grouping_sets(group)
    if sets is None:
        return None
    if any(select.find_all(exp.Window)):
        raise errors.FeatureNotSupported("window functions over GROUPING SETS, ROLLUP or CUBE are not supported")
    if any(isinstance(item, exp.Star) or isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
           for item in select.expressions):
        raise errors.SteadyError("SELECT * with GROUPING SETS, ROLLUP or CUBE needs every column grouped",
                                 sqlstate="42803", hint="name the columns in the select list")
    every: dict[str, exp.Expr] = {}
    for grouping_set in sets:
        for expr in grouping_set:
            every.setdefault(_text(expr), expr)
    names = [output_name(item) for item in select.expressions]
    branches: list[exp.Select] = []
    for grouping_set in sets:
        present = {_text(e) for e in grouping_set}
        nulled = {text: expr for text, expr in every.items() if text not in present}
        branch = select.copy()
        for key in ("order", "limit", "offset", "with_", "with", "distinct"):
            branch.set(key, None)
        unique: dict[str, exp.Expr] = {}
        for expr in grouping_set:
            unique.setdefault(_text(expr), expr)
        branch.set("group", exp.Group(expressions=[e.copy() for e in unique.values()]) if unique else None)
        items = []
        for item, name in zip(branch.expressions, names):
            inner = item.this if isinstance(item, exp.Alias) else item
            items.append(exp.alias_(_branch_expr(inner.copy(), nulled, present), name, quoted=True))
        branch.set("expressions", items)
        having = branch.args.get("having")
        if having is not None:
            branch.set("having", exp.Having(this=_branch_expr(having.this.copy(), nulled, present)))
        if not unique and having is None and not any(branch.find_all(exp.AggFunc)):
            # the empty grouping set is one group, even over no rows: an always-true HAVING makes it an aggregate
            branch.set("having", exp.Having(this=exp.GTE(this=exp.Count(this=exp.Star()),
                                                         expression=exp.Literal.number(0))))
        branches.append(branch)
    union: exp.Expr = branches[0]
    for branch in branches[1:]:
        union = exp.Union(this=union, expression=branch, distinct=False)
    if select.args.get("distinct") is not None:
        source = exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("grouping_sets")))
        union = exp.select(*[exp.column(n, quoted=True) for n in names]).from_(source).distinct()
    for key in ("order", "limit", "offset"):
        value = select.args.get(key)
        if value is not None:
            union.set(key, value.copy())
    return union
