"""SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: verifiers and the server side of the exchange.

A role's password is never stored: :func:`make_verifier` derives PostgreSQL's verifier string
``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64 parts), the same string
``pg_authid.rolpassword`` holds, so a verifier made by PostgreSQL (``CREATE ROLE r PASSWORD 'SCRAM-SHA-256$...'``)
is accepted as given.  :class:`ScramExchange` is sans-I/O: fed the client-first message it returns the
server-first message, fed the client-final message it checks the proof against ``StoredKey`` and returns the
server-final message (the server's own proof, so the client knows the server holds the verifier too).

A user that does not exist, or has no password, still gets a complete exchange against a fake verifier derived
from the user name and a per-process key, and fails only at the end, with the same error as a wrong password:
the exchange does not tell who exists.  Channel binding (``SCRAM-SHA-256-PLUS``) is not offered; a client that
supports it says so (gs2 flag ``y``) and is accepted, as PostgreSQL does when it offers no binding.  The
password is used as given (no SASLprep): for ASCII passwords that is what SASLprep gives too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from steadystate.errors import InvalidAuthorization, ProtocolViolation

MECHANISM = "SCRAM-SHA-256"
ITERATIONS = 4096
SALT_BYTES = 16
NONCE_BYTES = 18
_PREFIX = MECHANISM + "$"
_FAKE_KEY = secrets.token_bytes(32)  # salts the fake verifiers of users that do not exist


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """``(StoredKey, ServerKey)`` of a password."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hashlib.sha256(_hmac(salted, b"Client Key")).digest(), _hmac(salted, b"Server Key")


def make_verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The verifier to store for ``password`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    stored, server = _keys(password, salt, iterations)
    return f"{_PREFIX}{iterations}:{_b64(salt)}${_b64(stored)}:{_b64(server)}"


def is_verifier(text: str) -> bool:
    """True if ``text`` is a well-formed SCRAM-SHA-256 verifier (a password given already hashed)."""
    try:
        parse_verifier(text)
    except ValueError:
        return False
    return True


def parse_verifier(text: str) -> tuple[int, bytes, bytes, bytes]:
    """``(iterations, salt, StoredKey, ServerKey)``; ValueError if ``text`` is not a verifier."""
    if not text.startswith(_PREFIX):
        raise ValueError("not a SCRAM-SHA-256 verifier")
    try:
        params, keys = text[len(_PREFIX):].split("$")
        iterations_text, salt_text = params.split(":")
        stored_text, server_text = keys.split(":")
        iterations = int(iterations_text)
        salt = base64.b64decode(salt_text, validate=True)
        stored = base64.b64decode(stored_text, validate=True)
        server = base64.b64decode(server_text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("malformed SCRAM-SHA-256 verifier") from exc
    if iterations < 1 or not salt or len(stored) != 32 or len(server) != 32:
        raise ValueError("malformed SCRAM-SHA-256 verifier")
    return iterations, salt, stored, server


def _fake_verifier(user: str) -> tuple[int, bytes, bytes, bytes]:
    salt = _hmac(_FAKE_KEY, user.encode("utf-8"))[:SALT_BYTES]
    return ITERATIONS, salt, secrets.token_bytes(32), secrets.token_bytes(32)


def _attributes(message: str) -> list[tuple[str, str]]:
    pairs = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ProtocolViolation("malformed SCRAM message")
        pairs.append((part[0], part[2:]))
    return pairs


class ScramExchange:
    """The server side of one SCRAM-SHA-256 exchange; see the module docstring."""

    def __init__(self, user: str, verifier: str | None) -> None:
        self.user = user
        self._known = verifier is not None
        try:
            parsed = parse_verifier(verifier) if verifier is not None else _fake_verifier(user)
        except ValueError:
            self._known = False
            parsed = _fake_verifier(user)
        self._iterations, self._salt, self._stored_key, self._server_key = parsed
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._gs2_header = ""

    def failure(self) -> InvalidAuthorization:
        return InvalidAuthorization(f'password authentication failed for user "{self.user}"', sqlstate="28P01")

    def first(self, client_first: bytes) -> bytes:
        """Answer the client-first message (``gs2-header client-first-bare``) with the server-first message."""
        text = client_first.decode("utf-8", "replace")
        flag, _, rest = text.partition(",")
        authzid, _, bare = rest.partition(",")
        if flag not in ("n", "y") or authzid or not bare:
            if flag.startswith("p="):
                raise ProtocolViolation("SCRAM channel binding is not offered by this server")
            raise ProtocolViolation("malformed SCRAM message")
        attributes = dict(_attributes(bare))
        client_nonce = attributes.get("r", "")
        if not client_nonce or "m" in attributes:
            raise ProtocolViolation("malformed SCRAM message")
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = bare
        self._nonce = client_nonce + _b64(secrets.token_bytes(NONCE_BYTES))
        self._server_first = f"r={self._nonce},s={_b64(self._salt)},i={self._iterations}"
        return self._server_first.encode("ascii")

    def final(self, client_final: bytes) -> bytes:
        """Check the client's proof; the server-final message, or :class:`InvalidAuthorization` (28P01)."""
        text = client_final.decode("utf-8", "replace")
        without_proof, _, proof_part = text.rpartition(",p=")
        attributes = dict(_attributes(without_proof)) if without_proof else {}
        try:
            proof = base64.b64decode(proof_part, validate=True)
            binding = base64.b64decode(attributes.get("c", ""), validate=True)
        except ValueError:
            raise ProtocolViolation("malformed SCRAM message") from None
        if binding != self._gs2_header.encode("ascii") or attributes.get("r") != self._nonce:
            raise ProtocolViolation("SCRAM nonce or channel binding mismatch")
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode("utf-8")
        signature = _hmac(self._stored_key, auth_message)
        if len(proof) != len(signature):
            raise self.failure()
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        if not (hmac.compare_digest(hashlib.sha256(client_key).digest(), self._stored_key) and self._known):
            raise self.failure()
        return f"v={_b64(_hmac(self._server_key, auth_message))}".encode("ascii")


def check_password(verifier: str | None, password: str, user: str = "") -> bool:
    """Whether ``password`` matches the stored ``verifier`` (HTTP Basic authentication over the same roles).  A
    role without a verifier (or no role) costs the same work as one with, so timing does not tell them apart."""
    try:
        iterations, salt, stored, _ = parse_verifier(verifier) if verifier is not None else _fake_verifier(user)
    except ValueError:
        iterations, salt, stored, _ = _fake_verifier(user)
        verifier = None
    candidate, _ = _keys(password, salt, iterations)
    return hmac.compare_digest(candidate, stored) and verifier is not None
