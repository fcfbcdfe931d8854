"""Time zones as PostgreSQL reads them: the session's ``TimeZone`` and ``AT TIME ZONE``'s argument.

* :func:`parse_zone` reads a zone: ``UTC`` (and ``GMT``, ``Z``, ``Zulu``, ``Universal``), an IANA name
  (``zoneinfo``, case-insensitive as PostgreSQL matches them), or a POSIX-style fixed offset — an optional name
  (letters, or anything in ``<...>``) then ``[+-]hh[:mm[:ss]]`` — whose sign is POSIX's: *west* of Greenwich is
  positive, so ``'UTC+2'`` and ``'+02:00'`` are two hours *behind* UTC, as PostgreSQL has them.  Anything else is
  22023 ``time zone "..." not recognized``.  POSIX rules with a daylight-saving part (``EST5EDT,M3.2.0,...``)
  are only read where tzdata has the name (``EST5EDT`` is one).
* :func:`setting_value` is what ``SET TimeZone = v`` stores and ``SHOW`` answers: a bare number is hours *east*
  (the SQL standard's reading, PostgreSQL's for ``SET TIME ZONE 2``), kept as the POSIX spelling PostgreSQL
  shows (``<+02>-02``); an IANA name takes tzdata's spelling; the rest is kept as given once it parses.
* :func:`format_offset` is an offset as timestamptz output shows it: ``+02``, ``+05:30``, ``-00:25:21``.

A timestamptz datum stays an aware datetime in UTC everywhere; only its text form and the zone-dependent
operations the planner rewrites (``sql/session_zone.py``) look at the session's zone.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import zoneinfo

from steadystate import errors

UTC = _dt.timezone.utc
_UTC_NAMES = frozenset({"utc", "gmt", "z", "zulu", "universal", "etc/utc", "etc/gmt", "etc/universal"})
_POSIX = re.compile(r"^(?:[A-Za-z]{3,}|<[^<>]+>)?([+-]?)(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?$")
_POSIX_NAME = re.compile(r"^([A-Za-z]{3,}|<[^<>]+>)?[+-]?\d")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _not_recognized(name: str) -> errors.SteadyError:
    return errors.SteadyError(f'time zone "{name}" not recognized', sqlstate="22023")


@functools.lru_cache(maxsize=256)
def parse_zone(name: str) -> _dt.tzinfo:
    """The zone ``name`` names (see the module docstring); 22023 when it names none."""
    key = name.strip().lower()
    if key in _UTC_NAMES:
        return UTC
    real = _zone_names().get(key)
    if real is not None:
        return zoneinfo.ZoneInfo(real)
    match = _POSIX.match(name.strip())
    if match is None:
        raise _not_recognized(name)
    sign, hours, minutes, seconds = match.groups()
    west = _dt.timedelta(hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0))
    if west >= _dt.timedelta(hours=168) or int(minutes or 0) >= 60 or int(seconds or 0) >= 60:
        raise _not_recognized(name)
    if west >= _dt.timedelta(hours=24):  # PostgreSQL's limit is a week; a Python zone's is a day
        raise errors.FeatureNotSupported(f'time zone "{name}": offsets of 24 hours or more are not supported')
    if west == _dt.timedelta(0):
        return UTC
    return _dt.timezone(west if sign == "-" else -west)


def localize(local: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime:
    """The instant (aware, UTC) of wall-clock time ``local`` in ``tz``, with PostgreSQL's rule for gaps/overlaps."""
    early = local.replace(tzinfo=tz, fold=0)
    late = local.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        round_trip = late.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        chosen = late if round_trip == local else early  # ambiguous: after the transition; a gap: before it
    else:
        chosen = early
    try:
        return chosen.astimezone(UTC)
    except OverflowError:
        raise errors.SteadyError("timestamp out of range", sqlstate="22008") from None


@functools.lru_cache(maxsize=256)
def fixed_abbreviation(name: str) -> str | None:
    """What ``to_char``'s ``TZ`` shows in zone ``name`` when the name fixes it: the name part of a POSIX offset
    (``UTC`` of ``UTC+3``, ``+02`` of ``<+02>-02``, empty for ``+05:30``), tzdata's for a spelling of UTC
    (``GMT``, ``UTC``); None for an IANA zone, whose abbreviation changes with the date (tzdata's, ``CEST``)."""
    key = name.strip().lower()
    real = _zone_names().get(key)
    if key in _UTC_NAMES:
        shown = zoneinfo.ZoneInfo(real).tzname(_dt.datetime(2000, 1, 1)) if real is not None else None
        return shown or "UTC"
    if real is not None:
        return None
    match = _POSIX_NAME.match(name.strip())
    if match is None:
        return None
    return (match.group(1) or "").strip("<>")


def setting_value(value: str) -> str:
    """What ``SET TimeZone = value`` keeps (22023 ``invalid value for parameter "TimeZone"`` when it is no zone)."""
    text = value.strip()
    if _NUMBER.match(text):  # hours east of UTC: PostgreSQL shows it as the POSIX spelling
        seconds = round(float(text) * 3600)
        if abs(seconds) >= 168 * 3600:
            raise _invalid(value)
        if abs(seconds) >= 24 * 3600:
            raise errors.FeatureNotSupported(f'time zone "{value}": offsets of 24 hours or more are not supported')
        east = _dt.timedelta(seconds=seconds)
        if seconds == 0:
            return "<+00>-00"
        shown = format_offset(east)
        return f"<{shown}>{format_offset(-east)}"
    try:
        parse_zone(text)
    except errors.FeatureNotSupported:
        raise
    except errors.SteadyError:
        raise _invalid(value) from None
    if text.lower() in _UTC_NAMES:
        return "UTC" if text.lower() == "utc" else text
    return _zone_names().get(text.lower(), text)


def _invalid(value: str) -> errors.SteadyError:
    return errors.SteadyError(f'invalid value for parameter "TimeZone": "{value}"', sqlstate="22023")


def is_utc(setting: str) -> bool:
    """Whether the zone ``setting`` names is UTC itself (no offset ever)."""
    try:
        return parse_zone(setting) is UTC
    except errors.SteadyError:
        return False


def format_offset(offset: _dt.timedelta | None) -> str:
    """``+02``, ``-03:30``, ``+00:25:21``: hours always, minutes and seconds when not zero."""
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def format_in_zone(value: _dt.datetime, zone: _dt.tzinfo) -> str:
    """A timestamptz as PostgreSQL prints it in ``zone``: the local wall-clock time, then its offset there."""
    local = value.astimezone(zone)
    text = (f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
            f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}")
    if local.microsecond:
        text += f".{local.microsecond:06d}".rstrip("0")
    return text + format_offset(local.utcoffset())


__all__ = ["UTC", "fixed_abbreviation", "format_in_zone", "format_offset", "is_utc", "localize", "parse_zone", "setting_value"]
