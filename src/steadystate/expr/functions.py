"""Implementations of the scalar function vocabulary (the names ``CallUnary``/``CallBinary``/``CallVariadic`` use).

The tables here are what ``expr.eval`` compiles against:

* :data:`UNARY_STRICT` / :data:`BINARY_STRICT` — called only with non-NULL arguments (NULL in → NULL out is
  handled by the compiled closure);
* :data:`UNARY_NONSTRICT` / :data:`BINARY_NONSTRICT` — see NULLs (``is_null``, ``nullif``, ...);
* :data:`TYPED_BINARY` / :data:`TYPED_UNARY` — factories ``type -> impl`` for arithmetic, whose overflow check
  depends on the operand type (int4 results outside int4 raise ``integer out of range``, int8 ``bigint out of
  range``, float8 overflow ``value out of range: overflow``);
* :data:`VARIADIC_STRICT` / :data:`VARIADIC_NONSTRICT` — over the argument values.

The date/time functions (operators, ``extract``, ``date_part``, ``date_trunc``) live in ``expr.temporal``.

``and``/``or``/``coalesce``/``If`` are lazy and live in ``expr.eval``.  Integer division truncates toward zero and
modulo takes the dividend's sign (PostgreSQL), unlike Python's floor division.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
import hashlib
import math
import re
from typing import Any, Callable

from steadystate import errors
from steadystate.expr.temporal import date_add as _date_add
from steadystate.expr.temporal import date_part as _date_part
from steadystate.expr.temporal import date_sub as _date_sub
from steadystate.expr.temporal import date_trunc as _date_trunc
from steadystate.expr.temporal import extract as _extract
from steadystate.expr.temporal import temporal as _temporal
from steadystate.expr import jsonb_functions, jsonb_paths
from steadystate.expr.mz_timestamp import mz_now_unbound
from steadystate.expr.time_functions import VARIADIC_STRICT as TIME_FUNCTIONS
from steadystate.expr import string_math, text_functions, to_char_number, to_date
from steadystate.expr.casts import INT_RANGES, float4_to_text, round_float4, to_text
from steadystate.repr import numeric
from steadystate.repr.sortkey import nan_last
from steadystate.repr.types import ScalarType

_ZERO = decimal.Decimal(0)


def _division_by_zero() -> errors.DivisionByZero:
    return errors.DivisionByZero("division by zero")


def _float_overflow() -> errors.NumericValueOutOfRange:
    return errors.NumericValueOutOfRange("value out of range: overflow")


# ---------------------------------------------------------------------------------------------------------
# Arithmetic, per operand type


def _int_div(a: int, b: int) -> int:
    if b == 0:
        raise _division_by_zero()
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int_mod(a: int, b: int) -> int:
    if b == 0:
        raise _division_by_zero()
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _checked_int(op: Callable[[int, int], int], typ: ScalarType) -> Callable[[int, int], int]:
    low, high, message = INT_RANGES[typ]

    def impl(a: int, b: int) -> int:
        value = op(a, b)
        if value < low or value > high:
            raise errors.NumericValueOutOfRange(message)
        return value

    return impl


def _checked_float(op: Callable[[float, float], float]) -> Callable[[float, float], float]:
    def impl(a: float, b: float) -> float:
        try:
            value = op(a, b)
        except OverflowError:
            raise _float_overflow() from None
        if math.isinf(value) and not (math.isinf(a) or math.isinf(b)):
            raise _float_overflow()
        return value if value == value else math.nan  # the one NaN rows hold (repr.numeric.NAN's reason)

    return impl


def _underflow_checked(op: Callable[[float, float], float], func: str) -> Callable[[float, float], float]:
    """float8 ``*`` and ``/``: a non-zero result that rounds to zero is 22003 "value out of range: underflow"."""

    def impl(a: float, b: float) -> float:
        value = op(a, b)
        if value == 0.0 and a != 0.0 and (b != 0.0 if func == "mul" else not math.isinf(b)):
            raise errors.NumericValueOutOfRange("value out of range: underflow")
        return value

    return impl


def _float_div(a: float, b: float) -> float:
    if b == 0:
        raise _division_by_zero()
    return a / b


def _float_mod(a: float, b: float) -> float:
    if b == 0:
        raise _division_by_zero()
    value = math.fmod(a, b)
    return value if value == value else math.nan


_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _int_div,
    "mod": _int_mod,
}
_FLOAT_OPS: dict[str, Callable[[float, float], float]] = {
    "add": _checked_float(lambda a, b: a + b),
    "sub": _checked_float(lambda a, b: a - b),
    "mul": _underflow_checked(_checked_float(lambda a, b: a * b), "mul"),
    "div": _underflow_checked(_checked_float(_float_div), "div"),
    "mod": _float_mod,
}


def _float4(op: Callable[[float, float], float], func: str) -> Callable[[float, float], float]:
    """float4 arithmetic: the float8 result (exact enough: double rounding through float8 is harmless for + - * /)
    rounded to float4, with PostgreSQL's overflow and underflow checks."""

    def impl(a: float, b: float) -> float:
        value = op(a, b)
        single = round_float4(value)
        if math.isinf(single) and not (math.isinf(a) or math.isinf(b)):
            raise _float_overflow()
        if single == 0.0 and a != 0.0 and ((func == "mul" and b != 0.0) or (func == "div" and not math.isinf(b))):
            raise errors.NumericValueOutOfRange("value out of range: underflow")
        return single if single == single else math.nan

    return impl


_FLOAT4_OPS: dict[str, Callable[[float, float], float]] = {name: _float4(op, name) for name, op in _FLOAT_OPS.items()}
_NUMERIC_OPS: dict[str, Callable[[Any, Any], Any]] = {  # exact, and PostgreSQL's division scale (repr.numeric)
    "add": numeric.add,
    "sub": numeric.sub,
    "mul": numeric.mul,
    "div": numeric.div,
    "mod": numeric.mod,
}
_DATE_OPS: dict[str, Callable[[Any, Any], Any]] = {"add": _date_add, "sub": _date_sub}


def arithmetic(func: str, typ: ScalarType | None) -> Callable[[Any, Any], Any]:
    """The implementation of ``add``/``sub``/``mul``/``div``/``mod`` for operands of type ``typ``.

    ``typ=None`` (unknown) dispatches on the Python type of the values and checks ints against int8's range.
    """
    if typ in (ScalarType.INT2, ScalarType.INT4, ScalarType.INT8):
        return _checked_int(_INT_OPS[func], typ)
    if typ is ScalarType.FLOAT4:
        return _FLOAT4_OPS[func]
    if typ is ScalarType.FLOAT8:
        return _FLOAT_OPS[func]
    if typ is ScalarType.NUMERIC:
        return _NUMERIC_OPS[func]
    if typ in (ScalarType.DATE, ScalarType.TIMESTAMP):
        return _DATE_OPS[func]
    int_impl = _checked_int(_INT_OPS[func], ScalarType.INT8)
    float_impl = _FLOAT_OPS[func]
    numeric_impl = _NUMERIC_OPS[func]
    other_impl = _DATE_OPS.get(func, numeric_impl)

    def dynamic(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return int_impl(a, b)
        if type(a) is float or type(b) is float:
            return float_impl(float(a), float(b))
        if isinstance(a, _dt.date) or isinstance(b, _dt.date):
            return other_impl(a, b)
        return numeric_impl(a, b)

    return dynamic


def _neg(typ: ScalarType | None) -> Callable[[Any], Any]:
    if typ in INT_RANGES:
        low, high, message = INT_RANGES[typ]  # type: ignore[index]

        def neg_int(v: int) -> int:
            if -v > high:
                raise errors.NumericValueOutOfRange(message)
            return -v

        return neg_int
    return lambda v: -v


def _abs(typ: ScalarType | None) -> Callable[[Any], Any]:
    if typ in INT_RANGES:
        low, high, message = INT_RANGES[typ]  # type: ignore[index]

        def abs_int(v: int) -> int:
            if abs(v) > high:
                raise errors.NumericValueOutOfRange(message)
            return abs(v)

        return abs_int
    return abs


TYPED_BINARY: dict[str, Callable[[ScalarType | None], Callable[[Any, Any], Any]]] = {
    name: functools.partial(arithmetic, name) for name in ("add", "sub", "mul", "div", "mod")
}
TYPED_UNARY: dict[str, Callable[[ScalarType | None], Callable[[Any], Any]]] = {"neg": _neg, "abs": _abs}


# ---------------------------------------------------------------------------------------------------------
# Math


def _invalid_argument(message: str, sqlstate: str) -> errors.SteadyError:
    return errors.InvalidParameterValue(message, sqlstate=sqlstate)


def _pow(a: Any, b: Any) -> Any:
    if a == 0 and b < 0:
        raise _invalid_argument("zero raised to a negative power is undefined", "2201F")
    if a < 0 and b != int(b):
        raise _invalid_argument("a negative number raised to a non-integer power yields a complex result", "2201F")
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return numeric.power(a, b)
    try:
        value = math.pow(float(a), float(b))
    except OverflowError:
        raise _float_overflow() from None
    return value


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(round(v)) if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return v.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP) if v.is_finite() else v
    return v


def _round_to(v: Any, places: int) -> Any:
    if isinstance(v, float):
        v = decimal.Decimal(repr(v))
    if isinstance(v, int):
        v = decimal.Decimal(v)
    if not v.is_finite():
        return v
    return v.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)


def _floor(v: Any) -> Any:
    if isinstance(v, float):
        return float(math.floor(v)) if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return v.to_integral_value(rounding=decimal.ROUND_FLOOR)
    return v


def _ceil(v: Any) -> Any:
    if isinstance(v, float):
        return float(math.ceil(v)) if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return v.to_integral_value(rounding=decimal.ROUND_CEILING)
    return v


def _sqrt(v: Any) -> Any:
    if v < 0:
        raise _invalid_argument("cannot take square root of a negative number", "2201F")
    if isinstance(v, decimal.Decimal):
        return numeric.sqrt(v)
    return math.sqrt(v)


def _exp(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return numeric.exp(v)
    try:
        return math.exp(v)
    except OverflowError:
        raise _float_overflow() from None


def _log_check(v: Any) -> None:
    if v == 0:
        raise _invalid_argument("cannot take logarithm of zero", "2201E")
    if v < 0:
        raise _invalid_argument("cannot take logarithm of a negative number", "2201E")


def _ln(v: Any) -> Any:
    _log_check(v)
    return numeric.ln(v) if isinstance(v, decimal.Decimal) else math.log(v)


def _log10(v: Any) -> Any:
    _log_check(v)
    return numeric.log10(v) if isinstance(v, decimal.Decimal) else math.log10(v)


def _sign(v: Any) -> Any:
    s = (v > 0) - (v < 0)
    return type(v)(s)


# ---------------------------------------------------------------------------------------------------------
# Strings


@functools.lru_cache(maxsize=512)
def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """Translate a SQL LIKE pattern (``%``, ``_``, backslash escape) into a compiled regex."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise errors.SteadyError("LIKE pattern must not end with escape character", sqlstate="22025")
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(parts), flags)


def _like(s: str, pattern: str) -> bool:
    return like_regex(pattern, False).fullmatch(s) is not None


def _ilike(s: str, pattern: str) -> bool:
    return like_regex(pattern, True).fullmatch(s) is not None


@functools.lru_cache(maxsize=256)
def _compiled_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
    except re.error as exc:
        raise errors.SteadyError(f"invalid regular expression: {exc}", sqlstate="2201B") from None


def _regex_match(s: str, pattern: str) -> bool:
    return _compiled_regex(pattern, False).search(s) is not None


def _regex_imatch(s: str, pattern: str) -> bool:
    return _compiled_regex(pattern, True).search(s) is not None


def _substring_regex(s: str, pattern: str) -> str | None:
    """``substring(s FROM pattern)``: the first match of the POSIX regular expression, or of its first
    parenthesized subexpression when it has one; NULL when nothing matches."""
    found = _compiled_regex(pattern, False).search(s)
    if found is None:
        return None
    return found.group(1) if found.re.groups else found.group(0)


def _left(s: str, n: int) -> str:
    return s[:n] if n >= 0 else s[: max(len(s) + n, 0)]


def _right(s: str, n: int) -> str:
    if n >= 0:
        return s[len(s) - n :] if n else ""
    return s[-n:]


def _repeat(s: str, n: int) -> str:
    return s * n if n > 0 else ""


def _position(sub: str, s: str) -> int:
    return s.find(sub) + 1


def _concat2(a: Any, b: Any) -> str:
    return (a if type(a) is str else to_text(a)) + (b if type(b) is str else to_text(b))  # type: ignore[operator]


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _substr(s: str, start: int, length: int | None = None) -> str:
    first = max(start, 1)
    if length is None:
        return s[first - 1 :]
    if length < 0:
        raise errors.SteadyError("negative substring length not allowed", sqlstate="22011")
    end = start + length
    return s[first - 1 : end - 1] if end > first else ""


def _replace(s: str, old: str, new: str) -> str:
    return s.replace(old, new) if old else s


def _pad(s: str, length: int, fill: str, left: bool) -> str:
    if length <= len(s):
        return s[: max(length, 0)]
    if not fill:
        return s
    need = length - len(s)
    padding = (fill * (need // len(fill) + 1))[:need]
    return padding + s if left else s + padding


def _lpad(s: str, length: int, fill: str = " ") -> str:
    return _pad(s, length, fill, True)


def _rpad(s: str, length: int, fill: str = " ") -> str:
    return _pad(s, length, fill, False)


# ---------------------------------------------------------------------------------------------------------
# Tables

def _wrapped(value: int, bits: int) -> int:
    """``value`` as a ``bits``-bit two's-complement integer (C's conversion to a narrower signed type)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _shift(left: bool, bits: int) -> Callable[[int, int], int]:
    """PostgreSQL's ``<<``/``>>`` on an integer of ``bits`` bits, as its C code runs on x86-64: the count is taken
    modulo the width the shift is done in (32 bits for smallint and integer, 64 for bigint), the result wraps."""
    width = 64 if bits == 64 else 32

    def shift(value: int, count: int) -> int:
        count &= width - 1
        return _wrapped(_wrapped(value << count, width), bits) if left else value >> count
    return shift


#: integer bitwise operators (``&``, ``|``, ``#``, ``<<``, ``>>``); the shifts' names carry the operand's width
BITWISE: dict[str, Callable[[Any, Any], Any]] = {
    "bitand": lambda a, b: a & b, "bitor": lambda a, b: a | b, "bitxor": lambda a, b: a ^ b,
    **{f"shl_{name}": _shift(True, bits) for name, bits in (("int2", 16), ("int4", 32), ("int8", 64))},
    **{f"shr_{name}": _shift(False, bits) for name, bits in (("int2", 16), ("int4", 32), ("int8", 64))},
}

UNARY_STRICT: dict[str, Callable[[Any], Any]] = {
    **string_math.UNARY_STRICT,
    "not": lambda v: not v,
    "bitnot": lambda v: ~v,
    "upper": str.upper,
    "lower": str.lower,
    "length": len,
    "trim": lambda s: s.strip(" "),
    "ltrim": lambda s: s.lstrip(" "),
    "rtrim": lambda s: s.rstrip(" "),
    "round": _round,
    "floor": _floor,
    "ceil": _ceil,
    "sqrt": _sqrt,
    "exp": _exp,
    "ln": _ln,
    "log10": _log10,
    "sign": _sign,
    "md5": _md5,
    "float4_to_text": float4_to_text,
}

UNARY_NONSTRICT: dict[str, Callable[[Any], Any]] = {
    "is_null": lambda v: v is None,
    "is_not_null": lambda v: v is not None,
    "is_true": lambda v: v is True,
    "is_false": lambda v: v is False,
    "is_not_true": lambda v: v is not True,
    "is_not_false": lambda v: v is not False,
}

# Comparisons with PostgreSQL's rule for NaN (float and numeric): NaN equals NaN and is greater than every other
# value.  A value unequal to itself is a NaN; Python's operators would say NaN = NaN is false (and raise for numeric
# NaN with < and >).


def sql_eq(a: Any, b: Any) -> bool:
    return a == b or (a != a and b != b)


def sql_lt(a: Any, b: Any) -> bool:
    if a == a and b == b:
        return a < b
    return a == a  # only a non-NaN is below a NaN


def sql_lte(a: Any, b: Any) -> bool:
    if a == a and b == b:
        return a <= b
    return b != b  # everything is at most a NaN


def _subquery_cardinality(count: Any, _typed_null: Any) -> Any:
    raise errors.SteadyError("more than one row returned by a subquery used as an expression", sqlstate="21000")


BINARY_STRICT: dict[str, Callable[[Any, Any], Any]] = {
    **string_math.BINARY_STRICT,
    "temporal_add": _temporal("add"),
    "temporal_sub": _temporal("sub"),
    "temporal_mul": _temporal("mul"),
    "temporal_div": _temporal("div"),
    "eq": sql_eq,
    "neq": lambda a, b: not sql_eq(a, b),
    "lt": sql_lt,
    "lte": sql_lte,
    "gt": lambda a, b: sql_lt(b, a),
    "gte": lambda a, b: sql_lte(b, a),
    "concat": _concat2,
    "like": _like,
    "not_like": lambda s, p: not _like(s, p),
    "ilike": _ilike,
    "not_ilike": lambda s, p: not _ilike(s, p),
    "regex_match": _regex_match,
    "regex_imatch": _regex_imatch,
    "pow": _pow,
    "round_to": _round_to,
    "position": _position,
    "left": _left,
    "right": _right,
    "repeat": _repeat,
    "substring_regex": _substring_regex,
    # trim(... chars FROM s), btrim/ltrim/rtrim(s, chars): the longest run of characters in ``chars`` at the end(s)
    "btrim_chars": lambda s, chars: s.strip(chars),
    "ltrim_chars": lambda s, chars: s.lstrip(chars),
    "rtrim_chars": lambda s, chars: s.rstrip(chars),
    "date_part": _date_part,
    "extract": _extract,
    "date_trunc": _date_trunc,
}

BINARY_STRICT.update(BITWISE)

BINARY_NONSTRICT: dict[str, Callable[[Any, Any], Any]] = {
    "subquery_cardinality": _subquery_cardinality,  # the error row of a scalar subquery with several rows
    "nullif": lambda a, b: None if a is not None and b is not None and sql_eq(a, b) else a,
}


def _greatest(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present, key=nan_last) if present else None


def _least(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return min(present, key=nan_last) if present else None


def _in_list(values: list[Any]) -> bool | None:
    needle, candidates = values[0], values[1:]
    if needle is None:
        return None if candidates else False
    saw_null = False
    for candidate in candidates:
        if candidate is None:
            saw_null = True
        elif sql_eq(candidate, needle):
            return True
    return None if saw_null else False


def _between(values: list[Any]) -> bool | None:
    x, low, high = values
    above = None if x is None or low is None else sql_lte(low, x)
    below = None if x is None or high is None else sql_lte(x, high)
    if above is False or below is False:
        return False
    if above is None or below is None:
        return None
    return True


def _concat_all(values: list[Any]) -> str:
    return "".join(v if type(v) is str else to_text(v) for v in values if v is not None)  # type: ignore[misc]


VARIADIC_NONSTRICT: dict[str, Callable[[list[Any]], Any]] = {
    **string_math.VARIADIC_NONSTRICT,
    "greatest": _greatest,
    "least": _least,
    "in_list": _in_list,
    "between": _between,
    "concat": _concat_all,
    "mz_now": mz_now_unbound,  # a query or a temporal filter replaces it (expr.temporal_filter)
}

VARIADIC_STRICT: dict[str, Callable[..., Any]] = {
    **string_math.VARIADIC_STRICT,
    **TIME_FUNCTIONS,  # make_date, make_timestamp, date_bin, age, timezone, ... (expr.time_functions)
    "substr": _substr,
    "replace": _replace,
    "lpad": _lpad,
    "rpad": _rpad,
}

# jsonb, uuid and bytea (expr/jsonb_functions.py)
UNARY_STRICT.update(jsonb_functions.UNARY_STRICT)
UNARY_NONSTRICT.update(jsonb_functions.UNARY_NONSTRICT)
BINARY_STRICT.update(jsonb_functions.BINARY_STRICT)
VARIADIC_STRICT.update(jsonb_functions.VARIADIC_STRICT)
VARIADIC_NONSTRICT.update(jsonb_functions.VARIADIC_NONSTRICT)

# format, overlay, SIMILAR TO, quote_* (expr/text_functions.py)
UNARY_STRICT.update(text_functions.UNARY_STRICT)
UNARY_NONSTRICT.update(text_functions.UNARY_NONSTRICT)
VARIADIC_STRICT.update(text_functions.VARIADIC_STRICT)
VARIADIC_NONSTRICT.update(text_functions.VARIADIC_NONSTRICT)
BINARY_NONSTRICT.update(text_functions.BINARY_NONSTRICT)
BINARY_STRICT.update(text_functions.BINARY_STRICT)
VARIADIC_STRICT.update(jsonb_paths.VARIADIC_STRICT)  # jsonb_set, jsonb_insert (expr/jsonb_paths.py)
VARIADIC_STRICT.update(to_char_number.VARIADIC_STRICT)  # to_char(number, text) (expr/to_char_number.py)
VARIADIC_STRICT.update(to_date.VARIADIC_STRICT)  # to_date, to_timestamp(text, text) (expr/to_date.py)

# Functions evaluated lazily by expr.eval (listed so the vocabulary is complete in one place).
LAZY_FUNCTIONS = frozenset({"and", "or", "coalesce"})

# the array vocabulary (expr/arrays.py) joins the tables above
from steadystate.expr import arrays as _arrays  # noqa: E402

UNARY_STRICT.update(_arrays.UNARY_STRICT)
BINARY_STRICT.update(_arrays.BINARY_STRICT)
BINARY_NONSTRICT.update(_arrays.BINARY_NONSTRICT)
VARIADIC_STRICT.update(_arrays.VARIADIC_STRICT)
VARIADIC_NONSTRICT.update(_arrays.VARIADIC_NONSTRICT)
