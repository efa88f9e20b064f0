"""Signed events older than the platform's dedupe horizon: acknowledged, counted, never answered, nothing stored.

After the horizon the event's id may be forgotten, so a replay (or a very late retry) would be answered again.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from handlers.platforms.registry import ADAPTERS
from tests.conftest import TELEGRAM_SECRET
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, stored
from tests.vendors import LINE_SECRET, SLACK_SECRET, signed_headers

PLATFORMS = {
    "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": SLACK_SECRET,
    "WHATSAPP_ACCESS_TOKEN": "wa-token", "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
    "MESSENGER_PAGE_ACCESS_TOKEN": "fb-token", "MESSENGER_APP_SECRET": APP_SECRET, "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN,
    "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": "line-token", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
}

# Where each platform dates an event (platforms.md): sets it to `at`, Unix seconds. Twilio gives no time, the generic
# webhook's signed timestamp is already held to 5 minutes, the chat page's is the browser's.
DATED: dict[str, Callable[[dict[str, Any], float], None]] = {
    "telegram": lambda body, at: body["message"].update(date=int(at)),
    "slack": lambda body, at: body.update(event_time=int(at)),
    "whatsapp": lambda body, at: body["entry"][0]["changes"][0]["value"]["messages"][0].update(timestamp=str(int(at))),
    "messenger": lambda body, at: body["entry"][0]["messaging"][0].update(timestamp=int(at * 1000)),
    "line": lambda body, at: body["events"][0].update(timestamp=int(at * 1000)),
}


@pytest.fixture
def bot(settings) -> Bot:
    return Bot({**settings, **PLATFORMS})


def post_dated(app, platform: str, age: float):
    """A genuine text event of `platform`, sent `age` seconds ago."""
    _, raw = app.extensions["bot"].channels[platform].sample(f"http://localhost/webhooks/{platform}", "hello")
    body = json.loads(raw)
    DATED[platform](body, time.time() - age)
    raw = json.dumps(body).encode()
    return app.test_client().post(f"/webhooks/{platform}", data=raw, headers=signed_headers(platform, raw))


def stale_count(app, platform: str) -> float:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "chatbot_stale_events_total" and sample.labels.get("platform") == platform)


@pytest.mark.parametrize("platform", sorted(DATED))
def test_an_event_older_than_the_dedupe_horizon_is_acknowledged_counted_and_not_answered(app, redis, platform):
    response = post_dated(app, platform, ADAPTERS[platform].dedupe_ttl + 60)
    assert response.status_code == 200
    assert stored(redis) == []
    assert stale_count(app, platform) == 1


@pytest.mark.parametrize("platform", sorted(DATED))
def test_an_event_within_the_horizon_is_answered(app, redis, platform):
    assert post_dated(app, platform, ADAPTERS[platform].dedupe_ttl - 60).status_code == 200
    assert redis.keys("bot:inbox:*")
    assert stale_count(app, platform) == 0


def test_a_line_event_dated_2001_is_not_answered(app, redis):
    assert post_dated(app, "line", time.time() - 1_000_000_000).status_code == 200  # 2001-09-09
    assert stored(redis) == []


def test_a_time_no_clock_reaches_is_400(app, redis):
    assert post_dated(app, "line", -(2**60)).status_code == 400
    assert redis.keys("bot:inbox:*") == []
