"""Columns a relation never holds NULL in, and null-safe join keys made plain where one side can never be NULL.

A null-safe equality ``a IS NOT DISTINCT FROM b`` is keyed by a join as two equivalences over expressions that are
never NULL (``expr/equality.py``): ``(is_null(a), is_null(b))`` and ``(coalesce(a, f), coalesce(b, f))``.  The
decorrelated plans of LATERAL and scalar subqueries join their per-domain-value rows back to the outer rows this
way (``sql/correlated_scalar.null_safe_key``).  Such a join's keys are computed expressions, so it can neither
take its snapshot as Arrow columns nor read an index in place.  When one of ``a``/``b`` is provably never NULL in
the rows that reach the join, ``a IS NOT DISTINCT FROM b`` holds exactly when ``a = b`` does (both non-NULL and
equal; a NULL on the other side meets a non-NULL value, which is distinct and, under ``=``, unknown: no match
either way), so :func:`plain_null_safe_keys` replaces the two equivalences by the plain one ``(a, b)``.  Several
operands null-safe equal to each other (a merged class) become one plain class the same way: one never-NULL
operand makes every matching row's operands equal and non-NULL.

:func:`non_null_columns` is the proof, bottom-up over the relational IR, and conservative (a column it does not
name may or may not hold NULL):

* a join's equivalence classes keep only rows whose members are equal under ``=`` — as join keys (a key with a
  NULL matches nothing, ``dataflow.join``) or as residual ``eq`` filters (NULL is not true) — so every plain
  column reference in a class of two or more members is never NULL in its output; the inputs' columns keep what
  they had;
* a filter's conjunct ``c = x`` (or ``<>``, ``<``, ``<=``, ``>``, ``>=``, ``IS NOT NULL``) with a plain column
  ``c`` keeps only rows where ``c`` is not NULL (those comparisons are NULL on a NULL operand);
* maps, projections, distincts, top-ks, windows, thresholds and negations keep their input's columns; a union
  the columns every input has; a reduce its group-key columns that are plain never-NULL columns;
* a map's new column is never NULL when it is a never-NULL column, a non-NULL literal, a NULL test, or a
  ``coalesce`` with a never-NULL argument;
* ``Get``, ``Constant``, ``LetRec`` and table-function outputs claim nothing (the catalog's ``NOT NULL`` is not
  consulted).
"""

from __future__ import annotations

from typing import Callable

from steadystate.expr import ir
from steadystate.expr.infer import Types, relation_types

TypesOf = Callable[[str], Types | None]

_NULL_REJECTING = frozenset({"eq", "neq", "lt", "lte", "gt", "gte"})  # NULL on a NULL operand, so never true


def non_null_columns(expr: ir.RelationExpr, types_of: TypesOf) -> frozenset[int]:
    """Output columns of ``expr`` that are never NULL in any of its rows (a conservative subset)."""
    if isinstance(expr, (ir.Map, ir.Filter, ir.Project, ir.Join, ir.Reduce, ir.Union_)):
        return _COMPOSITE[type(expr)](expr, types_of)
    if isinstance(expr, (ir.Distinct, ir.TopK, ir.Window, ir.Threshold, ir.Negate, ir.ArrangeBy, ir.FlatMap)):
        return non_null_columns(expr.input, types_of)  # the input's rows, or some of them, with its columns first
    return frozenset()  # Get, Constant, LetRec: nothing is claimed


def _map(expr: ir.Map, types_of: TypesOf) -> frozenset[int]:
    known = set(non_null_columns(expr.input, types_of))
    arity = _arity(expr.input, types_of)
    if arity is None:
        return frozenset(known)
    for position, scalar in enumerate(expr.scalars):
        if never_null(scalar, known):
            known.add(arity + position)
    return frozenset(known)


def _filter(expr: ir.Filter, types_of: TypesOf) -> frozenset[int]:
    known = set(non_null_columns(expr.input, types_of))
    for predicate in conjuncts(expr.predicates):
        if isinstance(predicate, ir.CallBinary) and predicate.func in _NULL_REJECTING:
            known.update(e.index for e in (predicate.left, predicate.right) if isinstance(e, ir.ColumnRef))
        elif isinstance(predicate, ir.CallUnary) and predicate.func == "is_not_null" \
                and isinstance(predicate.expr, ir.ColumnRef):
            known.add(predicate.expr.index)
    return frozenset(known)


def _project(expr: ir.Project, types_of: TypesOf) -> frozenset[int]:
    known = non_null_columns(expr.input, types_of)
    return frozenset(i for i, column in enumerate(expr.outputs) if column in known)


def _join(expr: ir.Join, types_of: TypesOf) -> frozenset[int]:
    known = set(_inputs_non_null(expr, types_of) or ())
    for cls in expr.equivalences:
        if len(cls) >= 2:  # every member equal to the others under `=`: a NULL member drops the row
            known.update(e.index for e in cls if isinstance(e, ir.ColumnRef))
    return frozenset(known)


def _reduce(expr: ir.Reduce, types_of: TypesOf) -> frozenset[int]:
    known = non_null_columns(expr.input, types_of)
    return frozenset(i for i, key in enumerate(expr.group_key) if never_null(key, known))


def _union(expr: ir.Union_, types_of: TypesOf) -> frozenset[int]:
    sets = [non_null_columns(child, types_of) for child in expr.inputs]
    return frozenset.intersection(*sets) if sets else frozenset()


_COMPOSITE: dict[type, Callable] = {ir.Map: _map, ir.Filter: _filter, ir.Project: _project, ir.Join: _join,
                                    ir.Reduce: _reduce, ir.Union_: _union}


def never_null(expr: ir.ScalarExpr, known: set[int] | frozenset[int]) -> bool:
    """``expr`` is never NULL on rows whose ``known`` columns are never NULL."""
    if isinstance(expr, ir.ColumnRef):
        return expr.index in known
    if isinstance(expr, ir.Literal):
        return expr.value is not None
    if isinstance(expr, ir.CallUnary):
        return expr.func in ("is_null", "is_not_null")
    if isinstance(expr, ir.CallVariadic) and expr.func == "coalesce":
        return any(never_null(e, known) for e in expr.exprs)
    return False


def conjuncts(predicates: tuple[ir.ScalarExpr, ...]) -> list[ir.ScalarExpr]:
    """The predicates with their ``and`` trees flattened."""
    out: list[ir.ScalarExpr] = []
    for predicate in predicates:
        if isinstance(predicate, ir.CallBinary) and predicate.func == "and":
            out.extend(conjuncts((predicate.left, predicate.right)))
        else:
            out.append(predicate)
    return out


def _arity(expr: ir.RelationExpr, types_of: TypesOf) -> int | None:
    types = relation_types(expr, types_of)
    return None if types is None else len(types)


def _inputs_non_null(expr: ir.Join, types_of: TypesOf) -> set[int] | None:
    """The join's input columns (numbered across the inputs) that are never NULL; None when an arity is unknown."""
    known: set[int] = set()
    offset = 0
    for child in expr.inputs:
        arity = _arity(child, types_of)
        if arity is None:
            return None
        known.update(offset + c for c in non_null_columns(child, types_of))
        offset += arity
    return known


# ------------------------------------------------------------------------------------------------ the rewrite


def _null_safe_operands(flags: tuple[ir.ScalarExpr, ...],
                        values: tuple[ir.ScalarExpr, ...]) -> tuple[ir.ScalarExpr, ...] | None:
    """The operands ``(a, b, ...)`` when ``flags`` is ``(is_null(a), is_null(b), ...)`` and ``values`` is
    ``(coalesce(a, f), coalesce(b, f), ...)`` with one non-NULL literal ``f``, in the same order; else None."""
    if len(flags) < 2 or len(flags) != len(values):
        return None
    operands: list[ir.ScalarExpr] = []
    filler: ir.ScalarExpr | None = None
    for flag, value in zip(flags, values):
        if not (isinstance(flag, ir.CallUnary) and flag.func == "is_null"):
            return None
        if not (isinstance(value, ir.CallVariadic) and value.func == "coalesce" and len(value.exprs) == 2):
            return None
        operand, fill = value.exprs
        if operand != flag.expr or not isinstance(fill, ir.Literal) or fill.value is None \
                or (filler is not None and fill != filler):
            return None
        filler = fill
        operands.append(operand)
    return tuple(operands)


def plain_null_safe_keys(join: ir.Join, types_of: TypesOf) -> ir.Join:
    """``join`` with each null-safe key (a pair of classes ``is_null``/``coalesce`` over the same operands) made
    the plain class of its operands where one operand is a column never NULL in the join's input rows or made so
    by the join's plain classes (see the module docstring); the join itself where nothing changes."""
    classes = list(join.equivalences)
    if len(classes) < 2:
        return join
    known = _join(join, types_of)
    changed = False
    i = 0
    while i < len(classes):
        for j in range(len(classes)):
            operands = _null_safe_operands(classes[i], classes[j]) if j != i else None
            if operands is not None and any(isinstance(e, ir.ColumnRef) and e.index in known for e in operands):
                classes[j] = operands
                del classes[i]
                changed = True
                break
        else:
            i += 1
    return ir.Join(join.inputs, tuple(classes)) if changed else join


__all__ = ["conjuncts", "non_null_columns", "never_null", "plain_null_safe_keys"]
