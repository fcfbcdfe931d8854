"""A temporal filter's bounds over an Arrow table: which rows of a snapshot's columns are ever in the result, and when.

:func:`compile_arrow_bounds` is ``expr.temporal_filter.compile_bounds`` (the row evaluator: ``row -> (lower,
upper)``) over a whole table at the hydration round's time ``t``.  It answers ``(rows, lower, upper)``: the indices
of the rows whose interval ``[max(lower, t), upper)`` is not empty (every bound non-NULL, ``upper > t`` and ``upper
> lower``; ``None`` when that is every row), and those rows' bounds as NumPy ``int64`` arrays (``None`` for a side
without bounds).  The rows it leaves out are the ones the row path drops without output.  It answers ``None`` when a
value needs the row evaluator: an error there (an overflow, a negative ``mz_timestamp``) or a value past ``int64``.

Each bound is kept as a *base* array and the constants the row evaluator adds to it, so the common bound
``mz_now() <= col + c`` (a column plus a literal, cast to ``mz_timestamp``) costs one pass for the minimum and
maximum of each block of ``BLOCK`` rows (a long column's blocks in two halves at once, the second by a helper
thread; from which the row evaluator's range checks follow exactly: the sum is
monotone), and the comparison ``col > t - c - offset`` runs only over the blocks whose extremes straddle the
threshold — a block wholly below it has none of its rows, one wholly above all (zone maps, computed on the fly); only
the rows that pass get their bound materialized.  A sliding window's snapshot, where
most rows have expired, thus never builds an array of every row's bound.  Other integer bounds
(``expr.arrow_eval.compile_arrow_scalar``, checked arithmetic) are evaluated whole, then treated the same way with a
zero constant.  A column is read as stored (storage narrows integer columns to the smallest width holding them): it
is widened to ``int64`` only where values are materialized.  A side with several bounds is combined (``max`` of the lowers, ``min`` of the uppers) in full.

The row evaluator evaluates the lower bounds, then the upper ones, in order, and stops at the first NULL: a bound's
range check therefore covers only the rows whose earlier bounds were all non-NULL (``valid`` so far).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steadystate.expr import ir
from steadystate.expr.arrow_eval import NotVectorized, compile_arrow_scalar
from steadystate.expr.infer import Types, scalar_type
from steadystate.expr.temporal_filter import TemporalBounds
from steadystate.repr.types import ScalarType

_INTS = (ScalarType.INT4, ScalarType.INT8)
_RANGES = {ScalarType.INT4: (-(2**31), 2**31 - 1), ScalarType.INT8: (-(2**63), 2**63 - 1)}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
BLOCK = 1 << 20  # rows per block whose extremes decide an upper bound for all its rows at once

#: a table's intervals at a time: ``(rows, lower, upper)`` (see the module docstring)
ArrowIntervals = tuple[Any, Any, Any]


@dataclass(frozen=True)
class _Bound:
    """One bound: ``evaluate(table)`` gives the base values; the bound is ``base + constant`` — checked against
    ``checked`` (the row evaluator's arithmetic range, ``None`` when ``evaluate`` checked it), then against
    ``mz_timestamp``'s range when ``cast`` — plus ``offset`` (1 for an exclusive side)."""

    evaluate: Callable[[pa.Table], Any]
    constant: int
    checked: tuple[int, int] | None
    cast: bool
    offset: int


def _affine(inner: ir.ScalarExpr, types: Types) -> tuple[int, int, tuple[int, int]] | None:
    """``col + lit``, ``lit + col`` or ``col - lit`` over integers as (column index, constant, the row evaluator's range
    for the sum: its operand type's, the left one's); ``None`` for anything else."""
    if not isinstance(inner, ir.CallBinary) or inner.func not in ("add", "sub"):
        return None
    left, right = inner.left, inner.right
    if scalar_type(left, types) not in _INTS or scalar_type(right, types) not in _INTS:
        return None
    operand = _RANGES[scalar_type(left, types)]  # type: ignore[index]
    if isinstance(left, ir.ColumnRef) and isinstance(right, ir.Literal) and type(right.value) is int:
        return left.index, (right.value if inner.func == "add" else -right.value), operand
    if inner.func == "add" and isinstance(right, ir.ColumnRef) and isinstance(left, ir.Literal) \
            and type(left.value) is int:
        return right.index, left.value, operand
    return None


def _compile_bound(expr: ir.ScalarExpr, offset: int, types: Types) -> _Bound | None:
    cast = isinstance(expr, ir.CallUnary) and expr.func == "cast_mz_timestamp"
    inner = expr.expr if cast else expr  # type: ignore[union-attr]
    if scalar_type(inner, types) not in _INTS:
        return None
    affine = _affine(inner, types)
    if affine is not None:  # the column as stored (narrow integers are not widened: NumPy compares them as they are)
        index, constant, checked = affine
        return _Bound(lambda table: table.column(index), constant, checked, cast, offset)
    evaluate = compile_arrow_scalar(inner, types)
    return _Bound(evaluate, 0, None, cast, offset) if evaluate is not None else None


def _above(numbers: Any, threshold: int) -> Any:
    """``numbers > threshold`` for any Python int ``threshold`` (NumPy refuses one outside the array's type)."""
    info = np.iinfo(numbers.dtype)
    if threshold < info.min:
        return np.ones(len(numbers), dtype=bool)
    if threshold >= info.max:
        return np.zeros(len(numbers), dtype=bool)
    return numbers > threshold


#: From this many blocks on, the second half of a column's blocks is scanned by a helper thread meanwhile.
PARALLEL_BLOCKS = 4
_helper: ThreadPoolExecutor | None = None


def _block_extremes(values: pa.Array, block: int) -> tuple[list[int], list[int]]:
    """The least and greatest value of each block of ``block`` rows of ``values`` (no NULLs), one pass over the
    column: the whole column's extremes (the range checks) and the blocks' (which rows an upper bound keeps).  A
    long column's blocks are scanned in two halves at once, the second by a helper thread (``pc.min_max`` releases
    the GIL; the pass is bound by memory bandwidth, which one core does not exhaust)."""
    global _helper

    def scan(starts: list[int]) -> list[tuple[int, int]]:
        found = []
        for start in starts:
            extremes = pc.min_max(values.slice(start, block))
            found.append((extremes["min"].as_py(), extremes["max"].as_py()))
        return found

    starts = list(range(0, len(values), block))
    if len(starts) < PARALLEL_BLOCKS:
        both = scan(starts)
    else:
        if _helper is None:
            _helper = ThreadPoolExecutor(1, thread_name_prefix="temporal-scan")
        half = len(starts) // 2
        second = _helper.submit(scan, starts[half:])
        both = scan(starts[:half]) + second.result()
    return [least for least, _ in both], [most for _, most in both]


def _rows_above(numbers: Any, threshold: int, extremes: tuple[list[int], list[int]], block: int) -> Any:
    """The indices of ``numbers > threshold`` (``None``: every row), comparing only the blocks whose extremes
    straddle ``threshold``: a block entirely at or below it has none of its rows, one entirely above has all."""
    parts = []
    whole = True
    for index, (least, most) in enumerate(zip(*extremes)):
        start = index * block
        if most <= threshold:
            whole = False
        elif least > threshold:
            parts.append(np.arange(start, min(start + block, len(numbers)), dtype=np.int64))
        else:
            whole = False
            parts.append(np.flatnonzero(_above(numbers[start:start + block], threshold)) + start)
    if whole:
        return None
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _shifted(numbers: Any, *constants: int) -> Any:
    """``numbers`` as ``int64`` plus ``sum(constants)``, added one by one and each in steps within ``int64`` (``col -
    lit`` with ``lit = -2**63`` adds 2**63); the results at the rows that count were range-checked, and the steps of
    one constant go one way, so no value at those rows passes ``int64`` on the way."""
    numbers = numbers.astype(np.int64, copy=False)
    for constant in constants:
        while constant:
            step = min(max(constant, _INT64_MIN), _INT64_MAX)
            numbers = numbers + step
            constant -= step
    return numbers


def compile_arrow_bounds(bounds: TemporalBounds, types: Types | None, block: int = BLOCK,
                         ) -> Callable[[Any, int], ArrowIntervals | None] | None:
    """``(table, time) -> (rows, lower, upper)`` or ``None`` (see the module docstring); the function is ``None``
    when a bound is not an integer expression ``expr.arrow_eval`` evaluates.  ``block``: the rows per block whose
    extremes are taken together (see the module docstring)."""
    if types is None:
        return None
    sides: list[list[_Bound]] = [[], []]
    for side, items in zip(sides, (bounds.lower, bounds.upper)):
        for expr, offset in items:
            compiled = _compile_bound(expr, offset, types)
            if compiled is None:
                return None
            side.append(compiled)

    def intervals(table: Any, time: int) -> ArrowIntervals | None:
        valid = None
        # per side: (numbers, constants to add) — one bound lazily, several combined
        found: list[tuple[Any, tuple[int, ...], Any] | None] = []
        for side, combine in zip(sides, (np.maximum, np.minimum)):
            evaluated = []
            for bound in side:
                try:
                    values = bound.evaluate(table)
                except (NotVectorized, pa.ArrowException):
                    return None
                if isinstance(values, pa.ChunkedArray):
                    values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
                if not pa.types.is_integer(values.type):
                    return None
                if values.null_count:
                    present = values.is_valid().to_numpy(zero_copy_only=False)
                    valid = present if valid is None else valid & present
                    values = pc.fill_null(values, 0)
                numbers = values.to_numpy(zero_copy_only=False)
                extremes = None
                if valid is None:  # one pass per block for both extremes (NumPy's min and max would be two)
                    extremes = _block_extremes(values, block)
                    extent = (min(extremes[0]), max(extremes[1])) if len(numbers) else None
                else:
                    checked = numbers[valid]
                    extent = (int(checked.min()), int(checked.max())) if len(checked) else None
                if extent is not None:
                    least, most = extent[0] + bound.constant, extent[1] + bound.constant
                    if bound.checked is not None and (least < bound.checked[0] or most > bound.checked[1]):
                        return None  # the row evaluator's integer overflow
                    if (bound.cast and least < 0) or most + bound.offset > _INT64_MAX or least < _INT64_MIN:
                        return None  # the row evaluator's error (mz_timestamp out of range), or past int64
                evaluated.append((numbers, (bound.constant, bound.offset), extremes))
            if len(evaluated) > 1:
                combined = _shifted(evaluated[0][0], *evaluated[0][1])
                for numbers, constants, _ in evaluated[1:]:
                    combined = combine(combined, _shifted(numbers, *constants))
                found.append((combined, (), None))
            else:
                found.append(evaluated[0] if evaluated else None)
        lower, upper = found
        if upper is not None and valid is None and upper[2] is not None:  # the blocks' extremes decide most rows
            rows = _rows_above(upper[0], time - sum(upper[1]), upper[2], block)
        else:
            keep = valid
            if upper is not None:
                above = _above(upper[0], time - sum(upper[1]))
                keep = above if keep is None else keep & above
            rows = None if keep is None or keep.all() else np.flatnonzero(keep)
        low = None if lower is None else _shifted(lower[0] if rows is None else lower[0][rows], *lower[1])
        high = None if upper is None else _shifted(upper[0] if rows is None else upper[0][rows], *upper[1])
        if low is not None and high is not None:
            nonempty = high > low
            if not nonempty.all():
                rows = np.flatnonzero(nonempty) if rows is None else rows[nonempty]
                low, high = low[nonempty], high[nonempty]
        return rows, low, high

    return intervals
