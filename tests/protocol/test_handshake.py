"""The compute port's mutual authentication (protocol/handshake.py): each side proves it holds the secret."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from steadystate.protocol.framing import HandshakeRefused
from steadystate.protocol.handshake import (
    CHALLENGE_BYTES,
    PROOF_BYTES,
    RESPONSE_BYTES,
    ControllerHandshake,
    ReplicaHandshake,
)

SECRET = "s3cret"


def test_both_sides_holding_the_secret_authenticate_each_other() -> None:
    replica, controller = ReplicaHandshake(SECRET), ControllerHandshake(SECRET)
    assert len(replica.challenge) == CHALLENGE_BYTES
    response = controller.respond(replica.challenge)
    assert len(response) == RESPONSE_BYTES and SECRET.encode() not in response
    proof = replica.verify(response)
    assert len(proof) == PROOF_BYTES
    controller.verify(proof)


@settings(max_examples=30)
@given(wrong=hs.text(min_size=0, max_size=40))
def test_a_controller_without_the_secret_is_refused(wrong: str) -> None:
    replica = ReplicaHandshake(SECRET)
    response = ControllerHandshake(wrong).respond(replica.challenge)
    if wrong == SECRET:
        replica.verify(response)
    else:
        with pytest.raises(HandshakeRefused):
            replica.verify(response)


def test_an_impostor_replica_is_refused_by_the_controller() -> None:
    impostor = ReplicaHandshake("not-the-secret")
    controller = ControllerHandshake(SECRET)
    response = controller.respond(impostor.challenge)
    with pytest.raises(HandshakeRefused):  # it cannot check the response...
        impostor.verify(response)
    with pytest.raises(HandshakeRefused):  # ...nor forge a proof
        controller.verify(b"\x00" * PROOF_BYTES)


def test_a_replayed_response_fails_against_a_new_challenge() -> None:
    first = ReplicaHandshake(SECRET)
    response = ControllerHandshake(SECRET).respond(first.challenge)
    first.verify(response)
    with pytest.raises(HandshakeRefused):
        ReplicaHandshake(SECRET).verify(response)


def test_a_proof_replayed_from_another_connection_fails() -> None:
    replica, controller = ReplicaHandshake(SECRET), ControllerHandshake(SECRET)
    old_proof = replica.verify(controller.respond(replica.challenge))
    replica2, controller2 = ReplicaHandshake(SECRET), ControllerHandshake(SECRET)
    controller2.respond(replica2.challenge)
    with pytest.raises(HandshakeRefused):
        controller2.verify(old_proof)


@pytest.mark.parametrize("challenge", [b"", b"GET / HTTP/1.1\r\n" * 3, b"\x00" * CHALLENGE_BYTES])
def test_garbage_in_place_of_a_challenge_or_response_is_refused(challenge: bytes) -> None:
    with pytest.raises(HandshakeRefused):
        ControllerHandshake(SECRET).respond(challenge)
    with pytest.raises(HandshakeRefused):
        ReplicaHandshake(SECRET).verify(challenge[:RESPONSE_BYTES])
