"""Framing of the PostgreSQL v3 protocol: splitting client bytes into messages, encoding server messages.

Sans-I/O.  :class:`FrameReader` takes bytes as they arrive (in any chunking) and yields complete
frames.  Before startup completes, frames are *startup packets* (``int32 length`` + body, no type
byte); afterwards they are typed messages (``byte type`` + ``int32 length`` + body).  Sizes are capped
(10 KiB for startup packets, 64 MiB otherwise); a bad length raises
:class:`~steadystate.errors.ProtocolViolation`, after which the connection must be closed.

The ``encode_*`` functions build server messages as ``bytes``; DataRow encoding is the hot path.
:class:`ClientGone` and :class:`FatalProtocolError` end a connection; :func:`internal_error` is how an unexpected
exception is reported to the client.
"""

from __future__ import annotations

import struct
from typing import Iterable, Sequence

from steadystate.errors import ErrorFields, ProtocolViolation

from steadystate.adapter.client import Field

MAX_STARTUP_PACKET = 10 * 1024
MAX_MESSAGE = 64 * 1024 * 1024

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")
_TYPE_LEN = struct.Struct("!ci")
_FIELD_TAIL = struct.Struct("!ihihih")
_NULL_LEN = _I32.pack(-1)


class FrameReader:
    """Buffers incoming bytes and cuts them into frames."""

    def __init__(
        self,
        *,
        max_message: int = MAX_MESSAGE,
        max_startup: int = MAX_STARTUP_PACKET,
        valid_types: frozenset[bytes] | None = None,
    ) -> None:
        self.valid_types = valid_types
        self._buffer = bytearray()
        self._position = 0
        self.max_message = max_message
        self.max_startup = max_startup

    def feed(self, data: bytes) -> None:
        if self._position and self._position > len(self._buffer) // 2:
            del self._buffer[: self._position]
            self._position = 0
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer) - self._position

    def next_startup_packet(self) -> bytes | None:
        """The body of the next startup packet (after its length), or None if incomplete."""
        available = self.buffered
        if available < 4:
            return None
        (length,) = _I32.unpack_from(self._buffer, self._position)
        if length < 8 or length > self.max_startup:
            raise ProtocolViolation(f"invalid length of startup packet: {length}")
        if available < length:
            return None
        start = self._position + 4
        self._position += length
        return bytes(self._buffer[start : self._position])

    def next_message(self) -> tuple[bytes, bytes] | None:
        """The next ``(type byte, body)``, or None if incomplete."""
        available = self.buffered
        if available and self.valid_types is not None:
            kind = self._buffer[self._position : self._position + 1]
            if bytes(kind) not in self.valid_types:
                raise ProtocolViolation(f"invalid frontend message type {kind[0]}")
        if available < 5:
            return None
        kind, length = _TYPE_LEN.unpack_from(self._buffer, self._position)
        if length < 4:
            raise ProtocolViolation(f"invalid message length: {length}")
        if length > self.max_message:
            raise ProtocolViolation(
                f"message of type {kind.decode('latin-1')!r} too large: {length} bytes",
                hint=f"messages are limited to {self.max_message} bytes",
            )
        if available < length + 1:
            return None
        start = self._position + 5
        self._position += length + 1
        return kind, bytes(self._buffer[start : self._position])


def message(kind: bytes, body: bytes = b"") -> bytes:
    return _TYPE_LEN.pack(kind, len(body) + 4) + body


def cstring(text: str) -> bytes:
    return text.encode() + b"\x00"


AUTHENTICATION_OK = message(b"R", _I32.pack(0))
AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 10, 11, 12
#: the startup parameter with which the supervisor's proxy resumes an authenticated session on a new coordinator
RESUME_PARAMETER = "steadystate_resume"
#: the startup parameter with which the proxy asks the coordinator to announce runs of result messages
#: (DataRow, CopyData) by a :data:`BULK_MESSAGE` frame, so it forwards them without reading each header
BULK_PARAMETER = "steadystate_bulk"
#: ``~`` (no PostgreSQL message type), length 8, then the byte count of the whole messages that follow it
BULK_MESSAGE = b"~"
_BULK_FRAME = struct.Struct("!cii")


def bulk_header(size: int) -> bytes:
    """The frame announcing that the next ``size`` bytes are whole messages the proxy passes through."""
    return _BULK_FRAME.pack(BULK_MESSAGE, 8, size)


def encode_authentication(code: int, data: bytes = b"") -> bytes:
    """AuthenticationSASL (10, ``data`` = the mechanism list), SASLContinue (11), SASLFinal (12)."""
    return message(b"R", _I32.pack(code) + data)
PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
PORTAL_SUSPENDED = message(b"s")
EMPTY_QUERY_RESPONSE = message(b"I")
COPY_DONE = message(b"c")
SSL_REFUSED = b"N"
SSL_ACCEPTED = b"S"


def encode_parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstring(name) + cstring(value))


def encode_backend_key_data(process_id: int, secret_key: int) -> bytes:
    return message(b"K", struct.pack("!ii", _to_i32(process_id), _to_i32(secret_key)))


def encode_negotiate_protocol_version(newest_minor: int, unrecognized: Sequence[str]) -> bytes:
    body = struct.pack("!ii", newest_minor, len(unrecognized)) + b"".join(cstring(o) for o in unrecognized)
    return message(b"v", body)


def encode_ready_for_query(status: str) -> bytes:
    return message(b"Z", status.encode("ascii"))


def encode_command_complete(tag: str) -> bytes:
    return message(b"C", cstring(tag))


def encode_row_description(fields: Sequence[Field], formats: Sequence[int] | None = None) -> bytes:
    parts = [_I16.pack(len(fields))]
    for index, field in enumerate(fields):
        fmt = formats[index] if formats else 0
        parts.append(cstring(field.name))
        parts.append(_FIELD_TAIL.pack(0, 0, field.type_oid, field.type_size, field.type_modifier, fmt))
    return message(b"T", b"".join(parts))


def encode_parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", _I16.pack(len(oids)) + b"".join(_I32.pack(_to_i32(o)) for o in oids))


def encode_data_row(values: Sequence[bytes | None]) -> bytes:
    """A DataRow from already-encoded column values (None = NULL)."""
    parts = [b"", _I16.pack(len(values))]
    size = 6
    for value in values:
        if value is None:
            parts.append(_NULL_LEN)
            size += 4
        else:
            parts.append(_I32.pack(len(value)))
            parts.append(value)
            size += 4 + len(value)
    parts[0] = _TYPE_LEN.pack(b"D", size)
    return b"".join(parts)


def encode_notice(notice: ErrorFields, *, error: bool) -> bytes:
    """ErrorResponse (``error=True``) or NoticeResponse with fields S, V, C, M, D, H, P."""
    parts = [b"S" + cstring(notice.severity), b"V" + cstring(notice.severity), b"C" + cstring(notice.sqlstate)]
    parts.append(b"M" + cstring(notice.message))
    if notice.detail:
        parts.append(b"D" + cstring(notice.detail))
    if notice.hint:
        parts.append(b"H" + cstring(notice.hint))
    if notice.position is not None:
        parts.append(b"P" + cstring(str(notice.position)))
    parts.append(b"\x00")
    return message(b"E" if error else b"N", b"".join(parts))


def encode_copy_response(kind: bytes, columns: int, binary: bool = False) -> bytes:
    """CopyInResponse (``G``) or CopyOutResponse (``H``); every column has the overall format."""
    code = 1 if binary else 0
    return message(kind, struct.pack("!bh", code, columns) + _I16.pack(code) * columns)


def encode_copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def encode_many(messages: Iterable[bytes]) -> bytes:
    return b"".join(messages)


def _to_i32(value: int) -> int:
    """Wrap an unsigned 32-bit value (an OID or a key) into the signed range the protocol packs."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value
