"""Media downloads from platform APIs: streamed, bounded by bot.media.fetch, failures mapped onto the bot's errors."""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urljoin

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from bot.errors import Permanent, Transient
from bot.media.fetch import read_limited, refused
from handlers.platforms import http
from handlers.platforms.http import PlatformAPI

Refusal = Callable[[str], "str | None"]  # why a URL may not be fetched, or None


def fetch(api: PlatformAPI, url: str, limit: int, headers: dict[str, str] | None = None, *, auth: Any = None,
          hops: Refusal | None = None) -> bytes:
    """GET a file of at most `limit` bytes; Transient on 202, 429 and 5xx, Permanent on other refusals (404: expired).

    Redirects are followed as requests follows them, which drops the Authorization header (and `auth`) on a hop to
    another host; with `hops`, the URL and every redirect's target must pass it before a request goes there.
    """
    if hops and (reason := hops(url)):
        raise Permanent(reason, kind="media_refused")
    guard = {"response": _guarded(hops)} if hops else None
    response = api.request("GET", url, stream=True, headers=headers or {}, auth=auth, hooks=guard)
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


def host_of(url: str) -> str:
    """The host requests connects to for `url`, in lower case ("" if none): read as urllib3 reads it, since urlsplit
    reads another host in some URLs ("https://elsewhere\\@files.slack.com/" is elsewhere to requests)."""
    try:
        return (parse_url(url).host or "").lower()
    except LocationParseError:
        return ""


def _guarded(hops: Refusal) -> Callable[..., requests.Response]:
    """A response hook that stops a redirect before requests follows it to a URL `hops` refuses."""
    def check(response: requests.Response, **kwargs: Any) -> requests.Response:
        target = urljoin(response.url, response.headers.get("Location", "")) if response.is_redirect else ""
        if target and (reason := hops(target)):
            response.close()
            raise Permanent(f"media redirect refused: {reason}", kind="media_refused")
        return response
    return check
