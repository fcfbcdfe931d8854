"""``dataflow.arrangement_runs.tuple_hashes`` equals Python's ``hash`` of the rows' key tuples, for integer and boolean
columns of every width, with NULLs, the extremes of int64 (the modulus's edge, ``-1`` and ``-2``, ``INT64_MIN``), one
to four columns, and chunked columns; other types are declined."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from steadystate.dataflow import arrangement_runs
from steadystate.dataflow.arrangement_runs import tuple_hashes

EDGES = [0, 1, -1, -2, 2**61 - 2, 2**61 - 1, 2**61, -(2**61 - 1), -(2**61), 2**62, 2**63 - 1, -(2**63), -(2**63) + 1]
INT64 = st.one_of(st.sampled_from(EDGES), st.integers(-(2**63), 2**63 - 1), st.integers(-5, 5), st.none())
TYPES = {"int64": (pa.int64(), INT64), "int32": (pa.int32(), st.one_of(st.integers(-(2**31), 2**31 - 1), st.none())),
         "int8": (pa.int8(), st.one_of(st.integers(-128, 127), st.none())),
         "uint32": (pa.uint32(), st.one_of(st.integers(0, 2**32 - 1), st.none())),
         "bool": (pa.bool_(), st.one_of(st.booleans(), st.none()))}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[pa.Array], list[tuple]]:
    kinds = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=4))
    length = draw(st.integers(1, 30))
    columns = [draw(st.lists(TYPES[kind][1], min_size=length, max_size=length)) for kind in kinds]
    arrays = [pa.array(values, TYPES[kind][0]) for kind, values in zip(kinds, columns)]
    return arrays, list(zip(*columns))


@settings(max_examples=300, deadline=None)
@given(tables())
def test_equal_to_pythons_hash_of_the_key_tuples(case: tuple[list[pa.Array], list[tuple]]) -> None:
    arrays, rows = case
    hashes = tuple_hashes(arrays)
    assert hashes is not None
    assert hashes.tolist() == [hash(row) for row in rows]


def test_chunked_columns_and_many_rows() -> None:
    values = list(range(-50_000, 50_000, 7))
    chunked = pa.chunked_array([values[:100], values[100:]], pa.int64())
    hashes = tuple_hashes([chunked, pa.array([v % 3 == 0 for v in values])])
    assert hashes is not None
    assert hashes.tolist() == [hash((v, v % 3 == 0)) for v in values]


def test_blocks_and_chunks_across_their_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrangement_runs, "HASH_BLOCK_ROWS", 7)
    values = [None if v % 11 == 0 else v * 2**40 - 3 for v in range(-40, 60)]
    chunked = pa.chunked_array([values[:5], values[5:13], values[13:]], pa.int64())
    hashes = tuple_hashes([chunked, pa.array(range(100), pa.int16())])
    assert hashes is not None
    assert hashes.tolist() == [hash((v, i)) for i, v in enumerate(values)]


def test_other_types_are_declined() -> None:
    assert tuple_hashes([pa.array(["a"])]) is None
    assert tuple_hashes([pa.array([1]), pa.array([1.5])]) is None
    assert tuple_hashes([pa.array([2**64 - 1], pa.uint64())]) is None
