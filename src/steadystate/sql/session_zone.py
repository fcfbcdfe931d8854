"""The session's ``TimeZone`` in planning: what depends on it is planned with the zone as a literal argument.

A timestamptz datum is an instant (an aware datetime in UTC) everywhere: storage, the dataflow, binary wire
format.  What PostgreSQL computes *in the session's zone* is rewritten here, when the zone is not UTC, into the
zone-explicit operations ``expr/time_functions.py`` evaluates (``AT TIME ZONE``'s ``timezone(zone, v)`` and
functions that take the zone as their last argument), so evaluation never reads session state.  An interval
constant of elapsed time only (``INTERVAL '1 hour'``) is the same in every zone and planned as before:

==============================================  ==================================================================
PostgreSQL, in the session's zone z             planned as
==============================================  ==================================================================
``tstz::timestamp`` / ``::date`` / ``::time``   ``timezone(z, tstz)`` (then ``::date`` / ``::time``)
``timestamp::tstz`` / ``date::tstz``            ``timezone(z, ts)`` (a date through ``timestamp``)
``tstz::text`` / ``text::tstz`` (and literals)  ``timestamptz_text_in(tstz, z)`` / ``text_timestamptz_in(text, z)``
``date_trunc(u, tstz)``                         ``timezone(z, date_trunc(u, timezone(z, tstz)))``
``extract(f FROM tstz)``                        the same of ``timezone(z, tstz)`` (``epoch``: unchanged)
``extract(timezone[_hour|_minute] FROM tstz)``  ``extract_in(f, tstz, z)`` (also a field known only per row)
``to_jsonb``/``jsonb_build_*``/``jsonb_*agg``   their tstz (tstz[]) arguments as ``timestamptz_jsonb_in(v, z)``
``array_to_string(tstz[], ...)``                over ``timestamptz_array_texts_in(a, z)``
``to_char(tstz, p)``, ``age(tstz, tstz)``       ``to_char_in(tstz, p, z)``, ``age_in(a, b, z)`` (TZ/OF: z's)
``to_timestamp(text, p)``                      ``to_timestamp_in(text, p, z)`` (also under UTC; expr/to_date.py)
``tstz ± interval`` (days or months)            ``timestamptz_add_in`` / ``timestamptz_sub_in(tstz, i, z)``
``generate_series(tstz, tstz, interval)``       a fourth argument z (sql/table_functions.py)
``text::tstz[]`` (and literals, COPY)           ``text_timestamptz_array_in(text, z)``
``current_date``                                the date of ``now()`` in z
==============================================  ==================================================================

A *maintained* object (view, materialized view, index, a column DEFAULT) is planned once and read by sessions
whose zone may differ.  PostgreSQL re-evaluates a view in the reader's zone; here its plan has the zone of the
session that created it baked in (as a literal, or as UTC's plain casts), so:

* planning records every zone-dependent operation in ``PlanContext.zone_uses`` (:func:`zone_for`, also under
  UTC), and reading an item that depends on a zone counts as one (:func:`use_item`), so dependence propagates
  to views over views;
* the adapter stores the creating session's zone on the item (``ItemRecord.time_zone``; "" when nothing
  depended on it; an item recorded before this existed and having a plan or DEFAULTs counts as UTC);
* a read of the item (SELECT, SUBSCRIBE, COPY TO, a view over it, an INSERT taking its DEFAULTs) from a
  session in another zone is refused (0A000, with the hint to set the zone it was created in), never answered
  in the wrong zone.  Materialize has no such case: its TimeZone can only be UTC.

A literal (``'2024-01-01 00:00'::timestamptz``) is read in the creating session's zone once, as PostgreSQL
folds it into the view's definition, so it is not a use.  The wire's text form of a timestamptz column shows
the reader's zone in any case (``pgwire/values.py``), as PostgreSQL does.
"""

from __future__ import annotations

from typing import Iterable

from steadystate import errors
from steadystate.repr.timezones import fixed_abbreviation, is_utc
from steadystate.repr.objects import ItemKind
from steadystate.repr.types import ScalarType
from steadystate.sql.catalog_api import PlanContext, ResolvedItem


def setting(ctx: PlanContext) -> str:
    """The session's TimeZone setting (``UTC`` when none is recorded)."""
    for name, value in ctx.settings:
        if name == "timezone":
            return value
    return "UTC"


def zone_for(ctx: PlanContext, what: str) -> str | None:
    """The zone ``what`` (an operation on timestamptz) is computed in, or None for UTC (planned as before).
    Recorded in ``ctx.zone_uses`` either way: what is planned depends on the session's zone."""
    ctx.zone_uses.add(what)
    zone = setting(ctx)
    return None if is_utc(zone) else zone


_ZONED_TYPES = frozenset({ScalarType.TIMESTAMPTZ, ScalarType.TIMESTAMPTZ_ARRAY})


def only_in_utc(ctx: PlanContext, types: Iterable[ScalarType | None], what: str) -> None:
    """``what`` (over values of ``types``) would show a timestamptz in the session's zone, which is done here
    only for UTC: a use of the zone there, refused (0A000) in another zone, never computed in UTC instead."""
    if not any(t in _ZONED_TYPES for t in types):
        return
    zone = zone_for(ctx, what)
    if zone is not None:
        raise errors.FeatureNotSupported(
            f"{what} is not supported while the session's TimeZone is \"{zone}\"",
            hint="SET TimeZone = 'UTC' for it.")


def same_zone(a: str, b: str) -> bool:
    """Whether two TimeZone settings name the same zone (spellings of UTC that ``to_char``'s TZ shows alike:
    ``UTC`` and ``Etc/UTC``, not ``GMT``; IANA names case-insensitively)."""
    if is_utc(a) and is_utc(b):
        return fixed_abbreviation(a) == fixed_abbreviation(b)
    return a.strip().lower() == b.strip().lower()


_KINDS = {ItemKind.VIEW: "view", ItemKind.MATERIALIZED_VIEW: "materialized view", ItemKind.TABLE: "table"}


def use_item(ctx: PlanContext, item: ResolvedItem, what: str = "") -> None:
    """Reading ``item`` (a view, materialized view, or a table's DEFAULTs) in this plan: refused (0A000) when
    it depends on a zone other than the session's, else recorded as a use of the zone (views over views)."""
    if not item.time_zone:
        return
    here = setting(ctx)
    if not same_zone(item.time_zone, here):
        subject = what or f"{_KINDS.get(item.kind, 'relation')} \"{item.name}\""
        raise errors.FeatureNotSupported(
            f"{subject} depends on the TimeZone it was created in, "
            f"\"{item.time_zone}\", not this session's \"{here}\"",
            hint=f"SET TimeZone = '{item.time_zone}' to read it, or create it again in this zone.")
    ctx.zone_uses.add(f"{item.name}")


__all__ = ["only_in_utc", "same_zone", "setting", "use_item", "zone_for"]
