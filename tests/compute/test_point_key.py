"""Fast-path peeks that pin every key column of an index to a literal look the key up instead of scanning."""

from __future__ import annotations

from steadystate.compute.peeks import point_key
from steadystate.expr.ir import CallBinary, ColumnRef, Literal, MapFilterProject
from steadystate.protocol.messages import IndexExport
from steadystate.repr.types import RelationDesc, ScalarType as T

DESC = RelationDesc.of(("k", T.INT4), ("s", T.TEXT), ("v", T.INT8))


def export(*key: int) -> IndexExport:
    return IndexExport("u9", "u8", tuple(ColumnRef(k) for k in key), DESC)


def eq(column: int, value: object, typ: T) -> CallBinary:
    return CallBinary("eq", ColumnRef(column), Literal(value, typ))  # type: ignore[arg-type]


def test_equality_on_every_key_column_gives_the_key() -> None:
    mfp = MapFilterProject(3, predicates=(eq(1, "x", T.TEXT), eq(0, 7, T.INT4)))
    assert point_key(export(0, 1), mfp) == (7, "x")
    flipped = CallBinary("eq", Literal(7, T.INT4), ColumnRef(0))
    assert point_key(export(0), MapFilterProject(3, predicates=(flipped,))) == (7,)


def test_anything_less_than_a_pinned_key_scans() -> None:
    assert point_key(export(0, 1), MapFilterProject(3, predicates=(eq(0, 7, T.INT4),))) is None
    assert point_key(export(0), MapFilterProject(3, predicates=(eq(0, 7, T.INT8),))) is None  # other type
    assert point_key(export(0), MapFilterProject(3, predicates=(eq(0, None, T.INT4),))) is None  # NULL
    gt = CallBinary("gt", ColumnRef(0), Literal(7, T.INT4))
    assert point_key(export(0), MapFilterProject(3, predicates=(gt,))) is None
    assert point_key(None, MapFilterProject(3, predicates=(eq(0, 7, T.INT4),))) is None
