"""``format``, ``overlay``, ``SIMILAR TO``, ``quote_literal``/``quote_nullable``/``quote_ident``: PostgreSQL's
definitions (``src/backend/utils/adt/varlena.c``, ``regexp.c``, ``quote.c``, ``ruleutils.c``).

* ``format(fmt, args...)``: ``%[n$][-][width|*|*n$]{s,I,L}`` and ``%%``.  ``s`` is the value's text (NULL: empty),
  ``I`` :func:`quote_ident` (NULL: 22004), ``L`` :func:`quote_nullable`.  An argument without a position is the one
  after the last one used; a width pads with spaces on the left (``-``: on the right), ``*`` takes it from an
  argument (negative: left-justified, NULL: none).  Errors are PostgreSQL's (22023 for a bad specifier or too few
  arguments, 22003 for a number out of range).
* ``overlay(s placing r from n [for m])`` is ``substr(s, 1, n - 1) || r || substr(s, n + m)``; ``m`` defaults to
  ``length(r)``; ``n < 1`` is 22011.
* ``x SIMILAR TO p [ESCAPE e]``: ``p`` translated to a regular expression as ``similar_escape`` does (``%`` → ``.*``,
  ``_`` → ``.``, ``(`` non-capturing, ``.``/``\\`` literal, bracket expressions copied, the escape character makes
  the next character literal, ``e"`` separates the SUBSTRING parts), anchored at both ends as ``^(?:...)$``;
  PostgreSQL's regex escapes that Python reads otherwise (``\\b``, ``\\y``, ``\\m``, ...) are translated.
* ``x LIKE p ESCAPE e`` rewrites ``p`` to the default backslash escape (``like_escape``).
* ``quote_ident`` quotes unless the name is a lower-case identifier that is not one of PostgreSQL's keywords other
  than the unreserved ones (:data:`QUOTED_KEYWORDS`, ``pg_get_keywords()`` where ``catcode <> 'U'``).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

from steadystate import errors
from steadystate.expr.casts import to_text
from steadystate.repr.types import ScalarType

#: PostgreSQL's keywords that ``quote_ident`` quotes (every category but unreserved; PostgreSQL 15)
QUOTED_KEYWORDS = frozenset("""all analyse analyze and any array as asc asymmetric authorization between bigint binary
bit boolean both case cast char character check coalesce collate collation column concurrently constraint create cross
current_catalog current_date current_role current_schema current_time current_timestamp current_user dec decimal
default deferrable desc distinct do else end except exists extract false fetch float for foreign freeze from full
grant greatest group grouping having ilike in initially inner inout int integer intersect interval into is isnull join
lateral leading least left like limit localtime localtimestamp national natural nchar none normalize not notnull null
nullif numeric offset on only or order out outer overlaps overlay placing position precision primary real references
returning right row select session_user setof similar smallint some substring symmetric table tablesample then time
timestamp to trailing treat trim true union unique user using values varchar variadic verbose when where window with
xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize
xmltable""".split())

_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_INT4_MAX = 2**31 - 1


def quote_ident(name: str) -> str:
    if _SAFE_IDENT.fullmatch(name) and name not in QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``'...'`` with quotes doubled; with a backslash, ``E'...'`` with backslashes doubled too."""
    body = text.replace("'", "''")
    if "\\" in text:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def quote_nullable(text: str | None) -> str:
    return "NULL" if text is None else quote_literal(text)


def _text(value: Any) -> str:
    """A value's output: the planner casts all but bools to text (a bool's output is ``t``/``f``)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    return value if isinstance(value, str) else str(to_text(value))


def _bad(message: str, hint: str | None = None) -> errors.SteadyError:
    return errors.SteadyError(message, sqlstate="22023", hint=hint)


_SINGLE_PERCENT = 'For a single "%" use "%%".'


def _digits(fmt: str, i: int) -> tuple[int | None, int]:
    """A run of digits at ``fmt[i]`` as a number (``None`` if there is none) and the index after it."""
    j = i
    while j < len(fmt) and fmt[j].isdigit():
        j += 1
    if j == i:
        return None, i
    number = int(fmt[i:j])
    if number > _INT4_MAX:
        raise errors.NumericValueOutOfRange("number is out of range")
    return number, j


def _need(fmt: str, i: int) -> None:
    if i >= len(fmt):
        raise _bad("unterminated format() type specifier", _SINGLE_PERCENT)


def _width_value(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        text = _text(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise errors.SteadyError(f'invalid input syntax for type integer: "{_text(value)}"', sqlstate="22P02")
        value = int(text)
    if not -_INT4_MAX - 1 <= value <= _INT4_MAX:
        raise errors.NumericValueOutOfRange("integer out of range")
    return int(value)


def format_text(values: list[Any]) -> str | None:
    """``format(values[0], values[1:]...)``: NULL when the format string is NULL."""
    fmt, args = values[0], values[1:]
    if fmt is None:
        return None
    out: list[str] = []
    last = 0  # the last argument used (1-based; 0: none yet)
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        i += 1
        _need(fmt, i)
        if fmt[i] == "%":
            out.append("%")
            i += 1
            continue
        position: int | None = None
        width = 0
        width_position: int | None = None  # 0: the next argument
        left = False
        number, j = _digits(fmt, i)
        _need(fmt, j)
        if number is not None and fmt[j] == "$":
            if number == 0:
                raise _bad("format specifies argument 0, but arguments are numbered from 1")
            position, i = number, j + 1
            _need(fmt, i)
        elif number is not None:
            width, i = number, j
        if number is None or position is not None:
            while fmt[i] == "-":
                left = True
                i += 1
                _need(fmt, i)
            if fmt[i] == "*":
                i += 1
                _need(fmt, i)
                number, j = _digits(fmt, i)
                if number is not None:
                    _need(fmt, j)
                    if fmt[j] != "$":
                        raise _bad('width argument position must be ended by "$"')
                    if number == 0:
                        raise _bad("format specifies argument 0, but arguments are numbered from 1")
                    width_position, i = number, j + 1
                else:
                    width_position = 0
                _need(fmt, i)
            else:
                number, i = _digits(fmt, i)
                width = number or 0
                _need(fmt, i)
        kind = fmt[i]
        if kind not in "sIL":
            raise _bad(f'unrecognized format() type specifier "{kind}"', _SINGLE_PERCENT)
        i += 1
        if width_position is not None:
            last = width_position or last + 1
            if last > len(args):
                raise _bad("too few arguments for format()")
            width = _width_value(args[last - 1])
            if width < 0:
                left, width = True, -width
        last = position or last + 1
        if last > len(args):
            raise _bad("too few arguments for format()")
        value = args[last - 1]
        if kind == "s":
            shown = "" if value is None else _text(value)
        elif kind == "L":
            shown = quote_nullable(None if value is None else _text(value))
        else:
            if value is None:
                raise errors.SteadyError("null values cannot be formatted as an SQL identifier", sqlstate="22004")
            shown = quote_ident(_text(value))
        pad = " " * max(0, width - len(shown))
        out.append(shown + pad if left else pad + shown)
    return "".join(out)


def overlay(text: Any, replacement: Any, start: int, count: int | None = None) -> Any:
    """Over text or bytes alike."""
    length = len(replacement) if count is None else count
    if start <= 0:
        raise errors.SteadyError("negative substring length not allowed", sqlstate="22011")
    if start + length > _INT4_MAX:
        raise errors.NumericValueOutOfRange("integer out of range")
    return text[:start - 1] + replacement + text[max(start + length - 1, 0):]


def similar_to_regex(pattern: str, escape: str | None = "\\") -> str:
    """PostgreSQL's ``similar_escape``: the SQL pattern as a Python regular expression matching the whole text."""
    if escape is not None and len(escape) > 1:
        raise errors.SteadyError("invalid escape string", sqlstate="22025",
                                 hint="Escape string must be empty or one character.")
    esc = escape or None
    out: list[str] = []
    after_escape = in_class = False
    class_start = caret_allowed = False  # just after ``[`` (``]`` is literal there) / ``^`` may still negate
    quotes = 0
    for c in pattern:
        if after_escape:
            if c == '"' and not in_class:
                if quotes >= 2:
                    raise errors.SteadyError(
                        "SQL regular expression may not contain more than two escape-double-quote separators",
                        sqlstate="2200C")
                out.append("){1,1}?(" if quotes == 0 else "){1,1}(?:")
                quotes += 1
            else:
                out.append(_ARE_ESCAPES.get(c, "\\" + c) if c.isalnum() else re.escape(c))
            after_escape = False
        elif c == esc:
            after_escape = True
        elif in_class:
            out.append({"\\": "\\\\", "[": "\\["}.get(c, c))
            if c == "^" and caret_allowed:
                caret_allowed = False
            elif c == "]" and not class_start:
                in_class = False
            else:
                class_start = caret_allowed = False
        elif c == "[":
            out.append("[")
            in_class = class_start = caret_allowed = True
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c == "(":
            out.append("(?:")
        elif c in "\\.$^":  # literal in an SQL pattern (``$``/``^`` would be anchors to the regex library)
            out.append("\\" + c)
        else:
            out.append(c)
    regex = "".join(out)
    if _possessive(regex):  # PostgreSQL's regex library has no possessive quantifiers (Python's has)
        raise errors.SteadyError("invalid regular expression: quantifier operand invalid", sqlstate="2201B")
    return "^(?:" + regex + ")\\Z"


#: PostgreSQL's regex escapes that Python spells otherwise (``\b`` is a backspace there, ``\y`` a word boundary)
_ARE_ESCAPES = {"b": "\\x08", "B": "\\\\", "y": "\\b", "Y": "\\B", "m": "\\b(?=\\w)", "M": "\\b(?<=\\w)",
                "e": "\\x1b"}
_BOUNDED = re.compile(r"\{\d+(?:,\d*)?\}")


def _possessive(regex: str) -> bool:
    """Whether ``regex`` has a quantifier followed by ``+`` outside brackets and escapes."""
    i, in_class = 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if regex.startswith("^", i + 1):
                i += 1
            if regex.startswith("]", i + 1):
                i += 1
        elif c in "*+?" and regex.startswith("+", i + 1) and not (i > 0 and regex[i - 1] == "("):
            return True
        elif c == "{" and (bounded := _BOUNDED.match(regex, i)) is not None:
            if regex.startswith("+", bounded.end()):
                return True
            i = bounded.end()
            continue
        i += 1
    return False


def like_escape(pattern: str, escape: str) -> str:
    """PostgreSQL's ``like_escape``: ``pattern ESCAPE escape`` rewritten with ``\\`` as its escape character."""
    if len(escape) > 1:
        raise errors.SteadyError("invalid escape string", sqlstate="22025",
                                 hint="Escape string must be empty or one character.")
    if escape == "\\":
        return pattern
    if not escape:
        return pattern.replace("\\", "\\\\")
    out: list[str] = []
    after_escape = False
    for c in pattern:
        if c == escape and not after_escape:
            out.append("\\")
            after_escape = True
        elif c == "\\":
            out.append("\\" if after_escape else "\\\\")
            after_escape = False
        else:
            out.append(c)
            after_escape = False
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _similar(pattern: str, escape: str | None) -> re.Pattern[str]:
    try:
        return re.compile(similar_to_regex(pattern, escape), re.DOTALL)
    except re.error as exc:
        raise errors.SteadyError(f"invalid regular expression: {exc}", sqlstate="2201B") from None


def similar_to(text: str, pattern: str, escape: str | None = "\\") -> bool:
    return _similar(pattern, escape).search(text) is not None


UNARY_STRICT: dict[str, Callable[[Any], Any]] = {
    "quote_literal": lambda value: quote_literal(_text(value)),
    "quote_ident": quote_ident,
}
UNARY_NONSTRICT: dict[str, Callable[[Any], Any]] = {
    "quote_nullable": lambda value: quote_nullable(None if value is None else _text(value)),
}
VARIADIC_STRICT: dict[str, Callable[..., Any]] = {"overlay": overlay, "overlay_bytea": overlay,
                                                  "similar_to": similar_to}
BINARY_STRICT: dict[str, Callable[[Any, Any], Any]] = {"like_escape": like_escape}
BINARY_NONSTRICT: dict[str, Callable[[Any, Any], Any]] = {
    "format_variadic": lambda template, array: format_text([template, *(array or ())]),
}
VARIADIC_NONSTRICT: dict[str, Callable[[list[Any]], Any]] = {"format": format_text}

RESULT_TYPES: dict[str, ScalarType] = {
    **{name: ScalarType.TEXT for name in ("quote_literal", "quote_ident", "quote_nullable", "overlay", "format")},
    "similar_to": ScalarType.BOOL, "format_variadic": ScalarType.TEXT, "like_escape": ScalarType.TEXT,
    "overlay_bytea": ScalarType.BYTEA,
}

__all__ = ["BINARY_NONSTRICT", "BINARY_STRICT", "QUOTED_KEYWORDS", "RESULT_TYPES", "UNARY_NONSTRICT", "UNARY_STRICT",
           "VARIADIC_NONSTRICT", "VARIADIC_STRICT", "format_text", "like_escape", "overlay", "quote_ident",
           "quote_literal", "quote_nullable", "similar_to", "similar_to_regex"]
