"""Scalar evaluation: compile IR expressions into Python closures, once per dataflow.

``compile_scalar(expr, input_types)`` turns a :data:`~steadystate.expr.ir.ScalarExpr` into ``f(row) -> datum``.
Compilation walks the tree once; evaluation never inspects node types again — each node becomes a closure over
its children's closures and an implementation picked from the tables in ``expr.functions`` / ``expr.casts``
(:data:`_COMPILERS` dispatches on the node class).  Common shapes (column vs literal comparison) get
specialised closures.

SQL semantics: strict functions return NULL on a NULL argument; ``and``/``or`` use three-valued logic and
short-circuit; ``If`` takes ``els`` when the condition is NULL or false; ``coalesce`` is lazy.  Errors raise
:class:`steadystate.errors.SteadyError` subclasses; the dataflow layer turns them into error updates.

Also: :func:`compile_predicates` (all must be TRUE), :func:`compile_mfp` (map, filter, project fused into one
``row -> row | None``), and :func:`compile_key` (a tuple of expressions as ``row -> tuple``).
"""

from __future__ import annotations

import decimal
import math
import operator
from typing import Any, Callable, Sequence

from steadystate import errors
from steadystate.expr import ir
from steadystate.expr.casts import CASTS
from steadystate.expr.functions import (
    BINARY_NONSTRICT,
    BINARY_STRICT,
    TYPED_BINARY,
    TYPED_UNARY,
    UNARY_NONSTRICT,
    UNARY_STRICT,
    VARIADIC_NONSTRICT,
    VARIADIC_STRICT,
)
from steadystate.expr.infer import Types, scalar_type
from steadystate.repr import Row
from steadystate.repr import numeric, typmod
from steadystate.repr.types import ScalarType

Evaluator = Callable[[Row], Any]


def _unknown_function(func: str, arity: str) -> errors.SteadyError:
    return errors.UndefinedFunction(f"function {func} does not exist", detail=f"no {arity} implementation")


def _compile_column(expr: ir.ColumnRef, types: Types | None) -> Evaluator:
    return operator.itemgetter(expr.index)


def _compile_literal(expr: ir.Literal, types: Types | None) -> Evaluator:
    value = expr.datum()
    return lambda row: value


def _compile_unary(expr: ir.CallUnary, types: Types | None) -> Evaluator:
    arg = compile_scalar(expr.expr, types)
    func = expr.func
    if func in UNARY_NONSTRICT:
        nonstrict = UNARY_NONSTRICT[func]
        return lambda row: nonstrict(arg(row))
    if func.startswith("cast_"):
        try:
            impl = CASTS[ScalarType(func[len("cast_"):])]
        except ValueError:
            raise _unknown_function(func, "cast") from None
        return lambda row: impl(arg(row))  # casts handle NULL themselves
    if func in TYPED_UNARY:
        impl = TYPED_UNARY[func](scalar_type(expr.expr, types))
    elif func in UNARY_STRICT:
        impl = UNARY_STRICT[func]
    else:
        raise _unknown_function(func, "unary")

    def strict_unary(row: Row) -> Any:
        value = arg(row)
        return None if value is None else impl(value)

    return strict_unary


#: ``apply_typmod(value, 'varchar(3)')`` — an explicit cast to a modified type; ``assign_typmod`` — an assignment
#: to a column of one (repr/typmod.py has the rules)
_TYPMOD_FUNCS = frozenset({"apply_typmod", "assign_typmod"})


def _compile_and(left: Evaluator, right: Evaluator) -> Evaluator:
    def and_(row: Row) -> bool | None:
        a = left(row)
        if a is False:
            return False
        b = right(row)
        if b is False:
            return False
        if a is None or b is None:
            return None
        return True

    return and_


def _compile_or(left: Evaluator, right: Evaluator) -> Evaluator:
    def or_(row: Row) -> bool | None:
        a = left(row)
        if a is True:
            return True
        b = right(row)
        if b is True:
            return True
        if a is None or b is None:
            return None
        return False

    return or_


def _compile_binary(expr: ir.CallBinary, types: Types | None) -> Evaluator:
    func = expr.func
    left = compile_scalar(expr.left, types)
    right = compile_scalar(expr.right, types)
    if func == "and":
        return _compile_and(left, right)
    if func == "or":
        return _compile_or(left, right)
    if func in _TYPMOD_FUNCS and isinstance(expr.right, ir.Literal):
        bring = typmod.coercer(typmod.parse_spec(str(expr.right.value)), explicit=func == "apply_typmod")
        return lambda row: bring(left(row))
    if func in BINARY_NONSTRICT:
        nonstrict = BINARY_NONSTRICT[func]
        return lambda row: nonstrict(left(row), right(row))
    if func in TYPED_BINARY:
        operand_type = scalar_type(expr.left, types) or scalar_type(expr.right, types)
        impl = TYPED_BINARY[func](operand_type)
    elif func in BINARY_STRICT:
        impl = BINARY_STRICT[func]
    else:
        raise _unknown_function(func, "binary")
    if isinstance(expr.left, ir.ColumnRef) and isinstance(expr.right, ir.Literal):
        index, constant = expr.left.index, expr.right.datum()
        if constant is None:
            return lambda row: None

        def column_literal(row: Row) -> Any:
            value = row[index]
            return None if value is None else impl(value, constant)

        return column_literal

    def strict_binary(row: Row) -> Any:
        a = left(row)
        b = right(row)
        if a is None or b is None:
            return None
        return impl(a, b)

    return strict_binary


def _compile_variadic(expr: ir.CallVariadic, types: Types | None) -> Evaluator:
    func = expr.func
    args = [compile_scalar(e, types) for e in expr.exprs]
    if func == "coalesce":
        def coalesce(row: Row) -> Any:
            for arg in args:
                value = arg(row)
                if value is not None:
                    return value
            return None

        return coalesce
    if func == "and" or func == "or":  # n-ary conjunction / disjunction
        combined = args[0]
        for arg in args[1:]:
            combined = (_compile_and if func == "and" else _compile_or)(combined, arg)
        return combined
    if func in VARIADIC_NONSTRICT:
        nonstrict = VARIADIC_NONSTRICT[func]
        return lambda row: nonstrict([arg(row) for arg in args])
    if func in VARIADIC_STRICT:
        impl = VARIADIC_STRICT[func]

        def strict_variadic(row: Row) -> Any:
            values = [arg(row) for arg in args]
            if None in values:
                return None
            return impl(*values)

        return strict_variadic
    raise _unknown_function(func, "variadic")


def _compile_if(expr: ir.If, types: Types | None) -> Evaluator:
    cond = compile_scalar(expr.cond, types)
    then = compile_scalar(expr.then, types)
    els = compile_scalar(expr.els, types)
    return lambda row: then(row) if cond(row) is True else els(row)


_COMPILERS: dict[type, Callable[[Any, Types | None], Evaluator]] = {
    ir.ColumnRef: _compile_column,
    ir.Literal: _compile_literal,
    ir.CallUnary: _compile_unary,
    ir.CallBinary: _compile_binary,
    ir.CallVariadic: _compile_variadic,
    ir.If: _compile_if,
}


#: result types that can be NaN; a call of one of them (or of a type not known) hands back the one NaN rows hold
_NAN_TYPES = frozenset({ScalarType.FLOAT4, ScalarType.FLOAT8, ScalarType.NUMERIC, None})
_CALLS = (ir.CallUnary, ir.CallBinary, ir.CallVariadic)


def _canonical_nan(evaluator: Evaluator) -> Evaluator:
    """Every NaN ``evaluator`` returns becomes ``math.nan`` (numeric's ``NAN``): a NaN is unequal to itself and two
    NaN objects hash apart, so a row holding a fresh NaN would never consolidate with, or retract, an equal one."""
    def canonical(row: Row) -> Any:
        value = evaluator(row)
        if value != value:
            if value.__class__ is float:
                return math.nan
            if isinstance(value, decimal.Decimal):
                return numeric.NAN
        return value

    return canonical


def compile_scalar(expr: ir.ScalarExpr, input_types: Types | None = None) -> Evaluator:
    """Compile ``expr`` into ``f(row) -> datum``; ``input_types`` (optional) sharpens overflow checks."""
    compiler = _COMPILERS.get(type(expr))
    if compiler is None:
        raise errors.InternalError(f"cannot evaluate {type(expr).__name__}")
    evaluator = compiler(expr, input_types)
    if isinstance(expr, _CALLS) and scalar_type(expr, input_types) in _NAN_TYPES:
        return _canonical_nan(evaluator)
    return evaluator


def evaluate(expr: ir.ScalarExpr, row: Row = (), input_types: Types | None = None) -> Any:
    """Evaluate once (convenience for constant folding and tests)."""
    return compile_scalar(expr, input_types)(row)


def compile_predicates(predicates: Sequence[ir.ScalarExpr], input_types: Types | None = None) -> Callable[[Row], bool]:
    """``f(row) -> bool``: True iff every predicate evaluates to TRUE (NULL and FALSE reject)."""
    compiled = [compile_scalar(p, input_types) for p in predicates]
    if not compiled:
        return lambda row: True
    if len(compiled) == 1:
        only = compiled[0]
        return lambda row: only(row) is True

    def all_true(row: Row) -> bool:
        for predicate in compiled:
            if predicate(row) is not True:
                return False
        return True

    return all_true


def compile_key(exprs: Sequence[ir.ScalarExpr], input_types: Types | None = None) -> Callable[[Row], tuple]:
    """``f(row) -> tuple`` of the expressions' values (column-only keys use one C-level itemgetter)."""
    if all(isinstance(e, ir.ColumnRef) for e in exprs):
        indexes = [e.index for e in exprs]  # type: ignore[union-attr]
        if not indexes:
            return lambda row: ()
        if len(indexes) == 1:
            only = indexes[0]
            return lambda row: (row[only],)
        return operator.itemgetter(*indexes)
    simple = _null_safe_key(exprs)
    if simple is not None:
        return simple
    compiled = [compile_scalar(e, input_types) for e in exprs]
    return lambda row: tuple(f(row) for f in compiled)


def _null_safe_key(exprs: Sequence[ir.ScalarExpr]) -> Callable[[Row], tuple] | None:
    """A key of columns, ``is_null(column)`` and ``coalesce(column, constant)`` — a null-safe join's equivalences
    (``expr.equality.null_safe_keys``: a decorrelated LATERAL's, ``IS NOT DISTINCT FROM``'s) — as one generated
    tuple expression, the same values ``compile_scalar`` gives, without a call per part; ``None`` otherwise."""
    parts: list[str] = []
    constants: dict[str, Any] = {}
    for expr in exprs:
        if isinstance(expr, ir.ColumnRef):
            parts.append(f"row[{expr.index}]")
        elif isinstance(expr, ir.CallUnary) and expr.func == "is_null" and isinstance(expr.expr, ir.ColumnRef):
            parts.append(f"row[{expr.expr.index}] is None")
        elif (isinstance(expr, ir.CallVariadic) and expr.func == "coalesce" and len(expr.exprs) == 2
              and isinstance(expr.exprs[0], ir.ColumnRef) and isinstance(expr.exprs[1], ir.Literal)
              and expr.exprs[1].value is not None):
            name, index = f"_c{len(constants)}", expr.exprs[0].index
            constants[name] = expr.exprs[1].datum()
            parts.append(f"({name} if row[{index}] is None else row[{index}])")
        else:
            return None
    return eval("lambda row: (" + "".join(f"{part}, " for part in parts) + ")", constants)  # type: ignore[no-any-return]


def mfp_types(mfp: ir.MapFilterProject, input_types: Types | None) -> list[ScalarType | None]:
    """The output column types of ``mfp`` applied to rows of ``input_types``."""
    types: list[ScalarType | None] = list(input_types) if input_types is not None else [None] * mfp.input_arity
    for scalar in mfp.map:
        types.append(scalar_type(scalar, types))
    if mfp.projection is None:
        return types
    return [types[i] for i in mfp.projection]


def compile_mfp(mfp: ir.MapFilterProject, input_types: Types | None = None) -> Callable[[Row], Row | None]:
    """``f(row) -> row | None``: append the maps, drop the row unless all predicates hold, project."""
    types: list[ScalarType | None] | None = list(input_types) if input_types is not None else None
    maps: list[Evaluator] = []
    for scalar in mfp.map:
        maps.append(compile_scalar(scalar, types))
        if types is not None:
            types.append(scalar_type(scalar, types))
    keep = compile_predicates(mfp.predicates, types)
    has_predicates = bool(mfp.predicates)
    projection = mfp.projection
    identity_projection = projection is None or projection == tuple(range(mfp.input_arity + len(mfp.map)))
    project = None if identity_projection else operator.itemgetter(*projection) if projection else None
    single = projection is not None and len(projection) == 1

    if not maps and not has_predicates and identity_projection:
        return lambda row: row
    if not maps and not has_predicates and project is not None and not single:  # a projection: the C getter
        return project  # type: ignore[no-any-return]

    def apply(row: Row) -> Row | None:
        if maps:
            extended = list(row)
            for f in maps:
                extended.append(f(extended))  # type: ignore[arg-type]  # a list reads like the row tuple
            row = tuple(extended)
        if has_predicates and not keep(row):
            return None
        if identity_projection:
            return row
        if projection == ():
            return ()
        return (project(row),) if single else project(row)  # type: ignore[misc]

    return apply
