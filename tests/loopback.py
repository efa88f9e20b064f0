"""What the tests and the benches may reach: loopback only. In-process sockets are refused any other address, and the
processes started afterwards get a proxy that refuses every connection not bound for loopback."""

from __future__ import annotations

import os
import socket

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: any non-loopback request fails
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_real_connect = socket.socket.connect


def install() -> None:
    """Refuse every connection outside loopback, from this process and from the processes it starts."""
    os.environ.update(HTTP_PROXY=DEAD_PROXY, HTTPS_PROXY=DEAD_PROXY, NO_PROXY="127.0.0.1,localhost")
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]


def _loopback_only(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]  # type: ignore[index]
        if host not in LOOPBACK:
            raise AssertionError(f"test tried to reach the network: {address}")
    return _real_connect(self, address)
