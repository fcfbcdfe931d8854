"""expr.finishing: ORDER BY / OFFSET / LIMIT / projection, checked against DuckDB on the same rows.

Rows that tie on every sort column may come in any order, so results are compared on their sort columns (the
sequence of sort keys is fully determined) and as multisets of whole rows where no LIMIT cuts through a tie."""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
from hypothesis import given, settings, strategies as st

from steadystate.expr.finishing import finish
from steadystate.expr.ir import ColumnOrder, RowSetFinishing

values = st.one_of(st.none(), st.integers(-3, 3))
rows_strategy = st.lists(st.tuples(values, values, st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))),
                         max_size=30)
orders = st.lists(
    st.builds(ColumnOrder, column=st.integers(0, 2), desc=st.booleans(), nulls_last=st.booleans()),
    max_size=3,
)


def duckdb_rows(rows: list[tuple[Any, ...]], finishing: RowSetFinishing) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (c0 INTEGER, c1 INTEGER, c2 TEXT)")
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    sql = "SELECT * FROM t"
    if finishing.order_by:
        terms = [f"c{o.column} {'DESC' if o.desc else 'ASC'} NULLS {'LAST' if o.nulls_last else 'FIRST'}"
                 for o in finishing.order_by]
        sql += " ORDER BY " + ", ".join(terms)
    if finishing.limit is not None:
        sql += f" LIMIT {finishing.limit}"
    if finishing.offset:
        sql += f" OFFSET {finishing.offset}"
    out = con.execute(sql).fetchall()
    if finishing.project is not None:
        out = [tuple(row[i] for i in finishing.project) for row in out]
    return out


def sort_columns(rows: list[tuple[Any, ...]], finishing: RowSetFinishing) -> list[tuple[Any, ...]]:
    return [tuple(row[o.column] for o in finishing.order_by) for row in rows]


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, order_by=orders, limit=st.one_of(st.none(), st.integers(0, 12)),
       offset=st.integers(0, 5))
def test_finish_orders_and_slices_as_duckdb_does(rows: list[tuple[Any, ...]], order_by: list[ColumnOrder],
                                                 limit: int | None, offset: int) -> None:
    finishing = RowSetFinishing(order_by=tuple(order_by), limit=limit, offset=offset)
    ours = finish(iter(rows), finishing)
    theirs = duckdb_rows(rows, finishing)
    assert len(ours) == len(theirs)
    assert sort_columns(ours, finishing) == sort_columns(theirs, finishing)
    if limit is None and not offset:
        assert Counter(ours) == Counter(rows)
    else:
        assert not Counter(ours) - Counter(rows)  # a selection of the input rows


def test_limit_without_order_stops_reading() -> None:
    consumed = []

    def source() -> Any:
        for i in range(1_000_000):
            consumed.append(i)
            yield (i,)

    assert finish(source(), RowSetFinishing(limit=3, offset=2)) == [(2,), (3,), (4,)]
    assert len(consumed) <= 6


def test_projection_comes_after_the_sort() -> None:
    rows = [(3, "c"), (1, "a"), (2, "b")]
    finishing = RowSetFinishing(order_by=(ColumnOrder(0, desc=True),), limit=2, project=(1,))
    assert finish(rows, finishing) == [("c",), ("b",)]


def test_booleans_sort_false_first_and_nulls_where_asked() -> None:
    rows = [(True,), (None,), (False,)]
    assert finish(rows, RowSetFinishing(order_by=(ColumnOrder(0),))) == [(False,), (True,), (None,)]
    assert finish(rows, RowSetFinishing(order_by=(ColumnOrder(0, desc=True, nulls_last=False),), limit=2)) == [
        (None,), (True,)]
