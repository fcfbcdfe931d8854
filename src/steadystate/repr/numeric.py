"""numeric arithmetic as PostgreSQL computes it, over ``decimal.Decimal``.

The ``numeric`` datum is a ``Decimal`` whose exponent is never positive (its scale, PostgreSQL's *display scale*,
is ``-exponent``). PostgreSQL's numeric is exact where Python's default decimal context is not (it rounds every
result to 28 significant digits), and its division and transcendental functions choose a result scale by rules of
their own. This module owns both:

* **Exact ``+ - *``.** Importing it sets the decimal context of the importing thread, and the template every
  later thread copies (``decimal.DefaultContext``), to :data:`EXACT`: a precision past PostgreSQL's numeric range
  (131072 digits before the point, 16383 after), so sums, differences and products, including the ones the
  engine's accumulators compute with plain ``+``, are exact. ``steadystate.repr`` imports this module, so every
  process has the context before it starts a thread. Results past numeric's range are 22003 "value overflows
  numeric format" (:func:`check_range`), as in PostgreSQL.
* **Division** (:func:`div`, and :func:`mean` for ``avg``) rounds, half away from zero, to the scale of
  PostgreSQL's ``select_div_scale``: at least 16 significant digits, and no less than either operand's scale.
* **sqrt, ln, log, exp, power** pick PostgreSQL's result scales (``numeric_sqrt``, ``estimate_ln_dweight``,
  ``numeric_log``, ``numeric_exp``, ``power_var_int``/``power_var``) and are correctly rounded to them (PostgreSQL
  computes with guard digits and rounds too; the two agree but in pathological near-ties).

Nothing here may divide with the global context (it would expand a quotient to the context's full precision):
every quotient and transcendental result is computed at the precision its target scale needs.

**Why PostgreSQL's numeric, not Materialize's.** Materialize's numeric is a 39-digit decimal that trims trailing
zeros on output. steadystate's numeric already follows PostgreSQL's (scale kept on output, ``numeric(p, s)`` up to
precision 1000), the scalar semantics are checked against a PostgreSQL server, and exact arithmetic never returns a
different answer where Materialize returns one (Materialize rounds past 39 digits or errors): the choice is
recorded in docs/design-notes.md.
"""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from steadystate import errors

MIN_SIG_DIGITS = 16  # NUMERIC_MIN_SIG_DIGITS
MAX_DISPLAY_SCALE = 1000  # NUMERIC_MAX_DISPLAY_SCALE
MAX_RESULT_SCALE = 2000  # NUMERIC_MAX_RESULT_SCALE
DSCALE_MAX = 16383  # NUMERIC_DSCALE_MAX
WEIGHT_MAX_DIGITS = 131072  # digits before the decimal point numeric can hold
NBASE_DIGITS = 4  # DEC_DIGITS: PostgreSQL stores base-10000 digits

EXACT = decimal.Context(prec=WEIGHT_MAX_DIGITS + 2 * DSCALE_MAX + 64, rounding=decimal.ROUND_HALF_UP,
                        Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                        traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


#: the one numeric NaN every operation returns: rows holding it are equal and hash alike (a NaN is not equal to
#: itself in Python, and two NaN objects hash apart), so a NaN row consolidates and retracts like any other
NAN = Decimal("NaN")


def canonical(value: Decimal) -> Decimal:
    """``value``, or :data:`NAN` for any NaN."""
    return NAN if value.is_nan() else value


def install_exact_context() -> None:
    """Make ``+ - *`` on Decimals exact in this thread and in every thread started later."""
    decimal.DefaultContext.prec = EXACT.prec
    decimal.DefaultContext.Emax = EXACT.Emax
    decimal.DefaultContext.Emin = EXACT.Emin
    decimal.setcontext(EXACT.copy())


install_exact_context()


def _overflow() -> errors.SteadyError:
    return errors.NumericValueOutOfRange("value overflows numeric format")


def check_range(value: Decimal) -> Decimal:
    """``value`` (the canonical :data:`NAN` for a NaN), or 22003 when it is beyond numeric's range."""
    if value.is_nan():
        return NAN
    if value.is_finite() and value and value.adjusted() >= WEIGHT_MAX_DIGITS:
        raise _overflow()
    return value


def scale_of(value: Decimal) -> int:
    """PostgreSQL's display scale of ``value``."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def at_largest_scale(total: Decimal, scales: dict[int, int]) -> Decimal:
    """A sum ``total`` shown at the largest display scale with a positive count in ``scales`` (scale -> how many
    live values have it): PostgreSQL's scale of a sum, which a running total that has subtracted values loses
    (``3.00 - 1.50`` is ``1.50``; the sum of the one value ``1.5`` is ``1.5``).  Unchanged when not finite."""
    live = [scale for scale, n in scales.items() if n > 0]
    if not live or not total.is_finite():
        return total
    return total.quantize(Decimal(1).scaleb(-max(live)), context=EXACT)


def normalize(value: Decimal) -> Decimal:
    """``value`` with a non-positive exponent (``1E+2`` → ``100``), as PostgreSQL's input makes it."""
    if value.is_finite() and value.as_tuple().exponent > 0:  # type: ignore[operator]
        return value.quantize(Decimal(1), context=EXACT)
    return NAN if value.is_nan() else value


def _as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _weight_and_first(value: Decimal) -> tuple[int, int]:
    """The base-10000 weight of ``|value|``'s first non-zero digit, and that digit (``(0, 0)`` for zero)."""
    if not value:
        return 0, 0
    weight = value.adjusted() // NBASE_DIGITS
    return weight, int(abs(value).scaleb(-NBASE_DIGITS * weight, context=EXACT))


def _clamp_scale(rscale: int, *scales: int) -> int:
    return min(max(rscale, *scales, 0), MAX_DISPLAY_SCALE)


def _round_rational(numerator: int, denominator: int, rscale: int) -> Decimal:
    """``numerator / denominator`` rounded half away from zero to ``rscale`` (>= 0) fractional digits."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    q, r = divmod(abs(numerator) * 10 ** rscale, denominator)
    if 2 * r >= denominator:
        q += 1
    sign = "-" if numerator < 0 and q else ""
    return Decimal(f"{sign}{q}E-{rscale}")


def round_to_scale(value: Decimal, rscale: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-rscale), rounding=decimal.ROUND_HALF_UP, context=EXACT)


# ---------------------------------------------------------------------------------------------------------------
# + - * / %


def _special(a: Decimal, b: Decimal) -> bool:
    return not (a.is_finite() and b.is_finite())


def add(a: Any, b: Any) -> Decimal:
    return check_range(EXACT.add(_as_decimal(a), _as_decimal(b)))


def sub(a: Any, b: Any) -> Decimal:
    return check_range(EXACT.subtract(_as_decimal(a), _as_decimal(b)))


def mul(a: Any, b: Any) -> Decimal:
    a, b = _as_decimal(a), _as_decimal(b)
    if _special(a, b):
        return _special_mul(a, b)
    product = EXACT.multiply(a, b)
    if scale_of(product) > DSCALE_MAX:
        product = round_to_scale(product, DSCALE_MAX)
    return check_range(product)


def _special_mul(a: Decimal, b: Decimal) -> Decimal:
    if a.is_nan() or b.is_nan():
        return NAN
    if (a.is_infinite() and not b) or (b.is_infinite() and not a):
        return NAN  # PostgreSQL: Infinity * 0 is NaN
    return Decimal("Infinity") if (a < 0) == (b < 0) else Decimal("-Infinity")


def _division_by_zero() -> errors.SteadyError:
    return errors.DivisionByZero("division by zero")


def div_scale(a: Decimal, b: Decimal) -> int:
    """PostgreSQL's ``select_div_scale``: the result scale of ``a / b``."""
    weight1, first1 = _weight_and_first(a)
    weight2, first2 = _weight_and_first(b)
    qweight = weight1 - weight2 - (1 if first1 <= first2 else 0)
    return _clamp_scale(MIN_SIG_DIGITS - qweight * NBASE_DIGITS, scale_of(a), scale_of(b))


def div(a: Any, b: Any, rscale: int | None = None) -> Decimal:
    """``a / b`` rounded to ``rscale`` (default: PostgreSQL's ``select_div_scale``)."""
    a, b = _as_decimal(a), _as_decimal(b)
    if _special(a, b):
        if a.is_nan() or b.is_nan() or (a.is_infinite() and b.is_infinite()):
            return NAN
        if not b:
            raise _division_by_zero()
        if a.is_infinite():
            return a if b > 0 else -a
        return Decimal(0)
    if not b:
        raise _division_by_zero()
    if rscale is None:
        rscale = div_scale(a, b)
    n1, d1 = a.as_integer_ratio()
    n2, d2 = b.as_integer_ratio()
    return check_range(_round_rational(n1 * d2, d1 * n2, rscale))


def div_trunc(a: Any, b: Any) -> Decimal:
    """PostgreSQL's ``div(numeric, numeric)``: the quotient truncated toward zero, exactly, at scale 0 (the special
    values as ``/`` has them, finite over infinite being 0)."""
    a, b = _as_decimal(a), _as_decimal(b)
    if _special(a, b):
        return div(a, b)
    if not b:
        raise _division_by_zero()
    n1, d1 = a.as_integer_ratio()
    n2, d2 = b.as_integer_ratio()
    numerator, denominator = n1 * d2, d1 * n2
    quotient = abs(numerator) // abs(denominator)
    return check_range(Decimal(-quotient if (numerator < 0) != (denominator < 0) else quotient))


def mod(a: Any, b: Any) -> Decimal:
    """PostgreSQL's numeric ``%``: the remainder of the truncated quotient, at the larger of the two scales."""
    a, b = _as_decimal(a), _as_decimal(b)
    if _special(a, b):
        if a.is_nan() or b.is_nan() or a.is_infinite():
            return NAN
        if not b:
            raise _division_by_zero()
        return a
    if not b:
        raise _division_by_zero()
    return EXACT.remainder(a, b)


def mean(total: Any, count: int) -> Decimal:
    """``avg`` over numeric or integers: PostgreSQL divides the sum by the count with ``select_div_scale``."""
    return div(_as_decimal(total), Decimal(count))


def variance(numerator: Fraction, count: int, sample: bool, scale: int, root: bool) -> Decimal:
    """PostgreSQL's ``numeric_stddev_internal``: ``numerator`` is ``N * sum(x²) - sum(x)²`` (exact), ``scale`` the
    display scale of ``sum(x)``; the quotient by ``N * (N - 1)`` (``N²`` for the population) gets
    ``select_div_scale``'s scale, and the square root (stddev) the same scale."""
    if numerator <= 0:
        return Decimal(0)
    top = _round_rational(numerator.numerator, numerator.denominator, 2 * scale)
    bottom = Decimal(count * (count - 1 if sample else count))
    rscale = div_scale(top, bottom)
    quotient = div(top, bottom, rscale)
    return sqrt(quotient, rscale) if root else quotient


# ---------------------------------------------------------------------------------------------------------------
# sqrt, ln, log, exp, power


def _invalid(message: str, sqlstate: str) -> errors.SteadyError:
    return errors.InvalidParameterValue(message, sqlstate=sqlstate)


def sqrt(value: Any, rscale: int | None = None) -> Decimal:
    """The square root, at PostgreSQL's ``numeric_sqrt`` scale unless ``rscale`` is given."""
    x = _as_decimal(value)
    if x.is_nan():
        return x
    if x < 0:
        raise _invalid("cannot take square root of a negative number", "2201F")
    if x.is_infinite():
        return x
    if rscale is None:
        weight = x.adjusted() // NBASE_DIGITS if x else 0
        sweight = (weight + 1) * NBASE_DIGITS // 2 - 1
        rscale = _clamp_scale(MIN_SIG_DIGITS - sweight, scale_of(x))
    numerator, denominator = x.as_integer_ratio()
    scaled = numerator * 10 ** (2 * rscale) // denominator  # floor: exact when 2 * rscale >= the scale of x
    root = math.isqrt(scaled)
    if scaled - root * root > root:  # the exact root is at least root + 1/2
        root += 1
    return Decimal(f"{root}E-{rscale}")


def estimate_ln_dweight(x: Decimal) -> int:
    """PostgreSQL's ``estimate_ln_dweight``: roughly the decimal weight of ``ln(x)``."""
    if x <= 0:
        return 0
    if Decimal("0.9") <= x <= Decimal("1.1"):
        delta = EXACT.subtract(x, Decimal(1))
        return delta.adjusted() if delta else 0
    weight, first = _weight_and_first(x)
    digits, dweight = first, weight * NBASE_DIGITS
    if EXACT.compare(abs(x), Decimal(first).scaleb(NBASE_DIGITS * weight, context=EXACT)) != 0:  # a second digit
        digits = int(abs(x).scaleb(-NBASE_DIGITS * (weight - 1), context=EXACT))
        dweight -= NBASE_DIGITS
    ln_value = math.log(digits) + dweight * 2.302585092994046
    return int(math.log10(abs(ln_value))) if ln_value else 0


def _check_log_argument(x: Decimal) -> None:
    if x == 0:
        raise _invalid("cannot take logarithm of zero", "2201E")
    if x < 0:
        raise _invalid("cannot take logarithm of a negative number", "2201E")


def _context_for(rscale: int, magnitude: int) -> decimal.Context:
    """A context whose precision reaches ``rscale`` fractional digits of a result of decimal weight ``magnitude``,
    with guard digits."""
    return decimal.Context(prec=max(magnitude, 0) + rscale + 25, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def ln(value: Any) -> Decimal:
    x = _as_decimal(value)
    _check_log_argument(x)
    if not x.is_finite():
        return x
    rscale = _clamp_scale(MIN_SIG_DIGITS - estimate_ln_dweight(x), scale_of(x))
    return round_to_scale(x.ln(_context_for(rscale, 8)), rscale)


def log(base: Any, value: Any) -> Decimal:
    """``log(base, x)`` (and ``log(x)``/``log10(x)``, which are ``log(10, x)``)."""
    b, x = _as_decimal(base), _as_decimal(value)
    _check_log_argument(b)
    _check_log_argument(x)
    if not (b.is_finite() and x.is_finite()):
        return NAN
    if b == 1:
        raise _division_by_zero()
    result_dweight = estimate_ln_dweight(x) - estimate_ln_dweight(b)
    rscale = _clamp_scale(MIN_SIG_DIGITS - result_dweight, scale_of(b), scale_of(x))
    context = _context_for(rscale + 10, abs(result_dweight) + 8)
    return round_to_scale(context.divide(x.ln(context), b.ln(context)), rscale)


def log10(value: Any) -> Decimal:
    return log(Decimal(10), value)


def exp(value: Any) -> Decimal:
    x = _as_decimal(value)
    if not x.is_finite():
        return Decimal(0) if x.is_infinite() and x < 0 else x
    weight = float(x) * 0.434294481903252  # log10 of the result
    clamped = max(min(weight, MAX_RESULT_SCALE), -MAX_RESULT_SCALE)
    rscale = _clamp_scale(MIN_SIG_DIGITS - int(clamped), scale_of(x))
    if abs(float(x)) >= MAX_RESULT_SCALE * 3:  # exp_var's guard
        if x > 0:
            raise _overflow()
        return Decimal(f"0E-{rscale}")
    return check_range(round_to_scale(x.exp(_context_for(rscale, int(weight) + 2)), rscale))


def _int32(value: Decimal) -> int | None:
    if value != value.to_integral_value(context=EXACT):
        return None
    integer = int(value)
    return integer if -(2 ** 31) <= integer < 2 ** 31 else None


def power(base: Any, exponent: Any) -> Decimal:
    a, b = _as_decimal(base), _as_decimal(exponent)
    if not (a.is_finite() and b.is_finite()):
        return EXACT.power(a, b) if not (a.is_nan() or b.is_nan()) else NAN
    if a == 0 and b < 0:
        raise _invalid("zero raised to a negative power is undefined", "2201F")
    integer = _int32(b)
    if a < 0 and b != b.to_integral_value(context=EXACT):
        raise _invalid("a negative number raised to a non-integer power yields a complex result", "2201F")
    if integer is not None:
        return _power_int(a, integer)
    if a == 0:
        return Decimal(f"0E-{MIN_SIG_DIGITS}")
    ln_dweight = estimate_ln_dweight(abs(a))
    local_rscale = max(8 - ln_dweight, 0)
    ln_base = round_to_scale(abs(a).ln(_context_for(local_rscale, 8)), local_rscale)
    ln_num = round_to_scale(EXACT.multiply(ln_base, b), local_rscale)
    val = float(ln_num)
    if abs(val) > MAX_RESULT_SCALE * 3.01:
        if val > 0:
            raise _overflow()
        return Decimal(f"0E-{MAX_DISPLAY_SCALE}")
    val *= 0.434294481903252
    rscale = _clamp_scale(MIN_SIG_DIGITS - int(val), scale_of(a), scale_of(b))
    context = _context_for(rscale, int(val) + 2)
    return check_range(round_to_scale(context.power(a, b), rscale))


def _power_int(a: Decimal, exponent: int) -> Decimal:
    """PostgreSQL's ``power_var_int`` (as of PostgreSQL 15, the differential suite's server): the result scale is
    ``max(16, scale of the base)``; a result surely below that scale is zero, one surely past numeric's range is
    22003."""
    rscale = _clamp_scale(MIN_SIG_DIGITS, scale_of(a))
    if exponent == 0:
        return round_to_scale(Decimal(1), rscale)
    if exponent == -1:
        return div(Decimal(1), a, rscale)
    if a:
        weight, _first = _weight_and_first(a)
        last = a.normalize(EXACT).as_tuple().exponent
        assert isinstance(last, int)
        ndigits = weight - last // NBASE_DIGITS + 1
        used = min(ndigits, 4)  # PostgreSQL reads digits while i * DEC_DIGITS < 16
        f = float(int(abs(a).scaleb(-NBASE_DIGITS * (weight - used + 1), context=EXACT)))
        estimate = exponent * (math.log10(f) + (weight - used + 1) * NBASE_DIGITS)
        if estimate > 3 * 32767 * NBASE_DIGITS:
            raise _overflow()
        if estimate + 1 < -rscale:
            return Decimal(f"0E-{rscale}")
    else:
        estimate = 0.0
    if abs(exponent) * max(len(a.as_tuple().digits), 1) <= 4000:
        n, d = a.as_integer_ratio()
        if exponent > 0:
            return check_range(_round_rational(n ** exponent, d ** exponent, rscale))
        return check_range(_round_rational(d ** -exponent, n ** -exponent, rscale))
    context = _context_for(rscale, int(estimate) + 2)
    return check_range(round_to_scale(context.power(a, exponent), rscale))
