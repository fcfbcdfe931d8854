"""SCRAM-SHA-256 authentication: real clients (psycopg/libpq, psql) against the pgwire server with an authenticator
that asks for a password, and the exchange itself checked against an independent client-side computation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import shutil
import socket
import struct
import subprocess
import threading
from typing import Iterator

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from pgwire_fakes import FakeBackend
from steadystate.errors import InvalidAuthorization, ProtocolViolation
from steadystate.pgwire.effects import AuthMethod, Credentials
from steadystate.pgwire.server import PgServer
from steadystate.pgwire.wire import RESUME_PARAMETER
from steadystate.security.scram import ScramExchange, is_verifier, make_verifier, parse_verifier

PASSWORDS = {"alice": "correct horse", "hashed": "given-as-verifier"}
VERIFIERS = {"alice": make_verifier(PASSWORDS["alice"]), "hashed": make_verifier(PASSWORDS["hashed"]),
             "nopass": None}


async def authenticator(user: str, resume: str | None) -> Credentials:
    if resume is not None:
        raise InvalidAuthorization("invalid session resume token")
    return Credentials(AuthMethod.SCRAM, VERIFIERS.get(user))


class ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = PgServer(FakeBackend(), authenticator=authenticator)
        self.loop.run_until_complete(self.server.start("127.0.0.1", 0))
        self.port = self.server.port
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    thread = ServerThread()
    yield thread
    thread.stop()


def connect(server: ServerThread, user: str, password: str | None, **kwargs: object) -> psycopg.Connection:
    extra = {"password": password} if password is not None else {}
    return psycopg.connect(host="127.0.0.1", port=server.port, user=user, dbname="materialize",
                           autocommit=True, **extra, **kwargs)  # type: ignore[arg-type]


def test_psycopg_logs_in_with_the_right_password(server: ServerThread) -> None:
    with connect(server, "alice", PASSWORDS["alice"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with connect(server, "alice", PASSWORDS["alice"], require_auth="scram-sha-256") as conn:  # what libpq saw
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("user, password", [("alice", "wrong"), ("nobody", "anything"),
                                            ("nopass", "anything"), ("hashed", VERIFIERS["hashed"])])
def test_wrong_password_unknown_user_or_no_password_is_refused_alike(server: ServerThread, user: str,
                                                                     password: str) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        connect(server, user, password)
    assert f'password authentication failed for user "{user}"' in str(info.value)


def test_a_client_without_a_password_is_refused(server: ServerThread) -> None:
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        connect(server, "alice", None, passfile="/nonexistent")


def test_a_client_that_presents_a_resume_token_is_refused(server: ServerThread) -> None:
    body = b"\x00\x03\x00\x00user\x00alice\x00" + RESUME_PARAMETER.encode() + b"\x00guess\x00\x00"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply[:1] == b"E" and b"C28000\x00" in reply  # refused before any SASL step


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_logs_in_and_is_refused(server: ServerThread) -> None:
    args = ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "alice", "-d", "materialize", "-c",
            "SELECT 1"]
    ok = subprocess.run(args, capture_output=True, text=True, timeout=30, env={"PGPASSWORD": PASSWORDS["alice"]})
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(args, capture_output=True, text=True, timeout=30, env={"PGPASSWORD": "nope"})
    assert bad.returncode != 0 and "password authentication failed" in bad.stderr


# ---------------------------------------------------------------- the exchange, against an independent client


def _client(password: str, user: str, verifier: str | None, nonce: str = "cnonce", tamper: str = "") -> bytes:
    """Run a whole exchange as a client would (RFC 5802 computations written out here); returns server-final."""
    exchange = ScramExchange(user, verifier)
    first_bare = f"n=,r={nonce}"
    server_first = exchange.first(("n,," + first_bare).encode()).decode()
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c={base64.b64encode(b'n,,').decode()},r={attrs['r'] + tamper}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = exchange.final(f"{without_proof},p={base64.b64encode(proof).decode()}".encode()).decode()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert final == "v=" + base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
    return final.encode()


@settings(max_examples=20, deadline=None)
@given(password=hs.text(alphabet=hs.characters(codec="ascii", min_codepoint=32), min_size=1, max_size=40),
       other=hs.text(alphabet=hs.characters(codec="ascii", min_codepoint=32), min_size=1, max_size=40))
def test_only_the_password_of_the_verifier_passes(password: str, other: str) -> None:
    verifier = make_verifier(password, iterations=64)
    assert is_verifier(verifier)
    _client(password, "u", verifier)
    if other != password:
        with pytest.raises(InvalidAuthorization) as info:
            _client(other, "u", verifier)
        assert info.value.sqlstate == "28P01"


def test_a_tampered_nonce_and_a_missing_user_fail() -> None:
    verifier = make_verifier("pw", iterations=64)
    with pytest.raises(ProtocolViolation):
        _client("pw", "u", verifier, tamper="x")
    with pytest.raises(InvalidAuthorization):  # a fake verifier: a complete exchange that fails at the end
        _client("pw", "ghost", None)


def test_the_verifier_does_not_contain_the_password() -> None:
    password = "a-long-and-distinctive-password"
    verifier = make_verifier(password)
    assert password not in verifier
    assert make_verifier(password) != verifier  # a fresh salt each time


def test_verifier_format_is_postgresqls() -> None:
    iterations, salt, stored, server = parse_verifier(make_verifier("pw", salt=b"0123456789abcdef"))
    assert (iterations, salt, len(stored), len(server)) == (4096, b"0123456789abcdef", 32, 32)
    assert not is_verifier("SCRAM-SHA-256$4096:bad") and not is_verifier("md5abc")
