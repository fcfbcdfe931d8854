"""The text forms of float8 and float4 values exactly as PostgreSQL prints them (``float8out``/``float4out``).

PostgreSQL (12+, ``extra_float_digits`` > 0, what every driver sets) prints the shortest digits that read back as
the same value, found by Ryu, laid out like ``%g``: plain notation for decimal exponents from -4 up to 15 (float8)
or 6 (float4), exponent form (``1e+16``, ``1.5e-05``) outside.  Python's ``repr`` finds the shortest digits too,
with one difference: when those digits lie exactly halfway between two floats (and read back by ties-to-even),
Ryu as PostgreSQL runs it does not accept them and prints one more digit (``3.3256623128244992e+16``, where
``repr`` gives ``3.325662312824499e+16``).  :func:`float8_text` / :func:`float4_text` reproduce that.

:func:`float8_text` takes ``repr`` as it is (bar a trailing ``.0``) when ``1e-4 <= |v| < 1e15``: there ``repr`` is in
plain notation, laid out as PostgreSQL lays it out, and its digits never lie halfway between two floats.  A halfway
point is an odd multiple of a power of two whose odd factor is at least ``2**53``.  Written ``D × 10**-k`` (``D`` at
most 17 digits, so below ``10**17``), that needs ``5**k`` to divide ``D`` and ``D / 5**k ≥ 2**53``, so ``k ≤ 1``; but
below ``1e15`` a 17-digit ``D`` has ``k ≥ 2`` and a shorter one gives ``D / 5**k < 2**53``; and with no fraction it is
an integer below ``2**53``, a float itself.  ``tests/repr/test_floattext.py`` checks the short way against the long.
"""

from __future__ import annotations

import decimal
import math
import struct

_FLOAT4 = struct.Struct("!f")


def round_float4(value: float) -> float:
    """The float8 nearest ``value`` that a 32-bit float holds; infinite beyond float4's range."""
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        return float(_FLOAT4.unpack(_FLOAT4.pack(value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def _next4(value: float, direction: float) -> float:
    bits = struct.unpack("!I", _FLOAT4.pack(value))[0]
    if value == 0.0:
        step = struct.unpack("!f", struct.pack("!I", 1))[0]
        return step if direction > 0 else -step
    bits += 1 if (value > 0) == (direction > 0) else -1
    return float(_FLOAT4.unpack(struct.pack("!I", bits))[0])


def _on_boundary(text: str, value: float, single: bool) -> bool:
    """Whether the decimal ``text`` is exactly halfway between ``value`` and a neighbouring float."""
    exact = decimal.Decimal(text)
    for direction in (math.inf, -math.inf):
        neighbour = _next4(value, direction) if single else math.nextafter(value, direction)
        if math.isinf(neighbour):
            continue
        if decimal.Decimal(value) + decimal.Decimal(neighbour) == exact * 2:  # no division: exact and cheap
            return True
    return False


def _shortest(value: float, single: bool) -> str:
    """The shortest digits (as a Python float literal) that read back as ``value``, not on a rounding boundary."""
    if single:
        for precision in range(1, 10):
            text = f"{value:.{precision - 1}e}"
            if round_float4(float(text)) == value and not _on_boundary(text, value, True):
                return text
        return f"{value:.8e}"
    text = repr(value)
    if not _on_boundary(text, value, False):
        return text
    digits = len(decimal.Decimal(text).as_tuple().digits)
    for precision in range(digits + 1, 18):
        text = f"{value:.{precision - 1}e}"
        if float(text) == value and not _on_boundary(text, value, False):
            return text
    return f"{value:.16e}"


def _layout(text: str, max_fixed_exponent: int) -> str:
    sign, digits, exponent = decimal.Decimal(text).as_tuple()
    digit_text = "".join(map(str, digits)).rstrip("0") or "0"
    scientific = len(digits) + int(exponent) - 1
    prefix = "-" if sign else ""
    if digit_text == "0":
        return prefix + "0"
    if -4 <= scientific < max_fixed_exponent:
        point = scientific + 1
        if point <= 0:
            return prefix + "0." + "0" * (-point) + digit_text
        if point >= len(digit_text):
            return prefix + digit_text + "0" * (point - len(digit_text))
        return prefix + digit_text[:point] + "." + digit_text[point:]
    mantissa = digit_text[0] + ("." + digit_text[1:] if len(digit_text) > 1 else "")
    return f"{prefix}{mantissa}e{'-' if scientific < 0 else '+'}{abs(scientific):02d}"


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return None


def float8_text(value: float) -> str:
    if 1e-4 <= abs(value) < 1e15:  # the common case, without decimal arithmetic (NaN is not in the range)
        text = repr(value)  # plain notation in this range, never on a boundary (module docstring)
        return text[:-2] if text.endswith(".0") else text
    return float8_text_long(value)


def float8_text_long(value: float) -> str:
    """``float8_text`` the long way (also the property test's reference for the short way)."""
    special = _special(value)
    return special if special is not None else _layout(_shortest(value, False), 15)


def float4_text(value: float) -> str:
    single = round_float4(value)
    special = _special(single)
    return special if special is not None else _layout(_shortest(single, True), 6)


__all__ = ["float4_text", "float8_text", "float8_text_long", "round_float4"]
