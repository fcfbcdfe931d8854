"""The privilege model (Materialize's): who holds which privilege on which object, and what the catalog shows.

Objects that carry privileges (:class:`ObjectType`): relations (``TABLE``: tables, views, materialized views,
system relations), schemas, databases and clusters.  A role holds a privilege on an object when it is a
superuser, when it (or a role it is a member of, ``GRANT r TO role``) owns the object, or when the object's
access list grants it to the role, to a role it is a member of, or to ``PUBLIC``.

The access list of an object is its *defaults* (:data:`PUBLIC_DEFAULTS`, as Materialize bootstraps them:
``PUBLIC`` has USAGE on the ``materialize`` database, on ``public`` and the system schemas and on the
``quickstart`` cluster, and SELECT on every system relation but the :data:`RESTRICTED` ones, the audit log among
them) overlaid by the catalog's :class:`~steadystate.catalog.records.GrantRecord` s: one per (object, grantee),
which replaces that grantee's default (a REVOKE of a default is a record with no privileges).  Keeping defaults
as data rather than bootstrap records means a catalog written by an earlier release gets them too.

Objects without an owning role (the ``materialize`` database, ``public`` and the system schemas, system
relations) are owned by the system (``mz_system`` in the catalog's columns): only superusers own them.

Privileges are Materialize's letters: ``r`` SELECT, ``a`` INSERT, ``w`` UPDATE, ``d`` DELETE, ``U`` USAGE,
``C`` CREATE; :func:`acl_items` renders an access list as Materialize's ``mz_aclitem[]`` (``text[]`` here) of
``grantee=privileges/grantor`` items with role ids (an empty grantee meaning PUBLIC), the ``privileges`` column of
``mz_tables``, ``mz_views``, ``mz_materialized_views``, ``mz_clusters``, ``mz_schemas`` and ``mz_databases``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Iterator

from steadystate.catalog.builtins import BuiltinRelation
from steadystate.catalog.records import ClusterRecord, ItemRecord
from steadystate.catalog.state import DEFAULT_CLUSTER, DEFAULT_DATABASE, SYSTEM_SCHEMAS, CatalogState
from steadystate.expr.table_functions import PUBLIC_ROLE_ID
from steadystate.repr.arrays import Array
from steadystate.repr.objects import ItemKind

PUBLIC = "PUBLIC"
SYSTEM_OWNER = "mz_system"


class ObjectType(enum.StrEnum):
    TABLE = "table"  # every relation (Materialize's GRANT ... ON TABLE covers views and materialized views)
    SCHEMA = "schema"
    DATABASE = "database"
    CLUSTER = "cluster"


class Privilege(enum.StrEnum):
    SELECT = "SELECT"
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    USAGE = "USAGE"
    CREATE = "CREATE"


LETTERS: dict[Privilege, str] = {Privilege.SELECT: "r", Privilege.INSERT: "a", Privilege.UPDATE: "w",
                                 Privilege.DELETE: "d", Privilege.USAGE: "U", Privilege.CREATE: "C"}
BY_LETTER = {letter: privilege for privilege, letter in LETTERS.items()}


class Attribute(enum.StrEnum):
    """Role attributes (Materialize's system privileges), held on the system as a whole."""

    CREATEROLE = "createrole"
    CREATEDB = "createdb"
    CREATECLUSTER = "createcluster"


#: the privileges that apply to each kind of object (``ALL PRIVILEGES`` means these)
APPLICABLE: dict[str, str] = {
    "TABLE": "arwd",  # tables
    "VIEW": "r",
    "MATERIALIZED VIEW": "r",
    "SYSTEM RELATION": "r",
    "SCHEMA": "UC",
    "DATABASE": "UC",
    "CLUSTER": "UC",
}

#: system relations PUBLIC may not read (a superuser may grant SELECT on them)
RESTRICTED = frozenset({("mz_catalog", "mz_audit_events")})


@dataclass(frozen=True)
class Obj:
    """An object that privileges are held on, as the checks and messages need it."""

    type: ObjectType
    id: str  # an item's or cluster's id; a schema's record id ("database.schema" for one without); a database's name
    name: str  # for messages: Materialize's qualified name
    owner: str | None  # the owning role; None: the system
    kind: str  # Materialize's word in messages and APPLICABLE: TABLE, VIEW, SCHEMA, CLUSTER, ...

    def __str__(self) -> str:
        return f'{self.kind} "{self.name}"'


def _default_public(obj: Obj) -> str:
    if obj.type is ObjectType.DATABASE:
        return "U" if obj.id == DEFAULT_DATABASE else ""
    if obj.type is ObjectType.SCHEMA:
        schema = obj.name.split(".", 1)[1]
        return "U" if schema == "public" or schema in SYSTEM_SCHEMAS else ""
    if obj.type is ObjectType.CLUSTER:
        return "U" if obj.name == DEFAULT_CLUSTER else ""
    if obj.kind == "SYSTEM RELATION":
        return "" if tuple(obj.name.split(".", 1)) in RESTRICTED else "r"
    return ""


#: what PUBLIC holds on an object nobody granted or revoked anything on (per object type; the owner holds all)
PUBLIC_DEFAULTS: dict[ObjectType, Callable[[Obj], str]] = {kind: _default_public for kind in ObjectType}

_ITEM_KINDS = {ItemKind.TABLE: "TABLE", ItemKind.VIEW: "VIEW", ItemKind.MATERIALIZED_VIEW: "MATERIALIZED VIEW",
               ItemKind.INDEX: "INDEX", ItemKind.BUILTIN: "SYSTEM RELATION"}


def item_obj(item: ItemRecord | BuiltinRelation) -> Obj:
    if isinstance(item, BuiltinRelation):
        return Obj(ObjectType.TABLE, item.id, f"{item.schema}.{item.name}", None, "SYSTEM RELATION")
    return Obj(ObjectType.TABLE, item.id, item.qualified, item.owner, _ITEM_KINDS.get(item.kind, "TABLE"))


def schema_obj(state: CatalogState, database: str, schema: str) -> Obj:
    """A schema: keyed by its record's id (so its grants follow ``ALTER SCHEMA ... RENAME``/``SWAP`` and do not pass
    to a later schema of the same name); ``public`` and the system schemas, which have no record and cannot be
    renamed, by their qualified name."""
    record = state.schema_record(database, schema)
    if record is None:
        return Obj(ObjectType.SCHEMA, f"{database}.{schema}", f"{database}.{schema}", None, "SCHEMA")
    return Obj(ObjectType.SCHEMA, record.id, f"{database}.{schema}", record.owner, "SCHEMA")


def database_obj(name: str, state: CatalogState | None = None) -> Obj:
    """A database; given the catalog, with the owner of its ``CREATE DATABASE`` record (``materialize`` has none)."""
    owner = None
    if state is not None:
        owner = next((d.owner for d in state.database_records.values() if d.name == name), None)
    return Obj(ObjectType.DATABASE, name, name, owner, "DATABASE")


def cluster_obj(cluster: ClusterRecord) -> Obj:
    return Obj(ObjectType.CLUSTER, cluster.id, cluster.name, cluster.owner, "CLUSTER")


def grant_id(obj: Obj, grantee: str) -> str:
    return f"{obj.type.value}:{obj.id}:{grantee}"


def acl(state: CatalogState, obj: Obj) -> dict[str, tuple[str, str]]:
    """The object's access list: grantee → (privilege letters, grantor), owner first, then PUBLIC, then grants."""
    owner = obj.owner or SYSTEM_OWNER
    out: dict[str, tuple[str, str]] = {owner: (APPLICABLE[obj.kind] if obj.kind in APPLICABLE else "", owner)}
    default = PUBLIC_DEFAULTS[obj.type](obj)
    if default:
        out[PUBLIC] = (default, SYSTEM_OWNER)
    prefixes: tuple[str, ...] = (f"{obj.type.value}:{obj.id}:",)
    if obj.type is ObjectType.SCHEMA and obj.id != obj.name:  # a grant an earlier release keyed by name
        prefixes = (f"{obj.type.value}:{obj.name}:", *prefixes)  # (the id-keyed one, applied later, wins)
    for key, record in sorted(state.grants.items(), key=lambda entry: not entry[0].startswith(prefixes[0])):
        if key.startswith(prefixes) and record.grantee != owner:
            if record.privileges:
                out[record.grantee] = (record.privileges, record.grantor)
            else:
                out.pop(record.grantee, None)
    return out


def memberships(state: CatalogState, role: str) -> set[str]:
    """``role`` and every role it is a member of, directly or through others."""
    seen, stack = {role}, [role]
    while stack:
        record = state.role_by_name(stack.pop())
        for parent in record.member_of if record is not None else ():
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def is_superuser(state: CatalogState, role: str) -> bool:
    record = state.role_by_name(role)
    return record is not None and record.superuser


def owns(state: CatalogState, role: str, owner: str | None) -> bool:
    return is_superuser(state, role) or (owner is not None and owner in memberships(state, role))


def has_privilege(state: CatalogState, role: str, obj: Obj, privilege: Privilege) -> bool:
    if owns(state, role, obj.owner):
        return True
    letter = LETTERS[privilege]
    holders = memberships(state, role) | {PUBLIC}
    return any(letter in letters for grantee, (letters, _) in acl(state, obj).items() if grantee in holders)


def has_attribute(state: CatalogState, role: str, attribute: Attribute) -> bool:
    if is_superuser(state, role):
        return True
    for name in memberships(state, role):
        record = state.role_by_name(name)
        if record is not None and getattr(record, attribute.value):
            return True
    return False


#: the ids of the roles that have no record here (Materialize's): ``mz_system`` grants the defaults, ``PUBLIC``
#: is the empty grantee of an ``mz_aclitem`` and ``p`` in ``mz_aclexplode``'s rows
SYSTEM_ROLE_IDS = {SYSTEM_OWNER: "s1", "mz_support": "s2", PUBLIC: PUBLIC_ROLE_ID}


def role_id(state: CatalogState, name: str) -> str:
    """The id Materialize's catalog columns give role ``name`` (its record's; the system roles' ``s<n>``)."""
    record = state.role_by_name(name)
    return record.id if record is not None else SYSTEM_ROLE_IDS.get(name, name)


def acl_items(state: CatalogState, obj: Obj) -> Array:
    """The object's access list as Materialize's ``mz_aclitem[]`` (a ``text[]`` here): ``grantee=privileges/grantor``
    with role ids, PUBLIC the empty grantee; ``mz_aclexplode`` (expr/table_functions.py) reads it back."""
    return Array(f"{'' if grantee == PUBLIC else role_id(state, grantee)}={letters}/{role_id(state, grantor)}"
                 for grantee, (letters, grantor) in acl(state, obj).items() if letters)


_PG_ACL_ORDER = "arwdDxtXUCTcsAm"  # PostgreSQL's ACL_ALL_RIGHTS_STR: the order it prints privilege letters in


def _acl_role(name: str) -> str:
    return name if name and all(c.isalnum() or c == "_" for c in name) and not name[0].isdigit() \
        else '"' + name.replace('"', '""') + '"'


def relacl(state: CatalogState, obj: Obj) -> str | None:
    """``pg_class.relacl`` as PostgreSQL prints an ``aclitem[]``: ``{owner=arwd/owner,joe=r/owner,=r/owner}`` with
    role names (PUBLIC the empty grantee); NULL while nothing was granted or revoked on the object (its
    defaults), as in PostgreSQL."""
    prefix = f"{obj.type.value}:{obj.id}:"
    if not any(key.startswith(prefix) for key in state.grants):
        return None
    items = [f"{'' if grantee == PUBLIC else _acl_role(grantee)}="
             f"{''.join(sorted(letters, key=_PG_ACL_ORDER.index))}/{_acl_role(grantor)}"
             for grantee, (letters, grantor) in acl(state, obj).items() if letters]
    return "{" + ",".join(items) + "}"


def explode(state: CatalogState, obj: Obj) -> Iterator[tuple[str, str, str]]:
    """(grantor, grantee, privilege type) for each privilege in the object's access list (``mz_aclexplode``)."""
    for grantee, (letters, grantor) in acl(state, obj).items():
        for letter in letters:
            yield grantor, grantee, BY_LETTER[letter].value


def all_objects(state: CatalogState) -> Iterator[tuple[Obj, str | None, str | None]]:
    """Every object with privileges: (object, its database, its schema), for SHOW PRIVILEGES and has_*."""
    for database in sorted(state.databases()):
        yield database_obj(database), None, None
        for schema in sorted(state.schema_names(database) | SYSTEM_SCHEMAS):
            yield schema_obj(state, database, schema), database, None
    for cluster in state.clusters.values():
        yield cluster_obj(cluster), None, None
    for item in state.items.values():
        if item.kind != ItemKind.INDEX:
            yield item_obj(item), item.database, item.schema


def show_all_privileges(state: CatalogState) -> list[tuple[str, str, str | None, str | None, str, str, str]]:
    """``mz_internal.mz_show_all_privileges``: (grantor, grantee, database, schema, name, object_type,
    privilege_type) for every privilege on every object, owners' included (Materialize's SHOW PRIVILEGES)."""
    rows = []
    for obj, database, schema in all_objects(state):
        name = obj.name.rsplit(".", 1)[-1]
        if obj.type is ObjectType.SCHEMA:
            database = obj.name.split(".", 1)[0]
        for grantor, grantee, privilege in explode(state, obj):
            rows.append((grantor, grantee.lower() if grantee == PUBLIC else grantee, database, schema, name,
                         obj.kind.lower(), privilege))
    return rows


def role_members(state: CatalogState) -> list[tuple[str, str, str]]:
    """``mz_internal.mz_show_role_members``: (role, member, grantor) (SHOW ROLE MEMBERSHIP)."""
    return [(parent, role.name, SYSTEM_OWNER) for role in state.roles.values() for parent in role.member_of]


def role_member_ids(state: CatalogState) -> list[tuple[str | None, str, str | None]]:
    """``mz_catalog.mz_role_members``: (role_id, member, grantor) with role ids, as Materialize."""
    def role_id(name: str) -> str | None:
        record = state.role_by_name(name)
        return record.id if record is not None else None

    return [(role_id(parent), role.id, None) for role in state.roles.values() for parent in role.member_of]
