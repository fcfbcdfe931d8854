"""Rows of Materialize's ``mz_catalog``/``mz_internal`` relations that tools such as dbt-materialize read, with
Materialize's names and columns, as far as the objects exist here (``catalog/builtins.py`` has the columns).

* ``mz_relations``: tables, views and materialized views (Materialize also lists sources, which do not exist);
* ``mz_index_columns``: per index key, its position and the column of the indexed relation it is
  (``on_position``), or, for a key that is an expression, the expression's text (``on_expression``);
* ``mz_types``: the scalar types, in ``pg_catalog``, with Materialize's categories;
* ``mz_cluster_schedules``: every cluster is scheduled ``manual`` (refresh schedules do not exist);
* ``mz_wallclock_global_lag``: per maintained object (index, materialized view), wall clock minus its write
  frontier on the replica that is furthest ahead; ``mz_wallclock_lag_history`` is each object's lag per replica
  binned per minute, sampled by the coordinator (``adapter/lag_history.py``);
* ``mz_role_members``: role membership (``GRANT role TO member``, adapter/privileges.py);
* ``mz_functions``: one row per function name the planner knows (sql/function_catalog.py), in ``pg_catalog``
  (``mz_`` functions in ``mz_catalog``, ``mz_aclexplode`` in ``mz_internal``, as Materialize places them), owned
  by ``mz_system``; overloads are resolved by rules, not listed, so the argument and return type ids are NULL;
* empty because what they describe does not exist here: ``mz_sources``, ``mz_sinks``; ``mz_comments`` is
  adapter/comments.py's; ``mz_default_privileges`` and ``mz_show_default_privileges`` adapter/default_privileges.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from steadystate.adapter import default_privileges, privileges
from steadystate.adapter.lag_history import measure_lags
from steadystate.adapter.pg_catalog import object_oid, schema_id
from steadystate.repr import Row
from steadystate.repr.interval import Interval
from steadystate.repr.objects import IdKind, ItemKind, make_id
from steadystate.repr.types import ScalarType
from steadystate.sql.function_catalog import known_functions

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator

_RELATION_TYPES = {ItemKind.TABLE: "table", ItemKind.VIEW: "view", ItemKind.MATERIALIZED_VIEW: "materialized-view"}
#: Materialize's mz_types.category per scalar type
_CATEGORIES = {ScalarType.BOOL: "bool", ScalarType.TEXT: "string", ScalarType.DATE: "date-time",
               ScalarType.TIMESTAMP: "date-time", ScalarType.TIMESTAMPTZ: "date-time", ScalarType.TIME: "date-time",
               ScalarType.INTERVAL: "timespan", ScalarType.JSONB: "jsonb", ScalarType.UUID: "uuid",
               ScalarType.BYTEA: "bytea"}
#: mz_types ids: system ids past every builtin relation's
_TYPE_ID_BASE = 100_000
#: mz_functions ids (system ids past the types') and oids (past every object's)
_FUNCTION_ID_BASE = 200_000
_FUNCTION_OID_BASE = 3_000_000
_FUNCTION_SCHEMAS = {"mz_aclexplode": "mz_internal"}


def producers(coord: "Coordinator") -> dict[str, Callable[[], list[Row]]]:
    def owner_id(name: str) -> str | None:
        role = coord.catalog.role_by_name(name)
        return role.id if role is not None else None

    def relations() -> list[Row]:
        return [(i.id, object_oid(i.id), schema_id(coord, i.database, i.schema), i.name, _RELATION_TYPES[i.kind],
                 owner_id(i.owner), i.cluster_id)
                for i in coord.catalog.items.values() if i.kind in _RELATION_TYPES]

    def index_columns() -> list[Row]:
        rows: list[Row] = []
        for index in coord.catalog.items.values():
            if index.kind != ItemKind.INDEX:
                continue
            on = coord.catalog.items.get(index.on_id or "")
            columns = [c.name for c in on.desc.columns] if on is not None and on.desc is not None else []
            nullable = {c.name: c.nullable for c in on.desc.columns} if on is not None and on.desc else {}
            for position, key in enumerate(index.key_names, start=1):
                if key in columns:
                    rows.append((index.id, position, columns.index(key) + 1, None, nullable[key]))
                else:
                    rows.append((index.id, position, None, key, True))
        return rows

    def types() -> list[Row]:
        return [(make_id(IdKind.SYSTEM, _TYPE_ID_BASE + t.pg_oid), t.pg_oid, schema_id(coord, "", "pg_catalog"),
                 t.value, "array" if t.is_array else _CATEGORIES.get(t, "numeric"), None) for t in ScalarType]

    def functions() -> list[Row]:
        rows: list[Row] = []
        for n, (name, returns_set) in enumerate(known_functions()):
            schema = _FUNCTION_SCHEMAS.get(name, "mz_catalog" if name.startswith("mz_") else "pg_catalog")
            rows.append((make_id(IdKind.SYSTEM, _FUNCTION_ID_BASE + n), _FUNCTION_OID_BASE + n,
                         schema_id(coord, "", schema), name, None, None, None, returns_set,
                         privileges.SYSTEM_ROLE_IDS[privileges.SYSTEM_OWNER]))
        return rows

    def schedules() -> list[Row]:
        return [(c.id, "manual", None) for c in coord.catalog.clusters.values()]

    def global_lag() -> list[Row]:
        best: dict[str, int] = {}
        for object_id, _replica, lag in measure_lags(coord):
            if object_id not in best or lag < best[object_id]:
                best[object_id] = lag
        return [(object_id, Interval(micros=lag)) for object_id, lag in sorted(best.items())]

    def lag_history() -> list[Row]:
        return coord.lag_history.rows() if coord.lag_history is not None else []

    return {
        "mz_relations": relations,
        "mz_index_columns": index_columns,
        "mz_types": types,
        "mz_functions": functions,
        "mz_cluster_schedules": schedules,
        "mz_wallclock_global_lag": global_lag,
        "mz_wallclock_lag_history": lag_history,
        "mz_sources": list,
        "mz_sinks": list,
        "mz_role_members": lambda: privileges.role_member_ids(coord.catalog),
        "mz_show_default_privileges": lambda: default_privileges.show_default_privilege_rows(coord.catalog),
        "mz_default_privileges": lambda: default_privileges.default_privilege_rows(coord.catalog),
    }


__all__ = ["producers"]
