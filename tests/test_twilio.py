"""Twilio (SMS and WhatsApp) end to end: signed form webhook -> Redis -> RQ worker -> LLM fake -> Twilio fake."""

from __future__ import annotations

import base64
import itertools
from email.utils import formatdate
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, request
from werkzeug.datastructures import MultiDict

from bot.config import Config
from bot.errors import Rejected, Transient
from bot.messages import Reply
from bot.ops import ledger
from bot.worker.local import free_port
from handlers.platforms.twilio import Twilio, sign
from tests.fakes import Canned, FakePlatform, completion
from tests.helpers import Bot, dead_letters, stored
from tests.vendors import TWILIO_TOKEN, TWILIO_URL, post_twilio, twilio_signature

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
USER, NUMBER = "+14155551234", "+15557654321"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

_sids = itertools.count(1)


@pytest.fixture
def twilio() -> Iterator[FakePlatform]:
    created = Canned(status=201, body={"sid": "SM" + "f" * 32, "status": "queued"})
    server = FakePlatform(defaults={"Messages.json": created}).start()
    yield server
    server.stop()


@pytest.fixture
def twilio_settings(settings: dict[str, str], twilio: FakePlatform) -> dict[str, str]:
    """The bot's settings with Twilio enabled against the fake, and one retry to keep failures fast."""
    return {**settings, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_API_URL": twilio.url, "PLATFORM_MAX_RETRIES": "1"}


@pytest.fixture
def bot(twilio_settings: dict[str, str]):
    return Bot(twilio_settings)


def inbound(text: str = "hello", *, sender: str = USER, to: str = NUMBER, sid: str | None = None, **extra: Any) -> dict[str, Any]:
    """An incoming SMS webhook's form, as in docs/platforms.md 5.3."""
    sid = sid or f"SM{next(_sids):032x}"
    return {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": to,
            "Body": text, "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01",
            "FromCountry": "US", "ToCountry": "US", **extra}


def whatsapp(text: str, **extra: Any) -> dict[str, Any]:
    """An incoming WhatsApp message via Twilio: prefixed addresses and the profile fields."""
    return inbound(text, sender=f"whatsapp:{USER}", to="whatsapp:+14155238886", ProfileName="Ada",
                   WaId=USER.lstrip("+"), MessageType="text", **extra)


def twilio_error(status: int, code: int, message: str, **headers: str) -> Canned:
    """A Twilio REST API error response."""
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return Canned(status=status, body=body, headers=headers)



# docs/platforms.md 10.3: the official vectors from twilio-python's tests/unit/test_request_validator.py

VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                 "From": "+14158675309", "To": "+18005551212"}


def verify_vector(url: str, signature: str, params: Any = VECTOR_PARAMS) -> int:
    """The status the adapter's verify gives a form POST to `url` under the vectors' token (200: it passes)."""
    adapter = Twilio(Config.from_env({"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": VECTOR_TOKEN}), redis=None)
    with Flask(__name__).test_request_context(url, method="POST", data=params, headers={"X-Twilio-Signature": signature}):
        try:
            adapter.verify(request)
        except Rejected as error:
            return error.status
    return 200


def test_the_official_vectors_sign_as_twilio_does():
    assert sign(VECTOR_TOKEN, VECTOR_URL, VECTOR_PARAMS.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
    assert sign(VECTOR_TOKEN, VECTOR_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_the_official_vectors_verify_with_and_without_the_port():
    assert verify_vector(VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 200
    https_1234 = VECTOR_URL.replace(".com", ".com:1234")
    assert verify_vector(https_1234, "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 200  # the port is stripped
    http_1234 = https_1234.replace("https", "http")
    assert verify_vector(http_1234, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=") == 200
    assert verify_vector(http_1234, "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 403  # the scheme is signed too
    assert verify_vector(VECTOR_URL, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=") == 403


def test_the_default_port_may_be_signed_or_not():
    with_port = twilio_signature(VECTOR_PARAMS, VECTOR_URL.replace(".com", ".com:443"), VECTOR_TOKEN)
    assert with_port != "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert verify_vector(VECTOR_URL, with_port) == 200
    assert verify_vector(VECTOR_URL.replace(".com", ".com:443"), "RSOYDt4T1cUTdK1PDd93/VVr8B8=") == 200


def test_the_multi_value_vector_verifies_over_every_value():
    params = MultiDict([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")])
    assert verify_vector(VECTOR_URL, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", params) == 200
    first_only = MultiDict([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678")])
    assert verify_vector(VECTOR_URL, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", first_only) == 403


# Webhooks


def test_an_sms_gets_exactly_one_reply_from_our_number_through_the_rest_api(client, run_worker, llm, twilio):
    response = post_twilio(client, inbound("hello bot"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response/>")  # Twilio itself sends nothing
    run_worker()
    [call] = twilio.requests
    assert call.path == MESSAGES_PATH
    assert call.body == {"To": USER, "From": NUMBER, "Body": "LLM: hello bot"}
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {credentials}"
    assert llm.completions[0]["messages"][-1] == {"role": "user", "content": "hello bot"}


def test_a_whatsapp_message_keeps_its_whatsapp_addresses(client, run_worker, twilio):
    assert post_twilio(client, whatsapp("hola")).status_code == 200
    run_worker()
    assert twilio.calls("Messages.json") == [{"To": f"whatsapp:{USER}", "From": "whatsapp:+14155238886", "Body": "LLM: hola"}]


def test_each_of_our_numbers_is_its_own_conversation(client, run_worker, llm, twilio):
    post_twilio(client, inbound("to the first", to=NUMBER))
    post_twilio(client, inbound("to the second", to="+15550000002"))
    run_worker()
    sent = sorted((body["From"], body["Body"]) for body in twilio.calls("Messages.json"))
    assert sent == [("+15550000002", "LLM: to the second"), (NUMBER, "LLM: to the first")]
    assert all(len(completion["messages"]) == 2 for completion in llm.completions)  # no shared history


def test_missing_signature_is_401_wrong_or_tampered_403_and_nothing_is_stored(client, redis, twilio):
    form = inbound("hi")
    assert post_twilio(client, form, signature=None).status_code == 401
    wrong = post_twilio(client, form, signature="bm90IHRoZSBzaWduYXR1cmU=")
    assert wrong.status_code == 403
    assert "X-Twilio-Signature" in wrong.get_json()["error"]
    tampered = post_twilio(client, {**form, "Body": "transfer everything"}, signature=twilio_signature(form))
    assert tampered.status_code == 403
    other_token = twilio_signature(form, token="another-token")
    assert post_twilio(client, form, signature=other_token).status_code == 403
    assert stored(redis) == []


def test_every_value_of_a_repeated_field_is_signed(client, redis, twilio):
    form = inbound("hi", MediaContentType0=["image/png", "image/jpeg"])
    first_values = {**form, "MediaContentType0": "image/png"}
    assert post_twilio(client, form, signature=twilio_signature(first_values)).status_code == 403
    assert post_twilio(client, form).status_code == 200


def test_behind_a_proxy_the_public_base_url_is_what_twilio_signed(twilio_settings, run_worker, twilio):
    proxied = Bot({**twilio_settings, "PUBLIC_BASE_URL": "https://bot.example.com/"}).client
    form = inbound("via the proxy")
    public = "https://bot.example.com/webhooks/twilio?tenant=7"
    assert post_twilio(proxied, form, url=public, path="/webhooks/twilio?tenant=7").status_code == 200
    assert post_twilio(proxied, inbound("local url"), url=TWILIO_URL).status_code == 403
    run_worker()
    assert [body["Body"] for body in twilio.calls("Messages.json")] == ["LLM: via the proxy"]


def test_behind_heroku_s_router_its_forwarded_proto_and_the_host_make_the_signed_url(client, run_worker, twilio):
    public = "https://bot.example.com/webhooks/twilio"
    routed = {"Host": "bot.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443",
              "X-Forwarded-For": "54.172.60.1"}
    assert post_twilio(client, inbound("forwarded"), url=public, headers=routed).status_code == 200
    assert post_twilio(client, inbound("not forwarded"), url=public, headers={"Host": "bot.example.com"}).status_code == 403
    run_worker()
    assert [body["Body"] for body in twilio.calls("Messages.json")] == ["LLM: forwarded"]


def test_a_forwarded_host_is_never_believed(client, redis):
    """A form Twilio signed for another site's URL, replayed here with headers naming that site, is refused."""
    elsewhere = "https://attacker.example/webhooks/twilio"
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example"}
    assert post_twilio(client, inbound("replayed"), url=elsewhere, headers=forged).status_code == 403
    assert stored(redis) == []


def test_facing_clients_directly_no_forwarded_header_is_believed(twilio_settings):
    direct = Bot({**twilio_settings, "TRUSTED_PROXIES": "0"}).client
    forged = {"Host": "bot.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}
    https, http = "https://bot.example.com/webhooks/twilio", "http://bot.example.com/webhooks/twilio"
    assert post_twilio(direct, inbound("forged"), url=https, headers=forged).status_code == 403
    assert post_twilio(direct, inbound("as sent"), url=http, headers=forged).status_code == 200


def test_the_same_message_sid_twice_is_answered_once(client, run_worker, twilio):
    form = inbound("only once")
    assert post_twilio(client, form).status_code == 200
    assert post_twilio(client, form).status_code == 200
    run_worker()
    assert [body["Body"] for body in twilio.calls("Messages.json")] == ["LLM: only once"]


def test_an_empty_message_is_acknowledged_and_ignored(client, redis, run_worker, twilio):
    assert post_twilio(client, inbound("  ")).status_code == 200
    run_worker()
    assert twilio.requests == []
    assert stored(redis) == []


def test_a_malformed_form_is_400_with_a_reason(client, redis):
    form = inbound("hi")
    del form["MessageSid"]
    response = post_twilio(client, form)
    assert response.status_code == 400
    assert "MessageSid" in response.get_json()["error"]
    assert post_twilio(client, inbound("hi", sender="")).status_code == 400
    assert stored(redis) == []


def test_a_profile_name_or_sid_past_any_platform_limit_is_400(client, redis):
    assert post_twilio(client, {**inbound("hi"), "ProfileName": "Ada" * 100}).status_code == 400
    assert post_twilio(client, {**inbound("hi"), "MessageSid": "SM" + "0" * 255}).status_code == 400
    assert stored(redis) == []


def test_redis_down_stays_503_not_twiml(twilio_settings):
    down = Bot({**twilio_settings, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}).client
    response = post_twilio(down, inbound("hello"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_a_long_reply_is_split_at_1600_characters(client, run_worker, llm, twilio):
    words = [f"word{i}" for i in range(800)]  # ~6.5k characters
    llm.then(Canned(body=completion(" ".join(words))))
    post_twilio(client, inbound("write a lot"))
    run_worker()
    parts = [body["Body"] for body in twilio.calls("Messages.json")]
    assert len(parts) >= 4
    assert all(len(part) <= 1600 for part in parts)
    assert " ".join(parts).split() == words


# Delivery failures


def test_rate_limit_then_server_errors_are_retried_then_dead_lettered(client, run_worker, twilio, redis):
    twilio.then(twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "0"}),
                twilio_error(503, 20503, "Service Unavailable"))
    post_twilio(client, inbound("busy?"))
    run_worker()
    assert len(twilio.calls("Messages.json")) == 2  # the first try and PLATFORM_MAX_RETRIES=1
    [dead] = dead_letters(redis)
    assert dead["reason"] == "delivery: Twilio Messages.json failed (HTTP 503, error 20503): Service Unavailable"


@pytest.mark.parametrize(("status", "code", "message", "explained"), [
    (400, 21211, "The 'To' number +1555 is not a valid phone number.", "The 'To' number +1555 is not a valid phone number."),
    (400, 21610, "Attempt to send to unsubscribed recipient", "the user has unsubscribed (they texted STOP)"),
    (400, 63016, "Failed to send freeform message because you are outside the allowed window.", "within 24 hours"),
    (401, 20003, "Authenticate", "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
])
def test_a_refused_message_is_dead_lettered_after_one_attempt(client, run_worker, twilio, redis, status, code, message,
                                                               explained):
    twilio.then(twilio_error(status, code, message))
    post_twilio(client, inbound("hi"))
    run_worker()
    assert len(twilio.calls("Messages.json")) == 1
    [dead] = dead_letters(redis)
    assert dead["reason"].startswith(f"delivery: Twilio Messages.json failed (HTTP {status}, error {code}): {message}")
    assert explained in dead["reason"]
    assert TWILIO_TOKEN not in dead["reason"]


def test_retry_after_is_honoured_when_present(bot, twilio):
    twilio.then(twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "7"}))
    reply = Reply("twilio", f"{USER}:{NUMBER}", "hi", "hi", context={"from": USER, "to": NUMBER})
    with pytest.raises(Transient) as raised:
        bot.rt.channels["twilio"].send(reply)
    assert raised.value.retry_after == 7.0


def messages_list(twilio: FakePlatform, landed: bool):
    """Messages.json: a POST creates a message; a GET lists the newest, as Twilio's Messages list does."""
    def answer(call) -> Canned:
        if call.verb == "POST":
            return Canned(status=201, body={"sid": "SM" + "e" * 32, "status": "queued"})
        sent = [c.body for c in twilio.delivered if c.verb == "POST" and c.method == "Messages.json"] if landed else []
        return Canned(body={"messages": [{"to": m["To"], "from": m["From"], "body": m["Body"], "status": "sent",
                                          "date_created": formatdate(usegmt=True)} for m in reversed(sent)]})
    return answer


@pytest.mark.parametrize("landed, posts", [(True, 1), (False, 2)])
def test_a_part_twilio_answers_late_for_is_looked_for_and_resent_only_if_missing(twilio_settings, twilio, redis, landed, posts):
    b = Bot({**twilio_settings, "PLATFORM_TIMEOUT": "0.5"})
    twilio.defaults["Messages.json"] = messages_list(twilio, landed)
    twilio.then(Canned(status=201, body={"sid": "SM" + "d" * 32, "status": "queued"}, delay=1.5))
    post_twilio(b.client, inbound("late", sid="SM" + "1" * 32))
    b.run()
    assert len([c for c in twilio.requests if c.verb == "POST"]) == posts
    [lookup] = [parse_qs(urlsplit(c.path).query) for c in twilio.requests if c.verb == "GET"]
    assert (lookup["To"], lookup["From"]) == ([USER], [NUMBER])
    assert ledger.lookup(redis, "twilio", "SM" + "1" * 32)["outcome"] == "replied"
