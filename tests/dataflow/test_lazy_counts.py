"""``lazy_counts.LazyCounts`` (a distinct's state hydrated from one integer column, kept as NumPy arrays) answers
every operation the counting operator uses exactly as the dict it stands for: checked against a dict through
generated sequences of lookups, assignments, deletions, pops and full reads, with values equal to integers that
are not ints (``True``, ``2.0``, ``Decimal``) and keys absent from the snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from steadystate.dataflow.lazy_counts import LazyCounts, lazy_counts

KEYS = st.integers(-6, 6)
PROBES = st.one_of(KEYS.map(lambda k: (k,)), st.sampled_from([(True,), (2.0,), (Decimal(3),), (2.5,), ("a",),
                                                              (1, 2), (), (2**70,)]))
OPS = st.lists(st.tuples(st.sampled_from(["get", "set", "del", "pop", "in", "len", "bool", "items", "copy"]),
                         PROBES, st.integers(-3, 3).filter(bool)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, st.integers(-3, 3).filter(bool)), OPS, st.booleans())
def test_lazy_counts_answer_as_a_dict(snapshot: dict[int, int], ops: list[tuple[str, Any, int]],
                                      shuffled: bool) -> None:
    keys = sorted(snapshot)
    if shuffled:  # rows consolidated by hashing come unsorted: ``lazy_counts`` sorts them
        keys = keys[::-1]
    table = pa.table({"c0": pa.array(keys, pa.int16())})
    lazy = lazy_counts(table, np.array([snapshot[k] for k in keys], dtype=np.int64))
    assert lazy is not None
    model: dict[Any, int] = {(k,): v for k, v in snapshot.items()}
    for op, probe, value in ops:
        if op == "get":
            assert lazy.get(probe, 0) == model.get(probe, 0)
        elif op == "set":
            lazy[probe] = value
            model[probe] = value
        elif op == "del":
            if probe in model:
                del lazy[probe]
                del model[probe]
            else:
                with pytest.raises(KeyError):
                    del lazy[probe]
        elif op == "pop":
            assert lazy.pop(probe, None) == model.pop(probe, None)
        elif op == "in":
            assert (probe in lazy) == (probe in model)
        elif op == "len":
            assert len(lazy) == len(model)
        elif op == "bool":
            assert bool(lazy) == bool(model)
        elif op == "items":
            assert dict(lazy.items()) == model
        else:
            assert lazy.copy() == model
    assert lazy == model
    assert len(lazy) == len(model)


def test_only_one_integer_column_without_nulls_is_kept_as_arrays() -> None:
    counts = np.array([1, 2], dtype=np.int64)
    assert isinstance(lazy_counts(pa.table({"c0": [1, 2]}), counts), LazyCounts)
    assert lazy_counts(pa.table({"c0": [1, None]}), counts) is None
    assert lazy_counts(pa.table({"c0": ["a", "b"]}), counts) is None
    assert lazy_counts(pa.table({"c0": [1, 2], "c1": [3, 4]}), counts) is None
