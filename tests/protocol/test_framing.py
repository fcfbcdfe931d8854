"""Frames and endpoints: round trips of every message, arbitrary splits, refusal of garbage, oversized
frames and unauthenticated connections."""

from __future__ import annotations

import struct

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from protocol_builders import SECRET, commands, create_instance, every_command, every_response, hello, responses
from steadystate.errors import InternalError, ProtocolViolation
from steadystate.protocol.framing import (
    HEADER_BYTES,
    MAX_FRAME_BYTES,
    MAX_HELLO_BYTES,
    ControllerEndpoint,
    FrameDecoder,
    HandshakeRefused,
    ReplicaEndpoint,
    encode_frame,
)
from steadystate.protocol.messages import (
    Command,
    CreateInstance,
    Frontiers,
    HelloAck,
    InitializationComplete,
    PeekResponse,
    Response,
    Schedule,
    UpdateConfiguration,
)


def frame_of(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


# ---------------------------------------------------------------------------------------------------------
# frames


@pytest.mark.parametrize("message", every_command(), ids=lambda m: type(m).__name__)
def test_every_command_round_trips(message: Command) -> None:
    frame = encode_frame(message)
    assert struct.unpack(">I", frame[:4])[0] == len(frame) - HEADER_BYTES
    assert FrameDecoder(Command).feed(frame) == [message]


@pytest.mark.parametrize("message", every_response(), ids=lambda m: type(m).__name__)
def test_every_response_round_trips(message: Response) -> None:
    assert FrameDecoder(Response).feed(encode_frame(message)) == [message]


def test_every_message_type_is_covered() -> None:
    assert {type(m) for m in every_command()} == set(Command.__args__)
    assert {type(m) for m in every_response()} == set(Response.__args__)


def test_all_messages_split_at_every_byte_boundary() -> None:
    stream = b"".join(encode_frame(m) for m in every_command())
    for cut in range(len(stream) + 1):
        decoder: FrameDecoder[Command] = FrameDecoder(Command)
        decoded = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert decoded == every_command(), cut
        assert decoder.buffered_bytes == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(commands, min_size=1, max_size=8), st.data())
def test_commands_survive_arbitrary_chunking(messages: list[Command], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    decoder: FrameDecoder[Command] = FrameDecoder(Command)
    decoded: list[Command] = []
    for begin, end in zip([0, *cuts], [*cuts, len(stream)]):
        decoded += decoder.feed(stream[begin:end])
    assert decoded == messages
    assert decoder.buffered_bytes == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(responses, min_size=1, max_size=8), st.integers(1, 7))
def test_responses_survive_fixed_size_chunks(messages: list[Response], chunk: int) -> None:
    stream = b"".join(encode_frame(m) for m in messages)
    decoder: FrameDecoder[Response] = FrameDecoder(Response)
    decoded = [m for i in range(0, len(stream), chunk) for m in decoder.feed(stream[i : i + chunk])]
    assert decoded == messages


def test_partial_frame_is_kept_until_complete() -> None:
    frame = encode_frame(Schedule("u1"))
    decoder: FrameDecoder[Command] = FrameDecoder(Command)
    assert decoder.feed(frame[:-1]) == []
    assert decoder.buffered_bytes == len(frame) - 1
    assert decoder.feed(frame[-1:]) == [Schedule("u1")]


def test_large_frame_byte_by_byte_decodes() -> None:
    big = UpdateConfiguration({f"k{i}": "v" * 50 for i in range(400)})
    frame = encode_frame(big)
    decoder: FrameDecoder[Command] = FrameDecoder(Command)
    out = [m for i in range(len(frame)) for m in decoder.feed(frame[i : i + 1])]
    assert out == [big]


@pytest.mark.parametrize(
    "garbage",
    [
        frame_of(b"\xc1"),  # never-used msgpack byte
        frame_of(b""),  # empty payload
        frame_of(msgspec.msgpack.encode({"kind": "NoSuchCommand"})),
        frame_of(msgspec.msgpack.encode({"kind": "Schedule"})),  # missing field
        frame_of(msgspec.msgpack.encode({"kind": "Schedule", "id": 5})),  # wrong type
        frame_of(msgspec.msgpack.encode([1, 2, 3])),
        encode_frame(Frontiers("u1", 1, 1, 1)),  # a response where a command is expected
        b"GET / HTTP/1.1\r\n\r\n",  # someone speaking HTTP: a huge length prefix
    ],
)
def test_garbage_is_refused_and_breaks_the_decoder(garbage: bytes) -> None:
    decoder: FrameDecoder[Command] = FrameDecoder(Command)
    with pytest.raises(ProtocolViolation) as info:
        decoder.feed(garbage)
    assert info.value.sqlstate == "08P01"
    assert decoder.failed
    with pytest.raises(ProtocolViolation, match="broken"):
        decoder.feed(encode_frame(Schedule("u1")))


def test_messages_before_garbage_in_the_same_feed_decode_one_at_a_time() -> None:
    decoder: FrameDecoder[Command] = FrameDecoder(Command)
    decoder.push(encode_frame(Schedule("u1")) + frame_of(b"\xc1"))
    assert decoder.next_message() == Schedule("u1")
    with pytest.raises(ProtocolViolation):
        decoder.next_message()


def test_oversized_frame_is_refused_from_its_header_alone() -> None:
    decoder: FrameDecoder[Command] = FrameDecoder(Command)
    with pytest.raises(ProtocolViolation, match="exceeds the maximum"):
        decoder.feed(struct.pack(">I", MAX_FRAME_BYTES + 1))


def test_configured_maximum_frame_size_applies_to_both_directions() -> None:
    message = UpdateConfiguration({"k": "v" * 100})
    size = len(encode_frame(message)) - HEADER_BYTES
    assert FrameDecoder(Command, max_frame_bytes=size).feed(encode_frame(message)) == [message]
    with pytest.raises(ProtocolViolation, match="exceeds the maximum"):
        FrameDecoder(Command, max_frame_bytes=size - 1).feed(encode_frame(message))
    with pytest.raises(ProtocolViolation, match="exceeds the maximum frame size"):
        encode_frame(message, max_frame_bytes=size - 1)


def test_unencodable_message_is_an_internal_error() -> None:
    with pytest.raises(InternalError, match="cannot encode"):
        encode_frame(Frontiers("u1", 2**64, None, None))


# ---------------------------------------------------------------------------------------------------------
# replica endpoint: authentication


def test_replica_accepts_the_right_secret_and_then_decodes_commands() -> None:
    endpoint = ReplicaEndpoint(SECRET)
    stream = encode_frame(hello()) + encode_frame(create_instance()) + encode_frame(InitializationComplete())
    received = [c for i in range(len(stream)) for c in endpoint.receive(stream[i : i + 1])]
    assert received == [hello(), create_instance(), InitializationComplete()]
    assert endpoint.authenticated and endpoint.hello == hello()


def test_replica_refuses_a_wrong_secret_before_decoding_anything_else() -> None:
    endpoint = ReplicaEndpoint(SECRET)
    # The frame after the Hello is garbage: if it were decoded, the error would be a plain decode error.
    with pytest.raises(HandshakeRefused, match="wrong environment secret") as info:
        endpoint.receive(encode_frame(hello(secret="guess")) + frame_of(b"\xc1"))
    assert info.value.sqlstate == "28P01"
    assert isinstance(info.value, ProtocolViolation)
    assert endpoint.closed and not endpoint.authenticated
    with pytest.raises(HandshakeRefused):
        endpoint.receive(encode_frame(hello()))


@pytest.mark.parametrize("first", [create_instance(), Schedule("u1"), InitializationComplete()], ids=lambda m: type(m).__name__)
def test_replica_refuses_a_connection_not_opened_by_hello(first: Command) -> None:
    endpoint = ReplicaEndpoint(SECRET)
    with pytest.raises(HandshakeRefused, match="expected hello"):
        endpoint.receive(encode_frame(first) + encode_frame(hello()))
    assert endpoint.hello is None


def test_replica_checks_every_later_hello_too() -> None:
    endpoint = ReplicaEndpoint(SECRET)
    assert endpoint.receive(encode_frame(hello())) == [hello()]
    with pytest.raises(HandshakeRefused):
        endpoint.receive(encode_frame(Schedule("u1")) + encode_frame(hello(nonce="n2", secret="x")))


def test_replica_limits_frame_size_until_authenticated() -> None:
    big = UpdateConfiguration({"k": "v" * (MAX_HELLO_BYTES + 10)})
    endpoint = ReplicaEndpoint(SECRET)
    with pytest.raises(ProtocolViolation, match="exceeds the maximum"):
        endpoint.receive(encode_frame(big))
    authenticated = ReplicaEndpoint(SECRET)
    assert authenticated.receive(encode_frame(hello()) + encode_frame(big)) == [hello(), big]


def test_replica_cannot_respond_before_authentication() -> None:
    endpoint = ReplicaEndpoint(SECRET)
    with pytest.raises(ProtocolViolation):
        endpoint.encode(Frontiers("u1", 1, 1, 1))
    with pytest.raises(ProtocolViolation):
        endpoint.acknowledge("r1", 1)


# ---------------------------------------------------------------------------------------------------------
# both endpoints together


def test_controller_and_replica_talk() -> None:
    controller = ControllerEndpoint(hello(nonce="abc"))
    replica = ReplicaEndpoint(SECRET)
    sent = controller.opening() + controller.encode_all([create_instance(), InitializationComplete()])
    assert replica.receive(sent) == [hello(nonce="abc"), create_instance(), InitializationComplete()]
    replies = replica.acknowledge("r1", 99) + replica.encode(Frontiers("u1", 3, 2, 1))
    received = [r for i in range(len(replies)) for r in controller.receive(replies[i : i + 1])]
    assert received == [HelloAck("r1", 99, "abc"), Frontiers("u1", 3, 2, 1)]
    assert controller.acknowledged and controller.replica_id == "r1" and controller.replica_pid == 99


def test_controller_requires_the_ack_first() -> None:
    controller = ControllerEndpoint(hello())
    with pytest.raises(ProtocolViolation, match="hello acknowledgement"):
        controller.receive(encode_frame(PeekResponse("p1", canceled=True)))


def test_controller_refuses_an_ack_for_another_connection_or_a_second_ack() -> None:
    with pytest.raises(ProtocolViolation, match="different connection"):
        ControllerEndpoint(hello(nonce="mine")).receive(encode_frame(HelloAck("r1", 1, "stale")))
    controller = ControllerEndpoint(hello(nonce="mine"))
    controller.receive(encode_frame(HelloAck("r1", 1, "mine")))
    with pytest.raises(ProtocolViolation, match="twice"):
        controller.receive(encode_frame(HelloAck("r1", 1, "mine")))


def test_controller_without_ack_check_passes_everything_through() -> None:
    controller = ControllerEndpoint(hello(), expect_ack=False)
    assert controller.receive(encode_frame(Frontiers("u1", 1, 1, 1))) == [Frontiers("u1", 1, 1, 1)]


def test_create_instance_is_a_command_not_a_response() -> None:
    with pytest.raises(ProtocolViolation):
        ControllerEndpoint(hello(), expect_ack=False).receive(encode_frame(create_instance()))
    assert isinstance(FrameDecoder(Command).feed(encode_frame(create_instance()))[0], CreateInstance)
