"""Type inference over the IR: the ScalarType of a scalar expression and the column types of a relation.

The evaluator needs operand types for exact overflow checks (int4 vs int8 arithmetic) and for aggregate result
types (sum of int8 is numeric).  Types come from the leaves: ``ColumnRef`` takes the input's column type and
``Literal`` carries its own; functions follow the vocabulary's typing rules in :data:`_RESULT_RULES`.  ``None``
means "unknown" and every consumer copes with it (it falls back to dispatch on the Python value).

Also owns the small structural helpers the renderer needs: :func:`columns_of` (which input columns an
expression reads) and :func:`shift_columns` (rebase column references).
"""

from __future__ import annotations

from typing import Callable, Sequence

from steadystate.expr.string_math import RESULT_TYPES as STRING_MATH_TYPES
from steadystate.expr.text_functions import RESULT_TYPES as TEXT_FUNCTION_TYPES
from steadystate.expr.jsonb_paths import RESULT_TYPES as JSONB_PATH_TYPES
from steadystate.expr.to_char_number import RESULT_TYPES as TO_CHAR_NUMBER_TYPES
from steadystate.expr.to_date import RESULT_TYPES as TO_DATE_TYPES
from steadystate.expr.time_functions import VARIADIC_STRICT as TIME_FUNCTIONS
from steadystate.expr.time_functions import result_type as time_result_type
from steadystate.expr import ir
from steadystate.expr.jsonb_functions import RESULT_TYPES as JSONB_RESULT_TYPES
from steadystate.expr.arrays import result_type as array_result_type
from steadystate.repr.types import ScalarType

Types = Sequence[ScalarType | None]

_BOOL_FUNCS = frozenset({
    "eq", "neq", "lt", "lte", "gt", "gte", "and", "or", "not", "like", "not_like", "ilike", "not_ilike",
    "regex_match", "regex_imatch",
    "is_null", "is_not_null", "is_true", "is_false", "is_not_true", "is_not_false", "in_list", "between",
})
_TEXT_FUNCS = frozenset({
    "concat", "upper", "lower", "trim", "ltrim", "rtrim", "md5", "left", "right", "repeat", "substr", "replace",
    "lpad", "rpad", "btrim_chars", "ltrim_chars", "rtrim_chars", "substring_regex",
})
_INT4_FUNCS = frozenset({"length", "position"})
#: rank of the numeric types in PostgreSQL's implicit widening (an operation's result takes the widest operand)
_WIDENING = {ScalarType.INT2: 0, ScalarType.INT4: 1, ScalarType.INT8: 2, ScalarType.NUMERIC: 3,
             ScalarType.FLOAT4: 4, ScalarType.FLOAT8: 5}
_SAME_AS_FIRST = frozenset({
    "add", "sub", "mul", "div", "mod", "neg", "abs", "round", "floor", "ceil", "sign", "nullif", "coalesce",
    "greatest", "least", "apply_typmod", "assign_typmod", "jsonb_object_agg_key",
    "bitand", "bitor", "bitxor", "bitnot", "shl_int2", "shl_int4", "shl_int8", "shr_int2", "shr_int4", "shr_int8",
})
_FLOAT_UNLESS_NUMERIC = frozenset({"sqrt", "exp", "ln", "log10", "pow"})


_D, _TS, _TZ, _TI, _IV = (ScalarType.DATE, ScalarType.TIMESTAMP, ScalarType.TIMESTAMPTZ, ScalarType.TIME,
                          ScalarType.INTERVAL)
_I4, _F8 = ScalarType.INT4, ScalarType.FLOAT8
#: PostgreSQL's date/time operators: (operator, left, right) → result.  The planner resolves ``+ - * /`` with a
#: date/time operand through this table and calls ``temporal_<op>`` (expr/functions.py dispatches on the values)
TEMPORAL_OPERATORS: dict[tuple[str, ScalarType, ScalarType], ScalarType] = {
    ("add", _D, _I4): _D, ("add", _I4, _D): _D, ("sub", _D, _I4): _D, ("sub", _D, _D): _I4,
    ("add", _D, _IV): _TS, ("add", _IV, _D): _TS, ("sub", _D, _IV): _TS,
    ("add", _D, _TI): _TS, ("add", _TI, _D): _TS,
    ("add", _TS, _IV): _TS, ("add", _IV, _TS): _TS, ("sub", _TS, _IV): _TS, ("sub", _TS, _TS): _IV,
    ("add", _TZ, _IV): _TZ, ("add", _IV, _TZ): _TZ, ("sub", _TZ, _IV): _TZ, ("sub", _TZ, _TZ): _IV,
    ("add", _TI, _IV): _TI, ("add", _IV, _TI): _TI, ("sub", _TI, _IV): _TI, ("sub", _TI, _TI): _IV,
    ("add", _IV, _IV): _IV, ("sub", _IV, _IV): _IV,
    ("mul", _IV, _F8): _IV, ("mul", _F8, _IV): _IV, ("div", _IV, _F8): _IV,
}
TEMPORAL_TYPES = frozenset({_D, _TS, _TZ, _TI, _IV})


def _first_known(types: list[ScalarType | None]) -> ScalarType | None:
    for typ in types:
        if typ is not None:
            return typ
    return None


def function_type(func: str, arg_types: list[ScalarType | None]) -> ScalarType | None:
    """The result type of ``func`` applied to arguments of ``arg_types``."""
    if func.startswith("cast_"):
        return ScalarType(func[len("cast_"):])
    if func.startswith("temporal_") and len(arg_types) == 2 and None not in arg_types:
        return TEMPORAL_OPERATORS.get((func[len("temporal_"):], arg_types[0], arg_types[1]))  # type: ignore[arg-type]
    if func == "mz_now":
        return ScalarType.MZ_TIMESTAMP
    if func in STRING_MATH_TYPES:
        return STRING_MATH_TYPES[func]
    if func in TEXT_FUNCTION_TYPES:
        return TEXT_FUNCTION_TYPES[func]
    if func in JSONB_PATH_TYPES:
        return JSONB_PATH_TYPES[func]
    if func in TO_CHAR_NUMBER_TYPES:
        return TO_CHAR_NUMBER_TYPES[func]
    if func in TO_DATE_TYPES:
        return TO_DATE_TYPES[func]
    if func == "trunc":
        return arg_types[0]
    if func in TIME_FUNCTIONS:
        return time_result_type(func, arg_types)
    if func == "subquery_cardinality":
        return arg_types[1] if len(arg_types) > 1 else None
    if func in _BOOL_FUNCS:
        return ScalarType.BOOL
    if func in JSONB_RESULT_TYPES:
        return JSONB_RESULT_TYPES[func]
    if func in _TEXT_FUNCS or func == "float4_to_text":
        return ScalarType.TEXT
    if func in _INT4_FUNCS:
        return ScalarType.INT4
    if func in ("date_part",):
        return ScalarType.FLOAT8
    if func == "extract":
        return ScalarType.NUMERIC
    if func in ("date_trunc",):
        second = arg_types[1] if len(arg_types) > 1 else None
        return second if second in (ScalarType.TIMESTAMPTZ, ScalarType.INTERVAL) else ScalarType.TIMESTAMP
    if func == "round_to":
        return ScalarType.NUMERIC
    if func in _FLOAT_UNLESS_NUMERIC:
        return ScalarType.NUMERIC if ScalarType.NUMERIC in arg_types else ScalarType.FLOAT8
    if func in _SAME_AS_FIRST:
        known = _first_known(arg_types)
        if func in ("add", "sub") and known in (ScalarType.DATE, ScalarType.TIMESTAMP):
            if func == "sub" and arg_types and arg_types[0] == arg_types[-1] == ScalarType.DATE:
                return ScalarType.INT4
            return known
        numeric = [t for t in arg_types if t in _WIDENING]
        if known in _WIDENING and len(numeric) > 1:
            return max(numeric, key=_WIDENING.__getitem__)
        return known
    return array_result_type(func, arg_types)


def scalar_type(expr: ir.ScalarExpr, input_types: Types | None) -> ScalarType | None:
    """The type of ``expr`` over rows whose columns have ``input_types`` (``None``: unknown)."""
    if isinstance(expr, ir.ColumnRef):
        if input_types is None or expr.index >= len(input_types):
            return None
        return input_types[expr.index]
    if isinstance(expr, ir.Literal):
        return expr.type
    if isinstance(expr, ir.CallUnary):
        return function_type(expr.func, [scalar_type(expr.expr, input_types)])
    if isinstance(expr, ir.CallBinary):
        return function_type(expr.func, [scalar_type(expr.left, input_types), scalar_type(expr.right, input_types)])
    if isinstance(expr, ir.CallVariadic):
        return function_type(expr.func, [scalar_type(e, input_types) for e in expr.exprs])
    if isinstance(expr, ir.If):
        return _first_known([scalar_type(expr.then, input_types), scalar_type(expr.els, input_types)])
    raise TypeError(f"not a scalar expression: {expr!r}")


_FLOAT8_AGGREGATES = frozenset({"corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_intercept",
                                "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy"})


def aggregate_type(agg: ir.AggregateExpr, input_types: Types | None) -> ScalarType | None:
    arg = scalar_type(agg.expr, input_types)
    if agg.func in ("count", "count_star"):
        return ScalarType.INT8
    if agg.func == "string_agg":
        return ScalarType.TEXT
    if agg.func in ("jsonb_agg", "jsonb_object_agg"):
        return ScalarType.JSONB
    if agg.func == "array_agg":
        return arg.array if arg is not None else None
    if agg.func in ("bool_and", "bool_or"):
        return ScalarType.BOOL
    if agg.func == "regr_count":
        return ScalarType.INT8
    if agg.func in ("percentile_cont", "percentile_disc"):  # the ordered value's type (float8 or interval for cont)
        element = ScalarType.FLOAT8 if agg.func == "percentile_cont" and arg is not ScalarType.INTERVAL else arg
        fraction = scalar_type(agg.args[0], input_types) if agg.args else None
        if fraction is not None and fraction.is_array:  # an array of fractions: an array of results
            return element.array if element is not None else None
        return element
    if agg.func in _FLOAT8_AGGREGATES:  # corr, covar_*, regr_* (expr/stat_aggregates.py)
        return ScalarType.FLOAT8
    if agg.func == "sum":
        return {ScalarType.INT2: ScalarType.INT8, ScalarType.INT4: ScalarType.INT8,
                ScalarType.INT8: ScalarType.NUMERIC}.get(arg, arg)  # type: ignore[arg-type]
    if agg.func == "avg":
        if arg is ScalarType.INTERVAL:
            return arg
        return ScalarType.FLOAT8 if arg in (ScalarType.FLOAT4, ScalarType.FLOAT8) else ScalarType.NUMERIC
    if agg.func in ("stddev_samp", "stddev_pop", "var_samp", "var_pop"):
        return ScalarType.FLOAT8 if arg in (ScalarType.FLOAT4, ScalarType.FLOAT8) else ScalarType.NUMERIC
    return arg


#: result types of the window functions that are not aggregates (None: the type of their value argument)
WINDOW_FUNCTION_TYPES: dict[str, ScalarType | None] = {
    "row_number": ScalarType.INT8, "rank": ScalarType.INT8, "dense_rank": ScalarType.INT8, "ntile": ScalarType.INT4,
    "percent_rank": ScalarType.FLOAT8, "cume_dist": ScalarType.FLOAT8,
    "lag": None, "lead": None, "first_value": None, "last_value": None, "nth_value": None,
}


def window_function_type(func: ir.WindowFunc, input_types: Types | None) -> ScalarType | None:
    if func.func in WINDOW_FUNCTION_TYPES:
        fixed = WINDOW_FUNCTION_TYPES[func.func]
        if fixed is not None:
            return fixed
        return input_types[func.args[0]] if input_types is not None else None
    value: ir.ScalarExpr = ir.ColumnRef(func.args[0]) if func.args else ir.Literal(True, ScalarType.BOOL)
    return aggregate_type(ir.AggregateExpr(func.func, value), input_types)


def relation_types(expr: ir.RelationExpr, types_of_get: Callable[[str], Types | None]) -> list[ScalarType | None] | None:
    """Column types of a relation expression; ``types_of_get(id)`` answers for ``Get`` leaves."""
    if isinstance(expr, ir.Get):
        found = types_of_get(expr.id)
        return None if found is None else list(found)
    if isinstance(expr, ir.Constant):
        return [None] * expr.arity
    if isinstance(expr, ir.Map):
        base = relation_types(expr.input, types_of_get)
        if base is None:
            return None
        for scalar in expr.scalars:
            base.append(scalar_type(scalar, base))
        return base
    if isinstance(expr, ir.Project):
        base = relation_types(expr.input, types_of_get)
        return None if base is None else [base[i] for i in expr.outputs]
    if isinstance(expr, ir.Join):
        out: list[ScalarType | None] = []
        for child in expr.inputs:
            child_types = relation_types(child, types_of_get)
            if child_types is None:
                return None
            out.extend(child_types)
        return out
    if isinstance(expr, ir.Reduce):
        base = relation_types(expr.input, types_of_get)
        keys = [scalar_type(k, base) for k in expr.group_key]
        return keys + [aggregate_type(a, base) for a in expr.aggregates]
    if isinstance(expr, ir.Window):
        base = relation_types(expr.input, types_of_get)
        if base is None:
            return None
        return base + [window_function_type(f, base) for f in expr.functions]
    if isinstance(expr, ir.FlatMap):
        base = relation_types(expr.input, types_of_get)
        if base is None:
            return None
        return base + list(expr.types)
    if isinstance(expr, ir.Union_):
        return relation_types(expr.inputs[0], types_of_get)
    if isinstance(expr, ir.LetRec):
        local = {b.id: list(b.types) for b in expr.bindings}
        return relation_types(expr.body, lambda item_id: local[item_id] if item_id in local else types_of_get(item_id))
    return relation_types(expr.input, types_of_get)  # type: ignore[union-attr]


def columns_of(expr: ir.ScalarExpr) -> set[int]:
    """The input columns ``expr`` reads."""
    if isinstance(expr, ir.ColumnRef):
        return {expr.index}
    if isinstance(expr, ir.Literal):
        return set()
    if isinstance(expr, ir.CallUnary):
        return columns_of(expr.expr)
    if isinstance(expr, ir.CallBinary):
        return columns_of(expr.left) | columns_of(expr.right)
    if isinstance(expr, ir.CallVariadic):
        out: set[int] = set()
        for e in expr.exprs:
            out |= columns_of(e)
        return out
    if isinstance(expr, ir.If):
        return columns_of(expr.cond) | columns_of(expr.then) | columns_of(expr.els)
    raise TypeError(f"not a scalar expression: {expr!r}")


def remap_columns(expr: ir.ScalarExpr, mapping: dict[int, int]) -> ir.ScalarExpr:
    """``expr`` with every column reference ``c`` replaced by ``mapping[c]``."""
    if isinstance(expr, ir.ColumnRef):
        return ir.ColumnRef(mapping[expr.index])
    if isinstance(expr, ir.Literal):
        return expr
    if isinstance(expr, ir.CallUnary):
        return ir.CallUnary(expr.func, remap_columns(expr.expr, mapping))
    if isinstance(expr, ir.CallBinary):
        return ir.CallBinary(expr.func, remap_columns(expr.left, mapping), remap_columns(expr.right, mapping))
    if isinstance(expr, ir.CallVariadic):
        return ir.CallVariadic(expr.func, tuple(remap_columns(e, mapping) for e in expr.exprs))
    if isinstance(expr, ir.If):
        return ir.If(remap_columns(expr.cond, mapping), remap_columns(expr.then, mapping),
                     remap_columns(expr.els, mapping))
    raise TypeError(f"not a scalar expression: {expr!r}")


def shift_columns(expr: ir.ScalarExpr, delta: int) -> ir.ScalarExpr:
    """``expr`` with every column reference moved by ``delta``."""
    if isinstance(expr, ir.ColumnRef):
        return ir.ColumnRef(expr.index + delta)
    if isinstance(expr, ir.Literal):
        return expr
    if isinstance(expr, ir.CallUnary):
        return ir.CallUnary(expr.func, shift_columns(expr.expr, delta))
    if isinstance(expr, ir.CallBinary):
        return ir.CallBinary(expr.func, shift_columns(expr.left, delta), shift_columns(expr.right, delta))
    if isinstance(expr, ir.CallVariadic):
        return ir.CallVariadic(expr.func, tuple(shift_columns(e, delta) for e in expr.exprs))
    if isinstance(expr, ir.If):
        return ir.If(shift_columns(expr.cond, delta), shift_columns(expr.then, delta), shift_columns(expr.els, delta))
    raise TypeError(f"not a scalar expression: {expr!r}")
