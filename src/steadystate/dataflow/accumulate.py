"""Accumulating reduce: a lean per-key reduce for aggregates that are sums over the input (counts, sums, means).

An aggregate is *accumulable* when a group's value is a sum over its rows of ``value × diff``: a retraction is
just a negative addition and no row or value multiset has to be kept (unlike a minimum or maximum).  The engine
knows seven such accumulations (:class:`Accumulation`): counting rows, counting non-NULL values, summing, summing
into a ``Decimal``, the mean as a ``Decimal``, and a numeric sum and mean that keep the display scales of their live
values (:class:`DisplayScales`: PostgreSQL shows a sum at its inputs' largest scale, which a running total that
has subtracted values does not know).  A group is one flat list of accumulators, ``[rows, slot₁, slot₂, …,
output]`` — a count takes one slot, a sum or mean two (total, non-NULL count), a numeric one three (and its
scales) — instead of one state object per aggregate.

:class:`AccumulatingReduce` folds a delta with a function generated (``exec``) for the operator's exact aggregate
list, with keys and arguments read as ``row[i]``: that avoids a Python call per aggregate per row, which is most
of the general reduce's cost.  The generator is shared with :mod:`steadystate.dataflow.join_accumulate`, which
accumulates over a join without materialising it: :func:`contribution_source` is the code that computes a row's
*contribution* ``c0 … cn`` (c0 is the row count), :func:`emit_source` the code that turns touched groups into
output updates.

Emission is the general reduce's: for each touched key, the previous output row is retracted and the new one
inserted (nothing when equal); a group whose row count drops to zero disappears, except for a global aggregate,
which always has exactly one row (counts 0, other aggregates NULL over empty input).  Output rows of different
keys are distinct (they start with the key), so the output delta is built without consolidation.

Which SQL aggregates are accumulable, and as which accumulation, is decided above the engine
(``expr.aggregates.accumulator_kind``) and translated by the renderer (``render.translate``); the results equal
the general reduce's exactly: a sum into a ``Decimal`` of integers is ``Decimal(total)``, a mean is
the accumulator's own division of the total by the count, an aggregate over no non-NULL value is NULL.  Floats are never accumulated
here (their sums depend on the order of additions).
"""

from __future__ import annotations

import decimal
import enum
from typing import Any, Callable, Sequence

from steadystate.dataflow import guard
from steadystate.dataflow.columns import exact_column, joined
from steadystate.dataflow.collection import Delta, ErrDelta, OkDelta
from steadystate.dataflow.operators import Operator


class Accumulation(enum.Enum):
    """What one accumulator computes over its group's rows (:data:`SLOTS`: how many slots it occupies)."""

    ROWS = "rows"  # the number of rows (no column)
    NON_NULL = "non_null"  # the number of non-NULL values of the column
    SUM = "sum"  # the sum of the non-NULL values, NULL when there is none
    SUM_DECIMAL = "sum_decimal"  # the same sum as a Decimal
    MEAN_DECIMAL = "mean_decimal"  # the accumulator's mean(sum, count) of the non-NULL values, NULL when there is none
    SUM_SCALED = "sum_scaled"  # a sum of Decimals shown at the largest display scale among the live values
    MEAN_SCALED = "mean_scaled"  # the mean of that sum

    @property
    def counts(self) -> bool:
        return self in (Accumulation.ROWS, Accumulation.NON_NULL)


# slots each accumulation occupies in a group's accumulator list
SLOTS = {kind: 1 if kind.counts else 3 if kind in (Accumulation.SUM_SCALED, Accumulation.MEAN_SCALED) else 2
         for kind in Accumulation}
_MEANS = (Accumulation.MEAN_DECIMAL, Accumulation.MEAN_SCALED)


def _as_decimal(total: Any) -> Any:
    return decimal.Decimal(total) if isinstance(total, int) else total


class DisplayScales:
    """How many live values of a Decimal sum have each display scale (digits after the point): a sum's own
    exponent keeps what was subtracted (``3.00 - 1.50`` is ``1.50``), while the sum of the live values is shown at
    their largest scale (PostgreSQL's rule for ``+``).  Added like a number: ``0 + s``, ``s + s``, ``s * k``."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = counts if counts is not None else {}

    def __add__(self, other: Any) -> "DisplayScales":
        counts = dict(self.counts)
        if isinstance(other, DisplayScales):
            for scale, n in other.counts.items():
                counts[scale] = counts.get(scale, 0) + n
        return DisplayScales(counts)

    __radd__ = __add__

    def __iadd__(self, other: Any) -> "DisplayScales":
        if other.__class__ is DisplayScales:
            counts = self.counts
            for scale, n in other.counts.items():
                counts[scale] = counts.get(scale, 0) + n
        return self

    def __bool__(self) -> bool:
        return any(self.counts.values())

    def __mul__(self, factor: int) -> "DisplayScales":
        return DisplayScales({scale: n * factor for scale, n in self.counts.items()})

    __rmul__ = __mul__

    def largest(self) -> int | None:
        live = [scale for scale, n in self.counts.items() if n > 0]
        return max(live) if live else None

    def __eq__(self, other: object) -> bool:
        mine = {k: v for k, v in self.counts.items() if v}
        if isinstance(other, DisplayScales):
            return mine == {k: v for k, v in other.counts.items() if v}
        return other == 0 and not mine

    __hash__ = None  # type: ignore[assignment]


_SCALES_SEEN: dict[tuple[int, int], Any] = {}


def display_scales(value: Any, diff: int) -> Any:
    """A Decimal value's display scale (digits after the point) counted ``diff`` times; 0 for a NaN or an
    infinity, which have none.  Read from its text, faster than ``as_tuple`` when that has no exponent; the result
    is shared between calls (adding it to a sum copies it, never changes it)."""
    text = str(value)
    if "E" not in text and text[-1].isdigit():
        dot = text.find(".")
        scale = len(text) - dot - 1 if dot >= 0 else 0
    else:
        exponent = value.as_tuple()[2]
        if not isinstance(exponent, int):
            return 0
        scale = max(0, -exponent)
    found = _SCALES_SEEN.get((scale, diff))
    if found is None:
        found = DisplayScales({scale: diff})
        if len(_SCALES_SEEN) < 4096:
            _SCALES_SEEN[(scale, diff)] = found
    return found


_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def rescale(total: Any, scales: Any) -> Any:
    """A Decimal sum shown at the largest display scale of its live values (``total`` unchanged when there is
    none, or when it is not finite)."""
    if not isinstance(scales, DisplayScales) or not isinstance(total, decimal.Decimal) or not total.is_finite():
        return total
    scale = scales.largest()
    if scale is None:
        return total
    return total.quantize(decimal.Decimal(1).scaleb(-scale), context=_EXACT)


class Accumulator:
    """One aggregate: ``kind`` over input column ``column`` (``None`` for :attr:`Accumulation.ROWS`).

    A mean is given its division (``mean(total, count)``) by the caller: the result scale of a decimal quotient is
    the SQL layer's rule (``repr.numeric.mean``), not the engine's."""

    __slots__ = ("kind", "column", "mean")

    def __init__(self, kind: Accumulation, column: int | None,
                 mean: Callable[[Any, int], Any] | None = None) -> None:
        if not isinstance(kind, Accumulation):
            raise ValueError(f"not an accumulation: {kind!r}")
        if (kind in _MEANS) != (mean is not None):
            raise ValueError("a mean accumulator, and only a mean, takes its division")
        self.kind = kind
        self.column = column
        self.mean = mean

    def __repr__(self) -> str:
        return f"Accumulator({self.kind}, {self.column!r})"


def width_of(accumulators: Sequence[Accumulator]) -> int:
    """Slots of a group (row count included); the output row is kept at this index."""
    return 1 + sum(SLOTS[a.kind] for a in accumulators)


def key_source(columns: Sequence[int], row: str = "row") -> str:
    return "(" + "".join(f"{row}[{c}], " for c in columns) + ")" if columns else "()"


def contribution_source(accumulators: Sequence[Accumulator], indent: str) -> list[str]:
    """Lines computing ``c0 … c{width-1}``: the contribution of ``row`` with multiplicity ``diff``."""
    lines = [f"{indent}c0 = diff"]
    slot = 1
    for acc in accumulators:
        if acc.kind is Accumulation.ROWS:
            lines.append(f"{indent}c{slot} = diff")
            slot += 1
            continue
        lines.append(f"{indent}v = row[{acc.column}]")
        if acc.kind is Accumulation.NON_NULL:
            lines.append(f"{indent}c{slot} = 0 if v is None else diff")
            slot += 1
            continue
        scaled = SLOTS[acc.kind] == 3
        lines += [
            f"{indent}if v is None:",
            f"{indent}    c{slot} = c{slot + 1} = 0" + (f"; c{slot + 2} = 0" if scaled else ""),
            f"{indent}else:",
            f"{indent}    c{slot} = v if diff == 1 else v * diff",
            f"{indent}    c{slot + 1} = diff",
            *([f"{indent}    c{slot + 2} = _scales(v, diff)"] if scaled else []),
        ]
        slot += SLOTS[acc.kind]
    return lines


def add_source(target: str, width: int, indent: str, factor: str | None = None) -> list[str]:
    """Lines adding the contribution (times ``factor``) into the accumulator list ``target``."""
    scale = "" if factor is None else f" * {factor}"
    return [f"{indent}{target}[{i}] += c{i}{scale}" for i in range(width)]


def _result_source(accumulators: Sequence[Accumulator]) -> str:
    results: list[str] = []
    slot = 1
    for number, acc in enumerate(accumulators):
        if acc.kind.counts:
            results.append(f"acc[{slot}]")
            slot += 1
            continue
        total, count = f"acc[{slot}]", f"acc[{slot + 1}]"
        if SLOTS[acc.kind] == 3:
            total = f"_rescale({total}, acc[{slot + 2}])"
        if acc.kind in (Accumulation.SUM, Accumulation.SUM_SCALED):
            results.append(f"({total} if {count} else None)")
        elif acc.kind is Accumulation.SUM_DECIMAL:
            results.append(f"(_as_decimal({total}) if {count} else None)")
        else:
            results.append(f"(_mean{number}({total}, {count}) if {count} else None)")
        slot += SLOTS[acc.kind]
    return "(" + "".join(f"{r}, " for r in results) + ")"


def emit_source(accumulators: Sequence[Accumulator], is_global: bool) -> list[str]:
    """``def emit(groups, touched)``: the output updates of the touched groups (see the module docstring)."""
    width = width_of(accumulators)
    empty_rule = (
        ["        if rows < 0:", "            new = None"]
        if is_global else
        ["        if rows == 0:", "            new = None", "            del groups[key]",
         "        elif rows < 0:", "            new = None"]
    )
    return [
        "def emit(groups, touched):",
        "    out = {}",
        "    for key in touched:",
        "        acc = groups.get(key)",
        "        if acc is None:",
        "            continue",
        f"        old = acc[{width}]",
        "        rows = acc[0]",
        *empty_rule,
        "        else:",
        f"            new = key + {_result_source(accumulators)}",
        "        if old == new:",
        "            continue",
        "        if old is not None:",
        "            out[old] = -1",
        "        if new is not None:",
        "            out[new] = 1",
        f"        acc[{width}] = new",
        "    return out",
    ]


def compile_functions(source: list[str], name: str, accumulators: Sequence[Accumulator]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"_as_decimal": _as_decimal, "_scales": display_scales, "_rescale": rescale}
    namespace.update({f"_mean{number}": acc.mean for number, acc in enumerate(accumulators) if acc.mean is not None})
    exec(compile("\n".join(source) + "\n", f"<{name}>", "exec"), namespace)
    return namespace


def _generate(key_columns: Sequence[int], accumulators: Sequence[Accumulator], is_global: bool
              ) -> tuple[Callable[..., None], Callable[..., OkDelta]]:
    width = width_of(accumulators)
    fold = [
        "def fold(items, groups, touched):",
        "    get = groups.get",
        "    add = touched.add",
        "    for row, diff in items:",
        f"        key = {key_source(key_columns)}",
        *contribution_source(accumulators, "        "),
        "        acc = get(key)",
        "        if acc is None:",
        f"            acc = groups[key] = {[0] * width + [None]!r}",
        *add_source("acc", width, "        "),
        "        add(key)",
    ]
    functions = compile_functions(fold + [""] + emit_source(accumulators, is_global), "accumulating reduce",
                                  accumulators)
    return functions["fold"], functions["emit"]


_THREADED_GROUP_BY_ROWS = 2_000_000


def sums_from_columns(tables: list[Any], key_columns: Sequence[int], accumulators: Sequence[Accumulator], *,
                      skip_null_keys: bool, table_only: bool = False) -> dict[tuple, list[Any]] | None:
    """Accumulator lists ``[rows, slot₁, …]`` per key of insert-only rows given as Arrow tables (columns
    ``c0 … cN``), by Arrow's hash aggregation: what folding the rows one by one would leave, without a Python object
    per row.  Keys with a NULL are dropped when ``skip_null_keys`` (a join key), kept otherwise (a GROUP BY key).
    ``None`` when the columns do not allow it exactly: a summed column that is not an integer column, or sums that
    could leave int64.  Batches may store a column at different integer widths (``repr.columnar``); they are
    unified to the widest.  ``table_only``: no Python entry per key, only the same as an Arrow table (an empty
    :class:`Sums` with its ``table``; ``None`` when the keys are not exact columns) for a reader that keeps it so."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException:  # batches whose column types do not unify: fold their rows instead
        return None
    if table.num_rows == 0:
        return {}
    summed = sorted({f"c{a.column}" for a in accumulators if not a.kind.counts})
    counted = sorted({f"c{a.column}" for a in accumulators if a.kind is not Accumulation.ROWS})
    for name in summed:
        column = table.column(name)
        if column.type == pa.null():  # every value NULL: an int64 column of NULLs sums to nothing
            column = column.cast(pa.int64())
            table = table.set_column(table.schema.get_field_index(name), name, column)
        if not pa.types.is_integer(column.type):
            return None
        extremes = pc.min_max(column).as_py()
        if max(abs(extremes["min"] or 0), abs(extremes["max"] or 0)) * table.num_rows >= 2 ** 63:
            return None
    keys = [f"c{c}" for c in key_columns]
    grouped = _dense_grouped(table, keys, counted, summed, skip_null_keys)
    if grouped is None:
        aggregations: list[tuple] = [([], "count_all")]
        aggregations += [(name, "count") for name in counted] + [(name, "sum") for name in summed]
        # Acero's threads pay only for millions of rows; below that they add wake-up stalls of up to 20 ms
        grouped = table.group_by(keys, use_threads=table.num_rows >= _THREADED_GROUP_BY_ROWS).aggregate(aggregations)
    if skip_null_keys:
        for name in keys:
            grouped = grouped.filter(pc.is_valid(grouped.column(name)))

    def output(name: str) -> Any:
        found = grouped.column(name)
        return pc.fill_null(found, 0) if name.endswith("_sum") else found

    names = ["count_all"]
    for a in accumulators:
        if a.kind is Accumulation.ROWS:
            names.append("count_all")
        elif a.kind is Accumulation.NON_NULL:
            names.append(f"c{a.column}_count")
        else:
            names += [f"c{a.column}_sum", f"c{a.column}_count"]
            if SLOTS[a.kind] == 3:  # a numeric sum's scales (only reached by a column of NULLs: no scales)
                names.append("")
    zeros = pa.array(np.zeros(grouped.num_rows, np.int64))
    slot_columns = [output(name) if name else zeros for name in names]
    if table_only:
        widened = [exact_column(grouped.column(k)) for k in keys]
        if any(column is None for column in widened):
            return None
        only = Sums()
        only.table = pa.table({f"k{i}": column for i, column in enumerate(widened)}
                              | {f"s{j}": c.cast(pa.int64()) for j, c in enumerate(slot_columns)})
        return only
    lists = {name: output(name).to_pylist() if name else zeros.to_pylist() for name in dict.fromkeys(names)}
    sums = Sums(zip(zip(*(output(k).to_pylist() for k in keys)), map(list, zip(*(lists[n] for n in names)))))
    widened = [exact_column(grouped.column(k)) for k in keys]  # integers as int64, as ``columns.unified`` has them
    if all(column is not None for column in widened):
        sums.table = pa.table({f"k{i}": column for i, column in enumerate(widened)}
                              | {f"s{j}": c.cast(pa.int64()) for j, c in enumerate(slot_columns)})
    return sums


_FLOAT_EXACT = 2 ** 53  # sums of integers below this are exact in float64 (``numpy.bincount``'s weights)


def _dense_grouped(table: Any, keys: list[str], counted: list[str], summed: list[str],
                   skip_null_keys: bool) -> Any | None:
    """What Arrow's ``group_by(keys).aggregate(count_all, counts, sums)`` gives (the same column names; groups in key
    order), by ``numpy.bincount`` when the key is one integer column of non-negative values not much larger than the
    number of rows (a dimension's ids) — several times faster than hashing.  ``None`` when that does not hold, or a
    sum could be inexact in float64 (every value's magnitude times the rows below 2⁵³), or NULL keys would have to
    be kept; the caller then groups by hashing."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(keys) != 1:
        return None
    key = table.column(keys[0])
    if not pa.types.is_integer(key.type) or table.num_rows == 0:
        return None
    if key.null_count:
        if not skip_null_keys:
            return None
        table = table.filter(pc.is_valid(key))
        key = table.column(keys[0])
        if table.num_rows == 0:
            return None
    n = table.num_rows
    extremes = pc.min_max(key).as_py()
    if extremes["min"] < 0 or extremes["max"] >= 8 * n + 65_536:
        return None
    for name in summed:
        bounds = pc.min_max(table.column(name)).as_py()
        if max(abs(bounds["min"] or 0), abs(bounds["max"] or 0)) * n >= _FLOAT_EXACT:
            return None
    size = extremes["max"] + 1
    nullable = [name for name in counted if table.column(name).null_count]
    parts = {keys[0]: key if key.type == pa.int64() else key.cast(pa.int64())}
    for i, name in enumerate(summed):
        column = table.column(name)
        parts[f"v{i}"] = pc.fill_null(column, 0) if column.null_count else column
    parts |= {f"n{i}": pc.is_valid(table.column(name)) for i, name in enumerate(nullable)}
    counts = np.zeros(size, np.int64)
    sums = [np.zeros(size, np.float64) for _ in summed]
    valid = [np.zeros(size, np.float64) for _ in nullable]
    # in slices of 256k rows: the buffers are reused (one 10M-row float copy costs more in page faults than the
    # counting); the float sums stay exact below 2⁵³, which the bound above guarantees for every partial sum
    for batch in pa.table(parts).to_batches(max_chunksize=1 << 18):
        codes = batch.column(0).to_numpy()
        counts += np.bincount(codes, minlength=size)
        for i, total in enumerate(sums):
            total += np.bincount(codes, weights=batch.column(f"v{i}").to_numpy(), minlength=size)
        for i, total in enumerate(valid):
            total += np.bincount(codes, weights=batch.column(f"n{i}").to_numpy(zero_copy_only=False), minlength=size)
    present = np.flatnonzero(counts)
    columns = {keys[0]: pa.array(present).cast(key.type), "count_all": pa.array(counts[present])}
    for name in counted:
        columns[f"{name}_count"] = pa.array(valid[nullable.index(name)][present].astype(np.int64)) \
            if name in nullable else columns["count_all"]
    for name, total in zip(summed, sums):
        columns[f"{name}_sum"] = pa.array(total[present].astype(np.int64))
    return pa.table(columns)


class Sums(dict):  # type: ignore[type-arg]
    """Accumulator lists per key (:func:`sums_from_columns`), with the same as an Arrow table (``k0 …`` the key,
    ``s0 …`` the slots) for operators that join it with columns (``join_accumulate``)."""

    table: Any = None


def prepare_columns() -> None:
    """Run one tiny fold through :func:`sums_from_columns`, one tiny ``Table.group_by`` (whose first call imports
    ``pyarrow.acero``: 15–30 ms, paid otherwise by the first hydration that groups a table: a top-k's heads,
    ``dataflow.topk_spine``) and one tiny join (``columns.joined``: Acero's hash join, whose Python module and
    ``pyarrow.dataset`` are imported on first use), so that Arrow's lazy set-up (its modules, kernels and Acero's
    thread pool: about 100 ms) is done before the first hydration from columns needs it."""
    import pyarrow as pa

    tables = [pa.table({"c0": pa.array([1, None], pa.int8()), "c1": pa.array([2, 3], pa.int16())})]
    everything = [Accumulator(Accumulation.ROWS, None), Accumulator(Accumulation.NON_NULL, 1),
                  Accumulator(Accumulation.SUM, 1)]
    sums_from_columns(tables * 2, [0], everything, skip_null_keys=True)
    tables[0].group_by(["c0"], use_threads=False).aggregate([("c1", "sum")])
    small = pa.table({"c0": pa.array([1, 2]), "c1": pa.array(["a", "b"])})
    joined(small, small, [0], [0])


class FoldsColumns:
    """A base for takers of columns (``dataflow.operators.ColumnarInput``, the protocol): an operator (or one input
    of one: a join side) that can take an insert-only snapshot of its input as Arrow tables (columns ``c0 … cN``)
    instead of rows.  :meth:`fold_columns` computes the state the snapshot builds without changing anything (so a
    caller can read every input first), or ``None`` when the plan or the columns do not allow it (the snapshot then
    goes in as rows); :meth:`absorb_folded` takes what it computed.  What is folded is the operator's own business
    (sums, a reduce's groups, a join side's arrangement); :meth:`absorb_columns` does both."""

    def fold_columns(self, tables: list[Any]) -> Any | None:
        raise NotImplementedError

    def absorb_folded(self, folded: Any) -> None:
        raise NotImplementedError

    def absorb_columns(self, tables: list[Any]) -> bool:
        """Fold and take the tables; ``False``, having changed nothing, when :meth:`fold_columns` cannot."""
        folded = self.fold_columns(tables)
        if folded is None:
            return False
        self.absorb_folded(folded)
        return True


class AccumulatingReduce(FoldsColumns, Operator):
    """Reduce by ``key_columns`` with accumulable aggregates only (see the module docstring)."""

    def __init__(self, input: int, key_columns: Sequence[int], accumulators: Sequence[Accumulator],
                 is_global: bool) -> None:
        self.inputs = (input,)
        self.key_columns = tuple(key_columns)
        self.accumulators = tuple(accumulators)
        self.is_global = is_global
        self.groups: dict[tuple, list[Any]] = {}
        self._absorbed: set[tuple] = set()  # groups folded from columns, emitted in the next round
        self._fold, self._emit = _generate(self.key_columns, self.accumulators, is_global)

    def fold_columns(self, tables: list[Any]) -> dict[tuple, list[Any]] | None:
        """The accumulators the tables' rows fold into (``sums_from_columns``), changing nothing; ``None`` when the
        columns do not allow it or this reduce already folded something (a global reduce's one group is the key
        ``()``; with no rows nothing is folded and the first round gives its empty result)."""
        if self.groups:
            return None
        if not self.is_global:
            return sums_from_columns(tables, self.key_columns, self.accumulators, skip_null_keys=False)
        # the one group of a global reduce: every row keyed by a column of zeros past the input's columns
        import pyarrow as pa

        width = max((t.num_columns for t in tables), default=0)
        keyed = [t.append_column(f"c{width}", pa.nulls(t.num_rows, pa.int8()).fill_null(0)) for t in tables]
        sums = sums_from_columns(keyed, (width,), self.accumulators, skip_null_keys=False)
        return None if sums is None else {(): acc for acc in sums.values()}

    def absorb_folded(self, sums: dict[tuple, list[Any]]) -> None:
        """Take what :meth:`fold_columns` returned as the input's snapshot."""
        for key, acc in sums.items():
            self.groups[key] = acc + [None]
        self._absorbed = set(sums)

    def run(self, time: int, deltas: list[Delta], first: bool) -> Delta:
        ok_in, err_in = deltas[0]
        err: ErrDelta = dict(err_in)
        touched: set[tuple] = self._absorbed
        self._absorbed = set()
        if ok_in:
            self._fold(guard.checked(ok_in.items()), self.groups, touched)
        if self.is_global and first:
            if () not in self.groups:
                self.groups[()] = [0] * width_of(self.accumulators) + [None]
            touched.add(())
        ok: OkDelta = self._emit(self.groups, touched) if touched else {}
        return ok, err


__all__ = ["Accumulation", "Accumulator", "AccumulatingReduce", "SLOTS"]
