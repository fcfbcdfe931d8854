"""A map/filter/project evaluated over Arrow columns, for a snapshot that arrives as columns (hydration).

A table loaded with ``COPY`` is stored as Arrow batches (``repr.columnar``).  When such a snapshot's first reader is
a map/filter/project, :func:`compile_arrow_mfp` evaluates that MFP over the columns with ``pyarrow.compute`` —
only the rows that pass, only the columns that remain, and consolidated (``group_by`` and count) — so the rows
handed to the engine as Python objects are the MFP's output, not the table.  A filter keeping 10% of the rows, or a
projection onto a few distinct values, then costs Arrow's time, not one Python tuple per stored row.

It must answer exactly as the row evaluator (``expr.eval.compile_mfp``) does, so it is deliberately narrow:

* column types ``int4``/``int8``/``text``/``bool``; literals of those types.  Columns of other types (numerics,
  timestamps, floats … of an imported index's snapshot) may be in the input when no expression reads them: they are
  passed through as they are (only filtered, no value changed), so a filter or projection of a wide table
  evaluates; what they become is the caller's concern (``render.columnar.exact_output``: rows, unless dropped);
* comparisons (``eq``/``neq``/``lt``/``lte``/``gt``/``gte``), ``and``/``or`` (SQL's three-valued logic: Arrow's
  Kleene kernels), ``not``, ``is_null``/``is_not_null``;
* integer ``add``/``sub``/``mul`` (checked kernels), ``div``/``mod`` truncating toward zero as PostgreSQL does,
  each result checked against the range of the operand type the row evaluator checks (its left operand's type).

An expression outside that set makes :func:`compile_arrow_mfp` return ``None`` (the rows take the row path), and
anything that would be an error in the row path — an overflow, a division by zero — makes the evaluation raise
:class:`NotVectorized`, so the caller reads the snapshot as rows and the row evaluator reports the error as data.
Text compares as the row path compares Python strings: by code point, which is UTF-8's byte order.

:func:`compile_arrow_scalar` evaluates one scalar expression the same way (a temporal filter's bounds,
``expr.temporal_filter.compile_arrow_bounds``).  :func:`compile_arrow_flat_map` does the same for a FlatMap
calling integer ``generate_series`` (a table function per row, ``FROM t, generate_series(1, t.n)``): each row's
series length from its bounds (NumPy), the input rows repeated (``take``) and the series values appended, with
``WITH ORDINALITY`` too; a zero step raises :class:`NotVectorized` (the row path reports it), a NULL argument gives
no rows, as the row path does.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steadystate.expr import ir
from steadystate.expr.infer import Types, columns_of, scalar_type
from steadystate.repr.types import ScalarType

Row = tuple[Any, ...]
ArrowFn = Callable[[list[pa.ChunkedArray]], Any]  # the columns so far -> an array (or a scalar)

_INTS = (ScalarType.INT4, ScalarType.INT8)
_SUPPORTED = frozenset({ScalarType.INT4, ScalarType.INT8, ScalarType.TEXT, ScalarType.BOOL})
_RANGES = {ScalarType.INT4: (-(2**31), 2**31 - 1), ScalarType.INT8: (-(2**63), 2**63 - 1)}
_COMPARISONS = {"eq": "equal", "neq": "not_equal", "lt": "less", "lte": "less_equal", "gt": "greater",
                "gte": "greater_equal"}
_CHECKED = {"add": "add_checked", "sub": "subtract_checked", "mul": "multiply_checked"}


BLOCK = 1 << 20  # rows evaluated at a time: larger tables are sliced (``compile_arrow_mfp``)


class NotVectorized(Exception):
    """The columns hold something the row evaluator would turn into an error: read the snapshot as rows."""


class _Untranslatable(Exception):
    pass


def compile_arrow_mfp(mfp: ir.MapFilterProject, input_types: Types | None) -> Callable[[pa.Table], pa.Table] | None:
    """``f(table) -> table`` evaluating ``mfp`` over a table whose columns are the input's, or ``None`` when some
    expression (or an input type) is outside what this module evaluates exactly."""
    if input_types is None:
        return None
    # columns of other types are passed through unread (``_compile`` refuses a reference to one)
    types: list[ScalarType | None] = list(input_types)
    try:
        maps = []
        for scalar in mfp.map:
            maps.append(_compile(scalar, types))
            typ = scalar_type(scalar, types)
            if typ not in _SUPPORTED:
                return None
            types.append(typ)
        predicates = [_compile(p, types) for p in mfp.predicates]
    except _Untranslatable:
        return None
    projection = mfp.projection
    read = sorted({c for e in (*mfp.map, *mfp.predicates) for c in columns_of(e) if c < len(input_types)})

    def block(table: pa.Table) -> pa.Table:
        # integer columns stay as narrow as storage keeps them (readers of a snapshot's columns take narrow
        # integers): comparisons take mixed widths, checked arithmetic widens its operands (``_wide``), a division
        # by a constant works in the operand's width, so a filter copies narrow columns, not widened ones
        columns: list[Any] = list(table.columns)
        if any(not _arrow_supported(columns[c].type) for c in read):
            raise NotVectorized("a column read has an Arrow type its SQL type does not have")
        length = table.num_rows
        try:
            for evaluate in maps:
                columns.append(_as_array(evaluate(columns), table.num_rows))
            if predicates:
                keep = _as_array(predicates[0](columns), table.num_rows)
                for predicate in predicates[1:]:
                    keep = pc.and_kleene(keep, _as_array(predicate(columns), table.num_rows))
                keep = pc.fill_null(keep, False)
                columns = [pc.filter(column, keep) for column in columns]
                length = pc.sum(keep).as_py() or 0
        except (pa.ArrowException, OverflowError, ZeroDivisionError) as exc:
            raise NotVectorized(str(exc)) from exc
        chosen = range(len(columns)) if projection is None else projection
        return pa.table({f"c{i}": columns[j] for i, j in enumerate(chosen)}) if chosen else \
            pa.table({"_rows": pa.nulls(length)})

    def apply(table: pa.Table) -> pa.Table:
        if table.num_rows <= BLOCK:
            return block(table)
        # a large table block by block: the widened operands and the intermediate results of one block are freed
        # before the next is evaluated, so their memory is reused (fresh pages cost more than the arithmetic)
        return pa.concat_tables([block(table.slice(start, BLOCK)) for start in range(0, table.num_rows, BLOCK)])

    return apply


def compile_arrow_scalar(expr: ir.ScalarExpr, input_types: Types | None) -> Callable[[pa.Table], Any] | None:
    """``f(table) -> array`` of ``expr``'s values over a table whose columns are the input's (one per row, NULLs
    included), or ``None`` when ``expr`` (or a column it reads) is outside what this module evaluates exactly;
    ``f`` raises :class:`NotVectorized` where the row evaluator would report an error."""
    if input_types is None:
        return None
    try:
        evaluate = _compile(expr, list(input_types))
    except _Untranslatable:
        return None
    read = columns_of(expr)

    def apply(table: pa.Table) -> Any:
        columns = [_normalized(column) if i in read else column for i, column in enumerate(table.columns)]
        try:
            return _as_array(evaluate(columns), table.num_rows)
        except (pa.ArrowException, OverflowError, ZeroDivisionError) as exc:
            raise NotVectorized(str(exc)) from exc

    return apply


def compile_arrow_flat_map(expr: ir.FlatMap, input_types: Types | None) -> Callable[[pa.Table], pa.Table] | None:
    """``f(table) -> table`` evaluating ``expr`` over a table whose columns are the input's: one ``generate_series``
    over integers (no ``outer``); ``None`` for anything else."""
    if input_types is None or any(t not in _SUPPORTED for t in input_types) or len(expr.calls) != 1 or expr.outer:
        return None
    (call,) = expr.calls
    types = list(input_types)
    if call.func != "generate_series" or len(call.exprs) not in (2, 3) or call.types[0] not in _INTS \
            or any(scalar_type(e, types) not in _INTS for e in call.exprs):
        return None
    try:
        arguments = [_compile(e, types) for e in call.exprs]
    except _Untranslatable:
        return None
    arity, ordinality = len(types), expr.ordinality

    def apply(table: pa.Table) -> pa.Table:
        columns = [_normalized(column) for column in table.columns]
        length = table.num_rows
        try:
            values = [argument(columns) for argument in arguments]
        except (pa.ArrowException, OverflowError, ZeroDivisionError) as exc:
            raise NotVectorized(str(exc)) from exc
        counts, starts, steps = _series_lengths(values, length)
        total = int(counts.sum())
        rows = np.repeat(np.arange(length, dtype=np.int64), counts)
        position = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        out = {f"c{i}": column.take(rows) for i, column in enumerate(columns)}
        out[f"c{arity}"] = pa.array(starts[rows] + position * steps[rows], pa.int64())
        if ordinality:
            out[f"c{arity + 1}"] = pa.array(position + 1, pa.int64())
        return pa.table(out)

    return apply


def _series_lengths(values: list[Any], length: int) -> tuple[Any, Any, Any]:
    """Per row: how many values ``generate_series(start, stop[, step])`` gives, its start and its step (NumPy
    int64); NULL arguments give none."""
    valid = np.ones(length, dtype=bool)
    arrays = []
    for value in values:
        if isinstance(value, pa.Scalar):  # a literal argument
            constant = value.as_py()
            valid &= constant is not None
            arrays.append(np.full(length, 0 if constant is None else constant, dtype=np.int64))
            continue
        if pa.types.is_null(value.type):  # a column of NULLs (storage's type for it)
            value = value.cast(pa.int64())
        valid &= np.asarray(pc.is_valid(value)).astype(bool, copy=False)
        arrays.append(np.asarray(pc.fill_null(value, 0)).astype(np.int64, copy=False))
    start, stop = arrays[0], arrays[1]
    step = arrays[2] if len(arrays) == 3 else np.ones(length, dtype=np.int64)
    if np.any(valid & (step == 0)):
        raise NotVectorized("step size cannot equal zero")
    if length and max(int(np.abs(a).max()) for a in (start, stop, step)) >= 2**62:
        raise NotVectorized("bounds too large for int64 arithmetic")
    safe = np.where(step == 0, 1, step)
    forward = np.where(stop >= start, (stop - start) // np.maximum(safe, 1) + 1, 0)
    backward = np.where(start >= stop, (start - stop) // np.maximum(-safe, 1) + 1, 0)
    counts = np.where(valid, np.where(step > 0, forward, backward), 0)
    return counts.astype(np.int64), start, step


def consolidated_rows(table: pa.Table, arity: int) -> dict[Row, int]:
    """``{row: count}`` of a table (``arity`` 0: the table only counts rows)."""
    if arity == 0:
        return {(): table.num_rows} if table.num_rows else {}
    names = [f"c{i}" for i in range(arity)]
    grouped = table.group_by(names, use_threads=False).aggregate([([], "count_all")])
    counts = grouped.column("count_all").to_pylist()
    rows = zip(*(grouped.column(name).to_pylist() for name in names))
    return dict(zip(rows, counts))


def _arrow_supported(typ: pa.DataType) -> bool:
    """Whether an input column's Arrow type is one of the supported SQL types' (or NULLs only)."""
    return bool(pa.types.is_integer(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ)
                or pa.types.is_boolean(typ) or pa.types.is_null(typ))


def _wide(value: Any) -> Any:
    """An integer operand of a checked operation widened to int64 (a narrow stored column, or a narrow result of
    a division by a constant), so the operation overflows where the row evaluator's would, not at the width."""
    if isinstance(value, (pa.Array, pa.ChunkedArray)) and pa.types.is_integer(value.type) and value.type != pa.int64():
        return value.cast(pa.int64())
    return value


def _normalized(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Integer columns widened to int64 (storage keeps the narrowest width that holds them)."""
    if pa.types.is_integer(column.type) and column.type != pa.int64():
        return column.cast(pa.int64())
    return column


def _as_array(value: Any, length: int) -> Any:
    if isinstance(value, pa.Scalar):
        return pa.repeat(value, length)
    return value


def _compile(expr: ir.ScalarExpr, types: Sequence[ScalarType | None]) -> ArrowFn:
    typ = scalar_type(expr, list(types))
    if typ not in _SUPPORTED:
        raise _Untranslatable
    if isinstance(expr, ir.ColumnRef):
        index = expr.index
        return lambda columns: columns[index]
    if isinstance(expr, ir.Literal):
        if expr.type not in _SUPPORTED:
            raise _Untranslatable
        scalar = pa.scalar(expr.value, type=_ARROW_TYPES[expr.type])
        return lambda columns: scalar
    if isinstance(expr, ir.CallUnary):
        return _compile_unary(expr, types)
    if isinstance(expr, ir.CallBinary):
        return _compile_binary(expr, types)
    if isinstance(expr, ir.CallVariadic) and expr.func in ("and", "or") and expr.exprs:
        parts = [_compile(e, types) for e in expr.exprs]
        kernel = pc.and_kleene if expr.func == "and" else pc.or_kleene

        def combined(columns: list[pa.ChunkedArray]) -> Any:
            result = parts[0](columns)
            for part in parts[1:]:
                result = kernel(result, part(columns))
            return result
        return combined
    raise _Untranslatable


_ARROW_TYPES = {ScalarType.INT4: pa.int64(), ScalarType.INT8: pa.int64(), ScalarType.TEXT: pa.string(),
                ScalarType.BOOL: pa.bool_()}


def _compile_unary(expr: ir.CallUnary, types: Sequence[ScalarType | None]) -> ArrowFn:
    inner = _compile(expr.expr, types)
    if expr.func == "not":
        return lambda columns: pc.invert(inner(columns))
    if expr.func == "is_null":
        return lambda columns: pc.is_null(inner(columns))
    if expr.func == "is_not_null":
        return lambda columns: pc.is_valid(inner(columns))
    raise _Untranslatable


def _compile_binary(expr: ir.CallBinary, types: Sequence[ScalarType | None]) -> ArrowFn:
    func = expr.func
    left, right = _compile(expr.left, types), _compile(expr.right, types)
    left_type, right_type = scalar_type(expr.left, list(types)), scalar_type(expr.right, list(types))
    if func in ("and", "or"):
        kernel = pc.and_kleene if func == "and" else pc.or_kleene
        return lambda columns: kernel(left(columns), right(columns))
    if func in _COMPARISONS:
        if (left_type in _INTS) != (right_type in _INTS) or (left_type not in _INTS and left_type != right_type):
            raise _Untranslatable
        kernel = getattr(pc, _COMPARISONS[func])
        return lambda columns: kernel(left(columns), right(columns))
    if func in ("add", "sub", "mul", "div", "mod"):
        if left_type not in _INTS or right_type not in _INTS:
            raise _Untranslatable
        low, high = _RANGES[left_type]  # type: ignore[index]  # the row path checks the left operand's type
        full_int64 = (low, high) == _RANGES[ScalarType.INT8]
        divisor = expr.right.value if isinstance(expr.right, ir.Literal) and func in ("div", "mod") else None
        if isinstance(divisor, int) and divisor not in (0, -1):
            # by a constant other than 0 and -1: no error is possible (|a / c| <= |a|, |a % c| < |c|)
            def by_constant(columns: list[pa.ChunkedArray]) -> Any:
                a = left(columns)
                return _truncating(func, a, right(columns)) if isinstance(a, pa.Scalar) else \
                    _by_constant(func, a, divisor)
            return by_constant

        def arithmetic(columns: list[pa.ChunkedArray]) -> Any:
            a, b = _wide(left(columns)), _wide(right(columns))
            if func in _CHECKED:
                result = getattr(pc, _CHECKED[func])(a, b)
                if full_int64 and result.type == pa.int64():  # the checked kernel raised on any overflow
                    return result
            else:
                result = _truncating(func, a, b)
            if not _within(result, low, high):
                raise NotVectorized("out of range")
            return result
        return arithmetic
    raise _Untranslatable


def _truncating(func: str, a: Any, b: Any) -> Any:
    """PostgreSQL's integer ``/`` and ``%``: the quotient truncated toward zero, the remainder with the dividend's
    sign; a zero divisor raises (the row path's division_by_zero)."""
    divisor_zero = pc.equal(b, 0)
    if divisor_zero.as_py() if isinstance(divisor_zero, pa.Scalar) else pc.any(divisor_zero).as_py():
        raise NotVectorized("division by zero")
    quotient = pc.divide_checked(a, b)  # integer division in Arrow truncates toward zero
    if func == "div":
        return quotient
    return pc.subtract_checked(a, pc.multiply_checked(quotient, b))


def _by_constant(func: str, column: Any, divisor: int) -> Any:
    """``column / divisor`` or ``column % divisor`` truncating toward zero (``divisor`` not 0 or -1) in the column's
    own integer width (the result is no larger than the operand, or than the divisor): NumPy divides by a scalar
    with a multiplication per value and floors; a quotient of operands of opposite signs with a remainder is then
    one more, and the remainder one ``divisor`` less.  Products that wrap around in a narrow width still give the
    remainder exactly (it fits)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()  # one block: usually one chunk already
    values = np.asarray(pc.fill_null(column, 0) if column.null_count else column)
    limits = np.iinfo(values.dtype)
    if not limits.min <= divisor <= limits.max:
        values = values.astype(np.int64)
    d = values.dtype.type(divisor)
    quotient = np.floor_divide(values, d)
    negative = divisor < 0 or (len(values) > 0 and values.min() < 0)
    if func == "mod" or negative:
        remainder = quotient * d
        np.subtract(values, remainder, out=remainder)
    if negative:
        fix = (remainder != 0) & ((values < 0) != (divisor < 0))
        if func == "div":
            np.add(quotient, fix, out=quotient, casting="unsafe")
        else:
            np.subtract(remainder, np.where(fix, d, values.dtype.type(0)), out=remainder)
    result = quotient if func == "div" else remainder
    return pa.array(result, mask=np.asarray(pc.is_null(column)) if column.null_count else None)


def _within(result: Any, low: int, high: int) -> bool:
    if isinstance(result, pa.Scalar):
        value = result.as_py()
        return value is None or low <= value <= high
    if len(result) == 0 or result.null_count == len(result):
        return True
    if result.null_count == 0 and pa.types.is_integer(result.type):  # NumPy's min and max: faster than min_max
        values = result.to_numpy(zero_copy_only=False) if isinstance(result, pa.ChunkedArray) else \
            result.to_numpy()
        return low <= int(values.min()) and int(values.max()) <= high
    extremes = pc.min_max(result)
    return low <= extremes["min"].as_py() and extremes["max"].as_py() <= high
