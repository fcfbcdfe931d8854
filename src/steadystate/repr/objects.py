"""What the catalog's objects are: the kinds of items.

**Item kinds.**  :class:`ItemKind` is the kind of a catalog item (``catalog.records.ItemRecord.kind``) and of a
name the planner resolves (``sql.catalog_api.ResolvedItem.kind``, where ``BUILTIN`` marks a system relation).
It is a ``str``-valued enum: durable catalog records store the value (``"table"``, ...), exactly the strings
stored before the enum existed, so records written by any release decode into members.
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
