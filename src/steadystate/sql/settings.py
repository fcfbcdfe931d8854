"""The session variables (``SET``/``SHOW``/``current_setting``) as data, and ``pg_catalog.pg_settings``' rows.

:data:`SETTINGS` holds, per variable a session starts with, its default and what ``pg_settings`` says of it
(PostgreSQL's columns: ``unit``, ``category``, ``short_desc``, ``context``, ``vartype``; the value is shown as the
session holds it, ``60s``, so no unit is claimed for it); :data:`DEFAULT_VARIABLES`
is the defaults a session starts with (adapter/session.py).  A variable a client ``SET`` that is not in the table
(PostgreSQL accepts ``SET`` of a custom name too) is listed as a ``Customized Options`` string.

``pg_settings`` shows the *session's* values, as PostgreSQL's does: the relation planner (sql/joins.py) plans
``pg_catalog.pg_settings`` as the constant :func:`rows` makes from the planning context's settings, so ``source`` is
``default`` for a variable at its default and ``session`` for one ``SET`` differently.  Read outside a session
(a view over it is maintained by the coordinator), it is the defaults (adapter/pg_catalog.py).
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

from steadystate import errors
from steadystate.repr import Row


class Setting(NamedTuple):
    default: str
    vartype: str  # PostgreSQL's: bool, enum, integer, real, string
    category: str
    short_desc: str
    context: str = "user"  # "user": SET changes it; "internal": reported, not meant to be set
    unit: str | None = None


_CLIENT = "Client Connection Defaults / Statement Behavior"
_LOCALE = "Client Connection Defaults / Locale and Formatting"
_MZ = "Materialize"
_PRESET = "Preset Options"

SETTINGS: dict[str, Setting] = {
    "cluster": Setting("quickstart", "string", _MZ, "Sets the current cluster"),
    "cluster_replica": Setting("", "string", _MZ, "Sets a target cluster replica for SELECT queries"),
    "database": Setting("materialize", "string", _MZ, "Sets the current database"),
    "search_path": Setting("public", "string", _CLIENT, "Sets the schema search order for names that are not "
                           "schema-qualified"),
    "application_name": Setting("", "string", "Reporting and Logging / What to Log", "Sets the application name "
                                "to be reported in statistics and logs"),
    "client_encoding": Setting("UTF8", "string", _LOCALE, "Sets the client's character set encoding"),
    "datestyle": Setting("ISO, MDY", "string", _LOCALE, "Sets the display format for date and time values"),
    "timezone": Setting("UTC", "string", _LOCALE, "Sets the time zone for displaying and interpreting time stamps"),
    "statement_timeout": Setting("60s", "integer", _CLIENT, "Sets the maximum allowed duration of any statement"),
    "max_result_size": Setting("1GB", "integer", _MZ, "The maximum size in bytes for a single query's result"),
    "transaction_isolation": Setting("strict serializable", "enum", _CLIENT, "Sets the current transaction's "
                                     "isolation level"),
    "default_transaction_read_only": Setting("off", "bool", _CLIENT, "Sets the default read-only status of new "
                                             "transactions"),
    "transaction_read_only": Setting("off", "bool", _CLIENT, "Sets the current transaction's read-only status"),
    "standard_conforming_strings": Setting("on", "bool", "Version and Platform Compatibility", "Causes '...' "
                                           "strings to treat backslashes literally", context="internal"),
    "server_version": Setting("15.0", "string", _PRESET, "Shows the server version", context="internal"),
    "integer_datetimes": Setting("on", "bool", _PRESET, "Shows whether datetimes are integer based",
                                 context="internal"),
    "intervalstyle": Setting("postgres", "enum", _LOCALE, "Sets the display format for interval values"),
    "extra_float_digits": Setting("3", "integer", _LOCALE, "Sets the number of digits displayed for "
                                  "floating-point values"),
    # how libpq (psql's \password) hashes a new password on the client: the only kind of verifier stored
    "password_encryption": Setting("scram-sha-256", "enum", "Connections and Authentication / Authentication",
                                   "Chooses the algorithm for encrypting passwords"),
}

DEFAULT_VARIABLES: dict[str, str] = {name: setting.default for name, setting in SETTINGS.items()}

_CUSTOM = Setting("", "string", "Customized Options", "")


class Constraint(NamedTuple):
    """The values a variable that changes how text is read or written may take here: others PostgreSQL accepts
    would be accepted and ignored (a client told LATIN1 gets UTF-8; ``'a\\nb'`` read without standard strings), so
    they are refused."""

    accepts: Callable[[str], bool]
    supported: str  # what the hint names


def _words(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def _positive_int(value: str) -> bool:
    try:
        return int(value) > 0
    except ValueError:
        raise errors.InvalidParameterValue(
            f'invalid value for parameter "extra_float_digits": "{value}"') from None


CONSTRAINTS: dict[str, Constraint] = {
    "standard_conforming_strings": Constraint(lambda v: v.lower() in ("on", "true", "yes", "1"), "on"),
    # SQL_ASCII converts nothing: the bytes pass as they are, as with UTF8 here (psql asks for it under LANG=C)
    "client_encoding": Constraint(lambda v: v.upper().replace("-", "").replace("_", "") in ("UTF8", "UNICODE",
                                                                                            "SQLASCII"),
                                  "UTF8 (and SQL_ASCII)"),
    # the output is ISO; the order of day and month only matters for input this server does not read
    "datestyle": Constraint(lambda v: "iso" in _words(v) and not _words(v) & {"sql", "postgres", "german"},
                            "ISO, with MDY, DMY or YMD"),
    "intervalstyle": Constraint(lambda v: v.lower() == "postgres", "postgres"),
    "bytea_output": Constraint(lambda v: v.lower() == "hex", "hex"),
    # above zero PostgreSQL 12 and later print the shortest exact text, as this server always does
    "extra_float_digits": Constraint(_positive_int, "1 to 3"),
}


def check_value(name: str, value: str) -> None:
    """Refuse (0A000) a value of a constrained variable that this server would not honour."""
    constraint = CONSTRAINTS.get(name.lower())
    if constraint is not None and not constraint.accepts(value.strip().strip("'\"")):
        raise errors.FeatureNotSupported(f'parameter "{name.lower()}" cannot be set to "{value}"',
                                         hint=f"This server supports {constraint.supported} only.")

def rows(values: Iterable[tuple[str, str]]) -> list[Row]:
    """pg_settings' rows for a session whose variables have ``values`` (name, value), by name, in the columns
    catalog/builtins.py declares for it."""
    out: list[Row] = []
    for name, value in sorted(dict(values).items()):
        setting = SETTINGS.get(name, _CUSTOM)
        default = setting.default if name in SETTINGS else None
        source = "default" if value == default else "session"
        out.append((name, value, setting.unit, setting.category, setting.short_desc or None, None, setting.context,
                    setting.vartype, source, None, None, default, default if default is not None else value, False))
    return out


__all__ = ["CONSTRAINTS", "Constraint", "DEFAULT_VARIABLES", "SETTINGS", "Setting", "check_value", "rows"]
