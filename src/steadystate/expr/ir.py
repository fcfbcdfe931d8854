"""The relational IR: scalar expressions and relation expressions, as frozen tagged msgspec Structs.

Plans travel unchanged from the planner (``sql/``) through the controller and the compute protocol to the
replica, where ``compute/`` renders them into ``dataflow/`` operators.  Because every node is a frozen,
tagged Struct, a plan encodes deterministically, which is what the dataflow fingerprint relies on.

Scalar expressions (:data:`ScalarExpr`) evaluate against one row:

* ``ColumnRef(index)`` — a column of the input row;
* ``Literal(value, type)`` — a constant; ``value`` is the *encodable* form (see :func:`literal`):
  numerics, dates and timestamps travel as their text form and are turned into datums by ``Literal.datum``;
* ``CallUnary(func, expr)``, ``CallBinary(func, left, right)``, ``CallVariadic(func, exprs)`` — a function
  by name (the evaluator in ``expr/eval.py`` owns the table of names);
* ``If(cond, then, els)`` — SQL ``CASE`` (``NULL`` condition takes ``els``).

Relation expressions (:data:`RelationExpr`), Materialize's MIR in miniature:

* ``Get(id)`` — a global collection (table or materialized view shard, or an index's arrangement of it);
* ``Constant(rows, arity)`` — literal ``(row, diff)`` pairs, encoded with ``repr.codec``;
* ``Map``/``Filter``/``Project`` — append computed columns / keep rows whose predicates are all true /
  reorder or drop columns;
* ``Join(inputs, equivalences)`` — the cross product of the inputs restricted so that the expressions of
  each equivalence class (over the concatenated columns) are equal (NULLs never join);
* ``Reduce(input, group_key, aggregates)`` — output is the group key columns then one per aggregate;
* ``TopK(input, group_key, order_key, limit, offset)``;
  ``Window(input, partition_key, order_key, functions)`` — the input's columns then one per window function,
  each computed over its row's partition (rows of equal ``partition_key`` columns) in ``order_key`` order;
  ``Distinct``; ``Union``; ``Negate``; ``Threshold``
  (keep rows with positive multiplicity); ``ArrangeBy(input, keys)`` (materialize an arrangement);
* ``LetRec(bindings, body)`` — recursive bindings (Materialize's LetRec): each :class:`LetRecBinding`'s ``value``
  may read every binding by ``Get(binding.id)`` (local ids, in scope only inside the LetRec); the bindings are
  iterated to a fixed point from empty, and ``body`` reads their final values (sql/recursion.py plans it,
  dataflow/iterate.py runs it).
* ``FlatMap(input, calls, ordinality, outer)`` — each input row followed by each row its table function calls
  (``generate_series``, ``unnest``, ...: expr/table_functions.py) return for it.

A :class:`MapFilterProject` is the fused map/filter/project that peeks apply to an index or shard, and
:class:`RowSetFinishing` the ``ORDER BY``/``LIMIT``/``OFFSET``/projection a peek's result gets on the
coordinator.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import uuid as _uuid
import enum
from typing import Any, Union

import msgspec

from steadystate.repr.bytea import bytea_text, parse_bytea
from steadystate.repr.jsonb import Jsonb, jsonb_text, parse_jsonb
from steadystate.expr.arrays import CASTS as ARRAY_CASTS
from steadystate.expr.arrays import array_to_text
from steadystate.repr import codec, numeric
from steadystate.repr.arrays import Array
from steadystate.repr.interval import Interval
from steadystate.repr.types import ARRAY_ELEMENT, ScalarType

# ---------------------------------------------------------------------------------------------------------
# Scalar expressions


class ColumnRef(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    index: int


class Literal(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    value: Union[int, float, str, bool, None]
    type: ScalarType

    def datum(self) -> Any:
        if self.value is None:
            return None
        if self.type is ScalarType.NUMERIC:  # a NaN is the one NaN rows hold (repr.numeric.NAN)
            value = decimal.Decimal(str(self.value))
            return value if not value.is_nan() else numeric.NAN
        if self.type is ScalarType.DATE:
            return _dt.date.fromisoformat(str(self.value))
        if self.type is ScalarType.TIMESTAMP or self.type is ScalarType.TIMESTAMPTZ:
            return _dt.datetime.fromisoformat(str(self.value))
        if self.type is ScalarType.TIME:
            return _dt.time.fromisoformat(str(self.value))
        if self.type is ScalarType.INTERVAL:
            return Interval.from_canonical(str(self.value))
        if self.type is ScalarType.FLOAT8 or self.type is ScalarType.FLOAT4:
            number = float(self.value)
            return number if number == number else math.nan
        if self.type in _TEXT_LITERALS and isinstance(self.value, str):
            return _TEXT_LITERALS[self.type](self.value)
        if self.type in ARRAY_ELEMENT:  # travels as its text form (expr/arrays.py)
            return ARRAY_CASTS[self.type](str(self.value))
        return self.value


def literal(value: Any, type_: ScalarType) -> Literal:
    """Build a Literal from a datum, converting non-msgpack datums to their text form."""
    if isinstance(value, (decimal.Decimal, _dt.date, _dt.time)):
        return Literal(value.isoformat() if isinstance(value, (_dt.date, _dt.time)) else str(value), type_)
    if isinstance(value, Interval):
        return Literal(value.canonical(), type_)
    if isinstance(value, Jsonb):
        return Literal(jsonb_text(value), type_)
    if isinstance(value, _uuid.UUID):
        return Literal(str(value), type_)
    if isinstance(value, bytes):
        return Literal(bytea_text(value), type_)
    if isinstance(value, (Array, list)):
        return Literal(array_to_text(Array(value)), type_)
    return Literal(value, type_)


#: the types whose literals travel as their text form (jsonb, uuid, bytea)
_TEXT_LITERALS: dict[ScalarType, Any] = {ScalarType.JSONB: parse_jsonb, ScalarType.UUID: _uuid.UUID,
                                         ScalarType.BYTEA: parse_bytea}


class CallUnary(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    func: str
    expr: "ScalarExpr"


class CallBinary(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    func: str
    left: "ScalarExpr"
    right: "ScalarExpr"


class CallVariadic(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    func: str
    exprs: tuple["ScalarExpr", ...]


class If(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    cond: "ScalarExpr"
    then: "ScalarExpr"
    els: "ScalarExpr"


ScalarExpr = Union[ColumnRef, Literal, CallUnary, CallBinary, CallVariadic, If]


class AggregateOrder(msgspec.Struct, frozen=True):
    """One key of an aggregate's own ORDER BY (``string_agg(x, ',' ORDER BY y DESC)``)."""

    expr: "ScalarExpr"
    desc: bool = False
    nulls_last: bool = True


class AggregateExpr(msgspec.Struct, frozen=True, omit_defaults=True):
    """``func`` is one of count, count_star, sum, min, max, avg, bool_and, bool_or, var_samp, var_pop, stddev_samp,
    stddev_pop, string_agg.  ``args`` are the arguments after the first (string_agg's delimiter) and ``order_by``
    the aggregate's own ORDER BY (kept only where the order matters); with either, the aggregate's state is fed
    ``(expr, *args, (order keys))`` per row."""

    func: str
    expr: ScalarExpr
    distinct: bool = False
    args: tuple[ScalarExpr, ...] = ()
    order_by: tuple[AggregateOrder, ...] = ()


class ColumnOrder(msgspec.Struct, frozen=True):
    column: int
    desc: bool = False
    nulls_last: bool = True  # PostgreSQL: NULLS LAST for ASC, NULLS FIRST for DESC


class FrameMode(enum.StrEnum):
    """How a window frame's offsets count: rows, values of the (single) ORDER BY column, or peer groups."""

    ROWS = "rows"
    RANGE = "range"
    GROUPS = "groups"


class BoundKind(enum.StrEnum):
    UNBOUNDED_PRECEDING = "unbounded_preceding"
    PRECEDING = "preceding"
    CURRENT_ROW = "current_row"
    FOLLOWING = "following"
    UNBOUNDED_FOLLOWING = "unbounded_following"


class FrameBound(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: BoundKind
    offset: Literal | None = None  # PRECEDING/FOLLOWING: rows (ROWS), a value of the ORDER BY column's type (RANGE),
    # or peer groups (GROUPS)


class WindowFrame(msgspec.Struct, frozen=True):
    """``{ROWS | RANGE} BETWEEN start AND end``; PostgreSQL's default is RANGE UNBOUNDED PRECEDING .. CURRENT ROW."""

    mode: FrameMode = FrameMode.RANGE
    start: FrameBound = FrameBound(BoundKind.UNBOUNDED_PRECEDING)
    end: FrameBound = FrameBound(BoundKind.CURRENT_ROW)


class WindowFunc(msgspec.Struct, frozen=True, omit_defaults=True):
    """One window function of a :class:`Window`.  ``func``: row_number, rank, dense_rank, percent_rank, cume_dist,
    ntile, lag, lead, first_value, last_value, nth_value, or an aggregate of :class:`AggregateExpr`'s vocabulary
    (over the frame).  ``args`` are input columns (the value; lag/lead: value then default); ``param`` is ntile's
    bucket count, lag/lead's offset or nth_value's position (constants)."""

    func: str
    args: tuple[int, ...] = ()
    param: int | None = None
    frame: WindowFrame = WindowFrame()


# ---------------------------------------------------------------------------------------------------------
# Relation expressions


class Get(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    id: str


class Constant(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    rows: bytes  # codec.encode_rows of [(row, diff)] pairs flattened as rows of (row_tuple, diff)
    arity: int

    @classmethod
    def of(cls, rows: list[tuple], arity: int) -> "Constant":
        return cls(codec.encode_value([[list(row), 1] for row in rows]), arity)

    def updates(self) -> list[tuple[tuple, int]]:
        return [(tuple(row), diff) for row, diff in codec.decode_value(self.rows)]


class Map(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    scalars: tuple[ScalarExpr, ...]


class Filter(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    predicates: tuple[ScalarExpr, ...]


class Project(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    outputs: tuple[int, ...]


class Join(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    inputs: tuple["RelationExpr", ...]
    equivalences: tuple[tuple[ScalarExpr, ...], ...]


class Reduce(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    group_key: tuple[ScalarExpr, ...]
    aggregates: tuple[AggregateExpr, ...]


class TopK(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    group_key: tuple[int, ...]
    order_key: tuple[ColumnOrder, ...]
    limit: int | None = None
    offset: int = 0


class Window(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    partition_key: tuple[int, ...]
    order_key: tuple[ColumnOrder, ...]
    functions: tuple[WindowFunc, ...]


class Distinct(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"


class Union_(msgspec.Struct, frozen=True, tag="Union", tag_field="kind"):
    inputs: tuple["RelationExpr", ...]


class Negate(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"


class Threshold(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"


class TableCall(msgspec.Struct, frozen=True):
    """One table function call of a :class:`FlatMap`: ``func`` (expr/table_functions.py) over ``exprs``, whose
    output columns have ``types``."""

    func: str
    exprs: tuple[ScalarExpr, ...]
    types: tuple[ScalarType, ...]


class FlatMap(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    """Each input row followed by each row its table function ``calls`` return for it; several calls run in
    lockstep (PostgreSQL's ``ROWS FROM`` and set-returning functions in a select list: the i-th rows side by side,
    the shorter padded with NULLs); ``ordinality`` appends the 1-based position; ``outer`` keeps an input row for
    which the calls return no row, with NULLs (``LEFT JOIN LATERAL ... ON true``)."""

    input: "RelationExpr"
    calls: tuple[TableCall, ...]
    ordinality: bool = False
    outer: bool = False

    @property
    def types(self) -> tuple[ScalarType, ...]:
        """The appended columns' types (ordinality's bigint included)."""
        out = tuple(t for call in self.calls for t in call.types)
        return out + ((ScalarType.INT8,) if self.ordinality else ())


class ArrangeBy(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    input: "RelationExpr"
    keys: tuple[tuple[ScalarExpr, ...], ...]


class RecursionLimitKind(enum.StrEnum):
    """What a LetRec does when its bindings still change after ``limit`` iterations."""

    ERROR = "error"  # ERROR AT RECURSION LIMIT n (and RECURSION LIMIT n; and the default safety limit)
    RETURN = "return"  # RETURN AT RECURSION LIMIT n: the last iterate is the result


class LetRecBinding(msgspec.Struct, frozen=True):
    id: str  # a local id, unique within the statement
    name: str  # the CTE's name (EXPLAIN, errors)
    value: "RelationExpr"
    types: tuple[ScalarType, ...]


class LetRec(msgspec.Struct, frozen=True, tag=True, tag_field="kind"):
    bindings: tuple[LetRecBinding, ...]
    body: "RelationExpr"
    limit: int
    limit_kind: RecursionLimitKind = RecursionLimitKind.ERROR
    explicit_limit: bool = False  # False: the default safety limit (no option was given)


RelationExpr = Union[
    Get, Constant, Map, Filter, Project, Join, Reduce, TopK, Window, Distinct, Union_, Negate, Threshold, ArrangeBy,
    LetRec,
    FlatMap,
]


# ---------------------------------------------------------------------------------------------------------
# Peek-side helpers


class MapFilterProject(msgspec.Struct, frozen=True):
    """Append ``map`` columns, keep rows where every ``predicate`` is true, then keep ``projection``."""

    input_arity: int
    map: tuple[ScalarExpr, ...] = ()
    predicates: tuple[ScalarExpr, ...] = ()
    projection: tuple[int, ...] | None = None  # None = all columns, maps included

    @classmethod
    def identity(cls, arity: int) -> "MapFilterProject":
        return cls(arity)

    @property
    def is_identity(self) -> bool:
        return not self.map and not self.predicates and (
            self.projection is None or self.projection == tuple(range(self.input_arity))
        )


class RowSetFinishing(msgspec.Struct, frozen=True):
    """Applied by the coordinator to a peek's rows: sort, offset, limit, then project."""

    order_by: tuple[ColumnOrder, ...] = ()
    limit: int | None = None
    offset: int = 0
    project: tuple[int, ...] | None = None


def children(expr: RelationExpr) -> tuple[RelationExpr, ...]:
    """The direct inputs of a relation expression."""
    if isinstance(expr, (Join, Union_)):
        return expr.inputs
    if isinstance(expr, LetRec):
        return tuple(b.value for b in expr.bindings) + (expr.body,)
    if isinstance(expr, (Get, Constant)):
        return ()
    return (expr.input,)  # type: ignore[union-attr]


def depends_on(expr: RelationExpr) -> set[str]:
    """Every global id a plan reads (a LetRec's local ids are not: they are bound inside it)."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Get):
            out.add(node.id)
        elif isinstance(node, LetRec):
            out |= depends_on_letrec(node)
            continue
        stack.extend(children(node))
    return out


def depends_on_letrec(expr: LetRec) -> set[str]:
    inner: set[str] = set()
    for child in children(expr):
        inner |= depends_on(child)
    return inner - {b.id for b in expr.bindings}


def depends_on_columns(expr: ScalarExpr) -> bool:
    """Whether a scalar expression reads any column (False for constants)."""
    if isinstance(expr, ColumnRef):
        return True
    if isinstance(expr, Literal):
        return False
    if isinstance(expr, CallUnary):
        return depends_on_columns(expr.expr)
    if isinstance(expr, CallBinary):
        return depends_on_columns(expr.left) or depends_on_columns(expr.right)
    if isinstance(expr, CallVariadic):
        return any(depends_on_columns(e) for e in expr.exprs)
    return any(depends_on_columns(e) for e in (expr.cond, expr.then, expr.els))


_plan_encoder = msgspec.msgpack.Encoder()
_plan_decoder: msgspec.msgpack.Decoder = msgspec.msgpack.Decoder(RelationExpr)


def encode_plan(expr: RelationExpr) -> bytes:
    return _plan_encoder.encode(expr)


def decode_plan(data: bytes) -> RelationExpr:
    return _plan_decoder.decode(data)
