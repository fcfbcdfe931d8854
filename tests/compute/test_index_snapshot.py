"""A peek of a whole index answered from the arrangement's Arrow table (``compute.index_snapshot``:
map/filter/project, OFFSET/LIMIT) equals the row path; through the replica's peek path, a LIMIT reads only its rows
and a whole-index peek reads the runs.  (That the table holds exactly the arrangement's rows after any changes is
``tests/dataflow/test_arrangement_runs.py``'s property.)"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import given, settings, strategies as st

from steadystate.compute.index_snapshot import answer, finished, mapped
from steadystate.compute.state import ComputeState
from steadystate.controller.instance import peek_result
from steadystate.dataflow.arrangement import Arrangement
from steadystate.expr import ir
from steadystate.expr.eval import compile_mfp
from steadystate.protocol import messages as m
from steadystate.render.row_codec import ARROW_ROWS
from steadystate.render.translate import mfp_view
from steadystate.repr import arrow_rows
from steadystate.repr.types import RelationDesc, ScalarType as T
from steadystate.storage import open_store

BASE = dt.datetime(2024, 1, 1)
ROWS = st.tuples(st.one_of(st.none(), st.integers(0, 6)), st.sampled_from(["a", "b", "é", ""]),
                 st.integers(-3, 3).map(lambda i: BASE + dt.timedelta(days=i)))
CHANGES = st.lists(st.lists(st.tuples(ROWS, st.sampled_from([1, 1, 2, -1])), max_size=12), min_size=1, max_size=8)


def col(i: int) -> ir.ColumnRef:
    return ir.ColumnRef(i)


MFPS = [
    ir.MapFilterProject(3),
    ir.MapFilterProject(3, projection=(2, 0)),
    ir.MapFilterProject(3, predicates=(ir.CallBinary("lt", col(0), ir.Literal(3, T.INT8)),)),
    ir.MapFilterProject(3, predicates=(ir.CallBinary("gte", col(1), ir.Literal("b", T.TEXT)),
                                       ir.CallUnary("is_not_null", col(0))), projection=(1,)),
    ir.MapFilterProject(3, map=(ir.CallBinary("add", col(0), ir.Literal(1, T.INT8)),)),  # the row path
]
FINISHINGS = [ir.RowSetFinishing(), ir.RowSetFinishing(limit=2), ir.RowSetFinishing(offset=1, limit=100),
              ir.RowSetFinishing(offset=3), ir.RowSetFinishing(project=(0,))]


@settings(max_examples=100, deadline=None)
@given(st.lists(ROWS, min_size=1, max_size=30), st.sampled_from(MFPS), st.sampled_from(FINISHINGS))
def test_a_peek_from_the_table_equals_the_row_path(rows: list[tuple[Any, ...]], mfp: ir.MapFilterProject,
                                                   finishing: ir.RowSetFinishing) -> None:
    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=4)
    arrangement.apply(1, (dict(Counter(rows)), {}))
    table = arrangement.table()
    assert table is not None
    out = mapped(table, mfp, [T.INT8, T.TEXT, T.TIMESTAMP])
    apply = compile_mfp(mfp)
    expected = [r for row in arrangement.peek() if (r := apply(row)) is not None]
    if out is None:
        # the row path for a computed column, or a predicate's column that is all NULLs (an Arrow null column)
        assert mfp.map or all(row[0] is None for row in rows)
        return
    got = [row for batch in out.to_batches() for row in arrow_rows.batch_rows(batch)]
    assert Counter(got) == Counter(expected)
    limited = finished(out, finishing)
    assert limited is not None
    got = [row for batch in limited.to_batches() for row in arrow_rows.batch_rows(batch)]
    start = finishing.offset
    stop = None if finishing.limit is None else start + finishing.limit
    assert len(got) == len(expected[start:stop])
    assert Counter(got) <= Counter(tuple(r[c] for c in finishing.project) if finishing.project else r
                                      for r in expected)


# ------------------------------------------------------------------------------- through the replica's peek path


def index_state(rows: int) -> tuple[ComputeState, Arrangement]:
    """A replica state holding an index ``i1`` on ``(k int8, s text)`` keyed by ``k``, with ``rows`` rows."""
    state = ComputeState("r1", open_store("sqlite:///:memory:"))
    state.handle(m.Hello("n1", "secret"))
    state.handle(m.CreateInstance(m.InstanceConfig("c1", "r1", "sqlite:///:memory:")))
    state.handle(m.InitializationComplete())
    arrangement = Arrangement(lambda row: (row[0],), mfp_view([T.INT8, T.TEXT]), name="i1", codec=ARROW_ROWS)
    arrangement.apply(1, ({(k, f"s{k % 100}"): 1 for k in range(rows)}, {}))
    arrangement.advance(2)
    state.arrangements["i1"] = arrangement
    state.index_exports["i1"] = m.IndexExport("i1", "u1", (ir.ColumnRef(0),), INDEX_DESC)
    return state, arrangement


INDEX_DESC = RelationDesc.of(("k", T.INT8), ("s", T.TEXT))
INDEX = m.PeekTarget(m.PeekTargetKind.INDEX, "i1")


def peeked(state: ComputeState, uuid: str, mfp: ir.MapFilterProject,
           finishing: ir.RowSetFinishing = ir.RowSetFinishing()) -> list[tuple[Any, ...]]:
    state.handle(m.Peek(uuid, INDEX, 1, mfp, finishing=finishing, arrow=True))
    responses = [r for r in state.tick() if isinstance(r, m.PeekResponse) and r.uuid == uuid]
    assert all(r.error is None for r in responses)
    return list(peek_result(responses))


def test_a_limit_over_a_million_row_index_moves_only_its_rows() -> None:
    state, arrangement = index_state(1_000_000)
    limit = ir.RowSetFinishing(limit=10)
    assert answer(m.Peek("x", INDEX, 1, ir.MapFilterProject(2), finishing=limit, arrow=True), arrangement,
                  state.index_exports["i1"]) is None  # the row path, which stops after 10 rows
    first = peeked(state, "a", ir.MapFilterProject(2), limit)
    assert len(first) == 10
    ordered = peeked(state, "b", ir.MapFilterProject(2), ir.RowSetFinishing((ir.ColumnOrder(0, desc=True),), limit=10))
    assert ordered == [(k, f"s{k % 100}") for k in range(999_999, 999_989, -1)]
    whole = peeked(state, "c", ir.MapFilterProject(2))
    assert sorted(whole) == [(k, f"s{k % 100}") for k in range(1_000_000)]
    arrangement.apply(2, ({(5, "s5"): -1, (5, "new"): 1}, {}))
    arrangement.advance(3)
    again = peeked(state, "d", ir.MapFilterProject(2, projection=(1,)), ir.RowSetFinishing(offset=5, limit=10))
    assert len(again) == 10
    filtered = peeked(state, "e", ir.MapFilterProject(2, predicates=(ir.CallBinary("lt", ir.ColumnRef(0),
                                                                                    ir.Literal(7, T.INT8)),)))
    assert sorted(filtered) == [(k, "new" if k == 5 else f"s{k}") for k in range(7)]
    point = peeked(state, "f", ir.MapFilterProject(2, predicates=(ir.CallBinary("eq", ir.ColumnRef(0),
                                                                                 ir.Literal(5, T.INT8)),)))
    assert point == [(5, "new")]
