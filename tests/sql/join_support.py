"""Support for the join tests: a catalog of four small tables, plans maintained by the real operators, DuckDB.

Tables ``t1(k, a)``, ``t2(k, b)``, ``t3(k, c)``, ``t4(k, d)`` (all ``int4``, nullable) share only the column name
``k``, so ``NATURAL`` joins and ``USING (k)`` mean the same thing.  :class:`Maintained` plans a query with the
real planner and optimizer, renders it with the real renderer (steadystate.render) as a dataflow with an index
export and a subscribe sink, and feeds it write batches; after each batch both the index's contents and the
fold of every update the sink emitted must equal DuckDB's answer to the same SQL over the same rows.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from typing import Iterable

import duckdb

from steadystate import errors
from steadystate.dataflow.graph import fold
from steadystate.expr import ir
from steadystate.expr.optimize import optimize
from steadystate.protocol.messages import BuildDesc, DataflowDescription, IndexExport, SinkExport, SourceImport
from steadystate.render import RenderedDataflow
from steadystate.repr.types import Column, RelationDesc, ScalarType as T
from steadystate.sql.catalog_api import PlanContext, QualifiedName, ResolvedItem
from steadystate.sql.parser import parse_one
from steadystate.sql.plan import SelectPlan
from steadystate.sql.planner import plan
from steadystate.sql.query import new_state, plan_subquery

COLUMNS = {"t1": ("k", "a"), "t2": ("k", "b"), "t3": ("k", "c"), "t4": ("k", "d")}
DESCS = {name: RelationDesc(tuple(Column(c, T.INT4, True) for c in cols)) for name, cols in COLUMNS.items()}

Row = tuple
Data = dict[str, Counter]


class JoinCatalog:
    """The planner's catalog: the four tables, by name."""

    def resolve_item(self, parts: tuple[str, ...]) -> ResolvedItem:
        if parts[-1] not in DESCS:
            raise errors.UndefinedTable(f"relation {errors.quote_ident('.'.join(parts))} does not exist")
        return ResolvedItem(parts[-1], QualifiedName("materialize", "public", parts[-1]), "table", DESCS[parts[-1]])

    def resolve_cluster(self, name: str) -> tuple[str, str]:
        raise errors.UndefinedObject(f"unknown cluster {errors.quote_ident(name)}")

    def qualify(self, parts: tuple[str, ...]) -> QualifiedName:
        return QualifiedName("materialize", "public", parts[-1])


def plan_query(sql: str) -> SelectPlan:
    planned = plan(parse_one(sql), PlanContext(JoinCatalog()))
    assert isinstance(planned, SelectPlan)
    return planned


def optimized(sql: str) -> ir.RelationExpr:
    """The plan a view of ``sql`` maintains (its top-level ORDER BY dropped, a LIMIT kept as a TopK), optimized with
    the tables' column types as the adapter does."""
    rel = plan_subquery(parse_one(sql).node, new_state(PlanContext(JoinCatalog())))
    return optimize(rel.expr, lambda item: DESCS[item].types if item in DESCS else None)


class Duck:
    """DuckDB holding the same rows."""

    def __init__(self) -> None:
        self.conn = duckdb.connect(":memory:")
        # PostgreSQL orders NULLs last ascending and first descending; DuckDB's default differs
        self.conn.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
        for name, cols in COLUMNS.items():
            self.conn.execute(f"CREATE TABLE {name} ({', '.join(f'{c} INTEGER' for c in cols)})")

    def load(self, data: Data) -> None:
        for name in COLUMNS:
            self.conn.execute(f"DELETE FROM {name}")
            rows = [row for row, count in data[name].items() for _ in range(count)]
            if rows:
                self.conn.executemany(f"INSERT INTO {name} VALUES (?, ?)", rows)

    def answer(self, sql: str) -> Counter:
        return Counter(self.conn.execute(sql).fetchall())

    def close(self) -> None:
        self.conn.close()


class Maintained:
    """``sql`` rendered as a dataflow over the four tables, exported as an index and as a subscribe sink."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.expr = optimized(sql)
        desc = DataflowDescription(
            source_imports=tuple(SourceImport(name, f"s_{name}", DESCS[name]) for name in COLUMNS),
            index_imports=(),
            objects_to_build=(BuildDesc("v", self.expr, RelationDesc(())),),
            index_exports=(IndexExport("i", "v", (ir.ColumnRef(0),), RelationDesc(())),),
            sink_exports=(SinkExport("s", "v", "subscribe", RelationDesc(())),),
            as_of=1,
        )
        self.dataflow = RenderedDataflow(desc, {})
        self.emitted: list = []
        self.time = 0

    def apply(self, changes: dict[str, list[tuple[Row, int]]]) -> tuple[Counter, Counter]:
        """Feed one batch of ``(row, diff)`` per table; the index's contents and the subscribe fold after it."""
        self.time += 1
        for name in COLUMNS:
            self.dataflow.feed(name, [(row, self.time, diff) for row, diff in changes.get(name, [])], self.time + 1)
        self.dataflow.step()
        assert self.dataflow.frontier == self.time + 1
        index = Counter(self.dataflow.arrangement("i").peek(ir.MapFilterProject(0)))
        self.emitted.extend(self.dataflow.drain_sink("s"))
        return index, Counter({row: n for row, n in fold(self.emitted).items() if n})


def normalized(rows: Counter) -> Counter:
    """Rows with every number as a float rounded to 12 significant digits: DuckDB answers ``stddev(int)`` in double
    where PostgreSQL (and steadystate) answer numeric, and exact sums differ from DuckDB's in the last bits."""
    def number(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return value
        as_float = float(value)
        if as_float == 0 or not math.isfinite(as_float):
            return as_float
        return round(as_float, 11 - int(math.floor(math.log10(abs(as_float)))))

    out: Counter = Counter()
    for row, count in rows.items():
        out[tuple(number(v) for v in row)] += count
    return +out


def check_maintained(sql: str, batches: Iterable[dict[str, list[tuple[Row, int]]]], duck: Duck) -> None:
    """Apply ``batches`` (the first is the initial load) to a maintained ``sql`` and to DuckDB, comparing after
    each; also the ad hoc SELECT's plan, evaluated once over the final rows by the same operators."""
    maintained = Maintained(sql)
    data: Data = {name: Counter() for name in COLUMNS}
    for number, batch in enumerate(batches):
        for name, changes in batch.items():
            for row, diff in changes:
                data[name][row] += diff
                assert data[name][row] >= 0
        duck.load(data)
        expected = normalized(duck.answer(sql))
        index, subscribed = (normalized(rows) for rows in maintained.apply(batch))
        assert index == expected, f"index after batch {number}: {sql}\n got {index}\n want {expected}"
        assert subscribed == expected, f"subscribe after batch {number}: {sql}\n got {subscribed}\n want {expected}"
    once = Maintained(sql)
    final = {name: [(row, n) for row, n in counts.items() if n] for name, counts in data.items()}
    assert normalized(once.apply(final)[0]) == normalized(duck.answer(sql)), f"one-shot: {sql}"
