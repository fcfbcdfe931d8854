"""The proxy state machine's security duties, driven with raw bytes: it passes the coordinator's SASL exchange
through on the first connection, resumes the authenticated session on a new coordinator with the resume token,
ends a connection whose coordinator was lost mid-authentication, accepts TLS (and refuses plaintext smuggled in
before the handshake, or plaintext at all when TLS is required) and answers a connection past max_connections."""

from __future__ import annotations

import struct

from test_proxy import PROXY_KEY, cstr, handshake, msg, query, rfq, startup

from steadystate.errors import TooManyConnections
from steadystate.pgwire.proxy import ProxyConnection
from steadystate.pgwire.proxy_rules import CloseClient, ConnectBackend, StartTls, ToBackend, ToClient
from steadystate.pgwire.wire import RESUME_PARAMETER

TOKEN = "resume-token-of-this-supervisor"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def sent(actions: list, kind: type) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, kind))


def sasl(code: int, data: bytes = b"") -> bytes:
    return msg(b"R", struct.pack("!i", code) + data)


def authenticated(machine: ProxyConnection) -> None:
    """The first connection: startup, a full SASL exchange passed through both ways, then the handshake."""
    assert any(isinstance(a, ConnectBackend) for a in machine.client_data(startup("ann")))
    assert sent(machine.backend_connected(), ToBackend) == startup("ann", proxied=True)  # the first one carries no token
    challenge = sasl(10, cstr("SCRAM-SHA-256") + b"\x00")
    assert sent(machine.backend_data(challenge), ToClient) == challenge  # at once, not held back
    first = msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", 5) + b"n,,r=")
    assert sent(machine.client_data(first), ToBackend) == first
    assert sent(machine.backend_data(sasl(11, b"r=x,s=y,i=1")), ToClient) == sasl(11, b"r=x,s=y,i=1")
    final = msg(b"p", b"c=biws,r=x,p=proof")
    assert sent(machine.client_data(final), ToBackend) == final
    out = sent(machine.backend_data(sasl(12, b"v=sig") + handshake(7)), ToClient)
    assert out.startswith(sasl(12, b"v=sig")) and out.endswith(rfq("I"))


def test_sasl_passes_through_and_a_reconnect_carries_the_resume_token() -> None:
    machine = ProxyConnection(*PROXY_KEY, resume_token=TOKEN)
    authenticated(machine)
    machine.backend_lost(0.0)  # idle: reconnect on the next request
    actions = machine.client_data(query("SELECT 1"))
    assert any(isinstance(a, ConnectBackend) for a in actions)
    resumed = sent(machine.backend_connected(), ToBackend)
    assert cstr(RESUME_PARAMETER) + cstr(TOKEN) in resumed and b"user\x00ann\x00" in resumed
    assert struct.unpack("!i", resumed[:4])[0] == len(resumed)
    assert sent(machine.backend_data(handshake(8)), ToBackend) == query("SELECT 1")  # then the request


def test_a_resumed_session_asked_for_a_password_is_not_restored() -> None:
    machine = ProxyConnection(*PROXY_KEY, resume_token=TOKEN)
    authenticated(machine)
    machine.backend_lost(0.0)
    machine.client_data(query("SELECT 1"))
    machine.backend_connected()
    actions = machine.backend_data(sasl(10, cstr("SCRAM-SHA-256") + b"\x00"))
    assert any(isinstance(a, CloseClient) for a in actions) and b"08006" in sent(actions, ToClient)


def test_losing_the_coordinator_mid_authentication_ends_the_connection() -> None:
    machine = ProxyConnection(*PROXY_KEY, resume_token=TOKEN)
    machine.client_data(startup("ann"))
    machine.backend_connected()
    machine.backend_data(sasl(10, cstr("SCRAM-SHA-256") + b"\x00"))
    actions = machine.backend_lost(0.0)
    assert any(isinstance(a, CloseClient) for a in actions)
    assert not any(isinstance(a, ConnectBackend) for a in actions)  # the exchange cannot be restarted


def test_tls_is_accepted_and_plaintext_before_the_handshake_refused() -> None:
    machine = ProxyConnection(*PROXY_KEY, tls=True)
    actions = machine.client_data(SSL_REQUEST)
    assert sent(actions, ToClient) == b"S" and isinstance(actions[-1], StartTls)
    smuggled = ProxyConnection(*PROXY_KEY, tls=True)
    actions = smuggled.client_data(SSL_REQUEST + startup())
    assert b"08P01" in sent(actions, ToClient) and any(isinstance(a, CloseClient) for a in actions)
    assert not any(isinstance(a, StartTls) for a in actions)
    assert sent(ProxyConnection(*PROXY_KEY).client_data(SSL_REQUEST), ToClient) == b"N"  # no TLS configured


def test_plaintext_is_refused_where_tls_is_required() -> None:
    machine = ProxyConnection(*PROXY_KEY, tls=True, require_tls=True)
    actions = machine.client_data(startup())
    assert b"28000" in sent(actions, ToClient) and not any(isinstance(a, ConnectBackend) for a in actions)
    encrypted = ProxyConnection(*PROXY_KEY, tls=True, require_tls=True)
    encrypted.client_data(SSL_REQUEST)
    assert any(isinstance(a, ConnectBackend) for a in encrypted.client_data(startup()))


def test_a_connection_past_max_connections_is_told_after_its_startup() -> None:
    machine = ProxyConnection(*PROXY_KEY, tls=True)
    machine.refusal = TooManyConnections("sorry, too many clients already")
    assert sent(machine.client_data(SSL_REQUEST), ToClient) == b"S"
    actions = machine.client_data(startup())
    assert b"53300" in sent(actions, ToClient) and b"SFATAL" in sent(actions, ToClient)
    assert not any(isinstance(a, ConnectBackend) for a in actions)
