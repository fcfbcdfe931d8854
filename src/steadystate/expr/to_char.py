"""``to_char(timestamp | timestamptz, text)``: PostgreSQL's date/time template patterns (``formatting.c``).

The template is read left to right, longest keyword first: ``YYYY YYY YY Y Y,YYY IYYY IYY IY I IDDD CC Q MM Month
MONTH month Mon MON mon RM rm DD DDD D ID IW WW W J Day DAY day Dy DY dy HH HH12 HH24 MI SS MS US SSSS SSSSS AM
PM A.M. P.M. (and lower case) TZ tz TZH tzh TZM tzm OF of``; the numeric ones all upper or all lower case.  ``FM`` before a keyword
drops its padding (leading zeros, trailing blanks of names; not of ``MS``/``US``), ``TH``/``th`` after a number
adds its ordinal suffix, ``"..."`` is literal text (``\\`` escapes inside it), ``\\"`` a double quote; anything
else is copied.  A timestamptz is shown in the session's zone (``to_char_in`` in expr/time_functions.py passes
it; UTC otherwise): ``TZ`` is tzdata's abbreviation there (``CEST``) or, for a POSIX offset, the name part of
its spelling (``UTC`` of ``UTC+3``, empty for ``+05:30``), ``OF``/``TZH``/``TZM`` its offset; a
timestamp has an empty ``TZ`` and ``OF`` ``+00``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Callable

from steadystate import errors

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def _hour12(t: _dt.datetime) -> int:
    return t.hour % 12 or 12


def _dow(t: _dt.datetime) -> int:  # Sunday = 0
    return t.isoweekday() % 7


# numeric keywords: (value, width); the width is the zero padding without FM
_NUMBERS: dict[str, Callable[[_dt.datetime], tuple[int, int]]] = {
    "Y,YYY": lambda t: (t.year, 0),  # handled specially
    "YYYY": lambda t: (t.year, 4), "YYY": lambda t: (t.year % 1000, 3), "YY": lambda t: (t.year % 100, 2),
    "Y": lambda t: (t.year % 10, 1),
    "IYYY": lambda t: (t.isocalendar()[0], 4), "IYY": lambda t: (t.isocalendar()[0] % 1000, 3),
    "IY": lambda t: (t.isocalendar()[0] % 100, 2), "I": lambda t: (t.isocalendar()[0] % 10, 1),
    "CC": lambda t: ((t.year + 99) // 100, 2), "Q": lambda t: ((t.month - 1) // 3 + 1, 1),
    "MM": lambda t: (t.month, 2), "DDD": lambda t: (t.timetuple().tm_yday, 3), "DD": lambda t: (t.day, 2),
    "D": lambda t: (_dow(t) + 1, 1),
    "IDDD": lambda t: ((t.isocalendar()[1] - 1) * 7 + t.isoweekday(), 3), "ID": lambda t: (t.isoweekday(), 1), "IW": lambda t: (t.isocalendar()[1], 2),
    "WW": lambda t: ((t.timetuple().tm_yday - 1) // 7 + 1, 2), "W": lambda t: ((t.day - 1) // 7 + 1, 1),
    "J": lambda t: (t.toordinal() + 1721425, 1),
    "HH24": lambda t: (t.hour, 2), "HH12": lambda t: (_hour12(t), 2), "HH": lambda t: (_hour12(t), 2),
    "MI": lambda t: (t.minute, 2), "SSSSS": lambda t: (t.hour * 3600 + t.minute * 60 + t.second, 1),
    "SSSS": lambda t: (t.hour * 3600 + t.minute * 60 + t.second, 1), "SS": lambda t: (t.second, 2),
    "MS": lambda t: (t.microsecond // 1000, 3), "US": lambda t: (t.microsecond, 6),
}
# text keywords, case-sensitive: (text, pad to width without FM)
_TEXTS: dict[str, Callable[[_dt.datetime], tuple[str, int]]] = {
    "Month": lambda t: (_MONTHS[t.month - 1], 9), "MONTH": lambda t: (_MONTHS[t.month - 1].upper(), 9),
    "month": lambda t: (_MONTHS[t.month - 1].lower(), 9),
    "Mon": lambda t: (_MONTHS[t.month - 1][:3], 0), "MON": lambda t: (_MONTHS[t.month - 1][:3].upper(), 0),
    "mon": lambda t: (_MONTHS[t.month - 1][:3].lower(), 0),
    "Day": lambda t: (_DAYS[_dow(t)], 9), "DAY": lambda t: (_DAYS[_dow(t)].upper(), 9),
    "day": lambda t: (_DAYS[_dow(t)].lower(), 9),
    "Dy": lambda t: (_DAYS[_dow(t)][:3], 0), "DY": lambda t: (_DAYS[_dow(t)][:3].upper(), 0),
    "dy": lambda t: (_DAYS[_dow(t)][:3].lower(), 0),
    "RM": lambda t: (_ROMAN[t.month - 1], 4), "rm": lambda t: (_ROMAN[t.month - 1].lower(), 4),
    "AM": lambda t: ("AM" if t.hour < 12 else "PM", 0), "PM": lambda t: ("AM" if t.hour < 12 else "PM", 0),
    "am": lambda t: ("am" if t.hour < 12 else "pm", 0), "pm": lambda t: ("am" if t.hour < 12 else "pm", 0),
    "A.M.": lambda t: ("A.M." if t.hour < 12 else "P.M.", 0), "P.M.": lambda t: ("A.M." if t.hour < 12 else "P.M.", 0),
    "a.m.": lambda t: ("a.m." if t.hour < 12 else "p.m.", 0), "p.m.": lambda t: ("a.m." if t.hour < 12 else "p.m.", 0),
}
_ALWAYS_PADDED = frozenset({"MS", "US"})  # PostgreSQL ignores FM on these
_KEYWORDS = sorted(set(_NUMBERS) | set(_TEXTS) | {"TZ", "tz", "OF", "of", "TZH", "tzh", "TZM", "tzm"}, key=len, reverse=True)


def _ordinal(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _match(template: str, i: int) -> str | None:
    for keyword in _KEYWORDS:
        if keyword in _NUMBERS:
            if template[i:i + len(keyword)] in (keyword, keyword.lower()):  # all upper or all lower case
                return keyword
        elif template.startswith(keyword, i):
            return keyword
    return None


def read_quoted(template: str, i: int) -> tuple[str, int]:
    """The literal text of the ``"..."`` starting at ``template[i]`` (``\\`` escapes the next character) and where
    the template goes on; to_date/to_timestamp read templates with it too (expr/to_date.py)."""
    end = i + 1
    text: list[str] = []
    while end < len(template) and template[end] != '"':
        if template[end] == "\\" and end + 1 < len(template):
            end += 1
        text.append(template[end])
        end += 1
    return "".join(text), end + 1


def to_char(value: _dt.datetime, template: str, zone: _dt.tzinfo | None = None,
            abbreviation: str | None = None) -> str:
    """``to_char`` of a timestamp, or of a timestamptz seen in ``zone`` (the session's; None: UTC), whose ``TZ``
    is ``abbreviation`` when the zone's name fixes it (a POSIX offset's name part, ``GMT``), else tzdata's."""
    zoned = value.tzinfo is not None
    local = value.astimezone(zone or _dt.timezone.utc) if zoned else value
    t = local.replace(tzinfo=None)
    offset = int(local.utcoffset().total_seconds()) if zoned else 0  # type: ignore[union-attr]
    sign, hours, minutes = "-" if offset < 0 else "+", abs(offset) // 3600, abs(offset) % 3600 // 60
    out: list[str] = []
    i = 0
    while i < len(template):
        fill = True
        if template.startswith(("FM", "fm"), i):
            fill = False
            i += 2
        keyword = _match(template, i)
        if keyword is None:
            c = template[i]
            if c == '"':
                text, i = read_quoted(template, i)
                out.append(text)
                continue
            if c == "\\" and template.startswith('"', i + 1):  # \" is a literal double quote
                out.append('"')
                i += 2
                continue
            out.append(c)
            i += 1
            continue
        i += len(keyword)
        if keyword in _NUMBERS:
            number, width = _NUMBERS[keyword](t)
            if keyword == "Y,YYY":
                text = f"{number // 1000},{number % 1000:03d}"
            else:
                text = f"{number:0{width}d}" if fill or keyword in _ALWAYS_PADDED else str(number)
            if template.startswith(("TH", "th"), i):
                suffix = _ordinal(number)
                text += suffix.upper() if template[i] == "T" else suffix
                i += 2
            out.append(text)
        elif keyword in _TEXTS:
            word, width = _TEXTS[keyword](t)
            out.append(word.ljust(width) if fill else word)
        elif keyword in ("TZ", "tz"):
            name = (abbreviation if abbreviation is not None else _abbreviation(local, zone)) if zoned else ""
            out.append(name.upper() if keyword == "TZ" else name.lower())
        elif keyword in ("TZH", "tzh"):
            out.append(f"{sign}{hours:02d}")
        elif keyword in ("TZM", "tzm"):
            out.append(f"{minutes:02d}")
        else:  # OF (of): a timestamp's offset is zero
            out.append(f"{sign}{hours:02d}" if fill else f"{sign}{hours}")
            if minutes:
                out.append(f":{minutes:02d}")
    return "".join(out)


def _abbreviation(local: _dt.datetime, zone: _dt.tzinfo | None) -> str:
    """The zone abbreviation ``TZ`` shows: tzdata's (``CET``, ``EDT``, ``+0545``, ``LMT``) for an IANA zone."""
    if zone is None or zone is _dt.timezone.utc:
        return "UTC"
    if isinstance(zone, _dt.timezone):  # a POSIX offset: the name part of its spelling, passed as abbreviation
        raise errors.InternalError("to_char of a fixed-offset zone needs its abbreviation")
    return local.tzname() or ""
