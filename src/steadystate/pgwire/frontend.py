"""Client (frontend) messages of the PostgreSQL v3 protocol, decoded into frozen dataclasses.

Sans-I/O.  :func:`decode_startup` turns a startup packet body into :class:`StartupMessage`,
:class:`SSLRequest`, :class:`GSSENCRequest` or :class:`CancelRequest`; :func:`decode_message` turns a
typed frame into one of the other classes, using the table :data:`DECODERS` keyed by type byte.
Malformed bodies raise :class:`~steadystate.errors.ProtocolViolation`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Union

from steadystate.errors import ProtocolViolation

PROTOCOL_MAJOR = 3
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102


@dataclass(frozen=True)
class StartupMessage:
    minor_version: int
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SSLRequest:
    pass


@dataclass(frozen=True)
class GSSENCRequest:
    pass


@dataclass(frozen=True)
class CancelRequest:
    process_id: int
    secret_key: int


@dataclass(frozen=True)
class Query:
    sql: str


@dataclass(frozen=True)
class Parse:
    name: str
    sql: str
    param_oids: tuple[int, ...]


@dataclass(frozen=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


@dataclass(frozen=True)
class Describe:
    kind: str  # "S" statement | "P" portal
    name: str


@dataclass(frozen=True)
class Execute:
    portal: str
    max_rows: int  # 0 = no limit


@dataclass(frozen=True)
class Close:
    kind: str  # "S" | "P"
    name: str


@dataclass(frozen=True)
class Sync:
    pass


@dataclass(frozen=True)
class Flush:
    pass


@dataclass(frozen=True)
class Terminate:
    pass


@dataclass(frozen=True)
class CopyData:
    data: bytes


@dataclass(frozen=True)
class CopyDone:
    pass


@dataclass(frozen=True)
class CopyFail:
    reason: str


StartupPacket = Union[StartupMessage, SSLRequest, GSSENCRequest, CancelRequest]
FrontendMessage = Union[
    Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, Terminate, CopyData, CopyDone, CopyFail
]


class _Cursor:
    """Reads protocol fields from a message body, raising ProtocolViolation when it runs short."""

    __slots__ = ("body", "offset", "kind")

    def __init__(self, body: bytes, kind: str) -> None:
        self.body = body
        self.offset = 0
        self.kind = kind

    def _short(self) -> ProtocolViolation:
        return ProtocolViolation(f"invalid message format in {self.kind} message")

    def cstring(self) -> str:
        end = self.body.find(b"\x00", self.offset)
        if end < 0:
            raise self._short()
        raw = self.body[self.offset : end]
        self.offset = end + 1
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise ProtocolViolation(f"invalid UTF-8 in {self.kind} message", sqlstate="22021") from None

    def unpack(self, fmt: struct.Struct) -> tuple:
        if self.offset + fmt.size > len(self.body):
            raise self._short()
        values = fmt.unpack_from(self.body, self.offset)
        self.offset += fmt.size
        return values

    def int16(self) -> int:
        return self.unpack(_I16)[0]

    def int32(self) -> int:
        return self.unpack(_I32)[0]

    def int16s(self) -> tuple[int, ...]:
        count = self.int16()
        if count < 0:
            raise self._short()
        return self.unpack(struct.Struct(f"!{count}h")) if count else ()

    def take(self, size: int) -> bytes:
        if size < 0 or self.offset + size > len(self.body):
            raise self._short()
        data = self.body[self.offset : self.offset + size]
        self.offset += size
        return data

    def done(self) -> None:
        if self.offset != len(self.body):
            raise ProtocolViolation(f"invalid message format in {self.kind} message")


_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")


def decode_startup(body: bytes) -> StartupPacket:
    """Decode a startup packet body (everything after its length word)."""
    cursor = _Cursor(body, "startup")
    code = cursor.int32()
    if code == SSL_REQUEST_CODE:
        return SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        return GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        process_id, secret_key = cursor.unpack(struct.Struct("!II"))
        return CancelRequest(process_id, secret_key)
    major, minor = code >> 16, code & 0xFFFF
    if major != PROTOCOL_MAJOR:
        raise ProtocolViolation(
            f"unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0",
            sqlstate="0A000",
        )
    parameters: dict[str, str] = {}
    while True:
        name = cursor.cstring()
        if not name:
            break
        parameters[name] = cursor.cstring()
    if "user" not in parameters:
        raise ProtocolViolation("no PostgreSQL user name specified in startup packet", sqlstate="28000")
    return StartupMessage(minor, parameters)


def _query(c: _Cursor) -> Query:
    return Query(c.cstring())


def _parse(c: _Cursor) -> Parse:
    name, sql = c.cstring(), c.cstring()
    count = c.int16()
    oids = c.unpack(struct.Struct(f"!{count}I")) if count > 0 else ()
    return Parse(name, sql, tuple(oids))


def _bind(c: _Cursor) -> Bind:
    portal, statement = c.cstring(), c.cstring()
    param_formats = c.int16s()
    count = c.int16()
    params: list[bytes | None] = []
    for _ in range(max(count, 0)):
        size = c.int32()
        params.append(None if size == -1 else c.take(size))
    return Bind(portal, statement, tuple(param_formats), tuple(params), c.int16s())


def _describe(c: _Cursor) -> Describe:
    kind = c.take(1).decode("latin-1")
    if kind not in ("S", "P"):
        raise ProtocolViolation(f"invalid DESCRIBE message subtype {kind!r}")
    return Describe(kind, c.cstring())


def _execute(c: _Cursor) -> Execute:
    return Execute(c.cstring(), c.int32())


def _close(c: _Cursor) -> Close:
    kind = c.take(1).decode("latin-1")
    if kind not in ("S", "P"):
        raise ProtocolViolation(f"invalid CLOSE message subtype {kind!r}")
    return Close(kind, c.cstring())


def _copy_fail(c: _Cursor) -> CopyFail:
    return CopyFail(c.cstring())


#: type byte → (name used in errors, decoder of the body)
DECODERS: dict[bytes, tuple[str, Callable[[_Cursor], FrontendMessage]]] = {
    b"Q": ("Query", _query),
    b"P": ("Parse", _parse),
    b"B": ("Bind", _bind),
    b"D": ("Describe", _describe),
    b"E": ("Execute", _execute),
    b"C": ("Close", _close),
    b"S": ("Sync", lambda c: Sync()),
    b"H": ("Flush", lambda c: Flush()),
    b"X": ("Terminate", lambda c: Terminate()),
    b"c": ("CopyDone", lambda c: CopyDone()),
    b"f": ("CopyFail", _copy_fail),
}


#: every type byte a client may send after startup
MESSAGE_TYPES = frozenset(DECODERS) | {b"d"}


def decode_message(kind: bytes, body: bytes) -> FrontendMessage:
    """Decode one typed frame; an unknown type byte is a protocol violation."""
    if kind == b"d":
        return CopyData(body)
    entry = DECODERS.get(kind)
    if entry is None:
        raise ProtocolViolation(f"invalid frontend message type {kind[0]}")
    name, decoder = entry
    cursor = _Cursor(body, name)
    result = decoder(cursor)
    if kind not in (b"S", b"H", b"X", b"c"):
        cursor.done()
    return result
