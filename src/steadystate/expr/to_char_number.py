"""``to_char(number, text)``: PostgreSQL's numeric template patterns (``formatting.c``, ``NUM_processor``).

The template is read left to right into nodes: the keywords ``9 0 . , D G L S MI PL SG PR FM EEEE V RN TH`` (and lower
case ``d g l s mi pl sg pr fm eeee``; ``B``/``C``/``SP`` are accepted and print nothing, as in PostgreSQL), ``"..."``
literal text, ``\\"`` a double quote; any other character is copied.  ``V`` multiplies by 10 per ``9`` after it; ``RN``/``rn`` prints the value as a Roman numeral (1 to 3999, else
``#``), ``TH``/``th`` adds an integer's ordinal suffix.
The value is first written as PostgreSQL does for its type (:func:`_digits`): rounded to the template's
fractional digits (numeric: half away from zero; float: as C's ``printf``, which also limits float4/float8 to 6/15
significant digits), then laid out digit by digit by :class:`_Layout`, a transcription of ``NUM_numpart_to_char``:
leading blanks (or zeros from the first ``0`` on), the sign where the first digit goes (``S`` anchored to the
number, ``PR`` as ``<...>``, ``MI``/``PL``/``SG`` where they stand), ``FM`` dropping the padding and trailing
fractional zeros.  Too many integer digits fill the pattern with ``#``.  The locale is C's (PostgreSQL's default
here): ``D`` is ``.``, ``G`` is ``,``, ``L`` a blank.  ``EEEE`` prints the scientific form alone.
"""

from __future__ import annotations

import decimal
import enum
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from steadystate import errors
from steadystate.repr.types import ScalarType


class Key(enum.Enum):
    COMMA = ","
    DEC = "."
    ZERO = "0"
    NINE = "9"
    B = "B"
    C = "C"
    D = "D"
    EEEE = "EEEE"
    FM = "FM"
    G = "G"
    L = "L"
    MI = "MI"
    PL = "PL"
    PR = "PR"
    RN = "RN"
    SG = "SG"
    SP = "SP"
    S = "S"
    TH = "TH"
    V = "V"
    RN_LOWER = "rn"
    TH_LOWER = "th"


_LOWER = {Key.RN: Key.RN_LOWER, Key.TH: Key.TH_LOWER}
#: the keywords in PostgreSQL's search order (the first that matches at a position wins)
_KEYWORDS: list[tuple[str, Key]] = [(k.value, k) for k in Key if k not in _LOWER.values()] + [
    (k.value.lower(), _LOWER.get(k, k)) for k in Key if k.value.isalpha() and k.value.isupper()]
_DIGITS = (Key.NINE, Key.ZERO, Key.DEC, Key.D)
_ROMAN = [("M", 1000), ("CM", 900), ("D", 500), ("CD", 400), ("C", 100), ("XC", 90), ("L", 50), ("XL", 40),
          ("X", 10), ("IX", 9), ("V", 5), ("IV", 4), ("I", 1)]


def _syntax(message: str, detail: str | None = None) -> errors.SteadyError:
    return errors.SteadyError(message, sqlstate="42601", detail=detail)


@dataclass
class _Desc:
    """PostgreSQL's ``NUMDesc``: what the template asks for."""

    pre: int = 0
    post: int = 0
    decimal: bool = False
    zero: bool = False
    zero_start: int = 0
    zero_end: int = 0
    fill: bool = False
    lsign: int = 0  # -1 before the number, 1 after, 0 none
    pre_lsign_num: int = 0
    bracket: bool = False
    minus: bool = False
    plus: bool = False
    eeee: bool = False
    blank: bool = False
    multi: int = 0  # the 9s after V: the value is multiplied by 10 to their number
    is_multi: bool = False
    roman: bool = False
    int4: bool = False  # the value is an integer (EEEE is printf's for int4, numeric's for int8)
    nodes: list[Key | str] = field(default_factory=list)


def _add(desc: _Desc, key: Key) -> None:
    if desc.eeee and key is not Key.EEEE:
        raise _syntax('"EEEE" must be the last pattern used')
    if key in (Key.RN, Key.RN_LOWER):
        desc.roman = True
    if key in (Key.NINE, Key.ZERO):
        if desc.bracket:
            raise _syntax(f'"{key.value}" must be ahead of "PR"')
        if key is Key.NINE and desc.is_multi:
            desc.multi += 1
            return
        if key is Key.ZERO and not desc.zero and not desc.decimal:
            desc.zero, desc.zero_start = True, desc.pre + 1
        if desc.decimal:
            desc.post += 1
        else:
            desc.pre += 1
        if key is Key.ZERO:
            desc.zero_end = desc.pre + desc.post
    elif key is Key.B:
        if desc.pre == 0 and desc.post == 0 and not desc.zero:
            desc.blank = True
    elif key in (Key.D, Key.DEC):
        if desc.decimal:
            raise _syntax("multiple decimal points")
        if desc.is_multi:
            raise _syntax('cannot use "V" and decimal point together')
        desc.decimal = True
    elif key is Key.V:
        if desc.decimal:
            raise _syntax('cannot use "V" and decimal point together')
        desc.is_multi = True
    elif key is Key.FM:
        desc.fill = True
    elif key is Key.S:
        if desc.lsign:
            raise _syntax('cannot use "S" twice')
        if desc.plus or desc.minus or desc.bracket:
            raise _syntax('cannot use "S" and "PL"/"MI"/"SG"/"PR" together')
        if not desc.decimal:
            desc.lsign, desc.pre_lsign_num = -1, desc.pre
        else:
            desc.lsign = 1
    elif key in (Key.MI, Key.PL, Key.SG):
        if desc.lsign:
            raise _syntax(f'cannot use "S" and "{key.value}" together')
        desc.minus |= key in (Key.MI, Key.SG)
        desc.plus |= key in (Key.PL, Key.SG)
    elif key is Key.PR:
        if desc.lsign or desc.plus or desc.minus:
            raise _syntax('cannot use "PR" and "S"/"PL"/"MI"/"SG" together')
        desc.bracket = True
    elif key is Key.EEEE:
        if desc.eeee:
            raise _syntax('cannot use "EEEE" twice')
        if desc.blank or desc.fill or desc.lsign or desc.bracket or desc.minus or desc.plus or desc.is_multi \
                or desc.roman:
            raise _syntax('"EEEE" is incompatible with other formats',
                          '"EEEE" may only be used together with digit and decimal point patterns.')
        desc.eeee = True


def parse_template(template: str) -> _Desc:
    desc = _Desc()
    i, n = 0, len(template)
    while i < n:
        for name, key in _KEYWORDS:
            if template.startswith(name, i):
                _add(desc, key)
                desc.nodes.append(key)
                i += len(name)
                break
        else:
            c = template[i]
            if c == '"':
                i += 1
                while i < n and template[i] != '"':
                    if template[i] == "\\" and i + 1 < n:
                        i += 1
                    desc.nodes.append(template[i])
                    i += 1
                i += 1
                continue
            if c == "\\" and i + 1 < n and template[i + 1] == '"':
                i += 1
            desc.nodes.append(template[i])
            i += 1
    return desc


def _round_half_away(value: decimal.Decimal, places: int) -> decimal.Decimal:
    return value.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)


def _numeric_sci(value: decimal.Decimal, places: int) -> str:
    """PostgreSQL's ``numeric_out_sci``: the significand is not renormalised after rounding (9.99 → 10.0e+00)."""
    exponent = 0 if value == 0 else value.adjusted()
    significand = _round_half_away(value.scaleb(-exponent), places)
    if significand == 0:
        significand = abs(significand)
    return f"{significand:f}e{exponent:+03d}"


def _sci(value: Any, desc: _Desc) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            chars = ["#"] * (desc.pre + desc.post + 6)
            chars[0], chars[desc.pre + 1] = " ", "."
            return "".join(chars)
        text = "%+.*e" % (desc.post, value)
        return " " + text[1:] if text.startswith("+") else text
    if isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31 and desc.int4:
        text = "%+.*e" % (desc.post, float(value))
        return " " + text[1:] if text.startswith("+") else text
    number = decimal.Decimal(value)
    if not number.is_finite():
        chars = ["#"] * (desc.pre + desc.post + 6)
        chars[0], chars[desc.pre + 1] = " ", "."
        return "".join(chars)
    text = _numeric_sci(number, desc.post)
    return text if text.startswith("-") else " " + text


def _printf_f(value: float, places: int) -> str:
    """PostgreSQL's own ``snprintf("%.*f")``, which spells NaN and infinities ``NaN``/``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return "%.*f" % (places, value)


def _digits(value: Any, desc: _Desc, kind: str) -> tuple[str, str]:
    """The unsigned digits PostgreSQL lays out (``123.40``) and the sign (``+``/``-``), for the value's type."""
    if desc.is_multi:
        if kind in ("float4", "float8"):
            value = value * float(10 ** desc.multi)
            if kind == "float4":  # PostgreSQL multiplies in single precision
                try:
                    value = struct.unpack("f", struct.pack("f", value))[0]
                except OverflowError:
                    value = math.copysign(math.inf, value)
        else:
            value = value * 10 ** desc.multi
        desc.pre += desc.multi
    if kind in ("float4", "float8"):
        limit = 6 if kind == "float4" else 15
        pre_len = len(_printf_f(abs(value), 0))
        if pre_len >= limit:
            desc.post = 0
        elif pre_len + desc.post > limit:
            desc.post = limit - pre_len
        text = _printf_f(value, desc.post)
    elif kind == "numeric":
        number = decimal.Decimal(value)
        if number.is_finite():
            rounded = _round_half_away(number, desc.post)
            text = f"{abs(rounded) if rounded == 0 else rounded:f}"
        else:
            text = "NaN" if number.is_nan() else ("-Infinity" if number < 0 else "Infinity")
    else:
        text = str(int(value))
        if desc.post:
            text = f"{text}.{'0' * desc.post}"
    sign = "-" if text.startswith("-") else "+"
    return text.lstrip("-"), sign


def _ordinal(number: str) -> str:
    """PostgreSQL's ``get_th``: ST, ND, RD or TH for the number's last digit (TH for 11 to 13)."""
    if not number or not number[-1].isdigit():
        raise errors.InvalidTextRepresentation(f'"{number}" is not a number')
    if len(number) > 1 and number[-2] == "1":
        return "TH"
    return {"1": "ST", "2": "ND", "3": "RD"}.get(number[-1], "TH")


class _Layout:
    """``NUM_processor``/``NUM_numpart_to_char`` for to_char: the number's characters placed by the template."""

    def __init__(self, desc: _Desc, number: str, sign: str, pre_spaces: int) -> None:
        self.d, self.number, self.sign, self.pre_spaces = desc, number, sign, pre_spaces
        self.out: list[str] = []
        self.p = 0  # the next character of ``number``
        self.curr = 0
        self.num_in = False
        if desc.zero_start:
            desc.zero_start -= 1
        if desc.plus or desc.minus:
            self.sign_wrote = not (desc.plus and not desc.minus)
        else:
            if sign != "-" and desc.bracket and desc.fill:
                desc.bracket = False
            self.sign_wrote = sign == "+" and desc.fill and not desc.lsign
            if desc.lsign == -1 and desc.pre == desc.pre_lsign_num:
                desc.lsign = 1
        self.count = desc.post + desc.pre - 1
        self.last: int | None = None  # the last significant fractional digit (FM)
        if desc.fill and desc.decimal:
            point = number.find(".")
            if point >= 0:
                self.last = point
                for k in range(point + 1, len(number)):
                    if number[k] != "0":
                        self.last = k
                if desc.zero_end > pre_spaces:
                    last_zero = min(len(number) - 1, desc.zero_end - pre_spaces)
                    self.last = max(self.last, last_zero)
        if not self.sign_wrote and pre_spaces == 0:
            self.count += 1

    def _char(self, index: int) -> str:
        return self.number[index] if index < len(self.number) else "\0"

    def _predec_space(self) -> bool:
        return not self.d.zero and self.p == 0 and self._char(0) == "0" and self.d.post != 0

    def _last_is_point(self) -> bool:
        return self.last is not None and self._char(self.last) == "."

    def digit(self, key: Key) -> None:
        d, out = self.d, self.out
        self.num_in = False
        if not self.sign_wrote and (self.curr >= self.pre_spaces or (d.zero and d.zero_start == self.curr)) \
                and (not self._predec_space() or self._last_is_point()):
            if d.lsign:
                if d.lsign == -1:
                    out.append("-" if self.sign == "-" else "+")
                    self.sign_wrote = True
            elif d.bracket:
                out.append(" " if self.sign == "+" else "<")
                self.sign_wrote = True
            elif self.sign == "+":
                if not d.fill:
                    out.append(" ")
                self.sign_wrote = True
            else:
                out.append("-")
                self.sign_wrote = True
        if self.curr < self.pre_spaces and (d.zero_start > self.curr or not d.zero):
            if not d.fill:
                out.append(" ")
        elif d.zero and self.curr < self.pre_spaces and d.zero_start <= self.curr:
            out.append("0")
            self.num_in = True
        else:
            ch = self._char(self.p)
            if ch == ".":
                out.append(".")
            elif self.last is not None and self.p > self.last and key is not Key.ZERO:
                pass
            elif self._predec_space():
                if not d.fill:
                    out.append(" ")
                elif self._last_is_point():
                    out.append("0")
            else:
                out.append(ch)
                self.num_in = True
            if self.p < len(self.number):
                self.p += 1
        end = self.count + (1 if self.pre_spaces else 0) + (1 if d.decimal else 0)
        if self.last is not None and self.last == self.p:
            end = self.curr
        if self.curr + 1 == end:
            if self.sign_wrote and d.bracket:
                out.append(" " if self.sign == "+" else ">")
            elif d.lsign == 1:
                out.append("-" if self.sign == "-" else "+")
        self.curr += 1

    def run(self) -> str:
        d, out = self.d, self.out
        for node in d.nodes:
            if isinstance(node, str):
                out.append(node)
            elif node in _DIGITS:
                self.digit(node)
            elif node in (Key.COMMA, Key.G):
                if self.num_in:
                    out.append(",")
                elif not d.fill:
                    out.append(" ")
            elif node is Key.L:
                out.append(" ")
            elif node is Key.MI:
                if self.sign == "-":
                    out.append("-")
                elif not d.fill:
                    out.append(" ")
            elif node is Key.PL:
                if self.sign == "+":
                    out.append("+")
                elif not d.fill:
                    out.append(" ")
            elif node is Key.SG:
                out.append(self.sign)
            elif node in (Key.TH, Key.TH_LOWER) and not (self.number.startswith("#") or self.sign == "-"
                                                         or d.decimal):
                suffix = _ordinal(self.number)
                out.append(suffix if node is Key.TH else suffix.lower())
        return "".join(out).split("\0", 1)[0]


def int_to_roman(number: int) -> str:
    """PostgreSQL's ``int_to_roman``: 1 to 3999 in capitals, else 15 ``#``."""
    if not 1 <= number <= 3999:
        return "#" * 15
    out = []
    for letters, worth in _ROMAN:
        count, number = divmod(number, worth)
        out.append(letters * count)
    return "".join(out)


def _roman_value(value: Any, kind: str) -> str:
    out_of_range = errors.NumericValueOutOfRange("integer out of range")
    if kind in ("float4", "float8"):  # (int) rint(value): out of range, PostgreSQL's numeral is #s
        return int_to_roman(round(value) if math.isfinite(value) and -2**31 <= round(value) < 2**31 else 0)
    if kind == "numeric":
        number = decimal.Decimal(value)
        if not number.is_finite():
            raise errors.FeatureNotSupported("cannot convert NaN to integer") if number.is_nan() else out_of_range
        value = int(_round_half_away(number, 0))
    if not -2**31 <= int(value) < 2**31:
        raise out_of_range
    return int_to_roman(int(value))


def _roman(desc: _Desc, numeral: str) -> str:
    """``NUM_processor`` with ``RN``: every flag but FM dropped, no sign, the numeral at ``RN`` (15 wide without
    FM), blanks for the separators and signs that would print one."""
    out: list[str] = []
    for node in desc.nodes:
        if isinstance(node, str):
            out.append(node)
        elif node in (Key.RN, Key.RN_LOWER):
            shown = numeral if node is Key.RN else numeral.lower()
            out.append(shown if desc.fill else shown.rjust(15))
        elif node in (Key.COMMA, Key.G, Key.MI, Key.PL) and not desc.fill or node is Key.L:
            out.append(" ")
        elif node is Key.SG:
            out.append("\0")  # PostgreSQL writes the sign, which is none: the output ends there
    return "".join(out).split("\0", 1)[0]


def to_char_number(value: Any, template: str, kind: str) -> str:
    """``to_char`` of a value of type ``kind`` (``int4``, ``int8``, ``numeric``, ``float4``, ``float8``)."""
    if not template:
        return ""
    desc = parse_template(template)
    if desc.roman:
        return _roman(desc, _roman_value(value, kind))
    if desc.eeee:
        desc.int4 = kind == "int4"
        return _sci(float(value) if kind in ("float4", "float8") else value, desc)
    number, sign = _digits(value, desc, kind)
    point = number.find(".")
    pre_len = point if point >= 0 else len(number)
    pre_spaces = 0
    if pre_len < desc.pre:
        pre_spaces = desc.pre - pre_len
    elif pre_len > desc.pre:
        chars = ["#"] * (desc.pre + desc.post + 1)
        chars[desc.pre] = "."
        number = "".join(chars)
    return _Layout(desc, number, sign, pre_spaces).run()


VARIADIC_STRICT = {"to_char_number": to_char_number}
RESULT_TYPES = {"to_char_number": ScalarType.TEXT}

__all__ = ["RESULT_TYPES", "VARIADIC_STRICT", "int_to_roman", "parse_template", "to_char_number"]
