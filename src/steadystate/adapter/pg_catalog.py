"""Rows of the ``pg_catalog`` builtins that PostgreSQL clients query: enough for psql's ``\\d`` family.

steadystate's own catalog speaks ids (``u7``, ``g1``); PostgreSQL's speaks oids.  The mapping is fixed and
derivable, so every relation agrees on it without storing anything:

* a user object ``u<n>`` has oid ``20000 + n``;
* a role ``g<n>`` has oid ``16384 + n``;
* schemas have PostgreSQL's oids where PostgreSQL has the schema (``pg_catalog`` 11, ``public`` 2200), fixed ones
  for Materialize's (``mz_catalog``, ``mz_internal``, ``information_schema``), and a stable hash otherwise.

``pg_class`` lists the user's tables (``r``), views (``v``), materialized views (``m``) and indexes (``i``) — not
the builtin relations, so psql's listings show what the user made.  ``pg_index`` ties an index to its relation,
``pg_roles`` names the roles, and ``pg_am`` exists (empty) because psql joins it.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Callable

from steadystate.repr import Row
from steadystate.repr.objects import ItemKind, id_number

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

_RELKIND = {ItemKind.TABLE: "r", ItemKind.VIEW: "v", ItemKind.MATERIALIZED_VIEW: "m", ItemKind.INDEX: "i"}
_SCHEMA_OIDS = {"pg_catalog": 11, "public": 2200, "information_schema": 13000, "mz_catalog": 16001,
                "mz_internal": 16002}


def object_oid(item_id: str) -> int:
    return 20000 + id_number(item_id)


def role_oid(role_id: str) -> int:
    return 16384 + id_number(role_id)


def schema_oid(name: str) -> int:
    return _SCHEMA_OIDS.get(name) or 100000 + zlib.crc32(name.encode()) % 1_000_000


def producers(coord: "Coordinator") -> dict[str, Callable[[], list[Row]]]:
    """``name -> rows`` for the ``pg_catalog`` builtins (see ``catalog/builtins.py`` for their columns)."""

    def roles_by_name() -> dict[str, int]:
        return {r.name: role_oid(r.id) for r in coord.catalog.roles.values()}

    def namespaces() -> list[Row]:
        names = set(_SCHEMA_OIDS) | {item.schema for item in coord.catalog.items.values()}
        return [(schema_oid(name), name, None) for name in sorted(names)]

    def classes() -> list[Row]:
        owners = roles_by_name()
        items = coord.catalog.items.values()
        indexed = {item.on_id for item in items if item.kind == ItemKind.INDEX}
        return [
            (object_oid(item.id), item.name, schema_oid(item.schema), _RELKIND[item.kind], owners.get(item.owner, 0),
             0, item.id in indexed)
            for item in items if item.kind in _RELKIND
        ]

    def indexes() -> list[Row]:
        return [
            (object_oid(item.id), object_oid(item.on_id))
            for item in coord.catalog.items.values() if item.kind == ItemKind.INDEX and item.on_id
        ]

    def roles() -> list[Row]:
        return [(role_oid(r.id), r.name, r.superuser) for r in coord.catalog.roles.values()]

    return {
        "pg_namespace": namespaces,
        "pg_class": classes,
        "pg_index": indexes,
        "pg_roles": roles,
        "pg_am": lambda: [],
    }


__all__ = ["object_oid", "producers", "role_oid", "schema_oid"]
