"""A lazily built reduce's pending groups kept as NumPy arrays, and a delta folded into them in one vectorized pass.

``dataflow.reduce_columns.LazyGroups`` computes a snapshot's first output per group over its columns and builds a
group's states only when a delta needs them.  Folding a delta into a pending group's output row one group at a
time cost ~10 µs of Python per group (a batch of 1,000 changes touches ~1,000 groups).  When every aggregate's
argument is an int64 column (``min``, ``max``, ``count``), :class:`VectorFold` keeps what the outputs are made of
as arrays indexed by a group number — the rows per group, per ``min``/``max`` its extreme and whether the group has
a non-NULL value, per ``count`` its count — and folds a whole delta at once (:meth:`VectorFold.fold`):

* a row's group number is its key minus the least key (a *dense* integer key: ``DENSE_SLACK``), or its position
  among the snapshot's sorted keys (a dict lookup per row);
* per group, NumPy sums the diffs and takes the least (greatest) inserted value (``minimum.at``/``maximum.at``);
  a group whose rows would go negative, or where a delete reaches the minimum (maximum) — only the group's sorted
  values know the next one — is *not* folded: its rows go to the row path, its states built first, exactly as
  the one-group-at-a-time fold does;
* the folded groups' output rows are made (tuples only for the groups whose output changed) and their changes
  appended to a log (group numbers, diffs, values): what their states must add when they are built
  (:meth:`VectorFold.changes_of`).  The log drops the entries of groups no longer pending when it has grown to
  twice what it held after the last such pass.

A delta whose argument values are not all ints or NULLs (a type the arrays cannot hold) is not folded at all: the
caller builds its pending groups and takes the row path.
"""

from __future__ import annotations

from types import NoneType
from typing import Any, Callable, Sequence

from steadystate.dataflow.collection import OkDelta, Row, add_into

#: the log keeps entries of groups no longer pending until it holds at least this many
LOG_FLOOR = 65_536


class VectorFold:
    """The pending groups' output makings as arrays over group numbers ``0 … n-1`` (see the module docstring).

    ``kinds[i]``: aggregate i's ``COLUMN_RESULT`` (``"first"``, ``"last"``, ``"count"``); ``arguments[i]``: its
    input column (``None``: it counts rows); ``rows``: each group's input rows (0: no group); ``extremes[i]`` /
    ``present[i]``: a ``first``/``last`` aggregate's value and whether it has one (``None`` for others);
    ``counts[i]``: a ``count`` aggregate's count (``None`` for others and a count of rows).  Group g's key is
    ``(g + low,)`` when ``low`` is given (a dense key), else ``keys[g]``, found by ``position``."""

    def __init__(self, kinds: Sequence[str], arguments: Sequence[int | None], rows: Any,
                 extremes: Sequence[Any], present: Sequence[Any], counts: Sequence[Any],
                 low: int | None = None, keys: Sequence[tuple] | None = None,
                 position: Callable[[], dict[tuple, int]] | None = None) -> None:
        import numpy as np

        self.kinds = list(kinds)
        self.arguments = list(arguments)
        self.columns = list(dict.fromkeys(c for c in arguments if c is not None))
        self.rows = np.array(rows, dtype=np.int64)
        self.alive = self.rows > 0  # pending groups (built or emptied ones are not)
        self.extremes = [None if e is None else np.array(e, dtype=np.int64) for e in extremes]
        self.present = [None if p is None else np.array(p, dtype=bool) for p in present]
        self.counts = [None if c is None else np.array(c, dtype=np.int64) for c in counts]
        self.low = low
        self.keys = keys
        self._position = position  # the sorted keys' positions, computed when first needed (general keys)
        # changes folded into pending groups, applied to their states when built: per delta, (group numbers,
        # diffs, per argument column (values, valid))
        self._log: list[tuple[Any, Any, dict[int, tuple[Any, Any]]]] = []
        self._log_size = 0
        self._log_kept = 0  # entries kept by the last pass that dropped those of groups no longer pending

    def group_of(self, key: tuple) -> int:
        """The group number of ``key`` (a pending group's)."""
        if self.low is not None:
            return key[0] - self.low
        assert self._position is not None
        return self._position()[key]

    def key_of(self, g: int) -> tuple:
        if self.low is not None:
            return (g + self.low,)
        assert self.keys is not None
        return self.keys[g]

    def _numbers(self, rows: list[Row], key_of: Callable[[Row], tuple], key_columns: Sequence[int]) -> Any:
        """Each row's pending group number, or -1 (a key with no pending group)."""
        import numpy as np

        n = len(rows)
        if self.low is not None:
            (column,) = key_columns
            keys = [row[column] for row in rows]
            low, span = self.low, len(self.rows)
            g = None
            if set(map(type, keys)) == {int}:
                try:
                    g = np.array(keys, dtype=np.int64) - low
                except OverflowError:  # beyond int64: no pending group
                    pass
            if g is not None:  # (a wrapped difference never lands in [0, span): low + span - 1 fits in int64)
                g[(g < 0) | (g >= span)] = -1
            else:  # NULL (or out of range) keys: no pending group
                g = np.fromiter((k - low if type(k) is int and 0 <= k - low < span else -1 for k in keys),
                                dtype=np.int64, count=n)
        else:
            assert self._position is not None
            position = self._position()
            g = np.fromiter((position.get(key_of(row), -1) for row in rows), dtype=np.int64, count=n)
        known = g >= 0
        known[known] = self.alive[g[known]]
        g[~known] = -1
        return g

    def fold(self, rows: list[Row], diffs: list[int], key_of: Callable[[Row], tuple], key_columns: Sequence[int],
             pending: dict[tuple, Row], ok: OkDelta) -> tuple[list[int], list[tuple]] | None:
        """Fold the rows of pending groups among ``rows`` (with ``diffs``) into their output rows (``pending``),
        the output changes added to ``ok``.  Returns the positions of the rows not folded — of groups not pending,
        or whose extreme a delete reaches, or whose rows would go negative — and the keys of the latter (their
        states must be built before the row path takes their rows); ``None``, changing nothing, when an argument
        value is neither an int nor NULL."""
        import numpy as np

        g = self._numbers(rows, key_of, key_columns)
        taken = np.flatnonzero(g >= 0)
        if not len(taken):
            return list(range(len(rows))), []
        chosen = taken.tolist()
        values: dict[int, tuple[Any, Any]] = {}
        try:
            for column in self.columns:
                column_values = [rows[i][column] for i in chosen]
                types = set(map(type, column_values))
                if not types <= {int, NoneType}:
                    return None
                if NoneType in types:
                    valid = np.array([v is not None for v in column_values], dtype=bool)
                    numbers = np.array([0 if v is None else v for v in column_values], dtype=np.int64)
                else:
                    valid = np.ones(len(column_values), dtype=bool)
                    numbers = np.array(column_values, dtype=np.int64)
                values[column] = (numbers, valid)
        except OverflowError:  # beyond int64
            return None
        d = np.array([diffs[i] for i in chosen], dtype=np.int64)
        numbers_of, inverse = np.unique(g[taken], return_inverse=True)
        m = len(numbers_of)
        rows_now = self.rows[numbers_of].copy()
        np.add.at(rows_now, inverse, d)
        bad = rows_now < 0
        new_extremes: list[tuple[Any, Any] | None] = []
        new_counts: list[Any] = []
        deleted, inserted = d < 0, d > 0
        for kind, argument, extreme, present, count in zip(self.kinds, self.arguments, self.extremes, self.present,
                                                          self.counts):
            if kind == "count":
                new_extremes.append(None)
                if argument is None:
                    new_counts.append(None)
                    continue
                assert count is not None
                column_numbers, valid = values[argument]
                now = count[numbers_of].copy()
                np.add.at(now, inverse, np.where(valid, d, 0))
                new_counts.append(now)
                continue
            new_counts.append(None)
            assert extreme is not None and present is not None and argument is not None
            column_numbers, valid = values[argument]
            current, has = extreme[numbers_of], present[numbers_of]
            first = kind == "first"
            # a delete reaching the group's extreme (or a group without one: it deletes a value the group has)
            reach = deleted & valid & (~has[inverse] | ((column_numbers <= current[inverse]) if first
                                                         else (column_numbers >= current[inverse])))
            bad[inverse[reach]] = True
            adds = inserted & valid
            if adds.any():
                best = np.full(m, np.iinfo(np.int64).max if first else np.iinfo(np.int64).min, dtype=np.int64)
                (np.minimum if first else np.maximum).at(best, inverse[adds], column_numbers[adds])
                got = np.zeros(m, dtype=bool)
                got[inverse[adds]] = True
                better = np.minimum(current, best) if first else np.maximum(current, best)
                current = np.where(got, np.where(has, better, best), current)
                has = has | got
            new_extremes.append((current, has))
        good = ~bad
        folded_rows = good[inverse]
        self._fold_outputs(numbers_of, good, rows_now, new_extremes, new_counts, pending, ok)
        self._append_log(g[taken][folded_rows], d[folded_rows],
                         {c: (v[folded_rows], ok_[folded_rows]) for c, (v, ok_) in values.items()})
        left = np.ones(len(rows), dtype=bool)
        left[taken[folded_rows]] = False
        return np.flatnonzero(left).tolist(), [self.key_of(int(n)) for n in numbers_of[bad].tolist()]

    def _fold_outputs(self, numbers_of: Any, good: Any, rows_now: Any, new_extremes: list[tuple[Any, Any] | None],
                      new_counts: list[Any], pending: dict[tuple, Row], ok: OkDelta) -> None:
        """Write the folded groups' arrays, and the output rows (``pending``) of those whose output changed — found
        by comparing the arrays, so that only they cost Python work — their changes added to ``ok``."""
        numbers = numbers_of[good]
        rows_now = rows_now[good]
        changed = rows_now == 0
        results: list[Any] = []  # per aggregate: its new values (and whether each is present) over ``numbers``
        for i, (extreme, count) in enumerate(zip(new_extremes, new_counts)):
            if extreme is not None:
                current, has = extreme[0][good], extreme[1][good]
                old_extreme, old_present = self.extremes[i], self.present[i]
                assert old_extreme is not None and old_present is not None
                changed |= (has != old_present[numbers]) | (has & (current != old_extreme[numbers]))
                old_extreme[numbers] = current
                old_present[numbers] = has
                results.append((current, has))
            elif count is not None:
                now = count[good]
                old_count = self.counts[i]
                assert old_count is not None
                changed |= now != old_count[numbers]
                old_count[numbers] = now
                results.append((now, None))
            else:
                changed |= rows_now != self.rows[numbers]
                results.append((rows_now, None))
        self.rows[numbers] = rows_now
        emptied = rows_now == 0
        if emptied.any():
            self.alive[numbers[emptied]] = False
        if not changed.any():
            return
        columns = [values[changed].tolist() if has is None else
                   [v if h else None for v, h in zip(values[changed].tolist(), has[changed].tolist())]
                   for values, has in results]
        numbers = numbers[changed]
        if self.low is not None:
            keys = [(k,) for k in (numbers + self.low).tolist()]
        else:
            assert self.keys is not None
            keys = [self.keys[n] for n in numbers.tolist()]
        fresh = not ok  # old and new rows of distinct groups are distinct: set, not added, into an empty delta
        for key, left, made in zip(keys, emptied[changed].tolist(), zip(*columns) if columns else
                                   ((),) * len(keys)):
            old = pending[key]
            if left:
                del pending[key]
                if fresh:
                    ok[old] = -1
                else:
                    add_into(ok, old, -1)
                continue
            new = pending[key] = key + made
            if fresh:
                ok[old] = -1
                ok[new] = 1
            else:
                add_into(ok, old, -1)
                add_into(ok, new, 1)

    def _append_log(self, numbers: Any, diffs: Any, values: dict[int, tuple[Any, Any]]) -> None:
        if not len(numbers):
            return
        self._log.append((numbers, diffs, values))
        self._log_size += len(numbers)
        if self._log_size > max(LOG_FLOOR, 2 * self._log_kept):
            numbers, diffs, values = self._joined_log()
            keep = self.alive[numbers]
            self._log = [(numbers[keep], diffs[keep], {c: (v[keep], k[keep]) for c, (v, k) in values.items()})]
            self._log_size = self._log_kept = int(keep.sum())

    def _joined_log(self) -> tuple[Any, Any, dict[int, tuple[Any, Any]]]:
        """The log as one set of arrays (kept so: the next read does not join it again)."""
        import numpy as np

        if len(self._log) != 1:
            empty = np.zeros(0, dtype=np.int64)
            joined = (np.concatenate([e[0] for e in self._log]) if self._log else empty,
                      np.concatenate([e[1] for e in self._log]) if self._log else empty,
                      {c: (np.concatenate([e[2][c][0] for e in self._log]) if self._log else empty,
                           np.concatenate([e[2][c][1] for e in self._log]) if self._log else empty.astype(bool))
                       for c in self.columns})
            self._log = [joined]
        return self._log[0]

    def changes_of(self, numbers: Sequence[int]) -> dict[int, list[tuple[int, dict[int, Any]]]]:
        """The logged changes of groups ``numbers`` (in the order they came): per group number, ``(diff, per
        argument column its value or None)``; the groups are then no longer pending."""
        import numpy as np

        wanted = np.array(numbers, dtype=np.int64)
        self.alive[wanted] = False
        out: dict[int, list[tuple[int, dict[int, Any]]]] = {}
        if not self._log_size:
            return out
        log_numbers, diffs, values = self._joined_log()
        at = np.flatnonzero(np.isin(log_numbers, wanted))
        if not len(at):
            return out
        columns = {c: [v if k else None for v, k in zip(values[c][0][at].tolist(), values[c][1][at].tolist())]
                   for c in self.columns}
        for j, (n, diff) in enumerate(zip(log_numbers[at].tolist(), diffs[at].tolist())):
            out.setdefault(n, []).append((diff, {c: columns[c][j] for c in self.columns}))
        return out


__all__ = ["LOG_FLOOR", "VectorFold"]
