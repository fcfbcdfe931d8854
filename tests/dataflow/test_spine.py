"""The columnar arrangement (``dataflow.spine``) against a plain ``Counter`` model: inserts, deletes, lookups and
merges, with multi-column keys interned from Python values and from Arrow columns, NULLs, strings, booleans."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from steadystate.dataflow.spine import KeyInterner, SortKey, Spine, gather, sorted_order
from steadystate.dataflow.topk import SortColumn, order_key

TYPES = [pa.int64(), pa.string(), pa.bool_()]
values = st.tuples(st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([-(2**63), 2**63 - 1])),
                   st.one_of(st.none(), st.sampled_from(["", "a", "b", "é", "ab"])),
                   st.one_of(st.none(), st.booleans()))
updates = st.lists(st.tuples(st.integers(0, 3), values, st.integers(-2, 2)), max_size=25)


def model_apply(model: Counter, batch: list) -> None:
    for key, row, diff in batch:
        model[(key, row)] += diff
        if model[(key, row)] == 0:
            del model[(key, row)]


def check_runs(spine: Spine, deferred: bool = False) -> None:
    sizes = [run.num_rows for run in spine.runs]
    if deferred:  # a deferred run was compared by its size before consolidation
        sizes = sizes[1:]
    for older, newer in zip(sizes, sizes[1:]):  # geometric: each run less than half the one before
        assert 2 * newer < older
    for run in spine.runs:
        assert 0 not in run.column("diff").to_pylist()
        pairs = list(zip(run.column("k").to_pylist(), zip(*(run.column(n).to_pylist() for n in spine.names))))
        order = order_key([SortColumn(*s) for s in spine.order])  # the row path's order, then the tie break
        keys = [(k, order(row)) for k, row in pairs]
        assert all(not (b < a) for a, b in zip(keys, keys[1:]))  # sorted as the row operator sorts
        assert len(set(pairs)) == len(pairs)  # consolidated


@settings(max_examples=150, deadline=None)
@given(st.lists(updates, max_size=8), st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.booleans()),
                                               max_size=3), st.booleans())
def test_spine_matches_counter(batches: list, order: list, deferred: bool) -> None:
    """With the first batch a deferred (unsorted) run or an ordinary one."""
    spine = Spine(TYPES, [SortKey(c, d, n) for c, d, n in order])
    model: Counter = Counter()
    for i, batch in enumerate(batches):
        keys, rows, diffs = [k for k, _, _ in batch], [r for _, r, _ in batch], [d for _, _, d in batch]
        if deferred and i == 0:
            spine.defer(spine.table_of(keys, rows, diffs))
            model_apply(model, batch)
            continue
        spine.insert_rows(keys, rows, diffs)
        model_apply(model, batch)
        check_runs(spine, deferred)
        assert spine.contents() == dict(model)
        found = spine.lookup([0, 1, 2, 3, 7])
        for key in (0, 1, 2, 3, 7):
            assert found[key] == {row: d for (k, row), d in model.items() if k == key}


@settings(max_examples=100, deadline=None)
@given(st.lists(values, max_size=40), st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.booleans()),
                                               max_size=3), st.integers(1, 6))
def test_candidates_hold_the_first_rows(rows: list, order: list, count: int) -> None:
    """A deferred run's candidates (one group, diffs 1) hold every row that is among its ``count`` first."""
    spine = Spine(TYPES, [SortKey(c, d, n) for c, d, n in order])
    spine.defer(spine.table_of([0] * len(rows), rows, [1] * len(rows)))
    candidates = spine.candidates(count)
    if candidates is None:  # the order needs more than one word
        return
    held = set(zip(*(candidates.column(n).to_pylist() for n in spine.names))) if spine.names else set()
    first = [row for (_k, row), d in sorted(spine.contents().items(), key=lambda item: (
        order_key([SortColumn(*s) for s in spine.order])(item[0][1]))) for _ in range(d)][:count]
    assert set(first) <= held


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4000), st.integers(1, 12), st.integers(1, 400), st.booleans(), st.booleans(),
       st.lists(st.tuples(st.integers(0, 3), values, st.integers(-2, 2)), max_size=20), st.integers(0, 2**32))
def test_deferred_columns_with_a_key(n: int, count: int, spread: int, descending: bool, ties_first: bool,
                                     later: list, seed: int) -> None:
    """A deferred run given as row columns only (``defer(table, key)``: ``k`` and ``diff`` added when needed),
    large enough for :meth:`Spine.candidates`' strided sample: its candidates hold every row among the ``count``
    first, and once sorted (by a later insert or a read) the spine holds what a ``Counter`` holds."""
    rng = np.random.default_rng(seed)
    first = rng.integers(-spread, spread, n)
    if ties_first and n:  # many copies of the extreme value: the edge falls among ties
        first[rng.integers(0, n, n // 3)] = spread if descending else -spread
    rows = [(int(a), s, None if b % 5 == 0 else bool(b % 2)) for a, s, b in
            zip(first, rng.choice(["", "a", "b", "é"], n).tolist(), rng.integers(0, 10, n).tolist())]
    spine = Spine(TYPES, [SortKey(0, descending, True), SortKey(1, False, True)])
    table = pa.table({f"c{i}": pa.array([r[i] for r in rows], type=t) for i, t in enumerate(TYPES)})
    spine.defer(table, 2)
    assert len(spine) == n
    candidates = spine.candidates(count)
    assert candidates is not None
    assert set(candidates.column("k").to_pylist()) <= {2} and set(candidates.column("diff").to_pylist()) <= {1}
    held = set(zip(*(candidates.column(name).to_pylist() for name in spine.names)))
    order = order_key([SortColumn(*s) for s in spine.order])
    assert set(sorted(rows, key=order)[:count]) <= held
    model: Counter = Counter()
    model_apply(model, [(2, row, 1) for row in rows])
    spine.insert_rows([k for k, _, _ in later], [r for _, r, _ in later], [d for _, _, d in later])
    model_apply(model, later)
    assert spine.contents() == dict(model)
    check_runs(spine, deferred=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(values, max_size=40), st.lists(values, max_size=10))
def test_interning_columns_agrees_with_python(rows: list, later: list) -> None:
    interner = KeyInterner()
    for row in later:  # keys already known keep their ids
        interner.intern(row)
    columns = [pa.array([r[i] for r in rows], type=t) for i, t in enumerate(TYPES)]
    ids = interner.intern_columns(columns, len(rows))
    assert [interner.keys[i] for i in ids.tolist()] == rows
    assert all(interner.find(row) == i for row, i in zip(rows, ids.tolist()))
    sub = interner.intern_columns(columns[1:2], len(rows))  # a one-column key
    assert [interner.keys[i] for i in sub.tolist()] == [(r[1],) for r in rows]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=10))
def test_gather(pairs: list) -> None:
    lo = np.array([a for a, _ in pairs], dtype=np.int64)
    hi = np.array([b for _, b in pairs], dtype=np.int64)
    assert gather(lo, hi).tolist() == [i for a, b in pairs for i in range(a, b)]


def code_columns(data: st.DataObject, n: int) -> list[tuple[np.ndarray, int]]:
    """Codes as ``Spine.sort_codes`` gives them: narrow and wide spans (wider together than a word beside a
    position), constants, few distinct values (ties), and raw 64-bit values (size ``2**63``)."""
    codes = []
    for _ in range(data.draw(st.integers(1, 5))):
        size = data.draw(st.sampled_from([1, 2, 3, 50, 2**20, 2**40, 2**61, 2**63]))
        pool = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1) if size == 2**63 else st.integers(0, size - 1),
                                  min_size=1, max_size=4))
        picks = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))
        codes.append((np.array([pool[i] for i in picks], dtype=np.int64), size))
    return codes


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 300))
def test_sorted_order_agrees_with_lexsort(data: st.DataObject, n: int) -> None:
    """The packed sort (position in the low bits, ties re-sorted by what did not fit, or words when nothing fits)
    orders rows as ``numpy.lexsort`` does, and marks exactly the rows that differ from the one before."""
    codes = code_columns(data, n)
    perm, new = sorted_order(codes, n)
    assert sorted(perm.tolist()) == list(range(n))
    keys = [tuple(int(code[i]) for code, _ in codes) for i in perm.tolist()]
    expected = np.lexsort([code for code, _ in codes][::-1]).tolist()
    assert keys == [tuple(int(code[i]) for code, _ in codes) for i in expected]
    assert new.tolist() == [True] + [a != b for a, b in zip(keys[1:], keys)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 40)), max_size=60),
       st.lists(st.one_of(st.none(), st.integers(-5, 40)), max_size=5),
       st.sampled_from([None, -(2**63), 2**63 - 1, 2**40]), st.sampled_from([pa.int8(), pa.int32(), pa.int64()]))
def test_interning_an_integer_column(values: list, known: list, far: int | None, typ: pa.DataType) -> None:
    """One integer column (the table of its span, or hashing when a far value makes the span wide): ids agree
    with Python's keys, known keys keep theirs, and an empty interner numbers the values in ascending order."""
    if far is not None and typ == pa.int64():
        values = values + [far]
    interner = KeyInterner()
    for value in known:
        interner.intern((value,))
    before = dict(interner.ids)
    ids = interner.intern_columns([pa.array(values, type=typ)], len(values))
    assert [interner.keys[i] for i in ids.tolist()] == [(v,) for v in values]
    assert all(interner.ids[key] == i for key, i in before.items())
    assert len(interner.keys) == len(interner.ids) == len(set(interner.keys))
    present = sorted({v for v in values if v is not None})
    if not known and len(present) > 1 and present[-1] - present[0] < 1000:
        assert [interner.ids[(v,)] for v in present] == sorted(interner.ids[(v,)] for v in present)
