"""Aggregate functions as incremental states that accept insertions and retractions.

Each aggregate of the vocabulary (``count``, ``count_star``, ``sum``, ``min``, ``max``, ``avg``, ``bool_and``,
``bool_or``) is a small class with ``add(value, diff)`` (``diff`` may be negative: a retraction) and
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
import operator
from typing import Any, Callable

from steadystate import errors
from steadystate.expr import ir
from steadystate.expr.infer import Types, scalar_type
from steadystate.repr.interval import Interval, divide
from steadystate.repr.types import ScalarType


class CountState:
    """count(x): non-NULL values; count_star counts rows (the caller passes a non-NULL marker)."""

    __slots__ = ("count",)

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

    def result(self) -> int:
        return self.count


class SumState:
    __slots__ = ("total", "count", "as_numeric")

    def __init__(self, as_numeric: bool = False) -> None:
        self.total: Any = 0
        self.count = 0
        self.as_numeric = as_numeric

    def add(self, value: Any, diff: int) -> None:
        if value is None:
            return
        self.total += value * diff if diff != 1 else value
        self.count += diff

    def add_many(self, values: list[Any], diffs: list[int]) -> None:
        """Exact for integers (summed in bulk); other types are added one by one, in order, as ``add`` does."""
        if type(self.total) is int and all(type(v) is int for v in values):
            self.total += sum(map(operator.mul, values, diffs))
            self.count += sum(diffs)
            return
        for value, diff in zip(values, diffs):
            self.add(value, diff)

    def result(self) -> Any:
        if self.count == 0:
            return None
        if self.as_numeric and isinstance(self.total, int):
            return decimal.Decimal(self.total)
        return self.total


class AvgState(SumState):
    __slots__ = ()

    def result(self) -> Any:
        if self.count == 0:
            return None
        if isinstance(self.total, float):
            return self.total / self.count
        if isinstance(self.total, Interval):
            return divide(self.total, self.count)
        return decimal.Decimal(self.total) / decimal.Decimal(self.count)


class ExtremeState:
    """min/max over a multiset of values (value -> multiplicity); exact under deletion."""

    __slots__ = ("counts", "pick", "cached")

    def __init__(self, pick: Callable[[Any], Any]) -> None:
        self.counts: dict[Any, int] = {}
        self.pick = pick
        self.cached: Any = None

    def add(self, value: Any, diff: int) -> None:
        if value is None:
            return
        counts = self.counts
        count = counts.get(value, 0) + diff
        if count:
            counts[value] = count
        else:
            del counts[value]
        self.cached = None

    def result(self) -> Any:
        if self.cached is None and self.counts:
            self.cached = self.pick(self.counts)
        return self.cached


class MinState(ExtremeState):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(min)


class MaxState(ExtremeState):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(max)


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

    def result(self) -> bool | None:
        if self.trues == 0 and self.falses == 0:
            return None
        return self.falses == 0 if self.is_and else self.trues > 0


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
}


def aggregate_factory(agg: ir.AggregateExpr, input_types: Types | None = None) -> Callable[[], Any]:
    """A constructor of fresh incremental states for ``agg`` over rows of ``input_types``."""
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
    if typ in (ScalarType.INT2, ScalarType.INT4, ScalarType.NUMERIC):
        return "sum" if agg.func == "sum" else "avg"
    if typ is ScalarType.INT8:
        return "sum_numeric" if agg.func == "sum" else "avg"
    return None

