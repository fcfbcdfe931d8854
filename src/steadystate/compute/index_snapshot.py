"""Columnar snapshots of index arrangements: a peek of a whole index answered from Arrow columns.

An index arrangement (``dataflow.arrangement``) holds its rows as ``key -> {row: count}``, which serves lookups and
the joins that import it.  Reading all of it for a peek used to build one Arrow record batch per chunk from the
rows, one Python step per row, on every peek.  An :class:`IndexSnapshot` keeps the arrangement's rows (repeated by
multiplicity) as one Arrow table beside it, built once with ``repr.arrow_rows`` (so its columns have exactly the
types and codec marks a peek's batches have), and brings it up to date at each read from the keys the arrangement
changed since (:meth:`Arrangement.take_touched`):

    table  :=  table  −  { rows whose key is touched }  +  { the arrangement's current rows of those keys }

The first part is one vectorized ``is_in`` over the key columns; the second touches only the changed keys' rows.  A
key of several columns is matched column by column (``is_in`` on each): that may also remove rows of other keys,
so the keys of every removed row are put back from the arrangement, not only the touched ones.  The table is built
again from the rows instead when the arrangement stopped recording (too many keys changed), when the index key is
not plain columns, when a key column's Arrow type is not one whose values compare exactly as the row keys do
(int64, large_string, bool, date32, timestamp), or when the new rows do not fit the table's column types.

:func:`answer` reads a peek from the table: the peek's map/filter/project when it is the identity, a projection, or
what ``expr.arrow_eval`` evaluates exactly over the columns it reads; the finishing when it is a plain
OFFSET/LIMIT/projection (an ORDER BY takes the row path); then the table's slices of about
``compute.peeks.CHUNK_BYTES`` go out as Arrow IPC chunks (``peeks.table_chunks``).  ``None`` means "take the row
path" (the caller's ``peek_iter``), which stays the reference: the answers are compared by a property test.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from steadystate.dataflow.arrangement import Arrangement
from steadystate.expr import ir
from steadystate.expr.arrow_eval import NotVectorized, compile_arrow_mfp
from steadystate.expr.infer import Types
from steadystate.protocol import messages as m
from steadystate.compute.peeks import table_chunks
from steadystate.repr import arrow_rows
from steadystate.repr.objects import is_transient
from steadystate.repr.types import ScalarType

#: Arrow types of key columns whose Python values (``to_pylist``) equal, and hash as, the rows' key datums.
_EXACT_KEY_TYPES = (pa.int64(), pa.large_string(), pa.bool_(), pa.date32(), arrow_rows.TIMESTAMP)
_MAX_CHUNKS = 16  # patches append chunks; past this many the table is combined into one


class IndexSnapshot:
    """The rows of one arrangement as an Arrow table, kept up to date by key (module docstring)."""

    def __init__(self, arrangement: Arrangement, key_columns: Sequence[int] | None) -> None:
        self.arrangement = arrangement
        self.key_columns = tuple(key_columns) if key_columns is not None else None
        self.table: pa.Table | None = None
        self.rebuilds = 0  # how often the table was built from all the rows (tests and introspection)
        self.patches = 0

    def current(self) -> pa.Table | None:
        """The arrangement's rows now, or ``None`` when they are not one table (no rows, rows of different lengths,
        values no record batch holds): then the row path answers."""
        touched = self.arrangement.take_touched()
        if self.table is None or touched is None or not self._patch(touched):
            self.table = self._build(_rows_of(self.arrangement.peek_iter()))
            self.rebuilds += 1
        return self.table

    def _build(self, rows: list[tuple]) -> pa.Table | None:
        batch = arrow_rows.rows_to_batch(rows)
        return None if batch is None else pa.Table.from_batches([batch])

    def _patch(self, touched: set[tuple]) -> bool:
        """Apply the changes of the ``touched`` keys; False when the table must be built again instead."""
        table = self.table
        if not touched:
            return True
        if table is None or not self.key_columns:
            return False
        columns = self.key_columns
        if any(table.schema.field(c).type not in _EXACT_KEY_TYPES or arrow_rows.is_codec(table.schema.field(c))
               for c in columns):
            return False
        try:
            mask = None
            for position, c in enumerate(columns):
                values = pa.array([key[position] for key in touched], table.schema.field(c).type)
                hit = pc.is_in(table.column(c), value_set=values)
                mask = hit if mask is None else pc.and_(mask, hit)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return False
        assert mask is not None
        keys = set(touched)
        if len(columns) > 1:  # matching column by column may take rows of keys not touched: put those back too
            removed = table.filter(mask)
            keys.update(zip(*(removed.column(c).to_pylist() for c in columns)))
        data = self.arrangement.data
        rows = [row for key in keys for row, count in data.get(key, {}).items() for _ in range(max(count, 0))]
        kept = table.filter(pc.invert(mask))
        if rows:
            added = self._build(rows)
            if added is None:
                return False
            fitted = _fitted(added, table.schema)
            if fitted is None:
                return False
            kept = pa.concat_tables([kept, fitted])
        if kept.column(0).num_chunks > _MAX_CHUNKS if kept.num_columns else False:
            kept = kept.combine_chunks()
        self.table = kept
        self.patches += 1
        return True


def _rows_of(rows: object) -> list[tuple]:
    return list(rows)  # type: ignore[call-overload]


def _fitted(added: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """``added`` with ``schema``'s columns types (an all-NULL column becomes NULLs of the type), or ``None``."""
    arrays = []
    for i, field in enumerate(schema):
        column = added.column(i)
        new = added.schema.field(i)
        if new.type == field.type and arrow_rows.is_codec(new) == arrow_rows.is_codec(field):
            arrays.append(column)
        elif pa.types.is_null(new.type):
            arrays.append(pa.nulls(len(column), field.type))
        else:
            return None
    return pa.Table.from_arrays(arrays, schema=schema)


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


class IndexSnapshots:
    """A replica's :class:`IndexSnapshot` per index id, made when a peek first reads an index whole."""

    def __init__(self) -> None:
        self.by_index: dict[str, IndexSnapshot] = {}

    def answer(self, peek: m.Peek, arrangement: Arrangement, export: m.IndexExport | None,
               live: Mapping[str, Arrangement]) -> list[m.PeekResponse] | None:
        """The peek of a whole index answered from its snapshot, or ``None`` (the row path): an ORDER BY, a
        map/filter/project not evaluated over columns, rows that are no table, a peek not asking for Arrow, or a
        transient index (a one-off query's, read once).  A LIMIT without a snapshot
        yet takes the row path too (it reads only the rows it returns); with one it is a slice of the table."""
        index_id = peek.target.id
        if peek.finishing.order_by or not peek.arrow or is_transient(index_id):  # a transient index is read once
            return None
        snapshot = self.by_index.get(index_id)
        if snapshot is None or snapshot.arrangement is not arrangement:
            if peek.finishing.limit is not None:
                return None
            for stale in [i for i in self.by_index if i not in live]:
                del self.by_index[stale]
            keys = export.key if export is not None else ()
            columns = [k.index for k in keys if isinstance(k, ir.ColumnRef)]
            snapshot = IndexSnapshot(arrangement, columns if keys and len(columns) == len(keys) else None)
            self.by_index[index_id] = snapshot
            arrangement.watch()
        arrangement.raise_if_errors()
        table = snapshot.current()
        if table is None:
            return None
        types = list(export.desc.types) if export is not None and export.desc.columns else None
        result = mapped(table, peek.mfp, types)
        if result is None:
            return None
        result = finished(result, peek.finishing)
        return None if result is None else table_chunks(peek, result)
