"""The bitwise, regression and ordered-set aggregates, as incremental states that accept retractions.

Each state has ``add(value, diff)`` (``diff`` may be negative) and ``result()``, like ``expr.aggregates``:

* ``bit_and`` / ``bit_or`` / ``bit_xor`` over int2/int4/int8 (:class:`BitState`): per bit position, how many
  values have that bit set, and how many values there are.  ``bit_or`` is the bits counted at least once,
  ``bit_and`` the bits every value has, ``bit_xor`` the bits counted an odd number of times — all exact under
  deletions without a rescan of the group.  Negative values count as their 64-bit two's complement; the result is
  read back signed (a sign-extended int2/int4 stays sign-extended through and/or/xor).
* ``corr``, ``covar_pop``, ``covar_samp`` and the ``regr_*`` family (:class:`RegressionState`): fed
  ``(y, x, ())``; rows where either is NULL are skipped.  The count and the sums of x, y, x², y², xy of the finite
  values are kept exactly — as integers in units of 2^-1074 (every finite float8 is one: ``_fixed``) and 2^-2148
  for the products — so retractions cancel exactly; infinities and NaNs are counted apart.  The
  final functions are PostgreSQL's (``float8_corr``, ``float8_regr_slope``, ...) over float8 ``Sx, Sy, Sxx, Syy,
  Sxy`` — ``Sxx`` NaN once an x is not finite, ``Syy`` once a y is not, ``Sxy`` once either is; finite inputs whose
  sums overflow float8 raise 22003 as PostgreSQL's accumulator does.
* ``percentile_cont(f)``, ``percentile_disc(f)`` and ``mode()`` ``WITHIN GROUP (ORDER BY x [DESC])``
  (:class:`OrderedSetState`): the sorted multiset of x (distinct values ascending with their multiplicities: a
  binary search per change, a large batch merged and sorted at once; NaN counted apart and ranked highest, as
  PostgreSQL sorts it), fed ``(x, f, ...)``; the result walks it once per group that changed.  ``f`` is a constant
  float8 or float8[] (an array of results, NULL for a NULL fraction), or under GROUP BY an expression of group keys
  read from the rows (the same in every row of a group).  Out of [0, 1] it raises 22003 when the group's result is
  computed, as PostgreSQL's final function does; NULL gives NULL.  ``percentile_cont`` interpolates float8 or, as
  PostgreSQL's ``interval_lerp``, intervals; ``mode`` returns the most frequent value, the first in the ordering
  among ties.
"""

from __future__ import annotations

import bisect
import enum
import fractions
import math
from typing import Any

from steadystate import errors
from steadystate.repr.arrays import Array
from steadystate.repr.interval import Interval, scale

_MASK = (1 << 64) - 1


def add_sorted(values: list[Any], counts: list[int], value: Any, diff: int) -> None:
    """Add ``diff`` copies of ``value`` (not NaN) to a multiset kept as ``values`` (ascending, distinct) with their
    ``counts`` beside them: a binary search and a list insert or delete (C memmove), never a rescan."""
    i = bisect.bisect_left(values, value)
    if i < len(values) and values[i] == value:
        count = counts[i] + diff
        if count:
            counts[i] = count
        else:
            del values[i]
            del counts[i]
    elif diff:
        values.insert(i, value)
        counts.insert(i, diff)


class BitOp(enum.StrEnum):
    AND = "bit_and"
    OR = "bit_or"
    XOR = "bit_xor"


class BitState:
    """bit_and / bit_or / bit_xor: per bit position the number of values with that bit set."""

    __slots__ = ("op", "n", "bits")

    def __init__(self, op: BitOp) -> None:
        self.op = op
        self.n = 0
        self.bits: dict[int, int] = {}  # bit position -> how many values have it set

    def add(self, value: Any, diff: int) -> None:
        if value is None or not diff:
            return
        self.n += diff
        bits = self.bits
        word = value & _MASK
        while word:
            low = word & -word
            position = low.bit_length() - 1
            count = bits.get(position, 0) + diff
            if count:
                bits[position] = count
            else:
                del bits[position]
            word ^= low
        return

    def result(self) -> int | None:
        if self.n <= 0:
            return None
        if self.op is BitOp.OR:
            word = sum(1 << p for p, c in self.bits.items() if c > 0)
        elif self.op is BitOp.AND:
            word = sum(1 << p for p, c in self.bits.items() if c == self.n)
        else:
            word = sum(1 << p for p, c in self.bits.items() if c % 2)
        return word - (1 << 64) if word >> 63 else word


class Regression(enum.StrEnum):
    CORR = "corr"
    COVAR_POP = "covar_pop"
    COVAR_SAMP = "covar_samp"
    REGR_AVGX = "regr_avgx"
    REGR_AVGY = "regr_avgy"
    REGR_COUNT = "regr_count"
    REGR_INTERCEPT = "regr_intercept"
    REGR_R2 = "regr_r2"
    REGR_SLOPE = "regr_slope"
    REGR_SXX = "regr_sxx"
    REGR_SXY = "regr_sxy"
    REGR_SYY = "regr_syy"


_UNIT = 1 << 1074  # every finite float8 is an integer number of 2^-1074 (the least subnormal)
_UNIT2 = _UNIT * _UNIT


def _fixed(value: float) -> int:
    """A finite float8 exactly, as an integer number of 2^-1074."""
    numerator, denominator = value.as_integer_ratio()  # the denominator is a power of two
    return numerator << (1075 - denominator.bit_length())


def _overflow() -> errors.SteadyError:
    return errors.NumericValueOutOfRange("value out of range: overflow")


def _special_sum(pos: int, neg: int, nan: int) -> float | None:
    """The float8 sum of values whose non-finite ones are ``pos`` infinities, ``neg`` minus infinities and ``nan``
    NaNs, when there is one (``None``: all finite)."""
    if nan or (pos and neg):
        return math.nan
    if pos:
        return math.inf
    if neg:
        return -math.inf
    return None


class RegressionState:
    """corr / covar_* / regr_*: fed ``(y, x, ())``; exact sums of the finite values, non-finite ones counted."""

    __slots__ = ("func", "n", "sx", "sy", "sxx", "syy", "sxy", "special")

    def __init__(self, func: Regression) -> None:
        self.func = func
        self.n = 0
        self.sx, self.sy, self.sxx, self.syy, self.sxy = 0, 0, 0, 0, 0  # in units of 2^-1074 (squares: 2^-2148)
        self.special = [0, 0, 0, 0, 0, 0]  # x: +inf, -inf, NaN; y: +inf, -inf, NaN

    def add(self, value: Any, diff: int) -> None:
        y, x = value[0], value[1]
        if y is None or x is None or not diff:
            return
        self.n += diff
        x_finite, y_finite = math.isfinite(x), math.isfinite(y)
        if x_finite:
            fx = _fixed(x)
            self.sx += fx * diff
            self.sxx += fx * fx * diff
        else:
            self.special[0 if x > 0 else 1 if x < 0 else 2] += diff
        if y_finite:
            fy = _fixed(y)
            self.sy += fy * diff
            self.syy += fy * fy * diff
        else:
            self.special[3 if y > 0 else 4 if y < 0 else 5] += diff
        if x_finite and y_finite:
            self.sxy += fx * fy * diff

    def _float(self, value: fractions.Fraction) -> float:
        try:
            result = float(value)
        except OverflowError:
            raise _overflow() from None
        if math.isinf(result):
            raise _overflow()
        return result

    def result(self) -> float | int | None:
        n, func = self.n, self.func
        if func is Regression.REGR_COUNT:
            return n
        if n < 1 or (func is Regression.COVAR_SAMP and n < 2):
            return None
        special = self.special
        x_special, y_special = _special_sum(*special[:3]), _special_sum(*special[3:])
        sx = self._float(fractions.Fraction(self.sx, _UNIT)) if x_special is None else x_special
        sy = self._float(fractions.Fraction(self.sy, _UNIT)) if y_special is None else y_special
        sxx = (self._float(fractions.Fraction(n * self.sxx - self.sx * self.sx, n * _UNIT2)) if x_special is None
               else math.nan)
        syy = (self._float(fractions.Fraction(n * self.syy - self.sy * self.sy, n * _UNIT2)) if y_special is None
               else math.nan)
        sxy = (self._float(fractions.Fraction(n * self.sxy - self.sx * self.sy, n * _UNIT2))
               if x_special is None and y_special is None else math.nan)
        if func is Regression.REGR_SXX:
            return sxx
        if func is Regression.REGR_SYY:
            return syy
        if func is Regression.REGR_SXY:
            return sxy
        if func is Regression.REGR_AVGX:
            return sx / n
        if func is Regression.REGR_AVGY:
            return sy / n
        if func is Regression.COVAR_POP:
            return sxy / n
        if func is Regression.COVAR_SAMP:
            return sxy / (n - 1)
        if sxx == 0 or (func is Regression.CORR and syy == 0):
            return None
        if func is Regression.CORR:
            return sxy / math.sqrt(sxx * syy)
        if func is Regression.REGR_R2:
            return 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
        if func is Regression.REGR_SLOPE:
            return sxy / sxx
        return (sy - sx * sxy / sxx) / n  # regr_intercept


class OrderedSet(enum.StrEnum):
    PERCENTILE_CONT = "percentile_cont"
    PERCENTILE_DISC = "percentile_disc"
    MODE = "mode"


_BULK = 64  # batches at least this large are merged and sorted at once (OrderedSetState.add_many)
ORDERED_SET_FUNCTIONS = frozenset(f.value for f in OrderedSet)
BIT_FUNCTIONS = frozenset(op.value for op in BitOp)
REGRESSION_FUNCTIONS = frozenset(f.value for f in Regression)

class OrderedSetState:
    """percentile_cont / percentile_disc / mode: the sorted multiset of the ordered values, fed ``(x, ...)``."""

    __slots__ = ("func", "fraction", "desc", "per_row", "values", "counts", "nans", "nan")

    def __init__(self, func: OrderedSet, fraction: Any, desc: bool, per_row: bool = False) -> None:
        self.func = func
        self.fraction = fraction  # a float, None or an Array of them (percentile_*)
        self.desc = desc
        self.per_row = per_row  # the fraction is fed with each row (``(x, fraction, ...)``), the same in a group
        self.values: list[Any] = []  # distinct, ascending
        self.counts: list[int] = []
        self.nans = 0
        self.nan: Any = None

    def add(self, value: Any, diff: int) -> None:
        x = value[0]
        if self.per_row:
            self.fraction = value[1]
        if x is None or not diff:
            return
        if x != x:  # NaN
            self.nans += diff
            self.nan = x
            return
        add_sorted(self.values, self.counts, x, diff)

    def add_many(self, values: list[Any], diffs: list[int]) -> None:
        """A large batch (``dataflow.reduce``'s bulk path) merged with the state and sorted once, instead of a list
        insertion (a memmove of the state) per new value."""
        if len(values) < _BULK:
            for value, diff in zip(values, diffs):
                self.add(value, diff)
            return
        merged = dict(zip(self.values, self.counts))
        if self.per_row and values:
            self.fraction = values[-1][1]
        for value, diff in zip(values, diffs):
            x = value[0]
            if x is None or not diff:
                continue
            if x != x:  # NaN
                self.nans += diff
                self.nan = x
                continue
            merged[x] = merged.get(x, 0) + diff
        self.values = sorted(x for x, count in merged.items() if count)
        self.counts = [merged[x] for x in self.values]

    def _runs(self) -> list[tuple[Any, int]]:
        """(value, multiplicity) in the aggregate's order, NaN highest."""
        runs = list(zip(self.values, self.counts))
        if self.nans > 0:
            runs.append((self.nan, self.nans))
        return runs[::-1] if self.desc else runs

    def result(self) -> Any:
        func = self.func
        if func is OrderedSet.MODE:
            best, best_count = None, 0
            for value, count in self._runs():
                if count > best_count:
                    best, best_count = value, count
            return best
        fraction = self.fraction
        if isinstance(fraction, Array):  # an array of results; an empty group is NULL before any check
            runs = self._runs()
            if not runs:
                return None
            for f in fraction:
                _check_fraction(f)
            return Array(None if f is None else self._percentile(runs, f) for f in fraction)
        if fraction is None:
            return None
        _check_fraction(fraction)
        runs = self._runs()
        return self._percentile(runs, fraction) if runs else None

    def _percentile(self, runs: list[tuple[Any, int]], fraction: float) -> Any:
        total = sum(count for _, count in runs)
        if self.func is OrderedSet.PERCENTILE_DISC:
            return _at(runs, max(1, math.ceil(fraction * total)) - 1)
        position = fraction * (total - 1)
        first, second = math.floor(position), math.ceil(position)
        low = _at(runs, first)
        if first == second:
            return low
        high = _at(runs, second)
        if isinstance(low, Interval):  # PostgreSQL's interval_lerp: lo + (hi - lo) * pct
            return low + scale(high - low, position - first)
        return low + (position - first) * (high - low)


def _check_fraction(fraction: float | None) -> None:
    if fraction is not None and not 0 <= fraction <= 1:  # NaN fails both comparisons
        shown = "NaN" if math.isnan(fraction) else f"{fraction:g}".replace("inf", "Infinity")  # PostgreSQL's %g
        raise errors.NumericValueOutOfRange(f"percentile value {shown} is not between 0 and 1")


def _at(runs: list[tuple[Any, int]], index: int) -> Any:
    """The value at 0-based ``index`` of the sequence the runs spell."""
    for value, count in runs:
        if index < count:
            return value
        index -= count
    return runs[-1][0]


__all__ = ["BIT_FUNCTIONS", "add_sorted", "ORDERED_SET_FUNCTIONS", "REGRESSION_FUNCTIONS", "BitOp", "BitState", "OrderedSet", "OrderedSetState", "Regression", "RegressionState"]
