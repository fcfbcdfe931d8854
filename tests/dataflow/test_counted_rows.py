"""``columns.counted_rows`` / ``summed_rows`` / ``python_values``: a table's rows as ``{row: count}`` equal to
counting the rows ``to_pylist`` gives one by one in Python — packed into integers or grouped by Arrow, strings
through their dictionary (tables of at least 4096 rows take that path: the small random tables are repeated)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings, strategies as st

from steadystate.dataflow.columns import counted_rows, python_values, summed_rows

ints = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([-(2**62), 2**62]))
texts = st.one_of(st.none(), st.sampled_from(["", "a", "b", "é", "\U0001f600"]), st.text(max_size=3))
bools = st.one_of(st.none(), st.booleans())
rows = st.lists(st.tuples(ints, texts, bools), max_size=20)


def table(data: list[tuple], repeat: int) -> pa.Table:
    data = data * repeat
    return pa.table({"c0": pa.array([r[0] for r in data], pa.int64()), "c1": pa.array([r[1] for r in data], pa.string()),
                     "c2": pa.array([r[2] for r in data], pa.bool_())})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows, repeat=st.sampled_from([1, 3, 4100]), arity=st.integers(0, 3))
def test_counted_rows_equal_python_counting(data: list[tuple], repeat: int, arity: int) -> None:
    t = table(data, repeat)
    expected = Counter(tuple(r[:arity]) for r in zip(*(t.column(i).to_pylist() for i in range(3))))
    assert counted_rows(t, arity) == dict(expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows, repeat=st.sampled_from([1, 4100]), signs=st.lists(st.sampled_from([-2, -1, 1, 3]), min_size=1))
def test_summed_rows_equal_python_sums(data: list[tuple], repeat: int, signs: list[int]) -> None:
    t = table(data, repeat)
    weights = np.array([signs[i % len(signs)] for i in range(t.num_rows)], dtype=np.int64)
    expected: Counter = Counter()
    for row, weight in zip(zip(*(t.column(i).to_pylist() for i in range(3))), weights.tolist()):
        expected[row] += weight
    assert summed_rows(t, weights, 3) == {row: total for row, total in expected.items() if total}


@settings(max_examples=40, deadline=None)
@given(values=st.lists(texts, max_size=30), repeat=st.sampled_from([1, 200]))
def test_python_values_are_to_pylist(values: list, repeat: int) -> None:
    column = pa.chunked_array([pa.array(values * repeat, pa.string()), pa.array(values, pa.string())])
    assert python_values(column) == column.to_pylist()
