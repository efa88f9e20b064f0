"""Downloads bounded before they complete: a file over the limit stops at the limit, or before its first byte."""

from __future__ import annotations

import requests
from urllib3.exceptions import HTTPError

from bot.errors import Permanent, Transient

CHUNK = 64 * 1024


class TooLarge(Permanent):
    """A file over MEDIA_MAX_BYTES, or audio over AUDIO_MAX_SECONDS: the user is told, nothing more is read."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="media_limit")


def check_size(size: int | None, limit: int) -> None:
    """Refuse a file whose declared size is over `limit`."""
    if size is not None and size > limit:
        raise TooLarge(f"a file of {size} bytes, over MEDIA_MAX_BYTES ({limit})")


def read_limited(response: requests.Response, limit: int) -> bytes:
    """The body of a streamed response, refused as soon as it (or its Content-Length) passes `limit`.

    No read asks for more than one byte past the limit: a body of undeclared size is never waited on, nor read, beyond it.
    """
    with response:
        declared = response.headers.get("Content-Length", "")
        check_size(int(declared) if declared.isdigit() else None, limit)
        data = bytearray()
        try:
            while chunk := response.raw.read(min(CHUNK, limit + 1 - len(data)), decode_content=True):
                data += chunk
                check_size(len(data), limit)
        except HTTPError as error:  # the connection broke or stalled mid-body: worth another try
            raise Transient(f"media download cut off ({type(error).__name__})") from None
        return bytes(data)


def refused(platform: str, response: requests.Response) -> Permanent | None:
    """A download the platform refused (404: gone or expired), else None; 429 and 5xx are the caller's Transient."""
    if response.ok or response.status_code == 429 or response.status_code >= 500:
        return None
    response.close()
    return Permanent(f"{platform} refused the media download (HTTP {response.status_code})", kind="media_refused")


class Unreadable(Permanent):
    """A file of a kind the bot cannot read (a video, an AMR voice note, a broken PDF): the user is told so."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="media_unreadable")
