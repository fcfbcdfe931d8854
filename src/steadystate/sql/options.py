"""The options statements take (``WITH (...)``, ``(SIZE = ...)``) as data: which each statement honours.

An option a statement does not honour is refused (0A000) with the options it takes in the hint, never accepted and
ignored: :data:`CLUSTER_OPTIONS` and :data:`REPLICA_OPTIONS` for CREATE CLUSTER and its replicas,
:data:`ALTER_CLUSTER_OPTIONS` per ALTER CLUSTER action (SET's are checked where SET is applied, adapter/ddl.py),
:data:`COPY_OPTIONS` per COPY direction, with :data:`COPY_NEUTRAL`: the other options' values that change nothing
here (PostgreSQL's defaults: ``QUOTE '"'``, ``ENCODING 'UTF8'``).  :func:`options_dict` reads a parsed option list
(names lower case, spaces as underscores, a bare option ``True``).
"""

from __future__ import annotations

from typing import Any, Callable

from steadystate import errors
from steadystate.sql import statements as st


def options_dict(options: st.Options) -> dict[str, Any]:
    return {k.lower().replace(" ", "_"): (True if v is None else v) for k, v in options}


#: the options CREATE CLUSTER and a replica's definition honour; any other is refused (0A000), never ignored
CLUSTER_OPTIONS = frozenset({"size", "replication_factor", "managed"})
REPLICA_OPTIONS = frozenset({"size"})


def honoured(options: dict[str, Any], known: frozenset[str], what: str) -> dict[str, Any]:
    for name in options:
        if name not in known:
            raise errors.FeatureNotSupported(f"{what} option {name.replace('_', ' ').upper()} is not supported",
                                             hint=f"{what} takes {', '.join(sorted(o.replace('_', ' ').upper() for o in known))}.")
    return options


#: the options each ALTER CLUSTER action honours (SET's are checked where SET is applied, adapter/ddl.py)
ALTER_CLUSTER_OPTIONS: dict[st.AlterAction, frozenset[str]] = {
    st.AlterAction.SEAL: frozenset({"restart", "timeout"}),
    st.AlterAction.RESTART: frozenset({"timeout"}),
    st.AlterAction.UNSEAL: frozenset(),
    st.AlterAction.OWNER: frozenset({"owner"}),
}


#: the COPY options each direction honours, and the values of the others that change nothing here (PostgreSQL's
#: defaults); any other option or value is refused (0A000), never accepted and ignored
COPY_OPTIONS = {"from": frozenset({"format", "header", "delimiter", "null"}), "to": frozenset({"format"})}
COPY_NEUTRAL: dict[str, Callable[[str], bool]] = {
    "encoding": lambda v: v.upper().replace("-", "").replace("_", "") in ("UTF8", "UNICODE"),
    "quote": lambda v: v == '"',
    "escape": lambda v: v == '"',
    "freeze": lambda v: v.lower() in ("false", "off", "0"),
}


def copy_options(options: st.Options, direction: str) -> dict[str, Any]:
    checked = options_dict(options)
    for name, value in checked.items():
        if name in COPY_OPTIONS[direction] or COPY_NEUTRAL.get(name, lambda v: False)(str(value)):
            continue
        raise errors.FeatureNotSupported(
            f"COPY {direction.upper()} option {name.upper()} {'' if value is True else repr(str(value)) + ' '}"
            "is not supported".replace("  ", " "),
            hint=f"COPY {direction.upper()} supports {', '.join(sorted(o.upper() for o in COPY_OPTIONS[direction]))}.")
    return checked
