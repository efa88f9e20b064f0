"""Outbound calls to platform APIs: always with a timeout, failures mapped onto the bot's errors."""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bot.errors import Transient, Unconfirmed
from bot.retry import retry_after


class PlatformAPI:
    """A small HTTP client for one platform's API."""

    def __init__(self, platform: str, timeout: float, connections: int = 10) -> None:
        self.platform = platform
        self.timeout = timeout
        self.session = requests.Session()
        # Trusting the environment, requests reads it again on every call (the proxy variables, then ~/.netrc on
        # disk): about 0.35 ms of CPU a call. Read once here; only a proxy needs it per call, for NO_PROXY.
        self.session.trust_env = bool(urllib.request.getproxies())
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # Keep a connection for each turn that may call at once (a worker's slots): past requests' default of 10,
        # every call opened a new connection (and TLS handshake) and logged "Connection pool is full".
        adapter = HTTPAdapter(pool_maxsize=max(10, connections))
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
