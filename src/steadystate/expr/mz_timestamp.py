"""Materialize's ``mz_timestamp``: a logical time, milliseconds since the Unix epoch (an unsigned 64-bit integer).

The datum is a Python ``int``.  Dataflow timestamps are the same milliseconds (``storage.oracle``), so ``mz_now()``
compared to a value of this type is a comparison with dataflow time.  :func:`to_mz_timestamp` is the cast from
every type Materialize casts to ``mz_timestamp``: ``timestamptz`` (its instant), ``timestamp`` and ``date`` (read
as UTC), integers and ``numeric`` (milliseconds; a fractional numeric is truncated), ``text`` (an integer).
A value outside ``[0, 2^64)`` is ``mz_timestamp out of range`` (22008), as in Materialize.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any

from steadystate import errors

MAX = 2**64 - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MS = _dt.timedelta(milliseconds=1)


def _out_of_range() -> errors.SteadyError:
    return errors.SteadyError("mz_timestamp out of range", sqlstate="22008")


def _checked(ms: int) -> int:
    if not 0 <= ms <= MAX:
        raise _out_of_range()
    return ms


def from_datetime(value: _dt.datetime) -> int:
    """A timestamp's milliseconds since the epoch, rounded down (a naive timestamp is read as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return _checked((value - _EPOCH) // _MS)


def to_mz_timestamp(value: Any) -> int:
    """The cast to ``mz_timestamp`` (non-NULL ``value``); see the module docstring."""
    if isinstance(value, bool):
        raise errors.DatatypeMismatch("cannot cast type boolean to mz_timestamp")
    if isinstance(value, int):
        return _checked(value)
    if isinstance(value, _dt.datetime):
        return from_datetime(value)
    if isinstance(value, _dt.date):
        return from_datetime(_dt.datetime(value.year, value.month, value.day))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise _out_of_range()
        return _checked(int(value))
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise errors.InvalidTextRepresentation(f'invalid input syntax for type mz_timestamp: "{value}"')
        return _checked(int(text))
    raise errors.DatatypeMismatch(f"cannot cast type {type(value).__name__} to mz_timestamp")


def to_timestamptz(ms: int) -> _dt.datetime:
    """The instant of an ``mz_timestamp`` (for ``mz_now()::timestamptz``)."""
    return _EPOCH + _dt.timedelta(milliseconds=ms)


def mz_now_unbound(values: list[Any]) -> Any:
    """``mz_now()`` reached the evaluator outside a query or a temporal filter (a DEFAULT, an UPDATE): refused."""
    raise errors.FeatureNotSupported("calls to mz_now in write statements are not supported")
