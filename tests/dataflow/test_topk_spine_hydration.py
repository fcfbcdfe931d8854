"""dataflow.topk_spine hydrated from Arrow columns at sizes where the vectorized paths matter: the packed sort's
ties re-sorted by what did not fit beside the position (wide integer spans), integer group keys interned by the
table of their span (NULL keys, narrowed types), duplicate rows, NULLs and ties in the order, ``DESC``/``ASC``,
``LIMIT``/``OFFSET``, and the first output kept as columns and claimed group by group by later rounds.  After every
round the output must equal the row-path operator's (``dataflow.topk``) and a from-scratch sort."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import given, settings, strategies as st

from steadystate.dataflow.collection import add_into
from steadystate.dataflow.topk import SortColumn, TopKOperator
from steadystate.dataflow.topk_spine import SpineTopK
from test_topk import reference_by
from test_topk_spine import as_checked_rows

TYPES = [pa.int64(), pa.int64(), pa.string(), pa.int64()]


def random_rows(rng: np.random.Generator, n: int, groups: int, spread: int, nulls: float) -> list[tuple[Any, ...]]:
    """Rows ``(group, a, text, b)``: ``a`` of a small span (many ties), ``b`` of ``spread``; some rows repeated."""
    def maybe_null(values: list[Any]) -> list[Any]:
        return [None if rng.random() < nulls else v for v in values]

    rows = list(zip(maybe_null(rng.integers(-2, groups, n).tolist()), maybe_null(rng.integers(0, 5, n).tolist()),
                    maybe_null(rng.choice(["", "a", "b", "é"], n).tolist()),
                    maybe_null(rng.integers(-spread, spread, n).tolist())))
    repeats = rng.integers(0, max(n, 1), n // 5)
    return rows + [rows[i] for i in repeats.tolist() if i < len(rows)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 3000), groups=st.sampled_from([1, 7, 300]),
       spread=st.sampled_from([3, 1000, 2**45, 2**62]), nulls=st.sampled_from([0.0, 0.05]),
       order=st.lists(st.builds(SortColumn, column=st.integers(1, 3), descending=st.booleans(),
                                nulls_last=st.booleans()), min_size=1, max_size=3),
       limit=st.integers(1, 4), offset=st.integers(0, 2), group=st.sampled_from([(0,), (0, 2), ()]),
       narrow=st.booleans())
def test_columnar_hydration_matches_the_row_path(seed: int, n: int, groups: int, spread: int, nulls: float,
                                                 order: list[SortColumn], limit: int, offset: int,
                                                 group: tuple[int, ...], narrow: bool) -> None:
    rng = np.random.default_rng(seed)
    snapshot = random_rows(rng, n, groups, spread, nulls)
    operator = SpineTopK(0, group, order, limit, offset, TYPES)
    table = pa.table({f"c{i}": pa.array([r[i] for r in snapshot], type=t) for i, t in enumerate(TYPES)})
    if narrow and groups < 100:  # stored integers arrive narrowed; the operator widens them
        table = table.set_column(0, "c0", table.column(0).cast(pa.int8()))
    folded = operator.fold_columns([table])
    assert folded is not None
    operator.absorb_folded(folded)
    group_of = (lambda row: tuple(row[c] for c in group)) if group else None
    rows_path = TopKOperator(0, group_of, order, limit, offset)
    multiset: Counter[tuple[Any, ...]] = Counter(snapshot)
    ours: dict[tuple[Any, ...], int] = {}
    theirs: dict[tuple[Any, ...], int] = {}
    for time in range(5):
        delta: dict[tuple[Any, ...], int] = {}
        if time:  # delete some rows held (some groups' boundaries among them), insert new ones and copies
            held = list(multiset.elements())
            for i in rng.integers(0, len(held), min(len(held), 40)).tolist() if held else []:
                row = held[i]
                if multiset[row] + delta.get(row, 0) > 0:
                    add_into(delta, row, -1)
            for row in random_rows(rng, 30, groups + 2, spread, nulls):
                add_into(delta, row, 1)
            for row, diff in delta.items():
                multiset[row] += diff
        out, _err = operator.run(time, [({} if time == 0 else delta, {})], time == 0)
        for row, diff in as_checked_rows(out).items():
            add_into(ours, row, diff)
        out_rows, _err = rows_path.run(time, [(dict(Counter(snapshot)) if time == 0 else delta, {})], time == 0)
        for row, diff in out_rows.items():
            add_into(theirs, row, diff)
        assert ours == theirs
        expected = reference_by(multiset, lambda row: tuple(row[c] for c in group), order, limit, offset)
        assert Counter(ours) == +expected
