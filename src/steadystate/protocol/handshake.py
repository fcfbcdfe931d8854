"""Mutual authentication on the compute port, before any compute protocol frame: a nonce each way.

Both sides hold the environment secret; neither sends it until the other has proved it holds it too.  The
exchange is three fixed-size messages, so a replica never buffers more than :data:`RESPONSE_BYTES` from a peer
that has not authenticated:

1. the replica, on accept: ``MAGIC`` + its nonce ``Nr`` (:data:`CHALLENGE_BYTES`);
2. the controller: its nonce ``Nc`` + ``HMAC-SHA256(secret, "controller" Nr Nc)`` (:data:`RESPONSE_BYTES`);
3. the replica, if the proof checks out: ``HMAC-SHA256(secret, "replica" Nc Nr)`` (:data:`PROOF_BYTES`).

Only then does the controller send its ``Hello`` and the command history (which carry the storage URL and
the secret itself, so they go only to a replica that proved it holds the secret).  A replayed response fails:
the replica's nonce is new for every connection.  Proofs are compared in constant time.  The two sides are
sans-I/O objects: :class:`ReplicaHandshake` and :class:`ControllerHandshake`; a refusal raises
:class:`~steadystate.protocol.framing.HandshakeRefused`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from steadystate.protocol.framing import HandshakeRefused

MAGIC = b"SSCOMP\x00\x01"  # "steadystate compute", handshake version 1
NONCE_BYTES = 32
MAC_BYTES = 32
CHALLENGE_BYTES = len(MAGIC) + NONCE_BYTES
RESPONSE_BYTES = NONCE_BYTES + MAC_BYTES
PROOF_BYTES = MAC_BYTES
#: a replica closes a connection that has not completed the handshake in this many seconds
HANDSHAKE_TIMEOUT_S = 10.0


def _mac(secret: bytes, role: bytes, first: bytes, second: bytes) -> bytes:
    return hmac.new(secret, role + b"\x00" + first + second, hashlib.sha256).digest()


class ReplicaHandshake:
    """The replica's side: :attr:`challenge` to send, then :meth:`verify` the controller's response."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._nonce = secrets.token_bytes(NONCE_BYTES)
        self.challenge = MAGIC + self._nonce

    def verify(self, response: bytes) -> bytes:
        """Check the controller's response (exactly :data:`RESPONSE_BYTES`); returns the replica's proof."""
        if len(response) != RESPONSE_BYTES:
            raise HandshakeRefused("compute handshake response has the wrong length",
                                   hint="the peer is not a steadystate controller")
        nonce, mac = response[:NONCE_BYTES], response[NONCE_BYTES:]
        if not hmac.compare_digest(mac, _mac(self._secret, b"controller", self._nonce, nonce)):
            raise HandshakeRefused("compute handshake proof does not match the environment secret",
                                   hint="start the replica and the coordinator with the same environment secret")
        return _mac(self._secret, b"replica", nonce, self._nonce)


class ControllerHandshake:
    """The controller's side: :meth:`respond` to the replica's challenge, then :meth:`verify` its proof."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._nonce = secrets.token_bytes(NONCE_BYTES)
        self._replica_nonce: bytes | None = None

    def respond(self, challenge: bytes) -> bytes:
        if len(challenge) != CHALLENGE_BYTES or not challenge.startswith(MAGIC):
            raise HandshakeRefused("the peer did not open the compute handshake",
                                   hint="the endpoint is not a steadystate replica of this release")
        self._replica_nonce = challenge[len(MAGIC):]
        return self._nonce + _mac(self._secret, b"controller", self._replica_nonce, self._nonce)

    def verify(self, proof: bytes) -> None:
        """Check the replica's proof; raises HandshakeRefused unless it holds the secret."""
        if self._replica_nonce is None:
            raise HandshakeRefused("compute handshake proof before the challenge")
        expected = _mac(self._secret, b"replica", self._nonce, self._replica_nonce)
        if len(proof) != PROOF_BYTES or not hmac.compare_digest(proof, expected):
            raise HandshakeRefused("the replica did not prove it holds the environment secret",
                                   hint="another process may be listening on the replica's port")
