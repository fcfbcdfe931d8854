"""Python's ``hash`` of key tuples of integers, computed over whole columns by NumPy.

An arrangement's runs (``dataflow.arrangement_runs``) are ordered by the hash of each row's key tuple, the hash the
row path computes with ``hash(key)``.  Hydrating an index from columns used to build every key as a Python tuple
only to hash it — for a 3M-row table a list of 3M Python ints, ~120 MB at the hydration's peak and the slowest part of
it.  :func:`tuple_hashes` computes the same values from the columns: CPython's integer hash (the value modulo the
Mersenne prime ``2**61 - 1``, negated for negative values, ``-1`` taken as ``-2``), ``hash(None)`` for NULL, then its
tuple hash (xxHash's lane mixing: add ``lane * XXPRIME_2``, rotate left 31, multiply by ``XXPRIME_1``; add the length
xor a constant; ``-1`` taken as ``1546275796``), all in wrapping unsigned 64-bit arithmetic.  The algorithm is
CPython's since 3.8 on 64-bit platforms; ``tests/dataflow/test_key_hash.py`` checks it against ``hash`` itself.

Only integer and boolean columns are taken (``None`` otherwise: the caller hashes Python values): other types' Python
hashes (strings' are salted per process, decimals', datetimes') are not reproduced.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pyarrow as pa

_MODULUS = np.uint64((1 << 61) - 1)
_PRIME_1 = np.uint64(11400714785074694791)
_PRIME_2 = np.uint64(14029467366897019727)
_PRIME_5 = np.uint64(2870177450012600261)
_LENGTH_SALT = 3527539
_TUPLE_OF_MINUS_ONE = 1546275796


def _integer_hashes(values: np.ndarray) -> np.ndarray:
    """``hash(int(v))`` for every value of an int64 array, as uint64 lanes."""
    negative = values < 0
    magnitude = values.astype(np.uint64)  # two's complement: -v's magnitude is (-v - 1) + 1, which fits in uint64
    magnitude[negative] = (-(values[negative] + 1)).astype(np.uint64) + np.uint64(1)
    hashed = (magnitude % _MODULUS).astype(np.int64)
    np.negative(hashed, out=hashed, where=negative)
    hashed[hashed == -1] = -2
    return hashed.view(np.uint64)


def _lanes(column: Any) -> np.ndarray | None:
    """One column's Python hashes as uint64 lanes, or ``None`` for a type whose hash is not reproduced."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) or kind == pa.uint64():
        return None
    if pa.types.is_boolean(kind):
        column = column.cast(pa.int8())  # hash(True) == 1, hash(False) == 0
    values = column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    lanes = _integer_hashes(values)
    if column.null_count:
        lanes[column.is_null().to_numpy(zero_copy_only=False)] = np.int64(hash(None)).view(np.uint64)
    return lanes


def tuple_hashes(columns: Sequence[Any]) -> np.ndarray | None:
    """``hash(tuple(row))`` for every row of ``columns`` (Arrow arrays of one length, at least one), as int64; ``None``
    when a column's type is not an integer or boolean type."""
    lanes = []
    for column in columns:
        lane = _lanes(column)
        if lane is None:
            return None
        lanes.append(lane)
    with np.errstate(over="ignore"):
        acc = np.full(len(lanes[0]), _PRIME_5, dtype=np.uint64)
        for lane in lanes:
            acc += lane * _PRIME_2
            acc = (acc << np.uint64(31)) | (acc >> np.uint64(33))
            acc *= _PRIME_1
        acc += np.uint64(len(lanes) ^ (int(_PRIME_5) ^ _LENGTH_SALT))
    hashes = acc.view(np.int64)
    hashes[hashes == -1] = _TUPLE_OF_MINUS_ONE
    return hashes


__all__ = ["tuple_hashes"]
