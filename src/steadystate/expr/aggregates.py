"""Aggregate functions as incremental states that accept insertions and retractions.

Each aggregate of the vocabulary (``count``, ``count_star``, ``sum``, ``min``, ``max``, ``avg``, ``bool_and``,
``bool_or``, ``var_samp``, ``var_pop``, ``stddev_samp``, ``stddev_pop``, ``string_agg``; the bitwise, regression and
ordered-set ones are in ``expr.stat_aggregates``) is a small class with ``add(value, diff)`` (``diff`` may be negative: a retraction) and
``result()``, and counts and sums also ``add_many(values, diffs)`` to fold a large batch in bulk (the engine's
``dataflow.reduce.add_many`` uses it).  ``min``/``max`` keep
the multiset of values so deletions are exact; the others keep counters.
``distinct=True`` wraps a state in :class:`DistinctState`, which forwards a value only when its multiplicity
crosses zero.  :func:`aggregate_factory` returns the zero-argument constructor for one ``AggregateExpr``;
``AGGREGATE_STATES`` is the table from function name to state class.

Result types: ``count`` → int, ``sum`` of int4 → int (int8), of int8 → Decimal (numeric), of float8 → float,
of numeric → Decimal; ``avg`` of integers/numeric → Decimal, of float8 → float; empty input (or all NULL) gives
NULL except for the counts, which give 0.
"""

from __future__ import annotations

import decimal
import fractions
import functools
import math
import operator
from typing import Any, Callable

from steadystate import errors
from steadystate.expr import ir
from steadystate.expr.jsonb_functions import JsonbAggState, JsonbObjectAggState
from steadystate.expr.arrays import ArrayAggState
from steadystate.expr.infer import Types, scalar_type
from steadystate.expr.stat_aggregates import (ORDERED_SET_FUNCTIONS, add_sorted, BitOp, BitState, OrderedSet, OrderedSetState,
                                              Regression, RegressionState)
from steadystate.repr import numeric
from steadystate.repr.interval import Interval, divide
from steadystate.repr.types import ScalarType


class CountState:
    """count(x): non-NULL values; count_star counts rows (the caller passes a non-NULL marker)."""

    __slots__ = ("count",)
    COLUMN_RESULT = "count"  # over a group's sorted distinct values: how many (``dataflow.reduce_columns``)

    def __init__(self) -> None:
        self.count = 0

    def add(self, value: Any, diff: int) -> None:
        if value is not None:
            self.count += diff

    def add_many(self, values: list[Any], diffs: list[int]) -> None:
        if None in values:
            self.count += sum(d for v, d in zip(values, diffs) if v is not None)
        else:
            self.count += sum(diffs)

    def absorb(self, values: list[Any], counts: list[int], ordered: bool) -> None:
        """Add non-NULL ``values`` with multiplicities ``counts`` (a snapshot's group, in bulk)."""
        self.count += sum(counts)

    def result(self) -> int:
        return self.count


class SumState:
    """A sum (and the count of its values).  A sum of Decimals also counts its live values' display scales: the
    running total keeps the exponent of what it subtracted (``3.00 - 1.50`` is ``1.50``), PostgreSQL shows the sum
    of the values there are at their largest scale (``1.5``)."""

    __slots__ = ("total", "count", "as_numeric", "scales")

    def __init__(self, as_numeric: bool = False) -> None:
        self.total: Any = 0
        self.count = 0
        self.as_numeric = as_numeric
        self.scales: dict[int, int] | None = None  # display scale -> live values (Decimal sums)

    def add(self, value: Any, diff: int) -> None:
        if value is None:
            return
        self.total += value * diff if diff != 1 else value
        self.count += diff
        if type(value) is decimal.Decimal and value.is_finite():
            scales = self.scales if self.scales is not None else {}
            scale = numeric.scale_of(value)
            scales[scale] = scales.get(scale, 0) + diff
            self.scales = scales

    def _shown(self) -> Any:
        """The total, a Decimal one at its live values' largest display scale."""
        if self.scales is None or not isinstance(self.total, decimal.Decimal):
            return self.total
        return numeric.at_largest_scale(self.total, self.scales)

    def add_many(self, values: list[Any], diffs: list[int]) -> None:
        """Exact for integers (summed in bulk); other types are added one by one, in order, as ``add`` does."""
        if type(self.total) is int and all(type(v) is int for v in values):
            self.total += sum(map(operator.mul, values, diffs))
            self.count += sum(diffs)
            return
        for value, diff in zip(values, diffs):
            self.add(value, diff)

    def absorb(self, values: list[Any], counts: list[int], ordered: bool) -> None:
        """Add non-NULL ``values`` with multiplicities ``counts`` (a snapshot's group, in bulk)."""
        self.add_many(values, counts)

    def result(self) -> Any:
        if self.count == 0:
            return None
        if self.as_numeric and isinstance(self.total, int):
            return decimal.Decimal(self.total)
        return self._shown()


class AvgState(SumState):
    __slots__ = ()

    def result(self) -> Any:
        if self.count == 0:
            return None
        if isinstance(self.total, float):
            return self.total / self.count
        if isinstance(self.total, Interval):
            return divide(self.total, self.count)
        return numeric.mean(self._shown(), self.count)


class ExtremeState:
    """min/max over a multiset of values, kept sorted: ``values`` (ascending, distinct) with ``counts`` beside them.

    An insertion or deletion is a binary search and a list insert/delete (C memmove), never a rescan of the group,
    and the extreme is ``values[0]`` or ``values[-1]``.  NaN (float or numeric) is not orderable by ``<``: it is
    counted apart (``nans``) and ranks above every other value, as in PostgreSQL.  :meth:`absorb` takes a group's
    values in bulk (a snapshot grouped by Arrow: ``dataflow.reduce``), already sorted and distinct when the caller
    says so."""

    __slots__ = ("values", "counts", "nans", "nan", "is_max")

    def __init__(self, is_max: bool) -> None:
        self.values: list[Any] = []
        self.counts: list[int] = []
        self.nans = 0
        self.nan: Any = None  # a NaN seen (float or numeric), returned as the extreme
        self.is_max = is_max

    def add(self, value: Any, diff: int) -> None:
        if value is None:
            return
        if value != value:  # NaN
            self.nans += diff
            self.nan = value
            return
        add_sorted(self.values, self.counts, value, diff)

    def absorb(self, values: list[Any], counts: list[int], ordered: bool) -> None:
        """Add ``values`` (non-NULL) with multiplicities ``counts``; into an empty state, ``ordered`` values
        (ascending, distinct, no NaN) are taken as they are: the lists become the state's (callers pass new
        ones)."""
        if ordered and not self.values and not self.nans:
            self.values, self.counts = values, counts
            return
        for value, count in zip(values, counts):
            self.add(value, count)

    def result(self) -> Any:
        values = self.values
        if self.nans > 0 and (self.is_max or not values):
            return self.nan
        if not values:
            return None
        return values[-1] if self.is_max else values[0]


class MinState(ExtremeState):
    __slots__ = ()
    COLUMN_RESULT = "first"  # over a group's sorted distinct values: the first (``dataflow.reduce_columns``)

    def __init__(self) -> None:
        super().__init__(False)


class MaxState(ExtremeState):
    __slots__ = ()
    COLUMN_RESULT = "last"  # over a group's sorted distinct values: the last (``dataflow.reduce_columns``)

    def __init__(self) -> None:
        super().__init__(True)


class BoolState:
    """bool_and / bool_or: counts of true and false values."""

    __slots__ = ("trues", "falses", "is_and")

    def __init__(self, is_and: bool) -> None:
        self.trues = 0
        self.falses = 0
        self.is_and = is_and

    def add(self, value: Any, diff: int) -> None:
        if value is True:
            self.trues += diff
        elif value is False:
            self.falses += diff

    def absorb(self, values: list[Any], counts: list[int], ordered: bool) -> None:
        """Add non-NULL ``values`` with multiplicities ``counts`` (a snapshot's group, in bulk)."""
        for value, count in zip(values, counts):
            self.add(value, count)

    def result(self) -> bool | None:
        if self.trues == 0 and self.falses == 0:
            return None
        return self.falses == 0 if self.is_and else self.trues > 0


class VarianceState:
    """var_samp / var_pop / stddev_samp / stddev_pop: the count and the sums of x and x², kept as exact fractions
    (floats included), so retractions cancel exactly — a float running sum would keep the rounding of rows
    long deleted.  Float8 input gives float8 (NaN once a non-finite value is present, as PostgreSQL); integers
    and numeric give numeric."""

    __slots__ = ("n", "s1", "s2", "nonfinite", "scales", "sample", "root", "as_float")

    def __init__(self, sample: bool, root: bool, as_float: bool) -> None:
        self.n = 0
        self.s1 = fractions.Fraction(0)
        self.s2 = fractions.Fraction(0)
        self.nonfinite = 0
        self.scales: dict[int, int] = {}  # display scales of the numeric values, with multiplicity (PostgreSQL's
        # result scale follows the sum's)
        self.sample, self.root, self.as_float = sample, root, as_float

    def add(self, value: Any, diff: int) -> None:
        if value is None:
            return
        self.n += diff
        if isinstance(value, float) and not math.isfinite(value):
            self.nonfinite += diff
            return
        if not isinstance(value, int):  # numeric (a float here has the scale of its shortest decimal form)
            scale = numeric.scale_of(value if isinstance(value, decimal.Decimal) else decimal.Decimal(repr(value)))
            self.scales[scale] = self.scales.get(scale, 0) + diff
        x = fractions.Fraction(value)
        self.s1 += x * diff
        self.s2 += x * x * diff

    def result(self) -> Any:
        n = self.n
        if n == 0 or (self.sample and n == 1):
            return None
        if self.nonfinite:
            return math.nan
        variance = (n * self.s2 - self.s1 * self.s1) / (n * (n - 1 if self.sample else n))
        if self.as_float:
            return math.sqrt(variance) if self.root else float(variance)
        scale = max((s for s, count in self.scales.items() if count), default=0)
        return numeric.variance(n * self.s2 - self.s1 * self.s1, n, self.sample, scale, self.root)


class StringAggState:
    """string_agg(value, delimiter [ORDER BY ...]): the multiset of ``(value, delimiter, order keys)`` fed to it; the
    result sorts them (by the order keys, ties by value and delimiter, so every replica agrees) and joins the values,
    each but the first preceded by its own row's delimiter (none when that is NULL), as PostgreSQL does."""

    __slots__ = ("entries", "order")

    def __init__(self, order: tuple[tuple[bool, bool], ...]) -> None:
        self.entries: dict[tuple, int] = {}
        self.order = order  # (descending, nulls last) per order key

    def add(self, value: tuple, diff: int) -> None:
        if value[0] is None:
            return
        count = self.entries.get(value, 0) + diff
        if count:
            self.entries[value] = count
        else:
            del self.entries[value]

    def _compare(self, a: tuple, b: tuple) -> int:
        for (desc, nulls_last), x, y in zip(self.order, a[2], b[2]):
            if x == y:
                continue
            if x is None or y is None:
                return (1 if nulls_last else -1) * (1 if x is None else -1)
            return (1 if x > y else -1) * (-1 if desc else 1)
        x, y = (a[0], a[1] is None, a[1] or ""), (b[0], b[1] is None, b[1] or "")
        return (x > y) - (x < y)

    def result(self) -> str | None:
        if not self.entries:
            return None
        parts: list[str] = []
        for entry in sorted(self.entries, key=functools.cmp_to_key(self._compare)):
            value, delimiter = entry[0], entry[1]
            for _ in range(self.entries[entry]):
                if parts and delimiter is not None:
                    parts.append(delimiter)
                parts.append(value)
        return "".join(parts)


class DistinctState:
    """Feeds the inner state each distinct non-NULL value once."""

    __slots__ = ("inner", "counts")

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.counts: dict[Any, int] = {}

    def add(self, value: Any, diff: int) -> None:
        if value is None:
            return
        before = self.counts.get(value, 0)
        after = before + diff
        if after:
            self.counts[value] = after
        else:
            del self.counts[value]
        if before <= 0 < after:
            self.inner.add(value, 1)
        elif after <= 0 < before:
            self.inner.add(value, -1)

    def add_many(self, values: list[Any], diffs: list[int]) -> None:
        """:meth:`add` of many ``(value, diff)`` pairs in one loop (a reduce's large delta)."""
        counts = self.counts
        get = counts.get
        inner_add = self.inner.add
        for value, diff in zip(values, diffs):
            if value is None:
                continue
            before = get(value, 0)
            after = before + diff
            if after:
                counts[value] = after
            else:
                del counts[value]
            if before <= 0 < after:
                inner_add(value, 1)
            elif after <= 0 < before:
                inner_add(value, -1)

    def absorb(self, values: list[Any], counts: list[int], ordered: bool) -> None:
        """Add non-NULL ``values`` with multiplicities ``counts``: into an empty state, each distinct value with a
        positive count reaches the inner state once, in bulk."""
        absorb = getattr(self.inner, "absorb", None)
        if self.counts or absorb is None or min(counts, default=1) <= 0:
            for value, count in zip(values, counts):
                self.add(value, count)
            return
        self.counts = dict(zip(values, counts))
        if len(self.counts) != len(values):  # equal values given twice: fold them one by one instead
            self.counts = {}
            for value, count in zip(values, counts):
                self.add(value, count)
            return
        absorb(values, [1] * len(values), ordered)

    def result(self) -> Any:
        return self.inner.result()


AGGREGATE_STATES: dict[str, Callable[[ScalarType | None], Callable[[], Any]]] = {
    "count": lambda typ: CountState,
    "count_star": lambda typ: CountState,
    "sum": lambda typ: (lambda: SumState(as_numeric=typ is ScalarType.INT8)),
    "avg": lambda typ: AvgState,
    "min": lambda typ: MinState,
    "max": lambda typ: MaxState,
    "bool_and": lambda typ: (lambda: BoolState(True)),
    "bool_or": lambda typ: (lambda: BoolState(False)),
    **{op.value: (lambda op: lambda typ: (lambda: BitState(op)))(op) for op in BitOp},
    **{func.value: (lambda func: lambda typ: (lambda: RegressionState(func)))(func) for func in Regression},
    **{name: (lambda sample, root: lambda typ: (lambda: VarianceState(sample, root, typ is ScalarType.FLOAT8)))(
        name.endswith("samp"), name.startswith("stddev")) for name in ("var_samp", "var_pop", "stddev_samp", "stddev_pop")},
}


# the aggregates whose states ignore a NULL argument (``add(None, diff)`` changes nothing; string_agg's when the
# value, the first of what it is fed, is NULL): a reduce hydrating from columns feeds them only non-NULL values.
# array_agg, jsonb_agg and jsonb_object_agg keep NULLs and are not here.
SKIPS_NULLS = frozenset({"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "var_samp", "var_pop",
                         "stddev_samp", "stddev_pop", "string_agg", *BitOp})


def aggregate_factory(agg: ir.AggregateExpr, input_types: Types | None = None) -> Callable[[], Any]:
    """A constructor of fresh incremental states for ``agg`` over rows of ``input_types``."""
    order = tuple((o.desc, o.nulls_last) for o in agg.order_by)
    shaped = bool(agg.args or agg.order_by)  # fed (value, *arguments, (order keys)): render.translate.aggregate_value
    if agg.func == "string_agg":
        base: Callable[[], Any] = lambda: StringAggState(order)  # noqa: E731
    elif agg.func == "jsonb_agg":
        base = lambda: JsonbAggState(order, shaped)  # noqa: E731
    elif agg.func == "jsonb_object_agg":
        base = lambda: JsonbObjectAggState(order, True)  # noqa: E731
    elif agg.func in ORDERED_SET_FUNCTIONS:  # expr/stat_aggregates.py: fed (x, ...)
        func, desc = OrderedSet(agg.func), agg.order_by[0].desc
        # the fraction: a constant, or (an expression of group keys) read from the rows (sql/aggregate_args.py)
        per_row = bool(agg.args) and not isinstance(agg.args[0], ir.Literal)
        fraction = agg.args[0].datum() if agg.args and not per_row else None  # type: ignore[union-attr]
        base = lambda: OrderedSetState(func, fraction, desc, per_row)  # noqa: E731
    elif agg.func == "array_agg":  # expr/arrays.py
        array_order = tuple((o.desc, o.nulls_last) for o in agg.order_by)
        return lambda: ArrayAggState(array_order, agg.distinct, bool(agg.args))  # its DISTINCT keeps NULL
    else:
        make = AGGREGATE_STATES.get(agg.func)
        if make is None:
            raise errors.UndefinedFunction(f"function {agg.func} does not exist")
        base = make(scalar_type(agg.expr, input_types))
    if agg.distinct and agg.func != "count_star":
        return lambda: DistinctState(base())
    return base


def accumulator_kind(agg: ir.AggregateExpr, input_types: Types | None) -> str | None:
    """How ``agg`` is accumulated by ``dataflow.accumulate`` (a sum over rows of ``value × diff``), or ``None``.

    ``count_star``/``count`` count; ``sum``/``avg`` over integers and numeric sum exactly (``sum`` of int8
    gives numeric: ``sum_numeric``).  Floats are refused (their sums depend on the order of additions), as are
    DISTINCT aggregates and arguments that are not plain columns.
    """
    if agg.func == "count_star":
        return "count_star"
    if agg.distinct or not isinstance(agg.expr, ir.ColumnRef):
        return None
    if agg.func == "count":
        return "count"
    if agg.func not in ("sum", "avg"):
        return None
    typ = scalar_type(agg.expr, input_types)
    if typ is ScalarType.NUMERIC:  # shown at the live values' largest display scale
        return "sum_scaled" if agg.func == "sum" else "avg_scaled"
    if typ in (ScalarType.INT2, ScalarType.INT4):
        return "sum" if agg.func == "sum" else "avg"
    if typ is ScalarType.INT8:
        return "sum_numeric" if agg.func == "sum" else "avg"
    return None

