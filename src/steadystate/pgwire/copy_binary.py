"""PostgreSQL's binary COPY format for ``COPY t FROM STDIN (FORMAT BINARY)`` (asyncpg's ``copy_records_to_table``,
psycopg's binary ``copy.write_row``).

Sans-I/O, the same interface as pgwire/copy_format.py's parsers: :meth:`BinaryCopyParser.feed` takes CopyData
payloads as they come (a tuple may be split across payloads) and returns the rows completed so far;
:meth:`BinaryCopyParser.finish` checks nothing is left over.  The stream is the 11-byte signature
``PGCOPY\\n\\377\\r\\n\\0``, a 32-bit flags field (bit 16, OIDs included, is refused), a header extension of the
given length (skipped), then per tuple a 16-bit field count and per field a 32-bit length (-1: NULL) and that many
bytes in the type's binary send format, and a trailer of field count -1.

Each field is decoded with the binary parameter decoders (pgwire/values.py ``BINARY_PARSERS``, by the target
column's type oid) and handed on in its PostgreSQL text form (``text_formatter``), so the session turns it into a
datum exactly as it does a text-format COPY field: one path for type modifiers, NOT NULL and errors.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Sequence

from steadystate.errors import FeatureNotSupported, SteadyError

from .values import BINARY_PARSERS, text_formatter

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
BAD_COPY_FORMAT = "22P04"
Row = tuple[str | None, ...]


class BinaryCopyParser:
    def __init__(self, type_oids: Sequence[int]) -> None:
        self.columns = len(type_oids)
        self._decoders: list[Callable[[bytes], Any]] = []
        self._formatters: list[Callable[[Any], str]] = []
        for oid in type_oids:
            decoder = BINARY_PARSERS.get(oid)
            if decoder is None:
                raise FeatureNotSupported(f"COPY in binary format is not supported for columns of type oid {oid}",
                                          hint="use COPY ... (FORMAT TEXT) or (FORMAT CSV)")
            self._decoders.append(decoder)
            self._formatters.append(text_formatter(oid))
        self._oids = list(type_oids)
        self._buffer = b""
        self._header_done = False
        self.ended = False
        self.line_number = 0

    def _error(self, message: str) -> SteadyError:
        return SteadyError(message, sqlstate=BAD_COPY_FORMAT, detail=f"COPY line {self.line_number}")

    def feed(self, data: bytes) -> list[Row]:
        if self.ended:
            return []
        self._buffer += data
        rows: list[Row] = []
        pos = 0
        buffer = self._buffer
        if not self._header_done:
            if len(buffer) < 19:
                return rows
            if buffer[:11] != SIGNATURE:
                raise self._error("COPY file signature not recognized")
            flags, extension = struct.unpack_from("!iI", buffer, 11)
            if flags & (1 << 16):
                raise FeatureNotSupported("COPY in binary format with OIDs is not supported")
            if len(buffer) < 19 + extension:
                return rows
            pos = 19 + extension
            self._header_done = True
        while len(buffer) - pos >= 2:
            (count,) = struct.unpack_from("!h", buffer, pos)
            if count == -1:
                self.ended = True
                pos = len(buffer)
                break
            row = self._tuple(buffer, pos + 2, count)
            if row is None:
                break
            fields, pos = row
            rows.append(fields)
        self._buffer = buffer[pos:]
        return rows

    def _tuple(self, buffer: bytes, pos: int, count: int) -> tuple[Row, int] | None:
        """The tuple whose fields start at ``pos``, and where the next one starts; None if it is incomplete."""
        if count != self.columns:
            self.line_number += 1
            raise self._error(f"row field count is {count}, expected {self.columns}")
        fields: list[str | None] = []
        for column in range(count):
            if len(buffer) - pos < 4:
                return None
            (length,) = struct.unpack_from("!i", buffer, pos)
            pos += 4
            if length == -1:
                fields.append(None)
                continue
            if len(buffer) - pos < length:
                return None
            raw = buffer[pos:pos + length]
            pos += length
            try:
                value = self._decoders[column](raw)
            except (struct.error, ValueError, OverflowError, UnicodeDecodeError):
                raise self._error(f"incorrect binary data format in column {column + 1} "
                                  f"(type oid {self._oids[column]})") from None
            fields.append(self._formatters[column](value))
        self.line_number += 1
        return tuple(fields), pos

    def finish(self) -> list[Row]:
        if not self.ended and self._buffer:
            raise self._error("unexpected EOF in COPY data")
        return []


__all__ = ["BinaryCopyParser"]
