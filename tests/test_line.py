"""LINE end to end: signed webhook -> Redis -> RQ worker -> LLM fake -> LINE API fake."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any, Iterator

import pytest
from linebot.v3 import webhooks as line_sdk

from bot import keys
from bot.ops import ledger
from bot.render.format import utf16_len
from handlers.platforms.line import signature
from tests.fakes import Call, Canned, FakePlatform, completion, line_content
from tests.helpers import Bot, dead_letters, stored
from tests.samples_media import png
from tests.vendors import LINE_SECRET, line_signature, post_line

TOKEN = "line-test-channel-access-token"
BOT = "U0000000000000000000000000000b0t"
USER = "U206d25c2ea6bd87c17655609a1c37cb8"
OTHER_USER = "U5555555555555555555555555555555"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"
ROOM = "Ra8dbf4673c4c812cd491258042226c99"
STALE = 300  # seconds: long past a reply token's life

_ids = itertools.count(1)


@pytest.fixture
def line() -> Iterator[FakePlatform]:
    """LINE's Messaging API; loading indicators come at any time, so they never take scripted answers."""
    fake = FakePlatform(
        defaults={"push": Canned(body={"sentMessages": [{"id": "1", "quoteToken": "q"}]}), "start": Canned(202, {})},
        scripted=lambda call: call.method != "start",
    )
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def bot(settings: dict[str, str], line: FakePlatform):
    return Bot({**settings, "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                "LINE_API_URL": line.url, "PLATFORM_MAX_RETRIES": "1"})


def event(text: str = "hello", *, source: line_sdk.Source | None = None, age: float = 0.0, event_id: str | None = None,
          redelivery: bool = False, message: line_sdk.MessageContent | None = None) -> dict[str, Any]:
    """A message event (text unless `message` says otherwise) sent `age` seconds ago, as line-bot-sdk's models write it."""
    n = next(_ids)
    return line_sdk.MessageEvent(
        mode=line_sdk.EventMode.ACTIVE, timestamp=int((time.time() - age) * 1000),
        source=source or line_sdk.UserSource(user_id=USER), webhook_event_id=event_id or f"01JTEST{n:019d}",
        delivery_context=line_sdk.DeliveryContext(is_redelivery=redelivery), reply_token=f"reply-token-{n}",
        message=message or line_sdk.TextMessageContent(id=str(325708 + n), text=text, quote_token=f"quote-{n}"),
    ).to_dict()


def webhook(*events: dict[str, Any]) -> bytes:
    """The body LINE POSTs: the bot's own id and the events."""
    return json.dumps({"destination": BOT, "events": list(events)}).encode()


def sent(line: FakePlatform, method: str) -> list[Call]:
    """The calls to one endpoint: reply, push or (loading) start."""
    return [call for call in line.requests if call.method == method]


def message_texts(calls: list[Call]) -> list[str]:
    """The text of every message in these calls, in order."""
    return [message["text"] for call in calls for message in call.body["messages"]]


def line_error(status: int, message: str, headers: dict[str, str] | None = None) -> Canned:
    """An error answer of LINE's API."""
    return Canned(status, {"message": message}, headers or {})



def test_the_signature_matches_the_line_sdk_vector():
    assert signature("channel_secret", b"bodybodybodybody") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


def test_the_consoles_verify_request_is_200_and_stores_nothing(client, redis, run_worker, line):
    response = post_line(client, json.dumps({"destination": BOT, "events": []}).encode())
    assert response.status_code == 200
    assert redis.keys("*") == []  # no message, no turn job
    run_worker()
    assert line.requests == []


def test_missing_wrong_or_tampered_signatures_are_refused_and_nothing_is_stored(client, redis, line):
    raw = webhook(event("hi"))
    assert post_line(client, raw, headers={}).status_code == 401
    wrong = post_line(client, raw, headers={"x-line-signature": line_signature(raw, "another-secret")})
    assert wrong.status_code == 403
    assert "x-line-signature" in wrong.get_json()["error"]
    tampered = raw.replace(b'"hi"', b'"HI"')
    assert post_line(client, tampered, headers={"x-line-signature": line_signature(raw)}).status_code == 403
    assert redis.keys("*") == []


def test_a_fresh_message_gets_exactly_one_reply_with_its_reply_token(client, run_worker, llm, line):
    payload = event("hello bot")
    assert post_line(client, webhook(payload)).status_code == 200
    run_worker()
    (reply,) = sent(line, "reply")
    assert reply.body == {"replyToken": payload["replyToken"], "messages": [{"type": "text", "text": "LLM: hello bot"}]}
    assert sent(line, "push") == []
    assert all(call.headers["Authorization"] == f"Bearer {TOKEN}" for call in line.requests)
    assert llm.completions[0]["messages"][-1] == {"role": "user", "content": "hello bot"}


def test_the_loading_indicator_shows_in_one_to_one_chats(client, run_worker, line):
    post_line(client, webhook(event("hi")))
    run_worker()
    methods = [call.method for call in line.requests]
    assert methods.index("start") < methods.index("reply")
    assert sent(line, "start")[0].body == {"chatId": USER, "loadingSeconds": 20}


def test_a_stale_message_is_pushed_with_a_retry_key(client, run_worker, line):
    post_line(client, webhook(event("are you there?", age=STALE)))
    run_worker()
    assert sent(line, "reply") == []
    (push,) = sent(line, "push")
    assert push.body == {"to": USER, "messages": [{"type": "text", "text": "LLM: are you there?"}]}
    assert uuid.UUID(push.headers["X-Line-Retry-Key"]).version == 5


def test_a_long_reply_uses_the_token_once_then_pushes_each_part_with_its_own_key(client, run_worker, llm, line):
    words = [f"w{i}\U0001F600" for i in range(1500)]  # ~10.9k UTF-16 units, ~9.4k code points
    llm.then(Canned(body=completion(" ".join(words))))
    post_line(client, webhook(event("write a lot")))
    run_worker()
    replies, pushes = sent(line, "reply"), sent(line, "push")
    parts = message_texts(replies) + message_texts(pushes)
    assert len(replies) == 1 and len(pushes) == 2
    assert all(utf16_len(part) <= 5000 for part in parts)
    assert " ".join(parts).split() == words
    retry_keys = {push.headers["X-Line-Retry-Key"] for push in pushes}
    assert len(retry_keys) == 2


def test_a_refused_reply_token_falls_back_to_one_push(client, run_worker, redis, line):
    line.then(line_error(400, "Invalid reply token"))
    post_line(client, webhook(event("hi")))
    run_worker()
    assert len(sent(line, "reply")) == 1
    assert message_texts(sent(line, "push")) == ["LLM: hi"]
    assert dead_letters(redis) == []


def test_a_push_answered_409_was_already_accepted_and_counts_as_delivered(client, run_worker, redis, line):
    line.then(line_error(409, "The retry key is already accepted", {"X-Line-Accepted-Request-Id": "abc-123"}))
    post_line(client, webhook(event("remember me", age=STALE)))
    run_worker()
    assert len(sent(line, "push")) == 1
    assert dead_letters(redis) == []
    assert redis.llen(keys.history(f"line:user:{USER}")) == 2  # delivered turns join the history


def test_a_redelivered_event_is_answered_once(client, run_worker, line):
    first = event("only once", event_id="01JREDELIVERED000000000000")
    again = {**first, "deliveryContext": {"isRedelivery": True}}
    assert post_line(client, webhook(first)).status_code == 200
    assert post_line(client, webhook(again)).status_code == 200
    run_worker()
    assert message_texts(sent(line, "reply") + sent(line, "push")) == ["LLM: only once"]


@pytest.mark.parametrize("source, chat", [
    (line_sdk.GroupSource(group_id=GROUP, user_id=USER), GROUP),
    (line_sdk.RoomSource(room_id=ROOM, user_id=USER), ROOM),
])
def test_group_and_room_messages_go_to_the_chat_without_a_loading_indicator(client, run_worker, redis, line, source, chat):
    post_line(client, webhook(event("hi all", source=source, age=STALE)))
    run_worker()
    (push,) = sent(line, "push")
    assert push.body["to"] == chat
    assert sent(line, "start") == []
    assert redis.llen(keys.history(f"line:{source.type}:{chat}")) == 2


def test_every_event_of_a_delivery_is_answered(client, run_worker, line):
    first, second = event("from one"), event("from two", source=line_sdk.UserSource(user_id=OTHER_USER))
    post_line(client, webhook(first, second))
    run_worker()
    answers = {call.body["replyToken"]: call.body["messages"][0]["text"] for call in sent(line, "reply")}
    assert answers == {first["replyToken"]: "LLM: from one", second["replyToken"]: "LLM: from two"}


def test_an_image_is_fetched_from_the_content_endpoint_once_ready(client, run_worker, llm, line):
    line.defaults.update(line_content({"img-1": png()}))
    line.then(Canned(202, {}))  # LINE still preparing the content: tried again
    provider = line_sdk.ContentProvider(type="line")
    image = event(message=line_sdk.ImageMessageContent(id="img-1", content_provider=provider, quote_token="q"))
    assert post_line(client, webhook(image)).status_code == 200
    run_worker()
    fetched = [call for call in line.requests if call.method == "content"]
    assert [call.path for call in fetched] == ["/v2/bot/message/img-1/content"] * 2
    assert all(call.headers["Authorization"] == f"Bearer {TOKEN}" for call in fetched)
    assert llm.images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert message_texts(sent(line, "reply"))[0].startswith("LLM: [image")


def test_content_held_elsewhere_gets_the_non_text_notice(client, run_worker, line):
    provider = line_sdk.ContentProvider(type="external", original_content_url="https://example.com/a.jpg",
                                        preview_image_url="https://example.com/a-small.jpg")
    post_line(client, webhook(event(message=line_sdk.ImageMessageContent(id="x", content_provider=provider, quote_token="q"))))
    run_worker()
    assert message_texts(sent(line, "reply")) == ["Sorry, I can only read text messages."]
    assert [call for call in line.requests if call.method == "content"] == []


def test_standby_and_other_events_are_acknowledged_and_ignored(client, redis, run_worker, line):
    standby = {**event("not ours"), "mode": "standby"}
    del standby["replyToken"]
    common = {"mode": "active", "timestamp": 1767225600000, "source": {"type": "user", "userId": USER}}
    others = [{**common, "type": kind, "webhookEventId": f"01JOTHER{kind.upper():0>18}", **extra} for kind, extra in (
        ("follow", {"replyToken": "t1"}), ("unfollow", {}), ("postback", {"replyToken": "t2", "postback": {"data": "x"}}))]
    assert post_line(client, webhook(standby, *others)).status_code == 200
    run_worker()
    assert line.requests == []
    assert stored(redis) == []


def test_a_malformed_delivery_is_400_with_a_reason(client, redis):
    nameless = event("hi")
    del nameless["webhookEventId"]
    response = post_line(client, webhook(nameless))
    assert response.status_code == 400
    assert "webhookEventId" in response.get_json()["error"]
    sourceless = event("hi", source=line_sdk.GroupSource(group_id=GROUP, user_id=USER))
    del sourceless["source"]["groupId"]
    assert "groupId" in post_line(client, webhook(sourceless)).get_json()["error"]
    assert post_line(client, b"{oops").status_code == 400
    assert stored(redis) == []


def test_a_server_error_is_retried_with_the_same_retry_key(client, run_worker, redis, line):
    line.then(line_error(500, "Internal server error"))
    post_line(client, webhook(event("again?", age=STALE)))
    run_worker()
    pushes = sent(line, "push")
    assert message_texts(pushes) == ["LLM: again?", "LLM: again?"]  # the failed try, then the one LINE accepted
    assert pushes[0].headers["X-Line-Retry-Key"] == pushes[1].headers["X-Line-Retry-Key"]
    assert dead_letters(redis) == []


def test_a_rate_limit_then_a_server_error_on_every_try_is_dead_lettered(client, run_worker, redis, line):
    line.then(line_error(429, "The API rate limit has been exceeded. Try again later.", {"Retry-After": "0"}),
              line_error(500, "Internal server error"))
    post_line(client, webhook(event("busy?", age=STALE)))
    run_worker()
    assert len(sent(line, "push")) == 2  # the first try and PLATFORM_MAX_RETRIES=1
    (letter,) = dead_letters(redis)
    assert letter["reason"] == "delivery: LINE push failed (500): Internal server error"


def test_the_monthly_quota_is_dead_lettered_without_retrying(client, run_worker, redis, line):
    line.then(line_error(429, "You have reached your monthly limit."))
    post_line(client, webhook(event("one more", age=STALE)))
    run_worker()
    assert len(sent(line, "push")) == 1
    (letter,) = dead_letters(redis)
    assert "monthly message quota" in letter["reason"]


def test_a_refused_access_token_is_dead_lettered_naming_the_variable(client, run_worker, redis, line):
    line.then(line_error(401, "Authentication failed. Confirm that the access token in the authorization header is valid."))
    post_line(client, webhook(event("hi")))
    run_worker()
    assert len(sent(line, "reply")) == 1 and sent(line, "push") == []
    (letter,) = dead_letters(redis)
    assert "check LINE_CHANNEL_ACCESS_TOKEN" in letter["reason"]


def test_line_needs_both_its_secret_and_its_token(settings):
    only_secret = Bot({**settings, "LINE_CHANNEL_SECRET": LINE_SECRET}).client
    response = post_line(only_secret, webhook(event("hi")))
    assert response.status_code == 404
    assert "LINE_CHANNEL_ACCESS_TOKEN" in response.get_json()["error"]


def test_a_push_answered_late_is_resent_with_its_retry_key_which_line_dedupes(settings, redis, line):
    b = Bot({**settings, "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_URL": line.url,
                      "PLATFORM_TIMEOUT": "0.5"})
    line.then(Canned(body={"sentMessages": [{"id": "1", "quoteToken": "q"}]}, delay=1.5),
              line_error(409, "The retry key is already accepted", {"X-Line-Accepted-Request-Id": "abc-123"}))
    payload = event("late push", age=STALE)
    post_line(b.client, webhook(payload))
    b.run()
    first, second = sent(line, "push")
    assert first.headers["X-Line-Retry-Key"] == second.headers["X-Line-Retry-Key"]
    assert ledger.lookup(redis, "line", payload["webhookEventId"])["outcome"] == "replied"


def test_a_reply_token_answered_late_is_not_resent_nor_pushed(settings, redis, line):
    b = Bot({**settings, "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_URL": line.url,
                      "PLATFORM_TIMEOUT": "0.5"})
    line.then(Canned(body={"sentMessages": [{"id": "1", "quoteToken": "q"}]}, delay=1.5))
    payload = event("late reply")
    post_line(b.client, webhook(payload))
    b.run()
    assert len(sent(line, "reply")) == 1 and sent(line, "push") == []  # a spent token has no retry key to dedupe a push
    assert ledger.lookup(redis, "line", payload["webhookEventId"])["outcome"] == "unconfirmed"
