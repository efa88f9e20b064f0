"""Retry transient failures with exponential backoff and full jitter, honouring Retry-After."""

from __future__ import annotations

import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import Callable, TypeVar

from bot.errors import Transient

logger = logging.getLogger(__name__)

T = TypeVar("T")

BASE_DELAY = 1.0  # seconds before the first retry, at most
MAX_DELAY = 60.0  # no single wait is longer, whatever Retry-After says


def with_retries(call: Callable[[], T], retries: int, what: str, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call, retrying up to `retries` times on Transient; anything else, or the last failure, propagates."""
    for attempt in range(retries + 1):
        try:
            return call()
        except Transient as error:
            if attempt == retries:
                raise
            delay = backoff(attempt, error.retry_after)
            logger.warning("%s failed, retrying in %.1fs: %s", what, delay, error, extra={"attempt": attempt + 1})
            sleep(delay)
    raise AssertionError("unreachable")


def retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds, from either of its forms (seconds, or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def backoff(attempt: int, retry_after: float | None) -> float:
    """The wait before retry number `attempt + 1`: the server's word if it gave one, else jittered doubling."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_DELAY)
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt))
