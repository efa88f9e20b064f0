"""WhatsApp Cloud API end to end: signed webhook -> Redis -> RQ worker -> LLM fake -> Graph API fake."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from bot.render.format import utf16_len
from tests.fakes import Call, Canned, FakePlatform, completion, graph_media
from tests.helpers import APP_SECRET, VERIFY_TOKEN, Bot, dead_letters, graph_error, post_signed, resolve_here, signed, stored
from tests.samples_media import ogg, png

ACCESS_TOKEN = "EAAJB-test-whatsapp-token"
OGG = ogg()  # a voice note
FAILURE = "Sorry, I can't answer right now. Please try again in a few minutes."
NUMBER = "106540352242922"  # the business number the user writes to
FALLBACK_NUMBER = "100000000000001"  # WHATSAPP_PHONE_NUMBER_ID
ADA = {"phone": "16505551234", "bsuid": "US.13491208655302741918"}
BOB = {"phone": "16505550000", "bsuid": "US.99887766554433221100"}
SENT = {"messaging_product": "whatsapp", "contacts": [{"input": ADA["phone"], "wa_id": ADA["phone"]}],
        "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3RkU2RkE5"}]}

_ids = itertools.count(1)
NOW = int(time.time())  # when the events were sent: the bot drops those older than the platform's dedupe horizon


def text_message(text: str, user: dict[str, str | None] = ADA, wamid: str | None = None) -> dict[str, Any]:
    """A user's text message as in docs/platforms.md 3.3; a None phone is a user who adopted a username."""
    message: dict[str, Any] = {"id": wamid or f"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz{next(_ids)}", "timestamp": str(NOW),
                               "type": "text", "text": {"body": text}}
    if user["phone"]:
        message["from"] = user["phone"]
    if user["bsuid"]:
        message["from_user_id"] = user["bsuid"]
    return message


def change(*messages: dict[str, Any], number: str = NUMBER) -> dict[str, Any]:
    """One `messages` change to a business number, with a contact entry for each sender."""
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": number},
             "contacts": [_contact(message) for message in messages], "messages": list(messages)}
    return {"field": "messages", "value": value}


def _contact(message: dict[str, Any]) -> dict[str, Any]:
    """The contacts[] entry Meta sends with a message: the sender's name, phone number and BSUID."""
    contact: dict[str, Any] = {"profile": {"name": "Sheena Nelson"}}
    if "from" in message:
        contact["wa_id"] = message["from"]
    if "from_user_id" in message:
        contact["user_id"] = message["from_user_id"]
    return contact


def notification(*changes: dict[str, Any]) -> dict[str, Any]:
    """A webhook notification with one entry holding `changes`."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": list(changes)}]}


def _is_send(call: Call) -> bool:
    return call.body.get("type") == "text"


def sends(fake: FakePlatform) -> list[Call]:
    """The text messages sent (attempts included), not the read receipts."""
    return [call for call in fake.requests if _is_send(call)]



@pytest.fixture
def whatsapp():
    server = FakePlatform({"messages": Canned(body=SENT)}, scripted=_is_send).start()
    yield server
    server.stop()


@pytest.fixture
def bot(settings, whatsapp):
    return Bot({**settings, "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN, "WHATSAPP_APP_SECRET": APP_SECRET,
                "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": FALLBACK_NUMBER,
                "WHATSAPP_API_URL": f"{whatsapp.url}/v21.0", "PLATFORM_MAX_RETRIES": "1"})


def test_the_meta_test_vector_is_accepted(client, redis):
    body = b'{"object":"page","entry":[]}'
    expected = "sha256=5da47c9c7409e70d7a1851f0cfd9bc27786bd99587a9bf1dd5b51e23a2de03cf"
    assert signed(body) == {"X-Hub-Signature-256": expected, "Content-Type": "application/json"}
    assert client.post("/webhooks/whatsapp", data=body, headers=signed(body)).status_code == 200
    assert stored(redis) == []


def test_a_missing_wrong_or_tampered_signature_is_refused_and_nothing_is_stored(client, redis, run_worker, whatsapp):
    body = json.dumps(notification(change(text_message("pay me")))).encode()
    missing = client.post("/webhooks/whatsapp", data=body, headers={"Content-Type": "application/json"})
    wrong = client.post("/webhooks/whatsapp", data=body, headers=signed(body, "not-the-secret"))
    tampered = client.post("/webhooks/whatsapp", data=body.replace(b"pay me", b"pay us"), headers=signed(body))
    assert (missing.status_code, wrong.status_code, tampered.status_code) == (401, 403, 403)
    assert "X-Hub-Signature-256" in wrong.get_json()["error"]
    assert stored(redis) == []
    run_worker()
    assert whatsapp.requests == []


def test_the_get_handshake_echoes_the_challenge_only_for_the_verify_token(client):
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    ok = client.get("/webhooks/whatsapp", query_string=query)
    assert (ok.status_code, ok.data, ok.mimetype) == (200, b"1158201444", "text/plain")
    for wrong in ({"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.verify_token": ""}):
        refused = client.get("/webhooks/whatsapp", query_string={**query, **wrong})
        assert refused.status_code == 403
        assert "WHATSAPP_VERIFY_TOKEN" in refused.get_json()["error"]


def test_a_text_message_gets_exactly_one_reply_from_the_number_it_was_sent_to(client, run_worker, llm, whatsapp):
    question = "Does it come in another color? Grün, perhaps? äöå"  # Meta signs it escaped: \u00fc, \u00e4
    assert post_signed(client, "whatsapp", notification(change(text_message(question)))).status_code == 200
    run_worker()
    [sent] = sends(whatsapp)
    assert sent.path == f"/v21.0/{NUMBER}/messages"
    assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert sent.body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": ADA["phone"], "type": "text",
                         "text": {"preview_url": False, "body": f"LLM: {question}"}}
    assert llm.completions[0]["messages"][-1] == {"role": "user", "content": question}


def test_the_message_is_marked_read_with_a_typing_indicator_before_the_reply(client, run_worker, whatsapp, llm):
    llm.answer_after = lambda: whatsapp.requests
    message = text_message("hi")
    post_signed(client, "whatsapp", notification(change(message)))
    run_worker()
    first = whatsapp.requests[0]
    assert first.path == f"/v21.0/{NUMBER}/messages"
    assert first.body == {"messaging_product": "whatsapp", "status": "read", "message_id": message["id"],
                          "typing_indicator": {"type": "text"}}
    assert len(sends(whatsapp)) == 1 and whatsapp.requests.index(sends(whatsapp)[0]) > 0


def test_a_batched_notification_answers_every_user_and_keeps_business_numbers_apart(client, run_worker, whatsapp):
    payload = notification(change(text_message("from Ada"), text_message("from Bob", BOB)))
    other_number = change(text_message("Ada to the other number"), number="106540352242999")
    payload["entry"].append({"id": "102290129340399", "changes": [other_number]})
    assert post_signed(client, "whatsapp", payload).status_code == 200
    run_worker()
    answered = sorted((call.path, call.body["to"], call.body["text"]["body"]) for call in sends(whatsapp))
    assert answered == [
        ("/v21.0/106540352242922/messages", BOB["phone"], "LLM: from Bob"),
        ("/v21.0/106540352242922/messages", ADA["phone"], "LLM: from Ada"),
        ("/v21.0/106540352242999/messages", ADA["phone"], "LLM: Ada to the other number"),
    ]


def test_the_same_message_delivered_twice_is_answered_once(client, run_worker, whatsapp):
    payload = notification(change(text_message("only once", wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzRETRY=")))
    assert post_signed(client, "whatsapp", payload).status_code == 200
    assert post_signed(client, "whatsapp", payload).status_code == 200
    run_worker()
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == ["LLM: only once"]


def media_message(kind: str, media_id: str, **fields: Any) -> dict[str, Any]:
    """A user's audio, image or document message (platforms.md 3.3, contracts-next 1.2)."""
    message = text_message("unused")
    del message["text"]
    return message | {"type": kind, kind: {"id": media_id, "sha256": "fWp+R4y5", **fields}}


def test_a_voice_note_is_fetched_with_the_token_and_transcribed(client, run_worker, redis, llm, whatsapp):
    whatsapp.defaults.update(graph_media(whatsapp, {"1003383421387256": OGG}, "/v21.0"))
    voice = media_message("audio", "1003383421387256", mime_type="audio/ogg; codecs=opus", voice=True)
    assert post_signed(client, "whatsapp", notification(change(voice))).status_code == 200
    run_worker()
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == ["LLM: where is my parcel"]
    fetched = [call for call in whatsapp.requests if call.verb == "GET"]
    assert [call.method for call in fetched] == ["1003383421387256", "1003383421387256.bin"]
    assert all(call.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for call in fetched)
    assert llm.transcriptions[0]["file"][0] == "voice.ogg"


def test_a_photo_with_a_caption_reaches_the_model_as_an_image(client, run_worker, llm, whatsapp):
    whatsapp.defaults.update(graph_media(whatsapp, {"img-1": png()}, "/v21.0"))
    photo = media_message("image", "img-1", mime_type="image/jpeg", caption="is it broken?")
    post_signed(client, "whatsapp", notification(change(photo)))
    run_worker()
    assert llm.images[0]["image_url"]["url"].startswith("data:image/png;base64,")  # the bytes decide, not mime_type
    assert sends(whatsapp)[0].body["text"]["body"].startswith("LLM: is it broken? [image")


def test_media_meta_no_longer_has_gets_the_failure_notice_and_a_dead_letter(client, run_worker, redis, llm, whatsapp):
    post_signed(client, "whatsapp", notification(change(media_message("audio", "gone", voice=True))))
    whatsapp.defaults["gone"] = graph_error(404, 100, "Unsupported get request. Object with ID 'gone' does not exist")
    run_worker()
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == [FAILURE] and llm.completions == []
    assert "does not exist" in dead_letters(redis)[0]["reason"]


def test_a_file_meta_declares_over_the_limit_is_never_fetched(client, run_worker, llm, whatsapp):
    whatsapp.defaults.update(graph_media(whatsapp, {"big": b"x" * 100}, "/v21.0"))
    big = {"id": "big", "file_size": 30 * 1024 * 1024, "url": f"{whatsapp.url}/v21.0/files/big.bin"}
    whatsapp.defaults["big"] = Canned(body=big)
    post_signed(client, "whatsapp", notification(change(media_message("audio", "big", voice=True))))
    run_worker()
    notice = "Sorry, that file is too large or too long for me to open."
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == [notice]
    assert [call.method for call in whatsapp.requests if call.verb == "GET"] == ["big"] and llm.transcriptions == []


@pytest.mark.parametrize("at", ["", "\\@lookaside.fbsbx.com"])  # a Meta host only urlsplit reads there
def test_the_token_goes_to_no_host_but_meta_s(client, run_worker, whatsapp, at):
    """A media URL on another host (here: the same fake under another name) is fetched without the access token."""
    whatsapp.defaults.update(graph_media(whatsapp, {"elsewhere": OGG}, "/v21.0"))
    whatsapp.defaults["elsewhere"] = Canned(body={"id": "elsewhere", "url": whatsapp.url.replace("127.0.0.1", "localhost")
                                                  + at + "/v21.0/files/elsewhere.bin"})
    post_signed(client, "whatsapp", notification(change(media_message("audio", "elsewhere", voice=True))))
    run_worker()
    [download] = [call for call in whatsapp.requests if call.method == "elsewhere.bin"]
    assert "Authorization" not in download.headers
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == [FAILURE]  # the fake, as Meta, wants the token


@pytest.fixture
def meta_dns(monkeypatch) -> None:
    """Meta's media hosts resolve to this machine, where the fake serves their files."""
    resolve_here(monkeypatch, ".fbsbx.com")


def test_the_token_goes_to_meta_s_media_hosts_over_https_only(client, run_worker, whatsapp, meta_dns):
    whatsapp.defaults.update(graph_media(whatsapp, {"plain": ogg()}, "/v21.0"))
    port = whatsapp.server.server_port
    whatsapp.defaults["plain"] = Canned(body={"id": "plain", "url": f"http://lookaside.fbsbx.com:{port}/v21.0/files/plain.bin"})
    post_signed(client, "whatsapp", notification(change(media_message("audio", "plain", voice=True))))
    run_worker()
    [download] = [call for call in whatsapp.requests if call.method == "plain.bin"]
    assert "Authorization" not in download.headers  # never in the clear


def test_statuses_and_errors_are_acknowledged_and_ignored(client, redis, run_worker, whatsapp):
    status = change()
    del status["value"]["contacts"], status["value"]["messages"]
    status["value"]["statuses"] = [{
        "id": "wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgx", "status": "delivered", "timestamp": "1750857384",
        "recipient_id": ADA["phone"],
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
    }]
    errors = change()
    del errors["value"]["contacts"], errors["value"]["messages"]
    errors["value"]["errors"] = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                                  "error_data": {"details": "Message type is currently not supported."}}]
    for payload in (notification(status), notification(errors)):
        assert post_signed(client, "whatsapp", payload).status_code == 200
    assert stored(redis) == []
    run_worker()
    assert whatsapp.requests == []


def test_conversations_are_keyed_on_the_business_number_and_the_bsuid_else_the_phone_number(client, redis):
    no_bsuid_anywhere = change(text_message("c", {"phone": "447700900123", "bsuid": None}))
    bsuid_only_in_contacts = change(text_message("b", {"phone": BOB["phone"], "bsuid": None}))
    bsuid_only_in_contacts["value"]["contacts"][0]["user_id"] = BOB["bsuid"]
    payloads = (notification(change(text_message("a"))), notification(bsuid_only_in_contacts), notification(no_bsuid_anywhere))
    for payload in payloads:
        assert post_signed(client, "whatsapp", payload).status_code == 200
    inboxes = sorted(key.decode() for key in redis.keys("bot:inbox:*"))
    assert inboxes == [f"bot:inbox:whatsapp:{NUMBER}:447700900123", f"bot:inbox:whatsapp:{NUMBER}:{ADA['bsuid']}",
                       f"bot:inbox:whatsapp:{NUMBER}:{BOB['bsuid']}"]
    stored = json.loads(redis.lindex(f"bot:inbox:whatsapp:{NUMBER}:{ADA['bsuid']}", 0))
    assert (stored["user_id"], stored["user_name"], stored["text"]) == (ADA["bsuid"], "Sheena Nelson", "a")


def test_a_user_without_a_phone_number_is_answered_through_the_bsuid(client, run_worker, whatsapp):
    username_only = text_message("I use a username", {"phone": None, "bsuid": ADA["bsuid"]})
    post_signed(client, "whatsapp", notification(change(username_only)))
    run_worker()
    [sent] = sends(whatsapp)
    assert sent.body["recipient"] == ADA["bsuid"] and "to" not in sent.body
    assert sent.body["text"]["body"] == "LLM: I use a username"


def test_the_business_number_falls_back_to_the_setting_when_metadata_lacks_it(client, run_worker, whatsapp):
    payload = notification(change(text_message("hi")))
    del payload["entry"][0]["changes"][0]["value"]["metadata"]
    post_signed(client, "whatsapp", payload)
    run_worker()
    assert [call.path for call in sends(whatsapp)] == [f"/v21.0/{FALLBACK_NUMBER}/messages"]


def test_a_malformed_notification_is_400_with_a_reason(client, redis):
    no_id = text_message("x")
    del no_id["id"]
    nobody = text_message("x", {"phone": None, "bsuid": None})
    assert "id" in post_signed(client, "whatsapp", notification(change(no_id))).get_json()["error"]
    for payload in (notification(change(no_id)), notification(change(nobody)), {"object": "whatsapp_business_account"}):
        assert post_signed(client, "whatsapp", payload).status_code == 400
    assert "from_user_id" in post_signed(client, "whatsapp", notification(change(nobody))).get_json()["error"]
    assert stored(redis) == []


def test_a_profile_name_or_id_past_any_platform_limit_is_400(client, redis):
    long_name = change(text_message("x"))
    long_name["value"]["contacts"][0]["profile"]["name"] = "Sheena " * 20
    long_id = text_message("x", wamid="wamid." + "A" * 251)
    for payload in (notification(long_name), notification(change(long_id))):
        assert post_signed(client, "whatsapp", payload).status_code == 400
    assert stored(redis) == []


def test_a_long_reply_is_split_at_4096_in_whatsapp_formatting(client, run_worker, llm, whatsapp):
    paragraph = " ".join(f"word{i}" for i in range(1500))  # ~12k characters
    llm.then(Canned(body=completion(f"**Intro** text.\n\n{paragraph}")))
    post_signed(client, "whatsapp", notification(change(text_message("write a lot"))))
    run_worker()
    parts = [call.body["text"]["body"] for call in sends(whatsapp)]
    assert len(parts) >= 3
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert parts[0].startswith("*Intro* text.")
    assert [w for w in " ".join(parts).split() if w.startswith("word")] == [f"word{i}" for i in range(1500)]


def test_rate_limits_and_server_errors_are_retried_then_dead_lettered(client, run_worker, redis, whatsapp):
    whatsapp.then(graph_error(429, 130429, "(#130429) Rate limit hit"),
                  graph_error(500, 131000, "(#131000) Something went wrong"))
    post_signed(client, "whatsapp", notification(change(text_message("busy?"))))
    run_worker()
    assert len(sends(whatsapp)) == 2  # the first try and PLATFORM_MAX_RETRIES=1
    [dead] = dead_letters(redis)
    assert dead["reason"] == "delivery: WhatsApp API refused the call (HTTP 500, code 131000): (#131000) Something went wrong"
    assert dead["conversation"] == f"whatsapp:{NUMBER}:{ADA['bsuid']}"


def test_a_rate_limit_code_on_a_400_is_retried(client, run_worker, redis, whatsapp):
    whatsapp.then(graph_error(400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"))
    post_signed(client, "whatsapp", notification(change(text_message("again"))))
    run_worker()
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == ["LLM: again", "LLM: again"]  # refused, then through
    assert dead_letters(redis) == []


def test_a_server_error_is_retried_and_the_reply_delivered_once(client, run_worker, redis, whatsapp):
    whatsapp.then(graph_error(500, 131000, "(#131000) Something went wrong"))
    post_signed(client, "whatsapp", notification(change(text_message("hello?"))))
    run_worker()
    assert [call.body["text"]["body"] for call in sends(whatsapp)] == ["LLM: hello?", "LLM: hello?"]  # refused, then through
    assert dead_letters(redis) == []


def test_text_outside_the_24_hour_window_is_dead_lettered_without_retrying(client, run_worker, redis, whatsapp):
    whatsapp.then(graph_error(400, 131047, "(#131047) Re-engagement message"))
    post_signed(client, "whatsapp", notification(change(text_message("still there?"))))
    run_worker()
    assert len(sends(whatsapp)) == 1
    [dead] = dead_letters(redis)
    assert dead["reason"] == ("delivery: WhatsApp refused free-form text: the user's last message is more than 24 hours old "
                              "(131047); reply with an approved template instead")


@pytest.mark.parametrize("refusal", [graph_error(400, 190, "Error validating access token: Session has expired", subcode=463),
                                     Canned(status=401, body="Unauthorized")])
def test_a_bad_token_is_dead_lettered_naming_the_variable_to_fix(client, run_worker, redis, whatsapp, refusal):
    whatsapp.then(refusal)
    post_signed(client, "whatsapp", notification(change(text_message("hi"))))
    run_worker()
    assert len(sends(whatsapp)) == 1
    [dead] = dead_letters(redis)
    assert dead["reason"].endswith("; check WHATSAPP_ACCESS_TOKEN")
