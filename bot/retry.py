"""Retry transient failures with exponential backoff and jitter, honouring Retry-After."""

from __future__ import annotations

import logging
import math
import random
import re
import time
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Callable, TypeVar

from bot.errors import Transient

logger = logging.getLogger(__name__)

T = TypeVar("T")

BASE_DELAY = 1.0  # seconds before the first retry, at most
MAX_DELAY = 60.0  # no single wait is longer, whatever Retry-After says
MAX_RETRY_AFTER = 86400.0  # a server's word is taken for a day at most; a turn's deadline stops waiting far sooner
DELTA_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")  # RFC 9110's delta-seconds, and the fractions some servers send
RATE_LIMIT_PATIENCE = 64.0  # a 429 without Retry-After: the waits add up to a little over a minute, past a per-minute limit
RATE_LIMIT_JITTER = 0.25  # those waits are stretched by up to this share, so turns limited together do not retry together


def with_retries(call: Callable[[], T], retries: int, what: str, sleep: Callable[[float], None] = time.sleep,
                 deadline: float | None = None) -> T:
    """Call, retrying up to `retries` times on Transient; anything else, the last failure, or a failure whose wait would
    end past `deadline` (a time.monotonic() value) propagates. With a deadline, a long Retry-After is waited out."""
    for attempt in range(retries + 1):
        try:
            return call()
        except Transient as error:
            delay = backoff(attempt, error, retries, MAX_DELAY if deadline is None else math.inf)
            if attempt == retries or (deadline is not None and time.monotonic() + delay > deadline):
                raise
            logger.warning("%s failed, retrying in %.1fs: %s", what, delay, error, extra={"attempt": attempt + 1})
            sleep(delay)
    raise AssertionError("unreachable")


def retry_after(value: object) -> float | None:
    """A Retry-After in seconds, at most MAX_RETRY_AFTER: delta-seconds (a header's text, or a number such as Telegram's
    retry_after field) or an HTTP date; None when absent or anything else (nan, inf, negative, words)."""
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    if DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if moment.tzinfo is None:  # HTTP dates are in GMT; parsedate leaves a date without a zone naive
        moment = moment.replace(tzinfo=timezone.utc)
    return min(max(0.0, moment.timestamp() - time.time()), MAX_RETRY_AFTER)


def backoff(attempt: int, error: Transient, retries: int, longest: float = MAX_DELAY) -> float:
    """The wait before retry number `attempt + 1` of `retries`: the server's word if it gave one (up to `longest`), a
    minute spread over the retries for a rate limit that gave none, else jittered doubling."""
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), longest)
    if error.kind == "rate_limited":
        return rate_limit_wait(attempt, retries) * random.uniform(1, 1 + RATE_LIMIT_JITTER)
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt))


def rate_limit_wait(attempt: int, retries: int) -> float:
    """Before jitter, the wait before retry number `attempt + 1` after a 429 without Retry-After: doubling waits that
    add up to RATE_LIMIT_PATIENCE over all `retries`, so a per-minute limit has passed by the last one."""
    return RATE_LIMIT_PATIENCE * 2**attempt / (2**retries - 1)
