"""An index arrangement hydrated from columns (``Arrangement.apply_columns``: a snapshot's Arrow tables become a run
as they are, only the keys built as Python values) holds exactly what the row arrangement holds after the same
snapshot, and after any later changes: read whole (``peek``, ``table``, ``rows_dict``) and by key (``lookup``),
with repeated rows, NULLs in keys and values, text, booleans, a key of no columns, the producer's "no row repeats"
promise, and extra rows beside the columns, and numerics, timestamps, dates and times.  Where its preconditions fail (a float key column, a key that is not
columns, retractions, a cursor reading the log, an arrangement not empty) it declines and changes nothing; a cursor
that has not read yet reads the runs as its snapshot."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time as time_of_day, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from steadystate.dataflow.arrangement import Arrangement
from steadystate.dataflow.columnar_delta import ColumnarDelta
from steadystate.render.row_codec import ARROW_ROWS
from steadystate.repr import arrow_rows
from steadystate.repr.columnar import narrowed

ROWS = st.tuples(
    st.one_of(st.none(), st.integers(-5, 5), st.integers(2**40, 2**40 + 2)),
    st.one_of(st.none(), st.sampled_from(["a", "b", "é", ""])),
    st.one_of(st.none(), st.booleans()),
)
KEYS = st.sampled_from([(0,), (1,), (2,), (0, 1), (1, 0, 2), ()])
CHANGES = st.lists(st.lists(st.tuples(ROWS, st.sampled_from([1, 1, 2, -1, -1])), max_size=12), max_size=6)


def table_of(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table({"c0": pa.array([r[0] for r in rows], pa.int64()),
                     "c1": pa.array([r[1] for r in rows], pa.string()),
                     "c2": pa.array([r[2] for r in rows], pa.bool_())})


def contents(arrangement: Arrangement, keys: set[tuple[Any, ...]]) -> tuple[Any, ...]:
    peeked = Counter(arrangement.peek())
    table = arrangement.table()  # None: read the rows instead (the row arrangement, no rows, types not unifying)
    whole = peeked if table is None else Counter(
        row for batch in table.to_batches() for row in arrow_rows.batch_rows(batch))
    return (peeked, whole, arrangement.rows_dict(), {key: Counter(arrangement.lookup(key)) for key in keys})


def applicable(batch: list[tuple[tuple[Any, ...], int]], present: Counter[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    """``batch`` consolidated, each retraction only of what is ``present`` (which then takes the delta)."""
    delta: dict[tuple[Any, ...], int] = {}
    for row, diff in batch:
        if diff < 0 and present[row] + delta.get(row, 0) <= 0:
            continue  # a retraction only of what is there
        delta[row] = delta.get(row, 0) + diff
    delta = {row: diff for row, diff in delta.items() if diff}
    present.update(delta)
    return delta


@settings(max_examples=100, deadline=None)
@given(st.lists(ROWS, max_size=40), st.lists(ROWS, max_size=3), KEYS, st.integers(1, 8), st.booleans(), CHANGES)
def test_an_arrangement_hydrated_from_columns_holds_what_the_row_path_holds(
        snapshot: list[tuple[Any, ...]], extra: list[tuple[Any, ...]], key: tuple[int, ...], recent_min: int,
        distinct: bool, changes: list[list[tuple[tuple[Any, ...], int]]]) -> None:
    def key_fn(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[c] for c in key)

    if distinct:  # the producer's promise holds only for distinct rows
        snapshot = list(dict.fromkeys(snapshot))
    half = len(snapshot) // 2
    # integers as narrow as storage keeps them (each batch its own width)
    parts = [(table.set_column(0, "c0", narrowed(table.column(0).combine_chunks())), 1)
             for table in (table_of(snapshot[:half]), table_of(snapshot[half:]))]
    extra_rows = Counter(extra)
    expected = Counter(snapshot) + extra_rows

    rows_path = Arrangement(key_fn)
    rows_path.apply(1, (dict(expected), {}))
    columnar = Arrangement(key_fn, codec=ARROW_ROWS, recent_min=recent_min, key_columns=key)
    took = columnar.apply_columns(1, ColumnarDelta(parts, 3, dict(extra_rows), distinct=distinct), {})
    assert took == (len(snapshot) >= recent_min)
    if not took:
        columnar.apply(1, (dict(expected), {}))
    assert columnar.bulk is not None
    for run in columnar.bulk.runs:  # in the peek's types (``repr.arrow_rows``): wide integers, large text
        assert all(t in (pa.int64(), pa.large_string(), pa.bool_(), pa.null()) for t in run.table.schema.types)
    keys = {key_fn(row) for row in snapshot + extra} | {(99,) * len(key)}
    assert contents(columnar, keys) == contents(rows_path, keys)

    present = Counter(expected)
    for time, batch in enumerate(changes, 2):
        delta = applicable(batch, present)
        rows_path.apply(time, (dict(delta), {}))
        columnar.apply(time, (dict(delta), {}))
        keys |= {key_fn(row) for row in delta}
        assert contents(columnar, keys) == contents(rows_path, keys)


def test_apply_columns_declines_what_it_cannot_take_exactly() -> None:
    rows = [(i, "x", i % 2 == 0) for i in range(20)]
    table = table_of(rows)

    def fresh(**kwargs: Any) -> Arrangement:
        return Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=4, **kwargs)

    floats = pa.table({"c0": pa.array([float(i) for i in range(20)]), "c1": table["c1"], "c2": table["c2"]})
    assert not fresh(key_columns=(0,)).apply_columns(1, ColumnarDelta([(floats, 1)], 3), {})
    assert not fresh().apply_columns(1, ColumnarDelta([(table, 1)], 3), {})  # the key is not columns
    assert not fresh(key_columns=(0,)).apply_columns(1, ColumnarDelta([(table, -1)], 3), {})
    read = fresh(key_columns=(0,))
    read.cursor().read_all()  # a cursor reading the log (its snapshot read): the columns would not reach it
    assert not read.apply_columns(1, ColumnarDelta([(table, 1)], 3), {})
    waiting = fresh(key_columns=(0,))
    cursor = waiting.cursor()  # not read yet: its first read is a snapshot of the runs
    assert waiting.apply_columns(1, ColumnarDelta([(table, 1)], 3), {})
    ok, _errors = cursor.read_all()
    assert Counter({row: diff for row, _time, diff in ok}) == Counter(rows)
    waiting.apply(2, ({(100, "y", True): 1}, {}))
    assert cursor.read_all()[0] == [((100, "y", True), 2, 1)]  # then the log
    loaded = fresh(key_columns=(0,))
    loaded.apply(1, ({(100, "y", True): 1}, {}))
    assert not loaded.apply_columns(2, ColumnarDelta([(table, 1)], 3), {})
    assert loaded.rows_dict() == {(100, "y", True): 1}  # declining changed nothing
    small = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=64, key_columns=(0,))
    assert not small.apply_columns(1, ColumnarDelta([(table, 1)], 3), {})
    taken = fresh(key_columns=(0,))
    assert taken.apply_columns(1, ColumnarDelta([(table, 1)], 3), {})
    assert taken.bulk is not None and taken.bulk.records == 20 and not taken.recent


TYPED = st.tuples(
    st.one_of(st.none(), st.integers(-300, 300).map(lambda n: Decimal(n).scaleb(-2))),
    st.one_of(st.none(), st.sampled_from([datetime(2024, 1, 1), datetime(2024, 1, 1, 0, 0, 0, 1), datetime(1, 1, 1)])),
    st.one_of(st.none(), st.sampled_from([date(2024, 2, 29), date(9999, 12, 31)])),
    st.one_of(st.none(), st.sampled_from([time_of_day(0, 0), time_of_day(23, 59, 59, 999999)])),
    st.one_of(st.none(), st.sampled_from([datetime(2024, 1, 1, tzinfo=timezone.utc),
                                          datetime(1, 1, 1, 0, 0, 0, 5, tzinfo=timezone.utc)])),
)
TYPED_ARROW = [pa.decimal128(38, 2), pa.timestamp("us"), pa.date32(), pa.time64("us"), pa.timestamp("us", tz="UTC")]


def typed_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table({f"c{i}": pa.array([r[i] for r in rows], kind) for i, kind in enumerate(TYPED_ARROW)})


@settings(max_examples=60, deadline=None)
@given(st.lists(TYPED, max_size=40), st.sampled_from([(0,), (1,), (2, 3), (4,), (0, 1, 2, 3, 4)]),
       st.lists(st.lists(st.tuples(TYPED, st.sampled_from([1, 1, -1])), max_size=8), max_size=4))
def test_numerics_and_times_are_arranged_from_columns_as_the_rows_are(
        snapshot: list[tuple[Any, ...]], key: tuple[int, ...], changes: list[list[tuple[tuple[Any, ...], int]]]) -> None:
    """Numerics of one scale, timestamps, dates and times (``columns.arrangeable``), repeated rows and NULLs: the run
    built from the columns holds what the rows hold, by key and whole, and through later changes."""
    def key_fn(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[c] for c in key)

    half = len(snapshot) // 2
    rows_path = Arrangement(key_fn)
    rows_path.apply(1, (dict(Counter(snapshot)), {}))
    columnar = Arrangement(key_fn, codec=ARROW_ROWS, recent_min=1, key_columns=key)
    parts = [(typed_table(snapshot[:half]), 1), (typed_table(snapshot[half:]), 1)]
    assert columnar.apply_columns(1, ColumnarDelta(parts, 5), {}) == bool(snapshot)
    if not snapshot:
        return
    keys = {key_fn(row) for row in snapshot}
    assert contents(columnar, keys) == contents(rows_path, keys)
    present = Counter(snapshot)
    for at, batch in enumerate(changes, 2):
        delta = applicable(batch, present)
        for arrangement in (rows_path, columnar):
            arrangement.apply(at, (dict(delta), {}))
        keys |= {key_fn(row) for row in delta}
        assert contents(columnar, keys) == contents(rows_path, keys)


def test_numerics_of_two_scales_are_not_arranged_from_columns() -> None:
    """``1.50`` and ``1.5`` are equal numerics with different text: parts of two scales do not unify (declined)."""
    two = pa.table({"c0": pa.array([Decimal("1.50")] * 3, pa.decimal128(38, 2))})
    one = pa.table({"c0": pa.array([Decimal("1.5")] * 3, pa.decimal128(38, 1))})
    arrangement = Arrangement(lambda row: (row[0],), codec=ARROW_ROWS, recent_min=1, key_columns=(0,))
    assert not arrangement.apply_columns(1, ColumnarDelta([(two, 1), (one, 1)], 1), {})
    assert arrangement.apply_columns(1, ColumnarDelta([(two, 1), (two, 1)], 1), {})
    assert arrangement.rows_dict() == {(Decimal("1.50"),): 6}
    assert str(next(iter(arrangement.rows_dict()))[0]) == "1.50"


FLOATS = st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.5, float("inf"), -2.25, 1e300]))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20), FLOATS, st.sampled_from(["a", "b"])), max_size=40),
       st.lists(st.lists(st.tuples(st.tuples(st.integers(-20, 20), FLOATS, st.just("a")), st.sampled_from([1, -1])),
                         max_size=8), max_size=4))
def test_float_values_beside_keys_that_do_not_repeat_are_arranged_from_columns(
        snapshot: list[tuple[Any, ...]], changes: list[list[tuple[tuple[Any, ...], int]]]) -> None:
    """A float64 column outside the key (a score, a price) is taken as it is when no key repeats, since no rows are
    grouped then; with a repeated key the rows would have to be grouped, which Arrow does unlike Python for -0.0,
    so the arrangement declines. Either way it holds what the rows hold, -0.0 keeping its sign."""
    def key_fn(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return (row[0],)

    table = pa.table({"c0": pa.array([r[0] for r in snapshot], pa.int16()),  # narrow, as storage keeps it
                      "c1": pa.array([r[1] for r in snapshot], pa.float64()),
                      "c2": pa.array([r[2] for r in snapshot], pa.string())})
    rows_path = Arrangement(key_fn)
    rows_path.apply(1, (dict(Counter(snapshot)), {}))
    columnar = Arrangement(key_fn, codec=ARROW_ROWS, recent_min=1, key_columns=(0,))
    took = columnar.apply_columns(1, ColumnarDelta([(table, 1)], 3), {})
    unique = len({row[0] for row in snapshot}) == len(snapshot)
    assert took == (bool(snapshot) and unique)
    if not took:
        columnar.apply(1, (dict(Counter(snapshot)), {}))
    keys = {key_fn(row) for row in snapshot} | {(99,)}
    present = Counter(snapshot)
    for at, batch in enumerate([[], *changes], 2):
        delta = applicable(batch, present)
        for arrangement in (rows_path, columnar):
            arrangement.apply(at, (dict(delta), {}))
        keys |= {key_fn(row) for row in delta}
        assert contents(columnar, keys) == contents(rows_path, keys)
        assert sorted(map(repr, columnar.peek())) == sorted(map(repr, rows_path.peek()))  # -0.0 is not 0.0
