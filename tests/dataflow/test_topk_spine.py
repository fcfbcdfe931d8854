"""dataflow.topk_spine: the top-k over a columnar arrangement equals a from-scratch sort after every round, hydrated
from rows or from Arrow columns, with group keys of one or two columns (NULLs, text, booleans), descending columns,
NULLs first or last, offsets; small head depths force the fence/retry path of the head merge."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from steadystate.dataflow.collection import OkDelta, add_into
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.dataflow.topk import SortColumn
from steadystate.dataflow.topk_spine import SpineTopK
from test_topk import reference_by

TYPES = [pa.int64(), pa.string(), pa.int64(), pa.bool_()]
row_values = st.tuples(st.one_of(st.none(), st.integers(0, 1)), st.sampled_from([None, "x", "é"]),
                       st.one_of(st.none(), st.integers(-2, 3), st.sampled_from([-(2**63), 2**63 - 1])),
                       st.one_of(st.none(), st.booleans()))  # extreme integers: orders of several words
rounds = st.lists(st.lists(st.tuples(row_values, st.sampled_from([1, 1, 2, -1])), max_size=10), min_size=1,
                  max_size=10)
orders = st.lists(st.builds(SortColumn, column=st.integers(1, 3), descending=st.booleans(),
                            nulls_last=st.booleans()), min_size=1, max_size=3)


def as_checked_rows(out: OkDelta | ColumnarDelta) -> OkDelta:
    """An output as rows; a first output handed on as columns must hold exactly the rows it gives readers of rows
    (each row as many times as it counts, and ``distinct`` only when none repeats)."""
    if type(out) is not ColumnarDelta:
        assert isinstance(out, dict)
        return out
    in_columns: Counter[tuple[Any, ...]] = Counter()
    for table, sign in out.parts:
        assert sign == 1 and table.column_names == [f"c{i}" for i in range(out.arity)]
        in_columns.update(zip(*(column.to_pylist() for column in table.columns)))
    rows = out.rows()
    assert in_columns == Counter(rows) and all(count > 0 for count in rows.values())
    assert not out.distinct or all(count == 1 for count in rows.values())
    return rows


@settings(max_examples=300, deadline=None)
@given(snapshot=st.lists(row_values, max_size=40), rounds=rounds, order=orders, limit=st.integers(1, 4),
       offset=st.integers(0, 2), group=st.sampled_from([(), (0,), (0, 3)]), columns=st.booleans())
def test_spine_topk_matches_a_full_sort(snapshot: list[tuple[Any, ...]], rounds: list, order: list[SortColumn],
                                        limit: int, offset: int, group: tuple[int, ...], columns: bool) -> None:
    operator = SpineTopK(0, group, order, limit, offset, TYPES)
    multiset: Counter[tuple[Any, ...]] = Counter(snapshot)
    first: dict[tuple[Any, ...], int] = {}
    if columns:
        table = pa.table({f"c{i}": pa.array([r[i] for r in snapshot], type=TYPES[i]) for i in range(4)})
        if snapshot:  # stored integers arrive narrowed; the operator widens them
            table = table.set_column(0, "c0", table.column(0).cast(pa.int8()))
        folded = operator.fold_columns([table])
        assert folded is not None
        operator.absorb_folded(folded)
    else:
        first = dict(multiset)
    output: dict[tuple[Any, ...], int] = {}
    for time, changes in enumerate([[]] + rounds):
        delta: dict[tuple[Any, ...], int] = dict(first) if time == 0 else {}
        for row, diff in changes:
            if multiset[row] + delta.get(row, 0) + diff < 0:
                continue  # never delete what is not there
            add_into(delta, row, diff)
        if time:
            for row, diff in delta.items():
                multiset[row] += diff
        out, _err = operator.run(time, [(delta, {})], time == 0)
        ok = as_checked_rows(out)
        for row, diff in ok.items():
            add_into(output, row, diff)
        expected = reference_by(multiset, lambda row: tuple(row[c] for c in group), order, limit, offset)
        assert Counter({row: count for row, count in output.items() if count}) == +expected
