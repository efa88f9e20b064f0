"""Messenger end to end: signed Page webhook -> Redis -> RQ worker -> LLM fake -> Send API fake."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from bot.render.format import utf16_len
from tests.fakes import Call, Canned, FakePlatform, completion
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, dead_letters, graph_error, post_signed, signed, stored

PAGE_TOKEN = "EAAJB-test-page-token"
PAGE = "104512345678901"
ADA, BOB, CY = "6789012345678901", "6789012345678902", "6789012345678903"  # page-scoped user ids
SENT = {"recipient_id": ADA,
        "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}

_mids = itertools.count(1)
NOW = int(time.time())  # when the events were sent: the bot drops those older than the platform's dedupe horizon


def event(text: str | None, psid: str = ADA, mid: str | None = None) -> dict[str, Any]:
    """A user's message to the Page as in docs/platforms.md 4.3; a None text is an attachment the bot does not fetch (a video)."""
    message: dict[str, Any] = {"mid": mid or f"m_AbC{next(_mids)}"}
    if text is None:
        message["attachments"] = [{"type": "video", "payload": {"url": "https://video.xx.fbcdn.net/v/t42.3356-2/clip.mp4"}}]
    else:
        message["text"] = text
    return {"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": NOW * 1000 + 100, "message": message}


def notification(*events: dict[str, Any]) -> dict[str, Any]:
    """A Page webhook with one entry holding `events`."""
    return {"object": "page", "entry": [{"id": PAGE, "time": 1767225600123, "messaging": list(events)}]}


def _is_send(call: Call) -> bool:
    return "message" in call.body


def sends(fake: FakePlatform) -> list[Call]:
    """The messages sent (attempts included), not the sender actions."""
    return [call for call in fake.requests if _is_send(call)]


@pytest.fixture
def messenger():
    server = FakePlatform({"messages": Canned(body=SENT)}, scripted=_is_send).start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings, messenger):
    return Bot({**settings, "MESSENGER_PAGE_ACCESS_TOKEN": PAGE_TOKEN, "MESSENGER_APP_SECRET": APP_SECRET,
                "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN, "MESSENGER_API_URL": f"{messenger.url}/v21.0",
                "PLATFORM_MAX_RETRIES": "1"})


def test_the_meta_test_vector_is_accepted(client, redis):
    body = b'{"object":"page","entry":[]}'
    headers = {"X-Hub-Signature-256": "sha256=5da47c9c7409e70d7a1851f0cfd9bc27786bd99587a9bf1dd5b51e23a2de03cf",
               "Content-Type": "application/json"}  # docs/platforms.md 10.6
    assert client.post("/webhooks/messenger", data=body, headers=headers).status_code == 200
    assert stored(redis) == []


def test_a_missing_wrong_or_tampered_signature_is_refused_and_nothing_is_stored(client, redis, run_worker, messenger):
    body = json.dumps(notification(event("refund me"))).encode()
    missing = client.post("/webhooks/messenger", data=body, headers={"Content-Type": "application/json"})
    wrong = client.post("/webhooks/messenger", data=body, headers=signed(body, "not-the-secret"))
    tampered = client.post("/webhooks/messenger", data=body.replace(b"refund me", b"refund us"), headers=signed(body))
    assert (missing.status_code, wrong.status_code, tampered.status_code) == (401, 403, 403)
    assert stored(redis) == []
    run_worker()
    assert messenger.requests == []


def test_the_get_handshake_echoes_the_challenge_only_for_the_verify_token(client):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "987654321"}
    ok = client.get("/webhooks/messenger", query_string=query)
    assert (ok.status_code, ok.data, ok.mimetype) == (200, b"987654321", "text/plain")
    refused = client.get("/webhooks/messenger", query_string={**query, "hub.verify_token": VERIFY_TOKEN + "x"})
    assert refused.status_code == 403
    assert "MESSENGER_VERIFY_TOKEN" in refused.get_json()["error"]


def test_a_text_message_gets_exactly_one_reply_through_the_send_api(client, run_worker, llm, messenger):
    assert post_signed(client, "messenger", notification(event("hello, world!"))).status_code == 200
    run_worker()
    [sent] = sends(messenger)
    assert sent.path == "/v21.0/me/messages"  # the token travels in a header, never in the URL
    assert sent.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert sent.body == {"recipient": {"id": ADA}, "messaging_type": "RESPONSE", "message": {"text": "LLM: hello, world!"}}
    assert llm.completions[0]["messages"][-1] == {"role": "user", "content": "hello, world!"}


def test_typing_is_shown_before_the_reply(client, run_worker, messenger, llm):
    llm.answer_after = lambda: messenger.requests
    post_signed(client, "messenger", notification(event("hi")))
    run_worker()
    first = messenger.requests[0]
    assert (first.path, first.body) == ("/v21.0/me/messages", {"recipient": {"id": ADA}, "sender_action": "typing_on"})
    assert len(sends(messenger)) == 1 and messenger.requests.index(sends(messenger)[0]) > 0


def test_a_batched_notification_answers_every_user_of_every_entry(client, run_worker, messenger):
    payload = notification(event("from Ada"), event("from Bob", BOB))
    payload["entry"].append(notification(event("from Cy", CY))["entry"][0])
    assert post_signed(client, "messenger", payload).status_code == 200
    run_worker()
    answered = sorted((call.body["recipient"]["id"], call.body["message"]["text"]) for call in sends(messenger))
    assert answered == [(ADA, "LLM: from Ada"), (BOB, "LLM: from Bob"), (CY, "LLM: from Cy")]


def test_conversations_are_the_page_and_the_user(client, redis):
    post_signed(client, "messenger", notification(event("hi")))
    assert [key.decode() for key in redis.keys("bot:inbox:*")] == [f"bot:inbox:messenger:{PAGE}:{ADA}"]


def test_the_same_message_delivered_twice_is_answered_once(client, run_worker, messenger):
    payload = notification(event("only once", mid="m_retried"))
    assert post_signed(client, "messenger", payload).status_code == 200
    assert post_signed(client, "messenger", payload).status_code == 200
    run_worker()
    assert [call.body["message"]["text"] for call in sends(messenger)] == ["LLM: only once"]


def test_an_attachment_gets_the_non_text_notice(client, run_worker, messenger):
    assert post_signed(client, "messenger", notification(event(None))).status_code == 200
    run_worker()
    assert [call.body["message"]["text"] for call in sends(messenger)] == ["Sorry, I can only read text messages."]


def test_echoes_and_receipts_are_acknowledged_and_ignored(client, redis, run_worker, messenger):
    echo = event("our own reply")
    echo["sender"], echo["recipient"] = echo["recipient"], echo["sender"]
    echo["message"] |= {"is_echo": True, "app_id": 1517776481860111}
    read = {"sender": {"id": ADA}, "recipient": {"id": PAGE}, "timestamp": NOW * 1000 + 300, "read": {"watermark": 1767225600000}}
    delivery = {"sender": {"id": ADA}, "recipient": {"id": PAGE}, "delivery": {"mids": ["m_AbC1"], "watermark": 1767225600000}}
    for payload in (notification(echo), notification(read, delivery)):
        assert post_signed(client, "messenger", payload).status_code == 200
    assert stored(redis) == []
    run_worker()
    assert messenger.requests == []


def test_a_postback_is_the_users_message_read_as_its_title_and_answered_once(client, run_worker, messenger):
    postback = {"sender": {"id": ADA}, "recipient": {"id": PAGE}, "timestamp": NOW * 1000 + 200,
                "postback": {"title": "Get Started", "payload": "GET_STARTED"}}  # an older postback: no mid
    for _ in range(2):  # Meta retried it
        assert post_signed(client, "messenger", notification(postback)).status_code == 200
    run_worker()
    assert [call.body["message"]["text"] for call in sends(messenger)] == ["LLM: Get Started"]


def test_a_malformed_notification_is_400_with_a_reason(client, redis):
    no_mid = event("x")
    del no_mid["message"]["mid"]
    response = post_signed(client, "messenger", notification(no_mid))
    assert response.status_code == 400
    assert "mid" in response.get_json()["error"]
    assert post_signed(client, "messenger", {"object": "page"}).status_code == 400
    assert stored(redis) == []


def test_a_long_reply_is_split_at_2000_as_plain_text(client, run_worker, llm, messenger):
    paragraph = " ".join(f"word{i}" for i in range(700))  # ~5.5k characters
    llm.then(Canned(body=completion(f"**Intro** text.\n\n{paragraph}")))
    post_signed(client, "messenger", notification(event("write a lot")))
    run_worker()
    parts = [call.body["message"]["text"] for call in sends(messenger)]
    assert len(parts) >= 3
    assert all(utf16_len(part) <= 2000 for part in parts)
    assert parts[0].startswith("Intro text.")  # Messenger has no markup: the asterisks go
    assert [w for w in " ".join(parts).split() if w.startswith("word")] == [f"word{i}" for i in range(700)]


def test_rate_limits_and_server_errors_are_retried_then_dead_lettered(client, run_worker, redis, messenger):
    messenger.then(Canned(status=429, body="Too Many Requests"),  # a proxy's answer, not Graph's
                   graph_error(503, 2, "An unexpected error has occurred. Please retry your request later."))
    post_signed(client, "messenger", notification(event("busy?")))
    run_worker()
    assert len(sends(messenger)) == 2  # the first try and PLATFORM_MAX_RETRIES=1
    [dead] = dead_letters(redis)
    assert dead["reason"] == ("delivery: Messenger API refused the call (HTTP 503, code 2): "
                              "An unexpected error has occurred. Please retry your request later.")
    assert dead["conversation"] == f"messenger:{PAGE}:{ADA}"


def test_a_rate_limit_code_on_a_400_is_retried(client, run_worker, redis, messenger):
    messenger.then(graph_error(400, 80006, "(#80006) There have been too many messages sent to this Messenger thread."))
    post_signed(client, "messenger", notification(event("again")))
    run_worker()
    assert [call.body["message"]["text"] for call in sends(messenger)] == ["LLM: again", "LLM: again"]  # refused, then through
    assert dead_letters(redis) == []


def test_a_message_outside_the_24_hour_window_is_dead_lettered_without_retrying(client, run_worker, redis, messenger):
    messenger.then(graph_error(400, 10, "(#10) This message is sent outside of allowed window.", subcode=2018278))
    post_signed(client, "messenger", notification(event("still there?")))
    run_worker()
    assert len(sends(messenger)) == 1
    [dead] = dead_letters(redis)
    assert dead["reason"] == ("delivery: Messenger refused the message: the user's last message is more than 24 hours old "
                              "(10/2018278); outside that window only tagged messages (MESSAGE_TAG) may be sent")


def test_other_permission_errors_are_not_mistaken_for_the_window(client, run_worker, redis, messenger):
    messenger.then(graph_error(403, 10, "(#10) Application does not have permission for this action"))
    post_signed(client, "messenger", notification(event("hi")))
    run_worker()
    assert len(sends(messenger)) == 1
    [dead] = dead_letters(redis)
    assert dead["reason"] == ("delivery: Messenger API refused the call (HTTP 403, code 10): "
                              "(#10) Application does not have permission for this action")
