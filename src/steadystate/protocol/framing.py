"""Length-prefixed frames for the compute protocol, and the two sans-I/O connection endpoints.

A frame is a 4-byte big-endian payload length followed by the payload: one :data:`~messages.Command` or
:data:`~messages.Response` encoded as msgpack by msgspec.  Frames larger than :data:`MAX_FRAME_BYTES`
are refused on both sides.

* :func:`encode_frame` turns a message into the bytes of one frame (encoded in place after a reserved
  header, no extra copy).
* :class:`FrameDecoder` buffers bytes as they arrive and decodes complete frames.  It keeps one
  ``bytearray`` and a read offset, drops the consumed prefix only when it is at least half the buffer,
  and decodes each payload through a ``memoryview`` — so a frame that arrives one byte at a time costs
  linear, not quadratic, work.  The length is checked as soon as the header is complete, before the
  payload is buffered.  Garbage, an oversized frame or a payload that is not a valid message raises
  :class:`~steadystate.errors.ProtocolViolation`, after which the decoder refuses all further input.

The endpoints own one connection each and never touch a socket: they take bytes and return messages,
or take messages and return bytes.

* :class:`ReplicaEndpoint` (replica side) authenticates the connection: the first frame must be a
  :class:`~messages.Hello` carrying the environment secret (compared in constant time).  Until then at
  most :data:`MAX_HELLO_BYTES` are accepted per frame, and no frame after the first is even decoded;
  a refusal raises :class:`HandshakeRefused` and leaves the endpoint closed.
* :class:`ControllerEndpoint` (controller side) opens with the Hello and decodes responses; the first
  response must be the replica's :class:`~messages.HelloAck` echoing the Hello's nonce, which is how a
  controller knows it is talking to the replica of *this* connection and not to a stale one.
"""

from __future__ import annotations

import hmac
import struct
from typing import Any, Generic, TypeVar

import msgspec

from steadystate.errors import InternalError, ProtocolViolation, quote_ident
from steadystate.protocol.messages import Command, Hello, HelloAck, Response

#: The largest payload either side accepts (256 MiB).
MAX_FRAME_BYTES = 256 * 1024 * 1024
#: The largest payload a replica accepts before the connection is authenticated.
MAX_HELLO_BYTES = 64 * 1024

_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size

_encoder = msgspec.msgpack.Encoder()

M = TypeVar("M")


class HandshakeRefused(ProtocolViolation):
    """The peer did not open the connection with a Hello carrying the right environment secret."""

    sqlstate = "28P01"


def encode_frame(message: Command | Response, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The bytes of one frame carrying ``message``."""
    buffer = bytearray(HEADER_BYTES)
    try:
        _encoder.encode_into(message, buffer, HEADER_BYTES)
    except (msgspec.EncodeError, OverflowError, TypeError) as exc:
        raise InternalError(
            f"cannot encode compute protocol message {type(message).__name__}", detail=str(exc)
        ) from exc
    payload_bytes = len(buffer) - HEADER_BYTES
    if payload_bytes > max_frame_bytes:
        raise ProtocolViolation(
            f"compute protocol message of {payload_bytes} bytes exceeds the maximum frame size of "
            f"{max_frame_bytes} bytes",
            detail=f"the message is a {type(message).__name__}",
        )
    _HEADER.pack_into(buffer, 0, payload_bytes)
    return bytes(buffer)


class FrameDecoder(Generic[M]):
    """Incremental decoder of frames carrying messages of type ``kind`` (the Command or Response union).

    Use :meth:`feed` to get every complete message, or :meth:`push` plus :meth:`next_message` to decode
    one at a time (the replica endpoint does, so nothing is decoded before the Hello is checked).
    """

    def __init__(self, kind: Any, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(kind)
        self._kind_name = getattr(kind, "__name__", None) or _union_name(kind)
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._start = 0
        self._failure: ProtocolViolation | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet decoded (a partial frame, or frames not yet asked for)."""
        return len(self._buffer) - self._start

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def feed(self, data: bytes | bytearray | memoryview) -> list[M]:
        """Buffer ``data`` and return every message completed by it, in order."""
        self.push(data)
        messages: list[M] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    def push(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer ``data`` without decoding anything."""
        self._raise_if_failed()
        self._buffer += data

    def next_message(self) -> M | None:
        """Decode and return the next complete message, or ``None`` if no complete frame is buffered."""
        self._raise_if_failed()
        available = len(self._buffer) - self._start
        if available < HEADER_BYTES:
            return None
        (length,) = _HEADER.unpack_from(self._buffer, self._start)
        if length > self.max_frame_bytes:
            self._fail(
                ProtocolViolation(
                    f"compute protocol frame of {length} bytes exceeds the maximum of {self.max_frame_bytes} bytes",
                    hint="the peer is not speaking the compute protocol, or is misconfigured",
                )
            )
        if available < HEADER_BYTES + length:
            return None
        begin = self._start + HEADER_BYTES
        try:
            with memoryview(self._buffer) as view, view[begin : begin + length] as payload:
                message: M = self._decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._fail(
                ProtocolViolation(
                    f"invalid compute protocol frame: expected a {self._kind_name}",
                    detail=str(exc),
                    hint="the peer is not speaking the compute protocol, or runs an incompatible version",
                )
            )
        self._start = begin + length
        self._compact()
        return message

    def _compact(self) -> None:
        if self._start == len(self._buffer):
            self._buffer.clear()
            self._start = 0
        elif self._start * 2 >= len(self._buffer):
            del self._buffer[: self._start]
            self._start = 0

    def _fail(self, error: ProtocolViolation) -> None:
        self._failure = error
        self._buffer = bytearray()
        self._start = 0
        raise error

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise ProtocolViolation(
                "compute protocol connection is broken",
                detail=f"an earlier frame was refused: {self._failure.message}",
            )


def _union_name(kind: Any) -> str:
    members = getattr(kind, "__args__", ())
    if members:
        return "compute protocol message (" + ", ".join(m.__name__ for m in members) + ")"
    return str(kind)


# ---------------------------------------------------------------------------------------------------------
# Endpoints


class ReplicaEndpoint:
    """The replica side of one connection: authenticates the Hello, then decodes commands.

    ``receive`` returns the commands completed by the bytes, the Hello first.  Nothing after the first
    frame is decoded until the Hello has been checked; a missing Hello or a wrong secret raises
    :class:`HandshakeRefused` and closes the endpoint.  A later Hello on the same connection (the
    controller restarting the stream) is checked the same way.
    """

    def __init__(self, secret: str, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._secret = secret.encode()
        self._max_frame_bytes = max_frame_bytes
        self._frames: FrameDecoder[Command] = FrameDecoder(
            Command, max_frame_bytes=min(MAX_HELLO_BYTES, max_frame_bytes)
        )
        self.hello: Hello | None = None
        self.refusal: HandshakeRefused | None = None

    @property
    def authenticated(self) -> bool:
        return self.hello is not None and self.refusal is None

    @property
    def closed(self) -> bool:
        return self.refusal is not None or self._frames.failed

    def receive(self, data: bytes | bytearray | memoryview) -> list[Command]:
        if self.refusal is not None:
            raise HandshakeRefused(
                "compute protocol connection was refused", detail=self.refusal.message
            )
        self._frames.push(data)
        commands: list[Command] = []
        while (command := self._frames.next_message()) is not None:
            if isinstance(command, Hello) or self.hello is None:
                self._authenticate(command)
            commands.append(command)
        return commands

    def encode(self, response: Response) -> bytes:
        """The frame carrying ``response`` (only once the connection is authenticated)."""
        if not self.authenticated:
            raise ProtocolViolation("cannot respond on an unauthenticated compute protocol connection")
        return encode_frame(response, max_frame_bytes=self._max_frame_bytes)

    def acknowledge(self, replica_id: str, pid: int) -> bytes:
        """The HelloAck frame for the accepted Hello (the first response the controller expects)."""
        if not self.authenticated or self.hello is None:
            raise ProtocolViolation("cannot acknowledge a compute protocol connection before its hello")
        return self.encode(HelloAck(replica_id=replica_id, pid=pid, nonce=self.hello.nonce))

    def _authenticate(self, command: Command) -> None:
        if not isinstance(command, Hello):
            self._refuse(
                f"expected hello as the first compute protocol command, got {type(command).__name__}",
                hint="the controller must open every connection with a hello",
            )
        assert isinstance(command, Hello)
        if not hmac.compare_digest(command.secret.encode(), self._secret):
            self._refuse(
                "compute protocol hello carried a wrong environment secret",
                hint="start the replica and the coordinator with the same environment secret",
            )
        self.hello = command
        self._frames.max_frame_bytes = self._max_frame_bytes

    def _refuse(self, message: str, *, hint: str) -> None:
        self.refusal = HandshakeRefused(message, hint=hint)
        raise self.refusal


class ControllerEndpoint:
    """The controller side of one connection: opens with ``hello``, encodes commands, decodes responses.

    The first response must be a HelloAck whose nonce matches the Hello; anything else (or a second
    HelloAck) raises :class:`~steadystate.errors.ProtocolViolation`.  ``replica_id`` and ``replica_pid``
    are known once acknowledged.
    """

    def __init__(self, hello: Hello, *, max_frame_bytes: int = MAX_FRAME_BYTES, expect_ack: bool = True) -> None:
        self.hello = hello
        self._max_frame_bytes = max_frame_bytes
        self._frames: FrameDecoder[Response] = FrameDecoder(Response, max_frame_bytes=max_frame_bytes)
        self._expect_ack = expect_ack
        self.ack: HelloAck | None = None

    @property
    def acknowledged(self) -> bool:
        return self.ack is not None

    @property
    def replica_id(self) -> str | None:
        return self.ack.replica_id if self.ack else None

    @property
    def replica_pid(self) -> int | None:
        return self.ack.pid if self.ack else None

    def opening(self) -> bytes:
        """The first bytes to send on the connection: the Hello frame."""
        return encode_frame(self.hello, max_frame_bytes=self._max_frame_bytes)

    def encode(self, command: Command) -> bytes:
        return encode_frame(command, max_frame_bytes=self._max_frame_bytes)

    def encode_all(self, commands: list[Command]) -> bytes:
        return b"".join(encode_frame(c, max_frame_bytes=self._max_frame_bytes) for c in commands)

    def receive(self, data: bytes | bytearray | memoryview) -> list[Response]:
        responses = self._frames.feed(data)
        if not self._expect_ack:
            return responses
        for response in responses:
            if isinstance(response, HelloAck):
                self._accept_ack(response)
            elif self.ack is None:
                raise ProtocolViolation(
                    f"expected hello acknowledgement as the first compute protocol response, "
                    f"got {type(response).__name__}"
                )
        return responses

    def _accept_ack(self, ack: HelloAck) -> None:
        if self.ack is not None:
            raise ProtocolViolation(
                f"replica {quote_ident(ack.replica_id)} acknowledged the compute protocol hello twice"
            )
        if not hmac.compare_digest(ack.nonce.encode(), self.hello.nonce.encode()):
            raise ProtocolViolation(
                f"replica {quote_ident(ack.replica_id)} acknowledged a different connection",
                detail=f"expected nonce {self.hello.nonce}, got {ack.nonce}",
            )
        self.ack = ack
