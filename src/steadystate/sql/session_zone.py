"""The session's ``TimeZone`` in planning: what depends on it is planned with the zone as a literal argument.

A timestamptz datum is an instant (an aware datetime in UTC) everywhere: storage, the dataflow, binary wire
format.  What PostgreSQL computes *in the session's zone* is rewritten here, when the zone is not UTC, into the
zone-explicit operations ``expr/time_functions.py`` evaluates (``AT TIME ZONE``'s ``timezone(zone, v)`` and
two casts that take the zone), so evaluation never reads session state:

==============================================  ==================================================================
PostgreSQL, in the session's zone z             planned as
==============================================  ==================================================================
``tstz::timestamp`` / ``::date`` / ``::time``   ``timezone(z, tstz)`` (then ``::date`` / ``::time``)
``timestamp::tstz`` / ``date::tstz``            ``timezone(z, ts)`` (a date through ``timestamp``)
``tstz::text`` / ``text::tstz`` (and literals)  ``timestamptz_text_in(tstz, z)`` / ``text_timestamptz_in(text, z)``
``date_trunc(u, tstz)``                         ``timezone(z, date_trunc(u, timezone(z, tstz)))``
``extract(f FROM tstz)``, ``to_char(tstz, p)``  the same of ``timezone(z, tstz)`` (``epoch``: unchanged)
``current_date``                                the date of ``now()`` in z
==============================================  ==================================================================

A *maintained* object (view, materialized view, index, subscription, a column DEFAULT) is computed in the
dataflow for every reader, so its result must not depend on one session's zone: planning one of these
operations there while the session's zone is not UTC is refused (0A000, with the hint to ``SET TimeZone =
'UTC'``); created under UTC they are computed in UTC, Materialize's only zone.  The wire's text form of a
timestamptz column shows the reader's zone in any case (``pgwire/values.py``), as PostgreSQL does.
"""

from __future__ import annotations

from steadystate import errors
from steadystate.repr.timezones import is_utc
from steadystate.sql.catalog_api import PlanContext


def setting(ctx: PlanContext) -> str:
    """The session's TimeZone setting (``UTC`` when none is recorded)."""
    for name, value in ctx.settings:
        if name == "timezone":
            return value
    return "UTC"


def zone_for(ctx: PlanContext, what: str) -> str | None:
    """The zone ``what`` (an operation on timestamptz) is computed in, or None for UTC (planned as before).
    Refused (0A000) in a maintained object while the session's zone is not UTC."""
    zone = setting(ctx)
    if is_utc(zone):
        return None
    if ctx.now is None:  # a maintained object or a DEFAULT (sql/planner.py plan)
        raise errors.FeatureNotSupported(
            f"{what} in a view, materialized view, index, subscription or DEFAULT depends on the session's "
            f"TimeZone, which is \"{zone}\"",
            hint="Maintained results are computed in UTC: SET TimeZone = 'UTC' to create it.")
    return zone


__all__ = ["setting", "zone_for"]
