"""The columnar index arrangement (``dataflow.arrangement`` with the renderer's codec: Arrow runs by key hash plus a
recent layer of Python rows) holds exactly what the row arrangement (no codec: every row a Python object) holds,
after any sequence of changes — small ones folded into the recent layer, large ones becoming runs directly, runs
merged, keys moved between the runs and the recent layer — read every way: whole (``peek``, ``table``), by key
(``lookup``, ``rows_of``, with and without ``prefetch``), through a cursor's snapshot and through ``SharedInput``.
Keys of one or more columns of ints, text, numerics, timestamps, floats, NULLs; multiplicities; retractions."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import given, settings, strategies as st

from steadystate.dataflow.arrangement import Arrangement
from steadystate.dataflow.shared_input import SharedInput
from steadystate.render.row_codec import ARROW_ROWS
from steadystate.repr import arrow_rows

BASE = dt.datetime(2024, 1, 1)
ROWS = st.tuples(
    st.one_of(st.none(), st.integers(0, 8)),
    st.sampled_from(["a", "b", "é", ""]),
    st.one_of(st.none(), st.sampled_from([Decimal("1.50"), Decimal("-2.25"), Decimal("0.00")])),
    st.integers(-3, 3).map(lambda i: BASE + dt.timedelta(days=i)),
    st.sampled_from([0.0, -0.0, 1.5, -1e300]),
    st.booleans(),
)
BATCHES = st.lists(st.lists(st.tuples(ROWS, st.sampled_from([1, 1, 1, 2, -1])), max_size=24), min_size=1, max_size=10)
KEYS = st.sampled_from([(0,), (0, 1), (1,), (2,), (3,), (4,), (5, 0), ()])


def table_rows(arrangement: Arrangement) -> Counter[tuple[Any, ...]]:
    table = arrangement.table()
    if table is None:
        return Counter()
    return Counter(row for batch in table.to_batches() for row in arrow_rows.batch_rows(batch))


def by_key(arrangement: Arrangement, keys: set[tuple[Any, ...]]) -> dict[tuple[Any, ...], Counter[tuple[Any, ...]]]:
    return {key: Counter(arrangement.lookup(key)) for key in keys}


@settings(max_examples=200, deadline=None)
@given(BATCHES, KEYS, st.integers(1, 6), st.lists(st.booleans(), min_size=10, max_size=10))
def test_the_columnar_arrangement_holds_what_the_row_arrangement_holds(
        batches: list[list[tuple[tuple[Any, ...], int]]], key: tuple[int, ...], recent_min: int,
        prefetch: list[bool]) -> None:
    def key_fn(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[c] for c in key)

    rows_path = Arrangement(key_fn)
    columnar = Arrangement(key_fn, codec=ARROW_ROWS, recent_min=recent_min)
    cursor = columnar.cursor()
    shared = SharedInput(columnar)
    present: Counter[tuple[Any, ...]] = Counter()
    seen_keys: set[tuple[Any, ...]] = set()
    for time, batch in enumerate(batches, 1):
        delta: dict[tuple[Any, ...], int] = {}
        for row, diff in batch:
            if diff < 0 and present[row] + delta.get(row, 0) <= 0:
                continue  # only retract what is there: an index never holds negative counts
            delta[row] = delta.get(row, 0) + diff
        delta = {row: diff for row, diff in delta.items() if diff}
        present.update(delta)
        seen_keys.update(key_fn(row) for row in delta)
        rows_path.apply(time, (delta, {}))
        columnar.apply(time, (delta, {}))
        expected = Counter(rows_path.peek())
        assert expected == +present
        assert Counter(columnar.peek()) == expected
        assert table_rows(columnar) == expected
        assert columnar.records() == rows_path.records()
        if prefetch[time - 1]:
            columnar.prefetch(seen_keys | {(None,) * len(key)})
        assert by_key(columnar, seen_keys) == by_key(rows_path, seen_keys)
        shared.snapshot_read(0)
        rows_of = shared.state_at(time)
        for k in seen_keys:
            assert (rows_of(k) if rows_of is not None else None) == rows_path.rows_of(k)
    first = cursor.read_snapshot()
    assert first is not None and Counter({row: n for row, n in first[1].items() if n > 0}) == +present


def test_large_deltas_become_runs_and_small_ones_stay_recent() -> None:
    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=100)
    arrangement.apply(1, ({(i, f"n{i}", Decimal("1.25")): 1 for i in range(1000)}, {}))
    assert arrangement.bulk is not None and arrangement.bulk.records == 1000 and not arrangement.recent
    arrangement.apply(2, ({(5, "n5", Decimal("1.25")): -1, (5, "changed", Decimal("2.50")): 1}, {}))
    assert arrangement.recent == {(5,): {(5, "changed", Decimal("2.50")): 1}}
    assert arrangement.bulk.records == 999
    assert arrangement.lookup((7,)) == [(7, "n7", Decimal("1.25"))]
    assert table_rows(arrangement) == Counter(arrangement.peek())
    for time in range(3, 60):  # enough changed keys to move the recent layer into runs, and runs to merge
        changed = range(time * 10, time * 10 + 10)
        arrangement.apply(time, ({**{(i, f"n{i}", Decimal("1.25")): -1 for i in changed},
                                  **{(i, "new", None): 2 for i in changed}}, {}))
    assert arrangement.records() == 1000
    assert arrangement.bulk.merges > 0
    expected = Counter([(5, "changed", Decimal("2.50"))] + [(i, f"n{i}", Decimal("1.25")) for i in range(1000)
                                                           if i != 5 and not 30 <= i < 600])
    expected.update({(i, "new", None): 2 for i in range(30, 600)})
    assert Counter(arrangement.peek()) == expected
    assert table_rows(arrangement) == expected
    assert arrangement.lookup((33,)) == [(33, "new", None)] * 2


def test_rows_the_codec_cannot_encode_stay_python_rows() -> None:
    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=2)
    arrangement.apply(1, ({(1, "a"): 1, (2, "b"): 1, (3, "c"): 1}, {}))
    arrangement.apply(2, ({(4,): 1, (5, "e", "extra"): 1, (6, "f"): 1}, {}))  # rows of different lengths
    assert Counter(arrangement.peek()) == Counter([(1, "a"), (2, "b"), (3, "c"), (4,), (5, "e", "extra"), (6, "f")])
    assert arrangement.table() is None
    assert arrangement.lookup((5,)) == [(5, "e", "extra")]


def test_runs_of_different_column_types_merge_or_stay_apart() -> None:
    """A NULL-only column takes the other run's type; numerics of two scales are re-encoded as one column; rows of
    two arities stay in two runs (and a whole read takes the row path)."""
    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=2)
    first = {(1, None, Decimal("1.5")): 1, (2, None, Decimal("2.5")): 1}
    second = {(3, "c", Decimal("0.25")): 1, (4, "d", Decimal("1.75")): 2}
    arrangement.apply(1, (first, {}))
    arrangement.apply(2, (second, {}))
    assert arrangement.bulk is not None and arrangement.bulk.merges == 1 and len(arrangement.bulk.runs) == 1
    expected = Counter({**first, **second})
    assert Counter(arrangement.peek()) == expected == table_rows(arrangement)
    assert arrangement.lookup((4,)) == [(4, "d", Decimal("1.75"))] * 2
    arrangement.apply(3, ({(5, "e", Decimal("1"), "extra"): 1, (6, "f", Decimal("2"), "extra"): 1}, {}))
    assert len(arrangement.bulk.runs) == 2 and arrangement.table() is None
    expected.update({(5, "e", Decimal("1"), "extra"): 1, (6, "f", Decimal("2"), "extra"): 1})
    assert Counter(arrangement.peek()) == expected
    arrangement.apply(4, ({(4, "d", Decimal("1.75")): -2, (5, "e", Decimal("1"), "extra"): -1}, {}))
    expected.subtract({(4, "d", Decimal("1.75")): 2, (5, "e", Decimal("1"), "extra"): 1})
    assert Counter(arrangement.peek()) == +expected
    assert arrangement.lookup((5,)) == [] and arrangement.lookup((6,)) == [(6, "f", Decimal("2"), "extra")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))),
    st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**30,
                                     max_value=10**30)),
    st.one_of(st.none(), st.floats()),
), min_size=1, max_size=20))
def test_the_fast_decoders_give_the_rows_encoded(rows: list[tuple[Any, ...]]) -> None:
    """The codec's own timestamp and numeric decoders give exactly ``arrow_rows``' values (types and scales too)."""
    batch = ARROW_ROWS.encode(rows)
    assert batch is not None
    fast, reference = ARROW_ROWS.decode(batch), arrow_rows.batch_rows(batch)
    assert [tuple(map(repr, row)) for row in fast] == [tuple(map(repr, row)) for row in reference]


_UTC = dt.timezone.utc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(
    st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
    st.one_of(st.none(), st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1e308, 5e-324]), st.floats()),
    st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda t: t.replace(tzinfo=_UTC))),
    st.one_of(st.none(), st.dates()),
    st.one_of(st.none(), st.text(max_size=3)),
    st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**20,
                                     max_value=10**20)),
    st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1, 1, 1))),
), min_size=1, max_size=12), st.integers(1, 5000))
def test_the_fast_decoders_give_the_rows_encoded_repeated_and_not(rows: list[tuple[Any, ...]], copies: int) -> None:
    """Every column kind the codec decodes itself (ints with NULLs, floats with NaN/-0.0/infinities, timestamptz,
    dates, strings and numerics through Arrow's dictionary when their values repeat: ``copies`` times the rows)
    gives exactly ``arrow_rows``' values, ``repr`` for ``repr`` (the one NaN rows hold, scales, UTC)."""
    batch = ARROW_ROWS.encode(rows * copies)
    assert batch is not None
    fast, reference = ARROW_ROWS.decode(batch), arrow_rows.batch_rows(batch)
    assert [tuple(map(repr, row)) for row in fast] == [tuple(map(repr, row)) for row in reference]
    nans = [value for row in fast for value in row if isinstance(value, float) and value != value]
    assert all(value is math.nan for value in nans)
