"""``to_date(text, text)`` and ``to_timestamp(text, text)``: PostgreSQL 15's ``do_to_timestamp`` (``formatting.c``).

The template is cut into nodes as ``parse_format`` does: a keyword (longest first, case-sensitive over
PostgreSQL's list, after an optional ``FM`` prefix and before an optional ``TH``/``th`` suffix), a space, a
separator (printable ASCII that is neither letter nor digit), or any other character; ``"..."`` is literal text
(read by ``expr.to_char.read_quoted``, which ``to_char`` shares).  The input is then read node by node:
outside ``FX`` mode spaces before a field and after it are skipped, a template space or separator takes one
space or separator from the input if there is one, a literal character takes one character (or none when
spaces were skipped before it); in ``FX`` mode each takes exactly one character.  A number field takes as many
characters as the keyword is long, or, under ``FM`` or before a non-digit node, as many digits as follow
(``strtol``).  Names (months, days, meridiem, Roman months) match case-insensitively.  The fields then combine
as ``do_to_timestamp`` combines them (12-hour clock, CC with YY, J, DDD, W/WW, SSSS, MS/US/FFn, TZH/TZM, ISO
week dates ``IYYY IW ID IDDD``, which may not be mixed with Gregorian fields) and are range-checked with
PostgreSQL's messages.
``AD``/``A.D.`` are read; ``BC`` (results before year 1, which are not representable), the ``TM`` prefix and ``SP``
suffix, and results after year 9999 are refused (0A000) rather than answered differently; ``TZ``/``OF`` are refused with PostgreSQL 15's own message.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import string
from dataclasses import dataclass
from typing import Any, Callable

from steadystate import errors
from steadystate.expr.to_char import read_quoted
from steadystate.repr.timezones import localize, parse_zone
from steadystate.repr.types import ScalarType

_UPPER = ["A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "CC", "DAY", "DDD", "DD", "DY", "Day", "Dy", "D", "FF1", "FF2",
          "FF3", "FF4", "FF5", "FF6", "FX", "HH24", "HH12", "HH", "IDDD", "ID", "IW", "IYYY", "IYY", "IY", "I", "J",
          "MI", "MM", "MONTH", "MON", "MS", "Month", "Mon", "OF", "P.M.", "PM", "Q", "RM", "SSSSS", "SSSS", "SS",
          "TZH", "TZM", "TZ", "US", "WW", "W", "Y,YYY", "YYYY", "YYY", "YY", "Y"]
_LOWER = ["a.d.", "a.m.", "ad", "am", "b.c.", "bc", "cc", "day", "ddd", "dd", "dy", "d", "ff1", "ff2", "ff3", "ff4",
          "ff5", "ff6", "fx", "hh24", "hh12", "hh", "iddd", "id", "iw", "iyyy", "iyy", "iy", "i", "j", "mi", "mm",
          "month", "mon", "ms", "of", "p.m.", "pm", "q", "rm", "sssss", "ssss", "ss", "tzh", "tzm", "tz", "us", "ww",
          "w", "y,yyy", "yyyy", "yyy", "yy", "y"]
_KEYWORDS = sorted(_UPPER + _LOWER, key=len, reverse=True)
_TEXT_KEYWORDS = frozenset(k.upper() for k in ("A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "DAY", "DY", "FX", "MONTH",
                                               "MON", "OF", "P.M.", "PM", "RM", "TZH", "TZ"))
_ISO = frozenset({"IDDD", "ID", "IW", "IYYY", "IYY", "IY", "I"})
_GREGORIAN = frozenset({"DDD", "DD", "D", "MM", "MONTH", "MON", "RM", "WW", "W", "Y,YYY", "YYYY", "YYY", "YY", "Y"})
_SEPARATORS = frozenset(c for c in string.punctuation)
_SPACES = " \t\n\r\v\f"
_MONTHS = [calendar.month_name[m] for m in range(1, 13)]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ROMAN = ["XII", "XI", "X", "IX", "VIII", "VII", "VI", "V", "IV", "III", "II", "I"]
_INT_MAX = 2**31 - 1


@dataclass
class _Node:
    kind: str  # "action", "space", "separator", "char"
    text: str  # the keyword (as written) or the character
    fill: bool = False  # FM
    th: bool = False  # TH/th suffix

    @property
    def is_digit(self) -> bool:
        return self.kind == "action" and self.text.upper() not in _TEXT_KEYWORDS


def _nodes(template: str) -> list[_Node]:
    """PostgreSQL's ``parse_format`` for date/time templates."""
    nodes: list[_Node] = []
    i = 0
    while i < len(template):
        fill = False
        if template.startswith(("FM", "fm"), i):
            fill, i = True, i + 2
        elif template.startswith(("TM", "tm"), i):
            raise errors.FeatureNotSupported('the formatting prefix "TM" is not supported in to_date and to_timestamp')
        keyword = next((k for k in _KEYWORDS if template.startswith(k, i)), None) if i < len(template) else None
        if keyword is not None:
            i += len(keyword)
            node = _Node("action", keyword, fill)
            if template.startswith(("TH", "th"), i):
                node.th, i = True, i + 2
            elif template.startswith("SP", i):
                raise errors.FeatureNotSupported('the formatting suffix "SP" is not supported in to_date and '
                                                 'to_timestamp')
            nodes.append(node)
        elif i < len(template):
            if template[i] == '"':
                text, i = read_quoted(template, i)
                nodes.extend(_Node("char", c) for c in text)
                continue
            if template.startswith('\\"', i):
                i += 1
            c = template[i]
            kind = "separator" if c in _SEPARATORS else "space" if c.isspace() and c.isascii() else "char"
            nodes.append(_Node(kind, c))
            i += 1
    return nodes


def _format_error(message: str, detail: str | None = None, hint: str | None = None) -> errors.SteadyError:
    return errors.SteadyError(message, sqlstate="22007", detail=detail, hint=hint)


def _strtol(text: str) -> tuple[int | None, int]:
    """C's ``strtol(text, &end, 10)``: the value and how many characters it read (0: no number)."""
    i = 0
    while i < len(text) and text[i] in _SPACES:
        i += 1
    j = i + 1 if i < len(text) and text[i] in "+-" else i
    k = j
    while k < len(text) and text[k] in "0123456789":
        k += 1
    if k == j:
        return None, 0
    return int(text[i:k]), k


_FIXED_HINT = 'If your source string is not fixed-width, try using the "FM" modifier.'


class _Fields:
    """``TmFromChar``: the fields read so far (zero: not given), set once each."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.clock12 = False
        self.yysz = 0
        self.tzsign = 0
        self.mode = ""  # "", "iso" or "gregorian": the date convention the template's fields use

    def set_mode(self, key: str) -> None:
        mode = "iso" if key in _ISO else "gregorian" if key in _GREGORIAN else ""
        if mode and self.mode and mode != self.mode:
            raise _format_error("invalid combination of date conventions",
                                hint="Do not mix Gregorian and ISO week date conventions in a formatting template.")
        self.mode = self.mode or mode

    def get(self, name: str) -> int:
        return self.values.get(name, 0)

    def set(self, name: str, value: int, node: _Node) -> None:
        old = self.values.get(name, 0)
        if old != 0 and old != value:
            raise _format_error(f'conflicting values for "{node.text}" field in formatting string',
                                "This value contradicts a previous setting for the same field type.")
        self.values[name] = value


class _Reader:
    def __init__(self, text: str, nodes: list[_Node]) -> None:
        self.s, self.pos, self.nodes = text, 0, nodes

    def next_is_separator(self, index: int) -> bool:
        node = self.nodes[index]
        if node.th:
            return True
        if index + 1 >= len(self.nodes):
            return True
        following = self.nodes[index + 1]
        if following.kind == "action":
            return not following.is_digit
        return not (following.text.isdigit() and following.text.isascii())

    def integer(self, index: int, length: int | None = None) -> tuple[int, int]:
        """``from_char_parse_int_len``: the number and how many characters it took."""
        node = self.nodes[index]
        length = length or len(node.text)
        init = self.pos
        while self.pos < len(self.s) and self.s[self.pos] in _SPACES:
            self.pos += 1
        copy = self.s[self.pos:self.pos + length]
        if node.fill or self.next_is_separator(index):
            result, used = _strtol(self.s[init:])
            self.pos = init + used
        else:
            if len(copy) < length:
                raise _format_error(f'source string too short for "{node.text}" formatting field',
                                    f"Field requires {length} characters, but only {len(copy)} remain.", _FIXED_HINT)
            result, used = _strtol(copy)
            if 0 < used < length:
                raise _format_error(f'invalid value "{copy}" for "{node.text}"',
                                    f"Field requires {length} characters, but only {used} could be parsed.",
                                    _FIXED_HINT)
            self.pos += used
        if self.pos == init or result is None:
            if self.pos == init:
                raise _format_error(f'invalid value "{copy}" for "{node.text}"', "Value must be an integer.")
            result = 0
        if not -_INT_MAX - 1 <= result <= _INT_MAX:
            raise errors.SteadyError(f'value for "{node.text}" in source string is out of range', sqlstate="22008",
                                     detail=f"Value must be in the range {-_INT_MAX - 1} to {_INT_MAX}.")
        return result, self.pos - init

    def search(self, index: int, words: list[str]) -> int:
        """``from_char_seq_search``: the index of the first word the input starts with, case-insensitively."""
        rest = self.s[self.pos:]
        for n, word in enumerate(words):
            if rest[:len(word)].lower() == word.lower():
                self.pos += len(word)
                return n
        copy = rest
        for k, c in enumerate(rest):
            if c in " \t\n\r\f":
                copy = rest[:k]
                break
        raise _format_error(f'invalid value "{copy}" for "{self.nodes[index].text}"',
                            "The given value did not match any of the allowed values for this field.")

    def skip_th(self, index: int) -> None:
        if self.nodes[index].th:
            self.pos = min(self.pos + 2, len(self.s))

    def skip_spaces(self) -> int:
        start = self.pos
        while self.pos < len(self.s) and self.s[self.pos].isspace():
            self.pos += 1
        return self.pos - start


def _adjust_year(year: int) -> int:
    """``adjust_partial_year_to_2020``."""
    if year < 70:
        return year + 2000
    if year < 100:
        return year + 1900
    if year < 520:
        return year + 2000
    if year < 1000:
        return year + 1000
    return year


def _read(text: str, template: str) -> _Fields:
    """``DCH_from_char``: the fields the input gives under the template."""
    nodes = _nodes(template)
    reader = _Reader(text, nodes)
    out = _Fields()
    fx = False
    extra_skip = 0
    for index, node in enumerate(nodes):
        if reader.pos >= len(text):
            break
        key = node.text.upper() if node.kind == "action" else ""
        if not fx and key != "FX" and (node.kind == "action" or index == 0):
            extra_skip += reader.skip_spaces()
        if node.kind in ("space", "separator"):
            if not fx:
                extra_skip -= 1
                if reader.pos < len(text) and (text[reader.pos].isspace() or text[reader.pos] in _SEPARATORS):
                    reader.pos += 1
                    extra_skip += 1
            else:
                reader.pos += 1
            continue
        if node.kind == "char":
            if not fx and extra_skip > 0:
                extra_skip -= 1
            else:
                reader.pos += 1
            continue
        _field(reader, index, key, out, extra_skip)
        if key == "FX":
            fx = True
        if not fx:
            extra_skip = reader.skip_spaces()
    return out


def _field(reader: _Reader, index: int, key: str, out: _Fields, extra_skip: int) -> None:
    node = reader.nodes[index]
    out.set_mode(key)
    if key in ("TZ", "OF"):
        raise errors.FeatureNotSupported(f'formatting field "{node.text}" is only supported in to_char')
    if key in ("A.M.", "P.M.", "AM", "PM"):
        words = ["a.m.", "p.m."] if "." in key else ["am", "pm"]
        out.set("pm", reader.search(index, words) % 2, node)
        out.clock12 = True
    elif key in ("A.D.", "B.C.", "AD", "BC"):
        words = ["a.d.", "b.c."] if "." in key else ["ad", "bc"]
        out.set("bc", reader.search(index, words) % 2, node)
    elif key in ("HH", "HH12", "HH24", "MI", "SS", "DD", "DDD", "D", "WW", "W", "J", "CC", "MM", "SSSS", "SSSSS", "IW",
                 "IDDD"):
        value, _ = reader.integer(index, 2 if key.startswith("HH") else 3 if key == "IDDD" else None)
        name = {"HH12": "HH", "HH24": "HH", "SSSSS": "SSSS", "IW": "WW", "IDDD": "DDD"}.get(key, key)
        out.set(name, value, node)
        if key in ("HH", "HH12"):
            out.clock12 = True
        reader.skip_th(index)
    elif key == "MS":
        value, used = reader.integer(index, 3)
        out.set("MS", value * (100 if used == 1 else 10 if used == 2 else 1), node)
        reader.skip_th(index)
    elif key == "US" or key.startswith("FF"):
        digits = 6 if key == "US" else int(key[2])
        value, used = reader.integer(index, digits)
        out.set("US", value * 10 ** max(0, 6 - used), node)
        reader.skip_th(index)
    elif key == "TZH":
        s, pos = reader.s, reader.pos
        if pos < len(s) and s[pos] in "+- ":
            out.tzsign = -1 if s[pos] == "-" else 1
            reader.pos += 1
        else:
            out.tzsign = -1 if extra_skip > 0 and pos > 0 and s[pos - 1] == "-" else 1
        out.set("TZH", reader.integer(index, 2)[0], node)
    elif key == "TZM":
        out.tzsign = out.tzsign or 1
        out.set("TZM", reader.integer(index, 2)[0], node)
    elif key in ("MONTH", "MON"):
        words = _MONTHS if key == "MONTH" else [m[:3] for m in _MONTHS]
        out.set("MM", reader.search(index, words) + 1, node)
    elif key in ("DAY", "DY"):
        words = _DAYS if key == "DAY" else [d[:3] for d in _DAYS]
        out.set("D", reader.search(index, words) + 1, node)
    elif key == "ID":  # ISO day of week, Monday 1, kept as D (Sunday 1)
        value, _ = reader.integer(index, 1)
        out.set("D", value, node)  # checked against what an earlier D or ID stored, as PostgreSQL does
        out.values["D"] = value + 1 if value + 1 <= 7 else 1
        reader.skip_th(index)
    elif key == "Q":
        reader.integer(index)  # read and ignored, as PostgreSQL does
        reader.skip_th(index)
    elif key == "Y,YYY":
        _y_yyy(reader, index, out)
    elif key in ("YYYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "I"):
        value, used = reader.integer(index)
        width = len(key)  # IYYY is as wide as YYYY
        out.set("YEAR", value, node)  # checked before the century is added, as PostgreSQL does
        if width != 4 and used < 4:
            out.values["YEAR"] = _adjust_year(value)
        out.yysz = width
        reader.skip_th(index)
    elif key == "RM":
        out.set("MM", 12 - reader.search(index, _ROMAN), node)


def _y_yyy(reader: _Reader, index: int, out: _Fields) -> None:
    """``Y,YYY``: ``sscanf("%d,%03d")``."""
    rest = reader.s[reader.pos:]
    millennia, used = _strtol(rest)
    years: int | None = None
    if millennia is not None and rest[used:used + 1] == ",":
        j = used + 1
        while j < len(rest) and j < used + 4 and rest[j] in _SPACES and j == used + 1:
            j += 1
        k = j + 1 if j < len(rest) and rest[j] in "+-" else j
        end = k
        while end < len(rest) and end < used + 4 and rest[end].isdigit() and rest[end].isascii():
            end += 1
        if end > k:
            years, used = int(rest[j:end]), end
    if millennia is None or years is None:
        raise _format_error('invalid input string for "Y,YYY"')
    out.set("YEAR", years + millennia * 1000, reader.nodes[index])
    out.yysz = 4
    reader.pos += used
    reader.skip_th(index)


def _iso_week_start(year: int, week: int) -> int:
    """``isoweek2j`` as a proleptic Gregorian ordinal: the Monday of ISO week ``week`` of ``year``."""
    if not 1 <= year <= 9999:
        raise errors.FeatureNotSupported("to_date and to_timestamp of ISO years outside 1..9999 are not supported")
    jan4 = _dt.date(year, 1, 4)
    return jan4.toordinal() - (jan4.isoweekday() - 1) + (week - 1) * 7


def _from_ordinal(ordinal: int) -> tuple[int, int, int]:
    if not 1 <= ordinal <= _dt.date.max.toordinal():
        raise errors.FeatureNotSupported("to_date and to_timestamp of dates outside years 1..9999 are not supported")
    day = _dt.date.fromordinal(ordinal)
    return day.year, day.month, day.day


def _out_of_range(text: str) -> errors.SteadyError:
    return errors.SteadyError(f'date/time field value out of range: "{text}"', sqlstate="22008")


def _combine(text: str, f: _Fields) -> tuple[_dt.date, int, int, int, int, int | None]:
    """``do_to_timestamp``'s second half: (date, hour, minute, second, microsecond, zone offset in seconds)."""
    hour = minute = second = 0
    if ssss := f.get("SSSS"):
        hour, minute, second = ssss // 3600, ssss % 3600 // 60, ssss % 60
    second = f.get("SS") or second
    minute = f.get("MI") or minute
    hour = f.get("HH") or hour
    if f.clock12:
        if hour < 1 or hour > 12:
            raise _format_error(f'hour "{hour}" is invalid for the 12-hour clock',
                                hint="Use the 24-hour clock, or give an hour between 1 and 12.")
        if f.get("pm") and hour < 12:
            hour += 12
        elif not f.get("pm") and hour == 12:
            hour = 0
    year, month, day = 0, 1, 1
    date_given = False
    cc = f.get("CC")
    if year_field := f.get("YEAR"):
        if cc and f.yysz <= 2:
            year = year_field % 100
            year = year + (cc - 1) * 100 if year else cc * 100
            if cc < 0:
                raise errors.FeatureNotSupported("to_date and to_timestamp of a negative century are not supported")
        else:
            year = year_field
        date_given = True
    elif cc:
        year = (cc - 1) * 100 + 1 if cc >= 0 else cc * 100 + 1
        date_given = True
    if j := f.get("J"):
        if j < 1721426:
            raise errors.FeatureNotSupported("to_date and to_timestamp of dates before year 1 are not supported")
        try:
            year, month, day = _dt.date.fromordinal(j - 1721425).timetuple()[:3]
        except (ValueError, OverflowError):
            raise errors.FeatureNotSupported("to_date and to_timestamp of dates after year 9999 are not "
                                             "supported") from None
        date_given = True
    ddd = f.get("DDD")
    if ww := f.get("WW"):
        if f.mode == "iso":  # the ISO week's Monday, or its day D (Sunday 1)
            d = f.get("D")
            weekday = (d - 2 if d > 1 else 6) if d else 0
            year, month, day = _from_ordinal(_iso_week_start(year, ww) + weekday)
            date_given = True
        else:
            ddd = (ww - 1) * 7 + 1
    dd = f.get("DD")
    if w := f.get("W"):
        dd = (w - 1) * 7 + 1
    if dd:
        day, date_given = dd, True
    if mm := f.get("MM"):
        month, date_given = mm, True
    if ddd and (month <= 1 or day <= 1):
        if not year:
            raise _format_error("cannot calculate day of year without year information")
        if f.mode == "iso":
            year, month, day = _from_ordinal(_iso_week_start(year, 1) - 1 + ddd)
            ddd = 0
    if ddd and (month <= 1 or day <= 1):
        sums = [0]
        for m in range(1, 13):
            sums.append(sums[-1] + calendar.monthrange(2000 if calendar.isleap(year) else 2001, m)[1])
        i = next((i for i in range(1, 13) if ddd <= sums[i]), 13)
        if month <= 1:
            month = i
        if day <= 1:
            day = ddd - sums[i - 1]
        date_given = True
    micros = f.get("MS") * 1000 + f.get("US")
    if f.get("bc"):
        raise errors.FeatureNotSupported("to_date and to_timestamp of BC dates are not supported")
    if date_given:
        if year <= 0:
            raise errors.FeatureNotSupported("to_date and to_timestamp of dates before year 1 are not supported")
        if not 1 <= month <= 12 or not 1 <= day <= (calendar.monthrange(year, month)[1] if year <= 9999 else 31):
            raise _out_of_range(text)
    if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60 and 0 <= micros < 1_000_000):
        raise _out_of_range(text)
    if year <= 0:
        raise errors.FeatureNotSupported("to_date and to_timestamp of dates before year 1 are not supported")
    if year > 9999:
        raise errors.FeatureNotSupported("to_date and to_timestamp of dates after year 9999 are not supported")
    offset = None
    if f.tzsign:
        tzh, tzm = f.get("TZH"), f.get("TZM")
        if not 0 <= tzh <= 15 or not 0 <= tzm < 60:
            raise errors.SteadyError(f'time zone displacement out of range: "{text}"', sqlstate="22009")
        offset = f.tzsign * (tzh * 3600 + tzm * 60)
    return _dt.date(year, month, day), hour, minute, second, micros, offset


def to_date(text: str, template: str) -> _dt.date:
    """``to_date(text, text)``."""
    day = _combine(text, _read(text, template))[0]
    return day


def to_timestamp_in(text: str, template: str, zone_name: str) -> _dt.datetime:
    """``to_timestamp(text, text)`` in a session whose TimeZone is ``zone_name`` (the wall-clock time's zone
    unless the template gives ``TZH``/``TZM``)."""
    day, hour, minute, second, micros, offset = _combine(text, _read(text, template))
    local = _dt.datetime(day.year, day.month, day.day, hour, minute, second, micros)
    zone = _dt.timezone(_dt.timedelta(seconds=offset)) if offset is not None else parse_zone(zone_name)
    try:
        return localize(local, zone)
    except errors.SteadyError:  # PostgreSQL's answer is an instant in 1 BC or year 10000
        raise errors.FeatureNotSupported("to_timestamp of instants outside years 1..9999 is not supported") from None


VARIADIC_STRICT: dict[str, Callable[..., Any]] = {"to_date": to_date, "to_timestamp_in": to_timestamp_in}
RESULT_TYPES = {"to_date": ScalarType.DATE, "to_timestamp_in": ScalarType.TIMESTAMPTZ}

__all__ = ["RESULT_TYPES", "VARIADIC_STRICT", "to_date", "to_timestamp_in"]
