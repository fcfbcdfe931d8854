"""What the catalog's objects are and how they are named: the kinds of items and the id scheme, in one place.

**Item kinds.**  :class:`ItemKind` is the kind of a catalog item (``catalog.records.ItemRecord.kind``) and of a
name the planner resolves (``sql.catalog_api.ResolvedItem.kind``, where ``BUILTIN`` marks a system relation).
It is a ``str``-valued enum: durable catalog records store the value (``"table"``, ...), exactly the strings
stored before the enum existed, so records written by any release decode into members.

**Ids.**  An id is a ``str``: a letter saying what it names, then a number (``u7``, ``t12``).  The letter is
the id's :class:`IdKind`; only this module reads or writes it (:func:`make_id`, :func:`id_kind` and the
predicates below).  Global ids (``repr.GlobalId``) name collections: user objects (``u``), system relations
(``s``) and the transient dataflows of slow-path peeks and subscribes (``t``).  Clusters (``c``), replicas
(``r``) and roles (``g``) have ids of their own kinds.  A replica's *name* (``r1``) is not an id.
"""

from __future__ import annotations

import enum


class ItemKind(enum.StrEnum):
    TABLE = "table"
    VIEW = "view"
    MATERIALIZED_VIEW = "materialized_view"
    INDEX = "index"
    BUILTIN = "builtin"  # a system relation (catalog.builtins), never stored

    @property
    def keeps_a_dataflow(self) -> bool:
        """Indexes and materialized views are maintained by a dataflow on a cluster."""
        return self in (ItemKind.INDEX, ItemKind.MATERIALIZED_VIEW)

    @property
    def has_a_shard(self) -> bool:
        """Tables and materialized views are stored in a shard."""
        return self in (ItemKind.TABLE, ItemKind.MATERIALIZED_VIEW)


class IdKind(enum.StrEnum):
    """The first letter of an id."""

    USER = "u"  # a user object: table, view, materialized view, index
    SYSTEM = "s"  # a system relation (catalog.builtins)
    TRANSIENT = "t"  # a transient dataflow (a slow-path peek or a subscribe), never in the catalog
    CLUSTER = "c"
    REPLICA = "r"
    ROLE = "g"
    SCHEMA = "n"  # a schema made by CREATE SCHEMA (a namespace)
    DATABASE = "d"  # a database made by CREATE DATABASE


def make_id(kind: IdKind, number: int) -> str:
    return f"{kind.value}{number}"


def id_kind(id_: str) -> IdKind:
    """The kind of an id; ``ValueError`` for a string that is not one."""
    return IdKind(id_[:1])


def is_user(id_: str) -> bool:
    return id_.startswith(IdKind.USER.value)


def is_system(id_: str) -> bool:
    return id_.startswith(IdKind.SYSTEM.value)


def is_transient(id_: str) -> bool:
    return id_.startswith(IdKind.TRANSIENT.value)


def id_order(id_: str) -> tuple[str, int]:
    """A sort key: by kind, then by number (``u9`` before ``u10``)."""
    digits = "".join(ch for ch in id_ if ch.isdigit())
    return (id_[:1], int(digits or 0))


def id_number(id_: str) -> int:
    """The number of an id (``u12`` → 12)."""
    return int(id_[1:])
