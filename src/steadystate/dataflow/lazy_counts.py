"""A distinct's or threshold's state ``row → count`` hydrated from columns, without a Python object per row.

``CountingOperator`` (``dataflow.operators``) keeps how often each row is in its input.  Hydrated from a snapshot's
columns, that state is the snapshot's distinct rows with their counts (``dataflow.columns.consolidated_sorted``):
for an ``EXCEPT`` of ids or a ``DISTINCT`` of one key column, hundreds of thousands of rows, each of which a dict
would hold as a tuple and an int.  When the rows are one integer column, :class:`LazyCounts` keeps them as they come
out of the consolidation — the keys sorted ascending in a NumPy int64 array, the counts beside them — and answers
the operations the operator uses as that dict would:

* ``get`` finds a row in the dict part first (rows changed since hydration), then by binary search among the keys
  (NumPy's ``searchsorted``); a row is a 1-tuple, and a value equal to an integer finds it (``lazy_arranged.int_key``,
  as a dict's equal hashing does);
* assignment puts the row in the dict part and marks its key dead in the arrays; deletion does either;
* ``len``, ``bool`` and ``in`` count both parts; a full read (iteration, ``items``, equality) first moves every
  live key into the dict (``materialize``).

So hydration builds nothing per row, and each later delta touches only its own rows.
"""

from __future__ import annotations

from typing import Any

from steadystate.dataflow.lazy_arranged import MaterializingDict, live_position


class LazyCounts(MaterializingDict):
    """``(key,) → count`` for int64 ``keys`` (strictly ascending) with their ``counts`` (NumPy arrays, non-zero),
    the rows changed since kept in the dict itself."""

    def __init__(self, keys: Any, counts: Any) -> None:
        import numpy as np

        super().__init__()
        self._keys = keys
        self._counts = counts
        self._alive = np.ones(len(keys), dtype=bool)
        self._live = len(keys)

    def _position(self, row: Any) -> int:
        return live_position(self._keys, self._alive, row) if self._live else -1

    def _kill(self, at: int) -> None:
        self._alive[at] = False
        self._live -= 1

    def get(self, row: Any, default: Any = None) -> Any:
        found = dict.get(self, row)
        if found is not None:
            return found
        at = self._position(row)
        return int(self._counts[at]) if at >= 0 else default

    def __setitem__(self, row: Any, count: Any) -> None:
        if self._live:
            at = self._position(row)
            if at >= 0:
                self._kill(at)
        dict.__setitem__(self, row, count)

    def __delitem__(self, row: Any) -> None:
        if dict.__contains__(self, row):
            dict.__delitem__(self, row)
            return
        at = self._position(row)
        if at < 0:
            raise KeyError(row)
        self._kill(at)

    def pop(self, row: Any, *default: Any) -> Any:
        found = self.get(row)
        if found is None:
            if default:
                return default[0]
            raise KeyError(row)
        del self[row]
        return found

    def __contains__(self, row: object) -> bool:
        return dict.__contains__(self, row) or self._position(row) >= 0

    def __len__(self) -> int:
        return dict.__len__(self) + self._live

    def __bool__(self) -> bool:
        return self._live > 0 or dict.__len__(self) > 0

    def copy(self) -> dict[Any, Any]:
        self.materialize()
        return dict(dict.items(self))

    def materialize(self) -> None:
        import numpy as np

        if not self._live:
            return
        live = np.flatnonzero(self._alive)
        # rows changed since hydration are in the dict already (their keys are dead): the live keys are not
        dict.update(self, zip([(key,) for key in self._keys[live].tolist()], self._counts[live].tolist()))
        self._alive[live] = False
        self._live = 0


def lazy_counts(table: Any, counts: Any) -> LazyCounts | None:
    """The state of a consolidated table (distinct rows, with their non-zero ``counts``: a NumPy int64 array) as a :class:`LazyCounts`, when its rows are one integer column
    without NULLs; ``None`` otherwise (the caller builds a dict)."""
    import numpy as np
    import pyarrow as pa

    if table.num_columns != 1:
        return None
    column = table.column(0)
    if not pa.types.is_signed_integer(column.type) or column.null_count:
        return None
    keys, counts = np.asarray(column.combine_chunks(), dtype=np.int64), np.asarray(counts, dtype=np.int64)
    if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):  # consolidated by hashing: not sorted
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
    return LazyCounts(keys, counts)


__all__ = ["LazyCounts", "lazy_counts"]
