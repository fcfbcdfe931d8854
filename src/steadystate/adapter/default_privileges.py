"""Default privileges (Materialize's ``ALTER DEFAULT PRIVILEGES``): privileges granted to objects when they are
created.

``ALTER DEFAULT PRIVILEGES [FOR ROLE r, ... | FOR ALL ROLES] [IN SCHEMA s, ... | IN DATABASE d, ...] GRANT privs ON
TABLES TO grantee, ...`` (or ``REVOKE ... FROM``) writes one durable
:class:`~steadystate.catalog.records.DefaultPrivilegeRecord` per (creating role, scope, grantee) holding the
privilege letters; a REVOKE takes letters away and deletes a record left empty.  Without ``FOR`` the defaults are
the current role's; ``FOR ALL ROLES`` (``PUBLIC`` in the record) needs a superuser, ``FOR ROLE r`` membership in
``r`` (or a superuser), as in Materialize.

When a relation is created (adapter/ddl.py ``_create_item``), :func:`grants_for` turns every record whose role is the
new object's owner or ``PUBLIC`` and whose scope holds it (any database/schema, its database, its schema, keyed by
the schema's id, so defaults follow ``ALTER SCHEMA ... RENAME``) into :class:`GrantRecord`s committed in the same
catalog transaction as the object.  Objects that exist already are unchanged, as in PostgreSQL.

``mz_internal.mz_default_privileges`` (Materialize's columns, role ids, ``p`` for PUBLIC) and
``mz_internal.mz_show_default_privileges`` (names, one row per privilege; ``SHOW DEFAULT PRIVILEGES`` and
dbt-materialize read it) show the records.
"""

from __future__ import annotations

import json

from steadystate.adapter.privileges import (APPLICABLE, BY_LETTER, LETTERS, PUBLIC, Obj, Privilege, acl, grant_id,
                                            is_superuser, memberships, role_id, schema_obj)
from steadystate.catalog.records import DefaultPrivilegeRecord, GrantRecord, ItemRecord
from steadystate.catalog.state import CatalogState
from steadystate.errors import InsufficientPrivilege, SteadyError, UndefinedObject, quote_ident
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind
from steadystate.sql import plan as p

#: what ``ON <objects>`` covers: the statement's object type → (the privilege model's type, the item kinds)
OBJECT_KINDS: dict[str, tuple[str, frozenset[ItemKind]]] = {
    "TABLE": ("table", frozenset({ItemKind.TABLE, ItemKind.VIEW, ItemKind.MATERIALIZED_VIEW})),
}


def _record_id(role: str, database: str | None, schema_id: str | None, object_type: str, grantee: str) -> str:
    return f"{role}:{database or ''}:{schema_id or ''}:{object_type}:{grantee}"


def _check(state: CatalogState, plan: p.AlterDefaultPrivilegesPlan, user: str) -> None:
    if plan.roles is None and not is_superuser(state, user):
        raise InsufficientPrivilege("permission denied to alter default privileges for all roles",
                                    hint="a superuser can ALTER DEFAULT PRIVILEGES FOR ALL ROLES")
    for role in plan.roles or ():
        if state.role_by_name(role) is None:
            raise UndefinedObject(f"role {quote_ident(role)} does not exist")
        if not is_superuser(state, user) and role not in memberships(state, user):
            raise InsufficientPrivilege(f"must be a member of {quote_ident(role)}",
                                        hint=f"GRANT {role} TO {user}, or a superuser can do this")
    for grantee in plan.grantees:
        if grantee != PUBLIC and state.role_by_name(grantee) is None:
            raise UndefinedObject(f"role {quote_ident(grantee)} does not exist")


def _scope(state: CatalogState, database: str | None, schema: str | None) -> tuple[str | None, str | None]:
    if database is not None and database not in state.databases():
        raise UndefinedObject(f"database {quote_ident(database)} does not exist", sqlstate="3D000")
    if schema is None:
        return database, None
    assert database is not None  # the planner qualifies a schema
    if not state.schema_exists(database, schema):
        raise UndefinedObject(f"schema {quote_ident(schema)} does not exist", sqlstate="3F000")
    return database, schema_obj(state, database, schema).id


def alter_default_privileges(state: CatalogState, plan: p.AlterDefaultPrivilegesPlan, user: str) -> str:
    _check(state, plan, user)
    object_type, _ = OBJECT_KINDS[plan.object_type]
    applicable = APPLICABLE[plan.object_type]
    letters = "".join(LETTERS[Privilege(name)] for name in plan.privileges) if plan.privileges else applicable
    wrong = [BY_LETTER[c].value for c in letters if c not in applicable]
    if wrong:
        raise SteadyError(f"invalid privilege types {', '.join(wrong)} for {plan.object_type}", sqlstate="0LP01")
    puts: list[DefaultPrivilegeRecord] = []
    deletes: list[str] = []
    for role in plan.roles if plan.roles is not None else (PUBLIC,):
        for database, schema in plan.scopes:
            database, schema_id = _scope(state, database, schema)
            for grantee in plan.grantees:
                key = _record_id(role, database, schema_id, object_type, grantee)
                current = state.default_privileges.get(key)
                held = current.privileges if current is not None else ""
                after = "".join(c for c in held if c not in letters) if plan.revoke else \
                    held + "".join(c for c in letters if c not in held)
                if after:
                    puts.append(DefaultPrivilegeRecord(id=key, role=role, database=database, schema_id=schema_id,
                                                       object_type=object_type, grantee=grantee, privileges=after))
                elif current is not None:
                    deletes.append(key)
    with state.durable.transact(user) as txn:
        for record in puts:
            txn.put(record)
        for key in deletes:
            txn.delete("default_privilege", key)
        for key, after in [(r.id, r.privileges) for r in puts] + [(key, "") for key in deletes]:
            txn.audit_event("alter", "default-privileges",  # (introspection's audit_details: it imports us)
                            json.dumps({"id": key, "privileges": after}, sort_keys=True))
    state.apply_deletes([("default_privilege", key) for key in deletes])
    state.apply_puts(puts)
    return "ALTER DEFAULT PRIVILEGES"


def grants_for(state: CatalogState, item: ItemRecord, obj: Obj) -> list[GrantRecord]:
    """The grants the default privileges give a relation being created (``obj`` is its privilege-model object)."""
    applies = {object_type for object_type, kinds in OBJECT_KINDS.values() if item.kind in kinds}
    if not applies or not state.default_privileges:
        return []
    schema_id = schema_obj(state, item.database, item.schema).id
    letters: dict[str, str] = {}
    for record in state.default_privileges.values():
        if record.object_type in applies and record.role in (item.owner, PUBLIC) \
                and record.database in (None, item.database) and record.schema_id in (None, schema_id):
            held = letters.get(record.grantee, "")
            letters[record.grantee] = held + "".join(c for c in record.privileges if c not in held)
    applicable = APPLICABLE.get(obj.kind, "")
    current = acl(state, obj)
    out = []
    for grantee, granted in letters.items():
        if grantee == item.owner:
            continue  # the owner holds everything already
        held = current.get(grantee, ("", item.owner))[0]
        after = held + "".join(c for c in granted if c in applicable and c not in held)
        if after != held:
            out.append(GrantRecord(id=grant_id(obj, grantee), object_type=obj.type.value, object_id=obj.id,
                                   grantee=grantee, privileges=after, grantor=item.owner))
    return out


_OBJECT_TYPE_NAMES = {"table": "table"}


def _schema_name(state: CatalogState, schema_id: str | None) -> str | None:
    if schema_id is None:
        return None
    record = state.schemas.get(schema_id)
    return record.name if record is not None else schema_id.split(".", 1)[-1]


def default_privilege_rows(state: CatalogState) -> list[Row]:
    """``mz_internal.mz_default_privileges``: (role_id, database_id, schema_id, object_type, grantee, privileges),
    role ids, ``p`` for PUBLIC."""
    return [(role_id(state, r.role), r.database, r.schema_id, r.object_type, role_id(state, r.grantee), r.privileges)
            for r in sorted(state.default_privileges.values(), key=lambda r: r.id)]


def show_default_privilege_rows(state: CatalogState) -> list[Row]:
    """``mz_internal.mz_show_default_privileges``: (object_owner, database, schema, object_type, grantee,
    privilege_type), names (``PUBLIC`` as ``PUBLIC``), one row per privilege."""
    return [(r.role, r.database, _schema_name(state, r.schema_id), _OBJECT_TYPE_NAMES[r.object_type], r.grantee,
             BY_LETTER[letter].value)
            for r in sorted(state.default_privileges.values(), key=lambda r: r.id) for letter in r.privileges]
