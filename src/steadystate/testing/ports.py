"""Ports for servers a test starts as other processes: picked where the kernel never assigns ports by itself.

A test that starts ``steadystate serve`` (or PostgreSQL) must name its ports up front, so it picks free ones and
the server binds them a moment later.  Picking with ``bind(("127.0.0.1", 0))`` hands out a port from the kernel's
*ephemeral* range (``/proc/sys/net/ipv4/ip_local_port_range``), the same range every replica process and every
outgoing connection draws from; between the pick and the server's bind, a replica of another test running in
parallel could be given that very port, and the test would then talk to the replica.  So :func:`free_port` picks
at random below that range (ports 10000 up to its start, which nothing assigns implicitly) and checks the pick by
binding it.  Two tests can still pick the same port at the same moment; the caller then sees the server fail to
bind and retries, and checks it reached *its* server (``tests/e2e/conftest.py`` compares the pid the server
writes to its data directory).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10_000  # below this, well-known services of the machine may listen
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_DEFAULT_EPHEMERAL_START = 32_768  # Linux's default, when the range cannot be read


def ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range."""
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def free_port(host: str = "127.0.0.1", *, attempts: int = 200) -> int:
    """A port on ``host`` no socket is bound to now, outside the ephemeral range where the machine allows it."""
    start = ephemeral_start()
    if start - LOWEST >= 1_000:
        for _ in range(attempts):
            port = random.randrange(LOWEST, start)
            if _bindable(host, port):
                return port
    with socket.socket() as sock:  # no room below the range (or all tried were taken): let the kernel pick
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
