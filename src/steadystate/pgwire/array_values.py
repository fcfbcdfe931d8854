"""Array values on the wire: text and binary format of every array type, by its array oid (1007 for int4[], ...).

``pgwire/values.py`` keys its four tables by oid; :func:`register` (called once at its end) adds one entry per array
type of ``repr.types`` to each, built over the element type's own entry, so an element type with a text and binary
form gets its array's for free.

* text: ``array_out``/``array_in`` (``repr.arrays.format_array``/``parse_array``) with the element's output function
  (``{t,f}``, float4 digits, ``"2024-01-01 00:00:00"``) and input function;
* binary (``array_send``/``array_recv``): ``ndim``, a has-nulls flag, the element oid, then per dimension its
  length and lower bound (1), then each element as a length-prefixed value (-1 for NULL).  An empty array has
  ``ndim`` 0; more than one dimension, or a lower bound other than 1, is refused (0A000) on input.

``oid[]`` (1028) has parsers only: there is no oid type here, but asyncpg binds its type-introspection query's
parameter as ``oid[]`` (``sql/pg_compat.py`` answers that query), so its elements are read as integers.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from steadystate.errors import FeatureNotSupported
from steadystate.repr.arrays import Array, format_array, parse_array
from steadystate.repr.types import ARRAY_ELEMENT

_HEADER = struct.Struct("!iii")
_DIM = struct.Struct("!ii")
_LEN = struct.Struct("!i")


def _text_formatter(element: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: format_array(value, element)


def _text_parser(element: Callable[[str], Any] | None) -> Callable[[str], Any]:
    if element is None:
        return lambda text: parse_array(text, str)
    return lambda text: parse_array(text, element)


def _binary_encoder(element_oid: int, element: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    def encode(value: Any) -> bytes:
        if not value:
            return _HEADER.pack(0, 0, element_oid)
        has_nulls = any(v is None for v in value)
        parts = [_HEADER.pack(1, 1 if has_nulls else 0, element_oid), _DIM.pack(len(value), 1)]
        for v in value:
            if v is None:
                parts.append(_LEN.pack(-1))
            else:
                data = element(v)
                parts.append(_LEN.pack(len(data)))
                parts.append(data)
        return b"".join(parts)

    return encode


def _binary_parser(element: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Array:
        ndim, _flags, _oid = _HEADER.unpack_from(data, 0)
        if ndim == 0:
            return Array()
        if ndim != 1:
            raise FeatureNotSupported("multidimensional arrays are not supported")
        length, lower = _DIM.unpack_from(data, _HEADER.size)
        if lower != 1:
            raise FeatureNotSupported("arrays with a lower bound other than 1 are not supported")
        offset = _HEADER.size + _DIM.size
        out: list[Any] = []
        for _ in range(length):
            (size,) = _LEN.unpack_from(data, offset)
            offset += _LEN.size
            if size < 0:
                out.append(None)
                continue
            out.append(element(data[offset:offset + size]))
            offset += size
        if offset != len(data):
            raise ValueError("trailing bytes after the array")
        return Array(out)

    return decode


def register(text_formatters: dict[int, Callable[[Any], str]], binary_encoders: dict[int, Callable[[Any], bytes]],
             text_parsers: dict[int, Callable[[str], Any]], binary_parsers: dict[int, Callable[[bytes], Any]],
             format_any: Callable[[Any], str]) -> None:
    """Add every array type's entries to the four oid-keyed tables of ``pgwire/values.py``."""
    for array_type, element_type in ARRAY_ELEMENT.items():
        oid, element_oid = array_type.pg_oid, element_type.pg_oid
        text_formatters[oid] = _text_formatter(text_formatters.get(element_oid, format_any))
        text_parsers[oid] = _text_parser(text_parsers.get(element_oid))
        if element_oid in binary_encoders:
            binary_encoders[oid] = _binary_encoder(element_oid, binary_encoders[element_oid])
        if element_oid in binary_parsers:
            binary_parsers[oid] = _binary_parser(binary_parsers[element_oid])
    for oid, element_oid in _PARAMETER_ONLY_ARRAYS:
        text_parsers[oid] = _text_parser(text_parsers.get(element_oid))
        binary_parsers[oid] = _binary_parser(binary_parsers[element_oid])


#: array oids read as parameters only (no scalar type of ours has them): oid[] over oid
_PARAMETER_ONLY_ARRAYS = ((1028, 26),)


__all__ = ["register"]
