"""``testing.ports``: the ports tests hand to servers they start are free and outside the kernel's ephemeral range."""

from __future__ import annotations

import socket

import pytest

from steadystate.testing import ports


def test_a_picked_port_is_free_and_below_the_ephemeral_range() -> None:
    start = ports.ephemeral_start()
    for _ in range(20):
        port = ports.free_port()
        assert ports.LOWEST <= port < start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # fails if the port was not free


def test_a_port_in_use_is_not_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        monkeypatch.setattr(ports, "LOWEST", taken)
        monkeypatch.setattr(ports, "ephemeral_start", lambda: taken + 1_000)
        picks = {ports.free_port() for _ in range(50)}
    assert taken not in picks
    assert all(taken < port < taken + 1_000 for port in picks)
