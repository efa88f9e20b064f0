"""Media downloads from platform APIs: streamed, bounded by bot.media.fetch, failures mapped onto the bot's errors."""

from __future__ import annotations

from bot.errors import Transient
from bot.media.fetch import read_limited, refused
from handlers.platforms import http
from handlers.platforms.http import PlatformAPI


def fetch(api: PlatformAPI, url: str, limit: int, headers: dict[str, str] | None = None) -> bytes:
    """GET a file of at most `limit` bytes; Transient on 202, 429 and 5xx, Permanent on other refusals (404: expired)."""
    response = api.request("GET", url, stream=True, headers=headers or {})
    if http.retryable(response):
        response.close()
        raise http.transient(response, f"{api.platform} media download answered {response.status_code}")
    if response.status_code == 202:  # LINE's answer while it still converts the content: ready soon
        response.close()
        raise Transient(f"{api.platform} media not ready yet (HTTP 202)")
    problem = refused(api.platform, response)
    if problem:
        raise problem
    return read_limited(response, limit)
