"""Resource limits one request cannot exceed (Materialize's ``max_*`` system variables), as data.

:data:`LIMITS` holds each limit's value; the checks here are called where a statement would exceed it, before
anything changes, and refuse with 53000 (Materialize's ``resource exhausted`` errors):

* ``max_clusters``: clusters in the environment;
* ``max_replicas_per_cluster``: replicas of one cluster (a managed cluster's REPLICATION FACTOR included);
* ``max_replicas``: replicas in the environment (each is an OS process);
* ``max_statement_bytes``: the text of one query string (54000 ``statement too large``), so a single request
  cannot make the coordinator tokenize, parse and plan without bound.

The replacements a SEAL, RESTART or graceful resize starts beside the replicas they replace are not counted
(they exist only until the cut-over).

:data:`LIMITS` are the defaults.  A superuser changes a limit at runtime with Materialize's ``ALTER SYSTEM SET
name = value`` (``RESET name``/``RESET ALL``/``SET name = DEFAULT`` for the default again): a durable
:class:`~steadystate.catalog.records.SystemSettingRecord`, which the next check reads (:func:`limit`), no
restart; ``SHOW name`` shows the value in force.  ``max_connections`` is enforced by the supervisor's proxy,
which counts the client connections: ``ALTER SYSTEM SET max_connections`` stores the record and writes the value to
``<data-dir>/max_connections`` (:func:`sync_runtime_files`, also at every start, so the file follows the record),
which the proxy reads when a client arrives; without it the proxy's ``--max-connections`` (or its default) holds,
which the supervisor hands the coordinator for ``SHOW``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from steadystate.catalog.records import SystemSettingRecord
from steadystate.errors import (FeatureNotSupported, InsufficientPrivilege, InsufficientResources,
                                InvalidParameterValue, SteadyError, UndefinedObject, quote_ident)
from steadystate.security.files import MAX_CONNECTIONS_ENV, MAX_CONNECTIONS_FILE, write_private
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.catalog.state import CatalogState

MAX_CONNECTIONS_DEFAULT = 1000  # the proxy's (pgwire/proxy_server.py), when no supervisor said otherwise
LIMITS: dict[str, int] = {
    "max_clusters": 32,
    "max_replicas_per_cluster": 5,  # Materialize's default
    "max_replicas": 32,
    "max_statement_bytes": 16 * 1024 * 1024,
}


#: limits the supervisor enforces: name → the data directory file the coordinator hands the value over in
SUPERVISOR_LIMITS: dict[str, str] = {"max_connections": MAX_CONNECTIONS_FILE}
#: system variables that are not the coordinator's to change at runtime: name → why (0A000's hint)
NOT_ALTERABLE: dict[str, str] = {}


def limit(state: "CatalogState | None", name: str) -> int:
    """The limit in force: ``ALTER SYSTEM``'s value, else the default."""
    record = state.system_settings.get(name) if state is not None else None
    if record is not None:
        return int(record.value)
    if name == "max_connections":
        return int(os.environ.get(MAX_CONNECTIONS_ENV) or MAX_CONNECTIONS_DEFAULT)
    return LIMITS[name]


def sync_runtime_files(state: "CatalogState", data_dir: Path) -> None:
    """Write (or remove) the files the supervisor reads the limits it enforces from, as the records say."""
    for name, file_name in SUPERVISOR_LIMITS.items():
        record = state.system_settings.get(name)
        path = data_dir / file_name
        if record is not None:
            write_private(path, record.value + "\n")
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _exceeded(state: "CatalogState", what: str, name: str, desired: int, current: int) -> InsufficientResources:
    return InsufficientResources(
        f"{what} would violate {name} limit (desired: {desired}, limit: {limit(state, name)}, current: {current})",
        hint="drop unused clusters or replicas first, or (a superuser) ALTER SYSTEM SET " + name)


def check_new_cluster(state: "CatalogState", replicas: int) -> None:
    if len(state.clusters) + 1 > limit(state, "max_clusters"):
        raise _exceeded(state, "creating cluster", "max_clusters", len(state.clusters) + 1, len(state.clusters))
    check_replicas(state, None, replicas)


def check_replicas(state: "CatalogState", cluster_id: str | None, desired: int) -> None:
    """A cluster (``None``: a new one) is to have ``desired`` replicas."""
    current = len(state.replicas_of(cluster_id)) if cluster_id is not None else 0
    if desired > limit(state, "max_replicas_per_cluster"):
        raise _exceeded(state, "creating cluster replica", "max_replicas_per_cluster", desired, current)
    total = len(state.replicas) - current + desired
    if desired > current and total > limit(state, "max_replicas"):
        raise _exceeded(state, "creating cluster replica", "max_replicas", total, len(state.replicas))


def check_statement_size(sql: str, state: "CatalogState | None" = None) -> None:
    bound = limit(state, "max_statement_bytes")
    if len(sql) > bound:
        raise SteadyError(f"statement too large: {len(sql)} bytes", sqlstate="54000",
                          detail=f"The limit is {bound} bytes ({quote_ident('max_statement_bytes')}).",
                          hint="send the data with COPY FROM STDIN or in several statements")


def system_values(state: "CatalogState") -> dict[str, str]:
    """Every limit's value in force, as ``SHOW`` shows it."""
    return {name: str(limit(state, name)) for name in (*LIMITS, *SUPERVISOR_LIMITS)}


def _parse_value(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidParameterValue(f"invalid value for parameter {quote_ident(name)}: {quote_ident(text)}",
                                    hint="a positive integer") from None
    if value < 1:
        raise InvalidParameterValue(f"invalid value for parameter {quote_ident(name)}: {value}",
                                    hint="a positive integer")
    return value


def alter_system(state: "CatalogState", plan: p.AlterSystemPlan, user: str) -> str:
    """``ALTER SYSTEM SET``/``RESET``: superuser only; durable at once, in force for the next check."""
    record = state.role_by_name(user)
    if record is None or not record.superuser:
        raise InsufficientPrivilege("permission denied to alter system",
                                    detail=f"The '{user}' role is not a superuser", hint="a superuser can do this")
    if plan.name in NOT_ALTERABLE:
        raise FeatureNotSupported(f"ALTER SYSTEM SET {plan.name} is not supported", hint=NOT_ALTERABLE[plan.name])
    known = [*LIMITS, *SUPERVISOR_LIMITS]
    names = known if plan.name == "all" and plan.value is None else [plan.name]
    if plan.name not in known and names != known:
        raise UndefinedObject(f"unrecognized configuration parameter {quote_ident(plan.name)}",
                              hint="ALTER SYSTEM sets " + ", ".join(sorted(known)))
    put = None if plan.value is None else SystemSettingRecord(id=plan.name,
                                                               value=str(_parse_value(plan.name, plan.value)))
    with state.durable.transact(user) as txn:
        if put is not None:
            txn.put(put)
        else:
            for name in names:
                txn.delete("system_setting", name)
        txn.audit_event("alter", "system", json.dumps({"name": plan.name, "value": put.value if put else None}))
    if put is not None:
        state.apply_puts([put])
    else:
        state.apply_deletes([("system_setting", name) for name in names])
    return "ALTER SYSTEM"
