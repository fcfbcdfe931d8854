"""Row constructor comparisons, expanded into comparisons of their elements right after parsing.

PostgreSQL compares two row constructors (``(a, b)`` or ``ROW(a, b)``) element by element (the manual's "Row
Constructor Comparison"): ``=`` is true when every pair is equal, false when one pair is unequal, else NULL — the
three-valued AND of the pairs' ``=``; ``<>`` the OR of their ``<>``; ``<``, ``<=``, ``>``, ``>=`` decide at the first
pair that is unequal or NULL — ``a1 < b1 OR (a1 = b1 AND (a2 < b2 OR (a2 = b2 AND a3 <= b3)))`` for ``<=`` of three
(a NULL in the deciding pair makes every branch NULL or false, hence NULL, as PostgreSQL answers); ``IS [NOT]
DISTINCT FROM`` is the OR (AND) of the pairs'; ``row IN (row, ...)`` the OR of the ``=``s.

:func:`expand` rewrites those nodes of a parsed statement in place, so every later stage (join keys, filters,
pushdown) sees plain comparisons: ``ON (a.x, a.y) = (b.x, b.y)`` becomes two join keys.  Rows of unequal length are
PostgreSQL's 42601; a row compared with a non-row value, and a ``ROW(...)`` anywhere else, are refused (0A000);
a row compared with a subquery is left for the subquery planners, which refuse it.  An UPDATE's ``SET (a, b) =
(x, y)`` (the same syntax, not a comparison) becomes one assignment per column first.
"""

from __future__ import annotations

from functools import reduce

from sqlglot import exp

from steadystate import errors

_ORDERING: dict[type, type] = {exp.LT: exp.LT, exp.LTE: exp.LT, exp.GT: exp.GT, exp.GTE: exp.GT}
_EQUALITY: dict[type, tuple[type, type]] = {  # the pairs' comparison, and how the pairs combine
    exp.EQ: (exp.EQ, exp.And), exp.NEQ: (exp.NEQ, exp.Or),
    exp.NullSafeEQ: (exp.NullSafeEQ, exp.And), exp.NullSafeNEQ: (exp.NullSafeNEQ, exp.Or),
}
_COMPARISONS = tuple(_ORDERING) + tuple(_EQUALITY)


def row_elements(node: exp.Expr | None) -> list[exp.Expr] | None:
    """The elements of a row constructor ``(a, b, ...)`` or ``ROW(a, ...)``, else None."""
    if isinstance(node, exp.Tuple):
        return list(node.expressions)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "row":
        return list(node.expressions)
    return None


def _unequal() -> errors.SteadyError:
    return errors.SyntaxError_("unequal number of entries in row expressions")


def _combine(kind: type, parts: list[exp.Expr]) -> exp.Expr:
    return reduce(lambda left, right: kind(this=left, expression=exp.Paren(this=right)), parts[1:],
                  exp.Paren(this=parts[0]))


def compare_rows(kind: type, left: list[exp.Expr], right: list[exp.Expr]) -> exp.Expr:
    """``left kind right`` for two rows' elements, as comparisons of the elements."""
    if len(left) != len(right):
        raise _unequal()
    if not left:
        raise errors.FeatureNotSupported("comparing empty rows is not supported")
    pairs = [(a.copy(), b.copy()) for a, b in zip(left, right)]
    if kind in _EQUALITY:
        pair_kind, connector = _EQUALITY[kind]
        return exp.Paren(this=_combine(connector, [pair_kind(this=a, expression=b) for a, b in pairs]))
    strict = _ORDERING[kind]
    last_a, last_b = pairs[-1]
    result: exp.Expr = kind(this=last_a, expression=last_b)
    for a, b in reversed(pairs[:-1]):
        decided = strict(this=a, expression=b)
        tied = exp.And(this=exp.EQ(this=a.copy(), expression=b.copy()), expression=exp.Paren(this=result))
        result = exp.Or(this=decided, expression=exp.Paren(this=tied))
    return exp.Paren(this=result)


def _expanded(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Binary) and isinstance(node, _COMPARISONS):
        left, right = row_elements(node.left), row_elements(node.right)
        if left is None and right is None:
            return None
        if left is None or right is None:
            other = node.right if left is not None else node.left
            if isinstance(other, (exp.Subquery, exp.Select)):
                return None  # the subquery planners refuse a row compared with a subquery
            raise errors.FeatureNotSupported("comparing a row constructor with a value that is not a row is not "
                                             "supported")
        return compare_rows(type(node), left, right)
    if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
        subject = row_elements(node.this)
        if subject is None:
            return None
        items = [row_elements(item) for item in node.expressions]
        if any(item is None for item in items):
            raise errors.FeatureNotSupported("IN with a row constructor needs rows in its list")
        return exp.Paren(this=_combine(exp.Or, [compare_rows(exp.EQ, subject, item or []) for item in items]))
    return None


def _split_assignments(update: exp.Update) -> None:
    """``UPDATE ... SET (a, b) = (x, y)``: one assignment per column, as PostgreSQL reads it (a row from a
    subquery is refused)."""
    assignments: list[exp.Expr] = []
    for item in update.expressions:
        columns = row_elements(item.this) if isinstance(item, exp.EQ) else None
        if columns is None and isinstance(item, exp.EQ) and isinstance(item.this, exp.Paren):
            columns = [item.this.this]  # SET (c) = ROW(x)
        if columns is None:
            assignments.append(item)
            continue
        values = row_elements(item.expression)
        if values is None:
            raise errors.FeatureNotSupported("a multiple-column assignment from a subquery is not supported",
                                             hint="Assign each column its own expression.")
        if len(values) != len(columns):
            raise errors.SyntaxError_("number of columns does not match number of values")
        assignments.extend(exp.EQ(this=column, expression=value) for column, value in zip(columns, values))
    update.set("expressions", assignments)


def expand(tree: exp.Expr) -> exp.Expr:
    """``tree`` with its row comparisons expanded (in place; the innermost first).  One walk of the tree when it
    holds no row constructor, which is every statement but a few."""
    if isinstance(tree, exp.Update):
        _split_assignments(tree)
    found = list(tree.find_all(*_COMPARISONS, exp.In, exp.Tuple, exp.Anonymous, bfs=False))
    row_calls = any(isinstance(n, exp.Anonymous) and row_elements(n) is not None for n in found)
    if not row_calls and not any(isinstance(n, exp.Tuple) for n in found):
        return tree
    for node in reversed(found):
        if isinstance(node, (exp.Tuple, exp.Anonymous)):
            continue
        replacement = _expanded(node)
        if replacement is not None:
            if node is tree:
                return replacement
            node.replace(replacement)
    if row_calls and any(row_elements(call) is not None for call in tree.find_all(exp.Anonymous)):
        raise errors.FeatureNotSupported("ROW constructors are supported only in comparisons",
                                         hint="Compare two rows of the same length, or name the columns.")
    return tree
