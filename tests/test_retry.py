"""Retries: how long they wait, and that no wait outlasts the turn's deadline."""

from __future__ import annotations

import time

import pytest

from bot.errors import Transient
from bot.retry import MAX_RETRY_AFTER, backoff, rate_limit_wait, retry_after, with_retries


def rate_limited() -> Transient:
    return Transient("LLM answered 429", None, "rate_limited")  # LiteLLM's rate limiter sends no Retry-After


def limited_call(calls: list[int]):
    def call() -> None:
        calls.append(1)
        raise rate_limited()
    return call


@pytest.mark.parametrize("retries", [1, 2, 3, 5, 8])
def test_a_429_without_retry_after_waits_past_a_per_minute_limit(retries):
    waits = [rate_limit_wait(attempt, retries) for attempt in range(retries)]
    assert sum(waits) > 60 and waits == sorted(waits)
    jittered = [backoff(attempt, rate_limited(), retries) for attempt in range(retries)]
    assert all(wait <= stretched <= 1.25 * wait for wait, stretched in zip(waits, jittered))


def test_retry_after_wins_and_other_failures_keep_short_waits():
    assert backoff(0, Transient("429", 7.0, "rate_limited"), 3) == 7.0
    assert all(backoff(attempt, Transient("500", None, "server"), 3) <= 2**attempt for attempt in range(3))


def test_the_default_retries_of_a_rate_limited_call_outlast_a_minute():
    calls, waits = [], []
    with pytest.raises(Transient):
        with_retries(limited_call(calls), 3, "LLM call", sleep=waits.append)
    assert len(calls) == 4 and sum(waits) > 60


def test_no_wait_ends_past_the_deadline_the_last_failure_propagates():
    calls, waits = [], []
    # with 3 retries the waits are about 9, 18 and 37 s (up to a quarter more): the first fits in 15 s, the second not
    with pytest.raises(Transient, match="429"):
        with_retries(limited_call(calls), 3, "LLM call", sleep=waits.append, deadline=time.monotonic() + 15)
    assert len(calls) == 2 and len(waits) == 1 and waits[0] <= 15


def test_a_deadline_bounds_only_the_waits():
    assert with_retries(lambda: "ok", 3, "LLM call", sleep=lambda seconds: None, deadline=time.monotonic() - 1) == "ok"


def test_with_a_deadline_a_retry_after_longer_than_a_minute_is_waited_out():
    calls, waits = [], []

    def flood_control() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Transient("Telegram sendMessage failed (429)", retry_after=300.0)
        return "sent"

    assert with_retries(flood_control, 3, "delivery", sleep=waits.append, deadline=time.monotonic() + 600) == "sent"
    assert waits == [300.0]
    calls.clear()
    with_retries(flood_control, 3, "delivery", sleep=waits.append)  # no deadline: capped, as before
    assert waits[-1] == 60.0


RETRY_AFTER_VALUES = {
    "delta-seconds": ("120", 120.0),
    "a fraction": (" 1.5 ", 1.5),
    "Telegram's number": (3, 3.0),
    "an HTTP date past": ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    "absent": (None, None),
    "not a number": ("nan", None),
    "Telegram's NaN": (float("nan"), None),
    "infinite": ("inf", None),
    "infinite number": (float("inf"), None),
    "negative": ("-5", None),
    "exponent": ("1e3", None),
    "other digits": ("\u0661\u0662", None),
    "a word": ("soon", None),
    "a boolean": (True, None),
    "a list": ([5], None),
    "huge": ("9" * 400, MAX_RETRY_AFTER),
}


@pytest.mark.parametrize("value, seconds", RETRY_AFTER_VALUES.values(), ids=RETRY_AFTER_VALUES.keys())
def test_retry_after_is_a_finite_non_negative_capped_number_or_none(value, seconds):
    assert retry_after(value) == seconds


def test_an_http_date_ahead_is_the_seconds_until_it():
    ahead = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))
    assert 3590 < retry_after(ahead) <= 3600
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT") == MAX_RETRY_AFTER
