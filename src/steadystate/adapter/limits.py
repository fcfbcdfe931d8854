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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steadystate.errors import InsufficientResources, SteadyError, quote_ident

if TYPE_CHECKING:
    from steadystate.catalog.state import CatalogState

LIMITS: dict[str, int] = {
    "max_clusters": 32,
    "max_replicas_per_cluster": 5,  # Materialize's default
    "max_replicas": 32,
    "max_statement_bytes": 16 * 1024 * 1024,
}


def _exceeded(what: str, name: str, desired: int, current: int) -> InsufficientResources:
    limit = LIMITS[name]
    return InsufficientResources(
        f"{what} would violate {name} limit (desired: {desired}, limit: {limit}, current: {current})",
        hint="drop unused clusters or replicas first")


def check_new_cluster(state: "CatalogState", replicas: int) -> None:
    if len(state.clusters) + 1 > LIMITS["max_clusters"]:
        raise _exceeded("creating cluster", "max_clusters", len(state.clusters) + 1, len(state.clusters))
    check_replicas(state, None, replicas)


def check_replicas(state: "CatalogState", cluster_id: str | None, desired: int) -> None:
    """A cluster (``None``: a new one) is to have ``desired`` replicas."""
    current = len(state.replicas_of(cluster_id)) if cluster_id is not None else 0
    if desired > LIMITS["max_replicas_per_cluster"]:
        raise _exceeded("creating cluster replica", "max_replicas_per_cluster", desired, current)
    total = len(state.replicas) - current + desired
    if desired > current and total > LIMITS["max_replicas"]:
        raise _exceeded("creating cluster replica", "max_replicas", total, len(state.replicas))


def check_statement_size(sql: str) -> None:
    if len(sql) > LIMITS["max_statement_bytes"]:
        raise SteadyError(f"statement too large: {len(sql)} bytes", sqlstate="54000",
                          detail=f"The limit is {LIMITS['max_statement_bytes']} bytes "
                                 f"({quote_ident('max_statement_bytes')}).",
                          hint="send the data with COPY FROM STDIN or in several statements")
