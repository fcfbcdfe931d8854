"""``columns.consolidated_sorted`` (a snapshot's rows consolidated and sorted: what reduces and join sides build
their state from) equals a Python model, whether its packed codes are counted (few possible codes) or sorted (wide
integers), for integer, text and boolean columns with NULLs."""

from __future__ import annotations

from collections import Counter
from unittest import mock

import numpy as np
import pyarrow as pa
from hypothesis import given, settings, strategies as st

from steadystate.dataflow import columns
from steadystate.dataflow.columns import consolidated_sorted, counted_table
from steadystate.repr.columnar import narrowed

narrow = st.one_of(st.none(), st.integers(-3, 3))
wide = st.one_of(st.none(), st.integers(-(2**40), 2**40))
text = st.one_of(st.none(), st.sampled_from(["", "a", "B", "é", "ab"]))
flags = st.one_of(st.none(), st.booleans())


# how the table is laid out: integers as int64 or as storage keeps them (the narrowest width), in one chunk or
# several, and packed in blocks of how many rows (``columns.PACK_BLOCK``)
layouts = st.tuples(st.booleans(), st.integers(1, 3), st.sampled_from([1, 4, 1 << 20]))


def table_of(rows: list[tuple], arity: int, layout: tuple[bool, int, int]) -> pa.Table:
    narrowing, chunks, _block = layout
    types = [pa.string() if any(isinstance(r[i], str) for r in rows) else
             pa.bool_() if any(isinstance(r[i], bool) for r in rows) else pa.int64() for i in range(arity)]
    arrays = [pa.array([r[i] for r in rows], types[i]) for i in range(arity)]
    if narrowing:
        arrays = [narrowed(a) for a in arrays]
    table = pa.table({f"c{i}": a for i, a in enumerate(arrays)})
    step = max(1, -(-len(rows) // chunks))
    return pa.concat_tables([table.slice(start, step) for start in range(0, len(rows), step)]) if rows else table


def model(rows: list[tuple]) -> list[tuple]:
    """Distinct rows in column order, NULLs last, with their counts."""
    def order(row: tuple) -> tuple:
        return tuple((value is None, value if value is not None else 0) for value in row)
    return [(*row, count) for row, count in sorted(Counter(rows).items(), key=lambda item: order(item[0]))]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([(narrow, text), (wide, narrow), (flags, narrow, text), (narrow,), (wide, wide)]).flatmap(
    lambda columns: st.tuples(st.just(len(columns)), st.lists(st.tuples(*columns), max_size=30))), layouts)
def test_consolidated_sorted_equals_the_model(case: tuple[int, list[tuple]], layout: tuple[bool, int, int]) -> None:
    arity, rows = case
    table = table_of(rows, arity, layout)
    with mock.patch.object(columns, "PACK_BLOCK", layout[2]):
        out = consolidated_sorted(table)
        unordered = counted_table(table)
    got = list(zip(*(out.column(name).to_pylist() for name in out.column_names)))
    assert got == model(rows)
    assert out.schema.field(0).type == table.schema.field(0).type  # the columns keep their types
    assert sorted(zip(*(unordered.column(name).to_pylist() for name in unordered.column_names)),
                  key=lambda row: tuple((v is None, v if v is not None else 0) for v in row)) == model(rows)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([(narrow, text), (wide, narrow), (flags, narrow, text), (narrow,), (wide, wide)]).flatmap(
    lambda columns: st.tuples(st.just(len(columns)), st.lists(st.tuples(*columns, st.integers(-3, 3)),
                                                              max_size=30))), layouts)
def test_consolidated_sorted_by_weight_equals_the_model(case: tuple[int, list[tuple]],
                                                        layout: tuple[bool, int, int]) -> None:
    """Each row counting its weight (a consolidated join's ``count_all``, a delta's signs): the weights summed per
    distinct row, a row whose weights sum to zero kept with count 0, whether the codes are counted or sorted."""
    arity, weighted = case
    rows = [row[:arity] for row in weighted]
    table = table_of(rows, arity, layout)
    with mock.patch.object(columns, "PACK_BLOCK", layout[2]):
        out = consolidated_sorted(table, np.array([row[arity] for row in weighted], dtype=np.int64))
    got = list(zip(*(out.column(name).to_pylist() for name in out.column_names)))
    sums: Counter[tuple] = Counter()
    for row in weighted:
        sums[row[:arity]] += row[arity]
    assert got == [(*row[:arity], sums[row[:arity]]) for row in model(rows)]


def test_a_key_column_of_only_nulls_joins_a_text_key() -> None:
    """Storage types a column of NULLs as int64 (``columns.unified``), and a side converted from rows infers it so:
    joined with a text key it matches nothing, rather than failing on the types."""
    from steadystate.dataflow.columns import joined

    nulls = pa.table({"c0": pa.nulls(2, pa.int64()), "c1": [1, 2]})
    text = pa.table({"c0": ["a", "b"]})
    assert joined(nulls, text, [0], [0]).num_rows == 0
    assert joined(text, nulls, [0], [0]).num_columns == 3


ids = st.one_of(st.lists(wide, max_size=30),  # any values, NULLs among them
                st.lists(st.integers(-5, 40), max_size=30).map(sorted),  # ascending, repeats possible
                st.lists(st.integers(-(2**40), 2**40), max_size=30, unique=True).map(sorted))  # strictly ascending


@settings(max_examples=300, deadline=None)
@given(st.one_of(ids.map(lambda values: (1, [(v,) for v in values])),
                 st.lists(st.tuples(narrow, text), max_size=30).map(lambda rows: (2, rows))), layouts)
def test_repeats_says_whether_a_row_occurs_twice(case: tuple[int, list[tuple]], layout: tuple[bool, int, int]
                                                 ) -> None:
    arity, rows = case
    assert columns.repeats(table_of(rows, arity, layout)) == (len(set(rows)) < len(rows))
