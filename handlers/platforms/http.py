"""Outbound calls to platform APIs: always with a timeout, failures mapped onto the bot's errors."""

from __future__ import annotations

import os
import socket
import urllib.request
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util import Url

from bot.errors import Permanent, Transient, Unconfirmed
from bot.retry import retry_after

# (where a connection went: scheme, host and port; the address its host resolved to) -> why not talk to it, or None
PeerRefusal = Callable[[Url, str], "str | None"]


class PlatformAPI:
    """A small HTTP client for one platform's API; with `peer_refusal`, each connection checks the address it reached."""

    def __init__(self, platform: str, timeout: float, connections: int = 10, peer_refusal: PeerRefusal | None = None) -> None:
        self.platform = platform
        self.timeout = timeout
        self.session = requests.Session()
        # Trusting the environment, requests reads it again on every call (the proxy variables, then ~/.netrc on
        # disk): about 0.35 ms of CPU a call. Read once here; only a proxy needs it per call, for NO_PROXY.
        self.session.trust_env = bool(urllib.request.getproxies())
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # Keep a connection for each turn that may call at once (a worker's slots): past requests' default of 10,
        # every call opened a new connection (and TLS handshake) and logged "Connection pool is full".
        pool_maxsize = max(10, connections)
        adapter = (CheckedAdapter(peer_refusal, pool_maxsize=pool_maxsize) if peer_refusal
                   else HTTPAdapter(pool_maxsize=pool_maxsize))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def post(self, url: str, **kwargs: object) -> requests.Response:
        """POST, raising Transient on timeouts and connection errors."""
        return self.request("POST", url, **kwargs)

    def request(self, method: str, url: str, timeout: float | None = None, **kwargs: object) -> requests.Response:
        """Any HTTP method, raising Transient on timeouts and connection errors; `timeout` overrides the platform's.

        The message never includes the URL: some platforms put the bot's token in it.
        """
        try:
            return self.session.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except requests.ReadTimeout:  # sent, and perhaps carried out: only the answer is missing
            raise Unconfirmed(f"{self.platform} API did not answer within {timeout or self.timeout:g} s") from None
        except requests.Timeout:
            raise Transient(f"{self.platform} API timed out connecting") from None
        except requests.ConnectionError:
            raise Transient(f"{self.platform} API unreachable") from None


class CheckedAdapter(HTTPAdapter):
    """An adapter whose connections check the address they reached, once connected and before a byte is sent: so no
    DNS answer can differ from the address checked. (Through a proxy the proxy resolves names, and nothing is checked.)"""

    def __init__(self, refusal: PeerRefusal, **kwargs: Any) -> None:
        self.refusal = refusal  # before HTTPAdapter's __init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pools = self.poolmanager.pool_classes_by_scheme
        self.poolmanager.pool_classes_by_scheme = {
            scheme: type(pool.__name__, (pool,), {"ConnectionCls": _checked(pool.ConnectionCls, self.refusal)})
            for scheme, pool in pools.items()}


def _checked(connection: type[HTTPConnection], refusal: PeerRefusal) -> type[HTTPConnection]:
    """urllib3's `connection` class, closing a connection whose peer `refusal` objects to with a Permanent error."""

    class Checked(connection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            scheme = "https" if isinstance(self, HTTPSConnection) else "http"
            reason = refusal(Url(scheme, host=self.host, port=self.port), sock.getpeername()[0])
            if reason:
                sock.close()
                raise Permanent(reason)
            return sock

    return Checked


def retryable(response: requests.Response) -> bool:
    """Worth trying again: rate limited, or the platform's own failure."""
    return response.status_code == 429 or response.status_code >= 500


def transient(response: requests.Response, detail: str) -> Transient:
    """A Transient error that waits as long as the response's Retry-After asks."""
    return Transient(detail, retry_after=retry_after(response.headers.get("Retry-After")))


def json_body(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when it has none (a proxy's HTML error page, say)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
