"""Sequencing roles and privileges: CREATE/ALTER/DROP ROLE, GRANT/REVOKE of privileges and of role membership.

Who may do what with roles (Materialize's rules, PostgreSQL's messages):

* ``CREATE ROLE``, ``DROP ROLE``, ``ALTER ROLE`` of another role, ``GRANT``/``REVOKE`` of role membership: a
  superuser or a role with ``CREATEROLE``;
* making, unmaking, altering or dropping a superuser: a superuser only;
* a role may change its own password.

``GRANT``/``REVOKE`` on objects (the statement's ownership requirement is checked by adapter/authorization.py)
writes one :class:`~steadystate.catalog.records.GrantRecord` per (object, grantee) holding that grantee's
privileges after the statement, with an audit event, in one catalog transaction.  Dropping a role deletes its
grants and memberships with it; a role that still owns objects cannot be dropped (2BP01), as in PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from steadystate.adapter.authorization import objects_of
from steadystate.adapter.introspection import audit_details
from steadystate.adapter.privileges import APPLICABLE, LETTERS, PUBLIC, Obj, Privilege, acl, grant_id, memberships
from steadystate.catalog.records import GrantRecord, RoleRecord
from steadystate.errors import (
    DependentObjectsStillExist,
    DuplicateObject,
    InsufficientPrivilege,
    SteadyError,
    UndefinedObject,
    quote_ident,
)
from steadystate.repr.objects import IdKind, make_id
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.coordinator import Coordinator
    from steadystate.catalog.state import CatalogState


class Grants:
    def __init__(self, coordinator: "Coordinator") -> None:
        self.coord = coordinator

    @property
    def catalog(self) -> "CatalogState":
        return self.coord.catalog

    def _role(self, name: str) -> RoleRecord:
        role = self.catalog.role_by_name(name)
        if role is None:
            raise UndefinedObject(f"unknown role {quote_ident(name)}")
        return role

    def _is_superuser(self, user: str) -> bool:
        role = self.catalog.role_by_name(user)
        return role is not None and role.superuser

    def _require(self, user: str, action: str, superuser: bool = False) -> None:
        """A superuser, or (unless ``superuser``) a role with CREATEROLE, may ``action`` (42501 otherwise)."""
        role = self.catalog.role_by_name(user)
        if role is not None and role.superuser:
            return
        if not superuser and role is not None and role.createrole:
            return
        raise InsufficientPrivilege(
            f"permission denied to {action}",
            detail="Only superusers may do this." if superuser else
            "Only superusers and roles with the CREATEROLE attribute may do this.",
            hint=None if superuser else f"a superuser can ALTER ROLE {user} CREATEROLE")

    # ------------------------------------------------------------------ roles

    async def create_role(self, plan: p.CreateRolePlan, user: str) -> str:
        self._require(user, f"create role {quote_ident(plan.name)}", superuser=plan.superuser)
        if self.catalog.role_by_name(plan.name) is not None or plan.name.upper() == PUBLIC:
            raise DuplicateObject(f"role {quote_ident(plan.name)} already exists")
        with self.catalog.durable.transact(user) as txn:
            role = msgspec.structs.replace(
                RoleRecord(id=make_id(IdKind.ROLE, txn.next_id("role")), name=plan.name, superuser=plan.superuser,
                           password=plan.verifier), **dict(plan.attributes))
            txn.put(role)
            txn.audit_event("create", "role", audit_details(id=role.id, name=role.name, **dict(plan.attributes)))
        self.catalog.apply_puts([role])
        return "CREATE ROLE"

    async def alter_role(self, plan: p.AlterRolePlan, user: str) -> str:
        """``ALTER ROLE r [[NO]SUPERUSER] [[NO]CREATEROLE ...] [PASSWORD 'p' | PASSWORD NULL]``: a role may change
        its own password; anything else needs CREATEROLE, and a superuser's or SUPERUSER itself a superuser."""
        role = self._role(plan.name)
        if plan.superuser is not None or role.superuser:
            if plan.superuser is not None or plan.name != user or plan.attributes:
                self._require(user, f"alter role {quote_ident(plan.name)}", superuser=True)
        elif plan.name != user or plan.attributes:
            self._require(user, f"alter role {quote_ident(plan.name)}")
        password = None if plan.clear_password else (plan.verifier or role.password)
        superuser = role.superuser if plan.superuser is None else plan.superuser
        self.set_role(msgspec.structs.replace(role, superuser=superuser, password=password, **dict(plan.attributes)),
                      user)
        return "ALTER ROLE"

    def set_role(self, role: RoleRecord, user: str) -> None:
        """Store a changed role record (its password or attributes), audited without the verifier."""
        with self.catalog.durable.transact(user) as txn:
            txn.put(role)
            txn.audit_event("alter", "role", audit_details(
                id=role.id, name=role.name, superuser=role.superuser, createrole=role.createrole,
                createdb=role.createdb, createcluster=role.createcluster))
        self.catalog.apply_puts([role])

    async def drop_role(self, plan: p.DropRolePlan, user: str, notices: list[str]) -> str:
        role = self.catalog.role_by_name(plan.name)
        self._require(user, f"drop role {quote_ident(plan.name)}", superuser=role is not None and role.superuser)
        if role is None:
            if plan.if_exists:
                notices.append(f"role {quote_ident(plan.name)} does not exist, skipping")
                return "DROP ROLE"
            raise UndefinedObject(f"unknown role {quote_ident(plan.name)}")
        if role.name == user:
            raise SteadyError("current role cannot be dropped", sqlstate="55006")
        owned = self._owned_by(role.name)
        if owned:
            raise DependentObjectsStillExist(
                f"role {quote_ident(role.name)} cannot be dropped because some objects depend on it",
                detail=f"owner of {owned}", hint="DROP the objects or ALTER their OWNER first")
        members = [r for r in self.catalog.roles.values() if role.name in r.member_of]
        changed = [msgspec.structs.replace(r, member_of=tuple(m for m in r.member_of if m != role.name))
                   for r in members]
        grants = [g for g in self.catalog.grants.values() if g.grantee == role.name]
        with self.catalog.durable.transact(user) as txn:
            txn.delete("role", role.id)
            for grant in grants:
                txn.delete("grant", grant.id)
            for record in changed:
                txn.put(record)
            txn.audit_event("drop", "role", audit_details(id=role.id, name=role.name))
        self.catalog.apply_deletes([("role", role.id), *(("grant", g.id) for g in grants)])
        self.catalog.apply_puts(changed)
        return "DROP ROLE"

    def _owned_by(self, name: str) -> str | None:
        for cluster in self.catalog.clusters.values():
            if cluster.owner == name:
                return f"cluster {quote_ident(cluster.name)}"
        for item in self.catalog.items.values():
            if item.owner == name:
                return f"{item.kind.value.replace('_', ' ')} {quote_ident(item.qualified)}"
        for schema in self.catalog.schemas.values():
            if schema.owner == name:
                return f"schema {quote_ident(schema.database + '.' + schema.name)}"
        return None

    # ------------------------------------------------------------------ privileges

    def _letters(self, obj: Obj, privileges: tuple[str, ...]) -> str:
        applicable = APPLICABLE.get(obj.kind, "")
        if not privileges:
            return applicable
        letters = "".join(LETTERS[Privilege(name)] for name in privileges)
        wrong = [name for name, letter in zip(privileges, letters) if letter not in applicable]
        if wrong:
            raise SteadyError(f"invalid privilege types {', '.join(wrong)} for {obj.kind}", sqlstate="0LP01",
                              hint=f"the privileges of a {obj.kind.lower()}: "
                                   + ", ".join(Privilege(n).value for n in _names(applicable)))
        return letters

    async def grant_privileges(self, plan: p.GrantPrivilegesPlan, user: str) -> str:
        for grantee in plan.grantees:
            if grantee != PUBLIC:
                self._role(grantee)
        records: list[GrantRecord] = []
        for obj in objects_of(self.catalog, plan.object_type, plan.objects):
            letters = self._letters(obj, plan.privileges)
            current = acl(self.catalog, obj)
            for grantee in plan.grantees:
                if grantee == (obj.owner or ""):
                    continue  # an owner holds every privilege on what it owns
                held = current.get(grantee, ("", user))[0]
                after = "".join(c for c in held if c not in letters) if plan.revoke else \
                    held + "".join(c for c in letters if c not in held)
                records.append(GrantRecord(id=grant_id(obj, grantee), object_type=obj.type.value, object_id=obj.id,
                                           grantee=grantee, privileges=after, grantor=user))
        with self.catalog.durable.transact(user) as txn:
            for record in records:
                txn.put(record)
                txn.audit_event("revoke" if plan.revoke else "grant", record.object_type, audit_details(
                    object_id=record.object_id, grantee=record.grantee, privileges=record.privileges))
        self.catalog.apply_puts(records)
        return "REVOKE" if plan.revoke else "GRANT"

    async def grant_role(self, plan: p.GrantRolePlan, user: str) -> str:
        roles = [self._role(name) for name in plan.roles]
        changed: list[RoleRecord] = []
        for name in plan.members:
            member = self._role(name)
            member_of = list(member.member_of)
            for role in roles:
                if role.superuser:
                    self._require(user, f"grant role {quote_ident(role.name)}", superuser=True)
                if plan.revoke:
                    member_of = [m for m in member_of if m != role.name]
                elif role.name not in member_of:
                    if role.name == member.name or member.name in memberships(self.catalog, role.name):
                        raise SteadyError(f"role {quote_ident(member.name)} is a member of role "
                                          f"{quote_ident(role.name)}", sqlstate="0LP01")
                    member_of.append(role.name)
            changed.append(msgspec.structs.replace(member, member_of=tuple(member_of)))
        with self.catalog.durable.transact(user) as txn:
            for record in changed:
                txn.put(record)
                txn.audit_event("revoke" if plan.revoke else "grant", "role",
                                audit_details(member=record.name, roles=list(plan.roles)))
        self.catalog.apply_puts(changed)
        return "REVOKE ROLE" if plan.revoke else "GRANT ROLE"


def _names(letters: str) -> list[str]:
    by_letter = {letter: privilege.value for privilege, letter in LETTERS.items()}
    return [by_letter[c] for c in letters]

