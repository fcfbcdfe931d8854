"""``SHOW CREATE ...`` and ``SHOW COLUMNS``: statements rebuilt from catalog records, with Materialize's columns.

``SHOW CREATE`` answers one row ``(name, create_sql)``: the object's fully qualified name and a statement that
creates it again as it is (names qualified, identifiers quoted where PostgreSQL would need it):

* a table: its columns with their types as ``format_type`` spells them, ``NOT NULL`` and constant ``DEFAULT``s
  (a DEFAULT that is not a constant is stored as a plan, not as text: refused with 0A000 rather than guessed);
* a view: ``CREATE VIEW name (columns) AS <the query as written>`` (the column list is always given, so a view
  created with renamed columns is rebuilt with the same names);
* a materialized view: the same with ``IN CLUSTER``; an index: ``CREATE INDEX name IN CLUSTER c ON rel (key)``
  (expression keys, stored as plans, are refused with 0A000); a cluster: its managed options or its replicas.

``SHOW COLUMNS FROM rel`` answers ``(name, nullable, type, comment)`` a row per column, as Materialize.
"""

from __future__ import annotations

import datetime
import decimal
import re
from typing import TYPE_CHECKING, Any

from steadystate.errors import FeatureNotSupported
from steadystate.expr import ir, statement_time
from steadystate.repr import Row
from steadystate.repr.objects import ItemKind
from steadystate.repr.types import RelationDesc, ScalarType
from steadystate.sql import plan as p

if TYPE_CHECKING:
    from steadystate.adapter.backend import Adapter
    from steadystate.catalog.records import ItemRecord
    from steadystate.catalog.state import CatalogState

T = ScalarType
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")
#: words that must be quoted as identifiers (PostgreSQL's reserved keywords a column or table name may hit)
_RESERVED = frozenset("""all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
create current_catalog current_date current_role current_time current_timestamp current_user default deferrable
desc distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral
leading limit localtime localtimestamp not null offset on only or order placing primary references returning select
session_user some symmetric table then to trailing true union unique user using variadic when where window with
""".split())


def ident(name: str) -> str:
    """``name`` as SQL: bare when PostgreSQL would read it back unchanged, else double-quoted."""
    if _PLAIN.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(database: str, schema: str, name: str) -> str:
    return ".".join(ident(part) for part in (database, schema, name))


def literal_sql(value: Any) -> str:
    """A constant as a SQL literal that reads back as the same value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        return f"'{value!r}'::float8"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return "'" + value.isoformat(sep=" ") + "'" if isinstance(value, datetime.datetime) else f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


_STATEMENT_TIME_SQL = {ScalarType.TIMESTAMPTZ: "now()", ScalarType.TIMESTAMP: "localtimestamp",
                       ScalarType.DATE: "current_date"}


def _table_sql(item: "ItemRecord") -> str:
    assert item.desc is not None
    columns = []
    for position, column in enumerate(item.desc.columns):
        text = f"{ident(column.name)} {column.pg_type_name}"
        default = item.defaults[position] if position < len(item.defaults) else None
        kind = statement_time.kind_of(default)
        if kind is not None:  # DEFAULT now(), localtimestamp, current_date: each write's time
            text += f" DEFAULT {_STATEMENT_TIME_SQL[kind]}"
        elif default is not None:
            if not isinstance(default, ir.Literal):
                raise FeatureNotSupported(
                    f"SHOW CREATE TABLE is not supported for {item.qualified}: the DEFAULT of column "
                    f"{ident(column.name)} is not a constant")
            text += f" DEFAULT {literal_sql(default.datum())}::{column.pg_type_name}"
        if not column.nullable:
            text += " NOT NULL"
        columns.append(text)
    return f"CREATE TABLE {qualified(item.database, item.schema, item.name)} ({', '.join(columns)})"


def _view_sql(item: "ItemRecord", catalog: "CatalogState") -> str:
    assert item.desc is not None
    columns = ", ".join(ident(c.name) for c in item.desc.columns)
    name = qualified(item.database, item.schema, item.name)
    if item.kind == ItemKind.MATERIALIZED_VIEW:
        cluster = catalog.clusters[item.cluster_id or ""].name
        return f"CREATE MATERIALIZED VIEW {name} ({columns}) IN CLUSTER {ident(cluster)} AS {item.sql.strip()}"
    return f"CREATE VIEW {name} ({columns}) AS {item.sql.strip()}"


def _index_sql(item: "ItemRecord", catalog: "CatalogState") -> str:
    on = catalog.items[item.on_id or ""]
    assert on.desc is not None
    keys = []
    for key in item.key:
        if not isinstance(key, ir.ColumnRef):
            raise FeatureNotSupported(f"SHOW CREATE INDEX is not supported for {item.qualified}: its key has an "
                                      "expression")
        keys.append(ident(on.desc.columns[key.index].name))
    cluster = catalog.clusters[item.cluster_id or ""].name
    return (f"CREATE INDEX {ident(item.name)} IN CLUSTER {ident(cluster)} ON "
            f"{qualified(on.database, on.schema, on.name)} ({', '.join(keys)})")


def _cluster_sql(catalog: "CatalogState", cluster_id: str) -> str:
    cluster = catalog.clusters[cluster_id]
    if cluster.managed:
        options = []
        if cluster.size is not None:
            options.append(f"SIZE = {literal_sql(cluster.size)}")
        options.append(f"REPLICATION FACTOR = {cluster.replication_factor or 0}")
        return f"CREATE CLUSTER {ident(cluster.name)} ({', '.join(options)})"
    replicas = ", ".join(f"{ident(r.name)} (SIZE = {literal_sql(r.size)})"
                         for r in sorted(catalog.replicas_of(cluster_id), key=lambda r: r.name))
    return f"CREATE CLUSTER {ident(cluster.name)} REPLICAS ({replicas})"


def show_create(adapter: "Adapter", plan: p.ShowCreatePlan) -> tuple[RelationDesc, list[Row]]:
    catalog = adapter.coordinator.catalog
    desc = RelationDesc.of(("name", T.TEXT), ("create_sql", T.TEXT))
    if plan.kind == "cluster":
        return desc, [(plan.name, _cluster_sql(catalog, plan.id))]
    item = catalog.items[plan.id]
    if item.kind == ItemKind.TABLE:
        text = _table_sql(item)
    elif item.kind == ItemKind.INDEX:
        text = _index_sql(item, catalog)
    else:
        text = _view_sql(item, catalog)
    return desc, [(item.qualified, text)]


def show_columns(adapter: "Adapter", plan: p.ShowColumnsPlan) -> tuple[RelationDesc, list[Row]]:
    desc = RelationDesc.of(("name", T.TEXT), ("nullable", T.BOOL), ("type", T.TEXT), ("comment", T.TEXT))
    relation = plan.item.desc
    if relation is None:
        raise FeatureNotSupported(f"SHOW COLUMNS of the index {plan.item.name} is not supported",
                                  hint="show the columns of the relation it indexes")
    return desc, [(c.name, c.nullable, c.pg_type_name, None) for c in relation.columns]
