"""Join-accumulate: ``Reduce(Join(A, B))`` with accumulable aggregates over A, grouped by B's columns, fused.

The star-schema aggregate — ``SELECT d.region, count(*), sum(f.amount) FROM fact f JOIN dim d ON f.dim_id = d.id
GROUP BY d.region`` — run as a delta join followed by a reduce costs, for every update of a dimension row, one
joined row per fact row with that key: the work of a dimension update grows with the fact table, and the join
holds an arrangement of every fact row.  When every aggregate is accumulable (``dataflow.accumulate``: count, sum,
avg over exact types) and reads only the aggregated input A, and the group key reads only the other input B
(or A's join columns, which equal B's), the join never has to be materialised, because a sum distributes over
the join:

* per join key *k*, A is kept only as a *partial* accumulator list ``P[k]`` (row count, counts, sums) — never
  its rows;
* B is arranged by join key (``k → {row: count}``), since its rows carry the group key — or, when B is an imported
  index keyed by the join key, read in place as of each round's time through a ``SharedInput``;
* the output groups ``G[g]`` accumulate ``P[k] × count`` for every B row of key *k* in group *g*.

For one timestamp the operator applies, in the order of the delta join ``ΔA ⋈ B_old + A_new ⋈ ΔB``:

1. each A update: its contribution *c* (``accumulate.contribution_source``) is added to ``P[k]``, and ``c ×
   count`` to ``G[g(b)]`` for each B row *b* of key *k* (B as it was before this time);
2. each B update ``(b, diff)``: ``P[k] × diff`` is added to ``G[g(b)]`` (A as it is after this time), then *b* is
   arranged;
3. touched groups emit like any reduce (retract the old row, insert the new one).

An A update costs one accumulator update per matching B row (one, for a dimension keyed by its primary key) and a
B update costs one accumulator update, whatever the size of A: per-batch work is proportional to the change,
and memory is proportional to the number of keys, not of A's rows.  Keys containing NULL never match (SQL
equality), so such A rows contribute nothing and such B rows are not arranged.  The result equals the
unfused plan exactly (integer and decimal arithmetic), which the property tests check.

**Hydration from columns.**  A's snapshot as Arrow columns is folded into ``P`` by Arrow's hash aggregation
(:meth:`JoinAccumulate.fold_columns`); B's (:meth:`JoinAccumulate.b_side`) becomes a lazily materialised
arrangement (``lazy_arranged.LazyArranged``: rows become tuples only for the keys later deltas touch), and in the first
round the groups are ``P ⋈ B`` computed by Acero and summed per group (:func:`_snapshot_groups`), no Python object
per B row.  The first round's row deltas then apply as usual on top (``ΔA ⋈ B_c + (P + ΔA) ⋈ ΔB``).  When B has
one row per key (a dimension keyed by its primary key), ``P ⋈ B`` is a lookup of P's keys among B's (``index_in``),
done once for the branches of a ``ROLLUP`` (:class:`BSnapshot`).  Past :data:`LAZY_PARTIAL_KEYS` keys — and for
the second and later branches of a ``ROLLUP`` — ``P`` itself stays the Arrow table (:class:`LazyPartial`): a key's
accumulator list is made the first time a delta touches it.

**Deltas as columns.**  A large A delta (a fact table's batch) is folded as columns where it can be
(``join_accumulate_columns``): the updates whose key's B rows are still only in B's snapshot table meet them
there, their contributions are summed per group by Arrow and added into ``P``'s columns in place, so neither
B's rows nor ``P``'s lists are materialised for them; the other updates take the row fold.
"""

from __future__ import annotations

import sys
from operator import itemgetter
from typing import Any, Callable, Sequence

from steadystate.dataflow.accumulate import (
    Accumulator,
    FoldsColumns,
    Sums,
    sums_from_columns,
    compile_functions,
    emit_source,
    width_of,
)
from steadystate.dataflow.accumulate_cohort import Cohort, fold_sources
from steadystate.dataflow.join_accumulate_columns import LazyPartial, fold_into_groups
from steadystate.dataflow.arrangement import state_size_bytes
from steadystate.dataflow.shared_input import SharedSide
from steadystate.dataflow.collection import Delta, ErrDelta, OkDelta
from steadystate.dataflow.columns import gc_paused, rows_of, unified
from steadystate.dataflow.lazy_arranged import LazyArranged, arranged
from steadystate.dataflow.operators import Operator


def _generate(a_key: Sequence[int], b_key: Sequence[int], group_columns: Sequence[int],
              accumulators: Sequence[Accumulator], is_global: bool) -> tuple[Callable[..., None], Callable[..., None],
                                                            Callable[..., None], Callable[..., OkDelta]]:
    # ``fold_a(items, partial, pget, bget, groups, touched)``: each A update into P and the groups of its B rows;
    # ``fold_b(items, partial, arranged, groups, touched)``: each B update's P into its group, then arranged (the
    # sources are ``accumulate_cohort``'s, for one grouping set)
    fold_a, fold_b = fold_sources(a_key, b_key, [group_columns], accumulators, one=True)
    # the same fold while B is empty (hydration: A's snapshot comes before B's in the first round): no lookups
    cut = fold_a.index("        matches = bget(key)")
    fold_a_alone = ["def fold_a_alone(items, partial, pget, bget, groups, touched):"] + fold_a[1:cut]
    source = fold_a + [""] + fold_a_alone + [""] + fold_b + [""] + emit_source(accumulators, is_global)
    functions = compile_functions(source, "join accumulate", accumulators)
    return functions["fold_a"], functions["fold_a_alone"], functions["fold_b"], functions["emit"]


class JoinAccumulate(FoldsColumns, Operator):
    """The fused ``Reduce(Join(A, B))`` (see the module docstring).

    ``a_key``/``b_key`` are the join columns of A's and B's rows (pairwise equal); ``group_columns`` index B's
    rows; ``accumulators`` read A's rows.  Output rows are ``group + aggregates``.
    """

    def __init__(self, a: int, b: int, a_key: Sequence[int], b_key: Sequence[int],
                 group_columns: Sequence[int], accumulators: Sequence[Accumulator],
                 shared_b: SharedSide | None = None, b_arity: int | None = None) -> None:
        """``shared_b``: B is an imported index keyed by ``b_key``, read in place as of each round's time
        (``dataflow.arrangement.SharedInput``) instead of being arranged here.  No ``group_columns``: the global
        group, one row from the first round on, over no rows too (``count`` 0, ``sum`` NULL).  ``b_arity``: B's
        width, when known (B may then take its snapshot as columns)."""
        if not a_key or len(a_key) != len(b_key):
            raise ValueError("join-accumulate needs the same number (at least one) of join columns on each side")
        self.inputs = (a, b)
        self.shared_b = shared_b
        self.partial: dict[tuple, list[Any]] = {}
        self.arranged: dict[tuple, dict[tuple, int]] = {}
        self.groups: dict[tuple, list[Any]] = {}
        self.a_key = tuple(a_key)
        self.b_key = tuple(b_key)
        self.group_columns = tuple(group_columns)
        self.b_arity = b_arity
        self._b_table: BSnapshot | None = None  # B's snapshot as columns, joined with ``partial`` in the first round
        self._partial_table: Any = None  # A's snapshot folded from columns, as Arrow, until the first round
        self._b_unique = False  # whether the keys of ``_b_table`` are all distinct and non-NULL
        self.accumulators = tuple(accumulators)
        self.is_global = not group_columns
        self.cohort: Cohort | None = None  # siblings sharing P and B (``accumulate_cohort``; set by the renderer)
        self._fold_a, self._fold_a_alone, self._fold_b, self._emit = _generate(a_key, b_key, group_columns,
                                                                               accumulators, self.is_global)

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        (a_ok, a_err), (b_ok, b_err) = deltas
        err: ErrDelta = dict(a_err)
        for error, diff in b_err.items():
            total = err.get(error, 0) + diff
            if total:
                err[error] = total
            else:
                err.pop(error, None)
        cohort = self.cohort
        if cohort is not None and cohort.ready:
            if cohort.is_follower(self):
                return cohort.take(self, time), err
            return self._run_cohort(time, a_ok, b_ok), err
        touched: set[tuple] = set()
        if self._b_table is not None:  # P ⋈ B of the snapshots taken as columns
            self._join_snapshots(touched)
        if a_ok:  # ΔA ⋈ B as it was before this time: B's rows still in its table met as columns, then the rest
            a_ok = self._fold_columns(a_ok, [self.group_columns], [self.groups], [touched])
        if a_ok:
            pget, bget = self._readers(time, a_ok)
            fold_a = self._fold_a if bget is not None else self._fold_a_alone
            fold_a(a_ok.items(), self.partial, pget, bget, self.groups, touched)
        if b_ok:  # A (now updated) ⋈ ΔB
            self._load_b(b_ok)
            arranged = None if self.shared_b is not None else self.arranged
            self._fold_b(b_ok.items(), self.partial, arranged, self.groups, touched)
        if self.is_global and first:
            if () not in self.groups:
                self.groups[()] = [0] * width_of(self.accumulators) + [None]
            touched.add(())
        ok: OkDelta = self._emit(self.groups, touched) if touched else {}
        if cohort is not None and first:
            cohort.first_round_done(self)
        return ok, err

    def _readers(self, time: int, a_ok: OkDelta) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
        """``P``'s and B's (as of ``time - 1``) lookups for folding ``a_ok``: the keys it reads loaded at once from
        lazily materialised states, which are then read by plain ``dict.get``; B's ``None`` when B is empty."""
        state, partial = self.arranged, self.partial
        bget = self._b_before(time)
        pget: Callable[..., Any] = partial.get
        keys = None
        if bget is not None and self.shared_b is not None and len(a_ok) > 1:  # read B's keys from its runs at once
            keys = self._a_keys(a_ok)
            self.shared_b.prefetch(keys)
        if type(state) is LazyArranged and bget is not None and self.shared_b is None:
            if state.pending and len(a_ok) > 1:  # B's keys this delta reads, at once
                keys = self._a_keys(a_ok)
                state.load_many(keys)
            if not state.pending or len(a_ok) > 1:  # every key this delta reads is a plain entry now
                bget = state.plain_get()
        if type(partial) is LazyPartial:
            if partial.pending and len(a_ok) > 1:  # likewise the partial sums of those keys
                partial.load_many(keys if keys is not None else self._a_keys(a_ok))
            if not partial.pending or len(a_ok) > 1:
                pget = partial.plain_get()
        return pget, bget

    def _run_cohort(self, time: int, a_ok: OkDelta, b_ok: OkDelta) -> OkDelta:
        """The leader's round of a ready cohort (``accumulate_cohort``): each update folded once into the shared
        ``P`` and B and into every member's groups; the followers' outputs left with the cohort."""
        cohort = self.cohort
        assert cohort is not None and cohort.fold_a is not None and cohort.fold_b is not None
        members = cohort.members
        groups = [member.groups for member in members]
        touched: list[set[tuple]] = [set() for _ in members]
        if a_ok:
            a_ok = self._fold_columns(a_ok, [member.group_columns for member in members], groups, touched)
        if a_ok:
            pget, bget = self._readers(time, a_ok)
            if bget is None:  # B empty: only P changes
                self._fold_a_alone(a_ok.items(), self.partial, pget, None, self.groups, touched[0])
            else:
                cohort.fold_a(a_ok.items(), self.partial, pget, bget, groups, touched)
        if b_ok:
            self._load_b(b_ok)
            cohort.fold_b(b_ok.items(), self.partial, self.arranged, groups, touched)
        outputs = [member._emit(member.groups, t) if t else {} for member, t in zip(members, touched)]
        cohort.put(time, outputs[1:])
        return outputs[0]

    def _fold_columns(self, a_ok: OkDelta, group_sets: list[tuple[int, ...]], groups: list[dict[tuple, list[Any]]],
                      touched: list[set[tuple]]) -> OkDelta:
        """The updates of ``a_ok`` whose key's B rows are still only in B's snapshot table folded into the groups
        as columns (``join_accumulate_columns``) and into ``P`` by the row fold that reads no B; the other updates
        returned, for the row fold (all of them when the columns do not allow it)."""
        if self.shared_b is not None or len(self.a_key) != 1:
            return a_ok
        partial = self.partial
        split = fold_into_groups(self.arranged, partial, self.a_key[0], a_ok, self.accumulators, group_sets, groups,
                                 touched)
        if split is None:
            return a_ok
        matched, rest = split
        if matched:  # P's keys not in its columns: by the row fold
            pget: Callable[..., Any] = partial.get
            if type(partial) is LazyPartial:
                if partial.pending:
                    (c,) = self.a_key
                    partial.load_many([(row[c],) for row, _diff in matched])
                pget = partial.plain_get()
            self._fold_a_alone(matched, partial, pget, None, self.groups, touched[0])
        return rest

    def _load_b(self, b_ok: OkDelta) -> None:
        """The keys a delta of B changes, materialised at once where still in columns: B's rows (one Arrow
        ``take``) and ``P``'s sums (one lookup), which ``fold_b`` then finds as plain entries."""
        state, partial = self.arranged, self.partial
        lazy_b = type(state) is LazyArranged and self.shared_b is None and state.pending
        lazy_p = type(partial) is LazyPartial and partial.pending
        if len(b_ok) < 2 or not (lazy_b or lazy_p):
            return
        key = self.b_key
        keys = [tuple(b[c] for c in key) for b in b_ok if all(b[c] is not None for c in key)]
        if lazy_b:
            assert isinstance(state, LazyArranged)
            state.load_many(keys)
        if lazy_p:
            assert isinstance(partial, LazyPartial)
            partial.load_many(keys)

    def _a_keys(self, a_ok: OkDelta) -> list[tuple]:
        """The join keys of A's rows in ``a_ok``."""
        if len(self.a_key) == 1:
            (c,) = self.a_key
            return [(row[c],) for row in a_ok]
        getter = itemgetter(*self.a_key)
        return [getter(row) for row in a_ok]

    def fold_columns(self, tables: list[Any]) -> dict[tuple, list[Any]] | None:
        """The partial sums A's snapshot, given as Arrow tables of insert-only rows (columns ``c0 … cN``), folds
        into with Arrow's hash aggregation (``accumulate.sums_from_columns``, no Python object per row), changing
        nothing.  Only before anything else was folded (B is still empty, so no group changes); ``None`` when the
        columns do not allow it."""
        if self.partial or self.groups or (self.arranged and self._b_table is None):
            return None
        import pyarrow as pa

        key_name = f"c{self.a_key[0]}"
        if len(self.a_key) == 1 and tables and key_name in tables[0].column_names \
                and pa.types.is_integer(tables[0].column(key_name).type):
            # kept as the table, lists made for the keys deltas touch (``LazyPartial``)
            only = sums_from_columns(tables, self.a_key, self.accumulators, skip_null_keys=True, table_only=True)
            table = getattr(only, "table", None)
            if only is not None and table is None:
                return only  # no rows
            if table is not None and table.num_rows < LAZY_PARTIAL_KEYS:
                return _eager(table)
            lazy = LazyPartial.of(table) if table is not None else None
            if lazy is not None:
                return lazy
        return sums_from_columns(tables, self.a_key, self.accumulators, skip_null_keys=True)

    def absorb_folded(self, sums: dict[tuple, list[Any]]) -> None:
        """Take what :meth:`fold_columns` returned as A's snapshot."""
        if type(sums) is LazyPartial:
            self.partial = sums
        else:
            self.partial.update(sums)
        self._partial_table = getattr(sums, "table", None)  # the same as Arrow, for the first round's P ⋈ B

    def fold_key(self) -> tuple:
        """What :meth:`fold_columns` depends on besides the tables: readers of one collection with equal keys
        (the branches of a ``ROLLUP``) fold it once (``render.columnar.FanOut``), each absorbing a copy."""
        return ("join accumulate", self.a_key, tuple((a.kind, a.column) for a in self.accumulators))

    @staticmethod
    def copy_folded(sums: dict[tuple, list[Any]]) -> dict[tuple, list[Any]]:
        if type(sums) is LazyPartial:
            return sums.unused_copy()
        table = getattr(sums, "table", None)
        lazy = LazyPartial.of(table) if table is not None and table.num_rows == len(sums) else None
        if lazy is not None:  # another branch of a ROLLUP: the same sums, kept as the table
            return lazy
        copied = Sums(zip(sums.keys(), map(list.copy, sums.values())))
        copied.table = getattr(sums, "table", None)
        return copied

    def b_side(self) -> "AccumulateB | None":
        """Input B as a taker of its snapshot's columns (``dataflow.operators.ColumnarInput``), or ``None`` when B
        is read in place or its width is unknown."""
        if self.shared_b is not None or self.b_arity is None:
            return None
        return AccumulateB(self)

    def fold_b_columns(self, tables: list[Any]) -> tuple[LazyArranged, BSnapshot] | None:
        """B's arrangement built from its snapshot's tables (lazily materialised) and the table, changing
        nothing; ``None`` when a column is not exact (``columns.unified``) or B holds something already."""
        if self.arranged or self.groups or self.b_arity is None:
            return None
        table = unified(tables, range(self.b_arity))
        if table is None:
            return None
        with gc_paused():
            state, _records, _distinct, _counted = arranged(table, self.b_key, self.b_arity)
        return state, BSnapshot(table)

    def absorb_b(self, folded: tuple[LazyArranged, BSnapshot]) -> None:
        self.arranged, self._b_table = folded
        # one key per row, none NULL (those are not arranged)
        self._b_unique = len(self.arranged) == folded[1].table.num_rows

    def _join_snapshots(self, touched: set[tuple]) -> None:
        """The groups of ``P ⋈ B`` for B's snapshot taken as columns (and ``P`` as it is before the first round:
        A's snapshot folded from columns, if it was); the row fold over B's rows when Acero cannot do it exactly."""
        snapshot, self._b_table = self._b_table, None
        partial_table, self._partial_table = self._partial_table, None
        assert snapshot is not None
        table = snapshot.table
        if not self.partial or table.num_rows == 0:
            return
        width = width_of(self.accumulators)
        with gc_paused():
            sums = _snapshot_groups(self.partial, snapshot, self.b_key, self.group_columns, width, partial_table,
                                    self._b_unique)
            if sums is None:
                self._fold_b(rows_of(table).items(), self.partial, None, self.groups, touched)
                return
            groups = self.groups
            for group, slots in sums.items():
                current = groups.get(group)
                if current is None:
                    groups[group] = slots + [None]
                else:
                    for i in range(width):
                        current[i] += slots[i]
            touched.update(sums)

    def _b_before(self, time: int) -> Callable[[tuple], dict[tuple, int] | None] | None:
        """Lookup of B's rows per key as of ``time - 1``; ``None`` when B is certainly empty then."""
        shared = self.shared_b
        if shared is None:
            return self.arranged.get if self.arranged else None
        if shared.empty_before(time):
            return None
        return shared.state_at(time - 1)

    def records(self) -> int:
        """Entries held: partial accumulators, arranged B rows and output groups (a cohort's follower: its groups
        only, the leader holds the rest)."""
        if self.cohort is not None and self.cohort.is_follower(self):
            return len(self.groups)
        b_rows = self.arranged.records() if isinstance(self.arranged, LazyArranged) \
            else sum(len(rows) for rows in self.arranged.values())
        return len(self.partial) + b_rows + len(self.groups)

    def size_bytes(self) -> int:
        """Approximate memory: B's arrangement by its sampled row size, accumulator lists by a sampled entry (a
        cohort's follower: its groups only)."""
        follower = self.cohort is not None and self.cohort.is_follower(self)
        size = 0 if follower else self.arranged.size_bytes() if isinstance(self.arranged, LazyArranged) \
            else state_size_bytes((self.arranged,))
        for table in ((self.groups,) if follower else (self.partial, self.groups)):
            if type(table) is LazyPartial:
                size += table.size_bytes()
            elif table:
                key, acc = next(iter(table.items()))
                entry = sys.getsizeof(key) + sum(sys.getsizeof(v) for v in key) + sys.getsizeof(acc) + 100
                size += entry * len(table)
        return size


class AccumulateB(FoldsColumns):
    """Input B of a :class:`JoinAccumulate` as a taker of its snapshot's Arrow columns."""

    def __init__(self, operator: JoinAccumulate) -> None:
        self.operator = operator

    def fold_columns(self, tables: list[Any]) -> tuple[LazyArranged, BSnapshot] | None:
        return self.operator.fold_b_columns(tables)

    def absorb_folded(self, folded: tuple[LazyArranged, BSnapshot]) -> None:
        self.operator.absorb_b(folded)

    def fold_key(self) -> tuple:
        """B arranged alike by several readers (a ``ROLLUP``'s branches) is built once (``render.columnar.FanOut``)."""
        return ("join accumulate B", self.operator.b_key, self.operator.b_arity)

    @staticmethod
    def copy_folded(folded: tuple[LazyArranged, BSnapshot]) -> tuple[LazyArranged, BSnapshot]:
        state, table = folded
        return state.unused_copy(), table


def _snapshot_groups(partial: dict[tuple, list[Any]], snapshot: BSnapshot, b_key: Sequence[int],
                     group_columns: Sequence[int], width: int, partial_table: Any = None, b_unique: bool = False
                     ) -> dict[tuple, list[int]] | None:
    """``Σ P[k] × count`` per group of B's rows (an exact table, ``columns.unified``): ``P`` as an Arrow table joined
    with B on the key (NULL keys never match) and its slots summed per group.  ``None`` when a slot is not an int64
    or the sums could leave int64 (the caller then folds B's rows).  ``b_unique``: every row of B has a distinct,
    non-NULL key (a dimension keyed by its primary key); the join is then a lookup of P's keys among B's
    (:func:`_looked_up`), several times cheaper than a hash join, which ``ROLLUP`` pays once per branch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if partial_table is not None and partial_table.num_rows == len(partial):  # P as it was folded
            left = partial_table
        else:
            keys = list(partial)
            slots = list(partial.values())
            columns = {f"k{i}": pa.array([key[i] for key in keys]) for i in range(len(b_key))}
            for j in range(width):
                columns[f"s{j}"] = pa.array([slot[j] for slot in slots], pa.int64())
            left = pa.table(columns)
        if b_unique and len(b_key) == 1:  # B keyed by a unique column: each P row meets at most one B row
            joined = _looked_up(left, snapshot, b_key[0], group_columns, width)
        else:
            b_table = snapshot.table
            right = b_table.rename_columns([f"b{i}" for i in range(b_table.num_columns)])
            joined = left.join(right, [f"k{i}" for i in range(len(b_key))], [f"b{c}" for c in b_key],
                               join_type="inner", coalesce_keys=False, use_threads=False)
    except (pa.ArrowException, OverflowError, TypeError):
        return None
    if joined.num_rows == 0:
        return {}
    for j in range(width):
        extremes = pc.min_max(joined.column(f"s{j}")).as_py()
        if max(abs(extremes["min"] or 0), abs(extremes["max"] or 0)) * joined.num_rows >= 2 ** 63:
            return None
    if not group_columns:
        return {(): [pc.sum(joined.column(f"s{j}")).as_py() or 0 for j in range(width)]}
    names = [f"b{c}" for c in group_columns]
    grouped = joined.group_by(list(dict.fromkeys(names)), use_threads=False).aggregate(
        [(f"s{j}", "sum") for j in range(width)])
    groups = zip(*(grouped.column(name).to_pylist() for name in names))
    sums = zip(*(grouped.column(f"s{j}_sum").to_pylist() for j in range(width)))
    return dict(zip(groups, map(list, sums)))


#: From this many join keys on, A's snapshot folded from columns is kept as a :class:`LazyPartial` (below it, the
#: accumulator lists are made at once: few, and a key a small delta materialises costs a little more than one made
#: at hydration; past it, a large delta folded as columns adds into P's columns and materialises no key,
#: ``join_accumulate_columns``)
LAZY_PARTIAL_KEYS = 4_096


def _eager(table: Any) -> Sums:
    """The accumulator lists per key of a sums table (``k0``, ``s0 …``), with the table."""
    sums = Sums(zip(zip(table.column("k0").to_pylist()),
                    map(list, zip(*(table.column(name).to_pylist() for name in table.column_names[1:])))))
    sums.table = table
    return sums


class BSnapshot:
    """B's snapshot taken as columns (an exact table), until the first round joins it with ``P``; the copies a
    ``ROLLUP``'s branches absorb (``render.columnar.FanOut``) share it, and with it the last lookup of P's keys in B
    (:func:`_looked_up`: the branches join the same P with the same B, one after the other in that round)."""

    __slots__ = ("table", "lookup")

    def __init__(self, table: Any) -> None:
        self.table = table
        self.lookup: tuple[Any, int, Any, Any] | None = None  # (P's table, B's key column, P's rows found, positions)


def _looked_up(left: Any, snapshot: BSnapshot, b_column: int, group_columns: Sequence[int], width: int) -> Any:
    """``P ⋈ B`` for B whose key column ``b_column`` is unique and has no NULL: the slots (``s0 …``) of P's rows whose
    key ``k0`` is among B's, beside the group columns (``b{c}``) of the B row it finds (``index_in``, one hash table
    of B's keys and one probe per P row, then ``take``): what the inner join keeps of each pair."""
    import pyarrow as pa
    import pyarrow.compute as pc

    b_table = snapshot.table
    memo = snapshot.lookup
    if memo is not None and memo[0] is left and memo[1] == b_column:
        left, positions = memo[2], memo[3]  # another branch of a ``ROLLUP`` looked the same keys up
    else:
        key_of = left
        positions = pc.index_in(left.column("k0"), value_set=b_table.column(f"c{b_column}"), skip_nulls=True)
        if positions.null_count:  # P's keys that B does not hold
            found = pc.is_valid(positions)
            left = left.filter(found)
            positions = positions.filter(found)
        snapshot.lookup = (key_of, b_column, left, positions)
    columns = {f"s{j}": left.column(f"s{j}") for j in range(width)}
    for c in dict.fromkeys(group_columns):
        columns[f"b{c}"] = b_table.column(f"c{c}").take(positions)
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(left.num_rows, pa.int64())})


__all__ = ["AccumulateB", "BSnapshot", "JoinAccumulate", "LazyPartial"]
