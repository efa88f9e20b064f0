"""Every platform's API answer is read through one helper: a body that is not a JSON object (a proxy's error page,
`"Bad Gateway"`, `null`, a list) is a Transient or a Permanent error as its status says, never a crash."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from bot.errors import Permanent, Transient
from bot.messages import Reply
from tests.fakes import Canned, FakePlatform
from tests.helpers import Bot

CONTEXTS = {  # what each platform's send needs of the user's message
    "telegram": {"chat_id": 1, "chat_type": "private", "message_id": 1},
    "slack": {"channel": "D1"},
    "whatsapp": {"phone_number_id": "106540352242922", "target": {"to": "16505551234"}},
    "messenger": {"psid": "24563218947"},
    "twilio": {"from": "+15551230000", "to": "+15559870000"},
    "line": {"to": "U4af4980629", "timestamp": 0},
    "webhook": {"user_id": "u-7", "in_reply_to": "msg_1"},
}
PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
NOT_OBJECTS = [Canned(raw=PAGE), Canned(body="Bad Gateway"), Canned(body=None), Canned(body=["Bad Gateway"])]


@pytest.fixture
def api() -> Iterator[FakePlatform]:
    """Every platform's API but Telegram's, behind one fake: each test scripts its answer."""
    server = FakePlatform().start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings, api, telegram):
    return Bot({
        **settings, "TELEGRAM_API_URL": api.url,
        "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "slack-secret", "SLACK_API_URL": api.url,
        **{f"{meta}_{name}": "x" for meta in ("WHATSAPP", "MESSENGER") for name in ("APP_SECRET", "VERIFY_TOKEN")},
        "WHATSAPP_ACCESS_TOKEN": "wa-token", "WHATSAPP_API_URL": api.url,
        "MESSENGER_PAGE_ACCESS_TOKEN": "page-token", "MESSENGER_API_URL": api.url,
        "TWILIO_ACCOUNT_SID": "AC0123", "TWILIO_AUTH_TOKEN": "twilio-token", "TWILIO_API_URL": api.url,
        "LINE_CHANNEL_SECRET": "line-secret", "LINE_CHANNEL_ACCESS_TOKEN": "line-token", "LINE_API_URL": api.url,
        "GENERIC_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "GENERIC_CALLBACK_URL": f"{api.url}/replies",
        "GENERIC_CALLBACK_ALLOWLIST": "127.0.0.1",
    })


def _send(bot: Bot, platform: str) -> None:
    reply = Reply(platform, "c1", "hi", "hi", key=f"k{time.monotonic_ns()}", context=CONTEXTS[platform])
    bot.rt.channels[platform].send(reply)


def test_every_platform_that_sends_is_covered(bot):
    assert set(bot.rt.channels) - {"webchat"} == set(CONTEXTS)  # the chat page calls no API


@pytest.mark.parametrize("answer", NOT_OBJECTS, ids=["html", "string", "null", "list"])
@pytest.mark.parametrize("status, error", [(502, Transient), (429, Transient), (403, Permanent)])
@pytest.mark.parametrize("platform", CONTEXTS)
def test_a_refusal_that_is_not_a_json_object_is_an_error_as_its_status_says(bot, api, platform, status, error, answer):
    api.then(Canned(status, answer.body, raw=answer.raw))
    with pytest.raises(error):
        _send(bot, platform)


@pytest.mark.parametrize("answer", NOT_OBJECTS, ids=["html", "string", "null", "list"])
@pytest.mark.parametrize("platform", ["telegram", "slack"])
def test_a_success_without_the_api_s_own_answer_is_permanent_and_names_the_setting(bot, api, platform, answer):
    api.then(Canned(200, answer.body, raw=answer.raw))
    with pytest.raises(Permanent, match=f"{platform.upper()}_"):
        _send(bot, platform)
