"""String and math functions of PostgreSQL's everyday vocabulary, beyond ``expr.functions``'s core:
``concat_ws``, ``split_part``, ``regexp_replace``, ``initcap``, ``reverse``, ``translate``, ``ascii``, ``chr``,
``starts_with``, ``trunc`` (to an integer and to ``n`` places), ``cbrt``, ``pi``, ``degrees``, ``radians``,
``regexp_match`` (``text[]``: the capture groups, or the whole match; NULL without one), ``gcd``/``lcm`` of
integers (never negative; 22003 past the type's range, as PostgreSQL's ``int4gcd``/``int8lcm``), ``div``
(numeric's truncated quotient), ``scale``/``min_scale``/``trim_scale``, ``factorial`` and ``width_bucket`` over
numeric and double precision (PostgreSQL 15's arithmetic, the numeric division rounded at its division scale).

Each follows PostgreSQL's definition (``src/backend/utils/adt``): ``split_part`` counts negative positions from the
end and refuses 0; ``regexp_replace`` replaces the first match unless the flags say ``g`` (``i``: ignore case),
with ``\\1``..``\\9`` and ``\\&`` in the replacement; ``initcap`` capitalises after any non-alphanumeric
character; ``degrees``/``radians`` divide/multiply by PostgreSQL's ``RADIANS_PER_DEGREE`` so the last digit agrees.
:data:`UNARY_STRICT`, :data:`BINARY_STRICT`, :data:`VARIADIC_STRICT` and :data:`VARIADIC_NONSTRICT` are merged into
``expr.functions``'s tables; :data:`RESULT_TYPES` tells ``expr.infer`` the fixed result types.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import decimal
import math
import re
from typing import Any, Callable

from steadystate import errors
from steadystate.expr.casts import to_text
from steadystate.repr import numeric
from steadystate.repr.arrays import Array
from steadystate.repr.types import ScalarType

RADIANS_PER_DEGREE = 0.0174532925199432957692


def concat_ws(values: list[Any]) -> str | None:
    separator, rest = values[0], values[1:]
    if separator is None:
        return None
    return separator.join(v if isinstance(v, str) else str(to_text(v)) for v in rest if v is not None)


def split_part(text: str, delimiter: str, position: int) -> str:
    if position == 0:
        raise errors.SteadyError("field position must not be zero", sqlstate="22023")
    if delimiter == "":
        return text if position in (1, -1) else ""
    parts = text.split(delimiter) if text else []
    index = position - 1 if position > 0 else len(parts) + position
    return parts[index] if 0 <= index < len(parts) else ""


_FLAG_LETTERS = frozenset("gicqnmsx")


def _compile(pattern: str, flags: str) -> re.Pattern[str]:
    """PostgreSQL's ARE flags: ``i``/``c`` case (the last wins), ``q`` literal, ``n``/``m`` newline-sensitive
    (``.`` stops at newlines, ``^``/``$`` at lines), ``s`` not (the default), ``x`` expanded; ``g`` is the caller's."""
    options = re.DOTALL
    for flag in flags:
        if flag not in _FLAG_LETTERS:
            raise errors.SteadyError(f'invalid regular expression option: "{flag}"', sqlstate="22023")
        if flag == "i":
            options |= re.IGNORECASE
        elif flag == "c":
            options &= ~re.IGNORECASE
        elif flag in "nm":
            options = (options & ~re.DOTALL) | re.MULTILINE
        elif flag == "s":
            options = (options | re.DOTALL) & ~re.MULTILINE
        elif flag == "x":
            options |= re.VERBOSE
    if "q" in flags:
        pattern = re.escape(pattern)
    try:
        return re.compile(pattern, options)
    except re.error as exc:
        raise errors.SteadyError(f"invalid regular expression: {exc}", sqlstate="2201B") from None


def _replacement(template: str) -> Callable[[re.Match[str]], str]:
    pieces: list[str | int] = []  # text, or a group number (0: the whole match)
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt.isdigit() and nxt != "0":
                pieces.append(int(nxt))
            elif nxt == "&":
                pieces.append(0)
            else:
                pieces.append(nxt)
            i += 2
            continue
        pieces.append(c)
        i += 1

    def expand(match: re.Match[str]) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, int):
                if piece <= (match.re.groups if piece else 0):
                    out.append(match.group(piece) or "")
            else:
                out.append(piece)
        return "".join(out)

    return expand


def regexp_replace(text: str, pattern: str, replacement: str, flags: str = "") -> str:
    compiled = _compile(pattern, flags)
    return compiled.sub(_replacement(replacement), text, count=0 if "g" in flags else 1)


def initcap(text: str) -> str:
    out = []
    after_word = False
    for c in text:
        out.append(c.lower() if after_word else c.upper())
        after_word = c.isalnum()
    return "".join(out)


def translate(text: str, source: str, target: str) -> str:
    table: dict[str, str | None] = {}
    for i, c in enumerate(source):
        table.setdefault(c, target[i] if i < len(target) else None)
    return "".join(table.get(c, c) or "" for c in text)


def ascii_code(text: str) -> int:
    return ord(text[0]) if text else 0


def chr_of(code: int) -> str:
    if code < 0:
        raise errors.SteadyError("character number must be positive", sqlstate="22023")
    if code == 0:
        raise errors.SteadyError("null character not permitted", sqlstate="54000")
    if code > 0x10FFFF:
        raise errors.SteadyError(f"requested character too large for encoding: {code}", sqlstate="54000")
    if 0xD800 <= code <= 0xDFFF:
        raise errors.SteadyError(f"requested character not valid for encoding: {code}", sqlstate="54000")
    return chr(code)


def trunc(value: Any) -> Any:
    if isinstance(value, float):
        return math.copysign(float(math.trunc(value)), value) if math.isfinite(value) else value  # -0.5 → -0
    if isinstance(value, decimal.Decimal):
        return value.to_integral_value(rounding=decimal.ROUND_DOWN) if value.is_finite() else value
    return value


def trunc_to(value: Any, places: int) -> decimal.Decimal:
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(value)
    if not number.is_finite():
        return number
    if places >= 0:
        return number.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_DOWN)
    scale = decimal.Decimal(10) ** -places
    return (number / scale).to_integral_value(rounding=decimal.ROUND_DOWN) * scale


def _libm_cbrt() -> Callable[[float], float]:
    """The C library's ``cbrt``, which PostgreSQL calls (Python's ``math.cbrt`` may differ in the last digit)."""
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        function = libm.cbrt
    except (OSError, AttributeError):
        return math.cbrt
    function.restype, function.argtypes = ctypes.c_double, [ctypes.c_double]
    return function  # type: ignore[no-any-return]


cbrt = _libm_cbrt()


def _checked(value: float, result: float) -> float:
    """PostgreSQL's float8 multiply/divide checks: overflow to infinity and underflow to zero are errors."""
    if math.isinf(result) and not math.isinf(value):
        raise errors.NumericValueOutOfRange("value out of range: overflow")
    if result == 0.0 and value != 0.0:
        raise errors.NumericValueOutOfRange("value out of range: underflow")
    return result


def degrees(value: float) -> float:
    return _checked(value, value / RADIANS_PER_DEGREE)


def radians(value: float) -> float:
    return _checked(value, value * RADIANS_PER_DEGREE)


def regexp_match(text: str, pattern: str, flags: str = "") -> Array | None:
    """The first match's capture groups (a group that took no part is NULL), or the whole match without groups."""
    if "g" in flags:
        raise errors.SteadyError('regexp_match() does not support the "global" option', sqlstate="22023",
                                 hint="Use the regexp_matches function instead.")
    match = _compile(pattern, flags).search(text)
    if match is None:
        return None
    return Array(match.groups() if match.re.groups else (match.group(0),))


def regexp_matches(text: str, pattern: str, flags: str = "") -> list[Array]:
    """``regexp_matches``: every match with ``g`` (else the first), each as ``regexp_match`` shows it; after an empty
    match the search moves on one character, as PostgreSQL's does."""
    compiled = _compile(pattern, flags)
    out: list[Array] = []
    for match in compiled.finditer(text):
        out.append(Array(match.groups() if compiled.groups else (match.group(0),)))
        if "g" not in flags:
            break
    return out


def _integer_gcd(bits: int) -> Callable[[int, int], int]:
    limit, name = 2 ** (bits - 1), "integer" if bits == 32 else "bigint"

    def gcd(a: int, b: int) -> int:
        result = math.gcd(a, b)
        if result >= limit:  # only |MIN| itself: PostgreSQL cannot negate it either
            raise errors.NumericValueOutOfRange(f"{name} out of range")
        return result

    return gcd


def _integer_lcm(bits: int) -> Callable[[int, int], int]:
    limit, name = 2 ** (bits - 1), "integer" if bits == 32 else "bigint"

    def lcm(a: int, b: int) -> int:
        if a == 0 or b == 0:
            return 0
        if math.gcd(a, b) >= limit:
            raise errors.NumericValueOutOfRange(f"{name} out of range")
        result = abs(a // math.gcd(a, b) * b)
        if result >= limit:
            raise errors.NumericValueOutOfRange(f"{name} out of range")
        return result

    return lcm


def _width_bucket_error(message: str) -> errors.SteadyError:
    return errors.SteadyError(message, sqlstate="2201G")


def _bucket_int4(value: int) -> int:
    if value > 2 ** 31 - 1:
        raise errors.NumericValueOutOfRange("integer out of range")
    return value


def _check_bucket_arguments(count: int, values: tuple[Any, ...], nan: bool, infinite: bool) -> None:
    """``width_bucket``'s refusals, in PostgreSQL's order: the count, a NaN anywhere, an infinite bound."""
    if count <= 0:
        raise _width_bucket_error("count must be greater than zero")
    if nan:
        raise _width_bucket_error("operand, lower bound, and upper bound cannot be NaN")
    if infinite:
        raise _width_bucket_error("lower and upper bounds must be finite")
    if values[1] == values[2]:
        raise _width_bucket_error("lower bound cannot equal upper bound")


def width_bucket_numeric(operand: decimal.Decimal, low: decimal.Decimal, high: decimal.Decimal, count: int) -> int:
    """PostgreSQL's ``width_bucket_numeric``: 0 below the range, ``count + 1`` at or past its end, else
    ``floor(offset * count / width + 1)`` with the division rounded at PostgreSQL's division scale."""
    values = (operand, low, high)
    _check_bucket_arguments(count, values, any(v.is_nan() for v in values),
                            low.is_infinite() or high.is_infinite())
    ascending = low < high
    if (operand < low) if ascending else (operand > low):
        return 0
    if (operand >= high) if ascending else (operand <= high):
        return _bucket_int4(count + 1)
    offset, width = (operand - low, high - low) if ascending else (low - operand, low - high)
    quotient = numeric.div(numeric.mul(offset, decimal.Decimal(count)), width)
    return _bucket_int4(int((quotient + 1).to_integral_value(rounding=decimal.ROUND_FLOOR)))


def width_bucket_float8(operand: float, low: float, high: float, count: int) -> int:
    """PostgreSQL 15's ``width_bucket_float8``: ``count * offset / width + 1`` truncated; where the width or the
    product overflows, PostgreSQL 16's form (halved inputs, never past ``count`` inside the range)."""
    values = (operand, low, high)
    _check_bucket_arguments(count, values, any(math.isnan(v) for v in values),
                            math.isinf(low) or math.isinf(high))
    ascending = low < high
    if (operand < low) if ascending else (operand > low):
        return 0
    if (operand >= high) if ascending else (operand <= high):
        return _bucket_int4(count + 1)
    (first, second), (edge, start) = ((operand, low), (high, low)) if ascending else ((low, operand), (low, high))
    bucket = count * (first - second) / (edge - start) + 1
    if math.isfinite(bucket):
        return int(bucket)
    fraction = (first / 2 - second / 2) / (edge / 2 - start / 2)
    return min(int(count * fraction), count - 1) + 1


def numeric_scale(value: decimal.Decimal) -> int | None:
    """``scale(numeric)``: the display scale; NULL for NaN and the infinities."""
    return numeric.scale_of(value) if value.is_finite() else None


def min_scale(value: decimal.Decimal) -> int | None:
    """``min_scale(numeric)``: the fewest fractional digits that show ``value`` exactly; NULL when not finite."""
    if not value.is_finite():
        return None
    exponent = value.normalize(context=numeric.EXACT).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 and value else 0


def trim_scale(value: decimal.Decimal) -> decimal.Decimal:
    """``trim_scale(numeric)``: ``value`` without trailing fractional zeros (NaN and the infinities unchanged)."""
    scale = min_scale(value)
    return value if scale is None else value.quantize(decimal.Decimal(1).scaleb(-scale), context=numeric.EXACT)


def factorial(value: int) -> decimal.Decimal:
    """``factorial(bigint)`` as numeric; 22003 for a negative argument (PostgreSQL's code) and past numeric's range."""
    if value < 0:
        raise errors.NumericValueOutOfRange("factorial of a negative number is undefined")
    if value > 32177:  # PostgreSQL's bound: 32178! has more digits than numeric holds
        raise errors.NumericValueOutOfRange("value overflows numeric format")
    return decimal.Decimal(math.factorial(value))


UNARY_STRICT: dict[str, Callable[[Any], Any]] = {
    "initcap": initcap, "reverse": lambda s: s[::-1], "ascii": ascii_code, "chr": chr_of, "trunc": trunc,
    "cbrt": cbrt, "degrees": degrees, "radians": radians, "scale": numeric_scale, "min_scale": min_scale,
    "trim_scale": trim_scale, "factorial": factorial,
}
BINARY_STRICT: dict[str, Callable[[Any, Any], Any]] = {
    "trunc_to": trunc_to, "starts_with": lambda s, prefix: s.startswith(prefix),
    "gcd_int4": _integer_gcd(32), "gcd_int8": _integer_gcd(64), "lcm_int4": _integer_lcm(32),
    "lcm_int8": _integer_lcm(64), "log_base": numeric.log, "div_trunc": numeric.div_trunc,
}
VARIADIC_STRICT: dict[str, Callable[..., Any]] = {
    "split_part": split_part, "regexp_replace": regexp_replace, "translate": translate, "regexp_match": regexp_match,
    "width_bucket_numeric": width_bucket_numeric, "width_bucket_float8": width_bucket_float8,
}
VARIADIC_NONSTRICT: dict[str, Callable[[list[Any]], Any]] = {"concat_ws": concat_ws}

RESULT_TYPES: dict[str, ScalarType] = {
    "concat_ws": ScalarType.TEXT, "split_part": ScalarType.TEXT, "regexp_replace": ScalarType.TEXT,
    "initcap": ScalarType.TEXT, "reverse": ScalarType.TEXT, "translate": ScalarType.TEXT, "chr": ScalarType.TEXT,
    "ascii": ScalarType.INT4, "starts_with": ScalarType.BOOL, "trunc_to": ScalarType.NUMERIC,
    "cbrt": ScalarType.FLOAT8, "degrees": ScalarType.FLOAT8, "radians": ScalarType.FLOAT8,
    "regexp_match": ScalarType.TEXT_ARRAY, "gcd_int4": ScalarType.INT4, "gcd_int8": ScalarType.INT8,
    "lcm_int4": ScalarType.INT4, "lcm_int8": ScalarType.INT8, "log_base": ScalarType.NUMERIC,
    "div_trunc": ScalarType.NUMERIC, "scale": ScalarType.INT4, "min_scale": ScalarType.INT4,
    "trim_scale": ScalarType.NUMERIC, "factorial": ScalarType.NUMERIC, "width_bucket_numeric": ScalarType.INT4,
    "width_bucket_float8": ScalarType.INT4,
}
