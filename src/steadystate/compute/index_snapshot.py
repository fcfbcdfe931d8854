"""A peek of a whole index answered from Arrow columns: the index arrangement's own runs, sent as they are.

An index arrangement (``dataflow.arrangement``) keeps the bulk of its rows as Arrow runs encoded with
``repr.arrow_rows`` (so their columns have exactly the types and codec marks a peek's batches have) and only recently
changed keys as Python rows; :meth:`Arrangement.table` is all of them as one table, repeated by multiplicity, without
a Python object per row of the runs.  (A separate columnar copy of each index, patched by the keys each change
touched, used to be kept here beside the rows; the arrangement's runs made it unnecessary.)

:func:`answer` reads a peek from that table: the peek's map/filter/project when it is the identity, a projection, or
what ``expr.arrow_eval`` evaluates exactly over the columns it reads; the finishing when it is a plain
OFFSET/LIMIT/projection (an ORDER BY takes the row path); then the table's slices of about
``compute.peeks.CHUNK_BYTES`` go out as Arrow IPC chunks (``peeks.table_chunks``).  ``None`` means "take the row
path" (the caller's ``peek_iter``), which stays the reference: the answers are compared by a property test.
"""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa

from steadystate.dataflow.arrangement import Arrangement
from steadystate.expr import ir
from steadystate.expr.arrow_eval import NotVectorized, compile_arrow_mfp
from steadystate.expr.infer import Types
from steadystate.protocol import messages as m
from steadystate.compute.peeks import table_chunks
from steadystate.repr import arrow_rows
from steadystate.repr.types import ScalarType


# ------------------------------------------------------------------------------------------- reading a peek

_ARROW_EVAL_TYPES = {ScalarType.INT4: pa.int64(), ScalarType.INT8: pa.int64(), ScalarType.TEXT: pa.large_string(),
                     ScalarType.BOOL: pa.bool_()}


def mapped(table: pa.Table, mfp: ir.MapFilterProject, types: Types | None) -> pa.Table | None:
    """The table through the peek's map/filter/project, or ``None`` (the row path)."""
    if mfp.is_identity:
        return table
    if not mfp.map and not mfp.predicates:
        assert mfp.projection is not None
        return _projected(table, mfp.projection)
    if types is None or mfp.map:  # computed columns would get Arrow's types, not repr.arrow_rows': the row path
        return None
    used = _columns_used(mfp)
    if any(c >= len(types) or types[c] is None or _ARROW_EVAL_TYPES.get(types[c]) != table.schema.field(c).type  # type: ignore[arg-type]
           or arrow_rows.is_codec(table.schema.field(c)) for c in used):
        return None
    # columns the predicates do not read pass through; arrow_eval is told a type it evaluates (they are not read)
    evaluated = [t if i in used else ScalarType.BOOL for i, t in enumerate(types)]
    apply = compile_arrow_mfp(mfp, evaluated)
    if apply is None:
        return None
    try:
        out = apply(table)
    except NotVectorized:
        return None
    projection = mfp.projection if mfp.projection is not None else tuple(range(table.num_columns))
    return pa.Table.from_arrays([out.column(i).cast(table.schema.field(c).type) for i, c in enumerate(projection)],
                                schema=pa.schema([table.schema.field(c) for c in projection]))


_SCALARS = (ir.ColumnRef, ir.Literal, ir.CallUnary, ir.CallBinary, ir.CallVariadic, ir.If)


def _columns_used(mfp: ir.MapFilterProject) -> set[int]:
    """The input columns the predicates read."""
    used: set[int] = set()
    stack: list[object] = list(mfp.predicates)
    while stack:
        node = stack.pop()
        if isinstance(node, ir.ColumnRef):
            used.add(node.index)
        for name in getattr(node, "__struct_fields__", ()):
            value = getattr(node, name)
            if isinstance(value, _SCALARS):
                stack.append(value)
            elif isinstance(value, tuple):
                stack.extend(v for v in value if isinstance(v, _SCALARS))
    return used


def _projected(table: pa.Table, projection: Sequence[int]) -> pa.Table:
    return pa.Table.from_arrays([table.column(c) for c in projection],
                                schema=pa.schema([table.schema.field(c) for c in projection]))


def finished(table: pa.Table, finishing: ir.RowSetFinishing) -> pa.Table | None:
    """The table through a finishing without ORDER BY (OFFSET, LIMIT, projection), or ``None`` (the row path)."""
    if finishing.order_by:
        return None
    if finishing.offset or finishing.limit is not None:
        length = table.num_rows - finishing.offset if finishing.limit is None else finishing.limit
        table = table.slice(finishing.offset, max(length, 0))
    if finishing.project is not None:
        table = _projected(table, finishing.project)
    return table


def answer(peek: m.Peek, arrangement: Arrangement, export: m.IndexExport | None) -> list[m.PeekResponse] | None:
    """The peek of a whole index answered from the arrangement's table, or ``None`` (the row path): an ORDER BY, a
    LIMIT (the row path reads only the rows it returns), a map/filter/project not evaluated over columns, rows that
    are no table, or a peek not asking for Arrow."""
    if peek.finishing.order_by or peek.finishing.limit is not None or not peek.arrow:
        return None
    arrangement.raise_if_errors()
    table = arrangement.table()
    if table is None:
        return None
    types = list(export.desc.types) if export is not None and export.desc.columns else None
    result = mapped(table, peek.mfp, types)
    if result is None:
        return None
    result = finished(result, peek.finishing)
    return None if result is None else table_chunks(peek, result)
