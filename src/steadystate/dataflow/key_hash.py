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
#: Rows hashed at a time: a block's temporaries stay small enough for the heap to reuse them (a hydration's peak)
BLOCK_ROWS = 1 << 16


def _integer_hashes(values: np.ndarray) -> np.ndarray:
    """``hash(int(v))`` for every value of an int64 array, as uint64 lanes."""
    negative = values < 0
    magnitude = values.astype(np.uint64)  # two's complement: -v's magnitude is (-v - 1) + 1, which fits in uint64
    magnitude[negative] = (-(values[negative] + 1)).astype(np.uint64) + np.uint64(1)
    hashed = (magnitude % _MODULUS).astype(np.int64)
    np.negative(hashed, out=hashed, where=negative)
    hashed[hashed == -1] = -2
    return hashed.view(np.uint64)


def _hashable(kind: pa.DataType) -> bool:
    return (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and kind != pa.uint64()


def _lanes(column: Any) -> np.ndarray:
    """One column's (an Array's or ChunkedArray's) Python hashes as uint64 lanes."""
    kind = column.type
    if pa.types.is_boolean(kind):
        column = column.cast(pa.int8())  # hash(True) == 1, hash(False) == 0
    values = column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    lanes = _integer_hashes(values)
    if column.null_count:
        lanes[column.is_null().to_numpy(zero_copy_only=False)] = np.int64(hash(None)).view(np.uint64)
    return lanes


def tuple_hashes(columns: Sequence[Any]) -> np.ndarray | None:
    """``hash(tuple(row))`` for every row of ``columns`` (Arrow arrays or chunked arrays of one length, at least one),
    as int64; ``None`` when a column's type is not an integer or boolean type.  Computed in blocks of
    :data:`BLOCK_ROWS` rows: the temporaries are a block's, not the columns'."""
    if not all(_hashable(column.type) for column in columns):
        return None
    rows = len(columns[0])
    out = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, BLOCK_ROWS):
        out[start:start + BLOCK_ROWS] = _block_hashes([column.slice(start, BLOCK_ROWS) for column in columns])
    return out


def _block_hashes(columns: list[Any]) -> np.ndarray:
    lanes = [_lanes(column) for column in columns]
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
