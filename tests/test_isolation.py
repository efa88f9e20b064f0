"""The test suite's own guard: nothing may reach the internet."""

from __future__ import annotations

import socket

import pytest
import requests


def test_a_socket_to_a_public_address_fails():
    with pytest.raises(AssertionError, match="reach the network"):
        socket.create_connection(("1.1.1.1", 443), timeout=1)


def test_http_clients_in_tests_and_workers_go_through_a_dead_proxy():
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get("https://api.telegram.org", timeout=2)
