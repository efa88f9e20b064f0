"""Signed generic webhooks end to end: Standard Webhooks in -> Redis -> RQ worker -> LLM fake -> signed callback."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from datetime import datetime
from typing import Any, Callable, Iterator

import pytest

from bot.config import ConfigError
from bot.errors import Permanent, Rejected, Transient
from bot.messages import Reply
from bot.ops import ledger
from handlers.platforms.allowlist import Allowlist
from handlers.platforms.signatures import standard_key, standard_sign, standard_verify
from tests.fakes import Canned, FakePlatform, completion
from tests.helpers import Bot, dead_letters, resolve_here, stored
from tests.processes import stop_group
from tests.vendors import STANDARD_SECRET, standard_headers, standard_verified

KEY = standard_key(STANDARD_SECRET)
CALLBACK_PATH = "/hooks/reply?token=abc"


@pytest.fixture
def receiver() -> Iterator[FakePlatform]:
    """The system that takes the bot's replies: answers 200 unless a test scripts otherwise.

    Every callback it got must pass the Standard Webhooks reference library's check, as a real receiver's would.
    """
    server = FakePlatform().start()
    yield server
    server.stop()
    standard_verified(server.requests)


@pytest.fixture
def allowlist() -> str:
    """GENERIC_CALLBACK_ALLOWLIST; tests parametrize it to change it."""
    return "127.0.0.1"


@pytest.fixture
def fallback(receiver: FakePlatform) -> str | None:
    """GENERIC_CALLBACK_URL; tests parametrize it to None to leave it unset."""
    return f"{receiver.url}/fallback"


@pytest.fixture
def env(settings: dict[str, str], allowlist: str, fallback: str | None) -> dict[str, str]:
    """conftest's settings with the generic webhook enabled; one retry keeps the failure tests fast."""
    extra = {"GENERIC_WEBHOOK_SECRET": STANDARD_SECRET, "GENERIC_CALLBACK_ALLOWLIST": allowlist, "PLATFORM_MAX_RETRIES": "1"}
    return settings | extra | ({"GENERIC_CALLBACK_URL": fallback} if fallback else {})


@pytest.fixture
def bot(env: dict[str, str]):
    return Bot(env)


def message(text: str, receiver: FakePlatform | None = None, **fields: Any) -> dict[str, Any]:
    """A generic webhook's body; with `receiver`, its callback_url points there."""
    body = {"conversation_id": "crm-42", "user_id": "u-7", "text": text, **fields}
    if receiver is not None:
        body["callback_url"] = receiver.url + CALLBACK_PATH
    return body


def signed(payload: Any, webhook_id: str | None = None, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The exact bytes to send and their Standard Webhooks headers."""
    raw = json.dumps(payload).encode()
    return raw, standard_headers(raw, webhook_id, timestamp)


def post(client, raw: bytes, headers: dict[str, str]):
    """POST to /webhooks/webhook as a sending system does."""
    return client.post("/webhooks/webhook", data=raw, content_type="application/json", headers=headers)


def send(client, payload: Any, **kwargs: Any):
    """Sign `payload` and POST it."""
    return post(client, *signed(payload, **kwargs))



# docs/platforms.md 10.2: the Standard Webhooks reference library's own vector.

VECTOR_ID, VECTOR_TS, VECTOR_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def vector_headers(signature: str = VECTOR_SIGNATURE) -> dict[str, str]:
    return {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": signature}


def test_the_reference_vector_signs_and_verifies():
    assert standard_sign(KEY, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    standard_verify(KEY, vector_headers(), VECTOR_BODY, now=VECTOR_TS)


def test_the_reference_negative_signature_fails():
    with pytest.raises(Rejected) as refused:
        standard_verify(KEY, vector_headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="), VECTOR_BODY, now=VECTOR_TS)
    assert refused.value.status == 403


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_five_minutes_and_a_second_away_fails(offset):
    with pytest.raises(Rejected) as refused:
        standard_verify(KEY, vector_headers(), VECTOR_BODY, now=VECTOR_TS + offset)
    assert refused.value.status == 403 and "stale" in str(refused.value)


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_exactly_five_minutes_away_passes(offset):
    standard_verify(KEY, vector_headers(), VECTOR_BODY, now=VECTOR_TS + offset)


def test_several_signatures_pass_if_any_v1_entry_matches():
    rotated = f"v1a,{VECTOR_SIGNATURE[3:]} v1,bm90IHRoaXMgb25l {VECTOR_SIGNATURE}"
    standard_verify(KEY, vector_headers(rotated), VECTOR_BODY, now=VECTOR_TS)


def test_the_right_signature_under_another_version_fails():
    with pytest.raises(Rejected):
        standard_verify(KEY, vector_headers(f"v1a,{VECTOR_SIGNATURE[3:]} v2,{VECTOR_SIGNATURE[3:]}"), VECTOR_BODY, now=VECTOR_TS)


# Inbound: signed or refused, and refused means nothing stored.

def _resigned(key: bytes) -> Callable[[bytes, dict], tuple[bytes, dict]]:
    return lambda raw, h: (raw, standard_headers(raw, h["webhook-id"], int(h["webhook-timestamp"]), key))


FORGERIES = {
    "tampered body": (lambda raw, h: (raw.replace(b"hello", b"jello"), h), 403),
    "wrong secret": (_resigned(b"another secret of 24 bytes"), 403),
    "signed id changed": (lambda raw, h: (raw, h | {"webhook-id": "msg_other"}), 403),
    "missing signature": (lambda raw, h: (raw, {k: v for k, v in h.items() if k != "webhook-signature"}), 401),
    "missing id": (lambda raw, h: (raw, {k: v for k, v in h.items() if k != "webhook-id"}), 401),
    "no headers": (lambda raw, h: (raw, {}), 401),
}


@pytest.mark.parametrize("forge, status", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_webhook_is_refused_and_nothing_is_stored(client, redis, receiver, forge, status):
    response = post(client, *forge(*signed(message("hello", receiver))))
    assert response.status_code == status
    assert "webhook-" in response.get_json()["error"]
    assert stored(redis) == []


@pytest.mark.parametrize("age", [301, -301])
def test_a_stale_or_future_timestamp_is_403_and_nothing_is_stored(client, redis, receiver, age):
    response = send(client, message("hello", receiver), timestamp=int(time.time()) - age)
    assert response.status_code == 403
    assert "stale webhook-timestamp" in response.get_json()["error"]
    assert stored(redis) == []


# Outbound: one signed callback per reply part.

def test_a_message_gets_exactly_one_signed_reply_at_its_callback_url(client, run_worker, receiver):
    raw, headers = signed(message("hello bot", receiver))
    assert post(client, raw, headers).status_code == 200
    run_worker()
    [call] = receiver.requests
    assert call.path == CALLBACK_PATH
    callback_headers = {name.lower(): value for name, value in call.headers.items()}
    assert callback_headers["content-type"] == "application/json"
    assert standard_verified([call]) == [call.body]
    assert callback_headers["webhook-id"] and callback_headers["webhook-id"] != headers["webhook-id"]
    assert call.body["type"] == "message.reply"
    assert datetime.fromisoformat(call.body["timestamp"]).utcoffset().total_seconds() == 0
    assert call.body["data"] == {"conversation_id": "crm-42", "user_id": "u-7", "text": "LLM: hello bot", "part": 0,
                                 "in_reply_to": headers["webhook-id"]}


def test_asked_to_stream_a_message_gets_signed_deltas_then_its_one_reply(client, run_worker, receiver, llm):
    llm.midway.clear()  # the model's stream stops halfway until the test has seen a delta
    send(client, message("one two three four five six", receiver, stream=True))
    worker = threading.Thread(target=run_worker)
    worker.start()
    receiver.wait_for(lambda: any("one" in call.body["data"]["text"] for call in receiver.requests))
    assert {call.body["type"] for call in receiver.requests} == {"message.delta"}
    llm.midway.set()
    worker.join(30)
    *deltas, reply = receiver.requests
    assert reply.body["type"] == "message.reply" and {call.body["type"] for call in deltas} == {"message.delta"}
    assert reply.body["data"]["text"] == "LLM: one two three four five six"
    assert all(call.body["data"]["part"] == 0 for call in deltas)
    ids = [{name.lower(): value for name, value in call.headers.items()}["webhook-id"] for call in receiver.requests]
    assert len(set(ids)) == len(ids)  # each delta its own id, so a receiver's dedupe never drops one, nor the reply


def test_replies_are_markdown(client, run_worker, llm, receiver):
    llm.then(Canned(body=completion("Use **bold**, _italics_ and `code`.")))
    send(client, message("format please", receiver))
    run_worker()
    assert receiver.calls("reply")[0]["data"]["text"] == "Use **bold**, _italics_ and `code`."


def test_without_a_callback_url_the_reply_goes_to_generic_callback_url(client, run_worker, receiver):
    assert send(client, message("hi", callback_url=None)).status_code == 200
    run_worker()
    assert [call.path for call in receiver.requests] == ["/fallback"]
    assert receiver.requests[0].body["data"]["text"] == "LLM: hi"


@pytest.mark.parametrize("fallback", [None])
def test_without_any_callback_url_the_webhook_is_400_and_nothing_is_stored(client, redis, fallback):
    response = send(client, message("hi"))
    assert response.status_code == 400
    assert "GENERIC_CALLBACK_URL" in response.get_json()["error"] and "callback_url" in response.get_json()["error"]
    assert stored(redis) == []


def test_the_same_webhook_id_twice_is_answered_once(client, run_worker, receiver):
    first = send(client, message("only once", receiver), webhook_id="msg_same")
    retried = send(client, message("only once", receiver), webhook_id="msg_same", timestamp=int(time.time()) - 60)
    assert first.status_code == retried.status_code == 200
    run_worker()
    assert [call.body["data"]["text"] for call in receiver.requests] == ["LLM: only once"]


def test_unknown_fields_are_tolerated_and_the_user_name_kept(client, redis, receiver):
    payload = message("hi", receiver, user_name="Ada", source="zapier", meta={"zap": 1})
    assert send(client, payload).status_code == 200
    [stored] = redis.lrange("bot:inbox:webhook:crm-42", 0, -1)
    assert json.loads(stored)["user_name"] == "Ada" and json.loads(stored)["text"] == "hi"


BAD_FIELDS = {
    "space in conversation_id": ({"conversation_id": "crm 42"}, "conversation_id"),
    "newline after conversation_id": ({"conversation_id": "crm-42\n"}, "conversation_id"),
    "conversation_id too long": ({"conversation_id": "c" * 129}, "conversation_id"),
    "empty conversation_id": ({"conversation_id": ""}, "conversation_id"),
    "numeric user_id": ({"user_id": 7}, "user_id"),
    "empty text": ({"text": ""}, "text"),
    "text too long": ({"text": "x" * 4001}, "text"),
    "user_id too long": ({"user_id": "u" * 257}, "user_id"),
    "user_name too long": ({"user_name": "Ada " * 150_000}, "user_name"),  # 600 kB: once in every prompt and /admin
    "callback_url too long": ({"callback_url": "http://127.0.0.1/" + "p" * 2048}, "callback_url"),
}


@pytest.mark.parametrize("fields, name", BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_an_invalid_field_is_400_naming_it_and_nothing_is_stored(client, redis, receiver, fields, name):
    response = send(client, message("hello", receiver) | fields)
    assert response.status_code == 400
    assert name in response.get_json()["error"]
    assert stored(redis) == []


def test_the_longest_allowed_ids_and_text_are_accepted(client, receiver):
    payload = message("x" * 4000, receiver, conversation_id="a-Z_0.9:@+" + "c" * 118, user_id="u" * 256, user_name="n" * 128)
    assert send(client, payload).status_code == 200


def test_a_webhook_id_too_long_for_a_key_is_400(client, redis, receiver):
    response = send(client, message("hello", receiver), webhook_id="msg_" + "x" * 253)
    assert response.status_code == 400 and "webhook-id" in response.get_json()["error"]
    assert stored(redis) == []


# Request forgery: the callback only ever reaches hosts the operator listed.

FORBIDDEN = {
    "cloud metadata": ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is not in GENERIC_CALLBACK_ALLOWLIST"),
    "private address": ("http://10.0.0.5/", "10.0.0.5 is not in GENERIC_CALLBACK_ALLOWLIST"),
    "unlisted host": ("https://evil.example.net/hook", "evil.example.net is not in GENERIC_CALLBACK_ALLOWLIST"),
    "listed host as a prefix": ("http://127.0.0.1.evil.example.net/", "is not in GENERIC_CALLBACK_ALLOWLIST"),
    "user and password": ("http://user:pass@127.0.0.1:9/hook", "user name or password"),
    "backslash trick": ("http://evil.example.net\\@127.0.0.1:9/", "evil.example.net is not in"),
    "not http": ("ftp://127.0.0.1/reply", "absolute http(s) URL"),
    "no scheme": ("127.0.0.1:9/reply", "absolute http(s) URL"),
}


@pytest.mark.parametrize("url, reason", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_a_callback_url_off_the_allowlist_is_400_and_nothing_is_stored(client, redis, receiver, url, reason):
    response = send(client, message("hi", callback_url=url))
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert stored(redis) == []
    assert receiver.requests == []


@pytest.mark.parametrize("allowlist", [""])
def test_the_host_of_generic_callback_url_is_allowed_without_being_listed(client, run_worker, receiver, allowlist):
    assert send(client, message("hi", callback_url=f"{receiver.url}/other")).status_code == 200
    assert send(client, message("hi", callback_url="https://hooks.example.com/x")).status_code == 400
    run_worker()
    assert [call.path for call in receiver.requests] == ["/other"]


def test_the_allowlist_is_checked_again_before_each_send(client, redis, receiver, env):
    assert send(client, message("hi", receiver)).status_code == 200
    narrowed = Bot(env | {"GENERIC_CALLBACK_ALLOWLIST": "hooks.example.com", "GENERIC_CALLBACK_URL": ""})
    narrowed.run()
    assert receiver.requests == []
    [dead] = dead_letters(redis)
    host = receiver.url.removeprefix("http://")
    assert dead["reason"] == f"delivery: callback host {host} is not in GENERIC_CALLBACK_ALLOWLIST"


ALLOWLIST_CASES = {
    "subdomain of a wildcard": ("https://hooks.example.com/x", None),
    "deeper subdomain": ("https://a.b.example.com/x", None),
    "upper case": ("HTTPS://Hooks.EXAMPLE.com/x", None),
    "wildcard apex": ("https://example.com/x", "example.com is not in"),
    "look-alike": ("https://badexample.com/x", "badexample.com is not in"),
    "http on a wildcard host": ("http://hooks.example.com/x", "needs https"),
    "http on an exact host": ("http://crm.internal/x", None),
    "the default port named": ("https://crm.internal:443/x", None),
    "an exact host on an unlisted port": ("http://crm.internal:8080/x", "crm.internal:8080 is not in"),
    "an exact host on its listed port": ("http://crm.internal:8443/x", None),
    "the other scheme's default port": ("https://crm.internal:80/x", "crm.internal:80 is not in"),
    "a wildcard on an unlisted port": ("https://hooks.example.com:8443/x", "hooks.example.com:8443 is not in"),
    "a wildcard on its listed port": ("https://a.hooks.example.net:8443/x", None),
    "a wildcard with a port, at the default": ("https://a.hooks.example.net/x", "a.hooks.example.net is not in"),
    "exact IP": ("http://192.168.1.20/x", None),
    "exact IPv6": ("https://[::1]/x", None),
    "exact IPv6 on its listed port": ("https://[::1]:8443/x", None),
    "IPv6 on an unlisted port": ("https://[::1]:9000/x", "[::1]:9000 is not in"),
    "bare IPv6 entry": ("https://[fe80::1]/x", None),
    "IP under a numeric wildcard": ("https://10.0.0.1/x", "10.0.0.1 is not in"),
    "short IP spelling": ("https://10.1/x", "10.1 is not in"),
    "trailing dot": ("https://hooks.example.com./x", "is not in"),
}
ALLOWLIST = (" *.example.com, crm.internal,crm.internal:8443, *.hooks.example.net:8443, 192.168.1.20, [::1], [::1]:8443, "
             "fe80::1, *.0.0.1, *.1 ")


@pytest.mark.parametrize("url, reason", ALLOWLIST_CASES.values(), ids=ALLOWLIST_CASES.keys())
def test_allowlist_matching(url, reason):
    refusal = Allowlist(ALLOWLIST).refusal(url)
    assert refusal is None if reason is None else reason in refusal


@pytest.mark.parametrize("entry", ["crm.internal:http", "user@crm.internal", "crm.internal/hooks", "crm.internal:99999"])
def test_a_malformed_allowlist_entry_names_the_setting(env, entry):
    with pytest.raises(ConfigError, match=f"GENERIC_CALLBACK_ALLOWLIST: '{entry}' is not a host, host:port"):
        Bot(env | {"GENERIC_CALLBACK_ALLOWLIST": f"hooks.example.com, {entry}"})


@pytest.fixture
def rebinding_dns(monkeypatch) -> None:
    """A DNS that answers as a rebinding attacker's does: every name under example.com resolves to this machine."""
    resolve_here(monkeypatch, ".example.com")


def reply_to(url: str) -> Reply:
    context = {"callback_url": url, "user_id": "u-7", "in_reply_to": "msg_1"}
    return Reply("webhook", "crm-42", "hi", "hi", key="turn-0", context=context)


def test_a_wildcard_host_resolving_to_an_internal_address_is_refused_as_it_connects(env, receiver, rebinding_dns):
    port = receiver.server.server_port
    webhook = Bot(env | {"GENERIC_CALLBACK_ALLOWLIST": f"*.example.com:{port}, crm.example.com:{port}"}).rt.channels["webhook"]
    with pytest.raises(Permanent, match="callback host rebind.example.com resolved to 127.0.0.1, an internal address"):
        webhook.send(reply_to(f"https://rebind.example.com:{port}/hooks"))
    webhook.send(reply_to(f"http://crm.example.com:{port}/hooks"))  # listed exactly: the operator's choice, internal or not
    assert [call.path for call in receiver.requests] == ["/hooks"]


# Delivery outcomes: retry what may pass later, dead-letter the rest, never follow redirects.

def test_a_503_then_200_is_delivered_after_one_retry_with_the_same_webhook_id(client, run_worker, receiver, redis):
    receiver.then(Canned(status=503, headers={"Retry-After": "0"}))
    send(client, message("hello", receiver))
    run_worker()
    refused, delivered = receiver.requests
    assert refused.headers["webhook-id"] == delivered.headers["webhook-id"]  # the receiver can dedupe on it
    assert delivered.body["data"]["text"] == "LLM: hello"
    assert dead_letters(redis) == []


def test_429_then_5xx_on_every_try_is_dead_lettered(client, run_worker, receiver, redis):
    receiver.then(Canned(status=429, headers={"Retry-After": "0"}), Canned(status=500))
    send(client, message("hello", receiver))
    run_worker()
    assert len(receiver.requests) == 2  # the first try and PLATFORM_MAX_RETRIES=1
    [dead] = dead_letters(redis)
    assert dead["reason"] == "delivery: callback answered 500 Internal Server Error"
    assert dead["conversation"] == "webhook:crm-42"


def test_410_gone_is_dead_lettered_after_one_attempt(client, run_worker, receiver, redis):
    receiver.then(Canned(status=410))
    send(client, message("hello", receiver))
    run_worker()
    assert len(receiver.requests) == 1
    assert [dead["reason"] for dead in dead_letters(redis)] == ["delivery: the receiver asked us to stop: 410 Gone"]


def test_a_redirect_is_not_followed(client, run_worker, receiver, redis):
    receiver.then(Canned(status=302, headers={"Location": f"{receiver.url}/elsewhere"}))
    send(client, message("hello", receiver))
    run_worker()
    assert [call.path for call in receiver.requests] == [CALLBACK_PATH]
    [dead] = dead_letters(redis)
    assert "redirect (302 Found)" in dead["reason"]


def test_another_4xx_is_dead_lettered_with_its_status(client, run_worker, receiver, redis):
    receiver.then(Canned(status=401))
    send(client, message("hello", receiver))
    run_worker()
    assert len(receiver.requests) == 1
    assert [dead["reason"] for dead in dead_letters(redis)] == ["delivery: callback refused the reply: 401 Unauthorized"]


@pytest.mark.parametrize("header, seconds", [("7", 7.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None)])
def test_retry_after_is_passed_on_to_the_retry(bot, receiver, header, seconds):
    receiver.then(Canned(status=429, headers={"Retry-After": header}))
    with pytest.raises(Transient) as failed:
        bot.rt.channels["webhook"].send(reply_to(receiver.url + CALLBACK_PATH))
    assert failed.value.retry_after == seconds


def test_a_retry_after_that_is_not_a_number_gets_the_usual_backoff_and_no_turn_crashes(client, run_worker, receiver, redis,
                                                                                       caplog):
    receiver.then(Canned(status=503, headers={"Retry-After": "nan"}))
    send(client, message("hello", receiver))
    run_worker()
    refused, delivered = receiver.requests
    assert delivered.body["data"]["text"] == "LLM: hello"
    assert dead_letters(redis) == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []  # no crash, retried


# Configuration mistakes stop the start-up with a message that names the variable.

@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_abcde", "whsec_c2hvcnQ=", "whsec_"])
def test_a_malformed_secret_names_generic_webhook_secret(env, secret):
    with pytest.raises(ConfigError, match="GENERIC_WEBHOOK_SECRET must be whsec_"):
        Bot(env | {"GENERIC_WEBHOOK_SECRET": secret})


def test_a_secret_without_the_prefix_or_padding_works(env):
    b = Bot(env | {"GENERIC_WEBHOOK_SECRET": STANDARD_SECRET.removeprefix("whsec_")})
    assert b.rt.channels["webhook"].key == KEY


def test_a_malformed_generic_callback_url_names_it(env):
    with pytest.raises(ConfigError, match="GENERIC_CALLBACK_URL: the callback URL must be an absolute http"):
        Bot(env | {"GENERIC_CALLBACK_URL": "hooks.example.com/reply"})


def test_a_reply_the_receiver_answers_late_is_resent_with_the_same_webhook_id(env, redis, receiver):
    b = Bot({**env, "PLATFORM_TIMEOUT": "0.5"})
    receiver.then(Canned(status=204, delay=1.5))
    send(b.client, message("late", receiver), webhook_id="msg_late")
    b.run()
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the receiver drops the repeat
    assert ledger.lookup(redis, "webhook", "msg_late")["outcome"] == "replied"


def test_a_part_in_flight_when_its_worker_died_is_resent_with_the_same_webhook_id(settings, env, redis, receiver,
                                                                                  start_workers):
    settings.update(env, LEASE_SECONDS="2")  # the workers' environment too
    receiver.gate.clear()
    receiver.hold = lambda call: True
    send(Bot(settings).client, message("in flight", receiver), webhook_id="msg_inflight")
    [first] = start_workers()
    receiver.wait_for(lambda: len(receiver.requests) == 1)
    stop_group(first, signal.SIGKILL)  # the reply is at the receiver, unanswered: it may or may not have taken it
    first.wait()
    receiver.hold = lambda call: False
    receiver.gate.set()
    start_workers()
    receiver.wait_for(lambda: ledger.lookup(redis, "webhook", "msg_inflight") is not None, timeout=60)
    held, resent = receiver.requests
    assert held.headers["webhook-id"] == resent.headers["webhook-id"]  # the receiver drops the repeat
    assert ledger.lookup(redis, "webhook", "msg_inflight")["outcome"] == "replied"
