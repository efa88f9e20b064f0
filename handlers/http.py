"""Outbound calls to platform APIs: always with a timeout, failures mapped onto the bot's errors."""

from __future__ import annotations

import requests

from bot.errors import Transient


class PlatformAPI:
    """A small HTTP client for one platform's API."""

    def __init__(self, platform: str, timeout: float) -> None:
        self.platform = platform
        self.timeout = timeout
        self.session = requests.Session()

    def post(self, url: str, **kwargs: object) -> requests.Response:
        """POST, raising Transient on timeouts and connection errors.

        The message never includes the URL: some platforms put the bot's token in it.
        """
        try:
            return self.session.post(url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise Transient(f"{self.platform} API timed out") from None
        except requests.ConnectionError:
            raise Transient(f"{self.platform} API unreachable") from None
