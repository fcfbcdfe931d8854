"""A query's finishing — ORDER BY, OFFSET, LIMIT, then the final projection — over a stream of rows.

A ``SELECT``'s :class:`~steadystate.expr.ir.RowSetFinishing` is applied where the rows are: by the replica that
answers a peek (the ``Peek`` carries it, as in Materialize, so ``LIMIT 10`` over a 1M-row index moves 10 rows out
of the replica and ``max_result_size`` counts what the client gets) and by the coordinator for what it evaluates
itself (introspection relations).  Both call :func:`finish`, so the two can never order differently.

How it works:

* no ``ORDER BY``: the rows stream through ``islice`` — the scan stops after ``OFFSET + LIMIT`` rows;
* ``ORDER BY`` with a ``LIMIT``: the ``OFFSET + LIMIT`` first rows are selected with a bounded heap
  (``heapq.nsmallest``, O(n log k)), never a full sort, under one composite key per row;
* ``ORDER BY`` without a ``LIMIT``: a full sort, one stable pass per sort column from the last to the first (the
  fastest way in Python: each pass sorts by one plain value).

NULLs sort as PostgreSQL sorts them: ``NULLS LAST`` for ``ASC`` and ``NULLS FIRST`` for ``DESC`` unless the query
says otherwise (the planner fills :attr:`~steadystate.expr.ir.ColumnOrder.nulls_last`).  Booleans order as
``false < true``.  Rows that tie on every sort column come in no particular order, as in PostgreSQL.
"""

from __future__ import annotations

import heapq
from itertools import islice
from typing import Any, Callable, Iterable

from steadystate.expr.ir import ColumnOrder, RowSetFinishing
from steadystate.repr.sortkey import nan_last

Row = tuple[Any, ...]


def finish(rows: Iterable[Row], finishing: RowSetFinishing) -> list[Row]:
    """The rows a query returns: sorted, offset, limited, then projected."""
    order_by = finishing.order_by
    offset = finishing.offset
    limit = finishing.limit
    if limit is not None and limit <= 0:
        return []
    if not order_by:
        stop = None if limit is None else offset + limit
        selected = list(islice(rows, offset, stop)) if (offset or stop is not None) else list(rows)
    elif limit is not None:
        selected = heapq.nsmallest(offset + limit, rows, key=composite_key(order_by))[offset:]
    else:
        selected = sort_rows(list(rows), order_by)[offset:]
    return project(selected, finishing.project)


def is_trivial(finishing: RowSetFinishing) -> bool:
    """Whether the finishing leaves every row as it is (nothing to push down)."""
    return (not finishing.order_by and finishing.limit is None and not finishing.offset
            and finishing.project is None)


def project(rows: list[Row], columns: tuple[int, ...] | None) -> list[Row]:
    if columns is None:
        return rows
    return [tuple(row[i] for i in columns) for row in rows]


def sort_rows(rows: list[Row], order_by: tuple[ColumnOrder, ...]) -> list[Row]:
    """A full sort: one stable pass per column, the least significant first."""
    for order in reversed(order_by):
        column = order.column
        nulls = [r for r in rows if r[column] is None]
        values = [r for r in rows if r[column] is not None]
        values.sort(key=_value_key(column), reverse=order.desc)
        rows = values + nulls if order.nulls_last else nulls + values
    return rows


def _value_key(column: int) -> Callable[[Row], Any]:
    def key(row: Row) -> Any:
        value = row[column]
        return int(value) if isinstance(value, bool) else nan_last(value)
    return key


class _Descending:
    """Inverts the order of the value it wraps (for ``DESC`` columns inside a composite key)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: "_Descending") -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(self.value == other.value)

    __hash__ = None  # type: ignore[assignment]


def composite_key(order_by: tuple[ColumnOrder, ...]) -> Callable[[Row], tuple[Any, ...]]:
    """One sortable key per row that orders as :func:`sort_rows` does: per column, a NULL rank (where NULLs go)
    then the value (inverted for ``DESC``; a NULL's value slot is a constant, so NULLs tie among themselves)."""
    parts = [(order.column, order.desc, order.nulls_last) for order in order_by]

    def key(row: Row) -> tuple[Any, ...]:
        out: list[Any] = []
        for column, desc, nulls_last in parts:
            value = row[column]
            if value is None:
                out.append(1 if nulls_last else 0)
                out.append(0)
                continue
            out.append(0 if nulls_last else 1)
            if isinstance(value, bool):
                value = int(value)
            value = nan_last(value)
            out.append(_Descending(value) if desc else value)
        return tuple(out)
    return key

