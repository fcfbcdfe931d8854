"""What the planner needs from the catalog, as a Protocol the adapter implements over the real catalog.

The planner never touches catalog state directly: it resolves names through :class:`PlanCatalog` and reads
session defaults from :class:`PlanContext`.  Tests use a plain dict-backed implementation.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Protocol

from steadystate.expr.ir import ScalarExpr
from steadystate.repr.types import RelationDesc
from steadystate.repr.objects import ItemKind


@dataclass(frozen=True)
class QualifiedName:
    database: str
    schema: str
    item: str

    def __str__(self) -> str:
        return f"{self.database}.{self.schema}.{self.item}"


@dataclass(frozen=True)
class ResolvedItem:
    id: str
    name: QualifiedName
    kind: ItemKind
    desc: RelationDesc | None  # None for indexes
    cluster_id: str | None = None  # materialized views and indexes
    on_id: str | None = None  # indexes: the relation indexed
    defaults: tuple[ScalarExpr | None, ...] = ()  # tables: per column DEFAULT expression (None = NULL); () = none
    time_zone: str = ""  # the TimeZone its plan (or DEFAULT) depends on ("": none; sql/session_zone.py)


class PlanCatalog(Protocol):
    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        """1-3 name parts; unknown → errors.UndefinedTable 'relation "x" does not exist'."""
        ...

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        """(id, name); unknown → errors.UndefinedObject 'unknown cluster "x"'."""
        ...

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        """Fill in database and schema from the session defaults."""
        ...


@dataclass(frozen=True)
class PlanContext:
    catalog: PlanCatalog
    database: str = "materialize"
    schema: str = "public"
    cluster: str = "quickstart"
    user: str = "materialize"
    params: tuple[Any, ...] | None = None  # values of $1..$n (None while only describing)
    settings: tuple[tuple[str, str], ...] = ()  # session variables, for current_setting()
    version: str = "PostgreSQL 15.0 (steadystate)"
    now: datetime.datetime | None = None  # the statement's time (UTC) for now()/current_date; None: not allowed here
    # now()/current_date are planned as placeholders the writing statement binds (a column DEFAULT:
    # expr/statement_time.py) rather than refused when ``now`` is None
    statement_time: bool = False
    # what planning computed in the session's TimeZone (sql/session_zone.py records it; shared by every
    # ``replace``d copy of the context, so a statement's whole plan adds to one set)
    zone_uses: set[str] = field(default_factory=set, compare=False, hash=False)
